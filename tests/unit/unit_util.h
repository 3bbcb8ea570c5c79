/*
 * Small helpers shared by the unit suites: observing other threads without
 * timing them, and a deterministic random source.
 */
#ifndef PMERGE_UNIT_UTIL_H
#define PMERGE_UNIT_UTIL_H

#include <check.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Assertions for hot loops.  Check records the location of every passing
 * ck_assert (a write to its result channel), which in a loop of a hundred
 * thousand checks costs seconds; these cost nothing while they hold and
 * fail the test like ck_assert when they do not.
 */
#define UU_CMP(a, op, b)                                                       \
	do {                                                                   \
		uintmax_t uu_a_ = (a), uu_b_ = (b);                            \
		if (!(uu_a_ op uu_b_))                                         \
			ck_abort_msg("'%s %s %s' failed: %ju vs %ju", #a, #op, \
			             #b, uu_a_, uu_b_);                        \
	} while (0)
#define UU_EQ(a, b) UU_CMP(a, ==, b)
#define UU_LE(a, b) UU_CMP(a, <=, b)
#define UU_GT(a, b) UU_CMP(a, >, b)
#define UU_TRUE(c)                                                             \
	do {                                                                   \
		if (!(c))                                                      \
			ck_abort_msg("'%s' failed", #c);                       \
	} while (0)

/* The kernel id of the calling thread. */
pid_t uu_gettid(void);

/*
 * Waits until thread tid (of this process) sleeps in the kernel.  Tests use
 * this to know that a thread really blocked in a lock or condition variable
 * before they release it, instead of guessing with a sleep.  There is no
 * time limit: the test case timeout catches a thread that never blocks.
 */
void uu_wait_blocked(pid_t tid);

/* xorshift64: a reproducible stream of numbers for generated data. */
uint64_t uu_rand(uint64_t *state);

#endif
