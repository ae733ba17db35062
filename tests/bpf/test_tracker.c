// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Selftests of the BPF tracker: load the real object, make a child of ours a
 * sandbox, trigger real events in it and assert exactly what was recorded.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>
#include "loader/tracker.h"
#include "test_helpers.h"

#define PG 4096UL
#define MAX_EVS 65536

/* Everything the callback saw, copied out of the ring. */
struct seen {
	size_t n;
	union {
		struct lethe_ev_hdr hdr;
		struct lethe_fault_ev fault;
		struct lethe_task_ev task;
		struct lethe_mm_ev mm;
		struct lethe_file_ev file;
	} *ev;
};

static int collect(void *ctx, const struct lethe_ev_hdr *h, size_t size)
{
	struct seen *s = ctx;

	if (s->n < MAX_EVS && h->size <= sizeof(s->ev[0]))
		memcpy(&s->ev[s->n++], h, h->size);
	return 0;
}

/* The result a child sends back: up to 4 numbers (addresses, pids). */
struct child_out {
	uint64_t v[4];
};

typedef void (*scenario_fn)(struct child_out *out, const char *dir);

struct fixture {
	struct ld_tracker *t;
	struct seen seen;
	pid_t child;
	struct child_out out;
	char dir[64];
};

static int fixture_new(struct fixture *f, const struct ld_tracker_opts *o)
{
	memset(f, 0, sizeof(*f));
	f->seen.ev = calloc(MAX_EVS, sizeof(f->seen.ev[0]));
	if (!f->seen.ev)
		return -ENOMEM;
	snprintf(f->dir, sizeof(f->dir), "/tmp/lethe-bpft.XXXXXX");
	if (!mkdtemp(f->dir))
		return -errno;
	return ld_tracker_new(o, collect, &f->seen, &f->t);
}

static void fixture_free(struct fixture *f)
{
	char cmd[128];

	ld_tracker_free(f->t);
	free(f->seen.ev);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd))
		fprintf(stdout, "  cleanup of %s failed\n", f->dir);
}

/*
 * Fork a child that waits until it is a sandbox member, runs fn, reports its
 * child_out and exits. Returns 0 when the child ran and exited with status 0.
 */
static int run_child(struct fixture *f, scenario_fn fn)
{
	int go[2], res[2], status;
	char c = 'g';
	ssize_t r;

	if (pipe(go) || pipe(res))
		return -errno;
	f->child = fork();
	if (f->child < 0)
		return -errno;
	if (f->child == 0) {
		struct child_out out = {};

		/*
		 * No syscall before the go byte but this read: the child may become a
		 * member at any moment after fork, and the tests count its every call.
		 */
		if (read(go[0], &c, 1) != 1)
			_exit(3);
		fn(&out, f->dir);
		if (write(res[1], &out, sizeof(out)) != sizeof(out))
			_exit(4);
		_exit(0);
	}
	close(go[0]);
	close(res[1]);
	ld_tracker_member_add(f->t, f->child, f->child);
	if (write(go[1], &c, 1) != 1)
		return -errno;
	r = read(res[0], &f->out, sizeof(f->out));
	close(go[1]);
	close(res[0]);
	if (waitpid(f->child, &status, 0) != f->child)
		return -errno;
	ld_tracker_drain(f->t);
	if (r != sizeof(f->out) || !WIFEXITED(status) || WEXITSTATUS(status))
		return -ECHILD;
	return 0;
}

static size_t count_faults(struct fixture *f, uint64_t lo, uint64_t hi, uint32_t need_flags, uint32_t kind)
{
	size_t n = 0;

	for (size_t i = 0; i < f->seen.n; i++) {
		const struct lethe_fault_ev *e = &f->seen.ev[i].fault;

		if (e->hdr.kind != LETHE_EV_FAULT || e->hdr.tgid != (uint32_t)f->child)
			continue;
		if (e->addr < lo || e->addr >= hi || (e->flags & need_flags) != need_flags)
			continue;
		if (kind && e->vma_kind != kind)
			continue;
		n++;
	}
	return n;
}

/* ---- memory ------------------------------------------------------------- */

#define K_PAGES 64

static void sc_write_pages(struct child_out *out, const char *dir)
{
	char *p = mmap(NULL, (K_PAGES + 16) * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	volatile char sink = 0;

	if (p == MAP_FAILED)
		_exit(5);
	for (int i = 0; i < K_PAGES; i++)
		p[i * PG + 7] = 1;
	/* read-only touches of the next 16 pages must not be recorded */
	for (int i = K_PAGES; i < K_PAGES + 16; i++)
		sink += p[i * PG];
	(void)sink;
	out->v[0] = (uint64_t)p;
}

static void subtest_write_fault(bool raw)
{
	struct ld_tracker_opts o = { .force_raw_tp = raw };
	struct fixture f;
	uint64_t base;

	if (!ASSERT_OK(fixture_new(&f, &o), "tracker_new"))
		goto out;
	ASSERT_STREQ(ld_tracker_flavour(f.t), raw ? "raw_tp" : "tp_btf", "flavour");
	if (!ASSERT_OK(run_child(&f, sc_write_pages), "child"))
		goto out;
	base = f.out.v[0];
	/* K_PAGES written pages, one first-write fault each; the 16 read pages none */
	ASSERT_EQ(count_faults(&f, base, base + K_PAGES * PG, 0, LETHE_VMA_ANON), K_PAGES, "faults_in_mapping");
	ASSERT_EQ(count_faults(&f, base + K_PAGES * PG, base + (K_PAGES + 16) * PG, 0, 0), 0, "faults_read_only");
	ASSERT_EQ(count_faults(&f, base, base + K_PAGES * PG, LETHE_FAULT_KERNEL, 0), 0, "no_kernel_faults");
	for (size_t i = 0; i < f.seen.n; i++) {
		const struct lethe_fault_ev *e = &f.seen.ev[i].fault;

		if (e->hdr.kind == LETHE_EV_FAULT && e->addr == base) {
			ASSERT_EQ(e->vma_start, base, "vma_start");
			ASSERT_EQ(e->size, PG, "page_size");
			ASSERT_NEQ(e->ip, 0, "writer_ip");
		}
	}
out:
	fixture_free(&f);
}

static void sc_read_into_buffer(struct child_out *out, const char *dir)
{
	char path[128], *p;
	int fd;

	snprintf(path, sizeof(path), "%s/data", dir);
	fd = open(path, O_RDONLY);
	p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fd < 0 || p == MAP_FAILED)
		_exit(5);
	/* the kernel's copy_to_user takes the first-write fault of each page */
	if (read(fd, p, 4 * PG) != (ssize_t)(4 * PG))
		_exit(6);
	close(fd);
	out->v[0] = (uint64_t)p;
}

static void subtest_read_into_buffer(void)
{
	struct fixture f;
	char path[128], buf[4 * PG];
	int fd;

	if (!ASSERT_OK(fixture_new(&f, NULL), "tracker_new"))
		goto out;
	snprintf(path, sizeof(path), "%s/data", f.dir);
	memset(buf, 'x', sizeof(buf));
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	if (!ASSERT_EQ(write(fd, buf, sizeof(buf)), sizeof(buf), "write_data"))
		goto out;
	close(fd);
	if (!ASSERT_OK(run_child(&f, sc_read_into_buffer), "child"))
		goto out;
	/* 4 pages filled by read(): 4 kernel-mode write faults */
	ASSERT_EQ(count_faults(&f, f.out.v[0], f.out.v[0] + 4 * PG, LETHE_FAULT_KERNEL, 0), 4, "kernel_faults");
out:
	fixture_free(&f);
}

static void sc_heap_stack(struct child_out *out, const char *dir)
{
	volatile char stack[8 * PG];
	char *h = malloc(16 * PG);

	if (!h)
		_exit(5);
	memset(h, 1, 16 * PG);
	for (size_t i = 0; i < sizeof(stack); i += 64)
		stack[i] = 1;
	out->v[0] = (uint64_t)h;
	out->v[1] = (uint64_t)stack;
}

static void subtest_heap_stack(void)
{
	struct fixture f;

	if (!ASSERT_OK(fixture_new(&f, NULL), "tracker_new"))
		goto out;
	if (!ASSERT_OK(run_child(&f, sc_heap_stack), "child"))
		goto out;
	/* 16 pages of malloc (below the mmap threshold: the heap) and 8 stack pages */
	ASSERT_GE(count_faults(&f, f.out.v[0] & ~(PG - 1), f.out.v[0] + 16 * PG, 0, LETHE_VMA_HEAP), 16, "heap");
	ASSERT_GE(count_faults(&f, f.out.v[1] & ~(PG - 1), f.out.v[1] + 8 * PG, 0, LETHE_VMA_STACK), 7, "stack");
out:
	fixture_free(&f);
}

#define HUGE (2UL << 20)

static void sc_huge(struct child_out *out, const char *dir)
{
	char *p = mmap(NULL, 2 * HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *a;

	if (p == MAP_FAILED)
		_exit(5);
	a = (char *)(((uint64_t)p + HUGE - 1) & ~(HUGE - 1));
	if (madvise(a, HUGE, MADV_HUGEPAGE))
		_exit(6);
	a[12345] = 1;
	out->v[0] = (uint64_t)a;
}

static void subtest_huge_page(void)
{
	struct fixture f;
	size_t n = 0;

	if (!ASSERT_OK(fixture_new(&f, NULL), "tracker_new"))
		goto out;
	if (!ASSERT_OK(run_child(&f, sc_huge), "child"))
		goto out;
	for (size_t i = 0; i < f.seen.n; i++) {
		const struct lethe_fault_ev *e = &f.seen.ev[i].fault;

		if (e->hdr.kind == LETHE_EV_FAULT && e->hdr.tgid == (uint32_t)f.child && e->addr == f.out.v[0]) {
			ASSERT_EQ(e->size, HUGE, "huge_size");
			ASSERT_TRUE(e->flags & LETHE_FAULT_HUGE, "huge_flag");
			n++;
		}
	}
	/* one write into a MADV_HUGEPAGE range: one record of the whole huge page */
	ASSERT_EQ(n, 1, "huge_records");
out:
	fixture_free(&f);
}

static void sc_mm(struct child_out *out, const char *dir)
{
	char *p = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED || mprotect(p, PG, PROT_READ) || munmap(p + 4 * PG, 4 * PG))
		_exit(5);
	out->v[0] = (uint64_t)p;
}

static void subtest_mm_events(void)
{
	struct fixture f;
	int mmap_ok = 0, mprot = 0, unmap = 0;

	if (!ASSERT_OK(fixture_new(&f, NULL), "tracker_new"))
		goto out;
	if (!ASSERT_OK(run_child(&f, sc_mm), "child"))
		goto out;
	for (size_t i = 0; i < f.seen.n; i++) {
		const struct lethe_mm_ev *e = &f.seen.ev[i].mm;

		if (e->hdr.kind != LETHE_EV_MM || e->hdr.tgid != (uint32_t)f.child)
			continue;
		if (e->op == LETHE_MM_MMAP && (uint64_t)e->ret == f.out.v[0] && e->args[1] == 8 * PG)
			mmap_ok++;
		if (e->op == LETHE_MM_MPROTECT && e->args[0] == f.out.v[0] && e->args[2] == PROT_READ)
			mprot++;
		if (e->op == LETHE_MM_MUNMAP && e->args[0] == f.out.v[0] + 4 * PG && e->args[1] == 4 * PG)
			unmap++;
	}
	ASSERT_EQ(mmap_ok, 1, "mmap");
	ASSERT_EQ(mprot, 1, "mprotect");
	ASSERT_EQ(unmap, 1, "munmap");
out:
	fixture_free(&f);
}

/* ---- files -------------------------------------------------------------- */

static void sc_files(struct child_out *out, const char *dir)
{
	char a[128], b[128], d[128], x[128];
	int fd;

	if (chdir(dir))
		_exit(5);
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	snprintf(d, sizeof(d), "%s/sub", dir);
	snprintf(x, sizeof(x), "%s/x", dir);
	fd = open(a, O_CREAT | O_WRONLY, 0600); /* create */
	if (fd < 0)
		_exit(6);
	/* two writes, reported once: the first write per file per epoch */
	if (write(fd, "hello", 5) != 5 || write(fd, "world", 5) != 5)
		_exit(7);
	close(fd);
	if (rename(a, b) || chmod(b, 0640) || mkdir(d, 0700) || rmdir(d))
		_exit(8);
	if (setxattr(b, "user.lethe", "1", 1, 0) && errno != ENOTSUP)
		_exit(9);
	fd = open("rel", O_CREAT | O_WRONLY | O_TRUNC, 0600); /* relative to cwd */
	if (fd < 0)
		_exit(10);
	close(fd);
	if (unlink(b) || symlink("target", x) || truncate("rel", 0))
		_exit(11);
}

struct want_file {
	uint32_t op;
	const char *path; /* suffix of path (or path2 for rename/symlink) */
	int count;
};

static int count_file(struct fixture *f, uint32_t op, const char *p1, const char *p2)
{
	int n = 0;

	for (size_t i = 0; i < f->seen.n; i++) {
		const struct lethe_file_ev *e = &f->seen.ev[i].file;

		if (e->hdr.kind != LETHE_EV_FILE || e->hdr.tgid != (uint32_t)f->child || e->op != op)
			continue;
		if (p1 && strcmp(e->path, p1))
			continue;
		if (p2 && strcmp(e->path2, p2))
			continue;
		n++;
	}
	return n;
}

static void subtest_files(void)
{
	char a[128], b[128], d[128], x[128];
	struct fixture f;

	if (!ASSERT_OK(fixture_new(&f, NULL), "tracker_new"))
		goto out;
	if (!ASSERT_OK(run_child(&f, sc_files), "child"))
		goto out;
	snprintf(a, sizeof(a), "%s/a", f.dir);
	snprintf(b, sizeof(b), "%s/b", f.dir);
	snprintf(d, sizeof(d), "%s/sub", f.dir);
	snprintf(x, sizeof(x), "%s/x", f.dir);
	ASSERT_EQ(count_file(&f, LETHE_FILE_CREATE, a, NULL), 1, "create");
	ASSERT_EQ(count_file(&f, LETHE_FILE_WRITE, NULL, NULL), 1, "write_once");
	ASSERT_EQ(count_file(&f, LETHE_FILE_RENAME, a, b), 1, "rename");
	ASSERT_EQ(count_file(&f, LETHE_FILE_CHMOD, b, NULL), 1, "chmod");
	ASSERT_EQ(count_file(&f, LETHE_FILE_MKDIR, d, NULL), 1, "mkdir");
	ASSERT_EQ(count_file(&f, LETHE_FILE_RMDIR, d, NULL), 1, "rmdir");
	ASSERT_EQ(count_file(&f, LETHE_FILE_CREATE, "rel", NULL), 1, "create_relative");
	ASSERT_EQ(count_file(&f, LETHE_FILE_UNLINK, b, NULL), 1, "unlink");
	ASSERT_EQ(count_file(&f, LETHE_FILE_SYMLINK, "target", x), 1, "symlink");
	ASSERT_EQ(count_file(&f, LETHE_FILE_TRUNCATE, "rel", NULL), 1, "truncate");
	/* the write record identifies its file by inode, and it is the created one */
	for (size_t i = 0; i < f.seen.n; i++) {
		const struct lethe_file_ev *e = &f.seen.ev[i].file;

		if (e->hdr.kind == LETHE_EV_FILE && e->op == LETHE_FILE_WRITE && e->hdr.tgid == (uint32_t)f.child) {
			ASSERT_NEQ(e->ino, 0, "write_ino");
			ASSERT_EQ(e->mode, S_IFREG, "write_mode");
		}
	}
out:
	fixture_free(&f);
}

/* ---- tasks -------------------------------------------------------------- */

static void *thread_fn(void *arg)
{
	return arg;
}

static void sc_tasks(struct child_out *out, const char *dir)
{
	pthread_t th;
	pid_t pid;
	int st;

	pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		_exit(5);
	if (pthread_create(&th, NULL, thread_fn, NULL) || pthread_join(th, NULL))
		_exit(6);
	out->v[0] = pid;
}

static void subtest_tasks(void)
{
	struct fixture f;
	int forks = 0, threads = 0, gexit = 0;

	if (!ASSERT_OK(fixture_new(&f, NULL), "tracker_new"))
		goto out;
	if (!ASSERT_OK(run_child(&f, sc_tasks), "child"))
		goto out;
	for (size_t i = 0; i < f.seen.n; i++) {
		const struct lethe_task_ev *e = &f.seen.ev[i].task;

		if (e->hdr.kind != LETHE_EV_TASK)
			continue;
		if (e->op == LETHE_TASK_FORK && e->ppid == (uint32_t)f.child && e->child_pid == f.out.v[0])
			forks++;
		if (e->op == LETHE_TASK_CLONE_THREAD && e->child_tgid == (uint32_t)f.child)
			threads++;
		if (e->op == LETHE_TASK_EXIT_GROUP && (e->child_tgid == f.out.v[0] || e->child_tgid == (uint32_t)f.child))
			gexit++;
	}
	ASSERT_EQ(forks, 1, "fork");
	ASSERT_EQ(threads, 1, "thread");
	/* the grandchild and the child itself both die as whole groups */
	ASSERT_EQ(gexit, 2, "exit_group");
	/* dead tgids leave the members map */
	ASSERT_FALSE(ld_tracker_is_member(f.t, f.child), "child_removed");
	ASSERT_FALSE(ld_tracker_is_member(f.t, f.out.v[0]), "grandchild_removed");
out:
	fixture_free(&f);
}

/* ---- GUP writers, overflow, epochs --------------------------------------- */

static void sc_odirect(struct child_out *out, const char *dir)
{
	char path[128];
	void *buf;
	int fd;

	snprintf(path, sizeof(path), "/var/tmp/lethe-odirect.%d", getpid());
	if (posix_memalign(&buf, PG, PG))
		_exit(5);
	fd = open(path, O_CREAT | O_RDWR | O_DIRECT, 0600);
	if (fd < 0 && errno == EINVAL) {
		/*
		 * No O_DIRECT here (tmpfs before 6.6, e.g. the 6.1 QEMU guest's only
		 * fs): the other GUP writer the tracker flags, process_vm_writev.
		 */
		char src[16] = "gup";
		struct iovec l = { src, sizeof(src) }, r = { buf, sizeof(src) };

		out->v[0] = process_vm_writev(getpid(), &l, 1, &r, 1, 0) == sizeof(src);
		return;
	}
	if (fd < 0)
		_exit(5);
	memset(buf, 1, PG);
	if (pwrite(fd, buf, PG, 0) != (ssize_t)PG)
		_exit(6);
	out->v[0] = pread(fd, buf, PG, 0) == (ssize_t)PG;
	close(fd);
	unlink(path);
}

static void subtest_gup_flag(void)
{
	struct fixture f;
	uint64_t flags = 0, st[LETHE_STAT_MAX];

	if (!ASSERT_OK(fixture_new(&f, NULL), "tracker_new"))
		goto out;
	ld_tracker_epoch_close(f.t, NULL);
	if (!ASSERT_OK(run_child(&f, sc_odirect), "child"))
		goto out;
	if (!f.out.v[0]) {
		test__skip("neither O_DIRECT on /var/tmp nor process_vm_writev works");
		goto out;
	}
	ld_tracker_epoch_close(f.t, &flags);
	ASSERT_TRUE(flags & LETHE_EPOCH_GUP_WRITE, "epoch_flag");
	ASSERT_OK(ld_tracker_stats(f.t, st), "stats");
	ASSERT_GE(st[LETHE_STAT_GUP_EVENTS], 1, "gup_events");
out:
	fixture_free(&f);
}

#define OVF_PAGES 2048

static void sc_many_pages(struct child_out *out, const char *dir)
{
	char *p = mmap(NULL, OVF_PAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		_exit(5);
	/* one fault per page even where THP is "always" (Debian's default) */
	madvise(p, OVF_PAGES * PG, MADV_NOHUGEPAGE);
	for (int i = 0; i < OVF_PAGES; i++)
		p[i * PG] = 1;
	out->v[0] = (uint64_t)p;
}

static void subtest_overflow(void)
{
	/* a 16 KiB ring holds ~100 fault records: 2048 first writes must overflow */
	struct ld_tracker_opts o = { .rb_bytes = 16384 };
	uint64_t flags = 0, st[LETHE_STAT_MAX];
	struct fixture f;
	size_t faults = 0;

	if (!ASSERT_OK(fixture_new(&f, &o), "tracker_new"))
		goto out;
	ld_tracker_epoch_close(f.t, NULL);
	if (!ASSERT_OK(run_child(&f, sc_many_pages), "child"))
		goto out;
	ld_tracker_epoch_close(f.t, &flags);
	ASSERT_OK(ld_tracker_stats(f.t, st), "stats");
	for (size_t i = 0; i < f.seen.n; i++)
		faults += f.seen.ev[i].hdr.kind == LETHE_EV_FAULT;
	ASSERT_GT(st[LETHE_STAT_RB_DROPS], 0, "drops_counted");
	ASSERT_TRUE(flags & LETHE_EPOCH_LOST, "epoch_lost");
	/* every recorded fault reached us: the counter and the drain agree */
	ASSERT_EQ(faults, st[LETHE_STAT_FAULTS], "faults_vs_stats");
	ASSERT_GE(faults + st[LETHE_STAT_RB_DROPS], OVF_PAGES, "nothing_unaccounted");
out:
	fixture_free(&f);
}

static void subtest_epochs(void)
{
	struct fixture f;
	uint64_t flags = 0;
	uint32_t e0;
	size_t old = 0, cur = 0;

	if (!ASSERT_OK(fixture_new(&f, NULL), "tracker_new"))
		goto out;
	e0 = ld_tracker_epoch(f.t);
	ASSERT_EQ(ld_tracker_epoch_close(f.t, NULL), e0 + 1, "epoch_advances");
	if (!ASSERT_OK(run_child(&f, sc_write_pages), "child"))
		goto out;
	ld_tracker_epoch_close(f.t, &flags);
	for (size_t i = 0; i < f.seen.n; i++) {
		if (f.seen.ev[i].hdr.tgid != (uint32_t)f.child)
			continue;
		old += f.seen.ev[i].hdr.epoch == e0;
		cur += f.seen.ev[i].hdr.epoch == e0 + 1;
	}
	ASSERT_EQ(old, 0, "no_old_epoch_records");
	ASSERT_GE(cur, K_PAGES, "records_in_new_epoch");
	/* memory writes and pipe I/O only: the fd table did not change */
	ASSERT_FALSE(flags & LETHE_EPOCH_FD_CHANGE, "no_fd_change");
	ASSERT_TRUE(flags & LETHE_EPOCH_MM_CHANGE, "mm_change");

	/* the file scenario opens, writes and closes files */
	ld_tracker_epoch_close(f.t, NULL);
	if (!ASSERT_OK(run_child(&f, sc_files), "child_files"))
		goto out;
	ld_tracker_epoch_close(f.t, &flags);
	ASSERT_TRUE(flags & LETHE_EPOCH_FD_CHANGE, "fd_change");
out:
	fixture_free(&f);
}

BPF_TEST(tracker)
{
	if (test__start_subtest("write_fault"))
		subtest_write_fault(false);
	if (test__start_subtest("write_fault_raw_tp"))
		subtest_write_fault(true);
	if (test__start_subtest("read_into_buffer"))
		subtest_read_into_buffer();
	if (test__start_subtest("heap_stack"))
		subtest_heap_stack();
	if (test__start_subtest("huge_page"))
		subtest_huge_page();
	if (test__start_subtest("mm_events"))
		subtest_mm_events();
	if (test__start_subtest("files"))
		subtest_files();
	if (test__start_subtest("tasks"))
		subtest_tasks();
	if (test__start_subtest("gup_flag"))
		subtest_gup_flag();
	if (test__start_subtest("overflow"))
		subtest_overflow();
	if (test__start_subtest("epochs"))
		subtest_epochs();
}
