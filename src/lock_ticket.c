/*
 * "ticket": a ticket lock, FIFO-fair.  A worker takes the next ticket
 * (fetch-and-add on next) and waits until serving shows its number; leaving
 * moves serving on by one.  Workers are therefore served in the order they
 * asked, and nobody can barge past a waiter, which is what the fairness
 * figure shows against mutex.
 *
 * Waiting: a few hundred pause rounds, then sched_yield, then a futex sleep
 * on serving (see pm_lock_backoff).  The sleep matters on this workload: in
 * --unit=file a holder keeps the lock while it reads a whole input, possibly
 * a slow FIFO, and with more workers than cores a pure spinner would take
 * the CPU from the holder.  Because every waiter watches the one counter, a
 * release wakes every sleeper and all but one go back to sleep: the cost of
 * a ticket lock under heavy contention, which mcs avoids.
 */
#include "internal.h"

#include <limits.h>

static int ticket_init(struct pm_lock *l, unsigned n)
{
	struct pm_ticket *t = &l->u.ticket;

	(void)n;
	atomic_init(&t->next, 0);
	atomic_init(&t->serving, 0);
	atomic_init(&t->sleepers, 0);
	return 0;
}

/*
 * Takes the lock only when nobody holds or waits for it (next == serving):
 * a free lock is taken at once, but never ahead of a queued waiter.
 */
static bool ticket_try(struct pm_lock *l)
{
	struct pm_ticket *t = &l->u.ticket;
	uint32_t s = atomic_load_explicit(&t->serving, memory_order_acquire);
	uint32_t want = s;

	return atomic_compare_exchange_strong_explicit(
	    &t->next, &want, s + 1, memory_order_acquire, memory_order_relaxed);
}

static void ticket_acquire(struct pm_lock *l)
{
	struct pm_ticket *t = &l->u.ticket;
	uint32_t mine =
	    atomic_fetch_add_explicit(&t->next, 1, memory_order_relaxed);
	unsigned round = 0;

	for (;;) {
		uint32_t now =
		    atomic_load_explicit(&t->serving, memory_order_acquire);

		if (now == mine)
			return;
		if (!pm_lock_backoff(&round))
			continue;
		/*
		 * Announce the sleep before looking once more: either the
		 * releaser sees the announcement and wakes us, or we see its
		 * new serving value and do not sleep (both sides are
		 * sequentially consistent).
		 */
		atomic_fetch_add_explicit(&t->sleepers, 1,
		                          memory_order_seq_cst);
		if (atomic_load_explicit(&t->serving, memory_order_seq_cst) ==
		    now)
			pm_futex_wait(&t->serving, now);
		atomic_fetch_sub_explicit(&t->sleepers, 1,
		                          memory_order_relaxed);
	}
}

static void ticket_release(struct pm_lock *l)
{
	struct pm_ticket *t = &l->u.ticket;
	uint32_t s = atomic_load_explicit(&t->serving, memory_order_relaxed);

	atomic_store_explicit(&t->serving, s + 1, memory_order_seq_cst);
	if (atomic_load_explicit(&t->sleepers, memory_order_seq_cst))
		pm_futex_wake(&t->serving, INT_MAX);
}

static void ticket_destroy(struct pm_lock *l)
{
	(void)l;
}

const struct pm_lock_ops pm_lock_ticket_ops = {
    .name = "ticket",
    .init = ticket_init,
    .try_acquire = ticket_try,
    .acquire = ticket_acquire,
    .release = ticket_release,
    .destroy = ticket_destroy,
};
