/*
 * The command line: argv -> struct pm_cli.  Used by main.c, the option
 * fuzz harness and the tests.  Not thread-safe (getopt_long).
 */
#ifndef PMERGE_CLI_H
#define PMERGE_CLI_H

#include "pmerge.h"

enum pm_progress_mode {
	PM_PROGRESS_AUTO,
	PM_PROGRESS_ALWAYS,
	PM_PROGRESS_NEVER
};
enum pm_stats_format { PM_STATS_NONE, PM_STATS_TEXT, PM_STATS_JSON };

#define PM_CLI_MAX_LOCKS 16
#define PM_CLI_MAX_JOBS  32

struct pm_cli {
	struct pmerge_config cfg;
	enum pm_progress_mode progress;
	enum pm_stats_format stats;
	const char *stats_file;
	const char *files0_from;
	bool quiet, verbose;
	bool progress_live; /* the progress line is redrawn on a terminal */
	bool help, version;
	unsigned bench_runs; /* 0: no --bench */
	bool order_given;
	/* --lock may list several strategies for --bench. */
	struct pmerge_lock_spec locks[PM_CLI_MAX_LOCKS];
	size_t n_locks;
	bool lock_given; /* --lock was on the command line */
	/* --bench-jobs: the job counts to sweep (0 entries: just -j). */
	unsigned bench_jobs[PM_CLI_MAX_JOBS];
	size_t n_bench_jobs;
	/* --export-json/-csv/-markdown: hyperfine's formats, or NULL. */
	const char *export_json, *export_csv, *export_markdown;
	/* Owned: the input list (argv entries or --files0-from names). */
	char **names;
	size_t n_names;
	char *files0_data; /* backing store of names from files0 */
	size_t files0_bad; /* names in it reported and skipped */
	/* Owned: the -k KEYDEFs (pointers into argv). */
	const char **keys;
	size_t n_keys;
	bool sorted_option; /* an option that needs -m was given */
	bool unit_given;   /* --unit was on the command line */
	enum pm_progress_mode color; /* --color: AUTO, ALWAYS or NEVER */
	char **labels;               /* owned: --label, split */
	char *label_data;
};

/*
 * Parses argv and builds cli->cfg from it: everything but the callbacks,
 * which the caller sets.  Returns 0 on success, 2 on a usage error (the message
 * is already on stderr, without the "Try" line), or 1 when --files0-from could
 * not be read (message on stderr).  Always release with pm_cli_free().
 */
int pm_cli_parse(struct pm_cli *cli, int argc, char **argv);
void pm_cli_free(struct pm_cli *cli);

/* The --help text. */
extern const char pm_cli_usage[];

#endif /* PMERGE_CLI_H */
