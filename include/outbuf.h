/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * outbuf.h - fast buffered text output to a file descriptor.
 *
 * Dumps print tens of millions of numbers; stdio's printf costs more than
 * the whole metadata walk.  An outbuf collects text in a large buffer
 * with hand-rolled decimal formatting and writes it in big chunks.  The
 * first write error is remembered and reported by outbuf_flush().
 */
#ifndef THINSNAP_OUTBUF_H
#define THINSNAP_OUTBUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define OUTBUF_SIZE (1u << 20)

struct outbuf {
	int fd;
	int err;	/* first negative errno seen */
	size_t len;
	char *buf;
};

int outbuf_init(struct outbuf *o, int fd);
/* Write out everything buffered; returns 0 or the first error. */
int outbuf_flush(struct outbuf *o);
void outbuf_release(struct outbuf *o);
void outbuf_drain(struct outbuf *o);

static inline void outbuf_reserve(struct outbuf *o, size_t n)
{
	if (o->len + n > OUTBUF_SIZE)
		outbuf_drain(o);
}

static inline void outbuf_write(struct outbuf *o, const char *s, size_t n)
{
	if (n > OUTBUF_SIZE / 2) {
		outbuf_drain(o);
		while (n) {
			size_t k = n > OUTBUF_SIZE / 2 ? OUTBUF_SIZE / 2 : n;
			memcpy(o->buf + o->len, s, k);
			o->len += k;
			s += k;
			n -= k;
			outbuf_drain(o);
		}
		return;
	}
	outbuf_reserve(o, n);
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static inline void outbuf_puts(struct outbuf *o, const char *s)
{
	outbuf_write(o, s, strlen(s));
}

static inline void outbuf_u64(struct outbuf *o, uint64_t v)
{
	char tmp[20];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	outbuf_reserve(o, 20);
	while (n)
		o->buf[o->len++] = tmp[--n];
}

#endif
