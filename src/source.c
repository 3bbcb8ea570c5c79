/*
 * Inputs: open without ever blocking on a FIFO, read with poll() on the
 * input and the wake fd so that cancellation is prompt.
 */
#include "decode.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Fills in src from an fstat of its descriptor, which has O_NONBLOCK set
 * when nonblock.  0 or -errno (src closed).  A regular file keeps the
 * O_NONBLOCK of the open: it has no effect on
 * regular files, except on the few that honour it (/proc/kmsg), whose read
 * would fail with EAGAIN where cat blocks and reads; pm_source_read takes
 * it off when that happens, and pm_source_blocking before any other use of
 * the descriptor.  Pipes and sockets are polled before each read and keep
 * it.  Anything else (ttys, character and block devices) has it taken off
 * at once.  The status flags are known (the open set no other that F_SETFL
 * can change: O_APPEND, O_ASYNC, O_DIRECT, O_NOATIME), so one call, not a
 * get and a set.
 */
static int classify(struct pm_source *src, bool nonblock)
{
	struct stat st;
	int err;

	if (fstat(src->fd, &st) < 0) {
		err = -errno;
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		err = -EISDIR;
		goto fail;
	}
	src->dev = st.st_dev;
	src->ino = st.st_ino;
	src->regular = S_ISREG(st.st_mode);
	src->nonblock_set = nonblock && src->regular;
	if (nonblock && !src->regular && !S_ISFIFO(st.st_mode) &&
	    !S_ISSOCK(st.st_mode))
		fcntl(src->fd, F_SETFL, 0);
	if (src->regular) {
		off_t cur = src->own_fd ? 0 : lseek(src->fd, 0, SEEK_CUR);

		src->offset = cur > 0 ? (uint64_t)cur : 0;
		src->size = (uint64_t)st.st_size;
	}
	return 0;
fail:
	pm_source_close(src);
	return err;
}

/* Opens name (not "-") into a cleared src.  0 or -errno. */
static int open_named(struct pm_source *src, const char *name)
{
	memset(src, 0, sizeof(*src));
	src->name = name;
	/*
	 * O_NONBLOCK so that opening a FIFO with no writer returns at once;
	 * poll() then waits for the writer, cancellably.
	 */
	src->fd = open(name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (src->fd < 0)
		return -errno;
	src->own_fd = true;
	return 0;
}

int pm_source_open(struct pm_source *src, const char *name)
{
	int rc;

	if (strcmp(name, "-") == 0) {
		/* Standard input is shared: never change its flags. */
		memset(src, 0, sizeof(*src));
		src->name = name;
		src->fd = STDIN_FILENO;
		return classify(src, false);
	}
	rc = open_named(src, name);
	return rc < 0 ? rc : classify(src, true);
}

void pm_source_blocking(struct pm_source *src)
{
	if (!src->nonblock_set)
		return;
	fcntl(src->fd, F_SETFL, 0);
	src->nonblock_set = false;
}

/* pread of a regular file, at most once more after taking O_NONBLOCK off. */
static ssize_t pread_regular(struct pm_source *src, void *buf, size_t len,
                             uint64_t off)
{
	ssize_t n;

	for (;;) {
		n = pread(src->fd, buf, len, (off_t)off);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || !src->nonblock_set)
			return -errno;
		pm_source_blocking(src);
	}
}

int pm_source_take(struct pm_source *src, const char *name, uint64_t size,
                   char *buf, size_t *got)
{
	int rc = open_named(src, name);
	ssize_t n;

	if (rc < 0)
		return rc;
	/* An EAGAIN here (a file that honours O_NONBLOCK, or the name is now
	 * a device) takes the general path below, which knows which it is. */
	n = pread_regular(src, buf, (size_t)size + 1, 0);
	if (n >= 0 && (uint64_t)n <= size) {
		/* A short read of a regular file is its end. */
		src->regular = true;
		src->size = src->offset = (uint64_t)n;
		*got = (size_t)n;
		pm_source_close(src);
		return 1;
	}
	/*
	 * Not what the stat pass saw: the file grew, or the name is now
	 * something else (a directory, a FIFO: pread fails).  Look at what
	 * was opened, as pm_source_open does, and read it from its start.
	 */
	return classify(src, true);
}

ssize_t pm_source_read(struct pm_source *src, void *buf, size_t len,
                       int wake_fd)
{
	if (src->regular) {
		ssize_t n = pread_regular(src, buf, len, src->offset);

		if (n == -ESPIPE) {
			/* A regular file without positions (/proc/kmsg):
			 * read it as it comes, as cat does. */
			pm_source_blocking(src);
			do
				n = read(src->fd, buf, len);
			while (n < 0 && errno == EINTR);
			if (n < 0)
				return -errno;
		}
		if (n < 0)
			return n;
		src->offset += (uint64_t)n;
		return n;
	}
	for (;;) {
		struct pollfd pf[2] = {
		    {.fd = src->fd, .events = POLLIN},
		    {.fd = wake_fd, .events = POLLIN},
		};
		int rc = poll(pf, wake_fd >= 0 ? 2 : 1, src->nonblock ? 0 : -1);

		if (rc < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (wake_fd >= 0 && pf[1].revents)
			return -ECANCELED;
		if (pf[0].revents & POLLNVAL)
			return -EBADF;
		if (rc == 0)
			return -EAGAIN; /* nonblock, and nothing there */
		if (!pf[0].revents)
			continue;
		ssize_t n = read(src->fd, buf, len);

		if (n >= 0)
			return n;
		if (errno == EAGAIN && src->nonblock)
			return -EAGAIN;
		if (errno != EINTR && errno != EAGAIN)
			return -errno;
	}
}

void pm_source_close(struct pm_source *src)
{
	if (!src || src->fd < 0)
		return;
	if (src->own_fd)
		close(src->fd);
	else if (src->regular)
		/* Leave a shared regular stdin where cat would: past what we
		 * read. */
		lseek(src->fd, (off_t)src->offset, SEEK_SET);
	src->fd = -1;
}

int pm_source_tail_offset(int fd, uint64_t size, uint64_t n, char term,
                          char *buf, size_t bufsize, uint64_t *off)
{
	/* The file's own last terminator ends its last record: skip it. */
	uint64_t end = size, seen = 0;
	bool skip_last = true;

	*off = size;
	if (n == 0)
		return 0;
	while (end > 0) {
		size_t want = end < bufsize ? (size_t)end : bufsize;
		uint64_t at = end - want;
		ssize_t got;

		do
			got = pread(fd, buf, want, (off_t)at);
		while (got < 0 && errno == EINTR);
		if (got < 0)
			return -errno;
		if ((size_t)got < want)
			return -EIO; /* it shrank under us */
		size_t len = want;
		if (skip_last) {
			skip_last = false;
			if (buf[len - 1] == term)
				len--;
		}
		for (const char *p; (p = memrchr(buf, term, len)) != NULL;) {
			len = (size_t)(p - buf);
			if (++seen == n) {
				*off = at + len + 1;
				return 0;
			}
		}
		end = at;
	}
	*off = 0;
	return 0;
}

int pm_source_tail_decoded(int fd, uint64_t off, uint64_t size, uint64_t n,
                           char term, char *buf, size_t bufsize, uint64_t *skip)
{
	struct pm_reader *rd = NULL;
	uint8_t head[64];
	uint64_t records = 0;
	bool open_record = false, need;
	ssize_t k;

	*skip = 0;
	do
		k = pread(fd, head, sizeof(head), (off_t)off);
	while (k < 0 && errno == EINTR);
	if (k <= 0 || !pm_codec_detect(head, (size_t)k, &need))
		return 0;
	if (pm_reader_open_live(&rd) < 0)
		return -ENOMEM;
	for (;;) {
		ssize_t got = pm_reader_read(rd, buf, bufsize);
		size_t room;

		if (got > 0) {
			records += pm_lines_count(buf, (size_t)got, term);
			open_record = buf[got - 1] != term;
			continue;
		}
		if (got != -EAGAIN || off >= size)
			break;
		char *p = pm_reader_space(rd, &room);
		uint64_t want = size - off < room ? size - off : room;
		do
			got = pread(fd, p, (size_t)want, (off_t)off);
		while (got < 0 && errno == EINTR);
		if (got <= 0)
			break; /* it shrank meanwhile: the real read sees it */
		off += (uint64_t)got;
		pm_reader_fill(rd, (size_t)got);
	}
	pm_reader_close(rd);
	records += open_record;
	*skip = records > n ? records - n : 0;
	return 1;
}
