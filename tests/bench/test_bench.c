/*
 * pmerge --bench, run as a user would ($PMERGE).
 *
 * Usage: test_bench [GROUP [SCRIPT]]
 *
 * GROUP is "main" (the default); "json", which reads the --stats=json
 * report with python3 through SCRIPT (check_bench.py); or "export", which
 * holds the --export-* files against hyperfine's own through SCRIPT
 * (check_exports.py).  Each is registered as a test of its own so that a
 * machine without python3 (or hyperfine) reports a skip.
 *
 * Every test runs in a scratch directory of its own, which is also its
 * working directory and, through TMPDIR, where pmerge must put (and from
 * where it must remove) its temporary output.
 */
#include "tutil.h"

#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SKIP 77
/* Only a hung pmerge gets near it: no test asserts a duration. */
#define TIMEOUT 100.0

extern char **environ;

static const char *check_script;

/* The inputs every test merges: a mix of the shapes that matter. */
static const char *const inputs[] = {
    "big.bin",   /* larger than one 128 KiB buffer: the copy path */
    "one",       /* a single byte */
    "empty",     /* nothing at all */
    "lines.txt", /* many short records */
    "nonl.txt",  /* a final record without terminator */
    "tab\tname", /* a name --tag must escape */
};
#define N_INPUTS (sizeof(inputs) / sizeof(inputs[0]))

struct scratch {
	char *dir;
	char *tmp;     /* $TMPDIR of pmerge */
	char *old_tmp; /* $TMPDIR of the test, restored on leaving */
};

static void make_inputs(void)
{
	size_t big = 300 * 1024 + 17;
	char *buf = malloc(big);
	FILE *f;

	ck_assert_ptr_nonnull(buf);
	tu_fill_random(buf, big, 42);
	tu_write_file("big.bin", buf, big);
	free(buf);
	tu_write_file("one", "x", 1);
	tu_write_file("empty", "", 0);
	f = fopen("lines.txt", "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 20000; i++)
		fprintf(f, "line %d %.*s\n", i, i % 70,
		        "abcdefghijklmnopqrstuvwxyz"
		        "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz");
	ck_assert_int_eq(fclose(f), 0);
	tu_write_file("nonl.txt", "first\nlast, unterminated", 24);
	tu_write_file("tab\tname", "a\nb\n", 4);
}

/* Enters a fresh scratch directory with the inputs and an empty TMPDIR. */
static void enter(struct scratch *s)
{
	const char *t = getenv("TMPDIR");

	s->old_tmp = t ? strdup(t) : NULL;
	s->dir = tu_mkdtemp();
	ck_assert_int_eq(chdir(s->dir), 0);
	s->tmp = tu_path(s->dir, "tmp");
	ck_assert_int_eq(mkdir(s->tmp, 0700), 0);
	ck_assert_int_eq(setenv("TMPDIR", s->tmp, 1), 0);
	make_inputs();
}

static void leave(struct scratch *s)
{
	ck_assert_int_eq(chdir("/"), 0);
	tu_rmdir_rf(s->dir);
	if (s->old_tmp)
		ck_assert_int_eq(setenv("TMPDIR", s->old_tmp, 1), 0);
	else
		ck_assert_int_eq(unsetenv("TMPDIR"), 0);
	free(s->dir);
	free(s->tmp);
	free(s->old_tmp);
}

/* Runs pmerge with the given options followed by every input. */
static void bench(struct tu_run *r, const char *const *opts)
{
	const char *argv[64];
	size_t n = 0;

	argv[n++] = tu_pmerge();
	for (; *opts; opts++)
		argv[n++] = *opts;
	for (size_t i = 0; i < N_INPUTS; i++)
		argv[n++] = inputs[i];
	argv[n] = NULL;
	tu_run_argv(r, (char *const *)argv, NULL, TIMEOUT);
}

static void expect_status(const struct tu_run *r, int status)
{
	ck_assert_msg(r->status == status,
	              "exit status %d (signal %d), expected %d; stderr:\n%s",
	              r->status, r->signal, status, r->err);
}

/* What cat would write for all the inputs. */
static char *concatenation(size_t *len)
{
	char *all = NULL;
	size_t n = 0;

	for (size_t i = 0; i < N_INPUTS; i++) {
		size_t k;
		char *d = tu_read_file(inputs[i], &k);
		ck_assert_ptr_nonnull(d);
		all = realloc(all, n + k + 1);
		ck_assert_ptr_nonnull(all);
		memcpy(all + n, d, k);
		n += k;
		free(d);
	}
	*len = n;
	return all;
}

/* What --unit=line writes without tags: a missing final newline added. */
static size_t line_bytes(void)
{
	size_t total = 0;

	for (size_t i = 0; i < N_INPUTS; i++) {
		size_t k;
		char *d = tu_read_file(inputs[i], &k);

		ck_assert_ptr_nonnull(d);
		total += k + (k > 0 && d[k - 1] != '\n');
		free(d);
	}
	return total;
}

/*
 * What --unit=line --order=input --tag writes: each record prefixed with
 * its input's escaped name and a TAB, a missing final newline added.
 */
static char *tagged_lines(size_t *len)
{
	char *all = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < N_INPUTS; i++) {
		char tag[64];
		size_t k, t = 0;
		char *d = tu_read_file(inputs[i], &k);

		ck_assert_ptr_nonnull(d);
		for (const char *p = inputs[i]; *p; p++) {
			if (*p == '\t') {
				tag[t++] = '\\';
				tag[t++] = 't';
			} else {
				tag[t++] = *p;
			}
		}
		tag[t++] = '\t';
		for (size_t pos = 0; pos < k;) {
			const char *nl = memchr(d + pos, '\n', k - pos);
			size_t rec =
			    nl ? (size_t)(nl - (d + pos)) + 1 : k - pos;
			if (n + t + rec + 2 > cap) {
				cap = (n + t + rec + 2) * 2;
				all = realloc(all, cap);
				ck_assert_ptr_nonnull(all);
			}
			memcpy(all + n, tag, t);
			memcpy(all + n + t, d + pos, rec);
			n += t + rec;
			if (!nl)
				all[n++] = '\n';
			pos += rec;
		}
		free(d);
	}
	*len = n;
	return all;
}

/* ------------------------------------------------------- the text table */

/* The report cut into lines (the buffer is modified). */
struct lines {
	char *v[256];
	size_t n;
};

static void split_lines(char *text, struct lines *l)
{
	l->n = 0;
	for (char *save = NULL, *p = strtok_r(text, "\n", &save); p;
	     p = strtok_r(NULL, "\n", &save)) {
		ck_assert_uint_lt(l->n, 256);
		l->v[l->n++] = p;
	}
}

/* The number after "jobs " in the header line. */
static unsigned header_jobs(const char *header)
{
	const char *j = strstr(header, ", jobs ");

	ck_assert_msg(j, "no jobs in the header: %s", header);
	return (unsigned)strtoul(j + 7, NULL, 10);
}

/*
 * Checks the table of a successful run against the strategies expected,
 * in order: a header line, a column line, one row per strategy ending in
 * "ok", then the summary naming the fastest and comparing every other.
 */
static void expect_table(struct tu_run *r, unsigned runs,
                         const char *const *want, size_t n_want)
{
	struct lines l;
	char fastest[32] = "";
	size_t faster = 0;

	split_lines(r->out, &l);
	ck_assert_uint_ge(l.n, 2 + n_want);
	ck_assert_msg(!strncmp(l.v[0], "pmerge --bench: ", 16), "header: %s",
	              l.v[0]);
	ck_assert_msg(!strncmp(l.v[1], "lock ", 5), "columns: %s", l.v[1]);
	for (size_t i = 0; i < n_want; i++) {
		const char *row = l.v[2 + i];
		size_t k = strlen(want[i]), len = strlen(row);

		ck_assert_msg(!strncmp(row, want[i], k) && row[k] == ' ',
		              "row %zu is not %s: %s", i, want[i], row);
		ck_assert_msg(len > 4 && !strcmp(row + len - 4, "  ok"),
		              "row of %s not verified: %s", want[i], row);
	}
	if (n_want < 2) {
		ck_assert_uint_eq(l.n, 2 + n_want);
		return;
	}
	/* No other row than those. */
	ck_assert_uint_eq(l.n, 2 + n_want + n_want);
	ck_assert_int_eq(sscanf(l.v[2 + n_want], "%31s ran", fastest), 1);
	ck_assert_msg(strstr(l.v[2 + n_want], " ran"), "summary: %s",
	              l.v[2 + n_want]);
	for (size_t i = 3 + n_want; i < l.n; i++) {
		const char *than = strstr(l.v[i], " times faster than ");
		/* One run has no deviation to propagate. */
		ck_assert_msg(than && l.v[i][0] == ' ' &&
		                  !strstr(l.v[i], " ± ") == (runs == 1),
		              "summary line: %s", l.v[i]);
		ck_assert_str_ne(than + 19, fastest);
		faster++;
	}
	ck_assert_uint_eq(faster, n_want - 1);
	bool named = false;
	for (size_t i = 0; i < n_want; i++)
		named = named || !strcmp(fastest, want[i]);
	ck_assert_msg(named, "the fastest, %s, is no strategy run", fastest);
}

START_TEST(default_strategies)
{
	struct scratch s;
	struct tu_run r;
	char semj[32];

	enter(&s);
	ck_assert_uint_eq(tu_count_entries(s.tmp), 0);
	bench(&r, (const char *[]){"--bench=2", NULL});
	expect_status(&r, 0);
	ck_assert_str_eq(r.err, "");
	snprintf(semj, sizeof(semj), "sem:%u", header_jobs(r.out));
	ck_assert_str_ne(semj, "sem:1");
	ck_assert_msg(strstr(r.out, ", unit file, order input, 2 runs"),
	              "header: %s", r.out);
	const char *want[] = {"mutex", "rlock",  "sem:1", semj,
	                      "spin",  "ticket", "mcs",   "adaptive"};
	expect_table(&r, 2, want, 8);
	ck_assert_uint_eq(tu_count_entries(s.tmp), 0);
	tu_run_free(&r);
	leave(&s);
}
END_TEST

START_TEST(jobs_given)
{
	struct scratch s;
	struct tu_run r;

	enter(&s);
	bench(&r, (const char *[]){"--bench=1", "-j3", "-u", "line", NULL});
	expect_status(&r, 0);
	ck_assert_uint_eq(header_jobs(r.out), 3);
	ck_assert_msg(strstr(r.out, ", unit line, order arrival, 1 run "),
	              "header: %s", r.out);
	const char *want[] = {"mutex", "rlock",  "sem:1", "sem:3",
	                      "spin",  "ticket", "mcs",   "adaptive"};
	expect_table(&r, 1, want, 8);
	tu_run_free(&r);

	/* One worker: sem:<jobs> would be sem:1 a second time. */
	bench(&r, (const char *[]){"--bench=1", "-j1", NULL});
	expect_status(&r, 0);
	const char *one[] = {"mutex",  "rlock", "sem:1",   "spin",
	                     "ticket", "mcs",   "adaptive"};
	expect_table(&r, 1, one, 7);
	ck_assert_uint_eq(tu_count_entries(s.tmp), 0);
	tu_run_free(&r);
	leave(&s);
}
END_TEST

START_TEST(lock_list)
{
	struct scratch s;
	struct tu_run r;

	enter(&s);
	bench(&r, (const char *[]){"--bench=2", "--lock=spin,sem:2", "-u",
	                           "line", "--order=input", "--tag", NULL});
	expect_status(&r, 0);
	const char *want[] = {"spin", "sem:2"};
	expect_table(&r, 2, want, 2);
	tu_run_free(&r);

	bench(&r, (const char *[]){"--bench", "-l", "rlock", "--order=arrival",
	                           NULL});
	expect_status(&r, 0);
	ck_assert_msg(strstr(r.out, ", unit file, order arrival, 5 runs "),
	              "header: %s", r.out);
	const char *one[] = {"rlock"};
	expect_table(&r, 5, one, 1);
	ck_assert_uint_eq(tu_count_entries(s.tmp), 0);
	tu_run_free(&r);
	leave(&s);
}
END_TEST

/* -o FILE takes the runs' output and keeps the last, which is complete. */
START_TEST(output_file)
{
	struct scratch s;
	struct tu_run r;
	size_t want_len, got_len, before;
	char *want, *got;

	enter(&s);
	tu_write_file("out", "old contents\n", 13);
	before = tu_count_entries(".");
	bench(&r, (const char *[]){"--bench=2", "-o", "out", "-l",
	                           "mutex,sem:3", NULL});
	expect_status(&r, 0);
	want = concatenation(&want_len);
	got = tu_read_file("out", &got_len);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(got_len, want_len);
	ck_assert_msg(!memcmp(got, want, want_len), "out differs from cat");
	free(want);
	free(got);
	ck_assert_uint_eq(tu_count_entries("."), before);
	ck_assert_uint_eq(tu_count_entries(s.tmp), 0);
	tu_run_free(&r);

	bench(&r, (const char *[]){"--bench=1", "-o", "tagged", "-u", "line",
	                           "--order=input", "--tag", NULL});
	expect_status(&r, 0);
	want = tagged_lines(&want_len);
	got = tu_read_file("tagged", &got_len);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(got_len, want_len);
	ck_assert_msg(!memcmp(got, want, want_len), "tagged lines differ");
	free(want);
	free(got);
	tu_run_free(&r);
	leave(&s);
}
END_TEST

START_TEST(bad_values)
{
	static const char *const cases[][6] = {
	    {"--bench=0", NULL},
	    {"--bench=x", NULL},
	    {"--bench=", NULL},
	    {"--bench=-1", NULL},
	    {"--bench", "-a", "-o", "f", NULL},
	    {"--bench=2", "--lock=mutex,bogus", NULL},
	    {"--bench=1", "--bench-jobs=0", NULL},
	    {"--bench=1", "--bench-jobs=", NULL},
	    {"--bench=1", "--bench-jobs=1,,2", NULL},
	    {"--bench=1", "--bench-jobs=2,2", NULL},
	    {"--bench=1", "--bench-jobs=1,", NULL},
	    {"--bench=1", "--bench-jobs=x", NULL},
	    {"--bench=1", "--bench-jobs=1025", NULL},
	    {"--bench=1", "--bench-jobs=-1", NULL},
	    {"--bench-jobs=2", NULL},
	    {"--export-json=f", NULL},
	    {"--export-csv=f", "-o", "out", NULL},
	    {"--export-markdown=f", NULL},
	};
	struct scratch s;

	enter(&s);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tu_run r;

		bench(&r, cases[i]);
		expect_status(&r, 2);
		ck_assert_str_eq(r.out, "");
		ck_assert_msg(strstr(r.err, "pmerge: ") == r.err,
		              "%s: no diagnostic first: %s", cases[i][0],
		              r.err);
		ck_assert_msg(strstr(r.err, "Try 'pmerge --help' for more "
		                            "information.\n"),
		              "%s: no Try line: %s", cases[i][0], r.err);
		tu_run_free(&r);
	}
	ck_assert_msg(!tu_exists("f"), "a usage error created the output");
	ck_assert_uint_eq(tu_count_entries(s.tmp), 0);
	leave(&s);
}
END_TEST

/* Inputs that cannot be read twice are refused before anything runs. */
START_TEST(not_regular_inputs)
{
	struct scratch s;
	struct tu_run r;
	char *argv[] = {(char *)tu_pmerge(), "--bench=1", "-", NULL};
	char *fifo[] = {(char *)tu_pmerge(), "--bench=1", "one", "fifo", NULL};
	char *missing[] = {(char *)tu_pmerge(), "--bench=1", "one", "nope",
	                   NULL};

	enter(&s);
	tu_run_argv(&r, argv, "lines.txt", TIMEOUT);
	ck_assert_msg(r.status == 1, "stdin: status %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out, "");
	ck_assert_msg(strstr(r.err, "pmerge: -: "), "stderr: %s", r.err);
	tu_run_free(&r);

	/* Nobody ever writes to it: opening it would hang. */
	ck_assert_int_eq(mkfifo("fifo", 0600), 0);
	tu_run_argv(&r, fifo, NULL, TIMEOUT);
	ck_assert_msg(r.status == 1, "fifo: status %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out, "");
	ck_assert_msg(strstr(r.err, "pmerge: fifo: "), "stderr: %s", r.err);
	tu_run_free(&r);

	tu_run_argv(&r, missing, NULL, TIMEOUT);
	ck_assert_msg(r.status == 1, "missing: status %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out, "");
	ck_assert_msg(
	    strstr(r.err, "pmerge: nope: No such file or directory\n"),
	    "stderr: %s", r.err);
	tu_run_free(&r);
	ck_assert_uint_eq(tu_count_entries(s.tmp), 0);
	leave(&s);
}
END_TEST

/*
 * An input whose contents change between reads: /proc/self/io counts the
 * bytes the process has read, so every run sees other contents than the
 * reference did.  The benchmark must notice, mark the rows and fail.
 */
static const char *changing_input(void)
{
	if (access("/proc/self/io", R_OK) == 0)
		return "/proc/self/io";
	/* Without I/O accounting: ticks every 10 ms, which the 12 runs
	 * below outlast. */
	return "/proc/uptime";
}

START_TEST(verification_fails)
{
	/* Each way of checking: the whole output's hash, each input's
	 * segment, the multiset of records. */
	static const char *const modes[][3] = {
	    {"--order=input", NULL},
	    {"--order=arrival", NULL},
	    {"-u", "line", NULL},
	};
	struct scratch s;

	enter(&s);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct tu_run r;
		char *argv[] = {(char *)tu_pmerge(),
		                "--bench=3",
		                "-l",
		                "mutex,sem:2",
		                (char *)modes[i][0],
		                (char *)modes[i][1],
		                NULL,
		                NULL,
		                NULL,
		                NULL};
		int n = modes[i][1] ? 6 : 5;

		argv[n++] = "lines.txt";
		argv[n++] = (char *)changing_input();
		argv[n++] = "big.bin";
		tu_run_argv(&r, argv, NULL, TIMEOUT);
		expect_status(&r, 1);
		ck_assert_msg(!strncmp(r.out, "pmerge --bench: ", 16),
		              "%s: no report: %s", modes[i][0], r.out);
		ck_assert_msg(strstr(r.out, "  FAILED\n"),
		              "%s: no failed row: %s", modes[i][0], r.out);
		tu_run_free(&r);
	}
	ck_assert_uint_eq(tu_count_entries(s.tmp), 0);
	leave(&s);
}
END_TEST

/*
 * A stop signal in the middle of the benchmark: pmerge dies by it (the
 * shell sees 128+N) and leaves no temporary output behind.  The signal is
 * sent once the temporary file exists, whatever run is going on then.
 */
static void interrupt_with(int sig)
{
	struct scratch s;
	char *argv[] = {(char *)tu_pmerge(),
	                "--bench=100000",
	                "-j2",
	                "--export-csv=old.csv",
	                "big.bin",
	                "lines.txt",
	                "big.bin",
	                NULL};
	size_t entries;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t set;
	pid_t pid;
	int st;

	enter(&s);
	tu_write_file("old.csv", "old\n", 4);
	entries = tu_count_entries(".");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawnattr_init(&at);
	/* Whatever the test runner ignores or blocks, pmerge must start with
	 * the signal at its default, as from an interactive shell. */
	sigemptyset(&set);
	sigaddset(&set, sig);
	posix_spawnattr_setsigdefault(&at, &set);
	sigemptyset(&set);
	posix_spawnattr_setsigmask(&at, &set);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF |
	                                  POSIX_SPAWN_SETSIGMASK);
	ck_assert_int_eq(posix_spawn(&pid, argv[0], &fa, &at, argv, environ),
	                 0);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);

	/* Wait (without a time limit that could fail a slow machine) for
	 * the temporary output (unnamed: open in $TMPDIR), then a little
	 * more so that runs go on. */
	for (int i = 0; !tu_has_fd_in(pid, s.tmp); i++) {
		ck_assert_msg(i < (int)(TIMEOUT * 100),
		              "no temporary output appeared");
		ck_assert_int_eq(waitpid(pid, &st, WNOHANG), 0);
		poll(NULL, 0, 10);
	}
	poll(NULL, 0, 50);
	ck_assert_int_eq(kill(pid, sig), 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == sig,
	              "pmerge did not die by signal %d (status 0x%x)", sig, st);
	ck_assert_uint_eq(tu_count_entries(s.tmp), 0);
	/* The export was not written: the old file as it was, and no
	 * temporary export beside it. */
	char *old = tu_read_file("old.csv", NULL);
	ck_assert_ptr_nonnull(old);
	ck_assert_str_eq(old, "old\n");
	free(old);
	ck_assert_uint_eq(tu_count_entries("."), entries);
	leave(&s);
}

/* ------------------------------------------------ job sweep, exports */

/*
 * --bench-jobs: every strategy at every job count, job count by job count,
 * each row verified and showing its job count; the summary names rows by
 * strategy and job count.
 */
START_TEST(bench_jobs)
{
	static const char *const want[][2] = {
	    {"mutex", "1"}, {"ticket", "1"}, {"mutex", "3"}, {"ticket", "3"}};
	struct scratch s;
	struct tu_run r;
	struct lines l;

	enter(&s);
	bench(&r, (const char *[]){"--bench=2", "--bench-jobs=1,3", "-l",
	                           "mutex,ticket", "-u", "line", NULL});
	expect_status(&r, 0);
	ck_assert_str_eq(r.err, "");
	split_lines(r.out, &l);
	ck_assert_msg(strstr(l.v[0], ", jobs 1,3, unit line, "), "header: %s",
	              l.v[0]);
	ck_assert_msg(!strncmp(l.v[1], "lock ", 5) &&
	                  strstr(l.v[1], " jobs ") &&
	                  strstr(l.v[1], " fairness "),
	              "columns: %s", l.v[1]);
	ck_assert_uint_eq(l.n, 2 + 4 + 4);
	for (size_t i = 0; i < 4; i++) {
		char name[32], jobs[8];
		const char *row = l.v[2 + i];
		size_t len = strlen(row);

		ck_assert_int_eq(sscanf(row, "%31s %7s", name, jobs), 2);
		ck_assert_str_eq(name, want[i][0]);
		ck_assert_str_eq(jobs, want[i][1]);
		ck_assert_msg(len > 4 && !strcmp(row + len - 4, "  ok"),
		              "row not verified: %s", row);
	}
	ck_assert_msg(strstr(l.v[6], " -j ") && strstr(l.v[6], " ran"),
	              "summary: %s", l.v[6]);
	for (size_t i = 7; i < l.n; i++)
		ck_assert_msg(strstr(l.v[i], " times faster than ") &&
		                  strstr(l.v[i], " -j "),
		              "summary line: %s", l.v[i]);
	ck_assert_uint_eq(tu_count_entries(s.tmp), 0);
	tu_run_free(&r);

	/* -j is left aside when a list is given; sem:<jobs> follows it. */
	bench(&r,
	      (const char *[]){"--bench=1", "-j", "7", "--bench-jobs=2", NULL});
	expect_status(&r, 0);
	const char *two[] = {"mutex", "rlock",  "sem:1", "sem:2",
	                     "spin",  "ticket", "mcs",   "adaptive"};
	expect_table(&r, 1, two, 8);
	ck_assert_uint_eq(header_jobs(r.out), 2);
	tu_run_free(&r);
	leave(&s);
}
END_TEST

/*
 * Export files that cannot be written are output errors (exit 1, the name
 * and the reason): a missing or unusable directory is found before any
 * run, a full device when the results are written; nothing is left
 * half-written.  One that can be written is replaced whole, its mode kept.
 */
START_TEST(export_errors)
{
	static const struct {
		const char *opt, *path, *reason;
	} bad[] = {
	    {"--export-json=", "nodir/x.json", "No such file or directory"},
	    {"--export-csv=", "one/x.csv", "Not a directory"},
	    {"--export-markdown=", "/dev/full", "No space left on device"},
	};
	struct scratch s;
	struct tu_run r;

	enter(&s);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *opt, *msg;
		size_t before = tu_count_entries(".");

		ck_assert_int_gt(
		    asprintf(&opt, "%s%s", bad[i].opt, bad[i].path), 0);
		ck_assert_int_gt(asprintf(&msg, "pmerge: %s: %s\n", bad[i].path,
		                          bad[i].reason),
		                 0);
		bench(&r,
		      (const char *[]){"--bench=1", "-l", "mcs", opt, NULL});
		expect_status(&r, 1);
		ck_assert_msg(strstr(r.err, msg), "%s: stderr: %s", opt, r.err);
		ck_assert_uint_eq(tu_count_entries("."), before);
		ck_assert_uint_eq(tu_count_entries(s.tmp), 0);
		tu_run_free(&r);
		free(opt);
		free(msg);
	}

	/* An existing export is replaced whole and keeps its mode. */
	tu_write_file("res.md", "stale\n", 6);
	ck_assert_int_eq(chmod("res.md", 0640), 0);
	size_t before = tu_count_entries(".");
	bench(&r, (const char *[]){"--bench=1", "-l", "adaptive,mcs",
	                           "--export-markdown=res.md", NULL});
	expect_status(&r, 0);
	size_t len;
	char *md = tu_read_file("res.md", &len);
	ck_assert_ptr_nonnull(md);
	ck_assert_msg(!strncmp(md,
	                       "| Command | Mean [ms] | Min [ms] | "
	                       "Max [ms] | Relative |\n",
	                       55),
	              "res.md: %s", md);
	ck_assert_msg(strstr(md, "| `pmerge -j ") && !strstr(md, "stale"),
	              "res.md: %s", md);
	free(md);
	struct stat st;
	ck_assert_int_eq(stat("res.md", &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0640);
	ck_assert_uint_eq(tu_count_entries("."), before);
	tu_run_free(&r);
	leave(&s);
}
END_TEST

/* A run that does not verify is still measured: its exit code says so. */
START_TEST(export_failed_run)
{
	struct scratch s;
	struct tu_run r;
	char *argv[] = {(char *)tu_pmerge(),
	                "--bench=2",
	                "-l",
	                "ticket",
	                "--export-json=e.json",
	                "one",
	                (char *)changing_input(),
	                NULL};

	enter(&s);
	tu_run_argv(&r, argv, NULL, TIMEOUT);
	expect_status(&r, 1);
	char *j = tu_read_file("e.json", NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_msg(strstr(j, "\"exit_codes\": [1, 1]"), "e.json: %s", j);
	free(j);
	tu_run_free(&r);
	leave(&s);
}
END_TEST

START_TEST(interrupted)
{
	interrupt_with(SIGINT);
	interrupt_with(SIGTERM);
	interrupt_with(SIGHUP);
}
END_TEST

/* --------------------------------------------------------------- json */

/* Runs the checker on a report; returns its exit status. */
static int run_checker(const char *report, const char *const *facts, char **err)
{
	const char *argv[32];
	size_t n = 0;
	struct tu_run r;
	int status;

	argv[n++] = "python3";
	argv[n++] = check_script;
	argv[n++] = report;
	for (; *facts; facts++)
		argv[n++] = *facts;
	argv[n] = NULL;
	tu_run_argv(&r, (char *const *)argv, NULL, TIMEOUT);
	status = r.status;
	*err = strdup(r.err);
	tu_run_free(&r);
	return status;
}

static void expect_json(const char *const *opts, const char *const *facts)
{
	struct tu_run r;
	char *err;

	bench(&r, opts);
	expect_status(&r, 0);
	tu_write_file("report.json", r.out, r.out_len);
	ck_assert_msg(run_checker("report.json", facts, &err) == 0, "%s %s: %s",
	              opts[0], opts[1] ? opts[1] : "", err);
	free(err);
	tu_run_free(&r);
}

static char *fmt(const char *f, size_t v)
{
	char *s;

	ck_assert_int_gt(asprintf(&s, f, v), 0);
	return s;
}

START_TEST(json_reports)
{
	struct scratch s;
	size_t all, tagged;
	char *d, *bytes, *tbytes, *inputs_n;

	enter(&s);
	free(concatenation(&all));
	free(tagged_lines(&tagged));
	bytes = fmt("bytes=%zu", all);
	tbytes = fmt("bytes=%zu", line_bytes());
	inputs_n = fmt("inputs=%zu", N_INPUTS);

	expect_json((const char *[]){"--bench=2", "--stats=json", NULL},
	            (const char *[]){"runs=2", "locks=default", "unit=file",
	                             "order=input", bytes, inputs_n,
	                             "version=" PMERGE_VERSION_TEXT, NULL});
	expect_json(
	    (const char *[]){"--bench=2", "--stats=json", "--lock=mutex,sem:2",
	                     NULL},
	    (const char *[]){"runs=2", "locks=mutex,sem:2", bytes, NULL});
	expect_json((const char *[]){"--bench=2", "--stats=json", "-u", "line",
	                             "-j3", NULL},
	            (const char *[]){"runs=2", "locks=default", "jobs=3",
	                             "unit=line", "order=arrival", tbytes,
	                             NULL});
	expect_json(
	    (const char *[]){"--bench=2", "--stats=json", "--order=arrival",
	                     "-l", "spin,sem:4,mutex", NULL},
	    (const char *[]){"runs=2", "locks=spin,sem:4,mutex", "unit=file",
	                     "order=arrival", bytes, NULL});
	d = fmt("bytes=%zu", tagged);
	expect_json((const char *[]){"--bench=2", "--stats=json", "-u", "line",
	                             "--tag", "--order=input", "-l",
	                             "rlock,sem:2", NULL},
	            (const char *[]){"runs=2", "locks=rlock,sem:2", "unit=line",
	                             "order=input", d, NULL});
	free(d);
	free(bytes);
	free(tbytes);
	free(inputs_n);
	ck_assert_uint_eq(tu_count_entries(s.tmp), 0);
	leave(&s);
}
END_TEST

/* The checker itself catches a failed verification and a wrong count. */
START_TEST(json_checker_fails)
{
	struct scratch s;
	struct tu_run r;
	char *err;
	char *argv[] = {(char *)tu_pmerge(),
	                "--bench=2",
	                "--stats=json",
	                "-l",
	                "mutex",
	                "one",
	                (char *)changing_input(),
	                NULL};

	enter(&s);
	tu_run_argv(&r, argv, NULL, TIMEOUT);
	expect_status(&r, 1);
	tu_write_file("failed.json", r.out, r.out_len);
	tu_run_free(&r);
	ck_assert_int_eq(run_checker("failed.json",
	                             (const char *[]){"runs=2", "locks=mutex",
	                                              "verified=not", NULL},
	                             &err),
	                 0);
	free(err);
	ck_assert_int_eq(run_checker("failed.json",
	                             (const char *[]){"locks=mutex", NULL},
	                             &err),
	                 1);
	ck_assert_msg(strstr(err, "output_ok"), "checker said: %s", err);
	free(err);
	ck_assert_int_eq(
	    run_checker("failed.json",
	                (const char *[]){"runs=3", "verified=not", NULL}, &err),
	    1);
	free(err);
	leave(&s);
}
END_TEST

/* ------------------------------------------------------------- exports */

/*
 * Runs one benchmark with every export and its --stats=json report, and
 * holds them against hyperfine's through the checker (main has made sure
 * that hyperfine is there).
 */
static void check_exports(const char *const *opts, const char *const *facts)
{
	const char *argv[32];
	size_t n = 0;
	struct tu_run r, py;

	bench(&r, opts);
	expect_status(&r, 0);
	tu_write_file("stats.json", r.out, r.out_len);
	tu_run_free(&r);
	argv[n++] = "python3";
	argv[n++] = check_script;
	argv[n++] = "e.json";
	argv[n++] = "e.csv";
	argv[n++] = "e.md";
	argv[n++] = "stats.json";
	for (; *facts; facts++)
		argv[n++] = *facts;
	argv[n] = NULL;
	tu_run_argv(&py, (char *const *)argv, NULL, TIMEOUT);
	ck_assert_msg(py.status == 0, "%s %s: status %d: %s", opts[0], opts[1],
	              py.status, py.err);
	tu_run_free(&py);
}

#define EXPORTS                                                                \
	"--stats=json", "--export-json=e.json", "--export-csv=e.csv",          \
	    "--export-markdown=e.md"

START_TEST(exports_like_hyperfine)
{
	struct scratch s;

	enter(&s);
	check_exports(
	    (const char *[]){"--bench=3", "--bench-jobs=1,2", "-l",
	                     "mutex,ticket", EXPORTS, NULL},
	    (const char *[]){"runs=3", "locks=mutex,ticket", "jobs=1,2", NULL});
	/* One run: no deviation, as hyperfine writes it; one job count. */
	check_exports((const char *[]){"--bench=1", "-u", "line", "-l",
	                               "mcs,adaptive,sem:2", "-j", "4", EXPORTS,
	                               NULL},
	              (const char *[]){"runs=1", "locks=mcs,adaptive,sem:2",
	                               "jobs=4", NULL});
	ck_assert_uint_eq(tu_count_entries(s.tmp), 0);
	leave(&s);
}
END_TEST

/* The checker itself must refuse exports that differ from hyperfine's. */
START_TEST(export_checker_fails)
{
	struct scratch s;
	struct tu_run r, py;

	enter(&s);
	bench(&r, (const char *[]){"--bench=2", "-l", "mutex", "-j", "2",
	                           EXPORTS, NULL});
	expect_status(&r, 0);
	tu_write_file("stats.json", r.out, r.out_len);
	tu_run_free(&r);
	/* A renamed key, as a schema slip would make it. */
	char *j = tu_read_file("e.json", NULL);
	ck_assert_ptr_nonnull(j);
	char *k = strstr(j, "\"exit_codes\"");
	ck_assert_ptr_nonnull(k);
	memcpy(k, "\"exit_cudes\"", 12);
	tu_write_file("e.json", j, strlen(j));
	free(j);
	char *argv[] = {"python3", (char *)check_script,
	                "e.json",  "e.csv",
	                "e.md",    "stats.json",
	                "runs=2",  "locks=mutex",
	                "jobs=2",  NULL};
	tu_run_argv(&py, argv, NULL, TIMEOUT);
	ck_assert_int_eq(py.status, 1);
	ck_assert_msg(strstr(py.err, "exit_codes"), "checker said: %s", py.err);
	tu_run_free(&py);
	leave(&s);
}
END_TEST

int main(int argc, char **argv)
{
	const char *group = argc > 1 ? argv[1] : "main";
	Suite *s = suite_create("bench");
	TCase *tc = tcase_create(group);

	/* A SIGPIPE ignored by whoever started us would reach pmerge. */
	signal(SIGPIPE, SIG_DFL);
	tcase_set_timeout(tc, 110);
	if (!strcmp(group, "main")) {
		tcase_add_test(tc, default_strategies);
		tcase_add_test(tc, jobs_given);
		tcase_add_test(tc, lock_list);
		tcase_add_test(tc, output_file);
		tcase_add_test(tc, bad_values);
		tcase_add_test(tc, not_regular_inputs);
		tcase_add_test(tc, verification_fails);
		tcase_add_test(tc, interrupted);
		tcase_add_test(tc, bench_jobs);
		tcase_add_test(tc, export_errors);
		tcase_add_test(tc, export_failed_run);
	} else if ((!strcmp(group, "json") || !strcmp(group, "export")) &&
	           argc > 2) {
		bool exports = !strcmp(group, "export");

		if (system("python3 -c 'import json' >/dev/null 2>&1") != 0 ||
		    (exports &&
		     system("hyperfine --version >/dev/null 2>&1") != 0)) {
			fprintf(stderr, "skipped: needs python3%s\n",
			        exports ? " and hyperfine" : "");
			return SKIP;
		}
		/* Tests change directory: the path must be absolute. */
		check_script = realpath(argv[2], NULL);
		if (!check_script) {
			perror(argv[2]);
			return 1;
		}
		if (exports) {
			tcase_add_test(tc, exports_like_hyperfine);
			tcase_add_test(tc, export_checker_fails);
		} else {
			tcase_add_test(tc, json_reports);
			tcase_add_test(tc, json_checker_fails);
		}
	} else {
		fprintf(stderr,
		        "usage: %s [main | json SCRIPT | export SCRIPT]\n",
		        argv[0]);
		return 1;
	}
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
