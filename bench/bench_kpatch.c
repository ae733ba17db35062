// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The kernel helper against the portable copy: roll K pages back from a twin
 * into a target through /dev/lethe and through process_vm_readv/writev (the
 * restorer's two copy paths), in the same boot, and print medians and ratios.
 * usage: bench_kpatch [-n ROUNDS]; needs root (ptrace). A benchmark, not a
 * test: it asserts no time, only that both paths copied the right bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "restore/copy_dev.h"
#include "restore/iov.h"
#include "restore/procfs.h"

#define PG 4096UL
#define MAX_PAGES 1024
/* the buffer spans twice the largest K, so scattered pages (every second one) fit */
#define AREA_PAGES (2 * MAX_PAGES)
#define BOUNCE (4UL << 20) /* the engine's COPY_BUF */
#define HUGE (2UL << 20)

static const unsigned int sizes[] = { 1, 64, 1024 };

static char *area; /* 2 MiB aligned, AREA_PAGES long */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Fork a child that fills every page with byte fill and waits; seize and stop it. */
static pid_t start_stopped(unsigned char fill)
{
	int status, ready[2];
	char c;
	pid_t pid;

	if (pipe(ready))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		memset(area, fill, AREA_PAGES * PG);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(ready[1]);
	/* once it has filled its pages, stop it where it pauses */
	if (read(ready[0], &c, 1) != 1 || ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_EXITKILL) ||
	    ptrace(PTRACE_INTERRUPT, pid, 0, 0) || waitpid(pid, &status, __WALL) != pid) {
		int err = -errno;

		close(ready[0]);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return err ? err : -EIO;
	}
	close(ready[0]);
	return pid;
}

static int copy_vm(pid_t target, pid_t twin, const struct rs_range *r, size_t n, void *buf)
{
	struct rs_iov_batch *b = malloc(sizeof(*b));
	int cnt, err;

	if (!b)
		return -ENOMEM;
	err = rs_iov_batch_init(b, r, n, buf, BOUNCE);
	while (!err && (cnt = rs_iov_batch_next(b)) > 0) {
		ssize_t rd = process_vm_readv(twin, b->local, cnt, b->remote, cnt, 0);
		ssize_t wr = rd == (ssize_t)b->bytes ? process_vm_writev(target, b->local, cnt, b->remote, cnt, 0) : rd;

		if (wr != (ssize_t)b->bytes)
			err = wr < 0 ? -errno : -EIO;
	}
	free(b);
	return err;
}

/* Dirty the target's pages of r through /proc/PID/mem, then check them after a copy. */
static int fill_target(pid_t target, const struct rs_range *r, size_t n, unsigned char fill)
{
	char path[64], page[PG];
	int fd, err = 0;

	snprintf(path, sizeof(path), "/proc/%d/mem", target);
	fd = open(path, O_RDWR);
	if (fd < 0)
		return -errno;
	memset(page, fill, PG);
	for (size_t i = 0; i < n && !err; i++)
		for (uint64_t a = r[i].start; a < r[i].start + r[i].len && !err; a += PG)
			err = pwrite(fd, page, PG, a) == (ssize_t)PG ? 0 : -EIO;
	close(fd);
	return err;
}

static bool target_is(pid_t target, const struct rs_range *r, size_t n, unsigned char fill)
{
	char path[64], page[PG];
	bool ok = true;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", target);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	for (size_t i = 0; i < n && ok; i++) {
		for (uint64_t a = r[i].start; a < r[i].start + r[i].len && ok; a += PG) {
			ok = pread(fd, page, PG, a) == (ssize_t)PG;
			for (size_t j = 0; ok && j < PG; j++)
				ok = (unsigned char)page[j] == fill;
		}
	}
	close(fd);
	return ok;
}

/* k pages of the area: contiguous (one range) or every second page (k ranges). */
static size_t make_ranges(struct rs_range *r, unsigned int k, bool scattered)
{
	if (!scattered) {
		r[0] = (struct rs_range){ .start = (uintptr_t)area, .len = k * PG };
		return 1;
	}
	for (unsigned int i = 0; i < k; i++)
		r[i] = (struct rs_range){ .start = (uintptr_t)area + 2 * i * PG, .len = PG };
	return k;
}

struct series {
	uint64_t p10, med, p90;
};

static void summarise(uint64_t *ns, int n, struct series *s)
{
	qsort(ns, n, sizeof(*ns), cmp_u64);
	s->p10 = ns[n / 10];
	s->med = ns[n / 2];
	s->p90 = ns[n * 9 / 10];
}

/*
 * Every cell of one backing: both copy paths, each checked once for the right
 * bytes, then timed rounds times. Returns 0, or 1 when a copy was wrong.
 */
static int bench_cells(int dev, pid_t target, pid_t twin, const char *backing, int rounds, uint64_t *ns, void *buf)
{
	static struct rs_range r[MAX_PAGES];
	int bad = 0;

	for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
		for (int scattered = 0; scattered < 2; scattered++) {
			unsigned int k = sizes[si];
			size_t n = make_ranges(r, k, scattered);
			struct series sk = {}, sv = {};
			uint64_t bytes;
			char cell[64] = "-", vcell[64];

			if (k == 1 && scattered)
				continue; /* one page is one layout */
			if (dev >= 0) {
				/* correctness first: a dirtied target must read as the twin afterwards */
				if (fill_target(target, r, n, 0xa5) || rs_copy_dev_ranges(dev, target, twin, r, n, &bytes) ||
				    bytes != k * PG || !target_is(target, r, n, 0x5a)) {
					fprintf(stderr, "bench_kpatch: /dev/lethe copied wrong bytes at %u pages\n", k);
					bad = 1;
				}
				for (int i = 0; i < rounds; i++) {
					uint64_t t = now_ns();

					if (rs_copy_dev_ranges(dev, target, twin, r, n, &bytes))
						bad = 1;
					ns[i] = now_ns() - t;
				}
				summarise(ns, rounds, &sk);
				snprintf(cell, sizeof(cell), "%.1f/%.1f/%.1f", sk.p10 / 1e3, sk.med / 1e3, sk.p90 / 1e3);
			}
			if (fill_target(target, r, n, 0xa5) || copy_vm(target, twin, r, n, buf) ||
			    !target_is(target, r, n, 0x5a)) {
				fprintf(stderr, "bench_kpatch: process_vm copied wrong bytes at %u pages\n", k);
				bad = 1;
			}
			for (int i = 0; i < rounds; i++) {
				uint64_t t = now_ns();

				if (copy_vm(target, twin, r, n, buf))
					bad = 1;
				ns[i] = now_ns() - t;
			}
			summarise(ns, rounds, &sv);
			snprintf(vcell, sizeof(vcell), "%.1f/%.1f/%.1f", sv.p10 / 1e3, sv.med / 1e3, sv.p90 / 1e3);
			printf("%-6u %-8s %-10s %-22s %-26s", k, backing, scattered ? "scattered" : "contiguous", cell,
			       vcell);
			if (dev >= 0)
				printf("%.2fx", (double)sv.med / (double)sk.med);
			printf("\n");
		}
	}
	return bad;
}

int main(int argc, char **argv)
{
	/* 4k: MADV_NOHUGEPAGE; thp: MADV_HUGEPAGE on a 2 MiB-aligned area */
	static const struct {
		const char *name;
		int advice;
	} backings[] = { { "4k", MADV_NOHUGEPAGE }, { "thp", MADV_HUGEPAGE } };
	int rounds = 200, dev, bad = 0;
	uint64_t *ns = NULL;
	struct utsname u;
	void *buf = NULL;
	char model[256] = "?", line[256], *raw;
	FILE *f;

	if (argc == 3 && !strcmp(argv[1], "-n"))
		rounds = atoi(argv[2]);
	if (rounds < 10 || (argc != 1 && argc != 3)) {
		fprintf(stderr, "usage: bench_kpatch [-n ROUNDS (>= 10)]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	alarm(600);
	raw = mmap(NULL, AREA_PAGES * PG + HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	buf = malloc(BOUNCE);
	ns = calloc(rounds, sizeof(*ns));
	if (raw == MAP_FAILED || !buf || !ns)
		return 1;
	area = (char *)(((uintptr_t)raw + HUGE - 1) & ~(uintptr_t)(HUGE - 1));
	dev = rs_copy_dev_open();
	uname(&u);
	f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "model name : %255[^\n]", model) == 1)
			break;
	if (f)
		fclose(f);
	printf("bench_kpatch: kernel %s, cpu %s, %d rounds per cell, /dev/lethe %s\n", u.release, model, rounds,
	       dev >= 0 ? "loaded" : strerror(-dev));
	printf("%-6s %-8s %-10s %-22s %-26s %s\n", "pages", "backing", "layout", "kpatch us p10/med/p90",
	       "process_vm us p10/med/p90", "process_vm/kpatch");
	for (size_t b = 0; b < sizeof(backings) / sizeof(backings[0]) && !bad; b++) {
		pid_t twin, target;

		/* the children inherit the advice; each faults its own pages */
		madvise(area, AREA_PAGES * PG, backings[b].advice);
		/* the twin holds 0x5a, the target starts as 0xa5 */
		twin = start_stopped(0x5a);
		target = start_stopped(0xa5);
		if (twin < 0 || target < 0) {
			fprintf(stderr, "bench_kpatch: cannot start and stop the two processes: %s\n",
				strerror(-(twin < 0 ? twin : target)));
			bad = 1;
		} else {
			printf("# %s: target AnonHugePages %ld kB\n", backings[b].name,
			       rs_proc_rollup_kb(target, "AnonHugePages"));
			bad = bench_cells(dev, target, twin, backings[b].name, rounds, ns, buf);
		}
		if (target > 0)
			kill(target, SIGKILL);
		if (twin > 0)
			kill(twin, SIGKILL);
		while (waitpid(-1, NULL, __WALL) > 0)
			;
	}
	if (dev >= 0)
		close(dev);
	free(buf);
	free(ns);
	printf("bench_kpatch: %s\n", bad ? "FAILED (a copy was wrong or refused)" : "done");
	return bad;
}
