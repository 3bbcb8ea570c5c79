/*
 * Fuzz harness for the option parser: the input, split at NUL bytes, is
 * the argument list after "pmerge".  Whatever it holds, pm_cli_parse must
 * return 0 or 2 (1 is only for --files0-from) and, on success, leave a
 * configuration that keeps the documented bounds; pm_cli_free must release
 * everything (LeakSanitizer watches).  The parser's messages on standard
 * error are expected noise.
 *
 * --files0-from reads a file, so inputs that could name it are skipped:
 * any "files0", and any argument getopt_long could take as an abbreviation
 * of it ("--f", "--fi", ...: no other long option starts with f).
 */
#include "fuzz.h"
#include "cli.h"

#include <string.h>

/* Operands are argv entries or the "-" the parser supplies. */
static bool from_argv(const char *name, char **argv, int argc)
{
	for (int i = 1; i < argc; i++)
		if (name == argv[i])
			return true;
	return strcmp(name, "-") == 0;
}

static void check_config(const struct pm_cli *cli, char **argv, int argc)
{
	const struct pmerge_config *cfg = &cli->cfg;

	FZ_CHECK(cli->n_names >= 1 && cli->names != NULL);
	FZ_CHECK(cfg->n_inputs == cli->n_names);
	FZ_CHECK(cfg->inputs == (const char *const *)cli->names);
	for (size_t i = 0; i < cli->n_names; i++)
		FZ_CHECK(cli->names[i] && from_argv(cli->names[i], argv, argc));
	FZ_CHECK(cfg->jobs <= PMERGE_JOBS_MAX);
	FZ_CHECK(cfg->buffer_size == 0 ||
	         (cfg->buffer_size >= PMERGE_BUFFER_MIN &&
	          cfg->buffer_size <= (1u << 30)));
	FZ_CHECK(cfg->unit == PMERGE_UNIT_FILE ||
	         cfg->unit == PMERGE_UNIT_LINE);
	FZ_CHECK(cfg->order <= PMERGE_ORDER_ARRIVAL);
	FZ_CHECK(!cfg->zero_terminated || cfg->unit == PMERGE_UNIT_LINE);
	FZ_CHECK(!cfg->tag || cfg->unit == PMERGE_UNIT_LINE);
	FZ_CHECK(!cfg->append || cfg->output != NULL);
	FZ_CHECK(!(cli->bench_runs && cfg->append));
	FZ_CHECK(cli->bench_runs <= 100000);
	FZ_CHECK(cli->n_locks >= 1 && cli->n_locks <= PM_CLI_MAX_LOCKS);
	FZ_CHECK(cli->n_locks == 1 || cli->bench_runs > 0);
	FZ_CHECK(cfg->lock.kind == cli->locks[0].kind &&
	         cfg->lock.n == cli->locks[0].n);
	for (size_t i = 0; i < cli->n_locks; i++) {
		const struct pmerge_lock_spec *l = &cli->locks[i];
		FZ_CHECK(l->kind < PMERGE_LOCK_COUNT_);
		FZ_CHECK(l->n >= 1 && l->n <= PMERGE_JOBS_MAX);
		FZ_CHECK(l->kind == PMERGE_LOCK_SEM || l->n == 1);
	}
	FZ_CHECK(cli->progress <= PM_PROGRESS_NEVER);
	FZ_CHECK(cli->stats <= PM_STATS_JSON);
	FZ_CHECK(cli->files0_from == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 8192 || memmem(data, size, "files0", 6))
		return 0;
	char *text = malloc(size + 1);
	FZ_CHECK(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';

	int argc = 2;
	for (size_t i = 0; i < size; i++)
		argc += text[i] == '\0';
	char **argv = calloc((size_t)argc + 1, sizeof(char *));
	FZ_CHECK(argv != NULL);
	argv[0] = "pmerge";
	argc = 1;
	/* "a\0b" and "a\0b\0" are both a and b; an empty input is no
	 * argument at all. */
	for (size_t start = 0; start < size;) {
		char *arg = text + start;
		if (strncmp(arg, "--f", 3) == 0)
			goto out;
		argv[argc++] = arg;
		start += strlen(arg) + 1;
	}
	argv[argc] = NULL;

	struct pm_cli cli;
	int rc = pm_cli_parse(&cli, argc, argv);
	FZ_CHECK(rc == 0 || rc == 2);
	if (rc == 0 && !cli.help && !cli.version)
		check_config(&cli, argv, argc);
	pm_cli_free(&cli);
out:
	free(argv);
	free(text);
	return 0;
}
