// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A function runtime for leak tests: after "ready", each request line (a canary)
 * is planted in every persistence class it can reach, then answered "ok N PID".
 * N counts requests since start: after a correct rewind it is always 1.
 * `fn_runtime --shared` also maps shared anonymous memory, a memfd, and
 * MADV_DONTFORK / MADV_WIPEONFORK ranges at init, which a fork-based snapshot
 * cannot hold, and plants the canary in each.
 * `fn_runtime --files DIR` also keeps state in DIR: each request creates,
 * appends to, truncates, deletes, renames, chmods and xattrs files there.
 * `fn_runtime --dirty N` also writes N pages of an init-time buffer per request.
 * `fn_runtime --daemon` also double-forks a background process per request that
 * leaves the process tree and keeps the canary (in memory and its argv) forever.
 * `fn_runtime --gup` also writes the canary into an init-time page of its own
 * with process_vm_writev: a kernel (GUP) write no page fault reports.
 * `fn_runtime --workers W` starts W threads at init; each request is answered by
 * one of them (chosen from the canary), so threads from the checkpoint must
 * survive every rewind and keep working: the answer then ends in "wI".
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096

static int counter;
static char global_canary[128];
static char *init_map; /* mapped at init: munmap'ed and re-mapped by a request */
static char *init_heap;
static char *special[4]; /* shared anon, memfd, dontfork, wipeonfork (--shared) */
static const char *files_dir; /* --files DIR */
static char *dirty_buf; /* --dirty N */
static long dirty_pages;
static char *gup_page; /* --gup */
static int log_fd = -1; /* DIR/log, opened at init and appended to by every request */
static int daemonize; /* --daemon */

/* A background process that outlives the request: fork, fork again, the middle one exits. */
static void plant_daemon(const char *canary)
{
	pid_t mid = fork();

	if (mid == 0) {
		if (fork() == 0) {
			char *keep = strdup(canary);

			setsid();
			for (;;)
				pause();
			free(keep);
		}
		_exit(0);
	}
	if (mid > 0)
		waitpid(mid, NULL, 0);
}

static void plant_files(const char *canary)
{
	char a[2048], b[4096];
	int fd;

	snprintf(a, sizeof(a), "%s/new-%s", files_dir, canary);
	fd = open(a, O_CREAT | O_WRONLY, 0644);
	if (fd >= 0) {
		if (write(fd, canary, strlen(canary)) < 0)
			perror("write");
		close(fd);
	}
	if (write(log_fd, canary, strlen(canary)) < 0 || write(log_fd, "\n", 1) < 0)
		return;
	snprintf(a, sizeof(a), "%s/victim", files_dir);
	unlink(a);
	snprintf(a, sizeof(a), "%s/renamed", files_dir);
	snprintf(b, sizeof(b), "%s/renamed-%s", files_dir, canary);
	rename(a, b);
	snprintf(a, sizeof(a), "%s/tree-%s", files_dir, canary);
	mkdir(a, 0755);
	snprintf(b, sizeof(b), "%s/deep", a);
	mkdir(b, 0700);
	snprintf(b, sizeof(b), "%s/deep/leaf", a);
	fd = open(b, O_CREAT | O_WRONLY, 0600);
	if (fd >= 0) {
		if (write(fd, canary, strlen(canary)) < 0)
			perror("write");
		close(fd);
	}
	snprintf(a, sizeof(a), "%s/config", files_dir);
	if (truncate(a, 3) || chmod(a, 0600))
		perror("config");
	setxattr(a, "user.request", canary, strlen(canary), 0);
}

static int init_files(const char *dir)
{
	char p[4096];
	int fd;

	files_dir = dir;
	snprintf(p, sizeof(p), "%s/log", dir);
	log_fd = open(p, O_CREAT | O_WRONLY | O_APPEND | O_CLOEXEC, 0644);
	snprintf(p, sizeof(p), "%s/victim", dir);
	fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "keep me\n", 8) != 8)
		return -1;
	close(fd);
	snprintf(p, sizeof(p), "%s/renamed", dir);
	fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	close(fd);
	snprintf(p, sizeof(p), "%s/config", dir);
	fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "setting=1\n", 10) != 10)
		return -1;
	close(fd);
	return log_fd < 0 ? -1 : 0;
}

static int map_special(void)
{
	int fd = memfd_create("fn-runtime", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, 2 * PG))
		return -1;
	special[0] = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	special[1] = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	special[2] = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	special[3] = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	close(fd);
	for (int i = 0; i < 4; i++) {
		if (special[i] == MAP_FAILED)
			return -1;
		memset(special[i], 's', 2 * PG);
	}
	if (madvise(special[2], 2 * PG, MADV_DONTFORK) || madvise(special[3], 2 * PG, MADV_WIPEONFORK))
		return -1;
	return 0;
}

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
	for (int i = 0; i < 4; i++)
		if (special[i])
			memcpy(special[i] + PG + 8, canary, len);
	if (files_dir)
		plant_files(canary);
	for (long i = 0; i < dirty_pages; i++)
		memcpy(dirty_buf + i * PG, canary, len);
	if (gup_page) {
		struct iovec l = { (void *)canary, len }, r = { gup_page + 64, len };

		if (process_vm_writev(getpid(), &l, 1, &r, 1, 0) != (ssize_t)len)
			perror("process_vm_writev");
	}

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
	if (daemonize)
		plant_daemon(canary);

	child = fork();
	if (child == 0) {
		char *c = malloc(len);

		memcpy(c, canary, len);
		for (;;)
			pause();
	}
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	(void)fd; /* left open on purpose */
	/* and the request moves the working directory */
	if (chdir("/proc"))
		fd = -1;
	(void)stack_canary;
}

struct worker {
	int req[2], ans[2];
};

static struct worker workers[16];
static int nworkers;

/* A worker blocks in read() on its pipe, as it does at the checkpoint. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char buf[256];
	ssize_t n;

	while ((n = read(w->req[0], buf, sizeof(buf))) > 0) {
		int len = snprintf(buf, sizeof(buf), "w%d", (int)(w - workers));

		if (write(w->ans[1], buf, len) != len)
			break;
	}
	return NULL;
}

static int start_workers(int n)
{
	pthread_t th;

	for (int i = 0; i < n && i < 16; i++) {
		if (pipe(workers[i].req) || pipe(workers[i].ans))
			return -1;
		if (pthread_create(&th, NULL, worker_main, &workers[i]))
			return -1;
		nworkers++;
	}
	return 0;
}

/* Ask the worker the canary picks; its tag, or "-" without workers. */
static const char *ask_worker(const char *canary, char *tag, size_t len)
{
	unsigned int h = 0;
	struct worker *w;
	ssize_t n;

	if (!nworkers)
		return "-";
	for (const char *p = canary; *p; p++)
		h = h * 31 + (unsigned char)*p;
	w = &workers[h % nworkers];
	if (write(w->req[1], canary, strlen(canary)) < 0 || (n = read(w->ans[0], tag, len - 1)) <= 0)
		return "?";
	tag[n] = 0;
	return tag;
}

int main(int argc, char **argv)
{
	char line[256], tag[32];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--workers") && i + 1 < argc && start_workers(atoi(argv[++i])))
			return 1;
		if (!strcmp(argv[i], "--shared") && map_special())
			return 1;
		if (!strcmp(argv[i], "--daemon"))
			daemonize = 1;
		if (!strcmp(argv[i], "--files") && i + 1 < argc && init_files(argv[++i]))
			return 1;
		if (!strcmp(argv[i], "--gup")) {
			gup_page = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (gup_page == MAP_FAILED)
				return 1;
			memset(gup_page, 'g', PG);
		}
		if (!strcmp(argv[i], "--dirty") && i + 1 < argc) {
			dirty_pages = atol(argv[++i]);
			dirty_buf = mmap(NULL, dirty_pages * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
					 -1, 0);
			if (dirty_buf == MAP_FAILED)
				return 1;
			memset(dirty_buf, 'd', dirty_pages * PG);
		}
	}
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
		printf("ok %d %d %s\n", counter, (int)getpid(), ask_worker(line, tag, sizeof(tag)));
	}
	return 0;
}
