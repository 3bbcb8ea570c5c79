/*
 * Worker threads.  Each takes the next inputs (a run of them from an atomic
 * index), reads them, frames them, and hands the bytes to the append
 * protocol (append.c), which decides where they land: whole inputs (or runs
 * of small whole inputs) for --unit=file, batches of whole records for
 * --unit=line.
 */
#include "decode.h"
#include "internal.h"
#include "sorted.h"
#include "streams.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* A large copy is split so that the progress counters move meanwhile. */
#define PM_PROGRESS_STEP (32ull << 20)

/* How much of a batch's end is read first to find its last record: a
 * page holds the end of several records of a typical log. */
#define PM_TAIL_PROBE 4096

/* An open input: with -d, its bytes come through the decoding reader. */
struct input {
	struct pm_merge *m;
	struct pm_source src;
	struct pm_reader *rd; /* NULL: read the source itself */
	bool decoded;         /* rd decodes (it is not plain) */
	int wake_fd;
	/* Decoded ahead of the input's turn (see decode_plan.c): the first
	 * held bytes are already at the start of the worker's buffer, then
	 * spill_fd holds spill_len more; both come before the reader's. */
	size_t held;
	int spill_fd;
	uint64_t spill_len, spill_pos;
	uint64_t counted_in, counted_out; /* already in m->decoded_in/out */
	uint64_t skip; /* --tail of a compressed input: records to drop */
};

void pm_input_failed(struct pm_merge *m, const char *name, int err)
{
	atomic_fetch_add(&m->failed_inputs, 1);
	if (m->cfg->cb.input_error)
		m->cfg->cb.input_error(m->cfg->cb.user, name, err);
}

/* Reads through the reader, telling the progress line what it read. */
static ssize_t reader_read(struct input *in, void *buf, size_t len)
{
	ssize_t n = pm_reader_read(in->rd, buf, len);

	/* --tail of a compressed input: the records before the last ones
	 * are decoded and dropped. */
	while (n > 0 && in->skip > 0 &&
	       (n = (ssize_t)pm_lines_skip(buf, (size_t)n, in->m->term,
	                                   &in->skip)) == 0)
		n = pm_reader_read(in->rd, buf, len);

	if (in->decoded) {
		uint64_t bi = pm_reader_bytes_in(in->rd);
		uint64_t bo = pm_reader_bytes_out(in->rd);

		atomic_fetch_add_explicit(&in->m->decoded_in,
		                          bi - in->counted_in,
		                          memory_order_relaxed);
		atomic_fetch_add_explicit(&in->m->decoded_out,
		                          bo - in->counted_out,
		                          memory_order_relaxed);
		in->counted_in = bi;
		in->counted_out = bo;
	}
	return n;
}

/* The next bytes of a spill; closes it once it is drained. */
static ssize_t spill_read(struct input *in, void *buf, size_t len)
{
	uint64_t left = in->spill_len - in->spill_pos;
	ssize_t n;

	if (len > left)
		len = (size_t)left;
	do
		n = pread(in->spill_fd, buf, len, (off_t)in->spill_pos);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	in->spill_pos += (uint64_t)n;
	if (in->spill_pos == in->spill_len) {
		close(in->spill_fd);
		in->spill_fd = -1;
	}
	return n;
}

/*
 * One read of the input.  Returns bytes (0 at the end) or -errno.  Bytes
 * held from before the turn are at the start of buf, which is the worker's
 * buffer on every path's first read.
 */
static ssize_t input_read(struct input *in, void *buf, size_t len)
{
	if (in->held) {
		size_t n = in->held;

		in->held = 0;
		return (ssize_t)n;
	}
	if (in->spill_fd >= 0)
		return spill_read(in, buf, len);
	if (in->rd)
		return reader_read(in, buf, len);
	return pm_source_read(&in->src, buf, len, in->wake_fd);
}

/*
 * Reads until buf is full or the input ends.  Returns bytes or -errno.
 * When decoding fails part way, the bytes decoded before the error are
 * kept: their count is returned and the error left in *late.
 */
static ssize_t read_full(struct input *in, char *buf, size_t len, ssize_t *late)
{
	size_t got = 0;

	*late = 0;
	while (got < len) {
		ssize_t n = input_read(in, buf + got, len - got);
		if (n < 0 && in->rd && got > 0 && n != -ECANCELED) {
			*late = n;
			break;
		}
		if (n < 0)
			return n;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Reports a failed read; a decoding error with the codec's reason when the
 * caller takes it. */
static void read_failed(struct pm_append *a, struct input *in, ssize_t rc)
{
	struct pm_merge *m = a->m;
	const struct pmerge_callbacks *cb = &m->cfg->cb;
	const char *why = in->rd ? pm_reader_error(in->rd) : "";

	if (rc == -ECANCELED)
		return;
	if (!why[0] || !cb->input_decode_error) {
		pm_input_failed(m, in->src.name, (int)-rc);
		return;
	}
	atomic_fetch_add(&m->failed_inputs, 1);
	cb->input_decode_error(cb->user, in->src.name, why);
}

/* Writes buf[0, len) at the end of the spill.  0 or -errno. */
static int spill_write(struct input *in, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t k =
		    pwrite(in->spill_fd, buf, len, (off_t)in->spill_len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		buf += k;
		len -= (size_t)k;
		in->spill_len += (uint64_t)k;
	}
	return 0;
}

/*
 * --order=input, a decoded input whose turn has not come: decodes into the
 * worker's buffer and, past that, into a spill file, until the input ends
 * or its turn comes; the unit's usual path then reads all of it back
 * through input_read.  An error of the input stays in the reader and is
 * met (and reported) there.
 */
static void decode_ahead(struct pm_append *a, struct input *in)
{
	struct pm_worker *w = a->w;
	ssize_t late;
	ssize_t n = read_full(in, w->buf, w->bufsize, &late);
	int rc;

	if (n <= 0 || late < 0 || (size_t)n < w->bufsize ||
	    pm_append_may_go(a)) {
		in->held = n > 0 ? (size_t)n : 0;
		return;
	}
	in->spill_fd = pm_spill_open(&a->m->sink);
	if (in->spill_fd < 0) {
		/* No room for a spill: wait for the turn instead. */
		in->held = (size_t)n;
		return;
	}
	do {
		rc = spill_write(in, w->buf, (size_t)n);
		if (rc < 0) {
			pm_output_failed(a->m, rc);
			return;
		}
		n = reader_read(in, w->buf, w->bufsize);
	} while (n > 0 && !pm_append_may_go(a));
	in->held = n > 0 ? (size_t)n : 0;
	if (in->spill_len == 0) {
		close(in->spill_fd);
		in->spill_fd = -1;
	}
	/* The held bytes come after the spill: put them at its end. */
	if (in->held && in->spill_fd >= 0) {
		rc = spill_write(in, w->buf, in->held);
		in->held = 0;
		if (rc < 0)
			pm_output_failed(a->m, rc);
	}
}

/* --unit=file: a regular input, copied in place by the kernel if possible. */
static void file_regular(struct pm_append *a, struct input *in)
{
	struct pm_worker *w = a->w;
	struct pm_merge *m = a->m;
	struct pm_source *src = &in->src;
	uint64_t len = src->size > src->offset ? src->size - src->offset : 0;
	uint64_t copied = 0;
	bool in_failed = false;
	ssize_t late;
	int rc = 0;

	if (len <= w->bufsize) {
		/*
		 * Small inputs are read before waiting for the turn or the
		 * lock, so that with -j N the reads of N inputs overlap (the
		 * cold-cache case).
		 */
		ssize_t n = read_full(in, w->buf, (size_t)len, &late);
		if (n < 0) {
			read_failed(a, in, n);
			pm_append_whole(a, NULL, 0);
			return;
		}
		pm_append_whole(a, w->buf, (size_t)n);
		return;
	}
	if (pm_span_begin(a, len) < 0)
		return;
	/*
	 * In pieces, so that progress moves during a multi-GiB input; pieces
	 * that the kernel moves without copying grow (pm_copy_piece).
	 */
	for (uint64_t part = 0, piece = PM_PROGRESS_STEP; copied < len;
	     copied += part) {
		uint64_t want = len - copied < piece ? len - copied : piece;
		uint64_t t0 = pm_now_ns();

		rc = pm_sink_copy(&m->sink, src->fd, &src->offset, want, a->off,
		                  w->buf, w->bufsize, &part, &in_failed,
		                  &m->cancelled);
		pm_span_count(a, part);
		if (rc < 0 || part < want) {
			copied += part;
			break;
		}
		if (want == piece)
			piece = pm_copy_piece(PM_PROGRESS_STEP, want,
			                      pm_now_ns() - t0);
	}
	if (rc < 0 && in_failed)
		pm_input_failed(m, src->name, -rc);
	else if (rc < 0)
		pm_output_failed(m, rc);
	else if (copied < len && m->concurrent)
		/* The input shrank under us: its reserved range has a hole. */
		pm_input_failed(m, src->name, EIO);
	pm_span_end(a);
}

/*
 * Copies what is left of the spill into the open span a at its offset, by
 * the kernel where it can (copy_file_range into a file, splice into a pipe:
 * the decoded bytes are not read back through the worker's buffer), and
 * closes the spill.  0 or -errno (an output failure: the spill is ours).
 */
static int spill_copy(struct pm_append *a, struct input *in)
{
	struct pm_worker *w = a->w;
	struct pm_merge *m = a->m;
	uint64_t left = in->spill_len - in->spill_pos;
	uint64_t part;
	bool in_failed;
	int rc = 0;

	while (rc == 0 && left > 0) {
		uint64_t want =
		    left < PM_PROGRESS_STEP ? left : PM_PROGRESS_STEP;

		rc = pm_sink_copy(&m->sink, in->spill_fd, &in->spill_pos, want,
		                  a->off, w->buf, w->bufsize, &part, &in_failed,
		                  &m->cancelled);
		pm_span_count(a, part);
		left -= part;
		if (rc == 0 && part < want)
			rc = -EIO; /* the spill is shorter than what we wrote */
	}
	close(in->spill_fd);
	in->spill_fd = -1;
	return rc < 0 ? pm_output_failed(m, rc) : 0;
}

/* --unit=file: a stream; contiguous even when longer than the buffer. */
static void file_stream(struct pm_append *a, struct input *in)
{
	struct pm_worker *w = a->w;
	bool spilled = in->spill_fd >= 0;
	ssize_t late = 0;
	ssize_t n = spilled ? 0 : read_full(in, w->buf, w->bufsize, &late);

	if (n < 0) {
		read_failed(a, in, n);
		pm_append_whole(a, NULL, 0);
		return;
	}
	if (!spilled && ((size_t)n < w->bufsize || late < 0)) {
		/* It ended within the buffer: a closed span. */
		pm_append_whole(a, w->buf, (size_t)n);
		if (late < 0)
			read_failed(a, in, late);
		return;
	}
	if (pm_span_begin(a, UINT64_MAX) < 0)
		return;
	if (spilled && spill_copy(a, in) == 0) {
		/* Decoded ahead: the spill first, then the reader's rest. */
		n = input_read(in, w->buf, w->bufsize);
		if (n < 0)
			read_failed(a, in, n);
	}
	while (n > 0 && pm_span_put(a, w->buf, (size_t)n) == 0) {
		n = input_read(in, w->buf, w->bufsize);
		if (n < 0)
			read_failed(a, in, n);
	}
	pm_span_end(a);
}

int pm_lines_append(struct pm_append *a, const char *head, size_t head_len,
                    const char *buf, size_t len, bool add_term)
{
	struct pm_worker *w = a->w;
	struct pm_merge *m = a->m;
	/* A held head and the start of buf make one record: one tag. */
	const char *t = head_len ? memchr(buf, m->term, len) : NULL;
	size_t first = !head_len ? 0 : t ? (size_t)(t - buf) + 1 : len;
	size_t recs = pm_lines_count(buf + first, len - first, m->term) +
	              (head_len ? 1 : 0) + (add_term && first < len ? 1 : 0);
	uint64_t total =
	    head_len + len + (uint64_t)recs * a->tag_len + (add_term ? 1 : 0);
	int rc;

	if (head_len == 0 && len == 0)
		return 0;
	rc = pm_span_begin(a, total);
	if (rc < 0)
		return rc;
	w->st.records += recs;
	if (head_len) {
		struct iovec lead[4] = {
		    {.iov_base = (void *)a->tag, .iov_len = a->tag_len},
		    {.iov_base = (void *)head, .iov_len = head_len},
		    {.iov_base = (void *)buf, .iov_len = first},
		    {.iov_base = &m->term, .iov_len = 1},
		};
		int cnt = add_term && first == len ? 4 : 3;
		rc = pm_span_put_iov(a, lead, cnt,
		                     a->tag_len + head_len + first +
		                         (cnt == 4 ? 1 : 0));
	}
	for (size_t pos = first; rc == 0 && pos < len;) {
		size_t used;
		uint64_t bytes;
		size_t cnt = pm_lines_tag_iov(buf + pos, len - pos, m->term,
		                              a->tag, a->tag_len, w->iov,
		                              w->iov_max - 1, &used, &bytes);
		pos += used;
		if (add_term && pos == len) {
			w->iov[cnt++] =
			    (struct iovec){.iov_base = &m->term, .iov_len = 1};
			bytes++;
		}
		rc = pm_span_put_iov(a, w->iov, (int)cnt, bytes);
	}
	pm_span_end(a);
	return rc;
}

/*
 * Appends the complete records in buf[0, len) (plus a terminator when
 * add_term: the final record had none) as one closed span; untagged bytes
 * of a plain regular file at in_off go out without a copy.
 */
static int append_records(struct pm_append *a, const char *buf, size_t len,
                          bool add_term, const struct input *in,
                          uint64_t in_off)
{
	int rc;

	if (a->tag_len || add_term || in->rd || !in->src.regular)
		return pm_lines_append(a, NULL, 0, buf, len, add_term);
	rc = pm_span_begin(a, len);
	if (rc < 0)
		return rc;
	a->w->st.records += pm_lines_count(buf, len, a->m->term);
	/* The bytes as they are in the file: moved, not copied. */
	rc = pm_span_put_from(a, buf, len, in->src.fd, in_off);
	pm_span_end(a);
	return rc;
}

int pm_lines_long(struct pm_append *a, const char *head, size_t head_len,
                  size_t *fill, pm_read_more_fn more, void *ctx)
{
	struct pm_worker *w = a->w;
	struct pm_merge *m = a->m;
	size_t n = *fill;
	int rc = pm_span_begin(a, UINT64_MAX);

	if (rc < 0)
		return rc;
	w->st.records++;
	rc = pm_span_put(a, a->tag, a->tag_len);
	if (rc == 0 && head_len)
		rc = pm_span_put(a, head, head_len);
	while (rc == 0) {
		char *t = memchr(w->buf, m->term, n);
		size_t part = t ? (size_t)(t - w->buf) + 1 : n;

		rc = pm_span_put(a, w->buf, part);
		if (rc < 0 || t) {
			memmove(w->buf, w->buf + part, n - part);
			*fill = n - part;
			break;
		}
		ssize_t k = more(ctx, w->buf, w->bufsize);
		if (k <= 0) {
			/* Never leave a record unterminated in the output. */
			rc = pm_span_put(a, &m->term, 1);
			*fill = 0;
			break;
		}
		n = (size_t)k;
	}
	pm_span_end(a);
	return rc;
}

/* long_record's reader: the worker's own input, to its end. */
struct input_more {
	struct pm_append *a;
	struct input *in;
	bool eof;
};

static ssize_t input_more(void *arg, char *buf, size_t len)
{
	struct input_more *c = arg;
	ssize_t k = input_read(c->in, buf, len);

	if (k <= 0) {
		c->eof = true;
		if (k < 0)
			read_failed(c->a, c->in, k);
	}
	return k;
}

/*
 * A record longer than the buffer: written as one open span, reading on
 * until its terminator.  On return buf[0, *fill) holds what followed it.
 */
static int long_record(struct pm_append *a, struct input *in, size_t *fill,
                       bool *eof)
{
	struct input_more c = {.a = a, .in = in};
	int rc = pm_lines_long(a, NULL, 0, fill, input_more, &c);

	*eof = *eof || c.eof;
	return rc;
}

/*
 * Where the last record of input bytes [pos, end) ends: reads them
 * backwards into buf, PM_TAIL_PROBE bytes first and twice as many each
 * time after, until a terminator shows up.  Returns the length of the
 * whole records from pos, 0 when there is no terminator (or the input
 * shrank: the general path then reads what is there), or -errno.
 */
static ssize_t last_break(int fd, char term, char *buf, uint64_t pos,
                          uint64_t end)
{
	size_t probe = PM_TAIL_PROBE;

	for (uint64_t hi = end; hi > pos; hi -= probe, probe *= 2) {
		if (probe > hi - pos)
			probe = (size_t)(hi - pos);
		ssize_t n;
		do
			n = pread(fd, buf, probe, (off_t)(hi - probe));
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return -errno;
		if ((size_t)n < probe)
			return 0;
		const char *t = memrchr(buf, term, probe);
		if (t)
			return (ssize_t)(hi - probe - pos) + (t - buf) + 1;
	}
	return 0;
}

/*
 * --unit=line, a plain regular input, an output that takes a file's bytes
 * without a buffer (pm_sink_move): the next batch of whole records (up to a
 * buffer's worth from the input's offset) goes from the file to the output
 * unread; the worker reads only the batch's end, to find its last
 * terminator.  Returns 1 when a batch went out; 0 when none
 * could (no terminator within reach, or the end of the size fstat saw),
 * for the general path to read the next buffer; -1 when the input is
 * done with (its error reported) or the merge stops.
 */
static int direct_records(struct pm_append *a, struct input *in)
{
	struct pm_worker *w = a->w;
	struct pm_merge *m = a->m;
	struct pm_source *src = &in->src;
	uint64_t pos = src->offset, copied = 0;
	bool in_failed = false;
	ssize_t len;
	int rc;

	if (pos >= src->size)
		return 0;
	len = last_break(src->fd, m->term, w->buf, pos,
	                 src->size - pos < w->bufsize ? src->size
	                                              : pos + w->bufsize);
	if (len <= 0) {
		if (len < 0)
			read_failed(a, in, len);
		return len < 0 ? -1 : 0;
	}
	if (pm_span_begin(a, (uint64_t)len) < 0)
		return -1;
	rc = pm_span_move(a, src->fd, pos, (size_t)len, &copied, &in_failed);
	src->offset = pos + copied;
	/*
	 * Short: the input failed or shrank since its end was read.  A
	 * terminator after what went out (within the reservation) keeps the
	 * next record from fusing with the cut one.
	 */
	if (copied < (uint64_t)len && (rc == 0 || in_failed))
		pm_span_put(a, &m->term, 1);
	pm_span_end(a);
	if (rc < 0 && in_failed)
		pm_input_failed(m, src->name, -rc);
	else if (rc < 0)
		pm_output_failed(m, rc);
	else if (copied < (uint64_t)len)
		pm_input_failed(m, src->name, EIO);
	return rc == 0 && copied == (uint64_t)len ? 1 : -1;
}

/* --unit=line: whole records from any input, appended as they complete. */
static void merge_lines(struct pm_append *a, struct input *in)
{
	struct pm_worker *w = a->w;
	struct pm_merge *m = a->m;
	/* Counting records needs every byte: then they are read. */
	bool direct = !a->tag_len && !in->rd && in->src.regular &&
	              !m->cfg->count_records && pm_sink_takes_from(&m->sink);
	size_t fill = 0;
	bool eof = false;

	while (!eof) {
		if (direct && fill == 0) {
			int d = direct_records(a, in);
			if (d > 0)
				continue;
			if (d < 0)
				return;
		}
		ssize_t n = input_read(in, w->buf + fill, w->bufsize - fill);
		if (n < 0) {
			read_failed(a, in, n);
			if (n == -ECANCELED)
				return;
			break;
		}
		if (n == 0)
			eof = true;
		fill += (size_t)n;
		size_t done = pm_lines_complete(w->buf, fill, m->term);
		if (done > 0) {
			if (append_records(a, w->buf, done, false, in,
			                   in->src.offset - fill) < 0)
				return;
			memmove(w->buf, w->buf + done, fill - done);
			fill -= done;
		} else if (fill == w->bufsize) {
			if (long_record(a, in, &fill, &eof) < 0)
				return;
		} else {
			continue; /* an unterminated end: read on to EOF */
		}
		if (direct && !eof) {
			/* What is left is still in the file at the offset
			 * before it: the direct path takes it from there. */
			in->src.offset -= fill;
			fill = 0;
		}
	}
	if (fill > 0)
		append_records(a, w->buf, fill, true, in, 0);
}

/*
 * True when src is the output itself, written in place (standard output,
 * -a): cat refuses to copy such an input, and so does pmerge, whatever its
 * size, because the workers run at once and what one writes another would
 * read back (an empty file named as input would grow until the disk is full).
 */
bool pm_input_is_output(const struct pm_merge *m, const struct pm_source *src)
{
	return pm_output_in_place(m) && src->regular &&
	       src->dev == m->sink.dev && src->ino == m->sink.ino;
}

bool pm_output_in_place(const struct pm_merge *m)
{
	const struct pm_sink *s = &m->sink;

	return (s->regular || s->behind_regular) && s->kind != PM_SINK_REPLACE;
}

/* Counts an opened input's size towards the progress total. */
static void seen(struct pm_worker *w, const struct pm_source *src, int rc)
{
	if (rc < 0 || !src->regular)
		w->irregular_seen = true;
	else
		w->sizes_seen += src->size;
}

/* --tail: start src that many records before its end (with -d, a
 * compressed input from its start, dropping the records before those). */
static int seek_tail(struct pm_worker *w, struct input *in)
{
	struct pm_source *src = &in->src;
	const struct pmerge_config *cfg = w->m->cfg;
	uint64_t off;
	int rc = cfg->decompress
	             ? pm_source_tail_decoded(src->fd, src->offset, src->size,
	                                      cfg->tail_lines, w->m->term,
	                                      w->buf, w->bufsize, &in->skip)
	             : 0;

	if (rc != 0)
		return rc < 0 ? rc : 0;
	rc = pm_source_tail_offset(src->fd, src->size, cfg->tail_lines,
	                           w->m->term, w->buf, w->bufsize, &off);

	if (rc == 0 && off > src->offset)
		src->offset = off;
	return rc;
}

/*
 * Merges the input of a from in->src, which pm_source_open() opened (rc:
 * what it returned), and closes it.  A stream in --unit=line is handed to
 * the stream reader instead (counted in w->handed), which finishes it.
 */
static void merge_opened(struct pm_append *a, struct input *in, int rc)
{
	struct pm_worker *w = a->w;
	struct pm_merge *m = a->m;
	struct pm_source *src = &in->src;
	const char *name = m->cfg->inputs[a->idx];
	uint64_t first_offset = 0;

	seen(w, src, rc);
	if (rc < 0) {
		pm_input_failed(m, name, -rc);
		pm_append_whole(a, NULL, 0);
		return;
	}
	first_offset = src->offset;
	/* Paths below use the descriptor itself (copy_file_range, mmap). */
	pm_source_blocking(src);
	/* A stream, or a file read in pieces: the reads that count are not
	 * watched, so every worker reads (README, "Choosing -j"). */
	if (!src->regular || src->size - src->offset > w->bufsize)
		pm_gate_open(m);
	if (pm_input_is_output(m, src)) {
		pm_input_failed(m, name, PMERGE_ERR_INPUT_IS_OUTPUT);
		pm_append_whole(a, NULL, 0);
		goto out_close;
	}
	if (m->cfg->tail && src->regular && (rc = seek_tail(w, in)) < 0) {
		pm_input_failed(m, name, -rc);
		pm_append_whole(a, NULL, 0);
		goto out_close;
	}
	w->st.inputs++;
	if (m->unit == PMERGE_UNIT_LINE && !src->regular &&
	    !pm_input_chained(m, a->idx) &&
	    pm_streams_adopt(m->live, src, a->idx) == 0) {
		/* Every stream is read at once, whatever -j: the worker
		 * goes on with the next input.  With -d the stream reader
		 * decodes it, and records what it was. */
		w->handed++;
		return;
	}
	if (m->cfg->decompress) {
		rc = pm_reader_open(&in->rd, src, true, in->wake_fd);
		if (rc < 0) {
			read_failed(a, in, rc);
			pm_append_whole(a, NULL, 0);
			goto out_close;
		}
		in->decoded = pm_reader_codec(in->rd) != PM_CODEC_PLAIN;
		if (!in->decoded && src->regular) {
			/* The reader gave the bytes back: plain regular files
			 * keep their fast path. */
			pm_reader_close(in->rd);
			in->rd = NULL;
		}
		if (in->decoded && m->order == PMERGE_ORDER_INPUT &&
		    !pm_append_may_go(a))
			decode_ahead(a, in);
	}
	if (m->unit == PMERGE_UNIT_LINE) {
		char *tag = NULL;
		if (m->cfg->tag) {
			tag = pm_tag_for(m->cfg, a->idx, &a->tag_len);
			if (!tag) {
				pm_output_failed(m, -ENOMEM);
				goto out_close;
			}
			a->tag = tag;
		}
		merge_lines(a, in);
		free(tag);
	} else {
		/* Files such as those in /proc say they are empty and are
		 * not: read those to their end like a stream. */
		if (src->regular && src->size > 0 && !in->rd)
			file_regular(a, in);
		else
			file_stream(a, in);
	}
out_close:
	if (m->decoded) {
		struct pmerge_input_result *d = &m->decoded[a->idx];

		d->codec = in->rd ? pm_reader_codec_name(in->rd) : "plain";
		d->bytes_in = in->rd ? pm_reader_bytes_in(in->rd)
		                     : src->offset - first_offset;
		d->bytes_out =
		    in->rd ? pm_reader_bytes_out(in->rd) : d->bytes_in;
	}
	if (in->spill_fd >= 0)
		close(in->spill_fd);
	in->spill_fd = -1;
	pm_reader_close(in->rd);
	in->rd = NULL;
	pm_source_close(src);
}

static void merge_input(struct pm_worker *w, size_t idx)
{
	const char *name = w->m->cfg->inputs[idx];
	bool is_stdin = strcmp(name, "-") == 0;
	struct pm_append a;
	struct input in = {.m = w->m, .wake_fd = w->m->wake[0], .spill_fd = -1};

	pm_append_init(&a, w, idx);
	/* A stream named again (the same FIFO twice, "-" and /dev/stdin)
	 * is read after the earlier name is done, as cat reads it. */
	if (pm_input_wait(w->m, idx) < 0)
		goto out_done;
	if (is_stdin) {
		/* A second "-" reads what the first left: none of it (cat). */
		if (pm_append_turn(&a) < 0)
			return;
		pm_append_stdin_lock(&a);
	}
	merge_opened(&a, &in, pm_source_open(&in.src, name));
	if (is_stdin)
		pm_append_stdin_unlock(&a);
out_done:
	pm_input_done(w->m, idx);
	pm_append_pass(&a);
}

/* Appends the run of inputs from..last gathered in w->buf[0, fill). */
static void send_run(struct pm_worker *w, size_t from, size_t last,
                     const uint64_t *lens, size_t fill)
{
	struct pm_append a;

	/* What the reads since the last look waited, before the turn's. */
	pm_gate_watch(w, false);
	pm_append_init_run(&a, w, from, last, lens);
	pm_append_whole(&a, w->buf, fill);
	pm_append_pass(&a);
	pm_gate_watch(w, true);
}

void pm_gate_open(struct pm_merge *m)
{
	if (atomic_load_explicit(&m->active, memory_order_relaxed) >=
	    m->n_workers)
		return;
	pthread_mutex_lock(&m->resolve_mu);
	atomic_store(&m->active, m->n_workers);
	pthread_cond_broadcast(&m->resolve_cv);
	pthread_mutex_unlock(&m->resolve_mu);
}

void pm_gate_watch(struct pm_worker *w, bool reset)
{
	struct pm_merge *m = w->m;
	struct rusage ru;

	if (atomic_load_explicit(&m->active, memory_order_relaxed) >=
	        m->n_workers ||
	    getrusage(RUSAGE_THREAD, &ru) < 0)
		return;
	/*
	 * Reads from the page cache do not sleep; one from the device does
	 * (a preemption is an involuntary switch, not counted here).  One
	 * look that saw a sleep may be something else (a page fault of the
	 * buffer waiting for another thread's mmap): two are the device.
	 */
	if (!reset && ru.ru_nvcsw != w->nvcsw && ++w->slept == 2)
		pm_gate_open(m);
	w->nvcsw = ru.ru_nvcsw;
	w->reads = 0;
}

/* While the gate is shut: one more small input read; a look now and then. */
static void gate_count(struct pm_worker *w)
{
	if (++w->reads >= PM_GATE_LOOK)
		pm_gate_watch(w, false);
}

/* Waits while the gate keeps w out.  False when the merge is cancelled. */
static bool gate_wait(struct pm_worker *w)
{
	struct pm_merge *m = w->m;
	bool go;

	pthread_mutex_lock(&m->resolve_mu);
	while (w->id >= atomic_load(&m->active) && !atomic_load(&m->cancelled))
		pthread_cond_wait(&m->resolve_cv, &m->resolve_mu);
	go = !atomic_load(&m->cancelled);
	pthread_mutex_unlock(&m->resolve_mu);
	return go;
}

/*
 * The run of inputs first..first+count-1 (--unit=file, no -d).  Each small
 * regular input that fits in what is left of the buffer is read into it as
 * soon as it is open (one pread: with its size from the stat pass, read to
 * its end with one byte more, no fstat; else after one fstat), and the inputs
 * gathered so far go out as one unit -- one turn, one hold, one write -- when
 * the next does not fit or is not a small regular file; that one then takes the
 * path of any input, already open.
 */
static void merge_run(struct pm_worker *w, size_t first, size_t count)
{
	struct pm_merge *m = w->m;
	uint64_t lens[PM_RUN_MAX];
	size_t fill = 0, from = first, end = first + count;

	for (size_t idx = first; idx < end; idx++) {
		const char *name = m->cfg->inputs[idx];
		struct input in = {
		    .m = m, .wake_fd = m->wake[0], .spill_fd = -1};
		struct pm_source *src = &in.src;
		ssize_t late;
		int rc;

		if (atomic_load_explicit(&m->cancelled, memory_order_relaxed))
			return;
		if (strcmp(name, "-") == 0 || pm_input_chained(m, idx)) {
			if (idx > from)
				send_run(w, from, idx - 1, lens, fill);
			merge_input(w, idx);
			pm_gate_watch(w, true);
			fill = 0;
			from = idx + 1;
			continue;
		}
		uint64_t known =
		    m->known_size ? m->known_size[idx] : UINT64_MAX;
		if (known > 0 && known < w->bufsize) {
			/* Seen by the stat pass: open and read, no fstat. */
			size_t got;
			if (known >= w->bufsize - fill) {
				send_run(w, from, idx - 1, lens, fill);
				fill = 0;
				from = idx;
			}
			rc = pm_source_take(src, name, known, w->buf + fill,
			                    &got);
			if (rc > 0) {
				w->sizes_seen += got;
				w->st.inputs++;
				lens[idx - from] = got;
				fill += got;
				gate_count(w);
				continue;
			}
		} else {
			rc = pm_source_open(src, name);
		}
		bool small = rc == 0 && src->regular && !m->cfg->tail &&
		             src->size > src->offset &&
		             src->size - src->offset <= w->bufsize &&
		             !pm_input_is_output(m, src);
		if (small && src->size - src->offset > w->bufsize - fill) {
			/* Full: send the run; this input starts the next. */
			send_run(w, from, idx - 1, lens, fill);
			fill = 0;
			from = idx;
		}
		if (small) {
			ssize_t n =
			    read_full(&in, w->buf + fill,
			              (size_t)(src->size - src->offset), &late);
			if (n >= 0) {
				seen(w, src, 0);
				pm_source_close(src);
				w->st.inputs++;
				lens[idx - from] = (uint64_t)n;
				fill += (size_t)n;
				gate_count(w);
				continue;
			}
			/* A read error: the input's own path reports it. */
			src->offset = 0;
		}
		if (idx > from)
			send_run(w, from, idx - 1, lens, fill);
		struct pm_append a;
		pm_append_init(&a, w, idx);
		merge_opened(&a, &in, rc);
		pm_append_pass(&a);
		pm_gate_watch(w, true);
		fill = 0;
		from = idx + 1;
	}
	if (end > from)
		send_run(w, from, end - 1, lens, fill);
}

/*
 * Claims the next inputs: a run of them, long while many remain (fewer
 * hand-overs), shorter towards the end so that the workers finish
 * together.  Returns the count, 0 when none is left.
 */
static size_t claim_run(struct pm_merge *m, size_t *first)
{
	size_t n = m->cfg->n_inputs;
	size_t cur = atomic_load_explicit(&m->next_input, memory_order_relaxed);
	size_t want;

	do {
		if (cur >= n)
			return 0;
		want = (n - cur) / (4 * (size_t)m->n_workers);
		if (want > m->run_max)
			want = m->run_max;
		if (want < 1)
			want = 1;
	} while (
	    !atomic_compare_exchange_weak(&m->next_input, &cur, cur + want));
	*first = cur;
	return want;
}

void *pm_worker_main(void *arg)
{
	struct pm_worker *w = arg;
	struct pm_merge *m = w->m;
	size_t first, count;

	if (!gate_wait(w) || pm_worker_resolve_watched(m, w) < 0)
		goto out;
	pm_gate_watch(w, true); /* it may have waited for the others' stats */
	while (!atomic_load_explicit(&m->cancelled, memory_order_relaxed) &&
	       (count = claim_run(m, &first)) > 0) {
		size_t handed = w->handed;
		if (count == 1)
			/* -d in --order=arrival: the largest inputs first. */
			merge_input(w,
			            m->schedule ? m->schedule[first] : first);
		else
			merge_run(w, first, count);
		/* The stream reader counts the inputs handed to it. */
		atomic_fetch_add(&m->inputs_done, count - (w->handed - handed));
	}
	/* None left: those still at the gate may end too. */
	pm_gate_open(m);
out:
	atomic_fetch_add(&m->workers_done, 1);
	if (m->live)
		pm_streams_poke(m->live); /* it may be waiting for us */
	m->wake_loop(m);
	return NULL;
}

void pm_merge_cancel(struct pm_merge *m)
{
	bool was = atomic_exchange(&m->cancelled, true);

	if (was)
		return;
	/* Written once and never drained: every poll() sees it from now on. */
	while (write(m->wake[1], &(uint64_t){1}, sizeof(uint64_t)) < 0 &&
	       errno == EINTR)
		;
	pm_order_cancel(&m->turn);
	pm_sorted_cancel(m);
	if (m->resolve_on) {
		pthread_mutex_lock(&m->resolve_mu);
		pthread_cond_broadcast(&m->resolve_cv);
		pthread_mutex_unlock(&m->resolve_mu);
	}
}
