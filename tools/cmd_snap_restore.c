// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * snap_restore: write a dm-snapshot exception store from snap_dump XML.
 */
#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <unistd.h>

#include "snap_xml.h"
#include "tool.h"

static const char *const TOOL = "snap_restore";

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: snap_restore [options]\n"
		"Options:\n"
		"  {-h|--help}\n"
		"  {-i|--input} <input xml file>\n"
		"  {-o|--output} <output COW device or file>\n"
		"  {-q|--quiet}\n"
		"  {-V|--version}\n");
}

static const struct option long_opts[] = {
	TOOL_IO_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

static int read_xml(const struct tool_io *a, struct snap_image *img)
{
	struct xml_error err;
	int in = tool_open_xml(a->input, a->quiet);
	if (in < 0)
		return EXIT_FAILURE_RUNTIME;
	int r = snap_xml_read(in, img, &err);
	close(in);
	if (r)
		tool_xml_error(a->quiet, a->input, &err);
	return r ? EXIT_FAILURE_RUNTIME : 0;
}

static int write_store(const struct tool_io *a, const struct snap_image *img)
{
	struct bdev out;
	int status = tool_open_output(a->output, 0, a->quiet, &out);
	if (status)
		return status;
	uint64_t need = snap_image_bytes(img);
	if (out.size < need) {
		if (img->formatted)
			tool_error(a->quiet,
				   "%s is too small: it has %llu bytes, the store needs %llu (%llu chunks of %u sectors)",
				   a->output, (unsigned long long)out.size,
				   (unsigned long long)need,
				   (unsigned long long)img->nr_chunks, img->chunk_size);
		else
			tool_error(a->quiet, "%s is too small: it has %llu bytes, the store needs %llu",
				   a->output, (unsigned long long)out.size,
				   (unsigned long long)need);
		status = EXIT_FAILURE_RUNTIME;
	} else {
		int r = snap_image_write(&out, img);
		if (r)
			tool_error(a->quiet, "%s: write failed: %s", a->output, strerror(-r));
		status = r ? EXIT_FAILURE_RUNTIME : EXIT_OK;
	}
	bdev_close(&out);
	return status;
}

int cmd_snap_restore(int argc, char **argv)
{
	struct tool_io a = { TOOL, usage, long_opts };
	struct snap_image img = { 0 };
	int status = tool_parse_io(&a, argc, argv);
	if (status >= 0)
		return status;
	/* the whole document is read and checked before anything is written */
	status = read_xml(&a, &img);
	if (!status)
		status = write_store(&a, &img);
	snap_image_release(&img);
	return status;
}
