/*
 * Inputs and the output: opening every kind of input without blocking,
 * cancellable reads, the atomic replace of -o files (temporary file, mode,
 * symlinks, abort), append and direct outputs, concurrent reservations with
 * positioned writes, and exact copies between files and into pipes.
 */
#include "internal.h"
#include "tutil.h"
#include "unit_util.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Open descriptors of this process, to catch leaks on error paths. */
static size_t open_fds(void)
{
	return tu_count_entries("/proc/self/fd");
}

static bool fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

static char *random_file(const char *name, size_t len, uint64_t seed,
                         char **data)
{
	char *path = tu_path(tu_scratch, name);
	char *d = malloc(len + 1);
	ck_assert_ptr_nonnull(d);
	tu_fill_random(d, len, seed);
	tu_write_file(path, d, len);
	*data = d;
	return path;
}

static void make_pipe(int p[2])
{
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
}

/* Reads everything from src until EOF with a wake fd nobody writes. */
static char *source_slurp(struct pm_source *src, size_t chunk, size_t *len)
{
	int wake[2];
	size_t n = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	ck_assert_ptr_nonnull(buf);
	make_pipe(wake);
	for (;;) {
		if (cap - n < chunk) {
			cap = cap * 2 + chunk;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		ssize_t k = pm_source_read(src, buf + n, chunk, wake[0]);
		if (k < 0)
			ck_abort_msg("pm_source_read: %s", strerror((int)-k));
		if (k == 0)
			break;
		UU_LE((size_t)k, chunk);
		n += (size_t)k;
	}
	close(wake[0]);
	close(wake[1]);
	*len = n;
	return buf;
}

/* ------------------------------------------------------------- sources */

START_TEST(test_source_regular)
{
	char *data;
	char *path = random_file("in", 100003, 1, &data);
	struct pm_source src;
	size_t len;

	ck_assert_int_eq(pm_source_open(&src, path), 0);
	ck_assert(src.regular);
	ck_assert_uint_eq(src.size, 100003);
	ck_assert_uint_eq(src.offset, 0);
	ck_assert(src.own_fd);
	ck_assert(fd_is_open(src.fd));
	int fd = src.fd;

	char *got = source_slurp(&src, 4096, &len);
	ck_assert_uint_eq(len, 100003);
	ck_assert_mem_eq(got, data, len);
	/* offset says where the next read starts: at the end now. */
	ck_assert_uint_eq(src.offset, 100003);

	pm_source_close(&src);
	ck_assert(!fd_is_open(fd));
	free(got);
	free(data);
	free(path);
}
END_TEST

START_TEST(test_source_empty)
{
	char *path = tu_path(tu_scratch, "empty");
	struct pm_source src;
	char b[16];
	int wake[2];
	tu_write_file(path, "", 0);
	make_pipe(wake);
	ck_assert_int_eq(pm_source_open(&src, path), 0);
	ck_assert(src.regular);
	ck_assert_uint_eq(src.size, 0);
	ck_assert_int_eq(pm_source_read(&src, b, sizeof(b), wake[0]), 0);
	pm_source_close(&src);
	free(path);
}
END_TEST

/*
 * pm_source_take with the size the stat pass saw: a file of that size or
 * smaller is read whole by the one pread; one that grew, or a name that is
 * now something else, comes back opened as pm_source_open opens it.
 */
START_TEST(test_source_take_same_or_shrunk)
{
	char *data;
	char *path = random_file("in", 1000, 2, &data);
	struct pm_source src;
	char buf[2048];
	size_t got = 0, before = open_fds();

	ck_assert_int_eq(pm_source_take(&src, path, 1000, buf, &got), 1);
	ck_assert_uint_eq(got, 1000);
	ck_assert_mem_eq(buf, data, 1000);
	ck_assert(src.regular);
	ck_assert_uint_eq(src.size, 1000);
	/* The pass saw it larger: it shrank since, and what is left is
	 * all of it. */
	ck_assert_int_eq(pm_source_take(&src, path, 1500, buf, &got), 1);
	ck_assert_uint_eq(got, 1000);
	ck_assert_mem_eq(buf, data, 1000);
	ck_assert_uint_eq(open_fds(), before);
	free(data);
	free(path);
}
END_TEST

START_TEST(test_source_take_grown)
{
	char *data;
	char *path = random_file("in", 3000, 3, &data);
	struct pm_source src;
	char buf[4096];
	size_t got = 12345, len;

	/* Seen at 1000 bytes, 3000 now: opened and read from its start. */
	ck_assert_int_eq(pm_source_take(&src, path, 1000, buf, &got), 0);
	ck_assert_uint_eq(got, 12345);
	ck_assert(src.regular);
	ck_assert_uint_eq(src.size, 3000);
	ck_assert_uint_eq(src.offset, 0);
	char *all = source_slurp(&src, 4096, &len);
	ck_assert_uint_eq(len, 3000);
	ck_assert_mem_eq(all, data, len);
	pm_source_close(&src);
	free(all);
	free(data);
	free(path);
}
END_TEST

START_TEST(test_source_take_replaced)
{
	char *dir = tu_path(tu_scratch, "now-a-dir");
	char *fifo = tu_path(tu_scratch, "now-a-fifo");
	char *missing = tu_path(tu_scratch, "now-gone");
	struct pm_source src;
	char buf[64];
	size_t got, before = open_fds();

	ck_assert_int_eq(mkdir(dir, 0755), 0);
	ck_assert_int_eq(mkfifo(fifo, 0644), 0);
	ck_assert_int_eq(pm_source_take(&src, dir, 10, buf, &got), -EISDIR);
	ck_assert_int_eq(pm_source_take(&src, missing, 10, buf, &got), -ENOENT);
	ck_assert_uint_eq(open_fds(), before);
	/* A FIFO without a writer: opened without waiting, as a stream. */
	ck_assert_int_eq(pm_source_take(&src, fifo, 10, buf, &got), 0);
	ck_assert(!src.regular);
	ck_assert(fd_is_open(src.fd));
	ck_assert(fcntl(src.fd, F_GETFL) & O_NONBLOCK);
	pm_source_close(&src);
	ck_assert_uint_eq(open_fds(), before);
	free(dir);
	free(fifo);
	free(missing);
}
END_TEST

/* A regular input keeps O_NONBLOCK from its open until something other
 * than pm_source_read is to use it. */
START_TEST(test_source_regular_nonblock_lazy)
{
	char *data;
	char *path = random_file("in", 100, 4, &data);
	struct pm_source src;

	ck_assert_int_eq(pm_source_open(&src, path), 0);
	ck_assert(src.nonblock_set);
	ck_assert(fcntl(src.fd, F_GETFL) & O_NONBLOCK);
	pm_source_blocking(&src);
	ck_assert(!src.nonblock_set);
	ck_assert(!(fcntl(src.fd, F_GETFL) & O_NONBLOCK));
	pm_source_close(&src);
	free(data);
	free(path);
}
END_TEST

START_TEST(test_source_errors)
{
	struct pm_source src;
	char *missing = tu_path(tu_scratch, "missing");
	size_t before = open_fds();

	ck_assert_int_eq(pm_source_open(&src, tu_scratch), -EISDIR);
	ck_assert_int_eq(pm_source_open(&src, missing), -ENOENT);
	/* A failed open leaves nothing open behind it. */
	ck_assert_uint_eq(open_fds(), before);
	free(missing);
}
END_TEST

static void *write_wake_later(void *arg)
{
	int fd = *(int *)arg;
	const struct timespec pause = {0, 100 * 1000 * 1000};
	nanosleep(&pause, NULL);
	ck_assert_int_eq(write(fd, "x", 1), 1);
	return NULL;
}

START_TEST(test_source_fifo_no_writer)
{
	char *path = tu_path(tu_scratch, "fifo");
	struct pm_source src;
	char b[64];
	int wake[2];
	pthread_t th;

	ck_assert_int_eq(mkfifo(path, 0600), 0);
	make_pipe(wake);
	/* Nobody will ever open the write end.  A blocking open would
	 * hang here until the test case times out. */
	ck_assert_int_eq(pm_source_open(&src, path), 0);
	ck_assert(!src.regular);

	/* The read waits for data, and the wake fd ends the wait. */
	ck_assert_int_eq(pthread_create(&th, NULL, write_wake_later, &wake[1]),
	                 0);
	ck_assert_int_eq(pm_source_read(&src, b, sizeof(b), wake[0]),
	                 -ECANCELED);
	ck_assert_int_eq(pthread_join(th, NULL), 0);

	/* The wake fd is never drained: a later read is cancelled too. */
	ck_assert_int_eq(pm_source_read(&src, b, sizeof(b), wake[0]),
	                 -ECANCELED);
	pm_source_close(&src);
	close(wake[0]);
	close(wake[1]);
	free(path);
}
END_TEST

struct fifo_writer {
	pthread_t th;
	const char *path;
	const char *data;
	size_t len;
};

static void *fifo_writer_main(void *arg)
{
	struct fifo_writer *w = arg;
	int fd = open(w->path, O_WRONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	for (size_t off = 0; off < w->len;) {
		size_t n = w->len - off < 1000 ? w->len - off : 1000;
		ssize_t k = write(fd, w->data + off, n);
		ck_assert_int_gt(k, 0);
		off += (size_t)k;
	}
	close(fd);
	return NULL;
}

START_TEST(test_source_fifo_writer)
{
	char *path = tu_path(tu_scratch, "fifo");
	char *data = malloc(200000);
	struct pm_source src;
	struct fifo_writer w;
	size_t len;

	ck_assert_ptr_nonnull(data);
	tu_fill_random(data, 200000, 5);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(pm_source_open(&src, path), 0);
	/* The writer comes after the open and writes more than a pipe
	 * holds, in pieces: the reader must wait for each, not see EOF. */
	w = (struct fifo_writer){.path = path, .data = data, .len = 200000};
	ck_assert_int_eq(pthread_create(&w.th, NULL, fifo_writer_main, &w), 0);
	char *got = source_slurp(&src, 65536, &len);
	ck_assert_int_eq(pthread_join(w.th, NULL), 0);
	ck_assert_uint_eq(len, 200000);
	ck_assert_mem_eq(got, data, len);
	pm_source_close(&src);
	free(got);
	free(data);
	free(path);
}
END_TEST

START_TEST(test_source_pipe_by_name)
{
	int p[2];
	char name[64];
	struct pm_source src;
	size_t len;

	make_pipe(p);
	ck_assert_int_eq(write(p[1], "abc\ndef", 7), 7);
	close(p[1]);
	/* What bash's <(cmd) hands over. */
	snprintf(name, sizeof(name), "/dev/fd/%d", p[0]);
	ck_assert_int_eq(pm_source_open(&src, name), 0);
	ck_assert(!src.regular);
	ck_assert(!src.regular);
	char *got = source_slurp(&src, 2, &len);
	ck_assert_uint_eq(len, 7);
	ck_assert_mem_eq(got, "abc\ndef", 7);
	pm_source_close(&src);
	/* The source opened its own descriptor: ours is still ours. */
	ck_assert(fd_is_open(p[0]));
	close(p[0]);
	free(got);
}
END_TEST

START_TEST(test_source_stdin_pipe)
{
	int p[2];
	struct pm_source src;
	size_t len;

	make_pipe(p);
	ck_assert_int_eq(dup2(p[0], STDIN_FILENO), STDIN_FILENO);
	close(p[0]);
	ck_assert_int_eq(write(p[1], "from stdin\n", 11), 11);
	close(p[1]);

	ck_assert_int_eq(pm_source_open(&src, "-"), 0);
	ck_assert_int_eq(src.fd, STDIN_FILENO);
	ck_assert(!src.own_fd);
	ck_assert(!src.regular);
	char *got = source_slurp(&src, 4096, &len);
	ck_assert_uint_eq(len, 11);
	ck_assert_mem_eq(got, "from stdin\n", 11);
	pm_source_close(&src);
	/* Standard input belongs to the process, not to the source. */
	ck_assert(fd_is_open(STDIN_FILENO));
	free(got);
}
END_TEST

START_TEST(test_source_stdin_regular_offset)
{
	char *path = tu_path(tu_scratch, "in");
	struct pm_source src;
	size_t len;

	tu_write_file(path, "0123456789", 10);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(dup2(fd, STDIN_FILENO), STDIN_FILENO);
	close(fd);
	/* Someone before us consumed three bytes, as in
	 * "{ read -n3 x; pmerge -; } < file": we go on from there. */
	ck_assert_int_eq(lseek(STDIN_FILENO, 3, SEEK_SET), 3);

	ck_assert_int_eq(pm_source_open(&src, "-"), 0);
	ck_assert(src.regular);
	ck_assert_uint_eq(src.offset, 3);
	char *got = source_slurp(&src, 4, &len);
	ck_assert_uint_eq(len, 7);
	ck_assert_mem_eq(got, "3456789", 7);
	pm_source_close(&src);
	/* Like cat, leave the shared offset after what was read. */
	ck_assert(fd_is_open(STDIN_FILENO));
	ck_assert_int_eq(lseek(STDIN_FILENO, 0, SEEK_CUR), 10);
	free(got);
	free(path);
}
END_TEST

/* -------------------------------------------------- replacing a file */

static mode_t mode_of(const char *path)
{
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static ino_t ino_of(const char *path)
{
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_ino;
}

static void assert_file(const char *path, const void *want, size_t want_len)
{
	size_t len = 0;
	char *got = tu_read_file(path, &len);
	ck_assert_msg(got != NULL, "%s is missing", path);
	ck_assert_uint_eq(len, want_len);
	ck_assert_mem_eq(got, want, want_len);
	free(got);
}

/* Appends data through reserve + write, as a worker would. */
static void sink_put(struct pm_sink *s, const void *data, size_t len)
{
	uint64_t off = pm_sink_reserve(s, len);
	ck_assert_int_eq(pm_sink_write(s, data, len, off), 0);
}

/* The directory part of path, malloc'ed. */
static char *dir_of(const char *path)
{
	char *copy = strdup(path);
	ck_assert_ptr_nonnull(copy);
	char *d = strdup(dirname(copy));
	free(copy);
	return d;
}

/* Whether dir's file system makes unnamed files (O_TMPFILE). */
static bool has_tmpfile(const char *dir)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

START_TEST(test_sink_replace_commit)
{
	char *out = tu_path(tu_scratch, "out.txt");
	struct pm_sink s;
	const char *what = NULL;
	bool unnamed = has_tmpfile(tu_scratch);

	tu_write_file(out, "OLD CONTENT\n", 12);
	ck_assert_int_eq(chmod(out, 0640), 0);
	ino_t old_ino = ino_of(out);

	ck_assert_int_eq(pm_sink_open(&s, out, false, NULL, &what), 0);
	ck_assert_int_eq(s.kind, PM_SINK_REPLACE);
	ck_assert(s.regular);
	ck_assert(s.positioned);
	ck_assert(s.own_fd);
	ck_assert_uint_eq(s.start, 0);
	/*
	 * The temporary file has no name where the file system allows it,
	 * so that nothing is left behind even by SIGKILL; else it lives next
	 * to the target, so that the final rename cannot cross file systems.
	 */
	ck_assert(s.unnamed == unnamed);
	if (unnamed) {
		ck_assert_ptr_null(s.temp);
		ck_assert_uint_eq(tu_count_entries(tu_scratch), 1);
	} else {
		char *tdir = dir_of(s.temp), *odir = dir_of(out);
		ck_assert(tu_exists(s.temp));
		ck_assert_str_eq(tdir, odir);
		ck_assert_uint_eq(tu_count_entries(tu_scratch), 2);
		free(tdir);
		free(odir);
	}

	sink_put(&s, "new ", 4);
	sink_put(&s, "content\n", 8);
	/* Until the commit the target is untouched: same file, old bytes. */
	assert_file(out, "OLD CONTENT\n", 12);
	ck_assert_uint_eq(ino_of(out), old_ino);

	ck_assert_int_eq(pm_sink_commit(&s), 0);
	assert_file(out, "new content\n", 12);
	ck_assert_uint_ne(ino_of(out), old_ino);
	ck_assert_uint_eq(mode_of(out), 0640);
	ck_assert_ptr_null(s.temp);
	ck_assert_uint_eq(tu_count_entries(tu_scratch), 1);
	pm_sink_close(&s);
	assert_file(out, "new content\n", 12);
	ck_assert_uint_eq(tu_count_entries(tu_scratch), 1);
	free(out);
}
END_TEST

START_TEST(test_sink_replace_abort)
{
	char *out = tu_path(tu_scratch, "out.txt");
	struct pm_sink s;
	const char *what = NULL;

	tu_write_file(out, "KEEP ME\n", 8);
	ck_assert_int_eq(chmod(out, 0604), 0);
	ck_assert_int_eq(pm_sink_open(&s, out, false, NULL, &what), 0);
	sink_put(&s, "half a merge", 12);
	ck_assert_uint_eq(tu_count_entries(tu_scratch), s.unnamed ? 1 : 2);

	pm_sink_abort(&s);
	ck_assert_ptr_null(s.temp);
	ck_assert_uint_eq(tu_count_entries(tu_scratch), 1);
	assert_file(out, "KEEP ME\n", 8);
	ck_assert_uint_eq(mode_of(out), 0604);
	/* Safe twice, and closing afterwards changes nothing. */
	pm_sink_abort(&s);
	pm_sink_close(&s);
	ck_assert_uint_eq(tu_count_entries(tu_scratch), 1);
	assert_file(out, "KEEP ME\n", 8);
	free(out);
}
END_TEST

START_TEST(test_sink_replace_close_without_commit)
{
	/* Closing a sink that was never committed must not publish it. */
	char *out = tu_path(tu_scratch, "out.txt");
	struct pm_sink s;
	const char *what = NULL;

	tu_write_file(out, "KEEP ME\n", 8);
	ck_assert_int_eq(pm_sink_open(&s, out, false, NULL, &what), 0);
	sink_put(&s, "half a merge", 12);
	pm_sink_close(&s);
	ck_assert_uint_eq(tu_count_entries(tu_scratch), 1);
	assert_file(out, "KEEP ME\n", 8);
	free(out);
}
END_TEST

START_TEST(test_sink_replace_new_file)
{
	char *out = tu_path(tu_scratch, "fresh.txt");
	struct pm_sink s;
	const char *what = NULL;

	umask(022);
	ck_assert_int_eq(pm_sink_open(&s, out, false, NULL, &what), 0);
	ck_assert_int_eq(s.kind, PM_SINK_REPLACE);
	/* Nothing appears under the final name before the commit. */
	ck_assert(!tu_exists(out));
	sink_put(&s, "hello\n", 6);
	ck_assert(!tu_exists(out));
	ck_assert_int_eq(pm_sink_commit(&s), 0);
	pm_sink_close(&s);
	assert_file(out, "hello\n", 6);
	/* A new output gets the mode "cat > file" would give it, not the
	 * 0600 of a temporary file. */
	ck_assert_uint_eq(mode_of(out), 0644);
	ck_assert_uint_eq(tu_count_entries(tu_scratch), 1);
	free(out);
}
END_TEST

START_TEST(test_sink_replace_symlink)
{
	char *sub = tu_path(tu_scratch, "sub");
	char *real = tu_path(sub, "real");
	char *link = tu_path(tu_scratch, "link");
	struct pm_sink s;
	const char *what = NULL;
	struct stat st;
	char buf[64];

	ck_assert_int_eq(mkdir(sub, 0755), 0);
	tu_write_file(real, "old target\n", 11);
	ck_assert_int_eq(chmod(real, 0600), 0);
	/* A relative link: it is resolved from the link's directory. */
	ck_assert_int_eq(symlink("sub/real", link), 0);

	ck_assert_int_eq(pm_sink_open(&s, link, false, NULL, &what), 0);
	ck_assert_int_eq(s.kind, PM_SINK_REPLACE);
	/* The temporary file sits beside the target, not beside the link
	 * (where it has a name; an unnamed one is in the target's
	 * directory too, which the link then proves). */
	ck_assert_uint_eq(tu_count_entries(sub), s.unnamed ? 1 : 2);
	ck_assert_uint_eq(tu_count_entries(tu_scratch), 2);
	sink_put(&s, "new target\n", 11);
	assert_file(real, "old target\n", 11);
	ck_assert_int_eq(pm_sink_commit(&s), 0);
	pm_sink_close(&s);

	ck_assert_int_eq(lstat(link, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	ssize_t n = readlink(link, buf, sizeof(buf) - 1);
	ck_assert_int_eq(n, 8);
	buf[n] = '\0';
	ck_assert_str_eq(buf, "sub/real");
	assert_file(real, "new target\n", 11);
	ck_assert_uint_eq(mode_of(real), 0600);
	ck_assert_uint_eq(tu_count_entries(sub), 1);
	free(sub);
	free(real);
	free(link);
}
END_TEST

START_TEST(test_sink_replace_dangling_symlink)
{
	char *sub = tu_path(tu_scratch, "sub");
	char *target = tu_path(sub, "later");
	char *link = tu_path(tu_scratch, "link");
	struct pm_sink s;
	const char *what = NULL;
	struct stat st;

	ck_assert_int_eq(mkdir(sub, 0755), 0);
	ck_assert_int_eq(symlink("sub/later", link), 0);
	ck_assert_int_eq(pm_sink_open(&s, link, false, NULL, &what), 0);
	sink_put(&s, "made\n", 5);
	ck_assert_int_eq(pm_sink_commit(&s), 0);
	pm_sink_close(&s);
	/* As with "cat > link": the file the link names is created. */
	ck_assert_int_eq(lstat(link, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	assert_file(target, "made\n", 5);
	free(sub);
	free(target);
	free(link);
}
END_TEST

START_TEST(test_sink_open_errors)
{
	char *nodir = tu_path(tu_scratch, "no/such/dir/out");
	struct pm_sink s;
	const char *what = NULL;
	size_t before = open_fds();

	ck_assert_int_eq(pm_sink_open(&s, nodir, false, NULL, &what), -ENOENT);
	ck_assert_ptr_nonnull(what);
	ck_assert_str_eq(what, nodir);
	ck_assert_int_eq(pm_sink_open(&s, nodir, true, NULL, &what), -ENOENT);
	ck_assert_ptr_nonnull(what);

	what = NULL;
	ck_assert_int_eq(pm_sink_open(&s, tu_scratch, false, NULL, &what),
	                 -EISDIR);
	ck_assert_ptr_nonnull(what);
	ck_assert_int_eq(pm_sink_open(&s, tu_scratch, true, NULL, &what),
	                 -EISDIR);
	/* Failed opens leave neither descriptors nor temporary files. */
	ck_assert_uint_eq(open_fds(), before);
	ck_assert_uint_eq(tu_count_entries(tu_scratch), 0);
	free(nodir);
}
END_TEST

/* ----------------------------------------------- append, direct, stdout */

START_TEST(test_sink_append)
{
	char *out = tu_path(tu_scratch, "log");
	char *fresh = tu_path(tu_scratch, "fresh");
	struct pm_sink s;
	const char *what = NULL;

	tu_write_file(out, "old\n", 4);
	ck_assert_int_eq(pm_sink_open(&s, out, true, NULL, &what), 0);
	ck_assert_int_eq(s.kind, PM_SINK_APPEND);
	ck_assert(s.regular);
	/* O_APPEND ignores offsets: writers must not be told otherwise. */
	ck_assert(!s.positioned);
	ck_assert_ptr_null(s.temp);
	sink_put(&s, "more\n", 5);
	/* Appending is immediate, not atomic: the bytes are there now. */
	assert_file(out, "old\nmore\n", 9);
	/* Someone else appending meanwhile is not overwritten. */
	int fd = open(out, O_WRONLY | O_APPEND | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "other\n", 6), 6);
	close(fd);
	sink_put(&s, "last\n", 5);
	ck_assert_int_eq(pm_sink_commit(&s), 0);
	pm_sink_close(&s);
	assert_file(out, "old\nmore\nother\nlast\n", 20);
	ck_assert_uint_eq(tu_count_entries(tu_scratch), 1);

	/* Appending to a missing file creates it, as ">>" does. */
	ck_assert_int_eq(pm_sink_open(&s, fresh, true, NULL, &what), 0);
	sink_put(&s, "x\n", 2);
	ck_assert_int_eq(pm_sink_commit(&s), 0);
	pm_sink_close(&s);
	assert_file(fresh, "x\n", 2);
	free(out);
	free(fresh);
}
END_TEST

START_TEST(test_sink_dev_null)
{
	struct pm_sink s;
	const char *what = NULL;
	char *big = calloc(1, 1 << 20);
	struct stat st;

	ck_assert_ptr_nonnull(big);
	ck_assert_int_eq(pm_sink_open(&s, "/dev/null", false, NULL, &what), 0);
	ck_assert_int_eq(s.kind, PM_SINK_DIRECT);
	ck_assert(!s.regular);
	ck_assert_ptr_null(s.temp);
	sink_put(&s, big, 1 << 20);
	sink_put(&s, "tail", 4);
	ck_assert_int_eq(pm_sink_commit(&s), 0);
	pm_sink_close(&s);
	/* Still the device: never replaced by a regular file. */
	ck_assert_int_eq(stat("/dev/null", &st), 0);
	ck_assert(S_ISCHR(st.st_mode));
	free(big);
}
END_TEST

START_TEST(test_sink_stdout_regular)
{
	char *out = tu_path(tu_scratch, "stdout");
	struct pm_sink s;
	const char *what = NULL;
	int saved = dup(STDOUT_FILENO);

	ck_assert_int_ge(saved, 0);
	tu_write_file(out, "abc", 3);
	int fd = open(out, O_WRONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(lseek(fd, 3, SEEK_SET), 3);
	ck_assert_int_eq(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
	close(fd);

	/* "{ echo abc; pmerge x; } > file": we start where the shell's
	 * offset stands and leave it after our bytes. */
	ck_assert_int_eq(pm_sink_open(&s, NULL, false, NULL, &what), 0);
	ck_assert_int_eq(s.kind, PM_SINK_STDOUT);
	ck_assert_int_eq(s.fd, STDOUT_FILENO);
	ck_assert(!s.own_fd);
	ck_assert_uint_eq(s.start, 3);
	sink_put(&s, "defg", 4);
	ck_assert_int_eq(pm_sink_commit(&s), 0);
	pm_sink_close(&s);
	ck_assert(fd_is_open(STDOUT_FILENO));
	ck_assert_int_eq(lseek(STDOUT_FILENO, 0, SEEK_CUR), 7);
	assert_file(out, "abcdefg", 7);

	ck_assert_int_eq(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
	close(saved);
	free(out);
}
END_TEST

/* ---------------------------------------- reservations from threads */

struct piece {
	uint64_t off, len;
	unsigned thread, seq;
};

struct reserver {
	pthread_t th;
	struct pm_sink *s;
	unsigned id;
	unsigned count;
	struct piece *pieces;
};

static pthread_barrier_t g_go;

/* The next free offset, for assertions that name it. */
static uint64_t sink_end(struct pm_sink *s)
{
	return atomic_load(&s->end);
}

/* The bytes of piece (thread, seq): recomputable by the checker. */
static void piece_bytes(char *buf, size_t len, unsigned thread, unsigned seq)
{
	tu_fill_random(buf, len, ((uint64_t)thread << 32) | seq);
}

static void *reserver_main(void *arg)
{
	struct reserver *r = arg;
	char buf[600];
	uint64_t rs = r->id + 1;
	pthread_barrier_wait(&g_go);
	for (unsigned i = 0; i < r->count; i++) {
		size_t len = 1 + uu_rand(&rs) % sizeof(buf);
		uint64_t off = pm_sink_reserve(r->s, len);
		piece_bytes(buf, len, r->id, i);
		r->pieces[i] = (struct piece){off, len, r->id, i};
		if (i % 2) {
			/* Three parts, one of them empty, through writev. */
			struct iovec iov[3] = {
			    {buf, len / 2},
			    {buf + len / 2, 0},
			    {buf + len / 2, len - len / 2},
			};
			ck_assert_int_eq(pm_sink_writev(r->s, iov, 3, off), 0);
		} else {
			ck_assert_int_eq(pm_sink_write(r->s, buf, len, off), 0);
		}
	}
	return NULL;
}

static int cmp_piece(const void *a, const void *b)
{
	const struct piece *x = a, *y = b;
	return x->off < y->off ? -1 : x->off > y->off;
}

START_TEST(test_sink_reserve_threads)
{
	enum { T = 8, PER = 400 };
	char *out = tu_path(tu_scratch, "out");
	struct pm_sink s;
	const char *what = NULL;
	struct reserver r[T];
	struct piece *all = calloc(T * PER, sizeof(*all));

	ck_assert_ptr_nonnull(all);
	tu_write_file(out, "previous", 8);
	ck_assert_int_eq(pm_sink_open(&s, out, false, NULL, &what), 0);
	ck_assert(s.positioned);
	uint64_t start = s.start;
	ck_assert_int_eq(pthread_barrier_init(&g_go, NULL, T), 0);
	for (unsigned i = 0; i < T; i++) {
		r[i] = (struct reserver){
		    .s = &s, .id = i, .count = PER, .pieces = all + i * PER};
		ck_assert_int_eq(
		    pthread_create(&r[i].th, NULL, reserver_main, &r[i]), 0);
	}
	for (unsigned i = 0; i < T; i++)
		ck_assert_int_eq(pthread_join(r[i].th, NULL), 0);
	pthread_barrier_destroy(&g_go);

	/* The ranges tile [start, end) exactly: no gap, no overlap. */
	qsort(all, T * PER, sizeof(*all), cmp_piece);
	uint64_t at = start, sum = 0;
	for (size_t i = 0; i < T * PER; i++) {
		UU_EQ(all[i].off, at);
		at += all[i].len;
		sum += all[i].len;
	}
	uint64_t end = atomic_load(&s.end);
	UU_EQ(at, end);
	UU_EQ(sum, end - start);

	char *expect = malloc(sum);
	ck_assert_ptr_nonnull(expect);
	for (size_t i = 0; i < T * PER; i++)
		piece_bytes(expect + (all[i].off - start), all[i].len,
		            all[i].thread, all[i].seq);
	ck_assert_int_eq(pm_sink_commit(&s), 0);
	pm_sink_close(&s);
	assert_file(out, expect, sum);
	free(expect);
	free(all);
	free(out);
}
END_TEST

/* Reservations only, as fast as threads can make them. */
struct grabber {
	pthread_t th;
	struct pm_sink *s;
	unsigned count;
	uint64_t *off, *len;
};

static void *grabber_main(void *arg)
{
	struct grabber *g = arg;
	uint64_t rs = (uint64_t)(uintptr_t)g;
	pthread_barrier_wait(&g_go);
	for (unsigned i = 0; i < g->count; i++) {
		g->len[i] = 1 + uu_rand(&rs) % 5000;
		g->off[i] = pm_sink_reserve(g->s, g->len[i]);
	}
	return NULL;
}

static int cmp_u64_pair(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;
	return x[0] < y[0] ? -1 : x[0] > y[0];
}

START_TEST(test_sink_reserve_tiles)
{
	enum { T = 8, PER = 20000 };
	struct pm_sink s;
	const char *what = NULL;
	struct grabber g[T];
	uint64_t *off = calloc(T * PER, sizeof(*off));
	uint64_t *len = calloc(T * PER, sizeof(*len));
	uint64_t *pair = calloc(2 * T * PER, sizeof(*pair));

	ck_assert_ptr_nonnull(off);
	ck_assert_ptr_nonnull(len);
	ck_assert_ptr_nonnull(pair);
	ck_assert_int_eq(pm_sink_open(&s, "/dev/null", false, NULL, &what), 0);
	uint64_t start = atomic_load(&s.end);
	ck_assert_int_eq(pthread_barrier_init(&g_go, NULL, T), 0);
	for (unsigned i = 0; i < T; i++) {
		g[i] = (struct grabber){.s = &s,
		                        .count = PER,
		                        .off = off + i * PER,
		                        .len = len + i * PER};
		ck_assert_int_eq(
		    pthread_create(&g[i].th, NULL, grabber_main, &g[i]), 0);
	}
	for (unsigned i = 0; i < T; i++)
		ck_assert_int_eq(pthread_join(g[i].th, NULL), 0);
	pthread_barrier_destroy(&g_go);

	uint64_t sum = 0;
	for (size_t i = 0; i < T * PER; i++) {
		pair[2 * i] = off[i];
		pair[2 * i + 1] = len[i];
		sum += len[i];
	}
	qsort(pair, T * PER, 2 * sizeof(*pair), cmp_u64_pair);
	uint64_t at = start;
	for (size_t i = 0; i < T * PER; i++) {
		UU_EQ(pair[2 * i], at);
		at += pair[2 * i + 1];
	}
	UU_EQ(at, sink_end(&s));
	UU_EQ(sum, sink_end(&s) - start);
	pm_sink_close(&s);
	free(off);
	free(len);
	free(pair);
}
END_TEST

/* -------------------------------------------------------- pipe outputs */

/* Drains a FIFO until EOF on its own thread. */
struct drain {
	pthread_t th;
	const char *path;
	char *buf;
	size_t len, cap;
};

static void *drain_main(void *arg)
{
	struct drain *d = arg;
	int fd = open(d->path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	for (;;) {
		if (d->cap - d->len < 65536) {
			d->cap = d->cap * 2 + 65536;
			d->buf = realloc(d->buf, d->cap);
			ck_assert_ptr_nonnull(d->buf);
		}
		ssize_t k = read(fd, d->buf + d->len, 65536);
		if (k < 0 && errno == EINTR)
			continue;
		ck_assert_int_ge(k, 0);
		if (k == 0)
			break;
		d->len += (size_t)k;
	}
	close(fd);
	return NULL;
}

/* Opens a FIFO sink with a reader draining it. */
static char *fifo_sink(struct pm_sink *s, struct drain *d)
{
	char *path = tu_path(tu_scratch, "out.fifo");
	const char *what = NULL;
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	*d = (struct drain){.path = path};
	ck_assert_int_eq(pthread_create(&d->th, NULL, drain_main, d), 0);
	ck_assert_int_eq(pm_sink_open(s, path, false, NULL, &what), 0);
	ck_assert_int_eq(s->kind, PM_SINK_DIRECT);
	ck_assert(s->is_pipe);
	ck_assert(!s->regular);
	ck_assert(!s->positioned);
	ck_assert_ptr_null(s->temp);
	return path;
}

START_TEST(test_sink_writev_pipe)
{
	struct pm_sink s;
	struct drain d;
	size_t n = (1 << 20) + 7;
	char *data = malloc(n);

	ck_assert_ptr_nonnull(data);
	tu_fill_random(data, n, 9);
	char *path = fifo_sink(&s, &d);
	/* Far more than a pipe holds, in uneven parts. */
	struct iovec iov[5] = {
	    {data, 1},
	    {data + 1, 300000},
	    {data + 300001, 0},
	    {data + 300001, 65536},
	    {data + 365537, n - 365537},
	};
	ck_assert_int_eq(pm_sink_writev(&s, iov, 5, pm_sink_reserve(&s, n)), 0);
	ck_assert_int_eq(pm_sink_write(&s, "end", 3, pm_sink_reserve(&s, 3)),
	                 0);
	ck_assert_int_eq(pm_sink_commit(&s), 0);
	pm_sink_close(&s);
	ck_assert_int_eq(pthread_join(d.th, NULL), 0);
	ck_assert_uint_eq(d.len, n + 3);
	ck_assert_mem_eq(d.buf, data, n);
	ck_assert_mem_eq(d.buf + n, "end", 3);
	/* The FIFO is still a FIFO. */
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISFIFO(st.st_mode));
	free(d.buf);
	free(data);
	free(path);
}
END_TEST

/*
 * Bytes that are also a file's go into a pipe from the file (splice), and
 * whatever the file no longer holds -- here the second part lies past its
 * end -- comes from the caller's buffer: the reader gets buf either way.
 */
START_TEST(test_sink_put_from_pipe)
{
	struct pm_sink s;
	struct drain d;
	size_t n = (1 << 20) + 5, cut = 700001;
	char *data = malloc(n);

	ck_assert_ptr_nonnull(data);
	tu_fill_random(data, n, 11);
	tu_write_file("from", data, cut);
	int in = open("from", O_RDONLY);
	ck_assert_int_ge(in, 0);
	char *path = fifo_sink(&s, &d);
	ck_assert(s.is_pipe);
	ck_assert_int_eq(
	    pm_sink_put_from(&s, data, n, in, 0, pm_sink_reserve(&s, n)), 0);
	ck_assert_int_eq(pm_sink_commit(&s), 0);
	pm_sink_close(&s);
	ck_assert_int_eq(pthread_join(d.th, NULL), 0);
	ck_assert_uint_eq(d.len, n);
	ck_assert_mem_eq(d.buf, data, n);
	close(in);
	unlink("from");
	free(d.buf);
	free(data);
	free(path);
}
END_TEST

static atomic_bool g_pest_stop;

/* The handler only has to exist: its job is to interrupt system calls. */
static void ignore_signal(int sig)
{
	(void)sig;
}

/* Interrupts the target thread with SIGUSR1 until told to stop. */
static void *pest_main(void *arg)
{
	pthread_t target = *(pthread_t *)arg;
	const struct timespec pause = {0, 20000};
	while (!atomic_load(&g_pest_stop)) {
		pthread_kill(target, SIGUSR1);
		nanosleep(&pause, NULL);
	}
	return NULL;
}

START_TEST(test_sink_writev_interrupted)
{
	/*
	 * A signal that arrives while a write into a full pipe has moved
	 * some bytes makes the write return short; one that arrives before
	 * any makes it fail with EINTR.  Without SA_RESTART both happen
	 * here; either way every byte must arrive once, in order.
	 */
	struct sigaction sa;
	struct pm_sink s;
	struct drain d;
	pthread_t self = pthread_self(), pest;
	size_t n = 4u << 20;
	char *data = malloc(n);

	ck_assert_ptr_nonnull(data);
	tu_fill_random(data, n, 10);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = ignore_signal;
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);

	char *path = fifo_sink(&s, &d);
	atomic_store(&g_pest_stop, false);
	ck_assert_int_eq(pthread_create(&pest, NULL, pest_main, &self), 0);
	for (int round = 0; round < 4; round++) {
		struct iovec iov[4] = {
		    {data, 10},
		    {data + 10, 3 * 65536},
		    {data + 10 + 3 * 65536, 1},
		    {data + 11 + 3 * 65536, n - 11 - 3 * 65536},
		};
		ck_assert_int_eq(
		    pm_sink_writev(&s, iov, 4, pm_sink_reserve(&s, n)), 0);
	}
	atomic_store(&g_pest_stop, true);
	ck_assert_int_eq(pthread_join(pest, NULL), 0);
	ck_assert_int_eq(pm_sink_commit(&s), 0);
	pm_sink_close(&s);
	ck_assert_int_eq(pthread_join(d.th, NULL), 0);
	ck_assert_uint_eq(d.len, 4 * n);
	for (int round = 0; round < 4; round++)
		ck_assert_mem_eq(d.buf + round * n, data, n);
	free(d.buf);
	free(data);
	free(path);
}
END_TEST

/* ---------------------------------------------------------- copying */

static atomic_bool g_no_cancel;

/* A replace sink on dir/name, opened and checked. */
static char *file_sink(struct pm_sink *s, const char *name)
{
	char *path = tu_path(tu_scratch, name);
	const char *what = NULL;
	ck_assert_int_eq(pm_sink_open(s, path, false, NULL, &what), 0);
	ck_assert(s->regular);
	return path;
}

/*
 * A file's bytes written from a mapping of them, from an offset that is
 * not a page's: exactly the slice asked for lands at the reserved offset.
 * Past the input's end (it shrank after its size was taken) the move stops
 * short where the file ends, inside the write: no SIGBUS kills the caller.
 */
START_TEST(test_sink_move_file)
{
	enum { SIZE = 300001, FROM = 5001, LEN = 200000 };
	char *data;
	char *in_path = random_file("in", SIZE, 5, &data);
	struct pm_sink s;
	char *out = file_sink(&s, "out");
	size_t moved = 7;
	int in = open(in_path, O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(in, 0);
	ck_assert(pm_sink_takes_from(&s));
	sink_put(&s, "HDR", 3);
	ck_assert_int_eq(
	    pm_sink_move(&s, in, FROM, LEN, pm_sink_reserve(&s, LEN), &moved),
	    0);
	ck_assert_uint_eq(moved, LEN);
	/* Asked for 100,000 bytes, of which the file holds 95,000 more. */
	ck_assert_int_eq(truncate(in_path, FROM + LEN + 95000), 0);
	uint64_t off = pm_sink_reserve(&s, 100000);
	int rc = pm_sink_move(&s, in, FROM + LEN, 100000, off, &moved);
	ck_assert_msg(rc == 0 || rc == -EFAULT, "rc %d", rc);
	ck_assert_uint_eq(moved, 95000);
	sink_put(&s, "END", 3);
	ck_assert_int_eq(pm_sink_commit(&s), 0);
	pm_sink_close(&s);

	char *want = malloc(3 + LEN + 100000 + 3);
	ck_assert_ptr_nonnull(want);
	memcpy(want, "HDR", 3);
	memcpy(want + 3, data + FROM, LEN + 95000);
	/* The rest of the reservation holds no byte of the input. */
	memset(want + 3 + LEN + 95000, 0, 5000);
	memcpy(want + 3 + LEN + 100000, "END", 3);
	assert_file(out, want, 3 + LEN + 100000 + 3);
	close(in);
	free(want);
	free(data);
	free(out);
	free(in_path);
}
END_TEST

/* Into a pipe the pages are spliced; the reader gets the slice. */
START_TEST(test_sink_move_pipe)
{
	struct pm_sink s;
	struct drain d;
	size_t n = (1 << 20) + 5, moved = 0;
	char *data = malloc(n);

	ck_assert_ptr_nonnull(data);
	tu_fill_random(data, n, 13);
	tu_write_file("from", data, n);
	int in = open("from", O_RDONLY);
	ck_assert_int_ge(in, 0);
	char *path = fifo_sink(&s, &d);
	ck_assert(pm_sink_takes_from(&s));
	ck_assert_int_eq(
	    pm_sink_move(&s, in, 3, n - 3, pm_sink_reserve(&s, n - 3), &moved),
	    0);
	ck_assert_uint_eq(moved, n - 3);
	ck_assert_int_eq(pm_sink_commit(&s), 0);
	pm_sink_close(&s);
	ck_assert_int_eq(pthread_join(d.th, NULL), 0);
	ck_assert_uint_eq(d.len, n - 3);
	ck_assert_mem_eq(d.buf, data + 3, n - 3);
	close(in);
	unlink("from");
	free(d.buf);
	free(data);
	free(path);
}
END_TEST

static void check_copy_between_files(bool force_fallback, size_t bufsize)
{
	enum { SIZE = 300001 };
	char *data;
	char *in_path = random_file("in", SIZE, 3, &data);
	struct pm_sink s;
	char *out = file_sink(&s, "out");
	char *buf = malloc(bufsize);
	uint64_t in_off, copied = 777;
	bool in_failed = true;
	int in = open(in_path, O_RDONLY | O_CLOEXEC);

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_ge(in, 0);
	if (force_fallback)
		atomic_store(&s.cfr_broken, true);

	sink_put(&s, "HDR", 3);
	/* A slice from the middle: exactly len bytes, from *in_off. */
	in_off = 5000;
	uint64_t off = pm_sink_reserve(&s, 100000);
	ck_assert_int_eq(pm_sink_copy(&s, in, &in_off, 100000, off, buf,
	                              bufsize, &copied, &in_failed,
	                              &g_no_cancel),
	                 0);
	ck_assert_uint_eq(copied, 100000);
	ck_assert_uint_eq(in_off, 105000);
	ck_assert(!in_failed);

	/* The rest, until end of file. */
	off = pm_sink_reserve(&s, SIZE - 105000);
	ck_assert_int_eq(pm_sink_copy(&s, in, &in_off, UINT64_MAX, off, buf,
	                              bufsize, &copied, &in_failed,
	                              &g_no_cancel),
	                 0);
	ck_assert_uint_eq(copied, SIZE - 105000);
	ck_assert_uint_eq(in_off, SIZE);
	ck_assert(!in_failed);
	sink_put(&s, "END", 3);

	ck_assert_int_eq(pm_sink_commit(&s), 0);
	pm_sink_close(&s);

	size_t want_len = 3 + (SIZE - 5000) + 3;
	char *want = malloc(want_len);
	ck_assert_ptr_nonnull(want);
	memcpy(want, "HDR", 3);
	memcpy(want + 3, data + 5000, SIZE - 5000);
	memcpy(want + 3 + SIZE - 5000, "END", 3);
	assert_file(out, want, want_len);
	close(in);
	free(want);
	free(buf);
	free(data);
	free(in_path);
	free(out);
}

START_TEST(test_copy_regular)
{
	check_copy_between_files(false, 65536);
}
END_TEST

START_TEST(test_copy_regular_fallback)
{
	/* Read/write through a small buffer whose size divides nothing. */
	check_copy_between_files(true, 4093);
}
END_TEST

START_TEST(test_copy_stops_at_eof)
{
	char *data;
	char *in_path = random_file("in", 600, 4, &data);
	struct pm_sink s;
	char *out = file_sink(&s, "out");
	char buf[4096];
	uint64_t in_off = 0, copied = 0;
	bool in_failed = true;
	int in = open(in_path, O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(in, 0);
	/* The input shrank under us: 1000 asked, 600 there. */
	uint64_t off = pm_sink_reserve(&s, 600);
	ck_assert_int_eq(pm_sink_copy(&s, in, &in_off, 1000, off, buf,
	                              sizeof(buf), &copied, &in_failed,
	                              &g_no_cancel),
	                 0);
	ck_assert_uint_eq(copied, 600);
	ck_assert_uint_eq(in_off, 600);
	ck_assert(!in_failed);
	ck_assert_int_eq(pm_sink_commit(&s), 0);
	pm_sink_close(&s);
	assert_file(out, data, 600);
	close(in);
	free(data);
	free(in_path);
	free(out);
}
END_TEST

START_TEST(test_copy_to_pipe)
{
	enum { SIZE = 500000 };
	for (int fallback = 0; fallback < 2; fallback++) {
		char *data;
		char *in_path = random_file("in", SIZE, 6, &data);
		struct pm_sink s;
		struct drain d;
		char buf[8192];
		uint64_t in_off = 1, copied = 0;
		bool in_failed = true;
		int in = open(in_path, O_RDONLY | O_CLOEXEC);

		ck_assert_int_ge(in, 0);
		char *fifo = fifo_sink(&s, &d);
		if (fallback)
			atomic_store(&s.splice_broken, true);
		uint64_t off = pm_sink_reserve(&s, SIZE - 1);
		ck_assert_int_eq(pm_sink_copy(&s, in, &in_off, SIZE - 1, off,
		                              buf, sizeof(buf), &copied,
		                              &in_failed, &g_no_cancel),
		                 0);
		ck_assert_uint_eq(copied, SIZE - 1);
		ck_assert_uint_eq(in_off, SIZE);
		ck_assert(!in_failed);
		ck_assert_int_eq(pm_sink_commit(&s), 0);
		pm_sink_close(&s);
		ck_assert_int_eq(pthread_join(d.th, NULL), 0);
		ck_assert_uint_eq(d.len, SIZE - 1);
		ck_assert_mem_eq(d.buf, data + 1, SIZE - 1);
		close(in);
		unlink(fifo);
		unlink(in_path);
		free(fifo);
		free(d.buf);
		free(data);
		free(in_path);
	}
}
END_TEST

START_TEST(test_copy_cancelled)
{
	char *data;
	char *in_path = random_file("in", 100000, 7, &data);
	struct pm_sink s;
	char *out = file_sink(&s, "out");
	char buf[4096];
	uint64_t in_off = 0, copied = 777;
	bool in_failed = true;
	atomic_bool cancel = true;
	int in = open(in_path, O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(in, 0);
	int rc = pm_sink_copy(&s, in, &in_off, 100000, 0, buf, sizeof(buf),
	                      &copied, &in_failed, &cancel);
	/* Stopping early is not an input failure, and nothing went out. */
	ck_assert_msg(rc == 0 || rc == -ECANCELED, "rc %d", rc);
	ck_assert_uint_eq(copied, 0);
	ck_assert_uint_eq(in_off, 0);
	ck_assert(!in_failed);
	pm_sink_abort(&s);
	pm_sink_close(&s);
	ck_assert(!tu_exists(out));
	close(in);
	free(data);
	free(in_path);
	free(out);
}
END_TEST

START_TEST(test_copy_input_error)
{
	char *data;
	char *in_path = random_file("in", 1000, 8, &data);
	struct pm_sink s;
	char *out = file_sink(&s, "out");
	char buf[4096];
	uint64_t in_off = 0, copied = 777;
	bool in_failed = false;
	/* Not readable: every way of reading it fails. */
	int in = open(in_path, O_WRONLY | O_CLOEXEC);

	ck_assert_int_ge(in, 0);
	int rc = pm_sink_copy(&s, in, &in_off, 1000, 0, buf, sizeof(buf),
	                      &copied, &in_failed, &g_no_cancel);
	ck_assert_int_eq(rc, -EBADF);
	ck_assert(in_failed);
	ck_assert_uint_eq(copied, 0);

	/* The sink is still fine for the next input. */
	int good = open(in_path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(good, 0);
	in_off = 0;
	ck_assert_int_eq(
	    pm_sink_copy(&s, good, &in_off, 1000, pm_sink_reserve(&s, 1000),
	                 buf, sizeof(buf), &copied, &in_failed, &g_no_cancel),
	    0);
	ck_assert(!in_failed);
	ck_assert_uint_eq(copied, 1000);
	ck_assert_int_eq(pm_sink_commit(&s), 0);
	pm_sink_close(&s);
	assert_file(out, data, 1000);
	close(in);
	close(good);
	free(data);
	free(in_path);
	free(out);
}
END_TEST

START_TEST(test_copy_input_is_directory)
{
	/*
	 * An input that cannot be read because of what it is must be
	 * blamed on the input, whichever copy method noticed: otherwise the
	 * merge would report an output failure and give up on every other
	 * input.  Nothing has disabled copy_file_range on this sink yet.
	 */
	struct pm_sink s;
	char *out = file_sink(&s, "out");
	char buf[4096];
	uint64_t in_off = 0, copied = 777;
	bool in_failed = false;
	int in = open(tu_scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	ck_assert_int_ge(in, 0);
	ck_assert(!atomic_load(&s.cfr_broken));
	int rc =
	    pm_sink_copy(&s, in, &in_off, 100, pm_sink_reserve(&s, 100), buf,
	                 sizeof(buf), &copied, &in_failed, &g_no_cancel);
	ck_assert_int_eq(rc, -EISDIR);
	ck_assert_msg(in_failed,
	              "an unreadable input was blamed on the output");
	ck_assert_uint_eq(copied, 0);
	pm_sink_abort(&s);
	pm_sink_close(&s);
	close(in);
	free(out);
}
END_TEST

START_TEST(test_copy_proc_file)
{
	/* /proc files say they are empty regular files yet have content;
	 * "until EOF" must mean what read() says, as cat sees it. */
	struct pm_sink s;
	char *out = file_sink(&s, "out");
	char buf[4096];
	uint64_t in_off = 0, copied = 0;
	bool in_failed = true;
	int in = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(in, 0);
	ck_assert_int_eq(pm_sink_copy(&s, in, &in_off, UINT64_MAX, 0, buf,
	                              sizeof(buf), &copied, &in_failed,
	                              &g_no_cancel),
	                 0);
	ck_assert_uint_gt(copied, 5);
	ck_assert_uint_eq(in_off, copied);
	ck_assert_int_eq(pm_sink_commit(&s), 0);
	pm_sink_close(&s);
	size_t len = 0;
	char *got = tu_read_file(out, &len);
	ck_assert_uint_eq(len, copied);
	ck_assert_mem_eq(got, "Name:", 5);
	close(in);
	free(got);
	free(out);
}
END_TEST

START_TEST(test_copy_piece)
{
	const uint64_t mib = 1u << 20, floor = 32 * mib;

	/* Copying at 3 GB/s (ext4, tmpfs): the piece stays at the floor. */
	ck_assert_uint_eq(pm_copy_piece(floor, floor, 11 * 1000 * 1000), floor);
	/* At exactly PM_PIECE_NS per floor: still the floor. */
	ck_assert_uint_eq(pm_copy_piece(floor, floor, PM_PIECE_NS), floor);
	/* Four times as fast: four times as much in the same time. */
	ck_assert_uint_eq(pm_copy_piece(floor, floor, PM_PIECE_NS / 4),
	                  4 * floor);
	/* Blocks shared (32 MiB in 20 µs), or a clock that did not move:
	 * as much as one call may take, and no more. */
	ck_assert_uint_eq(pm_copy_piece(floor, floor, 20 * 1000), PM_PIECE_MAX);
	ck_assert_uint_eq(pm_copy_piece(floor, floor, 0), PM_PIECE_MAX);
	ck_assert_uint_eq(pm_copy_piece(floor, PM_PIECE_MAX, 1), PM_PIECE_MAX);
	/* A large piece that went slowly falls back to the floor. */
	ck_assert_uint_eq(
	    pm_copy_piece(floor, PM_PIECE_MAX, 1000ull * 1000 * 1000), floor);
	/* Each caller's own floor. */
	ck_assert_uint_eq(pm_copy_piece(2 * floor, floor, 11 * 1000 * 1000),
	                  2 * floor);
}
END_TEST

static Suite *sink_source_suite(void)
{
	Suite *s = suite_create("sink_source");
	TCase *tc = tcase_create("source");
	tcase_add_checked_fixture(tc, tu_scratch_setup, tu_scratch_teardown);
	tcase_add_test(tc, test_source_regular);
	tcase_add_test(tc, test_source_empty);
	tcase_add_test(tc, test_source_errors);
	tcase_add_test(tc, test_source_take_same_or_shrunk);
	tcase_add_test(tc, test_source_take_grown);
	tcase_add_test(tc, test_source_take_replaced);
	tcase_add_test(tc, test_source_regular_nonblock_lazy);
	tcase_add_test(tc, test_source_fifo_no_writer);
	tcase_add_test(tc, test_source_fifo_writer);
	tcase_add_test(tc, test_source_pipe_by_name);
	tcase_add_test(tc, test_source_stdin_pipe);
	tcase_add_test(tc, test_source_stdin_regular_offset);
	suite_add_tcase(s, tc);

	tc = tcase_create("sink");
	tcase_add_checked_fixture(tc, tu_scratch_setup, tu_scratch_teardown);
	tcase_add_test(tc, test_sink_replace_commit);
	tcase_add_test(tc, test_sink_replace_abort);
	tcase_add_test(tc, test_sink_replace_close_without_commit);
	tcase_add_test(tc, test_sink_replace_new_file);
	tcase_add_test(tc, test_sink_replace_symlink);
	tcase_add_test(tc, test_sink_replace_dangling_symlink);
	tcase_add_test(tc, test_sink_open_errors);
	tcase_add_test(tc, test_sink_append);
	tcase_add_test(tc, test_sink_dev_null);
	tcase_add_test(tc, test_sink_stdout_regular);
	tcase_add_test(tc, test_sink_reserve_threads);
	tcase_add_test(tc, test_sink_reserve_tiles);
	tcase_add_test(tc, test_sink_writev_pipe);
	tcase_add_test(tc, test_sink_put_from_pipe);
	tcase_add_test(tc, test_sink_move_file);
	tcase_add_test(tc, test_sink_move_pipe);
	tcase_add_test(tc, test_sink_writev_interrupted);
	suite_add_tcase(s, tc);

	tc = tcase_create("copy");
	tcase_add_checked_fixture(tc, tu_scratch_setup, tu_scratch_teardown);
	tcase_add_test(tc, test_copy_regular);
	tcase_add_test(tc, test_copy_regular_fallback);
	tcase_add_test(tc, test_copy_stops_at_eof);
	tcase_add_test(tc, test_copy_to_pipe);
	tcase_add_test(tc, test_copy_cancelled);
	tcase_add_test(tc, test_copy_input_error);
	tcase_add_test(tc, test_copy_input_is_directory);
	tcase_add_test(tc, test_copy_proc_file);
	tcase_add_test(tc, test_copy_piece);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* Open descriptors and thread states are read from /proc. */
	if (access("/proc/self/task", R_OK) != 0)
		return 77;
	SRunner *sr = srunner_create(sink_source_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
