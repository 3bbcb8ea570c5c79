/*
 * pmerge's command-line front end: the only place that prints or exits.
 * It turns the engine's callbacks into GNU-style messages and a progress
 * line on standard error, and its return codes into exit statuses.
 */
#include "cli.h"
#include "pmerge_bench.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* What is on standard error, shared by the loop thread and the workers. */
struct ui {
	pthread_mutex_t mu;
	bool live;       /* a progress line redrawn in place */
	bool line_shown; /* something of it is on the screen now */
	bool quiet;
	unsigned width;
	bool pipe_ignored; /* SIGPIPE was ignored when we started */
};

static struct ui ui = {.mu = PTHREAD_MUTEX_INITIALIZER, .width = 80};

/* Writes all of buf to fd 2; messages must not be lost to EINTR. */
static void put_err(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

/* Clears the progress line; the caller holds ui.mu. */
static void clear_line_locked(void)
{
	if (ui.line_shown) {
		put_err("\r\033[K", 4);
		ui.line_shown = false;
	}
}

/* One diagnostic line, "pmerge: " prefixed, after clearing the progress. */
static void message(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void message(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	int n = snprintf(buf, sizeof(buf), "pmerge: ");

	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	pthread_mutex_lock(&ui.mu);
	clear_line_locked();
	put_err(buf, (size_t)n);
	pthread_mutex_unlock(&ui.mu);
}

/*
 * A name as messages show it: as is when it reads unambiguously, else in
 * single quotes (an empty name, blanks, control characters), as GNU tools
 * do.  Returns name itself or buf.
 */
static const char *quote_name(const char *name, char *buf, size_t size)
{
	size_t n = 0;
	bool plain = *name != '\0';

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p <= ' ' || *p == 0x7f || *p == '\'' || *p == '"' ||
		    *p == '\\')
			plain = false;
	if (plain || size < 8)
		return name;
	buf[n++] = '\'';
	for (const char *p = name; *p && n + 6 < size; p++) {
		if (*p == '\'') {
			memcpy(buf + n, "'\\''", 4);
			n += 4;
		} else {
			buf[n++] = *p;
		}
	}
	buf[n++] = '\'';
	buf[n] = '\0';
	return buf;
}

static void on_input_error(void *user, const char *name, int err)
{
	char q[1024];

	(void)user;
	name = quote_name(name, q, sizeof(q));
	if (err == PMERGE_ERR_INPUT_IS_OUTPUT)
		message("%s: input file is output file", name);
	else
		message("%s: %s", name, strerror(err));
}

static void on_note(void *user, enum pmerge_note what, const char *detail)
{
	(void)user;
	if (what == PMERGE_NOTE_SEM_REDUCED && !ui.quiet)
		message("note: %s takes no positioned writes; sem:N runs as "
		        "sem:1",
		        detail);
}

static void read_width(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		ui.width = ws.ws_col;
}

static void on_resize(void *user)
{
	(void)user;
	pthread_mutex_lock(&ui.mu);
	read_width();
	pthread_mutex_unlock(&ui.mu);
}

static void on_progress(void *user, const struct pmerge_progress *p)
{
	char line[512];
	size_t n;

	(void)user;
	pthread_mutex_lock(&ui.mu);
	if (ui.live && p->finished) {
		clear_line_locked();
	} else if (ui.live) {
		line[0] = '\r';
		n = pmerge_progress_format(p, ui.width, true, line + 1,
		                           sizeof(line) - 8);
		memcpy(line + 1 + n, "\033[K", 3);
		put_err(line, n + 4);
		ui.line_shown = true;
	} else {
		n = pmerge_progress_format(p, 0, false, line, sizeof(line) - 1);
		line[n++] = '\n';
		put_err(line, n);
	}
	pthread_mutex_unlock(&ui.mu);
}

/* --bench: which run is going on, in place of the progress line. */
static void on_bench_step(void *user, const char *lock, unsigned run,
                          unsigned runs)
{
	char line[160];
	int n;

	(void)user;
	if (!ui.live)
		return;
	pthread_mutex_lock(&ui.mu);
	if (!lock) {
		clear_line_locked();
	} else {
		n = run == 0
		        ? snprintf(line, sizeof(line),
		                   "\rpmerge: bench %s: warm-up\033[K", lock)
		        : snprintf(line, sizeof(line),
		                   "\rpmerge: bench %s: run %u of %u\033[K",
		                   lock, run, runs);
		put_err(line, (size_t)n < sizeof(line) ? (size_t)n
		                                       : sizeof(line) - 1);
		ui.line_shown = true;
	}
	pthread_mutex_unlock(&ui.mu);
}

static void on_status(void *user, const struct pmerge_progress *p)
{
	char line[512];
	size_t n;

	(void)user;
	pthread_mutex_lock(&ui.mu);
	clear_line_locked();
	n = pmerge_progress_format(p, 0, false, line, sizeof(line) - 1);
	line[n++] = '\n';
	put_err(line, n);
	pthread_mutex_unlock(&ui.mu);
}

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

static int write_stats(const struct pm_cli *cli, const struct pmerge_result *r)
{
	char *text = cli->stats == PM_STATS_JSON
	                 ? pmerge_stats_json(&cli->cfg, r)
	                 : pmerge_stats_text(&cli->cfg, r);
	int rc = 0;

	if (!text) {
		message("%s", strerror(ENOMEM));
		return 1;
	}
	if (cli->stats_file) {
		FILE *f = fopen(cli->stats_file, "w");
		if (!f || fputs(text, f) == EOF || fclose(f) != 0) {
			message("%s: %s", cli->stats_file, strerror(errno));
			rc = 1;
		}
	} else {
		pthread_mutex_lock(&ui.mu);
		clear_line_locked();
		put_err(text, strlen(text));
		pthread_mutex_unlock(&ui.mu);
	}
	free(text);
	return rc;
}

static void verbose_summary(const struct pmerge_result *r)
{
	char b[32], rate[32];
	uint64_t total_wait = r->lock.wait_ns.total;
	double busy =
	    r->wall_s * 1e9 * (r->jobs < r->inputs ? r->jobs : r->inputs);

	message(
	    "merged %zu of %zu inputs, %s in %.3f s (%s/s), lock wait %.1f%%",
	    r->inputs - r->failed_inputs, r->inputs,
	    pmerge_format_bytes(r->bytes, b, sizeof(b)), r->wall_s,
	    pmerge_format_bytes(
	        r->wall_s > 0 ? (uint64_t)((double)r->bytes / r->wall_s) : 0,
	        rate, sizeof(rate)),
	    busy > 0 ? 100.0 * (double)total_wait / busy : 0.0);
}

static int output_failure(const struct pm_cli *cli, int err)
{
	if (err == EPIPE && !ui.pipe_ignored)
		die_by_signal(SIGPIPE); /* the reader went away: as cat */
	char q[1024];

	if (cli->cfg.output)
		message("%s: %s", quote_name(cli->cfg.output, q, sizeof(q)),
		        strerror(err));
	else
		message("write error: %s", strerror(err));
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
		message("%s", strerror(-rc)), status = 1;
	else if (rc == -EIO)
		status = 1;
	if (cli->stats && !r.output_error && rc != -EINVAL && rc != -ENOMEM)
		status |= write_stats(cli, &r);
	if (cli->verbose && !ui.quiet)
		verbose_summary(&r);
	pmerge_result_free(&r);
	return status;
}

static int run_bench(struct pm_cli *cli)
{
	char *report = NULL;
	int sig = 0;
	int rc =
	    pmerge_bench(&cli->cfg, cli->lock_given ? cli->locks : NULL,
	                 cli->lock_given ? cli->n_locks : 0, cli->bench_runs,
	                 cli->stats == PM_STATS_JSON, &report, &sig);
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
	if (rc == -EPIPE || rc == -ENOSPC || rc == -EBADF)
		return output_failure(cli, -rc);
	if (rc == -ESPIPE)
		message("--bench reads every input once per run: inputs must "
		        "be regular files");
	else if (rc == -EINVAL)
		message("%s: --bench needs -o to name a regular file that is "
		        "not one of the inputs",
		        cli->cfg.output ? cli->cfg.output : "-");
	else if (rc == -EIO && reported)
		message("--bench: a run's output did not verify (rows marked "
		        "FAILED)");
	else if (rc < 0 && rc != -EIO)
		message("%s: %s", cli->cfg.output ? cli->cfg.output : "--bench",
		        strerror(-rc));
	return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct pm_cli cli;
	struct sigaction sa;
	int rc;

	guard_std_fds();
	ui.pipe_ignored =
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
			printf("pmerge %s\n", PMERGE_VERSION);
		if (rc == 0 && (fflush(stdout) != 0 || ferror(stdout))) {
			message("write error: %s", strerror(errno));
			rc = 1;
		}
		pm_cli_free(&cli);
		return rc;
	}

	struct pmerge_config *cfg = &cli.cfg;
	bool tty = isatty(STDERR_FILENO);

	ui.quiet = cli.quiet;
	if (cli.quiet)
		cli.progress = PM_PROGRESS_NEVER;
	if (cli.progress == PM_PROGRESS_ALWAYS ||
	    (cli.progress == PM_PROGRESS_AUTO && tty)) {
		ui.live = tty;
		/* A terminal: 10 redraws a second at most; a log: one a second.
		 */
		cfg->progress_interval_ms = tty ? 100 : 1000;
		if (tty)
			read_width();
	}
	cfg->handle_signals = true;
	shield_status_signal();
	cfg->detailed_stats = cli.stats != PM_STATS_NONE || cli.bench_runs;
	cfg->cb = (struct pmerge_callbacks){
	    .input_error = on_input_error,
	    .note = on_note,
	    .progress = on_progress,
	    .status = on_status,
	    .resize = on_resize,
	    .bench_step = on_bench_step,
	};
	rc = cli.bench_runs ? run_bench(&cli) : run_merge(&cli);
	if (cli.files0_bad)
		rc |= 1;
	pm_cli_free(&cli);
	return rc;
}
