/*
 * The engine's public API, in process: what pmerge_run() and
 * pmerge_resolve() do with a bad configuration (refuse it, and leave the
 * caller's descriptors and memory alone), on which thread each callback
 * runs, how a result is freed, two merges in one process, one after
 * the other and at the same time, and -F: its bad combinations refused
 * before anything is opened, and a followed merge that a signal ends
 * leaving no descriptor behind.
 */
#include "pmerge.h"
#include "tutil.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FD_SLOTS 1024

/* The descriptors open in this process, as a set. */
struct fd_set_snapshot {
	bool open[FD_SLOTS];
};

static void fds_snapshot(struct fd_set_snapshot *s)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	ck_assert_ptr_nonnull(d);
	memset(s, 0, sizeof(*s));
	while ((e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] != '.' && fd != dirfd(d) && fd < FD_SLOTS)
			s->open[fd] = true;
	}
	closedir(d);
}

static void fds_expect_same(const struct fd_set_snapshot *before,
                            const char *what)
{
	struct fd_set_snapshot now;

	fds_snapshot(&now);
	for (int fd = 0; fd < FD_SLOTS; fd++)
		ck_assert_msg(before->open[fd] == now.open[fd],
		              "%s: fd %d was %s and is %s now", what, fd,
		              before->open[fd] ? "open" : "closed",
		              now.open[fd] ? "open" : "closed");
}

static char *dir;
static pthread_t main_thread;

static void enter(void)
{
	dir = tu_mkdtemp();
	main_thread = pthread_self();
}

static void leave(void)
{
	tu_rmdir_rf(dir);
	free(dir);
}

/* dir/name holding text; returns the malloc'ed path. */
static char *make_input(const char *name, const char *text)
{
	char *p = tu_path(dir, name);

	tu_write_file(p, text, strlen(text));
	return p;
}

/* ------------------------------------------------------------ bad config */

/* Each way of being out of range, applied to a valid config. */
static void break_config(struct pmerge_config *cfg, int how,
                         const char **null_names)
{
	switch (how) {
	case 0:
		cfg->jobs = PMERGE_JOBS_MAX + 1;
		break;
	case 1:
		cfg->unit = (enum pmerge_unit)7;
		break;
	case 2:
		cfg->order = (enum pmerge_order)9;
		break;
	case 3:
		cfg->lock.kind = PMERGE_LOCK_COUNT_;
		break;
	case 4:
		cfg->lock.n = 0;
		break;
	case 5:
		cfg->lock = (struct pmerge_lock_spec){PMERGE_LOCK_SEM,
		                                      PMERGE_JOBS_MAX + 1};
		break;
	case 6:
		cfg->append = true;
		cfg->output = NULL;
		break;
	case 7:
		cfg->inputs = NULL;
		break;
	case 8:
		cfg->inputs = null_names;
		break;
	}
}
#define N_BREAKS 9

static atomic_int calls;

static void count_input_error(void *user, const char *name, int err)
{
	(void)user, (void)name, (void)err;
	atomic_fetch_add(&calls, 1);
}

/*
 * cfg (case how) is refused by pmerge_resolve() and pmerge_run() with
 * -EINVAL before anything is opened or called: the caller's descriptors
 * (standard input too) and config untouched, no callback, no file out.
 */
static void expect_refused(const struct pmerge_config *cfg, const char *out,
                           int how)
{
	struct pmerge_config copy = *cfg;
	struct pmerge_result res;
	struct pmerge_plan plan;
	struct fd_set_snapshot fds;

	atomic_store(&calls, 0);
	ck_assert_msg(pmerge_resolve(cfg, &plan) == -EINVAL, "case %d resolved",
	              how);
	fds_snapshot(&fds);
	memset(&res, 0xa5, sizeof(res));
	ck_assert_msg(pmerge_run(cfg, &res) == -EINVAL, "case %d", how);
	fds_expect_same(&fds, "bad config");
	ck_assert_msg(memcmp(cfg, &copy, sizeof(copy)) == 0,
	              "case %d: the config was changed", how);
	ck_assert_ptr_null(res.workers);
	ck_assert_ptr_null(res.placement);
	ck_assert_uint_eq(res.bytes, 0);
	ck_assert_int_eq(atomic_load(&calls), 0);
	ck_assert_msg(!tu_exists(out), "case %d: the output was made", how);
	ck_assert_int_ge(fcntl(STDIN_FILENO, F_GETFD), 0);
	pmerge_result_free(&res);
}

START_TEST(bad_config_refused)
{
	char *in = NULL, *out = NULL;
	const char *names[2];
	const char *null_names[2];

	enter();
	in = make_input("in", "data\n");
	out = tu_path(dir, "out");
	names[0] = in;
	names[1] = in;
	null_names[0] = in;
	null_names[1] = NULL;
	for (int how = 0; how < N_BREAKS; how++) {
		struct pmerge_config cfg;

		pmerge_config_init(&cfg);
		cfg.inputs = names;
		cfg.n_inputs = 2;
		cfg.output = out;
		cfg.handle_signals = true;
		cfg.progress_interval_ms = 1;
		cfg.cb.input_error = count_input_error;
		break_config(&cfg, how, null_names);
		expect_refused(&cfg, out, how);
	}
	ck_assert_uint_eq(tu_count_entries(dir), 1);
	free(in);
	free(out);
	leave();
}
END_TEST

/* An output that cannot be opened fails the run, not the caller's fds. */
START_TEST(bad_output_leaves_fds)
{
	struct pmerge_config cfg;
	struct pmerge_result res;
	struct fd_set_snapshot fds;
	char *in, *out;
	const char *names[1];

	enter();
	in = make_input("in", "data\n");
	out = tu_path(dir, "no/such/dir/out");
	names[0] = in;
	pmerge_config_init(&cfg);
	cfg.inputs = names;
	cfg.n_inputs = 1;
	cfg.output = out;
	cfg.handle_signals = true;
	fds_snapshot(&fds);
	ck_assert_int_eq(pmerge_run(&cfg, &res), -ENOENT);
	ck_assert_int_eq(res.output_error, ENOENT);
	ck_assert(!res.output_committed);
	pmerge_result_free(&res);
	fds_expect_same(&fds, "bad output");
	free(in);
	free(out);
	leave();
}
END_TEST

/* ------------------------------------------------------ callback threads */

struct seen {
	pthread_mutex_t mu;
	int input_errors, input_errors_on_main;
	int notes, notes_off_main;
	int progress, progress_off_main, finished;
	int status, status_off_main;
	int resize, resize_off_main;
	int feed_fd; /* the write end the feeder closes */
	pthread_cond_t cv;
};

static bool on_main(void)
{
	return pthread_equal(pthread_self(), main_thread);
}

static void cb_input_error(void *user, const char *name, int err)
{
	struct seen *s = user;

	(void)name;
	ck_assert_int_eq(err, ENOENT);
	pthread_mutex_lock(&s->mu);
	s->input_errors++;
	s->input_errors_on_main += on_main();
	pthread_mutex_unlock(&s->mu);
}

static void cb_note(void *user, enum pmerge_note what, const char *detail)
{
	struct seen *s = user;

	(void)detail;
	ck_assert_int_eq(what, PMERGE_NOTE_SEM_REDUCED);
	s->notes++;
	s->notes_off_main += !on_main();
}

static void cb_progress(void *user, const struct pmerge_progress *p)
{
	struct seen *s = user;

	s->progress_off_main += !on_main();
	s->finished += p->finished;
	/* The first tick asks for a status line and a resize: both come
	 * back through the loop's signal watchers. */
	if (s->progress++ == 0) {
		raise(SIGUSR1);
		raise(SIGWINCH);
	}
}

/* Both signals answered: the merge may end. */
static void maybe_end_feed(struct seen *s)
{
	if (s->status > 0 && s->resize > 0 && s->feed_fd >= 0) {
		close(s->feed_fd);
		s->feed_fd = -1;
	}
}

static void cb_status(void *user, const struct pmerge_progress *p)
{
	struct seen *s = user;

	ck_assert(!p->finished);
	s->status++;
	s->status_off_main += !on_main();
	maybe_end_feed(s);
}

static void cb_resize(void *user)
{
	struct seen *s = user;

	s->resize++;
	s->resize_off_main += !on_main();
	maybe_end_feed(s);
}

START_TEST(callback_threads)
{
	struct seen s = {.mu = PTHREAD_MUTEX_INITIALIZER, .feed_fd = -1};
	struct pmerge_config cfg;
	struct pmerge_result res;
	int feed[2], out[2];
	char feed_name[32], out_name[32];
	char *missing;
	const char *names[2];

	enter();
	missing = tu_path(dir, "missing");
	ck_assert_int_eq(pipe(feed), 0);
	ck_assert_int_eq(pipe(out), 0);
	/* The input is a pipe that stays open until both signals have been
	 * answered, so the merge is running when they arrive. */
	snprintf(feed_name, sizeof(feed_name), "/dev/fd/%d", feed[0]);
	snprintf(out_name, sizeof(out_name), "/dev/fd/%d", out[1]);
	s.feed_fd = feed[1];
	names[0] = missing;
	names[1] = feed_name;
	pmerge_config_init(&cfg);
	cfg.inputs = names;
	cfg.n_inputs = 2;
	cfg.output = out_name; /* a pipe: sem:4 is reduced, with a note */
	cfg.lock = (struct pmerge_lock_spec){PMERGE_LOCK_SEM, 4};
	cfg.jobs = 2;
	cfg.handle_signals = true;
	cfg.progress_interval_ms = 5;
	cfg.cb = (struct pmerge_callbacks){
	    .user = &s,
	    .input_error = cb_input_error,
	    .note = cb_note,
	    .progress = cb_progress,
	    .status = cb_status,
	    .resize = cb_resize,
	};
	ck_assert_int_eq(pmerge_run(&cfg, &res), -EIO);
	ck_assert_int_eq(res.failed_inputs, 1);
	ck_assert_int_eq(res.lock_used.n, 1);
	pmerge_result_free(&res);

	ck_assert_int_eq(s.input_errors, 1);
	ck_assert_int_eq(s.input_errors_on_main, 0); /* a worker's */
	ck_assert_int_eq(s.notes, 1);
	ck_assert_int_eq(s.notes_off_main, 0);
	ck_assert_int_ge(s.progress, 2);
	ck_assert_int_eq(s.progress_off_main, 0);
	ck_assert_int_eq(s.finished, 1); /* the last snapshot, once */
	ck_assert_int_ge(s.status, 1);
	ck_assert_int_eq(s.status_off_main, 0);
	ck_assert_int_ge(s.resize, 1);
	ck_assert_int_eq(s.resize_off_main, 0);
	ck_assert_int_eq(s.feed_fd, -1);
	close(feed[0]);
	close(out[0]);
	close(out[1]);
	free(missing);
	leave();
}
END_TEST

/* ---------------------------------------------------------------- result */

START_TEST(result_free)
{
	struct pmerge_config cfg;
	struct pmerge_result res;
	char *a, *b, *out;
	const char *names[2];

	enter();
	a = make_input("a", "first\n");
	b = make_input("b", "second input\n");
	out = tu_path(dir, "out");
	names[0] = a;
	names[1] = b;
	pmerge_config_init(&cfg);
	cfg.inputs = names;
	cfg.n_inputs = 2;
	cfg.output = out;
	cfg.order = PMERGE_ORDER_ARRIVAL;
	cfg.record_placement = true;
	ck_assert_int_eq(pmerge_run(&cfg, &res), 0);
	ck_assert(res.output_committed);
	ck_assert_uint_eq(res.bytes, 19);
	ck_assert_ptr_nonnull(res.workers);
	ck_assert_ptr_nonnull(res.placement);
	/* Where each input landed tiles the output. */
	ck_assert_uint_eq(res.placement[0].length, 6);
	ck_assert_uint_eq(res.placement[1].length, 13);
	ck_assert_uint_eq(res.placement[0].offset + res.placement[1].offset,
	                  res.placement[0].offset == 0 ? 6 : 13);
	pmerge_result_free(&res);
	ck_assert_ptr_null(res.workers);
	ck_assert_ptr_null(res.placement);
	pmerge_result_free(&res); /* twice is harmless */
	pmerge_result_free(NULL);

	/* --unit=line has no placement, even when asked for. */
	cfg.unit = PMERGE_UNIT_LINE;
	ck_assert_int_eq(pmerge_run(&cfg, &res), 0);
	ck_assert_ptr_null(res.placement);
	ck_assert_uint_eq(res.records, 2);
	pmerge_result_free(&res);
	free(a);
	free(b);
	free(out);
	leave();
}
END_TEST

/* ----------------------------------------------------------- two merges */

struct merge_job {
	const char *const *names;
	size_t n;
	char *out;
	int rc;
	uint64_t bytes;
};

static void *run_job(void *arg)
{
	struct merge_job *j = arg;
	struct pmerge_config cfg;
	struct pmerge_result res;

	pmerge_config_init(&cfg);
	cfg.inputs = j->names;
	cfg.n_inputs = j->n;
	cfg.output = j->out;
	cfg.jobs = 3;
	j->rc = pmerge_run(&cfg, &res);
	j->bytes = res.bytes;
	pmerge_result_free(&res);
	return NULL;
}

/* The inputs a..e of the two merges, and what cat would make of them. */
static void make_inputs(char *names[5], char **want, size_t *want_len)
{
	size_t len = 0, cap = 0;

	*want = NULL;
	for (int i = 0; i < 5; i++) {
		char n[2] = {(char)('a' + i), 0};
		size_t size = (size_t)(i + 1) * 9000;
		char *text = malloc(size);

		ck_assert_ptr_nonnull(text);
		tu_fill_random(text, size, (uint64_t)i + 1);
		names[i] = tu_path(dir, n);
		tu_write_file(names[i], text, size);
		tu_append(want, &len, &cap, text, size);
		free(text);
	}
	*want_len = len;
}

static void expect_file(const char *path, const char *want, size_t want_len)
{
	size_t len;
	char *got = tu_read_file(path, &len);

	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(len, want_len);
	ck_assert_msg(memcmp(got, want, len) == 0, "%s differs", path);
	free(got);
}

/* The job merged the inputs exactly as cat would. */
static void job_done(struct merge_job *j, const char *want, size_t want_len)
{
	ck_assert_int_eq(j->rc, 0);
	ck_assert_uint_eq(j->bytes, want_len);
	expect_file(j->out, want, want_len);
	free(j->out);
}

static void free_inputs(char *names[5], char *want)
{
	for (int i = 0; i < 5; i++)
		free(names[i]);
	free(want);
	leave();
}

START_TEST(two_merges_in_sequence)
{
	char *names[5], *want;
	size_t want_len;
	struct fd_set_snapshot fds;

	enter();
	make_inputs(names, &want, &want_len);
	/* libuv opens a few descriptors once per process, at its first loop
	 * (its signal pipe): the snapshot is taken after that. */
	for (int i = 0; i < 3; i++) {
		if (i == 1)
			fds_snapshot(&fds);
		struct merge_job j = {(const char *const *)names, 5,
		                      tu_path(dir, i ? "out2" : "out1"), 1, 0};

		run_job(&j);
		job_done(&j, want, want_len);
	}
	fds_expect_same(&fds, "merges after the first");
	free_inputs(names, want);
}
END_TEST

START_TEST(two_merges_at_once)
{
	char *names[5], *want;
	size_t want_len;
	struct merge_job j[2];
	pthread_t t[2];

	enter();
	make_inputs(names, &want, &want_len);
	for (int i = 0; i < 2; i++) {
		j[i] =
		    (struct merge_job){(const char *const *)names, 5,
		                       tu_path(dir, i ? "out2" : "out1"), 1, 0};
		ck_assert_int_eq(pthread_create(&t[i], NULL, run_job, &j[i]),
		                 0);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		job_done(&j[i], want, want_len);
	}
	free_inputs(names, want);
}
END_TEST

/* ---------------------------------------------------------------- follow */

/*
 * -F's combinations, each applied to a valid follow config: a merge that
 * never ends reads lines as they come in arrival order, never replaces a
 * file, and the poll interval is -F's alone, within its range.
 */
static void break_follow(struct pmerge_config *cfg, int how)
{
	switch (how) {
	case 0:
		cfg->unit = PMERGE_UNIT_FILE;
		break;
	case 1:
		cfg->order = PMERGE_ORDER_INPUT;
		break;
	case 2:
		cfg->sorted.enabled = true;
		break;
	case 3:
		cfg->append = false; /* -o without -a: a replace */
		break;
	case 4:
		cfg->n_labels = 3; /* more labels than the two inputs */
		break;
	case 5:
		cfg->poll_interval_ms = PMERGE_POLL_MS_MIN - 1;
		break;
	case 6:
		cfg->poll_interval_ms = PMERGE_POLL_MS_MAX + 1;
		break;
	case 7:
		cfg->follow = false; /* a poll interval without -F */
		break;
	}
}
#define N_FOLLOW_BREAKS 8

static void follow_config(struct pmerge_config *cfg, const char **names,
                          const char *const *labels, const char *out)
{
	pmerge_config_init(cfg);
	cfg->inputs = names;
	cfg->n_inputs = 2;
	cfg->output = out;
	cfg->append = true;
	cfg->unit = PMERGE_UNIT_LINE;
	cfg->follow = true;
	cfg->poll_interval_ms = 200;
	cfg->tag = true;
	cfg->labels = labels;
	cfg->n_labels = 2;
	cfg->handle_signals = true;
}

/*
 * Each bad -F combination is refused by pmerge_resolve() and pmerge_run()
 * with -EINVAL before anything is opened: no descriptor left behind (no
 * inotify, epoll or eventfd), the config untouched, no callback, the
 * output not made, the followed names not created.
 */
START_TEST(follow_config_refused)
{
	const char *labels[3] = {"x", "y", "z"};
	const char *names[2];
	char *in, *later, *out;

	enter();
	in = make_input("in", "data\n");
	later = tu_path(dir, "later");
	out = tu_path(dir, "out");
	names[0] = in;
	names[1] = later;
	for (int how = 0; how < N_FOLLOW_BREAKS; how++) {
		struct pmerge_config cfg;
		struct pmerge_plan plan;

		follow_config(&cfg, names, labels, out);
		ck_assert_int_eq(pmerge_resolve(&cfg, &plan), 0);
		ck_assert_uint_eq(plan.workers, 0);
		cfg.cb.input_error = count_input_error;
		break_follow(&cfg, how);
		expect_refused(&cfg, out, how);
	}
	/* Only the input is there: nothing was made, nothing waited for. */
	ck_assert_uint_eq(tu_count_entries(dir), 1);
	free(in);
	free(later);
	free(out);
	leave();
}
END_TEST

struct follow_seen {
	atomic_int missing, appeared, other;
};

static void cb_follow(void *user, enum pmerge_follow_event ev, const char *name,
                      int err)
{
	struct follow_seen *f = user;

	(void)name;
	if (ev == PMERGE_FOLLOW_MISSING && err == ENOENT)
		atomic_fetch_add(&f->missing, 1);
	else if (ev == PMERGE_FOLLOW_APPEARED)
		atomic_fetch_add(&f->appeared, 1);
	else
		atomic_fetch_add(&f->other, 1);
}

/* The output file holds want, within a generous while. */
static bool wait_output(const char *path, const char *want)
{
	double end = tu_now_s() + 20;

	for (;;) {
		size_t len;
		char *got = tu_exists(path) ? tu_read_file(path, &len) : NULL;
		bool ok = got && strstr(got, want);
		free(got);
		if (ok || tu_now_s() > end)
			return ok;
		usleep(10000);
	}
}

struct stopper {
	const char *out, *want, *later;
	bool seen;
};

/* Waits for the first line, makes the late name, waits for its line,
 * then stops the merge as a user's SIGTERM would. */
static void *stop_when_merged(void *arg)
{
	struct stopper *st = arg;

	st->seen = wait_output(st->out, "x\tdata\n");
	if (st->seen) {
		tu_write_file(st->later, "late\n", 5);
		st->seen = wait_output(st->out, st->want);
	}
	kill(getpid(), SIGTERM);
	return NULL;
}

/*
 * A valid -F config, run in process: an existing name and one that appears
 * later are followed (the follow callback says so), the merge runs until a
 * SIGTERM and then returns -EINTR with the signal; every descriptor it
 * opened (inputs, inotify, epoll, eventfd, the loop's) is closed again.
 * libuv opens its signal pipe once per process, at its first loop: the
 * descriptors are compared around the second of two such merges.
 */
START_TEST(follow_run_leaves_no_fd)
{
	const char *labels[2] = {"x", "y"};
	struct fd_set_snapshot fds;
	const char *names[2];

	enter();
	char *in = make_input("in", "data\n");
	char *later = tu_path(dir, "later");
	char *out = tu_path(dir, "out");
	names[0] = in;
	names[1] = later;
	for (int i = 0; i < 2; i++) {
		struct follow_seen seen = {0};
		struct stopper st = {
		    .out = out, .want = "y\tlate\n", .later = later};
		struct pmerge_config cfg;
		struct pmerge_result res;
		pthread_t t;

		unlink(later);
		tu_write_file(out, "", 0);
		follow_config(&cfg, names, labels, out);
		cfg.cb.user = &seen;
		cfg.cb.follow = cb_follow;
		if (i == 1)
			fds_snapshot(&fds);
		ck_assert_int_eq(
		    pthread_create(&t, NULL, stop_when_merged, &st), 0);
		int rc = pmerge_run(&cfg, &res);
		pthread_join(t, NULL);
		ck_assert_msg(st.seen, "the lines did not come");
		ck_assert_int_eq(rc, -EINTR);
		ck_assert_int_eq(res.signal, SIGTERM);
		ck_assert_int_eq(res.failed_inputs, 0);
		ck_assert_uint_eq(res.records, 2);
		pmerge_result_free(&res);
		ck_assert_int_eq(atomic_load(&seen.missing), 1);
		ck_assert_int_eq(atomic_load(&seen.appeared), 1);
		ck_assert_int_eq(atomic_load(&seen.other), 0);
		size_t len;
		char *got = tu_read_file(out, &len);
		ck_assert_str_eq(got, "x\tdata\ny\tlate\n");
		free(got);
	}
	fds_expect_same(&fds, "after -F");
	free(in);
	free(later);
	free(out);
	leave();
}
END_TEST

/* pmerge_resolve() says what pmerge_run() will do. */
START_TEST(resolve_defaults)
{
	struct pmerge_config cfg;
	struct pmerge_plan plan;
	const char *names[8] = {"a", "b", "c", "d", "e", "f", "g", "h"};

	pmerge_config_init(&cfg);
	cfg.inputs = names;
	cfg.n_inputs = 2;
	ck_assert_int_eq(pmerge_resolve(&cfg, &plan), 0);
	ck_assert_uint_eq(plan.jobs, pmerge_default_jobs());
	ck_assert_uint_eq(plan.workers, 2);
	ck_assert_int_eq(plan.order, PMERGE_ORDER_INPUT);
	ck_assert_int_eq(plan.terminator, '\n');
	cfg.unit = PMERGE_UNIT_LINE;
	cfg.zero_terminated = true;
	cfg.jobs = 3;
	cfg.n_inputs = 8;
	ck_assert_int_eq(pmerge_resolve(&cfg, &plan), 0);
	ck_assert_uint_eq(plan.jobs, 3);
	ck_assert_uint_eq(plan.workers, 3);
	ck_assert_int_eq(plan.order, PMERGE_ORDER_ARRIVAL);
	ck_assert_int_eq(plan.terminator, '\0');
	cfg.order = PMERGE_ORDER_INPUT;
	ck_assert_int_eq(pmerge_resolve(&cfg, &plan), 0);
	ck_assert_int_eq(plan.order, PMERGE_ORDER_INPUT);

	/* -d in input order: no more workers than processors unless -j
	 * says so; in arrival order, or with -j, the usual count. */
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned capped =
	    cpus > 0 && (unsigned long)cpus < pmerge_default_jobs()
	        ? (unsigned)cpus
	        : pmerge_default_jobs();
	cfg.decompress = true;
	cfg.jobs = 0;
	ck_assert_int_eq(pmerge_resolve(&cfg, &plan), 0);
	ck_assert_uint_eq(plan.jobs, capped);
	ck_assert_uint_eq(plan.workers, capped);
	cfg.jobs = 8;
	ck_assert_int_eq(pmerge_resolve(&cfg, &plan), 0);
	ck_assert_uint_eq(plan.jobs, 8);
	cfg.jobs = 0;
	cfg.order = PMERGE_ORDER_ARRIVAL;
	ck_assert_int_eq(pmerge_resolve(&cfg, &plan), 0);
	ck_assert_uint_eq(plan.jobs, pmerge_default_jobs());
	cfg.order = PMERGE_ORDER_INPUT;
	cfg.sorted.enabled = true;
	ck_assert_int_eq(pmerge_resolve(&cfg, &plan), 0);
	ck_assert_uint_eq(plan.jobs, pmerge_default_jobs());
}
END_TEST

int main(void)
{
	Suite *s = suite_create("api");
	TCase *tc = tcase_create("api");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, bad_config_refused);
	tcase_add_test(tc, bad_output_leaves_fds);
	tcase_add_test(tc, callback_threads);
	tcase_add_test(tc, result_free);
	tcase_add_test(tc, two_merges_in_sequence);
	tcase_add_test(tc, two_merges_at_once);
	tcase_add_test(tc, resolve_defaults);
	tcase_add_test(tc, follow_config_refused);
	tcase_add_test(tc, follow_run_leaves_no_fd);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
