/*
 * pmfault: a fault-injection shim for pmerge's tests, loaded with
 * LD_PRELOAD.  It stands in front of the C library's system call wrappers
 * and makes chosen calls fail (or move fewer bytes) the way a broken disk,
 * a full file system or a signal storm would, so that the tests can see
 * what pmerge makes of it.
 *
 * PMFAULT holds rules separated by ';', each
 *
 *     CALLS:ERROR[:OPTION]...
 *
 * CALLS   a ','-separated list of read, pread, write, writev, pwrite,
 *         pwritev, copy_file_range, splice, poll, open, mkostemp, rename,
 *         link, fsync, fdatasync, close, inotify_init1, inotify_add_watch,
 *         pthread_create (which returns the error instead of setting errno),
 *         or of the groups reads
 * (read, pread), writes (write, writev, pwrite, pwritev) and io (reads, writes,
 * copy_file_range, splice). ERROR   an errno name (EIO, ENOSPC, EINTR, ...) or
 * number: the call fails with it and does nothing (close still closes, as Linux
 *         does); or "short": the call goes through but moves at most max=
 *         bytes; or "stop" (open, rename, link): the call goes through, then
 * the process stops itself with SIGSTOP, so that a test can act at that exact
 * point (send a signal) before it sends SIGCONT. OPTION  path=S    only calls
 * on a path containing S: the path argument of open, mkostemp, rename and link
 * (either name) and inotify_add_watch, else a file descriptor that open or
 * mkostemp returned for such a path. An open with O_TMPFILE is seen as one on
 * the path "O_TMPFILE:DIR", so that path=O_TMPFILE: picks out the unnamed files
 * (and their descriptors) fd=N      only calls on descriptor N (either end of
 *                   copy_file_range and splice, any entry of poll)
 *         after=N   let the first N matching calls through (default 0)
 *         every=N   from then on, fail one matching call in N, starting
 *                   with the first (default 1: every call)
 *         count=N   fail N times in all, then never again (default: no end)
 *         max=N     with short: at most N bytes per call (default 1)
 *         nonblock=1  only calls on a descriptor that has O_NONBLOCK set,
 *                   as a file that honours it fails them with EAGAIN
 *
 * A rule without path= or fd= matches every call of its kinds.  Rules are
 * tried in order; the first that fires decides.  Counters are atomic, so
 * "after" and "every" count calls from all threads together, and the calls
 * of all the kinds a rule names share one count: a storm meant to hit every
 * other read and every other poll needs a rule for each, or a loop that
 * alternates poll and read would see only its reads fail.
 *
 * PMFAULT_LOG names a file that gets one line per injected fault, so that a
 * test can tell that a fault it expects to be survived really happened.
 * An unreadable PMFAULT ends the process with status 125 before main().
 *
 * glibc's own internal calls (mkostemp opening its file, fopen, ...) go
 * through hidden aliases that no preloaded library can see; that is why
 * mkostemp and its relatives are wrapped themselves.
 */

/*
 * The build asks for 64-bit file offsets, which makes the headers rename
 * open to open64 and so on.  This file defines both names, so it must see
 * the plain declarations; on 64-bit targets the types are the same.
 */
#undef _FILE_OFFSET_BITS

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define PF_EXPORT __attribute__((visibility("default")))

enum call {
	C_READ,
	C_PREAD,
	C_WRITE,
	C_WRITEV,
	C_PWRITE,
	C_PWRITEV,
	C_COPY_FILE_RANGE,
	C_SPLICE,
	C_POLL,
	C_OPEN,
	C_MKOSTEMP,
	C_RENAME,
	C_LINK,
	C_FSYNC,
	C_FDATASYNC,
	C_CLOSE,
	C_INOTIFY_INIT,
	C_INOTIFY_WATCH,
	C_PTHREAD_CREATE,
	C_COUNT_,
};

static const char *const call_names[C_COUNT_] = {
    "read",
    "pread",
    "write",
    "writev",
    "pwrite",
    "pwritev",
    "copy_file_range",
    "splice",
    "poll",
    "open",
    "mkostemp",
    "rename",
    "link",
    "fsync",
    "fdatasync",
    "close",
    "inotify_init1",
    "inotify_add_watch",
    "pthread_create",
};

#define BIT(c) (1u << (c))
#define READS  (BIT(C_READ) | BIT(C_PREAD))
#define WRITES (BIT(C_WRITE) | BIT(C_WRITEV) | BIT(C_PWRITE) | BIT(C_PWRITEV))

#define MAX_RULES 32
/* Descriptors above this are never marked: no test opens that many. */
#define FD_SLOTS 65536

struct rule {
	unsigned calls; /* BIT(enum call) set */
	int err;        /* errno to fail with; 0 for short */
	size_t max;     /* short: bytes per call */
	char *path;     /* NULL: any */
	int fd;         /* -1: any */
	uint64_t after, every, count;
	bool nonblock; /* only descriptors with O_NONBLOCK */
	bool stop;     /* open: SIGSTOP after the call */
	_Atomic uint64_t seen, fired;
};

static struct rule rules[MAX_RULES];
static unsigned n_rules;
static int log_fd = -1;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* Bit i set: the descriptor was opened on a path that rule i names. */
static _Atomic uint32_t fd_mark[FD_SLOTS];

/* -------------------------------------------------- the real functions */

/*
 * Looks up the next definition of name (the C library's, or a sanitizer's
 * interceptor) once; any thread may race here, they all store the same.
 */
static void *real_sym(_Atomic(void *) *slot, const char *name)
{
	void *p = atomic_load_explicit(slot, memory_order_acquire);

	if (!p) {
		p = dlsym(RTLD_NEXT, name);
		if (!p) {
			static const char msg[] = "pmfault: a libc symbol is "
			                          "missing\n";
			/* Nothing sensible can follow without the real call. */
			(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
			abort();
		}
		atomic_store_explicit(slot, p, memory_order_release);
	}
	return p;
}

#define REAL(type, name)                                                       \
	({                                                                     \
		static _Atomic(void *) slot_;                                  \
		(type) real_sym(&slot_, name);                                 \
	})

typedef ssize_t (*read_fn)(int, void *, size_t);
typedef ssize_t (*pread_fn)(int, void *, size_t, off_t);
typedef ssize_t (*readv_fn)(int, const struct iovec *, int);
typedef ssize_t (*preadv_fn)(int, const struct iovec *, int, off_t);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
typedef ssize_t (*pwritev_fn)(int, const struct iovec *, int, off_t);
typedef ssize_t (*pwritev2_fn)(int, const struct iovec *, int, off_t, int);
typedef ssize_t (*cfr_fn)(int, off_t *, int, off_t *, size_t, unsigned);
typedef ssize_t (*splice_fn)(int, off_t *, int, off_t *, size_t, unsigned);
typedef int (*poll_fn)(struct pollfd *, nfds_t, int);
typedef int (*ppoll_fn)(struct pollfd *, nfds_t, const struct timespec *,
                        const sigset_t *);
typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*mkostemp_fn)(char *, int);
typedef int (*mkstemp_fn)(char *);
typedef int (*mkostemps_fn)(char *, int, int);
typedef int (*rename_fn)(const char *, const char *);
typedef int (*renameat_fn)(int, const char *, int, const char *);
typedef int (*renameat2_fn)(int, const char *, int, const char *, unsigned);
typedef int (*close_fn)(int);
typedef int (*link_fn)(const char *, const char *);
typedef int (*linkat_fn)(int, const char *, int, const char *, int);
typedef int (*sync_fn)(int);

/* ------------------------------------------------------------- the rules */

static _Noreturn void bad_spec(const char *what, const char *text)
{
	char msg[512];
	int n = snprintf(msg, sizeof(msg), "pmfault: PMFAULT: %s: '%s'\n", what,
	                 text);

	(void)!REAL(write_fn, "write")(
	    STDERR_FILENO, msg,
	    n > 0 && (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
	_exit(125);
}

static const struct {
	const char *name;
	int err;
} errnos[] = {
    {"EIO", EIO},
    {"ENOSPC", ENOSPC},
    {"EINTR", EINTR},
    {"ENOSYS", ENOSYS},
    {"EXDEV", EXDEV},
    {"EINVAL", EINVAL},
    {"EACCES", EACCES},
    {"EPERM", EPERM},
    {"EMFILE", EMFILE},
    {"ENFILE", ENFILE},
    {"EBADF", EBADF},
    {"EAGAIN", EAGAIN},
    {"EDQUOT", EDQUOT},
    {"EFBIG", EFBIG},
    {"EPIPE", EPIPE},
    {"EROFS", EROFS},
    {"ENOMEM", ENOMEM},
    {"ENOENT", ENOENT},
    {"EOPNOTSUPP", EOPNOTSUPP},
    {"ELOOP", ELOOP},
    {"ETXTBSY", ETXTBSY},
};

static uint64_t parse_num(const char *s, const char *rule)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		bad_spec("not a number", rule);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		bad_spec("not a number", rule);
	return v;
}

static unsigned parse_calls(char *list, const char *rule)
{
	unsigned calls = 0;
	char *save = NULL;

	for (char *w = strtok_r(list, ",", &save); w;
	     w = strtok_r(NULL, ",", &save)) {
		unsigned c;

		if (strcmp(w, "reads") == 0) {
			calls |= READS;
			continue;
		}
		if (strcmp(w, "writes") == 0) {
			calls |= WRITES;
			continue;
		}
		if (strcmp(w, "io") == 0) {
			calls |= READS | WRITES | BIT(C_COPY_FILE_RANGE) |
			         BIT(C_SPLICE);
			continue;
		}
		for (c = 0; c < C_COUNT_; c++)
			if (strcmp(w, call_names[c]) == 0)
				break;
		if (c == C_COUNT_)
			bad_spec("unknown call", rule);
		calls |= BIT(c);
	}
	if (!calls)
		bad_spec("no call named", rule);
	return calls;
}

static void parse_rule(struct rule *r, char *text)
{
	char *copy = strdup(text), *save = NULL, *f;
	size_t i;

	if (!copy)
		bad_spec("out of memory", text);
	r->fd = -1;
	r->every = 1;
	r->max = 1;
	f = strtok_r(copy, ":", &save);
	if (!f)
		bad_spec("empty rule", text);
	r->calls = parse_calls(f, text);
	f = strtok_r(NULL, ":", &save);
	if (!f)
		bad_spec("no error given", text);
	if (strcmp(f, "short") == 0) {
		r->err = 0;
	} else if (strcmp(f, "stop") == 0) {
		r->err = 0;
		r->stop = true;
	} else if (*f >= '0' && *f <= '9') {
		r->err = (int)parse_num(f, text);
	} else {
		for (i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
			if (strcmp(f, errnos[i].name) == 0)
				break;
		if (i == sizeof(errnos) / sizeof(errnos[0]))
			bad_spec("unknown error", text);
		r->err = errnos[i].err;
	}
	while ((f = strtok_r(NULL, ":", &save))) {
		char *eq = strchr(f, '=');

		if (!eq)
			bad_spec("option without '='", text);
		*eq++ = '\0';
		if (strcmp(f, "path") == 0 && *eq) {
			r->path = strdup(eq);
		} else if (strcmp(f, "fd") == 0) {
			r->fd = (int)parse_num(eq, text);
		} else if (strcmp(f, "after") == 0) {
			r->after = parse_num(eq, text);
		} else if (strcmp(f, "every") == 0) {
			r->every = parse_num(eq, text);
			if (r->every == 0)
				bad_spec("every=0", text);
		} else if (strcmp(f, "nonblock") == 0) {
			r->nonblock = parse_num(eq, text) != 0;
		} else if (strcmp(f, "count") == 0) {
			r->count = parse_num(eq, text);
		} else if (strcmp(f, "max") == 0) {
			r->max = (size_t)parse_num(eq, text);
			if (r->max == 0)
				bad_spec("max=0", text);
		} else {
			bad_spec("unknown option", text);
		}
	}
	free(copy);
}

static void setup(void)
{
	const char *spec = getenv("PMFAULT");
	const char *log = getenv("PMFAULT_LOG");

	if (spec && *spec) {
		char *all = strdup(spec), *save = NULL;

		if (!all)
			bad_spec("out of memory", spec);
		for (char *t = strtok_r(all, ";", &save); t;
		     t = strtok_r(NULL, ";", &save)) {
			if (n_rules == MAX_RULES)
				bad_spec("too many rules", spec);
			parse_rule(&rules[n_rules++], t);
		}
		free(all);
	}
	if (log && *log) {
		int fd = REAL(open_fn, "open")(
		    log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0)
			bad_spec("cannot open", log);
		/*
		 * Keep the log off the low numbers: a test may have closed
		 * standard input or output, and what pmerge opens next must
		 * land there as it would without the shim.
		 */
		log_fd = fcntl(fd, F_DUPFD_CLOEXEC, 200);
		if (log_fd >= 0)
			REAL(close_fn, "close")(fd);
		else
			log_fd = fd;
	}
}

__attribute__((constructor)) static void pmfault_init(void)
{
	pthread_once(&once, setup);
}

static void ensure_setup(void)
{
	pthread_once(&once, setup);
}

static bool path_hit(const struct rule *r, const char *p1, const char *p2)
{
	return (p1 && strstr(p1, r->path)) || (p2 && strstr(p2, r->path));
}

static bool fd_hit(unsigned i, int fd)
{
	const struct rule *r = &rules[i];

	if (fd < 0)
		return false;
	if (r->fd >= 0)
		return fd == r->fd;
	if (r->path)
		return fd < FD_SLOTS &&
		       (atomic_load_explicit(&fd_mark[fd],
		                             memory_order_relaxed) &
		        (1u << i));
	return true;
}

static void log_fault(const struct rule *r, enum call c, const int *fds,
                      size_t nfds, const char *p1)
{
	char line[600];
	int n;

	if (log_fd < 0)
		return;
	if (p1)
		n = snprintf(line, sizeof(line), "%s %s path=%s\n",
		             call_names[c],
		             r->err    ? strerror(r->err)
		             : r->stop ? "stop"
		                       : "short",
		             p1);
	else
		n = snprintf(line, sizeof(line), "%s %s fd=%d\n", call_names[c],
		             r->err    ? strerror(r->err)
		             : r->stop ? "stop"
		                       : "short",
		             nfds ? fds[0] : -1);
	if (n > 0)
		(void)!REAL(write_fn, "write")(
		    log_fd, line,
		    (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/*
 * Decides whether this call fails: fds are the descriptors it works on,
 * p1 and p2 the paths it names.  Returns the rule that fires, or NULL.
 */
static const struct rule *decide(enum call c, const int *fds, size_t nfds,
                                 const char *p1, const char *p2)
{
	ensure_setup();
	for (unsigned i = 0; i < n_rules; i++) {
		struct rule *r = &rules[i];
		bool hit = false;

		if (!(r->calls & BIT(c)))
			continue;
		if (p1 || p2) {
			hit = !r->path || path_hit(r, p1, p2);
		} else if (nfds == 0) {
			/* A call on no descriptor (inotify_init1). */
			hit = !r->path && r->fd < 0;
		} else {
			for (size_t k = 0; k < nfds && !hit; k++)
				hit = fd_hit(i, fds[k]);
		}
		if (hit && r->nonblock)
			hit = nfds > 0 && (fcntl(fds[0], F_GETFL) & O_NONBLOCK);
		if (!hit)
			continue;
		uint64_t k = atomic_fetch_add(&r->seen, 1);
		if (k < r->after || (k - r->after) % r->every != 0)
			continue;
		uint64_t f = atomic_fetch_add(&r->fired, 1);
		if (r->count && f >= r->count)
			continue;
		log_fault(r, c, fds, nfds, p1);
		return r;
	}
	return NULL;
}

static const struct rule *decide_fd(enum call c, int fd)
{
	return decide(c, &fd, 1, NULL, NULL);
}

static const struct rule *decide_fd2(enum call c, int a, int b)
{
	int fds[2] = {a, b};

	return decide(c, fds, 2, NULL, NULL);
}

/* Remembers which rules' paths name what fd now is. */
static void mark(int fd, const char *path)
{
	uint32_t m = 0;

	if (fd < 0 || fd >= FD_SLOTS)
		return;
	ensure_setup();
	for (unsigned i = 0; i < n_rules; i++)
		if (rules[i].path && path && strstr(path, rules[i].path))
			m |= 1u << i;
	atomic_store_explicit(&fd_mark[fd], m, memory_order_relaxed);
}

static void unmark(int fd)
{
	if (fd >= 0 && fd < FD_SLOTS)
		atomic_store_explicit(&fd_mark[fd], 0, memory_order_relaxed);
}

/* Fails the call: -1 with errno set, as the C library reports. */
static long fail(const struct rule *r)
{
	errno = r->err;
	return -1;
}

static size_t shorten(const struct rule *r, size_t len)
{
	return r && len > r->max ? r->max : len;
}

/*
 * A short vector call: copies the leading entries that hold at most max
 * bytes into tmp (room for cnt entries) and returns their count.
 */
static int shorten_iov(const struct rule *r, const struct iovec *iov, int cnt,
                       struct iovec *tmp)
{
	size_t left = r->max;
	int n = 0;

	while (n < cnt && left > 0) {
		tmp[n] = iov[n];
		if (tmp[n].iov_len > left)
			tmp[n].iov_len = left;
		left -= tmp[n].iov_len;
		n++;
	}
	/* Nothing to move at all: keep one empty entry so the call happens. */
	if (n == 0 && cnt > 0) {
		tmp[0] = iov[0];
		tmp[0].iov_len = 0;
		n = 1;
	}
	return n;
}

/* ---------------------------------------------------------------- reads */

PF_EXPORT ssize_t read(int fd, void *buf, size_t len)
{
	const struct rule *r = decide_fd(C_READ, fd);

	if (r && r->err)
		return fail(r);
	return REAL(read_fn, "read")(fd, buf, shorten(r, len));
}

PF_EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	(void)buflen;
	return read(fd, buf, len);
}

PF_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	const struct rule *r = decide_fd(C_READ, fd);

	if (r && r->err)
		return fail(r);
	if (r && cnt > 0) {
		struct iovec tmp[cnt];
		return REAL(readv_fn, "readv")(fd, tmp,
		                               shorten_iov(r, iov, cnt, tmp));
	}
	return REAL(readv_fn, "readv")(fd, iov, cnt);
}

static ssize_t do_pread(pread_fn real, int fd, void *buf, size_t len, off_t off)
{
	const struct rule *r = decide_fd(C_PREAD, fd);

	if (r && r->err)
		return fail(r);
	return real(fd, buf, shorten(r, len), off);
}

PF_EXPORT ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
	return do_pread(REAL(pread_fn, "pread"), fd, buf, len, off);
}

PF_EXPORT ssize_t pread64(int fd, void *buf, size_t len, off64_t off)
{
	return do_pread(REAL(pread_fn, "pread64"), fd, buf, len, off);
}

PF_EXPORT ssize_t __pread_chk(int fd, void *buf, size_t len, off_t off,
                              size_t buflen)
{
	(void)buflen;
	return do_pread(REAL(pread_fn, "pread"), fd, buf, len, off);
}

PF_EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t len, off64_t off,
                                size_t buflen)
{
	(void)buflen;
	return do_pread(REAL(pread_fn, "pread64"), fd, buf, len, off);
}

static ssize_t do_preadv(preadv_fn real, int fd, const struct iovec *iov,
                         int cnt, off_t off)
{
	const struct rule *r = decide_fd(C_PREAD, fd);

	if (r && r->err)
		return fail(r);
	if (r && cnt > 0) {
		struct iovec tmp[cnt];
		return real(fd, tmp, shorten_iov(r, iov, cnt, tmp), off);
	}
	return real(fd, iov, cnt, off);
}

PF_EXPORT ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return do_preadv(REAL(preadv_fn, "preadv"), fd, iov, cnt, off);
}

PF_EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int cnt,
                           off64_t off)
{
	return do_preadv(REAL(preadv_fn, "preadv64"), fd, iov, cnt, off);
}

/* --------------------------------------------------------------- writes */

PF_EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	const struct rule *r = decide_fd(C_WRITE, fd);

	if (r && r->err)
		return fail(r);
	return REAL(write_fn, "write")(fd, buf, shorten(r, len));
}

PF_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	const struct rule *r = decide_fd(C_WRITEV, fd);

	if (r && r->err)
		return fail(r);
	if (r && cnt > 0) {
		struct iovec tmp[cnt];
		return REAL(writev_fn, "writev")(fd, tmp,
		                                 shorten_iov(r, iov, cnt, tmp));
	}
	return REAL(writev_fn, "writev")(fd, iov, cnt);
}

static ssize_t do_pwrite(pwrite_fn real, int fd, const void *buf, size_t len,
                         off_t off)
{
	const struct rule *r = decide_fd(C_PWRITE, fd);

	if (r && r->err)
		return fail(r);
	return real(fd, buf, shorten(r, len), off);
}

PF_EXPORT ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	return do_pwrite(REAL(pwrite_fn, "pwrite"), fd, buf, len, off);
}

PF_EXPORT ssize_t pwrite64(int fd, const void *buf, size_t len, off64_t off)
{
	return do_pwrite(REAL(pwrite_fn, "pwrite64"), fd, buf, len, off);
}

static ssize_t do_pwritev(pwritev_fn real, int fd, const struct iovec *iov,
                          int cnt, off_t off)
{
	const struct rule *r = decide_fd(C_PWRITEV, fd);

	if (r && r->err)
		return fail(r);
	if (r && cnt > 0) {
		struct iovec tmp[cnt];
		return real(fd, tmp, shorten_iov(r, iov, cnt, tmp), off);
	}
	return real(fd, iov, cnt, off);
}

PF_EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return do_pwritev(REAL(pwritev_fn, "pwritev"), fd, iov, cnt, off);
}

PF_EXPORT ssize_t pwritev64(int fd, const struct iovec *iov, int cnt,
                            off64_t off)
{
	return do_pwritev(REAL(pwritev_fn, "pwritev64"), fd, iov, cnt, off);
}

static ssize_t do_pwritev2(pwritev2_fn real, int fd, const struct iovec *iov,
                           int cnt, off_t off, int flags)
{
	const struct rule *r = decide_fd(C_PWRITEV, fd);

	if (r && r->err)
		return fail(r);
	if (r && cnt > 0) {
		struct iovec tmp[cnt];
		return real(fd, tmp, shorten_iov(r, iov, cnt, tmp), off, flags);
	}
	return real(fd, iov, cnt, off, flags);
}

PF_EXPORT ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off,
                           int flags)
{
	return do_pwritev2(REAL(pwritev2_fn, "pwritev2"), fd, iov, cnt, off,
	                   flags);
}

PF_EXPORT ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt,
                              off64_t off, int flags)
{
	return do_pwritev2(REAL(pwritev2_fn, "pwritev64v2"), fd, iov, cnt, off,
	                   flags);
}

/* ---------------------------------------------------- kernel-side copies */

PF_EXPORT ssize_t copy_file_range(int in, off64_t *in_off, int out,
                                  off64_t *out_off, size_t len, unsigned flags)
{
	const struct rule *r = decide_fd2(C_COPY_FILE_RANGE, in, out);

	if (r && r->err)
		return fail(r);
	return REAL(cfr_fn, "copy_file_range")(in, in_off, out, out_off,
	                                       shorten(r, len), flags);
}

PF_EXPORT ssize_t splice(int in, off64_t *in_off, int out, off64_t *out_off,
                         size_t len, unsigned flags)
{
	const struct rule *r = decide_fd2(C_SPLICE, in, out);

	if (r && r->err)
		return fail(r);
	return REAL(splice_fn, "splice")(in, in_off, out, out_off,
	                                 shorten(r, len), flags);
}

/* ----------------------------------------------------------------- poll */

/*
 * pf is not const: glibc declares poll()'s array write-only, and the
 * compiler would take reading it through a const pointer for a read of
 * uninitialised memory.
 */
static const struct rule *decide_poll(struct pollfd *pf, nfds_t n)
{
	/* Enough for pmerge's polls; the rest of a longer set goes unseen. */
	int fds[16];
	size_t k = 0;

	for (nfds_t i = 0; i < n && k < 16; i++)
		fds[k++] = pf[i].fd;
	return decide(C_POLL, fds, k, NULL, NULL);
}

PF_EXPORT int poll(struct pollfd *pf, nfds_t n, int timeout)
{
	const struct rule *r = decide_poll(pf, n);

	if (r && r->err)
		return (int)fail(r);
	return REAL(poll_fn, "poll")(pf, n, timeout);
}

PF_EXPORT int __poll_chk(struct pollfd *pf, nfds_t n, int timeout,
                         size_t fdslen)
{
	(void)fdslen;
	return poll(pf, n, timeout);
}

PF_EXPORT int ppoll(struct pollfd *pf, nfds_t n, const struct timespec *t,
                    const sigset_t *mask)
{
	const struct rule *r = decide_poll(pf, n);

	if (r && r->err)
		return (int)fail(r);
	return REAL(ppoll_fn, "ppoll")(pf, n, t, mask);
}

/* ---------------------------------------------------------------- opens */

static bool takes_mode(int flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

/* The path rules see for an open: "O_TMPFILE:DIR" for an unnamed file. */
static const char *open_path(const char *path, int flags, char *buf,
                             size_t size)
{
	if ((flags & O_TMPFILE) != O_TMPFILE)
		return path;
	snprintf(buf, size, "O_TMPFILE:%s", path);
	return buf;
}

static int do_open(open_fn real, const char *path, int flags, mode_t mode)
{
	char buf[4200];
	const char *seen = open_path(path, flags, buf, sizeof(buf));
	const struct rule *r = decide(C_OPEN, NULL, 0, seen, NULL);
	int fd;

	if (r && r->err)
		return (int)fail(r);
	fd = real(path, flags, mode);
	mark(fd, seen);
	if (r && r->stop)
		raise(SIGSTOP);
	return fd;
}

static int do_openat(openat_fn real, int dir, const char *path, int flags,
                     mode_t mode)
{
	char buf[4200];
	const char *seen = open_path(path, flags, buf, sizeof(buf));
	const struct rule *r = decide(C_OPEN, NULL, 0, seen, NULL);
	int fd;

	if (r && r->err)
		return (int)fail(r);
	fd = real(dir, path, flags, mode);
	mark(fd, seen);
	if (r && r->stop)
		raise(SIGSTOP);
	return fd;
}

#define MODE_ARG(flags)                                                        \
	({                                                                     \
		mode_t m_ = 0;                                                 \
		if (takes_mode(flags)) {                                       \
			va_list ap_;                                           \
			va_start(ap_, flags);                                  \
			m_ = (mode_t)va_arg(ap_, int);                         \
			va_end(ap_);                                           \
		}                                                              \
		m_;                                                            \
	})

PF_EXPORT int open(const char *path, int flags, ...)
{
	return do_open(REAL(open_fn, "open"), path, flags, MODE_ARG(flags));
}

PF_EXPORT int open64(const char *path, int flags, ...)
{
	return do_open(REAL(open_fn, "open64"), path, flags, MODE_ARG(flags));
}

PF_EXPORT int __open_2(const char *path, int flags)
{
	return do_open(REAL(open_fn, "open"), path, flags, 0);
}

PF_EXPORT int __open64_2(const char *path, int flags)
{
	return do_open(REAL(open_fn, "open64"), path, flags, 0);
}

PF_EXPORT int openat(int dir, const char *path, int flags, ...)
{
	return do_openat(REAL(openat_fn, "openat"), dir, path, flags,
	                 MODE_ARG(flags));
}

PF_EXPORT int openat64(int dir, const char *path, int flags, ...)
{
	return do_openat(REAL(openat_fn, "openat64"), dir, path, flags,
	                 MODE_ARG(flags));
}

PF_EXPORT int __openat_2(int dir, const char *path, int flags)
{
	return do_openat(REAL(openat_fn, "openat"), dir, path, flags, 0);
}

PF_EXPORT int __openat64_2(int dir, const char *path, int flags)
{
	return do_openat(REAL(openat_fn, "openat64"), dir, path, flags, 0);
}

/* ------------------------------------------------------ temporary files */

/* The template is read before the call: its XXXXXX part does not matter. */
#define TEMP_WRAPPER(sym, type, ...)                                           \
	({                                                                     \
		const struct rule *r_ =                                        \
		    decide(C_MKOSTEMP, NULL, 0, tmpl, NULL);                   \
		int fd_;                                                       \
		if (r_ && r_->err)                                             \
			return (int)fail(r_);                                  \
		fd_ = REAL(type, sym)(__VA_ARGS__);                            \
		mark(fd_, tmpl);                                               \
		fd_;                                                           \
	})

PF_EXPORT int mkostemp(char *tmpl, int flags)
{
	return TEMP_WRAPPER("mkostemp", mkostemp_fn, tmpl, flags);
}

PF_EXPORT int mkostemp64(char *tmpl, int flags)
{
	return TEMP_WRAPPER("mkostemp64", mkostemp_fn, tmpl, flags);
}

PF_EXPORT int mkstemp(char *tmpl)
{
	return TEMP_WRAPPER("mkstemp", mkstemp_fn, tmpl);
}

PF_EXPORT int mkstemp64(char *tmpl)
{
	return TEMP_WRAPPER("mkstemp64", mkstemp_fn, tmpl);
}

PF_EXPORT int mkostemps(char *tmpl, int suffixlen, int flags)
{
	return TEMP_WRAPPER("mkostemps", mkostemps_fn, tmpl, suffixlen, flags);
}

PF_EXPORT int mkostemps64(char *tmpl, int suffixlen, int flags)
{
	return TEMP_WRAPPER("mkostemps64", mkostemps_fn, tmpl, suffixlen,
	                    flags);
}

/* -------------------------------------------------------------- renames */

/* A "stop" rule: the call has been made; the process stops itself. */
static int stop_after(const struct rule *r, int rc)
{
	int err = errno;

	if (r && r->stop)
		raise(SIGSTOP);
	errno = err;
	return rc;
}

PF_EXPORT int rename(const char *from, const char *to)
{
	const struct rule *r = decide(C_RENAME, NULL, 0, from, to);

	if (r && r->err)
		return (int)fail(r);
	return stop_after(r, REAL(rename_fn, "rename")(from, to));
}

PF_EXPORT int renameat(int fromdir, const char *from, int todir, const char *to)
{
	const struct rule *r = decide(C_RENAME, NULL, 0, from, to);

	if (r && r->err)
		return (int)fail(r);
	return stop_after(
	    r, REAL(renameat_fn, "renameat")(fromdir, from, todir, to));
}

PF_EXPORT int renameat2(int fromdir, const char *from, int todir,
                        const char *to, unsigned flags)
{
	const struct rule *r = decide(C_RENAME, NULL, 0, from, to);

	if (r && r->err)
		return (int)fail(r);
	return stop_after(r, REAL(renameat2_fn, "renameat2")(fromdir, from,
	                                                     todir, to, flags));
}

/* ---------------------------------------------------------------- links */

PF_EXPORT int link(const char *from, const char *to)
{
	const struct rule *r = decide(C_LINK, NULL, 0, from, to);

	if (r && r->err)
		return (int)fail(r);
	return stop_after(r, REAL(link_fn, "link")(from, to));
}

PF_EXPORT int linkat(int fromdir, const char *from, int todir, const char *to,
                     int flags)
{
	const struct rule *r = decide(C_LINK, NULL, 0, from, to);

	if (r && r->err)
		return (int)fail(r);
	return stop_after(
	    r, REAL(linkat_fn, "linkat")(fromdir, from, todir, to, flags));
}

/* ------------------------------------------------------------ durability */

PF_EXPORT int fsync(int fd)
{
	const struct rule *r = decide_fd(C_FSYNC, fd);

	if (r && r->err)
		return (int)fail(r);
	return REAL(sync_fn, "fsync")(fd);
}

PF_EXPORT int fdatasync(int fd)
{
	const struct rule *r = decide_fd(C_FDATASYNC, fd);

	if (r && r->err)
		return (int)fail(r);
	return REAL(sync_fn, "fdatasync")(fd);
}

/* -------------------------------------------------------------- inotify */

typedef int (*inotify_init1_fn)(int);
typedef int (*inotify_add_watch_fn)(int, const char *, uint32_t);

PF_EXPORT int inotify_init1(int flags)
{
	const struct rule *r = decide(C_INOTIFY_INIT, NULL, 0, NULL, NULL);

	if (r && r->err)
		return (int)fail(r);
	return REAL(inotify_init1_fn, "inotify_init1")(flags);
}

PF_EXPORT int inotify_add_watch(int fd, const char *path, uint32_t mask)
{
	const struct rule *r = decide(C_INOTIFY_WATCH, NULL, 0, path, NULL);

	if (r && r->err)
		return (int)fail(r);
	return REAL(inotify_add_watch_fn, "inotify_add_watch")(fd, path, mask);
}

/* ---------------------------------------------------------------- close */

PF_EXPORT int close(int fd)
{
	const struct rule *r = decide_fd(C_CLOSE, fd);
	int rc;

	/* The number is free again whatever close() says: forget its path. */
	unmark(fd);
	rc = REAL(close_fn, "close")(fd);
	if (r && r->err)
		return (int)fail(r);
	return rc;
}

/* -------------------------------------------------------------- threads */

typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *,
                                 void *(*)(void *), void *);

PF_EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *attr,
                             void *(*fn)(void *), void *arg)
{
	const struct rule *r = decide(C_PTHREAD_CREATE, NULL, 0, NULL, NULL);

	if (r && r->err)
		return r->err;
	return REAL(pthread_create_fn, "pthread_create")(t, attr, fn, arg);
}
