/*
 * What pmerge shows on standard error: messages, quoted names, and the
 * progress line (a live line for terminals, a plain one for logs).
 */
#include "ui.h"
#include "report.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* What is on standard error, shared by the loop thread and the workers. */
struct ui {
	pthread_mutex_t mu;
	bool live;       /* a progress line redrawn in place */
	bool line_shown; /* something of it is on the screen now */
	bool quiet;
	unsigned width;
};

static struct ui ui = {.mu = PTHREAD_MUTEX_INITIALIZER, .width = 80};

static void read_width(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		ui.width = ws.ws_col;
}

void ui_init(const struct ui_options *opt)
{
	ui.live = opt->live;
	ui.quiet = opt->quiet;
	if (ui.live)
		read_width();
}

/* Writes all of buf to fd; messages must not be lost to EINTR.  0, or
 * -1 with errno set when fd could not take it all. */
static int put_fd(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Clears the progress line; the caller holds ui.mu. */
static void clear_line_locked(void)
{
	if (ui.line_shown) {
		put_fd(STDERR_FILENO, "\r\033[K", 4);
		ui.line_shown = false;
	}
}

int ui_write_fd(int fd, const char *text, size_t len)
{
	int rc;

	pthread_mutex_lock(&ui.mu);
	if (fd == STDERR_FILENO)
		clear_line_locked();
	rc = put_fd(fd, text, len);
	pthread_mutex_unlock(&ui.mu);
	return rc;
}

int ui_write(const char *text, size_t len)
{
	return ui_write_fd(STDERR_FILENO, text, len);
}

void ui_message(const char *fmt, ...)
{
	static const char prefix[] = "pmerge: ";
	char small[1024], *buf = small;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* A long name must not cut the reason off: size the line to fit. */
	if ((size_t)n + sizeof(prefix) + 1 > sizeof(small))
		buf = malloc((size_t)n + sizeof(prefix) + 1);
	if (!buf) {
		buf = small;
		n = (int)(sizeof(small) - sizeof(prefix) - 1);
	}
	memcpy(buf, prefix, sizeof(prefix) - 1);
	va_start(ap, fmt);
	vsnprintf(buf + sizeof(prefix) - 1, (size_t)n + 1, fmt, ap);
	va_end(ap);
	buf[sizeof(prefix) - 1 + (size_t)n] = '\n';
	ui_write(buf, sizeof(prefix) + (size_t)n);
	if (buf != small)
		free(buf);
}

void ui_name_message(const char *name, const char *what)
{
	char *q = pm_quote(name);

	ui_message("%s: %s", q, what);
	pm_quote_free(q);
}

void ui_on_input_error(void *user, const char *name, int err)
{
	(void)user;
	ui_name_message(name, err == PMERGE_ERR_INPUT_IS_OUTPUT
	                          ? "input file is output file"
	                          : strerror(err));
}

void ui_on_disorder(void *user, const char *name, uint64_t line, bool fatal)
{
	char *q;

	(void)user;
	if (!fatal && ui.quiet)
		return;
	q = pm_quote(name);
	ui_message("%s:%llu: disorder", q, (unsigned long long)line);
	pm_quote_free(q);
}

void ui_on_input_decode_error(void *user, const char *name, const char *reason)
{
	(void)user;
	ui_name_message(name, reason);
}

void ui_on_note(void *user, enum pmerge_note what, const char *detail)
{
	(void)user;
	if (what == PMERGE_NOTE_SEM_REDUCED && !ui.quiet)
		ui_message("note: %s takes no positioned writes; sem:N runs as "
		           "sem:1",
		           detail);
}

void ui_on_follow(void *user, enum pmerge_follow_event ev, const char *name,
                  int err)
{
	const struct pmerge_config *cfg = user;
	char *q;

	if (ui.quiet)
		return;
	q = pm_quote(name);
	name = q;
	switch (ev) {
	case PMERGE_FOLLOW_MISSING:
		ui_message("cannot open %s for reading: %s; waiting for it",
		           name, strerror(err));
		break;
	case PMERGE_FOLLOW_APPEARED:
		ui_message("%s has appeared; following new file", name);
		break;
	case PMERGE_FOLLOW_REPLACED:
		ui_message("%s has been replaced; following new file", name);
		break;
	case PMERGE_FOLLOW_TRUNCATED:
		ui_message("%s: file truncated", name);
		break;
	case PMERGE_FOLLOW_GONE:
		ui_message("%s has become inaccessible: %s", name,
		           strerror(err));
		break;
	case PMERGE_FOLLOW_NO_WATCH:
		ui_message(
		    "cannot watch %s for changes: %s; polling every %g s", name,
		    strerror(err),
		    (cfg->poll_interval_ms ? cfg->poll_interval_ms : 1000) /
		        1000.0);
		break;
	}
	pm_quote_free(q);
}

void ui_on_workers_reduced(void *user, unsigned started, unsigned wanted,
                           int err)
{
	(void)user;
	if (ui.quiet)
		return;
	if (err == EMFILE)
		ui_message("note: running %u of %u workers: too few file "
		           "descriptors are free for more inputs at once",
		           started, wanted);
	else
		ui_message("note: running %u of %u workers: cannot %s: %s",
		           started, wanted,
		           err == ENOMEM ? "allocate buffers for more"
		                         : "create more threads",
		           strerror(err));
}

void ui_setup_failure(const struct pmerge_result *r, int err)
{
	static const char *const what[] = {
	    [PMERGE_SETUP_MEMORY] = "cannot allocate the merge's buffers",
	    [PMERGE_SETUP_SYNC] = "cannot set up the lock",
	    [PMERGE_SETUP_WAKE] = "cannot create the wake-up descriptor",
	    [PMERGE_SETUP_LOOP] = "cannot start the event loop",
	    [PMERGE_SETUP_ASYNC] = "cannot create the event loop's wake-up",
	    [PMERGE_SETUP_SIGNALS] = "cannot watch signals",
	    [PMERGE_SETUP_WATCH] = "cannot watch the inputs for changes",
	    [PMERGE_SETUP_STREAMS] = "cannot start the stream reader",
	    [PMERGE_SETUP_STREAM_THREAD] =
	        "cannot create the stream reader thread",
	    [PMERGE_SETUP_COMPRESS] = "cannot start the compressor",
	};
	size_t k = (size_t)r->setup_failed;

	if (r->setup_failed == PMERGE_SETUP_THREAD)
		ui_message("cannot create worker thread %u of %u: %s",
		           r->setup_index, r->setup_count, strerror(err));
	else if (r->setup_failed == PMERGE_SETUP_MEMORY && r->setup_bytes) {
		char size[32];
		ui_message("cannot allocate the copy buffers (%s each): %s",
		           format_bytes(r->setup_bytes, size, sizeof(size)),
		           strerror(err));
	} else if (k < sizeof(what) / sizeof(what[0]) && what[k])
		ui_message("%s: %s", what[k], strerror(err));
	else
		ui_message("%s", strerror(err));
}

void ui_on_resize(void *user)
{
	(void)user;
	pthread_mutex_lock(&ui.mu);
	read_width();
	pthread_mutex_unlock(&ui.mu);
}

void ui_on_progress(void *user, const struct pmerge_progress *p)
{
	char line[512];
	size_t n;

	(void)user;
	pthread_mutex_lock(&ui.mu);
	if (ui.live && p->finished) {
		clear_line_locked();
	} else if (ui.live) {
		line[0] = '\r';
		n = ui_progress_format(p, ui.width, true, line + 1,
		                       sizeof(line) - 8);
		memcpy(line + 1 + n, "\033[K", 3);
		put_fd(STDERR_FILENO, line, n + 4);
		ui.line_shown = true;
	} else {
		n = ui_progress_format(p, 0, false, line, sizeof(line) - 1);
		line[n++] = '\n';
		put_fd(STDERR_FILENO, line, n);
	}
	pthread_mutex_unlock(&ui.mu);
}

void ui_bench_step(const char *lock, unsigned run, unsigned runs)
{
	char line[160];
	int n;

	if (!ui.live)
		return;
	pthread_mutex_lock(&ui.mu);
	if (!lock) {
		clear_line_locked();
	} else {
		n = run == 0
		        ? snprintf(line, sizeof(line),
		                   "\rpmerge: bench %s: warm-up\033[K", lock)
		        : snprintf(line, sizeof(line),
		                   "\rpmerge: bench %s: run %u of %u\033[K",
		                   lock, run, runs);
		put_fd(STDERR_FILENO, line,
		       (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
		ui.line_shown = true;
	}
	pthread_mutex_unlock(&ui.mu);
}

void ui_on_status(void *user, const struct pmerge_progress *p)
{
	char line[512];
	size_t n;

	(void)user;
	pthread_mutex_lock(&ui.mu);
	clear_line_locked();
	n = ui_progress_format(p, 0, false, line, sizeof(line) - 1);
	line[n++] = '\n';
	put_fd(STDERR_FILENO, line, n);
	pthread_mutex_unlock(&ui.mu);
}

/* ------------------------------------------------------ the progress text */

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

size_t ui_progress_format(const struct pmerge_progress *p, unsigned width,
                          bool live, char *buf, size_t size)
{
	char done[32], total[32], rate[32], eta[32], el[32];
	size_t n = 0;
	double pct = 0;

	if (size == 0)
		return 0;
	buf[0] = '\0';
	format_bytes(p->bytes_done, done, sizeof(done));
	format_bytes((uint64_t)p->rate, rate, sizeof(rate));
	fmt_duration(p->elapsed_s, el, sizeof(el));
	if (p->total_known) {
		pct = p->bytes_total ? 100.0 * (double)p->bytes_done /
		                           (double)p->bytes_total
		                     : 100.0;
		if (pct > 100)
			pct = 100;
		format_bytes(p->bytes_total, total, sizeof(total));
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
