/*
 * Live inputs: every stream serviced at once whatever -j, -F through
 * logrotate's create and copytruncate, late files and partial lines, the
 * stop by a signal, 1,000 followed files, --tail, --label and --color, and
 * the fallback to polling when inotify fails (the fault shim).
 *
 * Timing bounds are generous (the machine may be loaded); readiness comes
 * from /proc (pmerge's inotify watches and open files), not from sleeps.
 */
#include "hardutil.h"
#include "live.h"
#include "tutil.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Long enough for a loaded machine; only a failure waits this long. */
#define WAIT_S 20.0

static char *dir;

static void setup(void)
{
	dir = tu_mkdtemp();
}

static void teardown(void)
{
	tu_rmdir_rf(dir);
	free(dir);
}

static char *at(const char *name)
{
	return tu_path(dir, name);
}

static void append_at(const char *name, const char *text)
{
	char *p = at(name);
	lv_append(p, text);
	free(p);
}

/* The status of a process that must have ended by sig. */
static void assert_signalled(int st, int sig)
{
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == sig,
	              "pmerge did not end by signal %d (status 0x%x)", sig, st);
}

static void assert_once(const struct lv *p, const char *line)
{
	ck_assert_msg(lv_count(p, line) == 1, "'%s' appears %zu times in:\n%s",
	              line, lv_count(p, line), p->buf ? p->buf : "");
}

/* ------------------------------------------------------------ streams */

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#define N_FIFOS 60
#define ROUNDS  20

/*
 * 60 FIFOs and -j 2: a writer writes a line stamped with the time to each
 * FIFO in turn, every 0.1 s; every line must arrive, each within 1 s of
 * being written.  Were only -j inputs read at once, the writer would never
 * get past opening the third FIFO.
 */
START_TEST(latency_many_streams)
{
	char *argv[N_FIFOS + 8];
	int a = 0;

	argv[a++] = (char *)tu_pmerge();
	argv[a++] = "-u";
	argv[a++] = "line";
	argv[a++] = "-j";
	argv[a++] = "2";
	for (int i = 0; i < N_FIFOS; i++) {
		char name[16];
		snprintf(name, sizeof(name), "f%02d", i);
		char *p = at(name);
		ck_assert_int_eq(mkfifo(p, 0600), 0);
		argv[a++] = p;
	}
	argv[a] = NULL;
	pid_t w = fork();
	ck_assert_int_ge(w, 0);
	if (w == 0) {
		int fds[N_FIFOS];
		for (int i = 0; i < N_FIFOS; i++)
			if ((fds[i] = open(argv[5 + i], O_WRONLY)) < 0)
				_exit(1);
		for (int r = 0; r < ROUNDS; r++) {
			for (int i = 0; i < N_FIFOS; i++) {
				char line[64];
				int n = snprintf(line, sizeof(line),
				                 "S%d %d %" PRIu64 "\n", i, r,
				                 mono_ns());
				if (write(fds[i], line, (size_t)n) != n)
					_exit(2);
			}
			usleep(100000);
		}
		_exit(0);
	}
	struct lv p;
	lv_start(&p, dir, argv, NULL, 0);
	/* Each line is judged when it is read, so the reading is prompt. */
	size_t seen = 0, pos = 0;
	uint64_t worst = 0;
	double end = tu_now_s() + 60;
	while (seen < N_FIFOS * ROUNDS && tu_now_s() < end) {
		bool more = lv_pump(&p, 0.05);
		uint64_t now = mono_ns();
		char *nl;
		while (p.buf && (nl = memchr(p.buf + pos, '\n', p.len - pos))) {
			int src, round;
			uint64_t stamp;
			ck_assert_int_eq(sscanf(p.buf + pos, "S%d %d %" SCNu64,
			                        &src, &round, &stamp),
			                 3);
			if (now - stamp > worst)
				worst = now - stamp;
			seen++;
			pos = (size_t)(nl - p.buf) + 1;
		}
		if (!more)
			break;
	}
	int wst;
	waitpid(w, &wst, 0);
	int st = lv_stop(&p, 0);
	ck_assert_msg(WIFEXITED(wst) && WEXITSTATUS(wst) == 0, "writer failed");
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "pmerge: 0x%x",
	              st);
	ck_assert_uint_eq(seen, N_FIFOS * ROUNDS);
	ck_assert_msg(worst < 1000000000u, "a line took %.3f s",
	              (double)worst / 1e9);
	lv_free(&p);
	for (int i = 0; i < N_FIFOS; i++)
		free(argv[5 + i]);
}
END_TEST

/* A stream input with one that cannot be waited for (/dev/null). */
START_TEST(streams_with_unpollable)
{
	char cmd[512];
	struct tu_run r;

	snprintf(cmd, sizeof(cmd),
	         "printf 'a\\nb' | %s -u line -j 1 --tag - /dev/null",
	         tu_pmerge());
	tu_run_sh(&r, cmd, WAIT_S);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "-\ta\n-\tb\n");
	tu_run_free(&r);
}
END_TEST

/* ------------------------------------------------------------- follow */

/* pmerge -F [extra...] NAMES..., once its directory watch is in place. */
static void follow(struct lv *p, const char *const *extra,
                   const char *const *names, size_t files_open)
{
	char *argv[32];
	int a = 0;

	argv[a++] = (char *)tu_pmerge();
	argv[a++] = "-F";
	for (; extra && *extra; extra++)
		argv[a++] = (char *)*extra;
	for (; *names; names++)
		argv[a++] = (char *)*names;
	argv[a] = NULL;
	lv_start(p, dir, argv, NULL, 0);
	ck_assert_msg(lv_wait_watches(p, 1, WAIT_S), "no inotify watch");
	ck_assert_msg(lv_wait_files(p, dir, files_open, WAIT_S),
	              "the inputs were not opened");
}

/*
 * logrotate's create: the file is renamed, its writer still writes a line
 * to it, then a new file appears under the name; the old writer writes
 * once more after that.  Every line exactly once, each file's in order.
 */
START_TEST(follow_create_rotation)
{
	struct lv p;
	char *log = at("log"), *old = at("log.1");

	lv_append(log, "a1\na2\n");
	follow(&p, (const char *[]){"--tag", NULL},
	       (const char *[]){"log", NULL}, 1);
	ck_assert(lv_wait_for(&p, "log\ta2\n", 1, WAIT_S));
	int wfd = open(log, O_WRONLY | O_APPEND);
	ck_assert_int_ge(wfd, 0);
	ck_assert_int_eq(rename(log, old), 0);
	ck_assert_int_eq(write(wfd, "a3\n", 3), 3); /* after the rename */
	lv_append(log, "b1\n");
	ck_assert(lv_wait_for(&p, "log\tb1\n", 1, WAIT_S));
	ck_assert_int_eq(write(wfd, "a4\n", 3), 3); /* after the new file */
	lv_append(log, "b2\n");
	ck_assert(lv_wait_for(&p, "log\ta4\n", 1, WAIT_S));
	ck_assert(lv_wait_for(&p, "log\tb2\n", 1, WAIT_S));
	close(wfd);
	int st = lv_stop(&p, SIGTERM);
	assert_signalled(st, SIGTERM);
	const char *want[] = {"log\ta1\n", "log\ta2\n", "log\ta3\n",
	                      "log\ta4\n", "log\tb1\n", "log\tb2\n"};
	for (size_t i = 0; i < 6; i++)
		assert_once(&p, want[i]);
	ck_assert(strstr(p.buf, "a3") < strstr(p.buf, "b1"));
	char *err = lv_stderr(&p);
	ck_assert_msg(
	    strstr(err, "log has been replaced; following new file") ||
	        strstr(err, "log has appeared; following new file"),
	    "stderr: %s", err);
	free(err);
	lv_free(&p);
	free(log);
	free(old);
}
END_TEST

/* copytruncate: the file is copied aside and truncated in place. */
START_TEST(follow_copytruncate)
{
	struct lv p;
	char *log = at("log");

	lv_append(log, "c1 a long first line\nc2 another long line\n");
	follow(&p, NULL, (const char *[]){"log", NULL}, 1);
	ck_assert(lv_wait_for(&p, "c2 another long line\n", 1, WAIT_S));
	ck_assert_int_eq(truncate(log, 0), 0);
	lv_append(log, "c3\n");
	ck_assert(lv_wait_for(&p, "c3\n", 1, WAIT_S));
	lv_append(log, "c4\n");
	ck_assert(lv_wait_for(&p, "c4\n", 1, WAIT_S));
	int st = lv_stop(&p, SIGINT);
	assert_signalled(st, SIGINT);
	ck_assert_str_eq(p.buf, "c1 a long first line\nc2 another long line\n"
	                        "c3\nc4\n");
	char *err = lv_stderr(&p);
	ck_assert_msg(strstr(err, "pmerge: log: file truncated\n"),
	              "stderr: %s", err);
	free(err);
	lv_free(&p);
	free(log);
}
END_TEST

/* A name that does not exist yet is waited for; -q silences the notes. */
START_TEST(follow_late_file)
{
	struct lv p;

	append_at("early", "e1\n");
	follow(&p, (const char *[]){"--tag", NULL},
	       (const char *[]){"early", "late", NULL}, 1);
	ck_assert(lv_wait_for(&p, "early\te1\n", 1, WAIT_S));
	/* Created only once pmerge has found it missing: before that, the
	 * name could be opened at its first try, with nothing to note. */
	ck_assert(lv_wait_stderr(&p, "cannot open late for reading", WAIT_S));
	append_at("late", "l1\n");
	ck_assert(lv_wait_for(&p, "late\tl1\n", 1, WAIT_S));
	append_at("late", "l2\n");
	ck_assert(lv_wait_for(&p, "late\tl2\n", 1, WAIT_S));
	assert_signalled(lv_stop(&p, SIGHUP), SIGHUP);
	char *err = lv_stderr(&p);
	ck_assert_msg(strstr(err, "pmerge: cannot open late for reading: No "
	                          "such file or directory") &&
	                  strstr(err, "pmerge: late has appeared; following "
	                              "new file\n"),
	              "stderr: %s", err);
	free(err);
	lv_free(&p);

	char *late = at("late");
	unlink(late);
	free(late);
	follow(&p, (const char *[]){"-q", NULL},
	       (const char *[]){"early", "late", NULL}, 1);
	append_at("late", "l3\n");
	ck_assert(lv_wait_for(&p, "l3\n", 1, WAIT_S));
	assert_signalled(lv_stop(&p, SIGTERM), SIGTERM);
	err = lv_stderr(&p);
	ck_assert_str_eq(err, "");
	free(err);
	lv_free(&p);
}
END_TEST

/*
 * A partial line is held until its newline comes; at the stop it is
 * written with a terminator added, and the exit is by the signal.
 */
START_TEST(follow_partial_line)
{
	struct lv p;

	append_at("log", "p0\n");
	follow(&p, NULL, (const char *[]){"log", NULL}, 1);
	ck_assert(lv_wait_for(&p, "p0\n", 1, WAIT_S));
	append_at("log", "abc");
	/* Nothing of it may show while it is incomplete. */
	lv_pump(&p, 0.5);
	ck_assert_str_eq(p.buf, "p0\n");
	append_at("log", "def\n");
	ck_assert(lv_wait_for(&p, "abcdef\n", 1, WAIT_S));
	append_at("log", "unfinished");
	lv_pump(&p, 0.5);
	int st = lv_stop(&p, SIGTERM);
	assert_signalled(st, SIGTERM);
	ck_assert_str_eq(p.buf, "p0\nabcdef\nunfinished\n");
	lv_free(&p);
}
END_TEST

/*
 * A writer logs numbered lines and rotates (create) every 400, writing a
 * few more lines to the old file after each rename, as a program that
 * reopens its log a moment later does.  Every line exactly once.
 */
#define ONCE_LINES 4000
START_TEST(follow_every_line_once)
{
	struct lv p;
	char *log = at("app.log");

	lv_append(log, "");
	follow(&p, NULL, (const char *[]){"app.log", NULL}, 1);
	pid_t w = fork();
	ck_assert_int_ge(w, 0);
	if (w == 0) {
		int fd = open(log, O_WRONLY | O_APPEND);
		char line[32], old[PATH_MAX];
		for (int i = 0; i < ONCE_LINES; i++) {
			int n = snprintf(line, sizeof(line), "n%d\n", i);
			if (write(fd, line, (size_t)n) != n)
				_exit(1);
			if (i % 400 == 396) {
				snprintf(old, sizeof(old), "%s.%d", log, i);
				if (rename(log, old) < 0)
					_exit(2);
			}
			if (i % 400 == 399) {
				close(fd);
				fd = open(log, O_WRONLY | O_APPEND | O_CREAT,
				          0644);
			}
			if (i % 50 == 0)
				usleep(2000);
		}
		_exit(0);
	}
	int wst;
	waitpid(w, &wst, 0);
	ck_assert(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
	char last[32];
	snprintf(last, sizeof(last), "n%d\n", ONCE_LINES - 1);
	ck_assert_msg(lv_wait_for(&p, last, 1, WAIT_S), "got:\n%s", p.buf);
	/* The old files' last lines may come a poll interval later. */
	size_t lines = 0;
	double end = tu_now_s() + WAIT_S;
	while ((lines = lv_count(&p, "\n")) < ONCE_LINES && tu_now_s() < end)
		lv_pump(&p, 0.1);
	assert_signalled(lv_stop(&p, SIGTERM), SIGTERM);
	ck_assert_uint_eq(lv_count(&p, "\n"), ONCE_LINES);
	for (int i = 0; i < ONCE_LINES; i++) {
		char want[32];
		snprintf(want, sizeof(want), "\nn%d\n", i);
		ck_assert_msg(i == 0 ? strncmp(p.buf, "n0\n", 3) == 0
		                     : lv_count(&p, want) == 1,
		              "line n%d not exactly once", i);
	}
	lv_free(&p);
	free(log);
}
END_TEST

/* 1,000 followed files in one process under ulimit -n 4096. */
#define MANY 1000
START_TEST(follow_thousand_files)
{
	char *argv[MANY + 8];
	int a = 0;

	argv[a++] = (char *)tu_pmerge();
	argv[a++] = "-F";
	argv[a++] = "--tag";
	for (int i = 0; i < MANY; i++) {
		char name[16];
		snprintf(name, sizeof(name), "f%04d", i);
		append_at(name, "");
		argv[a++] = strdup(name);
	}
	argv[a] = NULL;
	struct lv p;
	lv_start(&p, dir, argv, NULL, 4096);
	ck_assert(lv_wait_watches(&p, 1, WAIT_S));
	ck_assert(lv_wait_files(&p, dir, MANY, WAIT_S));
	for (int i = 0; i < MANY; i++) {
		char name[16], line[32];
		snprintf(name, sizeof(name), "f%04d", i);
		snprintf(line, sizeof(line), "line of %d\n", i);
		append_at(name, line);
	}
	ck_assert(lv_wait_for(&p, "\n", MANY, WAIT_S * 2));
	assert_signalled(lv_stop(&p, SIGTERM), SIGTERM);
	ck_assert_uint_eq(lv_count(&p, "\n"), MANY);
	for (int i = 0; i < MANY; i++) {
		char want[48];
		snprintf(want, sizeof(want), "f%04d\tline of %d\n", i, i);
		assert_once(&p, want);
	}
	lv_free(&p);
	for (int i = 3; i < a; i++)
		free(argv[i]);
}
END_TEST

/* ---------------------------------------------------------------- tail */

static void run_in_dir(struct tu_run *r, const char *args)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "cd '%s' && %s %s", dir, tu_pmerge(), args);
	tu_run_sh(r, cmd, WAIT_S);
}

static void expect(const char *args, int status, const char *out)
{
	struct tu_run r;

	run_in_dir(&r, args);
	ck_assert_msg(r.status == status, "%s: status %d, stderr %s", args,
	              r.status, r.err);
	ck_assert_msg(strcmp(r.out, out) == 0, "%s: wrote '%s'", args, r.out);
	tu_run_free(&r);
}

START_TEST(tail_lines)
{
	append_at("t", "1\n2\n3\n4\n5\n");
	append_at("u", "x\ny\nz");
	expect("--tail=2 t", 0, "4\n5\n");
	expect("--tail=0 t", 0, "");
	expect("--tail=9 t", 0, "1\n2\n3\n4\n5\n");
	expect("-u line --tail=1 u", 0, "z\n");
	expect("-u line --order=input --tail=2 t u", 0, "4\n5\ny\nz\n");
	expect("--tail=1 -u line -z t", 0, "1\n2\n3\n4\n5\n");
	/* Many small inputs, which workers otherwise gather in runs. */
	char args[1024] = "-j 1 --tail=1";
	for (int i = 0; i < 60; i++)
		strcat(args, " t");
	char want[256] = "";
	for (int i = 0; i < 60; i++)
		strcat(want, "5\n");
	expect(args, 0, want);
}
END_TEST

/* Read from the end: a 4 MiB file through a 4 KiB buffer. */
START_TEST(tail_large_file)
{
	char *big = at("big");
	FILE *f = fopen(big, "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 500000; i++)
		fprintf(f, "%07d\n", i);
	fclose(f);
	expect("-B 4K --tail=3 big", 0, "0499997\n0499998\n0499999\n");
	free(big);
}
END_TEST

START_TEST(tail_follow)
{
	struct lv p;

	append_at("log", "1\n2\n3\n");
	follow(&p, (const char *[]){"--tail=1", NULL},
	       (const char *[]){"log", NULL}, 1);
	ck_assert(lv_wait_for(&p, "3\n", 1, WAIT_S));
	append_at("log", "4\n");
	ck_assert(lv_wait_for(&p, "4\n", 1, WAIT_S));
	assert_signalled(lv_stop(&p, SIGTERM), SIGTERM);
	ck_assert_str_eq(p.buf, "3\n4\n");
	lv_free(&p);
}
END_TEST

/* ------------------------------------------------------------- options */

START_TEST(follow_usage_errors)
{
	struct tu_run r;

	run_in_dir(&r, "-F -o out x");
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, "--follow with --output needs --append "
	                            "(-a)"),
	              "%s", r.err);
	tu_run_free(&r);
	expect("-F -u file x", 2, "");
	expect("-F --order=input x", 2, "");
	expect("--poll-interval=1 x", 2, "");
	expect("-F --poll-interval=0 x", 2, "");
	expect("-u line --label=a x", 2, "");
	expect("-u line --tag --label=a,b x", 2, "");
	expect("--tail=-1 x", 2, "");
	expect("--color=sometimes x", 2, "");
	expect("-F --bench x", 2, "");
}
END_TEST

START_TEST(labels_and_colors)
{
	append_at("a", "1\n");
	append_at("b", "2\n");
	expect("-u line -j1 --tag --label=web,db a b", 0, "web\t1\ndb\t2\n");
	expect("-u line -j1 --tag --label=,db a b", 0, "a\t1\ndb\t2\n");
	/* Not a terminal: auto means none. */
	expect("-u line -j1 --tag --color=auto a b", 0, "a\t1\nb\t2\n");
	expect("-u line -j1 --tag --color=never a b", 0, "a\t1\nb\t2\n");
	struct tu_run r1, r2;
	run_in_dir(&r1, "-u line -j1 --tag --color=always a b");
	run_in_dir(&r2, "-u line -j1 --tag --color=always b a");
	ck_assert_int_eq(r1.status, 0);
	/* Each tag in its colour, reset before the TAB. */
	char *a1 = strstr(r1.out, "a\033[m\t1\n"),
	     *b1 = strstr(r1.out, "b\033[m\t2");
	ck_assert_msg(a1 && b1 && r1.out[0] == '\033', "%s", r1.out);
	/* The colour is the input's, wherever it stands. */
	char ca[16], cb[16];
	ck_assert_int_eq(sscanf(r1.out, "%15[^a]a", ca), 1);
	ck_assert_ptr_nonnull(strstr(r2.out, ca));
	ck_assert_int_eq(sscanf(strchr(r1.out, '\n') + 1, "%15[^b]b", cb), 1);
	ck_assert_str_ne(ca, cb);
	ck_assert(strncmp(r2.out, cb, strlen(cb)) == 0);
	tu_run_free(&r1);
	tu_run_free(&r2);
}
END_TEST

/* ------------------------------------------------------------- -d live */

/* The formats -d knows, each made by its own tool; "cat" is plain. */
static const char *const packers[] = {"gzip",  "zstd", "xz",
                                      "bzip2", "lz4",  "cat"};
#define N_PACKERS (sizeof(packers) / sizeof(packers[0]))

/* dir/name: text packed by packers[k] (-c: to stdout). */
static void pack(const char *name, size_t k, const char *text)
{
	char cmd[1024];
	struct tu_run r;

	snprintf(cmd, sizeof(cmd), "cd '%s' && printf '%%s' '%s' | %s%s > '%s'",
	         dir, text, packers[k], k + 1 < N_PACKERS ? " -q -c" : "",
	         name);
	tu_run_sh(&r, cmd, WAIT_S);
	ck_assert_msg(r.status == 0, "%s: %s", packers[k], r.err);
	tu_run_free(&r);
}

static char *slurp_at(const char *name, size_t *len)
{
	char *p = at(name), *data = tu_read_file(p, len);
	free(p);
	return data;
}

/* Writes all of data to fd, one byte per write when dribble. */
static bool put(int fd, const char *data, size_t len, bool dribble)
{
	for (size_t off = 0; off < len;) {
		ssize_t k = write(fd, data + off, dribble ? 1 : len - off);
		if (k <= 0)
			return false;
		off += (size_t)k;
	}
	return true;
}

/* The two lines of FIFO k's stream n: "S<k>-<n>a ...\nS<k>-<n>b ...\n". */
static void stream_text(char *buf, size_t size, size_t k, int n)
{
	snprintf(buf, size, "S%zu-%da %s\nS%zu-%db second line\n", k, n,
	         packers[k], k, n);
}

/*
 * Every format through a FIFO, with -j 1: a writer sends each FIFO a first
 * stream one byte at a time, turn about, and keeps every FIFO open; all
 * their lines must come out while they are all still open (the stream
 * thread decodes what has arrived and never waits on one input's partial
 * frame).  Then a second stream each, concatenated, and the end: every
 * line exactly once, whole, in its input's order, and exit 0.
 */
START_TEST(decode_fifos_live)
{
	char *argv[N_PACKERS + 8];
	int a = 0, go[2];

	argv[a++] = (char *)tu_pmerge();
	argv[a++] = "-d";
	argv[a++] = "-u";
	argv[a++] = "line";
	argv[a++] = "-j";
	argv[a++] = "1";
	argv[a++] = "--tag";
	for (size_t k = 0; k < N_PACKERS; k++) {
		char name[16], text[128];
		for (int n = 1; n <= 2; n++) {
			snprintf(name, sizeof(name), "s%zu.%d", k, n);
			stream_text(text, sizeof(text), k, n);
			pack(name, k, text);
		}
		snprintf(name, sizeof(name), "fifo%zu", k);
		argv[a] = at(name);
		ck_assert_int_eq(mkfifo(argv[a], 0600), 0);
		a++;
	}
	argv[a] = NULL;
	ck_assert_int_eq(pipe(go), 0);
	pid_t w = fork();
	ck_assert_int_ge(w, 0);
	if (w == 0) {
		int fds[N_PACKERS];
		char *data[2][N_PACKERS];
		size_t len[2][N_PACKERS], most = 0;
		close(go[1]);
		for (size_t k = 0; k < N_PACKERS; k++) {
			char name[16];
			for (int n = 0; n < 2; n++) {
				snprintf(name, sizeof(name), "s%zu.%d", k,
				         n + 1);
				data[n][k] = slurp_at(name, &len[n][k]);
			}
			if (len[0][k] > most)
				most = len[0][k];
			if ((fds[k] = open(argv[7 + k], O_WRONLY)) < 0)
				_exit(1);
		}
		/* Byte i of every first stream, then byte i + 1. */
		for (size_t i = 0; i < most; i++) {
			for (size_t k = 0; k < N_PACKERS; k++)
				if (i < len[0][k] &&
				    !put(fds[k], data[0][k] + i, 1, false))
					_exit(2);
			if (i % 16 == 0)
				usleep(1000);
		}
		char c;
		if (read(go[0], &c, 1) != 1)
			_exit(3);
		for (size_t k = 0; k < N_PACKERS; k++)
			if (!put(fds[k], data[1][k], len[1][k], false) ||
			    close(fds[k]) < 0)
				_exit(4);
		_exit(0);
	}
	close(go[0]);
	struct lv p;
	lv_start(&p, dir, argv, NULL, 0);
	ck_assert_msg(lv_wait_for(&p, "\n", 2 * N_PACKERS, WAIT_S),
	              "while every FIFO was open, only:\n%s",
	              p.buf ? p.buf : "");
	ck_assert_int_eq(write(go[1], "x", 1), 1);
	close(go[1]);
	int wst;
	waitpid(w, &wst, 0);
	ck_assert_msg(WIFEXITED(wst) && WEXITSTATUS(wst) == 0, "writer: 0x%x",
	              wst);
	int st = lv_stop(&p, 0);
	char *err = lv_stderr(&p);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	              "pmerge: 0x%x, stderr: %s", st, err);
	ck_assert_str_eq(err, "");
	free(err);
	ck_assert_uint_eq(lv_count(&p, "\n"), 4 * N_PACKERS);
	for (size_t k = 0; k < N_PACKERS; k++) {
		const char *prev = p.buf;
		for (int n = 1; n <= 2; n++) {
			char text[128], want[160];
			stream_text(text, sizeof(text), k, n);
			for (char *line = strtok(text, "\n"); line;
			     line = strtok(NULL, "\n")) {
				snprintf(want, sizeof(want), "%s\t%s\n",
				         argv[7 + k], line);
				assert_once(&p, want);
				const char *at_ = strstr(p.buf, want);
				ck_assert_msg(at_ >= prev, "%s out of order",
				              line);
				prev = at_;
			}
		}
	}
	lv_free(&p);
	for (size_t k = 0; k < N_PACKERS; k++)
		free(argv[7 + k]);
}
END_TEST

/* Appends the bytes of dir/from to dir/to: [off, off + len) of them. */
static void append_part(const char *to, const char *from, size_t off,
                        size_t len)
{
	size_t n;
	char *data = slurp_at(from, &n), *p = at(to);
	int fd = open(p, O_WRONLY | O_APPEND | O_CREAT, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert(off + len <= n);
	ck_assert(put(fd, data + off, len, false));
	close(fd);
	free(data);
	free(p);
}

static size_t size_at(const char *name)
{
	struct stat sb;
	char *p = at(name);
	ck_assert_int_eq(stat(p, &sb), 0);
	free(p);
	return (size_t)sb.st_size;
}

/*
 * -F -d on growing compressed files, one per format: each grows by half a
 * stream (nothing torn may show, nothing is an error), then by its rest,
 * then by a second stream; every line once, and no message.
 */
START_TEST(decode_follow_growing)
{
	const char *names[N_PACKERS + 1];
	char text[128];
	struct lv p;

	for (size_t k = 0; k < N_PACKERS; k++) {
		char name[16];
		snprintf(name, sizeof(name), "log%zu", k);
		names[k] = strdup(name);
		append_at(name, "");
		for (int n = 1; n <= 2; n++) {
			snprintf(name, sizeof(name), "g%zu.%d", k, n);
			stream_text(text, sizeof(text), k, n);
			pack(name, k, text);
		}
	}
	names[N_PACKERS] = NULL;
	follow(&p, (const char *[]){"-d", NULL}, names, N_PACKERS);
	for (size_t k = 0; k < N_PACKERS; k++) {
		char first[16], second[16];
		snprintf(first, sizeof(first), "g%zu.1", k);
		snprintf(second, sizeof(second), "g%zu.2", k);
		size_t len = size_at(first);
		append_part(names[k], first, 0, len / 2);
		lv_pump(&p, 0.2);
		ck_assert_msg(p.len == 0 || p.buf[p.len - 1] == '\n',
		              "a torn line: %s", p.buf);
		append_part(names[k], first, len / 2, len - len / 2);
		snprintf(text, sizeof(text), "S%zu-1b second line\n", k);
		ck_assert_msg(lv_wait_for(&p, text, 1, WAIT_S), "%s: got %s",
		              packers[k], p.buf ? p.buf : "");
		append_part(names[k], second, 0, size_at(second));
		snprintf(text, sizeof(text), "S%zu-2b second line\n", k);
		ck_assert_msg(lv_wait_for(&p, text, 1, WAIT_S), "%s: got %s",
		              packers[k], p.buf);
	}
	assert_signalled(lv_stop(&p, SIGTERM), SIGTERM);
	char *err = lv_stderr(&p);
	ck_assert_str_eq(err, "");
	free(err);
	ck_assert_uint_eq(lv_count(&p, "\n"), 4 * N_PACKERS);
	for (size_t k = 0; k < N_PACKERS; k++) {
		for (int n = 1; n <= 2; n++) {
			char want[64];
			snprintf(want, sizeof(want), "S%zu-%da %s\n", k, n,
			         packers[k]);
			assert_once(&p, want);
		}
		free((char *)names[k]);
	}
	lv_free(&p);
}
END_TEST

/*
 * tail -F semantics on the names given: app.log rotates (create) and
 * logrotate then compresses app.log.1 into app.log.1.gz; that new name is
 * not followed, so nothing is read twice.  A followed zstd file replaced
 * by a new one is decoded from the new file's start.
 */
START_TEST(decode_follow_rotation)
{
	struct lv p;
	char *log = at("app.log"), *old = at("app.log.1");

	lv_append(log, "r1\nr2\n");
	pack("z.zst", 1, "z1\n");
	follow(&p, (const char *[]){"-d", "--tag", NULL},
	       (const char *[]){"app.log", "z.zst", NULL}, 2);
	ck_assert(lv_wait_for(&p, "app.log\tr2\n", 1, WAIT_S));
	ck_assert(lv_wait_for(&p, "z.zst\tz1\n", 1, WAIT_S));
	ck_assert_int_eq(rename(log, old), 0);
	lv_append(log, "r3\n");
	ck_assert(lv_wait_for(&p, "app.log\tr3\n", 1, WAIT_S));
	struct tu_run r;
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "cd '%s' && gzip app.log.1", dir);
	tu_run_sh(&r, cmd, WAIT_S);
	ck_assert_int_eq(r.status, 0);
	tu_run_free(&r);
	/* The replaced zstd file: a new stream from its start. */
	pack("z.new", 1, "z2\nz3\n");
	char *z = at("z.zst"), *znew = at("z.new");
	ck_assert_int_eq(rename(znew, z), 0);
	ck_assert(lv_wait_for(&p, "z.zst\tz3\n", 1, WAIT_S));
	lv_append(log, "r4\n");
	ck_assert(lv_wait_for(&p, "app.log\tr4\n", 1, WAIT_S));
	/* Long enough for a poll to have seen app.log.1.gz, were it
	 * followed. */
	lv_pump(&p, 1.5);
	assert_signalled(lv_stop(&p, SIGTERM), SIGTERM);
	const char *want[] = {"app.log\tr1\n", "app.log\tr2\n", "app.log\tr3\n",
	                      "app.log\tr4\n", "z.zst\tz1\n",   "z.zst\tz2\n",
	                      "z.zst\tz3\n"};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_once(&p, want[i]);
	ck_assert_uint_eq(lv_count(&p, "\n"), 7);
	lv_free(&p);
	free(log);
	free(old);
	free(z);
	free(znew);
}
END_TEST

/*
 * Bad data in a followed file: the message names it and gives the codec's
 * reason; the other names are still followed.  A truncated compressed file
 * (copytruncate) is a new stream; --tail counts decoded lines.
 */
START_TEST(decode_follow_corrupt_truncate_tail)
{
	struct lv p;

	pack("bad.gz", 0, "b1\n");
	pack("t.gz", 0, "1\n2\n3\n4\n5\n");
	append_at("good.log", "");
	follow(&p, (const char *[]){"-d", "--tail=2", NULL},
	       (const char *[]){"bad.gz", "good.log", "t.gz", NULL}, 3);
	ck_assert(lv_wait_for(&p, "b1\n", 1, WAIT_S));
	ck_assert(lv_wait_for(&p, "5\n", 1, WAIT_S));
	append_at("bad.gz", "this is not gzip\n");
	char *err = NULL;
	double end = tu_now_s() + WAIT_S;
	do {
		free(err);
		lv_pump(&p, 0.05);
		err = lv_stderr(&p);
	} while (!strstr(err, "pmerge: bad.gz: gzip: ") && tu_now_s() < end);
	ck_assert_msg(strstr(err, "pmerge: bad.gz: gzip: trailing garbage "
	                          "after compressed data\n"),
	              "stderr: %s", err);
	free(err);
	append_at("good.log", "g1\n");
	ck_assert(lv_wait_for(&p, "g1\n", 1, WAIT_S));
	char *t = at("t.gz");
	ck_assert_int_eq(truncate(t, 0), 0);
	free(t);
	pack("t2.gz", 0, "6\n");
	append_part("t.gz", "t2.gz", 0, size_at("t2.gz"));
	ck_assert(lv_wait_for(&p, "6\n", 1, WAIT_S));
	assert_signalled(lv_stop(&p, SIGTERM), SIGTERM);
	ck_assert_str_eq(p.buf + strlen(p.buf) - 2, "6\n");
	ck_assert_uint_eq(lv_count(&p, "\n"), 5);
	ck_assert_int_eq(lv_count(&p, "not gzip"), 0);
	ck_assert_int_eq(lv_count(&p, "3\n"), 0);
	/* The bad file's name is done with: never read again. */
	assert_once(&p, "b1\n");
	err = lv_stderr(&p);
	ck_assert_msg(strstr(err, "pmerge: t.gz: file truncated\n"),
	              "stderr: %s", err);
	const char *bad = strstr(err, "pmerge: bad.gz: ");
	ck_assert_msg(bad && !strstr(bad + 1, "pmerge: bad.gz: "), "stderr: %s",
	              err);
	free(err);
	lv_free(&p);
}
END_TEST

/* --------------------------------------------------------- fault shim */

/* pmerge -F under the fault shim with rule, polling every 0.2 s. */
static void follow_faulty(struct lv *p, const char *rule, size_t watches)
{
	char *argv[] = {(char *)tu_pmerge(),
	                "-F",
	                "--poll-interval=0.2",
	                "log",
	                "fifo",
	                NULL};

	lv_start(p, dir, argv, hu_fault_env(rule, NULL), 0);
	if (watches)
		ck_assert(lv_wait_watches(p, watches, WAIT_S));
	ck_assert(lv_wait_files(p, dir, 1, WAIT_S));
}

/* No inotify at all: the poll timer still brings every line. */
START_TEST(fault_inotify_init)
{
	struct lv p;
	char *fifo = at("fifo");

	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	append_at("log", "1\n");
	follow_faulty(&p, "inotify_init1:EMFILE", 0);
	ck_assert(lv_wait_for(&p, "1\n", 1, WAIT_S));
	append_at("log", "2\n");
	ck_assert(lv_wait_for(&p, "2\n", 1, WAIT_S));
	assert_signalled(lv_stop(&p, SIGTERM), SIGTERM);
	char *err = lv_stderr(&p);
	ck_assert_msg(strstr(err, "pmerge: cannot watch . for changes: Too "
	                          "many open files; polling every 0.2 s\n"),
	              "stderr: %s", err);
	free(err);
	lv_free(&p);
	free(fifo);
}
END_TEST

/* The watch cannot be added (inotify's watch limit): polled. */
START_TEST(fault_inotify_watch)
{
	struct lv p;
	char *fifo = at("fifo");

	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	append_at("log", "1\n");
	follow_faulty(&p, "inotify_add_watch:ENOSPC", 0);
	ck_assert(lv_wait_for(&p, "1\n", 1, WAIT_S));
	char *log = at("log"), *log0 = at("log.0");
	ck_assert_int_eq(rename(log, log0), 0);
	free(log);
	free(log0);
	append_at("log", "2\n");
	ck_assert(lv_wait_for(&p, "2\n", 1, WAIT_S));
	assert_signalled(lv_stop(&p, SIGTERM), SIGTERM);
	char *err = lv_stderr(&p);
	ck_assert_msg(strstr(err, "pmerge: cannot watch . for changes: No "
	                          "space left on device; polling every "
	                          "0.2 s\n"),
	              "stderr: %s", err);
	free(err);
	lv_free(&p);
	free(fifo);
}
END_TEST

/*
 * A read that fails ends that input with its name and the error; the
 * others go on.
 */
START_TEST(fault_read)
{
	struct lv p;
	char *fifo = at("fifo");

	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	append_at("log", "1\n");
	follow_faulty(&p, "read:EIO:path=fifo", 1);
	int fd = open(fifo, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "f\n", 2), 2);
	ck_assert(lv_wait_for(&p, "1\n", 1, WAIT_S));
	append_at("log", "2\n");
	ck_assert(lv_wait_for(&p, "2\n", 1, WAIT_S));
	assert_signalled(lv_stop(&p, SIGTERM), SIGTERM);
	close(fd);
	ck_assert_int_eq(lv_count(&p, "f\n"), 0);
	char *err = lv_stderr(&p);
	ck_assert_msg(strstr(err, "pmerge: fifo: Input/output error\n"),
	              "stderr: %s", err);
	free(err);
	lv_free(&p);
	free(fifo);
}
END_TEST

static Suite *follow_suite(const char *which)
{
	Suite *s = suite_create("follow");
	TCase *t;

	if (!strcmp(which, "streams") || !strcmp(which, "all")) {
		t = tcase_create("streams");
		tcase_add_checked_fixture(t, setup, teardown);
		tcase_set_timeout(t, 120);
		tcase_add_test(t, latency_many_streams);
		tcase_add_test(t, streams_with_unpollable);
		suite_add_tcase(s, t);
	}
	if (!strcmp(which, "follow") || !strcmp(which, "all")) {
		t = tcase_create("follow");
		tcase_add_checked_fixture(t, setup, teardown);
		tcase_set_timeout(t, 120);
		tcase_add_test(t, follow_create_rotation);
		tcase_add_test(t, follow_copytruncate);
		tcase_add_test(t, follow_late_file);
		tcase_add_test(t, follow_partial_line);
		tcase_add_test(t, follow_every_line_once);
		tcase_add_test(t, tail_follow);
		suite_add_tcase(s, t);
	}
	if (!strcmp(which, "scale") || !strcmp(which, "all")) {
		t = tcase_create("scale");
		tcase_add_checked_fixture(t, setup, teardown);
		tcase_set_timeout(t, 120);
		tcase_add_test(t, follow_thousand_files);
		suite_add_tcase(s, t);
	}
	if (!strcmp(which, "options") || !strcmp(which, "all")) {
		t = tcase_create("options");
		tcase_add_checked_fixture(t, setup, teardown);
		tcase_add_test(t, tail_lines);
		tcase_add_test(t, tail_large_file);
		tcase_add_test(t, follow_usage_errors);
		tcase_add_test(t, labels_and_colors);
		suite_add_tcase(s, t);
	}
	if (!strcmp(which, "decode") || !strcmp(which, "all")) {
		t = tcase_create("decode");
		tcase_add_checked_fixture(t, setup, teardown);
		tcase_set_timeout(t, 120);
		tcase_add_test(t, decode_fifos_live);
		tcase_add_test(t, decode_follow_growing);
		tcase_add_test(t, decode_follow_rotation);
		tcase_add_test(t, decode_follow_corrupt_truncate_tail);
		suite_add_tcase(s, t);
	}
	if (!strcmp(which, "fault") || !strcmp(which, "all")) {
		t = tcase_create("fault");
		tcase_add_checked_fixture(t, setup, teardown);
		tcase_set_timeout(t, 120);
		tcase_add_test(t, fault_inotify_init);
		tcase_add_test(t, fault_inotify_watch);
		tcase_add_test(t, fault_read);
		suite_add_tcase(s, t);
	}
	return s;
}

/* 77 (a skip) when what the group needs is absent. */
static int missing(const char *which)
{
	struct rlimit rl;
	const char *lib = getenv("PMFAULT_SO");
	bool all = !strcmp(which, "all");

	if ((all || !strcmp(which, "scale")) &&
	    (getrlimit(RLIMIT_NOFILE, &rl) != 0 ||
	     (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 4096))) {
		fprintf(stderr, "skipped: the hard limit on open files is "
		                "below 4096\n");
		return 77;
	}
	if (all || !strcmp(which, "decode"))
		for (size_t k = 0; k < N_PACKERS; k++) {
			char cmd[64];
			snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null",
			         packers[k]);
			if (system(cmd) != 0) {
				fprintf(stderr, "skipped: no %s\n", packers[k]);
				return 77;
			}
		}
	if ((all || !strcmp(which, "fault")) &&
	    (!lib || access(lib, R_OK) != 0)) {
		fprintf(stderr, "skipped: no fault shim ($PMFAULT_SO)\n");
		return 77;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *which = argc > 1 ? argv[1] : "all";
	SRunner *sr;
	int failed;

	if (missing(which))
		return 77;
	sr = srunner_create(follow_suite(which));

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
