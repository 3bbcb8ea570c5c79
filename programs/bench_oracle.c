/*
 * The --bench verification oracle: what every run's output must be,
 * computed once from the inputs, and the check of one run's output
 * against it.
 *
 * For the deterministic order it is a hash of the whole output; for
 * arrival order, each input's hash at the place the engine says it put it
 * (--unit=file, from pmerge_result.placement), or a multiset hash of the
 * records (--unit=line), which no interleaving changes.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/*
 * Reads path from start to end, handing each chunk to fn.  Returns 0,
 * -EINTR when a stop signal arrived, or -errno of the open or a read.
 */
static int scan_file(struct bench_oracle *o, const char *path,
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

		if (o->stopping(o->ctx)) {
			rc = -EINTR;
			break;
		}
		n = read(fd, o->buf, BENCH_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		fn(ctx, o->buf, (size_t)n);
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
int oracle_expect(struct bench_oracle *o)
{
	const struct pmerge_config *cfg = o->cfg;
	bool arrival = o->order == PMERGE_ORDER_ARRIVAL;
	struct hasher stream, own;
	struct records recs;
	int rc = 0;

	hash_init(&stream);
	records_init(&recs);
	if (arrival && cfg->unit == PMERGE_UNIT_FILE) {
		o->want.input_hash = calloc(cfg->n_inputs, sizeof(uint64_t));
		if (!o->want.input_hash)
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
			rc = scan_file(o, name, feed_file_unit, &c, &size);
			if (arrival)
				o->want.input_hash[i] = hash_final(&own);
			o->want.bytes += size;
		} else {
			struct framer f = {
			    .term = o->term,
			    .stream = arrival ? NULL : &stream,
			    .recs = arrival ? &recs : NULL,
			};
			char *tag = NULL;
			if (cfg->tag) {
				tag = pmerge_tag_make(name, &f.tag_len);
				if (!tag)
					return -ENOMEM;
				f.tag = tag;
			}
			rc = scan_file(o, name, feed_line_unit, &f, &size);
			frame_end(&f);
			free(tag);
			o->want.bytes += f.bytes;
		}
		if (rc < 0 && rc != -EINTR) {
			if (cfg->cb.input_error)
				cfg->cb.input_error(cfg->cb.user, name, -rc);
			rc = -EIO;
		}
	}
	o->want.stream = hash_final(&stream);
	o->want.rec_sum = recs.sum;
	o->want.rec_count = recs.count;
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
static int verify_segments(struct bench_oracle *o, const char *out_path,
                           const struct pmerge_result *res, bool *ok)
{
	size_t n = o->cfg->n_inputs;
	struct seg *seg = calloc(n ? n : 1, sizeof(*seg));
	struct seg_check c = {.seg = seg, .n = n, .want = o->want.input_hash};
	uint64_t pos = 0, size;
	int rc = 0;

	*ok = false;
	if (!seg)
		return -ENOMEM;
	if (!res->placement)
		goto out;
	for (size_t i = 0; i < n; i++) {
		seg[i] = (struct seg){res->placement[i].offset,
		                      res->placement[i].length, i};
		if (seg[i].off == UINT64_MAX)
			goto out; /* an input that never landed */
	}
	qsort(seg, n, sizeof(*seg), seg_cmp);
	for (size_t i = 0; i < n; i++) {
		if (seg[i].off != pos)
			goto out; /* a gap or an overlap */
		pos += seg[i].len;
	}
	if (pos != o->want.bytes)
		goto out;
	hash_init(&c.h);
	c.left = n ? seg[0].len : 0;
	c.ok = true;
	rc = scan_file(o, out_path, feed_segments, &c, &size);
	seg_next(&c);
	*ok = rc == 0 && c.ok && c.k == c.n && size == o->want.bytes;
out:
	free(seg);
	return rc;
}

/*
 * Checks one run's output.  *ok says whether it is right; returns 0, or
 * -EINTR / -errno when the output could not be read back.
 */
int oracle_verify(struct bench_oracle *o, const char *out_path,
                  const struct pmerge_result *res, bool *ok)
{
	uint64_t size = 0;
	int rc;

	*ok = false;
	if (res->bytes != o->want.bytes)
		return 0;
	if (o->order != PMERGE_ORDER_ARRIVAL) {
		struct hasher h;

		hash_init(&h);
		rc = scan_file(o, out_path, feed_stream, &h, &size);
		*ok = rc == 0 && size == o->want.bytes &&
		      hash_final(&h) == o->want.stream;
		return rc;
	}
	if (o->cfg->unit == PMERGE_UNIT_FILE)
		return verify_segments(o, out_path, res, ok);

	struct output_records recs = {.term = o->term};

	records_init(&recs.r);
	rc = scan_file(o, out_path, feed_output_records, &recs, &size);
	if (recs.r.cur.total > 0)
		records_close(
		    &recs.r); /* an unterminated tail: a wrong record */
	*ok = rc == 0 && size == o->want.bytes &&
	      recs.r.sum == o->want.rec_sum &&
	      recs.r.count == o->want.rec_count;
	return rc;
}
