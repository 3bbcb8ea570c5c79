/* Command-line parsing: argv -> struct pm_cli, with GNU-style diagnostics. */
#include "cli.h"
#include "quote.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char pm_cli_usage[] =
    "Usage: pmerge [OPTION]... [FILE]...\n"
    "Merge FILEs into one output with parallel worker threads.\n"
    "With no FILE, or when FILE is -, read standard input.\n"
    "Word values may be abbreviated (--progress=nev): any unambiguous "
    "prefix.\n"
    "\n"
    "  -o, --output=FILE       write to FILE instead of standard output; a "
    "regular\n"
    "                            FILE is replaced atomically when the whole "
    "merge\n"
    "                            succeeded (mode, owner, ACLs and xattrs "
    "kept);\n"
    "                            a FILE you may not write is refused; it may "
    "be\n"
    "                            one of the inputs\n"
    "      --files0-from=F     read input names from F, each ended by NUL;\n"
    "                            F of - reads the names from standard input\n"
    "  -a, --append            with -o: append to FILE instead (not atomic)\n"
    "      --fsync             flush the output's data to stable storage, and\n"
    "                            with -o the directory entry after the "
    "rename,\n"
    "                            before reporting success (crash-safe "
    "replace)\n"
    "  -u, --unit=UNIT         what stays whole: 'file' (default; each "
    "input's\n"
    "                            bytes contiguous and unchanged) or 'line'\n"
    "                            (records interleave, none is ever torn; a "
    "final\n"
    "                            record without terminator gets one)\n"
    "  -z, --zero-terminated   with --unit=line: records end with NUL\n"
    "      --tag               with --unit=line: prefix each record with its\n"
    "                            input's name and a TAB\n"
    "      --order=ORDER       'input' (default for --unit=file: the output "
    "is\n"
    "                            what cat would write) or 'arrival' (default "
    "for\n"
    "                            --unit=line: whoever is ready first appends)\n"
    "  -d, --decompress        decode gzip, zstd, xz, bzip2 and lz4 inputs,\n"
    "                            recognised by their first bytes (never the\n"
    "                            name); other inputs pass unchanged\n"
    "  -Z, --compress=FMT[:LEVEL]  compress the output as one 'gzip' (level\n"
    "                            1..12, default 6) or 'zstd' (1..19, default "
    "3)\n"
    "                            stream, compressed in parallel\n"
    "  -j, --jobs=N            worker threads, 1..1024 (default 8, of which\n"
    "                            one more than the processors read whole\n"
    "                            files the page cache holds; with -d in\n"
    "                            input order, at most one per processor)\n"
    "  -l, --lock=STRATEGY     guard the output with STRATEGY: mutex "
    "(default),\n"
    "                            rlock, sem:N (up to N writers at once, each "
    "at\n"
    "                            its reserved range), spin, ticket "
    "(FIFO-fair),\n"
    "                            mcs (queue lock) or adaptive (spin, then "
    "sleep);\n"
    "                            with --bench, a comma-separated list\n"
    "  -B, --buffer-size=SIZE  bytes per worker buffer, 4K..1G (K, M, G: "
    "powers\n"
    "                            of 1024, also as KiB..; KB, MB, GB: of "
    "1000);\n"
    "                            default 1M for a regular output file, 128K "
    "otherwise\n"
    "      --progress[=WHEN]   progress on standard error: 'auto' (default: a "
    "live\n"
    "                            line when it is a terminal), 'always' (one "
    "plain\n"
    "                            line per second when it is not), or 'never'\n"
    "  -q, --quiet, --silent   no progress and no warnings; errors still "
    "shown\n"
    "  -v, --verbose           print a one-line summary at the end\n"
    "      --stats[=FORMAT]    print merge and lock statistics when done, as\n"
    "                            'text' (default) or 'json'\n"
    "      --stats-file=FILE   write the statistics to FILE, not standard "
    "error\n"
    "                            (implies --stats; not the -o FILE or an "
    "input)\n"
    "      --bench[=RUNS]      run the merge RUNS times (default 5, after one\n"
    "                            warm-up) under each lock strategy and "
    "compare\n"
    "                            them on standard output\n"
    "      --bench-jobs=LIST   with --bench: run every strategy at each "
    "number\n"
    "                            of workers in LIST (comma-separated, "
    "1..1024)\n"
    "      --export-json=FILE  with --bench: also write the results to FILE "
    "as\n"
    "                            hyperfine's --export-json does\n"
    "      --export-csv=FILE   likewise, as hyperfine's CSV\n"
    "      --export-markdown=FILE\n"
    "                          likewise, as hyperfine's Markdown table\n"
    "  -F, --follow            keep reading each input as it grows, by name, "
    "through\n"
    "                            rotation and truncation, until a signal "
    "stops\n"
    "                            it (implies --unit=line --order=arrival; "
    "with\n"
    "                            -o, needs -a)\n"
    "      --poll-interval=S   with -F: also look at every input each S "
    "seconds\n"
    "                            (default 1), for file systems without "
    "change\n"
    "                            events\n"
    "      --tail=N            start each regular input N lines before its "
    "end\n"
    "                            (0: only what is written from now on)\n"
    "      --label=LIST        comma-separated names that --tag uses instead "
    "of\n"
    "                            the inputs' names, in operand order\n"
    "      --color[=WHEN]      colour each input's tag: 'auto' (default: when "
    "the\n"
    "                            output is a terminal), 'always' or 'never'\n"
    "\n"
    "Sorted merge (each input already sorted):\n"
    "  -m, --sorted            merge sorted inputs into one sorted output, "
    "like\n"
    "                            'LC_ALL=C sort -m -s' (implies --unit=line; "
    "ties\n"
    "                            keep input order)\n"
    "  -k, --key=KEYDEF        sort by a key, as sort does: "
    "F[.C][OPTS][,F[.C][OPTS]]\n"
    "                            with OPTS among b, n, r; repeatable\n"
    "  -t, --field-separator=SEP  fields end at SEP, not at blanks\n"
    "  -n, --numeric-sort      compare by numeric value\n"
    "  -r, --reverse           the inputs are sorted in reverse\n"
    "      --by-time[=FORMAT]  order records by their timestamps, "
    "recognised per\n"
    "                            input (ISO 8601, syslog, common log format,\n"
    "                            yyyy/mm/dd, epoch) or read with the "
    "strptime\n"
    "                            FORMAT (%%f: fractions); a line without one\n"
    "                            belongs to the record above\n"
    "      --since=TIME        with --by-time: only records at or after "
    "TIME\n"
    "      --until=TIME        with --by-time: only records before TIME\n"
    "                            (TIME: ISO 8601 or @EPOCH)\n"
    "      --check-order       an input out of order is an error, not a "
    "warning\n"
    "\n"
    "  -h, --help              display this help and exit\n"
    "  -V, --version           output version information and exit\n"
    "\n"
    "SIGUSR1 prints a status line and the merge goes on.  SIGINT, SIGTERM,\n"
    "SIGHUP and every other signal that would end pmerge stop the merge, "
    "leave\n"
    "an -o FILE as it was, and end pmerge by that signal.\n"
    "\n"
    "Exit status: 0 if every input was merged, 1 if an input or the output\n"
    "failed, 2 for bad usage, 128+N when stopped by signal N.\n"
    "\n"
    "Examples:\n"
    "  pmerge -o all.log a.log b.log c.log\n"
    "  pmerge -u line --tag <(svc1) <(svc2) | grep ERROR\n"
    "  pmerge --bench -j8 -u line logs/*\n"
    "  pmerge -m -k2,2n -t, a.csv b.csv\n"
    "  pmerge -m --by-time --tag host1/app.log host2/app.log\n"
    "  pmerge -F --tag --tail=10 /var/log/nginx/*.log\n";

enum {
	OPT_FILES0 = 256,
	OPT_TAG,
	OPT_ORDER,
	OPT_PROGRESS,
	OPT_STATS,
	OPT_STATS_FILE,
	OPT_BENCH,
	OPT_BY_TIME,
	OPT_SINCE,
	OPT_UNTIL,
	OPT_CHECK_ORDER,
	OPT_BENCH_JOBS,
	OPT_EXPORT_JSON,
	OPT_EXPORT_CSV,
	OPT_EXPORT_MARKDOWN,
	OPT_POLL,
	OPT_TAIL,
	OPT_LABEL,
	OPT_COLOR,
	OPT_FSYNC,
};

static const struct option long_options[] = {
    {"output", required_argument, NULL, 'o'},
    {"files0-from", required_argument, NULL, OPT_FILES0},
    {"append", no_argument, NULL, 'a'},
    {"fsync", no_argument, NULL, OPT_FSYNC},
    {"unit", required_argument, NULL, 'u'},
    {"zero-terminated", no_argument, NULL, 'z'},
    {"tag", no_argument, NULL, OPT_TAG},
    {"decompress", no_argument, NULL, 'd'},
    {"compress", required_argument, NULL, 'Z'},
    {"order", required_argument, NULL, OPT_ORDER},
    {"jobs", required_argument, NULL, 'j'},
    {"lock", required_argument, NULL, 'l'},
    {"buffer-size", required_argument, NULL, 'B'},
    {"progress", optional_argument, NULL, OPT_PROGRESS},
    {"quiet", no_argument, NULL, 'q'},
    {"silent", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"stats", optional_argument, NULL, OPT_STATS},
    {"stats-file", required_argument, NULL, OPT_STATS_FILE},
    {"bench", optional_argument, NULL, OPT_BENCH},
    {"sorted", no_argument, NULL, 'm'},
    {"key", required_argument, NULL, 'k'},
    {"field-separator", required_argument, NULL, 't'},
    {"numeric-sort", no_argument, NULL, 'n'},
    {"reverse", no_argument, NULL, 'r'},
    {"by-time", optional_argument, NULL, OPT_BY_TIME},
    {"since", required_argument, NULL, OPT_SINCE},
    {"until", required_argument, NULL, OPT_UNTIL},
    {"check-order", no_argument, NULL, OPT_CHECK_ORDER},
    {"bench-jobs", required_argument, NULL, OPT_BENCH_JOBS},
    {"export-json", required_argument, NULL, OPT_EXPORT_JSON},
    {"export-csv", required_argument, NULL, OPT_EXPORT_CSV},
    {"export-markdown", required_argument, NULL, OPT_EXPORT_MARKDOWN},
    {"follow", no_argument, NULL, 'F'},
    {"poll-interval", required_argument, NULL, OPT_POLL},
    {"tail", required_argument, NULL, OPT_TAIL},
    {"label", required_argument, NULL, OPT_LABEL},
    {"color", optional_argument, NULL, OPT_COLOR},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/*
 * "pmerge: " and fmt with arg in place of its %s.  A value the user gave
 * stands in quotes in fmt, '%s': it is quoted there as pm_quote_always()
 * quotes names ('x'$'\033''[31m'), so that no control character of it
 * reaches the terminal raw.  A fmt without '%s' takes arg as it is.
 */
static int usage_error(const char *fmt, const char *arg)
{
	const char *at = strstr(fmt, "'%s'");

	fputs("pmerge: ", stderr);
	if (at) {
		char *q = pm_quote_always(arg);
		fprintf(stderr, "%.*s%s%s\n", (int)(at - fmt), fmt, q, at + 4);
		pm_quote_free(q);
	} else {
		fprintf(stderr, fmt, arg);
		fputc('\n', stderr);
	}
	return 2;
}

/* Out of memory while parsing: not bad usage, so exit status 1. */
static int no_memory(const char *what)
{
	fprintf(stderr, "pmerge: cannot hold %s: %s\n", what, strerror(ENOMEM));
	return 1;
}

/*
 * Picks word among choices (NULL-terminated) as GNU argmatch does: the
 * choice itself, or the one choice it begins ("nev" for "never").  Returns
 * its index, -1 when none matches, -2 when the abbreviation is ambiguous.
 */
static int pick(const char *word, const char *const *choices)
{
	size_t len = strlen(word);
	int found = -1;

	for (int i = 0; choices[i]; i++) {
		if (strcmp(word, choices[i]) == 0)
			return i;
		if (len > 0 && strncmp(word, choices[i], len) == 0)
			found = found == -1 ? i : -2;
	}
	return found;
}

/* The usage error of a value pick() refused; what names the option. */
static int choice_error(int k, const char *what, const char *arg,
                        const char *const *choices)
{
	char valid[128] = "";

	for (int i = 0; choices[i]; i++) {
		strncat(valid, i ? ", " : "",
		        sizeof(valid) - strlen(valid) - 1);
		strncat(valid, choices[i], sizeof(valid) - strlen(valid) - 1);
	}
	char *q = pm_quote_always(arg);
	fprintf(stderr, "pmerge: %s %s %s (valid: %s)\n",
	        k == -2 ? "ambiguous" : "invalid", what, q, valid);
	pm_quote_free(q);
	return 2;
}

/* A whole decimal number in [lo, hi], nothing else. */
static bool parse_uint(const char *s, unsigned long lo, unsigned long hi,
                       unsigned long *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/*
 * -B's grammar, one of GNU's: digits, then nothing (bytes) or K, M or G,
 * each alone or followed by iB (powers of 1024) or by B alone (powers of
 * 1000, as dd and sort read KB, MB, GB).  Within 4K..1G; false otherwise,
 * overflow included.
 */
static bool parse_size(const char *s, size_t *out)
{
	static const char units[] = "KMG";
	unsigned long long v, scale = 1;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return false;
	if (*end) {
		const char *u = strchr(units, toupper((unsigned char)*end));
		if (!u)
			return false;
		unsigned power = (unsigned)(u - units) + 1;
		unsigned base = 1024;
		end++;
		if (strcmp(end, "iB") == 0)
			end += 2;
		else if (strcmp(end, "B") == 0)
			base = 1000, end++;
		if (*end)
			return false;
		while (power--)
			scale *= base;
	}
	if (__builtin_mul_overflow(v, scale, &v) || v < PMERGE_BUFFER_MIN ||
	    v > (1ull << 30))
		return false;
	*out = (size_t)v;
	return true;
}

#define LOCK_NAMES                                                             \
	"mutex, rlock, sem:N with 1 <= N <= 1024, spin, ticket, mcs, adaptive"

/*
 * One --lock entry, its name abbreviated as argmatch allows ("mut" is
 * mutex, "se:4" is sem:4); a parameter after ':' is passed on as it is.
 * The names are the engine's own (pmerge_lock_format), so that a new
 * strategy abbreviates without a change here.  0, or 2 after the usage
 * error.
 */
static int parse_lock(const char *tok, struct pmerge_lock_spec *spec)
{
	const char *colon = strchr(tok, ':');
	size_t len = colon ? (size_t)(colon - tok) : strlen(tok);
	char names[PMERGE_LOCK_COUNT_][16], full[64], cand[128] = "";
	int found = -1, n_cand = 0;

	for (int k = 0; k < PMERGE_LOCK_COUNT_; k++) {
		struct pmerge_lock_spec s = {(enum pmerge_lock_kind)k, 1};

		pmerge_lock_format(&s, names[k], sizeof(names[k]));
		names[k][strcspn(names[k], ":")] = '\0';
		if (strlen(names[k]) == len &&
		    strncmp(tok, names[k], len) == 0) {
			found = k, n_cand = 1;
			break;
		}
		if (len > 0 && strncmp(tok, names[k], len) == 0) {
			found = n_cand++ ? -2 : k;
			strncat(cand, *cand ? ", " : "",
			        sizeof(cand) - strlen(cand) - 1);
			strncat(cand, names[k],
			        sizeof(cand) - strlen(cand) - 1);
			if (k == PMERGE_LOCK_SEM)
				strncat(cand, ":N",
				        sizeof(cand) - strlen(cand) - 1);
		}
	}
	if (found == -2) {
		char *q = pm_quote_always(tok);
		fprintf(stderr,
		        "pmerge: ambiguous lock strategy %s (could be: %s)\n",
		        q, cand);
		pm_quote_free(q);
		return 2;
	}
	snprintf(full, sizeof(full), "%s%s", found >= 0 ? names[found] : tok,
	         found >= 0 && colon ? colon : "");
	if (pmerge_lock_parse(full, spec) < 0)
		return usage_error(
		    "invalid lock strategy '%s' (valid: " LOCK_NAMES ")", tok);
	return 0;
}

/* --lock=LIST: strategies, comma-separated, no empty entry, each once. */
static int parse_locks(struct pm_cli *cli, const char *arg)
{
	const char *p = arg;

	cli->n_locks = 0;
	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char tok[32], a[32], b[32];
		struct pmerge_lock_spec *spec = &cli->locks[cli->n_locks];

		if (cli->n_locks == PM_CLI_MAX_LOCKS)
			return usage_error("too many lock strategies in '%s'",
			                   arg);
		if (len == 0 || len >= sizeof(tok))
			return usage_error("invalid lock strategy list '%s' "
			                   "(valid: " LOCK_NAMES
			                   ", comma-separated)",
			                   arg);
		memcpy(tok, p, len);
		tok[len] = '\0';
		if (parse_lock(tok, spec) != 0)
			return 2;
		pmerge_lock_format(spec, a, sizeof(a));
		for (size_t i = 0; i < cli->n_locks; i++)
			if (strcmp(pmerge_lock_format(&cli->locks[i], b,
			                              sizeof(b)),
			           a) == 0)
				return usage_error(
				    "lock strategy '%s' is listed twice", a);
		cli->n_locks++;
		if (!end)
			return 0;
		p = end + 1;
	}
}

/* --bench-jobs=LIST: job counts, comma-separated, each once. */
static int parse_bench_jobs(struct pm_cli *cli, const char *arg)
{
	const char *p = arg;

	cli->n_bench_jobs = 0;
	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char tok[16];
		unsigned long v;

		if (len == 0 || len >= sizeof(tok))
			goto bad;
		memcpy(tok, p, len);
		tok[len] = '\0';
		if (!parse_uint(tok, 1, PMERGE_JOBS_MAX, &v))
			goto bad;
		for (size_t i = 0; i < cli->n_bench_jobs; i++)
			if (cli->bench_jobs[i] == v)
				return usage_error("job count repeated in "
				                   "--bench-jobs '%s'",
				                   arg);
		if (cli->n_bench_jobs == PM_CLI_MAX_JOBS)
			return usage_error("too many job counts in '%s' (at "
			                   "most 32)",
			                   arg);
		cli->bench_jobs[cli->n_bench_jobs++] = (unsigned)v;
		if (!end)
			return 0;
		p = end + 1;
	}
bad:
	return usage_error("invalid job count list '%s' (valid: 1..1024, "
	                   "comma-separated)",
	                   arg);
}

/*
 * Reads NUL-ended names from path ("-": stdin) into cli->names.  Bad names
 * (empty, or "-" when the list itself is stdin) are reported and skipped,
 * as GNU du and wc do, and make the exit status 1.
 */
/* "pmerge: " PRE PATH POST ": " the reason; the list's name quoted. */
static void files0_error(const char *pre, const char *path, const char *post,
                         int err)
{
	char *q = *pre ? pm_quote_always(path) : pm_quote(path);

	fprintf(stderr, "pmerge: %s%s%s: %s\n", pre, q, post, strerror(err));
	pm_quote_free(q);
}

static int read_files0(struct pm_cli *cli, const char *path)
{
	bool from_stdin = strcmp(path, "-") == 0;
	int fd = from_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0, cap = 0, n = 0, nth = 0;
	char *data = NULL;

	if (fd < 0) {
		files0_error("cannot open ", path, " for reading", errno);
		return 1;
	}
	for (;;) {
		if (len + 65536 + 1 > cap) {
			cap = cap ? cap * 2 : 131072;
			char *d = realloc(data, cap);
			if (!d) {
				files0_error("cannot hold the names of ", path,
				             "", ENOMEM);
				goto fail;
			}
			data = d;
		}
		ssize_t k = read(fd, data + len, cap - len - 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			files0_error("", path, ": read error", errno);
			goto fail;
		}
		if (k == 0)
			break;
		len += (size_t)k;
	}
	if (!from_stdin)
		close(fd);
	if (len > 0 && data[len - 1] != '\0')
		data[len++] = '\0'; /* the last name may lack its NUL */
	for (size_t i = 0; i < len; i++)
		n += data[i] == '\0';
	cli->names = calloc(n ? n : 1, sizeof(char *));
	if (!cli->names) {
		free(data);
		files0_error("cannot hold the names of ", path, "", ENOMEM);
		return 1;
	}
	cli->files0_data = data;
	for (size_t i = 0, start = 0; i < len; i++) {
		if (data[i] != '\0')
			continue;
		char *name = data + start;
		nth++;
		start = i + 1;
		if (*name == '\0') {
			char *q = pm_quote(path);
			fprintf(
			    stderr,
			    "pmerge: %s:%zu: invalid zero-length file name\n",
			    q, nth);
			pm_quote_free(q);
			cli->files0_bad++;
		} else if (from_stdin && strcmp(name, "-") == 0) {
			fprintf(stderr,
			        "pmerge: when reading file names from standard "
			        "input, no file name of '-' allowed\n");
			cli->files0_bad++;
		} else {
			cli->names[cli->n_names++] = name;
		}
	}
	return 0;
fail:
	if (!from_stdin)
		close(fd);
	free(data);
	return 1;
}

/* The options of the sorted merge (-m and what goes with it). */
static int parse_sorted_option(struct pm_cli *cli, int c, const char *arg)
{
	struct pmerge_sorted *o = &cli->cfg.sorted;
	const char *why;
	const char **keys;

	cli->sorted_option |= c != 'm';
	switch (c) {
	case 'm':
		o->enabled = true;
		return 0;
	case 'k':
		if (pmerge_key_check(arg, &why) < 0) {
			char *q = pm_quote_always(arg);
			fprintf(stderr, "pmerge: invalid key %s: %s\n", q, why);
			pm_quote_free(q);
			return 2;
		}
		keys = realloc(cli->keys, (cli->n_keys + 1) * sizeof(*keys));
		if (!keys)
			return no_memory("the sort keys");
		cli->keys = keys;
		cli->keys[cli->n_keys++] = arg;
		return 0;
	case 't':
		if (arg[0] == '\0')
			return usage_error("%s", "empty field separator");
		if (arg[1] != '\0' && strcmp(arg, "\\0") != 0)
			return usage_error("multi-character field separator "
			                   "'%s'",
			                   arg);
		o->field_sep = arg[1] ? 0 : (unsigned char)arg[0];
		return 0;
	case 'n':
		o->numeric = true;
		return 0;
	case 'r':
		o->reverse = true;
		return 0;
	case OPT_BY_TIME:
		o->by_time = true;
		o->time_format = arg && *arg ? arg : NULL;
		return 0;
	case OPT_SINCE:
	case OPT_UNTIL:
		if (pmerge_time_parse(arg, c == OPT_SINCE ? &o->since_ns
		                                          : &o->until_ns) < 0)
			return usage_error("invalid time '%s' (valid: ISO 8601 "
			                   "such as 2025-05-01T08:00:00Z, or "
			                   "@EPOCH)",
			                   arg);
		if (c == OPT_SINCE)
			o->has_since = true;
		else
			o->has_until = true;
		return 0;
	default: /* OPT_CHECK_ORDER */
		o->check_order = true;
		return 0;
	}
}

/* -Z FMT[:LEVEL]: gzip (1..12) or zstd (1..19). */
static int parse_compress(struct pmerge_config *cfg, const char *arg)
{
	static const char *const formats[] = {"gzip", "zstd", NULL};
	const char *colon = strchr(arg, ':');
	size_t len = colon ? (size_t)(colon - arg) : strlen(arg);
	unsigned long level = 0;
	int k = -1;

	for (int i = 0; formats[i]; i++)
		if (strlen(formats[i]) == len &&
		    strncmp(arg, formats[i], len) == 0)
			k = i;
	if (k < 0)
		return usage_error("invalid compression '%s' (valid: gzip, "
		                   "zstd)",
		                   arg);
	if (colon && !parse_uint(colon + 1, 1, k ? 19 : 12, &level))
		return usage_error(k ? "invalid zstd level in '%s' (valid: "
		                       "1..19)"
		                     : "invalid gzip level in '%s' (valid: "
		                       "1..12)",
		                   arg);
	cfg->compress = k ? PMERGE_COMPRESS_ZSTD : PMERGE_COMPRESS_GZIP;
	cfg->compress_level = (int)level;
	return 0;
}

/* --poll-interval: seconds, with a fraction, 0.01..86400. */
static int parse_interval(struct pm_cli *cli, const char *arg)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (*arg < '0' || *arg > '9' || errno || *end || v < 0.01 || v > 86400)
		return usage_error("invalid poll interval '%s' (valid: "
		                   "0.01..86400 seconds)",
		                   arg);
	cli->cfg.poll_interval_ms = (unsigned)(v * 1000 + 0.5);
	return 0;
}

/* --label=a,b,c: the names --tag shows, by operand; empty keeps a name. */
static int parse_labels(struct pm_cli *cli, const char *arg)
{
	size_t n = 1;

	free(cli->labels);
	free(cli->label_data);
	for (const char *p = arg; *p; p++)
		n += *p == ',';
	cli->label_data = strdup(arg);
	cli->labels = calloc(n, sizeof(char *));
	if (!cli->label_data || !cli->labels)
		return no_memory("the labels");
	char *p = cli->label_data;
	for (size_t i = 0; i < n; i++) {
		char *comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		cli->labels[i] = *p ? p : NULL;
		p = comma ? comma + 1 : p + strlen(p);
	}
	cli->cfg.labels = (const char *const *)cli->labels;
	cli->cfg.n_labels = n;
	return 0;
}

static int parse_option(struct pm_cli *cli, int c, const char *arg)
{
	static const char *const units[] = {"file", "line", NULL};
	static const char *const orders[] = {"input", "arrival", NULL};
	static const char *const whens[] = {"auto", "always", "never", NULL};
	static const char *const formats[] = {"text", "json", NULL};
	struct pmerge_config *cfg = &cli->cfg;
	unsigned long v;
	int k;

	switch (c) {
	case 'o':
		cfg->output = arg;
		return 0;
	case OPT_FILES0:
		cli->files0_from = arg;
		return 0;
	case 'a':
		cfg->append = true;
		return 0;
	case OPT_FSYNC:
		cfg->fsync = true;
		return 0;
	case 'u':
		if ((k = pick(arg, units)) < 0)
			return choice_error(k, "unit", arg, units);
		cfg->unit = k ? PMERGE_UNIT_LINE : PMERGE_UNIT_FILE;
		return 0;
	case 'z':
		cfg->zero_terminated = true;
		return 0;
	case OPT_TAG:
		cfg->tag = true;
		return 0;
	case 'd':
		cfg->decompress = true;
		return 0;
	case 'Z':
		return parse_compress(cfg, arg);
	case OPT_ORDER:
		if ((k = pick(arg, orders)) < 0)
			return choice_error(k, "order", arg, orders);
		cfg->order = k ? PMERGE_ORDER_ARRIVAL : PMERGE_ORDER_INPUT;
		return 0;
	case 'j':
		if (!parse_uint(arg, 1, PMERGE_JOBS_MAX, &v))
			return usage_error(
			    "invalid number of jobs '%s' (valid: "
			    "1..1024)",
			    arg);
		cfg->jobs = (unsigned)v;
		return 0;
	case 'l':
		cli->lock_given = true;
		return parse_locks(cli, arg);
	case 'B':
		if (!parse_size(arg, &cfg->buffer_size))
			return usage_error(
			    "invalid buffer size '%s' (valid: "
			    "4096..1073741824 bytes, with an "
			    "optional K, M, G suffix, as 4K..1G)",
			    arg);
		return 0;
	case OPT_PROGRESS:
		if ((k = arg ? pick(arg, whens) : PM_PROGRESS_ALWAYS) < 0)
			return choice_error(k, "progress mode", arg, whens);
		cli->progress = (enum pm_progress_mode)k;
		return 0;
	case 'q':
		cli->quiet = true;
		return 0;
	case 'v':
		cli->verbose = true;
		return 0;
	case OPT_STATS:
		if ((k = arg ? pick(arg, formats) : 0) < 0)
			return choice_error(k, "statistics format", arg,
			                    formats);
		cli->stats = k ? PM_STATS_JSON : PM_STATS_TEXT;
		return 0;
	case OPT_STATS_FILE:
		/* Naming a file for the statistics asks for them. */
		if (cli->stats == PM_STATS_NONE)
			cli->stats = PM_STATS_TEXT;
		cli->stats_file = arg;
		return 0;
	case OPT_BENCH:
		if (!arg)
			cli->bench_runs = 5;
		else if (parse_uint(arg, 1, 100000, &v))
			cli->bench_runs = (unsigned)v;
		else
			return usage_error(
			    "invalid number of runs '%s' (valid: "
			    "1..100000)",
			    arg);
		return 0;
	case 'm':
	case 'k':
	case 't':
	case 'n':
	case 'r':
	case OPT_BY_TIME:
	case OPT_SINCE:
	case OPT_UNTIL:
	case OPT_CHECK_ORDER:
		return parse_sorted_option(cli, c, arg);
	case OPT_BENCH_JOBS:
		return parse_bench_jobs(cli, arg);
	case OPT_EXPORT_JSON:
		cli->export_json = arg;
		return 0;
	case OPT_EXPORT_CSV:
		cli->export_csv = arg;
		return 0;
	case OPT_EXPORT_MARKDOWN:
		cli->export_markdown = arg;
		return 0;
	case 'F':
		cfg->follow = true;
		return 0;
	case OPT_POLL:
		return parse_interval(cli, arg);
	case OPT_TAIL:
		if (!parse_uint(arg, 0, ULONG_MAX, &v))
			return usage_error("invalid number of lines '%s'", arg);
		cfg->tail = true;
		cfg->tail_lines = v;
		return 0;
	case OPT_LABEL:
		return parse_labels(cli, arg);
	case OPT_COLOR:
		if ((k = arg ? pick(arg, whens) : PM_PROGRESS_ALWAYS) < 0)
			return usage_error("invalid color mode '%s' (valid: "
			                   "auto, always, never)",
			                   arg);
		cli->color = (enum pm_progress_mode)k;
		return 0;
	case 'h':
		cli->help = true;
		return 0;
	case 'V':
		cli->version = true;
		return 0;
	default:
		return 2; /* getopt_long has said what was wrong */
	}
}

/* Combinations that make no sense, caught before anything is opened. */
/* -m and the options that only make sense with it. */
static int check_sorted(struct pm_cli *cli, bool unit_given)
{
	struct pmerge_config *cfg = &cli->cfg;
	struct pmerge_sorted *o = &cfg->sorted;

	if (!o->enabled)
		return cli->sorted_option
		           ? usage_error("%s", "-k, -t, -n, -r, --by-time, "
		                               "--since, --until and "
		                               "--check-order need --sorted")
		           : 0;
	if (unit_given && cfg->unit != PMERGE_UNIT_LINE)
		return usage_error("%s", "--sorted merges lines: it cannot be "
		                         "combined with --unit=file");
	if (cfg->order != PMERGE_ORDER_DEFAULT)
		return usage_error("%s", "--sorted cannot be combined with "
		                         "--order");
	if (cli->bench_runs)
		return usage_error("%s", "--bench cannot be combined with "
		                         "--sorted");
	if (o->by_time && (cli->n_keys || o->numeric || o->field_sep >= 0))
		return usage_error("%s", "--by-time cannot be combined with "
		                         "-k, -t or -n");
	if ((o->has_since || o->has_until) && !o->by_time)
		return usage_error("%s", "--since and --until need --by-time");
	o->keys = cli->keys;
	o->n_keys = cli->n_keys;
	cfg->unit = PMERGE_UNIT_LINE;
	return 0;
}

static int check_combinations(struct pm_cli *cli, int operands, bool unit_given)
{
	struct pmerge_config *cfg = &cli->cfg;
	int rc = check_sorted(cli, unit_given);

	if (rc)
		return rc;

	if (cfg->follow) {
		/* A merge that never ends reads lines as they come. */
		if (unit_given && cfg->unit != PMERGE_UNIT_LINE)
			return usage_error("%s", "--follow needs --unit=line");
		if (cfg->sorted.enabled)
			return usage_error(
			    "%s", "--follow cannot be combined with --sorted");
		if (cfg->order == PMERGE_ORDER_INPUT)
			return usage_error("%s",
			                   "--follow needs --order=arrival");
		if (cfg->output && !cfg->append)
			return usage_error(
			    "%s", "--follow with --output needs --append (-a): "
			          "a merge that never ends cannot replace a "
			          "file atomically");
		if (cli->bench_runs)
			return usage_error(
			    "%s", "--bench cannot be combined with --follow");
		cfg->unit = PMERGE_UNIT_LINE;
		cfg->order = PMERGE_ORDER_ARRIVAL;
	}
	if (cfg->poll_interval_ms && !cfg->follow)
		return usage_error("%s", "--poll-interval needs --follow");
	if (cfg->n_labels && !cfg->tag)
		return usage_error("%s", "--label needs --tag");
	if (cfg->zero_terminated && cfg->unit != PMERGE_UNIT_LINE)
		return usage_error("%s", "--zero-terminated needs --unit=line");
	if (cfg->tag && cfg->unit != PMERGE_UNIT_LINE)
		return usage_error("%s", "--tag needs --unit=line");
	if (cfg->append && !cfg->output)
		return usage_error("%s", "--append needs --output");
	if (cli->bench_runs && cfg->compress)
		return usage_error(
		    "%s", "--bench cannot be combined with --compress");
	if (cli->bench_runs && cfg->append)
		return usage_error("%s",
		                   "--bench cannot be combined with --append");
	if (cli->n_locks > 1 && !cli->bench_runs)
		return usage_error("%s",
		                   "a list of lock strategies needs --bench");
	if (!cli->bench_runs && (cli->n_bench_jobs || cli->export_json ||
	                         cli->export_csv || cli->export_markdown))
		return usage_error("%s", "--bench-jobs and --export-* need "
		                         "--bench");
	if (cli->files0_from && operands > 0)
		return usage_error("%s",
		                   "file operands cannot be combined with "
		                   "--files0-from");
	return 0;
}

/*
 * What follows from the options rather than being one: the progress
 * interval (a terminal: 10 redraws a second at most; a log: one a
 * second), the signals, whether the lock timings are needed.
 */
static void derive_config(struct pm_cli *cli)
{
	struct pmerge_config *cfg = &cli->cfg;
	bool tty = isatty(STDERR_FILENO);

	if (cli->quiet)
		cli->progress = PM_PROGRESS_NEVER;
	if (cli->progress == PM_PROGRESS_ALWAYS ||
	    (cli->progress == PM_PROGRESS_AUTO && tty)) {
		cli->progress_live = tty;
		cfg->progress_interval_ms = tty ? 100 : 1000;
	}
	cfg->handle_signals = true;
	cfg->detailed_stats = cli->stats != PM_STATS_NONE || cli->bench_runs;
	/* Only --stats shows the count, which costs reading every byte. */
	cfg->count_records = cli->stats != PM_STATS_NONE;
	/* --color=auto: when the merged lines go to a terminal. */
	cfg->color = cfg->tag && (cli->color == PM_PROGRESS_ALWAYS ||
	                          (cli->color == PM_PROGRESS_AUTO &&
	                           !cfg->output && isatty(STDOUT_FILENO)));
}

int pm_cli_parse(struct pm_cli *cli, int argc, char **argv)
{
	char **args = calloc((size_t)argc + 1, sizeof(char *));
	bool unit_given = false;
	int c, rc = 0;

	memset(cli, 0, sizeof(*cli));
	pmerge_config_init(&cli->cfg);
	cli->locks[0] = cli->cfg.lock;
	cli->n_locks = 1;
	if (!args)
		return no_memory("the arguments");
	/* getopt_long's own messages name argv[0]: make that "pmerge". */
	memcpy(args, argv, (size_t)argc * sizeof(char *));
	args[0] = (char *)"pmerge";
	optind = 0;
	opterr = 1;
	while (rc == 0 &&
	       (c = getopt_long(argc, args, "o:au:zdZ:j:l:B:qvhVmk:t:nrF",
	                        long_options, NULL)) != -1) {
		unit_given |= c == 'u';
		rc = parse_option(cli, c, optarg);
	}
	if (rc == 0 && !cli->help && !cli->version)
		rc = check_combinations(cli, argc - optind, unit_given);
	if (rc == 0) {
		cli->cfg.lock = cli->locks[0];
		if (cli->files0_from && !cli->help && !cli->version) {
			rc = read_files0(cli, cli->files0_from);
		} else {
			size_t n = (size_t)(argc - optind);
			cli->names = calloc(n ? n : 1, sizeof(char *));
			if (!cli->names) {
				rc = no_memory("the input names");
			} else {
				for (int i = optind; i < argc; i++)
					cli->names[cli->n_names++] = args[i];
				if (n == 0)
					cli->names[cli->n_names++] =
					    (char *)"-";
			}
		}
		cli->cfg.inputs = (const char *const *)cli->names;
		cli->cfg.n_inputs = cli->n_names;
		cli->cfg.failed_before = cli->files0_bad;
		derive_config(cli);
		if (rc == 0 && cli->cfg.n_labels > cli->n_names)
			rc = usage_error("%s", "--label names more inputs than "
			                       "there are");
	}
	free(args);
	return rc;
}

void pm_cli_free(struct pm_cli *cli)
{
	if (!cli)
		return;
	free(cli->names);
	free(cli->files0_data);
	free(cli->keys);
	cli->keys = NULL;
	free(cli->labels);
	free(cli->label_data);
	cli->names = NULL;
	cli->files0_data = NULL;
	cli->labels = NULL;
	cli->label_data = NULL;
}
