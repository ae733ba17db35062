// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A small "function" that leaves persistence points behind: it writes 100 pages
 * of a new 1 MiB anonymous mapping, creates and writes a file, forks a child.
 * `leaky [DIR]` writes its file into DIR (default /tmp).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	char path[4096];
	char *map;
	pid_t child;
	int fd;

	map = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return 1;
	for (int i = 0; i < 100; i++)
		memcpy(map + i * 4096, "secret-of-request-1", 20);

	snprintf(path, sizeof(path), "%s/lethe-demo-secret.txt", dir);
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	if (fd < 0 || write(fd, "secret-of-request-1\n", 20) != 20)
		return 2;
	close(fd);

	child = fork();
	if (child == 0) {
		map[0] = 'c'; /* the child's own copy-on-write page */
		_exit(0);
	}
	if (child < 0 || waitpid(child, NULL, 0) != child)
		return 3;
	printf("leaky: wrote 100 pages at %p, %s, forked %d\n", (void *)map, path, (int)child);
	return 0;
}
