/*
 * The --bench report: a table in hyperfine's manner with the lock figures
 * of each strategy beside its times, and a summary of the ratios; or the
 * same as one JSON document (README.md lists its keys).
 */
#include "bench.h"
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Display width of UTF-8 text: the bytes that start a character. */
static int text_width(const char *s)
{
	int w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80;
	return w;
}

/* s padded with blanks to width columns, on the left when right. */
static void cell(FILE *f, const char *s, int width, bool right)
{
	int pad = width - text_width(s);

	/* Two blanks keep neighbouring columns apart even when full. */
	fputs("  ", f);
	if (right)
		fprintf(f, "%*s%s", pad > 0 ? pad : 0, "", s);
	else
		fprintf(f, "%s%*s", s, pad > 0 ? pad : 0, "");
}

/* A unit for seconds that keeps three or four significant digits. */
static void time_unit(double s, double *scale, const char **name, int *decimals)
{
	if (s >= 1) {
		*scale = 1, *name = "s", *decimals = 3;
	} else if (s >= 1e-3) {
		*scale = 1e3, *name = "ms", *decimals = 2;
	} else {
		*scale = 1e6, *name = "us", *decimals = 1;
	}
}

static double mib_per_s(const struct bench_results *b,
                        const struct bench_strategy *s)
{
	return s->median > 0 ? (double)b->bytes / 1048576.0 / s->median : 0;
}

static double relative(const struct bench_strategy *s,
                       const struct bench_strategy *best)
{
	return best->median > 0 ? s->median / best->median : 1.0;
}

static size_t fastest(const struct bench_results *b)
{
	size_t best = 0;

	for (size_t i = 1; i < b->n_st; i++)
		if (b->st[i].median < b->st[best].median)
			best = i;
	return best;
}

/* The job counts: "8", or with --bench-jobs "1,2,4" (sep ",") or a JSON
 * list's inside (sep ", "). */
static void jobs_list(FILE *f, const struct bench_results *b, const char *sep)
{
	for (size_t j = 0; j < b->n_jobs; j++)
		fprintf(f, "%s%u", j ? sep : "", b->jobs[j]);
}

static void report_json(const struct bench_results *b, FILE *f)
{
	const struct bench_strategy *best = &b->st[fastest(b)];

	fprintf(f, "{\"version\": \"%s\", \"runs\": %u, \"warmup\": %d, ",
	        PMERGE_VERSION, b->runs, BENCH_WARMUP);
	/* One job count is a number, a --bench-jobs sweep a list. */
	fputs(b->n_jobs > 1 ? "\"jobs\": [" : "\"jobs\": ", f);
	jobs_list(f, b, ", ");
	fprintf(f,
	        "%s, \"unit\": \"%s\", \"order\": \"%s\", \"inputs\": %zu, "
	        "\"bytes\": %llu, \"results\": [",
	        b->n_jobs > 1 ? "]" : "", unit_name(b->unit),
	        order_name(b->order), b->inputs, (unsigned long long)b->bytes);
	for (size_t i = 0; i < b->n_st; i++) {
		const struct bench_strategy *s = &b->st[i];

		fprintf(f,
		        "%s\n  {\"lock\": \"%s\", \"jobs\": %u, "
		        "\"wall_s\": {\"mean\": %.9f, "
		        "\"stddev\": %.9f, \"median\": %.9f, \"min\": %.9f, "
		        "\"max\": %.9f}, \"times_s\": [",
		        i ? "," : "", s->name, s->jobs, s->mean, s->stddev,
		        s->median, s->min, s->max);
		for (unsigned r = 0; r < b->runs; r++)
			fprintf(f, "%s%.9f", r ? ", " : "", s->times[r]);
		fprintf(f,
		        "], \"mib_per_s\": %.3f, \"relative\": %.6f, "
		        "\"output_ok\": %s, \"lock_stats\": ",
		        mib_per_s(b, s), relative(s, best),
		        s->ok ? "true" : "false");
		report_json_lock(f, &s->lock);
		fputc('}', f);
	}
	fputs("\n]}\n", f);
}

/* The columns of the table after the lock name, and their widths. */
enum col {
	COL_MEAN,
	COL_MEDIAN,
	COL_RANGE,
	COL_RATE,
	COL_ACQ,
	COL_CONT,
	COL_WAIT,
	COL_HOLD,
	COL_HOLDERS,
	COL_FAIR,
	COL_REL,
	COL_COUNT_,
};

static const struct {
	const char *title;
	int width;
} columns[COL_COUNT_] = {
    [COL_MEAN] = {"mean ± σ", 20},         [COL_MEDIAN] = {"median", 9},
    [COL_RANGE] = {"min … max", 19},       [COL_RATE] = {"MiB/s", 8},
    [COL_ACQ] = {"acquisitions", 12},      [COL_CONT] = {"contended", 9},
    [COL_WAIT] = {"wait p50/p99/max", 22}, [COL_HOLD] = {"hold p50/p99", 15},
    [COL_HOLDERS] = {"max_holders", 11},   [COL_FAIR] = {"fairness", 8},
    [COL_REL] = {"relative", 8},
};

static void report_row(const struct bench_results *b,
                       const struct bench_strategy *s,
                       const struct bench_strategy *best, int name_w, FILE *f)
{
	const struct pmerge_lock_result *l = &s->lock;
	char c[COL_COUNT_][64], t[3][24];
	double scale;
	const char *u;
	int d;

	time_unit(s->mean, &scale, &u, &d);
	snprintf(c[COL_MEAN], sizeof(c[0]), "%.*f %s ± %.*f %s", d,
	         s->mean * scale, u, d, s->stddev * scale, u);
	snprintf(c[COL_MEDIAN], sizeof(c[0]), "%.*f %s", d, s->median * scale,
	         u);
	snprintf(c[COL_RANGE], sizeof(c[0]), "%.*f … %.*f %s", d,
	         s->min * scale, d, s->max * scale, u);
	snprintf(c[COL_RATE], sizeof(c[0]), "%.1f", mib_per_s(b, s));
	snprintf(c[COL_ACQ], sizeof(c[0]), "%llu",
	         (unsigned long long)l->acquisitions);
	snprintf(c[COL_CONT], sizeof(c[0]), "%.1f%%",
	         l->acquisitions
	             ? 100.0 * (double)l->contended / (double)l->acquisitions
	             : 0.0);
	snprintf(c[COL_WAIT], sizeof(c[0]), "%s/%s/%s",
	         format_ns(l->wait_ns.p50, t[0], sizeof(t[0])),
	         format_ns(l->wait_ns.p99, t[1], sizeof(t[1])),
	         format_ns(l->wait_ns.max, t[2], sizeof(t[2])));
	snprintf(c[COL_HOLD], sizeof(c[0]), "%s/%s",
	         format_ns(l->hold_ns.p50, t[0], sizeof(t[0])),
	         format_ns(l->hold_ns.p99, t[1], sizeof(t[1])));
	snprintf(c[COL_HOLDERS], sizeof(c[0]), "%u", l->max_holders);
	snprintf(c[COL_FAIR], sizeof(c[0]), "%.3f", l->fairness);
	snprintf(c[COL_REL], sizeof(c[0]), "%.2f", relative(s, best));
	fprintf(f, "%-*s", name_w, s->name);
	if (b->n_jobs > 1) {
		char jobs[16];
		snprintf(jobs, sizeof(jobs), "%u", s->jobs);
		cell(f, jobs, 4, true);
	}
	for (int i = 0; i < COL_COUNT_; i++)
		cell(f, c[i], columns[i].width, true);
	fprintf(f, "  %s\n", s->ok ? "ok" : "FAILED");
}

static int by_relative(const void *a, const void *b)
{
	const struct bench_strategy *x =
	    *(const struct bench_strategy *const *)a;
	const struct bench_strategy *y =
	    *(const struct bench_strategy *const *)b;

	return (x->median > y->median) - (x->median < y->median);
}

/*
 * The summary in hyperfine's words: the ratio of medians (the relative
 * column), with the uncertainty of a ratio of means propagated from the
 * sample deviations.  A single run has no deviation, hence no "±".
 */
static int summary_lines(const struct bench_results *b,
                         const struct bench_strategy *best, FILE *f)
{
	const struct bench_strategy **order = calloc(b->n_st, sizeof(*order));
	size_t n = 0;

	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < b->n_st; i++)
		if (&b->st[i] != best)
			order[n++] = &b->st[i];
	qsort(order, n, sizeof(*order), by_relative);
	fprintf(f, "%s ran\n", best->label);
	for (size_t i = 0; i < n; i++) {
		const struct bench_strategy *s = order[i];
		double r = relative(s, best);

		if (b->runs > 1 && s->mean > 0 && best->mean > 0) {
			double ea = best->stddev / best->mean;
			double eb = s->stddev / s->mean;
			fprintf(f, "  %.2f ± %.2f times faster than %s\n", r,
			        r * sqrt(ea * ea + eb * eb), s->label);
		} else {
			fprintf(f, "  %.2f times faster than %s\n", r,
			        s->label);
		}
	}
	free(order);
	return 0;
}

static int report_text(const struct bench_results *b, FILE *f)
{
	const struct bench_strategy *best = &b->st[fastest(b)];
	int name_w = 4;
	char bytes[32];

	for (size_t i = 0; i < b->n_st; i++)
		if ((int)strlen(b->st[i].name) > name_w)
			name_w = (int)strlen(b->st[i].name);
	fprintf(f, "pmerge --bench: %zu inputs, %s (%llu bytes), jobs ",
	        b->inputs, format_bytes(b->bytes, bytes, sizeof(bytes)),
	        (unsigned long long)b->bytes);
	jobs_list(f, b, ",");
	fprintf(f, ", unit %s, order %s, %u run%s + %d warm-up per strategy\n",
	        unit_name(b->unit), order_name(b->order), b->runs,
	        b->runs == 1 ? "" : "s", BENCH_WARMUP);
	fprintf(f, "%-*s", name_w, "lock");
	if (b->n_jobs > 1)
		cell(f, "jobs", 4, true);
	for (int i = 0; i < COL_COUNT_; i++)
		cell(f, columns[i].title, columns[i].width, true);
	fputs("  verified\n", f);
	for (size_t i = 0; i < b->n_st; i++)
		report_row(b, &b->st[i], best, name_w, f);
	if (b->n_st < 2)
		return 0;
	fputc('\n', f);
	return summary_lines(b, best, f);
}

int bench_report(const struct bench_results *b, bool json, char **report)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc = 0;

	if (!f)
		return -ENOMEM;
	if (json)
		report_json(b, f);
	else
		rc = report_text(b, f);
	if (fclose(f) != 0 || rc < 0) {
		free(buf);
		return rc < 0 ? rc : -ENOMEM;
	}
	*report = buf;
	return 0;
}
