/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * block_io.h - 4 KiB metadata blocks from a regular file or a block device.
 *
 * The bottom of the stack: opens the device (O_EXCL for block devices
 * unless told otherwise, O_DIRECT where it is asked for and the file
 * system takes it, else buffered: dev->direct says which), reports its
 * size, and reads or writes whole blocks.  bdev_read_scatter() reads an
 * arbitrary list of blocks with as few large requests as possible: it
 * sorts them, merges neighbours into runs and reads each run with one
 * preadv() straight into the callers' buffers.  Nothing here knows what a
 * block contains.
 */
#ifndef THINSNAP_BLOCK_IO_H
#define THINSNAP_BLOCK_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define MD_BLOCK_SIZE	   4096u
#define MD_BLOCK_SHIFT	   12
/* Most blocks one bdev_read_scatter() call accepts. */
#define BDEV_SCATTER_MAX   1024u

enum bdev_flags {
	BDEV_WRITE = 1 << 0,	/* open read-write */
	BDEV_EXCL = 1 << 1,	/* O_EXCL on block devices */
	BDEV_DIRECT = 1 << 2,	/* O_DIRECT; buffered if open() refuses it (EINVAL) */
};

struct bdev {
	int fd;
	bool writable;
	bool direct;		/* O_DIRECT is in use */
	bool is_blockdev;
	uint64_t size;		/* bytes */
	uint64_t nr_blocks;	/* whole 4 KiB blocks */
	uint64_t reads;		/* read requests issued (statistics) */
};

/*
 * Open `path`.  Returns 0 or a negative errno: -ENOENT (missing),
 * -EINVAL (neither regular file nor block device), -EBUSY (block device
 * in use), or whatever open/ioctl returned.
 */
int bdev_open(struct bdev *dev, const char *path, unsigned flags);
void bdev_close(struct bdev *dev);

/*
 * Whether two stat results (or two open devices) are the same file: the
 * same inode, or block device nodes of the same device.
 */
bool bdev_same_stat(const struct stat *x, const struct stat *y);
bool bdev_same(const struct bdev *x, const struct bdev *y);

/* Aligned buffer for `nr` blocks (free with bdev_free_buf). */
void *bdev_alloc_buf(size_t nr);
void bdev_free_buf(void *buf);

/*
 * Read `count` consecutive blocks starting at `block` into `buf`
 * (aligned).  -ERANGE if any block lies past the end of the device,
 * -EIO (or another negative errno) if the read fails.
 */
int bdev_read(struct bdev *dev, uint64_t block, unsigned count, void *buf);

/*
 * Read blocks[i] into bufs[i] for i < n (n <= BDEV_SCATTER_MAX; the
 * buffers must be aligned, duplicates allowed).  errs[i] receives 0 or
 * the negative errno for that block; the return value is 0 when every
 * block was read, else the first error.
 */
int bdev_read_scatter(struct bdev *dev, const uint64_t *blocks, unsigned n,
		      void *const *bufs, int *errs);

/*
 * Read len bytes at byte offset off (any alignment; buffered devices
 * only, or aligned arguments with O_DIRECT).  -ERANGE if the range goes
 * past the end of the device.
 */
int bdev_pread(struct bdev *dev, uint64_t off, size_t len, void *buf);

/* Ask the kernel to start reading a run of blocks in the background. */
void bdev_prefetch(struct bdev *dev, uint64_t block, uint64_t count);

int bdev_write(struct bdev *dev, uint64_t block, unsigned count,
	       const void *buf);
/*
 * Write len bytes at byte offset off (aligned arguments with O_DIRECT).
 * -ERANGE if the range goes past the end of the device.
 */
int bdev_pwrite(struct bdev *dev, uint64_t off, size_t len, const void *buf);

/*
 * TEST ONLY - fault injection.  When the environment variable
 * THINSNAP_FAIL_AFTER_WRITES=N is set, the process kills itself with
 * SIGKILL instead of issuing write number N+1 (counting every
 * bdev_write/bdev_pwrite of the process), as if it had been killed at
 * that moment.  Tests use it to check that writers are crash-safe; it
 * has no other use.
 */
#define BDEV_FAULT_ENV "THINSNAP_FAIL_AFTER_WRITES"

/*
 * Start writing a range already written to the page cache out to the
 * device, without waiting, so a later bdev_sync() has less to wait for.
 */
void bdev_writeback(struct bdev *dev, uint64_t block, uint64_t count);
/* Make everything written so far durable (fdatasync). */
int bdev_sync(struct bdev *dev);

#endif
