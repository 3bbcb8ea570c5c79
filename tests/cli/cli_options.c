/*
 * The option parser as a user meets it: usage errors, lock strategies,
 * --help and --version, --files0-from, the quiet and verbose switches and
 * the text statistics.
 */
#include "cliutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define A_TEXT   "alpha\n"
#define B_TEXT   "bravo 1\nbravo 2\n"
#define C_TEXT   "charlie without newline"
#define ABC_TEXT A_TEXT B_TEXT C_TEXT

static const char try_line[] = "Try 'pmerge --help' for more information.\n";

static void write_abc(void)
{
	cu_write("a", A_TEXT);
	cu_write("b", B_TEXT);
	cu_write("c", C_TEXT);
}

static bool ends_with(const char *s, size_t len, const char *tail)
{
	size_t n = strlen(tail);
	return len >= n && memcmp(s + len - n, tail, n) == 0;
}

/* A usage error: status 2, nothing merged, "pmerge: ..." then the Try line. */
static void expect_usage_error(const struct tu_run *r, const char *what)
{
	ck_assert_msg(r->status == 2, "%s: exit status %d (signal %d), want 2",
	              what, r->status, r->signal);
	ck_assert_msg(r->out_len == 0, "%s: wrote %zu bytes to stdout", what,
	              r->out_len);
	ck_assert_msg(strncmp(r->err, "pmerge: ", 8) == 0,
	              "%s: stderr \"%s\" does not start with \"pmerge: \"",
	              what, r->err);
	ck_assert_msg(ends_with(r->err, r->err_len, try_line),
	              "%s: stderr \"%s\" does not end with the Try line", what,
	              r->err);
}

START_TEST(unrecognized_option)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	write_abc();
	cu_pm(&r, NULL, "--bogus", "a", NULL);
	cu_expect_exit(&r, 2);
	tu_expect_err(&r, "pmerge: unrecognized option '--bogus'\n"
	                  "Try 'pmerge --help' for more information.\n");
	ck_assert_uint_eq(r.out_len, 0);
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

static const char *const bad_values[][3] = {
    {"-j", "0"},
    {"-j", "1025"},
    {"-j", "x"},
    {"-j", "-1"},
    {"-j", "2x"},
    {"-j", ""},
    {"--jobs=0"},
    {"--jobs=99999999999999999999"},
    {"--order=bogus"},
    {"--unit=bogus"},
    {"-u", "lines"},
    {"--progress=bogus"},
    {"--stats=bogus"},
    {"--output"},
    {"-o"},
    {"-x"},
};

START_TEST(bad_option_values)
{
	char *dir = tu_enter_scratch();
	const char *const *bad = bad_values[_i];
	char *args[4];
	size_t n = 0;
	char what[64];
	struct cu_io io = CU_IO_INIT;
	struct tu_run r;

	write_abc();
	while (n < 3 && bad[n])
		args[n] = (char *)bad[n], n++;
	/* Options that take an argument come last, or "a" would be it. */
	if (strcmp(bad[0], "--output") && strcmp(bad[0], "-o"))
		args[n++] = "a";
	snprintf(what, sizeof(what), "%s %s", bad[0], bad[1] ? bad[1] : "");
	cu_pm_argv(&r, &io, args, n);
	expect_usage_error(&r, what);
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

static const char *const bad_locks[] = {
    "--lock=bogus", "--lock=sem:0", "--lock=sem:-1",
    "--lock=sem:x", "--lock=sem:",  "--lock=sem:1025",
    "--lock=",      "--lock=sem",   "--lock=mutex:2",
};

START_TEST(bad_lock_values)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	write_abc();
	cu_pm(&r, NULL, bad_locks[_i], "a", NULL);
	expect_usage_error(&r, bad_locks[_i]);
	/* The message teaches the valid strategies. */
	const char *names[] = {"mutex",  "rlock", "sem:N",   "spin",
	                       "ticket", "mcs",   "adaptive"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		ck_assert_msg(strstr(r.err, names[i]) != NULL,
		              "%s: the message \"%s\" does not name %s",
		              bad_locks[_i], r.err, names[i]);
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

static const char *const good_locks[][3] = {
    {"--lock=mutex", "-j4"},    {"--lock=rlock", "-j4"},
    {"--lock=sem:1", "-j4"},    {"--lock=sem:4", "-j4"},
    {"--lock=spin", "-j4"},     {"--lock=sem:64", "-j2"},
    {"-l", "rlock", "-j3"},     {"--lock", "sem:1024", "-j2"},
    {"--lock=ticket", "-j4"},   {"--lock=mcs", "-j4"},
    {"--lock=adaptive", "-j4"}, {"-l", "mcs", "-j1"},
};

START_TEST(good_lock_values)
{
	char *dir = tu_enter_scratch();
	const char *const *lk = good_locks[_i];
	char *args[16];
	size_t n = 0;
	struct cu_io io = CU_IO_INIT;
	struct tu_run r;

	write_abc();
	while (n < 3 && lk[n])
		args[n] = (char *)lk[n], n++;
	args[n++] = "-o";
	args[n++] = "out";
	args[n++] = "a";
	args[n++] = "b";
	args[n++] = "c";
	args[n++] = "a";
	cu_pm_argv(&r, &io, args, n);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_file("out", ABC_TEXT A_TEXT, strlen(ABC_TEXT A_TEXT));
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* Options that only make sense with another, given without it. */
static const char *const lonely[][3] = {
    {"-z"},
    {"--zero-terminated"},
    {"--tag"},
    {"-u", "file", "-z"},
    {"--unit=file", "--tag"},
    {"-a"},
    {"--append"},
};

START_TEST(option_needs_another)
{
	char *dir = tu_enter_scratch();
	const char *const *o = lonely[_i];
	char *args[8];
	size_t n = 0;
	struct cu_io io = CU_IO_INIT;
	struct tu_run r;

	write_abc();
	while (n < 3 && o[n])
		args[n] = (char *)o[n], n++;
	args[n++] = "a";
	cu_pm_argv(&r, &io, args, n);
	ck_assert_msg(r.status == 2, "%s: exit status %d, want 2; stderr: %s",
	              o[0], r.status, r.err);
	ck_assert_uint_eq(r.out_len, 0);
	ck_assert_msg(strncmp(r.err, "pmerge: ", 8) == 0 && r.err_len > 9,
	              "%s: no message, stderr \"%s\"", o[0], r.err);
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

static const char *const long_options[] = {
    "--output",
    "--files0-from",
    "--append",
    "--unit",
    "--zero-terminated",
    "--tag",
    "--order",
    "--jobs",
    "--lock",
    "--progress",
    "--quiet",
    "--verbose",
    "--stats",
    "--stats-file",
    "--bench",
    "--help",
    "--version",
};

START_TEST(help)
{
	char *dir = tu_enter_scratch();
	const char *opt = _i ? "-h" : "--help";
	struct tu_run r;

	/* Help wins over everything else and reads nothing. */
	cu_pm(&r, NULL, opt, "missing", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	ck_assert_uint_gt(r.out_len, 0);
	for (size_t i = 0; i < sizeof(long_options) / sizeof(long_options[0]);
	     i++)
		ck_assert_msg(strstr(r.out, long_options[i]) != NULL,
		              "%s does not mention %s", opt, long_options[i]);
	ck_assert_msg(strstr(r.out, "pmerge") != NULL,
	              "help does not name the program");
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(version)
{
	char *dir = tu_enter_scratch();
	const char *opt = _i ? "-V" : "--version";
	struct tu_run r;

	cu_pm(&r, NULL, opt, NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	ck_assert_msg(strncmp(r.out, "pmerge", 6) == 0,
	              "version \"%s\" does not start with pmerge", r.out);
	ck_assert_ptr_nonnull(cu_expected_version);
	ck_assert_msg(strstr(r.out, cu_expected_version) != NULL,
	              "version \"%s\" lacks %s", r.out, cu_expected_version);
	ck_assert(ends_with(r.out, r.out_len, "\n"));
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(files0_from)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;
	static const char list[] = "a\0b\0na\nme\0c\0a\0";
	size_t ref_len;

	write_abc();
	/* The point of NUL separators: a name may hold a newline. */
	cu_write("na\nme", "newline in the name\n");
	tu_write_file("list", list, sizeof(list) - 1);
	char *ref =
	    cu_cat((char *[]){"a", "b", "na\nme", "c", "a"}, 5, &ref_len);

	cu_pm(&r, NULL, "--files0-from=list", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_bytes("--files0-from=list", r.out, r.out_len, ref, ref_len);
	tu_run_free(&r);

	cu_pm(&r, "list", "--files0-from=-", "-j", "4", "-o", "out", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_file("out", ref, ref_len);
	tu_run_free(&r);

	cu_pm(&r, NULL, "--files0-from", "list", "--order=arrival", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	ck_assert_uint_eq(r.out_len, ref_len);
	tu_run_free(&r);
	free(ref);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(files0_from_errors)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;
	static const char list[] = "a\0missing\0b\0";

	write_abc();
	tu_write_file("list", list, sizeof(list) - 1);
	/* A bad name in the list is a bad input like any other. */
	cu_pm(&r, NULL, "--files0-from=list", NULL);
	cu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: missing: No such file or directory\n");
	tu_expect_bytes("the other inputs", r.out, r.out_len, A_TEXT B_TEXT,
	                strlen(A_TEXT B_TEXT));
	tu_run_free(&r);

	/* A list that cannot be read merges nothing. */
	cu_pm(&r, NULL, "--files0-from=nolist", NULL);
	cu_expect_exit(&r, 1);
	ck_assert_uint_eq(r.out_len, 0);
	ck_assert_msg(strncmp(r.err, "pmerge: ", 8) == 0 &&
	                  strstr(r.err, "nolist") &&
	                  strstr(r.err, "No such file or directory"),
	              "stderr \"%s\"", r.err);
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(quiet_verbose_progress)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	write_abc();
	const char *const quiet[][2] = {
	    {"-q"},
	    {"--quiet"},
	    {"--progress=never"},
	    {"--progress=auto"},
	};
	for (size_t i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++) {
		cu_pm(&r, NULL, quiet[i][0], "a", "b", "c", NULL);
		cu_expect_exit(&r, 0);
		/* Standard error is no terminal: no progress line. */
		tu_expect_err(&r, "");
		tu_expect_bytes(quiet[i][0], r.out, r.out_len, ABC_TEXT,
		                strlen(ABC_TEXT));
		tu_run_free(&r);
	}

	/*
	 * A semaphore over a pipe runs with one holder and says so in one
	 * line; -q silences that note, as it is no error.
	 */
	cu_pm(&r, NULL, "-l", "sem:4", "-j", "2", "a", "b", "c", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_bytes("sem:4 to a pipe", r.out, r.out_len, ABC_TEXT,
	                strlen(ABC_TEXT));
	cu_expect_note(&r, "sem:4 to a pipe");
	tu_run_free(&r);
	cu_pm(&r, NULL, "-q", "-l", "sem:4", "-j", "2", "a", "b", "c", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_run_free(&r);

	/* --progress=always may print; the merge is the same. */
	cu_pm(&r, NULL, "--progress=always", "a", "b", "c", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_bytes("--progress=always", r.out, r.out_len, ABC_TEXT,
	                strlen(ABC_TEXT));
	tu_run_free(&r);

	/* -v: exactly one summary line at the end. */
	const char *const verbose[] = {"-v", "--verbose"};
	for (size_t i = 0; i < 2; i++) {
		cu_pm(&r, NULL, verbose[i], "-o", "out", "a", "b", "c", NULL);
		cu_expect_exit(&r, 0);
		tu_expect_file("out", ABC_TEXT, strlen(ABC_TEXT));
		char *nl = memchr(r.err, '\n', r.err_len);
		ck_assert_msg(r.err_len > 1 && nl == r.err + r.err_len - 1,
		              "%s: want one line on stderr, got \"%s\"",
		              verbose[i], r.err);
		tu_run_free(&r);
	}
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(jobs_limits_accepted)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	write_abc();
	const char *const jobs[] = {"-j1", "--jobs=1024", "-j", "--jobs"};
	cu_pm(&r, NULL, jobs[0], "c", "b", "a", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_bytes("-j1", r.out, r.out_len, C_TEXT B_TEXT A_TEXT,
	                strlen(C_TEXT B_TEXT A_TEXT));
	tu_run_free(&r);

	cu_pm(&r, NULL, jobs[1], "c", "b", "a", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_bytes("--jobs=1024", r.out, r.out_len, C_TEXT B_TEXT A_TEXT,
	                strlen(C_TEXT B_TEXT A_TEXT));
	tu_run_free(&r);

	cu_pm(&r, NULL, jobs[2], "3", jobs[3], "7", "a", "c", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_bytes("-j 3 --jobs 7", r.out, r.out_len, A_TEXT C_TEXT,
	                strlen(A_TEXT C_TEXT));
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* Like cat and other GNU tools, options may follow operands. */
START_TEST(options_after_operands)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	write_abc();
	cu_pm(&r, NULL, "a", "-j", "2", "b", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_bytes("a -j 2 b", r.out, r.out_len, A_TEXT B_TEXT,
	                strlen(A_TEXT B_TEXT));
	tu_run_free(&r);

	cu_pm(&r, NULL, "c", "a", "-o", "out", "b", "--order=input", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	ck_assert_uint_eq(r.out_len, 0);
	tu_expect_file("out", C_TEXT A_TEXT B_TEXT,
	               strlen(C_TEXT A_TEXT B_TEXT));
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

TCase *cli_tcase_options(void)
{
	TCase *tc = tcase_create("options");
	tcase_add_test(tc, unrecognized_option);
	tcase_add_test(tc, options_after_operands);
	tcase_add_loop_test(tc, bad_option_values, 0,
	                    (int)(sizeof(bad_values) / sizeof(bad_values[0])));
	tcase_add_loop_test(tc, bad_lock_values, 0,
	                    (int)(sizeof(bad_locks) / sizeof(bad_locks[0])));
	tcase_add_loop_test(tc, good_lock_values, 0,
	                    (int)(sizeof(good_locks) / sizeof(good_locks[0])));
	tcase_add_loop_test(tc, option_needs_another, 0,
	                    (int)(sizeof(lonely) / sizeof(lonely[0])));
	tcase_add_loop_test(tc, help, 0, 2);
	tcase_add_loop_test(tc, version, 0, 2);
	tcase_add_test(tc, files0_from);
	tcase_add_test(tc, files0_from_errors);
	tcase_add_test(tc, quiet_verbose_progress);
	tcase_add_test(tc, jobs_limits_accepted);
	return tc;
}

/* ------------------------------------------------------------ text stats */

START_TEST(stats_text)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	write_abc();
	const char *const forms[] = {"--stats", "--stats=text"};
	for (size_t i = 0; i < 2; i++) {
		cu_pm(&r, NULL, forms[i], "-j", "2", "a", "b", "c", NULL);
		cu_expect_exit(&r, 0);
		tu_expect_bytes(forms[i], r.out, r.out_len, ABC_TEXT,
		                strlen(ABC_TEXT));
		ck_assert_msg(strstr(r.err, "acquisitions") != NULL,
		              "%s: stderr \"%s\" lacks acquisitions", forms[i],
		              r.err);
		tu_run_free(&r);
	}

	cu_pm(&r, NULL, "--stats", "--stats-file=st", "-o", "out", "a", "b",
	      "c", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_file("out", ABC_TEXT, strlen(ABC_TEXT));
	size_t len;
	char *st = cu_slurp("st", &len);
	ck_assert_msg(strstr(st, "acquisitions") != NULL,
	              "stats file \"%s\" lacks acquisitions", st);
	free(st);
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/*
 * The text report's fairness is Jain's index over the acquisitions its
 * worker lines show, computed here from those lines.
 */
START_TEST(stats_text_fairness)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;
	char name[16];

	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "in%d", i);
		char *d = cu_gen_text(4000 + (size_t)i * 30000, 'a', i, true);
		tu_write_file(name, d, 4000 + (size_t)i * 30000);
		free(d);
	}
	cu_pm(&r, NULL, "--stats", "-u", "line", "-B", "4K", "-j", "3", "-l",
	      "ticket", "-o", "out", "in0", "in1", "in2", "in3", "in4", "in5",
	      NULL);
	cu_expect_exit(&r, 0);
	const char *f = strstr(r.err, "fairness ");
	ck_assert_msg(f != NULL, "stderr \"%s\" lacks fairness", r.err);
	double shown = strtod(f + 9, NULL);
	double sum = 0, sumsq = 0;
	int workers = 0;
	for (const char *p = strstr(r.err, "  worker "); p;
	     p = strstr(p + 1, "  worker ")) {
		const char *a = strstr(p, "acquisitions ");
		ck_assert_ptr_nonnull(a);
		double x = strtod(a + 13, NULL);
		sum += x;
		sumsq += x * x;
		workers++;
	}
	ck_assert_int_eq(workers, 3);
	ck_assert_double_gt(sumsq, 0);
	ck_assert_double_eq_tol(shown, sum * sum / (workers * sumsq), 0.0006);
	tu_run_free(&r);

	/* One worker is served alike with itself. */
	cu_pm(&r, NULL, "--stats", "-j", "1", "-l", "mcs", "-o", "out", "in0",
	      "in1", NULL);
	cu_expect_exit(&r, 0);
	ck_assert_msg(strstr(r.err, "fairness 1.000") != NULL,
	              "-j 1: stderr \"%s\" lacks fairness 1.000", r.err);
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

TCase *cli_tcase_stats_text(void)
{
	TCase *tc = tcase_create("stats-text");
	tcase_add_test(tc, stats_text);
	tcase_add_test(tc, stats_text_fairness);
	return tc;
}
