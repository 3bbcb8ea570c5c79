/*
 * Failing inputs and outputs: the exact message, the exit status and what
 * is left in the output, set against what GNU cat does in the same spot.
 */
#include "cliutil.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define A_TEXT "alpha 1\nalpha 2\nalpha 3\n"
#define B_TEXT "bravo\n"

static void write_ab(void)
{
	cu_write("a", A_TEXT);
	cu_write("b", B_TEXT);
}

static const char *const err_jobs[] = {"1", "4"};

START_TEST(missing_input_to_stdout)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	write_ab();
	cu_pm(&r, NULL, "-j", err_jobs[_i], "a", "missing", "b", NULL);
	cu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: missing: No such file or directory\n");
	tu_expect_bytes("the other inputs", r.out, r.out_len, A_TEXT B_TEXT,
	                strlen(A_TEXT B_TEXT));
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(directory_input)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	write_ab();
	ck_assert_int_eq(mkdir("sub", 0755), 0);
	cu_pm(&r, NULL, "-j", err_jobs[_i], "a", "sub", "b", NULL);
	cu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: sub: Is a directory\n");
	tu_expect_bytes("the other inputs", r.out, r.out_len, A_TEXT B_TEXT,
	                strlen(A_TEXT B_TEXT));
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(output_all_or_nothing)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	write_ab();
	cu_write("out", "OLD");
	struct stat before = cu_stat("out");
	size_t entries = tu_count_entries(".");

	cu_pm(&r, NULL, "-j", err_jobs[_i], "-o", "out", "a", "m1", "b", "m2",
	      NULL);
	cu_expect_exit(&r, 1);
	/* Every bad input is reported; workers may find them in any order. */
	const char *l1 = "pmerge: m1: No such file or directory\n";
	const char *l2 = "pmerge: m2: No such file or directory\n";
	char *both1, *both2;
	ck_assert_int_gt(asprintf(&both1, "%s%s", l1, l2), 0);
	ck_assert_int_gt(asprintf(&both2, "%s%s", l2, l1), 0);
	ck_assert_msg(!strcmp(r.err, both1) || !strcmp(r.err, both2),
	              "stderr is \"%s\", want both lines \"%s\"", r.err, both1);
	ck_assert_uint_eq(r.out_len, 0);
	tu_expect_file("out", "OLD", 3);
	struct stat after = cu_stat("out");
	ck_assert_uint_eq(after.st_ino, before.st_ino);
	ck_assert_uint_eq(tu_count_entries("."), entries);
	free(both1);
	free(both2);
	tu_run_free(&r);

	/* The same when the output did not exist: it still does not. */
	cu_pm(&r, NULL, "-j", err_jobs[_i], "-o", "new", "a", "m1", NULL);
	cu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: m1: No such file or directory\n");
	ck_assert(!tu_exists("new"));
	ck_assert_uint_eq(tu_count_entries("."), entries);
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/*
 * Runs the same shell command with cat and with pm_cmd on fresh copies of
 * a and b, and checks that both report a as the output and leave the same
 * bytes in a: pmerge's expected behaviour is cat's.
 */
static void same_as_cat(const char *cmd_fmt, const char *pm_cmd,
                        const char *want_a, size_t want_len)
{
	struct tu_run r;

	for (int pm = 0; pm <= 1; pm++) {
		write_ab();
		cu_sh(&r, cmd_fmt, pm ? pm_cmd : "cat");
		cu_expect_exit(&r, 1);
		if (pm)
			tu_expect_err(&r,
			              "pmerge: a: input file is output file\n");
		else
			tu_expect_err(&r,
			              "cat: a: input file is output file\n");
		tu_expect_file("a", want_a, want_len);
		tu_run_free(&r);
	}
}

START_TEST(input_is_output)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	/* Standard output appends to an input. */
	same_as_cat("%s a b >> a", "pmerge", A_TEXT B_TEXT,
	            strlen(A_TEXT B_TEXT));
	/* Standard output is an input, read-write at offset 0. */
	char over[] = A_TEXT;
	memcpy(over, B_TEXT, strlen(B_TEXT));
	same_as_cat("%s a b 1<> a", "pmerge", over, strlen(over));
	/* With several workers too. */
	same_as_cat("%s a b >> a", "pmerge -j 4", A_TEXT B_TEXT,
	            strlen(A_TEXT B_TEXT));

	/* The -a target is an input. */
	write_ab();
	cu_pm(&r, NULL, "-a", "-o", "a", "a", "b", NULL);
	cu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: a: input file is output file\n");
	tu_expect_file("a", A_TEXT B_TEXT, strlen(A_TEXT B_TEXT));
	ck_assert_uint_eq(tu_count_entries("."), 2);
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(stdout_dev_full)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	write_ab();
	cu_sh(&r, "pmerge a b > /dev/full");
	cu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: write error: No space left on device\n");
	tu_run_free(&r);

	cu_sh(&r, "pmerge -u line -j 2 a b > /dev/full");
	cu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: write error: No space left on device\n");
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(stdout_closed)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	write_ab();
	cu_sh(&r, "pmerge a b >&-");
	cu_expect_exit(&r, 1);
	/* cat says "standard output: Bad file descriptor" here. */
	tu_expect_err(&r, "pmerge: write error: Bad file descriptor\n");
	/* Nothing went into a file that took the free descriptor 1. */
	tu_expect_file("a", A_TEXT, strlen(A_TEXT));
	tu_expect_file("b", B_TEXT, strlen(B_TEXT));
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(stdin_closed)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	write_ab();
	cu_sh(&r, "pmerge - <&-");
	cu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: -: Bad file descriptor\n");
	ck_assert_uint_eq(r.out_len, 0);
	tu_run_free(&r);

	/*
	 * With descriptor 0 free, opening a may give it 0: "-" must still
	 * fail rather than read a a second time.
	 */
	cu_sh(&r, "pmerge -j 1 a - b <&-");
	cu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: -: Bad file descriptor\n");
	tu_expect_bytes("a - b", r.out, r.out_len, A_TEXT B_TEXT,
	                strlen(A_TEXT B_TEXT));
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

TCase *cli_tcase_errors(void)
{
	TCase *tc = tcase_create("errors");
	tcase_add_loop_test(tc, missing_input_to_stdout, 0, 2);
	tcase_add_loop_test(tc, directory_input, 0, 2);
	tcase_add_loop_test(tc, output_all_or_nothing, 0, 2);
	tcase_add_test(tc, input_is_output);
	tcase_add_test(tc, stdout_dev_full);
	tcase_add_test(tc, stdout_closed);
	tcase_add_test(tc, stdin_closed);
	return tc;
}

/* -------------------------------------------------------------- SIGPIPE */

static const struct {
	const char *unit, *jobs;
} pipe_cases[] = {
    {"file", "1"},
    {"file", "4"},
    {"line", "1"},
    {"line", "4"},
};
#define N_PIPE_CASES (sizeof(pipe_cases) / sizeof(pipe_cases[0]))

static void write_big(void)
{
	size_t len = 1024 * 1024;
	char *big = cu_gen_text(len, 'B', 5, true);
	tu_write_file("big", big, len);
	free(big);
}

/* Runs "pmerge -u UNIT -j N big big" into a pipe whose reader is gone. */
static void run_into_closed_pipe(struct tu_run *r, int c, bool ignored)
{
	struct cu_io io = CU_IO_INIT;
	int p[2];

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	close(p[0]);
	io.stdout_fd = p[1];
	io.sigpipe_ignored = ignored;
	cu_pm_argv(r, &io,
	           (char *[]){"-u", (char *)pipe_cases[c].unit, "-j",
	                      (char *)pipe_cases[c].jobs, "big", "big"},
	           6);
	close(p[1]);
}

START_TEST(sigpipe_reader_gone)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	write_big();
	run_into_closed_pipe(&r, _i, false);
	ck_assert_msg(r.signal == SIGPIPE,
	              "exit status %d, signal %d: want death by SIGPIPE",
	              r.status, r.signal);
	tu_expect_err(&r, "");
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* Reads like "head -c 10": ten bytes, then the read end goes away. */
static void *read_ten(void *arg)
{
	int fd = *(int *)arg;
	char b[10];
	size_t got = 0;
	while (got < sizeof(b)) {
		ssize_t k = read(fd, b + got, sizeof(b) - got);
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(fd);
	return (void *)(uintptr_t)got;
}

START_TEST(sigpipe_reader_leaves_early)
{
	char *dir = tu_enter_scratch();
	struct cu_io io = CU_IO_INIT;
	struct tu_run r;
	pthread_t t;
	void *got;
	int p[2];

	write_big();
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, read_ten, &p[0]), 0);
	io.stdout_fd = p[1];
	cu_pm_argv(&r, &io,
	           (char *[]){"-u", (char *)pipe_cases[_i].unit, "-j",
	                      (char *)pipe_cases[_i].jobs, "big", "big"},
	           6);
	close(p[1]);
	ck_assert_int_eq(pthread_join(t, &got), 0);
	ck_assert_uint_eq((uintptr_t)got, 10);
	ck_assert_msg(r.signal == SIGPIPE,
	              "exit status %d, signal %d: want death by SIGPIPE",
	              r.status, r.signal);
	tu_expect_err(&r, "");
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(sigpipe_ignored)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	write_big();
	run_into_closed_pipe(&r, _i, true);
	cu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: write error: Broken pipe\n");
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

TCase *cli_tcase_signals(void)
{
	TCase *tc = tcase_create("sigpipe");
	tcase_add_loop_test(tc, sigpipe_reader_gone, 0, N_PIPE_CASES);
	tcase_add_loop_test(tc, sigpipe_reader_leaves_early, 0, N_PIPE_CASES);
	tcase_add_loop_test(tc, sigpipe_ignored, 0, N_PIPE_CASES);
	return tc;
}
