/* Record framing: where complete records end, and --tag prefixes. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize")
#endif
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t pm_lines_complete(const char *buf, size_t len, char term)
{
	const char *p = memrchr(buf, term, len);
	return p ? (size_t)(p - buf) + 1 : 0;
}

size_t pm_lines_skip(char *buf, size_t len, char term, uint64_t *skip)
{
	size_t cut = 0;

	while (*skip > 0 && cut < len) {
		const char *t = memchr(buf + cut, term, len - cut);

		if (!t) {
			cut = len;
			break;
		}
		cut = (size_t)(t - buf) + 1;
		(*skip)--;
	}
	memmove(buf, buf + cut, len - cut);
	return len - cut;
}

/* 16 bytes compared at once (SSE2, NEON; the compiler splits it where
 * vectors are narrower). */
typedef unsigned char pm_bytes16 __attribute__((vector_size(16)));

size_t pm_lines_count(const char *buf, size_t len, char term)
{
	const unsigned char *p = (const unsigned char *)buf;
	const pm_bytes16 want = (pm_bytes16){0} + (unsigned char)term;
	size_t n = 0;

	/*
	 * Four 16-byte compares a step into four byte counters per lane; a
	 * counter takes at most 255 steps before it is summed and cleared.
	 * Short lines make memchr() calls dominate, and a byte loop that the
	 * compiler vectorises sums its lanes every 255 bytes: this one runs
	 * at the speed of the loads.
	 */
	while (len >= 64) {
		size_t steps = len / 64 < 255 ? len / 64 : 255;
		pm_bytes16 c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0};

		for (size_t i = 0; i < steps; i++, p += 64) {
			pm_bytes16 v0, v1, v2, v3;

			memcpy(&v0, p, 16);
			memcpy(&v1, p + 16, 16);
			memcpy(&v2, p + 32, 16);
			memcpy(&v3, p + 48, 16);
			/* A lane that matches compares as all ones: -1. */
			c0 -= (pm_bytes16)(v0 == want);
			c1 -= (pm_bytes16)(v1 == want);
			c2 -= (pm_bytes16)(v2 == want);
			c3 -= (pm_bytes16)(v3 == want);
		}
		for (int k = 0; k < 16; k++)
			n += (size_t)c0[k] + c1[k] + c2[k] + c3[k];
		len -= steps * 64;
	}
	for (size_t i = 0; i < len; i++)
		n += p[i] == (unsigned char)term;
	return n;
}

size_t pm_lines_tag_iov(const char *buf, size_t len, char term, const char *tag,
                        size_t tag_len, struct iovec *iov, size_t max,
                        size_t *used, uint64_t *out_bytes)
{
	size_t n = 0, pos = 0;

	*out_bytes = 0;
	if (tag_len == 0) {
		/* Without a tag the complete records go out as one piece. */
		if (len > 0 && max > 0) {
			iov[0].iov_base = (void *)buf;
			iov[0].iov_len = len;
			n = 1;
			pos = len;
			*out_bytes = len;
		}
		*used = pos;
		return n;
	}
	while (pos < len && n + 2 <= max) {
		const char *e = memchr(buf + pos, term, len - pos);
		size_t rec = e ? (size_t)(e - (buf + pos)) + 1 : len - pos;

		iov[n].iov_base = (void *)tag;
		iov[n].iov_len = tag_len;
		iov[n + 1].iov_base = (void *)(buf + pos);
		iov[n + 1].iov_len = rec;
		n += 2;
		pos += rec;
		*out_bytes += tag_len + rec;
	}
	*used = pos;
	return n;
}

char *pmerge_tag_make(const char *name, size_t *len)
{
	size_t cap = strlen(name) * 4 + 2, n = 0;
	char *t = malloc(cap);

	if (!t)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (*p == '\t') {
			t[n++] = '\\';
			t[n++] = 't';
		} else if (*p == '\n') {
			t[n++] = '\\';
			t[n++] = 'n';
		} else if (*p == '\\') {
			t[n++] = '\\';
			t[n++] = '\\';
		} else if (*p < 0x20 || *p == 0x7f) {
			n += (size_t)snprintf(t + n, cap - n, "\\%03o", *p);
		} else {
			t[n++] = (char)*p;
		}
	}
	t[n++] = '\t';
	t[n] = '\0';
	*len = n;
	return t;
}

/* Twelve distinct terminal colours: red..cyan, then their bright forms. */
static const unsigned char tag_colors[] = {31, 32, 33, 34, 35, 36,
                                           91, 92, 93, 94, 95, 96};

char *pm_tag_for(const struct pmerge_config *cfg, size_t idx, size_t *len)
{
	const char *name = idx < cfg->n_labels && cfg->labels[idx]
	                       ? cfg->labels[idx]
	                       : cfg->inputs[idx];
	char *plain = pmerge_tag_make(name, len), *t;
	uint32_t h = 2166136261u;

	if (!plain || !cfg->color)
		return plain;
	/* FNV-1a of the name: the same input gets the same colour on every
	 * run, whatever its position. */
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	t = malloc(*len + 16);
	if (t)
		*len = (size_t)sprintf(t, "\033[%um%.*s\033[m\t",
		                       tag_colors[h % sizeof(tag_colors)],
		                       (int)(*len - 1), plain);
	free(plain);
	return t;
}
