/*
 * pmerge --bench: the same merge under several lock strategies, timed and
 * verified, with the lock statistics of each side by side.
 *
 * Every run (the warm-up included) is checked by the oracle
 * (bench_oracle.c) against what the inputs say the output must be,
 * computed once before the first run.
 *
 * The benchmark keeps its own libuv signal watchers for its whole length.
 * libuv installs one process-wide handler per signal and removes it only
 * when the last watcher goes, so between two runs (and while a run tears
 * its watchers down) a SIGINT still reaches us instead of killing the
 * process with the temporary output left behind.
 */
#include "bench.h"
#include "quote.h"
#include "ui.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

/* ------------------------------------------------------------ the bench */

/* A merge's stop signals (src/loop.c), and SIGUSR1. */
static const int watched_signals[] = {
    SIGINT,  SIGTERM, SIGHUP,    SIGQUIT, SIGPIPE, SIGALRM,   SIGUSR2,
    SIGPOLL, SIGPROF, SIGVTALRM, SIGXCPU, SIGXFSZ, SIGSTKFLT, SIGUSR1,
};
#define N_WATCHED (sizeof(watched_signals) / sizeof(watched_signals[0]))

struct bench {
	const struct pmerge_config *user;
	struct pmerge_config cfg; /* what each run gets */
	enum pmerge_order order;
	const unsigned *jobs; /* the job counts to run */
	size_t n_jobs;
	unsigned one_job; /* backs jobs without --bench-jobs */
	unsigned runs;
	const char *out_path;
	int temp_fd; /* our unnamed output (temp_open) */
	bool temp_open;
	char temp_name[32]; /* /proc/self/fd/N: its name for the runs */
	struct bench_oracle oracle;
	struct bench_strategy *st;
	size_t n_st;
	struct pmerge_lock_result *run_lock; /* this strategy's runs */
	double *run_user, *run_system;       /* and their CPU times */
	struct bench_export exports[3];
	size_t n_exports;
	bool stepped;
	uv_loop_t loop;
	bool loop_on;
	uv_signal_t sig[N_WATCHED];
	bool sig_on[N_WATCHED];
	int stop; /* a stop signal that arrived, or 0 */
};

/* True when sig was set to SIG_IGN before we started (nohup). */
static bool signal_ignored(int sig)
{
	struct sigaction sa;

	return sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN;
}

static void on_bench_signal(uv_signal_t *h, int sig)
{
	struct bench *b = h->data;

	/* SIGUSR1 between runs has no merge to report on: it only must not
	 * kill the process, which the watcher alone ensures. */
	if (sig != SIGUSR1 && !b->stop)
		b->stop = sig;
}

/* True when a stop signal has arrived; runs the watchers' callbacks. */
static bool stopping(void *ctx)
{
	struct bench *b = ctx;

	if (b->loop_on)
		uv_run(&b->loop, UV_RUN_NOWAIT);
	return b->stop != 0;
}

static int watch_signals(struct bench *b)
{
	int rc = uv_loop_init(&b->loop);

	if (rc < 0)
		return rc;
	b->loop_on = true;
	for (size_t i = 0; i < N_WATCHED; i++) {
		/* What was ignored at start (nohup) stays ignored, as in a
		 * plain merge. */
		if (signal_ignored(watched_signals[i]))
			continue;
		rc = uv_signal_init(&b->loop, &b->sig[i]);
		if (rc < 0)
			return rc;
		b->sig[i].data = b;
		b->sig_on[i] = true;
		rc = uv_signal_start(&b->sig[i], on_bench_signal,
		                     watched_signals[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void unwatch_signals(struct bench *b)
{
	if (!b->loop_on)
		return;
	for (size_t i = 0; i < N_WATCHED; i++)
		if (b->sig_on[i])
			uv_close((uv_handle_t *)&b->sig[i], NULL);
	uv_run(&b->loop, UV_RUN_DEFAULT);
	uv_loop_close(&b->loop);
	b->loop_on = false;
}

/* ------------------------------------------------------------ the runs */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Mean, sample deviation, median and range of s->times; the lock figures
 * of the run whose time is the median (the faster middle one when the
 * count is even). */
static int summarise(struct bench *b, struct bench_strategy *s)
{
	unsigned n = b->runs;
	double *sorted = malloc(n * sizeof(double));
	double sum = 0, sq = 0, user = 0, sys = 0;

	if (!sorted)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		user += b->run_user[i];
		sys += b->run_system[i];
	}
	s->user = user / n;
	s->system = sys / n;
	memcpy(sorted, s->times, n * sizeof(double));
	qsort(sorted, n, sizeof(double), cmp_double);
	for (unsigned i = 0; i < n; i++)
		sum += s->times[i];
	s->mean = sum / n;
	for (unsigned i = 0; i < n; i++)
		sq += (s->times[i] - s->mean) * (s->times[i] - s->mean);
	s->stddev = n > 1 ? sqrt(sq / (n - 1)) : 0;
	s->median =
	    n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
	s->min = sorted[0];
	s->max = sorted[n - 1];
	for (unsigned i = 0; i < n; i++) {
		if (s->times[i] == sorted[(n - 1) / 2]) {
			s->lock = b->run_lock[i];
			break;
		}
	}
	free(sorted);
	return 0;
}

static double cpu_seconds(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

/*
 * One run under s.  run 0 is the warm-up, which is verified but not
 * timed.  The user and system times are the process's own, measured
 * around the run: between runs this thread alone works, and the workers
 * of the run are joined (their times folded into the process's) before
 * pmerge_run() returns.  Verification comes after, so it is not counted.
 * Returns 0 (with s->ok cleared when the output was wrong), -EINTR with *sig
 * set, or the engine's error.
 */
/*
 * Says which part of the benchmark failed (name, when not NULL, quoted
 * after what) and why (-rc); returns -EIO, which is then not said again.
 */
static int setup_failed(const char *what, const char *name, int rc)
{
	char *q = name ? pm_quote_always(name) : NULL;

	ui_message("--bench: %s%s%s: %s", what, q ? " " : "", q ? q : "",
	           strerror(-rc));
	pm_quote_free(q);
	return -EIO;
}

static int run_once(struct bench *b, struct bench_strategy *s, unsigned run,
                    int *sig)
{
	struct pmerge_result res;
	struct rusage ru0, ru1;
	uint64_t t0, t1;
	bool ok;
	int rc, vrc;

	if (stopping(b)) {
		*sig = b->stop;
		return -EINTR;
	}
	if (b->temp_open) {
		/* Only one output at a time in $TMPDIR, which is often
		 * memory: the last run's goes before the next is written, from
		 * the start, where the run writes the descriptor. */
		if (ftruncate(b->temp_fd, 0) < 0 ||
		    lseek(b->temp_fd, 0, SEEK_SET) < 0)
			return setup_failed("cannot empty the temporary output",
			                    NULL, -errno);
	}
	ui_bench_step(s->label, run, b->runs);
	b->stepped = true;
	b->cfg.lock = s->spec;
	b->cfg.jobs = s->jobs;
	getrusage(RUSAGE_SELF, &ru0);
	t0 = uv_hrtime();
	rc = pmerge_run(&b->cfg, &res);
	t1 = uv_hrtime();
	/* A signal held back by the run's commit reaches our watchers. */
	pmerge_signals_release(&res);
	getrusage(RUSAGE_SELF, &ru1);
	if (res.signal || rc == -EINTR) {
		*sig = res.signal ? res.signal : b->stop;
		pmerge_result_free(&res);
		return -EINTR;
	}
	if (rc < 0) {
		/* Output errors are the caller's to report, with the name. */
		if (rc != -EIO && !res.output_error)
			ui_setup_failure(&res, -rc), rc = -EIO;
		pmerge_result_free(&res);
		return rc;
	}
	vrc = oracle_verify(&b->oracle, b->out_path, &res, &ok);
	if (vrc < 0 && vrc != -EINTR)
		vrc = setup_failed(
		    b->user->output ? "cannot read back the output"
		                    : "cannot read back the temporary output",
		    b->user->output, vrc);
	if (vrc == 0) {
		if (!ok)
			s->ok = false;
		if (run > 0) {
			s->times[run - 1] = (double)(t1 - t0) / 1e9;
			s->run_ok[run - 1] = ok;
			b->run_lock[run - 1] = res.lock;
			b->run_user[run - 1] = cpu_seconds(&ru1.ru_utime) -
			                       cpu_seconds(&ru0.ru_utime);
			b->run_system[run - 1] = cpu_seconds(&ru1.ru_stime) -
			                         cpu_seconds(&ru0.ru_stime);
		}
	} else if (vrc == -EINTR) {
		*sig = b->stop;
	}
	pmerge_result_free(&res);
	return vrc;
}

/* ------------------------------------------------------------- set-up */

/*
 * Every input must be a regular file, since each run reads it again, and
 * the output a regular file (or none yet) that is none of the inputs,
 * since each run reads it back (by name: not a descriptor the engine
 * writes where it stands).  Returns 0, or -EIO after saying what is wrong.
 */
static int check_files(const struct pmerge_config *cfg)
{
	const struct pmerge_callbacks *cb = &cfg->cb;
	struct stat out, st;
	bool have_out = false, bad_output = false, not_regular = false;
	int rc = 0;

	if (cfg->output) {
		if (pmerge_output_fd(cfg->output) >= 0)
			bad_output = true;
		else if (stat(cfg->output, &out) == 0)
			bad_output = !S_ISREG(out.st_mode), have_out = true;
	}
	for (size_t i = 0; i < cfg->n_inputs && !bad_output; i++) {
		const char *name = cfg->inputs[i];
		int err = 0;

		if (strcmp(name, "-") == 0 ||
		    (stat(name, &st) == 0 && !S_ISREG(st.st_mode) &&
		     !S_ISDIR(st.st_mode))) {
			ui_name_message(name, "not a regular file");
			not_regular = true;
			rc = -EIO;
			continue;
		}
		if (stat(name, &st) < 0)
			err = errno;
		else if (S_ISDIR(st.st_mode))
			err = EISDIR;
		else if (have_out && st.st_dev == out.st_dev &&
		         st.st_ino == out.st_ino)
			bad_output = true;
		if (err && cb->input_error)
			cb->input_error(cb->user, name, err);
		if (err)
			rc = -EIO;
	}
	if (bad_output) {
		ui_name_message(cfg->output,
		                "--bench needs -o to name a regular file that "
		                "is not one of the inputs");
		return -EIO;
	}
	if (not_regular)
		ui_message("--bench reads every input once per run: inputs "
		           "must be regular files");
	return rc;
}

/*
 * The output of the runs: cfg->output, or an unnamed file in $TMPDIR
 * (O_TMPFILE, or one unlinked as soon as it is made where the file system
 * has none) that the runs write as the descriptor /proc/self/fd/N, so
 * that nothing is left behind, even by kill -9.
 */
static int make_output(struct bench *b)
{
	const char *dir = getenv("TMPDIR");
	char *name = NULL;
	int fd;

	if (b->user->output) {
		b->out_path = b->user->output;
		return 0;
	}
	if (!dir || !*dir)
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
		if (asprintf(&name, "%s/pmerge-bench-XXXXXX", dir) < 0)
			return setup_failed("cannot name the temporary output",
			                    NULL, -ENOMEM);
		fd = mkostemp(name, O_CLOEXEC);
		if (fd >= 0 && unlink(name) < 0) {
			int err = -errno;
			close(fd);
			fd = -1;
			errno = -err;
		}
		free(name);
	}
	if (fd < 0)
		return setup_failed("cannot create the temporary output in",
		                    dir, -errno);
	b->temp_fd = fd;
	b->temp_open = true;
	snprintf(b->temp_name, sizeof(b->temp_name), "/proc/self/fd/%d", fd);
	b->out_path = b->temp_name;
	return 0;
}

/* Every strategy at every job count, job count by job count. */
static int make_strategies(struct bench *b,
                           const struct pmerge_lock_spec *locks, size_t n_locks)
{
	struct pmerge_lock_spec defaults[] = {
	    {PMERGE_LOCK_MUTEX, 1}, {PMERGE_LOCK_RLOCK, 1},
	    {PMERGE_LOCK_SEM, 1},   {PMERGE_LOCK_SEM, 1},
	    {PMERGE_LOCK_SPIN, 1},  {PMERGE_LOCK_TICKET, 1},
	    {PMERGE_LOCK_MCS, 1},   {PMERGE_LOCK_ADAPTIVE, 1},
	};
	bool own = !locks;

	if (own) {
		locks = defaults;
		n_locks = sizeof(defaults) / sizeof(defaults[0]);
	}
	b->st = calloc(n_locks * b->n_jobs, sizeof(*b->st));
	if (!b->st)
		return -ENOMEM;
	for (size_t j = 0; j < b->n_jobs; j++) {
		defaults[3].n = b->jobs[j]; /* sem:<jobs> */
		for (size_t i = 0; i < n_locks; i++) {
			struct bench_strategy *s = &b->st[b->n_st];

			/* With -j1, sem:<jobs> is sem:1 again: run it
			 * once. */
			if (own && i == 3 && b->jobs[j] == 1)
				continue;
			s->spec = locks[i];
			s->jobs = b->jobs[j];
			s->ok = true;
			pmerge_lock_format(&locks[i], s->name, sizeof(s->name));
			if (b->n_jobs > 1)
				snprintf(s->label, sizeof(s->label), "%s -j %u",
				         s->name, s->jobs);
			else
				snprintf(s->label, sizeof(s->label), "%s",
				         s->name);
			s->times = calloc(b->runs, sizeof(double));
			s->run_ok = calloc(b->runs, sizeof(bool));
			if (!s->times || !s->run_ok)
				return -ENOMEM;
			b->n_st++;
		}
	}
	return 0;
}

/* Opens every export asked for; on failure *failed names the path. */
static int open_exports(struct bench *b, const struct bench_options *opt,
                        const char **failed)
{
	const struct {
		const char *path;
		enum bench_export_format format;
	} want[] = {
	    {opt->export_json, BENCH_EXPORT_JSON},
	    {opt->export_csv, BENCH_EXPORT_CSV},
	    {opt->export_markdown, BENCH_EXPORT_MARKDOWN},
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int rc;

		if (!want[i].path)
			continue;
		rc = bench_export_open(&b->exports[b->n_exports],
		                       want[i].format, want[i].path);
		if (rc < 0) {
			*failed = want[i].path;
			return rc;
		}
		b->n_exports++;
	}
	return 0;
}

/*
 * Checks the set-up and prepares everything the runs need: the job counts,
 * the strategies, the exports, the signal watchers, the expected output
 * and the output file.  Returns 0 or what bench_run() returns.
 */
static int prepare(struct bench *b, const struct pmerge_config *cfg,
                   const struct bench_options *opt, const char **export_failed)
{
	struct pmerge_plan plan;
	unsigned runs = opt->runs;
	int rc;

	if (cfg->n_inputs == 0) {
		ui_message("--bench needs at least one input");
		return -EIO;
	}
	if (runs == 0 || cfg->append || (opt->locks && opt->n_locks == 0) ||
	    (opt->jobs && opt->n_jobs == 0) || pmerge_resolve(cfg, &plan) < 0)
		return -EINVAL;
	b->user = cfg;
	b->runs = runs;
	b->one_job = plan.jobs;
	b->jobs = opt->jobs ? opt->jobs : &b->one_job;
	b->n_jobs = opt->jobs ? opt->n_jobs : 1;
	for (size_t j = 0; j < b->n_jobs; j++)
		if (b->jobs[j] < 1 || b->jobs[j] > PMERGE_JOBS_MAX)
			return -EINVAL;
	b->order = plan.order;
	b->oracle = (struct bench_oracle){
	    .cfg = cfg,
	    .order = plan.order,
	    .term = plan.terminator,
	    .stopping = stopping,
	    .ctx = b,
	};
	if ((rc = check_files(cfg)) < 0)
		return rc;
	b->oracle.buf = malloc(BENCH_CHUNK);
	b->run_lock = calloc(runs, sizeof(*b->run_lock));
	b->run_user = calloc(runs, sizeof(double));
	b->run_system = calloc(runs, sizeof(double));
	if (!b->oracle.buf || !b->run_lock || !b->run_user || !b->run_system)
		return setup_failed("cannot allocate the read-back buffers",
		                    NULL, -ENOMEM);
	if ((rc = make_strategies(b, opt->locks, opt->n_locks)) < 0)
		return setup_failed("cannot allocate the table of strategies",
		                    NULL, rc);
	if ((rc = open_exports(b, opt, export_failed)) < 0)
		return rc;
	if ((rc = watch_signals(b)) < 0)
		return setup_failed("cannot watch signals", NULL, rc);
	if ((rc = oracle_expect(&b->oracle)) < 0)
		return rc == -ENOMEM ? setup_failed("cannot hold the expected "
		                                    "output's records",
		                                    NULL, rc)
		                     : rc;
	if ((rc = make_output(b)) < 0)
		return rc;
	b->cfg = *cfg;
	b->cfg.output = b->out_path;
	b->cfg.order = b->order;
	b->cfg.record_placement = true;
	b->cfg.detailed_stats = true;
	b->cfg.handle_signals = true;
	b->cfg.progress_interval_ms = 0;
	b->cfg.cb.progress = NULL;
	return 0;
}

/* Every strategy's warm-up and runs; *all_ok says whether all verified. */
static int run_all(struct bench *b, int *signal, bool *all_ok)
{
	int rc = 0;

	*all_ok = true;
	for (size_t i = 0; i < b->n_st && rc == 0; i++) {
		struct bench_strategy *s = &b->st[i];

		for (unsigned run = 0; run <= b->runs && rc == 0; run++)
			rc = run_once(b, s, run, signal);
		if (rc == 0)
			rc = summarise(b, s);
		*all_ok = *all_ok && s->ok;
	}
	return rc;
}

/* The report, and the exports written in full. */
static int report_all(struct bench *b, const struct bench_options *opt,
                      char **report, const char **export_failed)
{
	struct bench_results t = {
	    .runs = b->runs,
	    .jobs = b->jobs,
	    .n_jobs = b->n_jobs,
	    .unit = b->user->unit,
	    .order = b->order,
	    .inputs = b->user->n_inputs,
	    .bytes = b->oracle.want.bytes,
	    .st = b->st,
	    .n_st = b->n_st,
	};
	int rc = bench_report(&t, opt->json, report);

	/* The runs are measured even when one did not verify: the exports
	 * say so in their exit codes. */
	for (size_t i = 0; i < b->n_exports && rc == 0; i++) {
		rc = bench_export_commit(&b->exports[i], &t);
		if (rc < 0)
			*export_failed = b->exports[i].path;
	}
	return rc;
}

/* Removes what the benchmark made and frees b; safe from any point. */
static void bench_free(struct bench *b)
{
	if (b->stepped)
		ui_bench_step(NULL, 0, b->runs);
	if (b->temp_open)
		close(b->temp_fd);
	for (size_t i = 0; i < b->n_exports; i++)
		bench_export_abort(&b->exports[i]);
	unwatch_signals(b);
	free(b->oracle.buf);
	free(b->run_lock);
	free(b->run_user);
	free(b->run_system);
	free(b->oracle.want.input_hash);
	for (size_t i = 0; b->st && i < b->n_st; i++) {
		free(b->st[i].times);
		free(b->st[i].run_ok);
	}
	free(b->st);
	free(b);
}

int bench_run(const struct pmerge_config *cfg, const struct bench_options *opt,
              char **report, int *signal, const char **export_failed)
{
	struct bench *b = calloc(1, sizeof(*b));
	bool all_ok = false;
	int rc;

	*report = NULL;
	*signal = 0;
	*export_failed = NULL;
	if (!b)
		return setup_failed("cannot allocate its state", NULL, -ENOMEM);
	rc = prepare(b, cfg, opt, export_failed);
	if (rc == 0)
		rc = run_all(b, signal, &all_ok);
	if (rc == 0)
		rc = report_all(b, opt, report, export_failed);
	if (rc == 0 && !all_ok)
		rc = -EIO;
	if (rc == -EINTR && !*signal)
		*signal = b->stop ? b->stop : SIGINT;
	bench_free(b);
	return rc;
}
