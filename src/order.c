/*
 * Turn taking for --order=input: input i appends only after input i-1, and
 * a fully buffered input may be written by whichever worker passes the turn
 * to it (see internal.h).
 */
#include "internal.h"

#include <errno.h>

int pm_order_init(struct pm_order *o)
{
	int rc = pthread_mutex_init(&o->mu, NULL);

	if (rc)
		return -rc;
	for (unsigned i = 0; i < PM_ORDER_SLOTS; i++) {
		rc = pthread_cond_init(&o->cv[i], NULL);
		if (rc) {
			while (i-- > 0)
				pthread_cond_destroy(&o->cv[i]);
			pthread_mutex_destroy(&o->mu);
			return -rc;
		}
	}
	o->turn = 0;
	o->cancelled = false;
	for (unsigned i = 0; i < PMERGE_JOBS_MAX; i++)
		o->parked[i] = NULL;
	return 0;
}

void pm_order_destroy(struct pm_order *o)
{
	if (!o)
		return;
	for (unsigned i = 0; i < PM_ORDER_SLOTS; i++)
		pthread_cond_destroy(&o->cv[i]);
	pthread_mutex_destroy(&o->mu);
}

static pthread_cond_t *cv_of(struct pm_order *o, size_t idx)
{
	return &o->cv[idx % PM_ORDER_SLOTS];
}

int pm_order_wait(struct pm_order *o, size_t idx)
{
	int rc = 0;

	pthread_mutex_lock(&o->mu);
	while (o->turn != idx && !o->cancelled)
		pthread_cond_wait(cv_of(o, idx), &o->mu);
	if (o->turn != idx)
		rc = -ECANCELED;
	pthread_mutex_unlock(&o->mu);
	return rc;
}

void pm_order_done(struct pm_order *o, size_t idx)
{
	pthread_mutex_lock(&o->mu);
	if (o->turn == idx)
		o->turn = idx + 1;
	/* Inputs sharing a condition variable all wake; each checks its own
	 * index. */
	pthread_cond_broadcast(cv_of(o, idx + 1));
	pthread_mutex_unlock(&o->mu);
}

struct pm_parked *pm_order_pass(struct pm_order *o, size_t idx)
{
	struct pm_parked **mine = &o->parked[idx % PMERGE_JOBS_MAX];
	struct pm_parked **slot = &o->parked[(idx + 1) % PMERGE_JOBS_MAX];
	struct pm_parked *next = NULL;

	pthread_mutex_lock(&o->mu);
	/* idx itself may have been parked and written by the caller: its
	 * owner may leave now, even when the merge is being cancelled. */
	if (*mine && (*mine)->idx == idx) {
		(*mine)->state = PM_PARKED_DONE;
		*mine = NULL;
		pthread_cond_broadcast(cv_of(o, idx));
	}
	if (o->turn == idx) {
		o->turn = idx + 1;
		if (!o->cancelled && *slot && (*slot)->idx == idx + 1 &&
		    (*slot)->state == PM_PARKED_READY) {
			next = *slot;
			next->state = PM_PARKED_TAKEN;
		} else {
			pthread_cond_broadcast(cv_of(o, idx + 1));
		}
	}
	pthread_mutex_unlock(&o->mu);
	return next;
}

int pm_order_offer(struct pm_order *o, struct pm_parked *p)
{
	struct pm_parked **slot = &o->parked[p->idx % PMERGE_JOBS_MAX];
	int rc;

	pthread_mutex_lock(&o->mu);
	if (o->turn == p->idx && !o->cancelled) {
		pthread_mutex_unlock(&o->mu);
		return 0;
	}
	p->state = PM_PARKED_READY;
	*slot = p;
	for (;;) {
		if (p->state == PM_PARKED_DONE) {
			rc = 1;
			break;
		}
		if (o->cancelled) {
			rc = -ECANCELED;
			break;
		}
		if (p->state == PM_PARKED_READY && o->turn == p->idx) {
			rc = 0; /* our turn, and nobody took it */
			break;
		}
		pthread_cond_wait(cv_of(o, p->idx), &o->mu);
	}
	/*
	 * A unit taken by another worker is finished once the turn moves
	 * past it; wait for that too before the buffer is reused.
	 */
	while (rc == -ECANCELED && p->state == PM_PARKED_TAKEN)
		pthread_cond_wait(cv_of(o, p->idx), &o->mu);
	if (p->state == PM_PARKED_DONE)
		rc = 1; /* written after all: say so, whatever woke us first */
	if (*slot == p)
		*slot = NULL;
	pthread_mutex_unlock(&o->mu);
	return rc;
}

void pm_order_cancel(struct pm_order *o)
{
	pthread_mutex_lock(&o->mu);
	o->cancelled = true;
	for (unsigned i = 0; i < PM_ORDER_SLOTS; i++)
		pthread_cond_broadcast(&o->cv[i]);
	pthread_mutex_unlock(&o->mu);
}
