/*
 * pmerge --bench: the same merge under several lock strategies, timed and
 * verified, with the lock statistics of each side by side.
 */
#ifndef PMERGE_BENCH_H
#define PMERGE_BENCH_H

#include "pmerge.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Runs the merge described by cfg once as a warm-up and then runs times
 * under each strategy in locks[0, n_locks) (locks NULL: mutex, rlock, sem:1,
 * sem:<jobs>, spin), verifying every run's output (deterministic orders:
 * the checksum of the reference; arrival order: byte count and every
 * input/record intact).  The output goes to cfg->output when set (left
 * holding the last run's result) or to a temporary file in $TMPDIR that is
 * removed, also when a signal stops the benchmark.
 *
 * *report receives a malloc'ed text: a table plus a summary line, or with
 * json one JSON document (DESIGN §3).  The caller frees it.
 *
 * Returns 0 when every run succeeded and verified; -EIO when a run failed
 * verification or an input failed; -EINTR when a signal stopped it (*signal
 * says which: the caller re-raises it); another -errno when the output
 * failed.  Called on one thread, which becomes the loop thread of each run.
 * cfg->cb.bench_step reports the runs as they start.
 */
int pmerge_bench(const struct pmerge_config *cfg,
                 const struct pmerge_lock_spec *locks, size_t n_locks,
                 unsigned runs, bool json, char **report, int *signal);

#ifdef __cplusplus
}
#endif

#endif /* PMERGE_BENCH_H */
