/*
 * Turn taking for --order=input: whatever order workers become ready in,
 * input i appends only after input i-1 is done, and cancelling releases
 * every waiter.
 */
#include "internal.h"
#include "tutil.h"
#include "unit_util.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct pm_order g_order;
static atomic_size_t g_next;
static size_t g_total;
/* Appended to by whoever holds the turn: plain memory on purpose, so
 * that two turns at once would show as lost or misplaced entries. */
static size_t *g_out;
static volatile size_t g_out_len;
static atomic_int g_errors;

/* For assertions: a failed check then names the variable. */
static int read_int(atomic_int *p)
{
	return atomic_load(p);
}

static void *worker(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	for (;;) {
		size_t idx = atomic_fetch_add(&g_next, 1);
		if (idx >= g_total)
			break;
		/* Vary how long workers take to get ready, so that they
		 * reach their turns in a scrambled order. */
		for (volatile unsigned k = 0; k < (idx * 7 + id * 13) % 500;
		     k++)
			;
		if (pm_order_wait(&g_order, idx) != 0) {
			atomic_fetch_add(&g_errors, 1);
			break;
		}
		size_t at = g_out_len;
		g_out[at] = idx;
		g_out_len = at + 1;
		pm_order_done(&g_order, idx);
	}
	return NULL;
}

static void run_workers(unsigned nthreads, size_t total)
{
	pthread_t th[16];
	ck_assert_uint_le(nthreads, 16);
	ck_assert_int_eq(pm_order_init(&g_order), 0);
	atomic_store(&g_next, 0);
	atomic_store(&g_errors, 0);
	g_total = total;
	g_out = calloc(total, sizeof(*g_out));
	g_out_len = 0;
	ck_assert_ptr_nonnull(g_out);
	for (unsigned i = 0; i < nthreads; i++)
		ck_assert_int_eq(
		    pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i),
		    0);
	for (unsigned i = 0; i < nthreads; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	ck_assert_int_eq(read_int(&g_errors), 0);
	ck_assert_uint_eq(g_out_len, total);
	for (size_t i = 0; i < total; i++)
		if (g_out[i] != i)
			ck_abort_msg("position %zu holds input %zu", i,
			             g_out[i]);
	pm_order_destroy(&g_order);
	free(g_out);
}

START_TEST(test_strict_order_threads)
{
	run_workers(2, 5000);
	run_workers(4, 5000);
	run_workers(8, 5000);
	run_workers(16, 2000);
}
END_TEST

START_TEST(test_own_turn_does_not_wait)
{
	struct pm_order o;
	ck_assert_int_eq(pm_order_init(&o), 0);
	/* Nobody else exists: the first input and each following one
	 * must be let through at once, or this thread would hang. */
	for (size_t i = 0; i < 100; i++) {
		ck_assert_int_eq(pm_order_wait(&o, i), 0);
		pm_order_done(&o, i);
	}
	pm_order_destroy(&o);
}
END_TEST

/* A waiter on one index: reports its thread id and the wait's result. */
struct waiter {
	pthread_t th;
	size_t idx;
	atomic_int tid;
	atomic_int state; /* 1: about to wait, 2: returned */
	int rc;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	atomic_store(&w->tid, uu_gettid());
	atomic_store(&w->state, 1);
	w->rc = pm_order_wait(&g_order, w->idx);
	if (w->rc == 0) {
		size_t at = g_out_len;
		g_out[at] = w->idx;
		g_out_len = at + 1;
		pm_order_done(&g_order, w->idx);
	}
	atomic_store(&w->state, 2);
	return NULL;
}

static void waiter_start(struct waiter *w, size_t idx)
{
	const struct timespec pause = {0, 200000};
	w->idx = idx;
	w->rc = 12345;
	atomic_store(&w->tid, 0);
	atomic_store(&w->state, 0);
	ck_assert_int_eq(pthread_create(&w->th, NULL, waiter_main, w), 0);
	while (atomic_load(&w->state) == 0)
		nanosleep(&pause, NULL);
}

START_TEST(test_later_inputs_wait)
{
	enum { N = 8 };
	struct waiter w[N];
	ck_assert_int_eq(pm_order_init(&g_order), 0);
	g_out = calloc(N, sizeof(*g_out));
	g_out_len = 0;

	/* Inputs 7..1 get ready first, in reverse, and must all block. */
	for (size_t i = N - 1; i >= 1; i--) {
		waiter_start(&w[i], i);
		uu_wait_blocked(atomic_load(&w[i].tid));
	}
	for (size_t i = 1; i < N; i++)
		ck_assert_int_eq(read_int(&w[i].state), 1);
	ck_assert_uint_eq(g_out_len, 0);

	/* Input 0 goes at once and lets the rest through in order. */
	waiter_start(&w[0], 0);
	for (size_t i = 0; i < N; i++) {
		ck_assert_int_eq(pthread_join(w[i].th, NULL), 0);
		ck_assert_int_eq(w[i].rc, 0);
	}
	ck_assert_uint_eq(g_out_len, N);
	for (size_t i = 0; i < N; i++)
		ck_assert_uint_eq(g_out[i], i);
	pm_order_destroy(&g_order);
	free(g_out);
}
END_TEST

START_TEST(test_cancel_wakes_every_waiter)
{
	enum { N = 8 };
	struct waiter w[N];
	ck_assert_int_eq(pm_order_init(&g_order), 0);
	g_out = calloc(N + 1, sizeof(*g_out));
	g_out_len = 0;

	/* Input 0 never finishes: everyone else waits for good. */
	for (size_t i = 0; i < N; i++) {
		waiter_start(&w[i], i + 1);
		uu_wait_blocked(atomic_load(&w[i].tid));
	}
	for (size_t i = 0; i < N; i++)
		ck_assert_int_eq(read_int(&w[i].state), 1);

	pm_order_cancel(&g_order);
	for (size_t i = 0; i < N; i++) {
		ck_assert_int_eq(pthread_join(w[i].th, NULL), 0);
		ck_assert_int_eq(w[i].rc, -ECANCELED);
	}
	ck_assert_uint_eq(g_out_len, 0);

	/* Cancellation is sticky: a late waiter is not let in either. */
	ck_assert_int_eq(pm_order_wait(&g_order, 3), -ECANCELED);
	pm_order_cancel(&g_order);
	ck_assert_int_eq(pm_order_wait(&g_order, 1), -ECANCELED);
	pm_order_destroy(&g_order);
	free(g_out);
}
END_TEST

START_TEST(test_cancel_midway)
{
	enum { N = 6 };
	struct waiter w[N];
	ck_assert_int_eq(pm_order_init(&g_order), 0);
	g_out = calloc(N + 4, sizeof(*g_out));
	g_out_len = 0;

	/* Inputs 0..2 complete; 4.. wait behind an input 3 that never
	 * comes; cancel must free them without letting any through. */
	for (size_t i = 0; i < 3; i++) {
		ck_assert_int_eq(pm_order_wait(&g_order, i), 0);
		pm_order_done(&g_order, i);
	}
	for (size_t i = 0; i < N; i++) {
		waiter_start(&w[i], 4 + i);
		uu_wait_blocked(atomic_load(&w[i].tid));
	}
	pm_order_cancel(&g_order);
	for (size_t i = 0; i < N; i++) {
		ck_assert_int_eq(pthread_join(w[i].th, NULL), 0);
		ck_assert_int_eq(w[i].rc, -ECANCELED);
	}
	ck_assert_uint_eq(g_out_len, 0);
	pm_order_destroy(&g_order);
	free(g_out);
}
END_TEST

static Suite *order_suite(void)
{
	Suite *s = suite_create("order");
	TCase *tc = tcase_create("order");
	tcase_add_test(tc, test_strict_order_threads);
	tcase_add_test(tc, test_own_turn_does_not_wait);
	tcase_add_test(tc, test_later_inputs_wait);
	tcase_add_test(tc, test_cancel_wakes_every_waiter);
	tcase_add_test(tc, test_cancel_midway);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* Blocked threads are recognised through /proc. */
	if (access("/proc/self/task", R_OK) != 0)
		return 77;
	SRunner *sr = srunner_create(order_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
