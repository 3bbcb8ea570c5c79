/*
 * -d in the workers: the order inputs are taken in, and the temporary files
 * that hold decoded bytes waiting for their turn (--order=input).
 *
 * In --order=input a worker that decodes an input before that input's turn
 * keeps the first buffer in memory; when the decoded input is longer, it
 * goes on decoding into a spill file instead of waiting, and the spill is
 * copied in at the input's turn by the kernel (copy_file_range into a file,
 * splice into a pipe; read and write where neither works), and then the
 * rest is decoded straight to the output.  So the workers decode different
 * inputs at the same time in every order mode, memory stays at one buffer per
 * worker, and the disk holds at most what the workers decoded ahead.  Inputs
 * are still taken in command-line order there: a worker holding an input whose
 * predecessors nobody has taken yet would wait for ever.  In --order=arrival,
 * where nobody waits for a turn, the largest inputs are taken first.
 */
#include "decode.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct sized {
	uint64_t size;
	size_t idx;
};

static int larger_first(const void *pa, const void *pb)
{
	const struct sized *a = pa, *b = pb;

	if (a->size != b->size)
		return a->size > b->size ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

int pm_decode_plan(struct pm_merge *m)
{
	const struct pmerge_config *cfg = m->cfg;
	size_t n = cfg->n_inputs;
	struct sized *by = NULL;
	int rc = -ENOMEM;

	m->decoded = calloc(n ? n : 1, sizeof(*m->decoded));
	if (!m->decoded)
		goto out;
	for (size_t i = 0; i < n; i++)
		m->decoded[i].name = cfg->inputs[i];
	rc = 0;
	if (m->order != PMERGE_ORDER_ARRIVAL || n < 2)
		goto out;
	rc = -ENOMEM;
	by = malloc(n * sizeof(*by));
	m->schedule = malloc(n * sizeof(*m->schedule));
	if (!by || !m->schedule)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct stat st;

		/* Unknown sizes (streams, errors) go last, in their order. */
		by[i].idx = i;
		by[i].size = strcmp(cfg->inputs[i], "-") != 0 &&
		                     stat(cfg->inputs[i], &st) == 0 &&
		                     S_ISREG(st.st_mode)
		                 ? (uint64_t)st.st_size
		                 : 0;
	}
	qsort(by, n, sizeof(*by), larger_first);
	for (size_t i = 0; i < n; i++)
		m->schedule[i] = by[i].idx;
	rc = 0;
out:
	free(by);
	return rc;
}

int pm_spill_open(const struct pm_sink *s)
{
	const char *tmp = getenv("TMPDIR");
	char *dir = NULL, *name = NULL;
	int fd;

	/* Beside the output, whose file system has room for the output. */
	if (s->kind == PM_SINK_REPLACE && s->target)
		dir = pm_dir_of(s->target);
	else if (s->kind == PM_SINK_APPEND && s->name)
		dir = pm_dir_of(s->name);
	else
		dir = strdup(tmp && *tmp ? tmp : "/tmp");
	if (!dir)
		return -ENOMEM;
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0 && asprintf(&name, "%s/.pmerge-spill-XXXXXX", dir) >= 0) {
		/* No O_TMPFILE here: a name that lives only for a moment. */
		fd = mkostemp(name, O_CLOEXEC);
		if (fd >= 0)
			unlink(name);
		free(name);
	}
	if (fd < 0)
		fd = -errno;
	free(dir);
	return fd;
}
