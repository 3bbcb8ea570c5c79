/*
 * lz4 frame decoding with liblz4's frame API.  The context goes on to the
 * next frame by itself after one ends, and skips skippable frames.  Its
 * memory is bounded by the largest block size the format has (4 MiB).
 */
#include "decode.h"

#include <errno.h>
#include <lz4frame.h>

/* Magic (4), FLG, BD, header checksum. */
#define LZ4_HEADER_MIN 7

static int lz4_match(const uint8_t *p, size_t n)
{
	static const uint8_t magic[] = {0x04, 0x22, 0x4d, 0x18};
	int m = pm_magic_match(p, n, magic, sizeof(magic), LZ4_HEADER_MIN);

	/* FLG: version 01 in the top two bits. */
	if (m != 0 && n > 4 && (p[4] >> 6) != 1)
		return 0;
	if (m != 0)
		return m;
	return pm_skippable_match(p, n);
}

static int lz4_create(void **state, const char **why)
{
	LZ4F_dctx *d = NULL;
	size_t rc = LZ4F_createDecompressionContext(&d, LZ4F_VERSION);

	if (LZ4F_isError(rc)) {
		*why = LZ4F_getErrorName(rc);
		return -ENOMEM;
	}
	*state = d;
	return 0;
}

static int lz4_decode(void *state, struct pm_codec_in *in, bool at_eof,
                      uint8_t *out, size_t out_len, size_t *produced,
                      const char **why)
{
	size_t src_len = in->len - in->pos;
	size_t dst_len = out_len;
	size_t rc = LZ4F_decompress(state, out, &dst_len, in->data + in->pos,
	                            &src_len, NULL);

	(void)at_eof;
	in->pos += src_len;
	*produced = dst_len;
	if (LZ4F_isError(rc)) {
		*why = LZ4F_getErrorName(rc);
		return -EBADMSG;
	}
	return rc == 0 ? PM_STEP_END : PM_STEP_MORE;
}

static int lz4_restart(void *state, const char **why)
{
	(void)state;
	(void)why;
	return 0;
}

static void lz4_destroy(void *state)
{
	LZ4F_freeDecompressionContext(state);
}

const struct pm_codec_ops pm_codec_lz4_ops = {
    .name = "lz4",
    .id = PM_CODEC_LZ4,
    .match = lz4_match,
    .create = lz4_create,
    .decode = lz4_decode,
    .restart = lz4_restart,
    .destroy = lz4_destroy,
};
