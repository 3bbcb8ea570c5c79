#include "hardutil.h"
#include "tutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

const char *hu_pmerge(void)
{
	return tu_pmerge();
}

const char *hu_shim(void)
{
	const char *p = getenv("PMFAULT_SO");

	return p && *p ? p : NULL;
}

static void make_absolute(const char *var)
{
	const char *v = getenv(var);
	char *abs;

	/* A bare name is looked up in PATH by nobody here: leave it be. */
	if (!v || !*v || !strchr(v, '/') || v[0] == '/')
		return;
	abs = realpath(v, NULL);
	if (abs) {
		setenv(var, abs, 1);
		free(abs);
	}
}

void hu_init(void)
{
	make_absolute("PMERGE");
	make_absolute("PMFAULT_SO");
}

/* environ with the names set in add replaced, then add; malloc'ed. */
static char **make_env(char *const *add)
{
	size_t n = 0, k = 0, extra = 0;
	char **env;

	while (environ[n])
		n++;
	while (add && add[extra])
		extra++;
	env = calloc(n + extra + 1, sizeof(char *));
	ck_assert_ptr_nonnull(env);
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t nl = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
		bool replaced = false;

		for (size_t j = 0; j < extra && !replaced; j++)
			replaced = strncmp(add[j], environ[i], nl) == 0 &&
			           add[j][nl] == '=';
		if (!replaced)
			env[k++] = environ[i];
	}
	for (size_t j = 0; j < extra; j++)
		env[k++] = add[j];
	env[k] = NULL;
	return env;
}

/* Feeds data into a pipe from a process of its own; returns its pid. */
static pid_t start_writer(const char *data, size_t len, int *read_end)
{
	int p[2];
	pid_t pid;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* The reader may stop early: that is its business. */
		signal(SIGPIPE, SIG_DFL);
		close(p[0]);
		while (len > 0) {
			ssize_t k = write(p[1], data, len);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				_exit(0);
			data += k;
			len -= (size_t)k;
		}
		_exit(0);
	}
	close(p[1]);
	*read_end = p[0];
	return pid;
}

/* True when process pid has a descriptor open on the file at target. */
static bool has_open(pid_t pid, const char *target)
{
	char dir[64], link[PATH_MAX + 64], got[PATH_MAX];
	struct dirent *e;
	bool found = false;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
		n = readlink(link, got, sizeof(got) - 1);
		if (n < 0)
			continue;
		got[n] = '\0';
		found = strcmp(got, target) == 0;
	}
	closedir(d);
	return found;
}

static _Noreturn void child_fail(const char *what)
{
	char msg[256];
	int n = snprintf(msg, sizeof(msg), "hardutil: child: %s: %s\n", what,
	                 strerror(errno));

	(void)!write(STDERR_FILENO, msg, (size_t)n);
	_exit(126);
}

/* In the child: wire the standard streams, limits and user, then exec. */
static _Noreturn void child(const struct hu_opts *o, char **env, int in_fd,
                            int out_fd, int err_fd)
{
	sigset_t none;

	if (dup2(err_fd, STDERR_FILENO) < 0)
		child_fail("dup2 stderr");
	if (o->close_stdout) {
		close(STDOUT_FILENO);
	} else if (o->stdout_path) {
		int fd = open(o->stdout_path,
		              O_WRONLY | O_CREAT | O_TRUNC | O_NOCTTY, 0644);
		if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
			child_fail(o->stdout_path);
		if (fd != STDOUT_FILENO)
			close(fd);
	} else if (dup2(out_fd, STDOUT_FILENO) < 0) {
		child_fail("dup2 stdout");
	}
	if (o->close_stdin) {
		close(STDIN_FILENO);
	} else if (in_fd >= 0) {
		if (dup2(in_fd, STDIN_FILENO) < 0)
			child_fail("dup2 stdin");
	} else {
		const char *p = o->stdin_path ? o->stdin_path : "/dev/null";
		int fd = open(p, O_RDONLY | O_NOCTTY);
		if (fd < 0 || dup2(fd, STDIN_FILENO) < 0)
			child_fail(p);
		if (fd != STDIN_FILENO)
			close(fd);
	}
	/* pmerge decides about SIGPIPE and the others from what it finds:
	 * give it what a shell would. */
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (o->nofile > 0) {
		struct rlimit rl = {(rlim_t)o->nofile, (rlim_t)o->nofile};
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			child_fail("setrlimit");
	}
	if (o->uid > 0) {
		if (setgroups(0, NULL) < 0 ||
		    setresgid((gid_t)o->uid, (gid_t)o->uid, (gid_t)o->uid) <
		        0 ||
		    setresuid(o->uid, o->uid, o->uid) < 0)
			child_fail("switching user");
	}
	execve(o->argv[0], o->argv, env);
	child_fail(o->argv[0]);
}

void hu_run(struct hu_result *r, const struct hu_opts *o)
{
	int po[2] = {-1, -1}, pe[2], in_fd = -1, st;
	pid_t pid, writer = -1;
	size_t cap_o = 0, cap_e = 0;
	double start = tu_now_s(),
	       timeout = o->timeout > 0 ? o->timeout : HU_TIMEOUT;
	char target[PATH_MAX];
	char **env = make_env(o->env);
	bool capture = !o->close_stdout && !o->stdout_path;

	memset(r, 0, sizeof(*r));
	if (o->sig_when_open)
		ck_assert_ptr_nonnull(realpath(o->sig_when_open, target));
	/* The writer first, so that it holds no end of the capture pipes. */
	if (o->stdin_data)
		writer = start_writer(o->stdin_data, o->stdin_len, &in_fd);
	if (capture)
		ck_assert_int_eq(pipe2(po, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(pe, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		child(o, env, in_fd, po[1], pe[1]);
	free(env);
	if (in_fd >= 0)
		close(in_fd);
	if (capture)
		close(po[1]);
	close(pe[1]);
	tu_append(&r->err, &r->err_len, &cap_e, "", 0);
	if (!o->count_stdout)
		tu_append(&r->out, &r->out_len, &cap_o, "", 0);

	struct pollfd pf[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
	int open_fds = capture ? 2 : 1;
	bool pending_sig = o->sig > 0;

	if (!capture)
		pf[0].fd = -1;
	while (open_fds > 0) {
		double elapsed = tu_now_s() - start;
		int wait_ms;

		if (elapsed >= timeout && !r->timed_out) {
			kill(pid, SIGKILL);
			r->timed_out = true;
		}
		if (pending_sig &&
		    (o->sig_when_open ? has_open(pid, target)
		                      : elapsed >= o->sig_after)) {
			kill(pid, o->sig);
			pending_sig = false;
			r->signalled = true;
		}
		wait_ms = pending_sig ? 10
		          : r->timed_out
		              ? 100
		              : (int)((timeout - elapsed) * 1000) + 1;
		int n = poll(pf, 2, wait_ms);
		if (n < 0 && errno == EINTR)
			continue;
		ck_assert_int_ge(n, 0);
		for (int i = 0; i < 2; i++) {
			char b[65536];
			ssize_t k;

			if (pf[i].fd < 0 || !pf[i].revents)
				continue;
			k = read(pf[i].fd, b, sizeof(b));
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				close(pf[i].fd);
				pf[i].fd = -1;
				open_fds--;
			} else if (i == 1) {
				tu_append(&r->err, &r->err_len, &cap_e, b,
				          (size_t)k);
			} else {
				r->out_count += (uint64_t)k;
				if (!o->count_stdout)
					tu_append(&r->out, &r->out_len, &cap_o,
					          b, (size_t)k);
				size_t keep =
				    (size_t)k < HU_TAIL ? (size_t)k : HU_TAIL;
				size_t old = r->tail_len + keep > HU_TAIL
				                 ? HU_TAIL - keep
				                 : r->tail_len;
				memmove(r->tail, r->tail + r->tail_len - old,
				        old);
				memcpy(r->tail + old, b + k - (ssize_t)keep,
				       keep);
				r->tail_len = old + keep;
			}
		}
	}
	while (waitpid(pid, &st, 0) < 0)
		ck_assert_int_eq(errno, EINTR);
	if (writer > 0) {
		/* Whatever pmerge left unread, the writer is done for. */
		kill(writer, SIGKILL);
		while (waitpid(writer, NULL, 0) < 0 && errno == EINTR)
			;
	}
	r->seconds = tu_now_s() - start;
	if (WIFEXITED(st)) {
		r->status = WEXITSTATUS(st);
	} else {
		r->status = -1;
		r->sig = WTERMSIG(st);
	}
	ck_assert_msg(!r->timed_out,
	              "%s did not end within %.0f s (a hang); stderr: %s",
	              o->argv[0], timeout, r->err);
}

void hu_result_free(struct hu_result *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

char *const *hu_fault_env(const char *spec, const char *log_path)
{
	static char *env[5];
	static char *owned[4];
	const char *old = getenv("LD_PRELOAD");
	const char *asan = getenv("ASAN_OPTIONS");
	size_t n = 0;

	ck_assert_msg(hu_shim() != NULL, "PMFAULT_SO is not set");
	for (size_t i = 0; i < 4; i++) {
		free(owned[i]);
		owned[i] = NULL;
	}
	ck_assert_int_gt(asprintf(&owned[0], "LD_PRELOAD=%s%s%s", hu_shim(),
	                          old && *old ? ":" : "", old ? old : ""),
	                 0);
	ck_assert_int_gt(asprintf(&owned[1], "PMFAULT=%s", spec), 0);
	/*
	 * An ASan build wants its runtime first among the loaded libraries;
	 * the shim comes first on purpose, so that check must be off.
	 */
	ck_assert_int_gt(asprintf(&owned[2],
	                          "ASAN_OPTIONS=%s%sverify_asan_link_order=0",
	                          asan ? asan : "", asan && *asan ? ":" : ""),
	                 0);
	if (log_path)
		ck_assert_int_gt(
		    asprintf(&owned[3], "PMFAULT_LOG=%s", log_path), 0);
	for (size_t i = 0; i < 4; i++)
		if (owned[i])
			env[n++] = owned[i];
	env[n] = NULL;
	return env;
}

size_t hu_log_count(const char *log_path, const char *what)
{
	size_t len, n = 0;
	char *data = tu_read_file(log_path, &len);

	if (!data)
		return 0;
	for (char *line = data, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			break;
		*nl = '\0';
		n += strstr(line, what) != NULL;
	}
	free(data);
	return n;
}

void hu_snap_take(struct hu_snap *s, const char *path)
{
	struct stat st;

	memset(s, 0, sizeof(*s));
	if (stat(path, &st) < 0) {
		ck_assert_int_eq(errno, ENOENT);
		return;
	}
	s->exists = true;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->data = tu_read_file(path, &s->len);
	ck_assert_ptr_nonnull(s->data);
}

void hu_snap_expect(const struct hu_snap *s, const char *path)
{
	struct stat st;

	if (!s->exists) {
		ck_assert_msg(stat(path, &st) < 0 && errno == ENOENT,
		              "%s was created", path);
		return;
	}
	ck_assert_msg(stat(path, &st) == 0, "%s is gone", path);
	ck_assert_msg(st.st_dev == s->dev && st.st_ino == s->ino,
	              "%s was replaced (inode %ju, was %ju)", path,
	              (uintmax_t)st.st_ino, (uintmax_t)s->ino);
	size_t len;
	char *now = tu_read_file(path, &len);
	tu_expect_bytes(path, now, len, s->data, s->len);
	free(now);
	free(s->data);
}

void hu_expect_no_temp(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		ck_assert_msg(!strstr(e->d_name, ".pmerge-"),
		              "temporary file %s/%s left behind", dir,
		              e->d_name);
	closedir(d);
}

void hu_expect_exit(const struct hu_result *r, int status)
{
	ck_assert_msg(r->status == status,
	              "exit status %d (signal %d), want %d; stderr: %s",
	              r->status, r->sig, status, r->err);
}

void hu_make(const char *path, size_t len, uint64_t seed, bool text)
{
	char *d = malloc(len ? len : 1);

	ck_assert_ptr_nonnull(d);
	tu_fill_random(d, len, seed);
	if (text) {
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)d[i];
			/* About one line end in 40 bytes, printable between. */
			d[i] = c < 7 ? '\n' : (char)(' ' + c % 95);
		}
		if (len)
			d[len - 1] = '\n';
	}
	tu_write_file(path, d, len);
	free(d);
}

void hu_run_pmerge(struct hu_result *r, const struct hu_opts *o,
                   char *const *env, va_list ap)
{
	struct hu_opts opts = {0};
	char *argv[64];
	size_t n = 0;

	if (o)
		opts = *o;
	argv[n++] = (char *)hu_pmerge();
	for (char *a; (a = va_arg(ap, char *));) {
		ck_assert_uint_lt(n, 63);
		argv[n++] = a;
	}
	argv[n] = NULL;
	opts.argv = argv;
	if (env)
		opts.env = env;
	hu_run(r, &opts);
}

void hu_pm(struct hu_result *r, const struct hu_opts *o, ...)
{
	va_list ap;

	va_start(ap, o);
	hu_run_pmerge(r, o, NULL, ap);
	va_end(ap);
}

bool hu_can_run_as(uid_t uid, const char *who)
{
	const char *tmp = getenv("TMPDIR");
	pid_t pid;
	int st;

	if (geteuid() != 0)
		return true;
	pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 ||
		    setresgid((gid_t)uid, (gid_t)uid, (gid_t)uid) < 0 ||
		    setresuid(uid, uid, uid) < 0)
			_exit(1);
		/* A build tree in a private home is out of its reach. */
		if (access(hu_pmerge(), X_OK) < 0)
			_exit(2);
		_exit(access(tmp && *tmp ? tmp : "/tmp", X_OK) < 0 ? 3 : 0);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return false;
	if (WEXITSTATUS(st) == 1)
		fprintf(stderr, "%s: cannot switch to uid %d\n", who, (int)uid);
	else if (WEXITSTATUS(st) == 2)
		fprintf(stderr, "%s: uid %d cannot run %s\n", who, (int)uid,
		        hu_pmerge());
	else if (WEXITSTATUS(st) == 3)
		fprintf(stderr,
		        "%s: uid %d cannot reach the scratch directory\n", who,
		        (int)uid);
	return WEXITSTATUS(st) == 0;
}
