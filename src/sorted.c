/*
 * The sorted merge (-m).  Reader threads read each input ahead in chunks of
 * whole records, with every record's key worked out (the spans of its -k
 * keys, an 8-byte prefix of the line, or its timestamp); one merger thread
 * picks the smallest head record with a loser tree and lists where it is
 * in a batch, which a writer thread copies into its buffer and writes while
 * the merger fills the other batch.  Each input has at most PM_SORTED_DEPTH
 * chunks ready beyond the one the merger is in, and all chunks together (free
 * ones too, with their records' keys) and the inputs' carries share
 * PM_SORTED_BUDGET: a reader takes a new chunk only within it, except for an
 * input with no chunk ready, so the read-ahead holds at most the budget plus
 * one chunk per input (a record longer than a chunk makes its chunk as large as
 * itself, and a quarter more).  Chunks have exactly chunk_size bytes otherwise.
 *
 * Threads and locks: one mutex (mu) guards the task queue (inputs that
 * have room to read ahead, each queued at most once), each input's list of
 * ready chunks, and the free chunks.  A reader owns the input it took from
 * the queue (its file, carry and framing state) until it hands the chunk
 * over; the merger owns the chunk it reads from and each input's merge
 * state.  No other lock is taken while mu is held.
 *
 * Open files: a regular input is closed after every read when the inputs
 * would not all fit in the open-file limit, and opened again at its offset
 * (checking that it is the same file) for the next read.  Streams stay
 * open.
 *
 * Streams: a reader never waits on one.  Their reads do not block
 * (pm_source.nonblock); a stream with nothing to read is parked, with its
 * part-full chunk, and a reader with no task polls every parked stream at
 * once (poll_parked), the kick pipe bringing it back when a task comes.
 * The merger takes a parked stream's records when it waits for them.
 */
#include "decode.h"
#include "internal.h"
#include "sorted.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define PM_SORTED_DEPTH  3
#define PM_SORTED_BUDGET (32u << 20) /* read-ahead for all inputs */
#define PM_CHUNK_MIN     1024u
#define PM_CHUNK_MAX     (256u << 10)
#define NO_INPUT         SIZE_MAX

/* One record in a chunk: where it is, and its precomputed key. */
struct rec {
	uint32_t off, len; /* len includes the terminator */
	uint32_t ovc;      /* whole lines: the offset-value code (see below) */
	union {
		uint64_t prefix; /* whole-line keys: the first 8 bytes */
		int64_t time;    /* --by-time: nanoseconds, UTC */
	} k;
};

/* The merger's view of one input's current record. */
struct head {
	union {
		uint64_t prefix;
		int64_t time;
	} k;
	const char *line;
	const uint32_t *spans;
	uint32_t len; /* without the terminator */
	bool done;
	/* Where it is in its chunk, so that the merger seldom looks at the
	 * input or the chunk: the record, the chunk's end, its text. */
	const struct rec *r, *end;
	const char *buf;
};

struct chunk {
	struct chunk *next; /* in a list of ready, free or retired chunks */
	size_t bytes;       /* what it holds, as counted in pm_sorted.held */
	char *buf;
	size_t cap, len;
	struct rec *recs;
	size_t n, rcap;
	uint32_t *spans; /* 2 per key per record */
	size_t scap;
};

/* Where a piece of the output is: a record's bytes in a chunk, or a tag. */
struct slice {
	const char *p;
	size_t len;
};

#define BATCH_SLICES 8192u

/* What the merger hands the writer at a time. */
struct batch {
	struct slice sl[BATCH_SLICES];
	size_t n, bytes;
	struct chunk *retired; /* to give back once the slices are written */
};

struct sin {
	const char *name;
	size_t idx;
	/* The reader's, while it holds the input's task. */
	struct pm_source src;
	struct pm_reader *rd; /* -d, a compressed input: its decoder */
	bool is_open, opened, regular, stop;
	bool rd_due; /* -d, a stream: its decoder opens with its first bytes */
	dev_t dev;
	ino_t ino;
	uint64_t offset;
	char *carry;
	size_t carry_len, carry_cap, carry_scanned;
	bool rec_open, rec_stamped; /* --by-time: a record under way */
	size_t rec_start;
	int64_t rec_time;
	uint64_t rec_line, lines;
	struct pm_ts ts;
	bool have_last, warned;
	int64_t last_time;
	char *last; /* keys: the last record of the last chunk */
	uint32_t last_len, last_cap;
	uint32_t *last_spans;
	/* Under mu. */
	struct chunk *head, *tail;
	unsigned n_ready;
	bool queued;  /* in the task queue, being read, parked or blocked */
	bool blocked; /* waiting for room in the budget (s->blocked list) */
	size_t bprev, bnext;
	bool parked;        /* a stream with nothing to read: in s->parked */
	struct chunk *pend; /* a parked stream's chunk, part full */
	bool finished;      /* the reader delivered everything */
	/* The merger's. */
	struct chunk *cur;
	bool done;
	char *tag;
	size_t tag_len;
};

struct pm_sorted {
	struct pm_merge *m;
	struct pm_keys keys;
	const struct pmerge_sorted *opt;
	bool by_time, reverse;
	bool ovc; /* whole lines, ascending: merged with offset-value codes */
	bool tagged; /* --tag */
	char term;
	size_t chunk_size;
	bool close_after_read;
	size_t n;
	struct sin *in;
	struct head *heads; /* the merger's, n entries */
	pthread_mutex_t mu;
	pthread_cond_t work_cv, merger_cv;
	size_t *queue; /* a ring of n entries */
	size_t q_head, q_len;
	/*
	 * Streams with nothing to read now wait here, not in a reader: a
	 * reader with no task polls them all (one at a time does), and the
	 * kick pipe brings it back when a task or a parked stream comes.
	 */
	size_t *parked, n_parked;
	struct pollfd *pfd; /* n + 2 entries: the poller's */
	int kick[2];
	bool polling, kicked;
	unsigned idle; /* readers waiting on work_cv */
	struct chunk *free_chunks;
	/*
	 * The read-ahead budget: held counts the bytes of every chunk (free
	 * ones too) and every input's carry.  A reader takes a new chunk only
	 * while held stays within budget, or for an input with no chunk ready
	 * (which the merger may be waiting for); the others wait in the
	 * blocked list, oldest first, until a chunk is given back.
	 */
	size_t budget, chunk_est;
	_Atomic int64_t held;
	_Atomic int64_t held_peak;
	size_t blocked_head, blocked_tail;
	bool merger_done, cancelled;
	bool locks_ready;
	size_t waiting; /* the input the merger waits for */
	/* Figures: the merger's, and the readers' (atomic). */
	uint64_t merger_wait_ns, merger_write_ns;
	_Atomic uint64_t worker_idle_ns, worker_read_ns, chunks, skipped;
	atomic_size_t disordered;
	/*
	 * The output: the merger lists where its records are (slices into
	 * the chunks, and tags) in out[out_cur] while the writer thread
	 * copies the batch handed to it (w_batch) into its buffer wbuf and
	 * writes it, so that the merger copies no bytes and waits for the
	 * writer only when both batches are full.  A chunk the merger has
	 * finished goes on its batch's retired list, and the writer gives it
	 * back once the batch is written.  Guarded by wmu.
	 */
	struct batch *out[2];
	struct batch *w_batch;
	int out_cur;
	size_t out_cap;
	char *wbuf;
	uint64_t out_records;
	pthread_mutex_t wmu;
	pthread_cond_t wcv;
	bool w_quit;
	int w_err;
	uint64_t writer_ns;
};

int pmerge_key_check(const char *keydef, const char **why)
{
	struct pm_keydef k;

	return pm_keydef_parse(keydef, &k, why);
}

int pmerge_time_parse(const char *text, int64_t *ns)
{
	return pm_ts_parse_limit(text, ns);
}

/* ------------------------------------------------------------ queueing */

/* mu held.  Brings the reader in poll() back to look at the queue. */
static void kick(struct pm_sorted *s)
{
	if (s->polling && !s->kicked) {
		s->kicked = true;
		(void)!write(s->kick[1], "", 1);
	}
}

/*
 * mu held.  An idle reader is woken when in has no chunk ready (the merger
 * may soon wait for it) or when WAKE_BATCH tasks wait, not for every task:
 * a woken reader takes the queued tasks one after the other.
 */
#define WAKE_BATCH 8u
static void enqueue(struct pm_sorted *s, struct sin *in)
{
	s->queue[(s->q_head + s->q_len) % s->n] = in->idx;
	s->q_len++;
	if (!s->idle)
		kick(s);
	else if (in->n_ready == 0 || s->q_len >= WAKE_BATCH)
		pthread_cond_signal(&s->work_cv);
}

/* Counts delta bytes more (or fewer) in the read-ahead. */
static void held_add(struct pm_sorted *s, int64_t delta)
{
	int64_t now =
	    atomic_fetch_add_explicit(&s->held, delta, memory_order_relaxed) +
	    delta;
	int64_t peak =
	    atomic_load_explicit(&s->held_peak, memory_order_relaxed);

	while (now > peak && !atomic_compare_exchange_weak_explicit(
	                         &s->held_peak, &peak, now,
	                         memory_order_relaxed, memory_order_relaxed))
		;
}

static bool over_budget(struct pm_sorted *s, size_t more)
{
	return atomic_load_explicit(&s->held, memory_order_relaxed) +
	           (int64_t)more >
	       (int64_t)s->budget;
}

/* mu held. */
static void block_unlink(struct pm_sorted *s, struct sin *in)
{
	if (in->bprev == NO_INPUT)
		s->blocked_head = in->bnext;
	else
		s->in[in->bprev].bnext = in->bnext;
	if (in->bnext == NO_INPUT)
		s->blocked_tail = in->bprev;
	else
		s->in[in->bnext].bprev = in->bprev;
	in->blocked = false;
}

/* mu held.  in waits for room in the budget (it stays queued). */
static void block(struct pm_sorted *s, struct sin *in)
{
	in->blocked = true;
	in->bnext = NO_INPUT;
	in->bprev = s->blocked_tail;
	if (s->blocked_tail == NO_INPUT)
		s->blocked_head = in->idx;
	else
		s->in[s->blocked_tail].bnext = in->idx;
	s->blocked_tail = in->idx;
}

/* mu held.  A chunk came back: the oldest blocked input may read again. */
static void unblock_one(struct pm_sorted *s)
{
	if (s->blocked_head == NO_INPUT)
		return;
	struct sin *in = &s->in[s->blocked_head];
	block_unlink(s, in);
	enqueue(s, in);
}

/* mu held.  Puts in on the task queue when it has room to read ahead. */
static void want_more(struct pm_sorted *s, struct sin *in)
{
	if (in->blocked && in->n_ready == 0) {
		/* Out of chunks: it no longer waits for the budget. */
		block_unlink(s, in);
		enqueue(s, in);
		return;
	}
	if (in->queued && in->n_ready == 0 && s->q_len && s->idle)
		pthread_cond_signal(&s->work_cv); /* it may wait in the queue */
	if (in->queued || in->finished || in->n_ready >= PM_SORTED_DEPTH)
		return;
	in->queued = true;
	enqueue(s, in);
}

static size_t chunk_bytes(const struct chunk *c)
{
	return c->cap + c->rcap * sizeof(*c->recs) + c->scap * sizeof(uint32_t);
}

/* Brings the count of c's bytes up to date after it grew. */
static void chunk_count(struct pm_sorted *s, struct chunk *c)
{
	size_t now = chunk_bytes(c);

	held_add(s, (int64_t)now - (int64_t)c->bytes);
	c->bytes = now;
}

static void chunk_free(struct pm_sorted *s, struct chunk *c)
{
	if (!c)
		return;
	held_add(s, -(int64_t)c->bytes);
	free(c->buf);
	free(c->recs);
	free(c->spans);
	free(c);
}

/*
 * mu held.  Keeps a chunk of the usual size for reuse while the budget
 * has room for it, and lets a blocked input read.
 */
static void chunk_put(struct pm_sorted *s, struct chunk *c)
{
	if (!c)
		return;
	if (c->cap > s->chunk_size + 1 || over_budget(s, 0)) {
		chunk_free(s, c);
	} else {
		c->next = s->free_chunks;
		s->free_chunks = c;
	}
	unblock_one(s);
}

/*
 * mu held.  A chunk for in to read into: a free one, a new one when the
 * budget has room or in has no chunk ready, else NULL with *full set.
 */
static struct chunk *chunk_get(struct pm_sorted *s, struct sin *in, bool *full)
{
	struct chunk *c = s->free_chunks;

	*full = false;
	if (c) {
		s->free_chunks = c->next;
	} else if (in->n_ready > 0 && over_budget(s, s->chunk_est)) {
		*full = true;
		return NULL;
	} else {
		c = calloc(1, sizeof(*c));
	}
	if (c) {
		c->next = NULL;
		c->len = c->n = 0;
	}
	return c;
}

/* ------------------------------------------------------------- reading */

static void input_failed(struct pm_sorted *s, struct sin *in, int err)
{
	struct pm_merge *m = s->m;

	atomic_fetch_add(&m->failed_inputs, 1);
	if (m->cfg->cb.input_error)
		m->cfg->cb.input_error(m->cfg->cb.user, in->name, err);
	in->stop = true;
}

/*
 * An input failed for a reason in words (a codec's, or what could not be
 * allocated); without the callback for words, input_error gets err.
 */
static void input_failed_why(struct pm_sorted *s, struct sin *in, int err,
                             const char *why)
{
	const struct pmerge_callbacks *cb = &s->m->cfg->cb;

	if (!why[0] || !cb->input_decode_error) {
		input_failed(s, in, err);
		return;
	}
	atomic_fetch_add(&s->m->failed_inputs, 1);
	cb->input_decode_error(cb->user, in->name, why);
	in->stop = true;
}

/* A read failed: with -d a bad stream is told in the codec's words. */
static void read_failed(struct pm_sorted *s, struct sin *in, int err)
{
	input_failed_why(s, in, err, in->rd ? pm_reader_error(in->rd) : "");
}

/* The input's read-ahead (chunk, records, carry) could not be allocated. */
static void read_ahead_failed(struct pm_sorted *s, struct sin *in)
{
	char buf[128], why[192];

	snprintf(why, sizeof(why), "cannot allocate its read-ahead: %s",
	         strerror_r(ENOMEM, buf, sizeof(buf)));
	input_failed_why(s, in, ENOMEM, why);
}

/* A record of in sorts before the one above it, at line. */
static void disorder(struct pm_sorted *s, struct sin *in, uint64_t line)
{
	struct pm_merge *m = s->m;
	bool fatal = s->opt->check_order;

	if (in->warned)
		return;
	in->warned = true;
	atomic_fetch_add(&s->disordered, 1);
	if (fatal) {
		atomic_fetch_add(&m->failed_inputs, 1);
		in->stop = true;
	}
	if (m->cfg->cb.disorder)
		m->cfg->cb.disorder(m->cfg->cb.user, in->name, line, fatal);
}

static bool grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : 16;
	void *q;

	if (need <= *cap)
		return true;
	while (c < need)
		c *= 2;
	q = realloc(*p, c * size);
	if (!q)
		return false;
	*p = q;
	*cap = c;
	return true;
}

/* Grows *p to exactly need bytes unless it has them. */
static bool grow_to(char **p, size_t *cap, size_t need)
{
	char *q;

	if (need <= *cap)
		return true;
	q = realloc(*p, need);
	if (!q)
		return false;
	*p = q;
	*cap = need;
	return true;
}

/* The first 8 bytes as a big-endian number, zeros past the end. */
static uint64_t line_prefix(const char *p, size_t len)
{
	uint64_t v = 0;

	if (len >= 8) {
		memcpy(&v, p, 8);
		return __builtin_bswap64(v);
	}
	for (size_t i = 0; i < 8; i++)
		v = v << 8 | (i < len ? (unsigned char)p[i] : 0);
	return v;
}

/* Appends a record [start, end) to c; false when out of memory. */
static bool add_rec(struct pm_sorted *s, struct chunk *c, size_t start,
                    size_t end, int64_t time)
{
	size_t nk = s->keys.n;
	struct rec *r;

	if (!grow((void **)&c->recs, &c->rcap, c->n + 1, sizeof(*c->recs)))
		return false;
	if (nk && !grow((void **)&c->spans, &c->scap, (c->n + 1) * 2 * nk,
	                sizeof(uint32_t)))
		return false;
	r = &c->recs[c->n];
	r->off = (uint32_t)start;
	r->len = (uint32_t)(end - start);
	if (s->by_time)
		r->k.time = time;
	else if (nk)
		pm_keys_spans(&s->keys, c->buf + start, r->len - 1,
		              c->spans + c->n * 2 * nk);
	else
		r->k.prefix = line_prefix(c->buf + start, r->len - 1);
	c->n++;
	return true;
}

/*
 * Offset-value codes (Iyer; Graefe, "Offset-value coding in database query
 * processing"), for whole lines in ascending order.  A record x not below
 * a base record b has the code of the first byte where it differs from b:
 * a longer common prefix gives a smaller code, and at the same offset the
 * smaller byte does.  Two records coded against the same base compare as
 * their codes do, unless the codes are equal; the readers work out each
 * record's code against the record before it, so the merger seldom looks
 * at the bytes.  OVC_FULL: no code (compare the bytes); OVC_DONE: after
 * everything.
 */
#define OVC_FULL   0u
#define OVC_DONE   UINT32_MAX
#define OVC_OFFMAX ((1u << 22) - 1)

static inline uint32_t ovc_make(const char *x, uint32_t len, uint32_t off)
{
	if (off >= OVC_OFFMAX)
		return OVC_FULL;
	return (OVC_OFFMAX - off) << 9 |
	       (off < len ? (uint32_t)(unsigned char)x[off] + 1 : 0);
}

/* The first offset from i on where a and b differ, or the shorter length. */
static inline uint32_t first_diff(const char *a, uint32_t la, const char *b,
                                  uint32_t lb, uint32_t i)
{
	uint32_t m = la < lb ? la : lb;

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	for (; i + 8 <= m; i += 8) {
		uint64_t x, y;
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			return i + (uint32_t)(__builtin_ctzll(x ^ y) >> 3);
	}
#endif
	while (i < m && a[i] == b[i])
		i++;
	return i;
}

/*
 * Whole lines: the code of c's last record against the record before it
 * in the same input; true when it sorts before that record (it then has no
 * code).
 */
static bool line_code(struct sin *in, struct chunk *c)
{
	struct rec *r = &c->recs[c->n - 1];
	const char *x = c->buf + r->off, *b;
	uint32_t lx = r->len - 1, lb;

	if (c->n > 1) {
		b = c->buf + c->recs[c->n - 2].off;
		lb = c->recs[c->n - 2].len - 1;
	} else if (in->have_last) {
		b = in->last;
		lb = in->last_len;
	} else {
		r->ovc = OVC_FULL;
		return false;
	}
	uint32_t d = first_diff(x, lx, b, lb, 0);
	bool below = d < (lx < lb ? lx : lb)
	                 ? (unsigned char)x[d] < (unsigned char)b[d]
	                 : lx < lb;
	r->ovc = below ? OVC_FULL : ovc_make(x, lx, d);
	return below;
}

/* keys: does c's last record sort before the record before it? */
static bool key_disorder(struct pm_sorted *s, struct sin *in, struct chunk *c)
{
	size_t nk = s->keys.n, i = c->n - 1;
	const struct rec *r = &c->recs[i];
	const char *pa;
	uint32_t la;
	const uint32_t *sa;

	if (i > 0) {
		pa = c->buf + c->recs[i - 1].off;
		la = c->recs[i - 1].len - 1;
		sa = nk ? c->spans + (i - 1) * 2 * nk : NULL;
	} else if (in->have_last) {
		pa = in->last;
		la = in->last_len;
		sa = in->last_spans;
	} else {
		return false;
	}
	return pm_keys_compare(&s->keys, pa, la, sa, c->buf + r->off,
	                       r->len - 1,
	                       nk ? c->spans + i * 2 * nk : NULL) > 0;
}

/* One record is complete: check its order, keep it or skip it. */
static bool emit(struct pm_sorted *s, struct sin *in, struct chunk *c,
                 size_t start, size_t end, int64_t time, uint64_t line)
{
	const struct pmerge_sorted *o = s->opt;

	if (s->by_time) {
		if (in->have_last &&
		    (s->reverse ? time > in->last_time : time < in->last_time))
			disorder(s, in, line);
		if (in->stop)
			return true;
		in->have_last = true;
		in->last_time = time;
		if ((o->has_since && time < o->since_ns) ||
		    (o->has_until && time >= o->until_ns)) {
			atomic_fetch_add_explicit(&s->skipped, 1,
			                          memory_order_relaxed);
			return true;
		}
		return add_rec(s, c, start, end, time);
	}
	if (!add_rec(s, c, start, end, 0))
		return false;
	if (s->ovc ? line_code(in, c) : key_disorder(s, in, c)) {
		disorder(s, in, line);
		if (in->stop)
			c->n--;
	}
	return true;
}

/* --by-time: a record at t is past the far end of the time window. */
static bool beyond_window(const struct pm_sorted *s, int64_t t)
{
	const struct pmerge_sorted *o = s->opt;

	return s->reverse ? o->has_since && t < o->since_ns
	                  : o->has_until && t >= o->until_ns;
}

/*
 * Frames the complete lines of c from *scan on into records.  At eof a
 * final line without terminator gets one (c has room for it).  Returns
 * where the bytes not yet in a record begin, or SIZE_MAX when out of
 * memory.
 */
static size_t frame(struct pm_sorted *s, struct sin *in, struct chunk *c,
                    size_t *scan, bool eof)
{
	char term = s->term;
	size_t p = *scan;

	while (!in->stop) {
		const char *e = memchr(c->buf + p, term, c->len - p);
		size_t end;
		int64_t t;

		if (e) {
			end = (size_t)(e - c->buf) + 1;
		} else if (eof && p < c->len) {
			c->buf[c->len++] = term;
			end = c->len;
		} else {
			break;
		}
		in->lines++;
		if (!s->by_time) {
			if (!emit(s, in, c, p, end, 0, in->lines))
				return SIZE_MAX;
		} else if (pm_ts_parse(&in->ts, c->buf + p, end - p - 1, &t)) {
			/* Lines before the first stamp join the first record.
			 */
			if (in->rec_open && in->rec_stamped &&
			    !emit(s, in, c, in->rec_start, p, in->rec_time,
			          in->rec_line))
				return SIZE_MAX;
			if (!in->stop && beyond_window(s, t)) {
				/* The rest of a sorted input is past the
				 * window too: read no more of it, so that a
				 * live stream ends here. */
				atomic_fetch_add_explicit(&s->skipped, 1,
				                          memory_order_relaxed);
				in->rec_open = false;
				in->stop = true;
			}
			if (in->stop)
				break;
			if (!in->rec_open || in->rec_stamped) {
				in->rec_start = p;
				in->rec_line = in->lines;
			}
			in->rec_open = in->rec_stamped = true;
			in->rec_time = t;
		} else if (!in->rec_open) {
			in->rec_open = true;
			in->rec_stamped = false;
			in->rec_start = p;
			in->rec_line = in->lines;
		}
		p = end;
	}
	*scan = p;
	if (eof && in->rec_open && !in->stop) {
		/* An input without any stamp is one record before all else. */
		if (!emit(s, in, c, in->rec_start, p,
		          in->rec_stamped ? in->rec_time : INT64_MIN,
		          in->rec_line))
			return SIZE_MAX;
		in->rec_open = false;
	}
	if (in->stop)
		return c->len;
	return s->by_time && in->rec_open ? in->rec_start : p;
}

static int open_input(struct pm_sorted *s, struct sin *in)
{
	struct stat st;
	int rc = pm_source_open(&in->src, in->name);

	if (rc < 0)
		return rc;
	in->is_open = true;
	if (in->opened) {
		/* Opened again after a close: it must be the same file. */
		if (in->src.dev != in->dev || in->src.ino != in->ino)
			return -ESTALE;
		in->src.offset = in->offset;
		return 0;
	}
	in->opened = true;
	in->regular = in->src.regular;
	in->dev = in->src.dev;
	in->ino = in->src.ino;
	in->offset = in->src.offset;
	if (pm_input_is_output(s->m, &in->src))
		return -PMERGE_ERR_INPUT_IS_OUTPUT;
	if (s->m->cfg->decompress && in->regular) {
		/* The decoder outlives closes and reopens: it reads through
		 * in->src, whose offset a reopen restores. */
		rc = pm_reader_open(&in->rd, &in->src, true, s->m->wake[0]);
		if (rc < 0)
			return rc;
		if (pm_reader_codec(in->rd) == PM_CODEC_PLAIN) {
			pm_reader_close(in->rd);
			in->rd = NULL;
		}
	}
	/* A stream is never waited on by a reader (see park()); with -d its
	 * decoder is opened when its first bytes are there. */
	in->src.nonblock = !in->regular;
	in->rd_due = s->m->cfg->decompress && !in->regular;
	pm_ts_init(&in->ts, s->opt->time_format,
	           in->regular && fstat(in->src.fd, &st) == 0 ? st.st_mtime
	                                                      : time(NULL));
	return 0;
}

static void close_input(struct sin *in)
{
	if (!in->is_open)
		return;
	in->offset = in->src.offset;
	pm_source_close(&in->src);
	in->is_open = false;
}

/* Keeps a copy of c's last record for the disorder check of the next. */
static bool keep_last(struct pm_sorted *s, struct sin *in,
                      const struct chunk *c)
{
	size_t nk = s->keys.n;
	const struct rec *r;
	size_t cap;

	if (s->by_time || c->n == 0)
		return true;
	r = &c->recs[c->n - 1];
	cap = in->last_cap;
	if (!grow((void **)&in->last, &cap, r->len, 1))
		return false;
	in->last_cap = (uint32_t)cap;
	memcpy(in->last, c->buf + r->off, r->len - 1);
	in->last_len = r->len - 1;
	if (nk) {
		if (!in->last_spans)
			in->last_spans = calloc(2 * nk, sizeof(uint32_t));
		if (!in->last_spans)
			return false;
		memcpy(in->last_spans, c->spans + (c->n - 1) * 2 * nk,
		       2 * nk * sizeof(uint32_t));
	}
	in->have_last = true;
	return true;
}

/*
 * Reads from in into buf: the count, 0 at its end, -EAGAIN when it is a
 * stream with nothing to read now, or a negative errno.
 */
static ssize_t input_read(struct pm_sorted *s, struct sin *in, char *buf,
                          size_t room)
{
	if (in->rd_due) {
		struct pollfd pf = {.fd = in->src.fd, .events = POLLIN};
		int rc;

		if (poll(&pf, 1, 0) <= 0)
			return -EAGAIN;
		/* The format is told by the first bytes, which are there. */
		in->rd_due = false;
		in->src.nonblock = false;
		rc = pm_reader_open(&in->rd, &in->src, true, s->m->wake[0]);
		in->src.nonblock = true;
		if (rc < 0)
			return rc;
	}
	return in->rd ? pm_reader_read(in->rd, buf, room)
	              : pm_source_read(&in->src, buf, room, s->m->wake[0]);
}

/*
 * Reads the next chunk of in into c: at least one whole record, unless the
 * input ends or is a stream with nothing more to read now.  Returns 1 at the
 * input's end (c may still hold records), 0 when more follows, 2 when c has
 * no record because the stream has nothing now (park it), -ECANCELED when
 * the merge stops.
 */
static int fill(struct pm_sorted *s, struct sin *in, struct chunk *c)
{
	struct pm_merge *m = s->m;
	size_t scan = in->carry_scanned, keep;
	bool dry = false; /* a stream with nothing more now */
	/* A stream named again is read after its first name, as cat reads
	 * it: the first name takes all of it, a later one finds its end. */
	bool eof = in->stop || (!in->opened && pm_input_repeats(m, in->idx));
	int rc = 0;

	if (!eof && !in->is_open) {
		rc = open_input(s, in);
		if (rc == -ECANCELED)
			goto out;
		if (rc < 0) {
			input_failed(s, in, -rc);
			eof = true;
			rc = 0;
		}
	}
	/* A stream's chunk parked part full is filled on from where it was.
	 * A chunk has exactly chunk_size bytes (and one for a terminator)
	 * unless a record is longer. */
	size_t base = c->len, need = base + in->carry_len + 2;
	if (!grow_to(&c->buf, &c->cap,
	             need > s->chunk_size + 1 ? need : s->chunk_size + 1))
		goto nomem;
	if (in->carry_len)
		memcpy(c->buf + base, in->carry, in->carry_len);
	c->len = base + in->carry_len;
	scan += base;
	if (in->rec_open)
		in->rec_start += base;
	for (;;) {
		if (!eof) {
			uint64_t t0 = pm_now_ns();
			ssize_t n = input_read(s, in, c->buf + c->len,
			                       c->cap - c->len - 1);
			atomic_fetch_add_explicit(&s->worker_read_ns,
			                          pm_now_ns() - t0,
			                          memory_order_relaxed);
			if (n == -ECANCELED) {
				rc = -ECANCELED;
				goto out;
			}
			if (n == -EAGAIN)
				dry = true;
			else if (n < 0)
				read_failed(s, in, (int)-n);
			if (n == 0 || (n < 0 && !dry))
				eof = true;
			else if (n > 0)
				c->len += (size_t)n;
		}
		keep = frame(s, in, c, &scan, eof);
		if (keep == SIZE_MAX)
			goto nomem;
		if (eof || in->stop || dry)
			break;
		/* A stream is read while it has data and the chunk room, so
		 * that its read-ahead is counted in full chunks, not in the
		 * few bytes one read may bring. */
		if (c->n > 0 && (in->regular || c->len + 1 >= c->cap))
			break;
		/* A record longer than the chunk: the chunk grows by a
		 * quarter, at least a chunk, so that it is never much more
		 * than the record. */
		if (c->n == 0 && c->len + 1 >= c->cap &&
		    !grow_to(&c->buf, &c->cap,
		             c->cap + (c->cap / 4 > s->chunk_size
		                           ? c->cap / 4
		                           : s->chunk_size)))
			goto nomem;
	}
	if (!keep_last(s, in, c))
		goto nomem;
	in->carry_len = c->len - keep;
	in->carry_scanned = scan - keep;
	if (in->rec_open)
		in->rec_start -= keep;
	size_t carry_was = in->carry_cap;
	if (!grow_to(&in->carry, &in->carry_cap, in->carry_len))
		goto nomem;
	held_add(s, (int64_t)(in->carry_cap - carry_was));
	if (in->carry_len)
		memcpy(in->carry, c->buf + keep, in->carry_len);
	eof = eof || in->stop;
	if (eof || (s->close_after_read && in->regular))
		close_input(in);
	if (eof) {
		pm_reader_close(in->rd);
		in->rd = NULL;
	}
	/* Dry before the chunk is full: it waits, part full, with the
	 * stream (its records stay; the rest is the carry). */
	if (!eof && dry && c->len + 1 < c->cap) {
		c->len = keep;
		rc = 2;
	} else {
		rc = eof ? 1 : 0;
	}
	goto out;
nomem:
	read_ahead_failed(s, in);
	rc = 1;
out:
	return rc;
}

/*
 * mu held, no task queued: waits in poll() until a parked stream has data
 * or its end (it goes back on the queue), a kick, or the wake fd.
 */
static void poll_parked(struct pm_sorted *s)
{
	size_t n = s->n_parked, j = 0;
	struct pollfd *pf = s->pfd;
	char drain[64];
	bool woken = false;

	for (size_t i = 0; i < n; i++)
		pf[i] = (struct pollfd){.fd = s->in[s->parked[i]].src.fd,
		                        .events = POLLIN};
	pf[n] = (struct pollfd){.fd = s->kick[0], .events = POLLIN};
	pf[n + 1] = (struct pollfd){.fd = s->m->wake[0], .events = POLLIN};
	s->polling = true;
	pthread_mutex_unlock(&s->mu);
	int rc = poll(pf, n + 2, -1);
	if (rc > 0 && pf[n].revents)
		while (read(s->kick[0], drain, sizeof(drain)) > 0)
			;
	pthread_mutex_lock(&s->mu);
	s->polling = s->kicked = false;
	if (rc > 0 && pf[n + 1].revents)
		s->cancelled = true; /* the wake fd: the merge stops */
	/* Streams parked meanwhile are past the first n: they stay. */
	for (size_t i = 0; i < s->n_parked; i++) {
		struct sin *in = &s->in[s->parked[i]];

		if (rc > 0 && i < n && pf[i].revents) {
			in->parked = false;
			s->queue[(s->q_head + s->q_len) % s->n] = in->idx;
			s->q_len++;
			woken = true;
		} else {
			s->parked[j++] = s->parked[i];
		}
	}
	s->n_parked = j;
	if (woken)
		pthread_cond_broadcast(&s->work_cv);
}

static void *reader_main(struct pm_worker *w)
{
	struct pm_sorted *s = w->m->sorted;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		uint64_t t0 = pm_now_ns();
		while (s->q_len == 0 && !s->merger_done && !s->cancelled) {
			if (s->n_parked && !s->polling) {
				poll_parked(s);
				continue;
			}
			s->idle++;
			pthread_cond_wait(&s->work_cv, &s->mu);
			s->idle--;
		}
		atomic_fetch_add_explicit(&s->worker_idle_ns, pm_now_ns() - t0,
		                          memory_order_relaxed);
		if (s->merger_done || s->cancelled)
			break;
		struct sin *in = &s->in[s->queue[s->q_head]];
		s->q_head = (s->q_head + 1) % s->n;
		s->q_len--;
		struct chunk *c = in->pend;
		bool full = false;
		if (!c)
			c = chunk_get(s, in, &full);
		if (full) {
			block(s, in);
			continue;
		}
		in->pend = NULL;
		pthread_mutex_unlock(&s->mu);

		int rc = c ? fill(s, in, c) : -ENOMEM;
		if (rc == -ENOMEM)
			read_ahead_failed(s, in);
		if (c)
			chunk_count(s, c);

		pthread_mutex_lock(&s->mu);
		if (rc == 2 && (s->waiting != in->idx || c->n == 0)) {
			/* Nothing to read now: wait with the other streams. */
			in->pend = c;
			in->parked = true;
			s->parked[s->n_parked++] = in->idx;
			kick(s);
			continue;
		}
		if (rc == 2)
			rc = 0; /* the merger waits for these records */
		if (c && c->n > 0) {
			if (in->tail)
				in->tail->next = c;
			else
				in->head = c;
			in->tail = c;
			in->n_ready++;
			atomic_fetch_add_explicit(&s->chunks, 1,
			                          memory_order_relaxed);
		} else {
			chunk_put(s, c);
		}
		in->queued = false;
		if (rc != 0 && !in->finished) {
			in->finished = true;
			atomic_fetch_add(&w->m->inputs_done, 1);
		}
		want_more(s, in);
		if (s->waiting == in->idx)
			pthread_cond_signal(&s->merger_cv);
		if (rc == -ECANCELED)
			break;
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ------------------------------------------------------------- merging */

/* The merger: in's next chunk, waiting for it if need be.  False when the
 * input has no more (or the merge stops). */
static bool next_chunk(struct pm_sorted *s, struct sin *in)
{
	uint64_t t0 = 0;

	if (in->cur) {
		/* The batch being filled may point into it. */
		struct batch *b = s->out[s->out_cur];
		in->cur->next = b->retired;
		b->retired = in->cur;
		in->cur = NULL;
	}
	pthread_mutex_lock(&s->mu);
	if (!in->head && in->parked && in->pend && in->pend->n > 0) {
		/* A parked stream's records, though its chunk is not full. */
		in->head = in->tail = in->pend;
		in->pend = NULL;
		in->n_ready++;
	}
	if (!in->head && !in->finished && !s->cancelled) {
		t0 = pm_now_ns();
		s->waiting = in->idx;
		if (s->q_len && s->idle)
			pthread_cond_signal(&s->work_cv);
		while (!in->head && !in->finished && !s->cancelled)
			pthread_cond_wait(&s->merger_cv, &s->mu);
		s->waiting = NO_INPUT;
		s->merger_wait_ns += pm_now_ns() - t0;
	}
	if (in->head && !s->cancelled) {
		in->cur = in->head;
		in->head = in->cur->next;
		if (!in->head)
			in->tail = NULL;
		in->n_ready--;
		want_more(s, in);
	}
	pthread_mutex_unlock(&s->mu);
	in->done = in->cur == NULL;
	return !in->done;
}

/*
 * The merger's comparisons, one per kind of key, so that the loser tree's
 * replay is compiled with its comparison inlined.  They look only at the
 * compact heads array (one entry per input, its current record), not at
 * the inputs' chunks.  Inputs that are done go last; equal keys go in
 * input order.
 */
#define HEADS(ctx, a, b)                                                       \
	const struct pm_sorted *s = ctx;                                       \
	const struct head *A = &s->heads[a], *B = &s->heads[b];                \
	if (A->done || B->done)                                                \
	return B->done && (!A->done || a < b)

static bool less_time(void *ctx, size_t a, size_t b)
{
	HEADS(ctx, a, b);
	return A->k.time != B->k.time ? A->k.time < B->k.time : a < b;
}

static bool less_time_reverse(void *ctx, size_t a, size_t b)
{
	HEADS(ctx, a, b);
	return A->k.time != B->k.time ? A->k.time > B->k.time : a < b;
}

/*
 * Two whole lines with equal 8-byte prefixes (zero padded): the rest
 * bytewise, then the shorter first.
 */
static inline int line_rest_cmp(const struct head *A, const struct head *B)
{
	uint32_t m = A->len < B->len ? A->len : B->len;
	int d = m > 8 ? memcmp(A->line + 8, B->line + 8, m - 8) : 0;

	return d ? d : (A->len > B->len) - (A->len < B->len);
}

/* No -k, -r: the line's first 8 bytes decide most comparisons. */
static bool less_line_reverse(void *ctx, size_t a, size_t b)
{
	HEADS(ctx, a, b);
	if (A->k.prefix != B->k.prefix)
		return A->k.prefix > B->k.prefix;
	int d = line_rest_cmp(A, B);
	return d ? d > 0 : a < b;
}

static bool less_keys(void *ctx, size_t a, size_t b)
{
	HEADS(ctx, a, b);
	int d = pm_keys_compare(&s->keys, A->line, A->len, A->spans, B->line,
	                        B->len, B->spans);
	return d ? d < 0 : a < b;
}

/* The merger: h's record (h->r, not the chunk's last) is its head. */
static inline void head_load(struct head *h)
{
	const struct rec *r = h->r;

	/* The input's next record will be wanted only after the other
	 * inputs have had their turns: fetch its bytes now, and the records
	 * after it, which a reader wrote from another core. */
	if (r + 1 < h->end) {
		__builtin_prefetch(h->buf + r[1].off);
		if (r + 8 < h->end)
			__builtin_prefetch(&r[8]);
	}
	h->k.prefix = r->k.prefix;
	h->line = h->buf + r->off;
	h->len = r->len - 1;
}

/* The merger: in's current chunk (or its end) becomes its head. */
static void head_set(struct pm_sorted *s, struct sin *in)
{
	struct head *h = &s->heads[in->idx];
	const struct chunk *c = in->cur;

	h->done = in->done;
	if (h->done)
		return;
	h->r = c->recs;
	h->end = c->recs + c->n;
	h->buf = c->buf;
	h->spans = s->keys.n ? c->spans : NULL;
	head_load(h);
}

/* The merger: input w moves on to its next record. */
static inline void head_next(struct pm_sorted *s, size_t w)
{
	struct head *h = &s->heads[w];

	if (++h->r == h->end) {
		next_chunk(s, &s->in[w]);
		head_set(s, &s->in[w]);
		return;
	}
	if (h->spans)
		h->spans += 2 * s->keys.n;
	head_load(h);
}

/* The writer thread's write of one buffer. */
static int out_write(struct pm_sorted *s, const char *p, size_t len)
{
	struct pm_merge *m = s->m;
	uint64_t t0 = pm_now_ns();
	int rc =
	    pm_sink_write(&m->sink, p, len, pm_sink_reserve(&m->sink, len));

	s->writer_ns += pm_now_ns() - t0;
	if (rc == 0)
		atomic_fetch_add_explicit(&m->bytes_done, len,
		                          memory_order_relaxed);
	return rc;
}

/*
 * The writer thread: copies b's slices into wbuf and writes it, each time
 * it is full; a slice larger than wbuf is written from where it is.
 */
static int batch_write(struct pm_sorted *s, const struct batch *b)
{
	size_t len = 0;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < b->n; i++) {
		const struct slice *sl = &b->sl[i];

		if (len + sl->len > s->out_cap && len) {
			rc = out_write(s, s->wbuf, len);
			len = 0;
		}
		if (rc == 0 && sl->len > s->out_cap) {
			rc = out_write(s, sl->p, sl->len);
		} else if (rc == 0) {
			memcpy(s->wbuf + len, sl->p, sl->len);
			len += sl->len;
		}
	}
	if (rc == 0 && len)
		rc = out_write(s, s->wbuf, len);
	return rc;
}

/* The writer thread: b is written, its finished chunks go back. */
static void batch_retire(struct pm_sorted *s, struct batch *b)
{
	struct chunk *c = b->retired;

	b->n = b->bytes = 0;
	b->retired = NULL;
	if (!c)
		return;
	pthread_mutex_lock(&s->mu);
	while (c) {
		struct chunk *next = c->next;
		chunk_put(s, c);
		c = next;
	}
	pthread_mutex_unlock(&s->mu);
}

/* The merger: waits until the writer has nothing in hand. */
static int out_drain(struct pm_sorted *s)
{
	uint64_t t0 = pm_now_ns();
	int rc;

	pthread_mutex_lock(&s->wmu);
	while (s->w_batch && !s->w_err)
		pthread_cond_wait(&s->wcv, &s->wmu);
	rc = s->w_err;
	pthread_mutex_unlock(&s->wmu);
	s->merger_write_ns += pm_now_ns() - t0;
	return rc;
}

/* The merger: hands its batch to the writer, once it is free. */
static int out_flush(struct pm_sorted *s)
{
	struct batch *b = s->out[s->out_cur];
	int rc;

	if (!b->n && !b->retired)
		return 0;
	rc = out_drain(s);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&s->wmu);
	s->w_batch = b;
	pthread_cond_signal(&s->wcv);
	pthread_mutex_unlock(&s->wmu);
	s->out_cur ^= 1;
	return 0;
}

static inline int out_add(struct pm_sorted *s, const char *p, size_t len)
{
	struct batch *b = s->out[s->out_cur];

	b->sl[b->n++] = (struct slice){p, len};
	b->bytes += len;
	return b->n == BATCH_SLICES || b->bytes >= s->out_cap ? out_flush(s)
	                                                      : 0;
}

static void *writer_main(struct pm_worker *w)
{
	struct pm_sorted *s = w->m->sorted;

	pthread_mutex_lock(&s->wmu);
	for (;;) {
		while (!s->w_batch && !s->w_quit)
			pthread_cond_wait(&s->wcv, &s->wmu);
		if (!s->w_batch)
			break;
		struct batch *b = s->w_batch;
		bool failed = s->w_err != 0;
		pthread_mutex_unlock(&s->wmu);
		int rc = failed ? 0 : batch_write(s, b);
		if (rc < 0) {
			int expected = 0;
			atomic_compare_exchange_strong(&w->m->output_error,
			                               &expected, -rc);
			pm_merge_cancel(w->m);
		}
		batch_retire(s, b);
		pthread_mutex_lock(&s->wmu);
		if (rc < 0)
			s->w_err = rc;
		s->w_batch = NULL;
		pthread_cond_broadcast(&s->wcv);
	}
	pthread_mutex_unlock(&s->wmu);
	w->st.bytes = atomic_load(&w->m->bytes_done);
	return NULL;
}

/* Writes input w's head record: with --tag, each of its lines tagged.
 * Untagged, it looks only at the head, not at the input. */
static inline int put_record(struct pm_sorted *s, size_t w)
{
	const struct head *h = &s->heads[w];
	const char *p = h->line, *end = p + h->len + 1;
	const struct sin *in;
	int rc = 0;

	if (!s->tagged)
		return out_add(s, p, h->len + 1);
	in = &s->in[w];
	while (rc == 0 && p < end) {
		const char *e = memchr(p, s->term, (size_t)(end - p));
		size_t n = e ? (size_t)(e - p) + 1 : (size_t)(end - p);
		rc = out_add(s, in->tag, in->tag_len);
		if (rc == 0)
			rc = out_add(s, p, n);
		p += n;
	}
	return rc;
}

/*
 * The loser tree of whole lines with offset-value codes: code[p] is the
 * code of the loser node[p] against the record that beat it.  Every loser
 * on the winner's path was beaten by the winner, so when the winner's
 * input moves on, its next record (coded against the winner by the
 * reader) meets each of them with codes against the same base.
 */
struct ovc_tree {
	size_t n;
	size_t *node;
	uint32_t *code;
};

/*
 * Plays a against b by their bytes, from what equal codes code (against a
 * common base) already tell, or from the start for OVC_FULL.  Returns the
 * winner; *loser_code is the loser's code against it.
 */
static size_t ovc_match(const struct pm_sorted *s, size_t a, size_t b,
                        uint32_t code, uint32_t *loser_code)
{
	const struct head *A = &s->heads[a], *B = &s->heads[b];
	uint32_t start = 0, d, m;
	int sign;

	if (A->done || B->done) {
		*loser_code = OVC_DONE;
		return B->done && (!A->done || a < b) ? a : b;
	}
	m = A->len < B->len ? A->len : B->len;
	uint64_t x = A->k.prefix ^ B->k.prefix;
	if (x) {
		/* Most ties are settled in the first 8 bytes, which the heads
		 * hold: no look at the lines. */
		d = (uint32_t)__builtin_clzll(x) >> 3;
		if (d < m) {
			bool a_wins = A->k.prefix < B->k.prefix;
			const struct head *L = a_wins ? B : A;
			uint32_t byte =
			    (uint32_t)(L->k.prefix >> (56 - 8 * d)) & 255;
			*loser_code = (OVC_OFFMAX - d) << 9 | (byte + 1);
			return a_wins ? a : b;
		}
	}
	if (code != OVC_FULL) {
		start = OVC_OFFMAX - (code >> 9);
		start += (code & 511) != 0;
	}
	d = first_diff(A->line, A->len, B->line, B->len, start);
	sign = d < m
	           ? ((unsigned char)A->line[d] < (unsigned char)B->line[d] ? -1
	                                                                    : 1)
	           : (A->len > B->len) - (A->len < B->len);
	bool a_wins = sign < 0 || (sign == 0 && a < b);
	const struct head *L = a_wins ? B : A;
	*loser_code = ovc_make(L->line, L->len, d);
	return a_wins ? a : b;
}

static int ovc_init(struct pm_sorted *s, struct ovc_tree *t)
{
	size_t n = s->n, *win = calloc(n, sizeof(*win));
	int rc = 0;

	t->n = n;
	t->node = calloc(n, sizeof(*t->node));
	t->code = calloc(n, sizeof(*t->code));
	if (!win || !t->node || !t->code) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t p = n - 1; p >= 1; p--) {
		size_t l = 2 * p, r = 2 * p + 1;
		size_t a = l >= n ? l - n : win[l];
		size_t b = r >= n ? r - n : win[r];
		win[p] = ovc_match(s, a, b, OVC_FULL, &t->code[p]);
		t->node[p] = win[p] == a ? b : a;
	}
	t->node[0] = n > 1 ? win[1] : 0;
out:
	free(win);
	return rc;
}

/*
 * Input w's head changed; cw is its code against its previous head.  Where
 * the codes differ, the smaller wins; that match, the common one, is played
 * without a branch (the outcome is data and mispredicts half the time).
 */
static inline void ovc_replay(const struct pm_sorted *s, struct ovc_tree *t,
                              size_t w, uint32_t cw)
{
	size_t *node = t->node;
	uint32_t *code = t->code;

	for (size_t p = (w + t->n) / 2; p >= 1; p /= 2) {
		size_t l = node[p];
		uint32_t cl = code[p], lc;

		if (__builtin_expect(
		        cw == cl || cw == OVC_FULL || cl == OVC_FULL, 0)) {
			if (ovc_match(s, w, l, cw == cl ? cw : OVC_FULL, &lc) ==
			    l) {
				node[p] = w;
				w = l;
				cw = cl;
			}
			code[p] = lc;
			continue;
		}
		/* l beats w: they change places. */
		size_t swap = -(size_t)(cl < cw);
		size_t dn = (l ^ w) & swap;
		uint32_t dc = (cl ^ cw) & (uint32_t)swap;
		node[p] = l ^ dn;
		code[p] = cl ^ dc;
		w ^= dn;
		cw ^= dc;
	}
	node[0] = w;
}

static int merge_lines_ovc(struct pm_sorted *s)
{
	const atomic_bool *stop = &s->m->cancelled;
	struct ovc_tree t = {0};
	int rc = ovc_init(s, &t);

	while (rc == 0 && !atomic_load_explicit(stop, memory_order_relaxed)) {
		size_t w = t.node[0];

		if (s->heads[w].done)
			break;
		rc = put_record(s, w);
		if (rc < 0)
			break;
		s->out_records++;
		head_next(s, w);
		ovc_replay(s, &t, w,
		           s->heads[w].done ? OVC_DONE : s->heads[w].r->ovc);
	}
	free(t.node);
	free(t.code);
	return rc;
}

/* The merge proper, compiled once per comparison (see the less_ ones). */
static inline __attribute__((always_inline)) int
merge_loop(struct pm_sorted *s, struct pm_lt *lt,
           bool (*less)(void *ctx, size_t a, size_t b))
{
	const atomic_bool *stop = &s->m->cancelled;

	while (!atomic_load_explicit(stop, memory_order_relaxed)) {
		size_t w = pm_lt_winner(lt);
		int rc;

		if (s->heads[w].done)
			break;
		rc = put_record(s, w);
		if (rc < 0)
			return rc;
		s->out_records++;
		head_next(s, w);
		pm_lt_replay_by(lt, less);
	}
	return 0;
}

/* The merger's loser tree for every order but whole lines ascending. */
static int merge_by_less(struct pm_sorted *s)
{
	bool (*less)(void *ctx, size_t a, size_t b) =
	    s->by_time  ? (s->reverse ? less_time_reverse : less_time)
	    : s->keys.n ? less_keys
	                : less_line_reverse;
	struct pm_lt lt = {0};
	int rc = pm_lt_init(&lt, s->n, less, s);

	if (rc < 0)
		goto out;
	if (less == less_time)
		rc = merge_loop(s, &lt, less_time);
	else
		rc = merge_loop(s, &lt, less);
out:
	pm_lt_free(&lt);
	return rc;
}

static int merge_all(struct pm_sorted *s)
{
	int rc;

	if (s->n == 0)
		return 0;
	for (size_t i = 0; i < s->n; i++) {
		next_chunk(s, &s->in[i]);
		head_set(s, &s->in[i]);
	}
	rc = s->ovc ? merge_lines_ovc(s) : merge_by_less(s);
	if (rc == 0)
		rc = out_flush(s);
	if (rc == 0)
		rc = out_drain(s);
	return rc;
}

/* The merger is done (or never began): the writer, once it has written
 * what it was given, and the readers stop. */
static void merger_end(struct pm_sorted *s)
{
	pthread_mutex_lock(&s->wmu);
	s->w_quit = true;
	pthread_cond_broadcast(&s->wcv);
	pthread_mutex_unlock(&s->wmu);
	pthread_mutex_lock(&s->mu);
	s->merger_done = true;
	pthread_cond_broadcast(&s->work_cv);
	kick(s);
	pthread_mutex_unlock(&s->mu);
}

static void *merger_main(struct pm_worker *w)
{
	struct pm_merge *m = w->m;
	struct pm_sorted *s = m->sorted;
	int rc = merge_all(s);

	if (rc < 0 && rc != -ECANCELED) {
		int expected = 0;
		atomic_compare_exchange_strong(&m->output_error, &expected,
		                               -rc);
		pm_merge_cancel(m);
	}
	w->st.records = s->out_records;
	merger_end(s);
	return NULL;
}

/*
 * The merger is the one thread the whole merge waits for; the readers and
 * the writer work ahead of it or behind it.  With fewer cores than threads,
 * a reader or the writer that wakes up would take the merger's core from it
 * (wakeup preemption) thousands of times a second: as SCHED_BATCH (no
 * privilege needed) they wait for a free core or the next tick instead.
 * A hint only: where it is refused, nothing else changes.
 */
static void batch_policy(void)
{
	struct sched_param sp = {.sched_priority = 0};

	(void)pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
}

void *pm_sorted_thread(void *arg)
{
	struct pm_worker *w = arg;
	struct pm_merge *m = w->m;

	/* Every thread takes its share of the inputs' first look. */
	if (pm_worker_resolve(m) == 0) {
		if (w->id != 0)
			batch_policy();
		if (w->id == 0)
			merger_main(w);
		else if (w->id == 1)
			writer_main(w);
		else
			reader_main(w);
	} else if (w->id == 0) {
		/* Cancelled before the merge began: the writer may have
		 * started waiting for batches all the same. */
		merger_end(m->sorted);
	}
	atomic_fetch_add(&m->workers_done, 1);
	m->wake_loop(m);
	return NULL;
}

/* ---------------------------------------------------------- life cycle */

/* Regular inputs stay open between reads only when all of them fit. */
static bool inputs_fit(size_t n, unsigned jobs)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return true;
	return (rlim_t)n + jobs + 64 <= rl.rlim_cur;
}

int pm_sorted_setup(struct pm_merge *m, unsigned jobs, unsigned *threads)
{
	const struct pmerge_config *cfg = m->cfg;
	const struct pmerge_sorted *o = &cfg->sorted;
	struct pm_sorted *s = calloc(1, sizeof(*s));
	const char *bad, *why;
	int rc;

	if (!s)
		return -ENOMEM;
	m->sorted = s;
	s->m = m;
	s->opt = o;
	s->by_time = o->by_time;
	s->reverse = o->reverse;
	s->term = m->term;
	s->tagged = cfg->tag;
	s->n = cfg->n_inputs;
	s->waiting = NO_INPUT;
	s->blocked_head = s->blocked_tail = NO_INPUT;
	s->budget = PM_SORTED_BUDGET;
	s->kick[0] = s->kick[1] = -1;
	rc = s->by_time
	         ? pm_keys_init(&s->keys, NULL, 0, -1, false, false, &bad, &why)
	         : pm_keys_init(&s->keys, o->keys, o->n_keys, o->field_sep,
	                        o->numeric, o->reverse, &bad, &why);
	if (rc < 0)
		return rc;
	s->ovc = !s->by_time && s->keys.n == 0 && !s->keys.reverse;
	if ((rc = -pthread_mutex_init(&s->mu, NULL)) < 0 ||
	    (rc = -pthread_cond_init(&s->work_cv, NULL)) < 0 ||
	    (rc = -pthread_cond_init(&s->merger_cv, NULL)) < 0 ||
	    (rc = -pthread_mutex_init(&s->wmu, NULL)) < 0 ||
	    (rc = -pthread_cond_init(&s->wcv, NULL)) < 0)
		return rc;
	s->locks_ready = true;
	if (s->n == 0) {
		*threads = 2;
		return 0;
	}
	/* Every input's full read-ahead (its chunk in the merge and
	 * PM_SORTED_DEPTH more, their records' keys about as large as their
	 * text) would fit in the budget; -B caps a chunk as it caps a
	 * worker's buffer in the other modes. */
	s->chunk_size = PM_SORTED_BUDGET / (2 * (PM_SORTED_DEPTH + 1) * s->n);
	if (s->chunk_size > m->bufsize)
		s->chunk_size = m->bufsize;
	s->chunk_size = s->chunk_size < PM_CHUNK_MIN   ? PM_CHUNK_MIN
	                : s->chunk_size > PM_CHUNK_MAX ? PM_CHUNK_MAX
	                                               : s->chunk_size;
	s->chunk_est = s->chunk_size + s->chunk_size / 2;
	s->close_after_read = !inputs_fit(s->n, jobs);
	s->in = calloc(s->n, sizeof(*s->in));
	s->queue = calloc(s->n, sizeof(*s->queue));
	s->parked = calloc(s->n, sizeof(*s->parked));
	s->pfd = calloc(s->n + 2, sizeof(*s->pfd));
	s->heads = calloc(s->n, sizeof(*s->heads));
	s->out_cap = m->bufsize;
	s->out[0] = calloc(1, sizeof(*s->out[0]));
	s->out[1] = calloc(1, sizeof(*s->out[1]));
	s->wbuf = malloc(s->out_cap);
	if (!s->in || !s->queue || !s->parked || !s->pfd || !s->heads ||
	    !s->out[0] || !s->out[1] || !s->wbuf)
		return -ENOMEM;
	if (pipe2(s->kick, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	for (size_t i = 0; i < s->n; i++) {
		struct sin *in = &s->in[i];

		in->name = cfg->inputs[i];
		in->idx = i;
		in->src.fd = -1;
		if (cfg->tag) {
			in->tag = pm_tag_for(cfg, i, &in->tag_len);
			if (!in->tag)
				return -ENOMEM;
		}
		want_more(s, in);
	}
	*threads = 2 + (jobs < s->n ? jobs : (unsigned)s->n);
	return 0;
}

void pm_sorted_cancel(struct pm_merge *m)
{
	struct pm_sorted *s = m->sorted;

	if (!s || !s->locks_ready)
		return;
	pthread_mutex_lock(&s->mu);
	s->cancelled = true;
	pthread_cond_broadcast(&s->work_cv);
	pthread_cond_broadcast(&s->merger_cv);
	kick(s);
	pthread_mutex_unlock(&s->mu);
}

void pm_sorted_gather(const struct pm_merge *m,
                      struct pmerge_sorted_result *out)
{
	const struct pm_sorted *s = m->sorted;

	memset(out, 0, sizeof(*out));
	if (!s)
		return;
	out->used = true;
	out->merger_wait_ns = s->merger_wait_ns;
	out->merger_write_ns = s->merger_write_ns;
	out->writer_ns = s->writer_ns;
	out->worker_idle_ns = atomic_load(&s->worker_idle_ns);
	out->worker_read_ns = atomic_load(&s->worker_read_ns);
	out->chunks = atomic_load(&s->chunks);
	out->skipped = atomic_load(&s->skipped);
	out->disordered = atomic_load(&s->disordered);
	out->read_ahead_peak = (uint64_t)atomic_load(&s->held_peak);
}

void pm_sorted_free(struct pm_merge *m)
{
	struct pm_sorted *s = m->sorted;

	if (!s)
		return;
	for (size_t i = 0; s->in && i < s->n; i++) {
		struct sin *in = &s->in[i];
		struct chunk *c = in->head;

		while (c) {
			struct chunk *next = c->next;
			chunk_free(s, c);
			c = next;
		}
		chunk_free(s, in->cur);
		chunk_free(s, in->pend);
		close_input(in);
		pm_reader_close(in->rd);
		free(in->carry);
		free(in->last);
		free(in->last_spans);
		free(in->tag);
	}
	while (s->free_chunks) {
		struct chunk *next = s->free_chunks->next;
		chunk_free(s, s->free_chunks);
		s->free_chunks = next;
	}
	if (s->locks_ready) {
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->work_cv);
		pthread_cond_destroy(&s->merger_cv);
		pthread_mutex_destroy(&s->wmu);
		pthread_cond_destroy(&s->wcv);
	}
	pm_keys_free(&s->keys);
	if (s->kick[0] >= 0) {
		close(s->kick[0]);
		close(s->kick[1]);
	}
	free(s->in);
	free(s->queue);
	free(s->parked);
	free(s->pfd);
	free(s->heads);
	for (int i = 0; i < 2; i++) {
		struct chunk *c = s->out[i] ? s->out[i]->retired : NULL;

		while (c) {
			struct chunk *next = c->next;
			chunk_free(s, c);
			c = next;
		}
		free(s->out[i]);
	}
	free(s->wbuf);
	free(s);
	m->sorted = NULL;
}
