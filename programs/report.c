/*
 * What a finished merge reports: --stats as text or as the JSON object that
 * README.md documents, the -v summary, and the byte and duration formats
 * that the progress line and the --bench report share.
 */
#include "report.h"
#include "quote.h"
#include "ui.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *unit_name(enum pmerge_unit u)
{
	return u == PMERGE_UNIT_LINE ? "line" : "file";
}

const char *order_name(enum pmerge_order o)
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

void report_json_lock(FILE *f, const struct pmerge_lock_result *l)
{
	fprintf(f,
	        "{\"acquisitions\": %llu, \"contended\": %llu, "
	        "\"max_holders\": %u, \"max_depth\": %u, \"fairness\": %.6f, ",
	        (unsigned long long)l->acquisitions,
	        (unsigned long long)l->contended, l->max_holders, l->max_depth,
	        l->fairness);
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

/* s as a JSON string, control characters and non-UTF-8 bytes escaped. */
static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* -d: "decoded": what each input was, its bytes read and decoded. */
static void json_decoded(FILE *f, const struct pmerge_result *r)
{
	if (!r->decoded)
		return;
	fputs(", \"decoded\": [", f);
	for (size_t i = 0; i < r->inputs; i++) {
		const struct pmerge_input_result *d = &r->decoded[i];
		fputs(i ? ", {\"name\": " : "{\"name\": ", f);
		json_string(f, d->name);
		fputs(", \"codec\": ", f);
		if (d->codec)
			json_string(f, d->codec);
		else
			fputs("null", f);
		fprintf(f, ", \"compressed\": %llu, \"decoded\": %llu}",
		        (unsigned long long)d->bytes_in,
		        (unsigned long long)d->bytes_out);
	}
	fputc(']', f);
}

char *report_stats_json(const struct pmerge_result *r)
{
	char *buf = NULL, lock[32];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	unsigned n = r->jobs < r->inputs ? r->jobs : (unsigned)r->inputs;

	if (!f)
		return NULL;
	fprintf(f,
	        "{\"version\": \"%s\", \"lock\": \"%s\", \"unit\": \"%s\", "
	        "\"order\": \"%s\", \"jobs\": %u, \"inputs\": %zu, "
	        "\"failed_inputs\": %zu, \"bytes\": %llu, \"records\": %llu, "
	        "\"wall_s\": %.6f, \"lock_stats\": ",
	        PMERGE_VERSION,
	        pmerge_lock_format(&r->lock_used, lock, sizeof(lock)),
	        unit_name(r->unit), order_name(r->order), r->jobs, r->inputs,
	        r->failed_inputs, (unsigned long long)r->bytes,
	        (unsigned long long)r->records, r->wall_s);
	report_json_lock(f, &r->lock);
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
	fputc(']', f);
	json_decoded(f, r);
	if (r->sorted.used) {
		const struct pmerge_sorted_result *o = &r->sorted;
		fprintf(f,
		        ", \"sorted\": {\"merger_wait_ns\": %llu, "
		        "\"merger_write_ns\": %llu, \"writer_ns\": %llu, "
		        "\"worker_idle_ns\": %llu, "
		        "\"worker_read_ns\": %llu, \"chunks\": %llu, "
		        "\"skipped\": %llu, \"disordered\": %zu, "
		        "\"read_ahead_peak\": %llu}",
		        (unsigned long long)o->merger_wait_ns,
		        (unsigned long long)o->merger_write_ns,
		        (unsigned long long)o->writer_ns,
		        (unsigned long long)o->worker_idle_ns,
		        (unsigned long long)o->worker_read_ns,
		        (unsigned long long)o->chunks,
		        (unsigned long long)o->skipped, o->disordered,
		        (unsigned long long)o->read_ahead_peak);
	}
	fputs("}\n", f);
	return finish_stream(f, &buf);
}

const char *format_bytes(uint64_t bytes, char *buf, size_t size)
{
	static const char *const units[] = {"B",   "KiB", "MiB", "GiB",
	                                    "TiB", "PiB", "EiB"};
	double v = (double)bytes;
	unsigned u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, size, "%.*f %s",
		         v < 10    ? 2
		         : v < 100 ? 1
		                   : 0,
		         v, units[u]);
	return buf;
}

const char *format_ns(uint64_t ns, char *buf, size_t size)
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

char *report_stats_text(const struct pmerge_result *r)
{
	char *buf = NULL, lock[32], b[32], t[6][32];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	unsigned n = r->jobs < r->inputs ? r->jobs : (unsigned)r->inputs;
	const struct pmerge_lock_result *l = &r->lock;
	double rate = r->wall_s > 0 ? (double)r->bytes / r->wall_s : 0;

	if (!f)
		return NULL;
	fprintf(f, "pmerge: %zu inputs (%zu failed), %s, ", r->inputs,
	        r->failed_inputs, format_bytes(r->bytes, b, sizeof(b)));
	if (r->unit == PMERGE_UNIT_LINE)
		fprintf(f, "%llu records, ", (unsigned long long)r->records);
	fprintf(f, "in %.3f s (%s/s)\n", r->wall_s,
	        format_bytes((uint64_t)rate, t[0], sizeof(t[0])));
	fprintf(f, "  lock %s, unit %s, order %s, jobs %u\n",
	        pmerge_lock_format(&r->lock_used, lock, sizeof(lock)),
	        unit_name(r->unit), order_name(r->order), r->jobs);
	fprintf(f,
	        "  acquisitions %llu, contended %llu (%.1f%%), max_holders %u, "
	        "max_depth %u, fairness %.3f\n",
	        (unsigned long long)l->acquisitions,
	        (unsigned long long)l->contended,
	        l->acquisitions
	            ? 100.0 * (double)l->contended / (double)l->acquisitions
	            : 0.0,
	        l->max_holders, l->max_depth, l->fairness);
	fprintf(f, "  wait  total %s  p50 %s  p99 %s  max %s\n",
	        format_ns(l->wait_ns.total, t[0], 32),
	        format_ns(l->wait_ns.p50, t[1], 32),
	        format_ns(l->wait_ns.p99, t[2], 32),
	        format_ns(l->wait_ns.max, t[3], 32));
	fprintf(f, "  hold  total %s  p50 %s  p99 %s  max %s\n",
	        format_ns(l->hold_ns.total, t[0], 32),
	        format_ns(l->hold_ns.p50, t[1], 32),
	        format_ns(l->hold_ns.p99, t[2], 32),
	        format_ns(l->hold_ns.max, t[3], 32));
	for (unsigned i = 0; r->workers && i < n; i++) {
		const struct pmerge_worker_result *w = &r->workers[i];
		fprintf(
		    f,
		    "  worker %-3u inputs %-6llu bytes %-10s share %5.1f%%  "
		    "acquisitions %-7llu wait %s\n",
		    i, (unsigned long long)w->inputs,
		    format_bytes(w->bytes, b, sizeof(b)),
		    r->bytes ? 100.0 * (double)w->bytes / (double)r->bytes
		             : 0.0,
		    (unsigned long long)w->acquisitions,
		    format_ns(w->wait_ns, t[0], 32));
	}
	for (size_t i = 0; r->decoded && i < r->inputs; i++) {
		const struct pmerge_input_result *d = &r->decoded[i];
		char *q = pm_quote(d->name);
		fprintf(f, "  input %s: %s, %s read", q,
		        d->codec ? d->codec : "not read",
		        format_bytes(d->bytes_in, b, sizeof(b)));
		pm_quote_free(q);
		fprintf(f, ", %s decoded\n",
		        format_bytes(d->bytes_out, b, sizeof(b)));
	}
	if (r->sorted.used) {
		const struct pmerge_sorted_result *o = &r->sorted;
		fprintf(
		    f,
		    "  sorted: merger waited for input %s, for the writer %s; "
		    "writer wrote for %s\n"
		    "  sorted: readers read for %s, waited for room %s\n"
		    "  sorted: %llu chunks, %llu records skipped, %zu inputs "
		    "out of order; read-ahead peak %s\n",
		    format_ns(o->merger_wait_ns, t[0], 32),
		    format_ns(o->merger_write_ns, t[1], 32),
		    format_ns(o->writer_ns, t[4], 32),
		    format_ns(o->worker_read_ns, t[2], 32),
		    format_ns(o->worker_idle_ns, t[3], 32),
		    (unsigned long long)o->chunks,
		    (unsigned long long)o->skipped, o->disordered,
		    format_bytes(o->read_ahead_peak, t[5], 32));
	}
	return finish_stream(f, &buf);
}

/*
 * The descriptor that file already is: a name of one (/dev/stderr,
 * /proc/self/fd/2, ...), or a name of the file standard error or standard
 * output is open on (2>&1 > log with --stats-file=log).  -1 otherwise.
 */
static int open_as(const char *file)
{
	struct stat st, fst;
	int fd = pmerge_output_fd(file);

	if (fd >= 0 || stat(file, &st) < 0)
		return fd;
	for (fd = STDERR_FILENO; fd >= STDOUT_FILENO; fd--)
		if (fstat(fd, &fst) == 0 && fst.st_dev == st.st_dev &&
		    fst.st_ino == st.st_ino)
			return fd;
	return -1;
}

/* Whether name is the file st describes (exists) or, when neither
 * exists, the name other with its directory made canonical. */
static bool names_file(const char *name, const struct stat *st, bool exists,
                       const char *other)
{
	struct stat nst;

	if (strcmp(name, "-") == 0)
		return exists && fstat(STDIN_FILENO, &nst) == 0 &&
		       nst.st_dev == st->st_dev && nst.st_ino == st->st_ino;
	if (stat(name, &nst) == 0)
		return exists && nst.st_dev == st->st_dev &&
		       nst.st_ino == st->st_ino;
	if (exists || !other)
		return false;
	char *a = pmerge_canonical_name(name),
	     *b = pmerge_canonical_name(other);
	bool same = a && b && strcmp(a, b) == 0;
	free(a);
	free(b);
	return same;
}

int report_check_stats_file(const struct pmerge_config *cfg,
                            const char *files0_from, const char *file)
{
	struct stat st;
	const char *what = NULL, *name = NULL;

	if (!file || pmerge_output_fd(file) >= 0)
		return 0;
	bool exists = stat(file, &st) == 0;
	if (cfg->output && pmerge_output_fd(cfg->output) < 0 &&
	    names_file(cfg->output, &st, exists, file))
		what = "the output file", name = cfg->output;
	if (!what && files0_from && names_file(files0_from, &st, exists, NULL))
		what = "the --files0-from list", name = files0_from;
	for (size_t i = 0; !what && exists && i < cfg->n_inputs; i++)
		if (names_file(cfg->inputs[i], &st, true, NULL))
			what = "an input", name = cfg->inputs[i];
	if (!what)
		return 0;
	char *q = pm_quote_always(file), *qn = pm_quote_always(name);
	if (strcmp(file, name) == 0)
		ui_message("--stats-file %s is %s", q, what);
	else
		ui_message("--stats-file %s is %s (%s)", q, what, qn);
	pm_quote_free(q);
	pm_quote_free(qn);
	return 2;
}

int report_stats(const struct pmerge_result *r, bool json, const char *file)
{
	char *text = json ? report_stats_json(r) : report_stats_text(r);
	int rc = 0;

	if (!text) {
		ui_message("cannot format the statistics: %s",
		           strerror(ENOMEM));
		return 1;
	}
	int fd = file ? open_as(file) : -1;
	if (fd >= 0) {
		/* Already open: written where it stands, never truncated. */
		if (ui_write_fd(fd, text, strlen(text)) < 0) {
			ui_name_message(file, strerror(errno));
			rc = 1;
		}
	} else if (file) {
		FILE *f = fopen(file, "w");
		if (!f || fputs(text, f) == EOF || fclose(f) != 0) {
			ui_name_message(file, strerror(errno));
			rc = 1;
		}
	} else if (ui_write(text, strlen(text)) < 0) {
		/* Standard error closed or full: as GNU tools, a failure. */
		ui_message("write error: %s", strerror(errno));
		rc = 1;
	}
	free(text);
	return rc;
}

void report_summary(const struct pmerge_result *r)
{
	char b[32], rate[32];
	uint64_t total_wait = r->lock.wait_ns.total;
	double busy =
	    r->wall_s * 1e9 * (r->jobs < r->inputs ? r->jobs : r->inputs);

	ui_message(
	    "merged %zu of %zu inputs, %s in %.3f s (%s/s), lock wait %.1f%%",
	    r->inputs - r->failed_inputs, r->inputs,
	    format_bytes(r->bytes, b, sizeof(b)), r->wall_s,
	    format_bytes(
	        r->wall_s > 0 ? (uint64_t)((double)r->bytes / r->wall_s) : 0,
	        rate, sizeof(rate)),
	    busy > 0 ? 100.0 * (double)total_wait / busy : 0.0);
}
