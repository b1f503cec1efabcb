// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * thin_restore: write thin-pool metadata from a thin_dump XML file.
 */
#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <unistd.h>

#include "thin_restore.h"
#include "thin_xml.h"
#include "tool.h"

static const char *const TOOL = "thin_restore";

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: thin_restore [options]\n"
		"Options:\n"
		"  {-h|--help}\n"
		"  {-i|--input} <input xml file>\n"
		"  {-o|--output} <output device or file>\n"
		"  {-q|--quiet}\n"
		"  {--transaction-id} <n>\n"
		"  {--data-block-size} <sectors>\n"
		"  {--nr-data-blocks} <n>\n"
		"  {-V|--version}\n");
}

static const struct option long_opts[] = {
	TOOL_IO_OPTIONS,
	TOOL_OVERRIDE_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

struct restore_args {
	struct tool_io io;
	struct thin_restore_opts o;
};

static int restore(const struct restore_args *a, int in, struct bdev *out)
{
	struct thin_restorer *r = NULL;
	struct dump_emitter e;
	struct xml_error err;
	int s = thin_restorer_create(&r, out, &a->o, &e);
	if (s) {
		tool_error(a->io.quiet, "%s: %s", a->io.output, strerror(-s));
		thin_restorer_destroy(r);
		return EXIT_FAILURE_RUNTIME;
	}
	/* parsing and building run on threads of their own */
	s = thin_xml_read(in, &e, &err);
	if (s)
		tool_xml_error(a->io.quiet, a->io.input, &err);
	/* the whole document was good: only now does a pool appear */
	if (!s && (s = thin_restorer_commit(r)))
		tool_error(a->io.quiet, "%s: %s", a->io.output, thin_restorer_error(r));
	thin_restorer_destroy(r);
	return s ? EXIT_FAILURE_RUNTIME : EXIT_OK;
}

int cmd_thin_restore(int argc, char **argv)
{
	struct restore_args a = { .io = { TOOL, usage, long_opts, .sb = &a.o.sb } };
	struct bdev out;
	int status = tool_parse_io(&a.io, argc, argv);
	if (status >= 0)
		return status;
	int in = tool_open_xml(a.io.input, a.io.quiet);
	if (in < 0)
		return EXIT_FAILURE_RUNTIME;
	status = tool_open_metadata_output(a.io.output, a.io.quiet, &out);
	if (!status) {
		status = restore(&a, in, &out);
		bdev_close(&out);
	}
	close(in);
	return status;
}
