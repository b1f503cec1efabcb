// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * snap_dump: write a dm-snapshot exception store as XML.
 */
#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <unistd.h>

#include "snap_dump.h"
#include "tool.h"

static const char *const TOOL = "snap_dump";

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: snap_dump [options] {device|file}\n"
		"Options:\n"
		"  {-h|--help}\n"
		"  {-V|--version}\n"
		"  {-q|--quiet}\n"
		"  {-o|--output} <xml file>\n");
}

static const struct option long_opts[] = {
	TOOL_COMMON_OPTIONS,
	{ "output", required_argument, NULL, 'o' },
	{ NULL, 0, NULL, 0 },
};

struct dump_args {
	bool quiet;
	const char *input, *output;
};

static int parse(int argc, char **argv, struct dump_args *a)
{
	int c;
	a->quiet = tool_quiet_requested(argc, argv);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":hVqo:", long_opts, NULL)) != -1) {
		if (c == 'q')
			continue;
		if (c == 'o') {
			a->output = optarg;
			continue;
		}
		return tool_common_option(TOOL, usage, a->quiet, c, argv);
	}
	return tool_one_input(TOOL, usage, a->quiet, argc, argv, &a->input);
}

/* Only a store that reads as the kernel would read it is dumped. */
static int usable(const struct dump_args *a, const struct snap_store *s)
{
	struct reporter rep = { .emit = a->quiet ? NULL : tool_report_stderr };
	struct snap_check_opts none = { 0 };
	if (snap_store_check(s, &none, &rep))
		return EXIT_FAILURE_RUNTIME;
	if (s->state == SNAP_FORMATTED && !s->valid) {
		/* said by the check; the header alone is still worth a dump */
		return 0;
	}
	return rep.counts[REPORT_FATAL] ? EXIT_FAILURE_RUNTIME : 0;
}

static int dump(const struct dump_args *a, struct bdev *dev)
{
	struct snap_store s;
	struct outbuf out;
	int fd = STDOUT_FILENO, status;
	int r = snap_store_open(&s, dev);
	if (r) {
		tool_error(a->quiet, "%s: %s", a->input,
			   r == -ERANGE ? "too small for a snapshot store header"
					: strerror(-r));
		return EXIT_FAILURE_RUNTIME;
	}
	status = usable(a, &s);
	if (!status && a->output && (fd = tool_create_output(a->output, a->quiet)) < 0)
		status = EXIT_FAILURE_RUNTIME;
	if (!status) {
		if (outbuf_init(&out, fd))
			status = EXIT_FAILURE_RUNTIME;
		else {
			snap_dump_xml(&s, &out);
			if ((r = outbuf_flush(&out)) && r != -EPIPE)
				tool_error(a->quiet, "%s: write failed: %s", TOOL,
					   strerror(-r));
			status = r ? EXIT_FAILURE_RUNTIME : EXIT_OK;
			outbuf_release(&out);
		}
		if (a->output && close(fd) && !status)
			status = EXIT_FAILURE_RUNTIME;
	}
	snap_store_release(&s);
	return status;
}

int cmd_snap_dump(int argc, char **argv)
{
	struct dump_args a = { 0 };
	struct bdev dev;
	int status = parse(argc, argv, &a);
	if (status >= 0)
		return status;
	status = tool_open_input(a.input, BDEV_EXCL, a.quiet, &dev);
	if (status)
		return status;
	status = dump(&a, &dev);
	bdev_close(&dev);
	return status;
}
