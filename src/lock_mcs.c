/*
 * "mcs": the Mellor-Crummey and Scott queue lock.  The lock is one pointer,
 * the tail of a queue of waiters; each waiter spins on a flag in its own
 * node, on its own cache line, and the holder hands over by writing its
 * successor's flag only.  Under contention a release therefore touches one
 * waiter's line instead of every waiter's, and service is FIFO.
 *
 * Where the node lives: acquire and release come through the ops table with
 * no per-caller argument, so each thread owns one node in thread-local
 * storage.  A node is in use from acquire to release, and a worker holds at
 * most one MCS lock at a time (the sink's), so one node per thread is
 * enough; the node records the lock it is queued on, and debug builds assert
 * that it is free when a thread asks again.  Once release returns, no other
 * thread refers to the node, so a thread may exit after leaving the lock.
 * The same thread that acquired must release, as with a pthread mutex.
 *
 * Waiting: pause rounds, then sched_yield, then a futex sleep on the node's
 * own state word (see pm_lock_backoff); the releaser wakes exactly that
 * waiter, only if it said it went to sleep.  The short wait in release for a
 * successor that has joined the queue but not yet linked itself pauses and
 * then yields: that successor is running or about to, never asleep.
 */
#include "internal.h"

#include <assert.h>

enum {
	MCS_WAITING = 0, /* queued, spinning */
	MCS_SLEEPING,    /* queued, asleep in the kernel on state */
	MCS_GRANTED,     /* the predecessor handed the lock over */
};

static _Thread_local struct pm_mcs_node mcs_self;

static int mcs_init(struct pm_lock *l, unsigned n)
{
	(void)n;
	atomic_init(&l->u.mcs_tail, NULL);
	return 0;
}

static struct pm_mcs_node *mcs_node_take(const struct pm_lock *l)
{
	struct pm_mcs_node *me = &mcs_self;

	assert(me->lock == NULL);
	me->lock = l;
	atomic_store_explicit(&me->next, NULL, memory_order_relaxed);
	atomic_store_explicit(&me->state, MCS_WAITING, memory_order_relaxed);
	return me;
}

static bool mcs_try(struct pm_lock *l)
{
	struct pm_mcs_node *me = mcs_node_take(l), *none = NULL;

	if (atomic_compare_exchange_strong_explicit(&l->u.mcs_tail, &none, me,
	                                            memory_order_acq_rel,
	                                            memory_order_relaxed))
		return true;
	me->lock = NULL;
	return false;
}

static void mcs_acquire(struct pm_lock *l)
{
	struct pm_mcs_node *me = mcs_node_take(l);
	struct pm_mcs_node *prev =
	    atomic_exchange_explicit(&l->u.mcs_tail, me, memory_order_acq_rel);
	unsigned round = 0;

	if (!prev)
		return;
	atomic_store_explicit(&prev->next, me, memory_order_release);
	for (;;) {
		uint32_t s =
		    atomic_load_explicit(&me->state, memory_order_acquire);

		if (s == MCS_GRANTED)
			return;
		if (!pm_lock_backoff(&round))
			continue;
		/* Say we sleep; if the hand-over came first, it is ours. */
		if (s == MCS_WAITING &&
		    !atomic_compare_exchange_strong_explicit(
		        &me->state, &s, MCS_SLEEPING, memory_order_acquire,
		        memory_order_acquire))
			continue;
		pm_futex_wait(&me->state, MCS_SLEEPING);
	}
}

static void mcs_release(struct pm_lock *l)
{
	struct pm_mcs_node *me = &mcs_self, *expect = me;
	struct pm_mcs_node *next =
	    atomic_load_explicit(&me->next, memory_order_acquire);

	assert(me->lock == l);
	me->lock = NULL;
	if (!next) {
		/* Nobody queued behind us: the lock becomes free. */
		if (atomic_compare_exchange_strong_explicit(
		        &l->u.mcs_tail, &expect, NULL, memory_order_release,
		        memory_order_relaxed))
			return;
		/* Someone swapped the tail in but has not linked yet. */
		unsigned round = 0;
		while (!(next = atomic_load_explicit(&me->next,
		                                     memory_order_acquire))) {
			if (pm_lock_backoff(&round))
				sched_yield();
		}
	}
	/* After this exchange the successor may run, leave and exit: next is
	 * not read again, and the wake-up is harmless if it is gone. */
	if (atomic_exchange_explicit(&next->state, MCS_GRANTED,
	                             memory_order_release) == MCS_SLEEPING)
		pm_futex_wake(&next->state, 1);
}

static void mcs_destroy(struct pm_lock *l)
{
	(void)l;
}

const struct pm_lock_ops pm_lock_mcs_ops = {
    .name = "mcs",
    .init = mcs_init,
    .try_acquire = mcs_try,
    .acquire = mcs_acquire,
    .release = mcs_release,
    .destroy = mcs_destroy,
};
