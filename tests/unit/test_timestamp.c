/*
 * Timestamps for --by-time: every recognised format, zones and offsets,
 * fractions, the syslog year, strptime FORMATs, and --since/--until TIMEs.
 * Expected instants are fixed numbers (2025-05-01T08:00:21Z is 1746086421).
 */
#include "sorted.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NS     1000000000LL
#define T0     1746086421LL /* 2025-05-01T08:00:21Z */
#define MS(ms) ((ms)*1000000LL)

static void set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

/* The stamp of line for a fresh reader (format NULL: recognise). */
static bool stamp(const char *fmt, time_t mtime, const char *line, int64_t *ns)
{
	struct pm_ts ts;

	pm_ts_init(&ts, fmt, mtime);
	return pm_ts_parse(&ts, line, strlen(line), ns);
}

#define STAMP_IS(fmt, line, want)                                              \
	do {                                                                   \
		int64_t ns_ = 0;                                               \
		ck_assert_msg(stamp(fmt, T0, line, &ns_), "no stamp in '%s'",  \
		              line);                                           \
		ck_assert_msg(ns_ == (want), "'%s': %lld, want %lld", line,    \
		              (long long)ns_, (long long)(want));              \
	} while (0)

#define NO_STAMP(fmt, line)                                                    \
	do {                                                                   \
		int64_t ns_;                                                   \
		ck_assert_msg(!stamp(fmt, T0, line, &ns_),                     \
		              "'%s' read as a stamp", line);                   \
	} while (0)

START_TEST(test_iso)
{
	set_tz("UTC");
	STAMP_IS(NULL, "2025-05-01T08:00:21Z x", T0 * NS);
	STAMP_IS(NULL, "2025-05-01T08:00:21.449Z x", T0 * NS + MS(449));
	STAMP_IS(NULL, "2025-05-01T08:00:21.123456789Z", T0 * NS + 123456789);
	STAMP_IS(NULL, "2025-05-01T08:00:21.1234567891Z", T0 * NS + 123456789);
	STAMP_IS(NULL, "2025-05-01 08:00:21,449 INFO x", T0 * NS + MS(449));
	STAMP_IS(NULL, "2025-05-01T10:00:21+02:00 x", T0 * NS);
	STAMP_IS(NULL, "2025-05-01T10:00:21.5+0200 x", T0 * NS + MS(500));
	STAMP_IS(NULL, "2025-05-01T03:00:21-05 x", T0 * NS);
	STAMP_IS(NULL, "2025-05-01 10:00:21 +0200 x", T0 * NS);
	STAMP_IS(NULL, "[2025-05-01T08:00:21Z] x", T0 * NS);
	STAMP_IS(NULL, "2025-05-01T08:00Z x", (T0 - 21) * NS);
	NO_STAMP(NULL, "2025-05-01 is a date only");
	NO_STAMP(NULL, "2025-13-01T08:00:21Z bad month");
	NO_STAMP(NULL, "\tat com.example.Foo(Foo.java:12)");
	NO_STAMP(NULL, "");
}
END_TEST

START_TEST(test_local_time)
{
	/* Zone-less stamps are local time: CEST is two hours east. */
	set_tz("Europe/Berlin");
	STAMP_IS(NULL, "2025-05-01 10:00:21,449 x", T0 * NS + MS(449));
	STAMP_IS(NULL, "2025/05/01 10:00:21 [error] x", T0 * NS);
	/* In winter Berlin is one hour east. */
	STAMP_IS(NULL, "2025-01-15T09:00:00 x", 1736928000LL * NS);
	/* An offset wins over TZ. */
	STAMP_IS(NULL, "2025-05-01T08:00:21Z x", T0 * NS);
	set_tz("UTC");
	STAMP_IS(NULL, "2025/05/01 08:00:21.25 x", T0 * NS + MS(250));
}
END_TEST

START_TEST(test_syslog)
{
	int64_t ns;
	time_t jan2 = 1767312000; /* 2026-01-02T00:00:00Z */

	set_tz("UTC");
	STAMP_IS(NULL, "May  1 08:00:21 host sshd[1]: x", T0 * NS);
	STAMP_IS(NULL, "May 01 08:00:21 host x", T0 * NS);
	STAMP_IS(NULL, "<34>May  1 08:00:21 host x", T0 * NS);
	/* No year: the mtime's, or the year before when that would put the
	 * stamp after the mtime. */
	ck_assert(stamp(NULL, jan2, "Dec 31 23:59:59 host x", &ns));
	ck_assert_int_eq(ns, 1767225599LL * NS);
	ck_assert(stamp(NULL, jan2, "Jan  1 00:00:01 host x", &ns));
	ck_assert_int_eq(ns, (1767225600LL + 1) * NS);
	NO_STAMP(NULL, "Mayday 1 08:00:21");
}
END_TEST

START_TEST(test_clf_and_epoch)
{
	set_tz("UTC");
	STAMP_IS(NULL,
	         "10.0.0.1 - - [01/May/2025:10:00:21 +0200] \"GET / HTTP/1.1\" "
	         "200 12 \"-\" \"curl\"",
	         T0 * NS);
	STAMP_IS(NULL, "[x] [01/May/2025:08:00:21 +0000] y", T0 * NS);
	STAMP_IS(NULL, "1746086421 x", T0 * NS);
	STAMP_IS(NULL, "1746086421.449 x", T0 * NS + MS(449));
	STAMP_IS(NULL, "1746086421449 x", T0 * NS + MS(449));
	NO_STAMP(NULL, "12345 short number");
	NO_STAMP(NULL, "1746086421abc");
}
END_TEST

START_TEST(test_format)
{
	set_tz("UTC");
	STAMP_IS("%d.%m.%Y %H:%M:%S", "01.05.2025 08:00:21 x", T0 * NS);
	STAMP_IS("%d.%m.%Y %H:%M:%S.%f", "01.05.2025 08:00:21.449 x",
	         T0 * NS + MS(449));
	STAMP_IS("%Y%m%dT%H%M%S%z", "20250501T100021+0200 x", T0 * NS);
	/* No year in the FORMAT: as for syslog. */
	STAMP_IS("%b %d %H:%M:%S", "May 01 08:00:21 x", T0 * NS);
	NO_STAMP("%d.%m.%Y %H:%M:%S", "2025-05-01T08:00:21Z");
	set_tz("Europe/Berlin");
	STAMP_IS("%d.%m.%Y %H:%M:%S", "01.05.2025 10:00:21 x", T0 * NS);
}
END_TEST

START_TEST(test_first_stamp_fixes_format)
{
	struct pm_ts ts;
	int64_t ns;
	const char *a = "preamble without a stamp";
	const char *b = "2025-05-01T08:00:21Z first";
	const char *c = "1746086421 an epoch line is now a continuation";

	set_tz("UTC");
	pm_ts_init(&ts, NULL, T0);
	ck_assert(!pm_ts_parse(&ts, a, strlen(a), &ns));
	ck_assert_int_eq(ts.kind, PM_TS_UNKNOWN);
	ck_assert(pm_ts_parse(&ts, b, strlen(b), &ns));
	ck_assert_int_eq(ts.kind, PM_TS_ISO);
	ck_assert(!pm_ts_parse(&ts, c, strlen(c), &ns));
}
END_TEST

START_TEST(test_limits)
{
	int64_t ns;

	set_tz("UTC");
	ck_assert_int_eq(pm_ts_parse_limit("2025-05-01", &ns), 0);
	ck_assert_int_eq(ns, 1746057600LL * NS);
	ck_assert_int_eq(pm_ts_parse_limit("2025-05-01T08:00:21Z", &ns), 0);
	ck_assert_int_eq(ns, T0 * NS);
	ck_assert_int_eq(pm_ts_parse_limit("2025-05-01 10:00:21.5+02:00", &ns),
	                 0);
	ck_assert_int_eq(ns, T0 * NS + MS(500));
	ck_assert_int_eq(pm_ts_parse_limit("@1746086421.25", &ns), 0);
	ck_assert_int_eq(ns, T0 * NS + MS(250));
	ck_assert_int_eq(pm_ts_parse_limit("@-5", &ns), 0);
	ck_assert_int_eq(ns, -5 * NS);
	set_tz("Europe/Berlin");
	ck_assert_int_eq(pm_ts_parse_limit("2025-05-01T10:00:21", &ns), 0);
	ck_assert_int_eq(ns, T0 * NS);
	static const char *const bad[] = {
	    "",           "@",           "@x",           "yesterday",
	    "2025-13-01", "2025-05-01T", "2025-05-01 x", "@1.5s",
	    "2025-5-1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(pm_ts_parse_limit(bad[i], &ns) == -EINVAL,
		              "'%s' accepted", bad[i]);
}
END_TEST

START_TEST(test_days_from_civil)
{
	ck_assert_int_eq(pm_days_from_civil(1970, 1, 1), 0);
	ck_assert_int_eq(pm_days_from_civil(2000, 3, 1), 11017);
	ck_assert_int_eq(pm_days_from_civil(1969, 12, 31), -1);
	ck_assert_int_eq(pm_days_from_civil(2024, 2, 29) + 1,
	                 pm_days_from_civil(2024, 3, 1));
}
END_TEST

static Suite *timestamp_suite(void)
{
	Suite *s = suite_create("timestamp");
	TCase *tc = tcase_create("timestamp");
	tcase_add_test(tc, test_iso);
	tcase_add_test(tc, test_local_time);
	tcase_add_test(tc, test_syslog);
	tcase_add_test(tc, test_clf_and_epoch);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_first_stamp_fixes_format);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_days_from_civil);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(timestamp_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
