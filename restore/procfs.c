// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The one parser of /proc/PID/stat used by the restorer, the engine and the
 * trace model.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "procfs.h"

int rs_proc_stat(pid_t pid, char *state, pid_t *ppid)
{
	char path[64], buf[512], *paren;
	int fd, pp = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ESRCH;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = 0;
	paren = strrchr(buf, ')');
	if (!paren || paren[1] != ' ' || !paren[2])
		return -ESRCH;
	if (state)
		*state = paren[2];
	if (ppid) {
		sscanf(paren + 3, " %d", &pp);
		*ppid = pp;
	}
	return 0;
}

bool rs_proc_is_alive(pid_t pid)
{
	char st;

	return rs_proc_stat(pid, &st, NULL) == 0 && st != 'Z' && st != 'X';
}
