/*
 * pmlatency: the driver of the follow workload (bench/workloads/45-follow.sh).
 *
 * Usage: pmlatency -d DIR -o OUT.json [-n FILES] [-r RATE] [-s SECONDS]
 *                  [-l BYTES] -- COMMAND [ARG...]
 *
 * It makes FILES empty files DIR/f0000... on which it starts COMMAND ARG...
 * FILE... (a follower such as "pmerge -F -q" or "tail -q -F"), with the
 * follower's standard output on a pipe it reads itself.  It first appends
 * one line to every file and waits until all have come out, so that the
 * follower is known to be reading every file; then, for SECONDS, it appends
 * RATE lines a second to the files in turn (O_APPEND, one write(2) a line,
 * at fixed times from the start so that a late write does not lower the
 * rate), each line carrying the CLOCK_MONOTONIC time just before its write.
 * The latency of a line is the time from then to the moment the driver has
 * read it from the pipe.  With RATE 0 nothing is written for SECONDS: the
 * idle case.
 *
 * The follower's CPU time (user + system, all its threads, in nanoseconds,
 * from its process CPU clock, clock_getcpuclockid(3)) is read when the
 * timed phase begins and when its last line has come out (or the idle time
 * is over), and from wait4(2) at its end.  Then it is sent SIGTERM.
 *
 * Every line must come out exactly once and whole: a line lost, repeated,
 * torn or fused, or any other output, fails the run (exit status 1, with
 * the reason on stderr).  The report is JSON in OUT.json: the figures and
 * every line's latency.  Exit status 2 is bad usage.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NS 1000000000ull

/* How long the lines may take to come out before they count as lost. */
#define PRIME_WAIT_NS (30 * NS)
#define DRAIN_WAIT_NS (5 * NS)

struct run {
	const char *dir, *out;
	unsigned files;
	unsigned rate;
	unsigned seconds;
	unsigned line_bytes;
	char **cmd;

	pid_t pid;
	int out_fd; /* the follower's standard output */
	clockid_t cpu_clock;
	int *fds;

	uint64_t total;   /* lines: FILES primers, then the timed ones */
	uint64_t seen;    /* lines that came out */
	uint8_t *arrived; /* one byte a line */
	uint64_t *lat;    /* ns, of the timed lines, by number */
	uint64_t max_behind;
	bool ended; /* the follower's output reached its end */

	char buf[1 << 16];
	size_t have;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("pmlatency: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static uint64_t cpu_ns(const struct run *r)
{
	struct timespec ts;

	if (clock_gettime(r->cpu_clock, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

/* One line: "NUMBER FILE TIME " padded with 'x' to line_bytes with '\n'. */
static int write_line(struct run *r, uint64_t no)
{
	char line[4096];
	unsigned f = (unsigned)(no % r->files);
	int n = snprintf(line, sizeof(line), "%" PRIu64 " %u %" PRIu64 " ", no,
	                 f, now_ns());

	if (n < 0 || (unsigned)n + 1 > r->line_bytes)
		return fail("a line of %u bytes is too short", r->line_bytes);
	memset(line + n, 'x', r->line_bytes - 1 - (unsigned)n);
	line[r->line_bytes - 1] = '\n';
	if (write(r->fds[f], line, r->line_bytes) != (ssize_t)r->line_bytes)
		return fail("write to file %u: %s", f, strerror(errno));
	return 0;
}

/* Checks one line of the output (without its '\n') that came out at t. */
static int take_line(struct run *r, const char *p, size_t len, uint64_t t)
{
	uint64_t no, at;
	unsigned f;
	int used = 0;
	char tmp[4096];

	if (len + 1 != r->line_bytes || len >= sizeof(tmp))
		return fail("a line of %zu bytes (torn or fused): %.60s", len,
		            p);
	memcpy(tmp, p, len);
	tmp[len] = '\0';
	if (sscanf(tmp, "%" SCNu64 " %u %" SCNu64 " %n", &no, &f, &at, &used) !=
	        3 ||
	    no >= r->total || f != no % r->files)
		return fail("a line not written: %.60s", tmp);
	for (size_t i = (size_t)used; i < len; i++)
		if (tmp[i] != 'x')
			return fail("line %" PRIu64 " is damaged", no);
	if (r->arrived[no])
		return fail("line %" PRIu64 " came out twice", no);
	r->arrived[no] = 1;
	r->seen++;
	if (no >= r->files)
		r->lat[no - r->files] = t - at;
	return 0;
}

/*
 * Reads what the follower has written and checks every whole line in it.
 * Returns 1 on data, 0 at the end of the output, -1 on an error.
 */
static int read_output(struct run *r)
{
	ssize_t n = read(r->out_fd, r->buf + r->have, sizeof(r->buf) - r->have);
	uint64_t t = now_ns();
	size_t start = 0;

	if (n < 0)
		return errno == EINTR || errno == EAGAIN
		           ? 1
		           : fail("read: %s", strerror(errno));
	if (n == 0) {
		if (r->have)
			return fail("the output ends in a partial line");
		return 0;
	}
	r->have += (size_t)n;
	for (char *nl; (nl = memchr(r->buf + start, '\n', r->have - start));) {
		if (take_line(r, r->buf + start, (size_t)(nl - r->buf) - start,
		              t) < 0)
			return -1;
		start = (size_t)(nl - r->buf) + 1;
	}
	memmove(r->buf, r->buf + start, r->have - start);
	r->have -= start;
	if (r->have == sizeof(r->buf))
		return fail("a line longer than %zu bytes", sizeof(r->buf));
	return 1;
}

/* Reads the output until deadline (CLOCK_MONOTONIC, ns) or until want
 * lines have come out, whichever is first; with want UINT64_MAX, until
 * the output ends (r->ended). */
static int read_until(struct run *r, uint64_t deadline, uint64_t want)
{
	struct pollfd pfd = {.fd = r->out_fd, .events = POLLIN};

	while (r->seen < want) {
		uint64_t t = now_ns();
		if (t >= deadline)
			return 0;
		struct timespec ts = {.tv_sec = (time_t)((deadline - t) / NS),
		                      .tv_nsec = (long)((deadline - t) % NS)};
		int rc = ppoll(&pfd, 1, &ts, NULL);
		if (rc < 0 && errno != EINTR)
			return fail("ppoll: %s", strerror(errno));
		if (rc > 0) {
			rc = read_output(r);
			if (rc < 0)
				return -1;
			if (rc == 0) {
				r->ended = true;
				return want == UINT64_MAX
				           ? 0
				           : fail("the follower's output ended "
				                  "early");
			}
		}
	}
	return 0;
}

static int make_files(struct run *r)
{
	char path[PATH_MAX];

	r->fds = calloc(r->files, sizeof(int));
	if (!r->fds)
		return fail("out of memory");
	for (unsigned i = 0; i < r->files; i++) {
		snprintf(path, sizeof(path), "%s/f%04u", r->dir, i);
		r->fds[i] = open(
		    path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
		    0644);
		if (r->fds[i] < 0)
			return fail("%s: %s", path, strerror(errno));
	}
	return 0;
}

static int start_follower(struct run *r)
{
	size_t n = 0;
	int p[2];
	char **argv;

	while (r->cmd[n])
		n++;
	argv = calloc(n + r->files + 1, sizeof(char *));
	if (!argv)
		return fail("out of memory");
	memcpy(argv, r->cmd, n * sizeof(char *));
	for (unsigned i = 0; i < r->files; i++) {
		if (asprintf(&argv[n + i], "%s/f%04u", r->dir, i) < 0)
			return fail("out of memory");
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return fail("pipe: %s", strerror(errno));
	r->pid = fork();
	if (r->pid < 0)
		return fail("fork: %s", strerror(errno));
	if (r->pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		if (null < 0 || dup2(null, STDIN_FILENO) < 0 ||
		    dup2(p[1], STDOUT_FILENO) < 0)
			_exit(126);
		execvp(argv[0], argv);
		fprintf(stderr, "pmlatency: %s: %s\n", argv[0],
		        strerror(errno));
		_exit(127);
	}
	close(p[1]);
	r->out_fd = p[0];
	for (unsigned i = 0; i < r->files; i++)
		free(argv[n + i]);
	free(argv);
	if (clock_getcpuclockid(r->pid, &r->cpu_clock) != 0)
		return fail("no CPU clock for the follower");
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The nearest-rank q-quantile of the n sorted values v, in ms. */
static double quantile_ms(const uint64_t *v, uint64_t n, double q)
{
	uint64_t k = (uint64_t)(q * (double)n + 0.999999);

	if (n == 0)
		return 0;
	return (double)v[k ? k - 1 : 0] / 1e6;
}

static int report(struct run *r, uint64_t window_ns, uint64_t cpu_window,
                  const struct rusage *ru)
{
	uint64_t n = r->total - r->files, sum = 0;
	FILE *f = fopen(r->out, "w");

	if (!f)
		return fail("%s: %s", r->out, strerror(errno));
	for (uint64_t i = 0; i < n; i++)
		sum += r->lat[i];
	fprintf(f, "{\n \"command\": \"");
	for (char **a = r->cmd; *a; a++) {
		if (a != r->cmd)
			fputc(' ', f);
		for (const char *c = *a; *c; c++)
			fprintf(f, *c == '"' || *c == '\\' ? "\\%c" : "%c", *c);
	}
	fprintf(f, "\",\n \"files\": %u,\n \"rate\": %u,\n \"seconds\": %u,\n",
	        r->files, r->rate, r->seconds);
	fprintf(f, " \"line_bytes\": %u,\n \"lines\": %" PRIu64 ",\n",
	        r->line_bytes, n);
	fprintf(f, " \"window_s\": %.6f,\n", (double)window_ns / 1e9);
	fprintf(f, " \"cpu_window_s\": %.6f,\n", (double)cpu_window / 1e9);
	fprintf(f, " \"user_s\": %ld.%06ld,\n \"system_s\": %ld.%06ld,\n",
	        (long)ru->ru_utime.tv_sec, (long)ru->ru_utime.tv_usec,
	        (long)ru->ru_stime.tv_sec, (long)ru->ru_stime.tv_usec);
	fprintf(f, " \"max_behind_ms\": %.3f,\n", (double)r->max_behind / 1e6);
	fprintf(f, " \"mean_ms\": %.4f,\n",
	        n ? (double)sum / (double)n / 1e6 : 0.0);
	qsort(r->lat, n, sizeof(uint64_t), cmp_u64);
	fprintf(f, " \"p50_ms\": %.4f,\n \"p99_ms\": %.4f,\n",
	        quantile_ms(r->lat, n, 0.50), quantile_ms(r->lat, n, 0.99));
	fprintf(f, " \"max_ms\": %.4f,\n", n ? (double)r->lat[n - 1] / 1e6 : 0);
	fprintf(f, " \"latencies_ms\": [");
	for (uint64_t i = 0; i < n; i++)
		fprintf(f, "%s%.4f", i ? "," : "", (double)r->lat[i] / 1e6);
	fprintf(f, "]\n}\n");
	if (fclose(f) != 0)
		return fail("%s: %s", r->out, strerror(errno));
	return 0;
}

/* The timed phase: RATE lines a second for SECONDS, read as they come. */
static int drive(struct run *r)
{
	uint64_t t0 = now_ns(), lines = r->total - r->files;

	for (uint64_t i = 0; i < lines; i++) {
		uint64_t due = t0 + i * NS / r->rate, t;
		if (read_until(r, due, r->total) < 0)
			return -1;
		t = now_ns();
		if (t > due && t - due > r->max_behind)
			r->max_behind = t - due;
		if (write_line(r, r->files + i) < 0)
			return -1;
	}
	if (read_until(r, now_ns() + DRAIN_WAIT_NS, r->total) < 0)
		return -1;
	return 0;
}

static int run(struct run *r)
{
	uint64_t lines = (uint64_t)r->rate * r->seconds, t0, c0, window, cpu;
	struct rusage ru;
	int status;

	r->total = r->files + lines;
	r->arrived = calloc(r->total, 1);
	r->lat = calloc(lines ? lines : 1, sizeof(uint64_t));
	if (!r->arrived || !r->lat)
		return fail("out of memory");
	if (make_files(r) < 0 || start_follower(r) < 0)
		return -1;
	for (unsigned i = 0; i < r->files; i++)
		if (write_line(r, i) < 0)
			return -1;
	if (read_until(r, now_ns() + PRIME_WAIT_NS, r->files) < 0)
		return -1;
	if (r->seen < r->files)
		return fail("%" PRIu64 " of %u first lines came out in %llu s",
		            r->seen, r->files, PRIME_WAIT_NS / NS);
	t0 = now_ns();
	c0 = cpu_ns(r);
	if (lines) {
		if (drive(r) < 0)
			return -1;
	} else if (read_until(r, t0 + r->seconds * NS, r->total + 1) < 0) {
		return -1;
	}
	window = now_ns() - t0;
	cpu = cpu_ns(r) - c0;
	if (r->seen < r->total)
		return fail("%" PRIu64 " lines lost", r->total - r->seen);
	kill(r->pid, SIGTERM);
	if (read_until(r, now_ns() + DRAIN_WAIT_NS, UINT64_MAX) < 0)
		return -1;
	if (!r->ended)
		return fail("the follower's output did not end %llu s after "
		            "SIGTERM",
		            DRAIN_WAIT_NS / NS);
	if (wait4(r->pid, &status, 0, &ru) < 0)
		return fail("wait4: %s", strerror(errno));
	if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) &&
	    !(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM))
		return fail("the follower ended with status %d", status);
	return report(r, window, cpu, &ru);
}

static unsigned number(const char *s, unsigned lo)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < lo || v > 1000000) {
		fprintf(stderr, "pmlatency: bad number '%s'\n", s);
		exit(2);
	}
	return (unsigned)v;
}

int main(int argc, char **argv)
{
	struct run r = {.files = 200,
	                .rate = 1000,
	                .seconds = 10,
	                .line_bytes = 100,
	                .out_fd = -1,
	                .pid = -1};
	struct rlimit rl;
	int c, rc;

	while ((c = getopt(argc, argv, "d:o:n:r:s:l:")) != -1) {
		switch (c) {
		case 'd':
			r.dir = optarg;
			break;
		case 'o':
			r.out = optarg;
			break;
		case 'n':
			r.files = number(optarg, 1);
			break;
		case 'r':
			r.rate = number(optarg, 0);
			break;
		case 's':
			r.seconds = number(optarg, 1);
			break;
		case 'l':
			r.line_bytes = number(optarg, 64);
			break;
		default:
			goto usage;
		}
	}
	if (!r.dir || !r.out || optind >= argc || r.line_bytes > 4096)
		goto usage;
	r.cmd = &argv[optind];
	signal(SIGPIPE, SIG_IGN);
	/* The driver holds a descriptor for every file, beside its own. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < r.files + 64) {
		rl.rlim_cur = r.files + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	rc = run(&r);
	if (rc < 0 && r.pid > 0) {
		kill(r.pid, SIGKILL);
		waitpid(r.pid, NULL, 0);
	}
	return rc < 0 ? 1 : 0;
usage:
	fprintf(stderr, "usage: pmlatency -d DIR -o OUT.json [-n FILES] "
	                "[-r RATE] [-s SECONDS] [-l BYTES] -- COMMAND "
	                "[ARG...]\n");
	return 2;
}
