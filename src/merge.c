/*
 * One merge from start to finish: open the sink, start the workers, run the
 * libuv loop on the calling thread (progress timer, signals, the workers'
 * wake-ups), then join, commit or abort, and gather the statistics.
 */
#include "internal.h"
#include "sorted.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

/* How long workers get to stop after a signal before the merge gives up on
 * them (only a write blocked on a stalled reader can take that long). */
#define PM_GRACE_MS 500

static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
static const int info_signals[] = {SIGUSR1, SIGWINCH};
#define N_STOP (sizeof(stop_signals) / sizeof(stop_signals[0]))
#define N_INFO (sizeof(info_signals) / sizeof(info_signals[0]))

struct run {
	struct pm_merge m;
	struct pmerge_result *res;
	uv_loop_t loop;
	uv_async_t async;
	uv_timer_t progress;
	uv_timer_t grace;
	uv_signal_t stop[N_STOP];
	uv_signal_t info[N_INFO];
	bool stop_on[N_STOP], info_on[N_INFO];
	bool progress_on, grace_on;
	bool finished;
	int signal;
	uint64_t t0;
	uint64_t bytes_total;
	bool total_known;
	double rate; /* smoothed over the progress ticks */
	uint64_t last_ns, last_bytes;
	bool masked; /* stop signals held back by finish() */
	sigset_t saved_mask;
};

/* The signals that finish() holds back until the output is settled. */
static void settle_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
}

void pmerge_config_init(struct pmerge_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->unit = PMERGE_UNIT_FILE;
	cfg->order = PMERGE_ORDER_DEFAULT;
	cfg->lock.kind = PMERGE_LOCK_MUTEX;
	cfg->lock.n = 1;
	cfg->sorted.field_sep = -1;
}

unsigned pmerge_default_jobs(void)
{
	/* Measured: see README, "Choosing -j". */
	return 4;
}

bool pm_signal_ignored(int sig)
{
	struct sigaction sa;

	return sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN;
}

static void snapshot(struct run *r, struct pmerge_progress *p)
{
	struct pm_merge *m = &r->m;
	uint64_t now = pm_now_ns(), waited = 0;
	double busy;

	memset(p, 0, sizeof(*p));
	p->bytes_done =
	    atomic_load_explicit(&m->bytes_done, memory_order_relaxed);
	p->bytes_total = r->bytes_total;
	p->total_known = r->total_known;
	p->inputs_done = atomic_load(&m->inputs_done);
	p->inputs_total = m->cfg->n_inputs;
	p->elapsed_s = (double)(now - r->t0) / 1e9;
	for (unsigned i = 0; i < m->n_workers; i++)
		waited += atomic_load_explicit(&m->workers[i].st.wait_ns,
		                               memory_order_relaxed);
	busy = (double)(now - r->t0) * m->n_workers;
	p->lock_wait_share = busy > 0 ? (double)waited / busy : 0;
	if (p->lock_wait_share > 1)
		p->lock_wait_share = 1;
	p->finished = r->finished;
	p->rate = r->rate > 0        ? r->rate
	          : p->elapsed_s > 0 ? (double)p->bytes_done / p->elapsed_s
	                             : 0;
	if (p->finished)
		p->rate =
		    p->elapsed_s > 0 ? (double)p->bytes_done / p->elapsed_s : 0;
}

/* An exponentially weighted rate: steady, yet follows a change in ~2 s. */
static void update_rate(struct run *r)
{
	uint64_t now = pm_now_ns();
	uint64_t bytes =
	    atomic_load_explicit(&r->m.bytes_done, memory_order_relaxed);
	double dt = (double)(now - r->last_ns) / 1e9;

	if (dt <= 0)
		return;
	double inst = (double)(bytes - r->last_bytes) / dt;
	double alpha = dt / 2.0 > 1 ? 1 : dt / 2.0;
	r->rate = r->last_ns == r->t0 && r->rate == 0
	              ? inst
	              : alpha * inst + (1 - alpha) * r->rate;
	r->last_ns = now;
	r->last_bytes = bytes;
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

/* Every worker is done: join, commit or abort, and let the loop end. */
static void finish(struct run *r)
{
	struct pm_merge *m = &r->m;
	bool async_on = true;

	for (unsigned i = 0; i < m->n_workers; i++)
		if (m->workers[i].started)
			pthread_join(m->workers[i].tid, NULL);
	r->finished = true;
	/*
	 * Closing the signal handles gives the signals back their default
	 * action; until the output is committed or removed, a signal must
	 * not kill us with the temporary file in place.  Hold them back
	 * (this is the only thread left) and collect them afterwards.
	 */
	if (m->cfg->handle_signals) {
		sigset_t set;
		settle_signals(&set);
		r->masked =
		    pthread_sigmask(SIG_BLOCK, &set, &r->saved_mask) == 0;
	}
	for (size_t i = 0; i < N_STOP; i++)
		close_handle((uv_handle_t *)&r->stop[i], &r->stop_on[i]);
	for (size_t i = 0; i < N_INFO; i++)
		close_handle((uv_handle_t *)&r->info[i], &r->info_on[i]);
	close_handle((uv_handle_t *)&r->progress, &r->progress_on);
	close_handle((uv_handle_t *)&r->grace, &r->grace_on);
	close_handle((uv_handle_t *)&r->async, &async_on);
}

static void on_async(uv_async_t *h)
{
	struct run *r = h->data;

	if (!r->finished && atomic_load(&r->m.workers_done) == r->m.n_workers)
		finish(r);
}

static void wake_loop(struct pm_merge *m)
{
	struct run *r = m->loop_data;

	uv_async_send(&r->async);
}

static void on_progress(uv_timer_t *t)
{
	struct run *r = t->data;
	struct pmerge_progress p;

	update_rate(r);
	snapshot(r, &p);
	r->m.cfg->cb.progress(r->m.cfg->cb.user, &p);
}

static void on_grace(uv_timer_t *t)
{
	struct run *r = t->data;

	if (r->finished)
		return;
	/* A worker is stuck in a write nobody reads: leave it to the exit. */
	r->res->workers_abandoned = true;
	uv_stop(&r->loop);
}

static void on_signal(uv_signal_t *h, int sig)
{
	struct run *r = h->data;
	const struct pmerge_callbacks *cb = &r->m.cfg->cb;
	struct pmerge_progress p;

	if (sig == SIGUSR1 || sig == SIGWINCH) {
		snapshot(r, &p);
		if (sig == SIGUSR1 && cb->status)
			cb->status(cb->user, &p);
		else if (sig == SIGWINCH && cb->resize)
			cb->resize(cb->user);
		return;
	}
	if (r->signal) {
		/* A second signal during clean-up: end now, but never leave the
		 * temporary file behind. */
		pm_sink_abort(&r->m.sink);
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	r->signal = sig;
	pm_merge_cancel(&r->m);
	if (uv_timer_start(&r->grace, on_grace, PM_GRACE_MS, 0) == 0)
		r->grace_on = true;
}

/* Sums the input sizes when every input is a regular file. */
static void measure_total(struct run *r)
{
	const struct pmerge_config *cfg = r->m.cfg;
	struct stat st;

	r->total_known = true;
	r->bytes_total = 0;
	for (size_t i = 0; i < cfg->n_inputs && r->total_known; i++) {
		const char *n = cfg->inputs[i];
		int rc = strcmp(n, "-") == 0 ? fstat(STDIN_FILENO, &st)
		                             : stat(n, &st);
		if (rc < 0 || !S_ISREG(st.st_mode))
			r->total_known = false;
		else
			r->bytes_total += (uint64_t)st.st_size;
	}
}

static int start_loop(struct run *r)
{
	const struct pmerge_config *cfg = r->m.cfg;
	int rc = uv_loop_init(&r->loop);

	if (rc < 0)
		return rc;
	rc = uv_async_init(&r->loop, &r->async, on_async);
	if (rc < 0)
		return rc;
	r->async.data = r;
	uv_timer_init(&r->loop, &r->grace);
	r->grace.data = r;
	r->grace_on = true;
	if (cfg->progress_interval_ms && cfg->cb.progress) {
		uv_timer_init(&r->loop, &r->progress);
		r->progress.data = r;
		r->progress_on = true;
		uv_timer_start(&r->progress, on_progress,
		               cfg->progress_interval_ms,
		               cfg->progress_interval_ms);
	}
	if (!cfg->handle_signals)
		return 0;
	for (size_t i = 0; i < N_STOP; i++) {
		/* nohup and background jobs: what was ignored stays so. */
		if (pm_signal_ignored(stop_signals[i]))
			continue;
		uv_signal_init(&r->loop, &r->stop[i]);
		r->stop[i].data = r;
		r->stop_on[i] = true;
		uv_signal_start(&r->stop[i], on_signal, stop_signals[i]);
	}
	for (size_t i = 0; i < N_INFO; i++) {
		if (pm_signal_ignored(info_signals[i]))
			continue;
		uv_signal_init(&r->loop, &r->info[i]);
		r->info[i].data = r;
		r->info_on[i] = true;
		uv_signal_start(&r->info[i], on_signal, info_signals[i]);
	}
	return 0;
}

static int start_workers(struct run *r)
{
	struct pm_merge *m = &r->m;
	sigset_t all, old;
	int rc = 0;

	/* Workers inherit a mask that blocks every asynchronous signal: the
	 * loop thread takes them. */
	sigfillset(&all);
	for (int s = 0; s < 4; s++)
		sigdelset(&all, (int[]){SIGSEGV, SIGBUS, SIGFPE, SIGILL}[s]);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (unsigned i = 0; i < m->n_workers; i++) {
		struct pm_worker *w = &m->workers[i];

		rc = -pthread_create(
		    &w->tid, NULL,
		    m->sorted ? pm_sorted_thread : pm_worker_main, w);
		if (rc < 0) {
			/* Those started still count down workers_done. */
			atomic_fetch_add(&m->workers_done, m->n_workers - i);
			pm_merge_cancel(m);
			break;
		}
		w->started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

static int setup(struct run *r, const struct pmerge_config *cfg)
{
	struct pm_merge *m = &r->m;
	struct pmerge_result *res = r->res;
	const char *what;
	int rc;

	m->cfg = cfg;
	m->unit = cfg->sorted.enabled ? PMERGE_UNIT_LINE : cfg->unit;
	m->order = cfg->order != PMERGE_ORDER_DEFAULT ? cfg->order
	           : cfg->unit == PMERGE_UNIT_LINE    ? PMERGE_ORDER_ARRIVAL
	                                              : PMERGE_ORDER_INPUT;
	m->term = cfg->zero_terminated ? '\0' : '\n';
	unsigned jobs = cfg->jobs ? cfg->jobs : pmerge_default_jobs();
	if (jobs > PMERGE_JOBS_MAX || (cfg->append && !cfg->output) ||
	    (cfg->n_inputs > 0 && !cfg->inputs))
		return -EINVAL;
	m->n_workers = jobs < cfg->n_inputs ? jobs : (unsigned)cfg->n_inputs;
	m->wake[0] = m->wake[1] = -1;
	m->wake_loop = wake_loop;
	m->loop_data = r;
	res->jobs = jobs;
	res->unit = m->unit;
	res->order = m->order;
	res->inputs = cfg->n_inputs;
	res->lock_used = cfg->lock;

	rc = pm_sink_open(&m->sink, cfg->output, cfg->append, &what);
	if (rc < 0) {
		res->output_error = -rc;
		return rc;
	}
	/* Measured (README, "Buffers"): large writes pay off on files, while
	 * a pipe flows best with writes well below its size. */
	m->bufsize = cfg->buffer_size  ? cfg->buffer_size
	             : m->sink.regular ? PMERGE_BUFFER_DEFAULT_FILE
	                               : PMERGE_BUFFER_DEFAULT_PIPE;
	if (m->bufsize < PMERGE_BUFFER_MIN)
		m->bufsize = PMERGE_BUFFER_MIN;
	if (cfg->lock.kind == PMERGE_LOCK_SEM && cfg->lock.n > 1 &&
	    !m->sink.positioned) {
		res->lock_used.n = 1;
		if (cfg->cb.note)
			cfg->cb.note(cfg->cb.user, PMERGE_NOTE_SEM_REDUCED,
			             cfg->output ? cfg->output
			                         : "standard output");
	}
	rc = pm_lock_init(&m->lock, &res->lock_used, cfg->detailed_stats);
	if (rc < 0)
		return rc;
	m->concurrent = m->lock.ops->shared && m->lock.n > 1;
	if ((rc = -pthread_mutex_init(&m->tail_mu, NULL)) < 0 ||
	    (rc = -pthread_mutex_init(&m->stdin_mu, NULL)) < 0 ||
	    (rc = pm_order_init(&m->turn)) < 0)
		return rc;
	if (pipe2(m->wake, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	if (cfg->record_placement && m->unit == PMERGE_UNIT_FILE) {
		m->placement = calloc(cfg->n_inputs ? cfg->n_inputs : 1,
		                      sizeof(*m->placement));
		if (!m->placement)
			return -ENOMEM;
		for (size_t i = 0; i < cfg->n_inputs; i++)
			m->placement[i].offset = UINT64_MAX;
	}
	if (cfg->sorted.enabled &&
	    (rc = pm_sorted_setup(m, jobs, &m->n_workers)) < 0)
		return rc;
	m->workers =
	    calloc(m->n_workers ? m->n_workers : 1, sizeof(*m->workers));
	if (!m->workers)
		return -ENOMEM;
	for (unsigned i = 0; i < m->n_workers; i++) {
		struct pm_worker *w = &m->workers[i];

		w->m = m;
		w->id = i;
		if (m->sorted)
			continue; /* its threads bring their own buffers */
		w->bufsize = m->bufsize;
		w->iov_max = 1024;
		if (posix_memalign((void **)&w->buf, 4096, m->bufsize) != 0)
			return -ENOMEM;
		w->iov = calloc(w->iov_max, sizeof(*w->iov));
		if (!w->iov)
			return -ENOMEM;
	}
	if (cfg->progress_interval_ms || cfg->handle_signals)
		measure_total(r);
	return 0;
}

static void gather(struct run *r)
{
	struct pm_merge *m = &r->m;
	struct pmerge_result *res = r->res;
	struct pm_hist wait = {0}, hold = {0};
	double sum = 0, sumsq = 0;

	res->workers =
	    calloc(m->n_workers ? m->n_workers : 1, sizeof(*res->workers));
	for (unsigned i = 0; i < m->n_workers; i++) {
		const struct pm_worker_stats *st = &m->workers[i].st;

		if (res->workers)
			res->workers[i] = (struct pmerge_worker_result){
			    .inputs = st->inputs,
			    .bytes = st->bytes,
			    .records = st->records,
			    .acquisitions = st->acquisitions,
			    .contended = st->contended,
			    .wait_ns = atomic_load(&st->wait_ns),
			};
		res->records += st->records;
		res->lock.acquisitions += st->acquisitions;
		res->lock.contended += st->contended;
		sum += (double)st->acquisitions;
		sumsq += (double)st->acquisitions * (double)st->acquisitions;
		if (st->max_depth > res->lock.max_depth)
			res->lock.max_depth = st->max_depth;
		pm_hist_merge(&wait, &st->wait);
		pm_hist_merge(&hold, &st->hold);
		if (!m->lock.detailed)
			wait.total += atomic_load(&st->wait_ns);
	}
	pm_hist_summary(&wait, &res->lock.wait_ns);
	pm_hist_summary(&hold, &res->lock.hold_ns);
	res->lock.max_holders = atomic_load(&m->lock.max_holders);
	res->lock.fairness = pm_jain_index(sum, sumsq, m->n_workers);
	res->bytes = atomic_load(&m->bytes_done);
	res->failed_inputs = atomic_load(&m->failed_inputs);
	res->placement = m->placement;
	m->placement = NULL;
	pm_sorted_gather(m, &res->sorted);
}

static void teardown(struct run *r)
{
	struct pm_merge *m = &r->m;

	if (m->workers)
		for (unsigned i = 0; i < m->n_workers; i++) {
			free(m->workers[i].buf);
			free(m->workers[i].iov);
		}
	free(m->workers);
	free(m->placement);
	pm_sorted_free(m);
	pm_lock_destroy(&m->lock);
	pm_order_destroy(&m->turn);
	pthread_mutex_destroy(&m->tail_mu);
	pthread_mutex_destroy(&m->stdin_mu);
	for (int i = 0; i < 2; i++)
		if (m->wake[i] >= 0)
			close(m->wake[i]);
	pm_sink_close(&m->sink);
}

int pmerge_run(const struct pmerge_config *cfg, struct pmerge_result *result)
{
	struct run *r = calloc(1, sizeof(*r));
	struct pm_merge *m;
	int rc;

	memset(result, 0, sizeof(*result));
	if (!r)
		return -ENOMEM;
	m = &r->m;
	r->res = result;
	r->t0 = r->last_ns = pm_now_ns();
	rc = setup(r, cfg);
	if (rc < 0)
		goto out;
	rc = start_loop(r);
	if (rc < 0)
		goto out_loop;
	rc = start_workers(r);
	/* Even after a failed start the loop runs: it joins what started. */
	uv_async_send(&r->async);
	uv_run(&r->loop, UV_RUN_DEFAULT);
	result->wall_s = (double)(pm_now_ns() - r->t0) / 1e9;
	result->signal = r->signal;
	if (result->workers_abandoned) {
		/* Threads may still touch m: keep it, the process is ending. */
		pm_sink_abort(&m->sink);
		return -EINTR;
	}
	gather(r);
	result->output_error = atomic_load(&m->output_error);
	if (r->signal || result->output_error || rc < 0 ||
	    (m->sink.kind == PM_SINK_REPLACE && result->failed_inputs)) {
		pm_sink_abort(&m->sink);
	} else {
		int crc = pm_sink_commit(&m->sink);
		if (crc < 0)
			result->output_error = -crc;
		else
			result->output_committed =
			    m->sink.kind == PM_SINK_REPLACE;
	}
	if (r->masked) {
		/* A stop signal that came during the commit still counts. */
		sigset_t set;
		struct timespec zero = {0, 0};
		int sig;

		settle_signals(&set);
		while ((sig = sigtimedwait(&set, NULL, &zero)) > 0)
			if (sig != SIGUSR1 && !r->signal)
				r->signal = sig;
		pthread_sigmask(SIG_SETMASK, &r->saved_mask, NULL);
		result->signal = r->signal;
	}
	if (cfg->progress_interval_ms && cfg->cb.progress) {
		struct pmerge_progress p;
		snapshot(r, &p);
		cfg->cb.progress(cfg->cb.user, &p);
	}
	if (rc == 0) {
		if (r->signal)
			rc = -EINTR;
		else if (result->output_error)
			rc = -result->output_error;
		else if (result->failed_inputs)
			rc = -EIO;
	}
out_loop:
	uv_loop_close(&r->loop);
out:
	teardown(r);
	free(r);
	return rc;
}

void pmerge_result_free(struct pmerge_result *result)
{
	if (!result)
		return;
	free(result->workers);
	free(result->placement);
	result->workers = NULL;
	result->placement = NULL;
}
