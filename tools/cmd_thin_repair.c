// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * thin_repair: rebuild damaged thin-pool metadata onto another device.
 */
#include <errno.h>
#include <getopt.h>
#include <string.h>

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
	TOOL_IO_OPTIONS,
	TOOL_OVERRIDE_OPTIONS,
	{ "salvage", no_argument, NULL, OPT_SALVAGE },
	{ NULL, 0, NULL, 0 },
};

struct repair_args {
	struct tool_io io;
	struct thin_repair_opts o;
};

/* --salvage, the only option of thin_repair's own */
static int own_option(void *ctx, int c)
{
	struct repair_args *a = ctx;
	(void)c;
	a->o.salvage = true;
	return -1;
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
	struct reporter rep = { .emit = a->io.quiet ? NULL : tool_report_stderr };
	struct writer w = { .out = out };
	int s = writer_create(&w);
	if (s) {
		tool_error(a->io.quiet, "%s: %s", a->io.output, strerror(-s));
		return EXIT_FAILURE_RUNTIME;
	}
	a->o.restart = writer_restart;
	a->o.restart_ctx = &w;
	s = thin_repair_dump(in, &a->o, &w.up, &rep);
	/* stop the builder thread: everything it was given is built */
	event_queue_destroy(w.q);
	w.q = NULL;
	if (s && w.r && *thin_restorer_error(w.r))
		tool_error(a->io.quiet, "%s: %s", a->io.output, thin_restorer_error(w.r));
	else if (s == -ENOMEM)
		tool_error(a->io.quiet, "thin_repair: out of memory");
	else if (s && s != -ENOENT && s != -EINVAL && s != -EILSEQ)
		tool_error(a->io.quiet, "thin_repair: %s", strerror(-s));
	/* the whole input was read: only now does a pool appear */
	if (!s && (s = thin_restorer_commit(w.r)))
		tool_error(a->io.quiet, "%s: %s", a->io.output, thin_restorer_error(w.r));
	writer_destroy(&w);
	return s ? EXIT_FAILURE_RUNTIME : EXIT_OK;
}

int cmd_thin_repair(int argc, char **argv)
{
	struct repair_args a = {
		.io = { TOOL, usage, long_opts, &a.o.sb, own_option, &a,
			/* lvconvert --repair passes an empty argument */
			.empty_operands_ok = true },
		.o = { .shared_defs = true },
	};
	struct bdev in, out;
	int status = tool_parse_io(&a.io, argc, argv);
	if (status >= 0)
		return status;
	/* read-only: a repair never writes to its input */
	if ((status = tool_open_metadata(a.io.input, BDEV_EXCL, a.io.quiet, &in)))
		return status;
	status = tool_open_metadata_output(a.io.output, a.io.quiet, &out);
	if (!status && bdev_same(&in, &out)) {
		tool_error(a.io.quiet, "thin_repair: the input and the output are the same; repair needs a separate output");
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
