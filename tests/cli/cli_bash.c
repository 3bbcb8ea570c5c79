/*
 * What needs bash: process substitution (inputs named /dev/fd/N) and
 * PIPESTATUS to see how pmerge ended inside a pipeline.
 */
#include "cliutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(process_substitution)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	cu_bash(&r, "pmerge <(printf x) <(printf y)");
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_bytes("<(x) <(y)", r.out, r.out_len, "xy", 2);
	tu_run_free(&r);

	cu_bash(&r, "pmerge -u line --order=input -j 2 "
	            "<(printf 'a\\nb') <(printf 'c\\n')");
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_bytes("line <(..) <(..)", r.out, r.out_len, "a\nb\nc\n", 6);
	tu_run_free(&r);

	/* Live streams in arrival order: every line once, none torn. */
	cu_bash(&r, "pmerge -u line <(seq 1 3000) <(seq 3001 6000) | sort -n");
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	char *want = malloc(6000 * 6);
	size_t n = 0;
	for (int i = 1; i <= 6000; i++)
		n += (size_t)sprintf(want + n, "%d\n", i);
	tu_expect_bytes("sorted lines", r.out, r.out_len, want, n);
	free(want);
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(pipeline_status)
{
	char *dir = tu_enter_scratch();
	size_t len = 1024 * 1024;
	char *big = cu_gen_text(len, 'B', 9, true);
	struct tu_run r;

	tu_write_file("big", big, len);
	free(big);
	/* Like cat: the shell sees 128 + SIGPIPE, and nothing is said. */
	cu_bash(&r, "pmerge big big | head -c 10 > /dev/null; "
	            "echo ${PIPESTATUS[0]}");
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_bytes("PIPESTATUS", r.out, r.out_len, "141\n", 4);
	tu_run_free(&r);

	cu_bash(&r, "trap '' PIPE; pmerge -u line big big | head -c 10 "
	            "> /dev/null; echo ${PIPESTATUS[0]}");
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "pmerge: write error: Broken pipe\n");
	tu_expect_bytes("PIPESTATUS", r.out, r.out_len, "1\n", 2);
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

TCase *cli_tcase_bash(void)
{
	TCase *tc = tcase_create("bash");
	tcase_add_test(tc, process_substitution);
	tcase_add_test(tc, pipeline_status);
	return tc;
}
