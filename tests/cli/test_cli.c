/*
 * The command-line suite: runs the built pmerge ($PMERGE) as a user would.
 *
 * Usage: test_cli [GROUP [VERSION [STATS_SCRIPT]]]
 *
 * GROUP is "main" (the default), or one of the groups that need something
 * the machine may lack and are registered as tests of their own so that
 * their skip (exit status 77) is reported as a skip:
 *   perm   unreadable inputs and outputs (as root: needs setpriv)
 *   stats  --stats=json read by python3 through STATS_SCRIPT
 *   bash   process substitution and PIPESTATUS
 * VERSION is the version --version must print.
 */
#include "cliutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SKIP 77

/* The unprivileged user and group id that setpriv switches to. */
#define NOBODY "65534"

static int skip(const char *why)
{
	fprintf(stderr, "skipped: %s\n", why);
	return SKIP;
}

int main(int argc, char **argv)
{
	const char *group = argc > 1 ? argv[1] : "main";
	Suite *s = suite_create("cli");

	cu_expected_version = argc > 2 ? argv[2] : NULL;
	cu_init();
	if (!strcmp(group, "main")) {
		suite_add_tcase(s, cli_tcase_checkers());
		suite_add_tcase(s, cli_tcase_identity());
		suite_add_tcase(s, cli_tcase_output());
		suite_add_tcase(s, cli_tcase_stdin());
		suite_add_tcase(s, cli_tcase_errors());
		suite_add_tcase(s, cli_tcase_signals());
		suite_add_tcase(s, cli_tcase_options());
		suite_add_tcase(s, cli_tcase_lines());
		suite_add_tcase(s, cli_tcase_matrix());
		suite_add_tcase(s, cli_tcase_stats_text());
	} else if (!strcmp(group, "perm")) {
		if (geteuid() == 0) {
			if (!cu_have_program("setpriv"))
				return skip("running as root without setpriv");
			/* The build tree must be reachable for that user. */
			if (system("setpriv --reuid=" NOBODY " --regid=" NOBODY
			           " --clear-groups pmerge --version "
			           ">/dev/null 2>&1") != 0)
				return skip("pmerge cannot run as an "
				            "unprivileged user");
			cu_unprivileged = NOBODY;
		}
		suite_add_tcase(s, cli_tcase_perm());
	} else if (!strcmp(group, "stats")) {
		if (argc < 4) {
			fprintf(stderr, "usage: %s stats VERSION SCRIPT\n",
			        argv[0]);
			return 1;
		}
		if (system("python3 -c 'import json' >/dev/null 2>&1") != 0)
			return skip("python3 is not available");
		/* Tests change directory: the path must not be relative. */
		cu_stats_script = realpath(argv[3], NULL);
		if (!cu_stats_script) {
			perror(argv[3]);
			return 1;
		}
		suite_add_tcase(s, cli_tcase_stats_json());
	} else if (!strcmp(group, "live-decode")) {
		const char *tools[] = {"gzip", "zstd", "xz", "bzip2", "lz4"};
		for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++)
			if (!cu_have_program(tools[i]))
				return skip("a compression tool is missing");
		suite_add_tcase(s, cli_tcase_live_decode());
	} else if (!strcmp(group, "bash")) {
		if (!cu_have_program("bash"))
			return skip("bash is not available");
		suite_add_tcase(s, cli_tcase_bash());
	} else {
		fprintf(stderr, "%s: unknown group %s\n", argv[0], group);
		return 1;
	}

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
