/*
 * The append protocol: how the workers put bytes into the one output, and
 * in which order.  Everything that decides where a byte lands is here:
 * spans, turns, the hand-over of parked inputs, tail_mu and the sink's end.
 * worker.c only reads and frames; sink.c only writes at the offsets it is
 * given.  HACKING.md walks through it with a picture.
 *
 * Spans.  An append is a span of the output, taken inside one outer hold of
 * the lock strategy.  A closed span has a known length; an open span (a
 * stream of unknown length in --unit=file, a record longer than the buffer
 * in --unit=line) has not.
 *   - One holder at a time (mutex, rlock, spin, sem:1): the holder owns the
 *     output; its span starts at sink.end and sink.end moves past it at
 *     span_end.
 *   - Several holders (sem:N, "concurrent"): a closed span reserves its
 *     range under tail_mu (sink.end += len) and is then written with
 *     positioned writes beside the others; an open span keeps tail_mu until
 *     it ends, so that it stays contiguous and nobody reserves past it.
 *
 * Turns (--order=input).  Input i appends only after input i-1 has fixed
 * its place: pm_order_wait() before the first span, pm_append_pass() once
 * the place is fixed (after the last span, or with sem:N as soon as the
 * whole input's range is reserved).  A worker whose whole input is in its
 * buffer before its turn parks it (pm_order_offer) instead of waiting;
 * whoever passes the turn to a parked input writes it on its owner's
 * behalf (pm_order_pass), so a run of small inputs goes out without a
 * thread wake-up between each two.  A worker may also take a run of
 * consecutive small inputs idx..last at once and append them as one unit
 * (pm_append_init_run): one turn, one hold, one write; it takes idx's turn
 * and passes it to last + 1 (pm_order_pass_run).  Runs in flight, one per
 * worker, span at most PMERGE_JOBS_MAX indices, the parking slots.
 *
 * Invariants (asserted in debug builds):
 *   I1  sink.end only grows, and only here: under the exclusive hold of a
 *       one-holder strategy, or under tail_mu.  (The sorted merge, -m,
 *       has one merger thread that is the only writer; it reserves with
 *       pm_sink_reserve() in sorted.c and takes no part in this protocol.)
 *   I2  With one holder at a time, nobody moves sink.end between a span's
 *       begin and end: at span_end it still equals the span's start.
 *   I3  A span never writes past its reservation.
 *   I4  The turn is awaited (pm_order_wait, pm_order_offer) holding no
 *       lock at all.
 *   I5  A worker holds at most two outer holds at once, and the second only
 *       while it holds the turn and not tail_mu: it is writing a parked
 *       input for its owner during a hand-over.  That is safe under sem:N
 *       because every other holder either writes a reserved range or an
 *       open span, neither of which waits for anything this worker holds,
 *       so the second permit is always released to it.  (With one holder
 *       at a time the turn is passed only after the outer hold is left, so
 *       the second hold never happens there.)
 *
 * Lock order (a lock may be taken only while holding those before it):
 *     stdin_mu  ->  strategy lock (outer hold, at most 2)  ->  tail_mu
 *               ->  turn.mu (inside pm_order_*, a leaf: never held while
 *                   another is taken)
 */
#include "internal.h"

#include <assert.h>
#include <errno.h>

/*
 * What the calling thread holds, for the lock-order assertions.  Debug
 * builds only: with NDEBUG the bookkeeping and the checks compile away.
 */
#ifndef NDEBUG
static _Thread_local struct {
	bool stdin_mu, tail_mu;
	unsigned holds; /* outer holds of the strategy lock */
} held;
#define HELD(stmt)                                                             \
	do {                                                                   \
		stmt;                                                          \
	} while (0)
#else
#define HELD(stmt)                                                             \
	do {                                                                   \
	} while (0)
#endif

/* I4: nothing is held while the turn is awaited. */
#define ASSERT_HOLDS_NOTHING()                                                 \
	assert(!held.stdin_mu && !held.tail_mu && held.holds == 0)

/* ------------------------------------------------------------ the turn */

static pthread_cond_t *cv_of(struct pm_order *o, size_t idx)
{
	return &o->cv[idx % PM_ORDER_SLOTS];
}

int pm_order_init(struct pm_order *o)
{
	int rc = pthread_mutex_init(&o->mu, NULL);

	if (rc)
		return -rc;
	for (unsigned i = 0; i < PM_ORDER_SLOTS; i++) {
		rc = pthread_cond_init(&o->cv[i], NULL);
		if (rc) {
			while (i-- > 0)
				pthread_cond_destroy(&o->cv[i]);
			pthread_mutex_destroy(&o->mu);
			return -rc;
		}
	}
	o->turn = 0;
	o->cancelled = false;
	for (unsigned i = 0; i < PMERGE_JOBS_MAX; i++)
		o->parked[i] = NULL;
	return 0;
}

void pm_order_destroy(struct pm_order *o)
{
	if (!o)
		return;
	for (unsigned i = 0; i < PM_ORDER_SLOTS; i++)
		pthread_cond_destroy(&o->cv[i]);
	pthread_mutex_destroy(&o->mu);
}

int pm_order_wait(struct pm_order *o, size_t idx)
{
	int rc = 0;

	pthread_mutex_lock(&o->mu);
	while (o->turn != idx && !o->cancelled)
		pthread_cond_wait(cv_of(o, idx), &o->mu);
	if (o->turn != idx)
		rc = -ECANCELED;
	pthread_mutex_unlock(&o->mu);
	return rc;
}

struct pm_parked *pm_order_pass_run(struct pm_order *o, size_t idx, size_t last)
{
	struct pm_parked **mine = &o->parked[idx % PMERGE_JOBS_MAX];
	struct pm_parked **slot = &o->parked[(last + 1) % PMERGE_JOBS_MAX];
	struct pm_parked *next = NULL;

	pthread_mutex_lock(&o->mu);
	/* idx itself may have been parked and written by the caller: its
	 * owner may leave now, even when the merge is being cancelled. */
	if (*mine && (*mine)->idx == idx) {
		(*mine)->state = PM_PARKED_DONE;
		*mine = NULL;
		pthread_cond_broadcast(cv_of(o, idx));
	}
	if (o->turn == idx) {
		o->turn = last + 1;
		if (!o->cancelled && *slot && (*slot)->idx == last + 1 &&
		    (*slot)->state == PM_PARKED_READY) {
			next = *slot;
			next->state = PM_PARKED_TAKEN;
		} else {
			pthread_cond_broadcast(cv_of(o, last + 1));
		}
	}
	pthread_mutex_unlock(&o->mu);
	return next;
}

struct pm_parked *pm_order_pass(struct pm_order *o, size_t idx)
{
	return pm_order_pass_run(o, idx, idx);
}

int pm_order_offer(struct pm_order *o, struct pm_parked *p)
{
	struct pm_parked **slot = &o->parked[p->idx % PMERGE_JOBS_MAX];
	int rc;

	pthread_mutex_lock(&o->mu);
	if (o->turn == p->idx && !o->cancelled) {
		pthread_mutex_unlock(&o->mu);
		return 0;
	}
	p->state = PM_PARKED_READY;
	*slot = p;
	for (;;) {
		if (p->state == PM_PARKED_DONE) {
			rc = 1;
			break;
		}
		if (o->cancelled) {
			rc = -ECANCELED;
			break;
		}
		if (p->state == PM_PARKED_READY && o->turn == p->idx) {
			rc = 0; /* our turn, and nobody took it */
			break;
		}
		pthread_cond_wait(cv_of(o, p->idx), &o->mu);
	}
	/*
	 * An input taken by another worker is finished once the turn moves
	 * past it; wait for that too before the buffer is reused.
	 */
	while (rc == -ECANCELED && p->state == PM_PARKED_TAKEN)
		pthread_cond_wait(cv_of(o, p->idx), &o->mu);
	if (p->state == PM_PARKED_DONE)
		rc = 1; /* written after all: say so, whatever woke us first */
	if (*slot == p)
		*slot = NULL;
	pthread_mutex_unlock(&o->mu);
	return rc;
}

void pm_order_cancel(struct pm_order *o)
{
	pthread_mutex_lock(&o->mu);
	o->cancelled = true;
	for (unsigned i = 0; i < PM_ORDER_SLOTS; i++)
		pthread_cond_broadcast(&o->cv[i]);
	pthread_mutex_unlock(&o->mu);
}

/* ------------------------------------------------------------ the spans */

void pm_append_init(struct pm_append *a, struct pm_worker *w, size_t idx)
{
	*a = (struct pm_append){.w = w, .m = w->m, .idx = idx, .last = idx};
}

void pm_append_init_run(struct pm_append *a, struct pm_worker *w, size_t idx,
                        size_t last, const uint64_t *lens)
{
	*a = (struct pm_append){
	    .w = w, .m = w->m, .idx = idx, .last = last, .lens = lens};
}

int pm_output_failed(struct pm_merge *m, int rc)
{
	int expected = 0;

	if (rc != -ECANCELED) {
		atomic_compare_exchange_strong(&m->output_error, &expected,
		                               -rc);
		pm_merge_cancel(m);
	}
	return rc;
}

int pm_append_turn(struct pm_append *a)
{
	if (a->m->order != PMERGE_ORDER_INPUT || a->have_turn)
		return 0;
	ASSERT_HOLDS_NOTHING();
	int rc = pm_order_wait(&a->m->turn, a->idx);
	a->have_turn = rc == 0;
	return rc;
}

bool pm_append_may_go(struct pm_append *a)
{
	struct pm_order *o = &a->m->turn;
	bool go;

	if (a->m->order != PMERGE_ORDER_INPUT || a->have_turn)
		return true;
	pthread_mutex_lock(&o->mu);
	go = o->turn == a->idx || o->cancelled;
	pthread_mutex_unlock(&o->mu);
	return go;
}

static void span_write(struct pm_append *a, const char *buf, size_t len);

void pm_append_pass(struct pm_append *a)
{
	struct pm_merge *m = a->m;

	if (m->order != PMERGE_ORDER_INPUT || a->turn_passed)
		return;
	a->turn_passed = true;
	if (pm_append_turn(a) < 0)
		return;
	struct pm_parked *next = pm_order_pass_run(&m->turn, a->idx, a->last);
	while (next) {
		/* Written here on its owner's behalf: it has the turn, and
		 * passing it on is this loop's business (I5). */
		struct pm_append h = {.w = a->w,
		                      .m = m,
		                      .idx = next->idx,
		                      .last = next->last,
		                      .lens = next->lens,
		                      .have_turn = true,
		                      .turn_passed = true};
		if (next->buf)
			span_write(&h, next->buf, next->len);
		next = pm_order_pass_run(&m->turn, next->idx, next->last);
	}
}

int pm_span_begin(struct pm_append *a, uint64_t len)
{
	struct pm_merge *m = a->m;
	int rc = pm_append_turn(a);

	if (rc < 0)
		return rc;
	/* I5: a second hold only for a parked input, with the turn. */
	assert(!held.tail_mu);
	assert(held.holds == 0 || (held.holds == 1 && a->have_turn &&
	                           a->turn_passed && m->concurrent));
	pm_lock_enter(&m->lock, &a->w->st);
	HELD(held.holds++);
	if (m->concurrent) {
		pthread_mutex_lock(&m->tail_mu);
		HELD(held.tail_mu = true);
		a->off =
		    atomic_load_explicit(&m->sink.end, memory_order_relaxed);
		if (len != UINT64_MAX) {
			assert(a->off + len >= a->off); /* I1 */
			atomic_store_explicit(&m->sink.end, a->off + len,
			                      memory_order_relaxed);
			HELD(held.tail_mu = false);
			pthread_mutex_unlock(&m->tail_mu);
			/*
			 * In --unit=file a closed span is the whole input: with
			 * its range reserved, the next input may reserve and
			 * write beside it.  (A line batch is not the last.)
			 */
			if (m->unit == PMERGE_UNIT_FILE)
				pm_append_pass(a);
		} else {
			a->tail = true;
		}
	} else {
		a->off =
		    atomic_load_explicit(&m->sink.end, memory_order_relaxed);
	}
	a->span_start = a->off;
	a->span_len = len;
	return 0;
}

void pm_span_end(struct pm_append *a)
{
	struct pm_merge *m = a->m;
	uint64_t written = a->off - a->span_start;

	assert(written <= a->span_len); /* I3 */
	if (!m->concurrent || a->tail) {
		/* I2: nobody else moved the end while we held the output. */
		assert(
		    atomic_load_explicit(&m->sink.end, memory_order_relaxed) ==
		    a->span_start);
		atomic_store_explicit(&m->sink.end, a->off,
		                      memory_order_relaxed);
	}
	if (a->tail) {
		HELD(held.tail_mu = false);
		pthread_mutex_unlock(&m->tail_mu);
		a->tail = false;
	}
	HELD(held.holds--);
	pm_lock_leave(&m->lock, &a->w->st);
	if (m->placement && !a->lens) {
		m->placement[a->idx].offset = a->span_start;
		m->placement[a->idx].length += written;
	} else if (m->placement) {
		/* A run: its inputs lie one after another in the span. */
		uint64_t at = a->span_start;
		for (size_t i = a->idx; i <= a->last; i++) {
			m->placement[i].offset = at;
			m->placement[i].length += a->lens[i - a->idx];
			at += a->lens[i - a->idx];
		}
	}
}

void pm_span_count(struct pm_append *a, uint64_t n)
{
	a->off += n;
	a->w->st.bytes += n;
	atomic_fetch_add_explicit(&a->m->bytes_done, n, memory_order_relaxed);
}

int pm_span_put_iov(struct pm_append *a, struct iovec *iov, int cnt,
                    uint64_t len)
{
	struct pm_merge *m = a->m;
	int rc;

	assert(held.holds > 0);
	pm_lock_reenter(&m->lock, &a->w->st, &a->depth);
	rc = pm_sink_writev(&m->sink, iov, cnt, a->off);
	pm_lock_reexit(&m->lock, &a->depth);
	if (rc < 0)
		return pm_output_failed(m, rc);
	pm_span_count(a, len);
	return 0;
}

int pm_span_put_from(struct pm_append *a, const char *buf, size_t len, int in,
                     uint64_t in_off)
{
	struct pm_merge *m = a->m;
	int rc;

	assert(held.holds > 0);
	pm_lock_reenter(&m->lock, &a->w->st, &a->depth);
	rc = pm_sink_put_from(&m->sink, buf, len, in, in_off, a->off);
	pm_lock_reexit(&m->lock, &a->depth);
	if (rc < 0)
		return pm_output_failed(m, rc);
	pm_span_count(a, len);
	return 0;
}

int pm_span_move(struct pm_append *a, int in, uint64_t in_off, size_t len,
                 uint64_t *moved, bool *in_failed)
{
	struct pm_merge *m = a->m;
	struct pm_worker *w = a->w;
	uint64_t more = 0;
	size_t n = 0;
	int rc;

	assert(held.holds > 0);
	assert(len <= a->span_len - (a->off - a->span_start)); /* I3 */
	*in_failed = false;
	pm_lock_reenter(&m->lock, &w->st, &a->depth);
	rc = pm_sink_move(&m->sink, in, in_off, len, a->off, &n);
	if (rc < 0) {
		in_off += n;
		rc = pm_sink_copy(&m->sink, in, &in_off, len - n, a->off + n,
		                  w->buf, w->bufsize, &more, in_failed,
		                  &m->cancelled);
	}
	pm_lock_reexit(&m->lock, &a->depth);
	*moved = n + more;
	pm_span_count(a, *moved);
	return rc;
}

int pm_span_put(struct pm_append *a, const void *buf, size_t len)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};

	return len ? pm_span_put_iov(a, &iov, 1, len) : 0;
}

/* Writes buf[0, len) as one closed span. */
static void span_write(struct pm_append *a, const char *buf, size_t len)
{
	if (pm_span_begin(a, len) == 0) {
		pm_span_put(a, buf, len);
		pm_span_end(a);
	}
}

void pm_append_whole(struct pm_append *a, const char *buf, size_t len)
{
	if (a->m->order == PMERGE_ORDER_INPUT && !a->have_turn) {
		struct pm_parked p = {.idx = a->idx,
		                      .last = a->last,
		                      .buf = buf,
		                      .len = len,
		                      .lens = a->lens};

		ASSERT_HOLDS_NOTHING();
		int rc = pm_order_offer(&a->m->turn, &p);
		if (rc != 0) {
			/* Written by another worker, or cancelled. */
			a->turn_passed = true;
			return;
		}
		a->have_turn = true;
	}
	if (buf)
		span_write(a, buf, len);
}

void pm_append_stdin_lock(struct pm_append *a)
{
	assert(!held.stdin_mu && !held.tail_mu && held.holds == 0);
	pthread_mutex_lock(&a->m->stdin_mu);
	HELD(held.stdin_mu = true);
}

void pm_append_stdin_unlock(struct pm_append *a)
{
	HELD(held.stdin_mu = false);
	pthread_mutex_unlock(&a->m->stdin_mu);
}
