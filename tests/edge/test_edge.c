/*
 * Edge cases of names, outputs and process state: odd inputs (an empty
 * name, dangling and looping symlinks, a directory, the same file twice, a
 * file that grows while it is read), odd -o targets (a directory, a missing
 * directory, a read-only directory, a symlink, /dev/null, a FIFO, a full
 * disk), closed standard streams, /dev/full, a descriptor limit far below
 * the number of inputs, inputs over 4 GiB, and a signal while blocked on a
 * FIFO that never gets a writer.
 *
 * Groups (the first argument): "main" the fast cases, "perm" the read-only
 * directory (run as an unprivileged user; 77 when none can be had), "slow"
 * the large ones.
 */
#include "hardutil.h"
#include "tutil.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OLD "old contents\n"

/* The unprivileged user of the perm group (when running as root). */
#define NOBODY 65534

/* Runs pmerge with the arguments that follow (up to NULL) as o says. */
static void pm(struct hu_result *r, const struct hu_opts *o, ...)
{
	va_list ap;

	va_start(ap, o);
	hu_run_pmerge(r, o, NULL, ap);
	va_end(ap);
}

static void make_ac(void)
{
	hu_make("a", 1000, 1, true);
	hu_make("c", 333, 3, true);
}

/* Standard output must be a and c merged: the bad input in between is
 * reported and skipped, as cat does. */
static void expect_out_ac(const struct hu_result *r)
{
	size_t len;
	char *want = tu_cat(&len, "a", "c", NULL);

	tu_expect_bytes("standard output", r->out, r->out_len, want, len);
	free(want);
}

/* A bad input with -o: reported, exit 1, out as it was, no temporary. */
static void expect_all_or_nothing(const char *bad, const char *message)
{
	struct hu_result r;
	struct hu_snap s;

	tu_write_file("out", OLD, strlen(OLD));
	hu_snap_take(&s, "out");
	pm(&r, NULL, "-o", "out", "a", bad, "c", NULL);
	hu_expect_exit(&r, 1);
	tu_expect_err(&r, message);
	hu_snap_expect(&s, "out");
	hu_expect_no_temp(".");
	hu_result_free(&r);
}

/* ------------------------------------------------------------ odd inputs */

START_TEST(empty_name)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;

	make_ac();
	pm(&r, NULL, "a", "", "c", NULL);
	hu_expect_exit(&r, 1);
	/*
	 * The contract's "pmerge: NAME: strerror" gives an empty NAME; GNU
	 * cat quotes it as ''.  Either says which input failed.
	 */
	ck_assert_msg(
	    !strcmp(r.err, "pmerge: : No such file or directory\n") ||
	        !strcmp(r.err, "pmerge: '': No such file or directory\n"),
	    "stderr is \"%s\"", r.err);
	expect_out_ac(&r);
	tu_write_file("out", OLD, strlen(OLD));
	struct hu_snap s;
	hu_snap_take(&s, "out");
	hu_result_free(&r);
	pm(&r, NULL, "-o", "out", "a", "", "c", NULL);
	hu_expect_exit(&r, 1);
	hu_snap_expect(&s, "out");
	hu_expect_no_temp(".");
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(dangling_symlink)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;

	make_ac();
	ck_assert_int_eq(symlink("nowhere", "dl"), 0);
	pm(&r, NULL, "a", "dl", "c", NULL);
	hu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: dl: No such file or directory\n");
	expect_out_ac(&r);
	hu_result_free(&r);
	expect_all_or_nothing("dl", "pmerge: dl: No such file or directory\n");
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(symlink_loop)
{
	static const char *const names[] = {"self", "l1"};
	char *dir = tu_enter_scratch();
	struct hu_result r;
	char *want;

	make_ac();
	ck_assert_int_eq(symlink("self", "self"), 0);
	ck_assert_int_eq(symlink("l2", "l1"), 0);
	ck_assert_int_eq(symlink("l1", "l2"), 0);
	pm(&r, NULL, "a", names[_i], "c", NULL);
	hu_expect_exit(&r, 1);
	ck_assert_int_gt(asprintf(&want,
	                          "pmerge: %s: Too many levels of symbolic "
	                          "links\n",
	                          names[_i]),
	                 0);
	tu_expect_err(&r, want);
	expect_out_ac(&r);
	hu_result_free(&r);
	expect_all_or_nothing(names[_i], want);
	free(want);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(directory_input)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;

	make_ac();
	ck_assert_int_eq(mkdir("sub", 0755), 0);
	pm(&r, NULL, "a", "sub", "c", NULL);
	hu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: sub: Is a directory\n");
	expect_out_ac(&r);
	hu_result_free(&r);
	expect_all_or_nothing("sub", "pmerge: sub: Is a directory\n");
	tu_leave_scratch(dir);
}
END_TEST

/* cat a a: the file twice.  -o a a a: FILE may be one of the inputs. */
START_TEST(same_input_twice)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;
	size_t len;

	make_ac();
	hu_make("big", 300000, 7, false);
	char *want = tu_cat(&len, "a", "big", "a", "big", NULL);
	pm(&r, NULL, "-j", "4", "a", "big", "a", "big", NULL);
	hu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_bytes("standard output", r.out, r.out_len, want, len);
	hu_result_free(&r);

	pm(&r, NULL, "-j", "4", "-o", "out", "a", "big", "a", "big", NULL);
	hu_expect_exit(&r, 0);
	tu_expect_file("out", want, len);
	hu_result_free(&r);

	pm(&r, NULL, "-j", "4", "-o", "big", "big", "a", "big", NULL);
	hu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	/* big is replaced by big a big, of the old big, read before. */
	size_t la, lb = 300000;
	char *a = tu_read_file("a", &la);
	char *expect = malloc(2 * lb + la);
	ck_assert_ptr_nonnull(expect);
	tu_fill_random(expect, lb, 7);
	memcpy(expect + lb, a, la);
	memcpy(expect + lb + la, expect, lb);
	tu_expect_file("big", expect, 2 * lb + la);
	hu_expect_no_temp(".");
	free(expect);
	free(a);
	free(want);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/*
 * A writer appends to an input while pmerge reads it.  pmerge must end
 * while the input is still growing (regular inputs are merged up to the
 * size they had, or read to an end of file that a writer slower than the
 * disk cannot outrun) and write at least the initial size, all of it bytes
 * that really were in the file.
 */
START_TEST(growing_input)
{
	const size_t initial = 2u << 20;
	const char *unit = _i ? "line" : "file";
	char *dir = tu_enter_scratch();
	struct hu_result r;
	char line[4096];
	pid_t writer;

	hu_make("grow", initial, 5, true);
	memset(line, 'g', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\n';
	writer = fork();
	ck_assert_int_ge(writer, 0);
	if (writer == 0) {
		int fd = open("grow", O_WRONLY | O_APPEND);
		struct timespec pause = {0, 1000000};

		/*
		 * About 4 MB/s for some 10 s, one whole line per write;
		 * bounded, so that a pmerge that never stops cannot fill the
		 * disk.
		 */
		for (int i = 0; fd >= 0 && i < 8192; i++) {
			if (write(fd, line, sizeof(line)) != sizeof(line))
				_exit(1);
			nanosleep(&pause, NULL);
		}
		_exit(0);
	}
	/* Let the writer get going first. */
	struct timespec settle = {0, 50000000};
	nanosleep(&settle, NULL);
	pm(&r, NULL, "-u", unit, "grow", NULL);
	/* Still running: pmerge did not just wait for the writer to stop. */
	bool growing = waitpid(writer, NULL, WNOHANG) == 0;
	kill(writer, SIGKILL);
	waitpid(writer, NULL, 0);
	ck_assert_msg(growing, "the writer ended before pmerge did");
	ck_assert_msg(r.status == 0, "exit %d (signal %d); stderr: %s",
	              r.status, r.sig, r.err);
	size_t flen;
	char *final = tu_read_file("grow", &flen);
	ck_assert_uint_ge(r.out_len, initial);
	ck_assert_uint_le(r.out_len, flen + 1);
	if (_i) {
		/* Whole records; the last may have been caught half-written
		 * and got its terminator added. */
		ck_assert_int_eq(r.out[r.out_len - 1], '\n');
		char *last = memrchr(r.out, '\n', r.out_len - 1);
		size_t keep = last ? (size_t)(last - r.out) + 1 : 0;
		tu_expect_bytes("the records before the last", r.out, keep,
		                final, keep);
	} else {
		tu_expect_bytes("what was merged", r.out, r.out_len, final,
		                r.out_len);
	}
	free(final);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* ---------------------------------------------------------- odd outputs */

START_TEST(output_is_directory)
{
	static const char *const targets[] = {"outdir", "outdir/"};
	char *dir = tu_enter_scratch();
	struct hu_result r;
	char *want;

	make_ac();
	ck_assert_int_eq(mkdir("outdir", 0755), 0);
	tu_write_file("outdir/keep", OLD, strlen(OLD));
	pm(&r, NULL, "-o", targets[_i], "a", "c", NULL);
	hu_expect_exit(&r, 1);
	ck_assert_int_gt(
	    asprintf(&want, "pmerge: %s: Is a directory\n", targets[_i]), 0);
	tu_expect_err(&r, want);
	ck_assert_str_eq(r.out, "");
	ck_assert_uint_eq(tu_count_entries("outdir"), 1);
	tu_expect_file("outdir/keep", OLD, strlen(OLD));
	hu_expect_no_temp(".");
	hu_expect_no_temp("outdir");
	free(want);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(output_in_missing_directory)
{
	static const struct {
		const char *target, *message;
	} t[] = {
	    {"nodir/out", "pmerge: nodir/out: No such file or directory\n"},
	    {"a/out", "pmerge: a/out: Not a directory\n"},
	};
	char *dir = tu_enter_scratch();
	struct hu_result r;

	make_ac();
	pm(&r, NULL, "-o", t[_i].target, "a", "c", NULL);
	hu_expect_exit(&r, 1);
	tu_expect_err(&r, t[_i].message);
	ck_assert(!tu_exists("nodir"));
	ck_assert_uint_eq(tu_count_entries("."), 2);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/*
 * Replacing FILE swaps the names and never touches the old file: a hard
 * link to it and a descriptor open on it still give the old bytes, FILE
 * has the new ones and its mode, and nothing is left beside it -- both when
 * FILE exists (the names are exchanged) and when it does not (renamed).
 */
START_TEST(output_replace_keeps_old_file)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;
	char *argv[] = {(char *)hu_pmerge(), "-o", "out", "a", "b", NULL};
	struct hu_opts o = {.argv = argv};
	struct stat st;
	char old[16];

	tu_write_file("a", "new a\n", 6);
	tu_write_file("b", "new b\n", 6);
	hu_run(&r, &o);
	hu_expect_exit(&r, 0);
	tu_expect_file("out", "new a\nnew b\n", 12);
	hu_result_free(&r);

	tu_write_file("out", "the old file\n", 13);
	ck_assert_int_eq(chmod("out", 0640), 0);
	ck_assert_int_eq(link("out", "old-link"), 0);
	int fd = open("out", O_RDONLY);
	ck_assert_int_ge(fd, 0);
	hu_run(&r, &o);
	hu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_file("out", "new a\nnew b\n", 12);
	tu_expect_file("old-link", "the old file\n", 13);
	ck_assert_int_eq(pread(fd, old, sizeof(old), 0), 13);
	ck_assert_int_eq(memcmp(old, "the old file\n", 13), 0);
	ck_assert_int_eq(stat("out", &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
	ck_assert_uint_eq(st.st_nlink, 1);
	ck_assert_int_eq(stat("old-link", &st), 0);
	ck_assert_uint_eq(st.st_nlink, 1);
	close(fd);
	hu_expect_no_temp(".");
	ck_assert_uint_eq(tu_count_entries("."), 4);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* A symlink -o: its target is replaced, the link stays, also through a
 * chain of links and into another directory. */
START_TEST(output_symlink)
{
	static const char *const links[] = {"out", "chain"};
	char *dir = tu_enter_scratch();
	struct hu_result r;
	struct stat st;
	char got[256];
	size_t len;

	make_ac();
	ck_assert_int_eq(mkdir("d", 0755), 0);
	tu_write_file("d/t", OLD, strlen(OLD));
	ck_assert_int_eq(chmod("d/t", 0640), 0);
	ck_assert_int_eq(symlink("d/t", "out"), 0);
	ck_assert_int_eq(symlink("out", "chain"), 0);
	pm(&r, NULL, "-o", links[_i], "a", "c", NULL);
	hu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	char *want = tu_cat(&len, "a", "c", NULL);
	tu_expect_file("d/t", want, len);
	ck_assert_int_eq(lstat("out", &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	ssize_t n = readlink("out", got, sizeof(got) - 1);
	ck_assert_int_eq(n, 3);
	got[n] = '\0';
	ck_assert_str_eq(got, "d/t");
	ck_assert_int_eq(lstat("chain", &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	ck_assert_int_eq(stat("d/t", &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
	hu_expect_no_temp(".");
	hu_expect_no_temp("d");
	free(want);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* A dangling -o link gets its target created; a looping one is an error. */
START_TEST(output_odd_symlinks)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;
	struct stat st;
	size_t len;

	make_ac();
	ck_assert_int_eq(symlink("target", "dangling"), 0);
	ck_assert_int_eq(symlink("loop", "loop"), 0);
	pm(&r, NULL, "-o", "dangling", "a", "c", NULL);
	hu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	char *want = tu_cat(&len, "a", "c", NULL);
	tu_expect_file("target", want, len);
	ck_assert_int_eq(lstat("dangling", &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	hu_result_free(&r);

	pm(&r, NULL, "-o", "loop", "a", "c", NULL);
	hu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: loop: Too many levels of symbolic links\n");
	ck_assert_int_eq(lstat("loop", &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	ck_assert_uint_eq(tu_count_entries("."), 5);
	hu_expect_no_temp(".");
	free(want);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* -o '': no such file, and nothing left behind. */
START_TEST(output_empty_name)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;

	make_ac();
	pm(&r, NULL, "-o", "", "a", "c", NULL);
	hu_expect_exit(&r, 1);
	ck_assert_msg(
	    !strcmp(r.err, "pmerge: : No such file or directory\n") ||
	        !strcmp(r.err, "pmerge: '': No such file or directory\n"),
	    "stderr is \"%s\"", r.err);
	ck_assert_uint_eq(r.out_len, 0);
	ck_assert_uint_eq(tu_count_entries("."), 2);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(output_dev_null)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;
	struct stat st;

	make_ac();
	hu_make("big", 300000, 7, false);
	pm(&r, NULL, "-j", "4", "-o", "/dev/null", "a", "big", "c", NULL);
	hu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	ck_assert_uint_eq(r.out_len, 0);
	ck_assert_int_eq(stat("/dev/null", &st), 0);
	ck_assert(S_ISCHR(st.st_mode));
	ck_assert_uint_eq(tu_count_entries("."), 3);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* -o a FIFO: written directly, read by another process. */
START_TEST(output_fifo)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;
	struct stat st;
	size_t len;
	pid_t reader;
	int status;

	make_ac();
	hu_make("big", 300000, 7, false);
	ck_assert_int_eq(mkfifo("f", 0644), 0);
	reader = fork();
	ck_assert_int_ge(reader, 0);
	if (reader == 0) {
		int in = open("f", O_RDONLY);
		int out = open("got", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		char b[65536];
		ssize_t k;

		if (in < 0 || out < 0)
			_exit(1);
		while ((k = read(in, b, sizeof(b))) > 0)
			if (write(out, b, (size_t)k) != k)
				_exit(1);
		_exit(k == 0 ? 0 : 1);
	}
	pm(&r, NULL, "-j", "4", "-o", "f", "a", "big", "c", NULL);
	ck_assert_int_eq(waitpid(reader, &status, 0), reader);
	hu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	char *want = tu_cat(&len, "a", "big", "c", NULL);
	tu_expect_file("got", want, len);
	ck_assert_int_eq(lstat("f", &st), 0);
	ck_assert(S_ISFIFO(st.st_mode));
	hu_expect_no_temp(".");
	free(want);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/*
 * A private mount namespace with a 1 MiB tmpfs on "small", where that is
 * permitted; the mount goes away with this (forked) test process.
 */
static bool small_disk(void)
{
	if (mkdir("small", 0755) < 0)
		return false;
	if (unshare(CLONE_NEWNS) < 0)
		return false;
	if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return false;
	return mount("pmerge-test", "small", "tmpfs", 0, "size=1m,mode=0755") ==
	       0;
}

/*
 * The output's file system fills up: a real one where a tmpfs can be
 * mounted, else the shim's ENOSPC on the temporary file.
 */
START_TEST(disk_full)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;
	struct hu_snap s;
	struct hu_opts o = {0};
	bool real = small_disk();

	/* Which of the two ran, for whoever reads the log. */
	fprintf(stderr, "disk_full: %s\n",
	        real ? "a 1 MiB tmpfs" : "no tmpfs here: ENOSPC from the shim");
	if (!real) {
		ck_assert_msg(hu_shim() != NULL, "no tmpfs and no shim");
		o.env = hu_fault_env("io:ENOSPC:path=O_TMPFILE:small:after=1",
		                     NULL);
		if (!tu_exists("small"))
			ck_assert_int_eq(mkdir("small", 0755), 0);
	}
	make_ac();
	hu_make("big", 3u << 20, 7, false);
	tu_write_file("small/out", OLD, strlen(OLD));
	hu_snap_take(&s, "small/out");
	pm(&r, &o, "-o", "small/out", "a", "big", "c", NULL);
	hu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: small/out: No space left on device\n");
	hu_snap_expect(&s, "small/out");
	hu_expect_no_temp("small");
	hu_expect_no_temp(".");
	hu_result_free(&r);
	if (real) {
		/* Standard output on the full file system: a write error. */
		o.stdout_path = "small/stdout";
		pm(&r, &o, "a", "big", "c", NULL);
		hu_expect_exit(&r, 1);
		tu_expect_err(&r, "pmerge: write error: No space left on "
		                  "device\n");
		hu_result_free(&r);
		ck_assert_int_eq(umount("small"), 0);
	}
	tu_leave_scratch(dir);
}
END_TEST

/* Standard output or -o on /dev/full. */
START_TEST(dev_full)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;
	struct hu_opts o = {.stdout_path = "/dev/full"};

	make_ac();
	hu_make("big", 300000, 7, false);
	pm(&r, &o, "a", "big", "c", NULL);
	hu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: write error: No space left on device\n");
	hu_result_free(&r);
	pm(&r, NULL, "-o", "/dev/full", "a", "big", "c", NULL);
	hu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: /dev/full: No space left on device\n");
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* ------------------------------------------------------ closed streams */

START_TEST(stdin_closed)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;
	struct hu_opts o = {.close_stdin = true};
	size_t len;

	make_ac();
	pm(&r, &o, NULL);
	hu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: -: Bad file descriptor\n");
	ck_assert_uint_eq(r.out_len, 0);
	hu_result_free(&r);

	pm(&r, &o, "a", "-", "c", NULL);
	hu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: -: Bad file descriptor\n");
	expect_out_ac(&r);
	hu_result_free(&r);

	/* Not reading it, nothing is wrong; the output must not land on
	 * descriptor 0 either. */
	pm(&r, &o, "-o", "out", "a", "c", NULL);
	hu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	char *want = tu_cat(&len, "a", "c", NULL);
	tu_expect_file("out", want, len);
	free(want);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(stdout_closed)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;
	struct hu_opts o = {.close_stdout = true};
	size_t len;

	make_ac();
	pm(&r, &o, "a", "c", NULL);
	hu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: write error: Bad file descriptor\n");
	hu_result_free(&r);

	pm(&r, &o, "-o", "out", "a", "c", NULL);
	hu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	char *want = tu_cat(&len, "a", "c", NULL);
	tu_expect_file("out", want, len);
	free(want);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* ------------------------------------------------------------- signals */

/* Blocked on a FIFO that never gets a writer, pmerge must still stop on
 * SIGINT, SIGTERM or SIGHUP: by that signal, -o FILE untouched. */
START_TEST(fifo_no_writer_signal)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	int sig = sigs[_i % 3];
	bool to_out = _i / 3;
	char *dir = tu_enter_scratch();
	struct hu_result r;
	struct hu_snap s;
	struct hu_opts o = {.sig = sig, .sig_when_open = "f"};

	make_ac();
	ck_assert_int_eq(mkfifo("f", 0644), 0);
	tu_write_file("out", OLD, strlen(OLD));
	hu_snap_take(&s, "out");
	if (to_out)
		pm(&r, &o, "-j", "2", "-o", "out", "a", "f", "c", NULL);
	else
		pm(&r, &o, "-j", "2", "a", "f", "c", NULL);
	ck_assert_msg(r.signalled, "pmerge never had the FIFO open");
	ck_assert_msg(r.status == -1 && r.sig == sig,
	              "exit %d (signal %d), want death by signal %d; "
	              "stderr: %s",
	              r.status, r.sig, sig, r.err);
	tu_expect_err(&r, "");
	hu_snap_expect(&s, "out");
	hu_expect_no_temp(".");
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* ------------------------------------------------ descriptors and sizes */

/* n tiny inputs named by number in "m/"; returns their concatenation. */
static char **make_many(size_t n, char **want, size_t *want_len)
{
	char **names = calloc(n + 1, sizeof(char *));
	FILE *f = open_memstream(want, want_len);

	ck_assert_ptr_nonnull(names);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(mkdir("m", 0755), 0);
	for (size_t i = 0; i < n; i++) {
		char text[32];
		int len = snprintf(text, sizeof(text), "input %zu\n", i);

		ck_assert_int_gt(asprintf(&names[i], "m/%06zu", i), 0);
		/* Every 7th input is empty, so that empties are merged too. */
		if (i % 7 == 3)
			len = 0;
		tu_write_file(names[i], text, (size_t)len);
		fwrite(text, 1, (size_t)len, f);
	}
	ck_assert_int_eq(fclose(f), 0);
	return names;
}

static void free_many(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* 5,000 inputs on the command line under a limit of 64 descriptors. */
START_TEST(many_inputs_low_fd_limit)
{
	const size_t n = 5000;
	char *dir = tu_enter_scratch();
	struct hu_result r;
	struct hu_opts o = {.nofile = 64};
	char *want, **names, **argv;
	size_t want_len, k = 0;

	names = make_many(n, &want, &want_len);
	argv = calloc(n + 8, sizeof(char *));
	argv[k++] = (char *)hu_pmerge();
	argv[k++] = "-j";
	argv[k++] = (char *)(_i ? "16" : "4");
	argv[k++] = "-o";
	argv[k++] = "out";
	for (size_t i = 0; i < n; i++)
		argv[k++] = names[i];
	o.argv = argv;
	hu_run(&r, &o);
	hu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_file("out", want, want_len);
	hu_result_free(&r);
	free(argv);
	free(want);
	free_many(names, n);
	tu_leave_scratch(dir);
}
END_TEST

/*
 * Many small inputs go out in runs, one write for a run.  Inputs that
 * cannot join a run -- missing, a directory, empty, larger than the
 * buffer, standard input -- must each still come out in place (or be
 * reported), between runs and inside them, under any -j, a lock with
 * several holders, and to standard output as well as to -o.
 */
static const struct {
	const char *jobs, *lock;
	bool to_file;
} runs_cases[] = {
    {"1", "mutex", true},
    {"3", "mutex", true},
    {"8", "sem:3", true},
    {"4", "rlock", false},
};

START_TEST(runs_of_small_inputs)
{
	const size_t n = 700;
	const char stdin_text[] = "from standard input\n";
	char *dir = tu_enter_scratch();
	struct hu_result r;
	struct hu_opts o = {.stdin_data = stdin_text,
	                    .stdin_len = sizeof(stdin_text) - 1};
	char **argv = calloc(n + 16, sizeof(char *));
	char **names = calloc(n, sizeof(char *));
	char *want = NULL, *errs = NULL;
	size_t want_len = 0, errs_len = 0, n_errs = 0, k = 0;
	FILE *w = open_memstream(&want, &want_len);
	FILE *e = open_memstream(&errs, &errs_len);

	ck_assert_ptr_nonnull(argv);
	ck_assert_ptr_nonnull(names);
	ck_assert_int_eq(mkdir("r", 0755), 0);
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_gt(asprintf(&names[i], "r/%04zu", i), 0);
		if (i == 400) {
			free(names[i]);
			names[i] = strdup("-");
			fputs(stdin_text, w);
		} else if (i % 97 == 5) {
			/* Missing: reported, and the run goes on around it. */
			fprintf(e, "pmerge: %s: No such file or directory\n",
			        names[i]);
			n_errs++;
		} else if (i == 250) {
			ck_assert_int_eq(mkdir(names[i], 0755), 0);
			fprintf(e, "pmerge: %s: Is a directory\n", names[i]);
			n_errs++;
		} else if (i == 300 || i == 301) {
			/* Larger than any buffer: copied on its own. */
			size_t len = (3u << 20) / 2;
			hu_make(names[i], len, i, false);
			size_t got;
			char *d = tu_read_file(names[i], &got);
			fwrite(d, 1, got, w);
			free(d);
		} else {
			char text[40];
			int len =
			    snprintf(text, sizeof(text), "input %zu\n", i);
			if (i % 7 == 3)
				len = 0;
			tu_write_file(names[i], text, (size_t)len);
			fwrite(text, 1, (size_t)len, w);
		}
	}
	ck_assert_int_eq(fclose(w), 0);
	ck_assert_int_eq(fclose(e), 0);
	argv[k++] = (char *)hu_pmerge();
	argv[k++] = "-j";
	argv[k++] = (char *)runs_cases[_i].jobs;
	argv[k++] = "-l";
	argv[k++] = (char *)runs_cases[_i].lock;
	if (runs_cases[_i].to_file) {
		argv[k++] = "-o";
		argv[k++] = "out";
	}
	for (size_t i = 0; i < n; i++)
		argv[k++] = names[i];
	o.argv = argv;
	hu_run(&r, &o);
	hu_expect_exit(&r, 1);
	if (runs_cases[_i].to_file) {
		/* Failed inputs make -o all or nothing: out is not made. */
		ck_assert_uint_eq(r.out_len, 0);
		ck_assert(!tu_exists("out"));
	} else {
		tu_expect_bytes("standard output", r.out, r.out_len, want,
		                want_len);
	}
	/* Every failure reported once, in any order. */
	size_t lines = 0;
	for (size_t i = 0; i < r.err_len; i++)
		lines += r.err[i] == '\n';
	ck_assert_uint_eq(lines, n_errs);
	for (char *line = errs; *line;) {
		char *end = strchr(line, '\n');
		*end = '\0';
		ck_assert_msg(strstr(r.err, line), "missing message: %s", line);
		line = end + 1;
	}
	hu_result_free(&r);

	if (runs_cases[_i].to_file) {
		/* Without the failures, -o gets every byte in order. */
		size_t m = k - n;
		for (size_t i = 0; i < n; i++)
			if (!(i % 97 == 5 || i == 250))
				argv[m++] = names[i];
		argv[m] = NULL;
		hu_run(&r, &o);
		hu_expect_exit(&r, 0);
		tu_expect_err(&r, "");
		tu_expect_file("out", want, want_len);
		hu_expect_no_temp(".");
		hu_result_free(&r);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(errs);
	free(want);
	free(argv);
	tu_leave_scratch(dir);
}
END_TEST

/* 100,000 inputs through --files0-from under a limit of 64 descriptors. */
START_TEST(huge_input_count)
{
	const size_t n = 100000;
	char *dir = tu_enter_scratch();
	struct hu_result r;
	struct hu_opts o = {.nofile = 64};
	char *want, **names, *list = NULL;
	size_t want_len, list_len = 0;

	names = make_many(n, &want, &want_len);
	FILE *f = open_memstream(&list, &list_len);
	for (size_t i = 0; i < n; i++)
		fwrite(names[i], 1, strlen(names[i]) + 1, f);
	ck_assert_int_eq(fclose(f), 0);
	tu_write_file("list", list, list_len);
	pm(&r, &o, "--files0-from=list", "-o", "out", NULL);
	hu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_file("out", want, want_len);
	hu_result_free(&r);

	/* And to a pipe, with stdin naming the files. */
	o.stdin_path = "list";
	pm(&r, &o, "--files0-from=-", "-j", "8", NULL);
	hu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_bytes("standard output", r.out, r.out_len, want, want_len);
	hu_result_free(&r);
	free(list);
	free(want);
	free_many(names, n);
	tu_leave_scratch(dir);
}
END_TEST

/* Past 4 GiB by more than a page, so that the marks stay apart. */
#define BIG_SIZE ((4ull << 30) + 65541)

/* A sparse input over 4 GiB with marks at the ends and across 4 GiB. */
static void make_huge(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)BIG_SIZE), 0);
	ck_assert_int_eq(pwrite(fd, "head", 4, 0), 4);
	ck_assert_int_eq(pwrite(fd, "ACROSS", 6, (off_t)(4ull << 30) - 3), 6);
	ck_assert_int_eq(pwrite(fd, "tail", 4, (off_t)BIG_SIZE - 4), 4);
	ck_assert_int_eq(close(fd), 0);
}

static void expect_at(int fd, uint64_t off, const char *want)
{
	char got[16] = {0};
	size_t n = strlen(want);

	ck_assert_int_eq(pread(fd, got, n, (off_t)off), (ssize_t)n);
	ck_assert_msg(memcmp(got, want, n) == 0, "at offset %ju: \"%.*s\"",
	              (uintmax_t)off, (int)n, got);
}

START_TEST(input_over_4gib_to_file)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;
	struct hu_opts o = {.timeout = 600};
	struct stat st;

	make_huge("huge");
	tu_write_file("small", "x\n", 2);
	pm(&r, &o, "-o", "out", "small", "huge", "small", NULL);
	hu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	ck_assert_int_eq(stat("out", &st), 0);
	ck_assert_uint_eq((uint64_t)st.st_size, BIG_SIZE + 4);
	int fd = open("out", O_RDONLY);
	ck_assert_int_ge(fd, 0);
	expect_at(fd, 0, "x\nhead");
	expect_at(fd, 2 + (4ull << 30) - 3, "ACROSS");
	expect_at(fd, 2 + BIG_SIZE - 4,
	          "tail"
	          "x\n");
	close(fd);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(input_over_4gib_to_pipe)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;
	struct hu_opts o = {.timeout = 600, .count_stdout = true};

	make_huge("huge");
	pm(&r, &o, "huge", NULL);
	hu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	ck_assert_uint_eq(r.out_count, BIG_SIZE);
	ck_assert_uint_eq(r.tail_len, HU_TAIL);
	ck_assert_int_eq(memcmp(r.tail + HU_TAIL - 4, "tail", 4), 0);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

/* ------------------------------------------------------------ the perm */

/* -o in a directory pmerge may not write: reported, the file untouched. */
START_TEST(output_readonly_directory)
{
	char *dir = tu_enter_scratch();
	struct hu_result r;
	struct hu_snap s;
	struct hu_opts o = {.uid = geteuid() == 0 ? NOBODY : 0};

	make_ac();
	ck_assert_int_eq(mkdir("ro", 0755), 0);
	tu_write_file("ro/out", OLD, strlen(OLD));
	/* Writable itself: only the directory stands in the way. */
	ck_assert_int_eq(chmod("ro/out", 0666), 0);
	ck_assert_int_eq(chmod("ro", 0555), 0);
	hu_snap_take(&s, "ro/out");
	pm(&r, &o, "-o", "ro/out", "a", "c", NULL);
	hu_expect_exit(&r, 1);
	tu_expect_err(&r, "pmerge: ro/out: Permission denied\n");
	hu_snap_expect(&s, "ro/out");
	hu_expect_no_temp("ro");
	ck_assert_uint_eq(tu_count_entries("ro"), 1);
	hu_result_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

static Suite *edge_suite(const char *group)
{
	Suite *s = suite_create("edge");
	TCase *tc = tcase_create(group);

	if (strcmp(group, "main") == 0) {
		tcase_add_test(tc, empty_name);
		tcase_add_test(tc, dangling_symlink);
		tcase_add_loop_test(tc, symlink_loop, 0, 2);
		tcase_add_test(tc, directory_input);
		tcase_add_test(tc, same_input_twice);
		tcase_add_loop_test(tc, growing_input, 0, 2);
		tcase_add_loop_test(tc, output_is_directory, 0, 2);
		tcase_add_loop_test(tc, output_in_missing_directory, 0, 2);
		tcase_add_loop_test(tc, output_symlink, 0, 2);
		tcase_add_test(tc, output_replace_keeps_old_file);
		tcase_add_test(tc, output_odd_symlinks);
		tcase_add_test(tc, output_empty_name);
		tcase_add_test(tc, output_dev_null);
		tcase_add_test(tc, output_fifo);
		tcase_add_test(tc, disk_full);
		tcase_add_test(tc, dev_full);
		tcase_add_test(tc, stdin_closed);
		tcase_add_test(tc, stdout_closed);
		tcase_add_loop_test(tc, fifo_no_writer_signal, 0, 6);
		tcase_add_loop_test(tc, many_inputs_low_fd_limit, 0, 2);
		tcase_add_loop_test(
		    tc, runs_of_small_inputs, 0,
		    (int)(sizeof(runs_cases) / sizeof(runs_cases[0])));
	} else if (strcmp(group, "perm") == 0) {
		tcase_add_test(tc, output_readonly_directory);
	} else if (strcmp(group, "slow") == 0) {
		tcase_set_timeout(tc, 1200);
		tcase_add_test(tc, huge_input_count);
		tcase_add_test(tc, input_over_4gib_to_file);
		tcase_add_test(tc, input_over_4gib_to_pipe);
	} else {
		return NULL;
	}
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	const char *group = argc > 1 ? argv[1] : "main";
	Suite *s = edge_suite(group);
	SRunner *sr;
	int failed;

	hu_init();
	if (!s) {
		fprintf(stderr, "test_edge: unknown group '%s'\n", group);
		return 2;
	}
	if (strcmp(group, "perm") == 0 && !hu_can_run_as(NOBODY, "test_edge")) {
		fprintf(stderr,
		        "test_edge: perm: no unprivileged user to run as: "
		        "skipped\n");
		return 77;
	}
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
