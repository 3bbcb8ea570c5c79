/*
 * One merge from start to finish: resolve the configuration, set up the
 * sink, the lock and the workers, run the loop (loop.c) on the calling
 * thread until the workers are joined, then commit or abort the output
 * and gather the statistics.
 *
 * Setup is a row of steps; each records what it initialised before it can
 * fail, so that teardown() undoes exactly that, from any point.
 */
#include "internal.h"
#include "sorted.h"
#include "streams.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

struct run {
	struct pm_merge m;
	struct pm_loop loop;
	struct pmerge_plan plan;
	struct pmerge_result *res;
};

/* Cannot fail: everything teardown() looks at gets its "nothing" value. */
static void init_state(struct run *r, const struct pmerge_config *cfg)
{
	struct pm_merge *m = &r->m;
	struct pmerge_result *res = r->res;

	m->cfg = cfg;
	m->unit = cfg->sorted.enabled ? PMERGE_UNIT_LINE : cfg->unit;
	m->order = r->plan.order;
	m->term = r->plan.terminator;
	m->n_workers = r->plan.workers;
	m->wake[0] = m->wake[1] = -1;
	m->sink.fd = -1;
	pm_loop_prepare(&r->loop, m);
	res->jobs = r->plan.jobs;
	res->unit = m->unit;
	res->order = m->order;
	res->inputs = cfg->n_inputs;
	res->lock_used = cfg->lock;
	atomic_init(&m->failed_inputs, cfg->failed_before);
}

/* Records what could not be set up (the first failure counts); returns
 * rc. */
static int setup_failed(struct run *r, enum pmerge_setup what, int rc)
{
	if (rc < 0 && r->res->setup_failed == PMERGE_SETUP_OK)
		r->res->setup_failed = what;
	return rc;
}

/* Opens the output and sizes the buffers and the lock for it. */
static int open_output(struct run *r)
{
	const struct pmerge_config *cfg = r->m.cfg;
	struct pm_merge *m = &r->m;
	const char *what;
	sigset_t hold;
	int rc;

	pm_loop_held_signals(&hold);
	rc = pm_sink_open(&m->sink, cfg->output, cfg->append,
	                  cfg->handle_signals ? &hold : NULL, &what);

	if (rc < 0) {
		r->res->output_error = -rc;
		return rc;
	}
	m->sink.durable = cfg->fsync;
	if (cfg->compress != PMERGE_COMPRESS_NONE) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		unsigned t = r->plan.jobs;

		if (cpus > 0 && t > (unsigned)cpus)
			t = (unsigned)cpus;
		rc = pm_compress_start(m, t);
		if (rc < 0)
			return setup_failed(r, PMERGE_SETUP_COMPRESS, rc);
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
		r->res->lock_used.n = 1;
		if (cfg->cb.note)
			cfg->cb.note(cfg->cb.user, PMERGE_NOTE_SEM_REDUCED,
			             cfg->output ? cfg->output
			                         : "standard output");
	}
	return 0;
}

/* The lock strategy, the append protocol's mutexes, the turn. */
static int init_locks(struct run *r)
{
	struct pm_merge *m = &r->m;
	int rc =
	    pm_lock_init(&m->lock, &r->res->lock_used, m->cfg->detailed_stats);

	if (rc < 0)
		return rc;
	m->concurrent = m->lock.ops->shared && m->lock.n > 1;
	if ((rc = -pthread_mutex_init(&m->tail_mu, NULL)) < 0)
		return rc;
	m->tail_mu_on = true;
	if ((rc = -pthread_mutex_init(&m->stdin_mu, NULL)) < 0)
		return rc;
	m->stdin_mu_on = true;
	m->euid = geteuid();
	if ((rc = -pthread_mutex_init(&m->resolve_mu, NULL)) < 0)
		return rc;
	if ((rc = -pthread_cond_init(&m->resolve_cv, NULL)) < 0) {
		pthread_mutex_destroy(&m->resolve_mu);
		return rc;
	}
	m->resolve_on = true;
	if ((rc = pm_order_init(&m->turn)) < 0)
		return rc;
	m->turn_on = true;
	return 0;
}

/*
 * The lock and the wake fd: one eventfd (one descriptor, where a pipe
 * takes two), written once on cancel and never drained, so that every
 * poll() on it sees it from then on.  wake[0] is polled, wake[1] written:
 * the same descriptor.
 */
static int init_sync(struct run *r)
{
	struct pm_merge *m = &r->m;
	int rc = setup_failed(r, PMERGE_SETUP_SYNC, init_locks(r));

	if (rc < 0)
		return rc;
	m->wake[0] = m->wake[1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->wake[0] < 0)
		return setup_failed(r, PMERGE_SETUP_WAKE, -errno);
	return 0;
}

/* Tells the caller that only started of wanted workers run, and why. */
static void note_fewer(struct run *r, unsigned started, unsigned wanted,
                       int err)
{
	const struct pmerge_callbacks *cb = &r->m.cfg->cb;

	if (cb->workers_reduced)
		cb->workers_reduced(cb->user, started, wanted, err);
}

/*
 * The placement table and each worker's buffers.  When memory runs out
 * after the first worker's buffers, the merge runs with the workers that
 * have theirs (the inputs are claimed by whoever is free, so any number
 * of workers merges them all).
 */
static int alloc_workers(struct run *r)
{
	const struct pmerge_config *cfg = r->m.cfg;
	struct pm_merge *m = &r->m;

	if (cfg->record_placement && m->unit == PMERGE_UNIT_FILE) {
		m->placement = calloc(cfg->n_inputs ? cfg->n_inputs : 1,
		                      sizeof(*m->placement));
		if (!m->placement)
			return -ENOMEM;
		for (size_t i = 0; i < cfg->n_inputs; i++)
			m->placement[i].offset = UINT64_MAX;
	}
	if (cfg->decompress && !cfg->sorted.enabled) {
		int rc = pm_decode_plan(m);
		if (rc < 0)
			return rc;
	}
	if (cfg->sorted.enabled) {
		int rc = pm_sorted_setup(m, r->plan.jobs, &m->n_workers);
		if (rc < 0)
			return rc;
	}
	/* Runs of inputs in flight stay within the turn's PMERGE_JOBS_MAX
	 * parking slots: at most one run per worker.  With -d, every input
	 * goes through the decoding reader: no runs of raw bytes. */
	m->run_max =
	    m->unit == PMERGE_UNIT_FILE && !cfg->decompress && m->n_workers
	        ? PMERGE_JOBS_MAX / m->n_workers
	        : 1;
	if (m->run_max > PM_RUN_MAX)
		m->run_max = PM_RUN_MAX;
	atomic_store(&m->active, m->n_workers);
	if (!cfg->jobs && m->run_max > 1 && !cfg->tail) {
		/* README, "Choosing -j": while the inputs come from the page
		 * cache, one worker more than there are processors. */
		cpu_set_t set;
		long cpus = sched_getaffinity(0, sizeof(set), &set) == 0
		                ? CPU_COUNT(&set)
		                : sysconf(_SC_NPROCESSORS_ONLN);

		if (cpus > 0 && (unsigned long)cpus + 1 < m->n_workers)
			atomic_store(&m->active, (unsigned)cpus + 1);
	}
	/* Without it the small inputs are looked at once more (fstat): no
	 * failure, so it is not one. */
	if (m->run_max > 1 && !cfg->tail && !pm_output_in_place(m)) {
		m->known_size = malloc(cfg->n_inputs * sizeof(*m->known_size));
		if (m->known_size)
			memset(m->known_size, 0xff,
			       cfg->n_inputs * sizeof(*m->known_size));
	}
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
			w->buf = NULL;
		else if (!(w->iov = calloc(w->iov_max, sizeof(*w->iov))))
			free(w->buf), w->buf = NULL;
		if (!w->buf && i == 0) {
			r->res->setup_bytes = m->bufsize;
			return -ENOMEM;
		}
		if (!w->buf) {
			note_fewer(r, i, m->n_workers, ENOMEM);
			m->n_workers = i;
		}
	}
	return 0;
}

/* Whether an input may be a stream: then the stream reader is started. */
static bool has_stream(struct pm_merge *m)
{
	const struct pmerge_config *cfg = m->cfg;
	struct stat st;

	for (size_t i = 0; i < cfg->n_inputs; i++) {
		bool is_stdin = strcmp(cfg->inputs[i], "-") == 0;
		int rc = is_stdin ? fstat(STDIN_FILENO, &st)
		                  : stat(cfg->inputs[i], &st);

		if (rc == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
			return true;
	}
	return false;
}

/* The stream reader: with -F, or for the streams of a line merge. */
static int init_streams(struct run *r)
{
	struct pm_merge *m = &r->m;

	if (m->cfg->follow ||
	    (m->unit == PMERGE_UNIT_LINE && m->order == PMERGE_ORDER_ARRIVAL &&
	     !m->sorted && has_stream(m)))
		return pm_streams_create(m, &m->live);
	return 0;
}

static int setup(struct run *r)
{
	int rc = open_output(r);

	if (rc == 0)
		rc = init_sync(r);
	if (rc == 0)
		rc = setup_failed(r, PMERGE_SETUP_MEMORY, alloc_workers(r));
	if (rc == 0)
		rc = setup_failed(r, PMERGE_SETUP_STREAMS, init_streams(r));
	if (rc == 0)
		rc = pm_loop_start(&r->loop, &r->res->setup_failed);
	return rc;
}

unsigned pm_free_descriptors(void)
{
	struct rlimit rl;
	unsigned n = 0;

	/* Counting costs a system call per descriptor: only where the
	 * limit is low enough to matter. */
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > 4 * PMERGE_JOBS_MAX)
		return UINT_MAX;
	for (int fd = 0; fd < (int)rl.rlim_cur; fd++)
		n += fcntl(fd, F_GETFD) < 0 && errno == EBADF;
	return n;
}

/*
 * Under a low descriptor limit (ulimit -n), at most as many workers as
 * can have an input open at once (two descriptors each with -d: the input
 * and a spill awaiting its turn), at least one: with none free, its
 * input fails with EMFILE and is reported by name.  Everything else that
 * needs a descriptor is open by now.  The -m merger and writer threads
 * open no input.
 */
static void fit_descriptors(struct run *r)
{
	struct pm_merge *m = &r->m;
	unsigned fixed = m->sorted ? 2 : 0, per = m->cfg->decompress ? 2 : 1;
	unsigned readers = m->n_workers - fixed, fit;

	if (m->n_workers <= fixed + 1)
		return;
	fit = pm_free_descriptors() / per;
	if (fit >= readers)
		return;
	fit = fit ? fit : 1;
	note_fewer(r, fixed + fit, m->n_workers, EMFILE);
	for (unsigned i = fixed + fit; i < m->n_workers; i++) {
		free(m->workers[i].buf);
		free(m->workers[i].iov);
	}
	m->n_workers = fixed + fit;
	if (m->live)
		m->live->w.id = m->n_workers;
}

/*
 * Starts the threads.  When the system will not create more of them
 * (EAGAIN: ulimit -u, memory for stacks), the merge goes on with those
 * started, as long as it has what it cannot do without: one worker, or
 * with -m the merger, the writer and one reader.
 */
static int start_workers(struct run *r)
{
	struct pm_merge *m = &r->m;
	unsigned least = m->sorted ? (m->n_workers > 2 ? 3 : 2) : 1;
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
			/* Those never started count as done at once. */
			atomic_fetch_add(&m->workers_done, m->n_workers - i);
			if (i >= least) {
				note_fewer(r, i, m->n_workers, -rc);
				rc = 0;
				break;
			}
			r->res->setup_index = i + 1;
			r->res->setup_count = m->n_workers;
			setup_failed(r, PMERGE_SETUP_THREAD, rc);
			pm_merge_cancel(m);
			break;
		}
		w->started = true;
	}
	if (rc == 0 && m->live && (rc = pm_streams_start(m->live)) < 0) {
		setup_failed(r, PMERGE_SETUP_STREAM_THREAD, rc);
		pm_merge_cancel(m);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

void pm_merge_join(struct pm_merge *m)
{
	for (unsigned i = 0; i < m->n_workers; i++)
		if (m->workers[i].started)
			pthread_join(m->workers[i].tid, NULL);
	pm_streams_join(m->live);
}

bool pm_merge_done(struct pm_merge *m)
{
	return atomic_load(&m->workers_done) == m->n_workers &&
	       pm_streams_done(m->live);
}

/* Adds one appending thread's counters to the merge's totals. */
static void fold_stats(struct run *r, const struct pm_worker_stats *st,
                       struct pm_hist *wait, struct pm_hist *hold)
{
	struct pmerge_result *res = r->res;

	/* Without count_records some paths counted and others did not. */
	if (r->m.cfg->count_records)
		res->records += st->records;
	res->lock.acquisitions += st->acquisitions;
	res->lock.contended += st->contended;
	if (st->max_depth > res->lock.max_depth)
		res->lock.max_depth = st->max_depth;
	pm_hist_merge(wait, &st->wait);
	pm_hist_merge(hold, &st->hold);
	if (!r->m.lock.detailed)
		wait->total += atomic_load(&st->wait_ns);
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
			    .records = m->cfg->count_records ? st->records : 0,
			    .acquisitions = st->acquisitions,
			    .contended = st->contended,
			    .wait_ns = atomic_load(&st->wait_ns),
			};
		fold_stats(r, st, &wait, &hold);
		sum += (double)st->acquisitions;
		sumsq += (double)st->acquisitions * (double)st->acquisitions;
	}
	/* The stream reader appends like a worker, yet is not one of -j. */
	if (m->live)
		fold_stats(r, &m->live->w.st, &wait, &hold);
	pm_hist_summary(&wait, &res->lock.wait_ns);
	pm_hist_summary(&hold, &res->lock.hold_ns);
	res->lock.max_holders = atomic_load(&m->lock.max_holders);
	res->lock.fairness = pm_jain_index(sum, sumsq, m->n_workers);
	res->bytes = atomic_load(&m->bytes_done);
	res->failed_inputs = atomic_load(&m->failed_inputs);
	res->placement = m->placement;
	m->placement = NULL;
	res->decoded = m->decoded;
	m->decoded = NULL;
	pm_sorted_gather(m, &res->sorted);
}

/* The output is final when everything went well, else it is removed. */
static void settle_output(struct run *r, int rc)
{
	struct pm_merge *m = &r->m;
	struct pmerge_result *res = r->res;

	/* The commit point decides: a stop signal before it removes the
	 * output; from it on, none can (pm_loop_settle). */
	pm_loop_collect(&r->loop);
	if (r->loop.signal || res->output_error || rc < 0 ||
	    (m->sink.kind == PM_SINK_REPLACE && res->failed_inputs)) {
		pm_sink_abort(&m->sink);
		return;
	}
	int crc = pm_sink_commit(&m->sink);
	if (crc < 0)
		res->output_error = -crc;
	else
		res->output_committed = m->sink.kind == PM_SINK_REPLACE;
}

/* Undoes what setup reached, and nothing else. */
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
	free(m->decoded);
	free(m->schedule);
	free(m->known_size);
	pm_compress_finish(m);
	pm_sorted_free(m);
	pm_streams_destroy(m->live);
	pm_lock_destroy(&m->lock);
	if (m->turn_on)
		pm_order_destroy(&m->turn);
	if (m->tail_mu_on)
		pthread_mutex_destroy(&m->tail_mu);
	if (m->stdin_mu_on)
		pthread_mutex_destroy(&m->stdin_mu);
	if (m->resolve_on) {
		pthread_mutex_destroy(&m->resolve_mu);
		pthread_cond_destroy(&m->resolve_cv);
	}
	free(m->streams);
	free(m->after);
	free(m->done);
	if (m->wake[0] >= 0)
		close(m->wake[0]);
	pm_sink_close(&m->sink);
}

int pmerge_run(const struct pmerge_config *cfg, struct pmerge_result *result)
{
	struct run *r;
	struct pm_merge *m;
	int rc;

	memset(result, 0, sizeof(*result));
	r = calloc(1, sizeof(*r));
	if (!r) {
		result->setup_failed = PMERGE_SETUP_MEMORY;
		return -ENOMEM;
	}
	m = &r->m;
	r->res = result;
	rc = pmerge_resolve(cfg, &r->plan);
	if (rc < 0) {
		free(r);
		return rc;
	}
	init_state(r, cfg);
	rc = setup(r);
	if (rc < 0) {
		/* Nothing was merged: no temporary output may stay. */
		pm_sink_abort(&m->sink);
		goto out;
	}
	/* The loop's watchers exist: a signal held back since the temporary
	 * file was made reaches them now. */
	pm_sink_release(&m->sink);
	fit_descriptors(r);
	rc = start_workers(r);
	pm_loop_run(&r->loop);
	result->wall_s = (double)(pm_now_ns() - r->loop.t0) / 1e9;
	result->signal = r->loop.signal;
	if (r->loop.abandoned) {
		/* Threads may still touch m: keep it, the process is ending. */
		result->workers_abandoned = true;
		pm_sink_abort(&m->sink);
		return -EINTR;
	}
	gather(r);
	int crc = pm_compress_finish(m);
	int expected = 0;
	if (crc < 0)
		atomic_compare_exchange_strong(&m->output_error, &expected,
		                               -crc);
	result->output_error = atomic_load(&m->output_error);
	settle_output(r, rc);
	result->signals_held = pm_loop_settle(
	    &r->loop, result->output_committed, &result->signals_restore);
	result->signal = r->loop.signal;
	if (cfg->progress_interval_ms && cfg->cb.progress) {
		struct pmerge_progress p;
		pm_loop_snapshot(&r->loop, &p);
		cfg->cb.progress(cfg->cb.user, &p);
	}
	if (rc == 0) {
		if (r->loop.signal)
			rc = -EINTR;
		else if (result->output_error)
			rc = -result->output_error;
		else if (result->failed_inputs)
			rc = -EIO;
	}
out:
	pm_loop_close(&r->loop);
	teardown(r);
	free(r);
	return rc;
}

void pmerge_signals_release(struct pmerge_result *result)
{
	if (result->signals_held)
		pthread_sigmask(SIG_SETMASK, &result->signals_restore, NULL);
	result->signals_held = false;
}

void pmerge_result_free(struct pmerge_result *result)
{
	if (!result)
		return;
	free(result->workers);
	free(result->placement);
	free(result->decoded);
	result->workers = NULL;
	result->placement = NULL;
	result->decoded = NULL;
}
