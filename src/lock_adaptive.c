/*
 * "adaptive": glibc's adaptive mutex (PTHREAD_MUTEX_ADAPTIVE_NP).  A waiter
 * first spins on the lock word for a bounded number of rounds, adjusted from
 * how long earlier waits took (at most glibc.pthread.mutex_spin_count, 100
 * by default, each round a pause instruction), and then sleeps on a futex
 * like a normal mutex.  Short holds are thus taken without a system call,
 * and a long hold costs the spin budget and then no CPU at all.  Like mutex
 * it lets a running thread barge past sleepers, so it is not FIFO.
 */
#include "internal.h"

static int adaptive_init(struct pm_lock *l, unsigned n)
{
	(void)n;
	return pm_lock_mutex_init_type(l, PTHREAD_MUTEX_ADAPTIVE_NP);
}

const struct pm_lock_ops pm_lock_adaptive_ops = {
    .name = "adaptive",
    .init = adaptive_init,
    .try_acquire = pm_lock_mutex_try,
    .acquire = pm_lock_mutex_acquire,
    .release = pm_lock_mutex_release,
    .destroy = pm_lock_mutex_destroy,
};
