/*
 * Names in messages (programs/quote.c): quoted as GNU tools quote them.
 * GNU cat is the oracle for every byte 1..255, alone and inside a name,
 * in the C locale and in C.UTF-8; bash proves that what is shown reads
 * back as the very name; a table pins the forms the manual shows.
 */
#include "quote.h"
#include "tutil.h"

#include <check.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Names of one byte b, and "a" b "z", for every b in 1..255. */
#define N_NAMES 510

static char names[N_NAMES][4];

static void make_names(void)
{
	for (int b = 1; b < 256; b++) {
		snprintf(names[2 * (b - 1)], 4, "%c", b);
		snprintf(names[2 * (b - 1) + 1], 4, "a%cz", b);
	}
}

/*
 * What GNU cat shows for each name under the locale, one per line of its
 * standard error: "cat: NAME: No such file or directory" (". and "/":
 * "Is a directory").  Returns the names' quoted forms in order
 * (malloc'ed, into out).
 */
static void cat_quotes(const char *locale, char **out)
{
	static const char *const tails[] = {": No such file or directory",
	                                    ": Is a directory"};
	char *argv[N_NAMES + 3];
	struct tu_run r;
	char *dir = tu_enter_scratch(), *p;
	int argc = 2;

	/* "-" is cat's standard input (/dev/null here): it says nothing of
	 * that name, which GNU tools show as it is ("cat: -: ..."). */
	argv[0] = "cat";
	argv[1] = "--";
	for (int i = 0; i < N_NAMES; i++)
		if (strcmp(names[i], "-") != 0)
			argv[argc++] = names[i];
	argv[argc] = NULL;
	ck_assert_int_eq(setenv("LC_ALL", locale, 1), 0);
	tu_run_argv(&r, argv, NULL, 30);
	ck_assert_int_eq(r.status, 1);
	p = r.err;
	for (int i = 0; i < N_NAMES; i++) {
		if (strcmp(names[i], "-") == 0) {
			out[i] = strdup("-");
			continue;
		}
		char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : 0, t = 0;

		ck_assert_msg(nl && strncmp(p, "cat: ", 5) == 0,
		              "cat's message %d: %.80s", i, p);
		for (size_t k = 0; k < 2 && !t; k++) {
			size_t tl = strlen(tails[k]);
			if (len > 5 + tl && !memcmp(nl - tl, tails[k], tl))
				t = tl;
		}
		ck_assert_msg(t, "cat's message %d: %.80s", i, p);
		out[i] = strndup(p + 5, len - 5 - t);
		p = nl + 1;
	}
	tu_run_free(&r);
	tu_leave_scratch(dir);
}

/* Every byte, alone and between two letters, quoted exactly as GNU cat
 * quotes it in its messages. */
START_TEST(every_byte_as_gnu_cat)
{
	static const char *const locales[] = {"C", "C.UTF-8"};
	const char *loc = locales[_i];
	char *want[N_NAMES];

	/* glibc has C.UTF-8 built in (Debian 12 and later). */
	ck_assert_msg(setlocale(LC_CTYPE, loc), "no %s locale", loc);
	make_names();
	cat_quotes(loc, want);
	for (int i = 0; i < N_NAMES; i++) {
		char *got = pm_quote(names[i]);

		ck_assert_msg(strcmp(got, want[i]) == 0,
		              "%s: byte %d%s: got [%s], GNU cat [%s]", loc,
		              i / 2 + 1, i % 2 ? " inside a name" : "", got,
		              want[i]);
		pm_quote_free(got);
		free(want[i]);
	}
}
END_TEST

/* What is shown is what a shell reads back as the name itself: bash
 * prints each quoted form as one word, NUL-ended. */
START_TEST(reads_back_in_bash)
{
	static const char *const fixed[] = {
	    "x\033[31my",  "'",    "''",     "a'b",
	    "a'b\n",       "\n'",  "'\001'", "it's a \"test\"",
	    "$(rm -rf ~)", "`id`", "a\\b",   "\xc3",
	    "é'\x7f",
	};
	size_t n_fixed = sizeof(fixed) / sizeof(fixed[0]);
	char *script = NULL, *want = NULL;
	size_t slen = 0, scap = 0, wlen = 0, wcap = 0;
	char mixed[64][12];
	uint64_t seed = 42;
	struct tu_run r;

	ck_assert_ptr_nonnull(setlocale(LC_CTYPE, "C.UTF-8"));
	make_names();
	for (int i = 0; i < 64; i++) {
		/* Random bytes 1..255, so that runs of escapes meet quotes. */
		for (int k = 0; k < 11; k++) {
			seed = seed * 6364136223846793005ull +
			       1442695040888963407ull;
			mixed[i][k] = (char)(1 + (seed >> 33) % 255);
		}
		mixed[i][11] = '\0';
	}
	tu_append(&script, &slen, &scap, "printf '%s\\0'", 13);
	for (size_t i = 0; i < N_NAMES + n_fixed + 64; i++) {
		const char *name = i < N_NAMES ? names[i]
		                   : i < N_NAMES + n_fixed
		                       ? fixed[i - N_NAMES]
		                       : mixed[i - N_NAMES - n_fixed];
		char *q = pm_quote(name);

		tu_append(&script, &slen, &scap, " ", 1);
		tu_append(&script, &slen, &scap, q, strlen(q));
		tu_append(&want, &wlen, &wcap, name, strlen(name) + 1);
		pm_quote_free(q);
	}
	tu_append(&script, &slen, &scap, "", 1);
	char *argv[] = {"bash", "-c", script, NULL};
	tu_run_argv(&r, argv, NULL, 30);
	ck_assert_msg(r.status == 0, "bash: %s", r.err);
	tu_expect_bytes("bash's reading", r.out, r.out_len, want, wlen);
	tu_run_free(&r);
	free(script);
	free(want);
}
END_TEST

/* The forms the manual shows, and what the locale changes. */
START_TEST(forms)
{
	static const struct {
		const char *loc, *name, *want;
		bool always;
	} cases[] = {
	    {"C", "a.log", "a.log", false},
	    {"C", "a.log", "'a.log'", true},
	    {"C", "", "''", false},
	    {"C", "x\033[31my", "'x'$'\\033''[31my'", false},
	    {"C", "a b", "'a b'", false},
	    {"C", "a'b", "\"a'b\"", false},
	    {"C", "a'b$", "'a'\\''b$'", false},
	    {"C", "a\n", "'a'$'\\n'", false},
	    {"C", "\t\a\b\f\r\v", "''$'\\t\\a\\b\\f\\r\\v'", false},
	    {"C", "~a", "'~a'", false},
	    {"C", "a~", "a~", false},
	    {"C", "-", "-", false},
	    {"C", "é", "''$'\\303\\251'", false},
	    {"C.UTF-8", "é", "é", false},
	    {"C.UTF-8", "é'", "\"é'\"", false},
	    {"C.UTF-8", "\xe2\x80\xa8", "''$'\\342\\200\\250'", false},
	    {"C.UTF-8", "a\xc3z", "'a'$'\\303''z'", false},
	    {"C.UTF-8", "\xc3\xa9\xc3", "'é'$'\\303'", false},
	};
	char *q;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_msg(setlocale(LC_CTYPE, cases[i].loc), "no %s locale",
		              cases[i].loc);
		q = cases[i].always ? pm_quote_always(cases[i].name)
		                    : pm_quote(cases[i].name);
		ck_assert_msg(strcmp(q, cases[i].want) == 0,
		              "case %zu (%s): got [%s], want [%s]", i,
		              cases[i].loc, q, cases[i].want);
		pm_quote_free(q);
	}
	/* A long name is quoted whole. */
	char *lng = malloc(100001);
	memset(lng, '\033', 100000);
	lng[100000] = '\0';
	q = pm_quote(lng);
	ck_assert_uint_eq(strlen(q), 5 + 4 * 100000);
	ck_assert(strncmp(q, "''$'\\033\\033", 12) == 0);
	ck_assert_str_eq(q + strlen(q) - 5, "\\033'");
	pm_quote_free(q);
	free(lng);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("quote");
	TCase *t = tcase_create("quote");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(t, every_byte_as_gnu_cat, 0, 2);
	tcase_add_test(t, reads_back_in_bash);
	tcase_add_test(t, forms);
	suite_add_tcase(s, t);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
