/*
 * Helpers of the hardening suites (fault injection and edge cases): run
 * pmerge with exactly the process state a case needs (environment, closed
 * or redirected standard streams, a descriptor limit, another user, a
 * signal once an input is open), and check what it left behind.
 *
 * Each test runs in its own forked process (Check's default), enters a
 * scratch directory and names files relative to it, so that messages are
 * short and a temporary file pmerge leaves is easy to find.
 */
#ifndef PMERGE_HARDUTIL_H
#define PMERGE_HARDUTIL_H

#include <check.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Generous: only a hung child ever gets near it. */
#define HU_TIMEOUT 20.0
#define HU_TAIL    16

struct hu_opts {
	/* argv[0] is a path; NULL-terminated. */
	char *const *argv;
	/* NAME=VALUE entries added to (or replacing in) the environment. */
	char *const *env;
	/* Standard input: a file (NULL: /dev/null), or data fed through a
	 * pipe by a writer process when stdin_data is set, or closed. */
	const char *stdin_path;
	const char *stdin_data;
	size_t stdin_len;
	bool close_stdin;
	/* Standard output: captured through a pipe, unless closed or
	 * opened on stdout_path (then not captured). */
	bool close_stdout;
	const char *stdout_path;
	/* Count the captured output instead of keeping it (huge outputs):
	 * out stays NULL, out_count and tail are set. */
	bool count_stdout;
	/* > 0: RLIMIT_NOFILE of the child. */
	long nofile;
	/* > 0: run as this user and group id (needs privilege to switch). */
	uid_t uid;
	/* Send sig once the child has sig_when_open open (a path), or after
	 * sig_after seconds when sig_when_open is NULL. */
	int sig;
	const char *sig_when_open;
	double sig_after;
	/* 0: HU_TIMEOUT. */
	double timeout;
};

struct hu_result {
	char *out; /* NUL-terminated; may hold NULs */
	size_t out_len;
	uint64_t out_count; /* bytes on standard output, also when kept */
	unsigned char tail[HU_TAIL]; /* its last bytes (count_stdout) */
	size_t tail_len;
	char *err;
	size_t err_len;
	int status;     /* exit status, or -1 when killed */
	int sig;        /* the killing signal, or 0 */
	bool timed_out; /* killed by the runner: it hung */
	bool signalled; /* opts.sig was sent */
	double seconds;
};

/* The pmerge under test ($PMERGE) and the shim ($PMFAULT_SO). */
const char *hu_pmerge(void);
const char *hu_shim(void);
/*
 * Makes $PMERGE and $PMFAULT_SO absolute: every test changes directory.
 * Called once from main() before any test forks.
 */
void hu_init(void);

void hu_run(struct hu_result *r, const struct hu_opts *o);
/*
 * Runs pmerge with the NULL-ended arguments in ap, otherwise as o says (o
 * may be NULL); env, when not NULL, replaces o's environment.
 */
void hu_run_pmerge(struct hu_result *r, const struct hu_opts *o,
                   char *const *env, va_list ap);
/* The same with the arguments given here, up to NULL. */
void hu_pm(struct hu_result *r, const struct hu_opts *o, ...)
    __attribute__((sentinel));
void hu_result_free(struct hu_result *r);

/*
 * Environment entries that load the shim with the rules in spec and its
 * log in log_path (NULL: none).  Static storage, valid until the next call.
 */
char *const *hu_fault_env(const char *spec, const char *log_path);

/* Lines of the shim's log that contain what; 0 when there is no log. */
size_t hu_log_count(const char *log_path, const char *what);

/* What a file was before a run, to prove it untouched afterwards. */
struct hu_snap {
	bool exists;
	dev_t dev;
	ino_t ino;
	char *data;
	size_t len;
};
void hu_snap_take(struct hu_snap *s, const char *path);
void hu_snap_expect(const struct hu_snap *s, const char *path);

/* No entry of dir has ".pmerge-" in its name (pmerge's temporary files). */
void hu_expect_no_temp(const char *dir);

void hu_expect_exit(const struct hu_result *r, int status);

/*
 * Can this process run pmerge as uid (with hu_opts.uid), in a scratch
 * directory of its own, or is it unprivileged already?  Says why not on
 * stderr, with who as the prefix.
 */
bool hu_can_run_as(uid_t uid, const char *who);

/* A file of len deterministic bytes; text lines when text is set. */
void hu_make(const char *path, size_t len, uint64_t seed, bool text);

#endif
