/*
 * pmerge --bench: the same merge under several lock strategies, timed and
 * verified, with the lock statistics of each side by side.  bench.c runs
 * it, bench_oracle.c knows what each run's output must be, and
 * bench_report.c renders the comparison.
 */
#ifndef PMERGE_BENCH_H
#define PMERGE_BENCH_H

#include "pmerge.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_WARMUP 1
#define BENCH_CHUNK  (1u << 20)

/* What to run and what to write besides the report. */
struct bench_options {
	/* NULL: mutex, rlock, sem:1, sem:<jobs>, spin, ticket, mcs, adaptive */
	const struct pmerge_lock_spec *locks;
	size_t n_locks;
	/* The job counts to run every strategy at; NULL: cfg->jobs alone. */
	const unsigned *jobs;
	size_t n_jobs;
	unsigned runs;
	bool json; /* the report is the JSON document, not the table */
	/* hyperfine's export formats, written when the runs are done; NULL:
	 * not wanted. */
	const char *export_json, *export_csv, *export_markdown;
};

/*
 * Runs the merge described by cfg once as a warm-up and then opt->runs
 * times under each strategy at each job count, verifying every run's
 * output (deterministic orders: the checksum of the reference; arrival
 * order: byte count and every input/record intact).  The output goes to
 * cfg->output when set (left holding the last run's result) or to a
 * temporary file in $TMPDIR that is removed, also when a signal stops the
 * benchmark.  Each export file is created (as a temporary file beside it)
 * before the first run and renamed into place complete after the last, so
 * it is never seen half-written; a stopped or failed benchmark leaves no
 * export behind.
 *
 * *report receives a malloc'ed text: a table plus a summary line, or with
 * json one JSON document.  The caller frees it.
 *
 * Returns 0 when every run succeeded and verified; -EIO when a run failed
 * verification (the report marks it), an input failed or the inputs or
 * output cannot be benchmarked (each said already, on standard error);
 * -EINTR when a signal stopped it (*signal says which: the caller re-raises
 * it); another -errno when the output failed, or when an export file could
 * not be written (*export_failed then names it, else it is NULL).  Called
 * on one thread, which becomes the loop thread of each run.
 */
int bench_run(const struct pmerge_config *cfg, const struct bench_options *opt,
              char **report, int *signal, const char **export_failed);

/* ------------------------------------------------------------ the oracle */

/* What every run's output must be; which members are set depends on mode. */
struct bench_expect {
	uint64_t bytes;
	uint64_t stream;      /* hash of the whole output: input order */
	uint64_t *input_hash; /* per input: --unit=file, arrival order */
	uint64_t rec_sum;     /* --unit=line, arrival order */
	uint64_t rec_count;
};

struct bench_oracle {
	const struct pmerge_config *cfg; /* inputs, unit, tag, callbacks */
	enum pmerge_order order;         /* resolved, never DEFAULT */
	char term;
	char *buf; /* BENCH_CHUNK bytes of scratch */
	/* Polled between reads: true when a stop signal arrived. */
	bool (*stopping)(void *ctx);
	void *ctx;
	struct bench_expect want;
};

/*
 * Reads every input once and computes o->want.  Returns 0, -EIO after
 * reporting an input that cannot be read, -EINTR, -ENOMEM.
 */
int oracle_expect(struct bench_oracle *o);
/*
 * Checks one run's output at out_path.  *ok says whether it is right;
 * returns 0, or -EINTR / -errno when the output could not be read back.
 */
int oracle_verify(struct bench_oracle *o, const char *out_path,
                  const struct pmerge_result *res, bool *ok);

/* ------------------------------------------------------------ the report */

/* One strategy at one job count: a row of the report. */
struct bench_strategy {
	struct pmerge_lock_spec spec;
	unsigned jobs;
	char name[32];  /* the strategy: "sem:4" */
	char label[48]; /* name, with " -j N" when several job counts ran */
	double *times;  /* timed runs, in seconds */
	bool *run_ok;   /* timed runs: verified */
	double mean, stddev, median, min, max;
	double user, system;            /* mean CPU seconds per timed run */
	struct pmerge_lock_result lock; /* of the median run */
	bool ok;                        /* every run verified */
};

/* What the report shows: the set-up and every strategy's figures. */
struct bench_results {
	unsigned runs;
	const unsigned *jobs; /* the job counts, in the order run */
	size_t n_jobs;
	enum pmerge_unit unit;
	enum pmerge_order order;
	size_t inputs;
	uint64_t bytes;
	const struct bench_strategy *st;
	size_t n_st;
};

/* The table (json false) or the JSON document, malloc'ed into *report.
 * Returns 0 or -ENOMEM. */
int bench_report(const struct bench_results *b, bool json, char **report);

/* ------------------------------------------------------------ the exports */

enum bench_export_format {
	BENCH_EXPORT_JSON,
	BENCH_EXPORT_CSV,
	BENCH_EXPORT_MARKDOWN,
};

/*
 * An export file on its way: written to a temporary file in the target's
 * directory and renamed over it when complete.  A target that exists and is
 * not a regular file (/dev/stdout, a FIFO) is written directly.
 */
struct bench_export {
	enum bench_export_format format;
	const char *path;
	char *temp; /* NULL when writing directly */
	int fd;
};

/* Creates the temporary file (or opens a direct target).  0 or -errno. */
int bench_export_open(struct bench_export *e, enum bench_export_format format,
                      const char *path);
/* Writes the results and puts the file in place.  0 or -errno; on failure
 * the temporary file is gone. */
int bench_export_commit(struct bench_export *e, const struct bench_results *b);
/* Removes the temporary file, if any.  Safe after commit and twice. */
void bench_export_abort(struct bench_export *e);

#endif /* PMERGE_BENCH_H */
