/* Log-linear histograms of durations, and the monotonic clock. */
#include "internal.h"

#include <math.h>
#include <time.h>

uint64_t pm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Bucket b covers [lo(b), lo(b+1)).  Values below PM_HIST_SUB map to
 * themselves; above, the top two bits after the leading one pick the
 * sub-bucket, which bounds the relative error of a reported value.
 */
static unsigned bucket_of(uint64_t v)
{
	if (v < PM_HIST_SUB)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned sub = (unsigned)(v >> (msb - 2)) & (PM_HIST_SUB - 1);
	unsigned b = (msb - 1) * PM_HIST_SUB + sub;
	return b < PM_HIST_BUCKETS ? b : PM_HIST_BUCKETS - 1;
}

static uint64_t bucket_low(unsigned b)
{
	if (b < PM_HIST_SUB)
		return b;
	unsigned msb = b / PM_HIST_SUB + 1;
	uint64_t sub = b % PM_HIST_SUB;
	return (1ull << msb) | (sub << (msb - 2));
}

void pm_hist_add(struct pm_hist *h, uint64_t ns)
{
	h->count++;
	h->total += ns;
	if (ns > h->max)
		h->max = ns;
	h->bucket[bucket_of(ns)]++;
}

void pm_hist_merge(struct pm_hist *into, const struct pm_hist *from)
{
	into->count += from->count;
	into->total += from->total;
	if (from->max > into->max)
		into->max = from->max;
	for (unsigned i = 0; i < PM_HIST_BUCKETS; i++)
		into->bucket[i] += from->bucket[i];
}

uint64_t pm_hist_quantile(const struct pm_hist *h, double q)
{
	if (h->count == 0)
		return 0;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	/* Nearest rank: the smallest value with at least q of the samples at
	 * or below it, so p99 of two samples is the larger one. */
	uint64_t rank = (uint64_t)ceil(q * (double)h->count);
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned b = 0; b < PM_HIST_BUCKETS; b++) {
		seen += h->bucket[b];
		if (seen >= rank) {
			/* The middle of the bucket, but never above the max. */
			uint64_t lo = bucket_low(b);
			uint64_t hi = b + 1 < PM_HIST_BUCKETS
			                  ? bucket_low(b + 1)
			                  : h->max + 1;
			uint64_t mid = lo + (hi - lo) / 2;
			return mid > h->max ? h->max : mid;
		}
	}
	return h->max;
}

void pm_hist_summary(const struct pm_hist *h, struct pmerge_time_summary *out)
{
	out->total = h->total;
	out->p50 = pm_hist_quantile(h, 0.50);
	out->p99 = pm_hist_quantile(h, 0.99);
	out->max = h->max;
}
