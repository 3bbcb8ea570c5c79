/*
 * The signal and progress suite: runs the built pmerge ($PMERGE) in the
 * background and signals it, watches its standard error and paces its
 * FIFOs.
 *
 * Usage: test_signals [GROUP]
 *
 * GROUP is "main" (the default) or "pty", the live progress line on a
 * pseudo-terminal, registered as a test of its own so that a machine
 * without pseudo-terminals reports it as skipped (exit status 77).
 */
#include "sigutil.h"

#include <pty.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SKIP 77

static int skip(const char *why)
{
	fprintf(stderr, "skipped: %s\n", why);
	return SKIP;
}

/* True when a pseudo-terminal can be had (containers may lack /dev/pts). */
static bool have_pty(void)
{
	int master, slave;

	if (openpty(&master, &slave, NULL, NULL, NULL) < 0)
		return false;
	close(master);
	close(slave);
	return true;
}

int main(int argc, char **argv)
{
	const char *group = argc > 1 ? argv[1] : "main";
	Suite *s = suite_create("signals");
	SRunner *sr;
	int failed;

	/* The suite reads readiness from /proc instead of sleeping. */
	if (!sg_init())
		return skip("/proc is not usable");
	if (!strcmp(group, "main")) {
		suite_add_tcase(s, sg_tcase_stop());
		suite_add_tcase(s, sg_tcase_info());
		suite_add_tcase(s, sg_tcase_log());
	} else if (!strcmp(group, "pty")) {
		if (!have_pty())
			return skip("no pseudo-terminal available");
		suite_add_tcase(s, sg_tcase_pty());
	} else {
		fprintf(stderr, "usage: %s [main|pty]\n", argv[0]);
		return 1;
	}
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
