/*
 * pmverify: proves that a merged output holds exactly the stress records
 * that pmgen wrote (see pmrec.h), each whole, in order within its source.
 *
 *   pmverify [-z] [--tag] [--in-order] [--whole] [--bytes=N] [-i FILE]
 * SRC:COUNT[:NAME]...
 *
 * Every record must parse, carry exactly the payload its (src, seq, len)
 * implies and end with the terminator; each source's seqs must run 0..COUNT-1
 * with none lost, repeated or swapped; no source outside the list may
 * appear.  --bytes is the expected size of the records without --tag
 * prefixes: the sum of the sources plus any terminators the merger added.
 * With --tag each record is preceded by "NAME<TAB>", the same name for all
 * records of a source (exactly NAME when the operand gives one).  With
 * --in-order the sources must follow one another in operand order; with
 * --whole each source's records must be contiguous, in any source order
 * (what --unit=file promises with --order=arrival).
 *
 * The input is checked as a stream with fixed buffers, so a single record of
 * hundreds of megabytes costs no more memory than a short one.
 *
 * Exit status: 0 and a one-line summary on stdout when all is well; 1 and
 * the first problem (with its byte offset) on stderr; 2 for bad usage.
 */
#include "pmrec.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK        (256u * 1024u)
#define NAME_MAX_LEN 4096u

struct source {
	uint64_t id;
	uint64_t count;
	uint64_t next; /* the seq expected next */
	char *name;    /* tag expected, NULL until known */
	size_t name_len;
	bool name_fixed; /* given on the command line */
};

enum state {
	ST_TAG,
	ST_S,
	ST_SRC,
	ST_SEQ,
	ST_LEN,
	ST_PAYLOAD,
	ST_TERM,
};

struct verifier {
	bool zero, tag, in_order, whole;
	const struct source *last; /* --whole: the source of the last record */
	char term;
	struct source *src;
	size_t n_src;
	size_t order_pos; /* --in-order: the source now being read */

	enum state st;
	uint64_t offset;    /* of the byte being looked at */
	uint64_t record;    /* index of the record being parsed */
	uint64_t rec_start; /* offset of the record (after its tag) */
	uint64_t num;       /* number being parsed */
	unsigned num_digits;
	uint64_t r_src, r_seq, r_len, left;
	struct source *cur;
	struct pmrec_payload payload;
	char name[NAME_MAX_LEN];
	size_t name_len;

	uint64_t record_bytes; /* without tags */
	uint64_t total_bytes;
	uint64_t longest;
	char scratch[CHUNK];
};

static void fail(const struct verifier *v, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr,
	        "pmverify: offset %" PRIu64 " (record %" PRIu64
	        " starting at offset %" PRIu64 "): ",
	        v->offset, v->record, v->rec_start);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void usage_error(const char *msg)
{
	fprintf(stderr, "pmverify: %s\n", msg);
	fprintf(stderr, "usage: pmverify [-z] [--tag] [--in-order] [--whole] "
	                "[--bytes=N] [-q] [-i FILE] SRC:COUNT[:NAME]...\n");
	exit(2);
}

/* A byte as readable text for messages. */
static const char *show(int c, char *buf, size_t size)
{
	if (c < 0)
		snprintf(buf, size, "end of input");
	else if (c == '\n')
		snprintf(buf, size, "'\\n'");
	else if (c == '\0')
		snprintf(buf, size, "'\\0'");
	else if (c == '\t')
		snprintf(buf, size, "'\\t'");
	else if (c >= 0x20 && c < 0x7f)
		snprintf(buf, size, "'%c'", c);
	else
		snprintf(buf, size, "byte 0x%02x", (unsigned)c);
	return buf;
}

static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

static void parse_spec(struct source *s, const char *arg)
{
	const char *c1 = strchr(arg, ':');
	if (!c1)
		usage_error("a source is SRC:COUNT[:NAME]");
	const char *c2 = strchr(c1 + 1, ':');
	size_t count_len = c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1);
	memset(s, 0, sizeof(*s));
	if (!parse_u64(arg, (size_t)(c1 - arg), &s->id) ||
	    !parse_u64(c1 + 1, count_len, &s->count))
		usage_error("a source is SRC:COUNT[:NAME]");
	if (c2) {
		s->name = strdup(c2 + 1);
		if (!s->name)
			usage_error("out of memory");
		s->name_len = strlen(s->name);
		s->name_fixed = true;
	}
}

static struct source *find_source(struct verifier *v, uint64_t id)
{
	for (size_t i = 0; i < v->n_src; i++)
		if (v->src[i].id == id)
			return &v->src[i];
	return NULL;
}

/* Starts parsing a number after its field's opening byte. */
static void begin_number(struct verifier *v, enum state st)
{
	v->st = st;
	v->num = 0;
	v->num_digits = 0;
}

/*
 * Feeds one digit or the closing space of a number.  Numbers are written by
 * pmgen without leading zeros, so "007" is as wrong as "x".  Returns true
 * when the number is complete.
 */
static bool number_byte(struct verifier *v, int c, const char *field)
{
	char b[16];
	if (c == ' ' && v->num_digits > 0)
		return true;
	if (c < '0' || c > '9')
		fail(v, "expected a digit or ' ' in %s, got %s", field,
		     show(c, b, sizeof(b)));
	if (v->num_digits == 1 && v->num == 0)
		fail(v, "%s has a leading zero", field);
	if (v->num_digits >= 19)
		fail(v, "%s has too many digits", field);
	v->num = v->num * 10 + (uint64_t)(c - '0');
	v->num_digits++;
	return false;
}

/* The header is complete: check src, tag, order and seq. */
static void header_done(struct verifier *v)
{
	struct source *s = find_source(v, v->r_src);
	if (!s)
		fail(v, "record of unexpected source S%" PRIu64, v->r_src);
	if (v->tag) {
		if (!s->name) {
			s->name = malloc(v->name_len + 1);
			if (!s->name)
				fail(v, "out of memory");
			memcpy(s->name, v->name, v->name_len);
			s->name[v->name_len] = '\0';
			s->name_len = v->name_len;
		} else if (s->name_len != v->name_len ||
		           memcmp(s->name, v->name, v->name_len) != 0) {
			fail(v,
			     "S%" PRIu64 " %" PRIu64
			     " tagged '%.*s', expected '%s'",
			     v->r_src, v->r_seq, (int)v->name_len, v->name,
			     s->name);
		}
	}
	if (v->in_order) {
		size_t idx = (size_t)(s - v->src);
		while (v->order_pos < idx) {
			const struct source *p = &v->src[v->order_pos];
			if (p->next != p->count)
				fail(v,
				     "S%" PRIu64 " begins while S%" PRIu64
				     " has %" PRIu64 " of %" PRIu64
				     " records (--in-order)",
				     s->id, p->id, p->next, p->count);
			v->order_pos++;
		}
		if (v->order_pos > idx)
			fail(v,
			     "S%" PRIu64
			     " appears after a later source (--in-order)",
			     s->id);
	}
	if (v->whole && v->last && v->last != s) {
		if (v->last->next != v->last->count)
			fail(v,
			     "S%" PRIu64 " begins while S%" PRIu64
			     " has %" PRIu64 " of %" PRIu64
			     " records (--whole)",
			     s->id, v->last->id, v->last->next, v->last->count);
	}
	v->last = s;
	if (v->r_seq != s->next) {
		if (s->next >= s->count)
			fail(v,
			     "S%" PRIu64 " seq %" PRIu64 " after all %" PRIu64
			     " of its records were seen (duplicate or extra)",
			     s->id, v->r_seq, s->count);
		fail(v,
		     "S%" PRIu64 " seq %" PRIu64 ", expected seq %" PRIu64 "%s",
		     s->id, v->r_seq, s->next,
		     v->r_seq < s->next ? " (duplicate or reordered)"
		                        : " (records lost or reordered)");
	}
	if (s->next >= s->count)
		fail(v, "S%" PRIu64 " has more than %" PRIu64 " records", s->id,
		     s->count);
	s->next++;
	v->cur = s;
	v->left = v->r_len;
	pmrec_payload_init(&v->payload, v->r_src, v->r_seq, v->zero);
	v->st = v->left ? ST_PAYLOAD : ST_TERM;
}

/* Checks the payload bytes in data[0, n) against the generator. */
static void payload_bytes(struct verifier *v, const char *data, size_t n)
{
	pmrec_payload_fill(&v->payload, v->scratch, n);
	if (memcmp(v->scratch, data, n) != 0) {
		size_t i = 0;
		char b1[16], b2[16];
		while (data[i] == v->scratch[i])
			i++;
		v->offset += i;
		fail(v,
		     "payload of S%" PRIu64 " %" PRIu64 " (len %" PRIu64
		     ", record at offset %" PRIu64
		     ") differs at payload byte %" PRIu64
		     ": expected %s, got %s (torn or fused record)",
		     v->r_src, v->r_seq, v->r_len, v->rec_start,
		     v->r_len - v->left + i,
		     show((unsigned char)v->scratch[i], b1, sizeof(b1)),
		     show((unsigned char)data[i], b2, sizeof(b2)));
	}
}

static void start_record(struct verifier *v)
{
	v->st = v->tag ? ST_TAG : ST_S;
	v->name_len = 0;
	v->rec_start = v->offset;
}

static void feed(struct verifier *v, const char *buf, size_t n)
{
	size_t i = 0;
	char b[16];
	while (i < n) {
		if (v->st == ST_PAYLOAD) {
			size_t k = n - i;
			if (k > v->left)
				k = (size_t)v->left;
			payload_bytes(v, buf + i, k);
			i += k;
			v->offset += k;
			v->left -= k;
			if (v->left == 0)
				v->st = ST_TERM;
			continue;
		}
		int c = (unsigned char)buf[i];
		switch (v->st) {
		case ST_TAG:
			if (c == '\t') {
				v->st = ST_S;
				v->rec_start = v->offset + 1;
				break;
			}
			if (c == v->term)
				fail(v,
				     "record without a tag (no TAB before %s)",
				     show(c, b, sizeof(b)));
			if (v->name_len == NAME_MAX_LEN)
				fail(v, "tag longer than %u bytes",
				     NAME_MAX_LEN);
			v->name[v->name_len++] = (char)c;
			break;
		case ST_S:
			if (c != 'S')
				fail(v,
				     "expected 'S' starting a record, got %s",
				     show(c, b, sizeof(b)));
			begin_number(v, ST_SRC);
			break;
		case ST_SRC:
			if (number_byte(v, c, "src")) {
				v->r_src = v->num;
				begin_number(v, ST_SEQ);
			}
			break;
		case ST_SEQ:
			if (number_byte(v, c, "seq")) {
				v->r_seq = v->num;
				begin_number(v, ST_LEN);
			}
			break;
		case ST_LEN:
			if (number_byte(v, c, "len")) {
				v->r_len = v->num;
				header_done(v);
			}
			break;
		case ST_TERM: {
			char b2[16];
			if (c != v->term)
				fail(v,
				     "S%" PRIu64 " %" PRIu64 " (len %" PRIu64
				     ") should end here with %s, got %s "
				     "(record too long or fused)",
				     v->r_src, v->r_seq, v->r_len,
				     show(v->term, b, sizeof(b)),
				     show(c, b2, sizeof(b2)));
			uint64_t size = v->offset + 1 - v->rec_start;
			v->record_bytes += size;
			if (size > v->longest)
				v->longest = size;
			v->record++;
			v->offset++;
			start_record(v);
			i++;
			continue;
		}
		case ST_PAYLOAD:
			break;
		}
		i++;
		v->offset++;
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"zero-terminated", no_argument, NULL, 'z'},
	    {"tag", no_argument, NULL, 't'},
	    {"in-order", no_argument, NULL, 'O'},
	    {"whole", no_argument, NULL, 'W'},
	    {"bytes", required_argument, NULL, 'B'},
	    {"input", required_argument, NULL, 'i'},
	    {"quiet", no_argument, NULL, 'q'},
	    {NULL, 0, NULL, 0},
	};
	static struct verifier v;
	const char *input = NULL;
	bool have_bytes = false, quiet = false;
	uint64_t want_bytes = 0;
	int c;

	v.term = '\n';
	while ((c = getopt_long(argc, argv, "zi:q", opts, NULL)) != -1) {
		switch (c) {
		case 'z':
			v.zero = true;
			v.term = '\0';
			break;
		case 't':
			v.tag = true;
			break;
		case 'O':
			v.in_order = true;
			break;
		case 'W':
			v.whole = true;
			break;
		case 'B':
			if (!parse_u64(optarg, strlen(optarg), &want_bytes))
				usage_error("bad --bytes");
			have_bytes = true;
			break;
		case 'i':
			input = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		default:
			usage_error("bad option");
		}
	}
	if (optind == argc)
		usage_error("no sources given");
	v.n_src = (size_t)(argc - optind);
	v.src = calloc(v.n_src, sizeof(*v.src));
	if (!v.src)
		usage_error("out of memory");
	for (size_t i = 0; i < v.n_src; i++) {
		parse_spec(&v.src[i], argv[optind + (int)i]);
		for (size_t j = 0; j < i; j++)
			if (v.src[j].id == v.src[i].id)
				usage_error("a source is listed twice");
	}

	int fd = 0;
	if (input && strcmp(input, "-") != 0) {
		fd = open(input, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "pmverify: %s: %s\n", input,
			        strerror(errno));
			return 1;
		}
	}

	static char buf[CHUNK];
	start_record(&v);
	for (;;) {
		ssize_t k = read(fd, buf, sizeof(buf));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			fprintf(stderr, "pmverify: read: %s\n",
			        strerror(errno));
			return 1;
		}
		if (k == 0)
			break;
		v.total_bytes += (uint64_t)k;
		feed(&v, buf, (size_t)k);
	}

	bool between =
	    v.st == (v.tag ? ST_TAG : ST_S) && (!v.tag || v.name_len == 0);
	if (!between) {
		char b[16];
		if (v.st == ST_PAYLOAD || v.st == ST_TERM)
			fail(&v,
			     "input ends inside S%" PRIu64 " %" PRIu64
			     " (len %" PRIu64 ", %" PRIu64
			     " payload bytes missing, then %s)",
			     v.r_src, v.r_seq, v.r_len, v.left,
			     show(v.term, b, sizeof(b)));
		fail(&v, "input ends inside a record header");
	}
	for (size_t i = 0; i < v.n_src; i++) {
		const struct source *s = &v.src[i];
		if (s->next != s->count)
			fail(&v,
			     "S%" PRIu64 " ends after %" PRIu64
			     " records, expected %" PRIu64 " (records lost)",
			     s->id, s->next, s->count);
	}
	if (have_bytes && v.record_bytes != want_bytes)
		fail(&v, "records hold %" PRIu64 " bytes, expected %" PRIu64,
		     v.record_bytes, want_bytes);
	if (!quiet)
		printf("ok sources=%zu records=%" PRIu64 " bytes=%" PRIu64
		       " output_bytes=%" PRIu64 " longest=%" PRIu64 "\n",
		       v.n_src, v.record, v.record_bytes, v.total_bytes,
		       v.longest);
	return 0;
}
