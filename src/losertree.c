/*
 * A loser tree (Knuth, TAOCP 5.4.1): players sit at the leaves n..2n-1 of
 * an implicit binary tree, each inner node keeps the loser of the match
 * played there, and node 0 the overall winner.  When the winner changes,
 * only the matches on its path to the root are replayed.
 */
#include "sorted.h"

#include <errno.h>
#include <stdlib.h>

int pm_lt_init(struct pm_lt *lt, size_t n,
               bool (*less)(void *ctx, size_t a, size_t b), void *ctx)
{
	size_t *win = NULL;
	int rc = 0;

	lt->n = n;
	lt->less = less;
	lt->ctx = ctx;
	lt->node = calloc(n ? n : 1, sizeof(*lt->node));
	win = calloc(n ? n : 1, sizeof(*win));
	if (!lt->node || !win) {
		rc = -ENOMEM;
		goto out;
	}
	/* win[p]: the winner below inner node p; leaves are players p - n. */
	for (size_t p = n - 1; p >= 1; p--) {
		size_t l = 2 * p, r = 2 * p + 1;
		size_t a = l >= n ? l - n : win[l];
		size_t b = r >= n ? r - n : win[r];
		bool a_first = less(ctx, a, b);
		win[p] = a_first ? a : b;
		lt->node[p] = a_first ? b : a;
	}
	lt->node[0] = n > 1 ? win[1] : 0;
out:
	free(win);
	if (rc < 0)
		pm_lt_free(lt);
	return rc;
}

void pm_lt_free(struct pm_lt *lt)
{
	if (!lt)
		return;
	free(lt->node);
	lt->node = NULL;
}
