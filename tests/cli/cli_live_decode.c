/*
 * -d with live streams: compressed data through FIFOs is decoded by the
 * stream thread as it arrives.  Bad and cut-short streams are input errors
 * that name the input and end pmerge with status 1 while the others are
 * merged whole; records longer than the buffer stay whole; --stats says
 * what each stream was; --tail counts decoded lines of a compressed file.
 * Needs gzip, zstd, xz, bzip2 and lz4 (the group is skipped without).
 */
#include "cliutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Each format and the command that makes it from standard input. */
static const struct {
	const char *name, *pack;
} formats[] = {
    {"gzip", "gzip -c"},   {"zstd", "zstd -q -c"}, {"xz", "xz -c"},
    {"bzip2", "bzip2 -c"}, {"lz4", "lz4 -q -c"},
};
#define N_FORMATS (sizeof(formats) / sizeof(formats[0]))

/* Whether every line of out is one of text's lines (none torn, none made
 * up), and every line of text is in out. */
static void expect_lines_of(const char *out, const char *text)
{
	char *copy = strdup(text);

	for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
		char want[256];
		snprintf(want, sizeof(want), "%s\n", line);
		ck_assert_msg(strstr(out, want), "'%s' missing from:\n%s", line,
		              out);
	}
	free(copy);
	for (const char *p = out; *p;) {
		const char *nl = strchr(p, '\n');
		ck_assert_msg(nl, "an unterminated record: %s", p);
		ck_assert_msg(nl - p < 250, "a fused record");
		char rec[256];
		memcpy(rec, p, (size_t)(nl - p) + 1);
		rec[nl - p + 1] = '\0';
		ck_assert_msg(strstr(text, rec), "a record made up: %s", rec);
		p = nl + 1;
	}
}

#define GOOD "g1 good line\ng2 good line\ng3 good line\n"

/*
 * One FIFO carries a gzip member whose CRC is wrong, another a good zstd
 * stream, with -j 1: the bad one is reported with the codec's reason and
 * the exit status is 1; the good one is merged whole.
 */
START_TEST(live_decode_corrupt)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	cu_sh(&r, "printf 'b1 bad line\\n' | gzip -c > bad.gz && "
	          "printf '" GOOD "' | zstd -q -c > good.zst && "
	          /* The CRC-32 is the trailer's first 4 bytes. */
	          "n=$(($(wc -c < bad.gz) - 8)) && "
	          "printf '\\377' | dd of=bad.gz bs=1 seek=$n conv=notrunc "
	          "2>/dev/null && mkfifo f1 f2 && "
	          "(cat bad.gz > f1 &) && (cat good.zst > f2 &) && "
	          "pmerge -d -u line -j 1 f1 f2");
	cu_expect_exit(&r, 1);
	ck_assert_msg(strncmp(r.err, "pmerge: f1: gzip: ", 18) == 0 &&
	                  strchr(r.err, '\n') == r.err + strlen(r.err) - 1,
	              "stderr: %s", r.err);
	/* The bad member's line was decoded before its CRC was read: it
	 * stays, as with gzip -dc. */
	expect_lines_of(r.out, "b1 bad line\n" GOOD);
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* Every format, cut short, through a FIFO: "NAME: FORMAT: ...", exit 1. */
START_TEST(live_decode_truncated)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	cu_sh(&r,
	      "seq 1 3000 | %s > whole && head -c $(($(wc -c < whole) / 2)) "
	      "whole > cut && mkfifo f1 f2 && (cat cut > f1 &) && "
	      "(printf '" GOOD "' > f2 &) && pmerge -d -u line f1 f2",
	      formats[_i].pack);
	cu_expect_exit(&r, 1);
	char want[64];
	snprintf(want, sizeof(want), "pmerge: f1: %s: ", formats[_i].name);
	ck_assert_msg(strncmp(r.err, want, strlen(want)) == 0, "%s: %s",
	              formats[_i].name, r.err);
	for (int g = 1; g <= 3; g++) {
		char line[32];
		snprintf(line, sizeof(line), "g%d good line\n", g);
		ck_assert_msg(strstr(r.out, line), "%s", r.out);
	}
	/* What was decoded before the cut is lines in order; the last one
	 * may be cut short, and gains its newline. */
	long prev = 0;
	bool cut = false;
	for (const char *p = r.out; *p; p = strchr(p, '\n') + 1) {
		char *end, next[32];
		long v = strtol(p, &end, 10);
		if (*p == 'g')
			continue;
		ck_assert_msg(!cut && *end == '\n', "%s: %.20s after a cut",
		              formats[_i].name, p);
		snprintf(next, sizeof(next), "%ld", prev + 1);
		cut = v != prev + 1;
		ck_assert_msg(!cut || strncmp(next, p, (size_t)(end - p)) == 0,
		              "%s: line %.20s after %ld", formats[_i].name, p,
		              prev);
		prev = v;
	}
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/*
 * Records longer than the buffer (-B 4K), compressed, through two FIFOs at
 * once: each is written whole, none fused with another.
 */
START_TEST(live_decode_long_records)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;
	size_t alen, blen;

	char *a = cu_gen_text(300000, 'a', 1, true);
	char *b = cu_gen_text(300000, 'b', 2, true);
	alen = strlen(a);
	blen = strlen(b);
	/* Three lines of 20,000 bytes in each. */
	for (size_t i = 0; i < 3; i++) {
		memset(a + 1000 + i * 50000, 'A', 20000);
		memset(b + 2000 + i * 50000, 'B', 20000);
	}
	cu_write("a", a);
	cu_write("b", b);
	cu_sh(&r, "gzip -c a > a.gz && xz -c b > b.xz && mkfifo f1 f2 && "
	          "(cat a.gz > f1 &) && (cat b.xz > f2 &) && "
	          "pmerge -d -B 4K -u line -j 1 f1 f2");
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	const struct cu_input in[] = {{"f1", a, alen}, {"f2", b, blen}};
	cu_expect_records(r.out, r.out_len, in, 2, '\n');
	tu_run_free(&r);
	free(a);
	free(b);
	tu_leave_scratch(dir);
}
END_TEST

/* --stats names the format of each stream the stream thread decoded. */
START_TEST(live_decode_stats)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	cu_sh(&r, "printf '" GOOD "' | bzip2 -c > g.bz2 && mkfifo f1 f2 && "
	          "(cat g.bz2 > f1 &) && (printf 'plain\\n' > f2 &) && "
	          "pmerge -d -u line --stats f1 f2 2>&1 >/dev/null");
	cu_expect_exit(&r, 0);
	ck_assert_msg(strstr(r.out, "  input f1: bzip2, ") &&
	                  strstr(r.out, ", 39 B decoded\n") &&
	                  strstr(r.out, "  input f2: plain, 6 B read, 6 B "
	                                "decoded\n"),
	              "%s", r.out);
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/*
 * --tail=N of a compressed file counts its decoded lines (a compressed
 * stream cannot be entered from its end), in every unit; a plain file
 * keeps being read from its end.
 */
START_TEST(decode_tail)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	cu_sh(&r, "seq 1 1000 | gzip -c > n.gz && seq 1001 1003 | zstd -q -c "
	          "> m.zst && seq 1004 1006 | zstd -q -c >> m.zst && "
	          "seq 1 9 > p && pmerge -d --tail=2 n.gz m.zst p && "
	          "pmerge -d -u line -j 1 --tail=1 n.gz m.zst p && "
	          "pmerge -d --tail=0 n.gz");
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	ck_assert_str_eq(r.out, "999\n1000\n1005\n1006\n8\n9\n"
	                        "1000\n1006\n9\n");
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

TCase *cli_tcase_live_decode(void)
{
	TCase *tc = tcase_create("live-decode");
	tcase_add_test(tc, live_decode_corrupt);
	tcase_add_loop_test(tc, live_decode_truncated, 0, (int)N_FORMATS);
	tcase_add_test(tc, live_decode_long_records);
	tcase_add_test(tc, live_decode_stats);
	tcase_add_test(tc, decode_tail);
	return tc;
}
