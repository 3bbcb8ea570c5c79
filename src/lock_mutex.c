/*
 * "mutex": one holder at a time, a normal pthread mutex (Python's
 * threading.Lock). rlock and adaptive are the same code over another mutex
 * type, so the functions here are shared with them.
 */
#include "internal.h"

#include <errno.h>

int pm_lock_mutex_init_type(struct pm_lock *l, int type)
{
	pthread_mutexattr_t a;
	int rc;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, type);
	rc = pthread_mutex_init(&l->u.mutex, &a);
	pthread_mutexattr_destroy(&a);
	return -rc;
}

static int mutex_init(struct pm_lock *l, unsigned n)
{
	(void)n;
	return pm_lock_mutex_init_type(l, PTHREAD_MUTEX_DEFAULT);
}

bool pm_lock_mutex_try(struct pm_lock *l)
{
	return pthread_mutex_trylock(&l->u.mutex) == 0;
}

void pm_lock_mutex_acquire(struct pm_lock *l)
{
	pthread_mutex_lock(&l->u.mutex);
}

void pm_lock_mutex_release(struct pm_lock *l)
{
	pthread_mutex_unlock(&l->u.mutex);
}

void pm_lock_mutex_destroy(struct pm_lock *l)
{
	pthread_mutex_destroy(&l->u.mutex);
}

const struct pm_lock_ops pm_lock_mutex_ops = {
    .name = "mutex",
    .init = mutex_init,
    .try_acquire = pm_lock_mutex_try,
    .acquire = pm_lock_mutex_acquire,
    .release = pm_lock_mutex_release,
    .destroy = pm_lock_mutex_destroy,
};
