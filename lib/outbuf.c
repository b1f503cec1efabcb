// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Buffered output to a file descriptor.
 */
#include "outbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

int outbuf_init(struct outbuf *o, int fd)
{
	o->fd = fd;
	o->err = 0;
	o->len = 0;
	o->buf = malloc(OUTBUF_SIZE);
	return o->buf ? 0 : -ENOMEM;
}

void outbuf_drain(struct outbuf *o)
{
	const char *p = o->buf;
	size_t n = o->len;
	o->len = 0;
	if (o->err)
		return;
	while (n) {
		ssize_t w = write(o->fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			o->err = -errno;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

int outbuf_flush(struct outbuf *o)
{
	outbuf_drain(o);
	return o->err;
}

void outbuf_release(struct outbuf *o)
{
	free(o->buf);
	o->buf = NULL;
}
