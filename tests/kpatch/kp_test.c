// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Runs inside the QEMU guest with lethe_kp loaded: the /dev/lethe ioctls with
 * good and bad input. Prints "N passed, N failed"; exits non-zero on a failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>
#include "lethe/dev.h"
#include "restore/copy_dev.h"

#define PG 4096
#define NPG 16

static int passed, failed;

#define CHECK(c, ...)                                                                           \
	do {                                                                                    \
		if (c) {                                                                        \
			passed++;                                                               \
		} else {                                                                        \
			failed++;                                                               \
			printf("FAIL line %d: ", __LINE__);                                     \
			printf(__VA_ARGS__);                                                    \
			printf("\n");                                                           \
		}                                                                               \
	} while (0)

static char *area;
static int ready_rd;

/* A child that, if dirty, overwrites the area with 'B'; it then says so and waits. */
static pid_t child(int ready, int dirty)
{
	pid_t p = fork();
	char c = 'r';

	if (p == 0) {
		if (dirty)
			memset(area, 'B', NPG * PG);
		if (write(ready, &c, 1) != 1)
			_exit(3);
		for (;;)
			pause();
	}
	if (read(ready_rd, &c, 1) != 1)
		return -1;
	return p;
}

static int seize_stop(pid_t p)
{
	int st;

	if (ptrace(PTRACE_SEIZE, p, 0, 0) || ptrace(PTRACE_INTERRUPT, p, 0, 0))
		return -1;
	return waitpid(p, &st, __WALL) == p ? 0 : -1;
}

static int rollback(int fd, pid_t target, pid_t twin, const uint64_t *addrs, unsigned int n, unsigned int *done)
{
	struct lethe_rollback r = { .size = sizeof(r), .target_pid = target, .twin_pid = twin,
				    .addrs = (uint64_t)(uintptr_t)addrs, .count = n };
	int ret = ioctl(fd, LETHE_IOC_ROLLBACK, &r);

	if (done)
		*done = r.done;
	return ret < 0 ? -errno : 0;
}

static int pages_are(pid_t pid, char want)
{
	char path[64], buf[NPG * PG];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDONLY);
	n = pread(fd, buf, sizeof(buf), (off_t)(uintptr_t)area);
	close(fd);
	if (n != (ssize_t)sizeof(buf))
		return 0;
	for (size_t i = 0; i < sizeof(buf); i++)
		if (buf[i] != want)
			return 0;
	return 1;
}

int main(void)
{
	struct lethe_dev_info info = { .size = sizeof(info) };
	uint64_t addrs[NPG + 1];
	unsigned int done = 0;
	int fd, p[2];
	pid_t twin, target, free_child;

	fd = open("/dev/lethe", O_RDWR);
	CHECK(fd >= 0, "open /dev/lethe: %s", strerror(errno));
	CHECK(ioctl(fd, LETHE_IOC_INFO, &info) == 0 && info.abi == LETHE_DEV_ABI && info.max_pages == LETHE_DEV_MAX_PAGES &&
		      (info.features & LETHE_DEV_F_ROLLBACK),
	      "info: abi %u features %llx", info.abi, (unsigned long long)info.features);
	info.size = 4;
	CHECK(ioctl(fd, LETHE_IOC_INFO, &info) < 0 && errno == EINVAL, "short info struct must be EINVAL");
	CHECK(ioctl(fd, _IO('L', 99)) < 0 && errno == ENOTTY, "unknown ioctl must be ENOTTY");

	area = mmap(NULL, NPG * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(area, 'A', NPG * PG);
	for (int i = 0; i < NPG; i++)
		addrs[i] = (uint64_t)(uintptr_t)area + (uint64_t)i * PG;
	if (pipe(p))
		return 1;
	ready_rd = p[0];
	twin = child(p[1], 0); /* holds the 'A' snapshot */
	target = child(p[1], 1); /* dirtied to 'B' by a "request" */
	free_child = child(p[1], 0); /* never stopped by us */
	CHECK(twin > 0 && target > 0 && free_child > 0, "children");
	CHECK(pages_are(target, 'B'), "target dirty before rollback");

	/* not ptrace-stopped by us yet */
	CHECK(rollback(fd, target, twin, addrs, NPG, NULL) == -EPERM, "unstopped tasks must be EPERM");
	CHECK(seize_stop(twin) == 0 && seize_stop(target) == 0, "seize");
	CHECK(rollback(fd, target, free_child, addrs, NPG, NULL) == -EPERM, "a twin we do not trace must be EPERM");
	CHECK(rollback(fd, target, 999999, addrs, NPG, NULL) == -ESRCH, "bad pid must be ESRCH");
	CHECK(rollback(fd, target, target, addrs, NPG, NULL) == -EINVAL, "same task must be EINVAL");
	CHECK(rollback(fd, target, twin, addrs, 0, NULL) == -EINVAL, "zero count must be EINVAL");
	CHECK(rollback(fd, target, twin, addrs, LETHE_DEV_MAX_PAGES + 1, NULL) == -EINVAL, "too many must be EINVAL");
	addrs[0] += 8;
	CHECK(rollback(fd, target, twin, addrs, NPG, NULL) == -EINVAL, "unaligned must be EINVAL");
	addrs[0] -= 8;
	CHECK(rollback(fd, target, twin, (const uint64_t *)8, NPG, NULL) == -EFAULT, "bad vector must be EFAULT");
	CHECK(pages_are(target, 'B'), "refused calls changed nothing");

	/* the real thing: 16 pages back from the twin in one call */
	CHECK(rollback(fd, target, twin, addrs, NPG, &done) == 0 && done == NPG, "rollback: done %u", done);
	CHECK(pages_are(target, 'A'), "target pages equal the twin's after rollback");
	CHECK(pages_are(twin, 'A'), "twin untouched");

	/* the restorer's backend: ranges, not pages; first dirty the target again */
	{
		struct rs_range rg[2] = { { (uint64_t)(uintptr_t)area, 4 * PG },
					  { (uint64_t)(uintptr_t)area + 8 * PG, 8 * PG } };
		uint64_t bytes = 0;
		int dfd = rs_copy_dev_open();
		char path[64];
		int mfd;

		snprintf(path, sizeof(path), "/proc/%d/mem", target);
		mfd = open(path, O_RDWR);
		for (int i = 0; i < NPG; i++)
			CHECK(pwrite(mfd, "B", 1, (off_t)(uintptr_t)area + (off_t)i * PG) == 1, "dirty page %d", i);
		close(mfd);
		CHECK(dfd >= 0, "rs_copy_dev_open: %d", dfd);
		CHECK(rs_copy_dev_ranges(dfd, target, twin, rg, 2, &bytes) == 0 && bytes == 12 * PG,
		      "rs_copy_dev_ranges: %llu bytes", (unsigned long long)bytes);
		/* pages 4..7 were not in the ranges: still dirty, the others clean */
		mfd = open(path, O_RDONLY);
		for (int i = 0; i < NPG; i++) {
			char c = 0;

			CHECK(pread(mfd, &c, 1, (off_t)(uintptr_t)area + (off_t)i * PG) == 1 &&
				      c == ((i >= 4 && i < 8) ? 'B' : 'A'),
			      "page %d after range rollback: %c", i, c);
		}
		close(mfd);
		close(dfd);
	}

	/* an unmapped page stops the call there and says how far it got */
	addrs[NPG] = 0x10000;
	CHECK(rollback(fd, target, twin, addrs + NPG - 2, 3, &done) == -EFAULT && done == 2,
	      "unmapped address: EFAULT after 2 pages (done %u)", done);

	kill(twin, SIGKILL);
	kill(target, SIGKILL);
	kill(free_child, SIGKILL);
	while (wait(NULL) > 0)
		;
	/* the guest's runner (guest.sh) sums this and prints the KPATCH-RESULT marker */
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
