/*
 * Internal interfaces of the sorted merge (-m): key definitions and their
 * comparison, timestamps for --by-time, and the loser tree.  The key and
 * timestamp functions are pure functions over memory; they may be called
 * from any thread at once on distinct state objects.
 */
#ifndef PMERGE_SORTED_H
#define PMERGE_SORTED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* ------------------------------------------------------------------ keys */

/*
 * One -k KEYDEF, with sort's meaning: fields and characters counted from 0
 * here.  sword == SIZE_MAX: the key starts at the line's start; eword ==
 * SIZE_MAX: it ends at the line's end.  echar == 0: the end field's end.
 */
struct pm_keydef {
	size_t sword, schar, eword, echar;
	bool skip_start_blanks; /* b on the start position */
	bool skip_end_blanks;   /* b on the end position */
	bool numeric;           /* n */
	bool reverse;           /* r */
};

/* A key list as the comparison uses it, after the global options. */
struct pm_keys {
	struct pm_keydef *defs; /* owned; n entries */
	size_t n;               /* 0: the whole line, bytewise */
	int tab;                /* -t: the separator byte, or -1 for blanks */
	bool reverse;           /* n == 0: the whole-line order reversed */
};

/*
 * Parses one KEYDEF ("2", "2.3b,4n", "1,1r").  Returns 0, or -EINVAL with a
 * sentence in *why ("field number is zero").
 */
int pm_keydef_parse(const char *text, struct pm_keydef *out, const char **why);

/*
 * Builds keys from the -k texts and the global -t (tab, -1: none), -n and
 * -r as GNU sort does: a key without options of its own takes the global
 * ones; with no -k, -n makes the whole line one numeric key.  On a bad
 * KEYDEF returns -EINVAL, *bad the text and *why the reason.  Release with
 * pm_keys_free().
 */
int pm_keys_init(struct pm_keys *ks, const char *const *texts, size_t n,
                 int tab, bool numeric, bool reverse, const char **bad,
                 const char **why);
void pm_keys_free(struct pm_keys *ks);

/*
 * Where each key of the line lies: spans[2*i], spans[2*i+1] are the start
 * and the limit (offsets into line; len excludes the terminator).  A key
 * whose end comes before its start is empty (limit == start).
 */
void pm_keys_spans(const struct pm_keys *ks, const char *line, uint32_t len,
                   uint32_t *spans);

/*
 * Compares two lines by their keys (spans from pm_keys_spans(), or NULL
 * when ks->n == 0): < 0, 0 or > 0.  Equal keys compare 0: the caller keeps
 * input order, as sort -s does.
 */
int pm_keys_compare(const struct pm_keys *ks, const char *a, uint32_t alen,
                    const uint32_t *sa, const char *b, uint32_t blen,
                    const uint32_t *sb);

/*
 * sort -n's comparison of two numbers at the start of a[0, alen) and
 * b[0, blen): leading blanks skipped, an optional '-', digits, an optional
 * '.' and digits; no thousands separator (the C locale); anything else,
 * and nothing, is zero.
 */
int pm_numcmp(const char *a, size_t alen, const char *b, size_t blen);

/* ------------------------------------------------------------ timestamps */

/* The formats --by-time recognises by itself. */
enum pm_ts_kind {
	PM_TS_UNKNOWN = 0, /* not yet recognised */
	PM_TS_ISO,    /* 2025-05-01T08:00:21.449Z, 2025-05-01 08:00:21,449 */
	PM_TS_SYSLOG, /* May  1 08:00:21 (RFC 3164) */
	PM_TS_CLF,    /* [01/May/2025:08:00:21 +0000], anywhere */
	PM_TS_SLASH,  /* 2025/05/01 08:00:21 */
	PM_TS_EPOCH,  /* 1746086421, 1746086421.449, 1746086421449 */
	PM_TS_FORMAT, /* a strptime-style FORMAT */
};

/* What a zone-less time needs: a cache of the local offset per hour. */
struct pm_ts_local {
	int64_t hour; /* the local hour the offset is known for, or INT64_MIN */
	int64_t offset_s;
};

/*
 * One input's timestamp reader.  Each input has its own; not thread-safe.
 */
struct pm_ts {
	enum pm_ts_kind kind;
	const char *format;     /* PM_TS_FORMAT */
	int syslog_year;        /* the year of the input's mtime */
	int64_t syslog_limit_s; /* a stamp later than this is last year's */
	struct pm_ts_local local;
};

/*
 * Sets up a reader.  format NULL: recognise the format from the first line
 * that carries a timestamp.  mtime is the input's modification time (for
 * syslog stamps, which carry no year).
 */
void pm_ts_init(struct pm_ts *ts, const char *format, time_t mtime);

/*
 * Finds the timestamp of one line (line[0, len), no terminator) and stores
 * it as nanoseconds since the epoch (UTC) in *ns.  Returns true when the
 * line carries one.  The first line that carries one fixes the format.
 */
bool pm_ts_parse(struct pm_ts *ts, const char *line, size_t len, int64_t *ns);

/* The same for one given format; kind PM_TS_UNKNOWN is not allowed. */
bool pm_ts_parse_kind(struct pm_ts *ts, enum pm_ts_kind kind, const char *line,
                      size_t len, int64_t *ns);

/*
 * Parses a --since/--until TIME: ISO 8601 (a date, a date and time, with
 * fractions and an offset or Z; without an offset local time) or @EPOCH
 * (seconds, fractions allowed).  Returns 0 or -EINVAL.
 */
int pm_ts_parse_limit(const char *text, int64_t *ns);

/* Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t pm_days_from_civil(int64_t y, unsigned m, unsigned d);

/* ------------------------------------------------------------ loser tree */

/*
 * A tournament of n players (inputs): pm_lt_winner() is the smallest; after
 * the winner's value changes, pm_lt_replay() restores the order in log2(n)
 * comparisons.  less(ctx, a, b) must say whether player a goes before
 * player b; it is never asked about a player against itself, and players
 * that are done must compare after every player that is not.
 */
struct pm_lt {
	size_t n;
	size_t *node; /* node[0]: the winner; node[1..n-1]: the losers */
	bool (*less)(void *ctx, size_t a, size_t b);
	void *ctx;
};

/* Returns 0 or -ENOMEM.  n >= 1.  Calls less() to play the first round. */
int pm_lt_init(struct pm_lt *lt, size_t n,
               bool (*less)(void *ctx, size_t a, size_t b), void *ctx);
void pm_lt_free(struct pm_lt *lt);

static inline size_t pm_lt_winner(const struct pm_lt *lt)
{
	return lt->node[0];
}

/*
 * The winner's value changed (it advanced, or it is done): replay its
 * matches with less (the tree's own, or the same function given as a
 * constant, so that the compiler can inline it into a hot loop).
 */
static inline void pm_lt_replay_by(struct pm_lt *lt,
                                   bool (*less)(void *ctx, size_t a, size_t b))
{
	size_t w = lt->node[0], n = lt->n;

	for (size_t p = (w + n) / 2; p >= 1; p /= 2) {
		size_t other = lt->node[p];
		if (less(lt->ctx, other, w)) {
			lt->node[p] = w;
			w = other;
		}
	}
	lt->node[0] = w;
}

static inline void pm_lt_replay(struct pm_lt *lt)
{
	pm_lt_replay_by(lt, lt->less);
}

/* ----------------------------------------------------- the sorted merge */

struct pm_merge;
struct pmerge_sorted_result;

/*
 * Sets up the sorted merge of m (m->cfg->sorted.enabled): parses the keys,
 * sizes the read-ahead and tells how many threads it runs in *threads (one
 * merger, one writer and up to jobs readers; they are m->workers[0..
 * *threads), the merger first, then the writer).  Main thread, before any
 * thread starts.  Returns 0, or -EINVAL (bad keys), -ENOMEM.
 */
int pm_sorted_setup(struct pm_merge *m, unsigned jobs, unsigned *threads);
/* The body of m->workers[i]: 0 merges, 1 writes, the others read. */
void *pm_sorted_thread(void *arg);
/* Any thread: wake every thread of the sorted merge so that it stops. */
void pm_sorted_cancel(struct pm_merge *m);
/* After the threads are joined: the figures of the sorted merge. */
void pm_sorted_gather(const struct pm_merge *m,
                      struct pmerge_sorted_result *out);
/* Releases m->sorted (NULL is fine).  After the threads are joined. */
void pm_sorted_free(struct pm_merge *m);

#endif /* PMERGE_SORTED_H */
