/*
 * Worker threads.  Each takes the next input (an atomic index), reads it,
 * frames it into appends, and writes them through the lock strategy.
 *
 * An append is a "span" of the output.  A closed span has a known length:
 * under a strategy with several holders (sem:N) its byte range is reserved
 * in a short critical section and then written with positioned writes,
 * concurrently with other spans.  An open span (a stream of unknown length
 * in --unit=file, a record longer than the buffer in --unit=line) keeps the
 * reservation lock until it ends, so that it stays contiguous.
 */
#include "internal.h"
#include "sorted.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A large copy is split so that the progress counters move meanwhile. */
#define PM_PROGRESS_STEP (32ull << 20)

/* The append state of one input. */
struct unit {
	struct pm_worker *w;
	struct pm_merge *m;
	size_t idx;
	const char *tag;
	size_t tag_len;
	bool have_turn;
	bool turn_passed; /* the next input may go (or went) */
	bool tail;        /* holding tail_mu: an open span */
	uint64_t off;     /* where the next byte of the span goes */
	uint64_t span_start;
	uint64_t span_len;
	unsigned depth; /* rlock nesting inside the span */
};

static void input_failed(struct pm_merge *m, const char *name, int err)
{
	atomic_fetch_add(&m->failed_inputs, 1);
	if (m->cfg->cb.input_error)
		m->cfg->cb.input_error(m->cfg->cb.user, name, err);
}

static int output_failed(struct pm_merge *m, int rc)
{
	int expected = 0;

	if (rc != -ECANCELED) {
		atomic_compare_exchange_strong(&m->output_error, &expected,
		                               -rc);
		pm_merge_cancel(m);
	}
	return rc;
}

static int turn_take(struct unit *u)
{
	if (u->m->order != PMERGE_ORDER_INPUT || u->have_turn)
		return 0;
	int rc = pm_order_wait(&u->m->turn, u->idx);
	u->have_turn = rc == 0;
	return rc;
}

static void span_write(struct unit *u, const char *buf, size_t len);

/*
 * This input's place in the output is fixed: let the next input go, and
 * write any fully buffered inputs parked behind it on their owners' behalf.
 * Waits for this input's turn first if need be (a failed input).
 */
static void turn_pass(struct unit *u)
{
	struct pm_merge *m = u->m;

	if (m->order != PMERGE_ORDER_INPUT || u->turn_passed)
		return;
	u->turn_passed = true;
	if (turn_take(u) < 0)
		return;
	struct pm_parked *next = pm_order_pass(&m->turn, u->idx);
	while (next) {
		struct unit h = {.w = u->w,
		                 .m = m,
		                 .idx = next->idx,
		                 .have_turn = true,
		                 .turn_passed = true};
		if (next->buf)
			span_write(&h, next->buf, next->len);
		next = pm_order_pass(&m->turn, next->idx);
	}
}

/*
 * Opens a span of len bytes (UINT64_MAX: open-ended) and sets u->off.
 * Returns 0, or -ECANCELED when the merge is stopping.
 */
static int span_begin(struct unit *u, uint64_t len)
{
	struct pm_merge *m = u->m;
	int rc = turn_take(u);

	if (rc < 0)
		return rc;
	pm_lock_enter(&m->lock, &u->w->st);
	if (m->concurrent) {
		pthread_mutex_lock(&m->tail_mu);
		u->off =
		    atomic_load_explicit(&m->sink.end, memory_order_relaxed);
		if (len != UINT64_MAX) {
			atomic_store_explicit(&m->sink.end, u->off + len,
			                      memory_order_relaxed);
			pthread_mutex_unlock(&m->tail_mu);
			/*
			 * In --unit=file a closed span is the whole input: with
			 * its range reserved, the next input may reserve and
			 * write beside it.  (A line batch is not the last.)
			 */
			if (m->unit == PMERGE_UNIT_FILE)
				turn_pass(u);
		} else {
			u->tail = true;
		}
	} else {
		u->off =
		    atomic_load_explicit(&m->sink.end, memory_order_relaxed);
	}
	u->span_start = u->off;
	u->span_len = len;
	return 0;
}

static void span_end(struct unit *u)
{
	struct pm_merge *m = u->m;
	uint64_t written = u->off - u->span_start;

	if (!m->concurrent || u->tail)
		atomic_store_explicit(&m->sink.end, u->off,
		                      memory_order_relaxed);
	if (u->tail) {
		pthread_mutex_unlock(&m->tail_mu);
		u->tail = false;
	}
	pm_lock_leave(&m->lock, &u->w->st);
	if (m->placement) {
		m->placement[u->idx].offset = u->span_start;
		m->placement[u->idx].length += written;
	}
}

static void count_out(struct unit *u, uint64_t n)
{
	u->off += n;
	u->w->st.bytes += n;
	atomic_fetch_add_explicit(&u->m->bytes_done, n, memory_order_relaxed);
}

/* Writes iov inside the open span: one (nested, for rlock) write call. */
static int put_iov(struct unit *u, struct iovec *iov, int cnt, uint64_t len)
{
	struct pm_merge *m = u->m;
	int rc;

	pm_lock_reenter(&m->lock, &u->w->st, &u->depth);
	rc = pm_sink_writev(&m->sink, iov, cnt, u->off);
	pm_lock_reexit(&m->lock, &u->depth);
	if (rc < 0)
		return output_failed(m, rc);
	count_out(u, len);
	return 0;
}

static int put(struct unit *u, const void *buf, size_t len)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};

	return len ? put_iov(u, &iov, 1, len) : 0;
}

/* Writes buf[0, len) as one closed span. */
static void span_write(struct unit *u, const char *buf, size_t len)
{
	if (span_begin(u, len) == 0) {
		put(u, buf, len);
		span_end(u);
	}
}

/*
 * A whole input is in buf[0, len) (buf NULL: it failed, nothing to write).
 * In input order it may be parked for the worker that passes the turn to
 * write; otherwise it is written here.
 */
static void deliver(struct unit *u, const char *buf, size_t len)
{
	if (u->m->order == PMERGE_ORDER_INPUT && !u->have_turn) {
		struct pm_parked p = {.idx = u->idx, .buf = buf, .len = len};
		int rc = pm_order_offer(&u->m->turn, &p);

		if (rc != 0) {
			/* Written by another worker, or cancelled. */
			u->turn_passed = true;
			return;
		}
		u->have_turn = true;
	}
	if (buf)
		span_write(u, buf, len);
}

/* Reads until buf is full or the input ends.  Returns bytes or -errno. */
static ssize_t read_full(struct pm_merge *m, struct pm_source *src, char *buf,
                         size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n =
		    pm_source_read(src, buf + got, len - got, m->wake[0]);
		if (n < 0)
			return n;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static void read_failed(struct unit *u, struct pm_source *src, ssize_t rc)
{
	if (rc != -ECANCELED)
		input_failed(u->m, src->name, (int)-rc);
}

/* --unit=file: a regular input, copied in place by the kernel if possible. */
static void file_regular(struct unit *u, struct pm_source *src)
{
	struct pm_worker *w = u->w;
	struct pm_merge *m = u->m;
	uint64_t len = src->size > src->offset ? src->size - src->offset : 0;
	uint64_t copied = 0;
	bool in_failed = false;
	int rc = 0;

	if (len <= w->bufsize) {
		/*
		 * Small inputs are read before waiting for the turn or the
		 * lock, so that with -j N the reads of N inputs overlap (the
		 * cold-cache case).
		 */
		ssize_t n = read_full(m, src, w->buf, (size_t)len);
		if (n < 0) {
			read_failed(u, src, n);
			deliver(u, NULL, 0);
			return;
		}
		deliver(u, w->buf, (size_t)n);
		return;
	}
	if (span_begin(u, len) < 0)
		return;
	/* In pieces, so that progress moves during a multi-GiB input. */
	for (uint64_t part = 0; copied < len; copied += part) {
		uint64_t want = len - copied < PM_PROGRESS_STEP
		                    ? len - copied
		                    : PM_PROGRESS_STEP;
		rc = pm_sink_copy(&m->sink, src->fd, &src->offset, want, u->off,
		                  w->buf, w->bufsize, &part, &in_failed,
		                  &m->cancelled);
		count_out(u, part);
		if (rc < 0 || part < want) {
			copied += part;
			break;
		}
	}
	if (rc < 0 && in_failed)
		input_failed(m, src->name, -rc);
	else if (rc < 0)
		output_failed(m, rc);
	else if (copied < len && m->concurrent)
		/* The input shrank under us: its reserved range has a hole. */
		input_failed(m, src->name, EIO);
	span_end(u);
}

/* --unit=file: a stream; contiguous even when longer than the buffer. */
static void file_stream(struct unit *u, struct pm_source *src)
{
	struct pm_worker *w = u->w;
	ssize_t n = read_full(u->m, src, w->buf, w->bufsize);

	if (n < 0) {
		read_failed(u, src, n);
		deliver(u, NULL, 0);
		return;
	}
	if ((size_t)n < w->bufsize) {
		/* It ended within the buffer: a closed span. */
		deliver(u, w->buf, (size_t)n);
		return;
	}
	if (span_begin(u, UINT64_MAX) < 0)
		return;
	while (n > 0 && put(u, w->buf, (size_t)n) == 0) {
		n = pm_source_read(src, w->buf, w->bufsize, u->m->wake[0]);
		if (n < 0)
			read_failed(u, src, n);
	}
	span_end(u);
}

/*
 * Appends the complete records in buf[0, len) (plus a terminator when
 * add_term: the final record had none) as one closed span.
 */
static int append_records(struct unit *u, const char *buf, size_t len,
                          bool add_term)
{
	struct pm_worker *w = u->w;
	struct pm_merge *m = u->m;
	size_t recs = pm_lines_count(buf, len, m->term) + (add_term ? 1 : 0);
	uint64_t total = len + (uint64_t)recs * u->tag_len + (add_term ? 1 : 0);
	int rc = span_begin(u, total);

	if (rc < 0)
		return rc;
	w->st.records += recs;
	for (size_t pos = 0; rc == 0 && pos < len;) {
		size_t used;
		uint64_t bytes;
		size_t cnt = pm_lines_tag_iov(buf + pos, len - pos, m->term,
		                              u->tag, u->tag_len, w->iov,
		                              w->iov_max - 1, &used, &bytes);
		pos += used;
		if (add_term && pos == len) {
			w->iov[cnt++] =
			    (struct iovec){.iov_base = &m->term, .iov_len = 1};
			bytes++;
		}
		rc = put_iov(u, w->iov, (int)cnt, bytes);
	}
	span_end(u);
	return rc;
}

/*
 * A record longer than the buffer: write it as one open span, reading on
 * until its terminator.  On return buf[0, *fill) holds what followed it.
 */
static int long_record(struct unit *u, struct pm_source *src, size_t *fill,
                       bool *eof)
{
	struct pm_worker *w = u->w;
	struct pm_merge *m = u->m;
	size_t n = *fill;
	int rc = span_begin(u, UINT64_MAX);

	if (rc < 0)
		return rc;
	w->st.records++;
	rc = put(u, u->tag, u->tag_len);
	for (;;) {
		if (rc < 0)
			break;
		char *t = memchr(w->buf, m->term, n);
		size_t head = t ? (size_t)(t - w->buf) + 1 : n;
		rc = put(u, w->buf, head);
		if (rc < 0)
			break;
		if (t) {
			memmove(w->buf, w->buf + head, n - head);
			*fill = n - head;
			break;
		}
		ssize_t k = pm_source_read(src, w->buf, w->bufsize, m->wake[0]);
		if (k <= 0) {
			if (k < 0)
				read_failed(u, src, k);
			/* Never leave a record unterminated in the output. */
			rc = k == 0 ? put(u, &m->term, 1) : (int)k;
			*fill = 0;
			*eof = true;
			break;
		}
		n = (size_t)k;
	}
	span_end(u);
	return rc;
}

/* --unit=line: whole records from any input, appended as they complete. */
static void line_unit(struct unit *u, struct pm_source *src)
{
	struct pm_worker *w = u->w;
	struct pm_merge *m = u->m;
	size_t fill = 0;
	bool eof = false;

	while (!eof) {
		ssize_t n = pm_source_read(src, w->buf + fill,
		                           w->bufsize - fill, m->wake[0]);
		if (n < 0) {
			read_failed(u, src, n);
			if (n == -ECANCELED)
				return;
			break;
		}
		if (n == 0)
			eof = true;
		fill += (size_t)n;
		size_t done = pm_lines_complete(w->buf, fill, m->term);
		if (done > 0) {
			if (append_records(u, w->buf, done, false) < 0)
				return;
			memmove(w->buf, w->buf + done, fill - done);
			fill -= done;
		} else if (fill == w->bufsize) {
			if (long_record(u, src, &fill, &eof) < 0)
				return;
		}
	}
	if (fill > 0)
		append_records(u, w->buf, fill, true);
}

/* True when src is the output itself and still has bytes cat would refuse
 * to copy (they would be read back as they are written). */
bool pm_input_is_output(const struct pm_merge *m, const struct pm_source *src)
{
	const struct pm_sink *s = &m->sink;

	return s->regular && s->kind != PM_SINK_REPLACE && src->regular &&
	       src->dev == s->dev && src->ino == s->ino &&
	       src->offset < src->size;
}

static void merge_input(struct pm_worker *w, size_t idx)
{
	struct pm_merge *m = w->m;
	const char *name = m->cfg->inputs[idx];
	bool is_stdin = strcmp(name, "-") == 0;
	struct unit u = {.w = w, .m = m, .idx = idx};
	struct pm_source src;
	int rc;

	if (is_stdin) {
		/* A second "-" reads what the first left: none of it (cat). */
		if (turn_take(&u) < 0)
			return;
		pthread_mutex_lock(&m->stdin_mu);
	}
	rc = pm_source_open(&src, name);
	if (rc < 0) {
		input_failed(m, name, -rc);
		deliver(&u, NULL, 0);
		goto out;
	}
	if (pm_input_is_output(m, &src)) {
		input_failed(m, name, PMERGE_ERR_INPUT_IS_OUTPUT);
		deliver(&u, NULL, 0);
		goto out_close;
	}
	w->st.inputs++;
	if (m->unit == PMERGE_UNIT_LINE) {
		char *tag = NULL;
		if (m->cfg->tag) {
			tag = pmerge_tag_make(name, &u.tag_len);
			if (!tag) {
				output_failed(m, -ENOMEM);
				goto out_close;
			}
			u.tag = tag;
		}
		line_unit(&u, &src);
		free(tag);
	} else {
		w->st.records++;
		/* Files such as those in /proc say they are empty and are
		 * not: read those to their end like a stream. */
		if (src.regular && src.size > 0)
			file_regular(&u, &src);
		else
			file_stream(&u, &src);
	}
out_close:
	pm_source_close(&src);
out:
	if (is_stdin)
		pthread_mutex_unlock(&m->stdin_mu);
	turn_pass(&u);
}

void *pm_worker_main(void *arg)
{
	struct pm_worker *w = arg;
	struct pm_merge *m = w->m;

	while (!atomic_load_explicit(&m->cancelled, memory_order_relaxed)) {
		size_t idx = atomic_fetch_add(&m->next_input, 1);
		if (idx >= m->cfg->n_inputs)
			break;
		merge_input(w, idx);
		atomic_fetch_add(&m->inputs_done, 1);
	}
	atomic_fetch_add(&m->workers_done, 1);
	m->wake_loop(m);
	return NULL;
}

void pm_merge_cancel(struct pm_merge *m)
{
	bool was = atomic_exchange(&m->cancelled, true);

	if (was)
		return;
	/* Written once and never drained: every poll() sees it from now on. */
	while (write(m->wake[1], "x", 1) < 0 && errno == EINTR)
		;
	pm_order_cancel(&m->turn);
	pm_sorted_cancel(m);
}
