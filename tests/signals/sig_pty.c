/*
 * The live progress line, with pmerge's standard error on a pseudo-terminal:
 * redrawn in place at most ten times a second, with a percentage when every
 * input is a regular file and bytes and a rate otherwise, cleared when the
 * merge ends; and not shown at all with -q or --progress=never.
 */
#include "sigutil.h"

#include <ctype.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <fcntl.h>
#include <pty.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define PTY_COLS 100

/* Redraws allowed per second of the run (10, plus slack for the timer). */
#define MAX_REDRAWS_PER_S 12

/*
 * A pseudo-terminal in raw mode, so that what pmerge writes arrives
 * unchanged (no "\n" turned into "\r\n" to confuse the count of redraws).
 */
static void open_pty(int *master, int *slave)
{
	struct winsize ws = {.ws_row = 24, .ws_col = PTY_COLS};
	struct termios t;

	ck_assert_int_eq(openpty(master, slave, NULL, NULL, &ws), 0);
	ck_assert_int_eq(tcgetattr(*slave, &t), 0);
	cfmakeraw(&t);
	ck_assert_int_eq(tcsetattr(*slave, TCSANOW, &t), 0);
	ck_assert_int_eq(fcntl(*master, F_SETFD, FD_CLOEXEC), 0);
	ck_assert_int_eq(fcntl(*slave, F_SETFD, FD_CLOEXEC), 0);
}

/* Runs "pmerge ARGS..." with standard error on a pseudo-terminal. */
static void run_on_pty(char *const args[], struct sg_pace *pace,
                       struct sg_outcome *o)
{
	struct sg_spawn sp = SG_SPAWN_INIT;
	int master, slave;
	double t0;
	pid_t pid;

	open_pty(&master, &slave);
	sp.err_fd = slave;
	t0 = tu_now_s();
	pid = sg_start(&sp, args);
	/* The child's copy is the last: its end shows as EIO on master. */
	close(slave);
	sg_drive(pid, t0, master, pace, o);
	close(master);
	ck_assert_msg(WIFEXITED(o->status) && WEXITSTATUS(o->status) == 0,
	              "%s; on the terminal: \"%s\"", sg_describe(o->status),
	              o->tty);
}

/* The texts of the redraws in what went to the terminal. */
struct redraws {
	char **text;
	size_t n;
};

/*
 * Splits the terminal output at each "\r" and checks its shape: every
 * piece is a redraw (printable text, then optionally "\033[K" to erase
 * what a longer line left) or a bare "\033[K" (a clear), and the last
 * piece is a clear: nothing of the line is left on the screen.
 */
static void parse_redraws(const struct sg_outcome *o, struct redraws *rd)
{
	const char *p = o->tty, *end = o->tty + o->tty_len;

	memset(rd, 0, sizeof(*rd));
	ck_assert_msg(o->tty_len > 0, "nothing on the terminal in %.3f s",
	              o->wall);
	ck_assert_msg(!memchr(o->tty, '\n', o->tty_len),
	              "a newline on the terminal of a quiet success: \"%s\"",
	              o->tty);
	ck_assert_msg(o->tty[0] == '\r', "the line does not start with \\r");
	while (p < end) {
		const char *next = memchr(p + 1, '\r', (size_t)(end - p - 1));
		const char *stop = next ? next : end;
		size_t len = (size_t)(stop - p - 1);

		if (len >= 3 && memcmp(stop - 3, "\033[K", 3) == 0)
			len -= 3;
		for (size_t i = 0; i < len; i++)
			ck_assert_msg(isprint((unsigned char)p[1 + i]),
			              "byte %#x inside the progress line",
			              (unsigned char)p[1 + i]);
		if (len > 0) {
			rd->text =
			    realloc(rd->text, (rd->n + 1) * sizeof(*rd->text));
			ck_assert_ptr_nonnull(rd->text);
			rd->text[rd->n] = strndup(p + 1, len);
			ck_assert_ptr_nonnull(rd->text[rd->n]);
			/* Wrapping would break the redraw in place. */
			ck_assert_msg(len < PTY_COLS,
			              "a %zu-column line on a %d-column "
			              "terminal",
			              len, PTY_COLS);
			rd->n++;
		}
		p = stop;
	}
	ck_assert_msg(o->tty_len >= 4 && memcmp(end - 4, "\r\033[K", 4) == 0,
	              "the progress line was not cleared at the end: \"%s\"",
	              rd->n ? rd->text[rd->n - 1] : "");
	ck_assert_msg(rd->n >= 3, "%zu redraws in %.3f s: no live line", rd->n,
	              o->wall);
	ck_assert_msg((double)rd->n <= MAX_REDRAWS_PER_S * o->wall + 2,
	              "%zu redraws in %.3f s: more than 10 a second", rd->n,
	              o->wall);
}

static void free_redraws(struct redraws *rd)
{
	for (size_t i = 0; i < rd->n; i++)
		free(rd->text[i]);
	free(rd->text);
}

/*
 * The share of the merge done, as the line shows it ("42%"), or -1.  The
 * lock wait share ("lock wait 3%") is a percentage too, but not that one.
 */
static double completion(const char *text)
{
	static const char lw[] = "lock wait ";
	const size_t lw_len = sizeof(lw) - 1;

	for (const char *pc = strchr(text, '%'); pc; pc = strchr(pc + 1, '%')) {
		const char *d = pc;

		while (d > text &&
		       (isdigit((unsigned char)d[-1]) || d[-1] == '.'))
			d--;
		if (d == pc)
			continue;
		if ((size_t)(d - text) >= lw_len &&
		    memcmp(d - lw_len, lw, lw_len) == 0)
			continue;
		return strtod(d, NULL);
	}
	return -1;
}

START_TEST(percentage_for_regular_inputs)
{
	char *dir = tu_enter_scratch();
	size_t len = 2 * 1024 * 1024;
	char *a = sg_random(len, 8), *b = sg_random(len, 9);
	struct sg_pace pace = {.reading = true};
	struct sg_outcome o;
	struct redraws rd;
	double first, last = 0;

	tu_write_file("a.bin", a, len);
	tu_write_file("b.bin", b, len);
	/*
	 * A non-regular -o is written directly; draining it at ~2.7 MB/s
	 * makes the merge of 4 MiB last about 1.5 s.
	 */
	sg_mkfifo("out.fifo");
	pace.fd = open("out.fifo", O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	ck_assert_int_ge(pace.fd, 0);
	pace.chunk = 32 * 1024;
	pace.period = 0.012;
	run_on_pty((char *[]){"-o", "out.fifo", "a.bin", "b.bin", NULL}, &pace,
	           &o);
	ck_assert_uint_eq(pace.got_len, 2 * len);
	ck_assert(memcmp(pace.got, a, len) == 0);
	ck_assert(memcmp(pace.got + len, b, len) == 0);
	parse_redraws(&o, &rd);
	first = completion(rd.text[0]);
	for (size_t i = 0; i < rd.n; i++) {
		double pct = completion(rd.text[i]);

		ck_assert_msg(pct >= 0 && pct <= 100,
		              "redraw %zu has no percentage: \"%s\"", i,
		              rd.text[i]);
		ck_assert_msg(pct >= last, "the percentage went back: \"%s\"",
		              rd.text[i]);
		last = pct;
	}
	ck_assert_msg(last > first, "the percentage stayed at %.0f%%", first);
	free_redraws(&rd);
	sg_outcome_free(&o);
	free(pace.got);
	free(a);
	free(b);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(bytes_and_rate_for_a_stream)
{
	char *dir = tu_enter_scratch();
	size_t len = 50 * 1024;
	char *data = sg_text(len, 10);
	struct sg_pace pace = {.data = data, .len = len};
	struct sg_outcome o;
	struct redraws rd;
	bool counted = false;

	/*
	 * Line unit: records are appended as they arrive, so the count of
	 * bytes moves while the FIFO is fed over about 1.25 s.
	 */
	sg_mkfifo("in.fifo");
	pace.fd = open("in.fifo", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	ck_assert_int_ge(pace.fd, 0);
	pace.chunk = 2048;
	pace.period = 0.05;
	run_on_pty((char *[]){"-u", "line", "-o", "out", "in.fifo", NULL},
	           &pace, &o);
	tu_expect_file("out", data, len);
	parse_redraws(&o, &rd);
	for (size_t i = 0; i < rd.n; i++) {
		ck_assert_msg(completion(rd.text[i]) < 0,
		              "a percentage of an unknown total: \"%s\"",
		              rd.text[i]);
		ck_assert_msg(strstr(rd.text[i], "/s"), "no rate: \"%s\"",
		              rd.text[i]);
		/* Some byte count other than zero, and not the rate. */
		counted |= sg_matches(rd.text[i], "(^|[^0-9.])[1-9][0-9.]* "
		                                  "?([KMGT]i?)?B([^/]|$)");
	}
	ck_assert_msg(counted, "no redraw shows the bytes merged: \"%s\"",
	              rd.text[rd.n - 1]);
	free_redraws(&rd);
	sg_outcome_free(&o);
	free(data);
	tu_leave_scratch(dir);
}
END_TEST

/* Each turns the line off, even on a terminal; _i picks one. */
static const char *const no_line_options[] = {"-q", "--progress=never"};

START_TEST(no_line_when_asked)
{
	char *dir = tu_enter_scratch();
	size_t len = 12 * 1024;
	char *data = sg_text(len, 11);
	struct sg_pace pace = {.data = data, .len = len};
	struct sg_outcome o;

	sg_mkfifo("in.fifo");
	pace.fd = open("in.fifo", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	ck_assert_int_ge(pace.fd, 0);
	pace.chunk = 1024;
	pace.period = 0.05;
	run_on_pty((char *[]){(char *)no_line_options[_i], "-u", "line", "-o",
	                      "out", "in.fifo", NULL},
	           &pace, &o);
	tu_expect_file("out", data, len);
	/* Several redraw intervals long: a line would have been due. */
	ck_assert_msg(o.wall > 0.5, "the merge lasted only %.3f s", o.wall);
	ck_assert_msg(o.tty_len == 0, "%s: the terminal got \"%s\"",
	              no_line_options[_i], o.tty);
	sg_outcome_free(&o);
	free(data);
	tu_leave_scratch(dir);
}
END_TEST

/* Narrows the terminal half a second into the run, as a user would. */
struct resize {
	int master;
	pid_t pid;
	double at; /* when it happened, on tu_now_s()'s clock */
};

#define NARROW_COLS 50

static void *narrow_later(void *arg)
{
	struct resize *rs = arg;
	struct winsize ws = {.ws_row = 24, .ws_col = NARROW_COLS};

	usleep(500 * 1000);
	ck_assert_int_eq(ioctl(rs->master, TIOCSWINSZ, &ws), 0);
	/* pmerge's session has no controlling terminal: tell it ourselves,
	 * as the kernel would tell a foreground job. */
	rs->at = tu_now_s();
	kill(rs->pid, SIGWINCH);
	return NULL;
}

/*
 * The line follows the terminal's width: drawn for 100 columns (with a
 * bar) before SIGWINCH, and never wider than 50 columns after it.
 */
START_TEST(width_follows_sigwinch)
{
	char *dir = tu_enter_scratch();
	size_t len = 2 * 1024 * 1024;
	char *a = sg_random(len, 10), *b = sg_random(len, 11);
	struct sg_pace pace = {.reading = true};
	struct sg_spawn sp = SG_SPAWN_INIT;
	struct sg_outcome o;
	struct redraws rd;
	struct resize rs;
	pthread_t th;
	int master, slave;
	double t0;
	size_t widest = 0;

	tu_write_file("a.bin", a, len);
	tu_write_file("b.bin", b, len);
	sg_mkfifo("out.fifo");
	pace.fd = open("out.fifo", O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	ck_assert_int_ge(pace.fd, 0);
	pace.chunk = 32 * 1024;
	pace.period = 0.012;
	open_pty(&master, &slave);
	sp.err_fd = slave;
	t0 = tu_now_s();
	rs.master = master;
	rs.pid =
	    sg_start(&sp, (char *[]){"-o", "out.fifo", "a.bin", "b.bin", NULL});
	close(slave);
	ck_assert_int_eq(pthread_create(&th, NULL, narrow_later, &rs), 0);
	sg_drive(rs.pid, t0, master, &pace, &o);
	pthread_join(th, NULL);
	close(master);
	ck_assert_msg(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0, "%s",
	              sg_describe(o.status));
	ck_assert_uint_eq(pace.got_len, 2 * len);
	parse_redraws(&o, &rd);
	for (size_t i = 0; i < rd.n; i++)
		if (strlen(rd.text[i]) > widest)
			widest = strlen(rd.text[i]);
	ck_assert_msg(widest > NARROW_COLS,
	              "no redraw used the first width: widest %zu columns",
	              widest);
	/* The last redraws come well after the resize (the merge lasts
	 * about 1.5 s); the final one must fit the new width. */
	ck_assert_msg(o.wall > 0.8,
	              "the merge ended %.3f s in: too soon to "
	              "see the resize",
	              o.wall);
	ck_assert_msg(strlen(rd.text[rd.n - 1]) < NARROW_COLS,
	              "after SIGWINCH to %d columns: a %zu-column line \"%s\"",
	              NARROW_COLS, strlen(rd.text[rd.n - 1]),
	              rd.text[rd.n - 1]);
	free_redraws(&rd);
	sg_outcome_free(&o);
	free(pace.got);
	free(a);
	free(b);
	tu_leave_scratch(dir);
}
END_TEST

TCase *sg_tcase_pty(void)
{
	TCase *tc = tcase_create("pty");

	tcase_add_test(tc, percentage_for_regular_inputs);
	tcase_add_test(tc, bytes_and_rate_for_a_stream);
	tcase_add_test(tc, width_follows_sigwinch);
	tcase_add_loop_test(
	    tc, no_line_when_asked, 0,
	    (int)(sizeof(no_line_options) / sizeof(no_line_options[0])));
	return tc;
}
