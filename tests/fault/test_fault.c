/*
 * Fault injection: pmerge under the pmfault shim (LD_PRELOAD), which makes
 * chosen system calls fail or come up short.  Faults pmerge must report
 * are checked for the exact message, the exit status, an -o file left as
 * it was (contents and inode) and no temporary file left behind; faults it
 * must survive (copy_file_range or splice unsupported, EINTR storms, short
 * writes) for output byte-identical to cat and exit 0.  Every run is
 * bounded, so a hang fails the test instead of stalling the suite, and the
 * shim's log proves that each survived fault really happened.
 */
#include "hardutil.h"
#include "tutil.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG "fault.log"
#define OLD "old contents\n"

/* Inputs: text ones for --unit=line, binary ones above the buffer size
 * (128 KiB) so that they take the copy_file_range/splice path. */
static void make_inputs(void)
{
	hu_make("a", 1000, 1, true);
	hu_make("c", 333, 3, true);
	hu_make("t1", 300000, 5, true);
	hu_make("t2", 200001, 6, true);
	/* Several buffers long even with the 1 MiB buffer of file outputs. */
	hu_make("big", (4u << 20) + 12345, 2, false);
	hu_make("big2", 700000, 4, false);
}

/*
 * Runs pmerge with the rules in spec and the arguments that follow (up to
 * NULL).  o may be NULL; its argv and env are filled in here.
 */
static void pm_fault(struct hu_result *r, const struct hu_opts *o,
                     const char *spec, ...)
{
	va_list ap;

	va_start(ap, spec);
	hu_run_pmerge(r, o, hu_fault_env(spec, LOG), ap);
	va_end(ap);
}

static void expect_injected(const char *what)
{
	ck_assert_msg(hu_log_count(LOG, what) > 0,
	              "the shim injected no \"%s\": the test proved nothing",
	              what);
}

/* Every line of each file, prefixed with its name and a TAB (--tag). */
static char *tagged_of(size_t *len, const char *const *names, size_t n)
{
	char *all = NULL;
	size_t l = 0;
	FILE *f = open_memstream(&all, &l);

	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < n; i++) {
		size_t k;
		char *d = tu_read_file(names[i], &k);
		ck_assert_ptr_nonnull(d);
		for (size_t pos = 0; pos < k;) {
			char *nl = memchr(d + pos, '\n', k - pos);
			size_t rec =
			    nl ? (size_t)(nl - (d + pos)) + 1 : k - pos;
			fprintf(f, "%s\t", names[i]);
			fwrite(d + pos, 1, rec, f);
			pos += rec;
		}
		free(d);
	}
	ck_assert_int_eq(fclose(f), 0);
	*len = l;
	return all;
}

static const char *const jobs[] = {"1", "4"};

/* ----------------------------------------------------------- bad inputs */

/* EIO in the middle of a regular input, read with pread (the kernel copy
 * is made to fail first): with -o, all or nothing. */
START_TEST(pread_eio_output)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;
	struct hu_snap s;

	make_inputs();
	tu_write_file("out", OLD, strlen(OLD));
	hu_snap_take(&s, "out");
	pm_fault(&r, NULL, "copy_file_range:EXDEV;pread:EIO:path=big:after=2",
	         "-j", jobs[_i], "-o", "out", "a", "big", "c", NULL);
	hu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: big: Input/output error\n");
	hu_snap_expect(&s, "out");
	hu_expect_no_temp(".");
	expect_injected("pread Input/output error");
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* The same to standard output: like cat, what was read of the bad input
 * stays, the other inputs are merged whole, exit 1. */
START_TEST(pread_eio_stdout)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;
	size_t la, lb, lc;

	make_inputs();
	char *a = tu_read_file("a", &la), *b = tu_read_file("big", &lb),
	     *c = tu_read_file("c", &lc);
	pm_fault(&r, NULL, "splice:EINVAL;pread:EIO:path=big:after=2", "-j",
	         jobs[_i], "a", "big", "c", NULL);
	hu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: big: Input/output error\n");
	ck_assert_uint_ge(r.out_len, la + lc);
	ck_assert_msg(r.out_len < la + lb + lc, "all of big was written");
	tu_expect_bytes("the first input", r.out, la, a, la);
	tu_expect_bytes("the last input", r.out + r.out_len - lc, lc, c, lc);
	tu_expect_bytes("what was read of big", r.out + la, r.out_len - la - lc,
	                b, r.out_len - la - lc);
	expect_injected("pread Input/output error");
	free(a);
	free(b);
	free(c);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* EIO reading a stream (standard input, a pipe) after its first read. */
START_TEST(read_eio_stream)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;
	struct hu_snap s;
	struct hu_opts o = {0};
	char *data = malloc(300000);

	ck_assert_ptr_nonnull(data);
	tu_fill_random(data, 300000, 9);
	make_inputs();
	o.stdin_data = data;
	o.stdin_len = 300000;
	tu_write_file("out", OLD, strlen(OLD));
	hu_snap_take(&s, "out");
	pm_fault(&r, &o, "read:EIO:fd=0:after=1", "-j", jobs[_i], "-o", "out",
	         "a", "-", "c", NULL);
	hu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: -: Input/output error\n");
	hu_snap_expect(&s, "out");
	hu_expect_no_temp(".");
	expect_injected("read Input/output error");
	free(data);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* --unit=line reads regular inputs with pread too. */
START_TEST(pread_eio_lines)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;
	struct hu_snap s;

	make_inputs();
	hu_snap_take(&s, "out"); /* absent: must stay so */
	pm_fault(&r, NULL, "pread:EIO:path=t1:after=1", "-j", jobs[_i], "-u",
	         "line", "-o", "out", "a", "t1", "t2", NULL);
	hu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: t1: Input/output error\n");
	hu_snap_expect(&s, "out");
	hu_expect_no_temp(".");
	expect_injected("pread Input/output error");
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* An input that cannot be opened (EMFILE): reported, the rest merged. */
START_TEST(open_emfile_input)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;
	struct hu_snap s;
	size_t len;

	make_inputs();
	pm_fault(&r, NULL, "open:EMFILE:path=big", "-j", jobs[_i], "a", "big",
	         "c", NULL);
	hu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: big: Too many open files\n");
	char *want = tu_cat(&len, "a", "c", NULL);
	tu_expect_bytes("standard output", r.out, r.out_len, want, len);
	free(want);
	hu_result_free(&r);

	tu_write_file("out", OLD, strlen(OLD));
	hu_snap_take(&s, "out");
	pm_fault(&r, NULL, "open:EMFILE:path=big", "-j", jobs[_i], "-o", "out",
	         "a", "big", "c", NULL);
	hu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: big: Too many open files\n");
	hu_snap_expect(&s, "out");
	hu_expect_no_temp(".");
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* The list of --files0-from cannot be opened, or fails while read. */
START_TEST(files0_list_fault)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;
	struct hu_snap s;
	const char *end = ": Input/output error\n";

	make_inputs();
	tu_write_file("list", "a\0c\0", 4);
	tu_write_file("out", OLD, strlen(OLD));
	hu_snap_take(&s, "out");
	if (_i == 0) {
		pm_fault(&r, NULL, "open:EMFILE:path=list",
		         "--files0-from=list", "-o", "out", NULL);
		hu_expect_exit(&r, 1);
		/* As GNU du and wc say it. */
		tu_expect_err(&r, "pmerge: cannot open 'list' for reading: "
		                  "Too many open files\n");
	} else {
		pm_fault(&r, NULL, "read:EIO:path=list", "--files0-from=list",
		         "-o", "out", NULL);
		hu_expect_exit(&r, 1);
		/* One line that names the list and the error. */
		ck_assert_msg(
		    !strncmp(r.err, "pmerge: ", 8) && strstr(r.err, "list") &&
		        r.err_len > strlen(end) &&
		        !strcmp(r.err + r.err_len - strlen(end), end) &&
		        strchr(r.err, '\n') == r.err + r.err_len - 1,
		    "stderr is \"%s\"", r.err);
	}
	hu_snap_expect(&s, "out");
	hu_expect_no_temp(".");
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* --------------------------------------------------------- a bad output */

/*
 * Faults of the -o file, whose temporary file is unnamed (O_TMPFILE, which
 * the shim calls "O_TMPFILE:DIR"), or ".out.pmerge-XXXXXX" where the file
 * system has no O_TMPFILE: each spec's '@' is replaced by the one the run
 * uses.
 */
static const struct {
	const char *spec;
	const char *message;
	const char *logged; /* what the shim's log must show */
} out_faults[] = {
    {"writes:ENOSPC:path=@", "No space left on device",
     "No space left on device"},
    /* Fails the third write, after big went out by copy_file_range. */
    {"io:ENOSPC:path=@:after=2", "No space left on device",
     "No space left on device"},
    {"io:EIO:path=@", "Input/output error", "Input/output error"},
    {"io:EDQUOT:path=@:after=1", "Disk quota exceeded", "Disk quota exceeded"},
    {"io:EFBIG:path=@:after=1", "File too large", "File too large"},
    /* A late write error (NFS, quotas) is only seen by close(). */
    {"close:EIO:path=@", "Input/output error", "close"},
    {"open:EMFILE:path=@", "Too many open files", "open"},
    {"open:EACCES:path=@", "Permission denied", "open"},
    {"open:ENOSPC:path=@", "No space left on device", "open"},
    /* The commit: a link (the unnamed file's name) or a rename. */
    {"rename,link:EXDEV", "Invalid cross-device link",
     "Invalid cross-device link"},
    {"rename,link:EACCES", "Permission denied", "Permission denied"},
    {"rename,link:ENOSPC", "No space left on device",
     "No space left on device"},
};
#define N_OUT_FAULTS (int)(sizeof(out_faults) / sizeof(out_faults[0]))

/* The rules for a run with an unnamed (0) or a named (1) temporary file. */
static char *temp_spec(const char *spec, bool named)
{
	const char *temp = named ? ".pmerge-" : "O_TMPFILE:";
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	ck_assert_ptr_nonnull(f);
	if (named) /* as on a file system without O_TMPFILE */
		fputs("open:EOPNOTSUPP:path=O_TMPFILE:count=1;", f);
	for (const char *p = spec; *p; p++)
		if (*p == '@')
			fputs(temp, f);
		else
			fputc(*p, f);
	ck_assert_int_eq(fclose(f), 0);
	return out;
}

/* Each fault with and without an existing file, with -j 1 and -j 4, with
 * an unnamed and a named temporary file. */
START_TEST(output_fault)
{
	int f = _i % N_OUT_FAULTS;
	bool exists = (_i / N_OUT_FAULTS) % 2;
	const char *j = jobs[(_i / (2 * N_OUT_FAULTS)) % 2];
	bool named = _i / (4 * N_OUT_FAULTS);
	char *dir = tu_enter_scratch();
	char *spec = temp_spec(out_faults[f].spec, named);
	struct hu_result r;
	struct hu_snap s;
	char *want;

	make_inputs();
	if (exists)
		tu_write_file("out", OLD, strlen(OLD));
	hu_snap_take(&s, "out");
	pm_fault(&r, NULL, spec, "-j", j, "-o", "out", "a", "big", "c", NULL);
	hu_expect_exit(&r, 1);
	ck_assert_int_gt(
	    asprintf(&want, "pmerge: out: %s\n", out_faults[f].message), 0);
	tu_expect_err(&r, want);
	hu_snap_expect(&s, "out");
	hu_expect_no_temp(".");
	expect_injected(out_faults[f].logged);
	ck_assert_uint_eq(hu_log_count(LOG, "Operation not supported"),
	                  named ? 1 : 0);
	free(want);
	free(spec);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/*
 * Without O_TMPFILE (the shim says EOPNOTSUPP, as a file system without
 * it does) the merge goes through a named temporary file and is just as
 * good: the output, its mode, nothing left behind.
 */
START_TEST(output_without_tmpfile)
{
	bool exists = _i;
	char *dir = tu_enter_scratch();
	struct hu_result r;
	struct stat st;
	size_t len;
	char *want;

	make_inputs();
	if (exists) {
		tu_write_file("out", OLD, strlen(OLD));
		ck_assert_int_eq(chmod("out", 0640), 0);
	}
	umask(022);
	pm_fault(&r, NULL, "open:EOPNOTSUPP:path=O_TMPFILE:", "-o", "out", "a",
	         "big", "c", NULL);
	hu_expect_exit(&r, 0);
	expect_injected("open Operation not supported path=O_TMPFILE:");
	want = tu_cat(&len, "a", "big", "c", NULL);
	tu_expect_file("out", want, len);
	ck_assert_int_eq(stat("out", &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, exists ? 0640 : 0644);
	hu_expect_no_temp(".");
	free(want);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* Standard output failing: "write error", whatever the write call. */
START_TEST(stdout_fault)
{
	static const struct {
		const char *spec, *message;
	} t[] = {
	    {"writes,splice:ENOSPC:fd=1", "No space left on device"},
	    {"writes,splice:EIO:fd=1:after=1", "Input/output error"},
	};
	char *dir = tu_enter_scratch();
	struct hu_result r;
	char *want;

	make_inputs();
	pm_fault(&r, NULL, t[_i % 2].spec, "-j", jobs[_i / 2], "a", "big", "c",
	         NULL);
	hu_expect_exit(&r, 1);
	ck_assert_int_gt(
	    asprintf(&want, "pmerge: write error: %s\n", t[_i % 2].message), 0);
	tu_expect_err(&r, want);
	expect_injected(t[_i % 2].message);
	free(want);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* ------------------------------------------------- faults to be survived */

/*
 * copy_file_range refused: the merge falls back to reads and writes and
 * the output is what cat writes.  Loop: the error, whether it comes at
 * once or after the first copy, and -o or a regular standard output.
 */
START_TEST(cfr_fallback)
{
	static const char *const errs[] = {"ENOSYS", "EXDEV", "EINVAL",
	                                   "EOPNOTSUPP", "EIO"};
	const char *err = errs[_i % 5];
	bool later = (_i / 5) % 2;
	bool to_stdout = _i / 10;
	char *dir = tu_enter_scratch();
	struct hu_result r;
	struct hu_opts o = {0};
	char spec[128];
	size_t len;

	make_inputs();
	snprintf(spec, sizeof(spec), "copy_file_range:%s%s", err,
	         later ? ":after=1" : "");
	if (to_stdout) {
		o.stdout_path = "stdout.txt";
		pm_fault(&r, &o, spec, "-j", "4", "big", "a", "big2", "c",
		         "big", NULL);
	} else {
		tu_write_file("out", OLD, strlen(OLD));
		pm_fault(&r, &o, spec, "-j", "4", "-o", "out", "big", "a",
		         "big2", "c", "big", NULL);
	}
	hu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	char *want = tu_cat(&len, "big", "a", "big2", "c", "big", NULL);
	tu_expect_file(to_stdout ? "stdout.txt" : "out", want, len);
	hu_expect_no_temp(".");
	expect_injected("copy_file_range");
	free(want);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* Short kernel copies, and a refusal in the middle of an input. */
START_TEST(cfr_short_then_refused)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;
	size_t len;

	make_inputs();
	pm_fault(&r, NULL,
	         "copy_file_range:EINVAL:after=3:count=1;"
	         "copy_file_range:short:max=65537",
	         "-j", jobs[_i], "-o", "out", "big", "a", "big2", NULL);
	hu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	char *want = tu_cat(&len, "big", "a", "big2", NULL);
	tu_expect_file("out", want, len);
	expect_injected("copy_file_range Invalid argument");
	expect_injected("copy_file_range short");
	free(want);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* splice into the standard output pipe refused, or short. */
START_TEST(splice_fallback)
{
	static const char *const specs[] = {
	    "splice:EINVAL", "splice:EINVAL:after=1", "splice:short:max=4097"};
	char *dir = tu_enter_scratch();
	struct hu_result r;
	size_t len;

	make_inputs();
	pm_fault(&r, NULL, specs[_i], "-j", "4", "big", "a", "big2", "c", NULL);
	hu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	char *want = tu_cat(&len, "big", "a", "big2", "c", NULL);
	tu_expect_bytes("standard output", r.out, r.out_len, want, len);
	expect_injected("splice");
	free(want);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* One merge setup for the survival tests: how pmerge is run and what it
 * must write.  stdin: "-" among the inputs reads the data given. */
struct setup {
	const char *name;
	const char *args[12];
	bool to_out;     /* output in "out", else standard output */
	bool tagged;     /* --tag: expected lines carry their input's name */
	bool with_stdin; /* one input is "-", fed 250,000 text bytes */
};

static const struct setup setups[] = {
    {.name = "file unit, -o",
     .args = {"-j", "4", "-o", "out", NULL},
     .to_out = true},
    {.name = "file unit, pipe", .args = {"-j", "4", NULL}},
    {.name = "sem:4, -o",
     .args = {"-j", "4", "-l", "sem:4", "-o", "out", NULL},
     .to_out = true},
    {.name = "line unit, -o",
     .args = {"-j", "3", "-u", "line", "--order=input", "-o", "out", NULL},
     .to_out = true},
    {.name = "line unit, pipe",
     .args = {"-j", "3", "-u", "line", "--order=input", NULL}},
    {.name = "line unit, --tag",
     .args = {"-j", "3", "-u", "line", "--order=input", "--tag", "-o", "out",
              NULL},
     .to_out = true,
     .tagged = true},
    {.name = "stdin among inputs",
     .args = {"-j", "2", NULL},
     .with_stdin = true},
};
#define N_SETUPS (int)(sizeof(setups) / sizeof(setups[0]))

/*
 * Runs setup s under spec and checks the output is exact.  Text inputs
 * only, so that every setup (line unit included) has one right answer.
 */
static void survive(const struct setup *s, const char *spec, const char *logged)
{
	const char *inputs[] = {"a", "t1", s->with_stdin ? "-" : "c", "t2"};
	size_t n_in = 4;
	struct hu_opts o = {0};
	struct hu_result r;
	char *argv[32], *want, *stdin_text = NULL;
	size_t n = 0, len, stdin_len = 0;

	argv[n++] = (char *)hu_pmerge();
	for (size_t i = 0; s->args[i]; i++)
		argv[n++] = (char *)s->args[i];
	for (size_t i = 0; i < n_in; i++)
		argv[n++] = (char *)inputs[i];
	argv[n] = NULL;
	if (s->with_stdin) {
		hu_make("stdin.txt", 250000, 11, true);
		stdin_text = tu_read_file("stdin.txt", &stdin_len);
		o.stdin_data = stdin_text;
		o.stdin_len = stdin_len;
		inputs[2] = "stdin.txt"; /* for the expected output */
	}
	o.argv = argv;
	o.env = hu_fault_env(spec, LOG);
	hu_run(&r, &o);
	ck_assert_msg(r.status == 0, "%s: exit %d (signal %d); stderr: %s",
	              s->name, r.status, r.sig, r.err);
	tu_expect_err(&r, "");
	want = s->tagged ? tagged_of(&len, inputs, n_in)
	                 : tu_cat_names(inputs, n_in, &len);
	if (s->to_out)
		tu_expect_file("out", want, len);
	else
		tu_expect_bytes(s->name, r.out, r.out_len, want, len);
	hu_expect_no_temp(".");
	expect_injected(logged);
	free(want);
	free(stdin_text);
	hu_result_free(&r);
}

/* Every other call of read, write, their positioned and vector kinds,
 * the kernel copies and poll is interrupted. */
START_TEST(eintr_storm)
{
	char *dir = tu_enter_scratch();

	make_inputs();
	/* A rule per call, each with its own count (see pmfault.c). */
	survive(&setups[_i],
	        "read:EINTR:every=2;pread:EINTR:every=2;"
	        "write:EINTR:every=2;writev:EINTR:every=2;"
	        "pwrite:EINTR:every=2;pwritev:EINTR:every=2;"
	        "copy_file_range:EINTR:every=2;splice:EINTR:every=2;"
	        "poll:EINTR:every=2",
	        "Interrupted");
	tu_leave_scratch(dir);
}
END_TEST

/* Writes (and kernel copies) of the output move at most a few bytes. */
START_TEST(short_writes)
{
	char *dir = tu_enter_scratch();
	const struct setup *s = &setups[_i];

	make_inputs();
	survive(s,
	        s->to_out ? "io:short:max=4093:path=O_TMPFILE:"
	                  : "writes,splice:short:max=1000:fd=1",
	        "short");
	tu_leave_scratch(dir);
}
END_TEST

/* Reads come up short too (a slow device, a signal mid-read). */
START_TEST(short_reads)
{
	char *dir = tu_enter_scratch();

	make_inputs();
	survive(&setups[_i], "reads,copy_file_range,splice:short:max=3001",
	        "short");
	tu_leave_scratch(dir);
}
END_TEST

static Suite *fault_suite(void)
{
	Suite *s = suite_create("fault");
	TCase *in = tcase_create("inputs");
	TCase *out = tcase_create("output");
	TCase *live = tcase_create("survive");

	tcase_add_loop_test(in, pread_eio_output, 0, 2);
	tcase_add_loop_test(in, pread_eio_stdout, 0, 2);
	tcase_add_loop_test(in, read_eio_stream, 0, 2);
	tcase_add_loop_test(in, pread_eio_lines, 0, 2);
	tcase_add_loop_test(in, open_emfile_input, 0, 2);
	tcase_add_loop_test(in, files0_list_fault, 0, 2);
	tcase_add_loop_test(out, output_fault, 0, 8 * N_OUT_FAULTS);
	tcase_add_loop_test(out, output_without_tmpfile, 0, 2);
	tcase_add_loop_test(out, stdout_fault, 0, 4);
	tcase_add_loop_test(live, cfr_fallback, 0, 20);
	tcase_add_loop_test(live, cfr_short_then_refused, 0, 2);
	tcase_add_loop_test(live, splice_fallback, 0, 3);
	tcase_add_loop_test(live, eintr_storm, 0, N_SETUPS);
	tcase_add_loop_test(live, short_writes, 0, N_SETUPS);
	tcase_add_loop_test(live, short_reads, 0, N_SETUPS);
	suite_add_tcase(s, in);
	suite_add_tcase(s, out);
	suite_add_tcase(s, live);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	hu_init();
	if (!hu_shim()) {
		fputs("test_fault: PMFAULT_SO is not set (run it through "
		      "meson test)\n",
		      stderr);
		return 77;
	}
	sr = srunner_create(fault_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
