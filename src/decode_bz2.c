/*
 * bzip2 decoding with libbz2.  libbz2 stops at the end of each stream;
 * concatenated streams (as pbzip2 writes them) restart the decoder, which
 * bzip2 -dc does too.
 */
#include "decode.h"

#include <bzlib.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

/* "BZh", the block size digit, then the 48-bit magic of a block or of the
 * end of the stream. */
#define BZ2_HEADER_MIN 10

static int bz2_match(const uint8_t *p, size_t n)
{
	static const uint8_t block[] = {0x31, 0x41, 0x59, 0x26, 0x53, 0x59};
	static const uint8_t end[] = {0x17, 0x72, 0x45, 0x38, 0x50, 0x90};
	int m = pm_magic_match(p, n, "BZh", 3, BZ2_HEADER_MIN);

	if (m == 0)
		return 0;
	if (n >= 4 && (p[3] < '1' || p[3] > '9'))
		return 0;
	if (n <= 4)
		return -1;
	if (pm_magic_match(p + 4, n - 4, block, sizeof(block),
	                   BZ2_HEADER_MIN - 4) != 0)
		return m;
	return pm_magic_match(p + 4, n - 4, end, sizeof(end),
	                      BZ2_HEADER_MIN - 4);
}

static int bz2_init(bz_stream *s, const char **why)
{
	*s = (bz_stream){0};
	int rc = BZ2_bzDecompressInit(s, 0, 0);

	if (rc == BZ_OK)
		return 0;
	*why = rc == BZ_MEM_ERROR ? "out of memory"
	                          : "cannot initialise the decoder";
	return -ENOMEM;
}

static int bz2_create(void **state, const char **why)
{
	bz_stream *s = malloc(sizeof(*s));
	int rc;

	if (!s)
		return -ENOMEM;
	rc = bz2_init(s, why);
	if (rc < 0) {
		free(s);
		return rc;
	}
	*state = s;
	return 0;
}

static int bz2_decode(void *state, struct pm_codec_in *in, bool at_eof,
                      uint8_t *out, size_t out_len, size_t *produced,
                      const char **why)
{
	bz_stream *s = state;
	size_t avail = in->len - in->pos;

	(void)at_eof;
	s->next_in = (char *)in->data + in->pos;
	s->avail_in = avail > UINT_MAX ? UINT_MAX : (unsigned)avail;
	s->next_out = (char *)out;
	s->avail_out = out_len > UINT_MAX ? UINT_MAX : (unsigned)out_len;
	unsigned had = s->avail_in, room = s->avail_out;
	int rc = BZ2_bzDecompress(s);

	in->pos += had - s->avail_in;
	*produced = room - s->avail_out;
	switch (rc) {
	case BZ_OK:
		return PM_STEP_MORE;
	case BZ_STREAM_END:
		return PM_STEP_END;
	case BZ_MEM_ERROR:
		*why = "out of memory";
		return -ENOMEM;
	case BZ_DATA_ERROR_MAGIC:
		*why = "bad magic number";
		return -EBADMSG;
	default:
		*why = "data integrity (CRC) error in data";
		return -EBADMSG;
	}
}

static int bz2_restart(void *state, const char **why)
{
	BZ2_bzDecompressEnd(state);
	return bz2_init(state, why);
}

static void bz2_destroy(void *state)
{
	BZ2_bzDecompressEnd(state);
	free(state);
}

const struct pm_codec_ops pm_codec_bzip2_ops = {
    .name = "bzip2",
    .id = PM_CODEC_BZIP2,
    .match = bz2_match,
    .create = bz2_create,
    .decode = bz2_decode,
    .restart = bz2_restart,
    .destroy = bz2_destroy,
};
