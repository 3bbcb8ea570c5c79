/*
 * "rlock": a recursive pthread mutex (Python's threading.RLock).  The append
 * path takes it once per span and again around every write call, so the cost of
 * re-entering is paid as it would be in real code.
 */
#include "internal.h"

static int rlock_init(struct pm_lock *l, unsigned n)
{
	(void)n;
	return pm_lock_mutex_init_type(l, PTHREAD_MUTEX_RECURSIVE);
}

const struct pm_lock_ops pm_lock_rlock_ops = {
    .name = "rlock",
    .init = rlock_init,
    .try_acquire = pm_lock_mutex_try,
    .acquire = pm_lock_mutex_acquire,
    .release = pm_lock_mutex_release,
    .destroy = pm_lock_mutex_destroy,
    .reentrant = true,
};
