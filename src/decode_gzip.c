/*
 * gzip decoding: ISA-L's streaming isal_inflate where it is available, zlib
 * otherwise.
 *
 * ISA-L is about three times as fast as zlib here, but it is optional twice
 * over: a build configured with -Disal=disabled has no ISA-L code at all,
 * and a build with it loads libisal at run time (dlopen), so that the same
 * binary decodes with zlib on a system where the library is missing.  Both
 * back ends check the CRC-32 and length of every member.
 */
#include "decode.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <zlib.h>

#ifdef PM_HAVE_ISAL
#include <dlfcn.h>
#include <isa-l/igzip_lib.h>
#endif

#define GZ_HEADER_MIN 10

struct gz {
	bool isal;
	z_stream z;
#ifdef PM_HAVE_ISAL
	struct inflate_state st;
#endif
};

#ifdef PM_HAVE_ISAL
/* The library's soname: the ABI the header above describes. */
#define PM_ISAL_SONAME "libisal.so.2"

static struct {
	void (*init)(struct inflate_state *);
	void (*reset)(struct inflate_state *);
	int (*inflate)(struct inflate_state *);
} isal;
static pthread_once_t isal_once = PTHREAD_ONCE_INIT;

static void isal_load(void)
{
	void *h = dlopen(PM_ISAL_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!h)
		return;
	*(void **)&isal.init = dlsym(h, "isal_inflate_init");
	*(void **)&isal.reset = dlsym(h, "isal_inflate_reset");
	*(void **)&isal.inflate = dlsym(h, "isal_inflate");
	if (!isal.init || !isal.reset || !isal.inflate) {
		isal.init = NULL;
		isal.inflate = NULL;
		isal.reset = NULL;
		dlclose(h);
	}
	/* Otherwise the handle stays open for the life of the process. */
}

static bool isal_available(void)
{
	pthread_once(&isal_once, isal_load);
	return isal.inflate != NULL;
}
#else
static bool isal_available(void)
{
	return false;
}
#endif

const char *pmerge_gzip_backend(void)
{
	return isal_available() ? "isa-l" : "zlib";
}

static int gz_match(const uint8_t *p, size_t n)
{
	static const uint8_t magic[] = {0x1f, 0x8b, 0x08};

	return pm_magic_match(p, n, magic, sizeof(magic), GZ_HEADER_MIN);
}

static int gz_create(void **state, const char **why)
{
	struct gz *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	g->isal = isal_available();
#ifdef PM_HAVE_ISAL
	if (g->isal) {
		isal.init(&g->st);
		g->st.crc_flag = ISAL_GZIP;
		*state = g;
		return 0;
	}
#endif
	/* 15 + 16: a gzip wrapper around a window of up to 32 KiB. */
	if (inflateInit2(&g->z, 15 + 16) != Z_OK) {
		free(g);
		*why = "cannot initialise zlib";
		return -ENOMEM;
	}
	*state = g;
	return 0;
}

#ifdef PM_HAVE_ISAL
static const char *isal_reason(int rc)
{
	switch (rc) {
	case ISAL_INVALID_WRAPPER:
		return "not in gzip format";
	case ISAL_UNSUPPORTED_METHOD:
		return "unknown method";
	case ISAL_INCORRECT_CHECKSUM:
		return "invalid compressed data (crc error)";
	case ISAL_NEED_DICT:
		return "invalid compressed data (needs a dictionary)";
	case ISAL_INVALID_LOOKBACK:
		return "invalid compressed data (distance too far back)";
	default:
		return "invalid compressed data (format violated)";
	}
}

static int isal_step(struct gz *g, struct pm_codec_in *in, uint8_t *out,
                     size_t out_len, size_t *produced, const char **why)
{
	size_t avail = in->len - in->pos;
	uint8_t *start = (uint8_t *)in->data + in->pos;

	g->st.next_in = start;
	g->st.avail_in = avail > UINT32_MAX ? UINT32_MAX : (uint32_t)avail;
	g->st.next_out = out;
	g->st.avail_out = out_len > UINT32_MAX ? UINT32_MAX : (uint32_t)out_len;
	uint32_t room = g->st.avail_out;
	int rc = isal.inflate(&g->st);

	*produced = room - g->st.avail_out;
	in->pos += (size_t)(g->st.next_in - start);
	if (rc < 0) {
		*why = isal_reason(rc);
		return -EBADMSG;
	}
	if (g->st.block_state != ISAL_BLOCK_FINISH)
		return PM_STEP_MORE;
	/*
	 * ISA-L reads ahead into a 64-bit bit buffer: the whole bytes still
	 * in it belong to whatever follows this member.
	 */
	size_t back = (size_t)(g->st.read_in_length / 8);
	if (back > in->pos)
		back = in->pos;
	in->pos -= back;
	return PM_STEP_END;
}
#endif

static int zlib_step(struct gz *g, struct pm_codec_in *in, uint8_t *out,
                     size_t out_len, size_t *produced, const char **why)
{
	size_t avail = in->len - in->pos;

	g->z.next_in = (Bytef *)in->data + in->pos;
	g->z.avail_in = avail > UINT_MAX ? UINT_MAX : (uInt)avail;
	g->z.next_out = out;
	g->z.avail_out = out_len > UINT_MAX ? UINT_MAX : (uInt)out_len;
	uInt room = g->z.avail_out;
	uInt had = g->z.avail_in;
	int rc = inflate(&g->z, Z_NO_FLUSH);

	*produced = room - g->z.avail_out;
	in->pos += had - g->z.avail_in;
	switch (rc) {
	case Z_OK:
	case Z_BUF_ERROR: /* no progress possible: more input wanted */
		return PM_STEP_MORE;
	case Z_STREAM_END:
		return PM_STEP_END;
	case Z_MEM_ERROR:
		*why = "out of memory";
		return -ENOMEM;
	default:
		/* zlib's messages are static strings ("incorrect data
		 * check", "invalid block type", ...). */
		*why = g->z.msg ? g->z.msg : "invalid compressed data";
		return -EBADMSG;
	}
}

static int gz_decode(void *state, struct pm_codec_in *in, bool at_eof,
                     uint8_t *out, size_t out_len, size_t *produced,
                     const char **why)
{
	struct gz *g = state;

	(void)at_eof;
#ifdef PM_HAVE_ISAL
	if (g->isal)
		return isal_step(g, in, out, out_len, produced, why);
#endif
	return zlib_step(g, in, out, out_len, produced, why);
}

static int gz_restart(void *state, const char **why)
{
	struct gz *g = state;

#ifdef PM_HAVE_ISAL
	if (g->isal) {
		isal.reset(&g->st);
		g->st.crc_flag = ISAL_GZIP;
		return 0;
	}
#endif
	if (inflateReset(&g->z) != Z_OK) {
		*why = "cannot reset zlib";
		return -EBADMSG;
	}
	return 0;
}

static void gz_destroy(void *state)
{
	struct gz *g = state;

	if (!g->isal)
		inflateEnd(&g->z);
	free(g);
}

const struct pm_codec_ops pm_codec_gzip_ops = {
    .name = "gzip",
    .id = PM_CODEC_GZIP,
    .match = gz_match,
    .create = gz_create,
    .decode = gz_decode,
    .restart = gz_restart,
    .destroy = gz_destroy,
};
