/*
 * Byte identity with cat, the -o and -a outputs, and the ways standard
 * input and other streams come in.
 */
#include "cliutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define MiB (1024u * 1024u)

/* ------------------------------------------------------------- identity */

enum kind { TEXT, TEXT_NO_NEWLINE, BINARY };

static const struct {
	const char *name;
	size_t size;
	enum kind kind;
} id_files[] = {
    {"empty", 0, TEXT},         {"one", 1, TEXT},
    {"s4095", 4095, TEXT},      {"s4096", 4096, TEXT},
    {"s4097", 4097, TEXT},      {"mib-1", MiB - 1, TEXT},
    {"mib", MiB, TEXT},         {"mib+1", MiB + 1, TEXT},
    {"binary", 300000, BINARY}, {"no-newline", 5000, TEXT_NO_NEWLINE},
};
#define N_ID_FILES (sizeof(id_files) / sizeof(id_files[0]))

/* The command line: every file, one of them twice in a row ("a a"). */
static const char *const id_args[] = {
    "empty", "one",    "s4095", "s4096", "s4097",      "s4097",
    "mib-1", "binary", "mib",   "mib+1", "no-newline",
};
#define N_ID_ARGS (sizeof(id_args) / sizeof(id_args[0]))

static const unsigned id_jobs[] = {1, 2, 4, 8};

START_TEST(identity_with_cat)
{
	char *dir = tu_enter_scratch();
	char *data[N_ID_FILES];
	struct cu_input in[N_ID_ARGS];
	char jobs[16];
	size_t ref_len;

	for (size_t i = 0; i < N_ID_FILES; i++) {
		/* Distinct first bytes keep the arrival check unambiguous. */
		char first = (char)('A' + i);
		if (id_files[i].kind == BINARY)
			data[i] = cu_gen_binary(id_files[i].size, first, i + 1);
		else
			data[i] = cu_gen_text(id_files[i].size, first, i + 1,
			                      id_files[i].kind == TEXT);
		tu_write_file(id_files[i].name, data[i], id_files[i].size);
	}
	ck_assert_ptr_nonnull(memchr(data[8], '\0', id_files[8].size));
	ck_assert_int_ne(data[9][id_files[9].size - 1], '\n');
	for (size_t a = 0; a < N_ID_ARGS; a++) {
		size_t i = 0;
		while (strcmp(id_files[i].name, id_args[a]))
			i++;
		in[a] =
		    (struct cu_input){id_args[a], data[i], id_files[i].size};
	}
	char *ref = cu_cat((char *const *)id_args, N_ID_ARGS, &ref_len);

	snprintf(jobs, sizeof(jobs), "%u", id_jobs[_i]);
	for (int arrival = 0; arrival <= 1; arrival++) {
		for (int to_file = 0; to_file <= 1; to_file++) {
			char *args[N_ID_ARGS + 8];
			size_t n = 0, got_len;
			struct cu_io io = CU_IO_INIT;
			struct tu_run r;

			args[n++] = "-j";
			args[n++] = jobs;
			args[n++] =
			    arrival ? "--order=arrival" : "--order=input";
			if (to_file) {
				args[n++] = "-o";
				args[n++] = "out";
			}
			for (size_t a = 0; a < N_ID_ARGS; a++)
				args[n++] = (char *)id_args[a];
			cu_pm_argv(&r, &io, args, n);
			cu_expect_exit(&r, 0);
			tu_expect_err(&r, "");
			char *got = r.out;
			got_len = r.out_len;
			if (to_file) {
				ck_assert_uint_eq(r.out_len, 0);
				got = cu_slurp("out", &got_len);
			}
			if (arrival) {
				ck_assert_uint_eq(got_len, ref_len);
				cu_expect_permutation(got, got_len, in,
				                      N_ID_ARGS);
			} else {
				tu_expect_bytes("input order output", got,
				                got_len, ref, ref_len);
			}
			if (to_file) {
				free(got);
				/* The inputs and out: no temporary left. */
				ck_assert_uint_eq(tu_count_entries("."),
				                  N_ID_FILES + 1);
			}
			tu_run_free(&r);
		}
	}
	free(ref);
	for (size_t i = 0; i < N_ID_FILES; i++)
		free(data[i]);
	tu_leave_scratch(dir);
}
END_TEST

TCase *cli_tcase_identity(void)
{
	TCase *tc = tcase_create("identity");
	tcase_add_loop_test(tc, identity_with_cat, 0,
	                    (int)(sizeof(id_jobs) / sizeof(id_jobs[0])));
	return tc;
}

/* --------------------------------------------------------------- output */

#define A_TEXT "alpha 1\nalpha 2\n"
#define B_TEXT "bravo\n"
#define C_TEXT "charlie, no newline"

static void write_abc(void)
{
	cu_write("a", A_TEXT);
	cu_write("b", B_TEXT);
	cu_write("c", C_TEXT);
}

START_TEST(output_replaced_atomically)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	write_abc();
	cu_write("out", "OLD\n");
	ck_assert_int_eq(chmod("out", 0640), 0);
	struct stat before = cu_stat("out");
	size_t entries = tu_count_entries(".");

	cu_pm(&r, NULL, "-o", "out", "a", "b", "c", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	ck_assert_uint_eq(r.out_len, 0);
	tu_expect_file("out", A_TEXT B_TEXT C_TEXT,
	               strlen(A_TEXT B_TEXT C_TEXT));
	struct stat after = cu_stat("out");
	/* A rename put a new file in place: the inode is a different one. */
	ck_assert_msg(after.st_ino != before.st_ino,
	              "out kept its inode: it was rewritten in place");
	ck_assert_uint_eq(after.st_mode & 07777, 0640);
	ck_assert(S_ISREG(after.st_mode));
	ck_assert_uint_eq(tu_count_entries("."), entries);
	tu_run_free(&r);

	/* The long option does the same, into a file that did not exist. */
	cu_pm(&r, NULL, "--output=new", "c", "a", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_file("new", C_TEXT A_TEXT, strlen(C_TEXT A_TEXT));
	ck_assert_uint_eq(tu_count_entries("."), entries + 1);
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(output_is_an_input)
{
	char *dir = tu_enter_scratch();
	const char *jobs = _i ? "4" : "1";
	struct tu_run r;

	write_abc();
	/* -o replaces the file only at the end, so it may be read first. */
	cu_pm(&r, NULL, "-j", jobs, "-o", "a", "a", "b", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_file("a", A_TEXT B_TEXT, strlen(A_TEXT B_TEXT));
	tu_run_free(&r);

	cu_pm(&r, NULL, "-j", jobs, "-o", "c", "a", "c", "c", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_file("c", A_TEXT B_TEXT C_TEXT C_TEXT,
	               strlen(A_TEXT B_TEXT C_TEXT C_TEXT));
	ck_assert_uint_eq(tu_count_entries("."), 3);
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(output_through_symlink)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;
	char link[64];

	write_abc();
	ck_assert_int_eq(mkdir("sub", 0755), 0);
	cu_write("sub/target", "OLD\n");
	ck_assert_int_eq(chmod("sub/target", 0600), 0);
	/* Relative to the link's directory, not to the working directory. */
	ck_assert_int_eq(symlink("sub/target", "link"), 0);

	cu_pm(&r, NULL, "-o", "link", "a", "b", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	struct stat l = cu_lstat("link");
	ck_assert_msg(S_ISLNK(l.st_mode), "link is no longer a symlink");
	ssize_t k = readlink("link", link, sizeof(link) - 1);
	ck_assert_int_gt(k, 0);
	link[k] = '\0';
	ck_assert_str_eq(link, "sub/target");
	tu_expect_file("sub/target", A_TEXT B_TEXT, strlen(A_TEXT B_TEXT));
	struct stat t = cu_lstat("sub/target");
	ck_assert(S_ISREG(t.st_mode));
	ck_assert_uint_eq(t.st_mode & 07777, 0600);
	ck_assert_uint_eq(tu_count_entries("."), 5);
	ck_assert_uint_eq(tu_count_entries("sub"), 1);
	tu_run_free(&r);

	/* A failed merge leaves the target alone and no temporary behind. */
	cu_pm(&r, NULL, "-o", "link", "c", "missing", NULL);
	cu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: missing: No such file or directory\n");
	tu_expect_file("sub/target", A_TEXT B_TEXT, strlen(A_TEXT B_TEXT));
	ck_assert_uint_eq(tu_count_entries("."), 5);
	ck_assert_uint_eq(tu_count_entries("sub"), 1);
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/*
 * Proves on a device node in the scratch directory that pmerge writes a
 * device directly, before any test aims it at the real /dev/null or
 * /dev/full: a pmerge that renamed a file over those would damage the
 * machine.  Without the right to make nodes, a FIFO makes the same point.
 */
static void require_direct_device_output(unsigned minor, const char *want_err)
{
	struct tu_run r;
	bool fifo = false;

	write_abc();
	if (mknod("dev", S_IFCHR | 0666, makedev(1, minor)) < 0) {
		ck_assert_int_eq(mkfifo("dev", 0644), 0);
		fifo = true;
	}
	struct cu_fifo_reader *fr = fifo ? cu_fifo_reader_start("dev") : NULL;
	cu_pm(&r, NULL, "-o", "dev", "a", NULL);
	if (fr) {
		size_t len;
		char *d = cu_fifo_reader_finish(fr, &len);
		tu_expect_bytes("FIFO output", d, len, A_TEXT, strlen(A_TEXT));
		free(d);
		cu_expect_exit(&r, 0);
	} else if (want_err) {
		cu_expect_exit(&r, 1);
		tu_expect_err(&r, want_err);
	} else {
		cu_expect_exit(&r, 0);
		tu_expect_err(&r, "");
	}
	struct stat st = cu_lstat("dev");
	ck_assert_msg(fifo ? S_ISFIFO(st.st_mode) : S_ISCHR(st.st_mode),
	              "pmerge -o replaced a device node");
	ck_assert_uint_eq(tu_count_entries("."), 4);
	ck_assert_int_eq(unlink("dev"), 0);
	tu_run_free(&r);
}

START_TEST(output_dev_null)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	require_direct_device_output(3, NULL);
	cu_pm(&r, NULL, "-o", "/dev/null", "a", "b", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	ck_assert_uint_eq(r.out_len, 0);
	ck_assert(S_ISCHR(cu_lstat("/dev/null").st_mode));
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(output_dev_full)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	require_direct_device_output(7,
	                             "pmerge: dev: No space left on device\n");
	cu_pm(&r, NULL, "-o", "/dev/full", "a", "b", NULL);
	cu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: /dev/full: No space left on device\n");
	ck_assert(S_ISCHR(cu_lstat("/dev/full").st_mode));
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(output_fifo)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;
	size_t big_len = 600000, len;
	char *big = cu_gen_text(big_len, 'Z', 7, true);

	write_abc();
	tu_write_file("big", big, big_len);
	ck_assert_int_eq(mkfifo("fifo", 0644), 0);
	/* Larger than a pipe holds, so pmerge must wait for the reader. */
	struct cu_fifo_reader *fr = cu_fifo_reader_start("fifo");
	cu_pm(&r, NULL, "-j", "4", "-o", "fifo", "a", "big", "b", NULL);
	char *got = cu_fifo_reader_finish(fr, &len);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	size_t ref_len;
	char *ref = cu_cat((char *[]){"a", "big", "b"}, 3, &ref_len);
	tu_expect_bytes("FIFO output", got, len, ref, ref_len);
	ck_assert(S_ISFIFO(cu_lstat("fifo").st_mode));
	ck_assert_uint_eq(tu_count_entries("."), 5);
	free(got);
	free(ref);
	free(big);
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(output_dev_stdout)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	write_abc();
	cu_pm(&r, NULL, "-o", "/dev/stdout", "a", "b", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_bytes("stdout", r.out, r.out_len, A_TEXT B_TEXT,
	                strlen(A_TEXT B_TEXT));
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(output_missing_directory)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	write_abc();
	cu_pm(&r, NULL, "-o", "nodir/out", "a", NULL);
	cu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: nodir/out: No such file or directory\n");
	ck_assert_uint_eq(r.out_len, 0);
	ck_assert_uint_eq(tu_count_entries("."), 3);
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(append_keeps_content)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	write_abc();
	cu_write("out", "OLD\n");
	ck_assert_int_eq(chmod("out", 0604), 0);
	struct stat before = cu_stat("out");

	cu_pm(&r, NULL, "-a", "-o", "out", "a", "b", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_file("out", "OLD\n" A_TEXT B_TEXT,
	               strlen("OLD\n" A_TEXT B_TEXT));
	tu_run_free(&r);

	cu_pm(&r, NULL, "--append", "--output=out", "-j", "4", "c", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_file("out", "OLD\n" A_TEXT B_TEXT C_TEXT,
	               strlen("OLD\n" A_TEXT B_TEXT C_TEXT));
	struct stat after = cu_stat("out");
	ck_assert_uint_eq(after.st_ino, before.st_ino);
	ck_assert_uint_eq(after.st_mode & 07777, 0604);
	tu_run_free(&r);

	/* O_APPEND takes no positioned writes: sem:4 runs as sem:1. */
	cu_pm(&r, NULL, "-a", "-o", "out", "-l", "sem:4", "-j", "2", "b", "a",
	      NULL);
	cu_expect_exit(&r, 0);
	cu_expect_note(&r, "-a -l sem:4");
	tu_expect_file("out", "OLD\n" A_TEXT B_TEXT C_TEXT B_TEXT A_TEXT,
	               strlen("OLD\n" A_TEXT B_TEXT C_TEXT B_TEXT A_TEXT));
	tu_run_free(&r);

	/* Appending to a file that is not there yet creates it. */
	cu_pm(&r, NULL, "-a", "-o", "fresh", "b", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_file("fresh", B_TEXT, strlen(B_TEXT));
	ck_assert_uint_eq(tu_count_entries("."), 5);
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/*
 * Standard output already open on a regular file at some offset, as in
 * "{ echo head; pmerge ...; echo tail; } > file": like cat, pmerge writes at
 * that offset and leaves the offset after what it wrote, whatever the lock.
 */
static const char *const offset_locks[] = {"mutex", "sem:4", "rlock"};

START_TEST(stdout_file_offset)
{
	char *dir = tu_enter_scratch();
	const char *lock = offset_locks[_i];
	size_t big_len = 300000, len;
	char *big = cu_gen_text(big_len, 'Q', 3, true);
	struct tu_run r;

	write_abc();
	tu_write_file("big", big, big_len);
	char *ref = cu_cat((char *[]){"a", "big", "b", "c"}, 4, &len);
	size_t want_len = len + 3;
	char *want = malloc(want_len + 8);
	memcpy(want, "XY", 2);
	memcpy(want + 2, ref, len);
	want[2 + len] = 'Z';

	cu_sh(&r, "{ printf XY; pmerge -j 4 -l %s a big b c; printf Z; } > out",
	      lock);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_file("out", want, want_len);
	tu_run_free(&r);

	/* And on an O_APPEND standard output. */
	cu_write("out", "OLD");
	cu_sh(&r,
	      "{ printf XY; pmerge -j 4 -l %s a big b c; printf Z; } >> out",
	      lock);
	cu_expect_exit(&r, 0);
	/* O_APPEND takes no positioned writes: sem:4 says it runs as 1. */
	if (strncmp(lock, "sem:", 4) == 0)
		cu_expect_note(&r, ">> out");
	else
		tu_expect_err(&r, "");
	memmove(want + 3, want, want_len);
	memcpy(want, "OLD", 3);
	tu_expect_file("out", want, want_len + 3);
	tu_run_free(&r);
	free(want);
	free(ref);
	free(big);
	tu_leave_scratch(dir);
}
END_TEST

TCase *cli_tcase_output(void)
{
	TCase *tc = tcase_create("output");
	tcase_add_test(tc, output_replaced_atomically);
	tcase_add_loop_test(tc, output_is_an_input, 0, 2);
	tcase_add_test(tc, output_through_symlink);
	tcase_add_test(tc, output_dev_null);
	tcase_add_test(tc, output_dev_full);
	tcase_add_test(tc, output_fifo);
	tcase_add_test(tc, output_dev_stdout);
	tcase_add_test(tc, output_missing_directory);
	tcase_add_test(tc, append_keeps_content);
	tcase_add_loop_test(
	    tc, stdout_file_offset, 0,
	    (int)(sizeof(offset_locks) / sizeof(offset_locks[0])));
	return tc;
}

/* ---------------------------------------------------------------- stdin */

START_TEST(stdin_default_and_dash)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	write_abc();
	cu_pm(&r, "a", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_bytes("no FILE", r.out, r.out_len, A_TEXT, strlen(A_TEXT));
	tu_run_free(&r);

	cu_pm(&r, "a", "b", "-", "c", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_bytes("b - c", r.out, r.out_len, B_TEXT A_TEXT C_TEXT,
	                strlen(B_TEXT A_TEXT C_TEXT));
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(stdin_twice_reads_eof)
{
	char *dir = tu_enter_scratch();
	const char *jobs = _i ? "4" : "1";
	struct tu_run r;

	write_abc();
	cu_pm(&r, "a", "-j", jobs, "-", "-", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_bytes("- -", r.out, r.out_len, A_TEXT, strlen(A_TEXT));
	tu_run_free(&r);

	cu_pm(&r, "a", "-j", jobs, "b", "-", "-", "c", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_bytes("b - - c", r.out, r.out_len, B_TEXT A_TEXT C_TEXT,
	                strlen(B_TEXT A_TEXT C_TEXT));
	tu_run_free(&r);

	/* The same from a pipe, which cannot be read twice anyway. */
	cu_sh(&r, "printf 'piped\\n' | pmerge -j %s - b -", jobs);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_bytes("pipe - b -", r.out, r.out_len, "piped\n" B_TEXT,
	                strlen("piped\n" B_TEXT));
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(stdin_current_offset)
{
	char *dir = tu_enter_scratch();
	struct tu_run r, c;

	write_abc();
	/* Part of stdin was consumed before: the rest is what counts. */
	cu_sh(&r, "{ dd bs=5 count=1 of=/dev/null 2>/dev/null; "
	          "pmerge - b; } < a");
	cu_sh(&c, "{ dd bs=5 count=1 of=/dev/null 2>/dev/null; "
	          "cat - b; } < a");
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	ck_assert_uint_eq(c.status, 0);
	tu_expect_bytes("rest of stdin", c.out, c.out_len, &(A_TEXT B_TEXT)[5],
	                strlen(A_TEXT B_TEXT) - 5);
	tu_expect_bytes("rest of stdin", r.out, r.out_len, c.out, c.out_len);
	tu_run_free(&r);
	tu_run_free(&c);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(double_dash_ends_options)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	write_abc();
	cu_write("-x", "dash x\n");
	cu_pm(&r, NULL, "--", "-x", "a", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_bytes("-- -x a", r.out, r.out_len, "dash x\n" A_TEXT,
	                strlen("dash x\n" A_TEXT));
	tu_run_free(&r);

	/* "--" itself is no file, and "-" after it is still stdin. */
	cu_pm(&r, "b", "a", "--", "-", "-x", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_bytes("a -- - -x", r.out, r.out_len, A_TEXT B_TEXT "dash x\n",
	                strlen(A_TEXT B_TEXT "dash x\n"));
	tu_run_free(&r);

	/* Without "--" the same name is an option, and a bad one. */
	cu_pm(&r, NULL, "-x", "a", NULL);
	cu_expect_exit(&r, 2);
	ck_assert_uint_eq(r.out_len, 0);
	ck_assert_ptr_nonnull(
	    strstr(r.err, "Try 'pmerge --help' for more information.\n"));
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(stdin_pipe)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	write_abc();
	cu_sh(&r, "printf 'from a pipe\\n' | pmerge a - b");
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_bytes("a - b", r.out, r.out_len,
	                A_TEXT "from a pipe\n" B_TEXT,
	                strlen(A_TEXT "from a pipe\n" B_TEXT));
	tu_run_free(&r);

	/* A large stream through /dev/stdin, with several workers. */
	size_t zeros = 500000,
	       want_len = strlen(A_TEXT) + zeros + strlen(B_TEXT);
	char *want = calloc(1, want_len);
	memcpy(want, A_TEXT, strlen(A_TEXT));
	memcpy(want + strlen(A_TEXT) + zeros, B_TEXT, strlen(B_TEXT));
	cu_sh(&r, "head -c %zu /dev/zero | pmerge -j 4 a /dev/stdin b", zeros);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_bytes("a /dev/stdin b", r.out, r.out_len, want, want_len);
	free(want);
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(input_fifo)
{
	char *dir = tu_enter_scratch();
	const char *jobs = _i ? "4" : "1";
	size_t len = 300000, ref_len;
	char *data = cu_gen_text(len, 'F', 11, true);
	struct tu_run r;

	write_abc();
	ck_assert_int_eq(mkfifo("fifo", 0644), 0);
	struct cu_fifo_writer *fw = cu_fifo_writer_start("fifo", data, len);
	cu_pm(&r, NULL, "-j", jobs, "a", "fifo", "b", NULL);
	ck_assert_msg(cu_fifo_writer_finish(fw),
	              "pmerge did not read the FIFO to its end");
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_write_file("plain", data, len);
	char *ref = cu_cat((char *[]){"a", "plain", "b"}, 3, &ref_len);
	tu_expect_bytes("a fifo b", r.out, r.out_len, ref, ref_len);
	free(ref);
	free(data);
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(input_dev_fd)
{
	char *dir = tu_enter_scratch();
	struct cu_io io = CU_IO_INIT;
	struct tu_run r;
	int p[2];
	char name[32];

	write_abc();
	/* What a shell's process substitution hands over: /dev/fd/N. */
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(write(p[1], "xyz\n", 4), 4);
	close(p[1]);
	snprintf(name, sizeof(name), "/dev/fd/%d", p[0]);
	io.pass_fd = p[0];
	cu_pm_argv(&r, &io, (char *[]){"a", name, "b"}, 3);
	close(p[0]);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_bytes("a /dev/fd/N b", r.out, r.out_len,
	                A_TEXT "xyz\n" B_TEXT, strlen(A_TEXT "xyz\n" B_TEXT));
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

TCase *cli_tcase_stdin(void)
{
	TCase *tc = tcase_create("stdin");
	tcase_add_test(tc, stdin_default_and_dash);
	tcase_add_loop_test(tc, stdin_twice_reads_eof, 0, 2);
	tcase_add_test(tc, stdin_current_offset);
	tcase_add_test(tc, double_dash_ends_options);
	tcase_add_test(tc, stdin_pipe);
	tcase_add_loop_test(tc, input_fifo, 0, 2);
	tcase_add_test(tc, input_dev_fd);
	return tc;
}
