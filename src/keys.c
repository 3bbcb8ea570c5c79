/*
 * Sort keys with GNU sort's meaning in the C locale: -k KEYDEF, -t SEP, -n,
 * -r.  Without -t a field is a run of blanks followed by a run of
 * non-blanks (its leading blanks belong to it); with -t each separator ends
 * a field.  Blanks are space and tab, and newline (which only a record of
 * -z can hold), as in sort.
 */
#include "sorted.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static inline bool is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

static inline bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* A field or character count: digits, SIZE_MAX when too large. */
static const char *parse_count(const char *s, size_t *out, bool *ok)
{
	size_t v = 0;

	*ok = is_digit((unsigned char)*s);
	for (; is_digit((unsigned char)*s); s++) {
		size_t d = (size_t)(*s - '0');
		v = v > (SIZE_MAX - d) / 10 ? SIZE_MAX : v * 10 + d;
	}
	*out = v;
	return s;
}

/* The ordering letters after a position: b (for that position), n, r. */
static const char *parse_opts(const char *s, struct pm_keydef *k, bool start)
{
	for (;; s++) {
		switch (*s) {
		case 'b':
			if (start)
				k->skip_start_blanks = true;
			else
				k->skip_end_blanks = true;
			break;
		case 'n':
			k->numeric = true;
			break;
		case 'r':
			k->reverse = true;
			break;
		default:
			return s;
		}
	}
}

int pm_keydef_parse(const char *text, struct pm_keydef *out, const char **why)
{
	struct pm_keydef k = {0};
	const char *s = text;
	bool ok;

	s = parse_count(s, &k.sword, &ok);
	if (!ok) {
		*why = "invalid number at field start";
		return -EINVAL;
	}
	if (k.sword-- == 0) {
		*why = "field number is zero";
		return -EINVAL;
	}
	if (*s == '.') {
		s = parse_count(s + 1, &k.schar, &ok);
		if (!ok) {
			*why = "invalid number after '.'";
			return -EINVAL;
		}
		if (k.schar-- == 0) {
			*why = "character offset is zero";
			return -EINVAL;
		}
	}
	if (k.sword == 0 && k.schar == 0)
		k.sword = SIZE_MAX;
	s = parse_opts(s, &k, true);
	if (*s != ',') {
		k.eword = SIZE_MAX;
		k.echar = 0;
	} else {
		s = parse_count(s + 1, &k.eword, &ok);
		if (!ok) {
			*why = "invalid number after ','";
			return -EINVAL;
		}
		if (k.eword-- == 0) {
			*why = "field number is zero";
			return -EINVAL;
		}
		if (*s == '.') {
			s = parse_count(s + 1, &k.echar, &ok);
			if (!ok) {
				*why = "invalid number after '.'";
				return -EINVAL;
			}
		}
		s = parse_opts(s, &k, false);
	}
	if (*s) {
		*why = strchr("dfghiMRV", *s) && *s
		           ? "ordering option not supported (only b, n, r)"
		           : "stray character in field spec";
		return -EINVAL;
	}
	*out = k;
	return 0;
}

/* A key with none of the options that decide an order takes the global
 * ones (sort does not count r here, but a key with r keeps its own). */
static bool has_own_options(const struct pm_keydef *k)
{
	return k->skip_start_blanks || k->skip_end_blanks || k->numeric ||
	       k->reverse;
}

int pm_keys_init(struct pm_keys *ks, const char *const *texts, size_t n,
                 int tab, bool numeric, bool reverse, const char **bad,
                 const char **why)
{
	int rc = 0;

	memset(ks, 0, sizeof(*ks));
	ks->tab = tab;
	ks->defs = calloc(n ? n : 1, sizeof(*ks->defs));
	if (!ks->defs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		rc = pm_keydef_parse(texts[i], &ks->defs[i], why);
		if (rc < 0) {
			*bad = texts[i];
			goto out;
		}
		if (!has_own_options(&ks->defs[i])) {
			ks->defs[i].numeric = numeric;
			ks->defs[i].reverse = reverse;
		}
	}
	ks->n = n;
	if (n == 0 && numeric) {
		/* sort -n without -k: the whole line is one numeric key. */
		ks->defs[0] = (struct pm_keydef){.sword = SIZE_MAX,
		                                 .eword = SIZE_MAX,
		                                 .numeric = true,
		                                 .reverse = reverse};
		ks->n = 1;
	} else if (n == 0) {
		ks->reverse = reverse;
	}
out:
	if (rc < 0)
		pm_keys_free(ks);
	return rc;
}

void pm_keys_free(struct pm_keys *ks)
{
	if (!ks)
		return;
	free(ks->defs);
	ks->defs = NULL;
	ks->n = 0;
}

/* Skips one field from p: with a separator, past it; else blanks, then
 * non-blanks. */
static uint32_t skip_field(const struct pm_keys *ks, const char *line,
                           uint32_t p, uint32_t lim, bool past_sep)
{
	if (ks->tab >= 0) {
		while (p < lim && (unsigned char)line[p] != ks->tab)
			p++;
		if (p < lim && past_sep)
			p++;
		return p;
	}
	while (p < lim && is_blank((unsigned char)line[p]))
		p++;
	while (p < lim && !is_blank((unsigned char)line[p]))
		p++;
	return p;
}

static uint32_t clamp_add(uint32_t p, size_t add, uint32_t lim)
{
	return add >= (size_t)(lim - p) ? lim : p + (uint32_t)add;
}

static uint32_t key_start(const struct pm_keys *ks, const struct pm_keydef *k,
                          const char *line, uint32_t len)
{
	uint32_t p = 0;

	if (k->sword != SIZE_MAX)
		for (size_t w = k->sword; p < len && w > 0; w--)
			p = skip_field(ks, line, p, len, true);
	if (k->skip_start_blanks)
		while (p < len && is_blank((unsigned char)line[p]))
			p++;
	return k->sword == SIZE_MAX ? p : clamp_add(p, k->schar, len);
}

static uint32_t key_limit(const struct pm_keys *ks, const struct pm_keydef *k,
                          const char *line, uint32_t len)
{
	size_t eword = k->eword, echar = k->echar;
	uint32_t p = 0;

	if (eword == SIZE_MAX)
		return len;
	if (echar == 0)
		eword++; /* up to the end of the end field */
	while (p < len && eword-- > 0)
		p = skip_field(ks, line, p, len, eword > 0 || echar > 0);
	if (echar != 0) {
		if (k->skip_end_blanks)
			while (p < len && is_blank((unsigned char)line[p]))
				p++;
		p = clamp_add(p, echar, len);
	}
	return p;
}

void pm_keys_spans(const struct pm_keys *ks, const char *line, uint32_t len,
                   uint32_t *spans)
{
	for (size_t i = 0; i < ks->n; i++) {
		uint32_t s = key_start(ks, &ks->defs[i], line, len);
		uint32_t l = key_limit(ks, &ks->defs[i], line, len);
		spans[2 * i] = s;
		spans[2 * i + 1] = l < s ? s : l;
	}
}

/* A number as sort -n reads it: sign, integer digits without leading
 * zeros, fraction digits without trailing zeros. */
struct number {
	bool negative;
	const char *ip, *fp;
	size_t ilen, flen;
};

static void number_read(const char *s, size_t len, struct number *n)
{
	size_t i = 0;

	memset(n, 0, sizeof(*n));
	while (i < len && is_blank((unsigned char)s[i]))
		i++;
	if (i < len && s[i] == '-') {
		n->negative = true;
		i++;
	}
	while (i < len && s[i] == '0')
		i++;
	n->ip = s + i;
	while (i < len && is_digit((unsigned char)s[i]))
		i++;
	n->ilen = (size_t)(s + i - n->ip);
	if (i < len && s[i] == '.') {
		i++;
		n->fp = s + i;
		while (i < len && is_digit((unsigned char)s[i]))
			i++;
		n->flen = (size_t)(s + i - n->fp);
		while (n->flen > 0 && n->fp[n->flen - 1] == '0')
			n->flen--;
	}
	if (n->ilen == 0 && n->flen == 0)
		n->negative = false; /* -0 is 0 */
}

static int magnitude_cmp(const struct number *a, const struct number *b)
{
	int d;

	if (a->ilen != b->ilen)
		return a->ilen < b->ilen ? -1 : 1;
	d = memcmp(a->ip, b->ip, a->ilen);
	if (d)
		return d;
	size_t m = a->flen < b->flen ? a->flen : b->flen;
	d = m ? memcmp(a->fp, b->fp, m) : 0;
	if (d)
		return d;
	return (a->flen > b->flen) - (a->flen < b->flen);
}

int pm_numcmp(const char *a, size_t alen, const char *b, size_t blen)
{
	struct number x, y;

	number_read(a, alen, &x);
	number_read(b, blen, &y);
	if (x.negative != y.negative)
		return x.negative ? -1 : 1;
	int d = magnitude_cmp(&x, &y);
	return x.negative ? -d : d;
}

static int bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t m = alen < blen ? alen : blen;
	int d = m ? memcmp(a, b, m) : 0;

	if (d)
		return d;
	return (alen > blen) - (alen < blen);
}

int pm_keys_compare(const struct pm_keys *ks, const char *a, uint32_t alen,
                    const uint32_t *sa, const char *b, uint32_t blen,
                    const uint32_t *sb)
{
	if (ks->n == 0) {
		int d = bytes_cmp(a, alen, b, blen);
		return ks->reverse ? -d : d;
	}
	for (size_t i = 0; i < ks->n; i++) {
		const struct pm_keydef *k = &ks->defs[i];
		const char *ka = a + sa[2 * i], *kb = b + sb[2 * i];
		size_t la = sa[2 * i + 1] - sa[2 * i];
		size_t lb = sb[2 * i + 1] - sb[2 * i];
		int d = k->numeric ? pm_numcmp(ka, la, kb, lb)
		                   : bytes_cmp(ka, la, kb, lb);
		if (d)
			return k->reverse ? (d < 0 ? 1 : -1) : d;
	}
	return 0;
}
