/*
 * The sorted merge (-m) through the built binary: a property test against
 * GNU sort (random sorted inputs x random key definitions, byte for byte
 * the output of LC_ALL=C sort -m -s), --by-time over every timestamp
 * format, records, time windows, disorder, many inputs under a low open
 * file limit, -z, --tag, -d, -Z, stdin and FIFOs: a stream named twice,
 * streams fed in turn with fewer workers than streams, windows and
 * --check-order on streams.
 *
 * Usage: test_sorted main|many|bound|stress
 */
#include "tutil.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *dir;

static void setup(void)
{
	dir = tu_mkdtemp();
}

static void teardown(void)
{
	tu_rmdir_rf(dir);
	free(dir);
}

/* Runs a shell command in the scratch directory, with $P the binary. */
static void sh(struct tu_run *r, double timeout_s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void sh(struct tu_run *r, double timeout_s, const char *fmt, ...)
{
	char *body, *cmd;
	va_list ap;

	va_start(ap, fmt);
	ck_assert_int_ge(vasprintf(&body, fmt, ap), 0);
	va_end(ap);
	ck_assert_int_ge(asprintf(&cmd,
	                          "cd '%s' && P='%s' && export TZ=UTC "
	                          "LC_ALL=C && %s",
	                          dir, tu_pmerge(), body),
	                 0);
	tu_run_sh(r, cmd, timeout_s);
	free(body);
	free(cmd);
}

static void put(const char *name, const char *text)
{
	char *p = tu_path(dir, name);
	tu_write_file(p, text, strlen(text));
	free(p);
}

/* Runs cmd and checks its exit status and standard output. */
#define EXPECT(status_, out_, ...)                                             \
	do {                                                                   \
		struct tu_run r_;                                              \
		sh(&r_, 60, __VA_ARGS__);                                      \
		ck_assert_msg(r_.status == (status_),                          \
		              "status %d, want %d; stderr: %s", r_.status,     \
		              status_, r_.err);                                \
		ck_assert_msg(strcmp(r_.out, out_) == 0,                       \
		              "output:\n%s\nwant:\n%s\nstderr: %s", r_.out,    \
		              out_, r_.err);                                   \
		tu_run_free(&r_);                                              \
	} while (0)

/* ------------------------------------------------------ property test */

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A random key position "F[.C][OPTS]". */
static void key_pos(uint64_t *rs, char *buf, size_t size, bool end)
{
	int n = snprintf(buf, size, "%u", 1 + (unsigned)(rnd(rs) % 4));

	if (rnd(rs) % 2)
		n += snprintf(buf + n, size - (size_t)n, ".%u",
		              (end ? 0 : 1) + (unsigned)(rnd(rs) % 3));
	static const char *const opts[] = {"", "", "b", "n", "r", "bn", "nr"};
	snprintf(buf + n, size - (size_t)n, "%s", opts[rnd(rs) % 7]);
}

/* Random sort options from the supported grammar. */
static void random_options(uint64_t *rs, char *buf, size_t size, bool zero)
{
	size_t n = 0;
	unsigned keys = (unsigned)(rnd(rs) % 4);

	buf[0] = '\0';
	if (rnd(rs) % 3 == 0)
		n += (size_t)snprintf(buf + n, size - n, " -t%c",
		                      rnd(rs) % 2 ? ',' : ':');
	if (rnd(rs) % 5 == 0)
		n += (size_t)snprintf(buf + n, size - n, " -n");
	if (rnd(rs) % 5 == 0)
		n += (size_t)snprintf(buf + n, size - n, " -r");
	if (zero)
		n += (size_t)snprintf(buf + n, size - n, " -z");
	for (unsigned k = 0; k < keys; k++) {
		char a[32], b[32];
		key_pos(rs, a, sizeof(a), false);
		if (rnd(rs) % 4) {
			key_pos(rs, b, sizeof(b), true);
			n += (size_t)snprintf(buf + n, size - n, " -k%s,%s", a,
			                      b);
		} else {
			n += (size_t)snprintf(buf + n, size - n, " -k%s", a);
		}
	}
}

/* A record of fields from a small alphabet, so that keys tie often and
 * numbers, signs, blanks and separators all turn up. */
static void random_record(uint64_t *rs, FILE *f, bool zero)
{
	static const char *const atoms[] = {
	    "a",  "b", "B",  "0",  "1", "-1", "10", "2.5", "-0",   ".5", "007",
	    "x1", " ", "  ", "\t", ",", ":",  "-",  "z9",  "1.50", "",
	};
	unsigned n = (unsigned)(rnd(rs) % 7);

	for (unsigned i = 0; i < n; i++) {
		fputs(atoms[rnd(rs) % (sizeof(atoms) / sizeof(atoms[0]))], f);
		if (zero && rnd(rs) % 9 == 0)
			fputc('\n', f); /* a blank inside a -z record */
	}
	fputc(zero ? '\0' : '\n', f);
}

START_TEST(test_property_against_sort)
{
	uint64_t rs = 0x2545f4914f6cdd1dull;
	unsigned rounds = 120, failures = 0;

	for (unsigned round = 0; round < rounds && failures == 0; round++) {
		bool zero = round % 5 == 4;
		char opts[512];
		unsigned inputs = 1 + (unsigned)(rnd(&rs) % 6);
		struct tu_run r;

		random_options(&rs, opts, sizeof(opts), zero);
		for (unsigned i = 0; i < inputs; i++) {
			char name[32];
			snprintf(name, sizeof(name), "raw%u", i);
			char *p = tu_path(dir, name);
			FILE *f = fopen(p, "w");
			ck_assert_ptr_nonnull(f);
			unsigned lines = (unsigned)(rnd(&rs) % 40);
			for (unsigned l = 0; l < lines; l++)
				random_record(&rs, f, zero);
			fclose(f);
			free(p);
		}
		/* Each input sorted by sort itself with the same options. */
		sh(&r, 60,
		   "rm -f in*; for i in $(seq 0 %u); do sort -s %s raw$i > "
		   "in$i || exit 3; done; sort -m -s %s in* > want || exit 4; "
		   "$P -m %s in* > got || exit 5; cmp want got",
		   inputs - 1, opts, opts, opts);
		if (r.status != 0) {
			failures++;
			ck_abort_msg("round %u, options '%s': status %d: %s%s",
			             round, opts, r.status, r.out, r.err);
		}
		tu_run_free(&r);
	}
}
END_TEST

/* The same with many inputs and longer ones, through the read-ahead. */
START_TEST(test_property_large)
{
	struct tu_run r;

	sh(&r, 120,
	   "awk 'BEGIN { srand(7); for (i = 0; i < 200000; i++) "
	   "printf \"%%d %%c%%d\\n\", int(rand()*1000), 97+int(rand()*3), "
	   "int(rand()*50000) }' > all && split -n l/40 all part && "
	   "for f in part*; do sort -s -k2,2 -k1,1nr $f > s.$f; done && "
	   "sort -m -s -k2,2 -k1,1nr s.* > want && "
	   "$P -m -j3 -k2,2 -k1,1nr s.* > got && cmp want got && "
	   "sort -m -s s.* > want2 && $P -m s.* -o got2 && cmp want2 got2");
	ck_assert_msg(r.status == 0, "status %d: %s%s", r.status, r.out, r.err);
	tu_run_free(&r);
	/* Whole lines that are prefixes of each other, duplicates, empty
	 * lines and bytes above 0x7f: the offset-value codes' hard cases. */
	sh(&r, 120,
	   "awk 'BEGIN { srand(3); s = \"abcabcabcabcabcabcabcabcabcab\"; "
	   "for (i = 0; i < 60000; i++) { n = int(rand()*30); "
	   "t = substr(s, 1, n); k = int(rand()*4); "
	   "if (k == 1) t = t sprintf(\"%%c\", 97 + int(rand()*3)); "
	   "if (k == 2) t = t \"\\377\"; print t } }' > pre && "
	   "split -n l/9 pre pp && for f in pp*; do sort $f > q.$f; done && "
	   "sort -m -s q.* > want3 && $P -m -j2 -B 4K q.* > got3 && "
	   "cmp want3 got3 && test $(sort -u pre | wc -l) -gt 50");
	ck_assert_msg(r.status == 0, "status %d: %s%s", r.status, r.out, r.err);
	tu_run_free(&r);
	/* Lines that differ in and around their first 8 bytes, which the
	 * merger compares as one number, with NUL bytes (the number's
	 * padding past a short line's end) among them. */
	sh(&r, 120,
	   "awk 'BEGIN { srand(5); for (i = 0; i < 60000; i++) { "
	   "n = int(rand()*13); t = \"\"; for (j = 0; j < n; j++) "
	   "t = t substr(\"aan\", 1 + int(rand()*3), 1); print t } }' | "
	   "tr n '\\000' > nul && split -n l/7 nul nn && "
	   "for f in nn*; do sort $f > r.$f; done && "
	   "sort -m -s r.* > want4 && $P -m r.* > got4 && cmp want4 got4 && "
	   "test $(tr -dc '\\000' < nul | wc -c) -gt 1000 && "
	   "test $(sort -u nul | wc -l) -gt 1000");
	ck_assert_msg(r.status == 0, "status %d: %s%s", r.status, r.out, r.err);
	tu_run_free(&r);
}
END_TEST

/* ------------------------------------------------------------ by time */

START_TEST(test_every_format_mixed_zones)
{
	/* The same instants written in every format, one input each. */
	put("iso", "2025-05-01T08:00:01Z iso1\n"
	           "2025-05-01T08:00:07.250Z iso2\n");
	put("offset", "2025-05-01 10:00:02,100+02:00 off1\n"
	              "2025-05-01 03:00:08-05:00 off2\n");
	put("local", "2025-05-01 08:00:03 local1\n"
	             "2025-05-01 08:00:09.5 local2\n");
	put("syslog", "May  1 08:00:04 host sys1\n"
	              "May  1 08:00:10 host sys2\n");
	put("clf",
	    "10.0.0.1 - - [01/May/2025:08:00:05 +0000] \"GET /\" 200\n"
	    "10.0.0.2 - - [01/May/2025:10:00:11 +0200] \"GET /b\" 200\n");
	put("nginx", "2025/05/01 08:00:06 [error] 1#1: ng1\n"
	             "2025/05/01 08:00:12 [error] 1#1: ng2\n");
	put("epoch", "1746086400.5 ep1\n1746086413 ep2\n");
	put("millis", "1746086400250 ms1\n1746086414000 ms2\n");
	put("fmt", "01.05.2025 08:00:00.100 f1\n01.05.2025 08:00:15 f2\n");
	EXPECT(0,
	       "1746086400250 ms1\n"
	       "1746086400.5 ep1\n"
	       "2025-05-01T08:00:01Z iso1\n"
	       "2025-05-01 10:00:02,100+02:00 off1\n"
	       "2025-05-01 08:00:03 local1\n"
	       "May  1 08:00:04 host sys1\n"
	       "10.0.0.1 - - [01/May/2025:08:00:05 +0000] \"GET /\" 200\n"
	       "2025/05/01 08:00:06 [error] 1#1: ng1\n"
	       "2025-05-01T08:00:07.250Z iso2\n"
	       "2025-05-01 03:00:08-05:00 off2\n"
	       "2025-05-01 08:00:09.5 local2\n"
	       "May  1 08:00:10 host sys2\n"
	       "10.0.0.2 - - [01/May/2025:10:00:11 +0200] \"GET /b\" 200\n"
	       "2025/05/01 08:00:12 [error] 1#1: ng2\n"
	       "1746086413 ep2\n"
	       "1746086414000 ms2\n",
	       "touch -d 2025-06-01T00:00:00Z syslog && "
	       "$P -m --by-time iso offset local syslog clf nginx epoch "
	       "millis");
	/* A FORMAT applies to every input. */
	EXPECT(0,
	       "01.05.2025 08:00:00.100 f1\n"
	       "01.05.2025 08:00:15 f2\n",
	       "$P -m --by-time='%%d.%%m.%%Y %%H:%%M:%%S.%%f' fmt");
	/* Local time follows TZ: in Berlin 10:00 is 08:00 UTC. */
	put("berlin", "2025-05-01 10:00:01.500 b\n");
	EXPECT(0,
	       "2025-05-01T08:00:01Z iso1\n"
	       "2025-05-01 10:00:01.500 b\n"
	       "2025-05-01T08:00:07.250Z iso2\n",
	       "TZ=Europe/Berlin $P -m --by-time berlin iso");
}
END_TEST

START_TEST(test_subsecond_and_ties)
{
	put("a", "2025-05-01T08:00:21.449Z a1\n"
	         "2025-05-01T08:00:22Z a2\n");
	put("b", "2025-05-01T08:00:21.4491Z b1\n"
	         "2025-05-01T08:00:22.000Z b2\n");
	put("c", "1746086421449 c1\n"
	         "1746086422 c2\n");
	/* Equal instants keep input order, whatever their spelling. */
	EXPECT(0,
	       "2025-05-01T08:00:21.449Z a1\n"
	       "1746086421449 c1\n"
	       "2025-05-01T08:00:21.4491Z b1\n"
	       "2025-05-01T08:00:22Z a2\n"
	       "2025-05-01T08:00:22.000Z b2\n"
	       "1746086422 c2\n",
	       "$P -m --by-time a b c");
	EXPECT(0,
	       "1746086421449 c1\n"
	       "2025-05-01T08:00:21.449Z a1\n"
	       "2025-05-01T08:00:21.4491Z b1\n"
	       "1746086422 c2\n"
	       "2025-05-01T08:00:22Z a2\n"
	       "2025-05-01T08:00:22.000Z b2\n",
	       "$P -m --by-time c a b");
}
END_TEST

START_TEST(test_records_stay_whole)
{
	put("app", "starting up\n"
	           "config loaded\n"
	           "2025-05-01T08:00:01Z INFO one\n"
	           "2025-05-01T08:00:03Z ERROR boom\n"
	           "java.lang.IllegalStateException: boom\n"
	           "\tat com.example.A.run(A.java:10)\n"
	           "\tat com.example.B.run(B.java:20)\n"
	           "2025-05-01T08:00:05Z INFO after");
	put("web", "2025-05-01T08:00:00Z GET /\n"
	           "2025-05-01T08:00:02Z GET /a\n"
	           "2025-05-01T08:00:04Z GET /b\n");
	/* The preamble goes with the first record; the trace with its line;
	 * the last line gets its newline. */
	EXPECT(0,
	       "web\t2025-05-01T08:00:00Z GET /\n"
	       "app\tstarting up\n"
	       "app\tconfig loaded\n"
	       "app\t2025-05-01T08:00:01Z INFO one\n"
	       "web\t2025-05-01T08:00:02Z GET /a\n"
	       "app\t2025-05-01T08:00:03Z ERROR boom\n"
	       "app\tjava.lang.IllegalStateException: boom\n"
	       "app\t\tat com.example.A.run(A.java:10)\n"
	       "app\t\tat com.example.B.run(B.java:20)\n"
	       "web\t2025-05-01T08:00:04Z GET /b\n"
	       "app\t2025-05-01T08:00:05Z INFO after\n",
	       "$P -m --by-time --tag app web");
	/* A record larger than any read-ahead chunk still moves whole. */
	EXPECT(0, "0\n",
	       "{ echo 2025-05-01T08:00:01Z big; seq 1 300000 | sed 's/^/  "
	       "at /'; echo 2025-05-01T08:00:09Z end; } > big && "
	       "$P -m --by-time big web > out && "
	       "sed -n '3,300002p' out | grep -vc '^  at '; "
	       "test \"$(sed -n 300003p out)\" = '2025-05-01T08:00:02Z GET "
	       "/a' || echo misplaced");
	/* An input without any stamp is one record, first. */
	put("plain", "no stamp\nat all\n");
	EXPECT(0,
	       "no stamp\nat all\n2025-05-01T08:00:00Z GET /\n"
	       "2025-05-01T08:00:02Z GET /a\n2025-05-01T08:00:04Z GET /b\n",
	       "$P -m --by-time web plain");
}
END_TEST

START_TEST(test_since_until)
{
	put("a", "2025-05-01T07:59:59.999Z before\n"
	         "2025-05-01T08:00:00Z at-since\n"
	         "  continuation of at-since\n"
	         "2025-05-01T08:30:00Z inside\n"
	         "2025-05-01T08:59:59.999999999Z last-inside\n"
	         "2025-05-01T09:00:00Z at-until\n"
	         "2025-05-01T10:00:00Z after\n");
	EXPECT(0,
	       "2025-05-01T08:00:00Z at-since\n"
	       "  continuation of at-since\n"
	       "2025-05-01T08:30:00Z inside\n"
	       "2025-05-01T08:59:59.999999999Z last-inside\n",
	       "$P -m --by-time --since=2025-05-01T08:00:00Z "
	       "--until=2025-05-01T10:00:00+01:00 a");
	EXPECT(0, "2025-05-01T10:00:00Z after\n",
	       "$P -m --by-time --since=@1746090000.000000001 a");
	EXPECT(0, "2025-05-01T07:59:59.999Z before\n",
	       "$P -m --by-time --until=@1746086400 a");
	EXPECT(0, "", "$P -m --by-time --since=@1746090000 --until=@1 a");
	EXPECT(0, "2025-05-01T07:59:59.999Z before\n",
	       "$P -m --by-time --until=2025-05-01T10:00 a | head -1");
	EXPECT(2, "", "$P -m --by-time --since=yesterday a");
	EXPECT(2, "", "$P -m --since=@1 a");
}
END_TEST

START_TEST(test_disorder)
{
	put("ok", "2025-05-01T08:00:00Z ok1\n2025-05-01T08:00:10Z ok2\n");
	put("bad", "2025-05-01T08:00:05Z b1\n"
	           "2025-05-01T08:00:01Z b2\n"
	           "  trace of b2\n"
	           "2025-05-01T08:00:00Z b3\n");
	/* A warning once per input with the line, and the merge goes on. */
	EXPECT(0,
	       "2025-05-01T08:00:00Z ok1\n"
	       "2025-05-01T08:00:05Z b1\n"
	       "2025-05-01T08:00:01Z b2\n"
	       "  trace of b2\n"
	       "2025-05-01T08:00:00Z b3\n"
	       "2025-05-01T08:00:10Z ok2\n"
	       "pmerge: bad:2: disorder\n",
	       "$P -m --by-time ok bad 2>e; cat e");
	/* --check-order: an input error; -o is left as it was, and nothing
	 * is left beside it. */
	EXPECT(0, "1\nold\npmerge: bad:2: disorder\nbad e err ok out \n",
	       "echo old > out; $P -m --by-time --check-order ok bad -o out "
	       "2>err; echo $?; cat out err; ls -A | tr '\\n' ' '; echo");
	/* Keys: the same for sort -m's order. */
	put("k1", "a\nc\nb\nd\n");
	put("k2", "b\n");
	EXPECT(0, "pmerge: k1:3: disorder\n1\nabsent\n",
	       "$P -m --check-order k1 k2 -o out2 2>&1; echo $?; "
	       "test ! -e out2 && echo absent");
	EXPECT(0, "a\nb\nc\nb\nd\npmerge: k1:3: disorder\n",
	       "$P -m k1 k2 2>e; cat e");
	EXPECT(0, "a\nb\nc\nb\nd\n", "$P -m -q k1 k2 2>&1");
}
END_TEST

START_TEST(test_zero_tag_stdin_fifo)
{
	/* -z: records end with NUL; --tag is not part of the key. */
	EXPECT(0, "zz\tb\nyy\tc\n",
	       "printf 'b\\0' > zz; printf 'c\\0' > yy; "
	       "$P -m -z --tag yy zz | tr '\\0' '\\n'");
	/* --label names the inputs for --tag. */
	EXPECT(0, "first\tb\nsecond\tc\n",
	       "$P -m -z --tag --label=second,first yy zz | tr '\\0' '\\n'");
	put("a", "1\n3\n5\n");
	EXPECT(0, "1\n2\n3\n4\n5\n6\n", "printf '2\\n4\\n6\\n' | $P -m -n a -");
	EXPECT(0, "1\n2\n3\n4\n5\n6\n7\n",
	       "mkfifo f && { printf '2\\n4\\n6\\n7\\n' > f & } && "
	       "$P -m a f; wait");
	/* -o is atomic and may be an input. */
	EXPECT(0, "1\n1\n3\n3\n5\n5\n", "cp a b && $P -m a b -o a && cat a");
}
END_TEST

/* -d: compressed inputs decode in the readers, every codec, by content. */
START_TEST(test_decompress)
{
	EXPECT(0, "ok\n",
	       "for i in 1 2 3 4 5 6; do seq $i 6 60000 | sort > p$i; done && "
	       "gzip -c p1 > p1.gz && zstd -q -c p2 > p2.zst && xz -c p3 > "
	       "p3.xz && bzip2 -c p4 > p4.bz2 && lz4 -q -c p5 > p5.lz4 && "
	       "sort -m -s p1 p2 p3 p4 p5 p6 > want && "
	       "gzip -c p6 | $P -m -d -B 4K p1.gz p2.zst p3.xz p4.bz2 p5.lz4 - "
	       "> got && cmp want got && echo ok");
	/* Many compressed inputs, closed and reopened under their decoders. */
	EXPECT(0, "ok\n",
	       "mkdir z && awk 'BEGIN { for (i = 0; i < 300; i++) { f = "
	       "sprintf(\"z/%%03d\", i); for (k = 0; k < 2000; k++) printf "
	       "\"%%08d\\n\", i + 300 * k > f; close(f) } }' && gzip z/* && "
	       "(ulimit -n 64 && $P -m -d -B 4K z/* > got) && "
	       "seq -f %%08g 0 599999 | cmp - got && echo ok");
	/* --by-time over a compressed log. */
	put("plain.log", "2025-05-01T08:00:02Z p\n");
	EXPECT(0, "2025-05-01T08:00:01Z g\n  trace\n2025-05-01T08:00:02Z p\n",
	       "printf '2025-05-01T08:00:01Z g\\n  trace\\n' | gzip > g.gz "
	       "&& $P -m -d --by-time g.gz plain.log");
	/* A bad stream: the codec's reason, exit 1, -o left as it was. */
	EXPECT(0, "1\nold\n",
	       "echo old > out; { gzip -c p1; echo junk; } > bad.gz; "
	       "$P -m -d bad.gz p2 -o out 2>err; echo $?; cat out; "
	       "grep -q 'bad.gz: gzip: ' err");
}
END_TEST

/* -Z: the sorted output as one compressed stream, every codec and level. */
START_TEST(test_compress_output)
{
	EXPECT(0, "0\n0\nok\n",
	       "for i in 1 2 3; do seq $i 3 30000 | sort > c$i; done && "
	       "sort -m -s c1 c2 c3 > want && "
	       "for z in gzip gzip:1 gzip:12 zstd zstd:1 zstd:19; do "
	       "$P -m -Z $z c1 c2 c3 > got.z || exit 1; "
	       "case $z in gzip*) gzip -dc got.z;; *) zstd -q -dc got.z;; "
	       "esac | cmp - want || exit 2; done && "
	       /* -o (atomic), keys and --tag go through -Z too. */
	       "$P -m -Z zstd -o got.zst c3 c1 c2 && zstd -q -dc got.zst | "
	       "cmp - want && "
	       "sort -nr c1 > r1 && sort -nr c2 > r2 && "
	       "sort -m -s -k1,1nr r1 r2 > wantk && "
	       "$P -m -Z gzip -k1,1nr r1 r2 | gzip -dc | cmp - wantk && "
	       "sort -m -s c1 c2 > want12 && "
	       "$P -m -Z gzip --tag c1 c2 | gzip -dc | cut -f2- | "
	       "cmp - want12 && "
	       /* Nothing to merge is still a valid (empty) stream. */
	       ": > e && $P -m -Z gzip e | gzip -dc | wc -c && "
	       "$P -m -Z zstd e e | zstd -q -dc | wc -c && echo ok");
}
END_TEST

/*
 * A stream named twice is read twice in sequence, as cat reads it: the
 * first name takes all of it, a later one finds its end.  The same for "-"
 * and /dev/stdin, and for a FIFO through a symlink.
 */
START_TEST(test_stream_named_twice)
{
	put("a", "1\n3\n5\n");
	EXPECT(0, "1\n2\n3\n4\n5\n",
	       "mkfifo f && ln -s f g && { printf '2\\n4\\n' > f & } && "
	       "$P -m f a g f; wait");
	EXPECT(0, "1\n1\n1\n2\n3\n3\n3\n5\n5\n",
	       "printf '1\\n2\\n3\\n' | $P -m - a /dev/stdin - a");
	/* Regular files named twice are read twice, each on its own. */
	EXPECT(0, "1\n1\n3\n3\n5\n5\n", "$P -m a a");
}
END_TEST

/*
 * Streams never hold a reader while another has data: with -j 1 and four
 * FIFOs fed in turn, each with more than a pipe holds before the next is
 * fed (so a reader blocked on one would stall the writer), the merge goes
 * through; with -d the same for a compressed live stream.
 */
START_TEST(test_streams_fed_in_turn)
{
	EXPECT(0, "ok\n",
	       "mkfifo f0 f1 f2 f3 && { awk 'BEGIN { for (b = 0; b < 5; b++) "
	       "for (k = 0; k < 4; k++) { f = \"f\" k; for (i = b * 20000; "
	       "i < (b + 1) * 20000; i++) printf \"%%08d\\n\", 4 * i + k > f; "
	       "fflush(f) } }' & } && "
	       "timeout 60 $P -m -j 1 f0 f1 f2 f3 > got && wait && "
	       "seq -f %%08g 0 399999 | cmp - got && echo ok");
	EXPECT(
	    0, "ok\n",
	    "mkfifo g0 g1 g2 g3 && { python3 -c '\n"
	    "import os, random, zlib\n"
	    "fds = [os.open(\"g%%d\" %% k, os.O_WRONLY) for k in range(4)]\n"
	    "zs = [zlib.compressobj(1, zlib.DEFLATED, 31) for k in range(4)]\n"
	    "rnd = random.Random(5)\n"
	    "for b in range(4):\n"
	    "    for k in range(4):\n"
	    "        t = \"\".join(\"%%08d %%032x\\n\" %% (4 * i + k, "
	    "rnd.getrandbits(128)) for i in range(b * 5000, (b + 1) * "
	    "5000))\n"
	    "        os.write(fds[k], zs[k].compress(t.encode()) + "
	    "zs[k].flush(zlib.Z_SYNC_FLUSH))\n"
	    "for k in range(4):\n"
	    "    os.write(fds[k], zs[k].flush())\n"
	    "    os.close(fds[k])\n"
	    "' & } && timeout 60 $P -m -d -j 1 g0 g1 g2 g3 > got && wait && "
	    "seq -f %%08g 0 79999 > nums && cut -c1-8 got | cmp - nums && "
	    "test $(wc -l < got) -eq 80000 && echo ok");
	/* Waiting streams are polled, not spun on: little CPU while idle. */
	EXPECT(0, "ok\n",
	       "mkfifo h0 h1 && { { echo 1; sleep 2; echo 3; } > h0 & } && "
	       "{ { echo 2; sleep 2; } > h1 & } && "
	       "P=$P bash -c 'TIMEFORMAT=%%U+%%S; time $P -m -j 1 h0 h1' "
	       "> got 2> cpu && wait && printf '1\\n2\\n3\\n' | cmp - got && "
	       "python3 -c 'import sys; t = open(\"cpu\").read(); "
	       "sys.exit(eval(t) > 0.5)' && echo ok");
}
END_TEST

/*
 * Windows and --check-order on streams: --until ends a live stream at its
 * first record past the window (the writer is still there); --since skips
 * what comes before; disorder in a FIFO with --check-order fails it, -o
 * left as it was.
 */
START_TEST(test_streams_window_and_order)
{
	put("a", "2025-05-01T08:05:00Z a1\n2025-05-01T09:30:00Z a2\n");
	EXPECT(0,
	       "2025-05-01T08:05:00Z a1\n2025-05-01T08:10:00Z f1\n"
	       "  trace of f1\n0\n",
	       "mkfifo f && { { printf '2025-05-01T07:00:00Z f0\\n"
	       "2025-05-01T08:10:00Z f1\\n  trace of f1\\n"
	       "2025-05-01T09:00:00Z f2\\n'; exec sleep 60; } > f 2>&- & } "
	       "&& w=$! && timeout 20 $P -m --by-time "
	       "--since=2025-05-01T08:00Z --until=2025-05-01T09:00Z a f; "
	       "echo $?; kill $w");
	EXPECT(0, "2025-05-01T09:30:00Z a2\n",
	       "printf '2025-05-01T08:00:00Z s1\\n' | "
	       "$P -m --by-time --since=2025-05-01T09:00Z - a");
	/* -r: the window's far end is --since. */
	EXPECT(0, "2025-05-01T08:05:00Z a1\n0\n",
	       "mkfifo r && { { printf '2025-05-01T08:10:00Z r1\\n"
	       "2025-05-01T07:10:00Z r2\\n'; exec sleep 60; } > r 2>&- & } "
	       "&& w=$! && tac a > ra && timeout 20 $P -m -r --by-time "
	       "--since=2025-05-01T08:00Z --until=2025-05-01T08:07Z ra r; "
	       "echo $?; kill $w");
	EXPECT(
	    0, "1\nold\npmerge: g:2: disorder\n",
	    "echo old > out && mkfifo g && "
	    "{ printf '2025-05-01T08:10:00Z g1\\n2025-05-01T08:00:00Z g2\\n' "
	    "> g & } && $P -m --by-time --check-order a g -o out 2>err; "
	    "echo $?; wait; cat out err");
	EXPECT(0, "1\npmerge: -:3: disorder\n",
	       "printf 'a\\nc\\nb\\n' | $P -m --check-order - a > /dev/null "
	       "2>err; echo $?; cat err");
}
END_TEST

START_TEST(test_usage_errors)
{
	EXPECT(2, "", "$P -k1 a 2>/dev/null");
	EXPECT(2, "", "$P -m -k0 a 2>/dev/null");
	EXPECT(2, "", "$P -m -k1,1f a 2>/dev/null");
	EXPECT(2, "", "$P -m -t ab a 2>/dev/null");
	EXPECT(2, "", "$P -m --by-time -k1 a 2>/dev/null");
	EXPECT(2, "", "$P -m -u file a 2>/dev/null");
	EXPECT(2, "", "$P -m --order=input a 2>/dev/null");
	EXPECT(0, "pmerge: invalid key '1.0': character offset is zero\n2\n",
	       "$P -m -k1.0 a 2>e; s=$?; head -1 e; echo $s");
}
END_TEST

START_TEST(test_stats)
{
	put("a", "1\n3\n");
	put("b", "2\n");
	EXPECT(0, "ok\n",
	       "$P -m a b --stats=json 2>s >/dev/null && python3 -c '"
	       "import json,sys; d=json.load(open(\"s\")); s=d[\"sorted\"]; "
	       "assert d[\"records\"] == 3, d; assert s[\"chunks\"] == 2, s; "
	       "assert all(k in s for k in (\"merger_wait_ns\", "
	       "\"worker_idle_ns\", \"worker_read_ns\", "
	       "\"merger_write_ns\")); print(\"ok\")'");
	EXPECT(0, "1\n",
	       "$P -m a b --stats 2>&1 >/dev/null | grep -c "
	       "'merger waited for input'");
}
END_TEST

/* -------------------------------------------------------- many inputs */

START_TEST(test_ten_thousand_inputs_low_fd_limit)
{
	/* Input i holds i, i + 10000, ...: the merge counts up. */
	EXPECT(0, "ok\n",
	       "mkdir m && cd m && awk 'BEGIN { for (i = 0; i < 10000; i++) "
	       "{ f = sprintf(\"%%05d\", i); for (k = 0; k < 3; k++) "
	       "printf \"%%06d\\n\", i + 10000 * k > f; close(f) } }' && "
	       "(ulimit -n 256 && $P -m -n -j4 * > ../out) && cd .. && "
	       "seq -f %%06g 0 29999 | cmp - out && "
	       "test $(ls | wc -l) -eq 2 && echo ok");
}
END_TEST

/*
 * The read-ahead bound (README, man page): 32 MiB for all inputs, plus one
 * chunk per input (32 MiB / (8 x 256) = 16 KiB and its records' keys, here
 * under 32 KiB), plus the 1 MiB output buffer and the merger's two lists
 * of record slices (2 MiB allowed for both).  256 inputs of 512 KiB
 * each would all fit in the old, unbounded chunks (about 200 MiB); the
 * child's peak RSS may exceed the bound by 16 MiB for the program itself.
 */
START_TEST(test_read_ahead_bound)
{
	EXPECT(0, "ok\n",
	       "mkdir m && cd m && awk 'BEGIN { for (f = 0; f < 256; f++) { "
	       "n = sprintf(\"%%03d\", f); for (i = 0; i < 12000; i++) "
	       "printf \"%%09d %%03d xxxxxxxxxxxxxxxxxxxxxxxxxxxxx\\n\", "
	       "i * 256 + f, f > n; close(n) } }' && cd .. && "
	       "python3 -c '"
	       "import json, resource, subprocess, sys, glob\n"
	       "names = sorted(glob.glob(\"m/*\"))\n"
	       "assert sum(__import__(\"os\").path.getsize(n) for n in names)"
	       " > 128 << 20\n"
	       "p = subprocess.run([sys.argv[1], \"-m\", \"-o\", \"out\", "
	       "\"--stats=json\"] + names, stderr=subprocess.PIPE)\n"
	       "assert p.returncode == 0, p\n"
	       "peak = json.loads(p.stderr)[\"sorted\"][\"read_ahead_peak\"]\n"
	       "bound = (32 << 20) + 256 * (32 << 10)\n"
	       "assert 0 < peak <= bound, (peak, bound)\n"
	       "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
	       "assert rss <= (bound + (2 << 20) + (16 << 20)) >> 10, rss\n"
	       "print(\"ok\")' \"$P\" && sort -m -s m/* | cmp - out");
}
END_TEST

/* ------------------------------------------------------------- stress */

/*
 * Small chunks (-B 4K) and many inputs make the readers and the merger hand
 * over thousands of chunks; every -j must give sort's output.  Run under
 * TSan in the stress suite.
 */
START_TEST(test_stress_handover)
{
	EXPECT(0, "ok\n",
	       "awk 'BEGIN { srand(11); for (i = 0; i < 60000; i++) "
	       "printf \"%%d k%%d %%s\\n\", int(rand()*100000), "
	       "int(rand()*20), substr(\"abcdefghijklmnopqrstuvwxyz\", 1, "
	       "int(rand()*26)) }' > all && split -n l/64 all part && "
	       "for f in part*; do sort -s -k2,2 -k1,1n $f > s.$f; done && "
	       "sort -m -s -k2,2 -k1,1n s.* > want && "
	       "for j in 1 2 3 8; do $P -m -B 4K -j $j -k2,2 -k1,1n s.* > got "
	       "&& cmp want got || exit 1; done && "
	       "sort -m -s s.* > want && "
	       "for j in 1 5; do cat s.* | $P -m -B 4K -j $j - s.* > /dev/null "
	       "|| exit 2; $P -m -B 4K -j $j s.* | cmp - want || exit 3; done "
	       "&& echo ok");
	/* Records larger than a chunk, across inputs, by time. */
	EXPECT(
	    0, "ok\n",
	    "awk 'BEGIN { for (f = 0; f < 8; f++) for (i = 0; i < 300; i++) "
	    "{ t = i * 8 + f; printf \"1746086%%03d.%%03d rec %%d %%d\\n\", "
	    "int(t / 1000), t %% 1000, f, i > (\"t\" f); "
	    "for (k = 0; k < (i %% 7) * 40; k++) printf \"  at %%d %%d\\n\", "
	    "f, "
	    "i > (\"t\" f) } }' && cat t0 t1 t2 t3 t4 t5 t6 t7 | "
	    "awk '/ rec / { n++ } END { print n }' > count && "
	    "for j in 1 4; do $P -m --by-time -B 4K -j $j t? > got && "
	    "test $(grep -c ' rec ' got) -eq $(cat count) && "
	    "awk '/ rec / { f = $3; i = $4; if ($1 < last) exit 1; last = $1; "
	    "next } { if ($2 != f || $3 != i) exit 1 }' got || exit 1; "
	    "done && echo ok");
}
END_TEST

/*
 * Parked streams: eight FIFOs fed in turn in small pieces, small chunks,
 * fewer readers than streams; the readers park, poll and resume chunks
 * while the merger takes part-full ones.  Run under TSan in the stress
 * suite.
 */
START_TEST(test_stress_parked_streams)
{
	EXPECT(0, "ok\n",
	       "seq -f %%07g 0 159999 > want && for j in 1 3; do "
	       "rm -f f? && mkfifo f0 f1 f2 f3 f4 f5 f6 f7 && "
	       "{ awk 'BEGIN { for (b = 0; b < 40; b++) for (k = 0; k < 8; "
	       "k++) { f = \"f\" k; for (i = b * 500; i < (b + 1) * 500; "
	       "i++) printf \"%%07d\\n\", 8 * i + k > f; fflush(f) } }' & } "
	       "&& timeout 120 $P -m -B 4K -j $j f? > got && wait && "
	       "cmp want got || exit 1; done && echo ok");
}
END_TEST

/* A stop signal ends a merge blocked on a FIFO promptly, -o untouched. */
START_TEST(test_stress_stop_signal)
{
	EXPECT(0, "143\nold\nclean\n",
	       "echo old > out; mkfifo f; sleep 30 > f & w=$!; "
	       "seq 1 100000 > a; $P -m -B 4K a f -o out & p=$!; "
	       "sleep 0.5; kill -TERM $p; wait $p; echo $?; kill $w; cat out; "
	       "test $(ls -A | wc -l) -eq 3 && echo clean");
}
END_TEST

int main(int argc, char **argv)
{
	const char *group = argc > 1 ? argv[1] : "main";
	Suite *s = suite_create("sorted");
	TCase *tc = tcase_create(group);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	if (strcmp(group, "many") == 0) {
		tcase_add_test(tc, test_ten_thousand_inputs_low_fd_limit);
	} else if (strcmp(group, "bound") == 0) {
		tcase_add_test(tc, test_read_ahead_bound);
	} else if (strcmp(group, "stress") == 0) {
		tcase_add_test(tc, test_stress_handover);
		tcase_add_test(tc, test_stress_stop_signal);
		tcase_add_test(tc, test_stress_parked_streams);
	} else {
		tcase_add_test(tc, test_property_against_sort);
		tcase_add_test(tc, test_property_large);
		tcase_add_test(tc, test_every_format_mixed_zones);
		tcase_add_test(tc, test_subsecond_and_ties);
		tcase_add_test(tc, test_records_stay_whole);
		tcase_add_test(tc, test_since_until);
		tcase_add_test(tc, test_disorder);
		tcase_add_test(tc, test_zero_tag_stdin_fifo);
		tcase_add_test(tc, test_decompress);
		tcase_add_test(tc, test_compress_output);
		tcase_add_test(tc, test_stream_named_twice);
		tcase_add_test(tc, test_streams_fed_in_turn);
		tcase_add_test(tc, test_streams_window_and_order);
		tcase_add_test(tc, test_usage_errors);
		tcase_add_test(tc, test_stats);
	}
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
