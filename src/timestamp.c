/*
 * Timestamps for --by-time: recognise a line's stamp, turn it into
 * nanoseconds since the epoch (UTC).  A stamp without an offset is local
 * time (TZ); its offset is asked of mktime() once per local hour and kept,
 * so that the common case costs a few integer operations per line.
 */
#include "sorted.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define NS 1000000000LL

static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Civil fields of a stamp as read, before the zone is applied. */
struct civil {
	int64_t year;
	unsigned mon, day, hour, min, sec;
	int64_t frac_ns;
	bool has_offset;
	int64_t offset_s; /* east of UTC */
};

static inline bool dig(const char *s, size_t len, size_t i)
{
	return i < len && s[i] >= '0' && s[i] <= '9';
}

/* n digits at s[*i]; false (and *i unchanged) when they are not there. */
static bool digits(const char *s, size_t len, size_t *i, unsigned n,
                   unsigned *out)
{
	unsigned v = 0;

	for (unsigned k = 0; k < n; k++) {
		if (!dig(s, len, *i + k))
			return false;
		v = v * 10 + (unsigned)(s[*i + k] - '0');
	}
	*i += n;
	*out = v;
	return true;
}

/* Fraction digits after '.' or ',' at s[*i], if any: nanoseconds. */
static void fraction(const char *s, size_t len, size_t *i, int64_t *ns)
{
	int64_t v = 0, scale = NS;

	*ns = 0;
	if (!(*i < len && (s[*i] == '.' || s[*i] == ',') &&
	      dig(s, len, *i + 1)))
		return;
	(*i)++;
	for (; dig(s, len, *i); (*i)++)
		if (scale > 1) {
			scale /= 10;
			v += (s[*i] - '0') * scale;
		}
	*ns = v;
}

int64_t pm_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	/* Howard Hinnant's days_from_civil, for the proleptic calendar. */
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool civil_valid(const struct civil *c)
{
	return c->mon >= 1 && c->mon <= 12 && c->day >= 1 && c->day <= 31 &&
	       c->hour <= 24 && c->min <= 59 && c->sec <= 60;
}

/* Seconds since the epoch of the fields read as if they were UTC. */
static int64_t civil_naive(const struct civil *c)
{
	return pm_days_from_civil(c->year, c->mon, c->day) * 86400 +
	       (int64_t)c->hour * 3600 + (int64_t)c->min * 60 + c->sec;
}

/* The local offset at a naive local time, cached per hour. */
static int64_t local_offset(struct pm_ts_local *cache, int64_t naive)
{
	int64_t hour = naive >= 0 ? naive / 3600 : (naive - 3599) / 3600;
	struct tm tm;
	time_t t = (time_t)naive;

	if (cache->hour == hour)
		return cache->offset_s;
	gmtime_r(&t, &tm);
	tm.tm_isdst = -1;
	t = mktime(&tm);
	cache->hour = hour;
	cache->offset_s = t == (time_t)-1 ? 0 : naive - (int64_t)t;
	return cache->offset_s;
}

static int64_t civil_ns(const struct civil *c, struct pm_ts_local *cache)
{
	int64_t naive = civil_naive(c);
	int64_t off = c->has_offset ? c->offset_s : local_offset(cache, naive);
	return (naive - off) * NS + c->frac_ns;
}

/* Z, +hh:mm, +hhmm, +hh (after an optional space for the signed forms). */
static void zone(const char *s, size_t len, size_t *i, struct civil *c)
{
	size_t j = *i;
	unsigned h, m = 0;

	if (j < len && s[j] == 'Z') {
		c->has_offset = true;
		c->offset_s = 0;
		*i = j + 1;
		return;
	}
	if (j < len && s[j] == ' ')
		j++;
	if (!(j < len && (s[j] == '+' || s[j] == '-')))
		return;
	int sign = s[j] == '-' ? -1 : 1;
	j++;
	if (!digits(s, len, &j, 2, &h))
		return;
	if (j < len && s[j] == ':') {
		j++;
		if (!digits(s, len, &j, 2, &m))
			return;
	} else if (dig(s, len, j)) {
		if (!digits(s, len, &j, 2, &m))
			return;
	} else if (*i < len && s[*i] == ' ') {
		return; /* " -05" alone is too weak a sign of a zone */
	}
	if (h > 23 || m > 59 || dig(s, len, j))
		return;
	c->has_offset = true;
	c->offset_s = sign * (int64_t)(h * 3600 + m * 60);
	*i = j;
}

/*
 * yyyy-mm-dd[Thh:mm[:ss[.frac]][zone]] at s[*i].  With need_time a time
 * must follow the date.
 */
static bool iso(const char *s, size_t len, size_t *i, bool need_time,
                struct civil *c)
{
	size_t j = *i;
	unsigned y;

	memset(c, 0, sizeof(*c));
	if (!digits(s, len, &j, 4, &y) || j >= len || s[j] != '-')
		return false;
	j++;
	if (!digits(s, len, &j, 2, &c->mon) || j >= len || s[j] != '-')
		return false;
	j++;
	if (!digits(s, len, &j, 2, &c->day))
		return false;
	c->year = y;
	if (j + 1 < len && (s[j] == 'T' || s[j] == ' ') && dig(s, len, j + 1)) {
		j++;
		if (!digits(s, len, &j, 2, &c->hour) || j >= len || s[j] != ':')
			return false;
		j++;
		if (!digits(s, len, &j, 2, &c->min))
			return false;
		if (j < len && s[j] == ':') {
			j++;
			if (!digits(s, len, &j, 2, &c->sec))
				return false;
			fraction(s, len, &j, &c->frac_ns);
		}
		zone(s, len, &j, c);
	} else if (need_time) {
		return false;
	}
	if (!civil_valid(c))
		return false;
	*i = j;
	return true;
}

/* yyyy/mm/dd hh:mm:ss[.frac] at s[*i] (nginx's error log). */
static bool slash(const char *s, size_t len, size_t *i, struct civil *c)
{
	size_t j = *i;
	unsigned y;

	memset(c, 0, sizeof(*c));
	if (!digits(s, len, &j, 4, &y) || j >= len || s[j++] != '/' ||
	    !digits(s, len, &j, 2, &c->mon) || j >= len || s[j++] != '/' ||
	    !digits(s, len, &j, 2, &c->day) || j >= len ||
	    (s[j] != ' ' && s[j] != 'T'))
		return false;
	j++;
	if (!digits(s, len, &j, 2, &c->hour) || j >= len || s[j++] != ':' ||
	    !digits(s, len, &j, 2, &c->min) || j >= len || s[j++] != ':' ||
	    !digits(s, len, &j, 2, &c->sec))
		return false;
	fraction(s, len, &j, &c->frac_ns);
	c->year = y;
	*i = j;
	return civil_valid(c);
}

static int month_at(const char *s, size_t len, size_t i)
{
	if (i + 3 > len)
		return -1;
	for (int m = 0; m < 12; m++)
		if (memcmp(s + i, months[m], 3) == 0)
			return m + 1;
	return -1;
}

/* The year of a stamp that has none: the input's mtime year, or the year
 * before when that would put the stamp after the mtime. */
static void guess_year(const struct pm_ts *ts, struct civil *c)
{
	c->year = ts->syslog_year;
	if (civil_naive(c) > ts->syslog_limit_s)
		c->year--;
}

/* [<pri>]Mmm dd hh:mm:ss[.frac] at the line's start (RFC 3164). */
static bool syslog(const struct pm_ts *ts, const char *s, size_t len,
                   struct civil *c)
{
	size_t j = 0;
	int m;

	memset(c, 0, sizeof(*c));
	if (j < len && s[j] == '<') {
		size_t k = j + 1;
		while (dig(s, len, k) && k - j <= 3)
			k++;
		if (k == j + 1 || k >= len || s[k] != '>')
			return false;
		j = k + 1;
	}
	if ((m = month_at(s, len, j)) < 0 || j + 3 >= len || s[j + 3] != ' ')
		return false;
	j += 4;
	if (j < len && s[j] == ' ')
		j++;
	if (!dig(s, len, j))
		return false;
	c->day = (unsigned)(s[j++] - '0');
	if (dig(s, len, j))
		c->day = c->day * 10 + (unsigned)(s[j++] - '0');
	if (j >= len || s[j++] != ' ' || !digits(s, len, &j, 2, &c->hour) ||
	    j >= len || s[j++] != ':' || !digits(s, len, &j, 2, &c->min) ||
	    j >= len || s[j++] != ':' || !digits(s, len, &j, 2, &c->sec))
		return false;
	fraction(s, len, &j, &c->frac_ns);
	c->mon = (unsigned)m;
	guess_year(ts, c);
	return civil_valid(c);
}

/* [dd/Mmm/yyyy:hh:mm:ss zone] anywhere in the line (common log format). */
static bool clf(const char *s, size_t len, struct civil *c)
{
	const char *p = s, *end = s + len;

	while ((p = memchr(p, '[', (size_t)(end - p))) != NULL) {
		size_t j = (size_t)(p - s) + 1;
		unsigned y;
		int m;

		p++;
		memset(c, 0, sizeof(*c));
		if (!digits(s, len, &j, 2, &c->day) || j >= len ||
		    s[j++] != '/' || (m = month_at(s, len, j)) < 0)
			continue;
		j += 3;
		if (j >= len || s[j++] != '/' || !digits(s, len, &j, 4, &y) ||
		    j >= len || s[j++] != ':' ||
		    !digits(s, len, &j, 2, &c->hour) || j >= len ||
		    s[j++] != ':' || !digits(s, len, &j, 2, &c->min) ||
		    j >= len || s[j++] != ':' ||
		    !digits(s, len, &j, 2, &c->sec))
			continue;
		fraction(s, len, &j, &c->frac_ns);
		zone(s, len, &j, c);
		c->year = y;
		c->mon = (unsigned)m;
		if (civil_valid(c))
			return true;
	}
	return false;
}

/* Epoch seconds (9 to 11 digits, fractions allowed) or milliseconds (12 to
 * 14 digits) at the line's start. */
static bool epoch(const char *s, size_t len, size_t j, int64_t *ns)
{
	size_t k = j;
	int64_t v = 0, frac = 0;

	while (dig(s, len, k) && k - j < 15)
		v = v * 10 + (s[k++] - '0');
	size_t n = k - j;
	if (dig(s, len, k) || n < 9 || n > 14)
		return false;
	if (k < len && s[k] != ' ' && s[k] != '\t' && s[k] != '.' &&
	    s[k] != ',' && s[k] != ']' && s[k] != ':' && s[k] != '|')
		return false;
	if (n <= 11) {
		fraction(s, len, &k, &frac);
		*ns = v * NS + frac;
	} else {
		*ns = v * 1000000;
	}
	return true;
}

/* strptime() with %f (fraction digits) as an extension. */
static bool format(struct pm_ts *ts, const char *s, size_t len, int64_t *ns)
{
	char line[512], fmt[256];
	const char *f = ts->format, *pct = strstr(f, "%f");
	struct tm tm;
	struct civil c;
	char *p;
	size_t n = len < sizeof(line) - 1 ? len : sizeof(line) - 1;

	memcpy(line, s, n);
	line[n] = '\0';
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = INT_MIN;
	tm.tm_mday = 1;
	memset(&c, 0, sizeof(c));
	if (pct) {
		size_t head = (size_t)(pct - f);
		if (head >= sizeof(fmt))
			return false;
		memcpy(fmt, f, head);
		fmt[head] = '\0';
		p = strptime(line, fmt, &tm);
		if (!p || !dig(p, strlen(p), 0))
			return false;
		size_t j = 0;
		int64_t v = 0, scale = NS;
		for (; dig(p, strlen(p), j); j++)
			if (scale > 1) {
				scale /= 10;
				v += (p[j] - '0') * scale;
			}
		c.frac_ns = v;
		p = strptime(p + j, pct + 2, &tm);
	} else {
		p = strptime(line, f, &tm);
	}
	if (!p)
		return false;
	c.mon = (unsigned)tm.tm_mon + 1;
	c.day = (unsigned)tm.tm_mday;
	c.hour = (unsigned)tm.tm_hour;
	c.min = (unsigned)tm.tm_min;
	c.sec = (unsigned)tm.tm_sec;
	if (tm.tm_year == INT_MIN)
		guess_year(ts, &c);
	else
		c.year = (int64_t)tm.tm_year + 1900;
	if (strstr(f, "%z")) {
		c.has_offset = true;
		c.offset_s = tm.tm_gmtoff;
	}
	if (!civil_valid(&c))
		return false;
	*ns = civil_ns(&c, &ts->local);
	return true;
}

void pm_ts_init(struct pm_ts *ts, const char *fmt, time_t mtime)
{
	struct tm tm;

	memset(ts, 0, sizeof(*ts));
	ts->format = fmt;
	ts->kind = fmt ? PM_TS_FORMAT : PM_TS_UNKNOWN;
	ts->local.hour = INT64_MIN;
	localtime_r(&mtime, &tm);
	ts->syslog_year = tm.tm_year + 1900;
	/* A stamp more than a day after the mtime must be from last year
	 * (the slack covers a clock or zone that differs a little). */
	ts->syslog_limit_s = (int64_t)mtime + tm.tm_gmtoff + 86400;
}

bool pm_ts_parse_kind(struct pm_ts *ts, enum pm_ts_kind kind, const char *s,
                      size_t len, int64_t *ns)
{
	size_t i = len > 0 && s[0] == '[' ? 1 : 0;
	struct civil c;

	switch (kind) {
	case PM_TS_ISO:
		if (!iso(s, len, &i, true, &c))
			return false;
		break;
	case PM_TS_SLASH:
		if (!slash(s, len, &i, &c))
			return false;
		break;
	case PM_TS_SYSLOG:
		if (!syslog(ts, s, len, &c))
			return false;
		break;
	case PM_TS_CLF:
		if (!clf(s, len, &c))
			return false;
		break;
	case PM_TS_EPOCH:
		return epoch(s, len, i, ns);
	case PM_TS_FORMAT:
		return ts->format && format(ts, s, len, ns);
	default:
		return false;
	}
	*ns = civil_ns(&c, &ts->local);
	return true;
}

bool pm_ts_parse(struct pm_ts *ts, const char *line, size_t len, int64_t *ns)
{
	static const enum pm_ts_kind order[] = {
	    PM_TS_ISO, PM_TS_SLASH, PM_TS_SYSLOG, PM_TS_CLF, PM_TS_EPOCH,
	};

	if (ts->kind != PM_TS_UNKNOWN)
		return pm_ts_parse_kind(ts, ts->kind, line, len, ns);
	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
		if (pm_ts_parse_kind(ts, order[k], line, len, ns)) {
			ts->kind = order[k];
			return true;
		}
	return false;
}

int pm_ts_parse_limit(const char *text, int64_t *ns)
{
	size_t len = strlen(text), i = 0;
	struct pm_ts_local cache = {.hour = INT64_MIN};
	struct civil c;

	if (text[0] == '@') {
		bool neg = text[1] == '-';
		int64_t v = 0, frac = 0;
		i = neg ? 2 : 1;
		if (!dig(text, len, i))
			return -EINVAL;
		for (; dig(text, len, i); i++) {
			if (v > (INT64_MAX / NS - 9) / 10)
				return -EINVAL;
			v = v * 10 + (text[i] - '0');
		}
		fraction(text, len, &i, &frac);
		if (i != len)
			return -EINVAL;
		*ns = neg ? -(v * NS + frac) : v * NS + frac;
		return 0;
	}
	if (!iso(text, len, &i, false, &c) || i != len)
		return -EINVAL;
	*ns = civil_ns(&c, &cache);
	return 0;
}
