/*
 * Decoding reader: an open input in, its decoded bytes out (-d).
 *
 * A reader wraps one struct pm_source.  When it is opened it looks at the
 * input's first bytes and picks the codec whose magic they carry (gzip,
 * zstd, xz, bzip2, lz4 frame); any other input is "plain" and passes through
 * byte for byte.  The name of the input plays no part.  Concatenated members
 * and frames (multi-member gzip, several zstd frames with skippable frames
 * between them, concatenated xz, bzip2 or lz4 streams) decode as one, as each
 * format's own "-dc" does.
 *
 * Memory is bounded: one input buffer of PM_READER_INBUF bytes plus the
 * codec's state, whose window is capped (zstd windowLog <= PM_ZSTD_WINDOW_LOG
 * _MAX, xz memory <= PM_XZ_MEMLIMIT); a frame that needs more is refused.
 * Decoded bytes go straight into the caller's buffer.
 *
 * Thread rules: a reader belongs to one thread at a time (it may be handed
 * over between threads with the usual happens-before, e.g. a mutex).
 * Different readers share nothing and may be used by different threads at
 * once.  The codec table itself is read-only after the first open
 * (pthread_once).
 *
 * Errors: functions return 0 / a byte count, or a negative errno:
 *   -ECANCELED  wake_fd became readable (the merge is stopping);
 *   -EBADMSG    the compressed data is bad: corrupt, truncated, or followed
 *               by trailing garbage;
 *   -EFBIG      a frame needs more memory than allowed;
 *   -ENOMEM     out of memory;
 *   others      a read error of the input (as pm_source_read).
 * For -EBADMSG and -EFBIG (and -ENOMEM from a codec), pm_reader_error()
 * gives the reason as the codec puts it, prefixed with the format's name:
 * "gzip: invalid compressed data (invalid block)".
 */
#ifndef PMERGE_DECODE_H
#define PMERGE_DECODE_H

#include "internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

/* Bytes of compressed input a reader buffers. */
#define PM_READER_INBUF (128u * 1024u)
/* Window caps: see the header comment. */
#define PM_ZSTD_WINDOW_LOG_MAX 27
#define PM_XZ_MEMLIMIT         (64ull << 20)

/* The formats a reader recognises; PM_CODEC_PLAIN passes bytes through. */
enum pm_codec_id {
	PM_CODEC_PLAIN = 0,
	PM_CODEC_GZIP,
	PM_CODEC_ZSTD,
	PM_CODEC_XZ,
	PM_CODEC_BZIP2,
	PM_CODEC_LZ4,
	PM_CODEC_COUNT_,
};

/* Where a codec's decode step reads from: data[pos, len). */
struct pm_codec_in {
	const uint8_t *data;
	size_t pos, len;
	/* Bytes before pos that are still in data (at least 8 once that many
	 * were consumed): a codec that read ahead may step back into them. */
	size_t history;
};

/* What a decode step says besides its byte counts. */
enum pm_codec_step {
	PM_STEP_MORE = 0, /* call again: with more input, or more room */
	PM_STEP_END,      /* a stream (member, frame) ended at in->pos */
};

/*
 * One codec, as the lock strategies are: a small file each (decode_*.c).
 * create/destroy allocate the state; decode moves bytes from in to out;
 * restart prepares the state for another stream that follows an END.
 * match tells from the first n bytes whether p starts a stream of this
 * format: 1 yes, 0 no, -1 cannot tell yet (need more bytes).
 * On an error, decode and create return a negative errno (see above) and
 * set *why to a static string (without the format's name).
 */
struct pm_codec_ops {
	const char *name;
	enum pm_codec_id id;
	int (*match)(const uint8_t *p, size_t n);
	int (*create)(void **state, const char **why);
	int (*decode)(void *state, struct pm_codec_in *in, bool at_eof,
	              uint8_t *out, size_t out_len, size_t *produced,
	              const char **why);
	int (*restart)(void *state, const char **why);
	void (*destroy)(void *state);
};

/*
 * The usual match: p starts with magic[0, mlen), and a whole header of hdr
 * bytes is there to be sure (-1 until it is; fewer bytes at the end of an
 * input are plain data).
 */
static inline int pm_magic_match(const uint8_t *p, size_t n, const void *magic,
                                 size_t mlen, size_t hdr)
{
	size_t k = n < mlen ? n : mlen;

	if (k > 0 && memcmp(p, magic, k) != 0)
		return 0;
	return n < hdr ? -1 : 1;
}

/* A skippable frame (magic 0x184D2A50..5F little-endian, then a 32-bit
 * length), which zstd and lz4 frames share.  Same results as above. */
static inline int pm_skippable_match(const uint8_t *p, size_t n)
{
	static const uint8_t rest[] = {0x2a, 0x4d, 0x18};

	if (n >= 1 && (p[0] & 0xf0) != 0x50)
		return 0;
	if (n <= 1)
		return -1;
	return pm_magic_match(p + 1, n - 1, rest, sizeof(rest), 7);
}

extern const struct pm_codec_ops pm_codec_gzip_ops;
extern const struct pm_codec_ops pm_codec_zstd_ops;
extern const struct pm_codec_ops pm_codec_xz_ops;
extern const struct pm_codec_ops pm_codec_bzip2_ops;
extern const struct pm_codec_ops pm_codec_lz4_ops;

/*
 * The codec whose magic starts p[0, n): its ops, or NULL for plain.  *need
 * is set when n bytes cannot tell yet and more would (0 otherwise).  Pure;
 * any thread.
 */
const struct pm_codec_ops *pm_codec_detect(const uint8_t *p, size_t n,
                                           bool *need);

struct pm_reader;

/*
 * Opens a reader over src (already opened by pm_source_open; the caller
 * keeps owning src and closes it after pm_reader_close).  With decode false
 * the reader only passes bytes through.  Reads the first bytes to detect the
 * format, waiting in poll() on wake_fd as pm_source_read does; for a
 * regular input it does so with pread and leaves src->offset where it was.
 * On success *out is the new reader.  Returns 0 or a negative errno (see
 * above; on -EBADMSG / -EFBIG the reason is lost with the reader, so
 * pm_reader_open only fails for read errors, -ECANCELED and -ENOMEM, and a
 * bad stream shows on the first pm_reader_read).
 */
int pm_reader_open(struct pm_reader **out, struct pm_source *src, bool decode,
                   int wake_fd);

/*
 * Reads up to len decoded bytes into buf.  Returns the count (> 0), 0 at
 * the end of the input, or a negative errno (see above).  After an error,
 * every later call returns the same error; except -EAGAIN, from a source
 * with nonblock set that has nothing to read now: call again later.
 */
ssize_t pm_reader_read(struct pm_reader *r, void *buf, size_t len);

/*
 * A live reader, for inputs read without blocking (the stream thread): the
 * caller reads the input itself, into the reader's buffer, whenever the
 * input has something, and takes out what that decodes to.  The format is
 * detected from the first bytes given; the codec's state is kept between
 * arrivals, so a frame may arrive a byte at a time.
 *
 *   pm_reader_space() says where the next input bytes go (*room bytes, 0
 *   when the buffer holds only input the codec has not been able to use);
 *   pm_reader_fill() says that n bytes were put there, or with n == 0 that
 *   the input has ended;
 *   pm_reader_read() then returns decoded bytes as above, or -EAGAIN when it
 *   needs input it has not been given yet (not an error: nothing is lost,
 *   and it is not sticky).  A bad stream is -EBADMSG as above; an input
 *   that ends inside a frame is -EBADMSG ("unexpected end of file") once
 *   its end is given.
 *
 * Returns 0 or -ENOMEM.  Same thread rules as any reader.
 */
int pm_reader_open_live(struct pm_reader **out);
void *pm_reader_space(struct pm_reader *r, size_t *room);
void pm_reader_fill(struct pm_reader *r, size_t n);
/* Live reader: the format is known (enough of the input has come). */
bool pm_reader_detected(const struct pm_reader *r);

/* The detected format; PM_CODEC_PLAIN for a plain input. */
enum pm_codec_id pm_reader_codec(const struct pm_reader *r);
/* Its name for messages and statistics: "gzip", ..., or "plain". */
const char *pm_reader_codec_name(const struct pm_reader *r);
/* The reason of the last -EBADMSG / -EFBIG / codec -ENOMEM, "" if none.
 * Valid until pm_reader_close. */
const char *pm_reader_error(const struct pm_reader *r);
/* Input bytes read so far (compressed, for a decoded input). */
uint64_t pm_reader_bytes_in(const struct pm_reader *r);
/* Decoded bytes returned so far. */
uint64_t pm_reader_bytes_out(const struct pm_reader *r);
/* Releases the reader (not src).  Accepts NULL. */
void pm_reader_close(struct pm_reader *r);

#endif /* PMERGE_DECODE_H */
