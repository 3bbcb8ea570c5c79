/*
 * Reliability: what a hostile user can do to pmerge, and what must come of
 * it.  Standard output and standard error on one file, an output read back
 * as an input, a stream named twice, all-or-nothing merges that must fail
 * before copying, and (in the groups that follow) leftovers, descriptor
 * limits, odd names and durability.  Every case states what cat, sort -o
 * or the manual promise, and checks exactly that.
 *
 * Each test runs in its own forked process and scratch directory; shell
 * command lines find the pmerge under test as "$PMERGE".
 */
#include "hardutil.h"
#include "tutil.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define OLD "old contents\n"

/* Runs a formatted /bin/sh command line; stdout and stderr are captured. */
static void sh(struct hu_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sh(struct hu_result *r, const char *fmt, ...)
{
	char *cmd;
	va_list ap;

	va_start(ap, fmt);
	ck_assert_int_ge(vasprintf(&cmd, fmt, ap), 0);
	va_end(ap);
	char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	struct hu_opts o = {.argv = argv};
	hu_run(r, &o);
	ck_assert_msg(!r->timed_out, "hung: %s", cmd);
	free(cmd);
}

/* Removes the first occurrence of line (with its newline) from buf. */
static bool cut_line(char *buf, size_t *len, const char *line)
{
	size_t n = strlen(line);
	char *hit = memmem(buf, *len, line, n);

	if (!hit)
		return false;
	memmove(hit, hit + n, *len - (size_t)(hit - buf) - n);
	*len -= n;
	return true;
}

/* Removes every line that starts with prefix; returns how many. */
static size_t cut_lines_with(char *buf, size_t *len, const char *prefix)
{
	size_t n = strlen(prefix), cut = 0;

	for (size_t i = 0; i < *len;) {
		char *nl = memchr(buf + i, '\n', *len - i);
		size_t end = nl ? (size_t)(nl - buf) + 1 : *len;

		if ((i == 0 || buf[i - 1] == '\n') && end - i >= n &&
		    memcmp(buf + i, prefix, n) == 0) {
			memmove(buf + i, buf + end, *len - end);
			*len -= end - i;
			cut++;
		} else {
			i = end;
		}
	}
	return cut;
}

/* ------------------------------------- standard output and error, one file */

/*
 * Runs cmd (a shell command line that writes log), which must exit with
 * status, and returns log's contents; *want is what cat gives for the
 * data alone.
 */
static char *run_to_log(const char *cmd, int status, size_t *got_len,
                        char **want, size_t *want_len, bool fifo)
{
	struct hu_result r;

	hu_make("a", 300000, 1, true);
	hu_make("b", 200000, 2, true);
	tu_write_file("c", "from the fifo\n", 14);
	ck_assert_int_eq(mkfifo("p", 0600), 0);
	sh(&r, "%s", cmd);
	hu_expect_exit(&r, status);
	hu_result_free(&r);
	*want = fifo ? tu_cat(want_len, "a", "c", "b", NULL)
	             : tu_cat(want_len, "a", "b", NULL);
	return tu_read_file("log", got_len);
}

static const char *const jobs[] = {"1", "4"};

/* pmerge a missing b > log 2>&1: everything cat would write, none lost. */
START_TEST(stdout_stderr_one_file)
{
	char *dir = tu_enter_scratch();
	char *cmd, *want, *got;
	size_t len, got_len;

	ck_assert_int_gt(asprintf(&cmd,
	                          "\"$PMERGE\" -j %s a missing b > log 2>&1",
	                          jobs[_i]),
	                 0);
	got = run_to_log(cmd, 1, &got_len, &want, &len, false);
	ck_assert_msg(cut_line(got, &got_len,
	                       "pmerge: missing: No such file or directory\n"),
	              "the message is missing or overwritten");
	tu_expect_bytes("log without the message", got, got_len, want, len);
	free(cmd);
	free(got);
	free(want);
	tu_leave_scratch(dir);
}
END_TEST

/*
 * The progress lines of --progress=always and a SIGUSR1 status line go to
 * the same file as the data, while pmerge waits on a FIFO: none of them may
 * overwrite data or be overwritten.
 */
START_TEST(stdout_stderr_progress_status)
{
	char *dir = tu_enter_scratch();
	char *cmd, *want, *got;
	size_t len, got_len;

	ck_assert_int_gt(
	    asprintf(&cmd,
	             "(sleep 2.5; cat c > p) & \"$PMERGE\" -j %s "
	             "--progress=always a p b > log 2>&1 & pid=$!; sleep 1.2; "
	             "kill -USR1 $pid; wait $pid",
	             jobs[_i]),
	    0);
	got = run_to_log(cmd, 0, &got_len, &want, &len, true);
	/* At least two progress lines and the status line. */
	ck_assert_uint_ge(cut_lines_with(got, &got_len, "pmerge: "), 3);
	tu_expect_bytes("log without the progress lines", got, got_len, want,
	                len);
	free(cmd);
	free(got);
	free(want);
	tu_leave_scratch(dir);
}
END_TEST

/* ------------------------------------------- the output read back as input */

/*
 * The output file named as an input while it is written in place: refused
 * with cat's message, whatever its size, and the run ends.  When the first
 * input is a FIFO fed a moment later, the output is surely still empty
 * when it is opened as an input: the case that used to be read back.
 * ulimit -f turns a runaway into a quick failure.
 */
#define LATER "(sleep 0.3; cat a > p) & "
static const struct {
	const char *cmd, *prepare;
} in_is_out[] = {
    {LATER "\"$PMERGE\" p f > f", NULL},
    {LATER "\"$PMERGE\" -j 1 p f > f", NULL},
    {LATER "\"$PMERGE\" -u line p f > f", NULL},
    {LATER "\"$PMERGE\" --order=arrival p f > f", NULL},
    {LATER "\"$PMERGE\" p f >> f", ": > f"},
    {LATER "\"$PMERGE\" -a -o f p f", ": > f"},
    {LATER "\"$PMERGE\" -u line -a -o f p f", ": > f"},
    {LATER "\"$PMERGE\" p - < f >> f", ": > f"},
    {"\"$PMERGE\" a f > f", NULL},
    {"\"$PMERGE\" a f >> f", "cat a > f"},
};
#define N_IN_IS_OUT (int)(sizeof(in_is_out) / sizeof(in_is_out[0]))

START_TEST(output_read_back)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;
	size_t len, before = 0;
	char *want;

	hu_make("a", 100000, 1, true);
	ck_assert_int_eq(mkfifo("p", 0600), 0);
	if (in_is_out[_i].prepare) {
		sh(&r, "%s", in_is_out[_i].prepare);
		hu_result_free(&r);
		free(tu_read_file("f", &before));
	}
	sh(&r, "ulimit -f 20000; %s", in_is_out[_i].cmd);
	hu_expect_exit(&r, 1);
	ck_assert_msg(strstr(r.err, ": input file is output file\n"),
	              "%s: stderr is '%s'", in_is_out[_i].cmd, r.err);
	want = tu_cat(&len, "a", NULL);
	size_t got_len;
	char *got = tu_read_file("f", &got_len);
	/* f holds what it held, then a, and nothing else. */
	ck_assert_uint_eq(got_len, before + len);
	tu_expect_bytes("the appended part", got + before, got_len - before,
	                want, len);
	free(got);
	free(want);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* ------------------------------------------------- a stream named twice */

/*
 * Writes session one (many lines, in small pieces, slowly) into the FIFO,
 * closes it, and after a pause opens it again for session two.
 */
static pid_t fifo_sessions(const char *path)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid > 0)
		return pid;
	for (int session = 0; session < 2; session++) {
		int fd = open(path, O_WRONLY);
		if (fd < 0)
			_exit(1);
		for (int i = 0; i < 200; i++) {
			char line[600];
			int n = snprintf(line, sizeof(line),
			                 "session %d line %d ", session, i);
			memset(line + n, 'a' + i % 26, 500);
			line[n + 500] = '\n';
			/* In pieces, so that two readers would each get some.
			 */
			for (int off = 0; off < n + 501; off += 128) {
				int k =
				    n + 501 - off < 128 ? n + 501 - off : 128;
				if (write(fd, line + off, (size_t)k) != k)
					_exit(1);
			}
			if (i % 20 == 0)
				usleep(2000);
		}
		close(fd);
		usleep(500000);
	}
	_exit(0);
}

static void expect_sessions(const char *out, size_t len)
{
	int seen[2] = {0, 0};

	for (size_t i = 0; i < len;) {
		const char *nl = memchr(out + i, '\n', len - i);
		int s, k, n = 0;

		ck_assert_msg(nl, "an unterminated record at %zu", i);
		ck_assert_msg(
		    sscanf(out + i, "session %d line %d %n", &s, &k, &n) == 2 &&
		        n > 0,
		    "a record that was never written at %zu", i);
		ck_assert_msg((size_t)(nl - out) - i == (size_t)n + 500,
		              "a torn or fused record at %zu", i);
		ck_assert_int_eq(k, seen[s]);
		seen[s]++;
		i = (size_t)(nl - out) + 1;
	}
	ck_assert_int_eq(seen[0], 200);
	ck_assert_int_eq(seen[1], 200);
}

/* The same FIFO twice (once through a symlink): read twice, in sequence. */
START_TEST(fifo_twice)
{
	static const char *const units[] = {"line", "file"};
	char *dir = tu_enter_scratch();
	struct hu_result r;
	int st;

	ck_assert_int_eq(mkfifo("p", 0600), 0);
	ck_assert_int_eq(symlink("p", "q"), 0);
	pid_t w = fifo_sessions("p");
	char *argv[] = {(char *)hu_pmerge(),
	                "-u",
	                (char *)units[_i % 2],
	                "-B",
	                "4K",
	                "-j",
	                "4",
	                "p",
	                _i < 2 ? "p" : "q",
	                NULL};
	struct hu_opts o = {.argv = argv};
	hu_run(&r, &o);
	ck_assert_int_eq(waitpid(w, &st, 0), w);
	ck_assert(!r.timed_out);
	hu_expect_exit(&r, 0);
	expect_sessions(r.out, r.out_len);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* ----------------------------------------- all or nothing, before copying */

/* Bad names in a --files0-from list: FILE stays as it was. */
START_TEST(files0_all_or_nothing)
{
	static const struct {
		const char *list;
		size_t len; /* the list holds NULs: its length in bytes */
		const char *message;
		bool from_stdin;
	} cases[] = {
	    {"a\0\0c", 4, "pmerge: lst:2: invalid zero-length file name\n",
	     false},
	    {"a\0\0c", 4, "pmerge: -:2: invalid zero-length file name\n", true},
	    {"a\0-\0c", 5,
	     "pmerge: when reading file names from standard input, no file "
	     "name of '-' allowed\n",
	     true},
	};
	char *dir = tu_enter_scratch();
	struct hu_result r;
	struct hu_snap s;
	bool exists = _i >= 3;
	int c = _i % 3;

	hu_make("a", 1000, 1, true);
	hu_make("c", 1000, 3, true);
	tu_write_file("lst", cases[c].list, cases[c].len);
	if (exists)
		tu_write_file("out", OLD, strlen(OLD));
	hu_snap_take(&s, "out");
	struct hu_opts o = {.stdin_path = "lst"};
	hu_pm(&r, &o, "-o", "out",
	      cases[c].from_stdin ? "--files0-from=-" : "--files0-from=lst",
	      NULL);
	hu_expect_exit(&r, 1);
	tu_expect_err(&r, cases[c].message);
	hu_snap_expect(&s, "out");
	hu_expect_no_temp(".");
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/*
 * With -o, a missing input is found before anything is read: here the
 * first input is a FIFO that never gets a writer, so a merge that started
 * copying would wait for it until killed.
 */
START_TEST(replace_fails_before_copying)
{
	static const char *const bad[] = {"missing", "dir", "dangling"};
	char *dir = tu_enter_scratch();
	struct hu_result r;
	struct hu_snap s;
	char *want;

	ck_assert_int_eq(mkfifo("p", 0600), 0);
	ck_assert_int_eq(mkdir("dir", 0700), 0);
	ck_assert_int_eq(symlink("nowhere", "dangling"), 0);
	hu_make("a", 1000, 1, true);
	tu_write_file("out", OLD, strlen(OLD));
	hu_snap_take(&s, "out");
	struct hu_opts o = {.timeout = 10};
	hu_pm(&r, &o, "-o", "out", "p", "a", bad[_i], NULL);
	ck_assert_msg(!r.timed_out, "pmerge waited on the FIFO");
	hu_expect_exit(&r, 1);
	ck_assert_int_gt(asprintf(&want, "pmerge: %s: %s\n", bad[_i],
	                          strerror(_i == 1 ? EISDIR : ENOENT)),
	                 0);
	tu_expect_err(&r, want);
	hu_snap_expect(&s, "out");
	hu_expect_no_temp(".");
	free(want);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* ------------------------------------------------------ option values */

/* -B: one strict grammar; overflow is a usage error, not a wrap. */
START_TEST(buffer_size_grammar)
{
	static const struct {
		const char *arg;
		bool ok;
	} cases[] = {
	    {"4K", true},
	    {"4096", true},
	    {"1G", true},
	    {"1GiB", true},
	    {"64KiB", true},
	    {"5KB", true},
	    {"1M", true},
	    {"3K", false},
	    {"4iB", false},
	    {"4096iB", false},
	    {"1Gi", false},
	    {"2G", false},
	    {"18014398509481988K", false},
	    {"K", false},
	    {"", false},
	    {"4KK", false},
	    {"-4K", false},
	    {"4 K", false},
	};
	char *dir = tu_enter_scratch();
	struct hu_result r;

	tu_write_file("a", "x\n", 2);
	hu_pm(&r, NULL, "-B", cases[_i].arg, "a", NULL);
	if (cases[_i].ok) {
		hu_expect_exit(&r, 0);
	} else {
		hu_expect_exit(&r, 2);
		ck_assert_msg(strstr(r.err, "invalid buffer size"), "%s: %s",
		              cases[_i].arg, r.err);
	}
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* --lock lists: no empty entry, no strategy twice. */
START_TEST(lock_lists)
{
	static const char *const bad[] = {
	    "--lock=mutex,",      "--lock=,mutex",       "--lock=mutex,,spin",
	    "--lock=mutex,mutex", "--lock=sem:2,sem:02", "--lock="};
	char *dir = tu_enter_scratch();
	struct hu_result r;

	tu_write_file("a", "x\n", 2);
	hu_pm(&r, NULL, "--bench=1", bad[_i], "a", NULL);
	hu_expect_exit(&r, 2);
	ck_assert_msg(strstr(r.err, "lock strateg"), "%s: %s", bad[_i], r.err);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* Option values abbreviate as GNU argmatch allows, unless ambiguous. */
START_TEST(value_abbreviations)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;

	tu_write_file("a", "x\n", 2);
	hu_pm(&r, NULL, "--progress=nev", "-u", "l", "--ord=arr", "a", NULL);
	hu_expect_exit(&r, 0);
	tu_expect_bytes("output", r.out, r.out_len, "x\n", 2);
	hu_result_free(&r);
	hu_pm(&r, NULL, "--stats=j", "a", NULL);
	hu_expect_exit(&r, 0);
	ck_assert_msg(r.err[0] == '{', "not JSON: %s", r.err);
	hu_result_free(&r);
	hu_pm(&r, NULL, "--progress=a", "a", NULL);
	hu_expect_exit(&r, 2);
	ck_assert_msg(strstr(r.err, "pmerge: ambiguous progress mode 'a' "
	                            "(valid: auto, always, never)\n"),
	              "%s", r.err);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* --stats-file asks for the statistics; statistics that cannot be
 * written make the status 1, as GNU tools do. */
START_TEST(stats_output)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;
	size_t len;
	char *st;

	tu_write_file("a", "x\n", 2);
	hu_pm(&r, NULL, "--stats-file=st", "a", NULL);
	hu_expect_exit(&r, 0);
	st = tu_read_file("st", &len);
	ck_assert_msg(st && len > 0, "--stats-file wrote nothing");
	free(st);
	hu_result_free(&r);
	sh(&r, "\"$PMERGE\" --stats a 2>/dev/full");
	hu_expect_exit(&r, 1);
	hu_result_free(&r);
	sh(&r, "\"$PMERGE\" --stats a 2>&-");
	hu_expect_exit(&r, 1);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* ------------------------------------------------------ files and access */

/* A regular input that honours O_NONBLOCK (as /proc/kmsg does) is read,
 * as cat reads it, not failed with EAGAIN. */
START_TEST(nonblocking_regular_input)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;
	size_t len;
	char *want;

	hu_make("kmsg", 5000, 4, true);
	want = tu_cat(&len, "kmsg", NULL);
	char *const *env =
	    hu_fault_env("reads:EAGAIN:path=kmsg:nonblock=1", NULL);
	char *argv[] = {(char *)hu_pmerge(), "kmsg", NULL};
	struct hu_opts o = {.argv = argv, .env = env};
	hu_run(&r, &o);
	hu_expect_exit(&r, 0);
	tu_expect_bytes("output", r.out, r.out_len, want, len);
	free(want);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/*
 * The same among many small inputs, which are read in runs (the name from
 * the stat pass, one pread, no fstat): with -j 1 the first claim is a run
 * of 10, and kmsg is its second input.  Into -o and into standard output.
 */
START_TEST(nonblocking_regular_input_in_run)
{
	char *dir = tu_enter_scratch();
	char *names[40];
	size_t len, got;
	char *want;

	for (int i = 0; i < 40; i++) {
		char n[16];
		snprintf(n, sizeof(n), i == 1 ? "kmsg" : "in%02d", i);
		names[i] = strdup(n);
		hu_make(names[i], 100 + 37 * (size_t)i, (uint64_t)i + 7, true);
	}
	want = tu_cat_names((const char *const *)names, 40, &len);
	char *const *env =
	    hu_fault_env("reads:EAGAIN:path=kmsg:nonblock=1", "faults");
	for (int out = 0; out < 2; out++) {
		struct hu_result r;
		char *argv[46] = {(char *)hu_pmerge(), "-j", "1"};
		int k = 3;
		if (out) {
			argv[k++] = "-o";
			argv[k++] = "merged";
		}
		for (int i = 0; i < 40; i++)
			argv[k++] = names[i];
		struct hu_opts o = {.argv = argv, .env = env};
		hu_run(&r, &o);
		hu_expect_exit(&r, 0);
		if (out) {
			char *m = tu_read_file("merged", &got);
			tu_expect_bytes("-o merged", m, got, want, len);
			free(m);
		} else {
			tu_expect_bytes("output", r.out, r.out_len, want, len);
		}
		hu_result_free(&r);
	}
	/* The fault did fire: the input was read with O_NONBLOCK on. */
	char *log = tu_read_file("faults", &got);
	ck_assert_msg(got > 0, "no EAGAIN was injected");
	free(log);
	for (int i = 0; i < 40; i++)
		free(names[i]);
	free(want);
	tu_leave_scratch(dir);
}
END_TEST

#define NOBODY 65534

/*
 * -o onto a file the user may not write is refused as sort -o refuses it,
 * even in a directory the user may write (where a rename would go
 * through): another user's 0644 file, and the user's own 0444 file.
 */
START_TEST(output_not_writable)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;
	struct hu_snap s;

	ck_assert_int_eq(chmod(".", 0777), 0);
	tu_write_file("a", "new\n", 4);
	tu_write_file("out", OLD, strlen(OLD));
	if (_i == 0) {
		ck_assert_int_eq(chmod("out", 0644), 0);
	} else {
		ck_assert_int_eq(chown("out", NOBODY, NOBODY), 0);
		ck_assert_int_eq(chmod("out", 0444), 0);
	}
	hu_snap_take(&s, "out");
	char *argv[] = {(char *)hu_pmerge(), "-o", "out", "a", NULL};
	struct hu_opts o = {.argv = argv, .uid = NOBODY};
	hu_run(&r, &o);
	hu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: out: Permission denied\n");
	hu_snap_expect(&s, "out");
	hu_expect_no_temp(".");
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* A replaced file keeps its extended attributes and its ACL. */
START_TEST(output_keeps_xattrs_and_acl)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;

	tu_write_file("a", "new\n", 4);
	tu_write_file("out", OLD, strlen(OLD));
	sh(&r, "setfattr -n user.origin -v kept out && "
	       "setfacl -m u:65534:rw out");
	hu_expect_exit(&r, 0);
	hu_result_free(&r);
	hu_pm(&r, NULL, "-o", "out", "a", NULL);
	hu_expect_exit(&r, 0);
	tu_expect_file("out", "new\n", 4);
	hu_result_free(&r);
	sh(&r, "getfattr --only-values -n user.origin out; "
	       "getfacl -cpn out | grep '^user:65534:rw-'");
	hu_expect_exit(&r, 0);
	ck_assert_msg(strstr(r.out, "kept"), "user.origin lost: %s", r.out);
	ck_assert_msg(strstr(r.out, "user:65534:rw-"), "ACL lost: %s", r.out);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* ----------------------------------------------------------- leftovers */

/*
 * Any signal whose default action ends the process (not only INT, TERM
 * and HUP) stops the merge the same way: FILE untouched, no temporary file
 * left, the process ended by that signal.
 */
START_TEST(any_stop_signal)
{
	static const int sigs[] = {SIGQUIT, SIGUSR2, SIGALRM,
	                           SIGPIPE, SIGXCPU, SIGVTALRM};
	char *dir = tu_enter_scratch();
	struct hu_result r;
	struct hu_snap s;
	int hold;

	ck_assert_int_eq(mkfifo("p", 0600), 0);
	/* Read-write: never blocks, and holds a writer so it never ends. */
	hold = open("p", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	ck_assert_int_ge(hold, 0);
	hu_make("a", 300000, 1, true);
	tu_write_file("out", OLD, strlen(OLD));
	hu_snap_take(&s, "out");
	char *argv[] = {(char *)hu_pmerge(), "-o", "out", "a", "p", NULL};
	struct hu_opts o = {.argv = argv, .sig = sigs[_i], .sig_after = 0.5};
	hu_run(&r, &o);
	close(hold);
	ck_assert(!r.timed_out);
	ck_assert_int_eq(r.sig, sigs[_i]);
	hu_snap_expect(&s, "out");
	hu_expect_no_temp(".");
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/*
 * kill -9 in the middle of a merge: nothing can clean up, so the
 * temporary output must have no name to leave.  The directory holds
 * exactly what it held before, and FILE is as it was.
 */
/*
 * A process that holds the FIFO at path open for writing, so that reading
 * it never ends, and holds nothing else: a descriptor of the test's own
 * would be in pmerge's process too until its exec.
 */
static pid_t hold_fifo(const char *path)
{
	int ready[2];
	char c;
	pid_t pid;

	ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(path, O_RDWR);
		if (fd < 0 || write(ready[1], "", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(ready[1]);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	close(ready[0]);
	return pid;
}

START_TEST(sigkill_leaves_nothing)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;
	struct hu_snap s;
	pid_t holder;

	ck_assert_int_eq(mkfifo("p", 0600), 0);
	holder = hold_fifo("p");
	hu_make("a", 300000, 1, true);
	if (_i)
		tu_write_file("out", OLD, strlen(OLD));
	hu_snap_take(&s, "out");
	size_t before = tu_count_entries(".");
	/* The output is made before any input is opened: once the FIFO is
	 * open, the temporary output exists and a.bin has gone into it. */
	char *argv[] = {(char *)hu_pmerge(), "-o", "out", "a", "p", NULL};
	struct hu_opts o = {.argv = argv, .sig = SIGKILL, .sig_when_open = "p"};
	hu_run(&r, &o);
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	ck_assert(!r.timed_out);
	ck_assert(r.signalled);
	ck_assert_int_eq(r.sig, SIGKILL);
	hu_snap_expect(&s, "out");
	ck_assert_msg(tu_count_entries(".") == before,
	              "%zu entries after kill -9, want %zu: a file was left",
	              tu_count_entries("."), before);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/*
 * A new -o FILE gets what cat > FILE gives it: the directory's default
 * ACL (and, without one, the umask).  Compared with a file cat made in
 * the same directory.
 */
START_TEST(new_output_default_acl)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;

	tu_write_file("a", "new\n", 4);
	ck_assert_int_eq(mkdir("d", 0755), 0);
	sh(&r, "setfacl -d -m u:65534:rw,g::rx,o::- d");
	hu_expect_exit(&r, 0);
	hu_result_free(&r);
	hu_pm(&r, NULL, "-o", "d/merged", "a", NULL);
	hu_expect_exit(&r, 0);
	hu_result_free(&r);
	sh(&r, "umask 077; cat a > d/by_cat && cd d && "
	       "getfacl -cpn merged > m.acl && getfacl -cpn by_cat > c.acl "
	       "&& cat m.acl && cmp m.acl c.acl");
	hu_expect_exit(&r, 0);
	ck_assert_msg(strstr(r.out, "user:65534:rw-"),
	              "the default ACL was not applied: %s", r.out);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/*
 * Runs pmerge (argv after the program name) under the shim rules in spec,
 * one of them a "stop" rule: when pmerge has stopped itself there, sends
 * sig and then SIGCONT, so that sig arrives at exactly that point.
 * Returns the wait status.
 */
static int signal_at_stop(const char *spec, int sig, char *const *args)
{
	char *const *env = hu_fault_env(spec, NULL);
	char *argv[16] = {(char *)hu_pmerge()};
	int status;
	pid_t pid;

	for (size_t i = 0; args[i] && i < 14; i++)
		argv[i + 1] = args[i];
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		for (size_t i = 0; env[i]; i++)
			putenv(env[i]);
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &status, WUNTRACED), pid);
	ck_assert_msg(WIFSTOPPED(status),
	              "pmerge ended (status %#x) before "
	              "the stop rule fired",
	              status);
	ck_assert_int_eq(kill(pid, sig), 0);
	ck_assert_int_eq(kill(pid, SIGCONT), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

/*
 * A stop signal that arrives while setup has just made the temporary
 * output, before the loop's handlers exist: it is held back until they
 * do, and then stops the merge as any stop signal does -- FILE untouched,
 * nothing left (also of a named temporary file), the process ended by the
 * signal.
 */
START_TEST(signal_before_loop)
{
	static const char *const specs[] = {
	    "open:stop:path=O_TMPFILE:",
	    "open:EOPNOTSUPP:path=O_TMPFILE:;open:stop:path=.pmerge-",
	};
	char *dir = tu_enter_scratch();
	struct hu_snap s;
	pid_t holder;
	int status;

	ck_assert_int_eq(mkfifo("p", 0600), 0);
	holder = hold_fifo("p");
	hu_make("a", 300000, 1, true);
	tu_write_file("out", OLD, strlen(OLD));
	hu_snap_take(&s, "out");
	size_t before = tu_count_entries(".");
	status = signal_at_stop(specs[_i], SIGTERM,
	                        (char *[]){"-o", "out", "a", "p", NULL});
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
	              "status %#x, want death by SIGTERM", status);
	hu_snap_expect(&s, "out");
	ck_assert_uint_eq(tu_count_entries("."), before);
	tu_leave_scratch(dir);
}
END_TEST

/*
 * A stop signal during the commit -- right after the call that puts the
 * new file under FILE's name -- cannot undo it, so it must not make the
 * status say the merge failed: FILE is new, nothing is left, exit 0.
 */
START_TEST(signal_at_commit)
{
	static const struct {
		const char *spec;
		bool exists;
	} t[] = {
	    {"rename:stop", true}, /* the exchange over the old FILE */
	    {"link:stop", false},  /* the link of the unnamed file as FILE */
	    {"open:EOPNOTSUPP:path=O_TMPFILE:;rename:stop", true},
	    {"open:EOPNOTSUPP:path=O_TMPFILE:;rename:stop", false},
	};
	char *dir = tu_enter_scratch();
	size_t len;
	char *want;
	int status;

	hu_make("a", 300000, 1, true);
	if (t[_i].exists)
		tu_write_file("out", OLD, strlen(OLD));
	status = signal_at_stop(t[_i].spec, SIGTERM,
	                        (char *[]){"-o", "out", "a", NULL});
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "status %#x, want exit 0: FILE is already new", status);
	want = tu_cat(&len, "a", NULL);
	tu_expect_file("out", want, len);
	hu_expect_no_temp(".");
	ck_assert_uint_eq(tu_count_entries("."), 2);
	free(want);
	tu_leave_scratch(dir);
}
END_TEST

/* ---------------------------------------------------------- durability */

/*
 * --fsync under the fault shim: the data's fsync or the directory's
 * failing is an output error (exit 1), and FILE is as it was with nothing
 * beside it -- also when the directory fails after the new file went in,
 * which the exchange back (or the removal of a new FILE) undoes.  Then
 * standard output on a regular file, whose fsync is flushed too.
 */
START_TEST(fsync_failure)
{
	static const struct {
		const char *spec;
		bool exists, named;
	} t[] = {
	    /* The data's flush, on the unnamed and on a named file. */
	    {"fsync:EIO:path=O_TMPFILE:", false, false},
	    {"fsync:EIO:path=O_TMPFILE:", true, false},
	    {"fsync:EIO:path=.pmerge-", false, true},
	    {"fsync:EIO:path=.pmerge-", true, true},
	    /* The directory's, the second flush, after the new name. */
	    {"fsync:EIO:after=1", false, false},
	    {"fsync:EIO:after=1", true, false},
	    {"fsync:EIO:after=1", false, true},
	    {"fsync:EIO:after=1", true, true},
	};
	const char *log = "fault.log";
	char *dir = tu_enter_scratch();
	char *spec;
	struct hu_result r;
	struct hu_snap s;

	hu_make("a", 300000, 1, true);
	if (t[_i].exists)
		tu_write_file("out", OLD, strlen(OLD));
	hu_snap_take(&s, "out");
	ck_assert_int_gt(
	    asprintf(&spec, "%s%s",
	             t[_i].named ? "open:EOPNOTSUPP:path=O_TMPFILE:;" : "",
	             t[_i].spec),
	    0);
	struct hu_opts o = {0};
	o.env = hu_fault_env(spec, log);
	hu_pm(&r, &o, "--fsync", "-o", "out", "a", NULL);
	hu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: out: Input/output error\n");
	hu_snap_expect(&s, "out");
	hu_expect_no_temp(".");
	ck_assert_uint_eq(hu_log_count(log, "fsync Input/output error"), 1);
	ck_assert_uint_eq(tu_count_entries("."), t[_i].exists ? 3 : 2);
	hu_result_free(&r);

	/* Without --fsync nothing is flushed: the same rules never fire. */
	unlink(log);
	hu_pm(&r, &o, "-o", "out", "a", NULL);
	hu_expect_exit(&r, 0);
	size_t len;
	char *want = tu_cat(&len, "a", NULL);
	tu_expect_file("out", want, len);
	free(want);
	ck_assert_uint_eq(hu_log_count(log, "fsync"), 0);
	hu_result_free(&r);
	/* And with --fsync where nothing fails, the merge is made. */
	hu_pm(&r, NULL, "--fsync", "-o", "out", "a", NULL);
	hu_expect_exit(&r, 0);
	want = tu_cat(&len, "a", NULL);
	tu_expect_file("out", want, len);
	free(want);
	hu_expect_no_temp(".");
	hu_result_free(&r);
	free(spec);
	tu_leave_scratch(dir);
}
END_TEST

/* --fsync with standard output on a regular file flushes that file. */
START_TEST(fsync_stdout)
{
	const char *log = "fault.log";
	char *dir = tu_enter_scratch();
	struct hu_result r;
	size_t len;
	char *got;

	hu_make("a", 300000, 1, true);
	struct hu_opts o = {.stdout_path = "log"};
	o.env = hu_fault_env("fsync:EIO:fd=1", log);
	hu_pm(&r, &o, "--fsync", "a", NULL);
	hu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: write error: Input/output error\n");
	ck_assert_uint_eq(hu_log_count(log, "fsync Input/output error"), 1);
	hu_result_free(&r);
	/* The data went out all the same, as cat's would. */
	got = tu_read_file("log", &len);
	ck_assert_uint_eq(len, 300000);
	free(got);
	tu_leave_scratch(dir);
}
END_TEST

/* ------------------------------------------- standard output, other names */

enum out_kind { OUT_PIPE, OUT_SOCKET, OUT_TTY, N_OUT_KINDS };
static const char *const out_kinds[] = {"a pipe", "a socket", "a terminal"};

/*
 * Runs pmerge -o name a b with standard output on a fresh object of kind
 * (standard error to the file "err") and returns what came out of it.
 */
static char *run_out_kind(enum out_kind kind, const char *name, int *status,
                          size_t *len)
{
	int fds[2], parent, child;

	if (kind == OUT_PIPE) {
		ck_assert_int_eq(pipe(fds), 0);
		parent = fds[0], child = fds[1];
	} else if (kind == OUT_SOCKET) {
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
		parent = fds[0], child = fds[1];
	} else {
		struct termios tio;
		parent = posix_openpt(O_RDWR | O_NOCTTY);
		ck_assert_int_ge(parent, 0);
		ck_assert_int_eq(grantpt(parent), 0);
		ck_assert_int_eq(unlockpt(parent), 0);
		child = open(ptsname(parent), O_RDWR | O_NOCTTY);
		ck_assert_int_ge(child, 0);
		/* Bytes as written: no \n -> \r\n. */
		ck_assert_int_eq(tcgetattr(child, &tio), 0);
		cfmakeraw(&tio);
		ck_assert_int_eq(tcsetattr(child, TCSANOW, &tio), 0);
	}
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int err = open("err", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (err < 0 || dup2(child, 1) < 0 || dup2(err, 2) < 0)
			_exit(126);
		close(parent);
		execl(hu_pmerge(), "pmerge", "-o", name, "a", "b",
		      (char *)NULL);
		_exit(127);
	}
	close(child);
	char *buf = NULL;
	size_t cap = 0;
	*len = 0;
	for (;;) {
		char chunk[65536];
		ssize_t n = read(parent, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) /* a terminal ends in EIO once the child is gone */
			break;
		tu_append(&buf, len, &cap, chunk, (size_t)n);
	}
	close(parent);
	ck_assert_int_eq(waitpid(pid, status, 0), pid);
	return buf;
}

/*
 * -o naming standard output another way (through a symlink, with "//"
 * or "/./", by /proc/self/fd or /dev/fd) writes standard output as
 * "-o /dev/stdout" does, whatever it is open on: cat > NAME works.
 */
START_TEST(output_names_stdout)
{
	static const char *const names[] = {
	    "so", "//dev/stdout", "/dev/./stdout",  "sp",
	    "sd", "chain",        "devlink/stdout", "/proc/thread-self/fd/1"};
	char *dir = tu_enter_scratch();
	size_t want_len, got_len, err_len;

	hu_make("a", 100000, 1, true);
	hu_make("b", 70000, 2, false);
	char *want = tu_cat(&want_len, "a", "b", NULL);
	ck_assert_int_eq(symlink("/dev/stdout", "so"), 0);
	ck_assert_int_eq(symlink("/proc/self/fd/1", "sp"), 0);
	ck_assert_int_eq(symlink("/dev/fd/1", "sd"), 0);
	ck_assert_int_eq(symlink("so", "chain"), 0);
	ck_assert_int_eq(symlink("/dev", "devlink"), 0);
	tu_write_file("err", "", 0);
	size_t entries = tu_count_entries(".");
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		int status;
		char *got = run_out_kind(_i, names[i], &status, &got_len);
		char *err = tu_read_file("err", &err_len);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		              "-o %s onto %s: status %#x: %s", names[i],
		              out_kinds[_i], status, err);
		tu_expect_bytes(names[i], got, got_len, want, want_len);
		ck_assert_uint_eq(err_len, 0);
		ck_assert_uint_eq(tu_count_entries("."), entries);
		free(got);
		free(err);
	}
	free(want);
	tu_leave_scratch(dir);
}
END_TEST

/* The same for standard error: -o through a symlink to /dev/stderr. */
START_TEST(output_names_stderr)
{
	static const char *const names[] = {"se", "//dev/stderr",
	                                    "/dev/./stderr", "/dev/fd/./2"};
	char *dir = tu_enter_scratch();
	struct hu_result r;
	size_t want_len;

	hu_make("a", 50000, 1, true);
	char *want = tu_cat(&want_len, "a", NULL);
	ck_assert_int_eq(symlink("/dev/stderr", "se"), 0);
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		hu_pm(&r, NULL, "-o", names[i], "a", NULL);
		hu_expect_exit(&r, 0);
		tu_expect_bytes(names[i], r.err, r.err_len, want, want_len);
		ck_assert_uint_eq(r.out_len, 0);
		hu_result_free(&r);
	}
	free(want);
	tu_leave_scratch(dir);
}
END_TEST

/*
 * Standard output on a regular file.  A name that resolves to standard
 * output writes where it stands, as "-o /dev/stdout" does: ">> log"
 * appends to log instead of replacing it.  A name of the file itself is
 * a file to replace, also when standard output is open on it:
 * "-o f > f" makes a new f.
 */
START_TEST(output_names_regular)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;
	struct stat before, after;
	size_t len;

	hu_make("a", 80000, 1, true);
	ck_assert_int_eq(symlink("/dev/stdout", "so"), 0);
	tu_write_file("log", OLD, strlen(OLD));
	sh(&r, "\"$PMERGE\" -o so a >> log && \"$PMERGE\" -o //dev/stdout a "
	       ">> log");
	hu_expect_exit(&r, 0);
	hu_result_free(&r);
	char *a = tu_cat(&len, "a", NULL);
	char *got = tu_read_file("log", &len);
	ck_assert_uint_eq(len, strlen(OLD) + 160000);
	ck_assert_mem_eq(got, OLD, strlen(OLD));
	tu_expect_bytes("first", got + strlen(OLD), 80000, a, 80000);
	tu_expect_bytes("second", got + strlen(OLD) + 80000, 80000, a, 80000);
	free(got);

	tu_write_file("f", OLD, strlen(OLD));
	ck_assert_int_eq(stat("f", &before), 0);
	sh(&r, "\"$PMERGE\" -o f a > f");
	hu_expect_exit(&r, 0);
	hu_result_free(&r);
	ck_assert_int_eq(stat("f", &after), 0);
	ck_assert_msg(after.st_ino != before.st_ino, "f was not replaced");
	tu_expect_file("f", a, 80000);
	hu_expect_no_temp(".");
	free(a);
	tu_leave_scratch(dir);
}
END_TEST

/* ------------------------------------------------ --stats-file, same file */

/*
 * --stats-file naming the file standard error or output is open on: the
 * statistics go through that descriptor, after what is there, and nothing
 * is truncated.  Each command writes log, which starts with OLD when
 * append says so, then has a's bytes, then the statistics.
 */
static const struct {
	const char *cmd;
	bool append;
} same_file[] = {
    {"\"$PMERGE\" --stats-file=/dev/stderr a > log 2>&1", false},
    {"\"$PMERGE\" --stats-file=log a > log 2>&1", false},
    {"\"$PMERGE\" --stats-file=log a >> log 2>&1", true},
    {"\"$PMERGE\" --stats-file=./log a >> log", true},
    {"\"$PMERGE\" --stats-file=/dev/stdout a > log", false},
    {"\"$PMERGE\" --stats-file=/proc/self/fd/2 -o /dev/stderr a 2>> log", true},
};

START_TEST(stats_file_same_file)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;
	size_t len, a_len, old = same_file[_i].append ? strlen(OLD) : 0;

	hu_make("a", 200000, 1, true);
	char *a = tu_cat(&a_len, "a", NULL);
	tu_write_file("log", OLD, strlen(OLD));
	sh(&r, "%s", same_file[_i].cmd);
	hu_expect_exit(&r, 0);
	hu_result_free(&r);
	char *got = tu_read_file("log", &len);
	ck_assert_msg(len > old + a_len, "%s: log has %zu bytes",
	              same_file[_i].cmd, len);
	ck_assert_mem_eq(got, OLD, old);
	tu_expect_bytes(same_file[_i].cmd, got + old, a_len, a, a_len);
	const char *stats = "pmerge: 1 inputs (0 failed), ";
	ck_assert_msg(len - old - a_len > strlen(stats) &&
	                  memcmp(got + old + a_len, stats, strlen(stats)) == 0,
	              "%s: no statistics after the data", same_file[_i].cmd);
	ck_assert_int_eq(got[len - 1], '\n');
	free(got);
	free(a);
	tu_leave_scratch(dir);
}
END_TEST

/*
 * --stats-file naming the -o FILE, an input or the --files0-from list is
 * refused before anything is read or written (bad usage), since writing
 * the statistics would destroy that file.
 */
static const struct {
	const char *cmd, *err, *kept;
} stats_refused[] = {
    {"\"$PMERGE\" --stats-file=out -o out a",
     "pmerge: --stats-file 'out' is the output file\n", "out"},
    {"\"$PMERGE\" --stats-file=./new -o new a",
     "pmerge: --stats-file './new' is the output file ('new')\n", NULL},
    {"\"$PMERGE\" --stats-file=a a", "pmerge: --stats-file 'a' is an input\n",
     "a"},
    {"\"$PMERGE\" --stats-file=la -o out b a",
     "pmerge: --stats-file 'la' is an input ('a')\n", "a"},
    {"\"$PMERGE\" --stats-file=list --files0-from=list",
     "pmerge: --stats-file 'list' is the --files0-from list\n", "list"},
    {"\"$PMERGE\" --stats-file=x - < x",
     "pmerge: --stats-file 'x' is an input ('-')\n", "x"},
};

START_TEST(stats_file_refused)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;
	struct hu_snap snap;

	hu_make("a", 10000, 1, true);
	hu_make("b", 10000, 2, true);
	tu_write_file("out", OLD, strlen(OLD));
	tu_write_file("x", OLD, strlen(OLD));
	tu_write_file("list", "a\0b\0", 4);
	ck_assert_int_eq(symlink("a", "la"), 0);
	if (stats_refused[_i].kept)
		hu_snap_take(&snap, stats_refused[_i].kept);
	sh(&r, "%s", stats_refused[_i].cmd);
	hu_expect_exit(&r, 2);
	ck_assert_uint_eq(r.out_len, 0);
	char *want;
	ck_assert_int_ge(asprintf(&want,
	                          "%sTry 'pmerge --help' for more "
	                          "information.\n",
	                          stats_refused[_i].err),
	                 0);
	tu_expect_err(&r, want);
	free(want);
	hu_result_free(&r);
	if (stats_refused[_i].kept)
		hu_snap_expect(&snap, stats_refused[_i].kept);
	ck_assert(!tu_exists("new"));
	hu_expect_no_temp(".");
	tu_leave_scratch(dir);
}
END_TEST

/* ---------------------------------------------------------------- --bench */

/*
 * --bench without -o, killed by SIGKILL while a run writes its output in
 * $TMPDIR, leaves nothing there: the output is unnamed from the start
 * (O_TMPFILE, or, from the shim, a file unlinked as soon as it is made).
 */
START_TEST(bench_sigkill_leaves_nothing)
{
	char *dir = tu_enter_scratch();
	char tmp[PATH_MAX], *env_tmp;

	hu_make("a", 4 << 20, 1, true);
	ck_assert_int_eq(mkdir("tmp", 0700), 0);
	ck_assert_ptr_nonnull(realpath("tmp", tmp));
	ck_assert_int_ge(asprintf(&env_tmp, "TMPDIR=%s", tmp), 0);
	char *const *fault =
	    _i ? hu_fault_env("open:EOPNOTSUPP:path=O_TMPFILE:", NULL) : NULL;
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 1);
		dup2(null, 2);
		putenv(env_tmp);
		for (size_t i = 0; fault && fault[i]; i++)
			putenv(fault[i]);
		execl(hu_pmerge(), "pmerge", "--bench=100000", "a",
		      (char *)NULL);
		_exit(127);
	}
	double start = tu_now_s();
	while (!tu_has_fd_in(pid, tmp) && tu_now_s() - start < HU_TIMEOUT)
		tu_sleep_s(0.002);
	ck_assert_msg(tu_has_fd_in(pid, tmp), "no output in $TMPDIR");
	tu_sleep_s(0.05);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	ck_assert_msg(tu_count_entries("tmp") == 0,
	              "kill -9 left %zu files in $TMPDIR",
	              tu_count_entries("tmp"));
	free(env_tmp);
	tu_leave_scratch(dir);
}
END_TEST

/* --bench's set-up failures say what failed, with the name. */
static const struct {
	const char *tmpdir, *fault, *err;
} bench_fail[] = {
    {"missing", NULL,
     "pmerge: --bench: cannot create the temporary output in 'missing': "
     "No such file or directory\n"},
    {"a", NULL,
     "pmerge: --bench: cannot create the temporary output in 'a': Not a "
     "directory\n"},
    {".", "open:EOPNOTSUPP:path=O_TMPFILE:;mkostemp:EROFS",
     "pmerge: --bench: cannot create the temporary output in '.': "
     "Read-only file system\n"},
    {".", "open:EIO:path=/proc/self/fd/",
     "pmerge: --bench: cannot read back the temporary output: "
     "Input/output error\n"},
};

START_TEST(bench_setup_failures)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;
	char *env[8] = {NULL}, *tmpdir;
	size_t n = 0;

	hu_make("a", 10000, 1, true);
	ck_assert_int_ge(asprintf(&tmpdir, "TMPDIR=%s", bench_fail[_i].tmpdir),
	                 0);
	env[n++] = tmpdir;
	if (bench_fail[_i].fault) {
		char *const *fault = hu_fault_env(bench_fail[_i].fault, NULL);
		for (size_t i = 0; fault[i] && n < 7; i++)
			env[n++] = fault[i];
	}
	struct hu_opts o = {.env = env};
	hu_pm(&r, &o, "--bench=1", "a", NULL);
	hu_expect_exit(&r, 1);
	tu_expect_err(&r, bench_fail[_i].err);
	hu_result_free(&r);
	ck_assert_uint_eq(tu_count_entries("."), 1);
	free(tmpdir);
	tu_leave_scratch(dir);
}
END_TEST

/* --------------------------------------------------------------- suite */

static Suite *rel_suite(void)
{
	Suite *s = suite_create("rel");
	TCase *t = tcase_create("data");

	tcase_set_timeout(t, 120);
	tcase_add_loop_test(t, stdout_stderr_one_file, 0, 2);
	tcase_add_loop_test(t, stdout_stderr_progress_status, 0, 2);
	tcase_add_loop_test(t, output_read_back, 0, N_IN_IS_OUT);
	tcase_add_loop_test(t, fifo_twice, 0, 4);
	tcase_add_loop_test(t, files0_all_or_nothing, 0, 6);
	tcase_add_loop_test(t, replace_fails_before_copying, 0, 3);
	suite_add_tcase(s, t);
	t = tcase_create("values");
	tcase_add_loop_test(t, buffer_size_grammar, 0, 18);
	tcase_add_loop_test(t, lock_lists, 0, 6);
	tcase_add_test(t, value_abbreviations);
	tcase_add_test(t, stats_output);
	tcase_add_test(t, nonblocking_regular_input);
	tcase_add_test(t, nonblocking_regular_input_in_run);
	suite_add_tcase(s, t);
	t = tcase_create("leftovers");
	tcase_add_loop_test(t, any_stop_signal, 0, 6);
	tcase_add_loop_test(t, sigkill_leaves_nothing, 0, 2);
	tcase_add_loop_test(t, signal_before_loop, 0, 2);
	tcase_add_loop_test(t, signal_at_commit, 0, 4);
	tcase_add_loop_test(t, bench_sigkill_leaves_nothing, 0, 2);
	tcase_add_loop_test(t, bench_setup_failures, 0,
	                    sizeof(bench_fail) / sizeof(*bench_fail));
	suite_add_tcase(s, t);
	t = tcase_create("names");
	tcase_add_loop_test(t, output_names_stdout, 0, N_OUT_KINDS);
	tcase_add_test(t, output_names_stderr);
	tcase_add_test(t, output_names_regular);
	tcase_add_loop_test(t, stats_file_same_file, 0,
	                    sizeof(same_file) / sizeof(*same_file));
	tcase_add_loop_test(t, stats_file_refused, 0,
	                    sizeof(stats_refused) / sizeof(*stats_refused));
	suite_add_tcase(s, t);
	t = tcase_create("durability");
	tcase_add_loop_test(t, fsync_failure, 0, 8);
	tcase_add_test(t, fsync_stdout);
	suite_add_tcase(s, t);
	return s;
}

/* Needs setfacl and a file system with POSIX ACLs. */
static Suite *acl_suite(void)
{
	Suite *s = suite_create("rel-acl");
	TCase *t = tcase_create("acl");

	tcase_add_test(t, new_output_default_acl);
	suite_add_tcase(s, t);
	return s;
}

/* Whether setfacl can give a directory here a default ACL. */
static bool acl_possible(void)
{
	char dir[] = "rel-probe.XXXXXX", *cmd;
	bool ok;

	if (!mkdtemp(dir))
		return false;
	if (asprintf(&cmd, "setfacl -d -m u:65534:rw %s 2>/dev/null", dir) < 0)
		return false;
	ok = system(cmd) == 0;
	free(cmd);
	if (asprintf(&cmd, "rm -rf %s", dir) >= 0) {
		(void)!system(cmd);
		free(cmd);
	}
	return ok;
}

/* Needs root (to become another user) and a file system with xattrs. */
static Suite *perm_suite(void)
{
	Suite *s = suite_create("rel-perm");
	TCase *t = tcase_create("perm");

	tcase_add_loop_test(t, output_not_writable, 0, 2);
	tcase_add_test(t, output_keeps_xattrs_and_acl);
	suite_add_tcase(s, t);
	return s;
}

/* Whether the perm group can run here: root, setfacl, user xattrs (no
 * Check assertion may run outside a test). */
static bool perm_possible(void)
{
	char dir[] = "rel-probe.XXXXXX", *cmd;
	bool ok;

	if (geteuid() != 0 || !mkdtemp(dir))
		return false;
	if (asprintf(&cmd,
	             "cd %s && : > probe && setfattr -n user.probe -v 1 probe "
	             "&& setfacl -m u:65534:r probe",
	             dir) < 0)
		return false;
	ok = system(cmd) == 0;
	free(cmd);
	if (asprintf(&cmd, "rm -rf %s", dir) >= 0) {
		(void)!system(cmd);
		free(cmd);
	}
	return ok;
}

int main(int argc, char **argv)
{
	bool perm = argc > 1 && strcmp(argv[1], "perm") == 0;
	bool acl = argc > 1 && strcmp(argv[1], "acl") == 0;
	SRunner *sr;
	int failed;

	hu_init();
	if (perm && !perm_possible()) {
		fprintf(stderr, "test_rel: perm: needs root, setfacl and user "
		                "xattrs here: skipped\n");
		return 77;
	}
	if (acl && !acl_possible()) {
		fprintf(stderr, "test_rel: acl: needs setfacl and ACLs here: "
		                "skipped\n");
		return 77;
	}
	sr = srunner_create(perm  ? perm_suite()
	                    : acl ? acl_suite()
	                          : rel_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
