// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * thin_rmap: which thin devices and blocks map a range of data blocks.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "outbuf.h"
#include "thin_rmap.h"
#include "tool.h"

static const char *const TOOL = "thin_rmap";

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: thin_rmap [options] {device|file}\n"
		"Options:\n"
		"  {-h|--help}\n"
		"  {-V|--version}\n"
		"  {-q|--quiet}\n"
		"  {--region <block range>}*\n"
		"Where:\n"
		"  <block range> is of the form <begin>..<one-past-the-end>\n"
		"  for example 5..45 denotes blocks 5 to 44 inclusive, but not block 45\n");
}

enum {
	OPT_REGION = 256,
};

static const struct option long_opts[] = {
	TOOL_COMMON_OPTIONS,
	{ "region", required_argument, NULL, OPT_REGION },
	{ NULL, 0, NULL, 0 },
};

struct rmap_args {
	bool quiet;
	const char *input;
	struct rmap_region *regions;
	size_t nr_regions;
};

static int add_region(struct rmap_args *a, const char *s)
{
	struct rmap_region r;
	switch (thin_rmap_parse_region(s, &r)) {
	case RMAP_REGION_OK:
		break;
	case RMAP_REGION_END_LE_BEGIN:
		tool_error(a->quiet,
			   "%s: badly formed region '%s' (end <= begin)",
			   TOOL, s);
		return EXIT_USAGE;
	default:
		tool_error(a->quiet,
			   "%s: badly formed region '%s' (expected <begin>..<one-past-the-end>, for example 5..45)",
			   TOOL, s);
		return EXIT_USAGE;
	}
	struct rmap_region *n =
		realloc(a->regions, (a->nr_regions + 1) * sizeof(*n));
	if (!n) {
		tool_error(a->quiet, "%s: out of memory", TOOL);
		return EXIT_FAILURE_RUNTIME;
	}
	a->regions = n;
	a->regions[a->nr_regions++] = r;
	return -1;
}

static int parse_option(struct rmap_args *a, int c, char **argv)
{
	switch (c) {
	case 'q':
		a->quiet = true;
		return -1;
	case OPT_REGION:
		return add_region(a, optarg);
	default:
		return tool_common_option(TOOL, usage, a->quiet, c, argv);
	}
}

static int parse(int argc, char **argv, struct rmap_args *a)
{
	int c, r;
	a->quiet = tool_quiet_requested(argc, argv);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":hVq", long_opts, NULL)) != -1)
		if ((r = parse_option(a, c, argv)) >= 0)
			return r;
	if (!a->nr_regions)
		return tool_usage_error(TOOL, usage, a->quiet,
					"No regions provided.");
	return tool_one_input(TOOL, usage, a->quiet, argc, argv, &a->input);
}

static const char DIGIT_PAIRS[] =
	"0001020304050607080910111213141516171819"
	"2021222324252627282930313233343536373839"
	"4041424344454647484950515253545556575859"
	"6061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/* Decimal digits of v at p (two at a time); returns the end. */
static char *put_u64(char *p, uint64_t v)
{
	char tmp[20];
	char *t = tmp + sizeof(tmp);
	while (v >= 100) {
		unsigned d = (unsigned)(v % 100) * 2;
		v /= 100;
		*--t = DIGIT_PAIRS[d + 1];
		*--t = DIGIT_PAIRS[d];
	}
	if (v >= 10) {
		*--t = DIGIT_PAIRS[v * 2 + 1];
		*--t = DIGIT_PAIRS[v * 2];
	} else {
		*--t = (char)('0' + v);
	}
	size_t n = (size_t)(tmp + sizeof(tmp) - t);
	memcpy(p, t, n);
	return p + n;
}

static char *put_str(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

/* One line per run: "data 10..12 -> thin(1) 0..2". */
static int print_run(void *ctx, const struct rmap_run *run)
{
	struct outbuf *o = ctx;
	outbuf_reserve(o, 128);
	char *p = o->buf + o->len;
	p = put_str(p, "data ", 5);
	p = put_u64(p, run->data_begin);
	p = put_str(p, "..", 2);
	p = put_u64(p, run->data_end);
	p = put_str(p, " -> thin(", 9);
	p = put_u64(p, run->dev_id);
	p = put_str(p, ") ", 2);
	p = put_u64(p, run->thin_begin);
	p = put_str(p, "..", 2);
	p = put_u64(p, run->thin_begin + (run->data_end - run->data_begin));
	*p++ = '\n';
	o->len = (size_t)(p - o->buf);
	/* stop walking once stdout is gone */
	return o->err;
}

static int rmap_to_stdout(struct rmap_args *a, struct bdev *dev)
{
	struct reporter rep = { .emit = a->quiet ? NULL : tool_report_stderr };
	struct thin_rmap_opts o = { .regions = a->regions,
				    .nr_regions = a->nr_regions };
	struct outbuf out;

	if (outbuf_init(&out, STDOUT_FILENO)) {
		tool_error(a->quiet, "%s: out of memory", TOOL);
		return EXIT_FAILURE_RUNTIME;
	}
	int r = thin_rmap(dev, &o, print_run, &out, &rep, NULL);
	int w = outbuf_flush(&out);
	outbuf_release(&out);
	if (w) {
		/* a reader that went away (| head) ends us quietly */
		if (w != -EPIPE)
			tool_error(a->quiet, "%s: write failed: %s", TOOL,
				   strerror(-w));
		return EXIT_FAILURE_RUNTIME;
	}
	if (r == -ENOMEM)
		tool_error(a->quiet, "%s: out of memory", TOOL);
	return r ? EXIT_FAILURE_RUNTIME : EXIT_OK;
}

int cmd_thin_rmap(int argc, char **argv)
{
	struct rmap_args a = { 0 };
	struct bdev dev;
	int status = parse(argc, argv, &a);
	if (status >= 0)
		goto out;
	status = tool_open_metadata(a.input, BDEV_EXCL, a.quiet, &dev);
	if (status)
		goto out;
	status = rmap_to_stdout(&a, &dev);
	bdev_close(&dev);
out:
	free(a.regions);
	return status;
}
