// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Shared pieces of the fuzz targets.
 */
#include "fuzz_common.h"

#include "thin_restore.h"
#include "thin_xml.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int fuzz_memfd(const void *data, size_t size, size_t pad)
{
	int fd = memfd_create("fuzz", 0);
	if (fd < 0)
		return -1;
	if (write_all(fd, data, size) || ftruncate(fd, (off_t)(size + pad)) ||
	    lseek(fd, 0, SEEK_SET)) {
		close(fd);
		return -1;
	}
	return fd;
}

int fuzz_image(struct bdev *dev, const void *data, size_t size, size_t pad)
{
	char path[64];
	int fd = fuzz_memfd(data, size, pad);
	if (fd < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (bdev_open(dev, path, BDEV_WRITE)) {
		close(fd);
		return -1;
	}
	return fd;
}

void fuzz_image_close(struct bdev *dev, int fd)
{
	bdev_close(dev);
	close(fd);
}

bool fuzz_thin_restore(int in, struct bdev *out)
{
	struct thin_restore_opts o = { 0 };
	struct thin_restorer *r = NULL;
	struct dump_emitter e;
	struct xml_error err;
	bool ok = !thin_restorer_create(&r, out, &o, &e) &&
		  !thin_xml_read(in, &e, &err) && !thin_restorer_commit(r);
	thin_restorer_destroy(r);
	return ok;
}

static void drop(void *ctx, enum report_level level, const char *msg)
{
	(void)ctx;
	(void)level;
	volatile size_t n = strlen(msg);
	(void)n;
}

void fuzz_reporter(struct reporter *rep)
{
	memset(rep, 0, sizeof(*rep));
	rep->emit = drop;
}

int fuzz_null_fd(void)
{
	static int fd = -1;
	if (fd < 0)
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	return fd;
}
