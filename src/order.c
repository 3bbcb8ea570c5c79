/* Turn taking for --order=input: input i appends only after input i-1. */
#include "internal.h"

#include <errno.h>

int pm_order_init(struct pm_order *o)
{
	int rc = pthread_mutex_init(&o->mu, NULL);

	if (rc)
		return -rc;
	rc = pthread_cond_init(&o->cv, NULL);
	if (rc) {
		pthread_mutex_destroy(&o->mu);
		return -rc;
	}
	o->turn = 0;
	o->cancelled = false;
	return 0;
}

void pm_order_destroy(struct pm_order *o)
{
	if (!o)
		return;
	pthread_cond_destroy(&o->cv);
	pthread_mutex_destroy(&o->mu);
}

int pm_order_wait(struct pm_order *o, size_t idx)
{
	int rc = 0;

	pthread_mutex_lock(&o->mu);
	while (o->turn != idx && !o->cancelled)
		pthread_cond_wait(&o->cv, &o->mu);
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
	/* Every waiter checks its own index, so all must look. */
	pthread_cond_broadcast(&o->cv);
	pthread_mutex_unlock(&o->mu);
}

void pm_order_cancel(struct pm_order *o)
{
	pthread_mutex_lock(&o->mu);
	o->cancelled = true;
	pthread_cond_broadcast(&o->cv);
	pthread_mutex_unlock(&o->mu);
}
