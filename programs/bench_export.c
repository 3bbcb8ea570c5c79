/*
 * hyperfine's export formats (--export-json, --export-csv,
 * --export-markdown), written as hyperfine 1.15 writes them, so that its
 * scripts (plot_whisker.py, plot_parametrized.py) and spreadsheets read
 * pmerge's results as they are: one entry per strategy and job count, with
 * "lock" and "jobs" as its parameters, and a command line that runs it.
 *
 * Like hyperfine: parameter values are strings; a single run has no
 * standard deviation (null in JSON, 0 in CSV, no "±" in Markdown); the
 * Markdown table's Relative column divides means by the smallest mean.
 * exit_codes say per run whether the output verified (0) or not (1).
 */
#include "bench.h"
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * What a user would type to run this row's merge once (the inputs left
 * out): the unit and order when they are not the defaults, the job count
 * and the strategy.
 */
static void command(const struct bench_results *b,
                    const struct bench_strategy *s, char *buf, size_t size)
{
	enum pmerge_order usual = b->unit == PMERGE_UNIT_LINE
	                              ? PMERGE_ORDER_ARRIVAL
	                              : PMERGE_ORDER_INPUT;

	snprintf(buf, size, "pmerge%s%s%s -j %u -l %s",
	         b->unit == PMERGE_UNIT_LINE ? " -u line" : "",
	         b->order != usual ? " --order=" : "",
	         b->order != usual ? order_name(b->order) : "", s->jobs,
	         s->name);
}

static void export_json(const struct bench_results *b, FILE *f)
{
	char cmd[96];

	fputs("{\n  \"results\": [", f);
	for (size_t i = 0; i < b->n_st; i++) {
		const struct bench_strategy *s = &b->st[i];

		command(b, s, cmd, sizeof(cmd));
		fprintf(f,
		        "%s\n    {\n      \"command\": \"%s\",\n"
		        "      \"mean\": %.9f,\n",
		        i ? "," : "", cmd, s->mean);
		if (b->runs > 1)
			fprintf(f, "      \"stddev\": %.9f,\n", s->stddev);
		else
			fputs("      \"stddev\": null,\n", f);
		fprintf(f,
		        "      \"median\": %.9f,\n      \"user\": %.6f,\n"
		        "      \"system\": %.6f,\n      \"min\": %.9f,\n"
		        "      \"max\": %.9f,\n      \"times\": [",
		        s->median, s->user, s->system, s->min, s->max);
		for (unsigned r = 0; r < b->runs; r++)
			fprintf(f, "%s%.9f", r ? ", " : "", s->times[r]);
		fputs("],\n      \"exit_codes\": [", f);
		for (unsigned r = 0; r < b->runs; r++)
			fprintf(f, "%s%d", r ? ", " : "", s->run_ok[r] ? 0 : 1);
		fprintf(f,
		        "],\n      \"parameters\": {\"lock\": \"%s\", "
		        "\"jobs\": \"%u\"}\n    }",
		        s->name, s->jobs);
	}
	fputs("\n  ]\n}\n", f);
}

static void export_csv(const struct bench_results *b, FILE *f)
{
	char cmd[96];

	fputs("command,mean,stddev,median,user,system,min,max,"
	      "parameter_lock,parameter_jobs\n",
	      f);
	/* Commands and lock names hold no comma or quote: no quoting. */
	for (size_t i = 0; i < b->n_st; i++) {
		const struct bench_strategy *s = &b->st[i];

		command(b, s, cmd, sizeof(cmd));
		fprintf(f, "%s,%.9f,%.9f,%.9f,%.6f,%.6f,%.9f,%.9f,%s,%u\n", cmd,
		        s->mean, b->runs > 1 ? s->stddev : 0.0, s->median,
		        s->user, s->system, s->min, s->max, s->name, s->jobs);
	}
}

static void export_markdown(const struct bench_results *b, FILE *f)
{
	const struct bench_strategy *best = &b->st[0];
	char cmd[96];

	for (size_t i = 1; i < b->n_st; i++)
		if (b->st[i].mean < best->mean)
			best = &b->st[i];
	fputs("| Command | Mean [ms] | Min [ms] | Max [ms] | Relative |\n"
	      "|:---|---:|---:|---:|---:|\n",
	      f);
	for (size_t i = 0; i < b->n_st; i++) {
		const struct bench_strategy *s = &b->st[i];
		double r = best->mean > 0 ? s->mean / best->mean : 1.0;

		command(b, s, cmd, sizeof(cmd));
		fprintf(f, "| `%s` | %.1f", cmd, s->mean * 1e3);
		if (b->runs > 1)
			fprintf(f, " ± %.1f", s->stddev * 1e3);
		fprintf(f, " | %.1f | %.1f | %.2f", s->min * 1e3, s->max * 1e3,
		        r);
		/* The error of a ratio of means, as hyperfine propagates it. */
		if (b->runs > 1 && s != best && s->mean > 0 && best->mean > 0) {
			double ea = s->stddev / s->mean;
			double eb = best->stddev / best->mean;
			fprintf(f, " ± %.2f", r * sqrt(ea * ea + eb * eb));
		}
		fputs(" |\n", f);
	}
}

int bench_export_open(struct bench_export *e, enum bench_export_format format,
                      const char *path)
{
	struct stat st;
	char *copy = NULL;
	int rc = 0;

	*e = (struct bench_export){.format = format, .path = path, .fd = -1};
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		e->fd = open(path, O_WRONLY | O_CLOEXEC);
		return e->fd < 0 ? -errno : 0;
	}
	copy = strdup(path);
	if (!copy ||
	    asprintf(&e->temp, "%s/.pmerge-export-XXXXXX", dirname(copy)) < 0) {
		e->temp = NULL;
		rc = -ENOMEM;
		goto out;
	}
	e->fd = mkostemp(e->temp, O_CLOEXEC);
	if (e->fd < 0) {
		rc = -errno;
		free(e->temp);
		e->temp = NULL;
	}
out:
	free(copy);
	return rc;
}

/* The mode a new file would get (0666 less the umask), or the target's. */
static mode_t export_mode(const char *path)
{
	struct stat st;
	mode_t mask = umask(0);

	umask(mask);
	if (stat(path, &st) == 0)
		return st.st_mode & 07777;
	return 0666 & ~mask;
}

int bench_export_commit(struct bench_export *e, const struct bench_results *b)
{
	FILE *f;
	int rc = 0, fd = e->fd;

	if (fd < 0)
		return -EBADF;
	e->fd = -1;
	f = fdopen(fd, "w");
	if (!f) {
		rc = -errno;
		close(fd);
		goto out;
	}
	if (e->format == BENCH_EXPORT_JSON)
		export_json(b, f);
	else if (e->format == BENCH_EXPORT_CSV)
		export_csv(b, f);
	else
		export_markdown(b, f);
	if (fflush(f) != 0 || ferror(f))
		rc = errno ? -errno : -EIO;
	if (rc == 0 && e->temp && fchmod(fd, export_mode(e->path)) < 0)
		rc = -errno;
	if (fclose(f) != 0 && rc == 0)
		rc = errno ? -errno : -EIO;
	if (rc == 0 && e->temp && rename(e->temp, e->path) < 0)
		rc = -errno;
	if (rc == 0) {
		free(e->temp);
		e->temp = NULL;
	}
out:
	if (rc < 0)
		bench_export_abort(e);
	return rc < 0 ? rc : 0;
}

void bench_export_abort(struct bench_export *e)
{
	if (e->fd >= 0) {
		close(e->fd);
		e->fd = -1;
	}
	if (e->temp) {
		unlink(e->temp);
		free(e->temp);
		e->temp = NULL;
	}
}
