/*
 * "rlock": a recursive pthread mutex (the seed's RLock).  The append path
 * takes it once per unit and again around every write call, so the cost of
 * re-entering is paid as it would be in real code.
 */
#include "internal.h"

static int rlock_init(struct pm_lock *l, unsigned n)
{
	pthread_mutexattr_t a;
	int rc;

	(void)n;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	rc = pthread_mutex_init(&l->u.mutex, &a);
	pthread_mutexattr_destroy(&a);
	return -rc;
}

static bool rlock_try(struct pm_lock *l)
{
	return pthread_mutex_trylock(&l->u.mutex) == 0;
}

static void rlock_acquire(struct pm_lock *l)
{
	pthread_mutex_lock(&l->u.mutex);
}

static void rlock_release(struct pm_lock *l)
{
	pthread_mutex_unlock(&l->u.mutex);
}

static void rlock_destroy(struct pm_lock *l)
{
	pthread_mutex_destroy(&l->u.mutex);
}

const struct pm_lock_ops pm_lock_rlock_ops = {
    .name = "rlock",
    .init = rlock_init,
    .try_acquire = rlock_try,
    .acquire = rlock_acquire,
    .release = rlock_release,
    .destroy = rlock_destroy,
    .reentrant = true,
};
