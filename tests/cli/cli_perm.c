/*
 * Permission errors.  Root reads everything, so as root the commands run
 * as an unprivileged user through setpriv (the test group is skipped when
 * that is impossible); the scratch files then belong to that user.
 */
#include "cliutil.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define A_TEXT "alpha\n"
#define B_TEXT "bravo\n"

static void give_away(const char *path)
{
	if (cu_unprivileged) {
		uid_t id = (uid_t)atol(cu_unprivileged);
		ck_assert_int_eq(lchown(path, id, (gid_t)id), 0);
	}
}

static char *enter_shared_scratch(void)
{
	char *dir = tu_enter_scratch();
	give_away(dir);
	cu_write("a", A_TEXT);
	cu_write("b", B_TEXT);
	cu_write("secret", "secret\n");
	give_away("a");
	give_away("b");
	give_away("secret");
	ck_assert_int_eq(chmod("secret", 0), 0);
	return dir;
}

static void run(struct tu_run *r, char *const args[], size_t n)
{
	struct cu_io io = CU_IO_INIT;
	io.setpriv = cu_unprivileged;
	cu_pm_argv(r, &io, args, n);
}

START_TEST(unreadable_input_to_stdout)
{
	char *dir = enter_shared_scratch();
	const char *jobs = _i ? "4" : "1";
	struct tu_run r;

	run(&r, (char *[]){"-j", (char *)jobs, "a", "secret", "b"}, 5);
	cu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: secret: Permission denied\n");
	tu_expect_bytes("the other inputs", r.out, r.out_len, A_TEXT B_TEXT,
	                strlen(A_TEXT B_TEXT));
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(unreadable_input_with_output)
{
	char *dir = enter_shared_scratch();
	struct tu_run r;

	cu_write("out", "OLD");
	give_away("out");
	struct stat before = cu_stat("out");
	size_t entries = tu_count_entries(".");
	run(&r, (char *[]){"-o", "out", "a", "secret", "b"}, 5);
	cu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: secret: Permission denied\n");
	tu_expect_file("out", "OLD", 3);
	ck_assert_uint_eq(cu_stat("out").st_ino, before.st_ino);
	ck_assert_uint_eq(tu_count_entries("."), entries);
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(unwritable_output_directory)
{
	char *dir = enter_shared_scratch();
	struct tu_run r;

	ck_assert_int_eq(mkdir("ro", 0555), 0);
	give_away("ro");
	run(&r, (char *[]){"-o", "ro/out", "a", "b"}, 4);
	cu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: ro/out: Permission denied\n");
	ck_assert_uint_eq(r.out_len, 0);
	ck_assert_uint_eq(tu_count_entries("ro"), 0);
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

TCase *cli_tcase_perm(void)
{
	TCase *tc = tcase_create("permissions");
	tcase_add_loop_test(tc, unreadable_input_to_stdout, 0, 2);
	tcase_add_test(tc, unreadable_input_with_output);
	tcase_add_test(tc, unwritable_output_directory);
	return tc;
}
