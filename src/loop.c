/*
 * The libuv loop of one merge, on the thread that called pmerge_run(): the
 * workers' wake-ups, the progress timer, the signals, and the snapshots the
 * progress and status callbacks receive.  Only this thread touches the
 * loop; workers publish their progress in atomics and only wake it.
 */
#include "internal.h"
#include "streams.h"

#include <signal.h>
#include <string.h>

/* How long workers get to stop after a signal before the merge gives up on
 * them (only a write blocked on a stalled reader can take that long). */
#define PM_GRACE_MS 500

static const int stop_signals[PM_LOOP_STOP_SIGNALS] = {
    SIGINT,  SIGTERM, SIGHUP,    SIGQUIT, SIGPIPE, SIGALRM,   SIGUSR2,
    SIGPOLL, SIGPROF, SIGVTALRM, SIGXCPU, SIGXFSZ, SIGSTKFLT,
};
static const int info_signals[PM_LOOP_INFO_SIGNALS] = {SIGUSR1, SIGWINCH};

/* The signals held back from finish() until the output is settled. */
void pm_loop_held_signals(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < PM_LOOP_STOP_SIGNALS; i++)
		sigaddset(set, stop_signals[i]);
	sigaddset(set, SIGUSR1);
}

bool pm_signal_ignored(int sig)
{
	struct sigaction sa;

	return sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN;
}

/*
 * Sums the input sizes when every input is a regular file -- only when a
 * progress or status line first needs it: a stat of every input costs as
 * much as the merge itself with many small inputs.  Once the workers are
 * done, the sizes they found when they opened the inputs give it without a
 * stat at all.
 */
static void measure_total(struct pm_loop *l)
{
	const struct pm_merge *m = l->m;
	const struct pmerge_config *cfg = m->cfg;
	struct stat st;

	l->total_measured = true;
	l->total_known = true;
	l->bytes_total = 0;
	if (l->finished && !m->sorted) {
		l->total_known = atomic_load(&m->inputs_done) == cfg->n_inputs;
		for (unsigned i = 0; i < m->n_workers; i++) {
			l->bytes_total += m->workers[i].sizes_seen;
			if (m->workers[i].irregular_seen)
				l->total_known = false;
		}
		return;
	}
	for (size_t i = 0; i < cfg->n_inputs && l->total_known; i++) {
		const char *n = cfg->inputs[i];
		int rc = strcmp(n, "-") == 0 ? fstat(STDIN_FILENO, &st)
		                             : stat(n, &st);
		if (rc < 0 || !S_ISREG(st.st_mode))
			l->total_known = false;
		else
			l->bytes_total += (uint64_t)st.st_size;
	}
}

/*
 * The bytes the progress line counts: those appended, except that a
 * decoded input counts the bytes read from it (the total is the inputs'
 * sizes).  Read without a common lock: each counter only grows.
 */
static uint64_t pm_loop_bytes(struct pm_merge *m)
{
	uint64_t done =
	    atomic_load_explicit(&m->bytes_done, memory_order_relaxed);
	uint64_t out =
	    atomic_load_explicit(&m->decoded_out, memory_order_relaxed);
	uint64_t in =
	    atomic_load_explicit(&m->decoded_in, memory_order_relaxed);

	return (done > out ? done - out : 0) + in;
}

void pm_loop_snapshot(struct pm_loop *l, struct pmerge_progress *p)
{
	struct pm_merge *m = l->m;
	uint64_t now = pm_now_ns(), waited = 0;
	double busy;

	if (!l->total_measured)
		measure_total(l);
	memset(p, 0, sizeof(*p));
	p->bytes_done = pm_loop_bytes(m);
	p->bytes_total = l->bytes_total;
	p->total_known = l->total_known;
	p->inputs_done = atomic_load(&m->inputs_done);
	p->inputs_total = m->cfg->n_inputs;
	p->elapsed_s = (double)(now - l->t0) / 1e9;
	for (unsigned i = 0; i < m->n_workers; i++)
		waited += atomic_load_explicit(&m->workers[i].st.wait_ns,
		                               memory_order_relaxed);
	busy = (double)(now - l->t0) * m->n_workers;
	p->lock_wait_share = busy > 0 ? (double)waited / busy : 0;
	if (p->lock_wait_share > 1)
		p->lock_wait_share = 1;
	p->finished = l->finished;
	p->rate = l->rate > 0        ? l->rate
	          : p->elapsed_s > 0 ? (double)p->bytes_done / p->elapsed_s
	                             : 0;
	if (p->finished)
		p->rate =
		    p->elapsed_s > 0 ? (double)p->bytes_done / p->elapsed_s : 0;
}

/* An exponentially weighted rate: steady, yet follows a change in ~2 s. */
static void update_rate(struct pm_loop *l)
{
	uint64_t now = pm_now_ns();
	uint64_t bytes = pm_loop_bytes(l->m);
	double dt = (double)(now - l->last_ns) / 1e9;

	if (dt <= 0)
		return;
	double inst = (double)(bytes - l->last_bytes) / dt;
	double alpha = dt / 2.0 > 1 ? 1 : dt / 2.0;
	l->rate = l->last_ns == l->t0 && l->rate == 0
	              ? inst
	              : alpha * inst + (1 - alpha) * l->rate;
	l->last_ns = now;
	l->last_bytes = bytes;
}

static void on_close(uv_handle_t *h)
{
	(void)h;
}

static void close_handle(uv_handle_t *h, bool *on)
{
	if (*on && !uv_is_closing(h))
		uv_close(h, on_close);
	*on = false;
}

/* Closes every handle still open; the async one last. */
static void close_handles(struct pm_loop *l)
{
	for (size_t i = 0; i < PM_LOOP_STOP_SIGNALS; i++)
		close_handle((uv_handle_t *)&l->stop[i], &l->stop_on[i]);
	for (size_t i = 0; i < PM_LOOP_INFO_SIGNALS; i++)
		close_handle((uv_handle_t *)&l->info[i], &l->info_on[i]);
	close_handle((uv_handle_t *)&l->progress, &l->progress_on);
	close_handle((uv_handle_t *)&l->grace, &l->grace_on);
	pm_watch_close(l->watch);
	/* Last: the workers are joined, none can send on it any more. */
	close_handle((uv_handle_t *)&l->async, &l->async_on);
}

/* Every worker is done: join them, then let the loop end. */
static void finish(struct pm_loop *l)
{
	pm_merge_join(l->m);
	l->finished = true;
	/*
	 * Closing the signal handles gives the signals back their default
	 * action; until the output is committed or removed, a signal must
	 * not kill us with the temporary file in place.  Hold them back
	 * (this is the only thread left) and collect them afterwards.
	 */
	if (l->m->cfg->handle_signals) {
		sigset_t set;
		pm_loop_held_signals(&set);
		l->masked =
		    pthread_sigmask(SIG_BLOCK, &set, &l->saved_mask) == 0;
	}
	close_handles(l);
}

static void on_async(uv_async_t *h)
{
	struct pm_loop *l = h->data;

	if (!l->finished && pm_merge_done(l->m))
		finish(l);
}

static void wake_loop(struct pm_merge *m)
{
	struct pm_loop *l = m->loop_data;

	uv_async_send(&l->async);
}

static void on_progress(uv_timer_t *t)
{
	struct pm_loop *l = t->data;
	struct pmerge_progress p;

	update_rate(l);
	pm_loop_snapshot(l, &p);
	l->m->cfg->cb.progress(l->m->cfg->cb.user, &p);
}

static void on_grace(uv_timer_t *t)
{
	struct pm_loop *l = t->data;

	if (l->finished)
		return;
	/* A worker is stuck in a write nobody reads: leave it to the exit. */
	l->abandoned = true;
	uv_stop(&l->loop);
}

static void on_signal(uv_signal_t *h, int sig)
{
	struct pm_loop *l = h->data;
	const struct pmerge_callbacks *cb = &l->m->cfg->cb;
	struct pmerge_progress p;

	if (sig == SIGUSR1 || sig == SIGWINCH) {
		pm_loop_snapshot(l, &p);
		if (sig == SIGUSR1 && cb->status)
			cb->status(cb->user, &p);
		else if (sig == SIGWINCH && cb->resize)
			cb->resize(cb->user);
		return;
	}
	if (l->signal) {
		/* A second signal during clean-up: end now, but never leave the
		 * temporary file behind. */
		pm_sink_abort(&l->m->sink);
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	l->signal = sig;
	pm_merge_cancel(l->m);
	if (uv_timer_start(&l->grace, on_grace, PM_GRACE_MS, 0) == 0)
		l->grace_on = true;
}

/* 0, or libuv's negative errno: its signal pipe takes descriptors. */
static int watch_signals(struct pm_loop *l, const int *sigs, size_t n,
                         uv_signal_t *h, bool *on)
{
	for (size_t i = 0; i < n; i++) {
		int rc;

		/* nohup and background jobs: what was ignored stays so. */
		if (pm_signal_ignored(sigs[i]))
			continue;
		if ((rc = uv_signal_init(&l->loop, &h[i])) < 0)
			return rc;
		h[i].data = l;
		on[i] = true;
		if ((rc = uv_signal_start(&h[i], on_signal, sigs[i])) < 0)
			return rc;
	}
	return 0;
}

void pm_loop_prepare(struct pm_loop *l, struct pm_merge *m)
{
	memset(l, 0, sizeof(*l));
	l->m = m;
	l->t0 = l->last_ns = pm_now_ns();
	m->wake_loop = wake_loop;
	m->loop_data = l;
}

int pm_loop_start(struct pm_loop *l, enum pmerge_setup *failed)
{
	/*
	 * uv_loop_init() takes an epoll descriptor and a pipe for its signal
	 * watchers, and the first one in the process another pipe for
	 * libuv's own lock, which it cannot do without: it aborts when that
	 * pipe cannot be made.  Refuse first where they do not fit.
	 */
	static atomic_bool had_loop;
	const struct pmerge_config *cfg = l->m->cfg;
	int rc;

	*failed = PMERGE_SETUP_LOOP;
	if (pm_free_descriptors() < (atomic_load(&had_loop) ? 3u : 5u))
		return UV_EMFILE;
	if ((rc = uv_loop_init(&l->loop)) < 0)
		return rc;
	atomic_store(&had_loop, true);
	l->loop_on = true;
	*failed = PMERGE_SETUP_ASYNC;
	rc = uv_async_init(&l->loop, &l->async, on_async);
	if (rc < 0)
		return rc;
	l->async.data = l;
	l->async_on = true;
	uv_timer_init(&l->loop, &l->grace);
	l->grace.data = l;
	l->grace_on = true;
	*failed = PMERGE_SETUP_WATCH;
	if (cfg->follow) {
		rc = pm_watch_start(&l->loop, l->m->live, &l->watch);
		if (rc < 0)
			return rc;
	}
	if (cfg->progress_interval_ms && cfg->cb.progress) {
		uv_timer_init(&l->loop, &l->progress);
		l->progress.data = l;
		l->progress_on = true;
		uv_timer_start(&l->progress, on_progress,
		               cfg->progress_interval_ms,
		               cfg->progress_interval_ms);
	}
	*failed = PMERGE_SETUP_SIGNALS;
	if (cfg->handle_signals &&
	    ((rc = watch_signals(l, stop_signals, PM_LOOP_STOP_SIGNALS, l->stop,
	                         l->stop_on)) < 0 ||
	     (rc = watch_signals(l, info_signals, PM_LOOP_INFO_SIGNALS, l->info,
	                         l->info_on)) < 0))
		return rc;
	*failed = PMERGE_SETUP_OK;
	return 0;
}

void pm_loop_run(struct pm_loop *l)
{
	/* Even after a failed start the loop runs: it joins what started. */
	uv_async_send(&l->async);
	uv_run(&l->loop, UV_RUN_DEFAULT);
}

/* Takes the held-back signals that are pending; the first stop signal
 * counts, when none came before. */
static void take_pending(struct pm_loop *l)
{
	sigset_t set;
	struct timespec zero = {0, 0};
	int sig;

	pm_loop_held_signals(&set);
	while ((sig = sigtimedwait(&set, NULL, &zero)) > 0)
		if (sig != SIGUSR1 && !l->signal)
			l->signal = sig;
}

void pm_loop_collect(struct pm_loop *l)
{
	if (l->masked)
		take_pending(l);
}

bool pm_loop_settle(struct pm_loop *l, bool committed, sigset_t *restore)
{
	if (!l->masked)
		return false;
	l->masked = false;
	if (committed) {
		/*
		 * FILE is new: a stop signal from the commit on can no longer
		 * stop the merge, and must not end the process as if it had
		 * failed.  Those that came stay pending and blocked for the
		 * caller: a process that exits with them blocked exits 0, and
		 * one that goes on (--bench runs merge after merge) gets them
		 * at pmerge_signals_release(), so none is lost.  Only a status
		 * request (SIGUSR1) is dropped: the merge it asked about is
		 * over.
		 */
		sigset_t usr1;
		struct timespec zero = {0, 0};
		sigemptyset(&usr1);
		sigaddset(&usr1, SIGUSR1);
		while (sigtimedwait(&usr1, NULL, &zero) > 0)
			;
		*restore = l->saved_mask;
		return true;
	}
	/* A stop signal that came during a failed commit still counts. */
	take_pending(l);
	pthread_sigmask(SIG_SETMASK, &l->saved_mask, NULL);
	return false;
}

void pm_loop_close(struct pm_loop *l)
{
	if (l->loop_on) {
		/* After a start that failed half way, handles are still open
		 * (a signal watcher among them is known to libuv process-wide):
		 * close them and let their close callbacks run, so that the
		 * loop really closes and gives its descriptors back. */
		close_handles(l);
		uv_run(&l->loop, UV_RUN_DEFAULT);
		uv_loop_close(&l->loop);
	}
	l->loop_on = false;
	pm_watch_free(l->watch);
	l->watch = NULL;
}
