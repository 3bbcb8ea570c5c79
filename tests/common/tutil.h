/*
 * Helpers shared by the test suites: run the built pmerge (or any command)
 * with captured output, and make, read and compare files in a scratch
 * directory.  Test-only code: failures abort the test via ck_assert.
 */
#ifndef PMERGE_TUTIL_H
#define PMERGE_TUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The result of running a command: captured streams and how it ended. */
struct tu_run {
	char *out; /* standard output, NUL-terminated (may hold NULs) */
	size_t out_len;
	char *err; /* standard error, NUL-terminated */
	size_t err_len;
	int status;     /* exit status, or -1 if killed */
	int signal;     /* the killing signal, or 0 */
	double seconds; /* wall time */
};

/* Monotonic seconds. */
double tu_now_s(void);
/* Sleeps that long, through EINTR. */
void tu_sleep_s(double seconds);
/* Appends d[0, n) to the growable, NUL-terminated buffer *buf. */
void tu_append(char **buf, size_t *len, size_t *cap, const void *d, size_t n);

/* Path of the pmerge binary under test: $PMERGE, else "pmerge". */
const char *tu_pmerge(void);

/*
 * Runs argv (argv[0] is looked up in PATH) with standard input from
 * stdin_path (NULL: /dev/null) and captures stdout and stderr.  Kills the
 * child after timeout_s seconds (then status is -1 and signal SIGKILL).
 */
void tu_run_argv(struct tu_run *r, char *const argv[], const char *stdin_path,
                 double timeout_s);
/*
 * Reads the child's stdout (out_fd, may be -1) and stderr (err_fd) into r
 * until both end, then waits for it and records how it ended.  Kills it (and
 * its process group) once timeout_s have passed since start.  Closes both
 * fds.  Returns whether it had to kill.
 */
bool tu_collect(struct tu_run *r, pid_t pid, int out_fd, int err_fd,
                double start, double timeout_s);
/* The same through "/bin/sh -c cmd". */
void tu_run_sh(struct tu_run *r, const char *cmd, double timeout_s);
void tu_run_free(struct tu_run *r);

/* A fresh scratch directory (removed by tu_rmdir_rf); returns malloc'ed path.
 */
char *tu_mkdtemp(void);
/*
 * A checked fixture: tu_scratch_setup() makes a fresh scratch directory,
 * tu_scratch, for each test (each runs in its own process) and
 * tu_scratch_teardown() removes it.
 */
extern char *tu_scratch;
void tu_scratch_setup(void);
void tu_scratch_teardown(void);
/*
 * A fresh scratch directory, entered: the test names its files relative to
 * it.  Readable by other users (the permission cases run pmerge as one).
 * tu_leave_scratch() leaves it, removes it and frees dir.
 */
char *tu_enter_scratch(void);
void tu_leave_scratch(char *dir);
void tu_rmdir_rf(const char *dir);
/* dir/name as a malloc'ed string. */
char *tu_path(const char *dir, const char *name);

void tu_write_file(const char *path, const void *data, size_t len);
/* Returns malloc'ed contents (NUL appended), length in *len; NULL if absent. */
char *tu_read_file(const char *path, size_t *len);
bool tu_exists(const char *path);
/* Number of directory entries other than . and .. */
size_t tu_count_entries(const char *dir);
/* Whether process pid has a descriptor open on a file in dir, an unnamed
 * (O_TMPFILE) or unlinked one too. */
bool tu_has_fd_in(pid_t pid, const char *dir);
/* The concatenation of the named files, as cat writes it (malloc'ed); the
 * list ends with NULL.  A missing file fails the test. */
char *tu_cat(size_t *len, ...) __attribute__((sentinel));
/* The same for names[0, n). */
char *tu_cat_names(const char *const *names, size_t n, size_t *len);

/*
 * The standard checks.  Contents are compared byte for byte and a failure
 * reports the first differing offset (short contents are shown whole),
 * not megabytes of output.
 */
void tu_expect_bytes(const char *what, const char *got, size_t got_len,
                     const char *want, size_t want_len);
/* path exists and holds exactly want. */
void tu_expect_file(const char *path, const char *want, size_t want_len);
/* A captured stream is exactly the text want. */
void tu_expect_text(const char *what, const char *got, size_t got_len,
                    const char *want);
/* r (a struct tu_run, or any result with err and err_len) printed exactly
 * want on standard error. */
#define tu_expect_err(r, want)                                                 \
	tu_expect_text("stderr", (r)->err, (r)->err_len, (want))

/* Deterministic pseudo-random bytes (xorshift) for generated inputs. */
void tu_fill_random(void *buf, size_t len, uint64_t seed);

#endif
