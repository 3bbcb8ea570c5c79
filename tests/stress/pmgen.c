/*
 * pmgen: writes the stress records of one source (see pmrec.h) to standard
 * output or a file.  The stress suite runs it to fill regular files and, in
 * burst mode, as a slow producer behind a FIFO.
 *
 * Every byte it writes follows from its options, so "--info" can tell the
 * suite how large the output will be without writing it.
 */
#include "pmrec.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* pmerge's default buffer: the suite wants records longer than this. */
#define PMGEN_BUFFER_MARK (128u * 1024u)

struct gen {
	int fd;
	char buf[64 * 1024];
	size_t used;
	uint64_t written;
};

static void die(const char *what)
{
	fprintf(stderr, "pmgen: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage_error(const char *msg)
{
	fprintf(stderr, "pmgen: %s\n", msg);
	fprintf(stderr,
	        "usage: pmgen -s SRC -n COUNT [-S SEED] [-m SHORT_MAX] "
	        "[-M LONG_MAX] [-L LONG_FRACTION]\n"
	        "             [-F FIXED_LEN] [-b BURST -d USEC] [-z] [-T] "
	        "[-o FILE] [--info]\n");
	exit(2);
}

static uint64_t parse_u64(const char *s, const char *what)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-')
		usage_error(what);
	return v;
}

static void gen_flush(struct gen *g)
{
	size_t off = 0;
	while (off < g->used) {
		ssize_t k = write(g->fd, g->buf + off, g->used - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			die("write");
		off += (size_t)k;
	}
	g->written += g->used;
	g->used = 0;
}

static void gen_put(struct gen *g, const char *data, size_t n)
{
	while (n > 0) {
		size_t room = sizeof(g->buf) - g->used;
		size_t k = n < room ? n : room;
		memcpy(g->buf + g->used, data, k);
		g->used += k;
		data += k;
		n -= k;
		if (g->used == sizeof(g->buf))
			gen_flush(g);
	}
}

/*
 * Streams the payload straight into the buffer so that a record of any
 * length (the memory test uses 200 MB) needs no more than the buffer.
 */
static void gen_payload(struct gen *g, uint64_t src, uint64_t seq, uint64_t len,
                        bool zero)
{
	struct pmrec_payload p;
	pmrec_payload_init(&p, src, seq, zero);
	while (len > 0) {
		size_t room = sizeof(g->buf) - g->used;
		size_t k = len < room ? (size_t)len : room;
		pmrec_payload_fill(&p, g->buf + g->used, k);
		g->used += k;
		len -= k;
		if (g->used == sizeof(g->buf))
			gen_flush(g);
	}
}

static void sleep_us(uint64_t us)
{
	struct timespec ts = {(time_t)(us / 1000000),
	                      (long)(us % 1000000) * 1000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"source", required_argument, NULL, 's'},
	    {"count", required_argument, NULL, 'n'},
	    {"seed", required_argument, NULL, 'S'},
	    {"short-max", required_argument, NULL, 'm'},
	    {"long-max", required_argument, NULL, 'M'},
	    {"long-fraction", required_argument, NULL, 'L'},
	    {"fixed", required_argument, NULL, 'F'},
	    {"burst", required_argument, NULL, 'b'},
	    {"delay", required_argument, NULL, 'd'},
	    {"zero-terminated", no_argument, NULL, 'z'},
	    {"unterminated", no_argument, NULL, 'T'},
	    {"output", required_argument, NULL, 'o'},
	    {"info", no_argument, NULL, 'i'},
	    {NULL, 0, NULL, 0},
	};
	struct pmrec_lengths lens = {.seed = 1,
	                             .short_max = 200,
	                             .long_max = 200 * 1024,
	                             .long_fraction = 0.0,
	                             .fixed = -1};
	uint64_t src = 0, count = 0, burst = 0, delay_us = 2000;
	bool have_src = false, have_count = false, zero = false;
	bool unterminated = false, info = false;
	const char *output = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "s:n:S:m:M:L:F:b:d:zTo:", opts,
	                        NULL)) != -1) {
		switch (c) {
		case 's':
			src = parse_u64(optarg, "bad --source");
			have_src = true;
			break;
		case 'n':
			count = parse_u64(optarg, "bad --count");
			have_count = true;
			break;
		case 'S':
			lens.seed = parse_u64(optarg, "bad --seed");
			break;
		case 'm':
			lens.short_max = parse_u64(optarg, "bad --short-max");
			break;
		case 'M':
			lens.long_max = parse_u64(optarg, "bad --long-max");
			break;
		case 'L': {
			char *end;
			lens.long_fraction = strtod(optarg, &end);
			if (end == optarg || *end || lens.long_fraction < 0 ||
			    lens.long_fraction > 1)
				usage_error("bad --long-fraction");
			break;
		}
		case 'F':
			lens.fixed = (int64_t)parse_u64(optarg, "bad --fixed");
			break;
		case 'b':
			burst = parse_u64(optarg, "bad --burst");
			break;
		case 'd':
			delay_us = parse_u64(optarg, "bad --delay");
			break;
		case 'z':
			zero = true;
			break;
		case 'T':
			unterminated = true;
			break;
		case 'o':
			output = optarg;
			break;
		case 'i':
			info = true;
			break;
		default:
			usage_error("bad option");
		}
	}
	if (optind != argc)
		usage_error("unexpected operand");
	if (!have_src || !have_count)
		usage_error("--source and --count are required");

	const char term = zero ? '\0' : '\n';

	if (info) {
		/*
		 * The same lengths as the writing path below, summed instead
		 * of written: the suite's expected byte totals come from here.
		 */
		uint64_t bytes = 0, max = 0, over = 0;
		for (uint64_t seq = 0; seq < count; seq++) {
			uint64_t len = pmrec_length(&lens, src, seq);
			uint64_t rec =
			    pmrec_header_len(src, seq, len) + len +
			    (unterminated && seq + 1 == count ? 0 : 1);
			bytes += rec;
			if (rec > max)
				max = rec;
			if (rec > PMGEN_BUFFER_MARK)
				over++;
		}
		printf("bytes=%" PRIu64 " records=%" PRIu64
		       " max_record=%" PRIu64 " over_buffer=%" PRIu64 "\n",
		       bytes, count, max, over);
		return 0;
	}

	static struct gen g;
	g.fd = 1;
	if (output) {
		/*
		 * Opening a FIFO for writing blocks until its reader opens
		 * it, which is what a slow producer behind a FIFO should do.
		 */
		g.fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		            0644);
		if (g.fd < 0)
			die(output);
	}

	for (uint64_t seq = 0; seq < count; seq++) {
		uint64_t len = pmrec_length(&lens, src, seq);
		char head[96];
		int hn = snprintf(head, sizeof(head),
		                  "S%" PRIu64 " %" PRIu64 " %" PRIu64 " ", src,
		                  seq, len);
		gen_put(&g, head, (size_t)hn);
		gen_payload(&g, src, seq, len, zero);
		if (!(unterminated && seq + 1 == count))
			gen_put(&g, &term, 1);
		if (burst && (seq + 1) % burst == 0 && seq + 1 < count) {
			/*
			 * Hand the burst to the reader, then go quiet: the
			 * merger sees records arrive in pieces and pauses.
			 */
			gen_flush(&g);
			sleep_us(delay_us);
		}
	}
	gen_flush(&g);
	if (output && close(g.fd) < 0)
		die(output);
	return 0;
}
