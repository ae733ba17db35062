// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The runtime bench_rewind measures: a warm process with RSS_MB of initialised
 * heap that dirties exactly K pages of it per request, and times its own writes.
 * usage: bench_target RSS_MB
 *   prints "ready" once the heap is allocated and touched; then, for each line
 *   "K" on stdin, writes one byte into K distinct heap pages spread over the
 *   whole allocation (page stride) and answers "ok NS", NS being the nanoseconds
 *   its write loop took (first writes fault when lethe has armed the pages).
 *   EOF or a line that is not a number ends it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), mb, len, npages;
	volatile unsigned char *heap;
	char line[64], *end;

	if (argc != 2) {
		fprintf(stderr, "usage: %s RSS_MB\n", argv[0]);
		return 2;
	}
	mb = strtoul(argv[1], &end, 10);
	if (*end || mb == 0) {
		fprintf(stderr, "bench_target: bad RSS_MB '%s'\n", argv[1]);
		return 2;
	}
	len = mb << 20;
	npages = len / page;
	heap = malloc(len);
	if (!heap) {
		fprintf(stderr, "bench_target: failed to allocate %zu MB: %s\n", mb, strerror(errno));
		return 1;
	}
	/* touch it all: the checkpoint sees a warm process with RSS_MB resident */
	memset((void *)heap, 0x5a, len);

	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		long k = strtol(line, &end, 10);
		size_t stride;
		uint64_t t0, t1;

		if (end == line || k < 0)
			break;
		if ((size_t)k > npages)
			k = (long)npages;
		stride = k ? npages / (size_t)k : 0;
		t0 = now_ns();
		for (long i = 0; i < k; i++) {
			volatile unsigned char *p = heap + (size_t)i * stride * page;

			*p = (unsigned char)(*p + 1);
		}
		t1 = now_ns();
		printf("ok %llu\n", (unsigned long long)(t1 - t0));
		fflush(stdout);
	}
	return 0;
}
