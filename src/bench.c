/*
 * pmerge --bench: the same merge under several lock strategies, timed and
 * verified, with the lock statistics of each side by side.
 *
 * Every run (the warm-up included) is checked against what the inputs say
 * the output must be, computed once before the first run: a hash of the
 * whole output for the deterministic order; for arrival order, each input's
 * hash at the place the engine says it put it (--unit=file), or a multiset
 * hash of the records (--unit=line), which no interleaving changes.
 *
 * The benchmark keeps its own libuv signal watchers for its whole length.
 * libuv installs one process-wide handler per signal and removes it only
 * when the last watcher goes, so between two runs (and while a run tears
 * its watchers down) a SIGINT still reaches us instead of killing the
 * process with the temporary output left behind.
 */
#include "internal.h"
#include "pmerge_bench.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#define BENCH_WARMUP 1
#define BENCH_CHUNK  (1u << 20)

/* ------------------------------------------------------------------ hash */

/*
 * A streaming 64-bit hash with four independent multiply-rotate lanes over
 * 32-byte stripes, in the manner of XXH64: fast enough that checking a run
 * costs less than the run, and sensitive to the order of the bytes.  Only
 * this file compares its values, so neither endianness nor compatibility
 * with any published function matters.
 */
#define H_P1 0x9E3779B185EBCA87ull
#define H_P2 0xC2B2AE3D27D4EB4Full
#define H_P3 0x165667B19E3779F9ull
#define H_P4 0x85EBCA77C2B2AE63ull
#define H_P5 0x27D4EB2F165667C5ull

struct hasher {
	uint64_t lane[4];
	uint64_t total;
	unsigned char pend[32];
	size_t npend;
};

static inline uint64_t rotl64(uint64_t x, unsigned r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t load64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t hash_round(uint64_t acc, uint64_t w)
{
	return rotl64(acc + w * H_P2, 31) * H_P1;
}

static void hash_init(struct hasher *h)
{
	h->lane[0] = H_P1 + H_P2;
	h->lane[1] = H_P2;
	h->lane[2] = 0;
	h->lane[3] = 0 - H_P1;
	h->total = 0;
	h->npend = 0;
}

static inline void hash_stripe(struct hasher *h, const unsigned char *p)
{
	h->lane[0] = hash_round(h->lane[0], load64(p));
	h->lane[1] = hash_round(h->lane[1], load64(p + 8));
	h->lane[2] = hash_round(h->lane[2], load64(p + 16));
	h->lane[3] = hash_round(h->lane[3], load64(p + 24));
}

static void hash_update(struct hasher *h, const void *data, size_t len)
{
	const unsigned char *p = data;

	if (len == 0)
		return; /* data may be NULL then: a record without a tag */
	h->total += len;
	if (h->npend > 0) {
		size_t take = 32 - h->npend < len ? 32 - h->npend : len;

		memcpy(h->pend + h->npend, p, take);
		h->npend += take;
		p += take;
		len -= take;
		if (h->npend < 32)
			return;
		hash_stripe(h, h->pend);
		h->npend = 0;
	}
	for (; len >= 32; p += 32, len -= 32)
		hash_stripe(h, p);
	memcpy(h->pend, p, len);
	h->npend = len;
}

/* The hash of everything fed so far; h itself is left as it was. */
static uint64_t hash_final(const struct hasher *h)
{
	const unsigned char *p = h->pend;
	size_t n = h->npend;
	uint64_t v;

	if (h->total >= 32) {
		v = rotl64(h->lane[0], 1) + rotl64(h->lane[1], 7) +
		    rotl64(h->lane[2], 12) + rotl64(h->lane[3], 18);
		for (int i = 0; i < 4; i++)
			v = (v ^ hash_round(0, h->lane[i])) * H_P1 + H_P4;
	} else {
		v = H_P5;
	}
	v += h->total;
	for (; n >= 8; p += 8, n -= 8)
		v = rotl64(v ^ hash_round(0, load64(p)), 27) * H_P1 + H_P4;
	for (; n > 0; p++, n--)
		v = rotl64(v ^ (*p * H_P5), 11) * H_P1;
	v ^= v >> 33;
	v *= H_P2;
	v ^= v >> 29;
	v *= H_P3;
	v ^= v >> 32;
	return v;
}

/*
 * A multiset of records: the sum of their hashes (mod 2^64) and their
 * count, equal for any two interleavings of the same records.
 */
struct records {
	struct hasher cur;
	uint64_t sum, count;
};

static void records_init(struct records *r)
{
	hash_init(&r->cur);
	r->sum = r->count = 0;
}

static void records_close(struct records *r)
{
	r->sum += hash_final(&r->cur);
	r->count++;
	hash_init(&r->cur);
}

/* ------------------------------------------------------- the expectation */

/*
 * What the engine appends for one input in --unit=line: each record with
 * the tag before it, and a terminator after an unterminated last record.
 */
struct framer {
	const char *tag;
	size_t tag_len;
	char term;
	bool mid;              /* inside a record: its tag is out */
	struct hasher *stream; /* the whole output (input order), or NULL */
	struct records *recs;  /* the record multiset (arrival), or NULL */
	uint64_t bytes;
};

static void frame_put(struct framer *f, const void *p, size_t n)
{
	if (f->stream)
		hash_update(f->stream, p, n);
	if (f->recs)
		hash_update(&f->recs->cur, p, n);
	f->bytes += n;
}

static void frame_record_end(struct framer *f)
{
	f->mid = false;
	if (f->recs)
		records_close(f->recs);
}

static void frame_feed(struct framer *f, const char *p, size_t n)
{
	while (n > 0) {
		const char *t;
		size_t seg;

		if (!f->mid) {
			frame_put(f, f->tag, f->tag_len);
			f->mid = true;
		}
		t = memchr(p, f->term, n);
		seg = t ? (size_t)(t - p) + 1 : n;
		frame_put(f, p, seg);
		p += seg;
		n -= seg;
		if (t)
			frame_record_end(f);
	}
}

static void frame_end(struct framer *f)
{
	if (f->mid) {
		frame_put(f, &f->term, 1);
		frame_record_end(f);
	}
}

/* What every run's output must be; which members are set depends on mode. */
struct expect {
	uint64_t bytes;
	uint64_t stream;      /* hash of the whole output: input order */
	uint64_t *input_hash; /* per input: --unit=file, arrival order */
	uint64_t rec_sum;     /* --unit=line, arrival order */
	uint64_t rec_count;
};

/* ------------------------------------------------------------ the bench */

static const int watched_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1};
#define N_WATCHED (sizeof(watched_signals) / sizeof(watched_signals[0]))

struct strategy {
	struct pmerge_lock_spec spec;
	char name[32];
	double *times; /* timed runs, in seconds */
	double mean, stddev, median, min, max;
	struct pmerge_lock_result lock; /* of the median run */
	bool ok;                        /* every run verified */
};

struct bench {
	const struct pmerge_config *user;
	struct pmerge_config cfg; /* what each run gets */
	enum pmerge_order order;
	char term;
	unsigned jobs, runs;
	const char *out_path;
	char *temp; /* our mkstemp output, removed at the end */
	char *buf;
	struct expect want;
	struct strategy *st;
	size_t n_st;
	struct pmerge_lock_result *run_lock; /* this strategy's runs */
	bool stepped;
	uv_loop_t loop;
	bool loop_on;
	uv_signal_t sig[N_WATCHED];
	bool sig_on[N_WATCHED];
	int stop; /* a stop signal that arrived, or 0 */
};

static void on_bench_signal(uv_signal_t *h, int sig)
{
	struct bench *b = h->data;

	/* SIGUSR1 between runs has no merge to report on: it only must not
	 * kill the process, which the watcher alone ensures. */
	if (sig != SIGUSR1 && !b->stop)
		b->stop = sig;
}

/* True when a stop signal has arrived; runs the watchers' callbacks. */
static bool stopping(struct bench *b)
{
	if (b->loop_on)
		uv_run(&b->loop, UV_RUN_NOWAIT);
	return b->stop != 0;
}

static int watch_signals(struct bench *b)
{
	int rc = uv_loop_init(&b->loop);

	if (rc < 0)
		return rc;
	b->loop_on = true;
	for (size_t i = 0; i < N_WATCHED; i++) {
		/* What was ignored at start (nohup) stays ignored, as in a
		 * plain merge. */
		if (pm_signal_ignored(watched_signals[i]))
			continue;
		rc = uv_signal_init(&b->loop, &b->sig[i]);
		if (rc < 0)
			return rc;
		b->sig[i].data = b;
		b->sig_on[i] = true;
		rc = uv_signal_start(&b->sig[i], on_bench_signal,
		                     watched_signals[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void unwatch_signals(struct bench *b)
{
	if (!b->loop_on)
		return;
	for (size_t i = 0; i < N_WATCHED; i++)
		if (b->sig_on[i])
			uv_close((uv_handle_t *)&b->sig[i], NULL);
	uv_run(&b->loop, UV_RUN_DEFAULT);
	uv_loop_close(&b->loop);
	b->loop_on = false;
}

/*
 * Reads path from start to end, handing each chunk to fn.  Returns 0,
 * -EINTR when a stop signal arrived, or -errno of the open or a read.
 */
static int scan_file(struct bench *b, const char *path,
                     void (*fn)(void *ctx, const char *p, size_t n), void *ctx,
                     uint64_t *size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	int rc = 0;

	*size = 0;
	if (fd < 0)
		return -errno;
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	for (;;) {
		ssize_t n;

		if (stopping(b)) {
			rc = -EINTR;
			break;
		}
		n = read(fd, b->buf, BENCH_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		fn(ctx, b->buf, (size_t)n);
		*size += (uint64_t)n;
	}
	close(fd);
	return rc;
}

struct file_ctx {
	struct hasher *stream, *own;
};

static void feed_file_unit(void *ctx, const char *p, size_t n)
{
	struct file_ctx *c = ctx;

	if (c->stream)
		hash_update(c->stream, p, n);
	if (c->own)
		hash_update(c->own, p, n);
}

static void feed_line_unit(void *ctx, const char *p, size_t n)
{
	frame_feed(ctx, p, n);
}

/*
 * Reads every input once and computes what the output must be.  Returns 0,
 * -EIO after reporting an input that cannot be read, -EINTR, -ENOMEM.
 */
static int compute_expect(struct bench *b)
{
	const struct pmerge_config *cfg = b->user;
	bool arrival = b->order == PMERGE_ORDER_ARRIVAL;
	struct hasher stream, own;
	struct records recs;
	int rc = 0;

	hash_init(&stream);
	records_init(&recs);
	if (arrival && cfg->unit == PMERGE_UNIT_FILE) {
		b->want.input_hash = calloc(cfg->n_inputs, sizeof(uint64_t));
		if (!b->want.input_hash)
			return -ENOMEM;
	}
	for (size_t i = 0; i < cfg->n_inputs && rc == 0; i++) {
		const char *name = cfg->inputs[i];
		uint64_t size;

		if (cfg->unit == PMERGE_UNIT_FILE) {
			struct file_ctx c = {
			    .stream = arrival ? NULL : &stream,
			    .own = arrival ? &own : NULL,
			};
			hash_init(&own);
			rc = scan_file(b, name, feed_file_unit, &c, &size);
			if (arrival)
				b->want.input_hash[i] = hash_final(&own);
			b->want.bytes += size;
		} else {
			struct framer f = {
			    .term = b->term,
			    .stream = arrival ? NULL : &stream,
			    .recs = arrival ? &recs : NULL,
			};
			char *tag = NULL;
			if (cfg->tag) {
				tag = pm_tag_make(name, &f.tag_len);
				if (!tag)
					return -ENOMEM;
				f.tag = tag;
			}
			rc = scan_file(b, name, feed_line_unit, &f, &size);
			frame_end(&f);
			free(tag);
			b->want.bytes += f.bytes;
		}
		if (rc < 0 && rc != -EINTR) {
			if (cfg->cb.input_error)
				cfg->cb.input_error(cfg->cb.user, name, -rc);
			rc = -EIO;
		}
	}
	b->want.stream = hash_final(&stream);
	b->want.rec_sum = recs.sum;
	b->want.rec_count = recs.count;
	return rc;
}

/* ----------------------------------------------------------- verifying */

static void feed_stream(void *ctx, const char *p, size_t n)
{
	hash_update(ctx, p, n);
}

/* The records of the output, split at its terminator. */
struct output_records {
	struct records r;
	char term;
};

static void feed_output_records(void *ctx, const char *p, size_t n)
{
	struct output_records *o = ctx;

	while (n > 0) {
		const char *t = memchr(p, o->term, n);
		size_t seg = t ? (size_t)(t - p) + 1 : n;

		hash_update(&o->r.cur, p, seg);
		p += seg;
		n -= seg;
		if (t)
			records_close(&o->r);
	}
}

struct seg {
	uint64_t off, len;
	size_t idx;
};

static int seg_cmp(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* Walks the output through the inputs' segments, in offset order. */
struct seg_check {
	const struct seg *seg;
	size_t n, k;
	uint64_t left;
	struct hasher h;
	const uint64_t *want;
	bool ok;
};

/* Closes every segment that is complete, the empty ones included. */
static void seg_next(struct seg_check *c)
{
	while (c->k < c->n && c->left == 0) {
		if (hash_final(&c->h) != c->want[c->seg[c->k].idx])
			c->ok = false;
		c->k++;
		hash_init(&c->h);
		if (c->k < c->n)
			c->left = c->seg[c->k].len;
	}
}

static void feed_segments(void *ctx, const char *p, size_t n)
{
	struct seg_check *c = ctx;

	while (n > 0) {
		seg_next(c);
		if (c->k == c->n) {
			c->ok = false; /* bytes that belong to no input */
			return;
		}
		size_t take = c->left < n ? (size_t)c->left : n;
		hash_update(&c->h, p, take);
		c->left -= take;
		p += take;
		n -= take;
	}
}

/*
 * --unit=file in arrival order: the inputs' segments, as the engine
 * recorded them, must tile the output exactly and each hold its input.
 */
static int verify_segments(struct bench *b, const struct pmerge_result *res,
                           bool *ok)
{
	size_t n = b->user->n_inputs;
	struct seg *seg = calloc(n ? n : 1, sizeof(*seg));
	struct seg_check c = {.seg = seg, .n = n, .want = b->want.input_hash};
	uint64_t pos = 0, size;
	int rc = 0;

	*ok = false;
	if (!seg)
		return -ENOMEM;
	if (!res->unit_offset || !res->unit_length)
		goto out;
	for (size_t i = 0; i < n; i++) {
		seg[i] =
		    (struct seg){res->unit_offset[i], res->unit_length[i], i};
		if (seg[i].off == UINT64_MAX)
			goto out; /* an input that never landed */
	}
	qsort(seg, n, sizeof(*seg), seg_cmp);
	for (size_t i = 0; i < n; i++) {
		if (seg[i].off != pos)
			goto out; /* a gap or an overlap */
		pos += seg[i].len;
	}
	if (pos != b->want.bytes)
		goto out;
	hash_init(&c.h);
	c.left = n ? seg[0].len : 0;
	c.ok = true;
	rc = scan_file(b, b->out_path, feed_segments, &c, &size);
	seg_next(&c);
	*ok = rc == 0 && c.ok && c.k == c.n && size == b->want.bytes;
out:
	free(seg);
	return rc;
}

/*
 * Checks one run's output.  *ok says whether it is right; returns 0, or
 * -EINTR / -errno when the output could not be read back.
 */
static int verify_run(struct bench *b, const struct pmerge_result *res,
                      bool *ok)
{
	uint64_t size = 0;
	int rc;

	*ok = false;
	if (res->bytes != b->want.bytes)
		return 0;
	if (b->order != PMERGE_ORDER_ARRIVAL) {
		struct hasher h;

		hash_init(&h);
		rc = scan_file(b, b->out_path, feed_stream, &h, &size);
		*ok = rc == 0 && size == b->want.bytes &&
		      hash_final(&h) == b->want.stream;
		return rc;
	}
	if (b->user->unit == PMERGE_UNIT_FILE)
		return verify_segments(b, res, ok);

	struct output_records o = {.term = b->term};

	records_init(&o.r);
	rc = scan_file(b, b->out_path, feed_output_records, &o, &size);
	if (o.r.cur.total > 0)
		records_close(&o.r); /* an unterminated tail: a wrong record */
	*ok = rc == 0 && size == b->want.bytes && o.r.sum == b->want.rec_sum &&
	      o.r.count == b->want.rec_count;
	return rc;
}

/* ------------------------------------------------------------ the runs */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Mean, sample deviation, median and range of s->times; the lock figures
 * of the run whose time is the median (the faster middle one when the
 * count is even). */
static int summarise(struct bench *b, struct strategy *s)
{
	unsigned n = b->runs;
	double *sorted = malloc(n * sizeof(double));
	double sum = 0, sq = 0;

	if (!sorted)
		return -ENOMEM;
	memcpy(sorted, s->times, n * sizeof(double));
	qsort(sorted, n, sizeof(double), cmp_double);
	for (unsigned i = 0; i < n; i++)
		sum += s->times[i];
	s->mean = sum / n;
	for (unsigned i = 0; i < n; i++)
		sq += (s->times[i] - s->mean) * (s->times[i] - s->mean);
	s->stddev = n > 1 ? sqrt(sq / (n - 1)) : 0;
	s->median =
	    n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
	s->min = sorted[0];
	s->max = sorted[n - 1];
	for (unsigned i = 0; i < n; i++) {
		if (s->times[i] == sorted[(n - 1) / 2]) {
			s->lock = b->run_lock[i];
			break;
		}
	}
	free(sorted);
	return 0;
}

/*
 * One run under s.  run 0 is the warm-up, which is verified but not
 * timed.  Returns 0 (with s->ok cleared when the output was wrong), -EINTR
 * with *sig set, or the engine's error.
 */
static int run_once(struct bench *b, struct strategy *s, unsigned run, int *sig)
{
	const struct pmerge_callbacks *cb = &b->user->cb;
	struct pmerge_result res;
	uint64_t t0, t1;
	bool ok;
	int rc, vrc;

	if (stopping(b)) {
		*sig = b->stop;
		return -EINTR;
	}
	if (b->temp) {
		/* Only one output at a time in $TMPDIR, which is often
		 * memory: the last run's goes before the next is written. */
		if (truncate(b->temp, 0) < 0)
			return -errno;
	}
	if (cb->bench_step)
		cb->bench_step(cb->user, s->name, run, b->runs);
	b->stepped = true;
	b->cfg.lock = s->spec;
	t0 = pm_now_ns();
	rc = pmerge_run(&b->cfg, &res);
	t1 = pm_now_ns();
	if (res.signal || rc == -EINTR) {
		*sig = res.signal ? res.signal : b->stop;
		pmerge_result_free(&res);
		return -EINTR;
	}
	if (rc < 0) {
		pmerge_result_free(&res);
		return rc;
	}
	vrc = verify_run(b, &res, &ok);
	if (vrc == 0) {
		if (!ok)
			s->ok = false;
		if (run > 0) {
			s->times[run - 1] = (double)(t1 - t0) / 1e9;
			b->run_lock[run - 1] = res.lock;
		}
	} else if (vrc == -EINTR) {
		*sig = b->stop;
	}
	pmerge_result_free(&res);
	return vrc;
}

/* ------------------------------------------------------------ the report */

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

static double mib_per_s(const struct bench *b, const struct strategy *s)
{
	return s->median > 0 ? (double)b->want.bytes / 1048576.0 / s->median
	                     : 0;
}

static double relative(const struct strategy *s, const struct strategy *best)
{
	return best->median > 0 ? s->median / best->median : 1.0;
}

static size_t fastest(const struct bench *b)
{
	size_t best = 0;

	for (size_t i = 1; i < b->n_st; i++)
		if (b->st[i].median < b->st[best].median)
			best = i;
	return best;
}

static void report_json(const struct bench *b, FILE *f)
{
	const struct strategy *best = &b->st[fastest(b)];

	fprintf(f,
	        "{\"version\": \"%s\", \"runs\": %u, \"warmup\": %d, "
	        "\"jobs\": %u, \"unit\": \"%s\", \"order\": \"%s\", "
	        "\"inputs\": %zu, \"bytes\": %llu, \"results\": [",
	        PMERGE_VERSION, b->runs, BENCH_WARMUP, b->jobs,
	        pm_unit_name(b->user->unit), pm_order_name(b->order),
	        b->user->n_inputs, (unsigned long long)b->want.bytes);
	for (size_t i = 0; i < b->n_st; i++) {
		const struct strategy *s = &b->st[i];

		fprintf(f,
		        "%s\n  {\"lock\": \"%s\", \"wall_s\": {\"mean\": %.9f, "
		        "\"stddev\": %.9f, \"median\": %.9f, \"min\": %.9f, "
		        "\"max\": %.9f}, \"times_s\": [",
		        i ? "," : "", s->name, s->mean, s->stddev, s->median,
		        s->min, s->max);
		for (unsigned r = 0; r < b->runs; r++)
			fprintf(f, "%s%.9f", r ? ", " : "", s->times[r]);
		fprintf(f,
		        "], \"mib_per_s\": %.3f, \"relative\": %.6f, "
		        "\"output_ok\": %s, \"lock_stats\": ",
		        mib_per_s(b, s), relative(s, best),
		        s->ok ? "true" : "false");
		pm_stats_json_lock(f, &s->lock);
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
    [COL_HOLDERS] = {"max_holders", 11},   [COL_REL] = {"relative", 8},
};

static void report_row(const struct bench *b, const struct strategy *s,
                       const struct strategy *best, int name_w, FILE *f)
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
	         pm_format_ns(l->wait_ns.p50, t[0], sizeof(t[0])),
	         pm_format_ns(l->wait_ns.p99, t[1], sizeof(t[1])),
	         pm_format_ns(l->wait_ns.max, t[2], sizeof(t[2])));
	snprintf(c[COL_HOLD], sizeof(c[0]), "%s/%s",
	         pm_format_ns(l->hold_ns.p50, t[0], sizeof(t[0])),
	         pm_format_ns(l->hold_ns.p99, t[1], sizeof(t[1])));
	snprintf(c[COL_HOLDERS], sizeof(c[0]), "%u", l->max_holders);
	snprintf(c[COL_REL], sizeof(c[0]), "%.2f", relative(s, best));
	fprintf(f, "%-*s", name_w, s->name);
	for (int i = 0; i < COL_COUNT_; i++)
		cell(f, c[i], columns[i].width, true);
	fprintf(f, "  %s\n", s->ok ? "ok" : "FAILED");
}

static int by_relative(const void *a, const void *b)
{
	const struct strategy *x = *(const struct strategy *const *)a;
	const struct strategy *y = *(const struct strategy *const *)b;

	return (x->median > y->median) - (x->median < y->median);
}

/*
 * The summary in hyperfine's words: the ratio of medians (the relative
 * column), with the uncertainty of a ratio of means propagated from the
 * sample deviations.  A single run has no deviation, hence no "±".
 */
static int report_summary(const struct bench *b, const struct strategy *best,
                          FILE *f)
{
	const struct strategy **order = calloc(b->n_st, sizeof(*order));
	size_t n = 0;

	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < b->n_st; i++)
		if (&b->st[i] != best)
			order[n++] = &b->st[i];
	qsort(order, n, sizeof(*order), by_relative);
	fprintf(f, "%s ran\n", best->name);
	for (size_t i = 0; i < n; i++) {
		const struct strategy *s = order[i];
		double r = relative(s, best);

		if (b->runs > 1 && s->mean > 0 && best->mean > 0) {
			double ea = best->stddev / best->mean;
			double eb = s->stddev / s->mean;
			fprintf(f, "  %.2f ± %.2f times faster than %s\n", r,
			        r * sqrt(ea * ea + eb * eb), s->name);
		} else {
			fprintf(f, "  %.2f times faster than %s\n", r, s->name);
		}
	}
	free(order);
	return 0;
}

static int report_text(const struct bench *b, FILE *f)
{
	const struct strategy *best = &b->st[fastest(b)];
	int name_w = 4;
	char bytes[32];

	for (size_t i = 0; i < b->n_st; i++)
		if ((int)strlen(b->st[i].name) > name_w)
			name_w = (int)strlen(b->st[i].name);
	fprintf(f,
	        "pmerge --bench: %zu inputs, %s (%llu bytes), jobs %u, "
	        "unit %s, order %s, %u run%s + %d warm-up per strategy\n",
	        b->user->n_inputs,
	        pmerge_format_bytes(b->want.bytes, bytes, sizeof(bytes)),
	        (unsigned long long)b->want.bytes, b->jobs,
	        pm_unit_name(b->user->unit), pm_order_name(b->order), b->runs,
	        b->runs == 1 ? "" : "s", BENCH_WARMUP);
	fprintf(f, "%-*s", name_w, "lock");
	for (int i = 0; i < COL_COUNT_; i++)
		cell(f, columns[i].title, columns[i].width, true);
	fputs("  verified\n", f);
	for (size_t i = 0; i < b->n_st; i++)
		report_row(b, &b->st[i], best, name_w, f);
	if (b->n_st < 2)
		return 0;
	fputc('\n', f);
	return report_summary(b, best, f);
}

static int make_report(const struct bench *b, bool json, char **report)
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

/* ------------------------------------------------------------- set-up */

/* Names the engine writes as a file descriptor rather than as a path. */
static bool is_fd_alias(const char *path)
{
	return strcmp(path, "/dev/stdout") == 0 ||
	       strcmp(path, "/dev/stderr") == 0 ||
	       strncmp(path, "/dev/fd/", 8) == 0 ||
	       strncmp(path, "/proc/self/fd/", 14) == 0;
}

/*
 * Every input must be a regular file, since each run reads it again, and
 * the output a regular file (or none yet) that is none of the inputs,
 * since each run reads it back.  Returns 0, -EIO after reporting inputs
 * that cannot be opened, -ESPIPE after reporting inputs that are not
 * regular files, or -EINVAL for an unusable output.
 */
static int check_files(const struct pmerge_config *cfg)
{
	const struct pmerge_callbacks *cb = &cfg->cb;
	struct stat out, st;
	bool have_out = false;
	int rc = 0;

	if (cfg->output) {
		if (is_fd_alias(cfg->output))
			return -EINVAL;
		if (stat(cfg->output, &out) == 0) {
			if (!S_ISREG(out.st_mode))
				return -EINVAL;
			have_out = true;
		}
	}
	for (size_t i = 0; i < cfg->n_inputs; i++) {
		const char *name = cfg->inputs[i];
		int err = 0;

		if (strcmp(name, "-") == 0)
			err = ESPIPE;
		else if (stat(name, &st) < 0)
			err = errno;
		else if (S_ISDIR(st.st_mode))
			err = EISDIR;
		else if (!S_ISREG(st.st_mode))
			err = ESPIPE;
		else if (have_out && st.st_dev == out.st_dev &&
		         st.st_ino == out.st_ino)
			return -EINVAL;
		if (err && cb->input_error)
			cb->input_error(cb->user, name, err);
		if (err == ESPIPE)
			rc = -ESPIPE;
		else if (err && rc == 0)
			rc = -EIO;
	}
	return rc;
}

/* The output of the runs: cfg->output, or a new file in $TMPDIR. */
static int make_output(struct bench *b)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	if (b->user->output) {
		b->out_path = b->user->output;
		return 0;
	}
	if (!dir || !*dir)
		dir = "/tmp";
	if (asprintf(&b->temp, "%s/pmerge-bench-XXXXXX", dir) < 0) {
		b->temp = NULL;
		return -ENOMEM;
	}
	fd = mkostemp(b->temp, O_CLOEXEC);
	if (fd < 0) {
		int err = -errno;
		free(b->temp);
		b->temp = NULL;
		return err;
	}
	close(fd);
	b->out_path = b->temp;
	return 0;
}

static int make_strategies(struct bench *b,
                           const struct pmerge_lock_spec *locks, size_t n_locks)
{
	const struct pmerge_lock_spec defaults[] = {
	    {PMERGE_LOCK_MUTEX, 1}, {PMERGE_LOCK_RLOCK, 1},
	    {PMERGE_LOCK_SEM, 1},   {PMERGE_LOCK_SEM, b->jobs},
	    {PMERGE_LOCK_SPIN, 1},
	};
	bool own = !locks;

	if (own) {
		locks = defaults;
		n_locks = sizeof(defaults) / sizeof(defaults[0]);
	}
	b->st = calloc(n_locks, sizeof(*b->st));
	if (!b->st)
		return -ENOMEM;
	for (size_t i = 0; i < n_locks; i++) {
		struct strategy *s = &b->st[b->n_st];

		/* With -j1, sem:<jobs> is sem:1 again: run it once. */
		if (own && i == 3 && b->jobs == 1)
			continue;
		s->spec = locks[i];
		s->ok = true;
		pmerge_lock_format(&locks[i], s->name, sizeof(s->name));
		s->times = calloc(b->runs, sizeof(double));
		if (!s->times)
			return -ENOMEM;
		b->n_st++;
	}
	return 0;
}

int pmerge_bench(const struct pmerge_config *cfg,
                 const struct pmerge_lock_spec *locks, size_t n_locks,
                 unsigned runs, bool json, char **report, int *signal)
{
	struct bench *b = calloc(1, sizeof(*b));
	bool all_ok = true;
	int rc;

	*report = NULL;
	*signal = 0;
	if (!b)
		return -ENOMEM;
	if (runs == 0 || cfg->n_inputs == 0 || !cfg->inputs || cfg->append ||
	    (locks && n_locks == 0)) {
		rc = -EINVAL;
		goto out;
	}
	b->user = cfg;
	b->runs = runs;
	b->jobs = cfg->jobs ? cfg->jobs : pmerge_default_jobs();
	b->order = cfg->order != PMERGE_ORDER_DEFAULT ? cfg->order
	           : cfg->unit == PMERGE_UNIT_LINE    ? PMERGE_ORDER_ARRIVAL
	                                              : PMERGE_ORDER_INPUT;
	b->term = cfg->zero_terminated ? '\0' : '\n';
	rc = check_files(cfg);
	if (rc < 0)
		goto out;
	b->buf = malloc(BENCH_CHUNK);
	b->run_lock = calloc(runs, sizeof(*b->run_lock));
	if (!b->buf || !b->run_lock) {
		rc = -ENOMEM;
		goto out;
	}
	rc = make_strategies(b, locks, n_locks);
	if (rc < 0)
		goto out;
	rc = watch_signals(b);
	if (rc < 0)
		goto out;
	rc = compute_expect(b);
	if (rc < 0)
		goto out;
	rc = make_output(b);
	if (rc < 0)
		goto out;

	b->cfg = *cfg;
	b->cfg.output = b->out_path;
	b->cfg.jobs = b->jobs;
	b->cfg.order = b->order;
	b->cfg.record_layout = true;
	b->cfg.detailed_stats = true;
	b->cfg.handle_signals = true;
	b->cfg.progress_interval_ms = 0;
	b->cfg.cb.progress = NULL;

	for (size_t i = 0; i < b->n_st && rc == 0; i++) {
		struct strategy *s = &b->st[i];

		for (unsigned run = 0; run <= runs && rc == 0; run++)
			rc = run_once(b, s, run, signal);
		if (rc == 0)
			rc = summarise(b, s);
		all_ok = all_ok && s->ok;
	}
	if (rc == 0)
		rc = make_report(b, json, report);
	if (rc == 0 && !all_ok)
		rc = -EIO;
out:
	if (rc == -EINTR && !*signal)
		*signal = b->stop ? b->stop : SIGINT;
	if (b->stepped && cfg->cb.bench_step)
		cfg->cb.bench_step(cfg->cb.user, NULL, 0, runs);
	if (b->temp)
		unlink(b->temp);
	unwatch_signals(b);
	free(b->temp);
	free(b->buf);
	free(b->run_lock);
	free(b->want.input_hash);
	for (size_t i = 0; b->st && i < b->n_st; i++)
		free(b->st[i].times);
	free(b->st);
	free(b);
	return rc;
}
