// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The one parser of /proc/PID/stat used by the restorer, the engine and the
 * trace model.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
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

/* The NSpid line of /proc/PID/status: pid in each namespace, outermost first. */
static int nspids(pid_t pid, pid_t *v, int max)
{
	char path[64], line[256];
	int n = -ESRCH;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -ESRCH;
	while (fgets(line, sizeof(line), f)) {
		char *p = line + 6, *end;

		if (strncmp(line, "NSpid:", 6))
			continue;
		for (n = 0; n < max; n++) {
			long x = strtol(p, &end, 10);

			if (end == p)
				break;
			v[n] = (pid_t)x;
			p = end;
		}
		break;
	}
	fclose(f);
	return n;
}

pid_t rs_proc_pid_in_ns_of(pid_t pid, pid_t viewer)
{
	pid_t a[32], b[32];
	int na = nspids(pid, a, 32), nb = nspids(viewer, b, 32);

	if (na <= 0 || nb <= 0)
		return -ESRCH;
	/* the viewer's namespace is level nb-1; pid is visible there if it is as deep */
	return na >= nb ? a[nb - 1] : -ESRCH;
}

long rs_proc_rollup_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t len = strlen(field);
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (kb < 0 && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':')
			kb = strtol(line + len + 1, NULL, 10);
	fclose(f);
	return kb;
}
