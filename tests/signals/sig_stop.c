/*
 * SIGINT, SIGTERM and SIGHUP: pmerge stops promptly even while a worker
 * waits on an input that never ends, leaves the -o file exactly as it was
 * with no temporary file beside it, and ends by the signal itself so that
 * the shell sees 128+N.  A signal ignored at start stays ignored.
 */
#include "sigutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The bound, from the signal to the end of the process. */
#define STOP_WITHIN 1.0

/* Startup steps get far more: only a broken pmerge comes near this. */
#define READY_WITHIN 10.0

static const char old_out[] = "the output as it was before\n";

static const int stop_sigs[] = {SIGINT, SIGTERM, SIGHUP};
#define N_STOP_SIGS (sizeof(stop_sigs) / sizeof(stop_sigs[0]))

/* What keeps the merge from ending. */
enum feed {
	FEED_FIFO_HELD,      /* a FIFO whose writer (the test) stays open */
	FEED_FIFO_NO_WRITER, /* a FIFO nobody ever opens for writing */
	FEED_STDIN_PIPE,     /* "-", standard input a pipe that stays open */
	N_FEEDS,
};

static const char *const feed_names[] = {
    "FIFO with a silent writer", "FIFO with no writer", "standard input pipe"};

/* A regular input merged before the endless one: the temp file has data. */
static char *write_first_input(size_t *len)
{
	char *a = sg_random(*len = 100 * 1024 + 7, 1);

	tu_write_file("a.bin", a, *len);
	return a;
}

/*
 * Starts "pmerge -o out a.bin ENDLESS" and returns once it is merging:
 * sig has its handler, the endless input is open (and, when the test
 * writes to it, what was written has been read), and the temporary
 * output exists.  *hold is the test's end of the endless input, or -1.
 */
static pid_t start_endless(enum feed feed, int sig, const char *dir,
                           size_t entries, int *hold)
{
	struct sg_spawn sp = SG_SPAWN_INIT;
	int p[2] = {-1, -1};
	pid_t pid;

	*hold = -1;
	if (feed == FEED_STDIN_PIPE) {
		ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
		sp.in_fd = p[0];
		*hold = p[1];
	} else {
		sg_mkfifo("in.fifo");
		entries++;
	}
	if (feed == FEED_FIFO_HELD) {
		/* Read-write: never blocks, and holds a writer reference. */
		*hold = open("in.fifo", O_RDWR | O_CLOEXEC | O_NONBLOCK);
		ck_assert_int_ge(*hold, 0);
	}
	/* A partial record: pmerge must still wait for more. */
	if (*hold >= 0)
		sg_write_all(*hold, "no end yet", 10);
	pid = sg_start(
	    &sp, (char *[]){"-o", "out", "a.bin",
	                    feed == FEED_STDIN_PIPE ? "-" : "in.fifo", NULL});
	if (p[0] >= 0)
		close(p[0]);
	ck_assert_msg(sg_wait_caught(pid, sig, READY_WITHIN),
	              "pmerge never installed a handler for signal %d", sig);
	if (*hold >= 0)
		ck_assert_msg(sg_wait_drained(*hold, READY_WITHIN),
		              "pmerge never read its endless input");
	else
		ck_assert_msg(sg_wait_open(pid, "in.fifo", true, READY_WITHIN),
		              "pmerge never opened the FIFO");
	/* Name-blind: an unnamed file open, or one more entry. */
	ck_assert_msg(sg_wait_temp(pid, dir, entries + 1, READY_WITHIN),
	              "no temporary output appeared (%zu entries, want %zu)",
	              tu_count_entries(dir), entries + 1);
	return pid;
}

/* Sends sig and returns the seconds until pid ended; checks how. */
static double stop_by(pid_t pid, int sig)
{
	int status;
	double t = tu_now_s(), took;

	ck_assert_int_eq(kill(pid, sig), 0);
	ck_assert_msg(sg_wait(pid, SG_TIMEOUT, &status),
	              "pmerge still runs %.0f s after signal %d", SG_TIMEOUT,
	              sig);
	took = tu_now_s() - t;
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == sig,
	              "after signal %d (%s): %s, want death by that signal",
	              sig, strsignal(sig), sg_describe(status));
	return took;
}

START_TEST(stop_signal)
{
	int sig = stop_sigs[_i % N_STOP_SIGS];
	enum feed feed = (enum feed)(_i / N_STOP_SIGS);
	char *dir = tu_enter_scratch();
	struct stat before, after;
	size_t a_len, entries;
	int hold;
	char *a = write_first_input(&a_len);
	pid_t pid;
	double took;

	tu_write_file("out", old_out, strlen(old_out));
	ck_assert_int_eq(stat("out", &before), 0);
	entries = tu_count_entries(dir);
	pid = start_endless(feed, sig, dir, entries, &hold);
	if (feed != FEED_STDIN_PIPE)
		entries++;
	took = stop_by(pid, sig);
	ck_assert_msg(took <= STOP_WITHIN,
	              "%s, %s: ended %.3f s after the signal, want <= %.1f s",
	              strsignal(sig), feed_names[feed], took, STOP_WITHIN);
	tu_expect_file("out", old_out, strlen(old_out));
	ck_assert_int_eq(stat("out", &after), 0);
	ck_assert_msg(after.st_ino == before.st_ino &&
	                  after.st_dev == before.st_dev,
	              "out was replaced by another file");
	ck_assert_msg(tu_count_entries(dir) == entries,
	              "%zu directory entries after the signal, want %zu: a "
	              "temporary file was left",
	              tu_count_entries(dir), entries);
	if (hold >= 0)
		close(hold);
	free(a);
	tu_leave_scratch(dir);
}
END_TEST

/*
 * The handbook's stronger promise: workers blocked reading stop within
 * 200 ms, well inside the engine's grace for a stuck writer, so the
 * clean-up does not wait it out.  Timing under load varies: the best of a
 * few attempts must make it, which only a merge that never wakes its
 * readers (and leans on the grace instead) fails every time.
 */
#define PROMPT_WITHIN   0.2
#define PROMPT_ATTEMPTS 3

START_TEST(stop_wakes_blocked_readers)
{
	char *dir = tu_enter_scratch();
	double best = SG_TIMEOUT;

	for (int i = 0; i < PROMPT_ATTEMPTS && best > PROMPT_WITHIN; i++) {
		char *sub;
		size_t a_len;
		int hold;

		ck_assert_int_gt(asprintf(&sub, "%s/try%d", dir, i), 0);
		ck_assert_int_eq(mkdir(sub, 0700), 0);
		ck_assert_int_eq(chdir(sub), 0);
		free(write_first_input(&a_len));
		tu_write_file("out", old_out, strlen(old_out));
		pid_t pid = start_endless(FEED_FIFO_HELD, SIGTERM, sub,
		                          tu_count_entries(sub), &hold);
		double took = stop_by(pid, SIGTERM);

		if (took < best)
			best = took;
		close(hold);
		free(sub);
	}
	ck_assert_msg(best <= PROMPT_WITHIN,
	              "best of %d: ended %.3f s after SIGTERM, want <= %.1f s",
	              PROMPT_ATTEMPTS, best, PROMPT_WITHIN);
	tu_leave_scratch(dir);
}
END_TEST

/* nohup: SIGHUP ignored at start stays ignored, the merge completes. */
START_TEST(hup_ignored_at_start)
{
	char *dir = tu_enter_scratch();
	struct sg_spawn sp = SG_SPAWN_INIT;
	static const char more[] = " now it ends\n";
	size_t a_len, want_len;
	char *a = write_first_input(&a_len), *want;
	int hold, status;
	pid_t pid;

	sg_mkfifo("in.fifo");
	hold = open("in.fifo", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	ck_assert_int_ge(hold, 0);
	sg_write_all(hold, "no end yet", 10);
	sp.hup_ignored = true;
	pid = sg_start(&sp, (char *[]){"-o", "out", "a.bin", "in.fifo", NULL});
	/* SIGINT's handler says the loop is up, so SIGHUP's would be too. */
	ck_assert(sg_wait_caught(pid, SIGINT, READY_WITHIN));
	ck_assert(sg_wait_drained(hold, READY_WITHIN));
	ck_assert_int_eq(kill(pid, SIGHUP), 0);
	tu_sleep_s(0.3);
	ck_assert_msg(sg_alive(pid),
	              "pmerge ended on a SIGHUP that was ignored at start");
	sg_write_all(hold, more, strlen(more));
	close(hold);
	ck_assert_msg(sg_wait(pid, SG_TIMEOUT, &status), "pmerge hangs");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s",
	              sg_describe(status));
	want_len = a_len + 10 + strlen(more);
	want = malloc(want_len);
	ck_assert_ptr_nonnull(want);
	memcpy(want, a, a_len);
	memcpy(want + a_len, "no end yet", 10);
	memcpy(want + a_len + 10, more, strlen(more));
	tu_expect_file("out", want, want_len);
	free(want);
	free(a);
	tu_leave_scratch(dir);
}
END_TEST

/*
 * A worker blocked writing to an output nobody reads cannot be woken; the
 * engine gives it a grace period, then ends anyway.  The test holds the
 * read end of out.fifo open and never reads, and waits until pmerge has
 * filled the pipe, so that the worker is certainly blocked.
 */
static pid_t start_stalled(int *reader)
{
	struct sg_spawn sp = SG_SPAWN_INIT;
	/* Far more than a pipe holds, also after pmerge grows it to 1 MiB. */
	size_t len = 8 * 1024 * 1024;
	char *big = sg_random(len, 2);
	int last = -1, n;
	double still = 0;
	pid_t pid;

	tu_write_file("big.bin", big, len);
	free(big);
	sg_mkfifo("out.fifo");
	sg_mkfifo("in.fifo");
	/* Non-blocking: open before pmerge's own open of the writer end. */
	*reader = open("out.fifo", O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	ck_assert_int_ge(*reader, 0);
	/*
	 * Arrival order with two workers: one is blocked writing big.bin,
	 * the other waits on in.fifo (which nobody ever writes) and closes
	 * it when the cancellation reaches it.  That close is how the test
	 * knows the first signal has been handled.
	 */
	pid = sg_start(&sp, (char *[]){"-j2", "--order=arrival", "-o",
	                               "out.fifo", "big.bin", "in.fifo", NULL});
	ck_assert(sg_wait_caught(pid, SIGINT, READY_WITHIN));
	ck_assert(sg_wait_open(pid, "in.fifo", true, READY_WITHIN));
	/* The pipe is full once its content stops growing for 100 ms. */
	for (double end = tu_now_s() + READY_WITHIN; still < 0.1;) {
		ck_assert_msg(tu_now_s() < end, "out.fifo never filled up");
		ck_assert_int_eq(ioctl(*reader, FIONREAD, &n), 0);
		still = n > 0 && n == last ? still + 0.01 : 0;
		last = n;
		tu_sleep_s(0.01);
	}
	return pid;
}

START_TEST(stop_with_stalled_output)
{
	char *dir = tu_enter_scratch();
	int reader;
	pid_t pid = start_stalled(&reader);
	double took = stop_by(pid, SIGINT);

	ck_assert_msg(took <= STOP_WITHIN,
	              "ended %.3f s after SIGINT with a stalled output, want "
	              "<= %.1f s",
	              took, STOP_WITHIN);
	close(reader);
	tu_leave_scratch(dir);
}
END_TEST

/*
 * A second SIGINT during the clean-up ends the process at once.  The
 * clean-up is made to last by the stalled output above; the second signal
 * is sent only once the first has visibly been handled (the worker on
 * in.fifo has let go of it) and while the process still runs.  Ending
 * sooner than the clean-up could have (WAIT_SHORTER_THAN after the first
 * signal, less than the engine's 500 ms grace) proves the second signal
 * did it.  Under heavy load an attempt may miss that window without
 * proving anything either way; it is then tried again.
 */
#define WAIT_SHORTER_THAN 0.45
#define ATTEMPTS          3

START_TEST(second_sigint_ends_cleanup)
{
	char *dir = tu_enter_scratch();
	double first, second, ended;
	int attempt, status, reader;
	bool proven = false;

	for (attempt = 0; attempt < ATTEMPTS && !proven; attempt++) {
		pid_t pid = start_stalled(&reader);

		first = tu_now_s();
		ck_assert_int_eq(kill(pid, SIGINT), 0);
		ck_assert_msg(sg_wait_open(pid, "in.fifo", false, 5.0),
		              "the first SIGINT did not reach the workers");
		ck_assert_msg(sg_alive(pid),
		              "pmerge ended before the second SIGINT: the "
		              "clean-up did not wait for the stalled writer");
		second = tu_now_s();
		ck_assert_int_eq(kill(pid, SIGINT), 0);
		ck_assert(sg_wait(pid, SG_TIMEOUT, &status));
		ended = tu_now_s();
		ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT,
		              "%s, want death by SIGINT", sg_describe(status));
		proven = ended - first < WAIT_SHORTER_THAN;
		if (!proven)
			fprintf(stderr,
			        "attempt %d: second SIGINT %.3f s after the "
			        "first, end %.3f s after it: inconclusive\n",
			        attempt + 1, second - first, ended - first);
		close(reader);
		unlink("out.fifo");
		unlink("in.fifo");
		unlink("big.bin");
	}
	ck_assert_msg(proven,
	              "%d attempts: the second SIGINT never ended the clean-up "
	              "sooner than the first alone would have",
	              ATTEMPTS);
	tu_leave_scratch(dir);
}
END_TEST

TCase *sg_tcase_stop(void)
{
	TCase *tc = tcase_create("stop");

	tcase_add_loop_test(tc, stop_signal, 0, (int)(N_STOP_SIGS * N_FEEDS));
	tcase_add_test(tc, stop_wakes_blocked_readers);
	tcase_add_test(tc, hup_ignored_at_start);
	tcase_add_test(tc, stop_with_stalled_output);
	tcase_add_test(tc, second_sigint_ends_cleanup);
	return tc;
}
