/*
 * pmerge's command-line front end: the only place that prints or exits.
 * It builds the engine's configuration from argv, hands the engine's
 * callbacks to ui.c, and turns its return codes into exit statuses.
 */
#include "bench.h"
#include "cli.h"
#include "report.h"
#include "ui.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* SIGPIPE was ignored when we started: a vanished reader is an error. */
static bool pipe_ignored;

/*
 * Makes sure fds 0, 1 and 2 are open, so that nothing we open lands on them
 * by accident.  A closed one gets /dev/null opened the wrong way round, so
 * that using it still fails with EBADF as it would have.
 */
static void guard_std_fds(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		int flags = fd == STDIN_FILENO ? O_WRONLY : O_RDONLY;
		int got = open("/dev/null", flags);
		if (got >= 0 && got != fd) {
			dup2(got, fd);
			close(got);
		}
	}
}

static void ignore_status_request(int sig)
{
	(void)sig;
}

/*
 * SIGUSR1 must never kill pmerge, also not while the output is being opened
 * (a FIFO with no reader yet) before the loop takes the signal over.
 */
static void shield_status_signal(void)
{
	struct sigaction sa;

	if (sigaction(SIGUSR1, NULL, &sa) != 0 || sa.sa_handler != SIG_DFL)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = ignore_status_request;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
}

/* Ends the process the way the signal would have. */
static void die_by_signal(int sig)
{
	sigset_t set;

	signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	_exit(128 + sig);
}

static int output_failure(const struct pm_cli *cli, int err)
{
	if (err == EPIPE && !pipe_ignored)
		die_by_signal(SIGPIPE); /* the reader went away: as cat */
	if (err == ENOMEM && cli->cfg.compress != PMERGE_COMPRESS_NONE)
		ui_message("cannot allocate the compressor's memory: %s",
		           strerror(err));
	else if (cli->cfg.output)
		ui_name_message(cli->cfg.output, strerror(err));
	else
		ui_message("write error: %s", strerror(err));
	return 1;
}

static int run_merge(struct pm_cli *cli)
{
	struct pmerge_result r;
	int rc = pmerge_run(&cli->cfg, &r), status = 0;

	if (r.signal)
		die_by_signal(r.signal);
	if (r.output_error)
		status = output_failure(cli, r.output_error);
	else if (rc < 0 && rc != -EIO)
		ui_setup_failure(&r, -rc), status = 1;
	else if (rc == -EIO)
		status = 1;
	if (cli->stats && !r.output_error && rc != -EINVAL && rc != -ENOMEM)
		status |= report_stats(&r, cli->stats == PM_STATS_JSON,
		                       cli->stats_file);
	if (cli->verbose && !cli->quiet)
		report_summary(&r);
	pmerge_result_free(&r);
	return status;
}

static int run_bench(struct pm_cli *cli)
{
	char *report = NULL;
	const char *export_failed = NULL;
	int sig = 0;
	const struct bench_options opt = {
	    .locks = cli->lock_given ? cli->locks : NULL,
	    .n_locks = cli->lock_given ? cli->n_locks : 0,
	    .jobs = cli->n_bench_jobs ? cli->bench_jobs : NULL,
	    .n_jobs = cli->n_bench_jobs,
	    .runs = cli->bench_runs,
	    .json = cli->stats == PM_STATS_JSON,
	    .export_json = cli->export_json,
	    .export_csv = cli->export_csv,
	    .export_markdown = cli->export_markdown,
	};
	int rc = bench_run(&cli->cfg, &opt, &report, &sig, &export_failed);
	bool reported = report != NULL;

	if (sig)
		die_by_signal(sig);
	if (report) {
		size_t len = strlen(report);
		const char *p = report;
		while (len > 0) {
			ssize_t n = write(STDOUT_FILENO, p, len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				free(report);
				return output_failure(cli, errno);
			}
			p += n;
			len -= (size_t)n;
		}
		free(report);
	}
	if (export_failed) {
		ui_name_message(export_failed, strerror(-rc));
		return 1;
	}
	if (rc == -EPIPE || rc == -ENOSPC || rc == -EBADF)
		return output_failure(cli, -rc);
	if (rc == -EIO && reported)
		ui_message(
		    "--bench: a run's output did not verify (rows marked "
		    "FAILED)");
	else if (rc < 0 && rc != -EIO && cli->cfg.output)
		ui_name_message(cli->cfg.output, strerror(-rc));
	else if (rc < 0 && rc != -EIO)
		ui_message("--bench: the temporary output: %s", strerror(-rc));
	return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct pm_cli cli;
	struct sigaction sa;
	int rc;

	guard_std_fds();
	/* Only the character classes: which bytes of a name are printable
	 * characters (quote.h).  Messages stay in English, data in bytes. */
	setlocale(LC_CTYPE, "");
	pipe_ignored =
	    sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN;
	rc = pm_cli_parse(&cli, argc, argv);
	if (rc == 2) {
		fputs("Try 'pmerge --help' for more information.\n", stderr);
		pm_cli_free(&cli);
		return 2;
	}
	if (rc != 0 || cli.help || cli.version) {
		if (rc == 0 && cli.help)
			fputs(pm_cli_usage, stdout);
		else if (rc == 0)
			printf("pmerge %s\n"
			       "decoders: gzip (%s), zstd, xz, bzip2, lz4\n",
			       PMERGE_VERSION, pmerge_gzip_backend());
		if (rc == 0 && (fflush(stdout) != 0 || ferror(stdout))) {
			ui_message("write error: %s", strerror(errno));
			rc = 1;
		}
		pm_cli_free(&cli);
		return rc;
	}

	struct pmerge_config *cfg = &cli.cfg;

	ui_init(&(struct ui_options){.live = cli.progress_live,
	                             .quiet = cli.quiet});
	shield_status_signal();
	cfg->cb = (struct pmerge_callbacks){
	    .user = cfg,
	    .follow = ui_on_follow,
	    .input_error = ui_on_input_error,
	    .input_decode_error = ui_on_input_decode_error,
	    .note = ui_on_note,
	    .progress = ui_on_progress,
	    .status = ui_on_status,
	    .resize = ui_on_resize,
	    .disorder = ui_on_disorder,
	    .workers_reduced = ui_on_workers_reduced,
	};
	rc = report_check_stats_file(cfg, cli.files0_from, cli.stats_file);
	if (rc == 2) {
		fputs("Try 'pmerge --help' for more information.\n", stderr);
		pm_cli_free(&cli);
		return 2;
	}
	rc = cli.bench_runs ? run_bench(&cli) : run_merge(&cli);
	if (cli.files0_bad > 0)
		rc |= 1;
	pm_cli_free(&cli);
	return rc;
}
