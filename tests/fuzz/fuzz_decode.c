/*
 * Fuzz harness for the decoding reader (src/decode.c and the codecs): any
 * bytes, read through pm_reader as a regular file (a memfd) with a caller
 * buffer of a size the input chooses.
 *
 * Input layout: byte 0 picks the read size (1 << (b % 17) bytes, 1..64 KiB);
 * the rest is the input.  Invariants: no crash, leak or undefined
 * behaviour; no read returns more than asked; an error stays; the reason of
 * a data error names the format; a plain input comes out byte for byte;
 * the counts of bytes in and out match what was read and returned; and the
 * output is bounded (a bomb is cut off after 64 MiB).
 */
#include "decode.h"
#include "fuzz.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FZ_OUT_MAX (64u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pm_source src = {.fd = -1};
	struct pm_reader *r;
	size_t chunk, total = 0;
	uint8_t *buf;
	ssize_t n;

	if (size < 1)
		return 0;
	chunk = (size_t)1 << (data[0] % 17);
	data++;
	size--;
	src.fd = memfd_create("fuzz", MFD_CLOEXEC);
	FZ_CHECK(src.fd >= 0);
	FZ_CHECK(size == 0 || write(src.fd, data, size) == (ssize_t)size);
	src.own_fd = true;
	src.regular = true;
	src.size = size;
	src.name = "fuzz";
	buf = malloc(chunk);
	FZ_CHECK(buf != NULL);
	FZ_CHECK(pm_reader_open(&r, &src, true, -1) == 0);
	bool plain = pm_reader_codec(r) == PM_CODEC_PLAIN;
	if (plain)
		FZ_CHECK(src.offset == 0);
	while ((n = pm_reader_read(r, buf, chunk)) > 0) {
		FZ_CHECK((size_t)n <= chunk);
		if (plain) {
			FZ_CHECK(total + (size_t)n <= size);
			FZ_CHECK(memcmp(buf, data + total, (size_t)n) == 0);
		}
		total += (size_t)n;
		if (total > FZ_OUT_MAX)
			break;
	}
	if (n < 0) {
		const char *why = pm_reader_error(r);
		const char *name = pm_reader_codec_name(r);

		FZ_CHECK(!plain);
		FZ_CHECK(n == -EBADMSG || n == -EFBIG || n == -ENOMEM);
		FZ_CHECK(strncmp(why, name, strlen(name)) == 0);
		FZ_CHECK(pm_reader_read(r, buf, chunk) == n);
	}
	if (n == 0 && plain)
		FZ_CHECK(total == size);
	FZ_CHECK(pm_reader_bytes_out(r) == total);
	FZ_CHECK(pm_reader_bytes_in(r) <= size);
	pm_reader_close(r);
	pm_source_close(&src);
	free(buf);
	return 0;
}
