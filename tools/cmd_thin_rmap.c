// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * thin_rmap: not written yet (issue 3).
 */
#include "tool.h"

int cmd_thin_rmap(int argc, char **argv)
{
	(void)argc;
	tool_error(false, "%s: not implemented yet", argv[0]);
	return EXIT_FAILURE_RUNTIME;
}
