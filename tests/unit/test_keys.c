/*
 * Sort keys (pm_keydef_parse, pm_keys_spans, pm_keys_compare, pm_numcmp)
 * and the loser tree.  The expected answers are sort's documented rules
 * worked out by hand; the property test of the sorted suite holds the whole
 * against GNU sort itself.
 */
#include "sorted.h"
#include "unit_util.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void keys_of(struct pm_keys *ks, const char *def, int tab)
{
	const char *bad = NULL, *why = NULL;
	const char *defs[] = {def};

	ck_assert_int_eq(
	    pm_keys_init(ks, defs, def ? 1 : 0, tab, false, false, &bad, &why),
	    0);
}

/* The text of key 0 of line under def. */
static char *key_text(const char *def, int tab, const char *line)
{
	struct pm_keys ks;
	uint32_t spans[2];
	char *out;

	keys_of(&ks, def, tab);
	pm_keys_spans(&ks, line, (uint32_t)strlen(line), spans);
	ck_assert_uint_le(spans[0], spans[1]);
	out = strndup(line + spans[0], spans[1] - spans[0]);
	pm_keys_free(&ks);
	return out;
}

#define KEY_IS(def, tab, line, want)                                           \
	do {                                                                   \
		char *k_ = key_text(def, tab, line);                           \
		ck_assert_msg(strcmp(k_, want) == 0,                           \
		              "-k %s of '%s': got '%s', want '%s'", def, line, \
		              k_, want);                                       \
		free(k_);                                                      \
	} while (0)

START_TEST(test_parse_errors)
{
	struct pm_keydef k;
	const char *why = NULL;
	static const char *const bad[] = {
	    "",   "0",    "1.0", "x",    "1,0",   "1,",
	    "1.", "1,2.", "1f",  "1,2M", "1.2.3", "-1",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		ck_assert_msg(pm_keydef_parse(bad[i], &k, &why) == -EINVAL,
		              "'%s' was accepted", bad[i]);
		ck_assert_ptr_nonnull(why);
	}
	ck_assert_int_eq(pm_keydef_parse("2.3bn,4.5br", &k, &why), 0);
	ck_assert_uint_eq(k.sword, 1);
	ck_assert_uint_eq(k.schar, 2);
	ck_assert_uint_eq(k.eword, 3);
	ck_assert_uint_eq(k.echar, 5);
	ck_assert(k.skip_start_blanks && k.skip_end_blanks);
	ck_assert(k.numeric && k.reverse);
	ck_assert_int_eq(pm_keydef_parse("1", &k, &why), 0);
	ck_assert_uint_eq(k.sword, SIZE_MAX);
	ck_assert_uint_eq(k.eword, SIZE_MAX);
	ck_assert_int_eq(pm_keydef_parse("3,3.0", &k, &why), 0);
	ck_assert_uint_eq(k.echar, 0);
}
END_TEST

START_TEST(test_fields_blank_separated)
{
	/* Without -t a field keeps its leading blanks. */
	KEY_IS("2,2", -1, "a  bc d", "  bc");
	KEY_IS("2b,2", -1, "a  bc d", "bc");
	KEY_IS("2", -1, "a  bc d", "  bc d");
	/* Characters count from the field's start, its blanks included,
	 * unless b says otherwise for that end. */
	KEY_IS("2.2,2.3", -1, "a xyz w", "xy");
	KEY_IS("2.2,2.3b", -1, "a xyz w", "xyz");
	KEY_IS("2.2b,2.3b", -1, "a xyz w", "yz");
	KEY_IS("2.2b,2.3", -1, "a   xyz w", "");
	KEY_IS("1,1", -1, "  lead x", "  lead");
	KEY_IS("3,3", -1, "only two", "");
	KEY_IS("2,1", -1, "a b", "");     /* ends before it starts: empty */
	KEY_IS("1.9,1", -1, "abc d", ""); /* past the field: clamped */
	KEY_IS("1.2", -1, "abc d", "bc d");
	KEY_IS("1,1.2", -1, "abc", "ab");
	KEY_IS("2,2", -1, "a\tb\tc", "\tb");
}
END_TEST

START_TEST(test_fields_with_separator)
{
	KEY_IS("2,2", ',', "a,b c,d", "b c");
	KEY_IS("2,2", ',', "a,,d", "");
	KEY_IS("3", ',', "a,b,c,d", "c,d");
	KEY_IS("2.2,3.1", ',', "a,xyz,w", "yz,w");
	KEY_IS("2.2,2", ',', "a,xyz,w", "yz");
	KEY_IS("2,2", ',', "a, b", " b");
	KEY_IS("2b,2", ',', "a, b", "b");
	KEY_IS("4,4", ',', "a,b", "");
	KEY_IS("1,1", ',', ",x", "");
}
END_TEST

START_TEST(test_numcmp)
{
	static const struct {
		const char *a, *b;
		int sign;
	} cases[] = {
	    {"1", "2", -1},        {"10", "9", 1},
	    {"-1", "1", -1},       {"-10", "-9", -1},
	    {"0", "-0", 0},        {"007", "7", 0},
	    {"1.5", "1.25", 1},    {"1.50", "1.5", 0},
	    {".5", "0.5", 0},      {"-.5", "0", -1},
	    {"abc", "0", 0},       {"", "-", 0},
	    {"  3", "3", 0},       {"3x", "3y", 0},
	    {"+3", "0", 0},        {"1,000", "1", 0},
	    {"-0.0", "0", 0},      {"2.", "2", 0},
	    {"-1.5", "-1.25", -1}, {"99999999999999999999", "1e3", 1},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int d = pm_numcmp(cases[i].a, strlen(cases[i].a), cases[i].b,
		                  strlen(cases[i].b));
		int sign = (d > 0) - (d < 0);
		ck_assert_msg(sign == cases[i].sign, "'%s' vs '%s': %d",
		              cases[i].a, cases[i].b, d);
		d = pm_numcmp(cases[i].b, strlen(cases[i].b), cases[i].a,
		              strlen(cases[i].a));
		ck_assert_int_eq((d > 0) - (d < 0), -cases[i].sign);
	}
	/* The key's end bounds the number: "12|3" with a one-byte key. */
	ck_assert_int_eq(pm_numcmp("123", 1, "2", 1) < 0, 1);
}
END_TEST

static int cmp_lines(const struct pm_keys *ks, const char *a, const char *b)
{
	uint32_t sa[8], sb[8];
	uint32_t la = (uint32_t)strlen(a), lb = (uint32_t)strlen(b);

	pm_keys_spans(ks, a, la, sa);
	pm_keys_spans(ks, b, lb, sb);
	int d = pm_keys_compare(ks, a, la, sa, b, lb, sb);
	return (d > 0) - (d < 0);
}

START_TEST(test_compare_and_inheritance)
{
	struct pm_keys ks;
	const char *bad, *why;
	const char *two[] = {"2,2", "1,1r"};
	const char *own[] = {"1,1r"};

	/* No key: the whole line, bytewise, without its terminator. */
	keys_of(&ks, NULL, -1);
	ck_assert_int_eq(cmp_lines(&ks, "a", "a b"), -1);
	ck_assert_int_eq(cmp_lines(&ks, "a\tb", "a"), 1);
	ck_assert_int_eq(cmp_lines(&ks, "\xff", "a"), 1); /* unsigned */
	pm_keys_free(&ks);
	/* -n -r without -k: one numeric key, reversed. */
	ck_assert_int_eq(pm_keys_init(&ks, NULL, 0, -1, true, true, &bad, &why),
	                 0);
	ck_assert_int_eq(cmp_lines(&ks, "10", "9"), -1);
	ck_assert_int_eq(cmp_lines(&ks, "x", "0"), 0);
	pm_keys_free(&ks);
	/* Keys without options take -n; a key with r keeps its own. */
	ck_assert_int_eq(pm_keys_init(&ks, two, 2, -1, true, false, &bad, &why),
	                 0);
	ck_assert(ks.defs[0].numeric && !ks.defs[0].reverse);
	ck_assert(!ks.defs[1].numeric && ks.defs[1].reverse);
	ck_assert_int_eq(cmp_lines(&ks, "b 10", "a 9"), 1);
	ck_assert_int_eq(cmp_lines(&ks, "a 9", "b 9"), 1); /* 2nd key r */
	ck_assert_int_eq(cmp_lines(&ks, "a 9", "a 09"), 0);
	pm_keys_free(&ks);
	/* -r applies to a key without options. */
	ck_assert_int_eq(pm_keys_init(&ks, own, 1, -1, false, true, &bad, &why),
	                 0);
	ck_assert_int_eq(cmp_lines(&ks, "a", "b"), 1);
	pm_keys_free(&ks);
	ck_assert_int_eq(pm_keys_init(&ks, (const char *[]){"0"}, 1, -1, false,
	                              false, &bad, &why),
	                 -EINVAL);
	ck_assert_str_eq(bad, "0");
}
END_TEST

/* ------------------------------------------------------------ loser tree */

struct players {
	const int *head; /* each player's current value */
	const bool *done;
};

static bool players_less(void *ctx, size_t a, size_t b)
{
	const struct players *p = ctx;

	ck_assert_uint_ne(a, b);
	if (p->done[a] || p->done[b])
		return p->done[b] && (!p->done[a] || a < b);
	return p->head[a] != p->head[b] ? p->head[a] < p->head[b] : a < b;
}

/* Merges n sorted runs with the tree; checks order and tie stability. */
static void merge_runs(size_t n, uint64_t seed)
{
	enum { LEN = 50 };
	int *runs = malloc(n * LEN * sizeof(int));
	int *head = calloc(n, sizeof(int));
	bool *done = calloc(n, sizeof(bool));
	size_t *pos = calloc(n, sizeof(size_t));
	struct players p = {head, done};
	struct pm_lt lt;
	uint64_t rs = seed;
	int last = -1;
	size_t last_run = 0, out = 0;

	for (size_t r = 0; r < n; r++) {
		int v = 0;
		for (size_t i = 0; i < LEN; i++) {
			v += (int)(uu_rand(&rs) % 3); /* many ties */
			runs[r * LEN + i] = v;
		}
		head[r] = runs[r * LEN];
	}
	ck_assert_int_eq(pm_lt_init(&lt, n, players_less, &p), 0);
	for (;;) {
		size_t w = pm_lt_winner(&lt);
		if (done[w])
			break;
		UU_TRUE(head[w] > last || (head[w] == last && w >= last_run));
		last = head[w];
		last_run = w;
		out++;
		if (++pos[w] == LEN)
			done[w] = true;
		else
			head[w] = runs[w * LEN + pos[w]];
		pm_lt_replay(&lt);
	}
	ck_assert_uint_eq(out, n * LEN);
	pm_lt_free(&lt);
	free(runs);
	free(head);
	free(done);
	free(pos);
}

START_TEST(test_loser_tree)
{
	static const size_t sizes[] = {1, 2, 3, 5, 8, 13, 64, 100, 257};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		merge_runs(sizes[i], 0x9e3779b97f4a7c15ull + i);
}
END_TEST

static Suite *keys_suite(void)
{
	Suite *s = suite_create("keys");
	TCase *tc = tcase_create("keys");
	tcase_add_test(tc, test_parse_errors);
	tcase_add_test(tc, test_fields_blank_separated);
	tcase_add_test(tc, test_fields_with_separator);
	tcase_add_test(tc, test_numcmp);
	tcase_add_test(tc, test_compare_and_inheritance);
	tcase_add_test(tc, test_loser_tree);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(keys_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
