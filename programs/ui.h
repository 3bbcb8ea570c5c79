/*
 * What pmerge shows on standard error: GNU-style messages, names quoted for
 * them, and the progress line.  Any thread may call these functions: one
 * mutex keeps a message and the progress line from mixing.
 */
#ifndef PMERGE_UI_H
#define PMERGE_UI_H

#include "pmerge.h"
#include "quote.h"

#include <stdbool.h>
#include <stddef.h>

/* Set once by main() before the merge starts; read-only afterwards. */
struct ui_options {
	bool live;  /* a progress line redrawn in place (a terminal) */
	bool quiet; /* -q: no notes or warnings */
};

void ui_init(const struct ui_options *opt);

/* One diagnostic line, "pmerge: " prefixed, after clearing the progress;
 * never cut short, whatever its length (names go through pm_quote()). */
void ui_message(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "pmerge: NAME: what", the name quoted as pm_quote() does. */
void ui_name_message(const char *name, const char *what);

/* Writes text as it is to standard error, after clearing the progress. */
int ui_write(const char *text, size_t len);
/* The same to descriptor fd (the progress is cleared when fd is 2). */
int ui_write_fd(int fd, const char *text, size_t len);


/*
 * The engine's callbacks (user unused): input errors and notes as
 * messages, snapshots as the progress line or a status line, SIGWINCH as a
 * new terminal width.
 */
void ui_on_input_error(void *user, const char *name, int err);
void ui_on_input_decode_error(void *user, const char *name, const char *reason);
void ui_on_note(void *user, enum pmerge_note what, const char *detail);
void ui_on_disorder(void *user, const char *name, uint64_t line, bool fatal);
void ui_on_progress(void *user, const struct pmerge_progress *p);
void ui_on_status(void *user, const struct pmerge_progress *p);
void ui_on_resize(void *user);
/* Fewer workers than planned: a note, unless -q. */
void ui_on_workers_reduced(void *user, unsigned started, unsigned wanted,
                           int err);
/* pmerge_run() could not begin the merge: what failed, and why (err). */
void ui_setup_failure(const struct pmerge_result *r, int err);
/* -F's notes in GNU tail -F's words (user: the merge's pmerge_config). */
void ui_on_follow(void *user, enum pmerge_follow_event ev, const char *name,
                  int err);

/*
 * --bench: which run is going on, in place of the progress line (run 0 is
 * the warm-up); lock NULL clears it.  Only on a live terminal.
 */
void ui_bench_step(const char *lock, unsigned run, unsigned runs);

/*
 * Formats a progress snapshot into buf (NUL-terminated, no newline) for a
 * terminal of the given width (live == true: with bar and ETA when the total
 * is known) or for a log (live == false: plain text).  Returns the length.
 */
size_t ui_progress_format(const struct pmerge_progress *p, unsigned width,
                          bool live, char *buf, size_t size);

#endif /* PMERGE_UI_H */
