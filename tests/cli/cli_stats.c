/*
 * --stats=json: the document README.md and the man page describe, read by a
 * real JSON parser (check_stats.py) and held against what the test knows about
 * the merge.
 */
#include "cliutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *lock, *jobs, *unit, *order;
	bool to_file;    /* -o out, else standard output */
	bool stats_file; /* --stats-file, else standard error */
} sj_cases[] = {
    {"mutex", "4", "file", "input", true, false},
    {"rlock", "2", "line", "arrival", true, false},
    {"sem:4", "4", "file", "arrival", true, false},
    {"sem:2", "8", "line", "input", true, true},
    {"spin", "2", "file", "input", false, true},
    {"mutex", "1", "line", "input", false, true},
    {"rlock", "3", "file", "arrival", false, true},
    {"sem:3", "2", "file", "input", true, true},
    {"mutex", "2", "line", "arrival", false, false},
    {"ticket", "4", "line", "arrival", true, false},
    {"mcs", "3", "file", "arrival", false, true},
    {"adaptive", "2", "line", "input", true, true},
};
#define N_SJ        (sizeof(sj_cases) / sizeof(sj_cases[0]))
#define N_SJ_INPUTS 6

START_TEST(stats_json)
{
	char *dir = tu_enter_scratch();
	char *names[N_SJ_INPUTS];
	size_t lines = 0;
	struct cu_io io = CU_IO_INIT;
	struct tu_run r, py;

	/* Non-empty inputs: each must cost at least one acquisition. */
	for (size_t i = 0; i < N_SJ_INPUTS; i++) {
		size_t len = 1000 + i * 37000;
		char *d = cu_gen_text(len, (char)('a' + i), i + 3, i != 2);
		for (size_t k = 0; k < len; k++)
			lines += d[k] == '\n';
		lines += d[len - 1] != '\n';
		ck_assert_int_gt(asprintf(&names[i], "in%zu", i), 0);
		tu_write_file(names[i], d, len);
		free(d);
	}

	char *args[N_SJ_INPUTS + 16];
	size_t n = 0;
	args[n++] = "--stats=json";
	if (sj_cases[_i].stats_file)
		args[n++] = "--stats-file=stats.json";
	args[n++] = "-l";
	args[n++] = (char *)sj_cases[_i].lock;
	args[n++] = "-j";
	args[n++] = (char *)sj_cases[_i].jobs;
	args[n++] = "-u";
	args[n++] = (char *)sj_cases[_i].unit;
	args[n++] = "--order";
	args[n++] = (char *)sj_cases[_i].order;
	if (sj_cases[_i].to_file) {
		args[n++] = "-o";
		args[n++] = "out";
	}
	for (size_t i = 0; i < N_SJ_INPUTS; i++)
		args[n++] = names[i];
	cu_pm_argv(&r, &io, args, n);
	cu_expect_exit(&r, 0);

	size_t out_len = r.out_len;
	if (sj_cases[_i].to_file) {
		ck_assert_uint_eq(r.out_len, 0);
		free(cu_slurp("out", &out_len));
	}
	if (sj_cases[_i].stats_file) {
		/* The statistics went to the file, and nothing else was said.
		 */
		tu_expect_err(&r, "");
		ck_assert(tu_exists("stats.json"));
	} else {
		/* Standard error holds the document and nothing else. */
		tu_write_file("stats.json", r.err, r.err_len);
	}

	char *a[20];
	size_t k = 0;
	a[k++] = "python3";
	a[k++] = (char *)cu_stats_script;
	a[k++] = "stats.json";
	ck_assert_int_gt(asprintf(&a[k++], "lock=%s", sj_cases[_i].lock), 0);
	ck_assert_int_gt(asprintf(&a[k++], "jobs=%s", sj_cases[_i].jobs), 0);
	ck_assert_int_gt(asprintf(&a[k++], "unit=%s", sj_cases[_i].unit), 0);
	ck_assert_int_gt(asprintf(&a[k++], "order=%s", sj_cases[_i].order), 0);
	ck_assert_int_gt(asprintf(&a[k++], "inputs=%d", N_SJ_INPUTS), 0);
	ck_assert_int_gt(asprintf(&a[k++], "bytes=%zu", out_len), 0);
	ck_assert_int_gt(asprintf(&a[k++], "version=%s", cu_expected_version),
	                 0);
	if (!strcmp(sj_cases[_i].unit, "line"))
		ck_assert_int_gt(asprintf(&a[k++], "records=%zu", lines), 0);
	a[k] = NULL;
	cu_run_io(&py, &io, a);
	ck_assert_msg(py.status == 0, "stats check failed (status %d): %s",
	              py.status, py.err);
	for (size_t i = 3; i < k; i++)
		free(a[i]);
	tu_run_free(&py);
	tu_run_free(&r);
	for (size_t i = 0; i < N_SJ_INPUTS; i++)
		free(names[i]);
	tu_leave_scratch(dir);
}
END_TEST

/* The checker itself must reject a document that breaks the rules. */
START_TEST(stats_checker_rejects)
{
	char *dir = tu_enter_scratch();
	struct cu_io io = CU_IO_INIT;
	struct tu_run py;

	cu_write("bad.json", "{\"version\": \"1.0.0\", \"lock\": \"mutex\"}\n");
	char *a[] = {"python3", (char *)cu_stats_script, "bad.json",
	             "lock=mutex", NULL};
	cu_run_io(&py, &io, a);
	ck_assert_int_eq(py.status, 1);
	ck_assert_ptr_nonnull(strstr(py.err, "workers"));
	tu_run_free(&py);
	tu_leave_scratch(dir);
}
END_TEST

/* Workers that merged at least one input, from --stats=json on stderr. */
static const char *busy_workers =
    "python3 -c 'import json,sys; "
    "print(sum(w[\"inputs\"] > 0 for w in json.load(sys.stdin)[\"workers\"]))'";

/*
 * The default -j with many small files in the page cache: one worker more
 * than the processors pmerge may run on (one, under taskset) reads them,
 * the others wait (README, "Choosing -j").  A read that does wait for the
 * device lets them in, so of three tries one at least must show it.  (How
 * many of an explicit -j 8 get inputs depends on how soon each thread runs:
 * on one processor the first two may claim them all.)
 */
START_TEST(default_jobs_warm_small_files)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	cu_sh(&r,
	      "i=0; "
	      "while [ $i -lt 2000 ]; do echo \"line $i\" > in$i; "
	      "i=$((i+1)); done; cat in* > want; best=9; "
	      "for t in 1 2 3; do taskset -c 0 pmerge --stats=json -o out "
	      "in* 2> s.json && cmp -s want out || exit 3; "
	      "n=$(%s < s.json); [ $n -lt $best ] && best=$n; done; "
	      "echo $best",
	      busy_workers);
	cu_expect_exit(&r, 0);
	int warm = -1;
	ck_assert_int_eq(sscanf(r.out, "%d", &warm), 1);
	ck_assert_msg(warm >= 1 && warm <= 2, "%d workers took inputs", warm);
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/*
 * Streams keep every worker of the default -j: 8 FIFOs whose writers each
 * wait until all 8 are open for reading before they write and close are
 * merged (with fewer workers reading at once they would wait forever, and
 * pmerge's timeout ends the test; the writers still there are killed, so
 * that a failure leaves nothing running).
 */
START_TEST(default_jobs_streams)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	cu_sh(&r, ": > opened; "
	          "for i in 1 2 3 4 5 6 7 8; do mkfifo f$i; "
	          "( exec 3> f$i; echo >> opened; "
	          "while [ $(wc -l < opened) -lt 8 ]; do sleep 0.01; done; "
	          "echo line $i >&3 ) & pids=\"$pids $!\"; done; "
	          "taskset -c 0 timeout 20 pmerge f1 f2 f3 f4 f5 f6 f7 f8; "
	          "rc=$?; kill $pids 2>/dev/null; exit $rc");
	cu_expect_exit(&r, 0);
	ck_assert_str_eq(r.out, "line 1\nline 2\nline 3\nline 4\nline 5\n"
	                        "line 6\nline 7\nline 8\n");
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

TCase *cli_tcase_stats_json(void)
{
	TCase *tc = tcase_create("stats-json");
	tcase_add_loop_test(tc, stats_json, 0, N_SJ);
	tcase_add_test(tc, stats_checker_rejects);
	tcase_add_test(tc, default_jobs_warm_small_files);
	tcase_add_test(tc, default_jobs_streams);
	return tc;
}
