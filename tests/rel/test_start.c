/*
 * Reliability at start-up: what pmerge must make of the values it is
 * given and of the process it finds itself in before the merge begins.
 * Lock names abbreviated as GNU argmatch allows.
 *
 * Each test runs in its own forked process and scratch directory.
 */
#include "hardutil.h"
#include "tutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* --------------------------------------------------------------- suite */

static Suite *start_suite(void)
{
	Suite *s = suite_create("rel-start");
	TCase *t = tcase_create("values");

	tcase_add_test(t, lock_abbreviations);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	hu_init();
	sr = srunner_create(start_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
