/*
 * pmerge — merge many inputs into one output with parallel worker threads.
 *
 * This is the public interface of the engine (libpmerge).  The engine never
 * prints and never exits: it reports through the callbacks in
 * struct pmerge_callbacks and returns 0 or a negative errno.  The pmerge
 * program (programs/) is the only place that talks to the user.
 *
 * Functions are not thread-safe unless stated otherwise.
 */
#ifndef PMERGE_H
#define PMERGE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PMERGE_VERSION "1.0.0"

/* Limits and defaults that the CLI documents. */
#define PMERGE_JOBS_MAX 1024u
/* Default buffer per worker: pipes and terminals get PIPE (writes that
 * leave a grown pipe room to flow), files FILE (fewer, larger writes). */
#define PMERGE_BUFFER_DEFAULT_PIPE (128u * 1024u)
#define PMERGE_BUFFER_DEFAULT_FILE (1024u * 1024u)
#define PMERGE_BUFFER_MIN          4096u

/* -Z: the output's compression. */
enum pmerge_compress {
	PMERGE_COMPRESS_NONE = 0,
	PMERGE_COMPRESS_GZIP, /* levels 1..12 (libdeflate) */
	PMERGE_COMPRESS_ZSTD, /* levels 1..19 */
};

/* What stays whole in the output. */
enum pmerge_unit {
	PMERGE_UNIT_FILE = 0, /* each input's bytes contiguous and unchanged */
	PMERGE_UNIT_LINE,     /* records interleave, none is ever torn */
};

enum pmerge_order {
	PMERGE_ORDER_DEFAULT = 0, /* input for --unit=file, arrival for line */
	PMERGE_ORDER_INPUT,       /* command-line order */
	PMERGE_ORDER_ARRIVAL,     /* whichever worker is ready first */
};

enum pmerge_lock_kind {
	PMERGE_LOCK_MUTEX = 0,
	PMERGE_LOCK_RLOCK,
	PMERGE_LOCK_SEM,
	PMERGE_LOCK_SPIN,
	PMERGE_LOCK_TICKET,   /* FIFO-fair: two counters */
	PMERGE_LOCK_MCS,      /* a queue: each waiter spins on its own node */
	PMERGE_LOCK_ADAPTIVE, /* glibc's spin-then-sleep mutex */
	PMERGE_LOCK_COUNT_,
};

/* A lock strategy as chosen on the command line ("sem:4" is SEM with n=4). */
struct pmerge_lock_spec {
	enum pmerge_lock_kind kind;
	unsigned n; /* holders allowed at once; 1 for all but SEM */
};

/*
 * Parses "mutex", "rlock", "spin", "ticket", "mcs", "adaptive" or "sem:N"
 * (1 <= N <= PMERGE_JOBS_MAX).
 * Returns 0, or -EINVAL when text names no strategy.
 */
int pmerge_lock_parse(const char *text, struct pmerge_lock_spec *out);

/*
 * Writes the strategy's canonical name ("mutex", "sem:4") into buf, always
 * NUL-terminated.  Returns buf.
 */
const char *pmerge_lock_format(const struct pmerge_lock_spec *spec, char *buf,
                               size_t size);

/* Why an input failed or a note was raised; see pmerge_callbacks. */
enum pmerge_note {
	PMERGE_NOTE_SEM_REDUCED = 1, /* the output takes no positioned writes */
};

/* What happened to a followed input (-F); see pmerge_callbacks.follow. */
enum pmerge_follow_event {
	PMERGE_FOLLOW_MISSING = 1, /* cannot be opened (err): waiting for it */
	PMERGE_FOLLOW_APPEARED,    /* it exists again: read from its start */
	PMERGE_FOLLOW_REPLACED,    /* a new file under the name (rotation) */
	PMERGE_FOLLOW_TRUNCATED,   /* it shrank: read from its new start */
	PMERGE_FOLLOW_GONE,        /* the name went away (err); the old file
	                              is still read */
	PMERGE_FOLLOW_NO_WATCH,    /* no change events for this directory
	                              (err): polled instead */
};

/*
 * What pmerge_run() could not set up when it failed before the merge
 * began (pmerge_result.setup_failed), so that a message can name it; the
 * return value is the errno.
 */
enum pmerge_setup {
	PMERGE_SETUP_OK = 0,
	PMERGE_SETUP_MEMORY,  /* buffers and tables */
	PMERGE_SETUP_SYNC,    /* the lock strategy, mutexes, turns */
	PMERGE_SETUP_WAKE,    /* the wake-up descriptor (an eventfd) */
	PMERGE_SETUP_LOOP,    /* the event loop (epoll) */
	PMERGE_SETUP_ASYNC,   /* the loop's wake-up handle */
	PMERGE_SETUP_SIGNALS, /* the signal watchers */
	PMERGE_SETUP_WATCH,   /* -F: the directory watches */
	PMERGE_SETUP_STREAMS, /* the stream reader (epoll, eventfd) */
	PMERGE_SETUP_THREAD,  /* worker thread setup_index of setup_count */
	PMERGE_SETUP_STREAM_THREAD, /* the stream reader's thread */
	PMERGE_SETUP_COMPRESS,      /* -Z: the compressor and its threads */
};

/* A live snapshot of a running merge, for progress lines and SIGUSR1. */
struct pmerge_progress {
	uint64_t bytes_done;  /* bytes appended to the output so far; with
	                         -d, input bytes read (compressed), so that
	                         the share of bytes_total stays true */
	uint64_t bytes_total; /* sum of input sizes, valid if total_known */
	bool total_known;     /* every input is a regular file */
	size_t inputs_done;   /* inputs finished (merged or failed) */
	size_t inputs_total;
	double elapsed_s; /* since the merge started */
	double rate;      /* bytes per second, smoothed */
	double
	    lock_wait_share; /* 0..1: worker time spent waiting for the lock */
	bool finished;       /* the last snapshot of the merge */
};

/*
 * The engine's voice.  Every member may be NULL.  user is passed back as is.
 */
struct pmerge_callbacks {
	void *user;
	/*
	 * An input failed (err > 0 is an errno, e.g. ENOENT) or was skipped
	 * because it is the output (err == PMERGE_ERR_INPUT_IS_OUTPUT).
	 * Called from worker threads, possibly at the same time: the callee
	 * serialises.
	 */
	void (*input_error)(void *user, const char *name, int err);
	/*
	 * With decompress: an input's compressed data is bad (corrupt,
	 * truncated, trailing garbage) or needs more memory than allowed.
	 * reason is the codec's words, prefixed with the format's name
	 * ("gzip: invalid compressed data (crc error)").  Also, in the sorted
	 * merge, an input whose read-ahead cannot be allocated ("cannot
	 * allocate its read-ahead: Cannot allocate memory").  Called instead
	 * of input_error, from worker threads in the same way; when NULL,
	 * input_error gets EBADMSG, EFBIG or ENOMEM instead.
	 */
	void (*input_decode_error)(void *user, const char *name,
	                           const char *reason);
	/*
	 * Something the user should know that is not an error.  Called on the
	 * thread that called pmerge_run(), before any data is written.
	 */
	void (*note)(void *user, enum pmerge_note what, const char *detail);
	/*
	 * Periodic snapshot, every progress_interval_ms, and once more with
	 * finished set.  Called on the loop (main) thread.
	 */
	void (*progress)(void *user, const struct pmerge_progress *p);
	/* SIGUSR1 arrived: print a status line.  Loop thread. */
	void (*status)(void *user, const struct pmerge_progress *p);
	/* SIGWINCH arrived: the terminal may have a new width.  Loop thread. */
	void (*resize)(void *user);
	/*
	 * -m: a record of input name sorts before the one above it, at line
	 * line (from 1).  Once per input.  fatal (--check-order): the input
	 * stops there and counts as failed.  Called from worker threads,
	 * possibly at the same time: the callee serialises.
	 */
	void (*disorder)(void *user, const char *name, uint64_t line,
	                 bool fatal);
	/*
	 * -F: a followed name changed (name is the input, or the directory
	 * for NO_WATCH; err an errno for MISSING, GONE and NO_WATCH, else 0).
	 * Called from the stream thread or the loop thread: the callee
	 * serialises.
	 */
	void (*follow)(void *user, enum pmerge_follow_event ev,
	               const char *name, int err);
	/*
	 * Fewer workers run than planned, started of wanted, because of err:
	 * EAGAIN (no more threads could be created), ENOMEM (no memory for
	 * more buffers) or EMFILE (too few descriptors free to keep more
	 * inputs open at once).  The merge goes on with those.  Called on the
	 * thread that called pmerge_run(), once per cause.
	 */
	void (*workers_reduced)(void *user, unsigned started, unsigned wanted,
	                        int err);
};

/*
 * -m, --sorted: every input is sorted; merge them into one sorted output
 * (README, "Sorted merge").  Implies the line unit.
 */
struct pmerge_sorted {
	bool enabled;
	const char *const *keys; /* -k KEYDEFs, as sort takes them */
	size_t n_keys;
	int field_sep; /* -t: a byte, or -1 for sort's blank-separated fields */
	bool numeric;  /* -n */
	bool reverse;  /* -r */
	bool by_time;  /* --by-time: order records by their timestamps */
	const char *time_format; /* --by-time=FORMAT, or NULL: recognise */
	bool has_since, has_until;
	int64_t since_ns, until_ns; /* nanoseconds since the epoch, UTC */
	bool check_order;           /* disorder is an input error */
};

/*
 * Checks one -k KEYDEF.  Returns 0, or -EINVAL with the reason in *why
 * (a static string).
 */
int pmerge_key_check(const char *keydef, const char **why);

/*
 * Parses a --since/--until TIME: ISO 8601 (a date, or a date and a time,
 * with fractions and an offset; local time without one) or @EPOCH.  Returns
 * 0 or -EINVAL.
 */
int pmerge_time_parse(const char *text, int64_t *ns);

/* Not an errno: an input that is the output itself and was skipped. */
#define PMERGE_ERR_INPUT_IS_OUTPUT 100000

struct pmerge_config {
	const char *const *inputs; /* names; "-" is standard input */
	size_t n_inputs;
	const char *output; /* NULL: standard output */
	bool append;        /* with output: O_APPEND instead of replace */
	/* Flush a regular output's data to stable storage before success,
	 * and for a replaced output then its directory (after the rename). */
	bool fsync;
	enum pmerge_unit unit;
	enum pmerge_order order;
	bool zero_terminated; /* line unit: records end with NUL */
	bool tag;             /* line unit: prefix "NAME\t" */
	bool decompress;      /* decode compressed inputs (by content) */
	/* Compress the output (one stream, in parallel); compress_level 0
	 * is the format's default (gzip 6, zstd 3). */
	enum pmerge_compress compress;
	int compress_level;
	unsigned jobs; /* 1..PMERGE_JOBS_MAX; 0 picks the default */
	struct pmerge_lock_spec lock;
	size_t buffer_size;  /* 0: PMERGE_BUFFER_DEFAULT_FILE or _PIPE */
	bool detailed_stats; /* hold times and histograms */
	/*
	 * --unit=line: count the records (pmerge_result.records).  True from
	 * pmerge_config_init(); false lets plain regular inputs go to the
	 * output without their bytes being read (README, on --stats).
	 */
	bool count_records;
	bool handle_signals; /* INT/TERM/HUP/USR1/WINCH via the loop */
	unsigned progress_interval_ms; /* 0: no progress callbacks */
	bool record_placement; /* --unit=file: fill pmerge_result.placement */
	/*
	 * Inputs the caller has already reported as failed (bad names in a
	 * --files0-from list): counted in failed_inputs, and with a replaced
	 * output they fail the merge before anything is copied.
	 */
	size_t failed_before;
	struct pmerge_sorted sorted;
	/* Live inputs: README, "Live inputs and following". */
	bool follow; /* -F: read each input by name as it grows, forever */
	unsigned poll_interval_ms; /* -F: stat poll period; 0 picks 1000 */
#define PMERGE_POLL_MS_MIN 10u
#define PMERGE_POLL_MS_MAX 86400000u
	bool tail;                 /* start each input tail_lines records */
	uint64_t tail_lines;       /* before its end (regular files) */
	const char *const *labels; /* --tag names, by input; may be short */
	size_t n_labels;
	bool color; /* --tag in a stable colour per input */
	struct pmerge_callbacks cb;
};

/* Fills cfg with the documented defaults (no inputs: standard input). */
void pmerge_config_init(struct pmerge_config *cfg);

/* The default number of workers: see README, "Choosing -j". */
unsigned pmerge_default_jobs(void);

/* What the engine makes of a configuration: the defaults it leaves open. */
struct pmerge_plan {
	unsigned jobs;           /* 1..PMERGE_JOBS_MAX */
	unsigned workers;        /* threads started: min(jobs, n_inputs);
	                            0 with -F (its stream reader reads all) */
	enum pmerge_order order; /* never PMERGE_ORDER_DEFAULT */
	char terminator;         /* of a record: '\n', or '\0' (-z) */
};

/*
 * Checks cfg and fills plan with what pmerge_run() will do with it.
 * Returns 0, or -EINVAL when a field is out of its documented range (jobs,
 * unit, order, lock, append without output, a NULL input name, -F with
 * anything but the line unit in arrival order or with a replaced output,
 * more labels than inputs, a poll interval without -F or outside
 * PMERGE_POLL_MS_MIN..PMERGE_POLL_MS_MAX).  Opens
 * nothing; any thread.
 */
int pmerge_resolve(const struct pmerge_config *cfg, struct pmerge_plan *plan);

/* Histogram summary of nanosecond durations. */
struct pmerge_time_summary {
	uint64_t total, p50, p99, max;
};

struct pmerge_worker_result {
	uint64_t inputs, bytes, records, acquisitions, contended, wait_ns;
};

/*
 * Where one input's bytes landed in the output with --unit=file: at byte
 * offset (of the output file, or of the stream since the merge began) for
 * length bytes.  offset is UINT64_MAX for an input that wrote nothing
 * (it failed, or the merge stopped first).  An index of the merged output
 * for a caller that needs one, e.g. to check an --order=arrival merge
 * input by input, as --bench does.
 */
struct pmerge_placement {
	uint64_t offset, length;
};

/* With -d: what one input was found to be, and its bytes in and out. */
struct pmerge_input_result {
	const char *name;   /* as in cfg.inputs */
	const char *codec;  /* "plain", "gzip", ...; NULL: never read */
	uint64_t bytes_in;  /* read from the input (compressed) */
	uint64_t bytes_out; /* decoded (for plain: the same) */
};

/* -m: where the time went, and what was skipped. */
struct pmerge_sorted_result {
	bool used;
	uint64_t merger_wait_ns;  /* the merger waited for an input's data */
	uint64_t merger_write_ns; /* the merger waited for the writer */
	uint64_t writer_ns;       /* the writer thread wrote the output */
	uint64_t worker_idle_ns;  /* workers waited for room to read ahead */
	uint64_t worker_read_ns;  /* workers read (and decoded) */
	uint64_t chunks;          /* read-ahead chunks handed to the merger */
	uint64_t skipped;         /* records outside --since/--until */
	size_t disordered;        /* inputs found out of order */
	uint64_t read_ahead_peak; /* most bytes the read-ahead held at once */
};

struct pmerge_lock_result {
	uint64_t acquisitions, contended;
	unsigned max_holders, max_depth;
	struct pmerge_time_summary wait_ns, hold_ns;
	/* Jain's index over the workers' acquisitions: 1.0 when every worker
	 * took the lock equally often, 1/n when one worker took it alone. */
	double fairness;
};

/*
 * Jain's fairness index (sum x)^2 / (n * sum x^2) over the acquisitions of
 * the n workers in w[0, n).  1.0 when n is 0 or nobody acquired anything
 * (all were served alike).  Any thread.
 */
double pmerge_fairness(const struct pmerge_worker_result *w, size_t n);

/*
 * Everything a finished merge knows about itself.  Owned by the caller;
 * release with pmerge_result_free().
 */
struct pmerge_result {
	uint64_t bytes;   /* bytes appended to the output */
	uint64_t records; /* records (lines) with --unit=line and
	                     cfg.count_records; else 0 */
	size_t inputs;
	size_t failed_inputs;
	double wall_s;
	struct pmerge_lock_spec lock_used; /* after any sem:N reduction */
	enum pmerge_unit unit;
	enum pmerge_order order; /* resolved, never DEFAULT */
	unsigned jobs;
	struct pmerge_lock_result lock;
	struct pmerge_worker_result *workers; /* min(jobs, inputs) entries */
	/* With cfg.record_placement and --unit=file: n_inputs entries, in
	 * the order of cfg.inputs; else NULL. */
	struct pmerge_placement *placement;
	/* With cfg.decompress (not -m): n_inputs entries, in the order of
	 * cfg.inputs; else NULL. */
	struct pmerge_input_result *decoded;
	int signal;            /* the signal that stopped the merge, or 0 */
	int output_error;      /* errno of the output, 0 when fine */
	bool output_committed; /* -o replace: the file was renamed in */
	/*
	 * With handle_signals and a committed output: the stop signals are
	 * still blocked on the calling thread, since from the commit point on
	 * no signal may end the process as if the merge had failed.  Those
	 * that came during the commit stay pending (signal stays 0): a
	 * process that exits with them blocked exits normally, and
	 * pmerge_signals_release() delivers them to a caller that goes on.
	 */
	bool signals_held;
	sigset_t signals_restore; /* the mask before; pmerge_signals_release */
	bool workers_abandoned;   /* a worker did not stop in time */
	/* When the merge could not begin: what failed to be set up, and for
	 * a thread which one (from 1) of how many. */
	enum pmerge_setup setup_failed;
	unsigned setup_index, setup_count;
	/* PMERGE_SETUP_MEMORY of a copy buffer: its size (one per worker);
	 * 0 for the other allocations. */
	uint64_t setup_bytes;
	struct pmerge_sorted_result sorted;
};

/*
 * Runs one merge on the calling thread (which becomes the loop thread).
 *
 * Returns 0 when every input was merged and the output is complete; -EIO
 * when an input failed (see result->failed_inputs); -EPIPE, -ENOSPC, ... when
 * the output failed (also in result->output_error); -EINTR when stopped by a
 * signal (result->signal says which: the caller should re-raise it); -EINVAL
 * for a configuration that makes no sense; -ENOMEM.
 *
 * result is filled in every case and must be freed with pmerge_result_free().
 */
int pmerge_run(const struct pmerge_config *cfg, struct pmerge_result *result);

/* Releases what pmerge_run() allocated in result.  Accepts NULL. */
void pmerge_result_free(struct pmerge_result *result);
/* Unblocks the stop signals a committed merge left blocked (signals_held),
 * restoring the mask from before pmerge_run().  The thread that ran it. */
void pmerge_signals_release(struct pmerge_result *result);

/*
 * The descriptor an output name stands for, which the engine writes where
 * it stands instead of opening the name: 1 for "/dev/stdout", 2 for
 * "/dev/stderr", N for "/dev/fd/N" and "/proc/self/fd/N", decided by what
 * the name resolves to (so also "//dev/stdout", "/dev/./stdout" and a
 * symlink whose chain passes through one of these); -1 for any other
 * name.  Leaves errno as it was.  Any thread.
 */
int pmerge_output_fd(const char *path);

/*
 * path with its directory made canonical (realpath: no "//", "." or "..",
 * no symlinked directory) and its last component kept as it is, so that
 * two names of one file not yet made can be compared.  Returns a
 * malloc'ed name, or NULL with errno set (a missing directory, no memory).
 * Any thread.
 */
char *pmerge_canonical_name(const char *path);

/*
 * The prefix --tag writes before each record of the input called name: the
 * name with control characters escaped (\t, \n, \\, other control bytes
 * as \ooo) and a TAB.  Returns a malloc'ed string the caller frees (its
 * length in *len), or NULL when out of memory.  Any thread.
 */
char *pmerge_tag_make(const char *name, size_t *len);

/*
 * The gzip decoder -d uses: "isa-l", or "zlib" when ISA-L was left out of
 * the build or its library is missing at run time.  Any thread.
 */
const char *pmerge_gzip_backend(void);

#ifdef __cplusplus
}
#endif

#endif /* PMERGE_H */
