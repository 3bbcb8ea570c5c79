/*
 * -Z: the output compressed as one gzip or zstd stream, in parallel.
 *
 * The merge itself is unchanged: its output goes into a pipe (so the append
 * protocol sees a stream: sequential writes, splice where it helps), and a
 * compressor thread reads the pipe and writes the compressed stream to the
 * real output -- the temporary file of an atomic -o, standard output, or an
 * -a file.  The output is committed only after the compressor has written
 * its last byte.
 *
 * zstd: one libzstd context whose own worker threads (ZSTD_c_nbWorkers)
 * compress in parallel; the result is one frame.
 *
 * gzip: the pipe is cut into blocks of PM_GZ_BLOCK bytes, a pool of threads
 * compresses each block independently with libdeflate into a gzip member,
 * and the members are written in order.  A file of several members is one
 * valid gzip stream (RFC 1952, 2.2), which gzip -dc, zcat, pigz and pmerge
 * -d decode whole.  Each block starts without the previous one's window,
 * which costs well under 1% of the size at 1 MiB blocks.
 *
 * Memory: 2 * threads + 1 blocks of input and output for gzip (about 2 MiB
 * each), libzstd's job buffers for zstd.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>
#include <zstd_errors.h>

#define PM_GZ_BLOCK (1u << 20)
#define PM_ZSTD_IN  (1u << 20)

enum block_state { BLOCK_FREE, BLOCK_READY, BLOCK_BUSY, BLOCK_DONE };

struct block {
	uint8_t *in, *out;
	size_t in_len, out_len, out_cap;
	enum block_state state;
};

struct pm_compressor {
	struct pm_merge *m;
	int in_fd;  /* the pipe's read end: the merged bytes */
	int pipe_w; /* its write end: the sink's fd meanwhile */
	int out_fd; /* the real output */
	enum pmerge_compress fmt;
	int level;
	unsigned threads;
	pthread_t tid;
	bool started;
	int err; /* the compressor's first error, -errno; read after join */
	/* gzip: the block ring and the pool that compresses it. */
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	struct block *blocks;
	unsigned n_blocks;
	pthread_t *pool;
	unsigned n_pool;
	bool stop;
};

/* Writes all of buf to the real output.  0 or -errno. */
static int out_write(struct pm_compressor *c, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t k = write(c->out_fd, p, len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

/* Reads from the pipe until buf is full or it ends.  Bytes or -errno. */
static ssize_t in_read(struct pm_compressor *c, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t k = read(c->in_fd, (char *)buf + got, len - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

static int run_zstd(struct pm_compressor *c)
{
	ZSTD_CCtx *z = ZSTD_createCCtx();
	size_t out_cap = ZSTD_CStreamOutSize();
	uint8_t *in = malloc(PM_ZSTD_IN), *out = malloc(out_cap);
	int rc = -ENOMEM;

	if (!z || !in || !out)
		goto out;
	ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, c->level);
	ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 1);
	if (c->threads > 1)
		ZSTD_CCtx_setParameter(z, ZSTD_c_nbWorkers, (int)c->threads);
	for (bool last = false; !last;) {
		ssize_t n = read(c->in_fd, in, PM_ZSTD_IN);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		last = n == 0;
		ZSTD_inBuffer ib = {in, (size_t)n, 0};
		size_t left;
		do {
			ZSTD_outBuffer ob = {out, out_cap, 0};
			left = ZSTD_compressStream2(
			    z, &ob, &ib, last ? ZSTD_e_end : ZSTD_e_continue);
			if (ZSTD_isError(left)) {
				/* Its workspace is allocated here, by level. */
				rc = ZSTD_getErrorCode(left) ==
				             ZSTD_error_memory_allocation
				         ? -ENOMEM
				         : -EIO;
				goto out;
			}
			rc = out_write(c, out, ob.pos);
			if (rc < 0)
				goto out;
		} while (last ? left > 0 : ib.pos < ib.size);
	}
	rc = 0;
out:
	ZSTD_freeCCtx(z);
	free(in);
	free(out);
	return rc;
}

/* A pool thread: compresses READY blocks, lowest first, until told to
 * stop. */
static void *gzip_pool(void *arg)
{
	struct pm_compressor *c = arg;
	struct libdeflate_compressor *d = libdeflate_alloc_compressor(c->level);

	pthread_mutex_lock(&c->mu);
	for (;;) {
		struct block *b = NULL;

		for (unsigned i = 0; i < c->n_blocks && !b; i++)
			if (c->blocks[i].state == BLOCK_READY)
				b = &c->blocks[i];
		if (!b && c->stop)
			break;
		if (!b) {
			pthread_cond_wait(&c->work, &c->mu);
			continue;
		}
		b->state = BLOCK_BUSY;
		pthread_mutex_unlock(&c->mu);
		/* 0 means it did not fit (it always does within the bound)
		 * or there is no compressor: the writer reports it. */
		b->out_len = d ? libdeflate_gzip_compress(d, b->in, b->in_len,
		                                          b->out, b->out_cap)
		               : 0;
		pthread_mutex_lock(&c->mu);
		b->state = BLOCK_DONE;
		pthread_cond_broadcast(&c->done);
	}
	pthread_mutex_unlock(&c->mu);
	libdeflate_free_compressor(d);
	return NULL;
}

/* Waits for block b to be compressed and writes it.  0 or -errno. */
static int gzip_emit(struct pm_compressor *c, struct block *b)
{
	pthread_mutex_lock(&c->mu);
	while (b->state != BLOCK_DONE)
		pthread_cond_wait(&c->done, &c->mu);
	pthread_mutex_unlock(&c->mu);
	int rc = b->out_len ? out_write(c, b->out, b->out_len) : -ENOMEM;
	/* The pool scans the states under the mutex. */
	pthread_mutex_lock(&c->mu);
	b->state = BLOCK_FREE;
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int run_gzip(struct pm_compressor *c)
{
	uint64_t seq = 0, written = 0;
	int rc = 0;

	for (bool last = false; !last && rc == 0;) {
		struct block *b = &c->blocks[seq % c->n_blocks];

		/* The ring is full: the oldest block goes out first. */
		if (seq >= c->n_blocks) {
			rc = gzip_emit(c, b);
			written++;
			if (rc < 0)
				break;
		}
		ssize_t n = in_read(c, b->in, PM_GZ_BLOCK);
		if (n < 0) {
			rc = (int)n;
			break;
		}
		last = (size_t)n < PM_GZ_BLOCK;
		/* An empty output is still one (empty) gzip member. */
		if (n == 0 && seq > 0)
			break;
		pthread_mutex_lock(&c->mu);
		b->in_len = (size_t)n;
		b->state = BLOCK_READY;
		pthread_cond_signal(&c->work);
		pthread_mutex_unlock(&c->mu);
		seq++;
	}
	for (; written < seq; written++) {
		int wrc = gzip_emit(c, &c->blocks[written % c->n_blocks]);
		if (rc == 0)
			rc = wrc;
	}
	return rc;
}

static void *compressor_main(void *arg)
{
	struct pm_compressor *c = arg;
	int rc = c->fmt == PMERGE_COMPRESS_ZSTD ? run_zstd(c) : run_gzip(c);

	if (rc < 0) {
		c->err = rc;
		/* Stop the merge with this error rather than the EPIPE its
		 * workers will meet once the pipe has no reader. */
		pm_output_failed(c->m, rc);
	}
	close(c->in_fd);
	c->in_fd = -1;
	return NULL;
}

static void stop_pool(struct pm_compressor *c)
{
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_cond_broadcast(&c->work);
	pthread_mutex_unlock(&c->mu);
	for (unsigned i = 0; i < c->n_pool; i++)
		pthread_join(c->pool[i], NULL);
	c->n_pool = 0;
}

static void compressor_free(struct pm_compressor *c)
{
	if (!c)
		return;
	for (unsigned i = 0; c->blocks && i < c->n_blocks; i++) {
		free(c->blocks[i].in);
		free(c->blocks[i].out);
	}
	free(c->blocks);
	free(c->pool);
	if (c->in_fd >= 0)
		close(c->in_fd);
	pthread_cond_destroy(&c->work);
	pthread_cond_destroy(&c->done);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* Starts thread t with every asynchronous signal blocked: the loop
 * thread takes them. */
static int start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

static int gzip_setup(struct pm_compressor *c)
{
	struct libdeflate_compressor *probe =
	    libdeflate_alloc_compressor(c->level);
	size_t cap;

	if (!probe)
		return -ENOMEM;
	cap = libdeflate_gzip_compress_bound(probe, PM_GZ_BLOCK);
	libdeflate_free_compressor(probe);
	c->n_blocks = 2 * c->threads + 1;
	c->blocks = calloc(c->n_blocks, sizeof(*c->blocks));
	c->pool = calloc(c->threads, sizeof(*c->pool));
	if (!c->blocks || !c->pool)
		return -ENOMEM;
	for (unsigned i = 0; i < c->n_blocks; i++) {
		struct block *b = &c->blocks[i];
		b->in = malloc(PM_GZ_BLOCK);
		b->out = malloc(cap);
		b->out_cap = cap;
		if (!b->in || !b->out)
			return -ENOMEM;
	}
	for (unsigned i = 0; i < c->threads; i++) {
		int rc = start_thread(&c->pool[i], gzip_pool, c);
		if (rc < 0)
			return rc;
		c->n_pool++;
	}
	return 0;
}

int pm_compress_start(struct pm_merge *m, unsigned threads)
{
	const struct pmerge_config *cfg = m->cfg;
	struct pm_compressor *c = calloc(1, sizeof(*c));
	int fds[2] = {-1, -1};
	int rc = -ENOMEM;

	if (!c)
		goto fail;
	c->m = m;
	c->in_fd = -1;
	c->fmt = cfg->compress;
	c->level = cfg->compress_level
	               ? cfg->compress_level
	               : (cfg->compress == PMERGE_COMPRESS_ZSTD ? 3 : 6);
	c->threads = threads ? threads : 1;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->work, NULL);
	pthread_cond_init(&c->done, NULL);
	if (pipe2(fds, O_CLOEXEC) < 0) {
		rc = -errno;
		goto fail;
	}
	/* Room for a worker's whole buffer: fewer wake-ups each way. */
	fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
	c->in_fd = fds[0];
	c->pipe_w = fds[1];
	c->out_fd = m->sink.fd;
	if (c->fmt == PMERGE_COMPRESS_GZIP) {
		rc = gzip_setup(c);
		if (rc < 0)
			goto fail;
	}
	rc = start_thread(&c->tid, compressor_main, c);
	if (rc < 0)
		goto fail;
	c->started = true;
	/* From now on the merge writes a stream: the pipe. */
	m->sink.fd = c->pipe_w;
	m->sink.behind_regular = m->sink.regular;
	m->sink.positioned = false;
	m->sink.regular = false;
	m->sink.is_pipe = true;
	m->compressor = c;
	return 0;
fail:
	if (c && c->n_pool)
		stop_pool(c);
	if (fds[1] >= 0)
		close(fds[1]);
	compressor_free(c);
	return rc;
}

int pm_compress_finish(struct pm_merge *m)
{
	struct pm_compressor *c = m->compressor;
	int rc;

	if (!c)
		return 0;
	/* The end of the merged bytes: the compressor writes the rest. */
	close(c->pipe_w);
	pthread_join(c->tid, NULL);
	if (c->n_pool)
		stop_pool(c);
	m->sink.fd = c->out_fd;
	rc = c->err;
	compressor_free(c);
	m->compressor = NULL;
	return rc;
}
