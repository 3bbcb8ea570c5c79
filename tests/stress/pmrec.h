/*
 * The stress record format, shared by the generator (pmgen) and the checker
 * (pmverify) so that both derive the same bytes from the same numbers.
 *
 * A record is "S<src> <seq> <len> <payload><term>" where payload is exactly
 * len bytes computed from (src, seq) alone.  Because the payload can be
 * recomputed, a checker reading a merged output can tell a torn or fused
 * record from a good one without having seen the inputs.
 *
 * The payload alphabet has 64 printable characters including the space, so
 * that a parser cannot lean on spaces and must honour len.  In
 * NUL-terminated mode the last letter is replaced by '\n', which makes line
 * framing wrong on purpose: only NUL framing keeps such records whole.
 */
#ifndef PMREC_H
#define PMREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static const char pmrec_alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 _";

/* A stateless 64-bit mixer (splitmix64's finaliser). */
static inline uint64_t pmrec_mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

/*
 * The payload byte stream of one record.  Bytes are produced in order, so a
 * record of any size can be generated or checked in pieces.
 */
struct pmrec_payload {
	uint64_t state;
	uint64_t word;
	unsigned left; /* unused bytes in word */
	char last;     /* what the 64th letter becomes */
};

static inline void pmrec_payload_init(struct pmrec_payload *p, uint64_t src,
                                      uint64_t seq, bool zero_terminated)
{
	p->state = pmrec_mix(src * 0x100000001B3ull ^ pmrec_mix(seq));
	p->word = 0;
	p->left = 0;
	p->last = zero_terminated ? '\n' : '_';
}

/* Writes the next n payload bytes into out. */
static inline void pmrec_payload_fill(struct pmrec_payload *p, char *out,
                                      size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p->left == 0) {
			p->state += 0x9E3779B97F4A7C15ull;
			p->word = pmrec_mix(p->state);
			p->left = 8;
		}
		unsigned v = (unsigned)(p->word & 63u);
		p->word >>= 8;
		p->left--;
		out[i] = v == 63 ? p->last : pmrec_alphabet[v];
	}
}

/* How pmgen chooses record lengths; every choice is a function of seq. */
struct pmrec_lengths {
	uint64_t seed;
	uint64_t short_max;   /* short records: 0..short_max bytes */
	uint64_t long_max;    /* long records: short_max+1..long_max bytes */
	double long_fraction; /* share of long records, 0..1 */
	int64_t fixed;        /* >= 0: every record has this length */
};

static inline uint64_t pmrec_length(const struct pmrec_lengths *l, uint64_t src,
                                    uint64_t seq)
{
	if (l->fixed >= 0)
		return (uint64_t)l->fixed;
	uint64_t h = pmrec_mix(l->seed ^ pmrec_mix(src ^ pmrec_mix(seq)));
	/* The top 53 bits give a uniform double in [0, 1). */
	double u = (double)(h >> 11) / 9007199254740992.0;
	uint64_t r = pmrec_mix(h);
	if (u < l->long_fraction && l->long_max > l->short_max)
		return l->short_max + 1 + r % (l->long_max - l->short_max);
	return r % (l->short_max + 1);
}

/* Bytes of the header "S<src> <seq> <len> " for the given numbers. */
static inline uint64_t pmrec_digits(uint64_t v)
{
	uint64_t d = 1;
	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

static inline uint64_t pmrec_header_len(uint64_t src, uint64_t seq,
                                        uint64_t len)
{
	return 1 + pmrec_digits(src) + 1 + pmrec_digits(seq) + 1 +
	       pmrec_digits(len) + 1;
}

#endif /* PMREC_H */
