/*
 * "sem:N": a POSIX counting semaphore (Python's threading.Semaphore): up to N
 * writers at once.  Safe only because every append reserves its byte range
 * first and writes at that offset; the merge reduces N to 1 for outputs that
 * cannot take positioned writes.
 */
#include "internal.h"

#include <errno.h>

static int sem_strategy_init(struct pm_lock *l, unsigned n)
{
	return sem_init(&l->u.sem, 0, n) == 0 ? 0 : -errno;
}

static bool sem_strategy_try(struct pm_lock *l)
{
	return sem_trywait(&l->u.sem) == 0;
}

static void sem_strategy_acquire(struct pm_lock *l)
{
	/* Workers block every signal, but a debugger may still cause EINTR. */
	while (sem_wait(&l->u.sem) != 0 && errno == EINTR)
		;
}

static void sem_strategy_release(struct pm_lock *l)
{
	sem_post(&l->u.sem);
}

static void sem_strategy_destroy(struct pm_lock *l)
{
	sem_destroy(&l->u.sem);
}

const struct pm_lock_ops pm_lock_sem_ops = {
    .name = "sem",
    .init = sem_strategy_init,
    .try_acquire = sem_strategy_try,
    .acquire = sem_strategy_acquire,
    .release = sem_strategy_release,
    .destroy = sem_strategy_destroy,
    .shared = true,
};
