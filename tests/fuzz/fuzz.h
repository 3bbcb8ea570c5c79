/*
 * Shared by the fuzz harnesses and their replay driver.  A harness checks
 * invariants with FZ_CHECK: a broken one aborts, which libFuzzer reports as
 * a crash with the input that caused it, and the replay as a failed test.
 */
#ifndef PMERGE_FUZZ_H
#define PMERGE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FZ_CHECK(cond)                                                         \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: invariant broken: %s\n",       \
			        __FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
