/*
 * Stress and bound tests of line mode (-u line) against the built binary.
 *
 * Producers (pmgen) write numbered records into regular files, into FIFOs
 * in slow bursts, and into pmerge's standard input; pmerge merges them under
 * every lock strategy, into a file and into a pipe; pmverify then proves
 * that no record was torn, fused, lost, repeated or reordered within its
 * source and that the byte totals match what the producers wrote.
 *
 * Two further cases check promises of the man page that are not about
 * integrity: a complete line from a live stream is emitted long before that
 * stream ends, and a 200 MB line does not make pmerge's memory grow with it.
 *
 * The default run is sized for a small shared machine.  PMERGE_STRESS_SCALE
 * (or --scale=N on the command line, which the "slow" suite uses) multiplies
 * the record counts and doubles the producer counts.
 */
#include "pmrec.h"
#include "tutil.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
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

/* pmerge's read buffer: some records must be longer than this. */
#define BUFFER_BYTES (128u * 1024u)
/* The memory bound the 200 MB line must stay under (ru_maxrss is in KiB). */
#define RSS_LIMIT_KIB     (32u * 1024u)
#define HUGE_RECORD_BYTES 200000000ull
#define MAX_PRODUCERS     64

static unsigned scale = 1;
static char pmgen_path[PATH_MAX];
static char pmverify_path[PATH_MAX];

/* ------------------------------------------------------------- scratch */

/*
 * Every test works in a directory of its own under one base directory per
 * tcase.  A failed check ends the test's process at once, before it can
 * clean up; the base directory is made and removed by an unchecked fixture,
 * which runs in the runner's process, so a failure leaves nothing behind
 * either.  PMERGE_STRESS_KEEP=1 keeps the base directory for a post-mortem.
 */
static char *base_dir;
static char *scratch;

static void base_setup(void)
{
	base_dir = tu_mkdtemp();
}

static void base_teardown(void)
{
	const char *keep = getenv("PMERGE_STRESS_KEEP");
	if (keep && *keep && strcmp(keep, "0") != 0)
		fprintf(stderr, "test_stress: kept %s\n", base_dir);
	else
		tu_rmdir_rf(base_dir);
	free(base_dir);
	base_dir = NULL;
}

static char *scratch_new(void)
{
	ck_assert_ptr_nonnull(base_dir);
	ck_assert_int_gt(asprintf(&scratch, "%s/t.XXXXXX", base_dir), 0);
	ck_assert_ptr_nonnull(mkdtemp(scratch));
	return scratch;
}

/* The test passed: its directory goes now rather than with the tcase. */
static void scratch_done(void)
{
	tu_rmdir_rf(scratch);
	free(scratch);
	scratch = NULL;
}

/* ------------------------------------------------------------ processes */

/*
 * Starts argv in directory cwd with the given descriptors as its standard
 * streams (-1: /dev/null).  Every descriptor the suite opens is close-on-exec,
 * so a child holds only the pipe ends it is given: a reader sees EOF as soon
 * as its one writer is gone.
 */
static pid_t spawn(const char *cwd, char *const argv[], int in, int out,
                   int err)
{
	pid_t pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid > 0)
		return pid;

	int fds[3] = {in, out, err};
	for (int i = 0; i < 3; i++) {
		int fd = fds[i];
		if (fd < 0)
			fd = open("/dev/null", i == 0 ? O_RDONLY : O_WRONLY);
		if (fd < 0)
			_exit(126);
		/* dup2 onto itself would leave close-on-exec set. */
		if (fd == i ? fcntl(fd, F_SETFD, 0) < 0 : dup2(fd, i) < 0)
			_exit(126);
	}
	close_range(3, ~0u, 0);
	/* The test runner's signal settings must not leak into the tools. */
	signal(SIGPIPE, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (cwd && chdir(cwd) < 0)
		_exit(126);
	execvp(argv[0], argv);
	_exit(127);
}

/*
 * Waits for pid until the deadline (a hang guard, not a timing check); on
 * timeout kills it and returns false.  ru, when given, receives the child's
 * resource usage.
 */
static bool wait_until(pid_t pid, double deadline, int *status,
                       struct rusage *ru)
{
	struct rusage dummy;
	for (;;) {
		pid_t r = wait4(pid, status, WNOHANG, ru ? ru : &dummy);
		if (r == pid)
			return true;
		ck_assert_msg(r == 0 || errno == EINTR, "wait4: %s",
		              strerror(errno));
		if (tu_now_s() > deadline) {
			kill(pid, SIGKILL);
			while (wait4(pid, status, 0, ru ? ru : &dummy) < 0 &&
			       errno == EINTR)
				;
			return false;
		}
		tu_sleep_s(0.005);
	}
}

/* Ends a child the suite started and no longer needs, by its pid. */
static void kill_and_reap(pid_t pid)
{
	int st;
	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
}

static char *describe_status(int st, char *buf, size_t size)
{
	if (WIFEXITED(st))
		snprintf(buf, size, "exit %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, size, "killed by signal %d", WTERMSIG(st));
	else
		snprintf(buf, size, "status 0x%x", (unsigned)st);
	return buf;
}

static int open_write(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	return fd;
}

/* The contents of a small text file, "" when absent. */
static char *slurp(const char *path)
{
	char *s = tu_read_file(path, NULL);
	return s ? s : strdup("");
}

static char *join_argv(char *const argv[])
{
	size_t len = 1;
	for (int i = 0; argv[i]; i++)
		len += strlen(argv[i]) + 1;
	char *s = calloc(1, len);
	ck_assert_ptr_nonnull(s);
	for (int i = 0; argv[i]; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* ------------------------------------------------------------ producers */

struct gen_info {
	uint64_t bytes, records, max_record, over_buffer;
};

/* Asks pmgen how many bytes the producer described by args will write. */
static struct gen_info gen_info(char *const args[])
{
	char *argv[32];
	int n = 0;
	argv[n++] = pmgen_path;
	for (int i = 0; args[i]; i++)
		argv[n++] = args[i];
	argv[n++] = "--info";
	argv[n] = NULL;

	struct tu_run r;
	struct gen_info gi;
	tu_run_argv(&r, argv, NULL, 120);
	ck_assert_msg(r.status == 0, "pmgen --info failed: %s", r.err);
	ck_assert_int_eq(sscanf(r.out,
	                        "bytes=%" SCNu64 " records=%" SCNu64
	                        " max_record=%" SCNu64 " over_buffer=%" SCNu64,
	                        &gi.bytes, &gi.records, &gi.max_record,
	                        &gi.over_buffer),
	                 4);
	tu_run_free(&r);
	return gi;
}

/* ------------------------------------------------------------ scenarios */

enum input_kind { IN_FILE, IN_FIFO, IN_STDIN };

struct scenario {
	const char *label;
	int producers;
	unsigned jobs;
	const char *lock;
	bool to_pipe;      /* pmerge's stdout into pmverify; else -o FILE */
	bool order_input;  /* --order=input */
	bool zero;         /* -z */
	bool tag;          /* --tag */
	bool stdin_source; /* producer 0 feeds pmerge's standard input */
	bool append;       /* -a -o FILE onto records already in FILE */
	bool unit_file;    /* -u file (else -u line): inputs stay whole */
	bool arrival;      /* --order=arrival */
	uint64_t records;  /* per producer; 0: records_per_producer() */
	/*
	 * Nonzero: each producer writes 10 records whose full size (with
	 * terminator) is this, minus 1, or plus 1: the edges of pmerge's
	 * buffer.
	 */
	uint64_t edge;
};

struct producer {
	enum input_kind kind;
	char name[32];
	char src[24], count[24], seed[24], fixed[24];
	bool unterminated;
	pid_t pid;
	struct gen_info info;
};

static const char *const locks[] = {"mutex", "rlock",  "sem:1", "sem:4",
                                    "spin",  "ticket", "mcs",   "adaptive"};

/* The strategies that spin in user space or queue, swept over -j below. */
static const char *const queue_locks[] = {"ticket", "mcs", "adaptive"};

static int base_producers(void)
{
	return scale > 1 ? 16 : 8;
}

static int many_producers(void)
{
	return scale > 1 ? 32 : 12;
}

static uint64_t records_per_producer(void)
{
	return 20000ull * scale;
}

/*
 * Producer i: odd ones are FIFOs written in slow bursts, every third one
 * leaves its last record unterminated (pmerge must add the terminator), and
 * source ids start at 100 so that their width varies little but is not 1.
 */
static void plan_producer(const struct scenario *sc, int i, struct producer *p)
{
	memset(p, 0, sizeof(*p));
	p->kind = i % 2 ? IN_FIFO : IN_FILE;
	if (sc->stdin_source && i == 0)
		p->kind = IN_STDIN;
	/* In --unit=file bytes pass unchanged: no terminator is added, so an
	 * unterminated record would fuse with the next input's first. */
	p->unterminated = i % 3 == 2 && !sc->unit_file;
	snprintf(p->name, sizeof(p->name), "%s%02d",
	         p->kind == IN_FIFO ? "fifo" : "in", i);
	if (p->kind == IN_STDIN)
		strcpy(p->name, "-");
	snprintf(p->src, sizeof(p->src), "%d", 100 + i);
	snprintf(p->count, sizeof(p->count), "%" PRIu64,
	         sc->edge      ? 10
	         : sc->records ? sc->records
	                       : records_per_producer());
	snprintf(p->seed, sizeof(p->seed), "%d", 7919 * (i + 1));
	if (sc->edge) {
		/*
		 * Seqs stay one digit and lengths keep their digit count, so
		 * every record of the producer has the same size.  An
		 * unterminated last record is one byte short in the input
		 * and whole again in the output.
		 */
		uint64_t size = sc->edge + (uint64_t)(i % 3) - 1;
		uint64_t len = size - 1 - pmrec_header_len(100 + i, 0, size);
		ck_assert_uint_eq(pmrec_header_len(100 + i, 9, len) + len + 1,
		                  size);
		snprintf(p->fixed, sizeof(p->fixed), "%" PRIu64, len);
	}
	p->pid = -1;
}

/*
 * The pmgen arguments of a producer, without the destination.  About one
 * record in 2,000 is long (201 bytes to 200 KiB), so each producer writes a
 * few records longer than pmerge's buffer.
 */
static int producer_args(const struct scenario *sc, const struct producer *p,
                         char **argv)
{
	int n = 0;
	argv[n++] = "-s";
	argv[n++] = (char *)p->src;
	argv[n++] = "-n";
	argv[n++] = (char *)p->count;
	argv[n++] = "-S";
	argv[n++] = (char *)p->seed;
	if (sc->edge) {
		argv[n++] = "-F";
		argv[n++] = (char *)p->fixed;
	} else {
		argv[n++] = "-L";
		argv[n++] = "0.0005";
		argv[n++] = "-M";
		argv[n++] = "204800";
	}
	if (sc->zero)
		argv[n++] = "-z";
	if (p->unterminated)
		argv[n++] = "-T";
	argv[n] = NULL;
	return n;
}

static void run_scenario(const struct scenario *sc)
{
	struct producer prod[MAX_PRODUCERS];
	char *dir = scratch_new();
	char *out_path = tu_path(dir, "out");
	char *merr_path = tu_path(dir, "pmerge.err");
	char *mout_path = tu_path(dir, "pmerge.out");
	char *vout_path = tu_path(dir, "verify.out");
	char *verr_path = tu_path(dir, "verify.err");
	const double deadline = tu_now_s() + 240.0 * scale;
	uint64_t want_bytes = 0, want_records = 0, tag_bytes = 0, over = 0;
	int stdin_fd = -1;
	char *gen_argv[40];
	char *preface = NULL;
	size_t preface_len = 0;

	ck_assert_int_le(sc->producers, MAX_PRODUCERS);
	if (sc->append) {
		/*
		 * The output starts with records of its own source, which
		 * must stay first and whole.
		 */
		char *pargv[] = {pmgen_path, "-s", "99",     "-n",
		                 "10",       "-o", out_path, NULL};
		struct tu_run r;
		tu_run_argv(&r, pargv, NULL, 60);
		ck_assert_msg(r.status == 0, "pmgen failed: %s", r.err);
		tu_run_free(&r);
		struct gen_info pi = gen_info(pargv + 1);
		want_bytes += pi.bytes;
		want_records += pi.records;
		preface = tu_read_file(out_path, &preface_len);
		ck_assert_ptr_nonnull(preface);
	}
	for (int i = 0; i < sc->producers; i++) {
		struct producer *p = &prod[i];
		plan_producer(sc, i, p);
		int n = producer_args(sc, p, gen_argv + 1);
		p->info = gen_info(gen_argv + 1);
		/* pmerge adds the one missing terminator. */
		want_bytes += p->info.bytes + (p->unterminated ? 1 : 0);
		want_records += p->info.records;
		over += p->info.over_buffer;
		tag_bytes += p->info.records * (strlen(p->name) + 1);

		char *path = tu_path(dir, p->name);
		gen_argv[0] = pmgen_path;
		if (p->kind == IN_FILE) {
			struct tu_run r;
			gen_argv[1 + n] = "-o";
			gen_argv[2 + n] = path;
			gen_argv[3 + n] = NULL;
			tu_run_argv(&r, gen_argv, NULL, 120);
			ck_assert_msg(r.status == 0, "pmgen failed: %s", r.err);
			tu_run_free(&r);
		} else {
			/*
			 * Slow producers: bursts of 400 records (one, for
			 * the buffer-edge records) with a 2 ms pause, so that
			 * pmerge keeps finding partial records and empty
			 * pipes.
			 */
			int k = 1 + n;
			gen_argv[k++] = "-b";
			gen_argv[k++] = sc->edge ? "1" : "400";
			gen_argv[k++] = "-d";
			gen_argv[k++] = "2000";
			int out_fd = -1, pfd[2] = {-1, -1};
			if (p->kind == IN_FIFO) {
				ck_assert_msg(mkfifo(path, 0600) == 0,
				              "mkfifo: %s", strerror(errno));
				gen_argv[k++] = "-o";
				gen_argv[k++] = path;
			} else {
				ck_assert_int_eq(pipe2(pfd, O_CLOEXEC), 0);
				out_fd = pfd[1];
				stdin_fd = pfd[0];
			}
			gen_argv[k] = NULL;
			p->pid = spawn(NULL, gen_argv, -1, out_fd, -1);
			if (out_fd >= 0)
				close(out_fd);
		}
		free(path);
	}
	/* The setup must really exercise records longer than the buffer. */
	ck_assert_uint_gt(over, 0);

	/* pmerge runs in the scratch directory, so --tag names are short. */
	char *margv[MAX_PRODUCERS + 24];
	char jobs[16];
	int m = 0;
	snprintf(jobs, sizeof(jobs), "%u", sc->jobs);
	margv[m++] = (char *)tu_pmerge();
	margv[m++] = "-u";
	margv[m++] = sc->unit_file ? "file" : "line";
	margv[m++] = "-j";
	margv[m++] = jobs;
	margv[m++] = "-l";
	margv[m++] = (char *)sc->lock;
	/* Pin the buffer below the longest records whatever the output's
	 * default, so that the long-record path is always exercised. */
	margv[m++] = "-B";
	margv[m++] = "128K";
	if (sc->order_input)
		margv[m++] = "--order=input";
	if (sc->arrival)
		margv[m++] = "--order=arrival";
	if (sc->zero)
		margv[m++] = "-z";
	if (sc->tag)
		margv[m++] = "--tag";
	if (sc->append)
		margv[m++] = "-a";
	if (!sc->to_pipe) {
		margv[m++] = "-o";
		margv[m++] = "out";
	}
	for (int i = 0; i < sc->producers; i++)
		margv[m++] = prod[i].name;
	margv[m] = NULL;
	char *cmdline = join_argv(margv);

	/* pmverify's view of the same producers. */
	char *vargv[MAX_PRODUCERS + 16];
	char bytes_arg[48], specs[MAX_PRODUCERS][64];
	int v = 0;
	vargv[v++] = pmverify_path;
	if (sc->zero)
		vargv[v++] = "-z";
	if (sc->tag)
		vargv[v++] = "--tag";
	/* --unit=file keeps each input whole: in input order by default. */
	if (sc->order_input || (sc->unit_file && !sc->arrival))
		vargv[v++] = "--in-order";
	else if (sc->unit_file)
		vargv[v++] = "--whole";
	snprintf(bytes_arg, sizeof(bytes_arg), "--bytes=%" PRIu64, want_bytes);
	vargv[v++] = bytes_arg;
	if (sc->append)
		vargv[v++] = "99:10";
	for (int i = 0; i < sc->producers; i++) {
		snprintf(specs[i], sizeof(specs[i]), "%s:%s%s%s", prod[i].src,
		         prod[i].count, sc->tag ? ":" : "",
		         sc->tag ? prod[i].name : "");
		vargv[v++] = specs[i];
	}
	vargv[v] = NULL;

	int merr = open_write(merr_path), mout = -1;
	int vout = open_write(vout_path), verr = open_write(verr_path);
	pid_t vpid = -1, mpid;
	if (sc->to_pipe) {
		int pp[2];
		ck_assert_int_eq(pipe2(pp, O_CLOEXEC), 0);
		mpid = spawn(dir, margv, stdin_fd, pp[1], merr);
		vpid = spawn(NULL, vargv, pp[0], vout, verr);
		close(pp[0]);
		close(pp[1]);
	} else {
		mout = open_write(mout_path);
		mpid = spawn(dir, margv, stdin_fd, mout, merr);
	}
	if (stdin_fd >= 0)
		close(stdin_fd);

	int mst = 0, vst = 0;
	char sbuf[64];
	bool m_done = wait_until(mpid, deadline, &mst, NULL);
	bool m_ok = m_done && WIFEXITED(mst) && WEXITSTATUS(mst) == 0;
	/*
	 * After a failed merge, producers may wait forever for a reader that
	 * will not come: stop them.  After a good one they have all finished.
	 */
	for (int i = 0; i < sc->producers; i++) {
		if (prod[i].pid < 0)
			continue;
		if (!m_ok) {
			kill_and_reap(prod[i].pid);
			continue;
		}
		int pst;
		ck_assert_msg(wait_until(prod[i].pid, deadline, &pst, NULL) &&
		                  WIFEXITED(pst) && WEXITSTATUS(pst) == 0,
		              "%s: producer %s did not finish cleanly (%s)",
		              sc->label, prod[i].name,
		              describe_status(pst, sbuf, sizeof(sbuf)));
	}
	if (!sc->to_pipe && m_ok) {
		int in = open(out_path, O_RDONLY | O_CLOEXEC);
		ck_assert_msg(in >= 0, "%s: %s: output missing after exit 0",
		              sc->label, cmdline);
		vpid = spawn(NULL, vargv, in, vout, verr);
		close(in);
	}
	bool v_done = vpid < 0 || wait_until(vpid, deadline, &vst, NULL);
	close(merr);
	close(vout);
	close(verr);
	if (mout >= 0)
		close(mout);

	char *merr_text = slurp(merr_path);
	char *verr_text = slurp(verr_path);
	char *vout_text = slurp(vout_path);

	ck_assert_msg(m_done, "%s: `%s` (in a scratch dir) did not finish",
	              sc->label, cmdline);
	ck_assert_msg(m_ok, "%s: `%s` ended with %s; stderr: %s; verifier: %s",
	              sc->label, cmdline,
	              describe_status(mst, sbuf, sizeof(sbuf)), merr_text,
	              verr_text);
	ck_assert_msg(v_done, "%s: pmverify did not finish", sc->label);
	ck_assert_msg(WIFEXITED(vst) && WEXITSTATUS(vst) == 0,
	              "%s: `%s`: output fails verification: %s", sc->label,
	              cmdline, verr_text);

	/*
	 * The verifier already compared the byte total; reading its summary
	 * back confirms the counts it saw are the producers' own.
	 */
	uint64_t got_records, got_bytes, got_out, longest;
	size_t got_sources;
	ck_assert_msg(sscanf(vout_text,
	                     "ok sources=%zu records=%" SCNu64 " bytes=%" SCNu64
	                     " output_bytes=%" SCNu64 " longest=%" SCNu64,
	                     &got_sources, &got_records, &got_bytes, &got_out,
	                     &longest) == 5,
	              "%s: unexpected verifier summary '%s'", sc->label,
	              vout_text);
	ck_assert_uint_eq(got_sources,
	                  (size_t)sc->producers + (sc->append ? 1 : 0));
	ck_assert_uint_eq(got_records, want_records);
	ck_assert_uint_eq(got_bytes, want_bytes);
	ck_assert_uint_eq(got_out, want_bytes + (sc->tag ? tag_bytes : 0));
	ck_assert_uint_gt(longest, BUFFER_BYTES);

	/*
	 * A good merge is silent, except for the one-line note that sem:N
	 * with N > 1 falls back to one writer on a pipe or with -a, which
	 * take no positioned writes (README.md, "Lock strategies").
	 */
	bool sem_shared =
	    strncmp(sc->lock, "sem:", 4) == 0 && strcmp(sc->lock, "sem:1") != 0;
	if ((sc->to_pipe || sc->append) && sem_shared)
		ck_assert_msg(count_lines(merr_text) == 1,
		              "%s: `%s` should print one note about sem:N "
		              "without positioned writes, printed: '%s'",
		              sc->label, cmdline, merr_text);
	else
		ck_assert_msg(merr_text[0] == '\0',
		              "%s: `%s` succeeded but wrote to stderr: '%s'",
		              sc->label, cmdline, merr_text);

	if (!sc->to_pipe) {
		char *mout_text = slurp(mout_path);
		ck_assert_msg(mout_text[0] == '\0',
		              "%s: `%s` wrote to stdout despite -o", sc->label,
		              cmdline);
		free(mout_text);
		/*
		 * Inputs, out and the four logs: any other entry is a
		 * temporary file that was left behind.
		 */
		size_t named = 0;
		for (int i = 0; i < sc->producers; i++)
			named += prod[i].kind != IN_STDIN;
		ck_assert_uint_eq(tu_count_entries(dir), named + 5);
	}
	if (sc->append) {
		char head[4096];
		int fd = open(out_path, O_RDONLY | O_CLOEXEC);
		ck_assert_int_ge(fd, 0);
		ck_assert_uint_le(preface_len, sizeof(head));
		ck_assert_int_eq(read(fd, head, preface_len),
		                 (ssize_t)preface_len);
		close(fd);
		ck_assert_msg(memcmp(head, preface, preface_len) == 0,
		              "%s: `%s` changed what FILE held before",
		              sc->label, cmdline);
		free(preface);
	}

	free(merr_text);
	free(verr_text);
	free(vout_text);
	free(cmdline);
	free(out_path);
	free(merr_path);
	free(mout_path);
	free(vout_path);
	free(verr_path);
	scratch_done();
}

START_TEST(lock_to_file)
{
	char label[64];
	snprintf(label, sizeof(label), "-l %s -o", locks[_i]);
	struct scenario sc = {.label = label,
	                      .producers = base_producers(),
	                      .jobs = 8,
	                      .lock = locks[_i]};
	run_scenario(&sc);
}
END_TEST

START_TEST(lock_to_pipe)
{
	char label[64];
	snprintf(label, sizeof(label), "-l %s | pmverify", locks[_i]);
	struct scenario sc = {.label = label,
	                      .producers = base_producers(),
	                      .jobs = 8,
	                      .lock = locks[_i],
	                      .to_pipe = true};
	run_scenario(&sc);
}
END_TEST

START_TEST(many_jobs_sem_file)
{
	struct scenario sc = {.label = "-j 16 -l sem:4 -o",
	                      .producers = many_producers(),
	                      .jobs = 16,
	                      .lock = "sem:4"};
	run_scenario(&sc);
}
END_TEST

START_TEST(many_jobs_spin_pipe_stdin)
{
	/* More spinning threads than cores, and one input is stdin. */
	struct scenario sc = {.label = "-j 16 -l spin, stdin | pmverify",
	                      .producers = many_producers(),
	                      .jobs = 16,
	                      .lock = "spin",
	                      .to_pipe = true,
	                      .stdin_source = true};
	run_scenario(&sc);
}
END_TEST

/*
 * ticket, mcs and adaptive from 2 workers to 32 (more threads than cores:
 * spinners must give the CPU back to the holder), in both units, into a
 * file and into a pipe.  Half the inputs are slow FIFOs, which in
 * --unit=file a holder reads to their end while every other worker waits.
 */
static const struct {
	unsigned jobs;
	bool unit_file, arrival, to_pipe;
} sweep[] = {
    {2, false, false, false},
    {32, false, false, true},
    {2, true, false, true},
    {32, true, true, false},
};

START_TEST(strategy_sweep)
{
	const char *lock = queue_locks[_i / 4];
	unsigned k = (unsigned)_i % 4;
	unsigned jobs = sweep[k].jobs;
	char label[96];
	snprintf(label, sizeof(label), "-l %s -j %u -u %s%s %s", lock, jobs,
	         sweep[k].unit_file ? "file" : "line",
	         sweep[k].arrival ? " --order=arrival" : "",
	         sweep[k].to_pipe ? "| pmverify" : "-o");
	/* As many inputs as workers, so that every worker contends. */
	struct scenario sc = {.label = label,
	                      .producers = jobs < 8 ? 8 : (int)jobs,
	                      .jobs = jobs,
	                      .lock = lock,
	                      .to_pipe = sweep[k].to_pipe,
	                      .unit_file = sweep[k].unit_file,
	                      .arrival = sweep[k].arrival,
	                      .records = jobs > 8 ? 4000 : 0};
	run_scenario(&sc);
}
END_TEST

/* Records of exactly the buffer size, and one byte either side. */
static const uint64_t edges[] = {BUFFER_BYTES, 2 * BUFFER_BYTES};

START_TEST(buffer_edges_pipe)
{
	char label[64];
	snprintf(label, sizeof(label), "records at %" PRIu64 "+-1 | pmverify",
	         edges[_i]);
	struct scenario sc = {.label = label,
	                      .producers = 6,
	                      .jobs = 6,
	                      .lock = "mutex",
	                      .to_pipe = true,
	                      .edge = edges[_i]};
	run_scenario(&sc);
}
END_TEST

START_TEST(buffer_edges_file)
{
	char label[64];
	snprintf(label, sizeof(label), "records at %" PRIu64 "+-1 -l sem:4 -o",
	         edges[_i]);
	struct scenario sc = {.label = label,
	                      .producers = 6,
	                      .jobs = 4,
	                      .lock = "sem:4",
	                      .edge = edges[_i]};
	run_scenario(&sc);
}
END_TEST

START_TEST(append_sem_file)
{
	struct scenario sc = {.label = "-a -l sem:4 -o",
	                      .producers = base_producers(),
	                      .jobs = 8,
	                      .lock = "sem:4",
	                      .append = true};
	run_scenario(&sc);
}
END_TEST

START_TEST(order_input_file)
{
	struct scenario sc = {.label = "--order=input -o",
	                      .producers = base_producers(),
	                      .jobs = 8,
	                      .lock = "mutex",
	                      .order_input = true};
	run_scenario(&sc);
}
END_TEST

START_TEST(zero_terminated_pipe)
{
	struct scenario sc = {.label = "-z -l rlock | pmverify -z",
	                      .producers = base_producers(),
	                      .jobs = 8,
	                      .lock = "rlock",
	                      .to_pipe = true,
	                      .zero = true};
	run_scenario(&sc);
}
END_TEST

START_TEST(tag_file_sem)
{
	struct scenario sc = {.label = "--tag -l sem:4 -o",
	                      .producers = base_producers(),
	                      .jobs = 8,
	                      .lock = "sem:4",
	                      .tag = true};
	run_scenario(&sc);
}
END_TEST

START_TEST(tag_pipe)
{
	struct scenario sc = {.label = "--tag | pmverify --tag",
	                      .producers = base_producers(),
	                      .jobs = 8,
	                      .lock = "mutex",
	                      .to_pipe = true,
	                      .tag = true};
	run_scenario(&sc);
}
END_TEST

/* -------------------------------------------------------------- latency */

/* One complete record, built the way pmgen builds it. */
static size_t make_record(char *buf, size_t size, uint64_t src, uint64_t seq,
                          uint64_t len)
{
	struct pmrec_payload p;
	int h = snprintf(buf, size, "S%" PRIu64 " %" PRIu64 " %" PRIu64 " ",
	                 src, seq, len);
	ck_assert(h > 0 && (size_t)h + len + 1 <= size);
	pmrec_payload_init(&p, src, seq, false);
	pmrec_payload_fill(&p, buf + h, (size_t)len);
	buf[h + len] = '\n';
	return (size_t)h + len + 1;
}

/*
 * A live stream writes one line and then stays open, silent, for 3 s.  In
 * line mode pmerge must pass the line on as soon as it is complete (the man
 * page: records are "emitted as soon as they are complete"), not when the
 * stream ends.
 * The 1 s bound is generous on purpose: what it tells apart is "now" from
 * "at EOF, 3 s later".
 */
START_TEST(line_arrives_before_eof)
{
	char *dir = scratch_new();
	char *fifo = tu_path(dir, "live");
	char *small = tu_path(dir, "small");
	char *merr_path = tu_path(dir, "pmerge.err");
	char line[256];
	size_t line_len = make_record(line, sizeof(line), 1, 0, 40);

	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	struct tu_run r;
	char *gargv[] = {pmgen_path, "-s", "2", "-n", "20", "-o", small, NULL};
	tu_run_argv(&r, gargv, NULL, 60);
	ck_assert_msg(r.status == 0, "pmgen failed: %s", r.err);
	tu_run_free(&r);

	int op[2], note[2];
	ck_assert_int_eq(pipe2(op, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(note, O_CLOEXEC), 0);
	int merr = open_write(merr_path);
	char *margv[] = {
	    (char *)tu_pmerge(), "-u", "line", "live", "small", NULL};
	pid_t mpid = spawn(dir, margv, -1, op[1], merr);
	close(op[1]);
	close(merr);

	pid_t ppid = fork();
	ck_assert_int_ge(ppid, 0);
	if (ppid == 0) {
		/* The producer: opening blocks until pmerge opens the FIFO. */
		int fd = open(fifo, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			_exit(2);
		double t0 = tu_now_s();
		if (write(fd, line, line_len) != (ssize_t)line_len)
			_exit(3);
		if (write(note[1], &t0, sizeof(t0)) != sizeof(t0))
			_exit(4);
		tu_sleep_s(3.0);
		close(fd);
		_exit(0);
	}
	close(note[1]);

	/* Read pmerge's output until the line shows up or the output ends. */
	char *got = NULL;
	size_t got_len = 0, cap = 0;
	double t1 = -1;
	bool merge_running_at_t1 = false;
	const double deadline = tu_now_s() + 60;
	for (;;) {
		struct pollfd pf = {op[0], POLLIN, 0};
		int n = poll(&pf, 1, 100);
		if (n < 0 && errno == EINTR)
			continue;
		ck_assert_int_ge(n, 0);
		if (n == 0) {
			if (tu_now_s() > deadline)
				break;
			continue;
		}
		char b[4096];
		ssize_t k = read(op[0], b, sizeof(b));
		if (k < 0 && errno == EINTR)
			continue;
		ck_assert_int_ge(k, 0);
		if (k == 0)
			break;
		if (got_len + (size_t)k > cap) {
			cap = (got_len + (size_t)k) * 2;
			got = realloc(got, cap);
			ck_assert_ptr_nonnull(got);
		}
		memcpy(got + got_len, b, (size_t)k);
		got_len += (size_t)k;
		if (t1 < 0 && memmem(got, got_len, line, line_len)) {
			int st;
			t1 = tu_now_s();
			merge_running_at_t1 = waitpid(mpid, &st, WNOHANG) == 0;
		}
	}
	close(op[0]);

	/*
	 * The producer reports when it wrote; if it never got to write (no
	 * reader opened the FIFO), do not wait for it here.
	 */
	double t0 = -1;
	ssize_t k = -1;
	struct pollfd npf = {note[0], POLLIN, 0};
	if (poll(&npf, 1, 5000) == 1)
		k = read(note[0], &t0, sizeof(t0));
	close(note[0]);
	int pst, mst;
	bool p_done = wait_until(ppid, tu_now_s() + 30, &pst, NULL);
	bool m_done = wait_until(mpid, tu_now_s() + 30, &mst, NULL);
	char *merr_text = slurp(merr_path);

	ck_assert_msg(k == sizeof(t0) && p_done && WIFEXITED(pst) &&
	                  WEXITSTATUS(pst) == 0,
	              "the producer could not write into the FIFO");
	ck_assert_msg(m_done && WIFEXITED(mst) && WEXITSTATUS(mst) == 0,
	              "`pmerge -u line live small` failed: %s", merr_text);
	ck_assert_msg(t1 >= 0, "the live line never reached the output");
	ck_assert_msg(t1 - t0 < 1.0,
	              "`pmerge -u line live small`: the line took %.3f s to "
	              "arrive (the stream closed after 3 s)",
	              t1 - t0);
	ck_assert_msg(merge_running_at_t1,
	              "pmerge had already exited when the line arrived");

	/* Everything else must be there too, whole. */
	char *out_path = tu_path(dir, "merged");
	tu_write_file(out_path, got, got_len);
	char bytes_arg[48];
	struct stat sb;
	ck_assert_int_eq(stat(small, &sb), 0);
	snprintf(bytes_arg, sizeof(bytes_arg), "--bytes=%" PRIu64,
	         (uint64_t)sb.st_size + line_len);
	char *vargv[] = {pmverify_path, bytes_arg, "1:1", "2:20", NULL};
	tu_run_argv(&r, vargv, out_path, 60);
	ck_assert_msg(r.status == 0, "merged output: %s", r.err);
	tu_run_free(&r);

	free(got);
	free(merr_text);
	free(out_path);
	free(fifo);
	free(small);
	free(merr_path);
	scratch_done();
}
END_TEST

/* --------------------------------------------------------------- memory */

static void assert_rss(const struct rusage *ru, const char *cmdline)
{
	struct rusage self;
	getrusage(RUSAGE_SELF, &self);
	/*
	 * A child's maximum RSS starts from what it inherited at fork, so
	 * the test process itself must stay small for this to mean anything.
	 */
	ck_assert_msg(self.ru_maxrss < (long)RSS_LIMIT_KIB / 2,
	              "the test process itself peaked at %ld KiB",
	              self.ru_maxrss);
	ck_assert_msg(
	    ru->ru_maxrss <= (long)RSS_LIMIT_KIB,
	    "`%s`: peak RSS %ld KiB exceeds %u KiB for a %llu-byte line",
	    cmdline, ru->ru_maxrss, RSS_LIMIT_KIB,
	    (unsigned long long)HUGE_RECORD_BYTES);
}

/* Options tried with a 200 MB record; the slow run tries more of them. */
static const char *const huge_variants[][4] = {
    {NULL},
    {"--order=input", NULL},
    {"--tag", NULL},
    {"-j", "1", "-l", "sem:4"},
};

/*
 * One 200 MB record from a pipe (pmerge's stdin) next to a small file,
 * merged into a pipe that pmverify reads: the record must come out whole
 * while pmerge's peak RSS stays bounded (README.md, "Options": "Memory is
 * bounded by jobs x buffer size plus a constant ... A record longer than
 * the buffer is still written whole").
 */
START_TEST(huge_record_memory)
{
	const char *const *extra = huge_variants[_i];
	bool tag = extra[0] && strcmp(extra[0], "--tag") == 0;
	char *dir = scratch_new();
	char *small = tu_path(dir, "small");
	char *verr_path = tu_path(dir, "verify.err");
	char *merr_path = tu_path(dir, "pmerge.err");
	char fixed[32];
	struct tu_run r;

	char *sargv[] = {pmgen_path, "-s", "8", "-n", "50", "-o", small, NULL};
	tu_run_argv(&r, sargv, NULL, 60);
	ck_assert_int_eq(r.status, 0);
	tu_run_free(&r);
	char *iargv[] = {"-s", "8", "-n", "50", NULL};
	struct gen_info si = gen_info(iargv);
	snprintf(fixed, sizeof(fixed), "%llu",
	         (unsigned long long)HUGE_RECORD_BYTES);
	char *hargv[] = {"-s", "7", "-n", "1", "-F", fixed, NULL};
	struct gen_info hi = gen_info(hargv);

	int gp[2], mp[2];
	ck_assert_int_eq(pipe2(gp, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(mp, O_CLOEXEC), 0);
	char *gargv[] = {pmgen_path, "-s", "7", "-n", "1", "-F", fixed, NULL};
	pid_t gpid = spawn(NULL, gargv, -1, gp[1], -1);
	close(gp[1]);

	char *margv[16];
	int m = 0;
	margv[m++] = (char *)tu_pmerge();
	margv[m++] = "-u";
	margv[m++] = "line";
	for (int i = 0; i < 4 && extra[i]; i++)
		margv[m++] = (char *)extra[i];
	margv[m++] = "-";
	margv[m++] = "small";
	margv[m] = NULL;
	char *cmdline = join_argv(margv);
	int merr = open_write(merr_path);
	pid_t mpid = spawn(dir, margv, gp[0], mp[1], merr);
	close(gp[0]);
	close(mp[1]);
	close(merr);

	char bytes_arg[48];
	snprintf(bytes_arg, sizeof(bytes_arg), "--bytes=%" PRIu64,
	         hi.bytes + si.bytes);
	char *vargv[8];
	int v = 0;
	vargv[v++] = pmverify_path;
	if (tag)
		vargv[v++] = "--tag";
	vargv[v++] = bytes_arg;
	vargv[v++] = "7:1";
	vargv[v++] = tag ? "8:50:small" : "8:50";
	vargv[v] = NULL;
	int verr = open_write(verr_path);
	pid_t vpid = spawn(NULL, vargv, mp[0], -1, verr);
	close(mp[0]);
	close(verr);

	const double deadline = tu_now_s() + 300;
	struct rusage ru;
	int mst, vst, gst;
	bool m_done = wait_until(mpid, deadline, &mst, &ru);
	bool v_done = wait_until(vpid, deadline, &vst, NULL);
	bool g_done = wait_until(gpid, deadline, &gst, NULL);
	char *merr_text = slurp(merr_path);
	char *verr_text = slurp(verr_path);

	ck_assert_msg(m_done && WIFEXITED(mst) && WEXITSTATUS(mst) == 0,
	              "`pmgen ... | %s` failed: %s", cmdline, merr_text);
	ck_assert_msg(g_done && WIFEXITED(gst) && WEXITSTATUS(gst) == 0,
	              "the 200 MB producer failed");
	ck_assert_msg(v_done && WIFEXITED(vst) && WEXITSTATUS(vst) == 0,
	              "`pmgen ... | %s`: output fails verification: %s",
	              cmdline, verr_text);
	assert_rss(&ru, cmdline);

	free(merr_text);
	free(verr_text);
	free(cmdline);
	free(small);
	free(verr_path);
	free(merr_path);
	scratch_done();
}
END_TEST

/*
 * A sparse 200 MB file of NUL bytes with no newline at all: one
 * unterminated line.  The output must be the same bytes plus the added
 * newline, and pmerge's peak RSS must stay bounded.
 */
START_TEST(unterminated_huge_line_memory)
{
	char *dir = scratch_new();
	char *big = tu_path(dir, "big");
	char *merr_path = tu_path(dir, "pmerge.err");
	int fd = open(big, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)HUGE_RECORD_BYTES), 0);
	close(fd);

	int mp[2];
	ck_assert_int_eq(pipe2(mp, O_CLOEXEC), 0);
	int merr = open_write(merr_path);
	char *margv[] = {(char *)tu_pmerge(), "-u", "line", "big", NULL};
	pid_t mpid = spawn(dir, margv, -1, mp[1], merr);
	close(mp[1]);
	close(merr);

	/* Check the stream as it comes, in a small buffer. */
	static char b[65536];
	uint64_t total = 0, first_bad = UINT64_MAX;
	for (;;) {
		ssize_t k = read(mp[0], b, sizeof(b));
		if (k < 0 && errno == EINTR)
			continue;
		ck_assert_int_ge(k, 0);
		if (k == 0)
			break;
		for (ssize_t i = 0; i < k && first_bad == UINT64_MAX; i++) {
			uint64_t at = total + (uint64_t)i;
			char want = at < HUGE_RECORD_BYTES ? '\0' : '\n';
			if (b[i] != want || at > HUGE_RECORD_BYTES)
				first_bad = at;
		}
		total += (uint64_t)k;
	}
	close(mp[0]);

	struct rusage ru;
	int mst;
	bool m_done = wait_until(mpid, tu_now_s() + 300, &mst, &ru);
	char *merr_text = slurp(merr_path);
	ck_assert_msg(m_done && WIFEXITED(mst) && WEXITSTATUS(mst) == 0,
	              "`pmerge -u line big` failed: %s", merr_text);
	ck_assert_msg(first_bad == UINT64_MAX,
	              "`pmerge -u line big`: wrong byte at offset %" PRIu64,
	              first_bad);
	ck_assert_msg(total == HUGE_RECORD_BYTES + 1,
	              "`pmerge -u line big`: %" PRIu64 " bytes out, expected "
	              "%llu (the line plus an added newline)",
	              total, (unsigned long long)HUGE_RECORD_BYTES + 1);
	assert_rss(&ru, "pmerge -u line big");

	free(merr_text);
	free(big);
	free(merr_path);
	scratch_done();
}
END_TEST

/* ---------------------------------------------------------------- setup */

/* The helper tools: $PMGEN / $PMVERIFY, else beside this test binary. */
static void find_tool(char *out, const char *env, const char *name)
{
	const char *e = getenv(env);
	if (e && *e) {
		snprintf(out, PATH_MAX, "%s", e);
		return;
	}
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		snprintf(out, PATH_MAX, "%s", name);
		return;
	}
	self[n] = '\0';
	snprintf(out, PATH_MAX, "%s/%s", dirname(self), name);
}

/* True when cmd is an executable path, or found as one in PATH. */
static bool executable(const char *cmd)
{
	if (strchr(cmd, '/'))
		return access(cmd, X_OK) == 0;
	const char *path = getenv("PATH");
	if (!path)
		return false;
	char *copy = strdup(path), *save = NULL;
	bool found = false;
	for (char *d = strtok_r(copy, ":", &save); d && !found;
	     d = strtok_r(NULL, ":", &save)) {
		char full[PATH_MAX];
		snprintf(full, sizeof(full), "%s/%s", *d ? d : ".", cmd);
		found = access(full, X_OK) == 0;
	}
	free(copy);
	return found;
}

/* --case=NAME runs one tcase, --exclude=NAME leaves one out. */
static const char *only_case;
static const char *excluded_case;

static bool wanted(const char *name)
{
	return (!only_case || strcmp(only_case, name) == 0) &&
	       (!excluded_case || strcmp(excluded_case, name) != 0);
}

static Suite *stress_suite(void)
{
	Suite *s = suite_create("stress");
	const int n_locks = (int)(sizeof(locks) / sizeof(locks[0]));
	const double t = 300.0 * scale;
	TCase *tc;

	if (wanted("locks")) {
		tc = tcase_create("locks");
		tcase_set_timeout(tc, t);
		tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
		tcase_add_loop_test(tc, lock_to_file, 0, n_locks);
		tcase_add_loop_test(tc, lock_to_pipe, 0, n_locks);
		suite_add_tcase(s, tc);
	}
	if (wanted("modes")) {
		tc = tcase_create("modes");
		tcase_set_timeout(tc, t);
		tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
		tcase_add_test(tc, many_jobs_sem_file);
		tcase_add_test(tc, many_jobs_spin_pipe_stdin);
		tcase_add_test(tc, append_sem_file);
		tcase_add_test(tc, order_input_file);
		tcase_add_test(tc, zero_terminated_pipe);
		tcase_add_test(tc, tag_file_sem);
		tcase_add_test(tc, tag_pipe);
		tcase_add_loop_test(tc, buffer_edges_pipe, 0, 2);
		tcase_add_loop_test(tc, buffer_edges_file, 0, 2);
		suite_add_tcase(s, tc);
	}
	if (wanted("strategies")) {
		tc = tcase_create("strategies");
		tcase_set_timeout(tc, t);
		tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
		tcase_add_loop_test(
		    tc, strategy_sweep, 0,
		    (int)(sizeof(queue_locks) / sizeof(queue_locks[0]) * 4));
		suite_add_tcase(s, tc);
	}
	if (wanted("latency")) {
		tc = tcase_create("latency");
		tcase_set_timeout(tc, 120);
		tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
		tcase_add_test(tc, line_arrives_before_eof);
		suite_add_tcase(s, tc);
	}
	if (wanted("memory")) {
		/* The plain case always; more option sets in the large run. */
		int n = scale > 1 ? (int)(sizeof(huge_variants) /
		                          sizeof(huge_variants[0]))
		                  : 1;
		tc = tcase_create("memory");
		tcase_set_timeout(tc, 600);
		tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
		tcase_add_loop_test(tc, huge_record_memory, 0, n);
		tcase_add_test(tc, unterminated_huge_line_memory);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(int argc, char **argv)
{
	bool sanitized = false;
	const char *e = getenv("PMERGE_STRESS_SCALE");
	if (e && *e)
		scale = (unsigned)strtoul(e, NULL, 10);
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--scale=", 8) == 0) {
			scale = (unsigned)strtoul(argv[i] + 8, NULL, 10);
		} else if (strncmp(argv[i], "--case=", 7) == 0) {
			only_case = argv[i] + 7;
		} else if (strncmp(argv[i], "--exclude=", 10) == 0) {
			excluded_case = argv[i] + 10;
		} else if (strcmp(argv[i], "--sanitized") == 0) {
			sanitized = true;
		} else {
			fprintf(stderr, "test_stress: unknown argument %s\n",
			        argv[i]);
			return 2;
		}
	}
	if (scale < 1)
		scale = 1;
	if (sanitized) {
		if (only_case && strcmp(only_case, "memory") == 0) {
			fprintf(stderr, "skipped: peak RSS is not meaningful "
			                "in a sanitizer build\n");
			return 77;
		}
		if (!excluded_case)
			excluded_case = "memory";
	}

	find_tool(pmgen_path, "PMGEN", "pmgen");
	find_tool(pmverify_path, "PMVERIFY", "pmverify");
	if (!executable(tu_pmerge()) || !executable(pmgen_path) ||
	    !executable(pmverify_path)) {
		fprintf(stderr, "skipped: need pmerge ($PMERGE), %s and %s\n",
		        pmgen_path, pmverify_path);
		return 77;
	}

	SRunner *sr = srunner_create(stress_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	int run = srunner_ntests_run(sr);
	srunner_free(sr);
	if (run == 0) {
		/* Nothing ran (an unknown --case): that is no pass. */
		fprintf(stderr, "test_stress: no test selected\n");
		return EXIT_FAILURE;
	}
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
