/*
 * Fuzz harness for the record framing: pm_lines_complete, pm_lines_count,
 * pm_lines_tag_iov and pmerge_tag_make, checked against plain byte loops.
 *
 * Input layout: byte 0 chooses the terminator (bit 0: NUL, else newline)
 * and the iovec budget per call (bits 1-4: 1..16); byte 1 the length of
 * the input name that follows (mod 64, cut at a NUL); the rest is the
 * buffer.  Every buffer is copied to an allocation of its exact size, so
 * that a read past its end is caught by AddressSanitizer.
 */
#include "fuzz.h"
#include "internal.h"

#include <string.h>

/* Undoes pmerge_tag_make's escapes; returns the length or SIZE_MAX if the
 * text is not something pmerge_tag_make can have written. */
static size_t unescape(const char *t, size_t len, char *out)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)t[i];

		if (c != '\\') {
			out[n++] = (char)c;
			continue;
		}
		if (++i == len)
			return SIZE_MAX;
		if (t[i] == 't') {
			out[n++] = '\t';
		} else if (t[i] == 'n') {
			out[n++] = '\n';
		} else if (t[i] == '\\') {
			out[n++] = '\\';
		} else if (i + 2 < len && t[i] >= '0' && t[i] <= '3' &&
		           t[i + 1] >= '0' && t[i + 1] <= '7' &&
		           t[i + 2] >= '0' && t[i + 2] <= '7') {
			out[n++] =
			    (char)((t[i] - '0') * 64 + (t[i + 1] - '0') * 8 +
			           (t[i + 2] - '0'));
			i += 2;
		} else {
			return SIZE_MAX;
		}
	}
	return n;
}

static void check_tag(const char *name, const char *tag, size_t tag_len)
{
	char *back = malloc(tag_len + 1);

	FZ_CHECK(tag_len >= 1 && strlen(tag) == tag_len);
	FZ_CHECK(tag[tag_len - 1] == '\t');
	/* No control byte may reach the output unescaped but the TAB. */
	for (size_t i = 0; i + 1 < tag_len; i++)
		FZ_CHECK((unsigned char)tag[i] >= 0x20 && tag[i] != 0x7f);
	FZ_CHECK(back != NULL);
	size_t n = unescape(tag, tag_len - 1, back);
	FZ_CHECK(n == strlen(name) && memcmp(back, name, n) == 0);
	free(back);
}

/*
 * Feeds buf[0, len) through pm_lines_tag_iov, max iovecs a call, as the
 * worker does, and checks that the reassembled iovecs are every record
 * (an unterminated last one too) each preceded by the tag.
 */
static void drain(const char *buf, size_t len, char term, const char *tag,
                  size_t tag_len, size_t max)
{
	struct iovec *iov = malloc(max * sizeof(*iov));
	size_t recs = 0, pos = 0, out_len = 0;

	FZ_CHECK(iov != NULL);
	for (size_t i = 0; i < len; i++)
		recs += buf[i] == term;
	if (len > 0 && buf[len - 1] != term)
		recs++;
	size_t want_len = len + recs * tag_len;
	char *want = malloc(want_len + 1), *out = malloc(want_len + 1);
	FZ_CHECK(want != NULL && out != NULL);
	/* The expected output, record by record. */
	for (size_t i = 0, w = 0, start = 0; i < len; i++) {
		if (buf[i] != term && i + 1 < len)
			continue;
		if (tag_len > 0)
			memcpy(want + w, tag, tag_len);
		w += tag_len;
		memcpy(want + w, buf + start, i + 1 - start);
		w += i + 1 - start;
		start = i + 1;
	}
	while (pos < len) {
		size_t used = SIZE_MAX;
		uint64_t bytes = UINT64_MAX, sum = 0;
		size_t cnt = pm_lines_tag_iov(buf + pos, len - pos, term, tag,
		                              tag_len, iov, max, &used, &bytes);

		FZ_CHECK(cnt <= max);
		if (tag_len > 0 && max < 2) {
			/* No room for a tag and its record: no progress. */
			FZ_CHECK(cnt == 0 && used == 0 && bytes == 0);
			break;
		}
		FZ_CHECK(cnt > 0 && used > 0 && used <= len - pos);
		const char *next = buf + pos;
		for (size_t i = 0; i < cnt; i++) {
			FZ_CHECK(iov[i].iov_len > 0);
			if (tag_len > 0 && i % 2 == 0) {
				FZ_CHECK(iov[i].iov_base == tag &&
				         iov[i].iov_len == tag_len);
			} else {
				/* Records follow each other in the buffer,
				 * each ending with term (the last may not). */
				FZ_CHECK(iov[i].iov_base == next);
				next += iov[i].iov_len;
				const char *e = memchr(iov[i].iov_base, term,
				                       iov[i].iov_len);
				if (tag_len > 0)
					FZ_CHECK(e ? e == next - 1
					           : next == buf + len);
			}
			FZ_CHECK(out_len + iov[i].iov_len <= want_len);
			memcpy(out + out_len, iov[i].iov_base, iov[i].iov_len);
			out_len += iov[i].iov_len;
			sum += iov[i].iov_len;
		}
		FZ_CHECK(next == buf + pos + used);
		FZ_CHECK(sum == bytes);
		pos += used;
	}
	if (!(tag_len > 0 && max < 2))
		FZ_CHECK(out_len == want_len &&
		         memcmp(out, want, want_len) == 0);
	free(want);
	free(out);
	free(iov);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	char term = data[0] & 1 ? '\0' : '\n';
	size_t max = 1 + ((data[0] >> 1) & 15);
	size_t name_len = data[1] % 64;
	if (name_len > size - 2)
		name_len = size - 2;
	char *name = strndup((const char *)data + 2, name_len);
	size_t len = size - 2 - name_len;
	char *buf = malloc(len ? len : 1);
	FZ_CHECK(name != NULL && buf != NULL);
	memcpy(buf, data + 2 + name_len, len);

	/* Framing against a plain loop. */
	size_t count = 0, last = 0;
	for (size_t i = 0; i < len; i++)
		if (buf[i] == term) {
			count++;
			last = i + 1;
		}
	FZ_CHECK(pm_lines_complete(buf, len, term) == last);
	FZ_CHECK(pm_lines_count(buf, len, term) == count);
	/*
	 * Prefixes too, as the worker asks about partly filled buffers: some
	 * 64 of them, so that a long input costs linear time, not square.
	 */
	for (size_t cut = 0, lc = 0, ll = 0, step = len / 64 + 1; cut < len;
	     cut++) {
		if (cut % step == 0) {
			FZ_CHECK(pm_lines_complete(buf, cut, term) == ll);
			FZ_CHECK(pm_lines_count(buf, cut, term) == lc);
		}
		if (buf[cut] == term) {
			lc++;
			ll = cut + 1;
		}
	}

	size_t tag_len = 0;
	char *tag = pmerge_tag_make(name, &tag_len);
	FZ_CHECK(tag != NULL);
	check_tag(name, tag, tag_len);

	/* The complete records (what the worker hands over), then all of
	 * it (at end of input), untagged and tagged. */
	drain(buf, last, term, NULL, 0, max);
	drain(buf, last, term, tag, tag_len, max);
	drain(buf, len, term, NULL, 0, max);
	drain(buf, len, term, tag, tag_len, max);

	free(tag);
	free(buf);
	free(name);
	return 0;
}
