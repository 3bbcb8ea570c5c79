#include "sigutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *pmerge_path;
static char *base_dir;
static pid_t init_pid;

static void remove_base(void)
{
	/* Forked test processes inherit this handler; only main cleans up. */
	if (base_dir && getpid() == init_pid)
		tu_rmdir_rf(base_dir);
}

/* True when /proc/self/status has a "SigCgt:" line. */
static bool proc_usable(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strncmp(line, "SigCgt:", 7) == 0;
	fclose(f);
	return found && access("/proc/self/fd", R_OK) == 0;
}

bool sg_init(void)
{
	const char *pm = tu_pmerge();
	const char *tmp = getenv("TMPDIR");
	char abs[PATH_MAX];

	init_pid = getpid();
	/*
	 * Tests change directory: a relative $PMERGE must be made absolute
	 * first.  No tu_ or ck_ helpers here: their assertions work only
	 * inside a test.
	 */
	if (!realpath(pm, abs)) {
		fprintf(stderr, "PMERGE=%s: %s\n", pm, strerror(errno));
		exit(1);
	}
	pmerge_path = strdup(abs);
	/*
	 * One base for every scratch directory, removed by main at the end: a
	 * failed assertion ends a test process with _exit(), so the test's
	 * own clean-up does not run.
	 */
	if (asprintf(&base_dir, "%s/pmerge-sig.XXXXXX",
	             tmp && *tmp ? tmp : "/tmp") < 0 ||
	    !mkdtemp(base_dir)) {
		perror("mkdtemp");
		exit(1);
	}
	setenv("TMPDIR", base_dir, 1);
	atexit(remove_base);
	if (!proc_usable()) {
		fprintf(stderr, "/proc/self/status or /proc/self/fd is not "
		                "available\n");
		return false;
	}
	return true;
}

/* Puts fd on target in the child; fd may already be target. */
static void child_fd(int fd, int target, int null_flags)
{
	if (fd < 0)
		fd = open("/dev/null", null_flags);
	if (fd < 0)
		_exit(126);
	if (fd == target) {
		if (fcntl(fd, F_SETFD, 0) < 0)
			_exit(126);
	} else if (dup2(fd, target) < 0) {
		_exit(126);
	}
}

/* Between fork and exec: only async-signal-safe calls (we have threads). */
static void child_exec(const struct sg_spawn *sp, pid_t parent,
                       char *const argv[])
{
	static const int dfl[] = {SIGINT,  SIGTERM, SIGHUP,
	                          SIGUSR1, SIGPIPE, SIGWINCH};
	struct sigaction sa;
	sigset_t none;

	/*
	 * A session of its own: no terminal of ours sends it signals, and it
	 * never takes the pseudo-terminal of a test as controlling terminal.
	 */
	setsid();
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(126);
	/* Descending order: a low source fd is never overwritten first. */
	child_fd(sp->err_fd, 2, O_WRONLY);
	child_fd(sp->out_fd, 1, O_WRONLY);
	child_fd(sp->in_fd, 0, O_RDONLY);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (size_t i = 0; i < sizeof(dfl) / sizeof(dfl[0]); i++)
		sigaction(dfl[i], &sa, NULL);
	if (sp->hup_ignored) {
		sa.sa_handler = SIG_IGN;
		sigaction(SIGHUP, &sa, NULL);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execv(pmerge_path, argv);
	_exit(127);
}

pid_t sg_start(const struct sg_spawn *sp, char *const args[])
{
	size_t n = 0;
	char **argv;
	pid_t pid, parent = getpid();

	while (args[n])
		n++;
	argv = calloc(n + 2, sizeof(*argv));
	ck_assert_ptr_nonnull(argv);
	/* Messages say "pmerge: " whatever the binary is called. */
	argv[0] = "pmerge";
	memcpy(argv + 1, args, n * sizeof(*argv));
	/* The streams must not collide with the fds child_fd moves. */
	ck_assert(sp->err_fd < 0 || sp->err_fd > 2);
	ck_assert(sp->out_fd < 0 || sp->out_fd > 1);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		child_exec(sp, parent, argv);
	free(argv);
	return pid;
}

bool sg_wait(pid_t pid, double timeout, int *status)
{
	double end = tu_now_s() + timeout;

	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return true;
		ck_assert_msg(r == 0 || errno == EINTR, "waitpid: %s",
		              strerror(errno));
		if (tu_now_s() > end)
			break;
		/* Fine-grained: the suite measures how soon pid ends. */
		tu_sleep_s(0.001);
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	return false;
}

bool sg_alive(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	ck_assert_int_eq(
	    waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT), 0);
	return si.si_pid == 0;
}

/* The SigCgt mask of pid, or 0 when it cannot be read (pid ended). */
static unsigned long long caught_mask(pid_t pid)
{
	char path[64], line[256];
	unsigned long long mask = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "SigCgt:", 7) == 0)
			mask = strtoull(line + 7, NULL, 16);
	fclose(f);
	return mask;
}

bool sg_wait_caught(pid_t pid, int sig, double timeout)
{
	double end = tu_now_s() + timeout;

	while (!(caught_mask(pid) & (1ull << (sig - 1)))) {
		if (tu_now_s() > end || !sg_alive(pid))
			return false;
		tu_sleep_s(0.002);
	}
	return true;
}

/*
 * Whether one of pid's descriptors is on want, or (unnamed) on a file
 * without a name in the directory want -- an O_TMPFILE file, which /proc
 * shows as "DIR/#INODE (deleted)".
 */
static bool has_fd_on(pid_t pid, const char *want, bool unnamed)
{
	char dir[64], link[PATH_MAX + 1];
	size_t wlen = strlen(want);
	struct dirent *e;
	bool found = false;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		char *p;
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		ck_assert_int_gt(asprintf(&p, "%s/%s", dir, e->d_name), 0);
		n = readlink(p, link, sizeof(link) - 1);
		free(p);
		if (n < 0)
			continue;
		link[n] = '\0';
		if (!unnamed)
			found = strcmp(link, want) == 0;
		else
			found = strncmp(link, want, wlen) == 0 &&
			        strncmp(link + wlen, "/#", 2) == 0 &&
			        strstr(link + wlen, " (deleted)");
	}
	closedir(d);
	return found;
}

bool sg_has_open(pid_t pid, const char *path)
{
	char want[PATH_MAX];

	ck_assert_ptr_nonnull(realpath(path, want));
	return has_fd_on(pid, want, false);
}

bool sg_wait_temp(pid_t pid, const char *dir, size_t n, double timeout)
{
	double end = tu_now_s() + timeout;
	char want[PATH_MAX];

	ck_assert_ptr_nonnull(realpath(dir, want));
	while (tu_count_entries(dir) != n && !has_fd_on(pid, want, true)) {
		if (tu_now_s() > end)
			return false;
		tu_sleep_s(0.002);
	}
	return true;
}

bool sg_wait_open(pid_t pid, const char *path, bool open, double timeout)
{
	double end = tu_now_s() + timeout;

	while (sg_has_open(pid, path) != open) {
		if (tu_now_s() > end || (open && !sg_alive(pid)))
			return false;
		tu_sleep_s(0.002);
	}
	return true;
}

bool sg_wait_drained(int fd, double timeout)
{
	double end = tu_now_s() + timeout;
	int n;

	/* FIONREAD counts a pipe's unread bytes from either end. */
	for (;;) {
		ck_assert_int_eq(ioctl(fd, FIONREAD, &n), 0);
		if (n == 0)
			return true;
		if (tu_now_s() > end)
			return false;
		tu_sleep_s(0.002);
	}
}

void sg_mkfifo(const char *path)
{
	ck_assert_msg(mkfifo(path, 0600) == 0, "mkfifo %s: %s", path,
	              strerror(errno));
}

void sg_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		ck_assert_msg(n > 0, "write: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

char *sg_random(size_t len, uint64_t seed)
{
	char *p = malloc(len ? len : 1);

	ck_assert_ptr_nonnull(p);
	tu_fill_random(p, len, seed);
	return p;
}

char *sg_text(size_t len, uint64_t seed)
{
	char *p = sg_random(len, seed);

	for (size_t i = 0; i < len; i++)
		p[i] = i + 1 == len || (unsigned char)p[i] % 64 == 0
		           ? '\n'
		           : (char)('a' + (unsigned char)p[i] % 26);
	return p;
}

bool sg_matches(const char *s, const char *ere)
{
	regex_t re;
	int rc;

	ck_assert_int_eq(regcomp(&re, ere, REG_EXTENDED | REG_NOSUB), 0);
	rc = regexec(&re, s, 0, NULL, 0);
	regfree(&re);
	return rc == 0;
}

const char *sg_describe(int status)
{
	static char buf[96];

	if (WIFEXITED(status))
		snprintf(buf, sizeof(buf), "exit status %d",
		         WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, sizeof(buf), "killed by signal %d (%s)",
		         WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, sizeof(buf), "wait status %#x", status);
	return buf;
}

static void append(char **buf, size_t *len, const char *d, size_t n)
{
	char *p = realloc(*buf, *len + n + 1);

	ck_assert_ptr_nonnull(p);
	memcpy(p + *len, d, n);
	*len += n;
	p[*len] = '\0';
	*buf = p;
}

/* One step of the test's side of a FIFO; returns true once it is done. */
static bool pace_step(struct sg_pace *pc, bool child_done)
{
	char buf[65536];
	ssize_t n;

	if (!pc->reading) {
		size_t want = pc->len - pc->done;

		if (want > pc->chunk)
			want = pc->chunk;
		n = want ? write(pc->fd, pc->data + pc->done, want) : 0;
		ck_assert_msg(n >= 0 || errno == EAGAIN || errno == EINTR,
		              "write: %s", strerror(errno));
		if (n > 0)
			pc->done += (size_t)n;
		/* An early end of the child is judged by the caller. */
		return pc->done == pc->len || child_done;
	}
	/* Once the child has ended, the rest is read at once. */
	do {
		size_t want = pc->chunk < sizeof(buf) ? pc->chunk : sizeof(buf);

		n = read(pc->fd, buf, child_done ? sizeof(buf) : want);
		if (n > 0)
			append(&pc->got, &pc->got_len, buf, (size_t)n);
	} while (child_done && n > 0);
	ck_assert_msg(n >= 0 || errno == EAGAIN || errno == EINTR, "read: %s",
	              strerror(errno));
	/* Before the child opens its end, a FIFO reads as empty too. */
	return n == 0 && child_done;
}

void sg_drive(pid_t pid, double t0, int tty_fd, struct sg_pace *pace,
              struct sg_outcome *o)
{
	bool child_done = false, tty_done = tty_fd < 0;
	bool pace_done = !pace || pace->fd < 0;
	double next = t0, end = t0 + SG_TIMEOUT;

	memset(o, 0, sizeof(*o));
	append(&o->tty, &o->tty_len, "", 0);
	if (pace && pace->reading)
		append(&pace->got, &pace->got_len, "", 0);
	if (tty_fd >= 0)
		ck_assert_int_eq(fcntl(tty_fd, F_SETFL, O_NONBLOCK), 0);
	while (!(child_done && tty_done && pace_done)) {
		struct pollfd pf = {.fd = tty_fd, .events = POLLIN};
		double now = tu_now_s();

		ck_assert_msg(now < end + 5, "the test side hangs");
		if (!child_done && now > end) {
			kill(pid, SIGKILL);
			ck_abort_msg("pmerge still runs after %.0f s",
			             SG_TIMEOUT);
		}
		if (!child_done) {
			pid_t r = waitpid(pid, &o->status, WNOHANG);

			ck_assert_int_ge(r, 0);
			if (r == pid) {
				child_done = true;
				o->wall = tu_now_s() - t0;
			}
		}
		if (!pace_done && (now >= next || child_done)) {
			pace_done = pace_step(pace, child_done);
			if (pace_done) {
				close(pace->fd);
				pace->fd = -1;
			}
			next += pace->period;
		}
		/* A short wait: the pace and the child's end are polled too. */
		if (poll(&pf, tty_fd >= 0 ? 1 : 0, 2) > 0) {
			char buf[4096];
			ssize_t n;

			while ((n = read(tty_fd, buf, sizeof(buf))) > 0)
				append(&o->tty, &o->tty_len, buf, (size_t)n);
			/* EIO: every slave fd is closed, the child is gone. */
			if (n == 0 || (n < 0 && errno == EIO))
				tty_done = true;
			else
				ck_assert_msg(errno == EAGAIN || errno == EINTR,
				              "read tty: %s", strerror(errno));
		}
	}
}

void sg_outcome_free(struct sg_outcome *o)
{
	free(o->tty);
	memset(o, 0, sizeof(*o));
}
