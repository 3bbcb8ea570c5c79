/*
 * Record framing: pm_lines_complete, pm_lines_count, pm_lines_tag_iov and
 * pmerge_tag_make.  Generated streams know where their records end, so every
 * answer of the framing code is compared with that ground truth rather than
 * with a second implementation of the same scan.
 */
#include "internal.h"
#include "tutil.h"
#include "unit_util.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* A generated stream and the offsets one past each terminator in it. */
struct stream {
	char *data;
	size_t len;
	size_t *ends; /* ends of the terminated records, increasing */
	size_t n_ends;
	size_t partial; /* length of an unterminated final record, or 0 */
};

/*
 * Builds n records of 1..max_len bytes (terminator included) ending with
 * term.  Payload bytes never equal term; when nul_payload is set they
 * include NUL bytes (only meaningful when term is not NUL).  With
 * partial_len > 0 an unterminated record of that length follows.
 */
static void stream_make(struct stream *s, size_t n, size_t max_len, char term,
                        bool nul_payload, size_t partial_len, uint64_t seed)
{
	uint64_t rs = seed;
	size_t cap = n * max_len + partial_len + 1;
	memset(s, 0, sizeof(*s));
	s->data = malloc(cap);
	s->ends = calloc(n + 1, sizeof(*s->ends));
	ck_assert_ptr_nonnull(s->data);
	ck_assert_ptr_nonnull(s->ends);
	for (size_t i = 0; i < n + (partial_len ? 1 : 0); i++) {
		bool last_partial = i == n;
		size_t len =
		    last_partial ? partial_len : 1 + uu_rand(&rs) % max_len;
		size_t body = last_partial ? len : len - 1;
		for (size_t k = 0; k < body; k++) {
			char c = (char)(uu_rand(&rs) & 0xff);
			if (nul_payload && k % 7 == 3)
				c = '\0';
			if (c == term)
				c = (char)(term + 1);
			s->data[s->len++] = c;
		}
		if (!last_partial) {
			s->data[s->len++] = term;
			s->ends[s->n_ends++] = s->len;
		}
	}
	s->partial = partial_len;
}

static void stream_free(struct stream *s)
{
	free(s->data);
	free(s->ends);
}

/* The largest record end that is <= pos, or 0. */
static size_t last_end_before(const struct stream *s, size_t pos)
{
	size_t best = 0;
	for (size_t i = 0; i < s->n_ends && s->ends[i] <= pos; i++)
		best = s->ends[i];
	return best;
}

/* ------------------------------------------------- complete and count */

START_TEST(test_empty_input)
{
	const char buf[1] = {'x'};
	ck_assert_uint_eq(pm_lines_complete(buf, 0, '\n'), 0);
	ck_assert_uint_eq(pm_lines_count(buf, 0, '\n'), 0);
	ck_assert_uint_eq(pm_lines_complete(buf, 0, '\0'), 0);
	ck_assert_uint_eq(pm_lines_count(buf, 0, '\0'), 0);
}
END_TEST

START_TEST(test_only_terminators)
{
	const char nl[] = "\n\n\n\n\n";
	ck_assert_uint_eq(pm_lines_complete(nl, 5, '\n'), 5);
	ck_assert_uint_eq(pm_lines_count(nl, 5, '\n'), 5);
	ck_assert_uint_eq(pm_lines_complete(nl, 1, '\n'), 1);
	ck_assert_uint_eq(pm_lines_count(nl, 1, '\n'), 1);

	const char z[4] = {0, 0, 0, 0};
	ck_assert_uint_eq(pm_lines_complete(z, 4, '\0'), 4);
	ck_assert_uint_eq(pm_lines_count(z, 4, '\0'), 4);
	/* NUL bytes are ordinary data when records end with newline. */
	ck_assert_uint_eq(pm_lines_complete(z, 4, '\n'), 0);
	ck_assert_uint_eq(pm_lines_count(z, 4, '\n'), 0);

	/* Long runs of terminators: a count kept in a narrow type, or one
	 * that skips a byte at a block edge, shows here. */
	size_t big = 100003;
	char *run = malloc(big);
	ck_assert_ptr_nonnull(run);
	for (int t = 0; t < 2; t++) {
		char term = t ? '\0' : '\n';
		memset(run, term, big);
		ck_assert_uint_eq(pm_lines_count(run, big, term), big);
		ck_assert_uint_eq(pm_lines_complete(run, big, term), big);
		for (size_t len = 250; len < 530; len++)
			UU_EQ(pm_lines_count(run + 1, len, term), len);
	}
	free(run);
}
END_TEST

START_TEST(test_no_final_terminator)
{
	const char a[] = "first\nsecond\nthird";
	size_t len = sizeof(a) - 1;
	ck_assert_uint_eq(pm_lines_complete(a, len, '\n'), 13);
	ck_assert_uint_eq(pm_lines_count(a, len, '\n'), 2);

	const char b[] = "no terminator at all";
	ck_assert_uint_eq(pm_lines_complete(b, sizeof(b) - 1, '\n'), 0);
	ck_assert_uint_eq(pm_lines_count(b, sizeof(b) - 1, '\n'), 0);

	/* The length bounds the scan: a terminator just past it is not seen. */
	const char c[] = "abc\ndef\n";
	ck_assert_uint_eq(pm_lines_complete(c, 7, '\n'), 4);
	ck_assert_uint_eq(pm_lines_count(c, 7, '\n'), 1);
	ck_assert_uint_eq(pm_lines_complete(c, 3, '\n'), 0);
}
END_TEST

START_TEST(test_nul_inside_newline_records)
{
	const char a[] = {'a', '\0', 'b', '\n', '\0', '\0', '\n', 'c', '\0'};
	ck_assert_uint_eq(pm_lines_complete(a, sizeof(a), '\n'), 7);
	ck_assert_uint_eq(pm_lines_count(a, sizeof(a), '\n'), 2);
}
END_TEST

START_TEST(test_nul_terminated_records)
{
	/* With -z, newlines are data and NUL ends records. */
	const char a[] = {'a', '\n', 'b', '\0', 'c', '\0', 'd', '\n'};
	ck_assert_uint_eq(pm_lines_complete(a, sizeof(a), '\0'), 6);
	ck_assert_uint_eq(pm_lines_count(a, sizeof(a), '\0'), 2);
}
END_TEST

START_TEST(test_crlf_passes_through)
{
	const char a[] = "one\r\ntwo\r\nthr\ree\r";
	size_t len = sizeof(a) - 1;
	/* A carriage return neither ends a record nor is stripped. */
	ck_assert_uint_eq(pm_lines_complete(a, len, '\n'), 10);
	ck_assert_uint_eq(pm_lines_count(a, len, '\n'), 2);

	const char tag[] = "in\t";
	const char want[] = "in\tone\r\nin\ttwo\r\nin\tthr\ree\r";
	struct iovec iov[8];
	size_t used = 0;
	uint64_t bytes = 0;
	size_t cnt =
	    pm_lines_tag_iov(a, len, '\n', tag, 3, iov, 8, &used, &bytes);
	ck_assert_uint_eq(cnt, 6);
	ck_assert_uint_eq(used, len);
	ck_assert_uint_eq(bytes, sizeof(want) - 1);
	char out[64];
	size_t o = 0;
	for (size_t i = 0; i < cnt; i++) {
		memcpy(out + o, iov[i].iov_base, iov[i].iov_len);
		o += iov[i].iov_len;
	}
	ck_assert_uint_eq(o, sizeof(want) - 1);
	ck_assert_mem_eq(out, want, o);
}
END_TEST

START_TEST(test_count_matches_generated)
{
	for (int t = 0; t < 2; t++) {
		char term = t ? '\0' : '\n';
		struct stream s;
		stream_make(&s, 3000, 90, term, !t, 17, 7 + (uint64_t)t);
		ck_assert_uint_eq(pm_lines_count(s.data, s.len, term),
		                  s.n_ends);
		ck_assert_uint_eq(pm_lines_complete(s.data, s.len, term),
		                  s.ends[s.n_ends - 1]);
		/* Every prefix must answer with the last record end in it. */
		for (size_t pos = 0; pos <= s.len; pos += 37)
			UU_EQ(pm_lines_complete(s.data, pos, term),
			      last_end_before(&s, pos));
		/*
		 * Counts of ranges at every alignment, with lengths on both
		 * sides of the counter's 64-byte step and its 255-step block:
		 * a step or block edge that drops or repeats bytes shows here.
		 */
		for (size_t from = 0; from < 67; from++) {
			size_t lens[] = {0,     1,     15,    63,    64,
			                 65,    127,   129,   16319, 16320,
			                 16321, 16385, 32641, 32705};
			for (size_t i = 0; i <= sizeof(lens) / sizeof(lens[0]);
			     i++) {
				size_t len = i < sizeof(lens) / sizeof(lens[0])
				                 ? lens[i]
				                 : s.len - from;
				size_t want = 0;
				for (size_t e = 0; e < s.n_ends; e++)
					want += s.ends[e] > from &&
					        s.ends[e] <= from + len;
				UU_EQ(pm_lines_count(s.data + from, len, term),
				      want);
			}
		}
		stream_free(&s);
	}
}
END_TEST

/* ------------------------------------------------------ carried stream */

/*
 * Feeds s through a buffer of bufcap bytes in chunks whose sizes cycle
 * through chunks[], the way a worker reads: after each read, the complete
 * records go out and the partial record is moved to the front.  A record
 * longer than the buffer goes out in fragments when the buffer is full.
 * Checks every step against the generated record ends and that the
 * reassembled stream is identical.  Returns how many fragments went out.
 */
static size_t carry_run(const struct stream *s, char term, size_t bufcap,
                        const size_t *chunks, size_t n_chunks)
{
	char *buf = malloc(bufcap);
	char *out = malloc(s->len + 1);
	size_t fill = 0, pos = 0, out_len = 0, ci = 0, records = 0;
	size_t fragments = 0;
	ck_assert_ptr_nonnull(buf);
	ck_assert_ptr_nonnull(out);

	while (pos < s->len) {
		size_t want = chunks[ci++ % n_chunks];
		if (want > bufcap - fill)
			want = bufcap - fill;
		if (want > s->len - pos)
			want = s->len - pos;
		memcpy(buf + fill, s->data + pos, want);
		fill += want;
		pos += want;

		size_t done = pm_lines_complete(buf, fill, term);
		UU_LE(done, fill);
		if (done > 0) {
			UU_EQ(buf[done - 1], term);
			records += pm_lines_count(buf, done, term);
			memcpy(out + out_len, buf, done);
			out_len += done;
			/* What went out must end exactly at the last record
			 * end the stream has delivered so far. */
			UU_EQ(out_len, last_end_before(s, pos));
		}
		/* Nothing carried may hold a terminator. */
		UU_TRUE(memchr(buf + done, term, fill - done) == NULL);
		memmove(buf, buf + done, fill - done);
		fill -= done;
		if (fill == bufcap) {
			/* A record longer than the buffer: the piece goes
			 * out now and the record continues in the next
			 * read, so memory stays bounded. */
			memcpy(out + out_len, buf, fill);
			out_len += fill;
			fill = 0;
			fragments++;
		}
	}
	/* At end of input, the carry is the unterminated final record (or
	 * its last piece, when it was longer than the buffer). */
	if (s->partial < bufcap)
		ck_assert_uint_eq(fill, s->partial);
	else
		ck_assert_uint_le(fill, s->partial);
	memcpy(out + out_len, buf, fill);
	out_len += fill;

	ck_assert_uint_eq(records, s->n_ends);
	ck_assert_uint_eq(out_len, s->len);
	ck_assert_mem_eq(out, s->data, s->len);
	free(buf);
	free(out);
	return fragments;
}

START_TEST(test_carry_across_chunks)
{
	static const size_t one[] = {1};
	static const size_t primes[] = {2, 3, 5, 7, 11, 13};
	static const size_t mixed[] = {13, 1000, 1, 4096, 63, 64, 65};
	static const size_t page[] = {4096};
	static const size_t *const sets[] = {one, primes, mixed, page};
	static const size_t n_sets[] = {1, 6, 7, 1};
	static const size_t bufcaps[] = {256, 300, 4096};

	for (int t = 0; t < 2; t++) {
		char term = t ? '\0' : '\n';
		struct stream s;
		/* Records of up to 200 bytes: always shorter than the
		 * buffers here, so nothing is fragmented. */
		stream_make(&s, 400, 200, term, !t, t ? 0 : 33, 100 + t);
		for (size_t b = 0; b < 3; b++)
			for (size_t k = 0; k < 4; k++)
				ck_assert_uint_eq(carry_run(&s, term,
				                            bufcaps[b], sets[k],
				                            n_sets[k]),
				                  0);
		stream_free(&s);
	}
}
END_TEST

START_TEST(test_record_longer_than_buffer)
{
	/* Alone in a full buffer, a long record has no complete part. */
	char big[64];
	memset(big, 'x', sizeof(big));
	ck_assert_uint_eq(pm_lines_complete(big, sizeof(big), '\n'), 0);
	ck_assert_uint_eq(pm_lines_count(big, sizeof(big), '\n'), 0);

	/* Records of up to 500 bytes through 64- and 100-byte buffers: many
	 * are split into fragments and still reassemble exactly. */
	static const size_t chunks[] = {7, 64, 1, 33};
	struct stream s;
	stream_make(&s, 300, 500, '\n', true, 250, 42);
	ck_assert_uint_gt(carry_run(&s, '\n', 64, chunks, 4), 0);
	ck_assert_uint_gt(carry_run(&s, '\n', 100, chunks, 4), 0);
	stream_free(&s);
}
END_TEST

/* --------------------------------------------------------- tag iovecs */

/* Concatenates the iovecs into out; returns the byte count. */
static size_t iov_flatten(const struct iovec *iov, size_t cnt, char *out)
{
	size_t n = 0;
	for (size_t i = 0; i < cnt; i++) {
		memcpy(out + n, iov[i].iov_base, iov[i].iov_len);
		n += iov[i].iov_len;
	}
	return n;
}

/*
 * Drains every record of s through pm_lines_tag_iov with at most max
 * iovecs per call, checking each call, and that the whole output is every
 * record preceded by the tag.  An unterminated final record is written as a
 * record too (with its tag, without a terminator): the worker relies on
 * that at end of input, where it adds the missing terminator itself.
 */
static void tag_drain(const struct stream *s, char term, const char *tag,
                      size_t tag_len, size_t max)
{
	size_t n_recs = s->n_ends + (s->partial ? 1 : 0);
	size_t *ends = calloc(n_recs, sizeof(*ends));
	struct iovec *iov = calloc(max, sizeof(*iov));
	size_t expect_len = s->len + n_recs * tag_len;
	char *expect = malloc(expect_len);
	char *got = malloc(expect_len + 1);
	size_t e = 0, prev = 0, pos = 0, got_len = 0, rec = 0;
	ck_assert_ptr_nonnull(ends);
	ck_assert_ptr_nonnull(iov);
	ck_assert_ptr_nonnull(expect);
	ck_assert_ptr_nonnull(got);
	memcpy(ends, s->ends, s->n_ends * sizeof(*ends));
	if (s->partial)
		ends[n_recs - 1] = s->len;
	for (size_t i = 0; i < n_recs; i++) {
		memcpy(expect + e, tag, tag_len);
		e += tag_len;
		memcpy(expect + e, s->data + prev, ends[i] - prev);
		e += ends[i] - prev;
		prev = ends[i];
	}
	ck_assert_uint_eq(e, expect_len);

	while (rec < n_recs) {
		size_t used = 12345;
		uint64_t bytes = 12345;
		size_t cnt =
		    pm_lines_tag_iov(s->data + pos, s->len - pos, term, tag,
		                     tag_len, iov, max, &used, &bytes);
		UU_LE(cnt, max);
		UU_GT(cnt, 0);
		UU_GT(used, 0);
		/* Each record needs its tag and its bytes: two iovecs. */
		UU_EQ(cnt % 2, 0);
		size_t covered = cnt / 2;
		/* As many records as fit in max iovecs, or all that are
		 * left. */
		size_t left = n_recs - rec;
		UU_EQ(covered, left < max / 2 ? left : max / 2);
		/* used stops exactly at a record boundary. */
		UU_EQ(pos + used, ends[rec + covered - 1]);
		size_t n = iov_flatten(iov, cnt, got + got_len);
		UU_EQ(n, bytes);
		UU_EQ(bytes, used + covered * tag_len);
		for (size_t i = 0; i < cnt; i += 2) {
			UU_EQ(iov[i].iov_len, tag_len);
			UU_TRUE(memcmp(iov[i].iov_base, tag, tag_len) == 0);
		}
		got_len += n;
		pos += used;
		rec += covered;
	}
	ck_assert_uint_eq(pos, s->len);
	ck_assert_uint_eq(got_len, expect_len);
	ck_assert_mem_eq(got, expect, expect_len);

	/* Nothing left: nothing to write. */
	size_t used = 99;
	uint64_t bytes = 99;
	size_t cnt = pm_lines_tag_iov(s->data + pos, 0, term, tag, tag_len, iov,
	                              max, &used, &bytes);
	ck_assert_uint_eq(cnt, 0);
	ck_assert_uint_eq(used, 0);
	ck_assert_uint_eq(bytes, 0);
	free(ends);
	free(iov);
	free(expect);
	free(got);
}

START_TEST(test_tag_before_every_record)
{
	static const size_t maxes[] = {2, 3, 4, 5, 7, 64, 1024};
	const char tag[] = "a.log\t";
	for (int t = 0; t < 2; t++) {
		char term = t ? '\0' : '\n';
		struct stream s;
		stream_make(&s, 700, 40, term, !t, 9, 5 + t);
		for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++)
			tag_drain(&s, term, tag, sizeof(tag) - 1, maxes[m]);
		stream_free(&s);
	}
}
END_TEST

START_TEST(test_tag_only_terminators)
{
	const char buf[] = "\n\n\n";
	struct iovec iov[16];
	size_t used = 0;
	uint64_t bytes = 0;
	size_t cnt =
	    pm_lines_tag_iov(buf, 3, '\n', "f\t", 2, iov, 16, &used, &bytes);
	char out[32];
	ck_assert_uint_eq(cnt, 6);
	ck_assert_uint_eq(used, 3);
	ck_assert_uint_eq(bytes, 9);
	ck_assert_uint_eq(iov_flatten(iov, cnt, out), 9);
	ck_assert_mem_eq(out, "f\t\nf\t\nf\t\n", 9);
}
END_TEST

START_TEST(test_tag_empty_and_partial_input)
{
	struct iovec iov[4];
	size_t used = 7;
	uint64_t bytes = 7;
	char out[16];
	const char buf[] = "partial";
	ck_assert_uint_eq(
	    pm_lines_tag_iov(buf, 0, '\n', "t\t", 2, iov, 4, &used, &bytes), 0);
	ck_assert_uint_eq(used, 0);
	ck_assert_uint_eq(bytes, 0);
	used = 7;
	bytes = 7;
	ck_assert_uint_eq(
	    pm_lines_tag_iov(buf, 0, '\n', NULL, 0, iov, 4, &used, &bytes), 0);
	ck_assert_uint_eq(used, 0);
	ck_assert_uint_eq(bytes, 0);

	/* A final record without its terminator still gets its tag. */
	ck_assert_uint_eq(
	    pm_lines_tag_iov(buf, 7, '\n', "t\t", 2, iov, 4, &used, &bytes), 2);
	ck_assert_uint_eq(used, 7);
	ck_assert_uint_eq(bytes, 9);
	ck_assert_uint_eq(iov_flatten(iov, 2, out), 9);
	ck_assert_mem_eq(out, "t\tpartial", 9);

	ck_assert_uint_eq(
	    pm_lines_tag_iov(buf, 7, '\n', NULL, 0, iov, 4, &used, &bytes), 1);
	ck_assert_uint_eq(used, 7);
	ck_assert_uint_eq(bytes, 7);
}
END_TEST

START_TEST(test_no_tag_one_iovec)
{
	struct stream s;
	struct iovec iov[4];
	stream_make(&s, 500, 60, '\n', false, 12, 77);
	for (size_t max = 1; max <= 4; max += 3) {
		size_t used = 0;
		uint64_t bytes = 0;
		size_t cnt = pm_lines_tag_iov(s.data, s.len, '\n', NULL, 0, iov,
		                              max, &used, &bytes);
		/* Without a tag the records are already contiguous: one
		 * iovec over the whole buffer, whatever max allows. */
		ck_assert_uint_eq(cnt, 1);
		ck_assert_uint_eq(used, s.len);
		ck_assert_uint_eq(bytes, used);
		ck_assert_ptr_eq(iov[0].iov_base, s.data);
		ck_assert_uint_eq(iov[0].iov_len, used);
	}
	stream_free(&s);
}
END_TEST

/* -------------------------------------------------------- tag escaping */

/* pmerge_tag_make(name) must give exactly want (length given: may hold NUL). */
static void tag_expect(const char *name, const char *want, size_t want_len)
{
	size_t len = 9999;
	char *t = pmerge_tag_make(name, &len);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(len, want_len);
	ck_assert_mem_eq(t, want, want_len);
	free(t);
}

#define TAG_EXPECT(name, want) tag_expect(name, want, sizeof(want) - 1)

START_TEST(test_tag_plain_names)
{
	TAG_EXPECT("a.log", "a.log\t");
	TAG_EXPECT("-", "-\t");
	TAG_EXPECT("", "\t");
	TAG_EXPECT("dir/sub dir/x y.txt", "dir/sub dir/x y.txt\t");
	/* Bytes above ASCII (UTF-8 names) are not control characters. */
	TAG_EXPECT("caf\xc3\xa9.log", "caf\xc3\xa9.log\t");
}
END_TEST

START_TEST(test_tag_escapes)
{
	TAG_EXPECT("a\tb", "a\\tb\t");
	TAG_EXPECT("a\nb", "a\\nb\t");
	TAG_EXPECT("a\\b", "a\\\\b\t");
	TAG_EXPECT("\\", "\\\\\t");
	TAG_EXPECT("\t\n\\", "\\t\\n\\\\\t");
	TAG_EXPECT("x\ry", "x\\015y\t");
	TAG_EXPECT("\x01", "\\001\t");
	TAG_EXPECT("\x1b[31m", "\\033[31m\t");
	TAG_EXPECT("\x1f", "\\037\t");
	TAG_EXPECT("a\x7f", "a\\177\t");
	/* The returned length counts the escaped name plus the TAB. */
	size_t len = 0;
	char *t = pmerge_tag_make("p\tq\x02r", &len);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(len, strlen("p\\tq\\002r\t"));
	free(t);
}
END_TEST

static Suite *lines_suite(void)
{
	Suite *s = suite_create("lines");
	TCase *tc = tcase_create("framing");
	tcase_add_test(tc, test_empty_input);
	tcase_add_test(tc, test_only_terminators);
	tcase_add_test(tc, test_no_final_terminator);
	tcase_add_test(tc, test_nul_inside_newline_records);
	tcase_add_test(tc, test_nul_terminated_records);
	tcase_add_test(tc, test_crlf_passes_through);
	tcase_add_test(tc, test_count_matches_generated);
	tcase_add_test(tc, test_carry_across_chunks);
	tcase_add_test(tc, test_record_longer_than_buffer);
	suite_add_tcase(s, tc);

	tc = tcase_create("tag_iov");
	tcase_add_test(tc, test_tag_before_every_record);
	tcase_add_test(tc, test_tag_only_terminators);
	tcase_add_test(tc, test_tag_empty_and_partial_input);
	tcase_add_test(tc, test_no_tag_one_iovec);
	suite_add_tcase(s, tc);

	tc = tcase_create("tag_make");
	tcase_add_test(tc, test_tag_plain_names);
	tcase_add_test(tc, test_tag_escapes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(lines_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
