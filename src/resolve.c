/*
 * Before merging, the workers stat every input once (shared out among
 * them, so that a cold directory of many files is looked at in parallel):
 * with a replaced output, an input that is missing, dangling or a directory
 * fails the all-or-nothing merge before anything is copied; and inputs
 * that are one stream under several names are linked, so that such a
 * stream is read by one worker after another, in input order, as cat reads
 * it, and never by two at once.  Where the workers read runs of small
 * inputs and the output cannot be one of them, each regular input's size
 * is kept (m->known_size), so that its open needs no fstat.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The bits of m->done[i]. */
#define CHAINED 1 /* the input is a stream named more than once */
#define READ    2 /* and it has been read */

bool pm_input_chained(const struct pm_merge *m, size_t idx)
{
	return m->done && (m->done[idx] & CHAINED);
}

bool pm_input_repeats(const struct pm_merge *m, size_t idx)
{
	return m->after && m->after[idx] != SIZE_MAX;
}

static int id_cmp(const void *a, const void *b)
{
	const struct pm_stream_id *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Remembers a stream input; false when out of memory. */
static bool note_stream(struct pm_merge *m, const struct stat *st, size_t idx)
{
	bool ok = true;

	pthread_mutex_lock(&m->resolve_mu);
	if (m->n_streams == m->cap_streams) {
		size_t cap = m->cap_streams ? 2 * m->cap_streams : 16;
		struct pm_stream_id *s =
		    realloc(m->streams, cap * sizeof(*m->streams));
		if (s) {
			m->streams = s;
			m->cap_streams = cap;
		}
		ok = s != NULL;
	}
	if (ok)
		m->streams[m->n_streams++] = (struct pm_stream_id){
		    .dev = st->st_dev, .ino = st->st_ino, .idx = idx};
	pthread_mutex_unlock(&m->resolve_mu);
	return ok;
}

/*
 * Whether the permission bits alone say that the effective user may read
 * st: the owner's bits are the owner's whatever ACL the file has.  For
 * anyone else (group, other, a named user or group of an ACL) the kernel
 * is asked.  A security module may still refuse at the open: the input
 * then fails at its turn, and a replaced output stays all or nothing.
 */
static bool owner_may_read(const struct pm_merge *m, const struct stat *st)
{
	return st->st_uid == m->euid && (st->st_mode & S_IRUSR);
}

/*
 * Looks at input idx: one stat, no open (an open of every input would cost
 * as much as the merge of many small ones, and opening a FIFO or a device
 * is not free of effects).  Returns 0, a positive errno that fails the
 * input now (only when the output is replaced: otherwise the input is
 * reported when its turn comes, as cat would), or -ENOMEM.  With a
 * replaced output, an input that exists but may not be read (EACCES) is
 * found here too, by the kernel's own permission check (faccessat with
 * the effective ids: modes, ACLs, security modules) unless the owner's bits
 * settle it, so that it fails the merge before anything is copied.
 */
static int check_input(struct pm_merge *m, size_t idx)
{
	const char *name = m->cfg->inputs[idx];
	bool strict = m->sink.kind == PM_SINK_REPLACE;
	bool is_stdin = strcmp(name, "-") == 0;
	struct stat st;

	if ((is_stdin ? fstat(STDIN_FILENO, &st) : stat(name, &st)) < 0)
		return strict ? errno : 0;
	if (S_ISDIR(st.st_mode))
		return strict ? EISDIR : 0;
	if (strict && !is_stdin && !owner_may_read(m, &st) &&
	    faccessat(AT_FDCWD, name, R_OK, AT_EACCESS) < 0 && errno != ENOSYS)
		return errno;
	/* "-" shares its offset with whoever gave it to us, even regular. */
	if (is_stdin || !S_ISREG(st.st_mode)) {
		if (!note_stream(m, &st, idx))
			return -ENOMEM;
		/* A stream may keep its reader waiting: let every worker in. */
		pm_gate_open(m);
	}
	/* Read by the workers once every input is checked (resolve_mu). */
	if (m->known_size && !is_stdin && S_ISREG(st.st_mode))
		m->known_size[idx] = (uint64_t)st.st_size;
	return 0;
}

/*
 * The last input is checked, so no other worker touches the list any more:
 * link the repeated streams, decide whether the merge goes on, and only
 * then let the waiting workers see the result.
 */
static void finish(struct pm_merge *m)
{
	size_t n = m->cfg->n_inputs;
	bool no_memory = false;

	/* qsort() must not be given the NULL of an empty list. */
	if (m->n_streams > 1)
		qsort(m->streams, m->n_streams, sizeof(*m->streams), id_cmp);
	for (size_t i = 1; i < m->n_streams && !no_memory; i++) {
		const struct pm_stream_id *a = &m->streams[i - 1];
		const struct pm_stream_id *b = &m->streams[i];

		if (a->dev != b->dev || a->ino != b->ino)
			continue;
		if (!m->after) {
			m->after = malloc(n * sizeof(*m->after));
			m->done = calloc(n, 1);
			no_memory = !m->after || !m->done;
			if (no_memory)
				break;
			memset(m->after, 0xff, n * sizeof(*m->after));
		}
		m->after[b->idx] = a->idx;
		m->done[a->idx] |= CHAINED;
		m->done[b->idx] |= CHAINED;
	}
	free(m->streams);
	m->streams = NULL;
	m->n_streams = m->cap_streams = 0;
	if (no_memory) {
		int expected = 0;
		atomic_compare_exchange_strong(&m->output_error, &expected,
		                               ENOMEM);
	}
	/* All or nothing: a replaced output with a bad input is not made. */
	if (no_memory || (m->sink.kind == PM_SINK_REPLACE &&
	                  atomic_load(&m->failed_inputs) > 0))
		pm_merge_cancel(m);
	pthread_mutex_lock(&m->resolve_mu);
	m->resolved = true;
	pthread_cond_broadcast(&m->resolve_cv);
	pthread_mutex_unlock(&m->resolve_mu);
}

int pm_worker_resolve(struct pm_merge *m)
{
	return pm_worker_resolve_watched(m, NULL);
}

/* Checks input idx, reporting what fails it. */
static void check_one(struct pm_merge *m, size_t idx)
{
	const struct pmerge_callbacks *cb = &m->cfg->cb;
	int err = atomic_load_explicit(&m->cancelled, memory_order_relaxed)
	              ? 0
	              : check_input(m, idx);

	if (err < 0) {
		int expected = 0;
		atomic_compare_exchange_strong(&m->output_error, &expected,
		                               -err);
		pm_merge_cancel(m);
	} else if (err > 0) {
		atomic_fetch_add(&m->failed_inputs, 1);
		if (cb->input_error)
			cb->input_error(cb->user, m->cfg->inputs[idx], err);
	}
}

int pm_worker_resolve_watched(struct pm_merge *m, struct pm_worker *w)
{
	size_t n = m->cfg->n_inputs, idx;
	/*
	 * A few inputs at a time: two shared counters touched per input
	 * cost more than its stat when the files are cached.  Small steps
	 * for few inputs, so that cold stats still overlap.
	 */
	size_t step = n / (8 * (size_t)(m->n_workers ? m->n_workers : 1));
	int rc = 0;

	if (step > PM_GATE_LOOK)
		step = PM_GATE_LOOK;
	if (step < 1)
		step = 1;
	if (w)
		pm_gate_watch(w, true);
	while ((idx = atomic_fetch_add(&m->next_check, step)) < n) {
		size_t end = n - idx < step ? n : idx + step;

		for (size_t i = idx; i < end; i++)
			check_one(m, i);
		if (w)
			pm_gate_watch(w, false);
		if (atomic_fetch_add(&m->checked, end - idx) + (end - idx) == n)
			finish(m);
	}
	pthread_mutex_lock(&m->resolve_mu);
	while (!m->resolved && !atomic_load(&m->cancelled))
		pthread_cond_wait(&m->resolve_cv, &m->resolve_mu);
	pthread_mutex_unlock(&m->resolve_mu);
	if (atomic_load(&m->cancelled))
		rc = -ECANCELED;
	return rc;
}

int pm_input_wait(struct pm_merge *m, size_t idx)
{
	int rc = 0;

	if (!m->after || m->after[idx] == SIZE_MAX)
		return 0;
	pthread_mutex_lock(&m->resolve_mu);
	while (!(m->done[m->after[idx]] & READ) && !atomic_load(&m->cancelled))
		pthread_cond_wait(&m->resolve_cv, &m->resolve_mu);
	if (!(m->done[m->after[idx]] & READ))
		rc = -ECANCELED;
	pthread_mutex_unlock(&m->resolve_mu);
	return rc;
}

void pm_input_done(struct pm_merge *m, size_t idx)
{
	if (!pm_input_chained(m, idx))
		return;
	pthread_mutex_lock(&m->resolve_mu);
	m->done[idx] |= READ;
	pthread_cond_broadcast(&m->resolve_cv);
	pthread_mutex_unlock(&m->resolve_mu);
}
