/*
 * --unit=line from the command line, and the integrity matrix: every lock
 * strategy, order, worker count and unit, into a file and into a pipe.
 */
#include "cliutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define A_TEXT "a1\na2\na3" /* no final newline */
#define B_TEXT "b1\nb2\n"

static void write_ab(void)
{
	cu_write("a", A_TEXT);
	cu_write("b", B_TEXT);
}

START_TEST(line_arrival_whole_records)
{
	char *dir = tu_enter_scratch();
	const char *jobs = _i ? "2" : "1";
	struct tu_run r;
	const struct cu_input in[] = {
	    {"a", A_TEXT, strlen(A_TEXT)},
	    {"b", B_TEXT, strlen(B_TEXT)},
	};

	write_ab();
	cu_pm(&r, NULL, "-u", "line", "-j", jobs, "a", "b", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	/* The unterminated a3 gains its newline and fuses with nothing. */
	ck_assert_uint_eq(r.out_len, strlen(A_TEXT B_TEXT) + 1);
	cu_expect_records(r.out, r.out_len, in, 2, '\n');
	tu_run_free(&r);

	cu_pm(&r, NULL, "--unit=line", "--order=arrival", "-j", jobs, "b", "a",
	      NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	cu_expect_records(r.out, r.out_len, in, 2, '\n');
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(line_input_order)
{
	char *dir = tu_enter_scratch();
	const char *jobs = _i ? "4" : "1";
	struct tu_run r;

	write_ab();
	cu_pm(&r, NULL, "-u", "line", "--order=input", "-j", jobs, "a", "b",
	      "a", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	const char want[] = "a1\na2\na3\nb1\nb2\na1\na2\na3\n";
	tu_expect_bytes("line, input order", r.out, r.out_len, want,
	                strlen(want));
	tu_run_free(&r);

	/* Unlike the file unit, stdin's last record is terminated too. */
	cu_pm(&r, "a", "-u", "line", "--order=input", "-j", jobs, "-", "b",
	      NULL);
	cu_expect_exit(&r, 0);
	tu_expect_bytes("line, stdin", r.out, r.out_len, "a1\na2\na3\nb1\nb2\n",
	                strlen("a1\na2\na3\nb1\nb2\n"));
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(line_zero_terminated)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;
	/* Newlines inside NUL-ended records are ordinary bytes. */
	static const char x[] = "x1\0x\n2\0x3";
	static const char y[] = "y1\0y\n2\0";
	static const char want[] = "x1\0x\n2\0x3\0y1\0y\n2\0";
	const struct cu_input in[] = {
	    {"x", x, sizeof(x) - 1},
	    {"y", y, sizeof(y) - 1},
	};

	tu_write_file("x", x, sizeof(x) - 1);
	tu_write_file("y", y, sizeof(y) - 1);
	cu_pm(&r, NULL, "-u", "line", "-z", "--order=input", "x", "y", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	tu_expect_bytes("-z input order", r.out, r.out_len, want,
	                sizeof(want) - 1);
	tu_run_free(&r);

	cu_pm(&r, NULL, "-u", "line", "--zero-terminated", "-j", "2", "x", "y",
	      NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	ck_assert_uint_eq(r.out_len, sizeof(want) - 1);
	cu_expect_records(r.out, r.out_len, in, 2, '\0');
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(line_tag)
{
	char *dir = tu_enter_scratch();
	struct tu_run r;

	write_ab();
	cu_pm(&r, "b", "-u", "line", "--tag", "--order=input", "a", "-", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	const char want[] = "a\ta1\na\ta2\na\ta3\n-\tb1\n-\tb2\n";
	tu_expect_bytes("--tag", r.out, r.out_len, want, strlen(want));
	tu_run_free(&r);

	/* Control characters in names are escaped, backslash included. */
	cu_write("t\tb", "r1\n");
	cu_write("n\nl", "r2\nr3\n");
	cu_write("s\\s", "r4");
	cu_pm(&r, NULL, "-u", "line", "--tag", "--order=input", "t\tb", "n\nl",
	      "s\\s", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	const char esc[] = "t\\tb\tr1\nn\\nl\tr2\nn\\nl\tr3\ns\\\\s\tr4\n";
	tu_expect_bytes("escaped tags", r.out, r.out_len, esc, strlen(esc));
	tu_run_free(&r);

	/* Tags with NUL records, and in arrival order. */
	tu_write_file("z", "p\0q\0", 4);
	cu_pm(&r, NULL, "-u", "line", "-z", "--tag", "--order=input", "z",
	      NULL);
	cu_expect_exit(&r, 0);
	tu_expect_bytes("-z --tag", r.out, r.out_len, "z\tp\0z\tq\0", 8);
	tu_run_free(&r);

	cu_pm(&r, NULL, "-u", "line", "--tag", "-j", "2", "a", "b", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	const struct cu_input tagged[] = {
	    {"a", "a\ta1\na\ta2\na\ta3\n", 15},
	    {"b", "b\tb1\nb\tb2\n", 10},
	};
	cu_expect_records(r.out, r.out_len, tagged, 2, '\n');
	tu_run_free(&r);
	tu_leave_scratch(dir);
}
END_TEST

START_TEST(line_longer_than_buffer)
{
	char *dir = tu_enter_scratch();
	size_t long_len = 700 * 1024;
	char *big = malloc(long_len + 16);
	struct tu_run r;

	/* One record several times the default buffer, between short ones. */
	memcpy(big, "L:start ", 8);
	memset(big + 8, 'l', long_len - 8);
	memcpy(big + long_len, "\nL:end\n", 7);
	tu_write_file("long", big, long_len + 7);
	char shorts[4096];
	size_t n = 0;
	for (int i = 0; i < 300; i++)
		n += (size_t)snprintf(shorts + n, sizeof(shorts) - n, "S:%d\n",
		                      i);
	tu_write_file("short", shorts, n);
	const struct cu_input in[] = {
	    {"long", big, long_len + 7},
	    {"short", shorts, n},
	};
	cu_pm(&r, NULL, "-u", "line", "-j", "2", "long", "short", NULL);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	cu_expect_records(r.out, r.out_len, in, 2, '\n');
	tu_run_free(&r);
	free(big);
	tu_leave_scratch(dir);
}
END_TEST

/*
 * Records of regular inputs into a file or a pipe go from the file to the
 * output unread; only each batch's end is read to find its last record,
 * a page first and twice as much each time after.  Records from nothing
 * to several times that page (and one far longer than the buffer), an
 * empty input, an unterminated end, with "\n" and with "-z": in input
 * order the output is each input's records, whole, one input after the
 * other.
 */
static char *direct_gen(char term, size_t *len)
{
	size_t cap = 2u << 20, n = 0;
	char *d = malloc(cap);
	unsigned char rnd[2];

	ck_assert_ptr_nonnull(d);
	for (size_t seq = 0; n < 900 * 1024; seq++) {
		tu_fill_random(rnd, 2, seq * 7919 + (size_t)term);
		size_t pay = ((size_t)rnd[0] << 8 | rnd[1]) % 20000;
		if (seq % 7 == 0)
			pay %= 40; /* many short ones too */
		if (seq == 30)
			pay = 150 * 1024; /* longer than -B 65536 */
		n += (size_t)sprintf(d + n, "V%zu:", seq);
		for (size_t i = 0; i < pay; i++)
			d[n++] = (char)(i % 61 == 60 && term == '\0'
			                    ? '\n'
			                    : 'a' + (seq + i) % 26);
		d[n++] = term;
	}
	*len = n - 1; /* the last record unterminated */
	return d;
}

START_TEST(line_direct_batches)
{
	char *dir = tu_enter_scratch();
	char term = _i / 2 ? '\0' : '\n';
	bool to_file = _i % 2;
	size_t v_len, w_len = 0, ref_len, got_len;
	char *v = direct_gen(term, &v_len);
	char w[8192];
	struct cu_io io = CU_IO_INIT;
	struct tu_run r;

	for (int i = 0; w_len + 64 < sizeof(w); i++) {
		w_len += (size_t)snprintf(
		    w + w_len, sizeof(w) - w_len, "W%d:%.*s", i, i % 50,
		    "wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww");
		w[w_len++] = term;
	}
	tu_write_file("v", v, v_len);
	tu_write_file("w", w, w_len);
	tu_write_file("e", "", 0);
	tu_write_file("x", "xyz", 3);
	const struct cu_input in[] = {
	    {"v", v, v_len}, {"w", w, w_len}, {"e", "", 0}, {"x", "xyz", 3}};
	char *ref = cu_records_concat(in, 4, term, &ref_len);
	char *args[16];
	size_t n = 0;
	args[n++] = "-u";
	args[n++] = "line";
	args[n++] = "--order=input";
	args[n++] = "-B";
	args[n++] = "65536";
	args[n++] = "-j";
	args[n++] = "3";
	if (term == '\0')
		args[n++] = "-z";
	if (to_file) {
		args[n++] = "-o";
		args[n++] = "out";
	}
	args[n++] = "v";
	args[n++] = "w";
	args[n++] = "e";
	args[n++] = "x";
	cu_pm_argv(&r, &io, args, n);
	cu_expect_exit(&r, 0);
	tu_expect_err(&r, "");
	char *got = to_file ? cu_slurp("out", &got_len) : r.out;
	if (!to_file)
		got_len = r.out_len;
	tu_expect_bytes(to_file ? "-o out" : "| pipe", got, got_len, ref,
	                ref_len);
	if (to_file)
		free(got);
	tu_run_free(&r);
	free(ref);
	free(v);
	tu_leave_scratch(dir);
}
END_TEST

TCase *cli_tcase_lines(void)
{
	TCase *tc = tcase_create("lines");
	tcase_add_loop_test(tc, line_arrival_whole_records, 0, 2);
	tcase_add_loop_test(tc, line_input_order, 0, 2);
	tcase_add_test(tc, line_zero_terminated);
	tcase_add_test(tc, line_tag);
	tcase_add_test(tc, line_longer_than_buffer);
	tcase_add_loop_test(tc, line_direct_batches, 0, 4);
	return tc;
}

/* --------------------------------------------------------------- matrix */

static const char *const mx_locks[] = {"mutex", "rlock",  "sem:1", "sem:4",
                                       "spin",  "ticket", "mcs",   "adaptive"};
static const char *const mx_jobs[] = {"1", "2", "8", "16"};
#define N_MX_LOCKS (sizeof(mx_locks) / sizeof(mx_locks[0]))
#define N_MX_JOBS  (sizeof(mx_jobs) / sizeof(mx_jobs[0]))

/*
 * Thirteen inputs A..M of 0 to 300 KB.  Every record is unique,
 * "<letter>:<seq>:<payload>", so that a record shows where it came from;
 * K holds one record longer than the default buffer, L has no final
 * newline and M is empty.
 */
static const size_t mx_sizes[] = {3000,   7000,  20000,  50000, 100000,
                                  300000, 1000,  150000, 9000,  60000,
                                  250000, 33000, 0};
#define N_MX (sizeof(mx_sizes) / sizeof(mx_sizes[0]))

static char *mx_gen(size_t idx, size_t *len)
{
	size_t target = mx_sizes[idx], n = 0, cap = target + 512, seq = 0;
	char letter = (char)('A' + idx);
	char *d = malloc(cap + 200 * 1024);
	unsigned char rnd[1];

	ck_assert_ptr_nonnull(d);
	while (n < target) {
		n += (size_t)sprintf(d + n, "%c:%06zu:", letter, seq);
		tu_fill_random(rnd, 1, idx * 100003 + seq);
		size_t pay = rnd[0] % 200;
		if (idx == 10 && seq == 40)
			pay = 160 * 1024;
		for (size_t i = 0; i < pay; i++)
			d[n++] = (char)('a' + (seq + i) % 26);
		d[n++] = '\n';
		seq++;
	}
	if (idx == 11)
		n--;
	*len = n;
	return d;
}

static bool is_sem(const char *lock)
{
	return strncmp(lock, "sem:", 4) == 0;
}

START_TEST(integrity_matrix)
{
	char *dir = tu_enter_scratch();
	const char *lock = mx_locks[(size_t)_i / N_MX_JOBS];
	const char *jobs = mx_jobs[(size_t)_i % N_MX_JOBS];
	/*
	 * Half the runs use the smallest buffer, so that records straddle
	 * many reads and some are far longer than the buffer.
	 */
	const char *buffer = (size_t)_i % 2 ? "4096" : NULL;
	struct cu_input in[N_MX];
	char *names[N_MX], *data[N_MX];
	size_t ref_len, lines_len;

	for (size_t i = 0; i < N_MX; i++) {
		size_t len;
		data[i] = mx_gen(i, &len);
		ck_assert_int_gt(asprintf(&names[i], "in%c", (char)('A' + i)),
		                 0);
		tu_write_file(names[i], data[i], len);
		in[i] = (struct cu_input){names[i], data[i], len};
	}
	char *ref = cu_cat(names, N_MX, &ref_len);
	char *ref_lines = cu_records_concat(in, N_MX, '\n', &lines_len);

	for (int line = 0; line <= 1; line++) {
		for (int arrival = 0; arrival <= 1; arrival++) {
			for (int to_file = 0; to_file <= 1; to_file++) {
				char *args[N_MX + 16];
				size_t n = 0, got_len;
				struct cu_io io = CU_IO_INIT;
				struct tu_run r;
				char what[128];

				snprintf(
				    what, sizeof(what),
				    "-l %s -j %s -B %s -u %s --order=%s %s",
				    lock, jobs, buffer ? buffer : "default",
				    line ? "line" : "file",
				    arrival ? "arrival" : "input",
				    to_file ? "-o out" : "| pipe");
				args[n++] = "-l";
				args[n++] = (char *)lock;
				args[n++] = "-j";
				args[n++] = (char *)jobs;
				if (buffer) {
					args[n++] = "-B";
					args[n++] = (char *)buffer;
				}
				args[n++] =
				    line ? "--unit=line" : "--unit=file";
				args[n++] = arrival ? "--order=arrival"
				                    : "--order=input";
				if (to_file) {
					args[n++] = "-o";
					args[n++] = "out";
				}
				for (size_t i = 0; i < N_MX; i++)
					args[n++] = names[i];
				cu_pm_argv(&r, &io, args, n);
				ck_assert_msg(r.status == 0,
				              "%s: exit status %d (signal "
				              "%d); stderr: %s",
				              what, r.status, r.signal, r.err);
				/*
				 * A semaphore of more than one holder over a
				 * pipe is cut to one, with a one-line note;
				 * otherwise nothing is said.
				 */
				if (is_sem(lock) && strcmp(lock, "sem:1") &&
				    !to_file)
					cu_expect_note(&r, what);
				else
					ck_assert_msg(r.err_len == 0,
					              "%s: stderr \"%s\"", what,
					              r.err);
				char *got = r.out;
				got_len = r.out_len;
				if (to_file)
					got = cu_slurp("out", &got_len);
				if (line && arrival)
					cu_expect_records(got, got_len, in,
					                  N_MX, '\n');
				else if (line)
					tu_expect_bytes(what, got, got_len,
					                ref_lines, lines_len);
				else if (arrival)
					cu_expect_permutation(got, got_len, in,
					                      N_MX);
				else
					tu_expect_bytes(what, got, got_len, ref,
					                ref_len);
				ck_assert_msg(got_len ==
				                  (line ? lines_len : ref_len),
				              "%s: %zu bytes", what, got_len);
				if (to_file)
					free(got);
				tu_run_free(&r);
			}
		}
	}
	free(ref);
	free(ref_lines);
	for (size_t i = 0; i < N_MX; i++) {
		free(names[i]);
		free(data[i]);
	}
	tu_leave_scratch(dir);
}
END_TEST

TCase *cli_tcase_matrix(void)
{
	TCase *tc = tcase_create("matrix");
	tcase_add_loop_test(tc, integrity_matrix, 0,
	                    (int)(N_MX_LOCKS * N_MX_JOBS));
	return tc;
}

/* ------------------------------------------------------------- checkers */

/*
 * The arrival-order checkers accept any interleaving, so they are the part
 * of this suite most at risk of accepting anything: each must reject the
 * damage it exists to find.
 */
START_TEST(checkers_reject_damage)
{
	const struct cu_input files[] = {
	    {"x", "X1\nX2\n", 6},
	    {"y", "Y1\nY2", 5},
	    {"e", "", 0},
	};
	const struct {
		const char *out;
		bool good;
	} perm[] = {
	    {"X1\nX2\nY1\nY2", true},        {"Y1\nY2X1\nX2\n", true},
	    {"X1\nY1\nY2X2\n", false},       {"X1\nX2\n", false},
	    {"X1\nX2\nY1\nY2Y1\nY2", false}, {"X1\nX2\nY1\nY3", false},
	};
	const struct {
		const char *out;
		bool good;
	} lines[] = {
	    {"X1\nY1\nX2\nY2\n", true},      {"Y1\nY2\nX1\nX2\n", true},
	    {"X2\nX1\nY1\nY2\n", false},     /* reordered within x */
	    {"X1\nY1\nX2\n", false},         /* Y2 lost */
	    {"X1\nX1\nX2\nY1\nY2\n", false}, /* X1 twice */
	    {"X1\nYX2\n1\nY2\n", false},     /* torn */
	    {"X1\nX2\nY1\nY2", false},       /* Y2 not terminated */
	    {"X1\nX2\nY1Y2\n", false},       /* fused */
	};

	for (size_t i = 0; i < sizeof(perm) / sizeof(perm[0]); i++) {
		char *why = cu_check_permutation(perm[i].out,
		                                 strlen(perm[i].out), files, 3);
		ck_assert_msg((why == NULL) == perm[i].good,
		              "permutation check of case %zu: %s", i,
		              why ? why : "accepted");
		free(why);
	}
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		char *why = cu_check_records(lines[i].out, strlen(lines[i].out),
		                             files, 3, '\n');
		ck_assert_msg((why == NULL) == lines[i].good,
		              "record check of case %zu: %s", i,
		              why ? why : "accepted");
		free(why);
	}
}
END_TEST

TCase *cli_tcase_checkers(void)
{
	TCase *tc = tcase_create("checkers");
	tcase_add_test(tc, checkers_reject_damage);
	return tc;
}
