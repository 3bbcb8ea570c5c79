/*
 * Reliability at start-up: what pmerge must make of the values it is
 * given and of the process it finds itself in before the merge begins.
 * Lock names abbreviated as GNU argmatch allows; names in messages quoted
 * as GNU tools quote them, whole however long; with -o, an input that
 * exists but may not be read is found before anything is copied.
 *
 * Each test runs in its own forked process and scratch directory.
 */
#include "hardutil.h"
#include "tutil.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------ option values */

/* --lock takes any prefix that names one strategy, in a list too, and
 * keeps sem:N's parameter; an ambiguous prefix names its candidates. */
START_TEST(lock_abbreviations)
{
	static const struct {
		const char *arg, *used; /* used: what --stats=json reports */
	} ok[] = {
	    {"mut", "mutex"},  {"rl", "rlock"},    {"se:1", "sem:1"},
	    {"spi", "spin"},   {"t", "ticket"},    {"mc", "mcs"},
	    {"a", "adaptive"}, {"mutex", "mutex"},
	};
	static const struct {
		const char *arg, *err;
	} bad[] = {
	    {"m", "pmerge: ambiguous lock strategy 'm' (could be: mutex, "
	          "mcs)\n"},
	    {"s", "pmerge: ambiguous lock strategy 's' (could be: sem:N, "
	          "spin)\n"},
	    {"se", "pmerge: invalid lock strategy 'se' (valid: "},
	    {"se:0", "pmerge: invalid lock strategy 'se:0' (valid: "},
	    {"mutexx", "pmerge: invalid lock strategy 'mutexx' (valid: "},
	    {"x:mutex", "pmerge: invalid lock strategy 'x:mutex' (valid: "},
	};
	char *dir = tu_enter_scratch();
	struct hu_result r;
	char want[64], arg[64];

	tu_write_file("a", "x\n", 2);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(arg, sizeof(arg), "--lock=%s", ok[i].arg);
		hu_pm(&r, NULL, arg, "--stats=json", "a", NULL);
		hu_expect_exit(&r, 0);
		tu_expect_bytes(arg, r.out, r.out_len, "x\n", 2);
		snprintf(want, sizeof(want), "\"lock\": \"%s\"", ok[i].used);
		ck_assert_msg(strstr(r.err, want), "%s: %s", arg, r.err);
		hu_result_free(&r);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(arg, sizeof(arg), "--lock=%s", bad[i].arg);
		hu_pm(&r, NULL, arg, "a", NULL);
		hu_expect_exit(&r, 2);
		ck_assert_msg(strncmp(r.err, bad[i].err, strlen(bad[i].err)) ==
		                  0,
		              "%s: %s", arg, r.err);
		ck_assert_int_eq(r.out_len, 0);
		hu_result_free(&r);
	}
	/* In a --bench list: abbreviations name strategies, and a strategy
	 * named twice (once abbreviated) is still refused. */
	hu_pm(&r, NULL, "--bench=1", "--lock=mu,se:2,ti", "a", NULL);
	hu_expect_exit(&r, 0);
	ck_assert_msg(strstr(r.out, "\nmutex ") && strstr(r.out, "\nsem:2 ") &&
	                  strstr(r.out, "\nticket "),
	              "%s", r.out);
	hu_result_free(&r);
	hu_pm(&r, NULL, "--bench=1", "--lock=mutex,mut", "a", NULL);
	hu_expect_exit(&r, 2);
	ck_assert_msg(strstr(r.err, "lock strategy 'mutex' is listed twice"),
	              "%s", r.err);
	hu_result_free(&r);
	hu_pm(&r, NULL, "--bench=1", "--lock=mutex,s", "a", NULL);
	hu_expect_exit(&r, 2);
	ck_assert_msg(strstr(r.err, "ambiguous lock strategy 's'"), "%s",
	              r.err);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* ------------------------------------------------------ names in messages */

/* No byte of a name reaches the terminal raw: an input, the -o file, a
 * --files0-from list and its entries are all shown shell-escaped. */
START_TEST(control_characters_quoted)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;

	tu_write_file("a", "x\n", 2);
	hu_pm(&r, NULL, "x\033[31my", "a", NULL);
	hu_expect_exit(&r, 1);
	tu_expect_bytes("output", r.out, r.out_len, "x\n", 2);
	tu_expect_text("stderr", r.err, r.err_len,
	               "pmerge: 'x'$'\\033''[31my': No such file or "
	               "directory\n");
	hu_result_free(&r);
	hu_pm(&r, NULL, "-o", "d\r/o", "a", NULL);
	hu_expect_exit(&r, 1);
	tu_expect_text("stderr", r.err, r.err_len,
	               "pmerge: 'd'$'\\r''/o': No such file or directory\n");
	hu_result_free(&r);
	tu_write_file("l\033", "a\0\0b\nc\0", 7);
	hu_pm(&r, NULL, "--files0-from=l\033", NULL);
	hu_expect_exit(&r, 1);
	tu_expect_text("stderr", r.err, r.err_len,
	               "pmerge: 'l'$'\\033':2: invalid zero-length file name\n"
	               "pmerge: 'b'$'\\n''c': No such file or directory\n");
	hu_result_free(&r);
	hu_pm(&r, NULL, "--files0-from=n\033", NULL);
	hu_expect_exit(&r, 1);
	tu_expect_text("stderr", r.err, r.err_len,
	               "pmerge: cannot open 'n'$'\\033' for reading: No such "
	               "file or directory\n");
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/*
 * An option value with control characters is quoted in its usage error
 * as names are ('x'$'\033''[31my'), never written raw: each option that
 * names a bad value, with a value that starts, holds or ends with one.
 */
static const char *const bad_values[] = {
    "--lock=%s",
    "--lock=mutex,%s",
    "-B%s",
    "--since=%s",
    "--until=%s",
    "-j%s",
    "--bench=%s",
    "--bench-jobs=%s",
    "--progress=%s",
    "--stats=%s",
    "--unit=%s",
    "--order=%s",
    "--color=%s",
    "-k%s",
    "-t%s",
    "--tail=%s",
    "--poll-interval=%s",
    "-Z%s",

};
static const char *const raw_values[] = {"\033[31m", "x\033[31my", "7\r"};
static const char *const quoted_values[] = {"''$'\\033''[31m'",
                                            "'x'$'\\033''[31my'", "'7'$'\\r'"};

START_TEST(option_values_quoted)
{
	struct hu_result r;

	for (size_t v = 0; v < sizeof(raw_values) / sizeof(*raw_values); v++) {
		char *arg;
		ck_assert_int_ge(asprintf(&arg, bad_values[_i], raw_values[v]),
		                 0);
		hu_pm(&r, NULL, arg, "/dev/null", NULL);
		hu_expect_exit(&r, 2);
		ck_assert_msg(!memchr(r.err, '\033', r.err_len) &&
		                  !memchr(r.err, '\r', r.err_len),
		              "%s: a control character reached stderr: %s",
		              bad_values[_i], r.err);
		ck_assert_msg(strstr(r.err, quoted_values[v]),
		              "%s: %s is not in %s", bad_values[_i],
		              quoted_values[v], r.err);
		ck_assert_msg(strncmp(r.err, "pmerge: ", 8) == 0 &&
		                  strstr(r.err, "Try 'pmerge --help'"),
		              "%s: %s", bad_values[_i], r.err);
		hu_result_free(&r);
		free(arg);
	}
}
END_TEST

/* A name of any length is shown whole, and the reason after it. */
START_TEST(long_name_keeps_reason)
{
	static const size_t lens[] = {900, 5000, 70000};
	char *dir = tu_enter_scratch();
	struct hu_result r;
	size_t len = lens[_i];
	char *name = malloc(len + 1), *want;

	/* Escape bytes among the letters: the quoted form is longer still. */
	for (size_t i = 0; i < len; i++)
		name[i] = i % 7 == 3 ? '\033' : 'n';
	name[len] = '\0';
	hu_pm(&r, NULL, name, NULL);
	hu_expect_exit(&r, 1);
	ck_assert_int_gt(asprintf(&want, ": %s\n", strerror(ENAMETOOLONG)), 0);
	ck_assert_msg(r.err_len > len &&
	                  strncmp(r.err, "pmerge: 'n", 10) == 0 &&
	                  strcmp(r.err + r.err_len - strlen(want), want) == 0,
	              "the reason is cut off: ...%s",
	              r.err + (r.err_len > 80 ? r.err_len - 80 : 0));
	ck_assert_msg(!memchr(r.err, '\033', r.err_len), "a raw escape");
	ck_assert_msg(strchr(r.err, '\n') == r.err + r.err_len - 1, "one line");
	free(want);
	free(name);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* ------------------------------------------------------ inputs, as a user */

#define NOBODY 65534
#define OLD    "old contents\n"

/*
 * With -o (all or nothing), an input that exists but may not be read is
 * found before copying, as a missing one is: the FIFO first in the list
 * has no writer, so a merge that began copying would wait on it.  As root
 * the merge runs as nobody, for whom mode 000 means something.
 */
START_TEST(unreadable_found_before_copying)
{
	char *dir = tu_enter_scratch();
	struct hu_opts o = {.uid = geteuid() == 0 ? NOBODY : 0, .timeout = 10};
	struct hu_result r;
	struct hu_snap s;

	ck_assert_int_eq(chmod(".", 0777), 0);
	ck_assert_int_eq(mkfifo("p", 0666), 0);
	hu_make("a", 1000, 1, true);
	if (_i == 0) {
		tu_write_file("bad", "secret\n", 7);
		ck_assert_int_eq(chmod("bad", 0), 0);
	} else {
		ck_assert_int_eq(mkfifo("bad", 0200), 0);
	}
	tu_write_file("out", OLD, strlen(OLD));
	if (o.uid)
		ck_assert_int_eq(chown("out", o.uid, o.uid), 0);
	hu_snap_take(&s, "out");
	hu_pm(&r, &o, "-o", "out", "p", "a", "bad", NULL);
	ck_assert_msg(!r.timed_out, "pmerge waited on the FIFO");
	hu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: bad: Permission denied\n");
	hu_snap_expect(&s, "out");
	hu_expect_no_temp(".");
	hu_result_free(&r);
	/* To standard output, as cat: the others are merged, then exit 1. */
	if (_i == 0) {
		hu_pm(&r, &o, "a", "bad", "a", NULL);
		hu_expect_exit(&r, 1);
		ck_assert_uint_eq(r.out_len, 2000);
		tu_expect_err(&r, "pmerge: bad: Permission denied\n");
		hu_result_free(&r);
	}
	tu_leave_scratch(dir);
}
END_TEST

/* ------------------------------------------------------ descriptor limits */

/* Every line of err is "pmerge: WHAT: reason": what failed is named. */
static void expect_context(const char *err, const char *what)
{
	for (const char *p = err; *p;) {
		const char *nl = strchr(p, '\n');
		const char *sep = strstr(p, ": ");

		ck_assert_msg(nl && strncmp(p, "pmerge: ", 8) == 0 && sep &&
		                  sep < nl && strstr(sep + 2, ": ") &&
		                  strstr(sep + 2, ": ") < nl,
		              "%s: a message without context: %s", what, err);
		p = nl + 1;
	}
}

/*
 * Under ulimit -n N for N = 3..20, in every mode: never a death by a
 * signal and never silence; either the right output, or exit 1 with
 * messages that name what failed, and no temporary file.  At the lowest
 * limits the dynamic loader itself cannot open the libraries (exit 127,
 * its own message), before any of pmerge runs.
 */
START_TEST(low_descriptor_limits)
{
	static const char *const modes[][4] = {
	    {"a", "b", NULL},         {"-u", "line", "a", NULL},
	    {"-o", "out", "a", NULL}, {"-m", "a", "b", NULL},
	    {"-d", "a", "b", NULL},   {"-u", "line", "-", "a"},
	    {"-j8", "a", "b", "a"},
	};
	char *dir = tu_enter_scratch();
	long n = 3 + _i;

	tu_write_file("a", "1\n3\n", 4);
	tu_write_file("b", "2\n4\n", 4);
	for (size_t k = 0; k < sizeof(modes) / sizeof(modes[0]); k++) {
		const char *const *a = modes[k];
		bool out = strcmp(a[0], "-o") == 0, line = a[0][1] == 'u';
		struct hu_opts o = {
		    .nofile = n, .stdin_data = "s\n", .stdin_len = 2};
		struct hu_result r;
		char what[64];

		tu_write_file("out", OLD, strlen(OLD));
		snprintf(what, sizeof(what), "ulimit -n %ld, mode %zu", n, k);
		hu_pm(&r, &o, a[0], a[1], a[2], a[3], NULL);
		ck_assert_msg(!r.timed_out, "%s: hung", what);
		ck_assert_msg(r.sig == 0, "%s: killed by signal %d", what,
		              r.sig);
		hu_expect_no_temp(".");
		if (r.status == 127) {
			ck_assert_msg(strstr(r.err,
			                     "error while loading shared "
			                     "libraries"),
			              "%s: %s", what, r.err);
		} else if (r.status == 0) {
			const char *want = out      ? ""
			                   : k == 0 ? "1\n3\n2\n4\n"
			                   : k == 3 ? "1\n2\n3\n4\n"
			                   : k == 4 ? "1\n3\n2\n4\n"
			                   : k == 6 ? "1\n3\n2\n4\n1\n3\n"
			                            : NULL;
			if (out) {
				tu_expect_file("out", "1\n3\n", 4);
			} else if (want) {
				tu_expect_bytes(what, r.out, r.out_len, want,
				                strlen(want));
			} else {
				/* Line mode, arrival order: the same lines. */
				ck_assert_msg(line && r.out_len ==
				                          (k == 5 ? 6u : 4u),
				              "%s: %s", what, r.out);
			}
		} else {
			ck_assert_msg(r.status == 1, "%s: exit %d: %s", what,
			              r.status, r.err);
			ck_assert_msg(r.err_len > 0, "%s: exit 1, no message",
			              what);
			expect_context(r.err, what);
			if (out)
				tu_expect_file("out", OLD, strlen(OLD));
		}
		hu_result_free(&r);
	}
	tu_leave_scratch(dir);
}
END_TEST

/* ------------------------------------------------------ threads */

/*
 * When threads cannot be created (the fault shim's pthread_create fails
 * with EAGAIN after the first ones), the merge runs with those it has and
 * says so; without the least it needs, it names the thread that failed.
 */
START_TEST(thread_creation_fails)
{
	char *dir = tu_enter_scratch();
	struct hu_opts o = {0};
	struct hu_result r;
	struct hu_snap s;
	size_t len;
	char *want;

	hu_make("a", 300000, 1, true);
	hu_make("b", 200000, 2, true);
	want = tu_cat(&len, "a", "b", "a", "b", NULL);
	o.env = hu_fault_env("pthread_create:EAGAIN:after=2", NULL);
	hu_pm(&r, &o, "-j4", "a", "b", "a", "b", NULL);
	hu_expect_exit(&r, 0);
	tu_expect_bytes("output", r.out, r.out_len, want, len);
	tu_expect_err(&r, "pmerge: note: running 2 of 4 workers: cannot "
	                  "create more threads: Resource temporarily "
	                  "unavailable\n");
	hu_result_free(&r);
	hu_pm(&r, &o, "-q", "-j4", "a", "b", "a", "b", NULL);
	hu_expect_exit(&r, 0);
	tu_expect_bytes("output", r.out, r.out_len, want, len);
	tu_expect_err(&r, "");
	hu_result_free(&r);
	/* None at all: nothing merged, the -o file as it was. */
	tu_write_file("out", OLD, strlen(OLD));
	hu_snap_take(&s, "out");
	o.env = hu_fault_env("pthread_create:EAGAIN", NULL);
	hu_pm(&r, &o, "-o", "out", "a", "b", NULL);
	hu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: cannot create worker thread 1 of 2: "
	                  "Resource temporarily unavailable\n");
	hu_snap_expect(&s, "out");
	hu_expect_no_temp(".");
	hu_result_free(&r);
	/* -m cannot do without its merger and writer threads. */
	o.env = hu_fault_env("pthread_create:EAGAIN:after=1", NULL);
	hu_pm(&r, &o, "-m", "-j4", "a", "b", NULL);
	hu_expect_exit(&r, 1);
	ck_assert_msg(
	    strstr(r.err, "pmerge: cannot create worker thread 2 of "), "%s",
	    r.err);
	hu_result_free(&r);
	/* Nor without a reader: the merger and the writer, started, stop
	 * however far they got (a writer left waiting for a merger that saw
	 * the cancel first was a hang). */
	o.env = hu_fault_env("pthread_create:EAGAIN:after=2", NULL);
	for (int i = 0; i < 500; i++) {
		hu_pm(&r, &o, "-m", "-j4", "a", "b", NULL);
		hu_expect_exit(&r, 1);
		ck_assert_msg(
		    strstr(r.err, "pmerge: cannot create worker thread 3 of "),
		    "%s", r.err);
		hu_result_free(&r);
	}
	free(want);
	tu_leave_scratch(dir);
}
END_TEST

/* ------------------------------------------------------- out of memory */

/* The address-space limit (KiB) of the memory cases: room for pmerge and
 * its threads, not for a 256 MiB buffer or zstd's level 19. */
#define MEM_LIMIT "200000"

/*
 * Out of memory (ulimit -v): the message says what could not be
 * allocated, the status is 1, pmerge does not crash, the -o FILE is as it
 * was and nothing is left.  The same merge with what fits works.
 */
static const struct {
	const char *args, *err;
	bool to_file;
} oom[] = {
    {"-B 256M a",
     "pmerge: cannot allocate the copy buffers (256 MiB each): "
     "Cannot allocate memory\n",
     false},
    {"-B 256M -o out a",
     "pmerge: cannot allocate the copy buffers (256 MiB each): Cannot "
     "allocate memory\n",
     true},
    {"-u line -j 4 -B 512M -o out a b",
     "pmerge: cannot allocate the copy buffers (512 MiB each): Cannot "
     "allocate memory\n",
     true},
    {"-Z zstd:19 -o out a b",
     "pmerge: cannot allocate the compressor's memory: Cannot allocate "
     "memory\n",
     true},
    {"-Z zstd:19 a b",
     "pmerge: cannot allocate the compressor's memory: "
     "Cannot allocate memory\n",
     false},
};

START_TEST(out_of_memory)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;
	struct hu_snap snap;
	char *cmd;

	hu_make("a", 300000, 1, true);
	hu_make("b", 200000, 2, true);
	tu_write_file("out", "old\n", 4);
	hu_snap_take(&snap, "out");
	ck_assert_int_ge(
	    asprintf(&cmd, "ulimit -v " MEM_LIMIT " && exec \"$PMERGE\" %s",
	             oom[_i].args),
	    0);
	char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	struct hu_opts o = {.argv = argv};
	hu_run(&r, &o);
	hu_expect_exit(&r, 1);
	tu_expect_err(&r, oom[_i].err);
	if (!oom[_i].to_file)
		ck_assert_uint_eq(r.out_len, 0);
	hu_result_free(&r);
	hu_snap_expect(&snap, "out");
	hu_expect_no_temp(".");
	ck_assert_uint_eq(tu_count_entries("."), 3);
	free(cmd);

	/* Under the same limit, what fits is merged. */
	size_t len;
	char *want = tu_cat(&len, "a", "b", NULL);
	char *ok_argv[] = {
	    "/bin/sh", "-c",
	    "ulimit -v " MEM_LIMIT " && exec \"$PMERGE\" -o fits a b", NULL};
	o.argv = ok_argv;
	hu_run(&r, &o);
	hu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_file("fits", want, len);
	hu_result_free(&r);
	free(want);
	tu_leave_scratch(dir);
}
END_TEST

/*
 * The sorted merge under address-space limits from where threads cannot
 * be made to where it fits: a merge either succeeds with sort -m's output
 * (perhaps with a note of fewer threads) or fails with status 1 saying
 * what could not be allocated; never a bare
 * "Cannot allocate memory".  Some limit must reach the read-ahead (each
 * reader thread's first allocation needs an arena of its own).
 */
START_TEST(sorted_out_of_memory)
{
	char *dir = tu_enter_scratch();
	bool read_ahead = false;

	ck_assert_int_eq(system("seq 1 200000 | LC_ALL=C sort > s1 && "
	                        "cp s1 s2 && LC_ALL=C sort -m -s s1 s2 > want"),
	                 0);
	size_t want_len;
	char *want = tu_read_file("want", &want_len);
	for (unsigned kib = 30000; kib <= 70000; kib += 5000) {
		char *cmd;
		struct hu_result r;
		ck_assert_int_ge(asprintf(&cmd,
		                          "ulimit -v %u && exec \"$PMERGE\" -m "
		                          "s1 s2",
		                          kib),
		                 0);
		char *argv[] = {"/bin/sh", "-c", cmd, NULL};
		struct hu_opts o = {.argv = argv};
		hu_run(&r, &o);
		if (r.status == 0) {
			/* Fewer threads than asked for is a note, not a
			 * failure. */
			for (char *line = r.err; *line;) {
				char *nl = strchr(line, '\n');
				ck_assert_msg(
				    nl && strncmp(line, "pmerge: note: ", 14) ==
				              0,
				    "under ulimit -v %u: '%s'", kib, line);
				line = nl + 1;
			}
			ck_assert_uint_eq(r.out_len, want_len);
			ck_assert(memcmp(r.out, want, want_len) == 0);
		} else {
			hu_expect_exit(&r, 1);
			for (char *line = r.err; *line;) {
				char *nl = strchr(line, '\n');
				ck_assert_msg(nl, "unterminated message '%s'",
				              line);
				*nl = '\0';
				ck_assert_msg(
				    strstr(line, "pmerge: s1: Cannot") !=
				            line &&
				        strstr(line, "pmerge: s2: Cannot") !=
				            line &&
				        strcmp(line, "pmerge: Cannot allocate "
				                     "memory") != 0,
				    "under ulimit -v %u: a bare reason: '%s'",
				    kib, line);
				if (strcmp(line,
				           "pmerge: s1: cannot allocate its "
				           "read-ahead: Cannot allocate "
				           "memory") == 0 ||
				    strcmp(line,
				           "pmerge: s2: cannot allocate its "
				           "read-ahead: Cannot allocate "
				           "memory") == 0)
					read_ahead = true;
				line = nl + 1;
			}
		}
		hu_result_free(&r);
		free(cmd);
	}
	ck_assert_msg(read_ahead, "no limit made the read-ahead fail");
	free(want);
	tu_leave_scratch(dir);
}
END_TEST

/* Needs a pmerge that starts under ulimit -v (not a sanitizer build,
 * whose shadow memory alone is larger). */
static Suite *memory_suite(void)
{
	Suite *s = suite_create("rel-memory");
	TCase *t = tcase_create("memory");

	tcase_add_loop_test(t, out_of_memory, 0, sizeof(oom) / sizeof(*oom));
	tcase_add_test(t, sorted_out_of_memory);
	suite_add_tcase(s, t);
	return s;
}

static bool memory_possible(void)
{
	char *cmd;
	bool ok;

	if (asprintf(&cmd,
	             "ulimit -v " MEM_LIMIT " && \"%s\" /dev/null >/dev/null "
	             "2>&1",
	             hu_pmerge()) < 0)
		return false;
	ok = system(cmd) == 0;
	free(cmd);
	return ok;
}

/* --------------------------------------------------------------- suite */

/* Needs a user for whom permissions count: nobody, or ourselves. */
static Suite *perm_suite(void)
{
	Suite *s = suite_create("rel-start-perm");
	TCase *t = tcase_create("perm");

	tcase_add_loop_test(t, unreadable_found_before_copying, 0, 2);
	suite_add_tcase(s, t);
	return s;
}

static Suite *start_suite(void)
{
	Suite *s = suite_create("rel-start");
	TCase *t = tcase_create("values");

	tcase_add_test(t, lock_abbreviations);
	suite_add_tcase(s, t);
	t = tcase_create("limits");
	tcase_add_loop_test(t, low_descriptor_limits, 0, 18);
	tcase_add_test(t, thread_creation_fails);
	suite_add_tcase(s, t);
	t = tcase_create("names");
	tcase_add_test(t, control_characters_quoted);
	tcase_add_loop_test(t, option_values_quoted, 0,
	                    sizeof(bad_values) / sizeof(*bad_values));
	tcase_add_loop_test(t, long_name_keeps_reason, 0, 3);
	suite_add_tcase(s, t);
	return s;
}

int main(int argc, char **argv)
{
	bool perm = argc > 1 && strcmp(argv[1], "perm") == 0;
	bool memory = argc > 1 && strcmp(argv[1], "memory") == 0;
	SRunner *sr;
	int failed;

	hu_init();
	if (perm && !hu_can_run_as(NOBODY, "test_start")) {
		fprintf(stderr, "test_start: perm: no unprivileged user to run "
		                "as: skipped\n");
		return 77;
	}
	if (memory && !memory_possible()) {
		fprintf(stderr, "test_start: memory: pmerge does not start "
		                "under ulimit -v " MEM_LIMIT
		                " (a sanitizer build): skipped\n");
		return 77;
	}
	sr = srunner_create(perm     ? perm_suite()
	                    : memory ? memory_suite()
	                             : start_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
