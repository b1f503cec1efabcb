// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Block I/O on files and block devices.
 */
#include "block_io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static int open_mode(unsigned flags, bool blockdev)
{
	int mode = (flags & BDEV_WRITE) ? O_RDWR : O_RDONLY;
	if (blockdev && (flags & BDEV_EXCL))
		mode |= O_EXCL;
	return mode | O_CLOEXEC;
}

/*
 * The descriptor, or a negative errno.  With BDEV_DIRECT, O_DIRECT first:
 * a file system without direct I/O (ramfs, some FUSE ones) refuses it at
 * open time with EINVAL, and then the file is opened buffered (*direct
 * stays false).  Any other error is the device's and is returned.
 */
static int open_fd(const char *path, int mode, unsigned flags, bool *direct)
{
	int fd;
	*direct = false;
	if (flags & BDEV_DIRECT) {
		fd = open(path, mode | O_DIRECT);
		if (fd >= 0) {
			*direct = true;
			return fd;
		}
		if (errno != EINVAL)
			return -errno;
	}
	fd = open(path, mode);
	return fd < 0 ? -errno : fd;
}

int bdev_open(struct bdev *dev, const char *path, unsigned flags)
{
	struct stat st;
	memset(dev, 0, sizeof(*dev));
	dev->fd = -1;
	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return -EINVAL;
	dev->is_blockdev = S_ISBLK(st.st_mode);
	int fd = open_fd(path, open_mode(flags, dev->is_blockdev), flags, &dev->direct);
	if (fd < 0)
		return fd;
	dev->fd = fd;
	dev->writable = flags & BDEV_WRITE;
	if (dev->is_blockdev) {
		uint64_t sz;
		if (ioctl(fd, BLKGETSIZE64, &sz) < 0) {
			int e = -errno;
			bdev_close(dev);
			return e;
		}
		dev->size = sz;
	} else {
		dev->size = (uint64_t)st.st_size;
	}
	dev->nr_blocks = dev->size >> MD_BLOCK_SHIFT;
	return 0;
}

void bdev_close(struct bdev *dev)
{
	if (dev->fd >= 0)
		close(dev->fd);
	dev->fd = -1;
}

bool bdev_same_stat(const struct stat *x, const struct stat *y)
{
	if (S_ISBLK(x->st_mode) && S_ISBLK(y->st_mode))
		return x->st_rdev == y->st_rdev;
	return x->st_dev == y->st_dev && x->st_ino == y->st_ino;
}

bool bdev_same(const struct bdev *x, const struct bdev *y)
{
	struct stat a, b;
	return !fstat(x->fd, &a) && !fstat(y->fd, &b) && bdev_same_stat(&a, &b);
}

void *bdev_alloc_buf(size_t nr)
{
	void *p = NULL;
	if (posix_memalign(&p, MD_BLOCK_SIZE, nr ? nr * MD_BLOCK_SIZE : 1))
		return NULL;
	return p;
}

void bdev_free_buf(void *buf)
{
	free(buf);
}

/* Read exactly len bytes at off into the iovec array, retrying short reads. */
static int preadv_full(struct bdev *dev, struct iovec *iov, int cnt, off_t off)
{
	while (cnt > 0) {
		ssize_t r = preadv(dev->fd, iov, cnt, off);
		__atomic_add_fetch(&dev->reads, 1, __ATOMIC_RELAXED); /* threads may share dev */
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -ERANGE;
		off += r;
		while (cnt > 0 && (size_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0 && r > 0) {
			iov->iov_base = (char *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return 0;
}

int bdev_read(struct bdev *dev, uint64_t block, unsigned count, void *buf)
{
	if (block >= dev->nr_blocks || count > dev->nr_blocks - block)
		return -ERANGE;
	struct iovec iov = { buf, (size_t)count * MD_BLOCK_SIZE };
	return preadv_full(dev, &iov, 1, (off_t)(block << MD_BLOCK_SHIFT));
}

int bdev_pread(struct bdev *dev, uint64_t off, size_t len, void *buf)
{
	if (off > dev->size || len > dev->size - off)
		return -ERANGE;
	struct iovec iov = { buf, len };
	return preadv_full(dev, &iov, 1, (off_t)off);
}

struct scatter_ent {
	uint64_t block;
	unsigned idx;
};

static int cmp_scatter(const void *a, const void *b)
{
	const struct scatter_ent *x = a, *y = b;
	if (x->block != y->block)
		return x->block < y->block ? -1 : 1;
	return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Read one run of distinct consecutive blocks; on failure retry each. */
static void read_run(struct bdev *dev, const struct scatter_ent *e,
		     unsigned cnt, void *const *bufs, int *errs,
		     struct iovec *iov)
{
	for (unsigned i = 0; i < cnt; i++) {
		iov[i].iov_base = bufs[e[i].idx];
		iov[i].iov_len = MD_BLOCK_SIZE;
	}
	if (preadv_full(dev, iov, (int)cnt,
			(off_t)(e[0].block << MD_BLOCK_SHIFT)) == 0)
		return;
	for (unsigned i = 0; i < cnt; i++)
		errs[e[i].idx] = bdev_read(dev, e[i].block, 1, bufs[e[i].idx]);
}

int bdev_read_scatter(struct bdev *dev, const uint64_t *blocks, unsigned n,
		      void *const *bufs, int *errs)
{
	struct scatter_ent ents[BDEV_SCATTER_MAX];
	struct iovec iov[BDEV_SCATTER_MAX];
	unsigned nu = 0;

	if (n > BDEV_SCATTER_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		ents[i].block = blocks[i];
		ents[i].idx = i;
		errs[i] = blocks[i] < dev->nr_blocks ? 0 : -ERANGE;
	}
	qsort(ents, n, sizeof(ents[0]), cmp_scatter);

	/* Drop duplicates and out-of-range blocks, remembering who to copy. */
	struct scatter_ent uniq[BDEV_SCATTER_MAX];
	unsigned dup_of[BDEV_SCATTER_MAX];
	for (unsigned i = 0; i < n; i++) {
		if (errs[ents[i].idx])
			continue;
		if (nu && uniq[nu - 1].block == ents[i].block) {
			dup_of[ents[i].idx] = uniq[nu - 1].idx;
			continue;
		}
		dup_of[ents[i].idx] = ents[i].idx;
		uniq[nu++] = ents[i];
	}

	unsigned run = 0;
	for (unsigned i = 1; i <= nu; i++) {
		if (i < nu && uniq[i].block == uniq[i - 1].block + 1 &&
		    i - run < (unsigned)IOV_MAX)
			continue;
		read_run(dev, uniq + run, i - run, bufs, errs, iov);
		run = i;
	}

	int first = 0;
	for (unsigned i = 0; i < n; i++) {
		if (!errs[i] && dup_of[i] != i) {
			errs[i] = errs[dup_of[i]];
			memcpy(bufs[i], bufs[dup_of[i]], MD_BLOCK_SIZE);
		}
		if (errs[i] && !first)
			first = errs[i];
	}
	return first;
}

void bdev_prefetch(struct bdev *dev, uint64_t block, uint64_t count)
{
	if (dev->direct || block >= dev->nr_blocks)
		return;
	if (count > dev->nr_blocks - block)
		count = dev->nr_blocks - block;
	posix_fadvise(dev->fd, (off_t)(block << MD_BLOCK_SHIFT),
		      (off_t)(count << MD_BLOCK_SHIFT), POSIX_FADV_WILLNEED);
}

/* Test-only fault injection (see BDEV_FAULT_ENV in block_io.h). */
static long fault_after = -2; /* -2: not read yet, -1: off */
static long fault_writes;

static void fault_point(void)
{
	long n = __atomic_load_n(&fault_after, __ATOMIC_RELAXED);
	if (n == -2) {
		const char *e = getenv(BDEV_FAULT_ENV);
		n = e && *e ? strtol(e, NULL, 10) : -1;
		__atomic_store_n(&fault_after, n, __ATOMIC_RELAXED);
	}
	if (n >= 0 && __atomic_fetch_add(&fault_writes, 1, __ATOMIC_SEQ_CST) >= n)
		kill(getpid(), SIGKILL);
}

int bdev_write(struct bdev *dev, uint64_t block, unsigned count,
	       const void *buf)
{
	if (block >= dev->nr_blocks || count > dev->nr_blocks - block)
		return dev->writable ? -ERANGE : -EBADF;
	return bdev_pwrite(dev, block << MD_BLOCK_SHIFT,
			   (size_t)count * MD_BLOCK_SIZE, buf);
}

int bdev_pwrite(struct bdev *dev, uint64_t offset, size_t len,
		const void *buf)
{
	const char *p = buf;
	off_t off = (off_t)offset;
	if (!dev->writable)
		return -EBADF;
	if (offset > dev->size || len > dev->size - offset)
		return -ERANGE;
	fault_point();
	while (len) {
		ssize_t w = pwrite(dev->fd, p, len, off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		off += w;
		len -= (size_t)w;
	}
	return 0;
}

void bdev_writeback(struct bdev *dev, uint64_t block, uint64_t count)
{
	if (dev->direct || !dev->writable)
		return;
	sync_file_range(dev->fd, (off_t)(block << MD_BLOCK_SHIFT),
			(off_t)(count << MD_BLOCK_SHIFT), SYNC_FILE_RANGE_WRITE);
}

int bdev_sync(struct bdev *dev)
{
	return fdatasync(dev->fd) < 0 ? -errno : 0;
}
