#include "cliutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *cu_stats_script;
const char *cu_expected_version;
const char *cu_unprivileged;

static char *base_dir;
static pid_t init_pid;

static void remove_base(void)
{
	/* Forked test processes inherit this handler; only main cleans up. */
	if (base_dir && getpid() == init_pid)
		tu_rmdir_rf(base_dir);
}

void cu_init(void)
{
	const char *pm = getenv("PMERGE");
	char abs[PATH_MAX], *dir = NULL;

	init_pid = getpid();
	/*
	 * Every scratch directory lives under one base that main removes at
	 * the end: a failed assertion ends a test process with _exit(), so
	 * the test's own clean-up does not run.  No tu_ helpers here: their
	 * assertions work only inside a test.
	 */
	const char *tmp = getenv("TMPDIR");
	if (asprintf(&base_dir, "%s/pmerge-cli.XXXXXX",
	             tmp && *tmp ? tmp : "/tmp") < 0 ||
	    !mkdtemp(base_dir)) {
		perror("mkdtemp");
		exit(1);
	}
	/* Another user (see the permission group) must be able to pass. */
	chmod(base_dir, 0711);
	setenv("TMPDIR", base_dir, 1);
	atexit(remove_base);
	/*
	 * Tests change directory, so a relative $PMERGE must be made absolute
	 * first.  The binary is then run as plain "pmerge" through PATH, as a
	 * user runs it, which keeps argv[0] (and so the program name in GNU
	 * style messages) the same whatever the build directory.
	 */
	if (pm && *pm && strchr(pm, '/')) {
		if (!realpath(pm, abs)) {
			fprintf(stderr, "PMERGE=%s: %s\n", pm, strerror(errno));
			exit(1);
		}
		setenv("PMERGE", abs, 1);
		const char *base = strrchr(abs, '/') + 1;
		if (strcmp(base, "pmerge") == 0) {
			dir = strndup(abs, (size_t)(base - abs - 1));
		} else {
			char *shim, *link;
			if (asprintf(&shim, "%s/bin", base_dir) < 0 ||
			    asprintf(&link, "%s/pmerge", shim) < 0 ||
			    mkdir(shim, 0755) < 0) {
				perror("mkdir");
				exit(1);
			}
			if (symlink(abs, link) < 0) {
				perror("symlink");
				exit(1);
			}
			free(link);
			dir = shim;
		}
		const char *path = getenv("PATH");
		char *np;
		if (asprintf(&np, "%s:%s", dir, path ? path : "/usr/bin:/bin") <
		    0)
			exit(1);
		setenv("PATH", np, 1);
		free(np);
		free(dir);
	}
	/* The SIGPIPE tests need the default action to be inherited. */
	signal(SIGPIPE, SIG_DFL);
}

/* Only async-signal-safe calls: the test process may have threads. */
static void child_exec(const struct cu_io *io, int in, int out, int err,
                       char *const argv[])
{
	struct sigaction sa;
	sigset_t none;

	setpgid(0, 0);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(126);
	if (io->pass_fd >= 0 && fcntl(io->pass_fd, F_SETFD, 0) < 0)
		_exit(126);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = io->sigpipe_ignored ? SIG_IGN : SIG_DFL;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execvp(argv[0], argv);
	_exit(127);
}

void cu_run_io(struct tu_run *r, const struct cu_io *io, char *const argv[])
{
	int po[2] = {-1, -1}, pe[2], in = io->stdin_fd, in_opened = -1;
	bool capture = io->stdout_fd < 0;
	size_t argc = 0;
	double start = tu_now_s();
	char **av;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	while (argv[argc])
		argc++;
	av = calloc(argc + 5, sizeof(*av));
	ck_assert_ptr_nonnull(av);
	if (io->setpriv) {
		size_t k = 0;
		char *u, *g;
		ck_assert_int_gt(asprintf(&u, "--reuid=%s", io->setpriv), 0);
		ck_assert_int_gt(asprintf(&g, "--regid=%s", io->setpriv), 0);
		av[k++] = "setpriv";
		av[k++] = u;
		av[k++] = g;
		av[k++] = "--clear-groups";
		memcpy(av + k, argv, argc * sizeof(*av));
	} else {
		memcpy(av, argv, argc * sizeof(*av));
	}

	if (capture)
		ck_assert_int_eq(pipe2(po, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(pe, O_CLOEXEC), 0);
	if (in < 0) {
		in_opened = open(io->stdin_path ? io->stdin_path : "/dev/null",
		                 O_RDONLY | O_CLOEXEC);
		ck_assert_msg(in_opened >= 0, "open %s: %s", io->stdin_path,
		              strerror(errno));
		in = in_opened;
	}
	/* dup2 onto 0..2 must not be a no-op that keeps FD_CLOEXEC. */
	ck_assert_int_gt(in, 2);
	ck_assert_int_gt(capture ? po[1] : io->stdout_fd, 2);
	ck_assert_int_gt(pe[1], 2);
	ck_assert(io->pass_fd < 0 || io->pass_fd > 2);

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		child_exec(io, in, capture ? po[1] : io->stdout_fd, pe[1], av);
	if (io->setpriv) {
		free(av[1]);
		free(av[2]);
	}
	free(av);
	if (in_opened >= 0)
		close(in_opened);
	if (capture)
		close(po[1]);
	close(pe[1]);
	bool killed =
	    tu_collect(r, pid, capture ? po[0] : -1, pe[0], start, CU_TIMEOUT);
	ck_assert_msg(!killed, "%s did not finish within %.0f s; stderr: %s",
	              argv[0], CU_TIMEOUT, r->err);
	ck_assert_msg(r->status != 127 || strncmp(argv[0], "pmerge", 6),
	              "could not run %s", argv[0]);
}

void cu_pm_argv(struct tu_run *r, const struct cu_io *io, char *const args[],
                size_t n)
{
	char **av = calloc(n + 2, sizeof(*av));
	ck_assert_ptr_nonnull(av);
	av[0] = "pmerge";
	memcpy(av + 1, args, n * sizeof(*av));
	cu_run_io(r, io, av);
	free(av);
}

void cu_pm(struct tu_run *r, const char *stdin_path, ...)
{
	struct cu_io io = CU_IO_INIT;
	char *args[256];
	size_t n = 0;
	va_list ap;

	va_start(ap, stdin_path);
	for (char *a; (a = va_arg(ap, char *));) {
		ck_assert_uint_lt(n, 256);
		args[n++] = a;
	}
	va_end(ap);
	io.stdin_path = stdin_path;
	cu_pm_argv(r, &io, args, n);
}

static void run_shell(struct tu_run *r, const char *shell, const char *fmt,
                      va_list ap)
{
	struct cu_io io = CU_IO_INIT;
	char *cmd;
	ck_assert_int_gt(vasprintf(&cmd, fmt, ap), 0);
	char *argv[] = {(char *)shell, "-c", cmd, NULL};
	cu_run_io(r, &io, argv);
	free(cmd);
}

void cu_sh(struct tu_run *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	run_shell(r, "/bin/sh", fmt, ap);
	va_end(ap);
}

void cu_bash(struct tu_run *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	run_shell(r, "bash", fmt, ap);
	va_end(ap);
}

char *cu_cat(char *const args[], size_t n, size_t *len)
{
	struct cu_io io = CU_IO_INIT;
	struct tu_run r;
	char **av = calloc(n + 2, sizeof(*av));
	ck_assert_ptr_nonnull(av);
	av[0] = "cat";
	memcpy(av + 1, args, n * sizeof(*av));
	cu_run_io(&r, &io, av);
	free(av);
	ck_assert_msg(r.status == 0, "reference cat failed: %s", r.err);
	free(r.err);
	*len = r.out_len;
	return r.out;
}

bool cu_have_program(const char *name)
{
	const char *path = getenv("PATH");
	char *copy, *save = NULL;
	bool found = false;

	if (!path)
		return false;
	copy = strdup(path);
	for (char *d = strtok_r(copy, ":", &save); d && !found;
	     d = strtok_r(NULL, ":", &save)) {
		char *p;
		if (asprintf(&p, "%s/%s", *d ? d : ".", name) < 0)
			break;
		found = access(p, X_OK) == 0;
		free(p);
	}
	free(copy);
	return found;
}

char *cu_slurp(const char *path, size_t *len)
{
	char *d = tu_read_file(path, len);
	ck_assert_msg(d != NULL, "cannot read %s: %s", path, strerror(errno));
	return d;
}

void cu_write(const char *path, const char *text)
{
	tu_write_file(path, text, strlen(text));
}

void cu_expect_exit(const struct tu_run *r, int status)
{
	ck_assert_msg(r->status == status,
	              "exit status %d (signal %d), want %d; stderr: %s",
	              r->status, r->signal, status, r->err);
}

void cu_expect_note(const struct tu_run *r, const char *what)
{
	const char *nl = memchr(r->err, '\n', r->err_len);
	ck_assert_msg(strncmp(r->err, "pmerge: ", 8) == 0 &&
	                  nl == r->err + r->err_len - 1,
	              "%s: want a one-line note on stderr, got \"%s\"", what,
	              r->err);
}

struct stat cu_stat(const char *path)
{
	struct stat st;
	ck_assert_msg(stat(path, &st) == 0, "stat %s: %s", path,
	              strerror(errno));
	return st;
}

struct stat cu_lstat(const char *path)
{
	struct stat st;
	ck_assert_msg(lstat(path, &st) == 0, "lstat %s: %s", path,
	              strerror(errno));
	return st;
}

char *cu_gen_text(size_t size, char first, uint64_t seed, bool final_newline)
{
	static const char alpha[] = "abcdefghijklmnopqrstuvwxyz"
	                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:";
	char *d = malloc(size + 1);
	unsigned char *rnd = malloc(size + 1);
	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_nonnull(rnd);
	tu_fill_random(rnd, size + 1, seed);
	size_t line = 0;
	for (size_t i = 0; i < size; i++) {
		/* Lines of 1..128 bytes, so that some straddle every block. */
		if (line > 0 && rnd[i] % 64 == 0) {
			d[i] = '\n';
			line = 0;
			continue;
		}
		d[i] = alpha[rnd[i] % (sizeof(alpha) - 1)];
		if (++line == 128) {
			d[i] = '\n';
			line = 0;
		}
	}
	if (size > 0)
		d[0] = first;
	if (size > 1)
		d[size - 1] = final_newline ? '\n' : 'z';
	d[size] = '\0';
	free(rnd);
	return d;
}

char *cu_gen_binary(size_t size, char first, uint64_t seed)
{
	char *d = malloc(size + 1);
	ck_assert_ptr_nonnull(d);
	tu_fill_random(d, size, seed);
	if (size > 0)
		d[0] = first;
	/* Make sure there are NULs and newlines in the middle. */
	if (size > 4) {
		d[size / 2] = '\0';
		d[size / 2 + 1] = '\n';
		d[size / 3] = '\0';
	}
	d[size] = '\0';
	return d;
}

char *cu_check_permutation(const char *out, size_t out_len,
                           const struct cu_input *in, size_t n)
{
	bool *used = calloc(n ? n : 1, sizeof(*used));
	size_t off = 0;
	char *why = NULL;

	ck_assert_ptr_nonnull(used);
	while (off < out_len && !why) {
		size_t i;
		for (i = 0; i < n; i++) {
			if (used[i] || in[i].len == 0 ||
			    in[i].len > out_len - off ||
			    memcmp(out + off, in[i].data, in[i].len) != 0)
				continue;
			break;
		}
		if (i == n) {
			ck_assert_int_gt(asprintf(&why,
			                          "arrival output: no unused "
			                          "input is whole at offset "
			                          "%zu of %zu",
			                          off, out_len),
			                 0);
			break;
		}
		used[i] = true;
		off += in[i].len;
	}
	for (size_t i = 0; i < n && !why; i++)
		if (!used[i] && in[i].len > 0)
			ck_assert_int_gt(asprintf(&why,
			                          "arrival output lacks input "
			                          "%zu (%s)",
			                          i, in[i].name),
			                 0);
	free(used);
	return why;
}

void cu_expect_permutation(const char *out, size_t out_len,
                           const struct cu_input *in, size_t n)
{
	char *why = cu_check_permutation(out, out_len, in, n);
	ck_assert_msg(why == NULL, "%s", why);
}

/* Where each record of one input starts and how long it is (no term). */
struct rec_list {
	const char **p;
	size_t *len;
	size_t n, next;
};

static void split_records(const struct cu_input *in, char term,
                          struct rec_list *rl)
{
	size_t cap = 16, off = 0;
	rl->p = malloc(cap * sizeof(*rl->p));
	rl->len = malloc(cap * sizeof(*rl->len));
	rl->n = rl->next = 0;
	while (off < in->len) {
		const char *e = memchr(in->data + off, term, in->len - off);
		size_t l = e ? (size_t)(e - (in->data + off)) : in->len - off;
		if (rl->n == cap) {
			cap *= 2;
			rl->p = realloc(rl->p, cap * sizeof(*rl->p));
			rl->len = realloc(rl->len, cap * sizeof(*rl->len));
		}
		ck_assert_ptr_nonnull(rl->p);
		ck_assert_ptr_nonnull(rl->len);
		rl->p[rl->n] = in->data + off;
		rl->len[rl->n++] = l;
		off += l + 1;
	}
}

char *cu_check_records(const char *out, size_t out_len,
                       const struct cu_input *in, size_t n, char term)
{
	struct rec_list *rl = calloc(n ? n : 1, sizeof(*rl));
	size_t off = 0, count = 0;
	char *why = NULL;

	ck_assert_ptr_nonnull(rl);
	for (size_t i = 0; i < n; i++)
		split_records(&in[i], term, &rl[i]);
	while (off < out_len) {
		const char *e = memchr(out + off, term, out_len - off);
		if (!e) {
			ck_assert_int_gt(asprintf(&why,
			                          "line output: unterminated "
			                          "record at offset %zu",
			                          off),
			                 0);
			break;
		}
		size_t l = (size_t)(e - (out + off)), i;
		for (i = 0; i < n; i++) {
			struct rec_list *r = &rl[i];
			if (r->next < r->n && r->len[r->next] == l &&
			    memcmp(r->p[r->next], out + off, l) == 0)
				break;
		}
		if (i == n) {
			ck_assert_int_gt(
			    asprintf(&why,
			             "line output: record %zu at offset %zu "
			             "(\"%.*s\") is not the next record of "
			             "any input",
			             count, off, (int)(l < 60 ? l : 60),
			             out + off),
			    0);
			break;
		}
		rl[i].next++;
		off += l + 1;
		count++;
	}
	for (size_t i = 0; i < n; i++) {
		if (!why && rl[i].next != rl[i].n)
			ck_assert_int_gt(asprintf(&why,
			                          "line output has %zu of the "
			                          "%zu records of %s",
			                          rl[i].next, rl[i].n,
			                          in[i].name),
			                 0);
		free(rl[i].p);
		free(rl[i].len);
	}
	free(rl);
	return why;
}

void cu_expect_records(const char *out, size_t out_len,
                       const struct cu_input *in, size_t n, char term)
{
	char *why = cu_check_records(out, out_len, in, n, term);
	ck_assert_msg(why == NULL, "%s", why);
}

char *cu_records_concat(const struct cu_input *in, size_t n, char term,
                        size_t *len)
{
	char *buf = NULL;
	size_t l = 0, cap = 0;
	tu_append(&buf, &l, &cap, "", 0);
	for (size_t i = 0; i < n; i++) {
		tu_append(&buf, &l, &cap, in[i].data, in[i].len);
		if (in[i].len > 0 && in[i].data[in[i].len - 1] != term)
			tu_append(&buf, &l, &cap, &term, 1);
	}
	*len = l;
	return buf;
}

struct cu_fifo_reader {
	pthread_t thread;
	int fd;
	atomic_bool writer_done;
	char *buf;
	size_t len, cap;
};

static void *fifo_reader_main(void *arg)
{
	struct cu_fifo_reader *fr = arg;
	char b[65536];

	for (;;) {
		/*
		 * Read only after the writer is known to be gone can a zero
		 * read be trusted as the end: before the writer opens, a FIFO
		 * reads as empty too.
		 */
		bool done = atomic_load(&fr->writer_done);
		ssize_t k = read(fr->fd, b, sizeof(b));
		if (k > 0) {
			tu_append(&fr->buf, &fr->len, &fr->cap, b, (size_t)k);
			continue;
		}
		if (k == 0 && done)
			break;
		if (k < 0 && errno != EAGAIN && errno != EINTR)
			break;
		struct pollfd p = {fr->fd, POLLIN, 0};
		if (poll(&p, 1, 10) == 1 && (p.revents & POLLHUP))
			usleep(1000);
	}
	return NULL;
}

struct cu_fifo_reader *cu_fifo_reader_start(const char *path)
{
	struct cu_fifo_reader *fr = calloc(1, sizeof(*fr));
	ck_assert_ptr_nonnull(fr);
	/* Opened here, so that the writer's open never waits for us. */
	fr->fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ck_assert_msg(fr->fd >= 0, "open %s: %s", path, strerror(errno));
	tu_append(&fr->buf, &fr->len, &fr->cap, "", 0);
	ck_assert_int_eq(
	    pthread_create(&fr->thread, NULL, fifo_reader_main, fr), 0);
	return fr;
}

char *cu_fifo_reader_finish(struct cu_fifo_reader *fr, size_t *len)
{
	atomic_store(&fr->writer_done, true);
	ck_assert_int_eq(pthread_join(fr->thread, NULL), 0);
	close(fr->fd);
	char *b = fr->buf;
	*len = fr->len;
	free(fr);
	return b;
}

struct cu_fifo_writer {
	pthread_t thread;
	const char *path;
	const char *data;
	size_t len;
	atomic_bool reader_done;
	bool ok;
};

static void *fifo_writer_main(void *arg)
{
	struct cu_fifo_writer *fw = arg;
	sigset_t pipe_set;
	int fd;

	/* A reader that goes away must cost an EPIPE, not the test. */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
	/*
	 * A non-blocking open fails until a reader is there; retrying keeps
	 * the thread from hanging when the reader never comes.
	 */
	for (;;) {
		fd = open(fw->path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0)
			break;
		if (errno != ENXIO || atomic_load(&fw->reader_done))
			return NULL;
		usleep(1000);
	}
	fcntl(fd, F_SETFL, 0);
	size_t off = 0;
	while (off < fw->len) {
		ssize_t k = write(fd, fw->data + off, fw->len - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		off += (size_t)k;
	}
	fw->ok = off == fw->len;
	close(fd);
	return NULL;
}

struct cu_fifo_writer *cu_fifo_writer_start(const char *path, const char *data,
                                            size_t len)
{
	struct cu_fifo_writer *fw = calloc(1, sizeof(*fw));
	ck_assert_ptr_nonnull(fw);
	fw->path = path;
	fw->data = data;
	fw->len = len;
	ck_assert_int_eq(
	    pthread_create(&fw->thread, NULL, fifo_writer_main, fw), 0);
	return fw;
}

bool cu_fifo_writer_finish(struct cu_fifo_writer *fw)
{
	atomic_store(&fw->reader_done, true);
	ck_assert_int_eq(pthread_join(fw->thread, NULL), 0);
	bool ok = fw->ok;
	free(fw);
	return ok;
}
