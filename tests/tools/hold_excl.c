// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hold_excl DEV CMD [ARG...]: run CMD while DEV is open with O_EXCL (as a
 * mounted or active block device is held), and exit with CMD's status.
 * For tests of tools that must refuse a device in use.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: hold_excl DEV CMD [ARG...]\n");
		return 2;
	}
	int fd = open(argv[1], O_RDONLY | O_EXCL | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "hold_excl: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	pid_t pid = fork();
	if (pid < 0)
		return 2;
	if (!pid) {
		execvp(argv[2], argv + 2);
		fprintf(stderr, "hold_excl: %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	close(fd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
