// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * thin_repair: rebuild damaged thin-pool metadata onto another device.
 */
#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <sys/stat.h>

#include "event_queue.h"
#include "thin_repair.h"
#include "thin_restore.h"
#include "tool.h"

static const char *const TOOL = "thin_repair";

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: thin_repair [options] {-i|--input} <device|file> {-o|--output} <device|file>\n"
		"Options:\n"
		"  {-h|--help}\n"
		"  {-i|--input} <input metadata (binary format)>\n"
		"  {-o|--output} <output metadata (binary format)>\n"
		"  {-q|--quiet}\n"
		"  {--transaction-id} <n>\n"
		"  {--data-block-size} <sectors>\n"
		"  {--nr-data-blocks} <n>\n"
		"  {--salvage}\n"
		"  {-V|--version}\n");
}

enum { OPT_SALVAGE = TOOL_OPT_NEXT };

static const struct option long_opts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "input", required_argument, NULL, 'i' },
	{ "output", required_argument, NULL, 'o' },
	TOOL_OVERRIDE_OPTIONS,
	{ "salvage", no_argument, NULL, OPT_SALVAGE },
	{ NULL, 0, NULL, 0 },
};

struct repair_args {
	struct thin_repair_opts o;
	bool quiet;
	const char *input, *output;
};

static int parse_option(struct repair_args *a, int c, char **argv)
{
	int status;
	if (tool_override_option(TOOL, a->quiet, c, &a->o.sb, &status))
		return status;
	switch (c) {
	case 'q':
		return -1;
	case 'i':
		a->input = optarg;
		return -1;
	case 'o':
		a->output = optarg;
		return -1;
	case OPT_SALVAGE:
		a->o.salvage = true;
		return -1;
	default:
		return tool_common_option(TOOL, usage, a->quiet, c, argv);
	}
}

static int parse(int argc, char **argv, struct repair_args *a)
{
	int c, r;
	a->quiet = tool_quiet_requested(argc, argv);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":hVqi:o:", long_opts, NULL)) != -1)
		if ((r = parse_option(a, c, argv)) >= 0)
			return r;
	/* lvconvert --repair passes an empty argument: accept and ignore it */
	for (; optind < argc; optind++)
		if (argv[optind][0])
			return tool_usage_error(TOOL, usage, a->quiet,
						"unexpected argument '%s'", argv[optind]);
	if (!a->input)
		return tool_usage_error(TOOL, usage, a->quiet, "No input file provided.");
	if (!a->output)
		return tool_usage_error(TOOL, usage, a->quiet, "No output file provided.");
	a->o.shared_defs = true;
	return -1;
}

static bool same_file(const struct bdev *in, const struct bdev *out)
{
	struct stat a, b;
	if (fstat(in->fd, &a) || fstat(out->fd, &b))
		return false;
	if (S_ISBLK(a.st_mode) && S_ISBLK(b.st_mode))
		return a.st_rdev == b.st_rdev;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The restorer, behind an event queue so that it builds on another core. */
struct writer {
	struct bdev *out;
	struct thin_restorer *r;
	struct event_queue *q;
	struct dump_emitter e, up;
};

static void writer_destroy(struct writer *w)
{
	event_queue_destroy(w->q);
	thin_restorer_destroy(w->r);
	w->q = NULL;
	w->r = NULL;
}

static int writer_create(struct writer *w)
{
	struct thin_restore_opts ro = { 0 };
	int s = thin_restorer_create(&w->r, w->out, &ro, &w->e);
	if (!s)
		s = event_queue_create(&w->q, &w->e, &w->up);
	if (s)
		writer_destroy(w);
	return s;
}

/* The superblock's trees were damaged after all: start the output over. */
static int writer_restart(void *ctx, const struct dump_emitter **e)
{
	struct writer *w = ctx;
	writer_destroy(w);
	int s = writer_create(w);
	*e = &w->up;
	return s;
}

static int repair(struct repair_args *a, struct bdev *in, struct bdev *out)
{
	struct reporter rep = { .emit = a->quiet ? NULL : tool_report_stderr };
	struct writer w = { .out = out };
	int s = writer_create(&w);
	if (s) {
		tool_error(a->quiet, "%s: %s", a->output, strerror(-s));
		return EXIT_FAILURE_RUNTIME;
	}
	a->o.restart = writer_restart;
	a->o.restart_ctx = &w;
	s = thin_repair_dump(in, &a->o, &w.up, &rep);
	/* stop the builder thread: everything it was given is built */
	event_queue_destroy(w.q);
	w.q = NULL;
	if (s && w.r && *thin_restorer_error(w.r))
		tool_error(a->quiet, "%s: %s", a->output, thin_restorer_error(w.r));
	else if (s == -ENOMEM)
		tool_error(a->quiet, "thin_repair: out of memory");
	else if (s && s != -ENOENT && s != -EINVAL && s != -EILSEQ)
		tool_error(a->quiet, "thin_repair: %s", strerror(-s));
	/* the whole input was read: only now does a pool appear */
	if (!s && (s = thin_restorer_commit(w.r)))
		tool_error(a->quiet, "%s: %s", a->output, thin_restorer_error(w.r));
	writer_destroy(&w);
	return s ? EXIT_FAILURE_RUNTIME : EXIT_OK;
}

int cmd_thin_repair(int argc, char **argv)
{
	struct repair_args a = { 0 };
	struct bdev in, out;
	int status = parse(argc, argv, &a);
	if (status >= 0)
		return status;
	/* read-only: a repair never writes to its input */
	if ((status = tool_open_metadata(a.input, BDEV_EXCL, a.quiet, &in)))
		return status;
	status = tool_open_metadata_output(a.output, a.quiet, &out);
	if (!status && same_file(&in, &out)) {
		tool_error(a.quiet, "thin_repair: the input and the output are the same; repair needs a separate output");
		bdev_close(&out);
		status = EXIT_FAILURE_RUNTIME;
	}
	if (!status) {
		status = repair(&a, &in, &out);
		bdev_close(&out);
	}
	bdev_close(&in);
	return status;
}
