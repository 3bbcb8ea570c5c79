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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

/* One copy_file_range/splice call moves at most this much, so that a
 * cancellation is seen between calls even on multi-GiB inputs. */
#define PM_COPY_CHUNK (64ull << 20)

/*
 * Follows symlinks from path to the name that finally holds the data (the
 * link stays, its target is replaced).  Returns a malloc'ed path or NULL
 * with errno set (ELOOP after 40 links, as the kernel).
 */
static char *final_path(const char *path)
{
	char *cur = strdup(path);

	for (int hops = 0; cur; hops++) {
		struct stat st;
		char link[PATH_MAX];
		ssize_t n;

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
		cur = next;
	}
	errno = ENOMEM;
	return NULL;
}

int pmerge_output_fd(const char *path)
{
	const char *num = NULL;

	if (strcmp(path, "/dev/stdout") == 0)
		return STDOUT_FILENO;
	if (strcmp(path, "/dev/stderr") == 0)
		return STDERR_FILENO;
	if (strncmp(path, "/dev/fd/", 8) == 0)
		num = path + 8;
	else if (strncmp(path, "/proc/self/fd/", 14) == 0)
		num = path + 14;
	if (!num || *num < '0' || *num > '9')
		return -1;
	char *end;
	long v = strtol(num, &end, 10);
	return *end || v > INT_MAX ? -1 : (int)v;
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

static int open_replace(struct pm_sink *s, const char *path)
{
	if (*path == '\0')
		return -ENOENT; /* as open("") would say, before any work */
	struct stat st;
	bool exists;
	char *target = final_path(path);

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
	const char *slash = strrchr(target, '/');
	const char *base = slash ? slash + 1 : target;
	if (asprintf(&s->temp, "%.*s.%s.pmerge-XXXXXX",
	             slash ? (int)(slash - target + 1) : 0, target, base) < 0) {
		s->temp = NULL;
		return -ENOMEM;
	}
	s->fd = mkostemp(s->temp, O_CLOEXEC);
	if (s->fd < 0) {
		int err = -errno;
		free(s->temp);
		s->temp = NULL;
		return err;
	}
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
	} else {
		mode_t mask = umask(0);
		umask(mask);
		if (fchmod(s->fd, 0666 & ~mask) < 0)
			return -errno;
	}
	return 0;
}

int pm_sink_open(struct pm_sink *s, const char *path, bool append,
                 const char **what)
{
	int rc, alias;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
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

/*
 * Errors after which copy_file_range or splice will never work on this
 * output.  Others (EXDEV, EINVAL, EBADF) can depend on the input, so they
 * only send that one copy down the read/write path.
 */
static bool fast_path_unsupported(int err)
{
	return err == ENOSYS || err == EOPNOTSUPP;
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

	*copied = 0;
	*in_failed = false;
	while (*copied < len) {
		uint64_t want = len - *copied;
		ssize_t n;

		if (atomic_load_explicit(cancel, memory_order_relaxed))
			return -ECANCELED;
		if (want > PM_COPY_CHUNK)
			want = PM_COPY_CHUNK;
		if (use_cfr || use_splice) {
			loff_t ioff = (loff_t)*in_off, ooff = (loff_t)off;

			if (use_cfr)
				n = copy_file_range(in, &ioff, s->fd, &ooff,
				                    (size_t)want, 0);
			else
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

/*
 * Puts the finished temporary file in FILE's place, atomically: FILE is the
 * old file or the new one, never anything else, whatever happens.
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
 * Returns 0 or a negative errno; on failure FILE is untouched.
 */
static int replace_target(struct pm_sink *s)
{
	int old = open(s->target, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	int rc = 0;

	if (old >= 0 && renameat2(AT_FDCWD, s->temp, AT_FDCWD, s->target,
	                          RENAME_EXCHANGE) == 0) {
		/* The temporary name is the old file's now. */
		if (unlink(s->temp) < 0)
			rc = -errno;
		goto out;
	}
	if (old >= 0 && errno != ENOENT && errno != EINVAL && errno != ENOSYS &&
	    errno != EOPNOTSUPP) {
		rc = -errno;
		goto out;
	}
	if (rename(s->temp, s->target) < 0)
		rc = -errno;
out:
	if (old >= 0)
		close(old);
	return rc;
}

int pm_sink_commit(struct pm_sink *s)
{
	uint64_t end = atomic_load(&s->end);

	if (s->kind == PM_SINK_STDOUT && s->positioned) {
		/* Leave the shared offset after our bytes, as cat would. */
		if (lseek(s->fd, (off_t)end, SEEK_SET) < 0)
			return -errno;
	}
	if (s->kind == PM_SINK_REPLACE && s->temp) {
		/* close() reports late write errors (NFS, quotas): they
		 * must stop the rename. */
		if (close(s->fd) < 0) {
			s->fd = -1;
			return -errno;
		}
		s->fd = -1;
		int rc = replace_target(s);
		if (rc < 0)
			return rc;
		free(s->temp);
		s->temp = NULL;
	}
	return 0;
}

void pm_sink_abort(struct pm_sink *s)
{
	if (s->temp) {
		unlink(s->temp);
		free(s->temp);
		s->temp = NULL;
	}
}

void pm_sink_close(struct pm_sink *s)
{
	if (!s)
		return;
	if (s->own_fd && s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	pm_sink_abort(s);
	free(s->target);
	s->target = NULL;
}
