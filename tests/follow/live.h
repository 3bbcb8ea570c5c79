/*
 * Helpers of the live-input suites: pmerge running in the background with
 * its standard output read as it comes, readiness learnt from /proc (the
 * inotify watches it holds, the descriptors it has open) rather than from
 * sleeps, and its end by a signal.
 */
#ifndef PMERGE_LIVE_H
#define PMERGE_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct lv {
	pid_t pid;
	int out;   /* its standard output (a pipe), -1 once at EOF */
	char *buf; /* all of it so far, NUL-terminated */
	size_t len, cap;
	char *errpath; /* its standard error goes to this file */
};

/*
 * Starts argv (argv[0] a path) in dir, stdin from /dev/null, with env
 * entries (NAME=VALUE, NULL-terminated, may be NULL) added and, when nofile
 * > 0, that RLIMIT_NOFILE.
 */
void lv_start(struct lv *p, const char *dir, char *const argv[],
              char *const env[], long nofile);
/* Reads what is there within wait_s seconds; false at EOF. */
bool lv_pump(struct lv *p, double wait_s);
/* Reads until the output holds needle (count times), or timeout_s pass. */
bool lv_wait_for(struct lv *p, const char *needle, size_t count,
                 double timeout_s);
/* Number of times needle occurs in what was read so far. */
size_t lv_count(const struct lv *p, const char *needle);
/* Its standard error so far (malloc'ed). */
char *lv_stderr(const struct lv *p);
/* Waits until its standard error holds needle. */
bool lv_wait_stderr(const struct lv *p, const char *needle, double timeout_s);
/* Waits until the process holds at least n inotify watches. */
bool lv_wait_watches(const struct lv *p, size_t n, double timeout_s);
/* Waits until it has at least n descriptors open on regular files
 * under dir. */
bool lv_wait_files(const struct lv *p, const char *dir, size_t n,
                   double timeout_s);
/* Sends sig, reads to EOF, reaps; returns the wait status. */
int lv_stop(struct lv *p, int sig);
void lv_free(struct lv *p);

/* Appends text to path (creating it), as a logging program would. */
void lv_append(const char *path, const char *text);

#endif
