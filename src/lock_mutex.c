/* "mutex": one holder at a time, a normal pthread mutex (the seed's Lock). */
#include "internal.h"

#include <errno.h>

static int mutex_init(struct pm_lock *l, unsigned n)
{
	(void)n;
	return -pthread_mutex_init(&l->u.mutex, NULL);
}

static bool mutex_try(struct pm_lock *l)
{
	return pthread_mutex_trylock(&l->u.mutex) == 0;
}

static void mutex_acquire(struct pm_lock *l)
{
	pthread_mutex_lock(&l->u.mutex);
}

static void mutex_release(struct pm_lock *l)
{
	pthread_mutex_unlock(&l->u.mutex);
}

static void mutex_destroy(struct pm_lock *l)
{
	pthread_mutex_destroy(&l->u.mutex);
}

const struct pm_lock_ops pm_lock_mutex_ops = {
    .name = "mutex",
    .init = mutex_init,
    .try_acquire = mutex_try,
    .acquire = mutex_acquire,
    .release = mutex_release,
    .destroy = mutex_destroy,
};
