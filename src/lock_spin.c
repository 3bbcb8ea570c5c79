/*
 * "spin": a pthread spinlock, for benchmarks.  Waiters burn their core, so
 * it suffers when workers outnumber cores.
 */
#include "internal.h"

static int spin_init(struct pm_lock *l, unsigned n)
{
	(void)n;
	return -pthread_spin_init(&l->u.spin, PTHREAD_PROCESS_PRIVATE);
}

static bool spin_try(struct pm_lock *l)
{
	return pthread_spin_trylock(&l->u.spin) == 0;
}

static void spin_acquire(struct pm_lock *l)
{
	pthread_spin_lock(&l->u.spin);
}

static void spin_release(struct pm_lock *l)
{
	pthread_spin_unlock(&l->u.spin);
}

static void spin_destroy(struct pm_lock *l)
{
	pthread_spin_destroy(&l->u.spin);
}

const struct pm_lock_ops pm_lock_spin_ops = {
    .name = "spin",
    .init = spin_init,
    .try_acquire = spin_try,
    .acquire = spin_acquire,
    .release = spin_release,
    .destroy = spin_destroy,
};
