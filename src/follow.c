/*
 * -F: following names, as tail -F does.
 *
 * Each followed name is a small state machine run by the stream thread
 * whenever the name may have changed (pm_follow_check):
 *
 *   missing --open--> following --stat shows another file--> following
 *      ^                 |   (the old file becomes an orphan: it is read to
 *      |                 |    its end first and on for a while, since its
 *      |                 |    writer may still be writing to it)
 *      +---- never ------+--stat fails--> gone (the old file is still
 *            closes                      read; a new one under the name
 *                                        is "appeared")
 *
 * and a file that shrank below what was read was truncated (copytruncate):
 * reading goes on from its new start.  A partial record is held until its
 * terminator arrives; a truncation, an orphan's end, or the stop writes it
 * out with a terminator added.
 *
 * What "may have changed" is learnt on the loop thread: uv_fs_event on each
 * name's directory (a watch on the file itself would stop at its first
 * rename, and a name that does not exist yet has nothing to watch), and a
 * stat poll timer for the file systems that send no events (NFS, FUSE) and
 * for anything the events miss.
 */
#include "streams.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void tell(struct pm_streams *s, enum pmerge_follow_event ev,
                 const char *name, int err)
{
	const struct pmerge_callbacks *cb = &s->m->cfg->cb;

	if (cb->follow)
		cb->follow(cb->user, ev, name, err);
}

/* Reads what is new in st; a read error ends this name (reported once). */
static void drain(struct pm_streams *s, struct pm_stream *st)
{
	struct pm_follow *f = st->orphan ? NULL : st->follow;
	ssize_t rc = pm_streams_drain(s, st);

	if (rc >= 0 || atomic_load(&s->m->output_error) != 0)
		return;
	pm_streams_failed(s, st, (int)rc);
	pm_streams_flush(s, st);
	pm_streams_close(s, st);
	if (f)
		f->done = true;
}

static bool is_output(struct pm_streams *s, const struct stat *sb)
{
	const struct pm_sink *k = &s->m->sink;

	return (k->regular || k->behind_regular) && S_ISREG(sb->st_mode) &&
	       sb->st_dev == k->dev && sb->st_ino == k->ino;
}

/* Starts reading fd, which the name now leads to. */
static void take_file(struct pm_streams *s, struct pm_follow *f, int fd,
                      bool own_fd, bool initial)
{
	const struct pmerge_config *cfg = s->m->cfg;
	struct pm_stream *st;
	struct stat sb;
	int rc;

	if (fstat(fd, &sb) < 0 || S_ISDIR(sb.st_mode) || is_output(s, &sb)) {
		rc = S_ISDIR(sb.st_mode) ? EISDIR
		     : is_output(s, &sb) ? PMERGE_ERR_INPUT_IS_OUTPUT
		                         : errno;
		goto fail;
	}
	st = pm_streams_new(s, f->idx, fd, own_fd, &sb);
	if (!st) {
		rc = ENOMEM;
		goto fail;
	}
	st->follow = f;
	if (st->regular && !own_fd) {
		off_t cur = lseek(fd, 0, SEEK_CUR);
		st->offset = cur > 0 ? (uint64_t)cur : 0;
	}
	if (initial && cfg->tail && st->regular &&
	    (!st->rd ||
	     pm_source_tail_decoded(fd, st->offset, (uint64_t)sb.st_size,
	                            cfg->tail_lines, s->m->term, s->w.buf,
	                            s->w.bufsize, &st->skip) == 0)) {
		uint64_t off;
		rc = pm_source_tail_offset(fd, (uint64_t)sb.st_size,
		                           cfg->tail_lines, s->m->term,
		                           s->w.buf, s->w.bufsize, &off);
		if (rc == 0 && off > st->offset)
			st->offset = off;
	}
	rc = pm_streams_add(s, st);
	if (rc < 0) {
		st->follow = NULL;
		st->fd = -1;
		pm_streams_close(s, st);
		rc = -rc;
		goto fail;
	}
	if (f->cur) {
		/* Rotated: the old file is read to its end now, and for a
		 * while on, as an orphan of no name. */
		drain(s, f->cur);
		if (f->cur) {
			f->cur->orphan = true;
			s->n_orphans++;
			f->cur->quiet_since = pm_now_ns();
		}
		tell(s,
		     f->gone ? PMERGE_FOLLOW_APPEARED : PMERGE_FOLLOW_REPLACED,
		     f->name, 0);
	} else if (!initial) {
		tell(s, PMERGE_FOLLOW_APPEARED, f->name, 0);
	}
	f->cur = st;
	f->missing = f->gone = false;
	if (st->regular)
		drain(s, st);
	return;
fail:
	if (own_fd)
		close(fd);
	pm_input_failed(s->m, f->name, rc);
	f->done = true;
}

void pm_follow_check(struct pm_streams *s, struct pm_follow *f, bool initial)
{
	struct stat sb;

	if (f->done)
		return;
	if (f->is_stdin) {
		/* Standard input has no name to follow: read it as it is. */
		if (initial)
			take_file(s, f, STDIN_FILENO, false, true);
		else if (f->cur && f->cur->regular)
			drain(s, f->cur);
		return;
	}
	if (f->cur && f->cur->regular)
		drain(s, f->cur);
	if (f->done)
		return;
	if (stat(f->name, &sb) < 0) {
		int err = errno;
		if (f->cur && !f->gone) {
			f->gone = true;
			tell(s, PMERGE_FOLLOW_GONE, f->name, err);
		} else if (!f->cur && !f->missing) {
			f->missing = true;
			tell(s, PMERGE_FOLLOW_MISSING, f->name, err);
		}
		return;
	}
	if (f->cur && sb.st_dev == f->cur->dev && sb.st_ino == f->cur->ino) {
		f->gone = false;
		return;
	}
	int fd = open(f->name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (!f->cur && !f->missing) {
			f->missing = true;
			tell(s, PMERGE_FOLLOW_MISSING, f->name, errno);
		}
		return;
	}
	take_file(s, f, fd, true, initial);
}

void pm_follow_orphans(struct pm_streams *s)
{
	uint64_t now;

	/* Called after every batch of events: with no orphan (the usual
	 * case) it need not walk every open stream. */
	if (s->n_orphans == 0)
		return;
	now = pm_now_ns();
	for (struct pm_stream *st = s->active, *next; st; st = next) {
		next = st->next;
		if (!st->orphan || !st->regular)
			continue;
		ssize_t n = pm_streams_drain(s, st);
		if (n > 0) {
			st->quiet_since = now;
		} else if (n < 0) {
			pm_streams_failed(s, st, (int)n);
			if (atomic_load(&s->m->output_error) == 0)
				pm_streams_flush(s, st);
			pm_streams_close(s, st);
		} else if (now - st->quiet_since >= s->linger_ns) {
			/* Its writer has moved on: this is its end. */
			pm_streams_end(s, st);
			pm_streams_close(s, st);
		}
	}
}

/* ------------------------------------------------- loop thread: watches */

/* One watched directory and the names in it, sorted by last component. */
struct watch_dir {
	uv_fs_event_t h;
	struct pm_watch *w;
	char *path;
	size_t *names; /* into pm_watch.order */
	size_t n_names;
	bool on;
};

struct pm_watch {
	struct pm_streams *s;
	uv_timer_t timer;
	bool timer_on;
	struct watch_dir *dirs;
	size_t n_dirs;
	size_t *order; /* the followed names, by directory then base */
};

/* The directory part of name: "." when it has none. malloc'ed. */
static char *dir_of(const char *name)
{
	const char *slash = strrchr(name, '/');

	if (!slash)
		return strdup(".");
	if (slash == name)
		return strdup("/");
	return strndup(name, (size_t)(slash - name));
}

/* The length of name's directory part (its base's offset). */
static size_t dir_len(const struct pm_follow *f)
{
	return (size_t)(f->base - f->name);
}

static bool same_dir(const struct pm_follow *x, const struct pm_follow *y)
{
	return dir_len(x) == dir_len(y) &&
	       memcmp(x->name, y->name, dir_len(x)) == 0;
}

static int by_dir_base(const void *a, const void *b, void *arg)
{
	const struct pm_streams *s = arg;
	const struct pm_follow *x = &s->follow[*(const size_t *)a];
	const struct pm_follow *y = &s->follow[*(const size_t *)b];
	size_t lx = dir_len(x), ly = dir_len(y);
	int c = memcmp(x->name, y->name, lx < ly ? lx : ly);

	if (c == 0 && lx != ly)
		c = lx < ly ? -1 : 1;
	return c ? c : strcmp(x->base, y->base);
}

static void on_change(uv_fs_event_t *h, const char *filename, int events,
                      int status)
{
	struct watch_dir *d = h->data;
	struct pm_streams *s = d->w->s;
	size_t lo = 0, hi = d->n_names;

	(void)events;
	if (status < 0)
		return; /* the poll timer still looks */
	if (!filename) {
		for (size_t i = 0; i < d->n_names; i++)
			pm_streams_mark(s, d->names[i]);
		return;
	}
	/* The first name whose base is not below filename. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(s->follow[d->names[mid]].base, filename) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	bool hit = false;
	for (; lo < d->n_names &&
	       strcmp(s->follow[d->names[lo]].base, filename) == 0;
	     lo++) {
		pm_streams_mark(s, d->names[lo]);
		hit = true;
	}
	if (!hit)
		/* A file of no followed name: a rotated-away orphan, perhaps,
		 * that its old writer still writes to. */
		pm_streams_poke(s);
}

static void on_poll(uv_timer_t *t)
{
	struct pm_watch *w = t->data;

	pm_streams_mark_all(w->s);
}

int pm_watch_start(uv_loop_t *loop, struct pm_streams *s, struct pm_watch **out)
{
	struct pm_watch *w = calloc(1, sizeof(*w));
	size_t n = 0;
	int rc = -ENOMEM;
	bool told = false;

	*out = w;
	if (!w)
		return -ENOMEM;
	w->s = s;
	w->order = calloc(s->n_follow ? s->n_follow : 1, sizeof(size_t));
	w->dirs = calloc(s->n_follow ? s->n_follow : 1, sizeof(*w->dirs));
	if (!w->order || !w->dirs)
		goto out;
	for (size_t i = 0; i < s->n_follow; i++)
		if (!s->follow[i].is_stdin)
			w->order[n++] = i;
	qsort_r(w->order, n, sizeof(size_t), by_dir_base, s);
	for (size_t i = 0; i < n;) {
		struct watch_dir *d = &w->dirs[w->n_dirs++];
		size_t j = i + 1;

		while (j < n && same_dir(&s->follow[w->order[i]],
		                         &s->follow[w->order[j]]))
			j++;
		d->w = w;
		d->names = &w->order[i];
		d->n_names = j - i;
		d->path = dir_of(s->follow[w->order[i]].name);
		if (!d->path)
			goto out;
		i = j;
	}
	rc = uv_timer_init(loop, &w->timer);
	if (rc < 0)
		goto out;
	w->timer.data = w;
	w->timer_on = true;
	rc = uv_timer_start(&w->timer, on_poll, (uint64_t)s->poll_ms,
	                    (uint64_t)s->poll_ms);
	if (rc < 0)
		goto out;
	for (size_t i = 0; i < w->n_dirs; i++) {
		struct watch_dir *d = &w->dirs[i];

		rc = uv_fs_event_init(loop, &d->h);
		if (rc == 0) {
			d->on = true;
			d->h.data = d;
			rc = uv_fs_event_start(&d->h, on_change, d->path, 0);
		}
		if (rc < 0 && !told) {
			/* Once: with inotify unusable every directory fails
			 * alike, and the poll timer covers them all. */
			told = true;
			tell(s, PMERGE_FOLLOW_NO_WATCH, d->path, -rc);
		}
	}
	rc = 0;
out:
	return rc;
}

static void on_closed(uv_handle_t *h)
{
	(void)h;
}

void pm_watch_close(struct pm_watch *w)
{
	if (!w)
		return;
	if (w->timer_on && !uv_is_closing((uv_handle_t *)&w->timer))
		uv_close((uv_handle_t *)&w->timer, on_closed);
	for (size_t i = 0; i < w->n_dirs; i++)
		if (w->dirs[i].on &&
		    !uv_is_closing((uv_handle_t *)&w->dirs[i].h))
			uv_close((uv_handle_t *)&w->dirs[i].h, on_closed);
}

void pm_watch_free(struct pm_watch *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n_dirs; i++)
		free(w->dirs[i].path);
	free(w->dirs);
	free(w->order);
	free(w);
}
