// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * snap_merge_offline: merge a dm-snapshot snapshot into its origin while
 * neither is active.
 */
#include <errno.h>
#include <getopt.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "snap_merge.h"
#include "tool.h"

static const char *const TOOL = "snap_merge_offline";

#define MAX_IO	      (4u << 20)
#define BATCH_BYTES   (64ull << 20)
#define THREADS	      8u
/* TEST ONLY: bytes merged per commit, to get many commits from small
 * test stores (tests/cli/snap_merge_offline.bats). */
#define BATCH_ENV     "THINSNAP_MERGE_BATCH"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: snap_merge_offline [options] --origin <dev> --cow <dev>\n"
		"Options:\n"
		"  {-h|--help}\n"
		"  {-V|--version}\n"
		"  {-q|--quiet}\n"
		"  {-v|--verbose}\n"
		"  {--origin} <origin device or file>\n"
		"  {--cow} <COW device or file of the snapshot to merge>\n"
		"  {--other} <COW device or file of another snapshot> (repeatable)\n"
		"  {--no-other-snapshots}\n"
		"  {--dry-run}\n"
		"  {--verify}\n");
}

enum { OPT_ORIGIN = 256, OPT_COW, OPT_OTHER, OPT_NO_OTHERS, OPT_DRY_RUN, OPT_VERIFY };

static const struct option long_opts[] = {
	TOOL_COMMON_OPTIONS,
	{ "verbose", no_argument, NULL, 'v' },
	{ "origin", required_argument, NULL, OPT_ORIGIN },
	{ "cow", required_argument, NULL, OPT_COW },
	{ "other", required_argument, NULL, OPT_OTHER },
	{ "no-other-snapshots", no_argument, NULL, OPT_NO_OTHERS },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "verify", no_argument, NULL, OPT_VERIFY },
	{ NULL, 0, NULL, 0 },
};

struct merge_args {
	bool quiet, verbose, no_others, dry_run, verify;
	const char *paths[2 + SNAP_MERGE_MAX_OTHERS]; /* origin, cow, others */
	unsigned nr_others;
};

static int parse_option(struct merge_args *a, int c, char **argv)
{
	switch (c) {
	case 'q':
		return -1;
	case 'v':
		a->verbose = true;
		return -1;
	case OPT_ORIGIN:
	case OPT_COW:
		a->paths[c - OPT_ORIGIN] = optarg;
		return -1;
	case OPT_OTHER:
		if (a->nr_others == SNAP_MERGE_MAX_OTHERS)
			return tool_usage_error(TOOL, usage, a->quiet,
						"at most %u --other stores", SNAP_MERGE_MAX_OTHERS);
		a->paths[2 + a->nr_others++] = optarg;
		return -1;
	case OPT_NO_OTHERS:
		a->no_others = true;
		return -1;
	case OPT_DRY_RUN:
		a->dry_run = true;
		return -1;
	case OPT_VERIFY:
		a->verify = true;
		return -1;
	default:
		return tool_common_option(TOOL, usage, a->quiet, c, argv);
	}
}

static int parse(int argc, char **argv, struct merge_args *a)
{
	int c, r;
	a->quiet = tool_quiet_requested(argc, argv);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":hVqv", long_opts, NULL)) != -1)
		if ((r = parse_option(a, c, argv)) >= 0)
			return r;
	if (optind < argc)
		return tool_usage_error(TOOL, usage, a->quiet,
					"unexpected argument '%s'", argv[optind]);
	if (!a->paths[0] || !a->paths[1])
		return tool_usage_error(TOOL, usage, a->quiet, "both --origin and --cow are needed");
	if (!a->nr_others && !a->no_others)
		return tool_usage_error(TOOL, usage, a->quiet,
					"neither --other nor --no-other-snapshots was given: offline, the other snapshots of the origin cannot be found, and merging would corrupt them; name the COW of each with --other, or state that there are none with --no-other-snapshots");
	if (a->nr_others && a->no_others)
		return tool_usage_error(TOOL, usage, a->quiet,
					"--other and --no-other-snapshots contradict each other");
	return -1;
}

/* ---- devices --------------------------------------------------------- */

struct opened {
	struct bdev meta[2 + SNAP_MERGE_MAX_OTHERS], data[2 + SNAP_MERGE_MAX_OTHERS];
	struct snap_merge_dev dev[2 + SNAP_MERGE_MAX_OTHERS];
	unsigned nr;
};

static int refuse_same_files(const struct merge_args *a, unsigned n)
{
	struct stat st[2 + SNAP_MERGE_MAX_OTHERS];
	for (unsigned i = 0; i < n; i++) {
		if (stat(a->paths[i], &st[i]) == 0)
			continue;
		tool_error(a->quiet, errno == ENOENT ? "Couldn't find '%s'" : "Couldn't open '%s'",
			   a->paths[i]);
		return EXIT_FAILURE_RUNTIME;
	}
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = i + 1; j < n; j++)
			if (bdev_same_stat(&st[i], &st[j])) {
				tool_error(a->quiet, "%s: '%s' and '%s' are the same file",
					   TOOL, a->paths[i], a->paths[j]);
				return EXIT_FAILURE_RUNTIME;
			}
	return 0;
}

static unsigned logical_block(const struct bdev *b)
{
	int size = 0;
	if (b->is_blockdev && ioctl(b->fd, BLKSSZGET, &size) == 0 && size > 0)
		return (unsigned)size;
	return SNAP_SECTOR;
}

static int open_one(const struct merge_args *a, struct opened *o, unsigned i)
{
	const char *path = a->paths[i];
	unsigned w = a->dry_run ? 0 : BDEV_WRITE;
	int r = bdev_open(&o->meta[i], path, w | BDEV_EXCL);
	if (r == -EBUSY) {
		tool_error(a->quiet,
			   "%s: '%s' is in use: deactivate the snapshot and its origin first",
			   TOOL, path);
		return EXIT_FAILURE_RUNTIME;
	}
	if (r) {
		tool_error(a->quiet, r == -EINVAL ? "Not a block device or regular file '%s'."
						  : "Couldn't open '%s'", path);
		return EXIT_FAILURE_RUNTIME;
	}
	o->nr = i + 1;
	/* data goes through O_DIRECT where the device takes it */
	if (bdev_open(&o->data[i], path, w | BDEV_DIRECT)) {
		tool_error(a->quiet, "Couldn't open '%s'", path);
		return EXIT_FAILURE_RUNTIME;
	}
	o->dev[i] = (struct snap_merge_dev){ path, &o->meta[i], &o->data[i],
					     logical_block(&o->meta[i]) };
	if (a->verbose && !a->quiet)
		fprintf(stderr, "%s: %s\n", path,
			o->data[i].direct ? "O_DIRECT"
					  : "O_DIRECT refused: buffered I/O and fdatasync");
	return 0;
}

static void close_all(struct opened *o)
{
	for (unsigned i = 0; i < o->nr; i++) {
		bdev_close(&o->data[i]);
		bdev_close(&o->meta[i]);
	}
}

/* ---- progress and summary ------------------------------------------- */

struct bar {
	struct timespec start;
	bool shown;
};

static double seconds_since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void show_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct bar *b = ctx;
	double s = seconds_since(&b->start), rate = s > 0 ? (double)done / s : 0;
	unsigned long eta = rate > 0 ? (unsigned long)((double)(total - done) / rate) : 0;
	fprintf(stderr, "\rmerging %5.1f%%  %8.1f MiB/s  ETA %lu:%02lu ",
		total ? 100.0 * (double)done / (double)total : 100.0, rate / 1048576.0,
		eta / 60, eta % 60);
	b->shown = true;
}

static void summary(const struct merge_args *a, const struct snap_merge_stats *st)
{
	const char *verb = a->dry_run ? "would merge" : "merged";
	if (a->quiet)
		return;
	printf("%s %llu chunks (%llu bytes) in %llu runs from %s into %s\n", verb,
	       (unsigned long long)st->chunks, (unsigned long long)st->bytes,
	       (unsigned long long)st->runs, a->paths[1], a->paths[0]);
	for (unsigned i = 0; i < a->nr_others; i++)
		if (st->other[i].ignored)
			printf("%s: invalidated snapshot, ignored\n", a->paths[2 + i]);
		else
			printf("%s: %s %llu exceptions (%llu bytes) preserving the origin\n",
			       a->paths[2 + i], a->dry_run ? "would add" : "added",
			       (unsigned long long)st->other[i].exceptions,
			       (unsigned long long)st->other[i].bytes);
}

/* Details (REPORT_INFO) only with -v. */
static void emit_plain(void *ctx, enum report_level level, const char *msg)
{
	if (level != REPORT_INFO)
		tool_report_stderr(ctx, level, msg);
}

static int merge(const struct merge_args *a, struct opened *o)
{
	struct reporter rep = { .emit = a->quiet     ? NULL
					: a->verbose ? tool_report_stderr
						     : emit_plain };
	struct bar bar = { .shown = false };
	struct snap_merge_opts opts = {
		.dry_run = a->dry_run, .verify = a->verify, .threads = THREADS,
		.max_io = MAX_IO, .batch_bytes = BATCH_BYTES, .rep = &rep,
	};
	struct snap_merge_stats st;
	const char *batch = getenv(BATCH_ENV);
	if (batch && *batch)
		opts.batch_bytes = strtoull(batch, NULL, 10);
	if (!a->quiet && isatty(STDERR_FILENO)) {
		clock_gettime(CLOCK_MONOTONIC, &bar.start);
		opts.progress = show_progress;
		opts.progress_ctx = &bar;
	}
	int r = snap_merge(&o->dev[0], &o->dev[1], &o->dev[2], a->nr_others, &opts, &st);
	if (bar.shown)
		fputc('\n', stderr);
	if (r == -EINVAL && rep.counts[REPORT_FATAL])
		return EXIT_FAILURE_RUNTIME; /* explained */
	if (r) {
		tool_error(a->quiet, "%s: %s%s", TOOL, strerror(-r),
			   a->dry_run ? "" : "; every store is still valid: run the same command again to finish the merge");
		return EXIT_FAILURE_RUNTIME;
	}
	summary(a, &st);
	return tool_finish_stdout(EXIT_OK);
}

int cmd_snap_merge_offline(int argc, char **argv)
{
	struct merge_args a = { 0 };
	static struct opened o;
	int status = parse(argc, argv, &a);
	if (status >= 0)
		return status;
	unsigned n = 2 + a.nr_others;
	status = refuse_same_files(&a, n);
	for (unsigned i = 0; i < n && !status; i++)
		status = open_one(&a, &o, i);
	if (!status)
		status = merge(&a, &o);
	close_all(&o);
	return status;
}
