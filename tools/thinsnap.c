// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * thinsnap: one binary, many tools.  Runs the tool named by argv[0]
 * (installed as links) or by the first argument (`thinsnap thin_check`).
 */
#include <stdio.h>
#include <string.h>

#include "tool.h"

static const struct command commands[] = {
	{ "thin_check", cmd_thin_check },
	{ "thin_dump", cmd_thin_dump },
	{ "thin_restore", cmd_thin_restore },
	{ "thin_rmap", cmd_thin_rmap },
	{ "thin_repair", cmd_thin_repair },
	{ "snap_check", cmd_snap_check },
	{ "snap_dump", cmd_snap_dump },
	{ "snap_restore", cmd_snap_restore },
	{ "snap_repair", cmd_snap_repair },
	{ "snap_merge_offline", cmd_snap_merge_offline },
};

#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find(const char *name)
{
	const char *slash = strrchr(name, '/');
	if (slash)
		name = slash + 1;
	for (size_t i = 0; i < NR_COMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: thinsnap <command> [options]\nCommands:\n");
	for (size_t i = 0; i < NR_COMMANDS; i++)
		fprintf(f, "  %s\n", commands[i].name);
}

int main(int argc, char **argv)
{
	const struct command *cmd = find(argv[0]);
	if (cmd)
		return cmd->main(argc, argv);
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("%s\n", THINSNAP_VERSION);
		return EXIT_OK;
	}
	cmd = find(argv[1]);
	if (!cmd) {
		fprintf(stderr, "thinsnap: unknown command '%s'\n", argv[1]);
		usage(stderr);
		return EXIT_USAGE;
	}
	return cmd->main(argc - 1, argv + 1);
}
