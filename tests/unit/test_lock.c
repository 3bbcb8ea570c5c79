/*
 * Lock strategies: mutual exclusion (or at most N holders) under real
 * contention, the holder and depth figures, the per-worker counters, rlock
 * re-entry, and the parsing and formatting of strategy names.
 *
 * Contention is never inferred from timing: where a test needs a thread to
 * be blocked in the lock, it waits until the kernel reports that thread as
 * sleeping.
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

#define ITERS 20000u
/*
 * FIFO strategies hand the lock to one particular waiter, which with more
 * threads than cores is often asleep: every hand-over costs a wake-up, so
 * they get fewer rounds to finish in the same time.
 */
#define QITERS 2500u

static struct pm_worker_stats *stats_new(size_t n)
{
	size_t size = n * sizeof(struct pm_worker_stats);
	struct pm_worker_stats *st = aligned_alloc(PM_CACHELINE, size);
	ck_assert_ptr_nonnull(st);
	memset(st, 0, size);
	return st;
}

static void lock_init(struct pm_lock *l, enum pmerge_lock_kind kind, unsigned n,
                      bool detailed)
{
	struct pmerge_lock_spec spec = {kind, n};
	memset(l, 0, sizeof(*l));
	ck_assert_int_eq(pm_lock_init(l, &spec, detailed), 0);
}

/* Burns a little time inside the critical section without sleeping, so
 * that holders overlap with waiters. */
static void busy(unsigned n)
{
	for (volatile unsigned i = 0; i < n; i++)
		;
}

/* ------------------------------------------------------------ hammering */

/*
 * Shared state of one hammer run.  The exclusive counters are plain
 * (non-atomic, volatile so that every access really happens): only a lock
 * that excludes keeps them exact.
 */
static volatile long g_inside;
static volatile long g_total;
static atomic_long g_inside_shared;
static atomic_long g_violations;
static atomic_long g_seen_max;
static pthread_barrier_t g_start;

/*
 * Reads of the atomic figures for assertions: through a function, a failed
 * check prints the figure's name instead of the expanded atomic_load().
 */
static long read_long(atomic_long *p)
{
	return atomic_load(p);
}

static unsigned read_uint(atomic_uint *p)
{
	return atomic_load(p);
}

static int read_int(atomic_int *p)
{
	return atomic_load(p);
}

static uint64_t wait_ns(struct pm_worker_stats *st)
{
	return atomic_load(&st->wait_ns);
}

/* The rendezvous that makes sure N holders really are inside together. */
static pthread_mutex_t g_rv_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_rv_cv = PTHREAD_COND_INITIALIZER;
static unsigned g_rv_arrived;
static unsigned g_rv_need;
static bool g_rv_done;

struct hammer {
	pthread_t th;
	struct pm_lock *l;
	struct pm_worker_stats *st;
	unsigned iters;
	unsigned cap;  /* holders allowed at once */
	unsigned work; /* busy() units (shared: sleep ns) while holding */
};

static void note_inside(long now)
{
	long m = atomic_load(&g_seen_max);
	while (now > m && !atomic_compare_exchange_weak(&g_seen_max, &m, now))
		;
}

static void *hammer_exclusive(void *arg)
{
	struct hammer *h = arg;
	const struct timespec pause = {0, 1000};
	pthread_barrier_wait(&g_start);
	for (unsigned i = 0; i < h->iters; i++) {
		pm_lock_enter(h->l, h->st);
		g_inside = g_inside + 1;
		if (g_inside != 1)
			atomic_fetch_add(&g_violations, 1);
		g_total = g_total + 1;
		/* Now and then the holder sleeps: the other threads, ready
		 * to run, find the lock taken.  That makes contention (and
		 * a lock that fails to exclude) show on any number of
		 * cores. */
		if (i % 1000 == 0)
			nanosleep(&pause, NULL);
		busy(h->work);
		g_inside = g_inside - 1;
		pm_lock_leave(h->l, h->st);
	}
	return NULL;
}

/*
 * Holds the lock until cap holders are inside at once (or, after that has
 * happened once, not at all).  With a correct semaphore of N slots and at
 * least N threads this always completes.
 */
static void rendezvous(void)
{
	pthread_mutex_lock(&g_rv_mu);
	g_rv_arrived++;
	if (g_rv_arrived >= g_rv_need) {
		g_rv_done = true;
		pthread_cond_broadcast(&g_rv_cv);
	}
	while (!g_rv_done)
		pthread_cond_wait(&g_rv_cv, &g_rv_mu);
	pthread_mutex_unlock(&g_rv_mu);
}

static void *hammer_shared(void *arg)
{
	struct hammer *h = arg;
	const struct timespec pause = {0, h->work};
	pthread_barrier_wait(&g_start);
	for (unsigned i = 0; i < h->iters; i++) {
		pm_lock_enter(h->l, h->st);
		long now = atomic_fetch_add(&g_inside_shared, 1) + 1;
		if (now > (long)h->cap)
			atomic_fetch_add(&g_violations, 1);
		note_inside(now);
		if (i == 0)
			rendezvous();
		/* Sleeping while holding lets every other thread run and try
		 * its luck: a semaphore that admits one too many is caught
		 * even on few cores. */
		nanosleep(&pause, NULL);
		atomic_fetch_sub(&g_inside_shared, 1);
		pm_lock_leave(h->l, h->st);
	}
	return NULL;
}

/*
 * Runs nthreads hammer threads on a fresh lock of the given kind and
 * checks exclusion, the holder figures and every worker's counters.
 * Returns the summed contended count.
 */
static uint64_t hammer_run(enum pmerge_lock_kind kind, unsigned n,
                           unsigned nthreads, unsigned iters, unsigned work,
                           bool detailed)
{
	struct pm_lock l;
	struct pm_worker_stats *st = stats_new(nthreads);
	struct hammer *h = calloc(nthreads, sizeof(*h));
	bool shared = kind == PMERGE_LOCK_SEM;
	uint64_t acq = 0, cont = 0;

	ck_assert_ptr_nonnull(h);
	lock_init(&l, kind, n, detailed);
	g_inside = 0;
	g_total = 0;
	atomic_store(&g_inside_shared, 0);
	atomic_store(&g_violations, 0);
	atomic_store(&g_seen_max, 0);
	g_rv_arrived = 0;
	g_rv_need = shared ? n : 1;
	g_rv_done = false;
	ck_assert_int_eq(pthread_barrier_init(&g_start, NULL, nthreads), 0);
	for (unsigned i = 0; i < nthreads; i++) {
		h[i] = (struct hammer){.l = &l,
		                       .st = &st[i],
		                       .iters = iters,
		                       .cap = shared ? n : 1,
		                       .work = work};
		ck_assert_int_eq(
		    pthread_create(&h[i].th, NULL,
		                   shared ? hammer_shared : hammer_exclusive,
		                   &h[i]),
		    0);
	}
	for (unsigned i = 0; i < nthreads; i++)
		ck_assert_int_eq(pthread_join(h[i].th, NULL), 0);

	ck_assert_int_eq(read_long(&g_violations), 0);
	if (shared) {
		ck_assert_int_eq(read_long(&g_seen_max), n);
		ck_assert_uint_eq(read_uint(&l.max_holders), n);
	} else {
		ck_assert_int_eq(g_total, (long)nthreads * iters);
		ck_assert_uint_eq(read_uint(&l.max_holders), 1);
	}
	ck_assert_uint_eq(read_uint(&l.holders), 0);

	for (unsigned i = 0; i < nthreads; i++) {
		ck_assert_uint_eq(st[i].acquisitions, iters);
		ck_assert_uint_le(st[i].contended, st[i].acquisitions);
		ck_assert_uint_eq(st[i].max_depth, 1);
		if (st[i].contended == 0)
			ck_assert_uint_eq(wait_ns(&st[i]), 0);
		if (detailed) {
			/* Every hold is timed; the wait histogram adds up to
			 * the live wait counter. */
			ck_assert_uint_eq(st[i].hold.count, iters);
			ck_assert_uint_ge(st[i].wait.count, st[i].contended);
			ck_assert_uint_eq(st[i].wait.total,
			                  atomic_load(&st[i].wait_ns));
		} else {
			ck_assert_uint_eq(st[i].hold.count, 0);
		}
		acq += st[i].acquisitions;
		cont += st[i].contended;
	}
	ck_assert_uint_eq(acq, (uint64_t)nthreads * iters);

	pthread_barrier_destroy(&g_start);
	pm_lock_destroy(&l);
	free(h);
	free(st);
	return cont;
}

START_TEST(test_mutex_8)
{
	uint64_t cont = hammer_run(PMERGE_LOCK_MUTEX, 1, 8, ITERS, 50, false);
	/* Holders sleep now and then while other threads are ready to
	 * run: some acquisitions must have found the lock taken. */
	ck_assert_uint_gt(cont, 0);
}
END_TEST

START_TEST(test_mutex_16_detailed)
{
	hammer_run(PMERGE_LOCK_MUTEX, 1, 16, ITERS, 20, true);
}
END_TEST

START_TEST(test_rlock_8)
{
	hammer_run(PMERGE_LOCK_RLOCK, 1, 8, ITERS, 50, false);
}
END_TEST

START_TEST(test_rlock_16)
{
	hammer_run(PMERGE_LOCK_RLOCK, 1, 16, ITERS, 20, true);
}
END_TEST

START_TEST(test_spin_8)
{
	hammer_run(PMERGE_LOCK_SPIN, 1, 8, ITERS, 20, false);
}
END_TEST

START_TEST(test_spin_16)
{
	hammer_run(PMERGE_LOCK_SPIN, 1, 16, ITERS, 20, true);
}
END_TEST

/* The strategies added for the lock laboratory, in the same hammer. */
static const struct {
	enum pmerge_lock_kind kind;
	unsigned threads, work;
	bool detailed;
} queue_hammers[] = {
    {PMERGE_LOCK_TICKET, 8, 50, false},   {PMERGE_LOCK_TICKET, 16, 20, true},
    {PMERGE_LOCK_MCS, 8, 50, false},      {PMERGE_LOCK_MCS, 16, 20, true},
    {PMERGE_LOCK_ADAPTIVE, 8, 50, false}, {PMERGE_LOCK_ADAPTIVE, 16, 20, true},
};

START_TEST(test_queue_locks)
{
	uint64_t cont = hammer_run(
	    queue_hammers[_i].kind, 1, queue_hammers[_i].threads, QITERS,
	    queue_hammers[_i].work, queue_hammers[_i].detailed);
	/* Holders sleep now and then: some acquisitions found it taken. */
	ck_assert_uint_gt(cont, 0);
}
END_TEST

START_TEST(test_sem_3)
{
	hammer_run(PMERGE_LOCK_SEM, 3, 8, 1000, 1000, false);
}
END_TEST

START_TEST(test_sem_4)
{
	hammer_run(PMERGE_LOCK_SEM, 4, 8, 1000, 1000, true);
}
END_TEST

START_TEST(test_sem_1_excludes)
{
	/* sem:1 must behave as a mutex. */
	hammer_run(PMERGE_LOCK_SEM, 1, 8, 400, 1000, false);
}
END_TEST

/* ------------------------------------------- holders, blocked waiters */

/* A thread that takes the lock, reports, and holds it until told. */
struct holder {
	pthread_t th;
	struct pm_lock *l;
	struct pm_worker_stats *st;
	atomic_int tid;
	atomic_int phase; /* 1: about to enter, 2: inside, 3: left */
	atomic_bool release;
};

static pthread_mutex_t g_hold_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_hold_cv = PTHREAD_COND_INITIALIZER;

static void *holder_main(void *arg)
{
	struct holder *h = arg;
	atomic_store(&h->tid, uu_gettid());
	atomic_store(&h->phase, 1);
	pm_lock_enter(h->l, h->st);
	atomic_store(&h->phase, 2);
	pthread_mutex_lock(&g_hold_mu);
	while (!atomic_load(&h->release))
		pthread_cond_wait(&g_hold_cv, &g_hold_mu);
	pthread_mutex_unlock(&g_hold_mu);
	pm_lock_leave(h->l, h->st);
	atomic_store(&h->phase, 3);
	return NULL;
}

static void holder_start(struct holder *h, struct pm_lock *l,
                         struct pm_worker_stats *st)
{
	h->l = l;
	h->st = st;
	atomic_store(&h->tid, 0);
	atomic_store(&h->phase, 0);
	atomic_store(&h->release, false);
	ck_assert_int_eq(pthread_create(&h->th, NULL, holder_main, h), 0);
}

static void holder_release(struct holder *h)
{
	pthread_mutex_lock(&g_hold_mu);
	atomic_store(&h->release, true);
	pthread_cond_broadcast(&g_hold_cv);
	pthread_mutex_unlock(&g_hold_mu);
}

static void wait_phase(struct holder *h, int phase)
{
	const struct timespec pause = {0, 200000};
	while (atomic_load(&h->phase) < phase)
		nanosleep(&pause, NULL);
}

/*
 * n holders get in without waiting; holder n+1 blocks (the kernel shows
 * it asleep while it has not got in) and is counted as contended; it gets
 * in once one holder leaves.
 */
static void check_capacity(enum pmerge_lock_kind kind, unsigned n)
{
	struct pm_lock l;
	struct pm_worker_stats *st = stats_new(n + 1);
	struct holder *h = calloc(n + 1, sizeof(*h));
	ck_assert_ptr_nonnull(h);
	lock_init(&l, kind, n, true);

	for (unsigned i = 0; i < n; i++) {
		holder_start(&h[i], &l, &st[i]);
		wait_phase(&h[i], 2);
	}
	ck_assert_uint_eq(read_uint(&l.holders), n);

	holder_start(&h[n], &l, &st[n]);
	wait_phase(&h[n], 1);
	uu_wait_blocked(atomic_load(&h[n].tid));
	ck_assert_int_eq(read_int(&h[n].phase), 1);
	ck_assert_uint_eq(read_uint(&l.holders), n);

	holder_release(&h[0]);
	wait_phase(&h[n], 2);
	for (unsigned i = 1; i <= n; i++)
		holder_release(&h[i]);
	for (unsigned i = 0; i <= n; i++)
		ck_assert_int_eq(pthread_join(h[i].th, NULL), 0);

	for (unsigned i = 0; i < n; i++) {
		ck_assert_uint_eq(st[i].acquisitions, 1);
		ck_assert_uint_eq(st[i].contended, 0);
		ck_assert_uint_eq(wait_ns(&st[i]), 0);
	}
	ck_assert_uint_eq(st[n].acquisitions, 1);
	ck_assert_uint_eq(st[n].contended, 1);
	/* It really slept, so some wait was recorded, in the counter and
	 * in the histogram alike. */
	ck_assert_uint_gt(wait_ns(&st[n]), 0);
	ck_assert_uint_eq(st[n].wait.total, wait_ns(&st[n]));
	ck_assert_uint_eq(st[n].hold.count, 1);
	ck_assert_uint_eq(read_uint(&l.max_holders), n);
	ck_assert_uint_eq(read_uint(&l.holders), 0);
	pm_lock_destroy(&l);
	free(h);
	free(st);
}

START_TEST(test_capacity_mutex)
{
	check_capacity(PMERGE_LOCK_MUTEX, 1);
}
END_TEST

START_TEST(test_capacity_rlock)
{
	check_capacity(PMERGE_LOCK_RLOCK, 1);
}
END_TEST

START_TEST(test_capacity_queue_locks)
{
	/* The waiter of a spinning strategy ends up asleep in the kernel
	 * too: that is what keeps it off the holder's core. */
	check_capacity(PMERGE_LOCK_TICKET, 1);
	check_capacity(PMERGE_LOCK_MCS, 1);
	check_capacity(PMERGE_LOCK_ADAPTIVE, 1);
}
END_TEST

START_TEST(test_capacity_sem)
{
	check_capacity(PMERGE_LOCK_SEM, 1);
	check_capacity(PMERGE_LOCK_SEM, 3);
}
END_TEST

/* ---------------------------------------------- FIFO service, hand-over */

/* How many threads wait behind the holder, read from the lock itself. */
static unsigned queued_ticket(struct pm_lock *l, struct pm_mcs_node *head)
{
	(void)head;
	return atomic_load(&l->u.ticket.next) -
	       atomic_load(&l->u.ticket.serving) - 1;
}

/* The MCS queue is a list from the holder's node (head) to the tail;
 * count the waiters linked into it. */
static unsigned queued_mcs(struct pm_lock *l, struct pm_mcs_node *head)
{
	unsigned n = 0;
	(void)l;
	for (struct pm_mcs_node *p = atomic_load(&head->next); p;
	     p = atomic_load(&p->next))
		n++;
	return n;
}

typedef unsigned (*queued_fn)(struct pm_lock *l, struct pm_mcs_node *head);

static void wait_queued(struct pm_lock *l, struct pm_mcs_node *head,
                        queued_fn queued, unsigned n)
{
	const struct timespec pause = {0, 200000};
	while (queued(l, head) < n)
		nanosleep(&pause, NULL);
	ck_assert_uint_eq(queued(l, head), n);
}

/* The order in which the waiters got in, written under the lock. */
#define FIFO_WAITERS 6
static unsigned g_served[FIFO_WAITERS];
static unsigned g_n_served;

struct fifo_waiter {
	pthread_t th;
	struct pm_lock *l;
	struct pm_worker_stats *st;
	unsigned index;
	atomic_int tid;
};

static void *fifo_waiter_main(void *arg)
{
	struct fifo_waiter *w = arg;
	atomic_store(&w->tid, uu_gettid());
	pm_lock_enter(w->l, w->st);
	g_served[g_n_served++] = w->index;
	pm_lock_leave(w->l, w->st);
	return NULL;
}

/*
 * The test thread holds the lock while waiters queue up one at a time (the
 * next starts only when the lock shows the previous one queued, and asleep);
 * once released, they must be served exactly in the order they queued.
 */
static void check_fifo(enum pmerge_lock_kind kind, queued_fn queued)
{
	struct pm_lock l;
	struct pm_worker_stats *st = stats_new(FIFO_WAITERS + 1);
	struct fifo_waiter w[FIFO_WAITERS];

	lock_init(&l, kind, 1, false);
	g_n_served = 0;
	pm_lock_enter(&l, &st[FIFO_WAITERS]);
	struct pm_mcs_node *head =
	    kind == PMERGE_LOCK_MCS ? atomic_load(&l.u.mcs_tail) : NULL;
	for (unsigned i = 0; i < FIFO_WAITERS; i++) {
		w[i] = (struct fifo_waiter){.l = &l, .st = &st[i], .index = i};
		atomic_store(&w[i].tid, 0);
		ck_assert_int_eq(
		    pthread_create(&w[i].th, NULL, fifo_waiter_main, &w[i]), 0);
		wait_queued(&l, head, queued, i + 1);
		while (atomic_load(&w[i].tid) == 0)
			sched_yield();
		uu_wait_blocked(atomic_load(&w[i].tid));
	}
	ck_assert_uint_eq(g_n_served, 0);
	pm_lock_leave(&l, &st[FIFO_WAITERS]);
	for (unsigned i = 0; i < FIFO_WAITERS; i++)
		ck_assert_int_eq(pthread_join(w[i].th, NULL), 0);
	ck_assert_uint_eq(g_n_served, FIFO_WAITERS);
	for (unsigned i = 0; i < FIFO_WAITERS; i++) {
		ck_assert_msg(g_served[i] == i,
		              "%s: waiter %u queued %u-th but was served "
		              "%u-th",
		              l.ops->name, g_served[i], g_served[i] + 1, i + 1);
		ck_assert_uint_eq(st[i].contended, 1);
	}
	pm_lock_destroy(&l);
	free(st);
}

START_TEST(test_ticket_fifo)
{
	check_fifo(PMERGE_LOCK_TICKET, queued_ticket);
}
END_TEST

START_TEST(test_mcs_fifo)
{
	check_fifo(PMERGE_LOCK_MCS, queued_mcs);
}
END_TEST

static bool free_for_others(struct pm_lock *l);

/*
 * A release with a waiter queued hands the lock to that waiter: the lock is
 * never free in between, so no other thread can take it even before the
 * sleeping successor has woken up.  (A barging mutex would be free there.)
 */
static void check_handover(enum pmerge_lock_kind kind, queued_fn queued)
{
	struct pm_lock l;
	struct pm_worker_stats *st = stats_new(2);
	struct holder h;

	lock_init(&l, kind, 1, true);
	pm_lock_enter(&l, &st[0]);
	struct pm_mcs_node *head =
	    kind == PMERGE_LOCK_MCS ? atomic_load(&l.u.mcs_tail) : NULL;
	holder_start(&h, &l, &st[1]);
	wait_phase(&h, 1);
	wait_queued(&l, head, queued, 1);
	uu_wait_blocked(atomic_load(&h.tid));
	ck_assert_int_eq(read_int(&h.phase), 1);

	pm_lock_leave(&l, &st[0]);
	ck_assert_msg(!free_for_others(&l),
	              "%s: the lock was free after a release with a waiter "
	              "queued",
	              l.ops->name);
	if (kind == PMERGE_LOCK_MCS)
		ck_assert_ptr_nonnull(atomic_load(&l.u.mcs_tail));
	/* The successor wakes up holding it. */
	wait_phase(&h, 2);
	ck_assert(!free_for_others(&l));
	holder_release(&h);
	ck_assert_int_eq(pthread_join(h.th, NULL), 0);
	ck_assert(free_for_others(&l));
	if (kind == PMERGE_LOCK_MCS)
		ck_assert_ptr_null(atomic_load(&l.u.mcs_tail));
	ck_assert_uint_eq(st[1].acquisitions, 1);
	ck_assert_uint_eq(st[1].contended, 1);
	pm_lock_destroy(&l);
	free(st);
}

START_TEST(test_mcs_handover)
{
	check_handover(PMERGE_LOCK_MCS, queued_mcs);
}
END_TEST

START_TEST(test_ticket_handover)
{
	check_handover(PMERGE_LOCK_TICKET, queued_ticket);
}
END_TEST

/* ---------------------------------------------------------- fairness */

START_TEST(test_fairness_values)
{
	/* Worked by hand: (sum x)^2 / (n * sum x^2). */
	static const struct {
		uint64_t x[4];
		size_t n;
		double want;
	} cases[] = {
	    {{5, 5, 5, 5}, 4, 1.0},         /* 400 / (4 * 100) */
	    {{8, 0, 0, 0}, 4, 0.25},        /* 64 / (4 * 64): one did all */
	    {{1, 2, 3, 0}, 3, 36.0 / 42.0}, /* 36 / (3 * 14) */
	    {{10, 20, 0, 0}, 2, 0.9},       /* 900 / (2 * 500) */
	    {{3, 1, 0, 0}, 2, 0.8},         /* 16 / (2 * 10) */
	    {{1, 1, 0, 0}, 4, 0.5},         /* 4 / (4 * 2) */
	    {{7, 0, 0, 0}, 1, 1.0},         /* one worker is always fair */
	    {{0, 0, 0, 0}, 3, 1.0},         /* nobody served: alike */
	    {{0, 0, 0, 0}, 0, 1.0},         /* no workers */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pmerge_worker_result w[4] = {{0}};
		for (size_t k = 0; k < 4; k++)
			w[k].acquisitions = cases[i].x[k];
		double got = pmerge_fairness(w, cases[i].n);
		ck_assert_msg(got > cases[i].want - 1e-12 &&
		                  got < cases[i].want + 1e-12,
		              "case %zu: fairness %.15f, want %.15f", i, got,
		              cases[i].want);
	}
	/* Large counts do not overflow: 2^40 each is still 1.0. */
	struct pmerge_worker_result big[3] = {{0}};
	for (size_t k = 0; k < 3; k++)
		big[k].acquisitions = 1ull << 40;
	ck_assert_double_eq_tol(pmerge_fairness(big, 3), 1.0, 1e-12);
}
END_TEST

/* ---------------------------------------------------------- re-entry */

struct try_arg {
	struct pm_lock *l;
	bool got;
};

/* From another thread: would the lock be free for someone else? */
static void *try_other(void *arg)
{
	struct try_arg *t = arg;
	t->got = t->l->ops->try_acquire(t->l);
	if (t->got)
		t->l->ops->release(t->l);
	return NULL;
}

static bool free_for_others(struct pm_lock *l)
{
	pthread_t th;
	struct try_arg t = {l, false};
	ck_assert_int_eq(pthread_create(&th, NULL, try_other, &t), 0);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	return t.got;
}

START_TEST(test_rlock_reenter)
{
	struct pm_lock l;
	struct pm_worker_stats *st = stats_new(1);
	unsigned depth = 0;
	lock_init(&l, PMERGE_LOCK_RLOCK, 1, false);
	ck_assert(l.ops->reentrant);

	pm_lock_enter(&l, st);
	ck_assert_uint_eq(st->max_depth, 1);
	/* Each nested hold is a real acquisition of the recursive mutex;
	 * without one, this thread would deadlock here. */
	pm_lock_reenter(&l, st, &depth);
	ck_assert_uint_eq(depth, 1);
	ck_assert_uint_eq(st->max_depth, 2);
	pm_lock_reenter(&l, st, &depth);
	pm_lock_reenter(&l, st, &depth);
	ck_assert_uint_eq(depth, 3);
	ck_assert_uint_eq(st->max_depth, 4);
	ck_assert(!free_for_others(&l));

	pm_lock_reexit(&l, &depth);
	pm_lock_reexit(&l, &depth);
	ck_assert_uint_eq(depth, 1);
	/* The depth figure is the deepest seen, not the current one. */
	ck_assert_uint_eq(st->max_depth, 4);
	ck_assert(!free_for_others(&l));
	pm_lock_reexit(&l, &depth);
	ck_assert_uint_eq(depth, 0);
	/* Back at the outer hold: still ours. */
	ck_assert(!free_for_others(&l));

	pm_lock_leave(&l, st);
	/* Released fully: another thread can take it now. */
	ck_assert(free_for_others(&l));

	/* Nested holds never wait, and the acquisition figure counts holds
	 * per unit: re-entries are not acquisitions. */
	ck_assert_uint_eq(st->acquisitions, 1);
	ck_assert_uint_eq(st->contended, 0);
	ck_assert_uint_eq(read_uint(&l.max_holders), 1);
	ck_assert_uint_eq(read_uint(&l.holders), 0);

	/* A second unit with a shallower nesting keeps the deeper figure. */
	pm_lock_enter(&l, st);
	pm_lock_reenter(&l, st, &depth);
	pm_lock_reexit(&l, &depth);
	pm_lock_leave(&l, st);
	ck_assert_uint_eq(st->acquisitions, 2);
	ck_assert_uint_eq(st->max_depth, 4);
	ck_assert(free_for_others(&l));
	pm_lock_destroy(&l);
	free(st);
}
END_TEST

/* Threads that re-enter around every "write", as the append path does. */
static void *hammer_reenter(void *arg)
{
	struct hammer *h = arg;
	pthread_barrier_wait(&g_start);
	for (unsigned i = 0; i < h->iters; i++) {
		unsigned depth = 0;
		pm_lock_enter(h->l, h->st);
		for (unsigned w = 0; w < 1 + i % 3; w++) {
			pm_lock_reenter(h->l, h->st, &depth);
			g_inside = g_inside + 1;
			if (g_inside != 1)
				atomic_fetch_add(&g_violations, 1);
			g_total = g_total + 1;
			g_inside = g_inside - 1;
			pm_lock_reexit(h->l, &depth);
		}
		if (depth != 0)
			atomic_fetch_add(&g_violations, 1);
		pm_lock_leave(h->l, h->st);
	}
	return NULL;
}

static void reenter_run(enum pmerge_lock_kind kind, unsigned want_depth)
{
	enum { N = 8, IT = 5000 };
	struct pm_lock l;
	struct pm_worker_stats *st = stats_new(N);
	struct hammer h[N];
	long writes = 0;
	lock_init(&l, kind, 1, false);
	g_inside = 0;
	g_total = 0;
	atomic_store(&g_violations, 0);
	ck_assert_int_eq(pthread_barrier_init(&g_start, NULL, N), 0);
	for (unsigned i = 0; i < N; i++) {
		h[i] = (struct hammer){.l = &l, .st = &st[i], .iters = IT};
		ck_assert_int_eq(
		    pthread_create(&h[i].th, NULL, hammer_reenter, &h[i]), 0);
	}
	for (unsigned i = 0; i < N; i++)
		ck_assert_int_eq(pthread_join(h[i].th, NULL), 0);
	for (unsigned i = 0; i < IT; i++)
		writes += 1 + i % 3;
	ck_assert_int_eq(read_long(&g_violations), 0);
	ck_assert_int_eq(g_total, writes * N);
	for (unsigned i = 0; i < N; i++) {
		ck_assert_uint_eq(st[i].acquisitions, IT);
		ck_assert_uint_le(st[i].contended, IT);
		ck_assert_uint_eq(st[i].max_depth, want_depth);
	}
	ck_assert_uint_eq(read_uint(&l.max_holders), 1);
	ck_assert(free_for_others(&l));
	pthread_barrier_destroy(&g_start);
	pm_lock_destroy(&l);
	free(st);
}

START_TEST(test_rlock_reenter_contended)
{
	reenter_run(PMERGE_LOCK_RLOCK, 2);
}
END_TEST

START_TEST(test_reenter_noop_for_others)
{
	/* For non-reentrant strategies re-entry must do nothing: taking a
	 * normal mutex or spinlock again would deadlock. */
	static const enum pmerge_lock_kind kinds[] = {
	    PMERGE_LOCK_MUTEX,  PMERGE_LOCK_SPIN, PMERGE_LOCK_SEM,
	    PMERGE_LOCK_TICKET, PMERGE_LOCK_MCS,  PMERGE_LOCK_ADAPTIVE};
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		struct pm_lock l;
		struct pm_worker_stats *st = stats_new(1);
		unsigned depth = 0;
		lock_init(&l, kinds[k], 1, false);
		ck_assert(!l.ops->reentrant);
		pm_lock_enter(&l, st);
		pm_lock_reenter(&l, st, &depth);
		ck_assert_uint_eq(depth, 0);
		ck_assert(!free_for_others(&l));
		pm_lock_reexit(&l, &depth);
		ck_assert_uint_eq(depth, 0);
		ck_assert(!free_for_others(&l));
		pm_lock_leave(&l, st);
		ck_assert(free_for_others(&l));
		ck_assert_uint_eq(st->max_depth, 1);
		ck_assert_uint_eq(st->acquisitions, 1);
		pm_lock_destroy(&l);
		free(st);
	}
	reenter_run(PMERGE_LOCK_MUTEX, 1);
}
END_TEST

/* ----------------------------------------------------- parse and format */

START_TEST(test_parse_good)
{
	static const struct {
		const char *text;
		enum pmerge_lock_kind kind;
		unsigned n;
	} good[] = {
	    {"mutex", PMERGE_LOCK_MUTEX, 1},
	    {"rlock", PMERGE_LOCK_RLOCK, 1},
	    {"spin", PMERGE_LOCK_SPIN, 1},
	    {"sem:1", PMERGE_LOCK_SEM, 1},
	    {"sem:4", PMERGE_LOCK_SEM, 4},
	    {"sem:1024", PMERGE_LOCK_SEM, 1024},
	    {"ticket", PMERGE_LOCK_TICKET, 1},
	    {"mcs", PMERGE_LOCK_MCS, 1},
	    {"adaptive", PMERGE_LOCK_ADAPTIVE, 1},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct pmerge_lock_spec spec = {PMERGE_LOCK_COUNT_, 777};
		char buf[32];
		ck_assert_int_eq(pmerge_lock_parse(good[i].text, &spec), 0);
		ck_assert_int_eq(spec.kind, good[i].kind);
		ck_assert_uint_eq(spec.n, good[i].n);
		memset(buf, 'x', sizeof(buf));
		ck_assert_ptr_eq(pmerge_lock_format(&spec, buf, sizeof(buf)),
		                 buf);
		ck_assert_str_eq(buf, good[i].text);

		/* And each parsed spec makes a working lock. */
		struct pm_lock l;
		struct pm_worker_stats *st = stats_new(1);
		ck_assert_int_eq(pm_lock_init(&l, &spec, false), 0);
		pm_lock_enter(&l, st);
		pm_lock_leave(&l, st);
		ck_assert_uint_eq(st->acquisitions, 1);
		pm_lock_destroy(&l);
		free(st);
	}
}
END_TEST

START_TEST(test_parse_bad)
{
	static const char *const bad[] = {
	    "",
	    "bogus",
	    "sem:",
	    "sem:0",
	    "sem:-1",
	    "sem:x",
	    "sem:1025",
	    "sem:4x",
	    "mutex2",
	    "sem",
	    "sem:4:",
	    "sem:1.5",
	    "Mutex",
	    " mutex",
	    "mutex ",
	    "sem:4294967297",
	    "sem:99999999999999999999999",
	    "rlock\n",
	    "Ticket",
	    "mcs ",
	    "adaptive:2",
	    "ticket,mcs",
	    "mc",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pmerge_lock_spec spec = {PMERGE_LOCK_SPIN, 9};
		ck_assert_msg(pmerge_lock_parse(bad[i], &spec) == -EINVAL,
		              "\"%s\" was accepted", bad[i]);
	}
}
END_TEST

START_TEST(test_format_truncates)
{
	struct pmerge_lock_spec spec = {PMERGE_LOCK_SEM, 1024};
	char buf[8];
	memset(buf, 'x', sizeof(buf));
	pmerge_lock_format(&spec, buf, 4);
	/* Always terminated, never past size, a prefix of the full name. */
	ck_assert_str_eq(buf, "sem");
	ck_assert_int_eq(buf[4], 'x');
	memset(buf, 'x', sizeof(buf));
	pmerge_lock_format(&spec, buf, 1);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(buf[1], 'x');
}
END_TEST

START_TEST(test_init_rejects_zero_holders)
{
	struct pmerge_lock_spec spec = {PMERGE_LOCK_SEM, 0};
	struct pm_lock l;
	/* A semaphore nobody may hold is a configuration error, not a lock
	 * that deadlocks the merge. */
	ck_assert_int_lt(pm_lock_init(&l, &spec, false), 0);
}
END_TEST

static Suite *lock_suite(void)
{
	Suite *s = suite_create("lock");
	TCase *tc = tcase_create("exclusion");
	tcase_add_test(tc, test_mutex_8);
	tcase_add_test(tc, test_mutex_16_detailed);
	tcase_add_test(tc, test_rlock_8);
	tcase_add_test(tc, test_rlock_16);
	tcase_add_test(tc, test_spin_8);
	tcase_add_test(tc, test_spin_16);
	tcase_add_loop_test(
	    tc, test_queue_locks, 0,
	    (int)(sizeof(queue_hammers) / sizeof(queue_hammers[0])));
	tcase_add_test(tc, test_sem_3);
	tcase_add_test(tc, test_sem_4);
	tcase_add_test(tc, test_sem_1_excludes);
	suite_add_tcase(s, tc);

	tc = tcase_create("capacity");
	tcase_add_test(tc, test_capacity_mutex);
	tcase_add_test(tc, test_capacity_rlock);
	tcase_add_test(tc, test_capacity_sem);
	tcase_add_test(tc, test_capacity_queue_locks);
	suite_add_tcase(s, tc);

	tc = tcase_create("fifo");
	tcase_add_test(tc, test_ticket_fifo);
	tcase_add_test(tc, test_mcs_fifo);
	tcase_add_test(tc, test_ticket_handover);
	tcase_add_test(tc, test_mcs_handover);
	suite_add_tcase(s, tc);

	tc = tcase_create("fairness");
	tcase_add_test(tc, test_fairness_values);
	suite_add_tcase(s, tc);

	tc = tcase_create("reenter");
	tcase_add_test(tc, test_rlock_reenter);
	tcase_add_test(tc, test_rlock_reenter_contended);
	tcase_add_test(tc, test_reenter_noop_for_others);
	suite_add_tcase(s, tc);

	tc = tcase_create("names");
	tcase_add_test(tc, test_parse_good);
	tcase_add_test(tc, test_parse_bad);
	tcase_add_test(tc, test_format_truncates);
	tcase_add_test(tc, test_init_rejects_zero_holders);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* Blocked threads are recognised through /proc. */
	if (access("/proc/self/task", R_OK) != 0)
		return 77;
	SRunner *sr = srunner_create(lock_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
