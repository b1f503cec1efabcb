// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Parallel coalescing copier.
 */
#include "chunk_copy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "array_grow.h"

#define ALIGN MD_BLOCK_SIZE

int copier_init(struct copier *c, unsigned threads, size_t max_io, bool verify)
{
	memset(c, 0, sizeof(*c));
	c->threads = threads ? threads : 1;
	c->max_io = max_io & ~(size_t)(ALIGN - 1);
	if (c->max_io < ALIGN)
		c->max_io = ALIGN;
	c->verify = verify;
	return pthread_mutex_init(&c->lock, NULL) ? -ENOMEM : 0;
}

void copier_release(struct copier *c)
{
	free(c->q);
	c->q = NULL;
	pthread_mutex_destroy(&c->lock);
}

static int push(struct copier *c, const struct copy_piece *p)
{
	if (c->nr == c->cap &&
	    array_reserve((void **)&c->q, &c->cap, c->nr + 1, sizeof(*c->q), 1024))
		return -ENOMEM;
	c->q[c->nr++] = *p;
	return 0;
}

/* Join p to the last piece if they continue each other on both sides. */
static bool coalesce(struct copier *c, const struct copy_piece *p)
{
	struct copy_piece *l = c->nr ? &c->q[c->nr - 1] : NULL;
	if (!l || l->src != p->src || l->dst != p->dst || l->len + p->len > c->max_io)
		return false;
	if (l->src_off + l->len == p->src_off && l->dst_off + l->len == p->dst_off) {
		l->len += p->len;
		return true;
	}
	if (p->src_off + p->len == l->src_off && p->dst_off + p->len == l->dst_off) {
		l->src_off = p->src_off;
		l->dst_off = p->dst_off;
		l->len += p->len;
		return true;
	}
	return false;
}

int copier_add(struct copier *c, struct copy_end *src, uint64_t src_off,
	       struct copy_end *dst, uint64_t dst_off, uint64_t len)
{
	while (len) {
		struct copy_piece p = { src, dst, src_off, dst_off,
					len < c->max_io ? len : c->max_io };
		if (!coalesce(c, &p)) {
			int r = push(c, &p);
			if (r)
				return r;
		}
		src_off += p.len;
		dst_off += p.len;
		len -= p.len;
	}
	return 0;
}

static bool aligned(uint64_t off, uint64_t len)
{
	return !(off % ALIGN) && !(len % ALIGN);
}

/* Read or write through O_DIRECT when it can, else the buffered twin. */
static int end_io(struct copy_end *e, bool write, uint64_t off, uint64_t len,
		  void *buf)
{
	bool direct = e->direct->direct && aligned(off, len) &&
		      !__atomic_load_n(&e->direct_refused, __ATOMIC_RELAXED);
	struct bdev *dev = direct ? e->direct : e->buffered;
	int r = write ? bdev_pwrite(dev, off, len, buf) : bdev_pread(dev, off, len, buf);
	if (r == -EINVAL && direct) {
		/* the file system takes no O_DIRECT after all */
		__atomic_store_n(&e->direct_refused, true, __ATOMIC_RELAXED);
		return end_io(e, write, off, len, buf);
	}
	return r;
}

static int copy_one(struct copier *c, const struct copy_piece *p, void *buf,
		    void *check, uint64_t *bad)
{
	int r = end_io(p->src, false, p->src_off, p->len, buf);
	if (!r)
		r = end_io(p->dst, true, p->dst_off, p->len, buf);
	if (r || !c->verify)
		return r;
	r = end_io(p->dst, false, p->dst_off, p->len, check);
	if (!r && memcmp(buf, check, p->len)) {
		*bad = p->dst_off;
		r = -EILSEQ;
	}
	return r;
}

static void *worker(void *arg)
{
	struct copier *c = arg;
	void *buf = NULL, *check = NULL;
	int r = 0;
	uint64_t bad = 0;
	if (posix_memalign(&buf, ALIGN, c->max_io) ||
	    (c->verify && posix_memalign(&check, ALIGN, c->max_io)))
		r = -ENOMEM;
	for (;;) {
		pthread_mutex_lock(&c->lock);
		if (r && !c->err) {
			c->err = r;
			c->err_off = bad;
		}
		size_t i = c->err ? c->nr : c->next++;
		pthread_mutex_unlock(&c->lock);
		if (i >= c->nr)
			break;
		r = copy_one(c, &c->q[i], buf, check, &bad);
		if (!r)
			__atomic_add_fetch(&c->bytes_done, c->q[i].len, __ATOMIC_RELAXED);
	}
	free(buf);
	free(check);
	return NULL;
}

int copier_run(struct copier *c)
{
	pthread_t t[64];
	unsigned n = c->threads < 64 ? c->threads : 64, started = 0;
	if (n > c->nr)
		n = (unsigned)c->nr;
	c->next = 0;
	c->err = 0;
	for (; started < n; started++)
		if (pthread_create(&t[started], NULL, worker, c))
			break;
	if (!started && c->nr)
		worker(c); /* no thread to be had: do it here */
	for (unsigned i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	c->nr = 0;
	return c->err;
}
