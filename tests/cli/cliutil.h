/*
 * Helpers of the command-line suite: run pmerge the way a user does (found
 * through PATH, so that its messages start with "pmerge: " whatever the
 * build directory is called), with standard streams wired as each test
 * needs, and check merged outputs against their inputs.
 *
 * Every test runs in its own scratch directory, which is also the working
 * directory, so that names on the command line and in messages are short
 * and relative.
 */
#ifndef PMERGE_CLIUTIL_H
#define PMERGE_CLIUTIL_H

#include "tutil.h"

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

/* Generous: only a hung child ever gets near it. */
#define CU_TIMEOUT 60.0

/* How a child's standard streams and signals are set up. */
struct cu_io {
	const char *stdin_path; /* NULL: /dev/null unless stdin_fd >= 0 */
	int stdin_fd;           /* >= 0: becomes the child's stdin */
	int stdout_fd;        /* >= 0: becomes stdout, which is not captured */
	int pass_fd;          /* >= 0: stays open in the child, same number */
	bool sigpipe_ignored; /* start the child with SIGPIPE ignored */
	const char *setpriv;  /* non-NULL: run as uid/gid "N" via setpriv */
};

#define CU_IO_INIT                                                             \
	{                                                                      \
		.stdin_path = NULL, .stdin_fd = -1, .stdout_fd = -1,           \
		.pass_fd = -1, .sigpipe_ignored = false, .setpriv = NULL,      \
	}

/*
 * Prepares the process: PATH finds the pmerge under test first, SIGPIPE has
 * its default action.  Called once from main() before any test forks.
 */
void cu_init(void);


/* Runs argv (argv[0] looked up in PATH) as io says; captures what it can. */
void cu_run_io(struct tu_run *r, const struct cu_io *io, char *const argv[]);
/* Runs "pmerge args..." (n arguments) with io. */
void cu_pm_argv(struct tu_run *r, const struct cu_io *io, char *const args[],
                size_t n);
/* Runs "pmerge ARG..." (NULL-terminated) with stdin from stdin_path. */
void cu_pm(struct tu_run *r, const char *stdin_path, ...)
    __attribute__((sentinel));
/* Runs a formatted command line with /bin/sh -c. */
void cu_sh(struct tu_run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Runs a formatted command line with bash -c. */
void cu_bash(struct tu_run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* GNU cat's output for the same n arguments: the reference. */
char *cu_cat(char *const args[], size_t n, size_t *len);

/* True when name is an executable found in PATH. */
bool cu_have_program(const char *name);

/*
 * The contents of files, and the standard checks on a finished run.  The
 * checks report the first differing offset, not megabytes of output.
 */
char *cu_slurp(const char *path, size_t *len);
void cu_write(const char *path, const char *text);
void cu_expect_exit(const struct tu_run *r, int status);
/* stderr is one line, "pmerge: ...": a note, such as a reduced sem:N. */
void cu_expect_note(const struct tu_run *r, const char *what);
struct stat cu_stat(const char *path);
struct stat cu_lstat(const char *path);

/*
 * Test data.  Text files are lines of printable characters whose first
 * byte is `first`, so that no two generated inputs start alike and an
 * arrival-order output can be split back into inputs without ambiguity.
 */
char *cu_gen_text(size_t size, char first, uint64_t seed, bool final_newline);
char *cu_gen_binary(size_t size, char first, uint64_t seed);

/* One input as the checkers see it: its name on the command line. */
struct cu_input {
	const char *name;
	const char *data;
	size_t len;
};

/*
 * --unit=file, --order=arrival: out must be the inputs, each whole and
 * contiguous, each occurrence exactly once, in any order.
 */
void cu_expect_permutation(const char *out, size_t out_len,
                           const struct cu_input *in, size_t n);
/*
 * --unit=line, --order=arrival: every record (ended by term; an unended
 * last record gains term) of every input appears exactly once, whole, and
 * the records of one input keep their order.  Records must be unique.
 */
void cu_expect_records(const char *out, size_t out_len,
                       const struct cu_input *in, size_t n, char term);
/* The same checks, returning why the output is wrong (malloc'ed) or NULL. */
char *cu_check_permutation(const char *out, size_t out_len,
                           const struct cu_input *in, size_t n);
char *cu_check_records(const char *out, size_t out_len,
                       const struct cu_input *in, size_t n, char term);
/* --unit=line, --order=input: the inputs' records in input order. */
char *cu_records_concat(const struct cu_input *in, size_t n, char term,
                        size_t *len);

/* Reads a FIFO in a thread until told the writer is done. */
struct cu_fifo_reader;
struct cu_fifo_reader *cu_fifo_reader_start(const char *path);
/* Call once the writer has exited; returns the bytes read (malloc'ed). */
char *cu_fifo_reader_finish(struct cu_fifo_reader *fr, size_t *len);

/* Writes data into a FIFO in a thread once a reader opens it. */
struct cu_fifo_writer;
struct cu_fifo_writer *cu_fifo_writer_start(const char *path, const char *data,
                                            size_t len);
/* Call once the reader has exited; returns true if everything was written. */
bool cu_fifo_writer_finish(struct cu_fifo_writer *fw);

/* Test cases, one function per area. */
TCase *cli_tcase_identity(void);
TCase *cli_tcase_output(void);
TCase *cli_tcase_stdin(void);
TCase *cli_tcase_errors(void);
TCase *cli_tcase_signals(void);
TCase *cli_tcase_options(void);
TCase *cli_tcase_lines(void);
TCase *cli_tcase_matrix(void);
TCase *cli_tcase_stats_text(void);
TCase *cli_tcase_stats_json(void);
TCase *cli_tcase_perm(void);
TCase *cli_tcase_bash(void);
TCase *cli_tcase_checkers(void);
TCase *cli_tcase_live_decode(void);

/* For the stats group: the checker script and the expected version. */
extern const char *cu_stats_script;
extern const char *cu_expected_version;
/* For the permission group: setpriv's uid when running as root, or NULL. */
extern const char *cu_unprivileged;

#endif
