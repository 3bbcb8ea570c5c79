#include "tutil.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

const char *tu_pmerge(void)
{
	const char *p = getenv("PMERGE");
	return p && *p ? p : "pmerge";
}

double tu_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void tu_append(char **buf, size_t *len, size_t *cap, const void *d, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t c = *cap ? *cap : 4096;
		while (c < *len + n + 1)
			c *= 2;
		*buf = realloc(*buf, c);
		ck_assert_ptr_nonnull(*buf);
		*cap = c;
	}
	memcpy(*buf + *len, d, n);
	*len += n;
	(*buf)[*len] = '\0';
}

void tu_run_argv(struct tu_run *r, char *const argv[], const char *stdin_path,
                 double timeout_s)
{
	int po[2], pe[2];
	posix_spawn_file_actions_t fa;
	pid_t pid;
	double start = tu_now_s();

	memset(r, 0, sizeof(*r));
	ck_assert_int_eq(pipe2(po, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(pe, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(
	    &fa, 0, stdin_path ? stdin_path : "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	ck_assert_int_eq(posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ),
	                 0);
	posix_spawn_file_actions_destroy(&fa);
	close(po[1]);
	close(pe[1]);
	tu_collect(r, pid, po[0], pe[0], start, timeout_s);
}

bool tu_collect(struct tu_run *r, pid_t pid, int out_fd, int err_fd,
                double start, double timeout_s)
{
	size_t cap_o = 0, cap_e = 0;
	struct pollfd pf[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
	int open_fds = (out_fd >= 0) + (err_fd >= 0);
	bool killed = false;
	int st;

	tu_append(&r->out, &r->out_len, &cap_o, "", 0);
	tu_append(&r->err, &r->err_len, &cap_e, "", 0);
	while (open_fds > 0) {
		double left = timeout_s - (tu_now_s() - start);
		if (left <= 0 && !killed) {
			/* The group too: a shell's children hold the pipes. */
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			killed = true;
		}
		int n = poll(pf, 2, left > 0 ? (int)(left * 1000) + 1 : 100);
		if (n < 0 && errno == EINTR)
			continue;
		for (int i = 0; i < 2; i++) {
			if (pf[i].fd < 0 || !pf[i].revents)
				continue;
			char b[65536];
			ssize_t k = read(pf[i].fd, b, sizeof(b));
			if (k > 0) {
				if (i == 0)
					tu_append(&r->out, &r->out_len, &cap_o,
					          b, (size_t)k);
				else
					tu_append(&r->err, &r->err_len, &cap_e,
					          b, (size_t)k);
			} else if (k == 0 || errno != EINTR) {
				close(pf[i].fd);
				pf[i].fd = -1;
				open_fds--;
			}
		}
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	r->seconds = tu_now_s() - start;
	if (WIFEXITED(st)) {
		r->status = WEXITSTATUS(st);
	} else {
		r->status = -1;
		r->signal = WTERMSIG(st);
	}
	return killed;
}

void tu_run_sh(struct tu_run *r, const char *cmd, double timeout_s)
{
	char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};
	tu_run_argv(r, argv, NULL, timeout_s);
}

void tu_run_free(struct tu_run *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

char *tu_mkdtemp(void)
{
	const char *t = getenv("TMPDIR");
	char *p;
	ck_assert_int_gt(
	    asprintf(&p, "%s/pmerge-test.XXXXXX", t && *t ? t : "/tmp"), 0);
	ck_assert_ptr_nonnull(mkdtemp(p));
	return p;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	chmod(p, 0700);
	return remove(p) < 0 ? 0 : 0;
}

void tu_rmdir_rf(const char *dir)
{
	if (dir)
		nftw(dir, rm_one, 64, FTW_DEPTH | FTW_PHYS);
}

char *tu_path(const char *dir, const char *name)
{
	char *p;
	ck_assert_int_gt(asprintf(&p, "%s/%s", dir, name), 0);
	return p;
}

void tu_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	const char *p = data;
	while (len > 0) {
		ssize_t k = write(fd, p, len);
		ck_assert_msg(k > 0, "write %s: %s", path, strerror(errno));
		p += k;
		len -= (size_t)k;
	}
	ck_assert_int_eq(close(fd), 0);
}

char *tu_read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	char *buf = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		char b[65536];
		ssize_t k = read(fd, b, sizeof(b));
		if (k < 0 && errno == EINTR)
			continue;
		ck_assert_msg(k >= 0, "read %s: %s", path, strerror(errno));
		if (k == 0)
			break;
		tu_append(&buf, &n, &cap, b, (size_t)k);
	}
	close(fd);
	if (!buf)
		tu_append(&buf, &n, &cap, "", 0);
	if (len)
		*len = n;
	return buf;
}

bool tu_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

size_t tu_count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	size_t n = 0;
	struct dirent *e;
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

void tu_fill_random(void *buf, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
	unsigned char *p = buf;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)(x >> 24);
	}
}

void tu_sleep_s(double seconds)
{
	struct timespec ts = {
	    .tv_sec = (time_t)seconds,
	    .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9),
	};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

char *tu_scratch;

void tu_scratch_setup(void)
{
	tu_scratch = tu_mkdtemp();
}

void tu_scratch_teardown(void)
{
	tu_rmdir_rf(tu_scratch);
	free(tu_scratch);
	tu_scratch = NULL;
}

char *tu_enter_scratch(void)
{
	char *dir = tu_mkdtemp();

	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(chdir(dir), 0);
	return dir;
}

void tu_leave_scratch(char *dir)
{
	ck_assert_int_eq(chdir("/"), 0);
	tu_rmdir_rf(dir);
	free(dir);
}

char *tu_cat_names(const char *const *names, size_t n, size_t *len)
{
	char *all = NULL;
	size_t l = 0, cap = 0;

	tu_append(&all, &l, &cap, "", 0);
	for (size_t i = 0; i < n; i++) {
		size_t k;
		char *d = tu_read_file(names[i], &k);
		ck_assert_msg(d != NULL, "%s is missing", names[i]);
		tu_append(&all, &l, &cap, d, k);
		free(d);
	}
	*len = l;
	return all;
}

char *tu_cat(size_t *len, ...)
{
	const char *names[64];
	size_t n = 0;
	va_list ap;

	va_start(ap, len);
	for (const char *a; (a = va_arg(ap, const char *));) {
		ck_assert_uint_lt(n, 64);
		names[n++] = a;
	}
	va_end(ap);
	return tu_cat_names(names, n, len);
}

void tu_expect_bytes(const char *what, const char *got, size_t got_len,
                     const char *want, size_t want_len)
{
	size_t i = 0, n = got_len < want_len ? got_len : want_len;

	if (got_len == want_len && memcmp(got, want, n) == 0)
		return;
	while (i < n && got[i] == want[i])
		i++;
	/* Short contents are shown whole: the message is the diagnosis. */
	if (got_len < 200 && want_len < 200)
		ck_abort_msg("%s: got %zu bytes \"%.*s\", want %zu bytes "
		             "\"%.*s\" (first difference at %zu)",
		             what, got_len, (int)got_len, got, want_len,
		             (int)want_len, want, i);
	ck_abort_msg("%s: got %zu bytes, want %zu; first difference at "
	             "offset %zu",
	             what, got_len, want_len, i);
}

void tu_expect_file(const char *path, const char *want, size_t want_len)
{
	size_t len;
	char *got = tu_read_file(path, &len);

	ck_assert_msg(got != NULL, "%s is missing", path);
	tu_expect_bytes(path, got, len, want, want_len);
	free(got);
}

void tu_expect_text(const char *what, const char *got, size_t got_len,
                    const char *want)
{
	ck_assert_msg(got_len == strlen(want) &&
	                  memcmp(got, want, got_len) == 0,
	              "%s is \"%s\", want \"%s\"", what, got, want);
}

bool tu_has_fd_in(pid_t pid, const char *dir)
{
	char path[320], link[PATH_MAX], real[PATH_MAX];
	bool found = false;

	ck_assert_ptr_nonnull(realpath(dir, real));
	size_t n = strlen(real);
	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	DIR *d = opendir(path);
	for (struct dirent *e; d && !found && (e = readdir(d));) {
		snprintf(path, sizeof(path), "/proc/%ld/fd/%s", (long)pid,
		         e->d_name);
		/* "DIR/NAME", "DIR/NAME (deleted)" or "DIR/#INODE (deleted)" */
		ssize_t len = readlink(path, link, sizeof(link) - 1);
		found = len > (ssize_t)n && strncmp(link, real, n) == 0 &&
		        link[n] == '/';
	}
	if (d)
		closedir(d);
	return found;
}
