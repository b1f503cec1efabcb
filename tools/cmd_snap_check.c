// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * snap_check: validate a dm-snapshot persistent exception store.
 */
#include <errno.h>
#include <getopt.h>
#include <string.h>

#include "snap_store.h"
#include "tool.h"

static const char *const TOOL = "snap_check";

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: snap_check [options] {device|file}\n"
		"Options:\n"
		"  {-h|--help}\n"
		"  {-V|--version}\n"
		"  {-q|--quiet}\n"
		"  {--origin} <origin device or file>\n"
		"  {--origin-size} <sectors>\n"
		"  {--chunk-size} <sectors>\n");
}

enum { OPT_ORIGIN = 256, OPT_ORIGIN_SIZE, OPT_CHUNK_SIZE };

static const struct option long_opts[] = {
	TOOL_COMMON_OPTIONS,
	{ "origin", required_argument, NULL, OPT_ORIGIN },
	{ "origin-size", required_argument, NULL, OPT_ORIGIN_SIZE },
	{ "chunk-size", required_argument, NULL, OPT_CHUNK_SIZE },
	{ NULL, 0, NULL, 0 },
};

struct check_args {
	struct snap_check_opts o;
	bool quiet;
	const char *origin, *input;
	bool have_origin_size;
};

static int parse(int argc, char **argv, struct check_args *a)
{
	uint64_t v;
	int c;
	a->quiet = tool_quiet_requested(argc, argv);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":hVq", long_opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			break;
		case OPT_ORIGIN:
			a->origin = optarg;
			break;
		case OPT_ORIGIN_SIZE:
			if (!tool_parse_u64(TOOL, a->quiet, "--origin-size", optarg,
					    &a->o.origin_sectors))
				return EXIT_USAGE;
			a->have_origin_size = true;
			break;
		case OPT_CHUNK_SIZE:
			if (!tool_parse_u64(TOOL, a->quiet, "--chunk-size", optarg, &v) ||
			    !v || v > UINT32_MAX)
				return tool_usage_error(TOOL, usage, a->quiet,
							"--chunk-size needs a number of sectors above 0");
			a->o.expected_chunk_size = (uint32_t)v;
			break;
		default:
			return tool_common_option(TOOL, usage, a->quiet, c, argv);
		}
	}
	if (a->origin && a->have_origin_size)
		return tool_usage_error(TOOL, usage, a->quiet,
					"--origin and --origin-size cannot be combined");
	return tool_one_input(TOOL, usage, a->quiet, argc, argv, &a->input);
}

/* --origin: its size in sectors. */
static int origin_size(struct check_args *a)
{
	struct bdev o;
	int r = tool_open_input(a->origin, 0, a->quiet, &o);
	if (r)
		return r;
	a->o.origin_sectors = o.size / SNAP_SECTOR;
	bdev_close(&o);
	return 0;
}

static int check(struct check_args *a, struct bdev *dev)
{
	struct reporter rep = { .emit = a->quiet ? NULL : tool_report_stderr };
	struct snap_store s;
	struct snap_usage u;
	int r = snap_store_open(&s, dev);
	if (r == -ERANGE) {
		tool_error(a->quiet, "COW device/file too small for a snapshot store header.");
		return EXIT_FAILURE_RUNTIME;
	}
	if (!r)
		r = snap_store_check(&s, &a->o, &rep);
	if (r) {
		tool_error(a->quiet, "%s: %s", TOOL, strerror(-r));
		snap_store_release(&s);
		return EXIT_FAILURE_RUNTIME;
	}
	int status = rep.counts[REPORT_FATAL] || rep.counts[REPORT_NONFATAL]
			     ? EXIT_FAILURE_RUNTIME : EXIT_OK;
	if (!status && s.state == SNAP_FORMATTED && !a->quiet) {
		snap_store_usage(&s, &u);
		printf("%llu/%llu %llu, %llu exceptions\n",
		       (unsigned long long)u.allocated, (unsigned long long)u.total,
		       (unsigned long long)u.metadata,
		       (unsigned long long)s.nr_ex);
	}
	snap_store_release(&s);
	return tool_finish_stdout(status);
}

int cmd_snap_check(int argc, char **argv)
{
	struct check_args a = { 0 };
	struct bdev dev;
	int status = parse(argc, argv, &a);
	if (status >= 0)
		return status;
	if (a.origin && (status = origin_size(&a)))
		return status;
	status = tool_open_input(a.input, BDEV_EXCL, a.quiet, &dev);
	if (status)
		return status;
	status = check(&a, &dev);
	bdev_close(&dev);
	return status;
}
