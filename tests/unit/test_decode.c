/*
 * The decoding reader (src/decode.h): detection by content, every codec
 * through regular files and pipes with any caller buffer size, concatenated
 * members and frames, empty and one-byte streams, truncated, corrupt and
 * trailing-garbage input, the window caps, plain pass-through (also of a
 * magic-looking prefix shorter than a header), byte counts and
 * cancellation.  The compressed data is made here with the same libraries,
 * so the suite needs none of the command-line tools.
 *
 * With PM_EXPECT_GZIP_BACKEND set (the build runs this suite a second time
 * with ISA-L hidden from the dynamic loader), the suite also checks that the
 * gzip decoder in use is that one.
 */
#include "decode.h"
#include "tutil.h"
#include "unit_util.h"

#include <bzlib.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <lz4frame.h>
#include <lzma.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

/* ------------------------------------------------------ making the data */

struct blob {
	uint8_t *p;
	size_t n;
};

static void blob_add(struct blob *b, const void *d, size_t n)
{
	b->p = realloc(b->p, b->n + n + 1);
	ck_assert_ptr_nonnull(b->p);
	if (n)
		memcpy(b->p + b->n, d, n);
	b->n += n;
}

static struct blob gzip_encode(const void *d, size_t n)
{
	struct blob b = {0};
	z_stream z = {0};
	size_t cap = compressBound((uLong)n) + 64;

	b.p = malloc(cap);
	ck_assert_int_eq(
	    deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY),
	    Z_OK);
	z.next_in = (Bytef *)d;
	z.avail_in = (uInt)n;
	z.next_out = b.p;
	z.avail_out = (uInt)cap;
	ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
	b.n = z.total_out;
	deflateEnd(&z);
	return b;
}

/* windowLog 0: libzstd's choice; else forced, without a content size so
 * that the frame header carries the window. */
static struct blob zstd_encode_window(const void *d, size_t n, int wlog)
{
	struct blob b = {0};
	size_t cap = ZSTD_compressBound(n);
	ZSTD_CCtx *c = ZSTD_createCCtx();

	b.p = malloc(cap);
	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
	if (wlog) {
		ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, wlog);
		ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
		ZSTD_CCtx_setParameter(c, ZSTD_c_enableLongDistanceMatching, 1);
	}
	ZSTD_inBuffer in = {d, n, 0};
	ZSTD_outBuffer out = {b.p, cap, 0};
	/* Streaming, so that the content size is really unknown. */
	size_t rc = ZSTD_compressStream2(c, &out, &in, ZSTD_e_continue);
	ck_assert_msg(!ZSTD_isError(rc), "zstd: %s", ZSTD_getErrorName(rc));
	do
		rc = ZSTD_compressStream2(c, &out, &in, ZSTD_e_end);
	while (rc > 0 && !ZSTD_isError(rc));
	ck_assert_msg(rc == 0, "zstd: %s", ZSTD_getErrorName(rc));
	b.n = out.pos;
	ZSTD_freeCCtx(c);
	return b;
}

static struct blob xz_encode(const void *d, size_t n)
{
	struct blob b = {0};
	size_t cap = lzma_stream_buffer_bound(n), pos = 0;

	b.p = malloc(cap);
	ck_assert_int_eq(lzma_easy_buffer_encode(1, LZMA_CHECK_CRC64, NULL, d,
	                                         n, b.p, &pos, cap),
	                 LZMA_OK);
	b.n = pos;
	return b;
}

static struct blob bzip2_encode(const void *d, size_t n)
{
	struct blob b = {0};
	unsigned cap = (unsigned)(n + n / 100 + 700);

	b.p = malloc(cap);
	ck_assert_int_eq(BZ2_bzBuffToBuffCompress((char *)b.p, &cap, (char *)d,
	                                          (unsigned)n, 1, 0, 0),
	                 BZ_OK);
	b.n = cap;
	return b;
}

static struct blob lz4_encode(const void *d, size_t n)
{
	struct blob b = {0};
	LZ4F_preferences_t prefs = {0};

	prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
	size_t cap = LZ4F_compressFrameBound(n, &prefs);
	b.p = malloc(cap);
	b.n = LZ4F_compressFrame(b.p, cap, d, n, &prefs);
	ck_assert(!LZ4F_isError(b.n));
	return b;
}

static struct blob zstd_encode(const void *d, size_t n)
{
	return zstd_encode_window(d, n, 0);
}

static const struct codec_case {
	const char *name;
	enum pm_codec_id id;
	struct blob (*encode)(const void *d, size_t n);
} codecs[] = {
    {"gzip", PM_CODEC_GZIP, gzip_encode},
    {"zstd", PM_CODEC_ZSTD, zstd_encode},
    {"xz", PM_CODEC_XZ, xz_encode},
    {"bzip2", PM_CODEC_BZIP2, bzip2_encode},
    {"lz4", PM_CODEC_LZ4, lz4_encode},
};
#define N_CODECS (int)(sizeof(codecs) / sizeof(codecs[0]))

/* Text-like data (repetitive, so that it compresses) with some noise. */
static uint8_t *sample(size_t n, uint64_t seed)
{
	uint8_t *d = malloc(n + 1);
	uint64_t st = seed | 1;

	ck_assert_ptr_nonnull(d);
	for (size_t i = 0; i < n; i++) {
		uint64_t r = uu_rand(&st);
		d[i] = (r & 7) == 0 ? (uint8_t)(r >> 8)
		                    : (uint8_t) "log line "[i % 9];
	}
	return d;
}

/* -------------------------------------------------------- reading back */

struct decoded {
	struct blob out;
	int rc; /* 0, or the first error */
	enum pm_codec_id codec;
	char why[256];
	uint64_t in, outn;
};

static void read_all(struct pm_source *src, size_t chunk, int wake_fd,
                     struct decoded *d)
{
	struct pm_reader *r;
	uint8_t *buf = malloc(chunk);

	memset(d, 0, sizeof(*d));
	d->rc = pm_reader_open(&r, src, true, wake_fd);
	if (d->rc < 0) {
		free(buf);
		return;
	}
	d->codec = pm_reader_codec(r);
	for (;;) {
		ssize_t n = pm_reader_read(r, buf, chunk);
		if (n < 0) {
			d->rc = (int)n;
			/* An error stays. */
			UU_EQ(pm_reader_read(r, buf, chunk), n);
			break;
		}
		if (n == 0)
			break;
		UU_LE((size_t)n, chunk);
		blob_add(&d->out, buf, (size_t)n);
	}
	snprintf(d->why, sizeof(d->why), "%s", pm_reader_error(r));
	d->in = pm_reader_bytes_in(r);
	d->outn = pm_reader_bytes_out(r);
	pm_reader_close(r);
	free(buf);
}

/* Decodes p[0, n) from a regular file. */
static void decode_file(const void *p, size_t n, size_t chunk,
                        struct decoded *d)
{
	char *path = tu_path(tu_scratch, "in");
	struct pm_source src;
	int wake[2];

	tu_write_file(path, p, n);
	ck_assert_int_eq(pipe(wake), 0);
	ck_assert_int_eq(pm_source_open(&src, path), 0);
	read_all(&src, chunk, wake[0], d);
	pm_source_close(&src);
	close(wake[0]);
	close(wake[1]);
	free(path);
}

struct feeder {
	int fd;
	const uint8_t *p;
	size_t n, step;
};

/* Writes the data into a pipe in small steps, so that the reader sees
 * short reads at every place. */
static void *feed(void *arg)
{
	struct feeder *f = arg;

	for (size_t off = 0; off < f->n;) {
		size_t k = f->n - off < f->step ? f->n - off : f->step;
		ssize_t w = write(f->fd, f->p + off, k);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(f->fd);
	return NULL;
}

/* Decodes p[0, n) from a pipe written step bytes at a time. */
static void decode_pipe(const void *p, size_t n, size_t chunk, size_t step,
                        struct decoded *d)
{
	int fds[2], wake[2];
	pthread_t t;
	struct pm_source src = {.fd = -1};

	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(pipe(wake), 0);
	struct feeder f = {.fd = fds[1], .p = p, .n = n, .step = step};
	ck_assert_int_eq(pthread_create(&t, NULL, feed, &f), 0);
	src.fd = fds[0];
	src.own_fd = true;
	src.name = "pipe";
	read_all(&src, chunk, wake[0], d);
	pm_source_close(&src);
	pthread_join(t, NULL);
	close(wake[0]);
	close(wake[1]);
}

static void expect_data(const struct decoded *d, const void *want, size_t n)
{
	ck_assert_msg(d->rc == 0, "rc %d (%s)", d->rc, d->why);
	ck_assert_uint_eq(d->out.n, n);
	if (n)
		ck_assert_mem_eq(d->out.p, want, n);
	ck_assert_uint_eq(d->outn, n);
}

/* ---------------------------------------------------------------- tests */

/* Every codec, sizes around the buffer edges, small and large reads. */
START_TEST(test_roundtrip_file)
{
	const struct codec_case *c = &codecs[_i];
	static const size_t sizes[] = {0, 1, 4095, 200000, 1u << 20};
	static const size_t chunks[] = {1, 4096, 1u << 20};

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint8_t *data = sample(sizes[s], s + 1);
		struct blob z = c->encode(data, sizes[s]);

		for (size_t k = 0; k < 3; k++) {
			struct decoded d;
			if (chunks[k] == 1 && sizes[s] > 4095)
				continue;
			decode_file(z.p, z.n, chunks[k], &d);
			ck_assert_int_eq(d.codec, c->id);
			expect_data(&d, data, sizes[s]);
			/* Every compressed byte read, and no more. */
			ck_assert_uint_eq(d.in, z.n);
			free(d.out.p);
		}
		free(z.p);
		free(data);
	}
}
END_TEST

START_TEST(test_roundtrip_pipe)
{
	const struct codec_case *c = &codecs[_i];
	static const size_t steps[] = {1, 7, 65536};
	uint8_t *data = sample(300000, 9);
	struct blob z = c->encode(data, 300000);

	for (size_t k = 0; k < 3; k++) {
		struct decoded d;
		/* Byte by byte only over the header and a little more. */
		if (steps[k] == 1) {
			struct blob small = c->encode(data, 3000);
			decode_pipe(small.p, small.n, 100, 1, &d);
			expect_data(&d, data, 3000);
			free(small.p);
		} else {
			decode_pipe(z.p, z.n, 65536, steps[k], &d);
			ck_assert_int_eq(d.codec, c->id);
			expect_data(&d, data, 300000);
			ck_assert_uint_eq(d.in, z.n);
		}
		free(d.out.p);
	}
	free(z.p);
	free(data);
}
END_TEST

/* Members and frames one after another decode as one, empty ones too. */
START_TEST(test_concatenated)
{
	const struct codec_case *c = &codecs[_i];
	uint8_t *a = sample(100000, 1), *b = sample(5000, 2);
	struct blob z = {0}, want = {0};
	struct blob parts[] = {c->encode(a, 100000), c->encode(b, 0),
	                       c->encode(b, 5000), c->encode(a, 1)};

	for (size_t i = 0; i < 4; i++) {
		blob_add(&z, parts[i].p, parts[i].n);
		free(parts[i].p);
	}
	blob_add(&want, a, 100000);
	blob_add(&want, b, 5000);
	blob_add(&want, a, 1);
	for (size_t chunk = 1000; chunk <= 1000000; chunk *= 1000) {
		struct decoded d;
		decode_file(z.p, z.n, chunk, &d);
		expect_data(&d, want.p, want.n);
		free(d.out.p);
		decode_pipe(z.p, z.n, chunk, 4093, &d);
		expect_data(&d, want.p, want.n);
		free(d.out.p);
	}
	free(z.p);
	free(want.p);
	free(a);
	free(b);
}
END_TEST

/* zstd and lz4 skip skippable frames, between frames and at either end. */
START_TEST(test_skippable_frames)
{
	const struct codec_case *c = &codecs[_i == 0 ? 1 : 4];
	static const uint8_t skip[] = {0x5a, 0x2a, 0x4d, 0x18, 3,  0,
	                               0,    0,    'x',  'y',  'z'};
	uint8_t *a = sample(70000, 3);
	struct blob one = c->encode(a, 70000), z = {0}, want = {0};

	/* Leading skippable frames: what follows them tells the format. */
	blob_add(&z, skip, sizeof(skip));
	blob_add(&z, skip, sizeof(skip));
	blob_add(&z, one.p, one.n);
	blob_add(&z, skip, sizeof(skip));
	blob_add(&z, one.p, one.n);
	blob_add(&z, skip, sizeof(skip));
	blob_add(&want, a, 70000);
	blob_add(&want, a, 70000);
	struct decoded d;
	decode_file(z.p, z.n, 65536, &d);
	ck_assert_int_eq(d.codec, c->id);
	expect_data(&d, want.p, want.n);
	free(d.out.p);
	free(z.p);
	free(one.p);
	free(want.p);
	free(a);
}
END_TEST

/* Every shorter prefix of a stream is an error, or plain data when it is
 * too short to be told from plain data. */
START_TEST(test_truncated)
{
	const struct codec_case *c = &codecs[_i];
	uint8_t *data = sample(20000, 5);
	struct blob z = c->encode(data, 20000);
	size_t step = z.n > 400 ? z.n / 200 : 1;

	for (size_t cut = 0; cut < z.n; cut += cut < 40 ? 1 : step) {
		struct decoded d;
		decode_file(z.p, cut, 4096, &d);
		if (d.codec == PM_CODEC_PLAIN) {
			/* Shorter than any header: passed through. */
			UU_LE(cut, 12);
			UU_EQ(d.rc, 0);
			UU_EQ(d.out.n, cut);
			UU_TRUE(cut == 0 || memcmp(d.out.p, z.p, cut) == 0);
		} else {
			ck_assert_msg(d.rc == -EBADMSG, "cut %zu: rc %d", cut,
			              d.rc);
			ck_assert_msg(
			    strncmp(d.why, c->name, strlen(c->name)) == 0,
			    "reason '%s'", d.why);
			/* What was decoded is a prefix of the data. */
			UU_LE(d.out.n, 20000);
			UU_TRUE(d.out.n == 0 ||
			        memcmp(d.out.p, data, d.out.n) == 0);
		}
		free(d.out.p);
	}
	free(z.p);
	free(data);
}
END_TEST

/* Bytes after the stream that start no other stream are an error, after
 * the whole stream was decoded. */
START_TEST(test_trailing_garbage)
{
	const struct codec_case *c = &codecs[_i];
	uint8_t *data = sample(50000, 6);
	struct blob z = c->encode(data, 50000);
	static const char *const tails[] = {"garbage after the end\n", "\n",
	                                    "\x1f"};

	for (size_t t = 0; t < 3; t++) {
		struct blob g = {0};
		struct decoded d;
		blob_add(&g, z.p, z.n);
		blob_add(&g, tails[t], strlen(tails[t]));
		decode_file(g.p, g.n, 65536, &d);
		ck_assert_int_eq(d.rc, -EBADMSG);
		ck_assert_uint_eq(d.out.n, 50000);
		ck_assert_mem_eq(d.out.p, data, 50000);
		if (c->id != PM_CODEC_XZ) {
			/* liblzma judges what follows a stream itself. */
			ck_assert_msg(strstr(d.why, "trailing garbage"),
			              "reason '%s'", d.why);
		}
		ck_assert_msg(strncmp(d.why, c->name, strlen(c->name)) == 0,
		              "reason '%s'", d.why);
		free(d.out.p);
		free(g.p);
	}
	free(z.p);
	free(data);
}
END_TEST

/* A flipped byte anywhere in the body is caught (checksums are on). */
START_TEST(test_corrupt)
{
	const struct codec_case *c = &codecs[_i];
	uint8_t *data = sample(60000, 7);
	struct blob z = c->encode(data, 60000);
	int caught = 0, tries = 0;

	for (size_t at = 20; at + 20 < z.n; at += z.n / 16) {
		z.p[at] ^= 0x55;
		struct decoded d;
		decode_file(z.p, z.n, 65536, &d);
		tries++;
		if (d.rc == -EBADMSG) {
			caught++;
			ck_assert_msg(
			    strncmp(d.why, c->name, strlen(c->name)) == 0,
			    "reason '%s'", d.why);
		} else {
			/* Never a silent wrong answer. */
			ck_assert_int_eq(d.rc, 0);
			ck_assert_uint_eq(d.out.n, 60000);
			ck_assert_mem_eq(d.out.p, data, 60000);
		}
		free(d.out.p);
		z.p[at] ^= 0x55;
	}
	ck_assert_int_gt(tries, 8);
	ck_assert_int_eq(caught, tries);
	free(z.p);
	free(data);
}
END_TEST

/* Plain data passes byte for byte, also when it starts like a magic. */
START_TEST(test_plain)
{
	static const struct {
		const char *p;
		size_t n;
	} cases[] = {
	    {"", 0},
	    {"a", 1},
	    {"hello\nworld\n", 12},
	    {"\x1f", 1},
	    {"\x1f\x8b", 2},
	    {"\x1f\x8b\x08\x00", 4},
	    {"\x28\xb5\x2f\xfd", 4},
	    {"\xfd"
	     "7zXZ",
	     5},
	    {"BZh9", 4},
	    {"BZh91AY&S", 9},
	    {"BZhello, world", 14},
	    {"\x04\x22\x4d\x18\x64", 5},
	    {"\x1f\x8c more text", 12},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct decoded d;
		decode_file(cases[i].p, cases[i].n, 3, &d);
		ck_assert_int_eq(d.codec, PM_CODEC_PLAIN);
		expect_data(&d, cases[i].p, cases[i].n);
		free(d.out.p);
		decode_pipe(cases[i].p, cases[i].n, 3, 1, &d);
		ck_assert_int_eq(d.codec, PM_CODEC_PLAIN);
		expect_data(&d, cases[i].p, cases[i].n);
		ck_assert_uint_eq(d.in, cases[i].n);
		free(d.out.p);
	}
}
END_TEST

/* A plain regular file is given back untouched: offset where it was. */
START_TEST(test_plain_regular_gives_back)
{
	char *path = tu_path(tu_scratch, "plain");
	uint8_t *data = sample(300000, 4);
	struct pm_source src;
	struct pm_reader *r;

	tu_write_file(path, data, 300000);
	ck_assert_int_eq(pm_source_open(&src, path), 0);
	ck_assert_int_eq(pm_reader_open(&r, &src, true, -1), 0);
	ck_assert_int_eq(pm_reader_codec(r), PM_CODEC_PLAIN);
	ck_assert_str_eq(pm_reader_codec_name(r), "plain");
	ck_assert_uint_eq(src.offset, 0);
	ck_assert_uint_eq(pm_reader_bytes_in(r), 0);
	pm_reader_close(r);
	pm_source_close(&src);
	free(data);
	free(path);
}
END_TEST

/* Without decode, a reader is a plain pass-through even of gzip data. */
START_TEST(test_no_decode)
{
	uint8_t *data = sample(10000, 8);
	struct blob z = gzip_encode(data, 10000);
	char *path = tu_path(tu_scratch, "in.gz");
	struct pm_source src;
	struct pm_reader *r;
	uint8_t buf[4096];
	struct blob got = {0};
	ssize_t n;

	tu_write_file(path, z.p, z.n);
	ck_assert_int_eq(pm_source_open(&src, path), 0);
	ck_assert_int_eq(pm_reader_open(&r, &src, false, -1), 0);
	ck_assert_int_eq(pm_reader_codec(r), PM_CODEC_PLAIN);
	while ((n = pm_reader_read(r, buf, sizeof(buf))) > 0)
		blob_add(&got, buf, (size_t)n);
	ck_assert_int_eq(n, 0);
	ck_assert_uint_eq(got.n, z.n);
	ck_assert_mem_eq(got.p, z.p, z.n);
	pm_reader_close(r);
	pm_source_close(&src);
	free(got.p);
	free(z.p);
	free(data);
	free(path);
}
END_TEST

/* zstd windows up to 2^27 decode; a frame asking for 2^28 is refused. */
START_TEST(test_zstd_window_cap)
{
	uint8_t *data = sample(100000, 10);
	struct blob ok = zstd_encode_window(data, 100000, 27);
	struct blob big = zstd_encode_window(data, 100000, 28);
	struct decoded d;

	decode_file(ok.p, ok.n, 65536, &d);
	expect_data(&d, data, 100000);
	free(d.out.p);
	decode_file(big.p, big.n, 65536, &d);
	ck_assert_int_eq(d.rc, -EFBIG);
	ck_assert_uint_eq(d.out.n, 0);
	ck_assert_msg(strstr(d.why, "zstd: frame needs more memory than "
	                            "allowed"),
	              "reason '%s'", d.why);
	free(d.out.p);
	free(ok.p);
	free(big.p);
	free(data);
}
END_TEST

/*
 * An xz stream whose dictionary needs more than the cap is refused.  The
 * stream is made with a small dictionary and its block header then says
 * 1.5 GiB (the header's CRC32 redone), so the test needs no big encoder.
 */
START_TEST(test_xz_memlimit)
{
	uint8_t *data = sample(5000, 11);
	struct blob z = xz_encode(data, 5000);
	struct decoded d;

	/* Stream header (12), then the block header: size byte, flags, the
	 * sizes it says it holds, filter id 0x21 (LZMA2), property size 1,
	 * the dictionary byte. */
	size_t bh = 12, bh_len = ((size_t)z.p[bh] + 1) * 4;
	size_t at = bh + 2;
	for (int field = 0x40; field <= 0x80; field <<= 1)
		if (z.p[bh + 1] & field)
			while (z.p[at++] & 0x80)
				;
	ck_assert_uint_eq(z.p[at], 0x21);
	ck_assert_uint_eq(z.p[at + 1], 1);
	z.p[at + 2] = 37; /* 3 * 2^29 = 1.5 GiB */
	uint32_t crc = (uint32_t)crc32(0, z.p + bh, (uInt)(bh_len - 4));
	for (int i = 0; i < 4; i++)
		z.p[bh + bh_len - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
	decode_file(z.p, z.n, 65536, &d);
	ck_assert_int_eq(d.rc, -EFBIG);
	ck_assert_msg(strstr(d.why, "xz: stream needs more memory than "
	                            "allowed"),
	              "reason '%s'", d.why);
	free(d.out.p);
	free(z.p);
	free(data);
}
END_TEST

/* Opening waits for the first bytes of a pipe cancellably. */
START_TEST(test_open_cancelled)
{
	int fds[2], wake[2];
	struct pm_source src = {.fd = -1};
	struct pm_reader *r = (struct pm_reader *)&src;

	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(pipe(wake), 0);
	/* Half a gzip magic, then nothing: detection must wait. */
	ck_assert_int_eq(write(fds[1], "\x1f", 1), 1);
	ck_assert_int_eq(write(wake[1], "x", 1), 1);
	src.fd = fds[0];
	src.name = "pipe";
	ck_assert_int_eq(pm_reader_open(&r, &src, true, wake[0]), -ECANCELED);
	ck_assert_ptr_null(r);
	close(fds[0]);
	close(fds[1]);
	close(wake[0]);
	close(wake[1]);
}
END_TEST

START_TEST(test_detect)
{
	bool need;
	static const uint8_t gz[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};

	ck_assert_ptr_eq(pm_codec_detect(gz, sizeof(gz), &need),
	                 &pm_codec_gzip_ops);
	ck_assert_ptr_null(pm_codec_detect(gz, 2, &need));
	ck_assert(need);
	ck_assert_ptr_null(pm_codec_detect((const uint8_t *)"x", 1, &need));
	ck_assert(!need);
	ck_assert_ptr_null(pm_codec_detect(NULL, 0, &need));
	ck_assert(need);
}
END_TEST

START_TEST(test_gzip_backend)
{
	const char *want = getenv("PM_EXPECT_GZIP_BACKEND");
	const char *got = pmerge_gzip_backend();

	ck_assert(strcmp(got, "isa-l") == 0 || strcmp(got, "zlib") == 0);
	if (want && *want)
		ck_assert_str_eq(got, want);
}
END_TEST

static Suite *decode_suite(void)
{
	Suite *s = suite_create("decode");
	TCase *tc = tcase_create("codecs");

	tcase_add_checked_fixture(tc, tu_scratch_setup, tu_scratch_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_roundtrip_file, 0, N_CODECS);
	tcase_add_loop_test(tc, test_roundtrip_pipe, 0, N_CODECS);
	tcase_add_loop_test(tc, test_concatenated, 0, N_CODECS);
	tcase_add_loop_test(tc, test_skippable_frames, 0, 2);
	tcase_add_loop_test(tc, test_truncated, 0, N_CODECS);
	tcase_add_loop_test(tc, test_trailing_garbage, 0, N_CODECS);
	tcase_add_loop_test(tc, test_corrupt, 0, N_CODECS);
	tcase_add_test(tc, test_zstd_window_cap);
	tcase_add_test(tc, test_xz_memlimit);
	suite_add_tcase(s, tc);

	tc = tcase_create("reader");
	tcase_add_checked_fixture(tc, tu_scratch_setup, tu_scratch_teardown);
	tcase_add_test(tc, test_plain);
	tcase_add_test(tc, test_plain_regular_gives_back);
	tcase_add_test(tc, test_no_decode);
	tcase_add_test(tc, test_open_cancelled);
	tcase_add_test(tc, test_detect);
	tcase_add_test(tc, test_gzip_backend);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(decode_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
