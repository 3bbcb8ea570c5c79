/*
 * The output.  Three shapes: standard output (or a /dev/stdout-like alias)
 * written where it stands; a regular -o file replaced atomically through a
 * temporary file in its directory; and -a or a non-regular -o file written
 * directly.  Writers reserve byte ranges and write at those offsets whenever
 * the output allows it, which is what lets sem:N run N writers at once.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

/* One copy_file_range/splice call moves at most this much, so that a
 * cancellation is seen between calls even on multi-GiB inputs. */
#define PM_COPY_CHUNK (64ull << 20)

char *pmerge_canonical_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir, *parent, *out = NULL;

	if (!slash)
		parent = strdup(".");
	else if (slash == path)
		parent = strdup("/");
	else
		parent = strndup(path, (size_t)(slash - path));
	if (!parent)
		return NULL;
	dir = realpath(parent, NULL);
	free(parent);
	if (!dir)
		return NULL;
	if (asprintf(&out, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir,
	             slash ? slash + 1 : path) < 0)
		out = NULL;
	free(dir);
	return out;
}

/*
 * The descriptor a canonical name stands for: 1 for /dev/stdout, 2 for
 * /dev/stderr, N for /proc/PID/fd/N and /proc/PID/task/TID/fd/N of this
 * process (what /dev/fd, /proc/self and /proc/thread-self resolve to);
 * -1 for any other name.
 */
static int fd_of_name(const char *name)
{
	char self[32];
	int n = snprintf(self, sizeof(self), "/proc/%ld/", (long)getpid());
	const char *num = name + n;

	if (strcmp(name, "/dev/stdout") == 0)
		return STDOUT_FILENO;
	if (strcmp(name, "/dev/stderr") == 0)
		return STDERR_FILENO;
	if (strncmp(name, self, (size_t)n) != 0)
		return -1;
	if (strncmp(num, "task/", 5) == 0) {
		size_t digits = strspn(num + 5, "0123456789");
		if (!digits || num[5 + digits] != '/')
			return -1;
		num += 5 + digits + 1;
	}
	if (strncmp(num, "fd/", 3) != 0 || num[3] < '0' || num[3] > '9')
		return -1;
	char *end;
	errno = 0;
	long v = strtol(num + 3, &end, 10);
	return *end || errno || v > INT_MAX ? -1 : (int)v;
}

/*
 * Follows symlinks from path to the name that finally holds the data (the
 * link stays, its target is replaced).  Returns a malloc'ed path or NULL
 * with errno set (ELOOP after 40 links, as the kernel).
 *
 * With fd set, every name on the way is made canonical and the walk stops
 * at the first that names a descriptor of this process (*fd >= 0; else
 * *fd is -1): such a name is that descriptor whatever it is open on, a
 * pipe, a socket or a terminal, which have no name to replace.
 */
static char *final_path(const char *path, int *fd)
{
	char *cur = fd ? pmerge_canonical_name(path) : strdup(path);

	if (fd)
		*fd = -1;
	for (int hops = 0; cur; hops++) {
		struct stat st;
		char link[PATH_MAX];
		ssize_t n;

		if (fd && (*fd = fd_of_name(cur)) >= 0)
			return cur;
		if (lstat(cur, &st) < 0 || !S_ISLNK(st.st_mode))
			return cur; /* missing or not a link: this is it */
		if (hops == 40) {
			free(cur);
			errno = ELOOP;
			return NULL;
		}
		n = readlink(cur, link, sizeof(link) - 1);
		if (n < 0) {
			free(cur);
			return NULL;
		}
		link[n] = '\0';
		char *next;
		const char *slash = strrchr(cur, '/');
		if (link[0] == '/' || !slash) {
			next = strdup(link);
		} else if (asprintf(&next, "%.*s/%s", (int)(slash - cur), cur,
		                    link) < 0) {
			next = NULL;
		}
		free(cur);
		cur = next && fd ? pmerge_canonical_name(next) : next;
		if (fd)
			free(next);
	}
	errno = ENOMEM;
	return NULL;
}

int pmerge_output_fd(const char *path)
{
	int fd, saved = errno;

	free(final_path(path, &fd));
	errno = saved;
	return fd;
}

/*
 * A pipe of 64 KiB makes writer and reader take turns every 64 KiB; a
 * larger one (up to what an unprivileged process may ask for) lets both run.
 * Never shrinks it, and failing is harmless.
 */
static void grow_pipe(int fd)
{
	int want = 1 << 20, have = fcntl(fd, F_GETPIPE_SZ);

	while (have > 0 && have < want && fcntl(fd, F_SETPIPE_SZ, want) < 0 &&
	       errno == EPERM)
		want /= 2;
}

/* Fills the fields that follow from what the fd is. */
static int sink_describe(struct pm_sink *s)
{
	struct stat st;
	int fl;

	if (fstat(s->fd, &st) < 0 || (fl = fcntl(s->fd, F_GETFL)) < 0)
		return -errno;
	if ((fl & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	s->regular = S_ISREG(st.st_mode);
	s->is_pipe = S_ISFIFO(st.st_mode);
	if (s->is_pipe)
		grow_pipe(s->fd);
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->positioned = s->regular && !(fl & O_APPEND);
	s->start = 0;
	if (s->positioned) {
		off_t cur = lseek(s->fd, 0, SEEK_CUR);
		if (cur < 0)
			return -errno;
		s->start = (uint64_t)cur;
	}
	atomic_init(&s->end, s->start);
	return 0;
}

/* True when standard error is the very file the sink writes. */
static bool shares_stderr(const struct pm_sink *s)
{
	struct stat st;

	return s->fd == STDERR_FILENO ||
	       (fstat(STDERR_FILENO, &st) == 0 && st.st_dev == s->dev &&
	        st.st_ino == s->ino);
}

/*
 * Gives the new file the extended attributes of the one it replaces, as
 * cp -a does: among them the POSIX ACLs (system.posix_acl_access) and
 * SELinux's label.  Where one may not be set (trusted.* without privilege,
 * a file system without them), it is left out: keeping them is done
 * where permitted, and never fails the merge.
 */
static void copy_xattrs(const char *from, int to)
{
	char *names = NULL, *value = NULL;
	ssize_t len = llistxattr(from, NULL, 0);

	if (len <= 0)
		return;
	names = malloc((size_t)len);
	if (!names)
		return;
	len = llistxattr(from, names, (size_t)len);
	for (ssize_t i = 0; len > 0 && i < len;
	     i += (ssize_t)strlen(names + i) + 1) {
		ssize_t vlen = lgetxattr(from, names + i, NULL, 0);
		char *v;

		if (vlen < 0)
			continue;
		v = realloc(value, vlen ? (size_t)vlen : 1);
		if (!v)
			break;
		value = v;
		vlen = lgetxattr(from, names + i, value, (size_t)vlen);
		if (vlen >= 0)
			(void)fsetxattr(to, names + i, value, (size_t)vlen, 0);
	}
	free(value);
	free(names);
}

/*
 * Fills the n X's at x with letters and digits from getrandom(), or, where
 * it has nothing to give, from the clock and a counter: only uniqueness
 * matters, since every name is created with O_EXCL.
 */
static void random_name(char *x, size_t n)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                          "abcdefghijklmnopqrstuvwxyz0123456789";
	static _Atomic unsigned counter;
	unsigned char r[16];

	if (n > sizeof(r))
		n = sizeof(r);
	if (getrandom(r, n, GRND_NONBLOCK) != (ssize_t)n) {
		uint64_t v = pm_now_ns() ^ ((uint64_t)getpid() << 32) ^
		             atomic_fetch_add(&counter, 1);
		for (size_t i = 0; i < n; i++, v = v * 6364136223846793005u + 1)
			r[i] = (unsigned char)(v >> 33);
	}
	for (size_t i = 0; i < n; i++)
		x[i] = abc[r[i] % (sizeof(abc) - 1)];
}

/*
 * A fresh name ".BASE.pmerge-XXXXXX" beside the target in s->temp, made
 * by make(s, name) -- a create or a link that fails with EEXIST when the
 * name is taken -- tried again with another name while it is.  0 or
 * -errno; on failure s->temp is NULL.
 */
static int make_temp_name(struct pm_sink *s, int (*make)(struct pm_sink *s))
{
	const char *slash = strrchr(s->target, '/');
	const char *base = slash ? slash + 1 : s->target;
	int rc = -EEXIST;

	if (asprintf(&s->temp, "%.*s.%s.pmerge-XXXXXX",
	             slash ? (int)(slash - s->target + 1) : 0, s->target,
	             base) < 0) {
		s->temp = NULL;
		return -ENOMEM;
	}
	for (int tries = 0; tries < 100 && rc == -EEXIST; tries++) {
		random_name(s->temp + strlen(s->temp) - 6, 6);
		rc = make(s);
	}
	if (rc < 0) {
		free(s->temp);
		s->temp = NULL;
	}
	return rc;
}

/* The named temporary file, where the file system has no O_TMPFILE. */
static int create_named(struct pm_sink *s)
{
	s->fd = open(s->temp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY,
	             s->create_mode);
	return s->fd < 0 ? -errno : 0;
}

/*
 * Gives the unnamed temporary file (s->link_fd) the name s->temp, or
 * s->target when s->temp is NULL.  Through /proc/self/fd, which needs no
 * privilege; where /proc is not mounted, AT_EMPTY_PATH (which needs
 * CAP_DAC_READ_SEARCH).  0 or -errno (EEXIST: the name is taken).
 */
static int link_unnamed_to(const struct pm_sink *s, const char *name)
{
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", s->link_fd);
	if (linkat(AT_FDCWD, proc, AT_FDCWD, name, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	if (errno == ENOENT && access("/proc/self/fd", F_OK) < 0 &&
	    linkat(s->link_fd, "", AT_FDCWD, name, AT_EMPTY_PATH) == 0)
		return 0;
	return -errno;
}

static int link_temp_name(struct pm_sink *s)
{
	return link_unnamed_to(s, s->temp);
}

char *pm_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/*
 * The temporary output: unnamed (O_TMPFILE) in the target's directory, so
 * that nothing is left behind whatever ends the process, even SIGKILL; it
 * gets a name only at the commit.  Where the file system has no O_TMPFILE
 * (EOPNOTSUPP, or EISDIR/EINVAL from kernels or file systems that do not
 * know the flag), a named temporary file beside the target, removed on
 * every path pmerge itself takes.  0 or -errno.
 */
static int create_temp(struct pm_sink *s)
{
	char *dir = pm_dir_of(s->target);

	if (!dir)
		return -ENOMEM;
	s->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, s->create_mode);
	free(dir);
	if (s->fd >= 0) {
		s->unnamed = true;
		return 0;
	}
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return -errno;
	return make_temp_name(s, create_named);
}

static int open_replace(struct pm_sink *s, const char *path)
{
	if (*path == '\0')
		return -ENOENT; /* as open("") would say, before any work */
	struct stat st;
	bool exists;
	char *target = final_path(path, NULL);
	int rc;

	if (!target)
		return -errno;
	s->target = target;
	exists = stat(target, &st) == 0;
	if (!exists && errno != ENOENT)
		return -errno;
	if (exists && S_ISDIR(st.st_mode))
		return -EISDIR;
	/*
	 * A FILE the user may not write is refused, as sort -o and cat >
	 * refuse it: the rename would replace it anyway, since it needs only
	 * the directory to be writable.  faccessat(AT_EACCESS) asks with the
	 * effective ids, and counts ACLs and read-only mounts.
	 */
	if (exists && faccessat(AT_FDCWD, target, W_OK, AT_EACCESS) < 0)
		return -errno;
	if (exists && !S_ISREG(st.st_mode)) {
		/* Devices, FIFOs and sockets are written directly. */
		s->kind = PM_SINK_DIRECT;
		s->fd = open(target, O_WRONLY | O_CLOEXEC | O_NOCTTY);
		if (s->fd < 0)
			return -errno;
		s->own_fd = true;
		return 0;
	}
	/*
	 * A new FILE is created with 0666, as cat > FILE creates it: the
	 * kernel then applies the directory's default ACL, or else the
	 * umask.  A replaced one starts private and is given the old file's
	 * mode, owner and ACL below, before any data is in it.
	 */
	s->create_mode = exists ? 0600 : 0666;
	if (s->hold && pthread_sigmask(SIG_BLOCK, s->hold, &s->unhold) == 0)
		s->holding = true;
	rc = create_temp(s);
	if (rc < 0)
		return rc;
	s->own_fd = true;
	if (exists) {
		/* Keep the owner where permitted, then the mode (in that order:
		 * chown clears set-id bits). */
		if (fchown(s->fd, st.st_uid, st.st_gid) < 0 && errno != EPERM)
			return -errno;
		if (fchmod(s->fd, st.st_mode & 07777) < 0)
			return -errno;
		/* After the mode: the access ACL is one of these. */
		copy_xattrs(target, s->fd);
	}
	return 0;
}

int pm_sink_open(struct pm_sink *s, const char *path, bool append,
                 const sigset_t *hold, const char **what)
{
	int rc, alias;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->link_fd = -1;
	s->hold = hold;
	s->name = path;
	*what = path;
	if (!path || (!append && (alias = pmerge_output_fd(path)) >= 0)) {
		s->kind = PM_SINK_STDOUT;
		s->fd = path ? alias : STDOUT_FILENO;
	} else if (append) {
		s->kind = PM_SINK_APPEND;
		s->fd = open(
		    path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY,
		    0666);
		if (s->fd < 0) {
			rc = -errno;
			goto fail;
		}
		s->own_fd = true;
	} else {
		s->kind = PM_SINK_REPLACE;
		rc = open_replace(s, path);
		if (rc < 0)
			goto fail;
	}
	rc = sink_describe(s);
	if (rc < 0)
		goto fail;
	if (s->kind == PM_SINK_STDOUT && s->positioned && shares_stderr(s)) {
		/*
		 * 2>&1 onto a regular file: messages and the progress line
		 * move the offset that standard output shares with them, so
		 * positioned writes would overwrite them (and they us).  Write
		 * where the offset stands, as cat does.
		 */
		s->positioned = false;
	}
	atomic_init(&s->cfr_broken, false);
	atomic_init(&s->splice_broken, false);
	return 0;
fail:
	pm_sink_abort(s);
	pm_sink_close(s);
	return rc;
}

uint64_t pm_sink_reserve(struct pm_sink *s, uint64_t len)
{
	return atomic_fetch_add_explicit(&s->end, len, memory_order_relaxed);
}

int pm_sink_write(struct pm_sink *s, const void *buf, size_t len, uint64_t off)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};

	return pm_sink_writev(s, &iov, 1, off);
}

int pm_sink_writev(struct pm_sink *s, struct iovec *iov, int cnt, uint64_t off)
{
	while (cnt > 0) {
		ssize_t n;

		if (iov->iov_len == 0) {
			iov++;
			cnt--;
			continue;
		}
		n = s->positioned ? pwritev(s->fd, iov, cnt, (off_t)off)
		                  : writev(s->fd, iov, cnt);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		off += (uint64_t)n;
		/* A short write: skip what went out and go on. */
		while (cnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

int pm_sink_put_from(struct pm_sink *s, const char *buf, size_t len, int in,
                     uint64_t in_off, uint64_t off)
{
	size_t sent = 0;

	while (s->is_pipe && sent < len &&
	       !atomic_load_explicit(&s->splice_broken, memory_order_relaxed)) {
		loff_t ioff = (loff_t)(in_off + sent);
		ssize_t n =
		    splice(in, &ioff, s->fd, NULL, len - sent, SPLICE_F_MORE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 &&
		    (errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL))
			atomic_store(&s->splice_broken, true);
		if (n < 0 && errno == EPIPE)
			return -EPIPE;
		if (n <= 0)
			break; /* the file changed or splice cannot: buf has it
			        */
		sent += (size_t)n;
	}
	return pm_sink_write(s, buf + sent, len - sent, off + sent);
}

bool pm_sink_takes_from(const struct pm_sink *s)
{
	if (s->is_pipe)
		return !atomic_load_explicit(&s->splice_broken,
		                             memory_order_relaxed);
	return s->regular && s->positioned;
}

/* Splices len bytes of in from in_off into the pipe.  0 or -errno. */
static int splice_all(struct pm_sink *s, int in, uint64_t in_off, size_t len,
                      size_t *moved)
{
	while (*moved < len) {
		loff_t ioff = (loff_t)(in_off + *moved);
		ssize_t n =
		    splice(in, &ioff, s->fd, NULL, len - *moved, SPLICE_F_MORE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break; /* the input ended */
		*moved += (size_t)n;
	}
	return 0;
}

/*
 * Writes len bytes of in from in_off at off, from a read-only mapping of
 * them.  A fault on the mapping (the input shrank since) happens inside
 * pwrite, which then stops short or fails with EFAULT: never a SIGBUS,
 * which only an access from user space raises.  0 or -errno; *moved never
 * counts bytes past where the input ends after the write.
 */
static int write_mapped(struct pm_sink *s, int in, uint64_t in_off, size_t len,
                        uint64_t off, size_t *moved)
{
	size_t lead = (size_t)(in_off % (uint64_t)sysconf(_SC_PAGESIZE));
	char *map;
	int rc = 0;

	map = mmap(NULL, lead + len, PROT_READ, MAP_SHARED | MAP_POPULATE, in,
	           (off_t)(in_off - lead));
	if (map == MAP_FAILED)
		return -errno;
	while (*moved < len) {
		ssize_t n = pwrite(s->fd, map + lead + *moved, len - *moved,
		                   (off_t)(off + *moved));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		*moved += (size_t)n;
	}
	munmap(map, lead + len);
	/*
	 * The last page of the mapping reads as zeros past the input's end:
	 * if the input shrank meanwhile, count only what it still holds.
	 */
	struct stat st;
	if (fstat(in, &st) == 0 && (uint64_t)st.st_size < in_off + *moved)
		*moved = (uint64_t)st.st_size > in_off
		             ? (size_t)((uint64_t)st.st_size - in_off)
		             : 0;
	return rc;
}

int pm_sink_move(struct pm_sink *s, int in, uint64_t in_off, size_t len,
                 uint64_t off, size_t *moved)
{
	*moved = 0;
	if (s->is_pipe)
		return splice_all(s, in, in_off, len, moved);
	return write_mapped(s, in, in_off, len, off, moved);
}

/*
 * Errors after which copy_file_range or splice will never work on this
 * output.  Others (EXDEV, EINVAL, EBADF) can depend on the input, so they
 * only send that one copy down the read/write path.
 */
static bool fast_path_unsupported(int err)
{
	return err == ENOSYS || err == EOPNOTSUPP;
}

uint64_t pm_copy_piece(uint64_t floor, uint64_t done, uint64_t ns)
{
	uint64_t piece;

	if (ns == 0)
		ns = 1;
	/* done is at most PM_PIECE_MAX (2^30), PM_PIECE_NS under 2^23. */
	piece = done * PM_PIECE_NS / ns;
	if (piece < floor)
		return floor;
	return piece > PM_PIECE_MAX ? PM_PIECE_MAX : piece;
}

int pm_sink_copy(struct pm_sink *s, int in, uint64_t *in_off, uint64_t len,
                 uint64_t off, char *buf, size_t bufsize, uint64_t *copied,
                 bool *in_failed, const atomic_bool *cancel)
{
	bool use_cfr =
	    s->regular && s->positioned &&
	    !atomic_load_explicit(&s->cfr_broken, memory_order_relaxed);
	bool use_splice =
	    !use_cfr && s->is_pipe &&
	    !atomic_load_explicit(&s->splice_broken, memory_order_relaxed);
	uint64_t cap = PM_COPY_CHUNK; /* grows where the kernel shares blocks */

	*copied = 0;
	*in_failed = false;
	while (*copied < len) {
		uint64_t want = len - *copied;
		ssize_t n;

		if (atomic_load_explicit(cancel, memory_order_relaxed))
			return -ECANCELED;
		if (want > cap)
			want = cap;
		if (use_cfr || use_splice) {
			loff_t ioff = (loff_t)*in_off, ooff = (loff_t)off;

			if (use_cfr) {
				uint64_t t0 = pm_now_ns();

				n = copy_file_range(in, &ioff, s->fd, &ooff,
				                    (size_t)want, 0);
				if ((uint64_t)n == want)
					cap = pm_copy_piece(PM_COPY_CHUNK, want,
					                    pm_now_ns() - t0);
			} else
				n = splice(in, &ioff, s->fd, NULL, (size_t)want,
				           SPLICE_F_MORE);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				/*
				 * Errors that say the fast path cannot work
				 * here turn it off for good.  Any failure is
				 * retried with plain reads and writes, which
				 * tell the input's failure from the output's.
				 */
				if (fast_path_unsupported(errno) &&
				    *copied == 0)
					atomic_store(use_cfr
					                 ? &s->cfr_broken
					                 : &s->splice_broken,
					             true);
				use_cfr = use_splice = false;
				continue;
			}
		} else {
			if (want > bufsize)
				want = bufsize;
			do
				n = pread(in, buf, (size_t)want,
				          (off_t)*in_off);
			while (n < 0 && errno == EINTR);
			if (n < 0) {
				*in_failed = true;
				return -errno;
			}
			if (n > 0) {
				int rc = pm_sink_write(s, buf, (size_t)n, off);
				if (rc < 0)
					return rc;
			}
		}
		if (n == 0)
			break; /* the input ended early */
		*in_off += (uint64_t)n;
		off += (uint64_t)n;
		*copied += (uint64_t)n;
	}
	return 0;
}

/* Flushes the directory that holds the target (--fsync).  0 or -errno. */
static int sync_dir(const struct pm_sink *s)
{
	char *dir = pm_dir_of(s->target);
	int fd, rc = 0;

	if (!dir)
		return -ENOMEM;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/*
 * With --fsync, after the name went in: flushes the directory, and where
 * that fails takes the new FILE out again (the caller puts the old one
 * back) so that a failure leaves FILE as it was.  0 or -errno.
 */
static int sync_new_name(const struct pm_sink *s, bool undo_by_unlink)
{
	int rc = s->durable ? sync_dir(s) : 0;

	if (rc < 0 && undo_by_unlink)
		(void)unlink(s->target);
	return rc;
}

/*
 * Puts the finished temporary file s->temp in FILE's place, atomically:
 * FILE is the old file or the new one, never anything else, whatever
 * happens.  old is an O_PATH descriptor on the old FILE, or -1 when there
 * is none.
 *
 * rename() over an existing file would do, but ext4 (auto_da_alloc) then
 * writes the new file's delayed-allocation blocks out and waits for them:
 * about 0.75 s per GiB, which is most of what replacing costs
 * (bench/RESULTS.md).  renameat2(RENAME_EXCHANGE) swaps the two names just
 * as atomically and starts no writeback; the old file, now under the
 * temporary name, is then unlinked.  The descriptor kept on it makes that
 * unlink only drop the name -- the old name is gone microseconds after the
 * exchange, as a rename would leave it -- and the old file's blocks are
 * freed at its close, with FILE already in place (cat > FILE frees them in
 * its open, with O_TRUNC).  Crash safety against power loss is --fsync's
 * promise, not rename's side effect on one file system.
 *
 * Where the exchange cannot be made -- no FILE yet (ENOENT), a file system
 * or kernel without it (EINVAL, ENOSYS, EOPNOTSUPP) -- a plain rename().
 * The exchange or the rename is the commit point.  Returns 0 or a negative
 * errno; on failure FILE is untouched (except after a rename over an old
 * FILE whose directory then cannot be flushed, which nothing can undo).
 */
static int swap_in(struct pm_sink *s, int old)
{
	int rc = 0;

	if (old >= 0 && renameat2(AT_FDCWD, s->temp, AT_FDCWD, s->target,
	                          RENAME_EXCHANGE) == 0) {
		/* The temporary name is the old file's now. */
		rc = sync_new_name(s, false);
		if (rc < 0 && renameat2(AT_FDCWD, s->temp, AT_FDCWD, s->target,
		                        RENAME_EXCHANGE) == 0)
			return rc; /* as it was; the abort removes the new one
			            */
		if (unlink(s->temp) < 0 && rc == 0)
			rc = -errno;
		free(s->temp);
		s->temp = NULL;
		return rc;
	}
	if (old >= 0 && errno != ENOENT && errno != EINVAL && errno != ENOSYS &&
	    errno != EOPNOTSUPP)
		return -errno;
	if (rename(s->temp, s->target) < 0)
		return -errno;
	free(s->temp);
	s->temp = NULL;
	return sync_new_name(s, old < 0);
}

/*
 * Names the unnamed temporary file (reached through keep, a descriptor on
 * it): with no FILE yet, the link into FILE's place is itself the commit,
 * and nothing can be left behind.  Over an old FILE it first gets a
 * temporary name beside it, for swap_in() -- a name that exists only for
 * the microseconds between that link and the exchange.  0 or -errno.
 */
static int put_in_place(struct pm_sink *s, int keep)
{
	int old = open(s->target, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	int rc;

	s->link_fd = keep;
	if (keep >= 0 && old < 0) {
		rc = link_unnamed_to(s, s->target);
		if (rc == 0)
			rc = sync_new_name(s, true);
		if (rc != -EEXIST)
			goto out;
		/* FILE appeared meanwhile: it is replaced like any other. */
		old = open(s->target, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	}
	if (keep >= 0 && (rc = make_temp_name(s, link_temp_name)) < 0)
		goto out;
	rc = swap_in(s, old);
out:
	s->link_fd = -1;
	if (old >= 0)
		close(old);
	return rc;
}

int pm_sink_commit(struct pm_sink *s)
{
	uint64_t end = atomic_load(&s->end);
	int keep = -1, rc = 0;

	if (s->kind == PM_SINK_STDOUT && s->positioned) {
		/* Leave the shared offset after our bytes, as cat would. */
		if (lseek(s->fd, (off_t)end, SEEK_SET) < 0)
			return -errno;
	}
	/* --fsync on any other regular output: its data (a pipe or a
	 * device has nothing to flush). */
	if (s->durable && s->regular && s->kind != PM_SINK_REPLACE &&
	    fsync(s->fd) < 0)
		return -errno;
	if (s->kind == PM_SINK_REPLACE && s->fd >= 0) {
		/* --fsync: the data first, before any name points at it. */
		if (s->durable && fsync(s->fd) < 0)
			return -errno;
		/* An unnamed file is linked from a second descriptor, so that
		 * close() below still comes before any name. */
		if (s->unnamed && (keep = fcntl(s->fd, F_DUPFD_CLOEXEC, 0)) < 0)
			return -errno;
		/* close() reports late write errors (NFS, quotas): they
		 * must stop the commit. */
		rc = close(s->fd) < 0 ? -errno : 0;
		s->fd = -1;
		if (rc == 0)
			rc = put_in_place(s, keep);
		if (keep >= 0)
			close(keep);
		s->unnamed = false;
	}
	return rc;
}

void pm_sink_abort(struct pm_sink *s)
{
	if (s->temp) {
		unlink(s->temp);
		free(s->temp);
		s->temp = NULL;
	}
}

void pm_sink_release(struct pm_sink *s)
{
	if (s->holding)
		pthread_sigmask(SIG_SETMASK, &s->unhold, NULL);
	s->holding = false;
}

void pm_sink_close(struct pm_sink *s)
{
	if (!s)
		return;
	if (s->own_fd && s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	pm_sink_abort(s);
	/* Only now that no temporary file is left: a signal held back
	 * may end the process at once. */
	pm_sink_release(s);
	free(s->target);
	s->target = NULL;
}
