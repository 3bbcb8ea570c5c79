/* Rendering the statistics of a finished merge: text and JSON (DESIGN §3). */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

const char *pm_unit_name(enum pmerge_unit u)
{
	return u == PMERGE_UNIT_LINE ? "line" : "file";
}

const char *pm_order_name(enum pmerge_order o)
{
	return o == PMERGE_ORDER_ARRIVAL ? "arrival" : "input";
}

static void json_times(FILE *f, const char *key,
                       const struct pmerge_time_summary *t)
{
	fprintf(f,
	        "\"%s\": {\"total\": %llu, \"p50\": %llu, \"p99\": %llu, "
	        "\"max\": %llu}",
	        key, (unsigned long long)t->total, (unsigned long long)t->p50,
	        (unsigned long long)t->p99, (unsigned long long)t->max);
}

/* The lock_stats object, shared with the --bench report. */
void pm_stats_json_lock(FILE *f, const struct pmerge_lock_result *l)
{
	fprintf(f,
	        "{\"acquisitions\": %llu, \"contended\": %llu, "
	        "\"max_holders\": %u, \"max_depth\": %u, ",
	        (unsigned long long)l->acquisitions,
	        (unsigned long long)l->contended, l->max_holders, l->max_depth);
	json_times(f, "wait_ns", &l->wait_ns);
	fputs(", ", f);
	json_times(f, "hold_ns", &l->hold_ns);
	fputc('}', f);
}

/* Closes a memstream; only then is *buf final. */
static char *finish_stream(FILE *f, char **buf)
{
	if (fclose(f) != 0) {
		free(*buf);
		return NULL;
	}
	return *buf;
}

char *pmerge_stats_json(const struct pmerge_config *cfg,
                        const struct pmerge_result *r)
{
	char *buf = NULL, lock[32];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	unsigned n = r->jobs < r->inputs ? r->jobs : (unsigned)r->inputs;

	(void)cfg;
	if (!f)
		return NULL;
	fprintf(f,
	        "{\"version\": \"%s\", \"lock\": \"%s\", \"unit\": \"%s\", "
	        "\"order\": \"%s\", \"jobs\": %u, \"inputs\": %zu, "
	        "\"failed_inputs\": %zu, \"bytes\": %llu, \"records\": %llu, "
	        "\"wall_s\": %.6f, \"lock_stats\": ",
	        PMERGE_VERSION,
	        pmerge_lock_format(&r->lock_used, lock, sizeof(lock)),
	        pm_unit_name(r->unit), pm_order_name(r->order), r->jobs,
	        r->inputs, r->failed_inputs, (unsigned long long)r->bytes,
	        (unsigned long long)r->records, r->wall_s);
	pm_stats_json_lock(f, &r->lock);
	fputs(", \"workers\": [", f);
	for (unsigned i = 0; r->workers && i < n; i++) {
		const struct pmerge_worker_result *w = &r->workers[i];
		fprintf(f,
		        "%s{\"inputs\": %llu, \"bytes\": %llu, "
		        "\"acquisitions\": %llu, \"wait_ns\": %llu}",
		        i ? ", " : "", (unsigned long long)w->inputs,
		        (unsigned long long)w->bytes,
		        (unsigned long long)w->acquisitions,
		        (unsigned long long)w->wait_ns);
	}
	fputs("]}\n", f);
	return finish_stream(f, &buf);
}

const char *pm_format_ns(uint64_t ns, char *buf, size_t size)
{
	if (ns < 10000)
		snprintf(buf, size, "%llu ns", (unsigned long long)ns);
	else if (ns < 10000000)
		snprintf(buf, size, "%.1f us", (double)ns / 1e3);
	else if (ns < 10000000000ull)
		snprintf(buf, size, "%.1f ms", (double)ns / 1e6);
	else
		snprintf(buf, size, "%.2f s", (double)ns / 1e9);
	return buf;
}

char *pmerge_stats_text(const struct pmerge_config *cfg,
                        const struct pmerge_result *r)
{
	char *buf = NULL, lock[32], b[32], t[4][32];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	unsigned n = r->jobs < r->inputs ? r->jobs : (unsigned)r->inputs;
	const struct pmerge_lock_result *l = &r->lock;
	double rate = r->wall_s > 0 ? (double)r->bytes / r->wall_s : 0;

	(void)cfg;
	if (!f)
		return NULL;
	fprintf(
	    f,
	    "pmerge: %zu inputs (%zu failed), %s, %llu %s in %.3f s (%s/s)\n",
	    r->inputs, r->failed_inputs,
	    pmerge_format_bytes(r->bytes, b, sizeof(b)),
	    (unsigned long long)r->records,
	    r->unit == PMERGE_UNIT_LINE ? "records" : "units", r->wall_s,
	    pmerge_format_bytes((uint64_t)rate, t[0], sizeof(t[0])));
	fprintf(f, "  lock %s, unit %s, order %s, jobs %u\n",
	        pmerge_lock_format(&r->lock_used, lock, sizeof(lock)),
	        pm_unit_name(r->unit), pm_order_name(r->order), r->jobs);
	fprintf(f,
	        "  acquisitions %llu, contended %llu (%.1f%%), max_holders %u, "
	        "max_depth %u\n",
	        (unsigned long long)l->acquisitions,
	        (unsigned long long)l->contended,
	        l->acquisitions
	            ? 100.0 * (double)l->contended / (double)l->acquisitions
	            : 0.0,
	        l->max_holders, l->max_depth);
	fprintf(f, "  wait  total %s  p50 %s  p99 %s  max %s\n",
	        pm_format_ns(l->wait_ns.total, t[0], 32),
	        pm_format_ns(l->wait_ns.p50, t[1], 32),
	        pm_format_ns(l->wait_ns.p99, t[2], 32),
	        pm_format_ns(l->wait_ns.max, t[3], 32));
	fprintf(f, "  hold  total %s  p50 %s  p99 %s  max %s\n",
	        pm_format_ns(l->hold_ns.total, t[0], 32),
	        pm_format_ns(l->hold_ns.p50, t[1], 32),
	        pm_format_ns(l->hold_ns.p99, t[2], 32),
	        pm_format_ns(l->hold_ns.max, t[3], 32));
	for (unsigned i = 0; r->workers && i < n; i++) {
		const struct pmerge_worker_result *w = &r->workers[i];
		fprintf(
		    f,
		    "  worker %-3u inputs %-6llu bytes %-10s share %5.1f%%  "
		    "acquisitions %-7llu wait %s\n",
		    i, (unsigned long long)w->inputs,
		    pmerge_format_bytes(w->bytes, b, sizeof(b)),
		    r->bytes ? 100.0 * (double)w->bytes / (double)r->bytes
		             : 0.0,
		    (unsigned long long)w->acquisitions,
		    pm_format_ns(w->wait_ns, t[0], 32));
	}
	return finish_stream(f, &buf);
}
