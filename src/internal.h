/*
 * Internal interfaces of the engine.  Not installed; the unit tests include
 * this header to reach the parts directly.  Every symbol carries the pm_
 * prefix.
 */
#ifndef PMERGE_INTERNAL_H
#define PMERGE_INTERNAL_H

#include "pmerge.h"

#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <uv.h>

#define PM_CACHELINE 64

/* ------------------------------------------------------------------ time */

/* Monotonic nanoseconds. */
uint64_t pm_now_ns(void);

/* ------------------------------------------------------------- histogram */

/*
 * A log-linear histogram of nanosecond durations: 4 sub-buckets per power
 * of two, so a percentile is reported within 19% of the true value.
 */
#define PM_HIST_SUB     4
#define PM_HIST_BUCKETS (64 * PM_HIST_SUB)

struct pm_hist {
	uint64_t count, total, max;
	uint64_t bucket[PM_HIST_BUCKETS];
};

void pm_hist_add(struct pm_hist *h, uint64_t ns);
void pm_hist_merge(struct pm_hist *into, const struct pm_hist *from);
/* q in [0, 1]; returns 0 for an empty histogram. */
uint64_t pm_hist_quantile(const struct pm_hist *h, double q);
void pm_hist_summary(const struct pm_hist *h, struct pmerge_time_summary *out);

/* ------------------------------------------------------------ statistics */

/*
 * One worker's counters.  Only that worker writes them while it runs (the
 * threading.local of Python); they are merged after join.  Padded so that two
 * workers never share a cache line.
 */
struct pm_worker_stats {
	_Alignas(PM_CACHELINE) uint64_t inputs;
	uint64_t bytes;
	uint64_t records;
	uint64_t acquisitions;
	uint64_t contended;
	_Atomic uint64_t wait_ns; /* read live by the progress line */
	unsigned max_depth;
	struct pm_hist wait;
	struct pm_hist hold;
	uint64_t hold_start;
	char pad_[PM_CACHELINE];
};

/* -------------------------------------------------------- lock strategies */

struct pm_lock;

/*
 * A lock strategy.  acquire/release may be called by any worker; try_acquire
 * returns true when it took the lock without waiting.  reentrant strategies
 * are taken again, nested, around every write call of the append path.
 */
struct pm_lock_ops {
	const char *name;
	int (*init)(struct pm_lock *l, unsigned n);
	bool (*try_acquire)(struct pm_lock *l);
	void (*acquire)(struct pm_lock *l);
	void (*release)(struct pm_lock *l);
	void (*destroy)(struct pm_lock *l);
	bool reentrant;
	bool shared; /* more than one holder at once is possible */
};

/*
 * The ticket lock's state.  Waiters watch serving; taking a ticket writes
 * next, which lives on another cache line so that newcomers do not disturb
 * the line the waiters spin on.  sleepers counts waiters asleep in the
 * kernel, so that a release makes a system call only when someone sleeps.
 */
struct pm_ticket {
	_Atomic uint32_t next;
	char pad_[PM_CACHELINE - sizeof(uint32_t)];
	_Atomic uint32_t serving;
	_Atomic uint32_t sleepers;
};

/*
 * One waiter's place in an MCS queue, alone on its cache line: its owner
 * spins (or sleeps) on state, and only its predecessor writes it.
 */
struct pm_mcs_node {
	_Alignas(PM_CACHELINE) _Atomic(struct pm_mcs_node *) next;
	_Atomic uint32_t state;     /* see lock_mcs.c */
	const struct pm_lock *lock; /* the lock this node is queued on */
};

struct pm_lock {
	const struct pm_lock_ops *ops;
	unsigned n;
	bool detailed; /* time holds and fill histograms */
	union {
		pthread_mutex_t mutex;
		pthread_spinlock_t spin;
		sem_t sem;
		struct pm_ticket ticket;
		_Atomic(struct pm_mcs_node *) mcs_tail;
	} u;
	_Alignas(PM_CACHELINE) atomic_uint holders;
	atomic_uint max_holders;
};

extern const struct pm_lock_ops pm_lock_mutex_ops;
extern const struct pm_lock_ops pm_lock_rlock_ops;
extern const struct pm_lock_ops pm_lock_sem_ops;
extern const struct pm_lock_ops pm_lock_spin_ops;
extern const struct pm_lock_ops pm_lock_ticket_ops;
extern const struct pm_lock_ops pm_lock_mcs_ops;
extern const struct pm_lock_ops pm_lock_adaptive_ops;

/*
 * Jain's index from the sum and the sum of squares of n figures:
 * sum^2 / (n * sumsq), 1.0 when n or sumsq is 0.  Any thread.
 */
double pm_jain_index(double sum, double sumsq, size_t n);

/* mutex, rlock and adaptive: one pthread mutex of the given type. */
int pm_lock_mutex_init_type(struct pm_lock *l, int type);
bool pm_lock_mutex_try(struct pm_lock *l);
void pm_lock_mutex_acquire(struct pm_lock *l);
void pm_lock_mutex_release(struct pm_lock *l);
void pm_lock_mutex_destroy(struct pm_lock *l);

/*
 * How the spinning strategies (ticket, mcs) wait, so that they do not burn
 * a core when workers outnumber cores.  Each call to pm_lock_backoff() is
 * one round of waiting: the first PM_SPIN_PAUSES rounds execute the CPU's
 * pause hint (the holder is likely running on another core and about to
 * leave; pausing frees the pipeline for the sibling hyperthread and saves
 * power); the next PM_SPIN_YIELDS rounds call sched_yield() (the holder, or
 * the waiter next in line, may be preempted on this very core and needs it);
 * after that it returns true: the caller should sleep in the kernel on the
 * word it watches (pm_futex_wait) until the releaser wakes it.
 */
#define PM_SPIN_PAUSES 256u
#define PM_SPIN_YIELDS 16u

void pm_cpu_relax(void);
bool pm_lock_backoff(unsigned *round);
/* Sleeps while *word == expected (or until a spurious wake-up). */
void pm_futex_wait(_Atomic uint32_t *word, uint32_t expected);
/* Wakes up to n threads sleeping on word. */
void pm_futex_wake(_Atomic uint32_t *word, int n);

/* Returns 0 or a negative errno. */
int pm_lock_init(struct pm_lock *l, const struct pmerge_lock_spec *spec,
                 bool detailed);
void pm_lock_destroy(struct pm_lock *l);
/*
 * Takes the lock for one span (outer hold), counting into st: tries first,
 * and times only the slow path.
 */
void pm_lock_enter(struct pm_lock *l, struct pm_worker_stats *st);
void pm_lock_leave(struct pm_lock *l, struct pm_worker_stats *st);
/*
 * Around one write call inside an outer hold: a real nested acquisition for
 * reentrant strategies (rlock), nothing for the others.  *depth counts the
 * nesting beyond the outer hold (start at 0); st->max_depth records the
 * deepest hold including the outer one.  Re-entries are not acquisitions.
 */
void pm_lock_reenter(struct pm_lock *l, struct pm_worker_stats *st,
                     unsigned *depth);
void pm_lock_reexit(struct pm_lock *l, unsigned *depth);

/* ------------------------------------------------------------------ lines */

/*
 * Record framing.  A buffer holds [0, len); records end with term.  These
 * are pure functions over memory.
 */

/* Index one past the last terminator in buf[0, len), or 0 if none. */
size_t pm_lines_complete(const char *buf, size_t len, char term);
/* Number of terminators in buf[0, len). */
size_t pm_lines_count(const char *buf, size_t len, char term);
/*
 * Drops from buf[0, len) the rest of the first *skip records (moving what
 * follows to the front) and counts them off *skip.  Returns what is left.
 */
size_t pm_lines_skip(char *buf, size_t len, char term, uint64_t *skip);

/*
 * Builds an iovec list for writing the records in buf[0, len), each preceded
 * by tag[0, tag_len); a final record without terminator counts as a record
 * too (the caller adds its terminator).  tag_len 0 gives one iovec for the
 * lot.  Fills at most max iovecs (whole records only): *used is how many
 * bytes of buf they cover, *out_bytes how many bytes they write, and the
 * return value the iovec count.
 */
size_t pm_lines_tag_iov(const char *buf, size_t len, char term, const char *tag,
                        size_t tag_len, struct iovec *iov, size_t max,
                        size_t *used, uint64_t *out_bytes);

/* ------------------------------------------------------------------- sink */

enum pm_sink_kind {
	PM_SINK_STDOUT,  /* fd 1, written where it stands */
	PM_SINK_REPLACE, /* temporary file renamed over the target */
	PM_SINK_APPEND,  /* O_APPEND */
	PM_SINK_DIRECT,  /* a non-regular -o (device, FIFO, /dev/stdout) */
};

struct pm_sink {
	enum pm_sink_kind kind;
	int fd;
	bool own_fd;
	bool positioned; /* pwrite at reserved offsets is safe */
	bool regular;    /* the fd is a regular file */
	bool is_pipe;    /* splice(2) can feed it */
	/* -Z: fd is the compressor's pipe, and the real output behind it is a
	 * regular file (dev, ino are still the real output's). */
	bool behind_regular;
	dev_t dev;
	ino_t ino;
	uint64_t start; /* offset the merge starts at */
	_Alignas(PM_CACHELINE) _Atomic uint64_t end; /* next free offset */
	atomic_bool cfr_broken; /* copy_file_range fell back once */
	atomic_bool splice_broken;
	char *target; /* REPLACE: the final path */
	char *temp;   /* REPLACE: the temporary file's name, when it has one */
	bool unnamed; /* REPLACE: the temporary file is O_TMPFILE, no name */
	bool durable; /* --fsync: set by the caller before the commit */
	mode_t create_mode; /* REPLACE: the temporary file's mode at creation */
	int link_fd;        /* REPLACE, during the commit: the unnamed file */
	const sigset_t *hold; /* signals to block before a temporary file */
	bool holding;         /* they are blocked; unhold is the mask before */
	sigset_t unhold;
	const char *name; /* for messages: the -o argument */
};

/*
 * Opens the output named by path (NULL: standard output).  On failure
 * returns a negative errno and, in *what, which path failed.  hold, when
 * not NULL, names signals that are blocked on the calling thread from just
 * before a temporary file is created (so that none can end the process
 * with it in place before the caller's handlers exist) until
 * pm_sink_release() or pm_sink_close().
 */
int pm_sink_open(struct pm_sink *s, const char *path, bool append,
                 const sigset_t *hold, const char **what);
/* Unblocks the signals pm_sink_open() held back, if it did.  Its thread. */
void pm_sink_release(struct pm_sink *s);
/* Reserves len bytes at the end; returns the offset of the first byte. */
uint64_t pm_sink_reserve(struct pm_sink *s, uint64_t len);
/* Writes all of iov (short writes and EINTR looped), adjusting the caller's
 * iovecs as it goes.  0 or -errno. */
int pm_sink_writev(struct pm_sink *s, struct iovec *iov, int cnt, uint64_t off);
int pm_sink_write(struct pm_sink *s, const void *buf, size_t len, uint64_t off);
/*
 * Writes buf[0, len), which are also the bytes of the regular file in at
 * in_off: into a pipe they are spliced from the file (the pages move, no
 * copy); whatever splice does not take is written from buf.  0 or -errno.
 */
int pm_sink_put_from(struct pm_sink *s, const char *buf, size_t len, int in,
                     uint64_t in_off, uint64_t off);
/*
 * Copies up to len bytes from in (a regular file, from *in_off, which
 * advances) to the sink at off, with copy_file_range (regular output) or
 * splice (pipe output), falling back to pread/write through buf.  Stops early
 * at end of file or when *cancel becomes true; *copied says how much went
 * out.  Returns 0 or -errno; for an input error *in_failed is set.
 */
/*
 * How much to copy in the next call, given that the last full one moved done
 * bytes in ns nanoseconds: what would take PM_PIECE_NS at that speed, at
 * least floor and at most PM_PIECE_MAX.  Where copy_file_range shares blocks
 * instead of copying them (within one XFS or btrfs) a call takes tens of
 * microseconds whatever its size, so the pieces grow and a large input costs
 * a few calls; where the kernel copies, they stay at floor.  A call of any
 * size thus takes about as long as one of floor bytes that really copies, so
 * a stop or a progress line waits no longer.  Any thread.
 */
#define PM_PIECE_NS  (4u * 1000 * 1000)
#define PM_PIECE_MAX (1ull << 30)
uint64_t pm_copy_piece(uint64_t floor, uint64_t done, uint64_t ns);
int pm_sink_copy(struct pm_sink *s, int in, uint64_t *in_off, uint64_t len,
                 uint64_t off, char *buf, size_t bufsize, uint64_t *copied,
                 bool *in_failed, const atomic_bool *cancel);
/*
 * True when pm_sink_move() can work here: a pipe that splice has not
 * failed on, or a positioned regular file.  Any thread.
 */
bool pm_sink_takes_from(const struct pm_sink *s);
/*
 * Moves len bytes of the regular file in, from in_off, to off without
 * reading them into a buffer: spliced into a pipe (the pages move), or
 * written into a regular file from a mapping of them (the kernel's copy
 * into the output's pages is the only one; cheaper than copy_file_range
 * where that copies through a pipe of its own, as on ext4 and tmpfs).
 * *moved says how much went out: less than len where the input ended.
 * 0 or -errno, with no fallback: pm_sink_copy() tells whose fault it was.
 */
int pm_sink_move(struct pm_sink *s, int in, uint64_t in_off, size_t len,
                 uint64_t off, size_t *moved);
/*
 * Success: make the output final (link or rename, seek), with --fsync
 * (s->durable) the data and then the directory flushed first.  The commit
 * point is the one call that puts the new file under FILE's name; on
 * failure FILE is as it was.  0 or -errno.
 */
int pm_sink_commit(struct pm_sink *s);
/* Failure: remove the temporary file.  Safe to call twice. */
void pm_sink_abort(struct pm_sink *s);
void pm_sink_close(struct pm_sink *s);
/* The directory of path ("." when it has none), malloc'ed; NULL when out of
 * memory.  Any thread. */
char *pm_dir_of(const char *path);

/* ----------------------------------------------------------------- source */

struct pm_source {
	int fd;
	bool own_fd;
	bool regular;
	uint64_t size;     /* regular: size when opened */
	uint64_t offset;   /* regular: where the next read starts */
	bool nonblock;     /* a stream: a read with nothing there is -EAGAIN */
	bool nonblock_set; /* regular, O_NONBLOCK still on (pm_source_blocking)
	                    */
	dev_t dev;
	ino_t ino;
	const char *name;
};

/*
 * Opens an input ("-" is standard input) without blocking on a FIFO with no
 * writer.  Returns 0 or -errno (-EISDIR for a directory).
 */
int pm_source_open(struct pm_source *src, const char *name);
/*
 * Opens name, which the stat pass saw as a regular file of size bytes, and
 * reads it into buf (room for size + 1 bytes) without looking at it first:
 * open and one pread, where pm_source_open and a read would also fstat.
 * Returns 1 when that read reached its end (*got bytes, at most size: it
 * may have shrunk) and src is closed again.  Otherwise (the file grew, or
 * the name is now something else) src is opened as pm_source_open opens it,
 * to be read from its start, and the result is what that returns.  src's
 * dev and ino are not known after a 1: only for an output that is no
 * regular file in place (pm_input_is_output cannot apply).
 */
int pm_source_take(struct pm_source *src, const char *name, uint64_t size,
                   char *buf, size_t *got);
/*
 * Takes O_NONBLOCK off a regular input that still has it, before its
 * descriptor is used other than by pm_source_read (copy_file_range, mmap,
 * a pread of its own).  Any thread that owns src.
 */
void pm_source_blocking(struct pm_source *src);
/*
 * Reads up to len bytes, waiting in poll() on the input and wake_fd.
 * Returns bytes read (0 at EOF), -ECANCELED when woken, or -errno; a
 * stream with nonblock set returns -EAGAIN instead of waiting.
 */
ssize_t pm_source_read(struct pm_source *src, void *buf, size_t len,
                       int wake_fd);
void pm_source_close(struct pm_source *src);
/*
 * --tail: where the last n records of the regular file fd (size bytes)
 * start, found by reading backwards through buf.  An unterminated final
 * record counts as one.  Returns 0 with *off set, or -errno.
 */
int pm_source_tail_offset(int fd, uint64_t size, uint64_t n, char term,
                          char *buf, size_t bufsize, uint64_t *off);
/*
 * --tail with -d: a compressed stream cannot be entered in the middle, so
 * when the regular file fd holds one at off, its bytes [off, size) are
 * decoded once through buf to count their records, and *skip is set to how
 * many of them come before the last n (the caller reads from off and drops
 * those: pm_lines_skip).  Only what decodes is counted: the part may end
 * inside a frame (its writer is still writing), and a decoding error is
 * left for the real read to report.  Returns 1 when fd is compressed at off
 * (*skip set), 0 when it is not (then pm_source_tail_offset applies), or
 * -ENOMEM.  Memory: one decoder; the cost is decoding that part twice.
 */
int pm_source_tail_decoded(int fd, uint64_t off, uint64_t size, uint64_t n,
                           char term, char *buf, size_t bufsize,
                           uint64_t *skip);

/*
 * The tag of input idx: its --label (cfg->labels) or its name, escaped as
 * pmerge_tag_make() does, in its colour with cfg->color.  malloc'ed; NULL
 * when out of memory.
 */
char *pm_tag_for(const struct pmerge_config *cfg, size_t idx, size_t *len);

/* ----------------------------------------------------------------- append */

/*
 * The append protocol (append.c, where its invariants and lock order are
 * written down).
 *
 * Turn taking for --order=input: input i appends after input i-1.  Waiters
 * sleep on one of several condition variables chosen by their index, so
 * that passing the turn wakes the next input's worker, not every worker.
 *
 * A worker whose input is fully buffered before its turn comes may park it
 * (pm_order_offer): the worker that passes the turn then writes it on the
 * owner's behalf (pm_order_pass), so a run of small inputs goes out without
 * a thread wake-up between each two of them.
 *
 * A unit may also be a run of consecutive inputs idx..last that one worker
 * read into one buffer (see PM_RUN_MAX): it takes the turn of idx and
 * passes it to last + 1.
 */
#define PM_ORDER_SLOTS 64

/* The most inputs one worker claims at once (--unit=file). */
#define PM_RUN_MAX 64

enum pm_parked_state {
	PM_PARKED_NONE,
	PM_PARKED_READY,
	PM_PARKED_TAKEN,
	PM_PARKED_DONE
};

/* A whole input waiting for its turn, owned by the worker that parked it. */
struct pm_parked {
	size_t idx;
	size_t last;     /* the unit's last input (idx for one input) */
	const char *buf; /* NULL: nothing to write (a failed input) */
	size_t len;
	/* With several inputs: the bytes of each, idx..last, in buf. */
	const uint64_t *lens;
	enum pm_parked_state state;
};

struct pm_order {
	pthread_mutex_t mu;
	pthread_cond_t cv[PM_ORDER_SLOTS];
	size_t turn;
	bool cancelled;
	/* Indices in flight span at most PMERGE_JOBS_MAX: one slot each. */
	struct pm_parked *parked[PMERGE_JOBS_MAX];
};

int pm_order_init(struct pm_order *o);
void pm_order_destroy(struct pm_order *o);
/* Waits until it is idx's turn.  Returns 0 or -ECANCELED. */
int pm_order_wait(struct pm_order *o, size_t idx);
/*
 * The unit of inputs idx..last is done; if the unit that follows it is
 * parked, claims it and returns it: the caller writes it and calls
 * pm_order_pass_run() for it in turn.  Otherwise wakes the next input's
 * worker and returns NULL.
 */
struct pm_parked *pm_order_pass_run(struct pm_order *o, size_t idx,
                                    size_t last);
/* pm_order_pass_run() for a unit of one input. */
struct pm_parked *pm_order_pass(struct pm_order *o, size_t idx);
/*
 * Parks p (p->idx, p->buf, p->len set by the caller) until either another
 * worker has written it (returns 1: done, the turn has moved past it) or
 * its turn came with nobody to write it (returns 0: the caller has the turn
 * and writes it itself).  -ECANCELED when the merge stops.
 */
int pm_order_offer(struct pm_order *o, struct pm_parked *p);
void pm_order_cancel(struct pm_order *o);

struct pm_merge;
struct pm_worker;

/* One input's appends: its spans and its turn, on the worker merging it. */
struct pm_append {
	struct pm_worker *w;
	struct pm_merge *m;
	size_t idx;
	size_t last;          /* a run of whole inputs idx..last (else idx) */
	const uint64_t *lens; /* a run: the bytes of each of its inputs */
	const char *tag;      /* --tag: the prefix of each record */
	size_t tag_len;
	bool have_turn;
	bool turn_passed; /* the next input may go (or went) */
	bool tail;        /* holding tail_mu: an open span */
	uint64_t off;     /* where the next byte of the span goes */
	uint64_t span_start;
	uint64_t span_len; /* UINT64_MAX: an open span */
	unsigned depth;    /* rlock nesting inside the span */
};

/* A fresh append state for input idx on worker w. */
void pm_append_init(struct pm_append *a, struct pm_worker *w, size_t idx);
/*
 * A fresh append state for the run of whole inputs idx..last, read into one
 * buffer, lens[i - idx] bytes of input i (--unit=file); lens stays the
 * caller's until pm_append_pass() returns.
 */
void pm_append_init_run(struct pm_append *a, struct pm_worker *w, size_t idx,
                        size_t last, const uint64_t *lens);
/* Waits for the input's turn (--order=input).  0 or -ECANCELED. */
int pm_append_turn(struct pm_append *a);
/* True when the input need not wait: its turn has come, or the order is
 * not --order=input, or the merge is stopping.  Never blocks. */
bool pm_append_may_go(struct pm_append *a);
/*
 * The input's place in the output is fixed: lets the next input go, and
 * writes any whole inputs parked behind it on their owners' behalf.
 * Waits for the input's turn first if need be (a failed input).
 */
void pm_append_pass(struct pm_append *a);
/*
 * Opens a span of len bytes (UINT64_MAX: open-ended) and sets a->off.
 * Returns 0, or -ECANCELED when the merge is stopping.
 */
int pm_span_begin(struct pm_append *a, uint64_t len);
void pm_span_end(struct pm_append *a);
/* Writes inside the open span at a->off (one write call, nested for
 * rlock).  0, or the output's -errno (the merge is then cancelled). */
int pm_span_put(struct pm_append *a, const void *buf, size_t len);
int pm_span_put_iov(struct pm_append *a, struct iovec *iov, int cnt,
                    uint64_t len);
/* pm_span_put() of bytes that are also those of the regular file in at
 * in_off (see pm_sink_put_from). */
int pm_span_put_from(struct pm_append *a, const char *buf, size_t len, int in,
                     uint64_t in_off);
/*
 * Moves len bytes of the regular file in from in_off into the open span at
 * a->off with pm_sink_move (nested for rlock); where that fails, the rest
 * goes through pm_sink_copy, which falls back to read/write and tells the
 * input's failure from the output's.  *moved counts what went out (less
 * than len where the input ended).  0 or -errno; *in_failed: the input's.
 */
int pm_span_move(struct pm_append *a, int in, uint64_t in_off, size_t len,
                 uint64_t *moved, bool *in_failed);
/* n bytes went out at a->off by other means (pm_sink_copy). */
void pm_span_count(struct pm_append *a, uint64_t n);
/*
 * A whole input is in buf[0, len) (buf NULL: it failed, nothing to
 * write).  In input order it may be parked for the worker that passes the
 * turn to write; otherwise it is written here as one closed span.
 */
void pm_append_whole(struct pm_append *a, const char *buf, size_t len);
/* "-" is read by one worker at a time; part of the lock order. */
void pm_append_stdin_lock(struct pm_append *a);
void pm_append_stdin_unlock(struct pm_append *a);
/*
 * Record framing over the append protocol (worker.c), for the workers and
 * for the stream reader, which frames many inputs on one thread.
 *
 * pm_lines_append appends head[0, head_len) (the held start of a record,
 * no terminator in it) followed by buf[0, len) as records, each after
 * a->tag, as one closed span; add_term: the last record lacks its
 * terminator and gets one.
 *
 * pm_lines_long writes one record longer than the buffer as one open span:
 * the tag, head, then a->w->buf[0, *fill) and whatever more() reads into
 * a->w->buf until a terminator (more() returning <= 0 ends the record with
 * a terminator added).  On return a->w->buf[0, *fill) holds what followed.
 *
 * Both return 0, -ECANCELED, or the output's -errno.  The thread of a->w.
 */
typedef ssize_t (*pm_read_more_fn)(void *ctx, char *buf, size_t len);
int pm_lines_append(struct pm_append *a, const char *head, size_t head_len,
                    const char *buf, size_t len, bool add_term);
int pm_lines_long(struct pm_append *a, const char *head, size_t head_len,
                  size_t *fill, pm_read_more_fn more, void *ctx);
/* Counts a failed input and tells the callback.  Any thread. */
void pm_input_failed(struct pm_merge *m, const char *name, int err);

/* Records the output's failure (the first one wins) and cancels the merge.
 * Returns rc. */
int pm_output_failed(struct pm_merge *m, int rc);

/* ------------------------------------------------------------------ merge */

struct pm_merge;

/* One worker thread and what only it touches while it runs. */
struct pm_worker {
	struct pm_merge *m;
	pthread_t tid;
	bool started;
	unsigned id;
	char *buf;
	size_t bufsize;
	struct iovec *iov;
	size_t iov_max;
	struct pm_worker_stats st;
	/* The sizes of the inputs it opened, and whether one was not a
	 * regular file (or failed to open): the progress total, found
	 * without a stat of its own once the workers are done. */
	uint64_t sizes_seen;
	bool irregular_seen;
	size_t handed; /* streams it gave the stream reader */
	/* While the gate is shut (pm_gate_open): its voluntary context
	 * switches at the last look, the inputs read since, and how many
	 * looks saw it sleep. */
	long nvcsw;
	unsigned reads, slept;
};

/* Shared state of one merge.  Workers read cfg and write only atomics,
 * their own pm_worker, and the sink through the lock strategy. */
/* A stream input's identity: the same FIFO under two names is one. */
struct pm_stream_id {
	dev_t dev;
	ino_t ino;
	size_t idx;
};

/*
 * The first thing each worker does: stat the inputs (shared out among the
 * workers), so that with a replaced output a missing input fails the merge
 * before anything is copied, and a stream named twice is known.  Returns
 * once every input is resolved: 0, or -ECANCELED when the merge stops.
 */
int pm_worker_resolve(struct pm_merge *m);
/* The same for a worker of a merge of whole files, which also looks at
 * whether its stats wait for the device (pm_gate_watch). */
int pm_worker_resolve_watched(struct pm_merge *m, struct pm_worker *w);
/*
 * Input idx is a stream named before (m->after): waits until that earlier
 * input has been read.  0, or -ECANCELED.  Any worker thread.
 */
int pm_input_wait(struct pm_merge *m, size_t idx);
/* Input idx is a stream named more than once (read through
 * pm_input_wait() and pm_input_done()). */
bool pm_input_chained(const struct pm_merge *m, size_t idx);
/* Input idx is a later name of a stream named before it.  Any thread,
 * once pm_worker_resolve() has returned 0. */
bool pm_input_repeats(const struct pm_merge *m, size_t idx);
/* Input idx has been read and closed: a later name of it may go. */
void pm_input_done(struct pm_merge *m, size_t idx);

struct pm_merge {
	const struct pmerge_config *cfg;
	enum pmerge_unit unit;
	enum pmerge_order order;
	char term;
	size_t bufsize;
	struct pm_sink sink;
	struct pm_lock lock;
	bool concurrent;          /* several holders: reserve, then write */
	pthread_mutex_t tail_mu;  /* reservations; held by open spans */
	pthread_mutex_t stdin_mu; /* "-" is read by one worker at a time */
	/*
	 * What the workers learn of the inputs before merging any (see
	 * pm_worker_resolve): for a stream named
	 * more than once (the same FIFO twice, "-" and /dev/stdin) which
	 * earlier input it must wait for, so that it is read in sequence.
	 */
	pthread_mutex_t resolve_mu;
	pthread_cond_t resolve_cv; /* resolved, an input done, or cancel */
	bool resolve_on;
	uid_t euid; /* the effective user, for the checks of the inputs */
	atomic_size_t next_check, checked;
	bool resolved;                 /* under resolve_mu */
	struct pm_stream_id *streams;  /* only the last checker, once done */
	size_t n_streams, cap_streams; /* under resolve_mu */
	size_t *after; /* NULL when no stream repeats; SIZE_MAX: none */
	unsigned char
	    *done; /* with after: input i has been read (resolve_mu) */
	/*
	 * The default -j of a merge of whole files (README, "Choosing -j"):
	 * workers with an id of active or more wait at the gate, on
	 * resolve_cv, until pm_gate_open lets every worker in.  n_workers
	 * from the start otherwise.
	 */
	atomic_uint active;
	_Atomic uint64_t bytes_total;
	atomic_bool total_known; /* every input is regular; set when resolved */
	atomic_bool irregular;   /* an input that is not a regular file */
	struct pm_order turn;
	int wake[2]; /* written once on cancel, never drained */
	/* What setup has initialised, so that teardown undoes only that. */
	bool tail_mu_on, stdin_mu_on, turn_on;
	_Alignas(PM_CACHELINE) atomic_size_t next_input;
	_Alignas(PM_CACHELINE) _Atomic uint64_t bytes_done;
	atomic_size_t inputs_done;
	atomic_size_t failed_inputs;
	atomic_uint workers_done;
	atomic_bool cancelled;
	atomic_int output_error;
	void (*wake_loop)(struct pm_merge *m); /* any thread: poke the loop */
	void *loop_data;
	struct pmerge_placement *placement; /* cfg->record_placement */
	unsigned n_workers;
	size_t run_max; /* inputs a worker claims at once, 1..PM_RUN_MAX */
	struct pm_worker *workers;
	struct pm_sorted *sorted; /* -m: the sorted merge's state, or NULL */
	/* -d: per-input figures (each entry written by the worker of that
	 * input only), the order inputs are taken in (NULL: command-line
	 * order), and what decoded inputs read and wrote, so that progress
	 * can count input bytes. */
	struct pmerge_input_result *decoded;
	size_t *schedule;
	/* Each input's size as the stat pass saw it, UINT64_MAX when it is no
	 * regular file (or unknown): for runs of small inputs (merge_run), and
	 * only where the output cannot be an input; NULL otherwise. */
	uint64_t *known_size;
	struct pm_compressor *compressor; /* -Z, or NULL */
	_Alignas(PM_CACHELINE) _Atomic uint64_t decoded_in;
	_Atomic uint64_t decoded_out;
	struct pm_streams *live; /* live inputs and -F; NULL if none */
};

/*
 * -d: allocates m->decoded and, in --order=arrival, m->schedule: the
 * largest inputs first, so that one big input does not finish last alone.
 * Setup thread.  0 or -ENOMEM.
 */
int pm_decode_plan(struct pm_merge *m);
/*
 * A temporary file for decoded bytes that wait for their turn: unnamed
 * (O_TMPFILE) where the file system has it, else unlinked at once; in the
 * output's directory, or $TMPDIR (/tmp) when the output is a stream.
 * Returns the descriptor (the caller closes it) or a negative errno.  Any
 * thread.
 */
int pm_spill_open(const struct pm_sink *s);

/*
 * -Z (compress.c): from here on the merge writes into a pipe, and a
 * compressor thread (and, for gzip, a pool of threads threads) writes the
 * compressed stream to the sink's real descriptor.  Setup thread, right
 * after the sink is opened.  0 or -errno.
 */
int pm_compress_start(struct pm_merge *m, unsigned threads);
/*
 * After the workers are joined: ends the stream, waits for the compressor
 * and gives the sink its descriptor back.  Returns the compressor's error
 * (-errno) or 0.  Does nothing without -Z; call it before commit or abort.
 */
int pm_compress_finish(struct pm_merge *m);

/*
 * Lets every worker in (m->active): a read or a stat waited for the device,
 * an input is a stream or larger than the buffer, or no input is left for
 * the workers still waiting.  Any worker thread; cheap once open.
 */
void pm_gate_open(struct pm_merge *m);
/* How many small inputs (or stats) a worker gets through between two looks
 * at whether it waited for the device, while the gate is shut. */
#define PM_GATE_LOOK 16
/*
 * While the gate is shut: when w's thread has waited (a voluntary context
 * switch: the device) since the last look, for the second time, opens it. reset
 * only takes a new baseline, after a wait of another kind (the turn, the lock).
 */
void pm_gate_watch(struct pm_worker *w, bool reset);

/* True when src is the output itself (standard output or -a). */
bool pm_input_is_output(const struct pm_merge *m, const struct pm_source *src);
/* True when the output is a regular file written in place, which an input
 * may be (pm_input_is_output). */
bool pm_output_in_place(const struct pm_merge *m);

/* The worker thread's body: merges inputs until none is left. */
void *pm_worker_main(void *arg);
/* Any thread: stop every worker soon (idempotent). */
void pm_merge_cancel(struct pm_merge *m);
/* Loop thread, once pm_merge_done(): joins the workers and the stream
 * reader. */
void pm_merge_join(struct pm_merge *m);
/* Any thread: every worker has counted itself done, and the stream reader
 * (if any) has written out all it holds. */
bool pm_merge_done(struct pm_merge *m);

/* ------------------------------------------------------------------- loop */

/* Every signal whose default action ends the process and that can be
 * caught safely (not the faults, SIGSEGV and the like): each cancels the
 * merge, so that none leaves a temporary file or a half-made output. */
#define PM_LOOP_STOP_SIGNALS 13
#define PM_LOOP_INFO_SIGNALS 2 /* USR1: status line; WINCH: resize */

/*
 * The libuv loop of one merge and what only the loop thread touches: the
 * handles (each with a flag saying it is open, so that closing is safe
 * from any point), the progress figures, the stop signal that arrived.
 */
struct pm_loop {
	struct pm_merge *m;
	uv_loop_t loop;
	uv_async_t async; /* workers: "one of us is done" */
	uv_timer_t progress;
	uv_timer_t grace; /* after a stop signal: how long workers get */
	uv_signal_t stop[PM_LOOP_STOP_SIGNALS];
	uv_signal_t info[PM_LOOP_INFO_SIGNALS];
	bool loop_on, async_on, progress_on, grace_on;
	bool stop_on[PM_LOOP_STOP_SIGNALS], info_on[PM_LOOP_INFO_SIGNALS];
	bool finished;  /* every worker joined */
	bool abandoned; /* a worker did not stop within the grace time */
	int signal;     /* the stop signal that arrived, or 0 */
	uint64_t t0;
	uint64_t bytes_total;
	bool total_known;
	bool total_measured; /* bytes_total and total_known are set */
	double rate;         /* smoothed over the progress ticks */
	uint64_t last_ns, last_bytes;
	bool masked; /* stop signals held back by finish() */
	sigset_t saved_mask;
	struct pm_watch *watch; /* -F: directory watches, the poll timer */
};

/* True when sig was set to SIG_IGN before we started (nohup, background
 * jobs): such signals are left alone. */
bool pm_signal_ignored(int sig);

/* Cannot fail: zeroes l, starts the clock, gives m its wake-up. */
void pm_loop_prepare(struct pm_loop *l, struct pm_merge *m);
/* Descriptors not open yet below the soft limit (ulimit -n); UINT_MAX
 * when the limit is too high to matter.  Any thread. */
unsigned pm_free_descriptors(void);

/* Opens the loop and its handles.  0 or a negative errno (libuv's), with
 * *failed saying which part could not be set up. */
int pm_loop_start(struct pm_loop *l, enum pmerge_setup *failed);
/* Runs until every worker is joined (or abandoned after a signal). */
void pm_loop_run(struct pm_loop *l);
/* The stop signals and SIGUSR1: what finish() holds back, and what the
 * sink holds back while setup makes a temporary file. */
void pm_loop_held_signals(sigset_t *set);
/* Before the commit: a held-back stop signal already pending counts (the
 * output is then removed).  Loop thread. */
void pm_loop_collect(struct pm_loop *l);
/*
 * After the commit or abort: collects the stop signals held back and
 * unblocks them -- except after a commit (committed), which no signal can
 * undo: those that came are dropped, the rest stay blocked, and true is
 * returned with the mask to restore in *restore.
 */
bool pm_loop_settle(struct pm_loop *l, bool committed, sigset_t *restore);
/* Safe whatever pm_loop_start() reached. */
void pm_loop_close(struct pm_loop *l);
/* A progress snapshot as the callbacks receive it.  Loop thread. */
void pm_loop_snapshot(struct pm_loop *l, struct pmerge_progress *p);

#endif /* PMERGE_INTERNAL_H */
