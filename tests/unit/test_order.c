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
#include <sched.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
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
		UU_TRUE(pm_order_pass(&g_order, idx) == NULL);
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
		ck_assert_ptr_null(pm_order_pass(&o, i));
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
		UU_TRUE(pm_order_pass(&g_order, w->idx) == NULL);
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
		UU_TRUE(pm_order_pass(&g_order, i) == NULL);
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

/*
 * Parking: an input read in full before its turn is offered, and whoever
 * passes the turn to it writes it on its owner's behalf.  The bytes of a
 * unit are its index in decimal, so that the writer reads the owner's
 * buffer and a buffer handed back too early shows as a wrong log entry.
 */

static size_t g_out_cap;

static void log_init(size_t n)
{
	g_out = calloc(n, sizeof(*g_out));
	ck_assert_ptr_nonnull(g_out);
	g_out_cap = n;
	g_out_len = 0;
}

/* Entries past the end are counted, not stored: a unit written twice then
 * fails the length check instead of corrupting memory. */
static void log_put(size_t v)
{
	size_t at = g_out_len;
	if (at < g_out_cap)
		g_out[at] = v;
	g_out_len = at + 1;
}

/* The log must read 0, 1, ..., n - 1 and nothing more. */
static void log_check(size_t n)
{
	ck_assert_uint_eq(g_out_len, n);
	for (size_t i = 0; i < n; i++)
		if (g_out[i] != i)
			ck_abort_msg("position %zu holds input %zu", i,
			             g_out[i]);
}

static size_t unit_encode(char *buf, size_t size, size_t idx)
{
	int n = snprintf(buf, size, "%zu", idx);
	ck_assert(n > 0 && (size_t)n < size);
	return (size_t)n;
}

/* SIZE_MAX for anything but digits, e.g. a buffer already scribbled on. */
static size_t unit_decode(const struct pm_parked *p)
{
	size_t v = 0;
	if (!p->buf || p->len == 0)
		return SIZE_MAX;
	for (size_t i = 0; i < p->len; i++) {
		if (p->buf[i] < '0' || p->buf[i] > '9')
			return SIZE_MAX;
		v = v * 10 + (size_t)(p->buf[i] - '0');
	}
	return v;
}

/* The worker that owns one input and parks it. */
struct owner {
	pthread_t th;
	struct pm_order *o;
	struct pm_parked p;
	char buf[24];
	atomic_int tid;
	atomic_int state; /* 0: starting, 1: about to offer, 2: returned */
	int rc;
	/* Kept asleep after returning until joined, so that an offer that
	 * returns too early shows as state 2, not as a vanished thread. */
	sem_t leave;
};

static void *owner_main(void *arg)
{
	struct owner *w = arg;
	atomic_store(&w->tid, uu_gettid());
	atomic_store(&w->state, 1);
	w->rc = pm_order_offer(w->o, &w->p);
	atomic_store(&w->state, 2);
	while (sem_wait(&w->leave) != 0)
		;
	return NULL;
}

/* Starts an owner for the unit of inputs idx..last and returns once it
 * sleeps in pm_order_offer: only for an idx whose turn has not come, or
 * this never returns. */
static void owner_park_run(struct owner *w, struct pm_order *o, size_t idx,
                           size_t last)
{
	const struct timespec pause = {0, 200000};
	w->o = o;
	w->p = (struct pm_parked){
	    .idx = idx,
	    .last = last,
	    .buf = w->buf,
	    .len = unit_encode(w->buf, sizeof(w->buf), idx),
	};
	w->rc = 12345;
	atomic_store(&w->tid, 0);
	atomic_store(&w->state, 0);
	ck_assert_int_eq(sem_init(&w->leave, 0, 0), 0);
	ck_assert_int_eq(pthread_create(&w->th, NULL, owner_main, w), 0);
	while (atomic_load(&w->state) == 0)
		nanosleep(&pause, NULL);
	uu_wait_blocked(atomic_load(&w->tid));
	ck_assert_msg(atomic_load(&w->state) == 1,
	              "the offer of input %zu returned %d without waiting", idx,
	              w->rc);
}

static void owner_park(struct owner *w, struct pm_order *o, size_t idx)
{
	owner_park_run(w, o, idx, idx);
}

static int owner_join(struct owner *w)
{
	ck_assert_int_eq(sem_post(&w->leave), 0);
	ck_assert_int_eq(pthread_join(w->th, NULL), 0);
	ck_assert_int_eq(read_int(&w->state), 2);
	sem_destroy(&w->leave);
	return w->rc;
}

/*
 * Looks at the order's state while owners may still be inside it: under its
 * mutex, as a sleeping owner is no ordering the race detector can see.
 */
static struct pm_parked *parked_at(struct pm_order *o, size_t idx)
{
	pthread_mutex_lock(&o->mu);
	struct pm_parked *p = o->parked[idx % PMERGE_JOBS_MAX];
	pthread_mutex_unlock(&o->mu);
	return p;
}

static enum pm_parked_state state_of(struct pm_order *o,
                                     const struct pm_parked *p)
{
	pthread_mutex_lock(&o->mu);
	enum pm_parked_state st = p->state;
	pthread_mutex_unlock(&o->mu);
	return st;
}

static size_t turn_of(struct pm_order *o)
{
	pthread_mutex_lock(&o->mu);
	size_t t = o->turn;
	pthread_mutex_unlock(&o->mu);
	return t;
}

/* What a spurious wake-up does to every sleeper of the order: the protocol
 * must tell it from a real one by the state it finds. */
static void wake_all(struct pm_order *o)
{
	pthread_mutex_lock(&o->mu);
	for (unsigned i = 0; i < PM_ORDER_SLOTS; i++)
		pthread_cond_broadcast(&o->cv[i]);
	pthread_mutex_unlock(&o->mu);
}

/*
 * Writes p, which the caller was handed by pm_order_pass for input prev,
 * and passes the turn on from it.  Returns the next unit handed over.
 */
static struct pm_parked *write_taken(struct pm_order *o, size_t prev,
                                     struct pm_parked *p)
{
	ck_assert_uint_eq(p->idx, prev + 1);
	ck_assert_int_eq(state_of(o, p), PM_PARKED_TAKEN);
	/* The turn is the taken unit's: nobody else may write meanwhile. */
	ck_assert_uint_eq(turn_of(o), p->idx);
	ck_assert_uint_eq(unit_decode(p), p->idx);
	log_put(unit_decode(p));
	return pm_order_pass(o, p->idx);
}

START_TEST(test_offer_own_turn)
{
	struct pm_order o;
	char buf[24];
	ck_assert_int_eq(pm_order_init(&o), 0);

	/* With the turn already ours, parking would only cost a wake-up:
	 * the offer must return at once, leaving nothing parked. */
	for (size_t i = 0; i < 3; i++) {
		struct pm_parked p = {.idx = i,
		                      .buf = buf,
		                      .len = unit_encode(buf, sizeof(buf), i)};
		ck_assert_int_eq(pm_order_offer(&o, &p), 0);
		ck_assert_ptr_null(parked_at(&o, i));
		/* The caller writes it and passes on: it must not be handed
		 * its own unit back. */
		ck_assert_ptr_null(pm_order_pass(&o, i));
		ck_assert_uint_eq(turn_of(&o), i + 1);
	}
	pm_order_destroy(&o);
}
END_TEST

START_TEST(test_parked_taken_by_passer)
{
	struct pm_order o;
	struct owner w;
	ck_assert_int_eq(pm_order_init(&o), 0);
	log_init(2);

	owner_park(&w, &o, 1);
	ck_assert_ptr_eq(parked_at(&o, 1), &w.p);
	ck_assert_int_eq(state_of(&o, &w.p), PM_PARKED_READY);

	log_put(0);
	struct pm_parked *p = pm_order_pass(&o, 0);
	ck_assert_ptr_eq(p, &w.p);
	ck_assert_int_eq(state_of(&o, p), PM_PARKED_TAKEN);
	ck_assert_uint_eq(turn_of(&o), 1);
	/* Taken but not written: the owner must keep its buffer alive, so
	 * it must still be asleep, even when woken with the turn at its
	 * own index. */
	wake_all(&o);
	uu_wait_blocked(atomic_load(&w.tid));
	ck_assert_int_eq(read_int(&w.state), 1);

	ck_assert_ptr_null(write_taken(&o, 0, p));
	ck_assert_int_eq(owner_join(&w), 1);
	ck_assert_int_eq(state_of(&o, &w.p), PM_PARKED_DONE);
	ck_assert_ptr_null(parked_at(&o, 1));
	ck_assert_uint_eq(turn_of(&o), 2);
	log_check(2);
	pm_order_destroy(&o);
	free(g_out);
}
END_TEST

/*
 * A unit of several inputs (a run of small files one worker read) takes
 * the turn of its first input and hands it to the input after its last:
 * the unit parked there is handed over next, and nothing is handed to an
 * index inside the run.
 */
START_TEST(test_parked_run)
{
	struct pm_order o;
	struct owner run, after;
	ck_assert_int_eq(pm_order_init(&o), 0);

	owner_park_run(&run, &o, 1, 3);
	owner_park(&after, &o, 4);
	struct pm_parked *p = pm_order_pass(&o, 0);
	ck_assert_ptr_eq(p, &run.p);
	ck_assert_int_eq(state_of(&o, p), PM_PARKED_TAKEN);
	ck_assert_uint_eq(turn_of(&o), 1);
	/* Passing on from the run's first input alone would hand input 2 the
	 * turn: the run must be passed from its last. */
	p = pm_order_pass_run(&o, p->idx, p->last);
	ck_assert_ptr_eq(p, &after.p);
	ck_assert_uint_eq(turn_of(&o), 4);
	ck_assert_int_eq(owner_join(&run), 1);
	ck_assert_int_eq(state_of(&o, &run.p), PM_PARKED_DONE);
	wake_all(&o);
	uu_wait_blocked(atomic_load(&after.tid));
	ck_assert_int_eq(read_int(&after.state), 1);
	ck_assert_ptr_null(pm_order_pass(&o, 4));
	ck_assert_uint_eq(turn_of(&o), 5);
	ck_assert_int_eq(owner_join(&after), 1);
	pm_order_destroy(&o);
}
END_TEST

START_TEST(test_parked_chain)
{
	enum { N = 8 };
	struct pm_order o;
	struct owner w[N];
	ck_assert_int_eq(pm_order_init(&o), 0);
	log_init(N);

	/* Parked in reverse so that no owner finds its turn by arriving
	 * in order. */
	for (size_t i = N - 1; i >= 1; i--)
		owner_park(&w[i], &o, i);

	/* One passer writes the whole run on its owners' behalf. */
	log_put(0);
	size_t prev = 0;
	struct pm_parked *p = pm_order_pass(&o, 0);
	while (p) {
		ck_assert_ptr_eq(p, &w[prev + 1].p);
		struct pm_parked *next = write_taken(&o, prev, p);
		prev = p->idx;
		p = next;
	}
	ck_assert_uint_eq(prev, N - 1);
	for (size_t i = 1; i < N; i++) {
		ck_assert_int_eq(owner_join(&w[i]), 1);
		ck_assert_int_eq(state_of(&o, &w[i].p), PM_PARKED_DONE);
		ck_assert_ptr_null(parked_at(&o, i));
	}
	ck_assert_uint_eq(turn_of(&o), N);
	log_check(N);
	pm_order_destroy(&o);
	free(g_out);
}
END_TEST

START_TEST(test_parked_chain_gap)
{
	struct pm_order o;
	struct owner w[5];
	ck_assert_int_eq(pm_order_init(&o), 0);
	log_init(5);

	/* Input 3 is still being read when the run 1, 2 goes out. */
	owner_park(&w[4], &o, 4);
	owner_park(&w[2], &o, 2);
	owner_park(&w[1], &o, 1);

	log_put(0);
	struct pm_parked *p = pm_order_pass(&o, 0);
	ck_assert_ptr_eq(p, &w[1].p);
	p = write_taken(&o, 0, p);
	ck_assert_ptr_eq(p, &w[2].p);
	/* Nobody to hand 3 to: the chain stops and 3's owner may go. */
	ck_assert_ptr_null(write_taken(&o, 1, p));
	ck_assert_uint_eq(turn_of(&o), 3);
	ck_assert_int_eq(owner_join(&w[1]), 1);
	ck_assert_int_eq(owner_join(&w[2]), 1);
	/* Input 4 was not skipped over the gap. */
	wake_all(&o);
	uu_wait_blocked(atomic_load(&w[4].tid));
	ck_assert_int_eq(read_int(&w[4].state), 1);
	ck_assert_int_eq(state_of(&o, &w[4].p), PM_PARKED_READY);

	/* 3's owner arrives with the turn already its own, writes, and
	 * takes over the run behind it. */
	char buf[24];
	struct pm_parked own = {
	    .idx = 3, .buf = buf, .len = unit_encode(buf, sizeof(buf), 3)};
	ck_assert_int_eq(pm_order_offer(&o, &own), 0);
	log_put(unit_decode(&own));
	p = pm_order_pass(&o, 3);
	ck_assert_ptr_eq(p, &w[4].p);
	ck_assert_ptr_null(write_taken(&o, 3, p));
	ck_assert_int_eq(owner_join(&w[4]), 1);
	ck_assert_uint_eq(turn_of(&o), 5);
	log_check(5);
	pm_order_destroy(&o);
	free(g_out);
}
END_TEST

START_TEST(test_pass_without_parked)
{
	struct pm_order o;
	char buf[24];
	ck_assert_int_eq(pm_order_init(&o), 0);
	log_init(2);

	/* Input 1 is not ready: the turn goes to it for later. */
	log_put(0);
	ck_assert_ptr_null(pm_order_pass(&o, 0));
	ck_assert_uint_eq(turn_of(&o), 1);
	struct pm_parked p = {
	    .idx = 1, .buf = buf, .len = unit_encode(buf, sizeof(buf), 1)};
	ck_assert_int_eq(pm_order_offer(&o, &p), 0);
	log_put(unit_decode(&p));

	/* Input 1 wrote itself with the turn; nothing is parked behind it. */
	ck_assert_ptr_null(pm_order_pass(&o, 1));
	ck_assert_uint_eq(turn_of(&o), 2);
	log_check(2);
	pm_order_destroy(&o);
	free(g_out);
}
END_TEST

START_TEST(test_cancel_parked)
{
	enum { N = 5 };
	struct pm_order o;
	struct owner w[N];
	ck_assert_int_eq(pm_order_init(&o), 0);
	log_init(N);

	for (size_t i = N - 1; i >= 1; i--)
		owner_park(&w[i], &o, i);
	log_put(0);
	struct pm_parked *p = pm_order_pass(&o, 0);
	ck_assert_ptr_eq(p, &w[1].p);

	/* The merge stops while input 1 is being written for its owner. */
	pm_order_cancel(&o);
	for (size_t i = 2; i < N; i++) {
		ck_assert_int_eq(owner_join(&w[i]), -ECANCELED);
		ck_assert_int_eq(state_of(&o, &w[i].p), PM_PARKED_READY);
		ck_assert_ptr_null(parked_at(&o, i));
	}
	/* Input 1's buffer is still being read by the taker: its owner
	 * must not leave, cancelled or not. */
	wake_all(&o);
	uu_wait_blocked(atomic_load(&w[1].tid));
	ck_assert_int_eq(read_int(&w[1].state), 1);
	ck_assert_int_eq(state_of(&o, &w[1].p), PM_PARKED_TAKEN);

	/* Once written, nothing more is handed over (its successor's
	 * owner has left), and the owner learns that its unit went out. */
	ck_assert_uint_eq(unit_decode(p), 1);
	log_put(unit_decode(p));
	ck_assert_ptr_null(pm_order_pass(&o, 1));
	int rc = owner_join(&w[1]);
	ck_assert_int_eq(state_of(&o, &w[1].p), PM_PARKED_DONE);
	ck_assert_ptr_null(parked_at(&o, 1));
	ck_assert_msg(rc == 1,
	              "offer of a unit written by the passer returned %d after "
	              "a cancel, not 1 (done)",
	              rc);
	log_check(2);

	/* Cancellation is sticky for offers too, even on one's own turn. */
	char buf[24];
	struct pm_parked late = {
	    .idx = 2, .buf = buf, .len = unit_encode(buf, sizeof(buf), 2)};
	ck_assert_int_eq(pm_order_offer(&o, &late), -ECANCELED);
	ck_assert_ptr_null(parked_at(&o, 2));
	pm_order_destroy(&o);
	free(g_out);
}
END_TEST

/*
 * Workers in the manner of the engine: each takes the next input, "reads"
 * it, then either parks it or (as for an input too large to buffer) waits
 * for its turn; whoever holds the turn writes and passes on every unit
 * handed over.
 */
struct stress {
	struct pm_order o;
	atomic_size_t next;
	size_t total;
	atomic_uchar *writes; /* per input: how many times it was written */
	atomic_int bad;       /* protocol violations seen by the workers */
	atomic_size_t own;    /* offers that returned 0 */
	atomic_size_t taken;  /* offers that returned 1 */
	atomic_bool finished;
};

static struct stress g_st;

static void stress_fail(void)
{
	atomic_fetch_add(&g_st.bad, 1);
	/* Release everybody, or one lost turn hangs the test to its
	 * timeout instead of failing it. */
	pm_order_cancel(&g_st.o);
}

static void stress_write(size_t v)
{
	if (v >= g_st.total) {
		stress_fail();
		return;
	}
	atomic_fetch_add_explicit(&g_st.writes[v], 1, memory_order_relaxed);
	log_put(v);
}

static void stress_pass_on(size_t idx)
{
	struct pm_parked *p = pm_order_pass(&g_st.o, idx);
	while (p) {
		if (p->idx != idx + 1 || p->state != PM_PARKED_TAKEN) {
			stress_fail();
			return;
		}
		stress_write(unit_decode(p));
		idx = p->idx;
		p = pm_order_pass(&g_st.o, idx);
	}
}

static void *stress_main(void *arg)
{
	uint64_t seed = 0x9E3779B97F4A7C15ull * ((uintptr_t)arg + 1);
	char buf[24];

	for (;;) {
		size_t idx = atomic_fetch_add(&g_st.next, 1);
		if (idx >= g_st.total)
			break;
		uint64_t r = uu_rand(&seed);
		/* Readiness in a scrambled order: most inputs take a
		 * moment, some none, a few give up the processor. */
		if ((r & 15) == 0)
			sched_yield();
		else if (r & 3)
			for (volatile unsigned k = 0; k < (r >> 8) % 256; k++)
				;
		if ((r >> 4) % 8 == 0) {
			if (pm_order_wait(&g_st.o, idx) != 0) {
				stress_fail();
				break;
			}
			stress_write(idx);
		} else {
			struct pm_parked p = {
			    .idx = idx,
			    .buf = buf,
			    .len = unit_encode(buf, sizeof(buf), idx),
			};
			int rc = pm_order_offer(&g_st.o, &p);
			if (rc == 1) {
				if (p.state != PM_PARKED_DONE)
					stress_fail();
				atomic_fetch_add(&g_st.taken, 1);
				/* Reused at once, as the engine reuses its
				 * read buffer: a writer still reading it
				 * would log garbage. */
				memset(buf, 'x', sizeof(buf));
				continue;
			}
			if (rc != 0) {
				stress_fail();
				break;
			}
			atomic_fetch_add(&g_st.own, 1);
			stress_write(unit_decode(&p));
		}
		stress_pass_on(idx);
	}
	return NULL;
}

/* Spurious wake-ups, which condition variables allow, at every stage. */
static void *stress_waker(void *arg)
{
	(void)arg;
	while (!atomic_load(&g_st.finished)) {
		wake_all(&g_st.o);
		sched_yield();
	}
	return NULL;
}

static void run_stress(unsigned nthreads, size_t total)
{
	pthread_t th[16], waker;
	ck_assert_uint_le(nthreads, 16);
	ck_assert_int_eq(pm_order_init(&g_st.o), 0);
	atomic_store(&g_st.finished, false);
	atomic_store(&g_st.next, 0);
	atomic_store(&g_st.bad, 0);
	atomic_store(&g_st.own, 0);
	atomic_store(&g_st.taken, 0);
	g_st.total = total;
	g_st.writes = calloc(total, sizeof(*g_st.writes));
	ck_assert_ptr_nonnull(g_st.writes);
	log_init(total);
	for (unsigned i = 0; i < nthreads; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, stress_main,
		                                (void *)(uintptr_t)i),
		                 0);
	ck_assert_int_eq(pthread_create(&waker, NULL, stress_waker, NULL), 0);
	for (unsigned i = 0; i < nthreads; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	atomic_store(&g_st.finished, true);
	ck_assert_int_eq(pthread_join(waker, NULL), 0);

	ck_assert_int_eq(read_int(&g_st.bad), 0);
	for (size_t i = 0; i < total; i++)
		UU_EQ(atomic_load(&g_st.writes[i]), 1);
	log_check(total);
	ck_assert_uint_eq(g_st.o.turn, total);
	/* Both outcomes of an offer happened, or this proved little. */
	size_t own = atomic_load(&g_st.own), taken = atomic_load(&g_st.taken);
	ck_assert_uint_gt(own, 0);
	ck_assert_uint_gt(taken, 0);
	for (size_t i = 0; i < PMERGE_JOBS_MAX; i++)
		UU_TRUE(g_st.o.parked[i] == NULL);
	pm_order_destroy(&g_st.o);
	free(g_st.writes);
	free(g_out);
}

START_TEST(test_parked_stress)
{
	/* Past PMERGE_JOBS_MAX and PM_ORDER_SLOTS many times over, so that
	 * slots and condition variables are reused. */
	run_stress(4, 20000);
	run_stress(8, 20000);
	run_stress(16, 20000);
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
	TCase *park = tcase_create("parking");
	tcase_add_test(park, test_offer_own_turn);
	tcase_add_test(park, test_parked_taken_by_passer);
	tcase_add_test(park, test_parked_chain);
	tcase_add_test(park, test_parked_run);
	tcase_add_test(park, test_parked_chain_gap);
	tcase_add_test(park, test_pass_without_parked);
	tcase_add_test(park, test_cancel_parked);
	tcase_add_test(park, test_parked_stress);
	suite_add_tcase(s, park);
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
