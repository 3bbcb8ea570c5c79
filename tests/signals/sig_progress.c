/*
 * What pmerge says on standard error when it is not a terminal: nothing by
 * default, one plain line a second with --progress=always, nothing at all
 * with -q; a status line on SIGUSR1 (the merge goes on); a one-line
 * summary with -v.
 */
#include "sigutil.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A byte count as pmerge may print it: "100 KiB", "7.81 KiB", "800 B". */
#define BYTES_ERE "[0-9] ?(B|[KMGT]i?B|bytes)([^A-Za-z]|$)"

/* Standard error goes to a file beside the scratch data. */
static int open_err_file(void)
{
	int fd =
	    open("err.txt", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	ck_assert_int_ge(fd, 0);
	return fd;
}

/* The whole of err.txt, NUL-terminated. */
static char *err_text(size_t *len)
{
	char *s = tu_read_file("err.txt", len);

	ck_assert_ptr_nonnull(s);
	return s;
}

/*
 * Runs "pmerge ARGS... -o out in.fifo" with standard error to err.txt while
 * the test feeds in.fifo len bytes in chunk-sized pieces, one per period,
 * which makes the merge last about len / chunk * period seconds.  Checks
 * that it succeeded with the whole input in out.
 */
static void run_fed(char *const args[], size_t len, size_t chunk, double period,
                    struct sg_outcome *o)
{
	struct sg_spawn sp = SG_SPAWN_INIT;
	char *data = sg_text(len, 3), *argv[16];
	struct sg_pace pace = {
	    .data = data,
	    .len = len,
	    .chunk = chunk,
	    .period = period,
	};
	size_t n = 0;
	double t0;
	pid_t pid;

	while (args[n]) {
		ck_assert_uint_lt(n, 12);
		argv[n] = args[n];
		n++;
	}
	argv[n++] = "-o";
	argv[n++] = "out";
	argv[n++] = "in.fifo";
	argv[n] = NULL;
	sg_mkfifo("in.fifo");
	pace.fd = open("in.fifo", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	ck_assert_int_ge(pace.fd, 0);
	sp.err_fd = open_err_file();
	t0 = tu_now_s();
	pid = sg_start(&sp, argv);
	close(sp.err_fd);
	sg_drive(pid, t0, -1, &pace, o);
	ck_assert_msg(WIFEXITED(o->status) && WEXITSTATUS(o->status) == 0, "%s",
	              sg_describe(o->status));
	ck_assert_uint_eq(pace.done, len);
	tu_expect_file("out", data, len);
	free(data);
}

START_TEST(auto_to_file_is_silent)
{
	char *dir = tu_enter_scratch();
	struct sg_outcome o;
	size_t len;
	char *err;

	/* Longer than one log interval: a log line would have been due. */
	run_fed((char *[]){NULL}, 13 * 1024, 1024, 0.1, &o);
	ck_assert_msg(o.wall > 1.2, "the merge lasted only %.3f s", o.wall);
	err = err_text(&len);
	ck_assert_msg(len == 0, "stderr is not empty: \"%s\"", err);
	free(err);
	sg_outcome_free(&o);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(always_to_file_logs_lines)
{
	char *dir = tu_enter_scratch();
	struct sg_outcome o;
	size_t len, lines = 0;
	char *err, *line, *save = NULL;

	run_fed((char *[]){"--progress=always", NULL}, 20 * 1024, 1024, 0.1,
	        &o);
	ck_assert_msg(o.wall > 1.5, "the merge lasted only %.3f s", o.wall);
	err = err_text(&len);
	ck_assert_msg(len > 0 && err[len - 1] == '\n',
	              "stderr does not end in a whole line: \"%s\"", err);
	ck_assert_msg(!strchr(err, '\r') && !strchr(err, '\033'),
	              "terminal controls in a log: \"%s\"", err);
	ck_assert_uint_eq(strlen(err), len);
	for (line = strtok_r(err, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		ck_assert_msg(strncmp(line, "pmerge: ", 8) == 0,
		              "line without \"pmerge: \": \"%s\"", line);
		lines++;
	}
	ck_assert_msg(lines >= 1, "no progress line in %.3f s", o.wall);
	/* One a second, plus the final one; two more for timer slack. */
	ck_assert_msg((double)lines <= o.wall + 2,
	              "%zu lines in %.3f s: more than one a second", lines,
	              o.wall);
	free(err);
	sg_outcome_free(&o);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(quiet_says_nothing)
{
	char *dir = tu_enter_scratch();
	struct sg_outcome o;
	size_t len;
	char *err;

	/* -q wins over an explicit --progress=always. */
	run_fed((char *[]){"-q", "--progress=always", NULL}, 13 * 1024, 1024,
	        0.1, &o);
	ck_assert_msg(o.wall > 1.2, "the merge lasted only %.3f s", o.wall);
	err = err_text(&len);
	ck_assert_msg(len == 0, "stderr is not empty: \"%s\"", err);
	free(err);
	sg_outcome_free(&o);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(sigusr1_prints_status)
{
	char *dir = tu_enter_scratch();
	struct sg_spawn sp = SG_SPAWN_INIT;
	size_t a_len = 100 * 1024, len, part = 3000;
	char *a = sg_random(a_len, 4), *more = sg_text(2 * part, 5), *err,
	     *want;
	int hold, status;
	pid_t pid;

	tu_write_file("a.bin", a, a_len);
	sg_mkfifo("in.fifo");
	hold = open("in.fifo", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	ck_assert_int_ge(hold, 0);
	sg_write_all(hold, more, part);
	sp.err_fd = open_err_file();
	pid = sg_start(&sp, (char *[]){"-o", "out", "a.bin", "in.fifo", NULL});
	close(sp.err_fd);
	/* Its default action would end the process: wait for the handler. */
	ck_assert(sg_wait_caught(pid, SIGUSR1, 10.0));
	ck_assert(sg_wait_drained(hold, 10.0));
	ck_assert_int_eq(kill(pid, SIGUSR1), 0);
	for (double end = tu_now_s() + 10.0;;) {
		err = err_text(&len);
		if (len > 0 && err[len - 1] == '\n')
			break;
		free(err);
		ck_assert_msg(tu_now_s() < end, "no status line after SIGUSR1");
		tu_sleep_s(0.005);
	}
	ck_assert_msg(sg_alive(pid), "pmerge ended on SIGUSR1");
	sg_write_all(hold, more + part, part);
	close(hold);
	ck_assert_msg(sg_wait(pid, 30.0, &status), "pmerge hangs");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s",
	              sg_describe(status));
	want = malloc(a_len + 2 * part);
	ck_assert_ptr_nonnull(want);
	memcpy(want, a, a_len);
	memcpy(want + a_len, more, 2 * part);
	tu_expect_file("out", want, a_len + 2 * part);
	free(err);
	/* Read again: nothing more may have come after the status line. */
	err = err_text(&len);
	ck_assert_msg(strchr(err, '\n') == err + len - 1,
	              "stderr is not one line: \"%s\"", err);
	ck_assert_msg(strncmp(err, "pmerge: ", 8) == 0 &&
	                  sg_matches(err, "input") &&
	                  sg_matches(err, BYTES_ERE),
	              "status line without inputs and bytes: \"%s\"", err);
	free(err);
	free(want);
	free(more);
	free(a);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(verbose_summary)
{
	char *dir = tu_enter_scratch();
	struct sg_spawn sp = SG_SPAWN_INIT;
	size_t a_len = 3000, b_len = 5000, len;
	char *a = sg_random(a_len, 6), *b = sg_random(b_len, 7), *err, *want;
	int status;
	pid_t pid;

	tu_write_file("a.bin", a, a_len);
	tu_write_file("b.bin", b, b_len);
	sp.err_fd = open_err_file();
	pid = sg_start(&sp,
	               (char *[]){"-v", "-o", "out", "a.bin", "b.bin", NULL});
	close(sp.err_fd);
	ck_assert_msg(sg_wait(pid, 30.0, &status), "pmerge hangs");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s",
	              sg_describe(status));
	want = malloc(a_len + b_len);
	ck_assert_ptr_nonnull(want);
	memcpy(want, a, a_len);
	memcpy(want + a_len, b, b_len);
	tu_expect_file("out", want, a_len + b_len);
	err = err_text(&len);
	ck_assert_msg(len > 0 && strchr(err, '\n') == err + len - 1,
	              "stderr is not one line: \"%s\"", err);
	ck_assert_msg(strncmp(err, "pmerge: ", 8) == 0,
	              "no \"pmerge: \": \"%s\"", err);
	ck_assert_msg(sg_matches(err, BYTES_ERE), "no byte count: \"%s\"", err);
	/* A time ("0.003 s"), then a rate ("7.81 MiB/s"). */
	ck_assert_msg(sg_matches(err, "[0-9] ?s([^A-Za-z/]|$)"),
	              "no time: \"%s\"", err);
	ck_assert_msg(sg_matches(err, "[0-9] ?([KMGT]i?)?B/s"),
	              "no rate: \"%s\"", err);
	ck_assert_msg(sg_matches(err, "lock wait"), "no lock wait: \"%s\"",
	              err);
	free(err);
	free(want);
	free(a);
	free(b);
	tu_leave_scratch(dir);
}
END_TEST

TCase *sg_tcase_log(void)
{
	TCase *tc = tcase_create("log");

	tcase_add_test(tc, auto_to_file_is_silent);
	tcase_add_test(tc, always_to_file_logs_lines);
	tcase_add_test(tc, quiet_says_nothing);
	return tc;
}

TCase *sg_tcase_info(void)
{
	TCase *tc = tcase_create("info");

	tcase_add_test(tc, sigusr1_prints_status);
	tcase_add_test(tc, verbose_summary);
	return tc;
}
