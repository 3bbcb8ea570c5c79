/*
 * Rendering what a finished merge knows about itself: --stats as text or
 * JSON (the keys README.md documents), the -v summary line, and the byte
 * and duration formats shared by the progress line and --bench.
 */
#ifndef PMERGE_REPORT_H
#define PMERGE_REPORT_H

#include "pmerge.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* "file"/"line", "input"/"arrival": the names the options and reports use. */
const char *unit_name(enum pmerge_unit u);
const char *order_name(enum pmerge_order o);

/* A byte count for people: "1.50 MiB".  Returns buf. */
const char *format_bytes(uint64_t bytes, char *buf, size_t size);
/* A duration for people: "850 ns", "12.5 us", "3.1 ms", "2.25 s". */
const char *format_ns(uint64_t ns, char *buf, size_t size);

/* Writes the "lock_stats" JSON object to f (shared with --bench). */
void report_json_lock(FILE *f, const struct pmerge_lock_result *l);

/*
 * The statistics as several lines of text, or as one JSON object, in a
 * malloc'ed string the caller frees.  NULL when out of memory.
 */
char *report_stats_text(const struct pmerge_result *r);
char *report_stats_json(const struct pmerge_result *r);

/*
 * --stats: writes the statistics to file (NULL: standard error).  Returns
 * 0, or 1 after a message when they could not be written.
 */
int report_stats(const struct pmerge_result *r, bool json, const char *file);

/*
 * Before the merge: refuses a --stats-file (file) that names the -o FILE,
 * an input or the --files0-from list, which writing it would destroy.
 * Returns 0, or 2 (bad usage) after a message naming which.  A name of a
 * descriptor (/dev/stderr) or of the file standard error is open on is
 * fine: the statistics are written through that descriptor.
 */
int report_check_stats_file(const struct pmerge_config *cfg,
                            const char *files0_from, const char *file);

/* -v: the one-line summary, as a message. */
void report_summary(const struct pmerge_result *r);

#endif /* PMERGE_REPORT_H */
