/*
 * GNU-style quoting of names for messages (see quote.h).  Two passes over
 * the name: the first decides the form (as is, double quotes, single
 * quotes), the second writes it into a buffer sized for the worst case.
 */
#include "quote.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <wctype.h>

static char no_memory[] = "'?'";

/* Bytes that make a shell (or a reader) see something else: quoted. */
static bool special(unsigned char c)
{
	return c != '\0' && strchr(" !\"$&'()*;<=>?[\\^`|:", c) != NULL;
}

/* Bytes that double quotes would not keep as they are. */
static bool dq_unsafe(unsigned char c)
{
	return c != '\0' && strchr("!\"$&()*;<=>?[\\^`|#~{}", c) != NULL;
}

/*
 * The length of the printable character at p (1 for a printable ASCII
 * byte, the length of a printable multibyte character), or 0 when the
 * byte at p must be escaped.  len is what is left of the name.
 */
static size_t printable(const char *p, size_t len)
{
	unsigned char c = (unsigned char)*p;
	mbstate_t st;
	wchar_t wc;
	size_t n;

	if (c < 0x80)
		return c >= 0x20 && c < 0x7f;
	if (MB_CUR_MAX == 1)
		return 0;
	memset(&st, 0, sizeof(st));
	n = mbrtowc(&wc, p, len, &st);
	if (n == 0 || n == (size_t)-1 || n == (size_t)-2 || !iswprint(wc))
		return 0;
	return n;
}

/* What a byte that is not printable is written as, inside $'...'. */
static size_t put_escape(char *out, unsigned char c)
{
	static const char named[] = "\aa\bb\ff\nn\rr\tt\vv";
	const char *k = c ? memchr(named, c, sizeof(named) - 1) : NULL;

	out[0] = '\\';
	if (k && (k - named) % 2 == 0) {
		out[1] = k[1];
		return 2;
	}
	out[1] = (char)('0' + (c >> 6));
	out[2] = (char)('0' + ((c >> 3) & 7));
	out[3] = (char)('0' + (c & 7));
	return 4;
}

static char *quote(const char *name, bool always)
{
	size_t len = strlen(name), n;
	bool quote = always || len == 0 || name[0] == '#' || name[0] == '~' ||
	             strcmp(name, "{") == 0 || strcmp(name, "}") == 0;
	bool dq = true, has_sq = false, esc = false;
	char *out, *o;

	for (size_t i = 0; i < len; i += n) {
		unsigned char c = (unsigned char)name[i];

		n = printable(name + i, len - i);
		if (n == 0) {
			quote = true, dq = false, n = 1;
			continue;
		}
		quote |= special(c);
		dq &= !dq_unsafe(c);
		has_sq |= c == '\'';
	}
	/* The worst case: every byte "'$'\ooo''" apart, or "'\''" each. */
	out = malloc(quote ? 10 * len + 3 : len + 1);
	if (!out)
		return no_memory;
	if (!quote) {
		memcpy(out, name, len + 1);
		return out;
	}
	o = out;
	if (has_sq && dq) {
		*o++ = '"';
		memcpy(o, name, len);
		o += len;
		*o++ = '"';
		*o = '\0';
		return out;
	}
	*o++ = '\'';
	for (size_t i = 0; i < len; i += n) {
		n = printable(name + i, len - i);
		if (n == 0) {
			if (!esc)
				memcpy(o, "'$'", 3), o += 3;
			esc = true;
			o += put_escape(o, (unsigned char)name[i]);
			n = 1;
			continue;
		}
		if (esc)
			memcpy(o, "''", 2), o += 2;
		esc = false;
		if (name[i] == '\'') {
			memcpy(o, "'\\''", 4), o += 4;
		} else {
			memcpy(o, name + i, n);
			o += n;
		}
	}
	*o++ = '\'';
	*o = '\0';
	return out;
}

char *pm_quote(const char *name)
{
	return quote(name, false);
}

char *pm_quote_always(const char *name)
{
	return quote(name, true);
}

void pm_quote_free(char *quoted)
{
	if (quoted != no_memory)
		free(quoted);
}
