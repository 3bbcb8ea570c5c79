#include "live.h"
#include "tutil.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

void lv_start(struct lv *p, const char *dir, char *const argv[],
              char *const env[], long nofile)
{
	int po[2];

	memset(p, 0, sizeof(*p));
	p->errpath = tu_path(dir, "pmerge.err");
	ck_assert_int_eq(pipe2(po, O_CLOEXEC), 0);
	p->pid = fork();
	ck_assert_int_ge(p->pid, 0);
	if (p->pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int err = open(p->errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (in < 0 || err < 0 || chdir(dir) < 0)
			_exit(126);
		dup2(in, 0);
		dup2(po[1], 1);
		dup2(err, 2);
		for (size_t i = 0; env && env[i]; i++)
			putenv(env[i]);
		if (nofile > 0) {
			struct rlimit rl = {(rlim_t)nofile, (rlim_t)nofile};
			if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
				_exit(126);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	close(po[1]);
	p->out = po[0];
	fcntl(p->out, F_SETFL, O_NONBLOCK);
}

bool lv_pump(struct lv *p, double wait_s)
{
	struct pollfd pf = {.fd = p->out, .events = POLLIN};
	char chunk[65536];

	if (p->out < 0)
		return false;
	if (poll(&pf, 1, (int)(wait_s * 1000)) <= 0)
		return true;
	for (;;) {
		ssize_t n = read(p->out, chunk, sizeof(chunk));
		if (n > 0) {
			tu_append(&p->buf, &p->len, &p->cap, chunk, (size_t)n);
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		close(p->out);
		p->out = -1;
		return false;
	}
}

size_t lv_count(const struct lv *p, const char *needle)
{
	size_t n = 0, k = strlen(needle);

	for (const char *s = p->buf; s && (s = strstr(s, needle)); s += k)
		n++;
	return n;
}

bool lv_wait_for(struct lv *p, const char *needle, size_t count,
                 double timeout_s)
{
	double end = tu_now_s() + timeout_s;

	while (lv_count(p, needle) < count) {
		if (tu_now_s() > end || !lv_pump(p, 0.05))
			return lv_count(p, needle) >= count;
	}
	return true;
}

char *lv_stderr(const struct lv *p)
{
	size_t len;
	char *s = tu_read_file(p->errpath, &len);

	return s ? s : strdup("");
}

/* Calls fn on each of the process's fd numbers. */
static size_t count_fds(pid_t pid, bool (*fn)(pid_t, const char *, void *),
                        void *arg)
{
	char path[64];
	size_t n = 0;
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if (!(d = opendir(path)))
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && fn(pid, e->d_name, arg))
			n++;
	closedir(d);
	return n;
}

static bool is_inotify(pid_t pid, const char *fd, void *arg)
{
	char path[300], line[512];
	size_t *watches = arg;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", (int)pid, fd);
	if (!(f = fopen(path, "r")))
		return false;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "inotify wd:", 11) == 0)
			(*watches)++;
	fclose(f);
	return false;
}

bool lv_wait_stderr(const struct lv *p, const char *needle, double timeout_s)
{
	double end = tu_now_s() + timeout_s;

	for (;;) {
		char *err = lv_stderr(p);
		bool found = strstr(err, needle) != NULL;

		free(err);
		if (found)
			return true;
		if (tu_now_s() > end)
			return false;
		usleep(10000);
	}
}

bool lv_wait_watches(const struct lv *p, size_t n, double timeout_s)
{
	double end = tu_now_s() + timeout_s;

	for (;;) {
		size_t watches = 0;
		count_fds(p->pid, is_inotify, &watches);
		if (watches >= n)
			return true;
		if (tu_now_s() > end)
			return false;
		usleep(10000);
	}
}

static bool is_file_under(pid_t pid, const char *fd, void *arg)
{
	char path[300], target[PATH_MAX];
	const char *dir = arg;
	ssize_t k;

	snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)pid, fd);
	k = readlink(path, target, sizeof(target) - 1);
	if (k <= 0)
		return false;
	target[k] = '\0';
	return strncmp(target, dir, strlen(dir)) == 0 &&
	       target[strlen(dir)] == '/' && !strstr(target, "pmerge.err");
}

bool lv_wait_files(const struct lv *p, const char *dir, size_t n,
                   double timeout_s)
{
	double end = tu_now_s() + timeout_s;
	char real[PATH_MAX];

	ck_assert_ptr_nonnull(realpath(dir, real));
	while (count_fds(p->pid, is_file_under, real) < n) {
		if (tu_now_s() > end)
			return false;
		usleep(10000);
	}
	return true;
}

int lv_stop(struct lv *p, int sig)
{
	int st = 0;
	double end = tu_now_s() + 20;

	if (sig)
		kill(p->pid, sig);
	while (lv_pump(p, 0.1) && tu_now_s() < end)
		;
	if (p->out >= 0) {
		kill(p->pid, SIGKILL);
		close(p->out);
		p->out = -1;
	}
	while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

void lv_free(struct lv *p)
{
	free(p->buf);
	free(p->errpath);
	memset(p, 0, sizeof(*p));
}

void lv_append(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	size_t len = strlen(text);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
}
