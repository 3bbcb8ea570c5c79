/* Placeholder until the --bench runner lands: never committed. */
#include "pmerge_bench.h"
#include <errno.h>
int pmerge_bench(const struct pmerge_config *cfg,
		 const struct pmerge_lock_spec *locks, size_t n_locks,
		 unsigned runs, bool json, char **report, int *signal)
{
	(void)cfg; (void)locks; (void)n_locks; (void)runs; (void)json;
	*report = NULL; *signal = 0;
	return -ENOSYS;
}
