/*
 * Live inputs: the stream reader thread (src/streams.c) and -F's followed
 * names (src/follow.c).
 *
 * One thread, started by the merge when it may meet a stream, services
 * every live input at once: in --unit=line a worker that opens a pipe, FIFO,
 * socket or terminal hands it over (pm_streams_adopt) and goes on to the
 * next input, so that -j bounds only the regular files read at once.  The
 * thread waits in epoll_wait() on the streams, the merge's wake fd (written
 * once on cancel, never drained) and an eventfd ("poke") that other threads
 * write to tell it to look at adopted streams or changed names.  It frames
 * each stream into whole records and appends them through the workers'
 * append path (pm_lines_append), so the lock strategy and its statistics
 * cover it too.
 *
 * With -F every input is a followed name and belongs to this thread from
 * the start.  The libuv loop (main thread) learns of changes from
 * uv_fs_event watches on the names' directories and from a stat-poll timer,
 * and only marks names and pokes: the loop never reads, writes or blocks
 * on an input or the output.
 */
#ifndef PMERGE_STREAMS_H
#define PMERGE_STREAMS_H

#include "internal.h"

#include <sys/stat.h>
#include <uv.h>

struct pm_follow;
struct pm_reader;

/* One open input that the stream thread reads.  Stream thread only. */
struct pm_stream {
	size_t idx; /* the input's index: its tag and label */
	int fd;
	bool own_fd;
	bool regular; /* read by offset when told it changed, not by epoll */
	dev_t dev;
	ino_t ino;
	uint64_t offset; /* regular: where the next read starts */
	/* -d: what is read goes through a live decoding reader (decode.h),
	 * which keeps the codec's state between arrivals; NULL when the
	 * input turned out plain. */
	struct pm_reader *rd;
	uint64_t counted_in, counted_out; /* rd's bytes already counted */
	/* --tail of a compressed file: records to drop before the rest. */
	uint64_t skip;
	/* The start of a record whose terminator has not come yet; grows on
	 * demand up to the buffer size (beyond, pm_lines_long writes it). */
	char *part;
	size_t part_len, part_cap;
	char *tag;
	size_t tag_len;
	struct pm_follow *follow; /* the name it was opened by, or NULL */
	bool orphan;              /* a rotated-away file, read a while more */
	uint64_t quiet_since;     /* orphan: last time it grew */
	struct pm_stream *next;
};

/* One name that -F follows. */
struct pm_follow {
	size_t idx;
	const char *name;
	const char *base;      /* its last component, as fs events name it */
	size_t dir;            /* index of its directory watch */
	struct pm_stream *cur; /* the file the name led to, or NULL */
	atomic_bool queued;    /* in the dirty queue (loop -> stream thread) */
	bool missing, gone, done, is_stdin;
};

struct pm_streams {
	struct pm_merge *m;
	struct pm_worker w; /* own buffer, iovecs and statistics */
	pthread_t tid;
	bool started;
	int ep;   /* epoll */
	int poke; /* eventfd: any thread -> stream thread */
	pthread_mutex_t mu;
	struct pm_stream *incoming; /* mu: adopted, not yet taken */
	size_t *dq;                 /* mu: followed names to look at */
	size_t dq_len;
	atomic_bool all_dirty;    /* the poll timer: look at every name */
	struct pm_stream *active; /* stream thread: every open stream */
	size_t n_orphans;         /* stream thread: of them, orphans */
	struct pm_follow *follow; /* -F: one per input */
	size_t n_follow;
	size_t *dq_local;
	uint64_t linger_ns;
	int poll_ms;
	atomic_bool done; /* the thread has written out all it holds */
};

/*
 * Creates the stream reader of merge m (after its sink is open; -F when
 * m->cfg->follow).  Loop thread.  Returns 0 or -errno.
 */
int pm_streams_create(struct pm_merge *m, struct pm_streams **out);
/* Starts its thread; the caller has blocked signals.  0 or -errno. */
int pm_streams_start(struct pm_streams *s);
/*
 * Worker threads: hands the open stream src of input idx over.  On 0 the
 * fd belongs to the stream thread; -ENOTSUP (epoll cannot wait on it, e.g.
 * /dev/null) or another -errno leaves it with the caller.
 */
int pm_streams_adopt(struct pm_streams *s, struct pm_source *src, size_t idx);
/* Any thread: wake the stream thread (never blocks). */
void pm_streams_poke(struct pm_streams *s);
/* Loop thread: followed name i, or every one, may have changed. */
void pm_streams_mark(struct pm_streams *s, size_t i);
void pm_streams_mark_all(struct pm_streams *s);
/* Any thread: the thread is done (its last write is out). */
bool pm_streams_done(struct pm_streams *s);
/* Loop thread, once done: joins the thread.  Then destroy (accepts NULL),
 * after reading the statistics in s->w.st. */
void pm_streams_join(struct pm_streams *s);
void pm_streams_destroy(struct pm_streams *s);

/* ---------------------------------------------------- follow (-F) names */

/* Stream thread: reads what is new in regular stream st (follows a
 * truncation); returns the bytes read, or -errno. */
ssize_t pm_streams_drain(struct pm_streams *s, struct pm_stream *st);
/*
 * Stream thread: the regular file of st has ended (a rotated-away file
 * that stayed quiet): with -d, what its decoder still holds is decoded and
 * framed, and a stream cut short is an error.  0 or -errno.
 */
int pm_streams_end(struct pm_streams *s, struct pm_stream *st);
/* Stream thread: reports st's failure rc (a decoding error with the
 * codec's reason). */
void pm_streams_failed(struct pm_streams *s, struct pm_stream *st, int rc);
/* Stream thread: a new open input for s; NULL when out of memory. */
struct pm_stream *pm_streams_new(struct pm_streams *s, size_t idx, int fd,
                                 bool own_fd, const struct stat *sb);
/* Stream thread: starts reading st (epoll for a stream).  0 or -errno. */
int pm_streams_add(struct pm_streams *s, struct pm_stream *st);
/* Stream thread: writes out st's held record (terminator added). */
int pm_streams_flush(struct pm_streams *s, struct pm_stream *st);
/* Stream thread: closes st and removes it from the active list. */
void pm_streams_close(struct pm_streams *s, struct pm_stream *st);

/* Stream thread: looks at followed name f (initial: the first time). */
void pm_follow_check(struct pm_streams *s, struct pm_follow *f, bool initial);
/* Stream thread: reads the orphans on, closing those quiet long enough. */
void pm_follow_orphans(struct pm_streams *s);

/*
 * Loop thread: the change sources of -F, uv_fs_event watches on the names'
 * directories (one inotify instance: libuv's, one watch per directory) and
 * a stat-poll timer.  *out is set whenever memory was had, also on
 * failure: pm_watch_close() closes its handles, pm_watch_free() (accepts
 * NULL) frees it once the loop has run their close callbacks.  Returns 0 or
 * -errno (a directory that cannot be watched is not a failure: it is told
 * through the follow callback, and polled).
 */
struct pm_watch;
int pm_watch_start(uv_loop_t *loop, struct pm_streams *s,
                   struct pm_watch **out);
void pm_watch_close(struct pm_watch *w);
void pm_watch_free(struct pm_watch *w);

#endif /* PMERGE_STREAMS_H */
