/*
 * zstd decoding with libzstd's streaming API.  One context decodes every
 * frame of the input in turn; skippable frames are skipped by libzstd.  The
 * window is capped at 2^PM_ZSTD_WINDOW_LOG_MAX bytes, so a frame that asks
 * for more is refused instead of allocating it.
 */
#include "decode.h"

#include <errno.h>
#include <zstd.h>
#include <zstd_errors.h>

/* Magic (4) + frame header descriptor + at least one more byte. */
#define ZSTD_HEADER_MIN 6

static int zstd_match(const uint8_t *p, size_t n)
{
	static const uint8_t magic[] = {0x28, 0xb5, 0x2f, 0xfd};
	int m = pm_magic_match(p, n, magic, sizeof(magic), ZSTD_HEADER_MIN);

	if (m != 0)
		return m;
	return pm_skippable_match(p, n);
}

static int zstd_create(void **state, const char **why)
{
	ZSTD_DStream *ds = ZSTD_createDStream();

	if (!ds)
		return -ENOMEM;
	size_t rc = ZSTD_DCtx_setParameter(ds, ZSTD_d_windowLogMax,
	                                   PM_ZSTD_WINDOW_LOG_MAX);
	if (ZSTD_isError(rc)) {
		ZSTD_freeDStream(ds);
		*why = ZSTD_getErrorName(rc);
		return -EINVAL;
	}
	*state = ds;
	return 0;
}

static int zstd_decode(void *state, struct pm_codec_in *in, bool at_eof,
                       uint8_t *out, size_t out_len, size_t *produced,
                       const char **why)
{
	ZSTD_inBuffer ib = {.src = in->data, .size = in->len, .pos = in->pos};
	ZSTD_outBuffer ob = {.dst = out, .size = out_len, .pos = 0};
	size_t rc = ZSTD_decompressStream(state, &ob, &ib);

	(void)at_eof;
	in->pos = ib.pos;
	*produced = ob.pos;
	if (ZSTD_isError(rc)) {
		switch (ZSTD_getErrorCode(rc)) {
		case ZSTD_error_frameParameter_windowTooLarge:
			*why = "frame needs more memory than allowed (window "
			       "over 128 MiB)";
			return -EFBIG;
		case ZSTD_error_memory_allocation:
			*why = "out of memory";
			return -ENOMEM;
		default:
			*why = ZSTD_getErrorName(rc);
			return -EBADMSG;
		}
	}
	/* 0: a frame is complete and flushed. */
	return rc == 0 ? PM_STEP_END : PM_STEP_MORE;
}

static int zstd_restart(void *state, const char **why)
{
	/* The context starts the next frame by itself. */
	(void)state;
	(void)why;
	return 0;
}

static void zstd_destroy(void *state)
{
	ZSTD_freeDStream(state);
}

const struct pm_codec_ops pm_codec_zstd_ops = {
    .name = "zstd",
    .id = PM_CODEC_ZSTD,
    .match = zstd_match,
    .create = zstd_create,
    .decode = zstd_decode,
    .restart = zstd_restart,
    .destroy = zstd_destroy,
};
