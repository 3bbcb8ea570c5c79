/* Progress lines: a live line for terminals, a plain one for logs. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *pmerge_format_bytes(uint64_t bytes, char *buf, size_t size)
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

static void fmt_duration(double s, char *buf, size_t size)
{
	unsigned long t = s > 0 ? (unsigned long)(s + 0.5) : 0;

	if (t >= 3600)
		snprintf(buf, size, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60,
		         t % 60);
	else
		snprintf(buf, size, "%lu:%02lu", t / 60, t % 60);
}

/* snprintf that appends at *n and never runs past size. */
static void add(char *buf, size_t size, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (*n >= size)
		return;
	va_start(ap, fmt);
	k = vsnprintf(buf + *n, size - *n, fmt, ap);
	va_end(ap);
	if (k > 0)
		*n = *n + (size_t)k < size ? *n + (size_t)k : size - 1;
}

size_t pmerge_progress_format(const struct pmerge_progress *p, unsigned width,
                              bool live, char *buf, size_t size)
{
	char done[32], total[32], rate[32], eta[32], el[32];
	size_t n = 0;
	double pct = 0;

	if (size == 0)
		return 0;
	buf[0] = '\0';
	pmerge_format_bytes(p->bytes_done, done, sizeof(done));
	pmerge_format_bytes((uint64_t)p->rate, rate, sizeof(rate));
	fmt_duration(p->elapsed_s, el, sizeof(el));
	if (p->total_known) {
		pct = p->bytes_total ? 100.0 * (double)p->bytes_done /
		                           (double)p->bytes_total
		                     : 100.0;
		if (pct > 100)
			pct = 100;
		pmerge_format_bytes(p->bytes_total, total, sizeof(total));
	}
	if (!live) {
		add(buf, size, &n, "pmerge: %zu/%zu inputs, %s", p->inputs_done,
		    p->inputs_total, done);
		if (p->total_known)
			add(buf, size, &n, " of %s (%.0f%%)", total, pct);
		add(buf, size, &n, ", %s/s, %s elapsed, lock wait %.0f%%", rate,
		    el, 100 * p->lock_wait_share);
		return n;
	}
	/* Live: the fixed fields first, then a bar in whatever width is left.
	 */
	char head[160], tail[128];
	size_t hn = 0, tn = 0;

	add(head, sizeof(head), &hn, "%zu/%zu inputs  %s", p->inputs_done,
	    p->inputs_total, done);
	if (p->total_known)
		add(head, sizeof(head), &hn, " / %s %3.0f%%", total, pct);
	add(tail, sizeof(tail), &tn, "  %s/s", rate);
	if (p->total_known && !p->finished && p->rate > 0 &&
	    p->bytes_total > p->bytes_done) {
		fmt_duration((double)(p->bytes_total - p->bytes_done) / p->rate,
		             eta, sizeof(eta));
		add(tail, sizeof(tail), &tn, "  ETA %s", eta);
	} else {
		add(tail, sizeof(tail), &tn, "  %s", el);
	}
	add(tail, sizeof(tail), &tn, "  lock wait %.0f%%",
	    100 * p->lock_wait_share);
	add(buf, size, &n, "%s", head);
	if (p->total_known && width > hn + tn + 8) {
		size_t bar = width - hn - tn - 4;
		size_t fill = (size_t)((double)bar * pct / 100.0);

		if (bar > 60)
			bar = 60, fill = (size_t)(60.0 * pct / 100.0);
		add(buf, size, &n, " [");
		for (size_t i = 0; i < bar; i++)
			add(buf, size, &n, "%c", i < fill ? '#' : '-');
		add(buf, size, &n, "]");
	}
	add(buf, size, &n, "%s", tail);
	if (width > 1 && n > width - 1) {
		/* Never wrap: a wrapped line cannot be redrawn in place. */
		n = width - 1;
		buf[n] = '\0';
	}
	return n;
}
