/*
 * Helpers of the signal and progress suite.  Unlike the run-and-capture
 * helpers of the other suites, these start pmerge in the background, so
 * that a test can signal it, feed or drain its FIFOs at a chosen pace and
 * watch its standard error on a pseudo-terminal while it runs.
 *
 * Every test runs in its own scratch directory, which is also the working
 * directory.  Test-only code: failures end the test through ck_assert.
 */
#ifndef PMERGE_SIGUTIL_H
#define PMERGE_SIGUTIL_H

#include "tutil.h"

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Generous: only a hung child ever gets near it. */
#define SG_TIMEOUT 30.0

/*
 * Prepares the process: an absolute $PMERGE, and one base directory for all
 * scratch directories that main() removes at exit.  Returns false (after
 * saying why on stderr) when /proc lacks what the suite reads from it.
 */
bool sg_init(void);

/* How a child's standard streams and signals are set up. */
struct sg_spawn {
	int in_fd;        /* -1: /dev/null */
	int out_fd;       /* -1: /dev/null */
	int err_fd;       /* -1: /dev/null */
	bool hup_ignored; /* start with SIGHUP ignored, as under nohup */
};

#define SG_SPAWN_INIT                                                          \
	{                                                                      \
		.in_fd = -1, .out_fd = -1, .err_fd = -1, .hup_ignored = false, \
	}

/*
 * Starts "pmerge ARGS..." (args NULL-terminated) in a new session, with
 * INT, TERM, HUP, USR1, PIPE and WINCH at their default action (a test
 * harness may run us with some ignored) unless sp says otherwise, and no
 * signal blocked.  The child is killed if the test process dies.
 */
pid_t sg_start(const struct sg_spawn *sp, char *const args[]);

/*
 * Waits up to timeout seconds for pid to end; fills *status and returns
 * true.  On timeout kills and reaps it and returns false.
 */
bool sg_wait(pid_t pid, double timeout, int *status);
/* True while pid has not ended (never reaps). */
bool sg_alive(pid_t pid);

/*
 * Readiness, read from /proc so that no test depends on a sleep: pid
 * catches sig (its handler is installed); pid has path open (or not).
 * Return false when the state was not reached within timeout seconds.
 */
bool sg_wait_caught(pid_t pid, int sig, double timeout);
bool sg_has_open(pid_t pid, const char *path);
bool sg_wait_open(pid_t pid, const char *path, bool open, double timeout);
/* A pipe or FIFO end: wait until nothing written to it is left unread. */
bool sg_wait_drained(int fd, double timeout);
/*
 * Wait until pid has its temporary output in dir: an unnamed (O_TMPFILE)
 * file there open, or, where it is named, dir's entries grown to n.
 */
bool sg_wait_temp(pid_t pid, const char *dir, size_t n, double timeout);

void sg_mkfifo(const char *path);
void sg_write_all(int fd, const void *buf, size_t len);
/* len pseudo-random bytes (malloc'ed). */
char *sg_random(size_t len, uint64_t seed);
/* len bytes of printable lines, the last one ended too (malloc'ed). */
char *sg_text(size_t len, uint64_t seed);
/* True when s matches the POSIX extended regular expression ere. */
bool sg_matches(const char *s, const char *ere);
/* "exit status 1", "killed by signal 2 (Interrupt)": for messages. */
const char *sg_describe(int status);

/*
 * The test's side of a FIFO while pmerge runs: fed in chunks at a fixed
 * pace (an input), or drained in chunks at a fixed pace (an output), which
 * is how a merge is made to last long enough to watch.
 */
struct sg_pace {
	int fd; /* non-blocking; closed (and set to -1) when done */
	bool reading;
	const char *data; /* feeding: what to write */
	size_t len;
	size_t chunk;
	double period;
	size_t done; /* feeding: bytes written so far */
	char *got;   /* draining: what came out (malloc'ed) */
	size_t got_len;
};

/* What sg_drive saw. */
struct sg_outcome {
	int status;
	double wall; /* from t0 to the child's end */
	char *tty;   /* everything read from tty_fd (malloc'ed) */
	size_t tty_len;
};

/*
 * Runs the test's side until pid has ended, pace (may be NULL) is done and
 * tty_fd (a pseudo-terminal master, or -1) reports the end of its slave.
 * t0 is when pid was started.  Fails the test if pid hangs.
 */
void sg_drive(pid_t pid, double t0, int tty_fd, struct sg_pace *pace,
              struct sg_outcome *o);
void sg_outcome_free(struct sg_outcome *o);

/* Test cases, one function per area. */
TCase *sg_tcase_stop(void);
TCase *sg_tcase_info(void);
TCase *sg_tcase_log(void);
TCase *sg_tcase_pty(void);

#endif
