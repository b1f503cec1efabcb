// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * thin_restore: write thin-pool metadata from a thin_dump XML file.
 */
#include <errno.h>
#include <fcntl.h>
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
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "input", required_argument, NULL, 'i' },
	{ "output", required_argument, NULL, 'o' },
	TOOL_OVERRIDE_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

struct restore_args {
	struct thin_restore_opts o;
	bool quiet;
	const char *input, *output;
};

static int parse_option(struct restore_args *a, int c, char **argv)
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
	default:
		return tool_common_option(TOOL, usage, a->quiet, c, argv);
	}
}

static int parse(int argc, char **argv, struct restore_args *a)
{
	int c, r;
	a->quiet = tool_quiet_requested(argc, argv);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":hVqi:o:", long_opts, NULL)) != -1)
		if ((r = parse_option(a, c, argv)) >= 0)
			return r;
	return tool_restore_files(TOOL, usage, a->quiet, argc, argv, a->input, a->output);
}

static int restore(const struct restore_args *a, int in, struct bdev *out)
{
	struct thin_restorer *r = NULL;
	struct dump_emitter e;
	struct xml_error err;
	int s = thin_restorer_create(&r, out, &a->o, &e);
	if (s) {
		tool_error(a->quiet, "%s: %s", a->output, strerror(-s));
		thin_restorer_destroy(r);
		return EXIT_FAILURE_RUNTIME;
	}
	/* parsing and building run on threads of their own */
	s = thin_xml_read(in, &e, &err);
	if (s)
		tool_xml_error(a->quiet, a->input, &err);
	/* the whole document was good: only now does a pool appear */
	if (!s && (s = thin_restorer_commit(r)))
		tool_error(a->quiet, "%s: %s", a->output, thin_restorer_error(r));
	thin_restorer_destroy(r);
	return s ? EXIT_FAILURE_RUNTIME : EXIT_OK;
}

int cmd_thin_restore(int argc, char **argv)
{
	struct restore_args a = { 0 };
	struct bdev out;
	int status = parse(argc, argv, &a);
	if (status >= 0)
		return status;
	int in = tool_open_xml(a.input, a.quiet);
	if (in < 0)
		return EXIT_FAILURE_RUNTIME;
	status = tool_open_metadata_output(a.output, a.quiet, &out);
	if (!status) {
		status = restore(&a, in, &out);
		bdev_close(&out);
	}
	close(in);
	return status;
}
