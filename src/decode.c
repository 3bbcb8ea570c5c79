/*
 * The decoding reader (see decode.h): format detection by magic bytes, the
 * input buffer, concatenated streams, and the error state.  The codecs
 * themselves are the small decode_*.c files behind struct pm_codec_ops.
 */
#include "decode.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* In detection order. */
static const struct pm_codec_ops *const codecs[] = {
    &pm_codec_gzip_ops,  &pm_codec_zstd_ops, &pm_codec_xz_ops,
    &pm_codec_bzip2_ops, &pm_codec_lz4_ops,
};

/* Bytes kept before the read position when the buffer is compacted, so
 * that a codec that read ahead (ISA-L keeps up to 8 bytes in a bit
 * buffer) can give them back at the end of a stream. */
#define PM_READER_HISTORY 8

struct pm_reader {
	struct pm_source *src;
	int wake_fd;
	const struct pm_codec_ops *ops; /* NULL: plain */
	void *state;
	uint8_t *in;
	size_t pos, len; /* unread input is in[pos, len) */
	bool eof;        /* the source said end of file */
	bool between;    /* a stream ended: is another one following? */
	bool done;
	bool live;     /* the caller brings the input (pm_reader_fill) */
	bool detected; /* the format is known */
	int err;       /* sticky error, 0 if none */
	char why[192];
	uint64_t bytes_in, bytes_out;
};

const struct pm_codec_ops *pm_codec_detect(const uint8_t *p, size_t n,
                                           bool *need)
{
	size_t off = 0;

	*need = false;
	/*
	 * Skippable frames may come first in both zstd and lz4 data: the
	 * first real frame behind them tells which.
	 */
	while (pm_skippable_match(p + off, n - off) > 0) {
		const uint8_t *q = p + off + 4;
		uint64_t len = (uint64_t)q[0] | (uint64_t)q[1] << 8 |
		               (uint64_t)q[2] << 16 | (uint64_t)q[3] << 24;

		if (len > n - off - 8 || len + 8 == n - off) {
			*need = true;
			return NULL;
		}
		off += 8 + (size_t)len;
	}
	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++) {
		int m = codecs[i]->match(p + off, n - off);

		if (m > 0 && off > 0 && codecs[i] != &pm_codec_lz4_ops)
			return &pm_codec_zstd_ops;
		if (m > 0)
			return codecs[i];
		if (m < 0)
			*need = true;
	}
	return off > 0 && !*need ? &pm_codec_zstd_ops : NULL;
}

static ssize_t fail(struct pm_reader *r, int err, const char *why)
{
	r->err = err;
	if (why)
		snprintf(r->why, sizeof(r->why), "%s: %s",
		         r->ops ? r->ops->name : "input", why);
	return err;
}

/* Makes room after the buffered input, keeping a little history. */
static void compact(struct pm_reader *r)
{
	size_t keep = r->pos < PM_READER_HISTORY ? r->pos : PM_READER_HISTORY;
	size_t drop = r->pos - keep;

	if (drop > 0) {
		memmove(r->in, r->in + drop, r->len - drop);
		r->pos -= drop;
		r->len -= drop;
	}
}

/*
 * Reads more input after what is buffered.  Returns the bytes read (0 at
 * end of file) or a negative errno; a live reader cannot read, so it
 * returns -EAGAIN (its caller brings the input), or -ENOBUFS when the
 * buffer is full of input the codec could not use.
 */
static ssize_t fill(struct pm_reader *r)
{
	compact(r);
	if (r->len == PM_READER_INBUF)
		return -ENOBUFS;
	if (r->live)
		return -EAGAIN;
	ssize_t n = pm_source_read(r->src, r->in + r->len,
	                           PM_READER_INBUF - r->len, r->wake_fd);
	if (n < 0)
		return n;
	if (n == 0)
		r->eof = true;
	r->len += (size_t)n;
	r->bytes_in += (uint64_t)n;
	return n;
}

/* What the first bytes said: only skippable frames, or more of them than
 * the buffer holds, are zstd, whose decoder skips them as well as lz4's
 * does. */
static void settle_format(struct pm_reader *r)
{
	if (!r->ops && pm_skippable_match(r->in, r->len) > 0)
		r->ops = &pm_codec_zstd_ops;
	r->detected = true;
}

/* The codec's state; a failure is reported on the first read, with its
 * reason. */
static void create_codec(struct pm_reader *r)
{
	const char *why = NULL;
	int rc = r->ops->create(&r->state, &why);

	if (rc < 0) {
		fail(r, rc, why);
		r->state = NULL;
	}
}

int pm_reader_open_live(struct pm_reader **out)
{
	struct pm_reader *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r || !(r->in = malloc(PM_READER_INBUF))) {
		free(r);
		return -ENOMEM;
	}
	r->live = true;
	r->wake_fd = -1;
	*out = r;
	return 0;
}

void *pm_reader_space(struct pm_reader *r, size_t *room)
{
	compact(r);
	*room = r->eof ? 0 : PM_READER_INBUF - r->len;
	return r->in + r->len;
}

void pm_reader_fill(struct pm_reader *r, size_t n)
{
	if (n == 0)
		r->eof = true;
	r->len += n;
	r->bytes_in += (uint64_t)n;
}

bool pm_reader_detected(const struct pm_reader *r)
{
	return r->detected;
}

/*
 * A live reader's format, once enough has come to tell: 0, or -EAGAIN
 * while the first bytes could still start a compressed stream.
 */
static int detect_live(struct pm_reader *r)
{
	bool need;

	r->ops = pm_codec_detect(r->in, r->len, &need);
	if (!r->ops && need && !r->eof && r->len < PM_READER_INBUF)
		return -EAGAIN;
	settle_format(r);
	if (r->ops)
		create_codec(r);
	return 0;
}

int pm_reader_open(struct pm_reader **out, struct pm_source *src, bool decode,
                   int wake_fd)
{
	struct pm_reader *r = calloc(1, sizeof(*r));
	int rc = -ENOMEM;

	*out = NULL;
	if (!r)
		goto out;
	r->src = src;
	r->wake_fd = wake_fd;
	if (!decode)
		goto done;
	r->in = malloc(PM_READER_INBUF);
	if (!r->in)
		goto out;
	/*
	 * Read until the first bytes tell: a plain input usually does with
	 * its first byte, so a slow pipe is never waited on for more.
	 */
	for (;;) {
		bool need;
		ssize_t n;

		r->ops = pm_codec_detect(r->in, r->len, &need);
		if (r->ops || !need || r->eof || r->len == PM_READER_INBUF)
			break;
		n = fill(r);
		if (n < 0) {
			rc = (int)n;
			goto out;
		}
	}
	settle_format(r);
	if (!r->ops) {
		if (src->regular) {
			/* Give the bytes back: a plain regular file keeps
			 * every fast path (copy_file_range, splice). */
			src->offset -= r->len;
			r->bytes_in = 0;
			r->pos = r->len = 0;
			r->eof = false;
		}
		goto done;
	}
	create_codec(r);
done:
	*out = r;
	r = NULL;
	rc = 0;
out:
	pm_reader_close(r);
	return rc;
}

/* Plain: the buffered first bytes, then the source itself. */
static ssize_t read_plain(struct pm_reader *r, void *buf, size_t len)
{
	ssize_t n;

	if (r->pos < r->len) {
		size_t k = r->len - r->pos < len ? r->len - r->pos : len;

		memcpy(buf, r->in + r->pos, k);
		r->pos += k;
		r->bytes_out += k;
		return (ssize_t)k;
	}
	if (r->eof)
		return 0;
	if (r->live)
		return -EAGAIN;
	n = pm_source_read(r->src, buf, len, r->wake_fd);
	if (n == -EAGAIN)
		return n;
	if (n < 0)
		return fail(r, (int)n, NULL);
	r->bytes_in += (uint64_t)n;
	r->bytes_out += (uint64_t)n;
	return n;
}

/*
 * After a stream ended: nothing more (the end), another stream of the same
 * format (decode on), or anything else (trailing garbage, an error).
 * Returns 1 when done, 0 to go on decoding, or a negative errno.
 */
static int next_stream(struct pm_reader *r)
{
	const char *why = NULL;

	for (;;) {
		size_t avail = r->len - r->pos;

		if (avail == 0 && r->eof)
			return 1;
		int m = r->ops->match(r->in + r->pos, avail);
		if (m > 0)
			break;
		if (m == 0 || r->eof)
			return (int)fail(r, -EBADMSG,
			                 "trailing garbage after compressed "
			                 "data");
		ssize_t n = fill(r);
		if (n < 0)
			return (int)n;
	}
	int rc = r->ops->restart(r->state, &why);
	if (rc < 0)
		return (int)fail(r, rc, why);
	r->between = false;
	return 0;
}

ssize_t pm_reader_read(struct pm_reader *r, void *buf, size_t len)
{
	if (r->err)
		return r->err;
	if (len == 0)
		return 0;
	if (r->live && !r->detected) {
		int rc = detect_live(r);
		if (rc < 0 || r->err)
			return rc < 0 ? rc : r->err;
	}
	if (!r->ops)
		return read_plain(r, buf, len);
	while (!r->done) {
		if (r->between) {
			int rc = next_stream(r);
			if (rc < 0)
				return rc;
			if (rc > 0) {
				r->done = true;
				break;
			}
		}
		struct pm_codec_in ci = {.data = r->in,
		                         .pos = r->pos,
		                         .len = r->len,
		                         .history = r->pos};
		size_t produced = 0;
		const char *why = NULL;
		int rc = r->ops->decode(r->state, &ci, r->eof, buf, len,
		                        &produced, &why);
		size_t consumed = ci.pos > r->pos ? ci.pos - r->pos : 0;

		r->pos = ci.pos;
		r->bytes_out += produced;
		if (rc < 0) {
			fail(r, rc, why);
			/* What was decoded before the error still counts. */
			return produced ? (ssize_t)produced : rc;
		}
		if (rc == PM_STEP_END)
			r->between = true;
		if (produced)
			return (ssize_t)produced;
		if (rc == PM_STEP_END || consumed > 0)
			continue;
		/* No progress: the codec needs input we have not read. */
		if (r->eof)
			return fail(r, -EBADMSG, "unexpected end of file");
		ssize_t n = fill(r);
		if (n == -ENOBUFS)
			return fail(r, -EBADMSG, "decoder made no progress");
		if (n == -EAGAIN)
			return n; /* live: the caller brings more */
		if (n < 0)
			return fail(r, (int)n, NULL);
	}
	return 0;
}

enum pm_codec_id pm_reader_codec(const struct pm_reader *r)
{
	return r->ops ? r->ops->id : PM_CODEC_PLAIN;
}

const char *pm_reader_codec_name(const struct pm_reader *r)
{
	return r->ops ? r->ops->name : "plain";
}

const char *pm_reader_error(const struct pm_reader *r)
{
	return r->why;
}

uint64_t pm_reader_bytes_in(const struct pm_reader *r)
{
	return r->bytes_in;
}

uint64_t pm_reader_bytes_out(const struct pm_reader *r)
{
	return r->bytes_out;
}

void pm_reader_close(struct pm_reader *r)
{
	if (!r)
		return;
	if (r->ops && r->state)
		r->ops->destroy(r->state);
	free(r->in);
	free(r);
}
