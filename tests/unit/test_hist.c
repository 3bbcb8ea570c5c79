/*
 * The duration histogram: exact count/total/max, quantiles within the
 * documented 19% of the true value, and merging.  The true quantile of a
 * sample is taken by sorting it (nearest rank).
 */
#include "internal.h"
#include "tutil.h"
#include "unit_util.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* The documented bound on a reported quantile's relative error. */
#define REL_ERR 0.19

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank quantile of sorted[0, n). */
static uint64_t true_quantile(const uint64_t *sorted, size_t n, double q)
{
	size_t rank = (size_t)(q * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

static void assert_close(uint64_t got, uint64_t truth, const char *what,
                         double q)
{
	double lo = (double)truth * (1.0 - REL_ERR);
	double hi = (double)truth * (1.0 + REL_ERR);
	/* Called in loops: only a failure may reach Check, whose passing
	 * assertions each cost a system call. */
	if ((double)got < lo || (double)got > hi)
		ck_abort_msg("%s: q=%.3f reported %llu, true value %llu", what,
		             q, (unsigned long long)got,
		             (unsigned long long)truth);
}

static struct pm_hist *hist_new(void)
{
	struct pm_hist *h = calloc(1, sizeof(*h));
	ck_assert_ptr_nonnull(h);
	return h;
}

/*
 * Adds v[0, n) to a fresh histogram and checks count, total, max, a range
 * of quantiles and the summary against the sorted sample.
 */
static void check_sample(uint64_t *v, size_t n, const char *what)
{
	static const double qs[] = {0.0,  0.01, 0.1,  0.25,  0.5,
	                            0.75, 0.9,  0.99, 0.999, 1.0};
	struct pm_hist *h = hist_new();
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		pm_hist_add(h, v[i]);
		total += v[i];
	}
	qsort(v, n, sizeof(*v), cmp_u64);
	ck_assert_uint_eq(h->count, n);
	ck_assert_uint_eq(h->total, total);
	ck_assert_uint_eq(h->max, v[n - 1]);

	uint64_t prev = 0;
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		uint64_t got = pm_hist_quantile(h, qs[i]);
		assert_close(got, true_quantile(v, n, qs[i]), what, qs[i]);
		/* A higher quantile is never reported lower. */
		ck_assert_uint_ge(got, prev);
		prev = got;
	}

	struct pmerge_time_summary sm;
	memset(&sm, 0xa5, sizeof(sm));
	pm_hist_summary(h, &sm);
	ck_assert_uint_eq(sm.total, total);
	ck_assert_uint_eq(sm.max, v[n - 1]);
	assert_close(sm.p50, true_quantile(v, n, 0.5), what, 0.5);
	assert_close(sm.p99, true_quantile(v, n, 0.99), what, 0.99);
	free(h);
}

START_TEST(test_empty)
{
	struct pm_hist *h = hist_new();
	ck_assert_uint_eq(pm_hist_quantile(h, 0.0), 0);
	ck_assert_uint_eq(pm_hist_quantile(h, 0.5), 0);
	ck_assert_uint_eq(pm_hist_quantile(h, 0.99), 0);
	ck_assert_uint_eq(pm_hist_quantile(h, 1.0), 0);

	struct pmerge_time_summary sm;
	memset(&sm, 0xa5, sizeof(sm));
	pm_hist_summary(h, &sm);
	ck_assert_uint_eq(sm.total, 0);
	ck_assert_uint_eq(sm.p50, 0);
	ck_assert_uint_eq(sm.p99, 0);
	ck_assert_uint_eq(sm.max, 0);
	free(h);
}
END_TEST

START_TEST(test_zero_durations)
{
	/* A zero duration is a value, not "no data"; it must count. */
	struct pm_hist *h = hist_new();
	for (int i = 0; i < 10; i++)
		pm_hist_add(h, 0);
	ck_assert_uint_eq(h->count, 10);
	ck_assert_uint_eq(h->total, 0);
	ck_assert_uint_eq(h->max, 0);
	ck_assert_uint_eq(pm_hist_quantile(h, 0.5), 0);
	ck_assert_uint_eq(pm_hist_quantile(h, 1.0), 0);
	pm_hist_add(h, 1000);
	ck_assert_uint_eq(h->count, 11);
	ck_assert_uint_eq(pm_hist_quantile(h, 0.5), 0);
	assert_close(pm_hist_quantile(h, 1.0), 1000, "zero+1000", 1.0);
	free(h);
}
END_TEST

START_TEST(test_single_values)
{
	/*
	 * One value, many times: every quantile is that value.  The values
	 * sweep every bucket edge region from 1 ns to 2^62 ns, including the
	 * small ones where an error of 19% leaves no room for rounding.
	 */
	uint64_t vals[4096];
	size_t n = 0;
	for (uint64_t v = 1; v <= 64; v++)
		vals[n++] = v;
	for (int b = 6; b < 62; b++) {
		uint64_t p = 1ull << b;
		uint64_t q = p / 4;
		uint64_t cand[] = {p - 1,         p,         p + 1,
		                   p + q - 1,     p + q,     p + 2 * q - 1,
		                   p + 2 * q + 1, p + 3 * q, 2 * p - 1};
		for (size_t i = 0; i < sizeof(cand) / sizeof(cand[0]); i++)
			vals[n++] = cand[i];
	}
	uint64_t rs = 11;
	while (n < sizeof(vals) / sizeof(vals[0])) {
		int bits = 1 + (int)(uu_rand(&rs) % 50);
		vals[n++] = 1 + (uu_rand(&rs) >> (64 - bits));
	}

	for (size_t i = 0; i < n; i++) {
		struct pm_hist h;
		memset(&h, 0, sizeof(h));
		for (int k = 0; k < 3; k++)
			pm_hist_add(&h, vals[i]);
		UU_EQ(h.count, 3);
		UU_EQ(h.total, 3 * vals[i]);
		UU_EQ(h.max, vals[i]);
		assert_close(pm_hist_quantile(&h, 0.0), vals[i], "single", 0);
		assert_close(pm_hist_quantile(&h, 0.5), vals[i], "single", .5);
		assert_close(pm_hist_quantile(&h, 1.0), vals[i], "single", 1);
	}
}
END_TEST

START_TEST(test_uniform)
{
	size_t n = 100000;
	uint64_t *v = malloc(n * sizeof(*v));
	uint64_t rs = 3;
	ck_assert_ptr_nonnull(v);
	for (size_t i = 0; i < n; i++)
		v[i] = 1000 + uu_rand(&rs) % 1000000;
	check_sample(v, n, "uniform");
	free(v);
}
END_TEST

START_TEST(test_log_uniform)
{
	/* Durations spread over nine orders of magnitude, as lock waits
	 * are: most short, a long tail. */
	size_t n = 100000;
	uint64_t *v = malloc(n * sizeof(*v));
	uint64_t rs = 5;
	ck_assert_ptr_nonnull(v);
	for (size_t i = 0; i < n; i++) {
		int bits = 4 + (int)(uu_rand(&rs) % 30);
		v[i] = (1ull << bits) + (uu_rand(&rs) >> (64 - bits));
	}
	check_sample(v, n, "log-uniform");
	free(v);
}
END_TEST

START_TEST(test_bimodal)
{
	/* 95% fast at about 1 us, 5% slow at about 5 ms: p50 must see the
	 * fast mode and p99 the slow one. */
	size_t n = 20000;
	uint64_t *v = malloc(n * sizeof(*v));
	uint64_t rs = 9;
	ck_assert_ptr_nonnull(v);
	for (size_t i = 0; i < n; i++) {
		if (i % 20 == 7)
			v[i] = 5000000 + uu_rand(&rs) % 1000;
		else
			v[i] = 1000 + uu_rand(&rs) % 50;
	}
	check_sample(v, n, "bimodal");

	struct pm_hist *h = hist_new();
	for (size_t i = 0; i < n; i++)
		pm_hist_add(h, v[i]);
	ck_assert_uint_lt(pm_hist_quantile(h, 0.5), 2000);
	ck_assert_uint_gt(pm_hist_quantile(h, 0.99), 4000000);
	free(h);
	free(v);
}
END_TEST

START_TEST(test_merge_equals_adding_all)
{
	size_t n = 50000;
	uint64_t rs = 17;
	struct pm_hist *a = hist_new(), *b = hist_new(), *all = hist_new();
	struct pm_hist *empty = hist_new(), *copy = hist_new();
	for (size_t i = 0; i < n; i++) {
		int bits = 1 + (int)(uu_rand(&rs) % 40);
		uint64_t x = uu_rand(&rs) >> (64 - bits);
		pm_hist_add(uu_rand(&rs) & 1 ? a : b, x);
		pm_hist_add(all, x);
	}
	/* Make the larger maximum sit in b, so merge must take it. */
	pm_hist_add(b, 1ull << 45);
	pm_hist_add(all, 1ull << 45);

	pm_hist_merge(a, b);
	ck_assert_uint_eq(a->count, all->count);
	ck_assert_uint_eq(a->total, all->total);
	ck_assert_uint_eq(a->max, all->max);
	ck_assert_mem_eq(a->bucket, all->bucket, sizeof(a->bucket));
	for (double q = 0; q <= 1.0; q += 0.05)
		ck_assert_uint_eq(pm_hist_quantile(a, q),
		                  pm_hist_quantile(all, q));

	/* Merging into an empty histogram copies; merging an empty one
	 * changes nothing. */
	pm_hist_merge(copy, all);
	ck_assert_mem_eq(copy, all, sizeof(*all));
	pm_hist_merge(copy, empty);
	ck_assert_mem_eq(copy, all, sizeof(*all));
	free(a);
	free(b);
	free(all);
	free(empty);
	free(copy);
}
END_TEST

static Suite *hist_suite(void)
{
	Suite *s = suite_create("hist");
	TCase *tc = tcase_create("hist");
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_zero_durations);
	tcase_add_test(tc, test_single_values);
	tcase_add_test(tc, test_uniform);
	tcase_add_test(tc, test_log_uniform);
	tcase_add_test(tc, test_bimodal);
	tcase_add_test(tc, test_merge_equals_adding_all);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(hist_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
