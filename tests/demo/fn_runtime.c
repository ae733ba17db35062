// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A function runtime for leak tests: after "ready", each request line (a canary)
 * is planted in every persistence class it can reach, then answered "ok N PID".
 * N counts requests since start: after a correct rewind it is always 1.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096

static int counter;
static char global_canary[128];
static char *init_map; /* mapped at init: munmap'ed and re-mapped by a request */
static char *init_heap;

static void *thread_main(void *arg)
{
	char stack_copy[128];

	snprintf(stack_copy, sizeof(stack_copy), "%s", (const char *)arg);
	for (;;)
		pause();
	return NULL;
}

static void plant(const char *canary)
{
	char stack_canary[128];
	size_t len = strlen(canary) + 1;
	char *heap, *m, *r, *b;
	pthread_t th;
	pid_t child;
	int fd;

	snprintf(stack_canary, sizeof(stack_canary), "%s", canary);
	snprintf(global_canary, sizeof(global_canary), "%s", canary);
	heap = malloc(len);
	memcpy(heap, canary, len); /* leaked on purpose */
	memcpy(init_heap, canary, len);

	m = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memcpy(m + PG, canary, len);

	munmap(init_map, 2 * PG);
	r = mmap(init_map, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	memcpy(r, canary, len);

	r = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memcpy(r, canary, len);
	r = mremap(r, PG, 8 * PG, MREMAP_MAYMOVE);
	memcpy(r + 7 * PG, canary, len);

	b = sbrk(8 * PG);
	if (b != (void *)-1)
		memcpy(b + 4 * PG, canary, len);

	pthread_create(&th, NULL, thread_main, heap);

	child = fork();
	if (child == 0) {
		char *c = malloc(len);

		memcpy(c, canary, len);
		for (;;)
			pause();
	}
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	(void)fd; /* left open on purpose */
	(void)stack_canary;
}

int main(void)
{
	char line[256];

	init_map = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(init_map, 'i', 2 * PG);
	init_heap = malloc(256);
	memset(init_heap, 'h', 256);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready\n");
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = 0;
		counter++;
		plant(line);
		printf("ok %d %d\n", counter, (int)getpid());
	}
	return 0;
}
