/*
 * xz decoding with liblzma's stream decoder.  LZMA_CONCATENATED makes it
 * decode concatenated streams and the padding between them by itself, as
 * xz -dc does, so the stream ends only at the end of the input.  Memory is
 * capped at PM_XZ_MEMLIMIT: a stream whose dictionary needs more is refused.
 */
#include "decode.h"

#include <errno.h>
#include <lzma.h>
#include <stdlib.h>

/* The stream header: magic (6), flags (2), CRC32 (4). */
#define XZ_HEADER_MIN 12

static int xz_match(const uint8_t *p, size_t n)
{
	static const uint8_t magic[] = {0xfd, '7', 'z', 'X', 'Z', 0x00};

	return pm_magic_match(p, n, magic, sizeof(magic), XZ_HEADER_MIN);
}

static int xz_create(void **state, const char **why)
{
	lzma_stream *s = malloc(sizeof(*s));

	if (!s)
		return -ENOMEM;
	*s = (lzma_stream)LZMA_STREAM_INIT;
	if (lzma_stream_decoder(s, PM_XZ_MEMLIMIT, LZMA_CONCATENATED) !=
	    LZMA_OK) {
		free(s);
		*why = "cannot initialise the decoder";
		return -ENOMEM;
	}
	*state = s;
	return 0;
}

static int xz_decode(void *state, struct pm_codec_in *in, bool at_eof,
                     uint8_t *out, size_t out_len, size_t *produced,
                     const char **why)
{
	lzma_stream *s = state;

	s->next_in = in->data + in->pos;
	s->avail_in = in->len - in->pos;
	s->next_out = out;
	s->avail_out = out_len;
	lzma_ret rc = lzma_code(s, at_eof ? LZMA_FINISH : LZMA_RUN);

	in->pos = in->len - s->avail_in;
	*produced = out_len - s->avail_out;
	switch (rc) {
	case LZMA_OK:
	case LZMA_BUF_ERROR: /* no progress possible: more input wanted */
		return PM_STEP_MORE;
	case LZMA_STREAM_END:
		return PM_STEP_END;
	case LZMA_MEMLIMIT_ERROR:
		*why = "stream needs more memory than allowed (over 64 MiB)";
		return -EFBIG;
	case LZMA_MEM_ERROR:
		*why = "out of memory";
		return -ENOMEM;
	case LZMA_FORMAT_ERROR:
		*why = "file format not recognized";
		return -EBADMSG;
	case LZMA_OPTIONS_ERROR:
		*why = "unsupported options";
		return -EBADMSG;
	default:
		*why = "compressed data is corrupt";
		return -EBADMSG;
	}
}

static int xz_restart(void *state, const char **why)
{
	/* Never reached: the decoder itself goes on to the next stream. */
	(void)state;
	*why = "unexpected stream end";
	return -EBADMSG;
}

static void xz_destroy(void *state)
{
	lzma_end(state);
	free(state);
}

const struct pm_codec_ops pm_codec_xz_ops = {
    .name = "xz",
    .id = PM_CODEC_XZ,
    .match = xz_match,
    .create = xz_create,
    .decode = xz_decode,
    .restart = xz_restart,
    .destroy = xz_destroy,
};
