/*
 * The stream reader: one thread that services every live input at once
 * (see src/streams.h for who calls what, and on which thread).
 */
#include "streams.h"
#include "decode.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define PM_EPOLL_BATCH 64

/* epoll data for the fds that are not streams (probe: see adopt). */
static char wake_tag, poke_tag, probe_tag;

static int follow_init(struct pm_streams *s)
{
	const struct pmerge_config *cfg = s->m->cfg;

	s->n_follow = cfg->n_inputs;
	s->follow = calloc(s->n_follow ? s->n_follow : 1, sizeof(*s->follow));
	s->dq = calloc(s->n_follow ? s->n_follow : 1, sizeof(size_t));
	s->dq_local = calloc(s->n_follow ? s->n_follow : 1, sizeof(size_t));
	if (!s->follow || !s->dq || !s->dq_local)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_follow; i++) {
		struct pm_follow *f = &s->follow[i];
		const char *slash = strrchr(cfg->inputs[i], '/');

		f->idx = i;
		f->name = cfg->inputs[i];
		f->base = slash ? slash + 1 : f->name;
		f->is_stdin = strcmp(f->name, "-") == 0;
	}
	return 0;
}

int pm_streams_create(struct pm_merge *m, struct pm_streams **out)
{
	struct pm_streams *s = calloc(1, sizeof(*s));
	struct epoll_event ev = {.events = EPOLLIN};
	int rc;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->m = m;
	s->ep = s->poke = -1;
	s->w.m = m;
	s->w.id = m->n_workers;
	s->w.bufsize = m->bufsize;
	s->w.iov_max = 1024;
	s->poll_ms =
	    m->cfg->poll_interval_ms ? (int)m->cfg->poll_interval_ms : 1000;
	/* A rotated-away file is read on for five poll intervals after it
	 * last grew: its writer may not have reopened the name yet. */
	s->linger_ns = 5ull * (uint64_t)s->poll_ms * 1000000ull;
	if ((rc = -pthread_mutex_init(&s->mu, NULL)) < 0) {
		free(s);
		return rc;
	}
	if (posix_memalign((void **)&s->w.buf, 4096, s->w.bufsize) != 0 ||
	    !(s->w.iov = calloc(s->w.iov_max, sizeof(*s->w.iov)))) {
		rc = -ENOMEM;
		goto out;
	}
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	s->poke = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->ep < 0 || s->poke < 0) {
		rc = -errno;
		goto out;
	}
	ev.data.ptr = &wake_tag;
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, m->wake[0], &ev) < 0) {
		rc = -errno;
		goto out;
	}
	ev.data.ptr = &poke_tag;
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->poke, &ev) < 0) {
		rc = -errno;
		goto out;
	}
	if (m->cfg->follow && (rc = follow_init(s)) < 0)
		goto out;
	*out = s;
	return 0;
out:
	pm_streams_destroy(s);
	return rc;
}

void pm_streams_poke(struct pm_streams *s)
{
	/* An eventfd counter cannot fill up in practice: this never blocks
	 * (EFD_NONBLOCK), and a failed write still leaves it readable. */
	ssize_t n = write(s->poke, &(uint64_t){1}, sizeof(uint64_t));
	(void)n;
}

void pm_streams_mark(struct pm_streams *s, size_t i)
{
	struct pm_follow *f = &s->follow[i];

	if (atomic_exchange(&f->queued, true))
		return; /* already waiting to be looked at */
	/* Each name is queued at most once, so dq (n_follow long) holds it;
	 * the lock is held only to add one index. */
	pthread_mutex_lock(&s->mu);
	s->dq[s->dq_len++] = i;
	pthread_mutex_unlock(&s->mu);
	pm_streams_poke(s);
}

void pm_streams_mark_all(struct pm_streams *s)
{
	atomic_store(&s->all_dirty, true);
	pm_streams_poke(s);
}

bool pm_streams_done(struct pm_streams *s)
{
	return !s || atomic_load(&s->done);
}

struct pm_stream *pm_streams_new(struct pm_streams *s, size_t idx, int fd,
                                 bool own_fd, const struct stat *sb)
{
	struct pm_stream *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->idx = idx;
	st->fd = fd;
	st->own_fd = own_fd;
	st->regular = S_ISREG(sb->st_mode);
	st->dev = sb->st_dev;
	st->ino = sb->st_ino;
	if (s->m->cfg->tag &&
	    !(st->tag = pm_tag_for(s->m->cfg, idx, &st->tag_len)))
		goto fail;
	if (s->m->cfg->decompress && pm_reader_open_live(&st->rd) < 0)
		goto fail;
	return st;
fail:
	free(st->tag);
	free(st);
	return NULL;
}

static void stream_free(struct pm_stream *st)
{
	if (st->own_fd && st->fd >= 0)
		close(st->fd);
	pm_reader_close(st->rd);
	free(st->part);
	free(st->tag);
	free(st);
}

/* -d: what st's decoder read and wrote goes into the merge's figures
 * (the progress line's, and the result's per input). */
static void count_decoded(struct pm_streams *s, struct pm_stream *st,
                          bool closing)
{
	struct pm_merge *m = s->m;
	uint64_t bi, bo;

	if (!st->rd)
		return;
	bi = pm_reader_bytes_in(st->rd);
	bo = pm_reader_bytes_out(st->rd);
	if (pm_reader_codec(st->rd) != PM_CODEC_PLAIN) {
		atomic_fetch_add_explicit(&m->decoded_in, bi - st->counted_in,
		                          memory_order_relaxed);
		atomic_fetch_add_explicit(&m->decoded_out, bo - st->counted_out,
		                          memory_order_relaxed);
		st->counted_in = bi;
		st->counted_out = bo;
	}
	if (closing && m->decoded) {
		/* A followed name may lead to several files: the sums, and
		 * the format of the last one that said what it is. */
		struct pmerge_input_result *d = &m->decoded[st->idx];

		if (pm_reader_detected(st->rd) || !d->codec)
			d->codec = pm_reader_codec_name(st->rd);
		d->bytes_in += bi;
		d->bytes_out += bo;
	}
}

int pm_streams_adopt(struct pm_streams *s, struct pm_source *src, size_t idx)
{
	struct stat sb = {
	    .st_mode = S_IFIFO, .st_dev = src->dev, .st_ino = src->ino};
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &probe_tag};

	if (!s || src->regular)
		return -ENOTSUP;
	/* epoll refuses what cannot be waited for (/dev/null, /dev/zero):
	 * try on a duplicate, so that the caller keeps a usable fd. */
	int probe = fcntl(src->fd, F_DUPFD_CLOEXEC, 0);
	if (probe < 0)
		return -errno;
	int rc = epoll_ctl(s->ep, EPOLL_CTL_ADD, probe, &ev) < 0 ? -errno : 0;
	if (rc == 0)
		epoll_ctl(s->ep, EPOLL_CTL_DEL, probe, NULL);
	close(probe);
	if (rc == -EPERM)
		return -ENOTSUP;
	if (rc < 0)
		return rc;
	struct pm_stream *st =
	    pm_streams_new(s, idx, src->fd, src->own_fd, &sb);
	if (!st)
		return -ENOMEM;
	/* The stream thread adds it to epoll when it takes it (under mu), so
	 * that what the worker set up here is visible to it. */
	pthread_mutex_lock(&s->mu);
	st->next = s->incoming;
	s->incoming = st;
	pthread_mutex_unlock(&s->mu);
	src->own_fd = false;
	src->fd = -1;
	pm_streams_poke(s);
	return 0;
}

int pm_streams_add(struct pm_streams *s, struct pm_stream *st)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = st};

	if (!st->regular && epoll_ctl(s->ep, EPOLL_CTL_ADD, st->fd, &ev) < 0)
		return -errno;
	st->next = s->active;
	s->active = st;
	return 0;
}

void pm_streams_close(struct pm_streams *s, struct pm_stream *st)
{
	for (struct pm_stream **p = &s->active; *p; p = &(*p)->next)
		if (*p == st) {
			*p = st->next;
			break;
		}
	if (!st->regular)
		epoll_ctl(s->ep, EPOLL_CTL_DEL, st->fd, NULL);
	if (st->follow && st->follow->cur == st)
		st->follow->cur = NULL;
	if (st->orphan)
		s->n_orphans--;
	count_decoded(s, st, true);
	stream_free(st);
}

void pm_streams_failed(struct pm_streams *s, struct pm_stream *st, int rc)
{
	struct pm_merge *m = s->m;
	const struct pmerge_callbacks *cb = &m->cfg->cb;
	const char *name = m->cfg->inputs[st->idx];
	const char *why = st->rd ? pm_reader_error(st->rd) : "";

	if (rc == -ECANCELED)
		return;
	if (!why[0] || !cb->input_decode_error) {
		pm_input_failed(m, name, -rc);
		return;
	}
	atomic_fetch_add(&m->failed_inputs, 1);
	cb->input_decode_error(cb->user, name, why);
}

/*
 * One read of st's input itself into buf: bytes, 0 at the end of a
 * stream, -EAGAIN when nothing is there now (a regular file is at its
 * current end, which is not its end), or -errno.
 */
static ssize_t raw_read(struct pm_stream *st, void *buf, size_t len)
{
	ssize_t n;

	if (st->regular) {
		do
			n = pread(st->fd, buf, len, (off_t)st->offset);
		while (n < 0 && errno == EINTR);
		if (n > 0)
			st->offset += (uint64_t)n;
		return n < 0 ? -errno : n > 0 ? n : -EAGAIN;
	}
	n = read(st->fd, buf, len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return -EAGAIN;
	return n < 0 ? -errno : n;
}

/*
 * One read of st into buf: its bytes, decoded with -d.  Returns as
 * raw_read does.  The input itself is read only while *may_read, which is
 * then cleared: one event of a busy stream costs one read of it, however
 * many decoded bytes that read turns into (the caller takes them with
 * later calls), so that no stream keeps the thread from the others.
 */
static ssize_t stream_read(struct pm_streams *s, struct pm_stream *st,
                           char *buf, size_t len, bool *may_read)
{
	if (!st->rd) {
		if (!*may_read)
			return -EAGAIN;
		*may_read = false;
		return raw_read(st, buf, len);
	}
	for (;;) {
		ssize_t n = pm_reader_read(st->rd, buf, len);
		size_t room;

		if (n != -EAGAIN) {
			count_decoded(s, st, false);
			return n;
		}
		if (!*may_read)
			return -EAGAIN;
		*may_read = false;
		char *p = pm_reader_space(st->rd, &room);
		if (room == 0)
			return -EAGAIN; /* its end was given already */
		ssize_t k = raw_read(st, p, room);
		if (k < 0)
			return k;
		pm_reader_fill(st->rd, (size_t)k); /* 0: the stream ended */
	}
}

/* The append state for a batch of st's records. */
static void append_of(struct pm_streams *s, struct pm_stream *st,
                      struct pm_append *a)
{
	pm_append_init(a, &s->w, st->idx);
	a->tag = st->tag;
	a->tag_len = st->tag_len;
}

int pm_streams_flush(struct pm_streams *s, struct pm_stream *st)
{
	struct pm_append a;
	int rc = 0;

	append_of(s, st, &a);
	if (st->part_len > 0)
		rc = pm_lines_append(&a, NULL, 0, st->part, st->part_len, true);
	st->part_len = 0;
	return rc;
}

/* Holds buf[0, len) as (the rest of) st's unfinished record. */
static int hold(struct pm_stream *st, const char *buf, size_t len)
{
	if (len == 0)
		return 0;
	if (st->part_len + len > st->part_cap) {
		size_t cap = st->part_cap ? st->part_cap : 256;
		while (cap < st->part_len + len)
			cap *= 2;
		char *p = realloc(st->part, cap);
		if (!p)
			return -ENOMEM;
		st->part = p;
		st->part_cap = cap;
	}
	memcpy(st->part + st->part_len, buf, len);
	st->part_len += len;
	return 0;
}

struct more_ctx {
	struct pm_streams *s;
	struct pm_stream *st;
};

/*
 * pm_lines_long's reader: the rest of a long record, from this stream
 * alone (the output is held for it anyway).  A regular file is waited for
 * at a short period, and given up on once it stayed quiet as long as an
 * orphan may.
 */
static ssize_t read_more(void *arg, char *buf, size_t len)
{
	struct more_ctx *c = arg;
	struct pm_stream *st = c->st;
	struct pm_merge *m = c->s->m;
	uint64_t quiet = pm_now_ns();

	for (;;) {
		struct pollfd pf[2] = {{.fd = m->wake[0], .events = POLLIN},
		                       {.fd = st->fd, .events = POLLIN}};
		ssize_t n = stream_read(c->s, st, buf, len, &(bool){true});

		if (n != -EAGAIN)
			return n;
		if (st->regular) {
			if (pm_now_ns() - quiet > c->s->linger_ns)
				return 0;
			if (poll(pf, 1, 50) > 0)
				return -ECANCELED;
			continue;
		}
		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			return -errno;
		if (pf[0].revents)
			return -ECANCELED;
	}
}

/* Frames the n new bytes in s->w.buf for stream st. */
static int frame(struct pm_streams *s, struct pm_stream *st, size_t n)
{
	struct pm_worker *w = &s->w;
	char term = s->m->term;
	struct pm_append a;
	int rc = 0;

	append_of(s, st, &a);
	/* --tail of a compressed file: its first records go. */
	if (st->skip > 0)
		n = pm_lines_skip(w->buf, n, term, &st->skip);
	while (rc == 0 && n > 0) {
		size_t done = pm_lines_complete(w->buf, n, term);

		if (done > 0) {
			rc = pm_lines_append(&a, st->part, st->part_len, w->buf,
			                     done, false);
			st->part_len = 0;
			if (rc == 0)
				rc = hold(st, w->buf + done, n - done);
			break;
		}
		if (st->part_len + n <= w->bufsize) {
			rc = hold(st, w->buf, n);
			break;
		}
		/* Longer than the buffer: written whole, as one open span. */
		struct more_ctx c = {.s = s, .st = st};
		size_t fill = n;
		rc = pm_lines_long(&a, st->part, st->part_len, &fill, read_more,
		                   &c);
		st->part_len = 0;
		n = fill;
	}
	return rc;
}

ssize_t pm_streams_drain(struct pm_streams *s, struct pm_stream *st)
{
	struct pm_worker *w = &s->w;
	struct stat sb;
	uint64_t start;

	if (fstat(st->fd, &sb) < 0)
		return -errno;
	if ((uint64_t)sb.st_size < st->offset) {
		/* copytruncate: what is held can never be completed. */
		int rc = pm_streams_flush(s, st);
		if (rc < 0)
			return rc;
		st->offset = 0;
		st->skip = 0;
		if (st->rd) {
			/* Its new start is a new input: it says again what
			 * it is. */
			count_decoded(s, st, true);
			pm_reader_close(st->rd);
			st->counted_in = st->counted_out = 0;
			if ((rc = pm_reader_open_live(&st->rd)) < 0)
				return rc;
		}
		if (st->follow && st->follow->cur == st && s->m->cfg->cb.follow)
			s->m->cfg->cb.follow(s->m->cfg->cb.user,
			                     PMERGE_FOLLOW_TRUNCATED,
			                     st->follow->name, 0);
	}
	start = st->offset;
	/* Undecoded, a regular file read up to the size fstat gave needs no
	 * read that returns nothing: what it grows by after the fstat brings
	 * its own change event (or the next poll).  That is one call saved
	 * per line followed, and a third of a poll's calls on quiet files. */
	for (uint64_t size = (uint64_t)sb.st_size;
	     st->rd || !st->regular || st->offset < size;) {
		ssize_t n =
		    stream_read(s, st, w->buf, w->bufsize, &(bool){true});
		if (n == -EAGAIN || n == 0)
			break;
		if (n < 0)
			return n;
		int rc = frame(s, st, (size_t)n);
		if (rc < 0)
			return rc;
		if (atomic_load_explicit(&s->m->cancelled,
		                         memory_order_relaxed))
			break;
	}
	/* What the file grew by, whatever it decoded to (a part of a frame
	 * may decode to nothing yet). */
	return (ssize_t)(st->offset - start);
}

/* Decodes and frames what st's reader still holds, now that the input's
 * end was given to it.  0 or -errno. */
static int decode_rest(struct pm_streams *s, struct pm_stream *st)
{
	for (;;) {
		ssize_t n =
		    stream_read(s, st, s->w.buf, s->w.bufsize, &(bool){false});
		if (n == 0 || n == -EAGAIN)
			return 0;
		if (n < 0)
			return (int)n;
		int rc = frame(s, st, (size_t)n);
		if (rc < 0)
			return rc;
	}
}

int pm_streams_end(struct pm_streams *s, struct pm_stream *st)
{
	int rc = 0;

	if (st->rd) {
		pm_reader_fill(st->rd, 0);
		rc = decode_rest(s, st);
		if (rc < 0)
			pm_streams_failed(s, st, rc);
	}
	if (atomic_load(&s->m->output_error) == 0)
		pm_streams_flush(s, st);
	return rc;
}

/* A stream has data (or its end). */
static void stream_ready(struct pm_streams *s, struct pm_stream *st)
{
	struct pm_merge *m = s->m;
	bool may_read = true;
	ssize_t n;

	/* One read of the input; with -d, all it decodes to. */
	while ((n = stream_read(s, st, s->w.buf, s->w.bufsize, &may_read)) > 0)
		if (frame(s, st, (size_t)n) < 0)
			return; /* the output failed: the merge is stopping */
	if (n == -EAGAIN)
		return;
	if (n < 0)
		pm_streams_failed(s, st, (int)n);
	/* Its end: the held record goes out with a terminator added. */
	if (atomic_load(&m->output_error) == 0)
		pm_streams_flush(s, st);
	if (st->follow)
		st->follow->done = true;
	else
		atomic_fetch_add(&m->inputs_done, 1);
	pm_streams_close(s, st);
}

/* Takes the adopted streams and the names the loop marked. */
static void take_work(struct pm_streams *s)
{
	struct pm_stream *in;
	size_t n;

	pthread_mutex_lock(&s->mu);
	in = s->incoming;
	s->incoming = NULL;
	n = s->dq_len;
	if (n)
		memcpy(s->dq_local, s->dq, n * sizeof(size_t));
	s->dq_len = 0;
	pthread_mutex_unlock(&s->mu);
	while (in) {
		struct pm_stream *next = in->next;
		int rc = pm_streams_add(s, in);
		if (rc < 0) {
			pm_input_failed(s->m, s->m->cfg->inputs[in->idx], -rc);
			atomic_fetch_add(&s->m->inputs_done, 1);
			stream_free(in);
		}
		in = next;
	}
	if (!s->follow)
		return;
	bool all = atomic_exchange(&s->all_dirty, false);
	for (size_t i = 0; i < n; i++) {
		struct pm_follow *f = &s->follow[s->dq_local[i]];
		atomic_store(&f->queued, false);
		if (!all)
			pm_follow_check(s, f, false);
	}
	for (size_t i = 0; all && i < s->n_follow; i++)
		pm_follow_check(s, &s->follow[i], false);
	pm_follow_orphans(s);
}

static void *streams_main(void *arg)
{
	struct pm_streams *s = arg;
	struct pm_merge *m = s->m;
	struct epoll_event ev[PM_EPOLL_BATCH];

	for (size_t i = 0; i < s->n_follow; i++)
		pm_follow_check(s, &s->follow[i], true);
	while (!atomic_load_explicit(&m->cancelled, memory_order_relaxed)) {
		/* Read before taking the adopted streams: a worker adopts
		 * before it counts itself done. */
		bool workers_over =
		    atomic_load(&m->workers_done) == m->n_workers;

		take_work(s);
		if (!s->follow && workers_over && !s->active)
			break;
		int n = epoll_wait(s->ep, ev, PM_EPOLL_BATCH, -1);
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			void *p = ev[i].data.ptr;
			if (p == &wake_tag)
				break;
			if (p == &probe_tag)
				continue; /* a worker's test, gone soon */
			if (p == &poke_tag) {
				uint64_t v;
				ssize_t k = read(s->poke, &v, sizeof(v));
				(void)k;
				continue;
			}
			if (atomic_load_explicit(&m->cancelled,
			                         memory_order_relaxed))
				break;
			stream_ready(s, p);
		}
	}
	/* Stopped (a signal) or every stream ended: write out what is held,
	 * unless the output itself failed. */
	while (s->active) {
		if (atomic_load(&m->output_error) == 0)
			pm_streams_flush(s, s->active);
		pm_streams_close(s, s->active);
	}
	atomic_store(&s->done, true);
	m->wake_loop(m);
	return NULL;
}

int pm_streams_start(struct pm_streams *s)
{
	int rc = -pthread_create(&s->tid, NULL, streams_main, s);

	s->started = rc == 0;
	if (rc < 0)
		atomic_store(&s->done, true); /* nothing to wait for */
	return rc;
}

void pm_streams_join(struct pm_streams *s)
{
	if (s && s->started) {
		pthread_join(s->tid, NULL);
		s->started = false;
	}
}

void pm_streams_destroy(struct pm_streams *s)
{
	if (!s)
		return;
	pm_streams_join(s);
	while (s->incoming) {
		struct pm_stream *st = s->incoming;
		s->incoming = st->next;
		stream_free(st);
	}
	while (s->active) {
		struct pm_stream *st = s->active;
		s->active = st->next;
		stream_free(st);
	}
	if (s->ep >= 0)
		close(s->ep);
	if (s->poke >= 0)
		close(s->poke);
	pthread_mutex_destroy(&s->mu);
	free(s->follow);
	free(s->dq);
	free(s->dq_local);
	free(s->w.buf);
	free(s->w.iov);
	free(s);
}
