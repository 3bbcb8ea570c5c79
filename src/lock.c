/*
 * The strategy-independent half of locking: parsing names, and the
 * accounting every acquisition goes through (try first, time only the slow
 * path, count holders) so that each strategy stays a small file.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static const struct pm_lock_ops *const lock_ops[PMERGE_LOCK_COUNT_] = {
    [PMERGE_LOCK_MUTEX] = &pm_lock_mutex_ops,
    [PMERGE_LOCK_RLOCK] = &pm_lock_rlock_ops,
    [PMERGE_LOCK_SEM] = &pm_lock_sem_ops,
    [PMERGE_LOCK_SPIN] = &pm_lock_spin_ops,
    [PMERGE_LOCK_TICKET] = &pm_lock_ticket_ops,
    [PMERGE_LOCK_MCS] = &pm_lock_mcs_ops,
    [PMERGE_LOCK_ADAPTIVE] = &pm_lock_adaptive_ops,
};

int pmerge_lock_parse(const char *text, struct pmerge_lock_spec *out)
{
	if (!text)
		return -EINVAL;
	for (int k = 0; k < PMERGE_LOCK_COUNT_; k++) {
		if (k != PMERGE_LOCK_SEM &&
		    strcmp(text, lock_ops[k]->name) == 0) {
			out->kind = (enum pmerge_lock_kind)k;
			out->n = 1;
			return 0;
		}
	}
	if (strncmp(text, "sem:", 4) == 0) {
		const char *d = text + 4;
		unsigned long v = 0;

		/* Digits only: no sign, no blanks, no trailing junk. */
		if (*d < '0' || *d > '9')
			return -EINVAL;
		for (; *d >= '0' && *d <= '9'; d++) {
			v = v * 10 + (unsigned long)(*d - '0');
			if (v > PMERGE_JOBS_MAX)
				return -EINVAL;
		}
		if (*d || v == 0)
			return -EINVAL;
		out->kind = PMERGE_LOCK_SEM;
		out->n = (unsigned)v;
		return 0;
	}
	return -EINVAL;
}

const char *pmerge_lock_format(const struct pmerge_lock_spec *spec, char *buf,
                               size_t size)
{
	if (spec->kind == PMERGE_LOCK_SEM)
		snprintf(buf, size, "sem:%u", spec->n);
	else if (spec->kind < PMERGE_LOCK_COUNT_)
		snprintf(buf, size, "%s", lock_ops[spec->kind]->name);
	else
		snprintf(buf, size, "?");
	return buf;
}

int pm_lock_init(struct pm_lock *l, const struct pmerge_lock_spec *spec,
                 bool detailed)
{
	if (spec->kind >= PMERGE_LOCK_COUNT_ || spec->n == 0)
		return -EINVAL;
	memset(l, 0, sizeof(*l));
	l->ops = lock_ops[spec->kind];
	l->n = spec->kind == PMERGE_LOCK_SEM ? spec->n : 1;
	l->detailed = detailed;
	atomic_init(&l->holders, 0);
	atomic_init(&l->max_holders, 0);
	return l->ops->init(l, l->n);
}

void pm_lock_destroy(struct pm_lock *l)
{
	if (l && l->ops) {
		l->ops->destroy(l);
		l->ops = NULL;
	}
}

static void note_holders(struct pm_lock *l)
{
	unsigned h =
	    atomic_fetch_add_explicit(&l->holders, 1, memory_order_relaxed) + 1;
	unsigned m =
	    atomic_load_explicit(&l->max_holders, memory_order_relaxed);

	while (h > m && !atomic_compare_exchange_weak_explicit(
	                    &l->max_holders, &m, h, memory_order_relaxed,
	                    memory_order_relaxed))
		;
}

void pm_lock_enter(struct pm_lock *l, struct pm_worker_stats *st)
{
	uint64_t waited = 0;

	if (!l->ops->try_acquire(l)) {
		uint64_t t0 = pm_now_ns();

		l->ops->acquire(l);
		waited = pm_now_ns() - t0;
		st->contended++;
		atomic_store_explicit(
		    &st->wait_ns,
		    atomic_load_explicit(&st->wait_ns, memory_order_relaxed) +
		        waited,
		    memory_order_relaxed);
	}
	st->acquisitions++;
	note_holders(l);
	if (st->max_depth < 1)
		st->max_depth = 1;
	if (l->detailed) {
		pm_hist_add(&st->wait, waited);
		st->hold_start = pm_now_ns();
	}
}

void pm_lock_leave(struct pm_lock *l, struct pm_worker_stats *st)
{
	if (l->detailed)
		pm_hist_add(&st->hold, pm_now_ns() - st->hold_start);
	atomic_fetch_sub_explicit(&l->holders, 1, memory_order_relaxed);
	l->ops->release(l);
}

void pm_lock_reenter(struct pm_lock *l, struct pm_worker_stats *st,
                     unsigned *depth)
{
	if (!l->ops->reentrant)
		return;
	/* We already hold it, so this never waits: it only counts depth. */
	l->ops->acquire(l);
	(*depth)++;
	if (*depth + 1 > st->max_depth)
		st->max_depth = *depth + 1;
}

void pm_lock_reexit(struct pm_lock *l, unsigned *depth)
{
	if (!l->ops->reentrant)
		return;
	(*depth)--;
	l->ops->release(l);
}

double pm_jain_index(double sum, double sumsq, size_t n)
{
	if (n == 0 || sumsq <= 0)
		return 1.0;
	return sum * sum / ((double)n * sumsq);
}

double pmerge_fairness(const struct pmerge_worker_result *w, size_t n)
{
	double sum = 0, sumsq = 0;

	for (size_t i = 0; i < n; i++) {
		double x = (double)w[i].acquisitions;

		sum += x;
		sumsq += x * x;
	}
	return pm_jain_index(sum, sumsq, n);
}

void pm_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	atomic_signal_fence(memory_order_seq_cst);
#endif
}

bool pm_lock_backoff(unsigned *round)
{
	if (*round < PM_SPIN_PAUSES) {
		(*round)++;
		pm_cpu_relax();
		return false;
	}
	if (*round < PM_SPIN_PAUSES + PM_SPIN_YIELDS) {
		(*round)++;
		sched_yield();
		return false;
	}
	return true;
}

/*
 * Private futexes: the kernel keys them by address alone, so a wake-up sent
 * to a word whose owner has since gone (an MCS node of a thread that took
 * the lock, left and exited) touches no memory; at worst it wakes a sleeper
 * that finds its condition false and sleeps again, which every waiter here
 * tolerates.
 */
void pm_futex_wait(_Atomic uint32_t *word, uint32_t expected)
{
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

void pm_futex_wake(_Atomic uint32_t *word, int n)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}
