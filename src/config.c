/*
 * The configuration: its documented defaults, and what the engine makes of
 * the ones left open.  Both pmerge_run() and the program's --bench go
 * through pmerge_resolve(), so that a run and the model of its output can
 * never disagree about jobs, order or terminator.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

void pmerge_config_init(struct pmerge_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->unit = PMERGE_UNIT_FILE;
	cfg->order = PMERGE_ORDER_DEFAULT;
	cfg->lock.kind = PMERGE_LOCK_MUTEX;
	cfg->lock.n = 1;
	cfg->sorted.field_sep = -1;
	cfg->count_records = true;
}

unsigned pmerge_default_jobs(void)
{
	/* Measured: see README, "Choosing -j and the buffer". */
	return 8;
}

/* True when every field of cfg is within its documented range. */
static bool config_valid(const struct pmerge_config *cfg)
{
	const struct pmerge_lock_spec *l = &cfg->lock;

	if (cfg->jobs > PMERGE_JOBS_MAX || (cfg->append && !cfg->output) ||
	    (cfg->n_inputs > 0 && !cfg->inputs))
		return false;
	if ((unsigned)cfg->unit > PMERGE_UNIT_LINE ||
	    (unsigned)cfg->order > PMERGE_ORDER_ARRIVAL)
		return false;
	if ((unsigned)l->kind >= PMERGE_LOCK_COUNT_ || l->n == 0 ||
	    l->n > PMERGE_JOBS_MAX)
		return false;
	for (size_t i = 0; i < cfg->n_inputs; i++)
		if (!cfg->inputs[i])
			return false;
	/* -F never ends by itself: lines as they come, never a replace. */
	if (cfg->follow &&
	    (cfg->unit != PMERGE_UNIT_LINE || cfg->sorted.enabled ||
	     cfg->order == PMERGE_ORDER_INPUT || (cfg->output && !cfg->append)))
		return false;
	if (cfg->n_labels > cfg->n_inputs)
		return false;
	/* The stat poll is -F's, from 10 ms to a day (--poll-interval). */
	if (cfg->poll_interval_ms &&
	    (!cfg->follow || cfg->poll_interval_ms < PMERGE_POLL_MS_MIN ||
	     cfg->poll_interval_ms > PMERGE_POLL_MS_MAX))
		return false;
	return true;
}

int pmerge_resolve(const struct pmerge_config *cfg, struct pmerge_plan *plan)
{
	memset(plan, 0, sizeof(*plan));
	if (!config_valid(cfg))
		return -EINVAL;
	plan->jobs = cfg->jobs ? cfg->jobs : pmerge_default_jobs();
	plan->order = cfg->order != PMERGE_ORDER_DEFAULT ? cfg->order
	              : cfg->unit == PMERGE_UNIT_LINE    ? PMERGE_ORDER_ARRIVAL
	                                                 : PMERGE_ORDER_INPUT;
	if (!cfg->jobs && cfg->decompress && !cfg->sorted.enabled &&
	    plan->order == PMERGE_ORDER_INPUT) {
		/*
		 * Decoding is work for a processor: a worker past one per
		 * processor decodes no sooner, only further ahead of its
		 * turn, into a spill file (README.md, "Compressed inputs").
		 */
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		if (cpus > 0 && plan->jobs > (unsigned long)cpus)
			plan->jobs = (unsigned)cpus;
	}
	plan->workers =
	    plan->jobs < cfg->n_inputs ? plan->jobs : (unsigned)cfg->n_inputs;
	plan->terminator = cfg->zero_terminated ? '\0' : '\n';
	if (cfg->follow)
		plan->workers = 0; /* the stream reader reads every input */
	return 0;
}
