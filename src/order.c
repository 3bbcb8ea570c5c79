/* Turn taking for --order=input: input i appends only after input i-1. */
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

int pm_order_wait(struct pm_order *o, size_t idx)
{
	int rc = 0;

	pthread_mutex_lock(&o->mu);
	while (o->turn != idx && !o->cancelled)
		pthread_cond_wait(&o->cv[idx % PM_ORDER_SLOTS], &o->mu);
	if (o->turn != idx)
		rc = -ECANCELED;
	pthread_mutex_unlock(&o->mu);
	return rc;
}

void pm_order_done(struct pm_order *o, size_t idx)
{
	pthread_mutex_lock(&o->mu);
	if (o->turn == idx) {
		o->turn = idx + 1;
		/* Inputs idx+1 and idx+1+SLOTS·k share a slot: wake them all;
		 * each checks its own index. */
		pthread_cond_broadcast(&o->cv[(idx + 1) % PM_ORDER_SLOTS]);
	}
	pthread_mutex_unlock(&o->mu);
}

void pm_order_cancel(struct pm_order *o)
{
	pthread_mutex_lock(&o->mu);
	o->cancelled = true;
	for (unsigned i = 0; i < PM_ORDER_SLOTS; i++)
		pthread_cond_broadcast(&o->cv[i]);
	pthread_mutex_unlock(&o->mu);
}
