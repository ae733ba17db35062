// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The rewind engine: checkpoint a process into a stopped copy-on-write twin and
 * put it back after every request (tasks, layout, pages, fds, registers).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/sched.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#define LOG_PREFIX "engine: "
#include "loader/log.h"
#include "loader/trace.h"
#include "loader/tracker.h"
#include "lethe/lethe.h"
#include "copy_dev.h"
#include "fds.h"
#include "files.h"
#include "layers.h"
#include "loader/container.h"
#include "inject/inject.h"
#include "iov.h"
#include "layout.h"
#include "maps.h"
#include "procfs.h"
#include "rearm_softdirty.h"
#include "rearm_uffd.h"
#include "regs.h"
#include "saved.h"
#include "thread.h"

/* Linux 5.13; glibc 2.36's <sys/ptrace.h> lacks it and <linux/ptrace.h> clashes with it */
#ifndef PTRACE_GET_RSEQ_CONFIGURATION
#define PTRACE_GET_RSEQ_CONFIGURATION 0x420f
#endif
struct rseq_conf {
	uint64_t rseq_abi_pointer;
	uint32_t rseq_abi_size;
	uint32_t signature;
	uint32_t flags;
	uint32_t pad;
};

#define COPY_BUF (4UL << 20)
/* Bound of the memory copied at checkpoint (shared, dontfork, wipeonfork ranges). */
#define SAVED_MAX (256ULL << 20)
#define PG 4096UL

struct snap_thread {
	pid_t tid;
	struct rs_regs regs;
	uint64_t rseq; /* the thread's registered struct rseq, 0 if none */
};

/*
 * Fields of struct rseq the kernel rewrites on every return to user mode
 * (cpu_id_start, cpu_id at 0..7; node_id, mm_cid at 20..27). They carry no
 * request data, and on this kernel they can change without a write fault the
 * tracker sees, so verification leaves them out and every rewind copies the
 * page back anyway.
 */
#define RSEQ_KERNEL_LO_END 8
#define RSEQ_KERNEL_HI_START 20
#define RSEQ_KERNEL_HI_END 28

struct lethe_sandbox {
	pid_t pid;
	pid_t twin;
	bool twin_is_our_child; /* CLONE_PARENT worked: we reap it, the target never sees it */
	struct lethe_opts opts;
	struct rs_proc proc;
	struct snap_thread *threads;
	pid_t *tids; /* the checkpoint's threads, as rs_proc_seize_stop_tids wants them */
	size_t nthreads;
	struct rs_maps maps;
	uint64_t brk;
	struct rs_fdtable fds;
	struct ld_tracker *tracker; /* the process-wide one, shared by every sandbox */
	struct ld_trace trace;
	uint64_t pending_flags; /* epoch flags seen since this sandbox last took them */
	struct lethe_sandbox *next;
	unsigned long syscall_ip;
	void *buf; /* bounce buffer for the copy */
	bool recycle;
	struct rs_uffd uffd;
	bool uffd_on;
	struct rs_softdirty sd; /* the written set where uffd-wp async is missing (< 6.7) */
	bool sd_on;
	uint64_t snap_pages; /* writable private pages of the snapshot */
	uint64_t dup_pages; /* pages restored since the twin was forked: memory it duplicates */
	bool layout_changed; /* this epoch: mappings may have lost their uffd registration */
	struct rs_saved_set saved; /* shared / dontfork / wipeonfork memory, copied at checkpoint */
	struct rs_layer_set layers; /* protected directories, container layers */
	char *cgroup; /* every process in it belongs to the sandbox */
	pid_t *cgroup0; /* its processes at checkpoint */
	size_t ncgroup0;
	struct lethe_file_result *fres; /* the last rewind's files ... */
	size_t nfres;
	struct lethe_task_result *tres; /* ... and tasks */
	size_t ntres;
	pid_t *children0; /* the target's children at checkpoint */
	size_t nchildren0;
	int cwd_fd; /* O_PATH of the checkpoint's working directory, held by us */
	char *cwd_path; /* the same as the target names it (its root, its mounts) */
	int dev_fd; /* /dev/lethe when the kernel helper is loaded, else -1 */
	dev_t cwd_dev;
	ino_t cwd_ino;
	struct rs_range *ever; /* LETHE_REARM_EVER: every range restored since checkpoint */
	size_t never;
	/*
	 * This rewind's written set: every range copied back. With uffd-wp these are
	 * exactly the pages left unprotected (the written ones, then ours), so
	 * re-arming them alone equals re-protecting the whole span, for a fraction
	 * of the page-table walk. Anything else that wrote the target (a repair by
	 * full compare, a layout change) sets wp_full instead.
	 */
	struct rs_range *wp;
	size_t nwp;
	bool wp_full;
};

/*
 * With uffd re-arm the twin is never refreshed, so every page ever restored
 * exists twice (measured: target+twin PSS 102.7 -> 119 MB over 4096-page
 * requests). Re-fork it once that duplication reaches a quarter of the snapshot.
 */
#define RETWIN_DUP_FRACTION 4

/*
 * Above this many written ranges one PAGEMAP_SCAN over the span (one TLB flush)
 * beats an UFFDIO_WRITEPROTECT per range (measured: 256 scattered pages, 1.0 ms
 * by ranges against 0.57 ms by scan; 10 pages, 52 us against 236 us).
 */
#define WP_RANGES_MAX 16

const char *lethe_reason_str(enum lethe_reason r)
{
	static const char *const names[LETHE_REASON_MAX] = {
		[LETHE_REASON_NONE] = "none",
		[LETHE_REASON_TARGET_DIED] = "target_died",
		[LETHE_REASON_THREAD_DIED] = "thread_died",
		[LETHE_REASON_FD_UNRECOVERABLE] = "fd_unrecoverable",
		[LETHE_REASON_IO_URING] = "io_uring",
		[LETHE_REASON_UNSUPPORTED_MAPPING] = "unsupported_mapping",
		[LETHE_REASON_INJECT_FAILED] = "inject_failed",
		[LETHE_REASON_LAYOUT_FAILED] = "layout_failed",
		[LETHE_REASON_COPY_FAILED] = "copy_failed",
		[LETHE_REASON_TASKS_FAILED] = "tasks_failed",
		[LETHE_REASON_VERIFY_FAILED] = "verify_failed",
		[LETHE_REASON_CWD_CHANGED] = "cwd_changed",
		[LETHE_REASON_FILES_FAILED] = "files_failed",
	};

	return r < LETHE_REASON_MAX && names[r] ? names[r] : "unknown";
}

const char *lethe_rearm_str(enum lethe_rearm r)
{
	switch (r) {
	case LETHE_REARM_AUTO:
		return "auto";
	case LETHE_REARM_RETWIN:
		return "retwin";
	case LETHE_REARM_UFFD:
		return "uffd-wp";
	case LETHE_REARM_EVER:
		return "ever-dirtied";
	case LETHE_REARM_SOFTDIRTY:
		return "softdirty";
	}
	return "unknown";
}

int lethe_rearm_parse(const char *name, enum lethe_rearm *out)
{
	static const struct {
		const char *name;
		enum lethe_rearm r;
	} names[] = {
		{ "auto", LETHE_REARM_AUTO },	   { "uffd", LETHE_REARM_UFFD }, { "softdirty", LETHE_REARM_SOFTDIRTY },
		{ "retwin", LETHE_REARM_RETWIN }, { "ever", LETHE_REARM_EVER },
	};

	for (size_t i = 0; name && i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(name, names[i].name)) {
			*out = names[i].r;
			return 0;
		}
	}
	return -EINVAL;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
}

/*
 * One tracker for the whole process: loading and attaching it costs ~140 ms
 * here (bench/README.md), far more than a checkpoint, so it is loaded once and
 * shared. Records go to the sandbox that owns their tgid: its root, or a task
 * the root created in this epoch (those never outlive a rewind).
 */
static struct {
	struct ld_tracker *t;
	struct lethe_sandbox *head;
} shared;

static bool sandbox_owns(const struct lethe_sandbox *s, pid_t tgid)
{
	if (tgid == s->pid)
		return true;
	for (size_t i = 0; i < s->trace.ntasks; i++)
		if (s->trace.tasks[i].tgid == tgid)
			return true;
	return false;
}

static int route_record(void *ctx, const struct lethe_ev_hdr *h, size_t size)
{
	for (struct lethe_sandbox *s = shared.head; s; s = s->next)
		if (sandbox_owns(s, h->tgid))
			return ld_trace_add(&s->trace, h, size);
	return 0;
}

int lethe_init(void)
{
	struct ld_tracker_opts o = {};
	const char *rb = getenv("LETHE_TRACKER_RB_BYTES");

	if (shared.t)
		return 0;
	/* a tuning knob, and how tests force lost records (a power of two >= 4096) */
	if (rb)
		o.rb_bytes = strtoul(rb, NULL, 0);
	return ld_tracker_new(&o, route_record, NULL, &shared.t);
}

static void sandbox_link(struct lethe_sandbox *s)
{
	s->next = shared.head;
	shared.head = s;
}

static void sandbox_unlink(struct lethe_sandbox *s)
{
	for (struct lethe_sandbox **pp = &shared.head; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			return;
		}
	}
}

/*
 * Close the shared epoch. Its flags are global, so every sandbox gets them
 * (at worst one verifies more than it needed); *flags takes this one's.
 */
static int epoch_close(struct lethe_sandbox *s, uint64_t *flags)
{
	uint64_t f = 0;
	int err = ld_tracker_epoch_close(s->tracker, &f);

	for (struct lethe_sandbox *x = shared.head; x; x = x->next)
		x->pending_flags |= f;
	if (flags)
		*flags = s->pending_flags;
	s->pending_flags = 0;
	return err;
}

/* What our own injections recorded is not the next request's: drop it, start a new epoch. */
static int epoch_restart(struct lethe_sandbox *s)
{
	int err = ld_tracker_drain(s->tracker);

	ld_trace_reset(&s->trace);
	if (err >= 0)
		err = epoch_close(s, NULL);
	return err < 0 ? err : 0;
}

static pid_t parent_of(pid_t pid)
{
	pid_t ppid;

	return rs_proc_stat(pid, NULL, &ppid) ? -1 : ppid;
}

static char proc_state(pid_t pid)
{
	char st;

	return rs_proc_stat(pid, &st, NULL) ? 0 : st;
}

static int list_children(pid_t pid, pid_t **out, size_t *n);

/*
 * Our pid of the child the target knows as pid: clone() returns it in the
 * target's pid namespace, which is not ours inside a container.
 */
static pid_t host_pid_of_child(pid_t target, pid_t pid)
{
	pid_t *kids, found = -ESRCH;
	size_t n;

	if (rs_proc_pid_in_ns_of(getpid(), target) == getpid())
		return pid; /* same namespace */
	if (list_children(target, &kids, &n))
		return -ESRCH;
	for (size_t i = 0; i < n && found < 0; i++)
		if (rs_proc_pid_in_ns_of(kids[i], target) == pid)
			found = kids[i];
	free(kids);
	return found;
}

/*
 * Fork the snapshot twin by injecting clone() into the stopped main thread. The
 * twin is auto-attached (TRACEFORK), kept stopped for good, and dies with us
 * (EXITKILL). CLONE_PARENT makes it our sibling-child so the target never sees
 * it; a pid-namespace init cannot use it and gets a plain child with no exit signal.
 */
static int twin_fork(struct lethe_sandbox *s, struct inj_ctl *c, pid_t *twin_out, bool *ours)
{
	unsigned long a[6] = { 0 };
	pid_t main_tid = s->pid;
	long ret = -1;
	int err, status;

	err = ptrace(PTRACE_SETOPTIONS, main_tid, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK) ? -errno : 0;
	if (err)
		return err;
	*ours = parent_of(s->pid) == getpid();
	a[0] = (*ours ? CLONE_PARENT : 0) | SIGCHLD;
	err = inj_syscall(c, SYS_clone, a, &ret);
	if (!err && ret == -EINVAL && *ours) {
		/* a pid-namespace init may not CLONE_PARENT */
		*ours = false;
		a[0] = 0;
		err = inj_syscall(c, SYS_clone, a, &ret);
	}
	ptrace(PTRACE_SETOPTIONS, main_tid, 0, s->proc.options);
	if (err)
		return err;
	if (ret <= 0) {
		pr_err("injected clone in %d failed: %s", s->pid, strerror((int)-ret));
		return ret < 0 ? (int)ret : -EIO;
	}
	ret = host_pid_of_child(s->pid, (pid_t)ret);
	if (ret <= 0)
		return -ESRCH;
	if (waitpid(ret, &status, __WALL) != ret) {
		err = -errno;
		kill(ret, SIGKILL);
		return err;
	}
	if (ptrace(PTRACE_SETOPTIONS, ret, 0, PTRACE_O_EXITKILL)) {
		err = -errno;
		kill(ret, SIGKILL);
		return err;
	}
	/* the fork record made it a member; it is ours, not the sandbox's */
	ld_tracker_member_del(s->tracker, ret);
	*twin_out = ret;
	return 0;
}

/*
 * Fork a twin that starts a new epoch. What was recorded before it (our own
 * injections) is dropped; what is recorded from the fork on is kept, because it
 * already differs from this twin: the kernel may write rseq/TLS as the thread
 * returns to user mode right after the injected clone.
 */
static int twin_fork_clean(struct lethe_sandbox *s, struct inj_ctl *c, pid_t *twin_out, bool *ours)
{
	int err = ld_tracker_drain(s->tracker);

	if (err < 0)
		return err;
	ld_trace_reset(&s->trace);
	err = twin_fork(s, c, twin_out, ours);
	if (err)
		return err;
	err = epoch_close(s, NULL);
	return err < 0 ? err : 0;
}

static void twin_kill(struct lethe_sandbox *s, pid_t twin, bool ours, struct inj_ctl *c)
{
	int status;

	pid_t seen;

	if (twin <= 0)
		return;
	/* the target names its child in its own pid namespace (a container's init) */
	seen = !ours && c ? rs_proc_pid_in_ns_of(twin, s->pid) : -1;
	kill(twin, SIGKILL);
	/* as its tracer we reap it either way; a real parent other than us also must */
	waitpid(twin, &status, __WALL);
	if (seen > 0) {
		unsigned long a[6] = { P_PID, (unsigned long)seen, 0, WEXITED | __WALL, 0, 0 };
		long ret;

		inj_syscall(c, SYS_waitid, a, &ret);
	}
}

static int snapshot_threads(struct lethe_sandbox *s)
{
	s->threads = calloc(s->proc.n, sizeof(*s->threads));
	s->tids = calloc(s->proc.n, sizeof(*s->tids));
	if (!s->threads || !s->tids)
		return -ENOMEM;
	for (size_t i = 0; i < s->proc.n; i++) {
		int err;

		struct rseq_conf rc = {};

		s->threads[i].tid = s->tids[i] = s->proc.tids[i];
		if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, s->proc.tids[i], sizeof(rc), &rc) == sizeof(rc) &&
		    rc.rseq_abi_size >= RSEQ_KERNEL_HI_END)
			s->threads[i].rseq = rc.rseq_abi_pointer;
		err = rs_regs_save(s->proc.tids[i], &s->threads[i].regs);
		if (err)
			return err;
		pr_debug("thread %d: rseq at 0x%llx", s->threads[i].tid, (unsigned long long)s->threads[i].rseq);
		s->nthreads++;
	}
	return 0;
}

static int inject_checked(struct inj_ctl *c, long nr, unsigned long a0, unsigned long a1, unsigned long a2,
			  unsigned long a3, unsigned long a4, unsigned long a5, long *ret);
static int list_children(pid_t pid, pid_t **out, size_t *n);
static bool pid_in(const pid_t *v, size_t n, pid_t pid);

static int cwd_take(struct lethe_sandbox *s)
{
	char path[64];
	struct stat sb;

	snprintf(path, sizeof(path), "/proc/%d/cwd", s->pid);
	s->cwd_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->cwd_fd < 0 || fstat(s->cwd_fd, &sb))
		return -errno;
	s->cwd_dev = sb.st_dev;
	s->cwd_ino = sb.st_ino;
	{
		char buf[PATH_MAX];
		ssize_t n = readlink(path, buf, sizeof(buf) - 1);

		/* absent when it cannot be named ("(deleted)", unreachable): pidfd route only */
		if (n > 0 && buf[0] == '/') {
			buf[n] = 0;
			s->cwd_path = strdup(buf);
		}
	}
	return 0;
}

/* Remember ranges this rewind wrote in the target, to write-protect again at re-arm. */
static void wp_note(struct lethe_sandbox *s, const struct rs_range *r, size_t n)
{
	struct rs_range *w;

	if (!n)
		return;
	w = realloc(s->wp, (s->nwp + n) * sizeof(*w));
	if (!w) {
		s->wp_full = true; /* no list: re-protect everything */
		return;
	}
	memcpy(w + s->nwp, r, n * sizeof(*w));
	s->wp = w;
	s->nwp += n;
}

/*
 * The target chdir()s to cwd_path, written for the call onto its stack below
 * the red zone, where nothing lives while it is stopped; the bytes there are put
 * back after. For a target that cannot see our pid (a container's).
 */
static int cwd_restore_by_path(struct lethe_sandbox *s, struct inj_ctl *c)
{
	size_t len = strlen(s->cwd_path) + 1;
	struct user_regs_struct r;
	char save[PATH_MAX];
	struct iovec local, remote;
	struct rs_range scratch;
	unsigned long addr;
	long ret;
	int err;

	inj_ctl_get_orig(c, &r);
	addr = (r.rsp - 256 - len) & ~15UL;
	local = (struct iovec){ save, len };
	remote = (struct iovec){ (void *)addr, len };
	if (process_vm_readv(s->pid, &local, 1, &remote, 1, 0) != (ssize_t)len)
		return errno ? -errno : -EIO;
	local.iov_base = s->cwd_path;
	if (process_vm_writev(s->pid, &local, 1, &remote, 1, 0) != (ssize_t)len)
		return errno ? -errno : -EIO;
	/* the scratch stack bytes are written now: they join the set to re-protect */
	scratch.start = addr & ~(PG - 1);
	scratch.len = ((addr + len + PG - 1) & ~(PG - 1)) - scratch.start;
	wp_note(s, &scratch, 1);
	err = inject_checked(c, SYS_chdir, addr, 0, 0, 0, 0, 0, &ret);
	local.iov_base = save;
	if (process_vm_writev(s->pid, &local, 1, &remote, 1, 0) != (ssize_t)len && !err)
		err = errno ? -errno : -EIO;
	return err;
}

static bool cwd_moved(const struct lethe_sandbox *s)
{
	char path[64];
	struct stat sb;

	snprintf(path, sizeof(path), "/proc/%d/cwd", s->pid);
	return stat(path, &sb) || sb.st_dev != s->cwd_dev || sb.st_ino != s->cwd_ino;
}

/*
 * Put the checkpoint's working directory back: the target takes our O_PATH fd
 * of it with pidfd_getfd (injected, integers only) and fchdir()s there. That
 * needs our pid to be visible to it; across pid namespaces (containers) it
 * chdir()s by path instead. Either way the result is checked by inode.
 */
static int cwd_put_back(struct lethe_sandbox *s, struct inj_ctl *c)
{
	long pfd = -1, nfd = -1, ret;
	int err;

	if (!cwd_moved(s))
		return 0;
	if (rs_proc_pid_in_ns_of(getpid(), s->pid) != getpid() && s->cwd_path) {
		err = cwd_restore_by_path(s, c);
		goto check;
	}
	err = inject_checked(c, SYS_pidfd_open, getpid(), 0, 0, 0, 0, 0, &pfd);
	if (!err)
		err = inject_checked(c, SYS_pidfd_getfd, pfd, s->cwd_fd, 0, 0, 0, 0, &nfd);
	if (!err)
		err = inject_checked(c, SYS_fchdir, nfd, 0, 0, 0, 0, 0, &ret);
	if (nfd >= 0)
		inject_checked(c, SYS_close, nfd, 0, 0, 0, 0, 0, &ret);
	if (pfd >= 0)
		inject_checked(c, SYS_close, pfd, 0, 0, 0, 0, 0, &ret);
check:
	return !err && cwd_moved(s) ? -EIO : err;
}

static int cwd_restore(struct lethe_sandbox *s, struct inj_ctl *c, struct lethe_rewind_stats *st)
{
	int err = cwd_put_back(s, c);

	if (err) {
		pr_err("pid %d: cannot put its working directory back: %s", s->pid, strerror(-err));
		st->reason = LETHE_REASON_CWD_CHANGED;
		return -ENOTRECOVERABLE;
	}
	return 0;
}

/* Snapshot every layer (while the target is stopped); the caller's strings are not kept. */
static int layers_take(struct lethe_sandbox *s)
{
	int err = rs_layers_take(&s->layers, &s->opts, s->pid, s->opts.store_dir ? s->opts.store_dir : "/var/lib/lethe");

	s->opts.protect = NULL;
	s->opts.nprotect = 0;
	s->opts.layers = NULL;
	s->opts.nlayers = 0;
	return err;
}

/* A path the tracker could not name: only a full diff can cover it. */
static bool unnamed_path(const struct ld_trace *t)
{
	for (size_t i = 0; i < t->nfiles; i++)
		if (t->files[i].path[0] != '/')
			return true;
	return false;
}

/*
 * Put files back: exactly the paths the tracker saw touched, or, when it lost
 * records, a full diff of every layer. Synchronous: the target is stopped.
 * The per-path result (with a copy of the path) outlives the trace's reset.
 */
static int layers_restore(struct lethe_sandbox *s, struct lethe_rewind_stats *st)
{
	const struct ld_trace *t = &s->trace;
	bool full = (st->epoch_flags & LETHE_EPOCH_LOST) || unnamed_path(t);
	int err;

	if (!t->nfiles && !full)
		return 0;
	s->fres = calloc(t->nfiles + 1, sizeof(*s->fres));
	if (!s->fres)
		return -ENOMEM;
	err = rs_layers_restore(&s->layers, t->files, t->nfiles, full, s->fres, st);
	for (size_t i = 0; i < t->nfiles; i++)
		s->fres[i].path = strdup(t->files[i].path) ?: "?";
	s->nfres = t->nfiles;
	st->files = s->fres;
	st->nfiles = t->nfiles;
	return err;
}

static void results_free(struct lethe_sandbox *s)
{
	for (size_t i = 0; i < s->nfres; i++)
		if (strcmp(s->fres[i].path, "?"))
			free((char *)s->fres[i].path);
	free(s->fres);
	free(s->tres);
	s->fres = NULL;
	s->tres = NULL;
	s->ntres = 0;
	s->nfres = 0;
}

/* Remember a task the rewind removed, for the report. */
static void task_result(struct lethe_sandbox *s, pid_t pid, pid_t tgid, bool thread, bool cgroup_only)
{
	struct lethe_task_result *n = realloc(s->tres, (s->ntres + 1) * sizeof(*n));

	if (!n)
		return;
	s->tres = n;
	n[s->ntres++] = (struct lethe_task_result){ .pid = pid, .tgid = tgid, .thread = thread, .cgroup_only = cgroup_only };
}

/* Register and write-protect every tracked mapping of the snapshot again. */
static int uffd_register_all(struct lethe_sandbox *s)
{
	for (size_t i = 0; i < s->maps.n; i++) {
		const struct rs_vma *v = &s->maps.v[i];
		int err;

		if (!rs_vma_is_private_writable(v, NULL) || rs_vma_is_special(v))
			continue;
		err = rs_uffd_register(&s->uffd, v->start, v->end);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Clear the soft-dirty bits the copy-back just set. Without a re-twin (which
 * starts its own epoch) what our injections recorded is not the next request's.
 */
static int rearm_softdirty_clear(struct lethe_sandbox *s, struct lethe_rewind_stats *st)
{
	int err = rs_softdirty_clear(&s->sd);

	if (!err && !strcmp(st->rearm, "softdirty"))
		err = epoch_restart(s);
	if (err) {
		pr_err("soft-dirty re-arm of %d failed: %s", s->pid, strerror(-err));
		st->reason = LETHE_REASON_INJECT_FAILED;
	}
	return err;
}

/* The twin holds this mapping's snapshot: private, writable, not copied apart. */
static bool vma_in_twin(const struct rs_vma *v, void *arg)
{
	const struct lethe_sandbox *s = arg;

	return rs_vma_is_private_writable(v, NULL) && !rs_saved_has_vma(&s->saved, v);
}

static void sandbox_free(struct lethe_sandbox *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nthreads; i++)
		rs_regs_free(&s->threads[i].regs);
	free(s->threads);
	free(s->tids);
	free(s->ever);
	free(s->wp);
	free(s->children0);
	rs_saved_free(&s->saved);
	if (s->cwd_fd >= 0)
		close(s->cwd_fd);
	free(s->cwd_path);
	if (s->dev_fd >= 0)
		close(s->dev_fd);
	rs_layers_free(&s->layers);
	results_free(s);
	free(s->cgroup);
	free(s->cgroup0);
	rs_maps_free(&s->maps);
	rs_fdtable_free(&s->fds);
	if (s->uffd_on)
		rs_uffd_free(&s->uffd);
	if (s->sd_on)
		rs_softdirty_free(&s->sd);
	if (s->tracker) {
		ld_tracker_member_del(s->tracker, s->pid);
		sandbox_unlink(s);
	}
	ld_trace_free(&s->trace);
	rs_proc_free(&s->proc);
	free(s->buf);
	free(s);
}

int lethe_checkpoint(pid_t pid, const struct lethe_opts *opts, struct lethe_sandbox **out)
{
	struct lethe_sandbox *s;
	struct inj_ctl *c = NULL;
	unsigned long a[6] = { 0 };
	bool stopped = false;
	long ret;
	int err;

	if (pid <= 0 || kill(pid, 0))
		return -ESRCH;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->pid = pid;
	s->cwd_fd = -1;
	/* the kernel helper copies in one step where it is loaded and speaks our ABI */
	s->dev_fd = rs_copy_dev_open();
	if (s->dev_fd < 0 && s->dev_fd != -ENOENT)
		pr_info("/dev/lethe unusable (%s): copying with process_vm_readv/writev", strerror(-s->dev_fd));
	if (opts)
		s->opts = *opts;
	s->buf = malloc(COPY_BUF);
	err = s->buf ? ld_trace_init(&s->trace) : -ENOMEM;
	if (err)
		goto fail;
	err = lethe_init();
	if (err)
		goto fail;
	s->tracker = shared.t;
	sandbox_link(s);
	err = ld_tracker_member_add(s->tracker, pid, pid);
	if (err)
		goto fail;

	err = rs_proc_seize(pid, PTRACE_O_TRACESYSGOOD, &s->proc);
	if (err) {
		pr_err("cannot seize %d: %s", pid, strerror(-err));
		goto fail;
	}
	err = rs_proc_stop(&s->proc);
	if (err)
		goto fail_detach;
	stopped = true;

	err = rs_maps_read(pid, &s->maps);
	if (err)
		goto fail_detach;
	err = cwd_take(s);
	if (!err)
		err = layers_take(s);
	if (!err && s->opts.cgroup) {
		s->cgroup = strdup(s->opts.cgroup);
		err = s->cgroup ? ld_cgroup_procs(s->cgroup, &s->cgroup0, &s->ncgroup0) : -ENOMEM;
		if (err)
			pr_err("cannot list cgroup %s: %s", s->opts.cgroup, strerror(-err));
		else if (!pid_in(s->cgroup0, s->ncgroup0, pid))
			pr_warn("pid %d is not in cgroup %s", pid, s->cgroup);
		else if (s->ncgroup0 > 1)
			pr_warn("cgroup %s holds %zu other processes: kept, not rewound", s->cgroup, s->ncgroup0 - 1);
		s->opts.cgroup = NULL;
	}
	if (!err)
		err = list_children(pid, &s->children0, &s->nchildren0);
	if (err)
		goto fail_detach;
	/* what the twin cannot hold is copied now and written back whole at every rewind */
	err = rs_saved_take(pid, &s->maps, SAVED_MAX, &s->saved);
	if (err < 0) {
		if (err == -EFBIG)
			err = -EOPNOTSUPP;
		goto fail_detach;
	}
	err = rs_fdtable_read(pid, &s->fds);
	if (err < 0)
		goto fail_detach;
	for (size_t i = 0; i < s->fds.n; i++) {
		if (rs_fd_is_unsupported(&s->fds.v[i])) {
			pr_err("pid %d has an io_uring fd (%d): not rewindable", pid, s->fds.v[i].fd);
			err = -EOPNOTSUPP;
			goto fail_detach;
		}
	}
	err = snapshot_threads(s);
	if (err)
		goto fail_detach;

	err = inj_ctl_new(pid, &c);
	if (err)
		goto fail_detach;
	s->syscall_ip = inj_ctl_syscall_ip(c);
	err = inj_syscall(c, SYS_brk, a, &ret);
	if (err)
		goto fail_inj;
	s->brk = ret;
	err = twin_fork_clean(s, c, &s->twin, &s->twin_is_our_child);
	if (err)
		goto fail_inj;
	for (size_t i = 0; i < s->maps.n; i++)
		if (rs_vma_is_private_writable(&s->maps.v[i], NULL))
			s->snap_pages += (s->maps.v[i].end - s->maps.v[i].start) / PG;
	if (s->opts.rearm == LETHE_REARM_AUTO || s->opts.rearm == LETHE_REARM_UFFD) {
		err = rs_uffd_setup(pid, c, &s->maps, &s->uffd);
		s->uffd_on = !err;
		if (err && s->opts.rearm == LETHE_REARM_UFFD) {
			pr_err("uffd-wp re-arm unavailable for %d: %s", pid, strerror(-err));
			/* WP_ASYNC or PAGEMAP_SCAN refused: the kernel lacks them (< 6.7) */
			err = err == -EINVAL || err == -ENOTTY ? -EOPNOTSUPP : err;
			goto fail_twin_inj;
		}
		if (err)
			pr_info("uffd-wp re-arm unavailable (%s)", strerror(-err));
	}
	err = rs_softdirty_select(pid, s->opts.rearm, s->uffd_on, &s->sd);
	s->sd_on = err > 0;
	if (err < 0)
		goto fail_twin_inj;
	err = inj_ctl_restore(c);
	inj_ctl_free(c);
	c = NULL;
	if (err)
		goto fail_twin;

	err = rs_proc_detach(&s->proc);
	if (err)
		goto fail_twin;
	*out = s;
	return 0;

fail_twin_inj:
	twin_kill(s, s->twin, s->twin_is_our_child, c);
	s->twin = 0;
fail_inj:
	inj_ctl_restore(c);
	inj_ctl_free(c);
	c = NULL;
fail_twin:
	twin_kill(s, s->twin, s->twin_is_our_child, NULL);
	s->twin = 0;
fail_detach:
	if (stopped)
		rs_proc_detach(&s->proc);
fail:
	sandbox_free(s);
	return err;
}

/* Whether this epoch may have created processes (besides our twin) that ran on. */
static bool has_new_processes(const struct lethe_sandbox *s, uint64_t flags)
{
	if (flags & LETHE_EPOCH_LOST)
		return true;
	for (size_t i = 0; i < s->trace.ntasks; i++)
		if (!s->trace.tasks[i].thread && s->trace.tasks[i].pid != s->twin)
			return true;
	return false;
}

/* Whether the tracker saw the target create a thread in this epoch. */
static bool has_new_threads(const struct lethe_sandbox *s)
{
	for (size_t i = 0; i < s->trace.ntasks; i++)
		if (s->trace.tasks[i].thread && s->trace.tasks[i].tgid == s->pid)
			return true;
	return false;
}

struct doomed {
	pid_t pid, ppid;
	pid_t seen; /* its pid in the target's namespace, when the target is its parent */
};

/* Make sure a killed process is dead and reaped (by the target, by us, or by its parent). */
static int reap_task(struct lethe_sandbox *s, struct inj_ctl *c, const struct doomed *d)
{
	int status;

	if (d->ppid == s->pid && d->seen > 0) {
		/* the pid as the target knows it: they differ inside a container */
		unsigned long a[6] = { P_PID, (unsigned long)d->seen, 0, WEXITED | __WALL, 0, 0 };
		long ret;

		return inj_syscall(c, SYS_waitid, a, &ret);
	}
	if (d->ppid == getpid()) {
		waitpid(d->pid, &status, __WALL);
		return 0;
	}
	/* reparented elsewhere (double fork): wait until it is no longer running */
	for (int tries = 0; tries < 1000; tries++) {
		char stc = proc_state(d->pid);

		if (!stc || stc == 'Z' || stc == 'X')
			break;
		usleep(1000);
	}
	return 0;
}

/*
 * Kill processes created since the checkpoint, all first and then reap each:
 * they tear down their address spaces in parallel rather than one after the other.
 */
static int kill_tasks(struct lethe_sandbox *s, struct inj_ctl *c, const pid_t *pids, size_t n,
		      struct lethe_rewind_stats *st)
{
	struct doomed *d = calloc(n + 1, sizeof(*d));
	size_t m = 0;
	int err = 0;

	if (!d)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		pid_t pid = pids[i], ppid = parent_of(pid);
		bool dup = false;

		for (size_t j = 0; j < m; j++)
			dup |= d[j].pid == pid;
		if (dup || ppid < 0 || pid == s->twin)
			continue; /* gone and reaped already, or our own snapshot */
		d[m] = (struct doomed){ .pid = pid, .ppid = ppid, .seen = -1 };
		if (ppid == s->pid)
			d[m].seen = rs_proc_pid_in_ns_of(pid, s->pid);
		if (kill(pid, SIGKILL) == 0)
			st->tasks_killed++;
		m++;
	}
	for (size_t j = 0; j < m && !err; j++)
		err = reap_task(s, c, &d[j]);
	free(d);
	return err;
}

/* Children of every thread of pid (/proc/PID/task/TID/children). */
static int list_children(pid_t pid, pid_t **out, size_t *n)
{
	char path[64], buf[4096];
	struct dirent *d;
	DIR *dir;

	*out = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -ESRCH;
	while ((d = readdir(dir))) {
		char cpath[300];
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/children", (int)pid, d->d_name);
		f = fopen(cpath, "re");
		if (!f)
			continue;
		while (fscanf(f, "%4095s", buf) == 1) {
			pid_t *np = realloc(*out, (*n + 1) * sizeof(*np));

			if (!np) {
				fclose(f);
				closedir(dir);
				return -ENOMEM;
			}
			*out = np;
			np[(*n)++] = atoi(buf);
		}
		fclose(f);
	}
	closedir(dir);
	return 0;
}

static bool pid_in(const pid_t *v, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == pid)
			return true;
	return false;
}

/*
 * Kill and reap processes created since the checkpoint: those the tracker saw
 * forked, and, when it lost records, every child of the target that was not
 * there at the checkpoint.
 */
static int remove_new_tasks(struct lethe_sandbox *s, struct inj_ctl *c, struct lethe_rewind_stats *st)
{
	struct ld_trace *t = &s->trace;
	pid_t *v = malloc((t->ntasks + 1) * sizeof(*v)), *kids = NULL;
	size_t n = 0, nk = 0;
	int err = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < t->ntasks; i++)
		if (!t->tasks[i].thread)
			v[n++] = t->tasks[i].pid;
	if (st->epoch_flags & LETHE_EPOCH_LOST) {
		err = list_children(s->pid, &kids, &nk);
		for (size_t i = 0; !err && i < nk; i++) {
			pid_t *nv;

			if (pid_in(s->children0, s->nchildren0, kids[i]))
				continue;
			nv = realloc(v, (n + 1) * sizeof(*v));
			if (!nv) {
				err = -ENOMEM;
				break;
			}
			v = nv;
			v[n++] = kids[i];
		}
		free(kids);
	}
	if (!err)
		err = kill_tasks(s, c, v, n, st);
	free(v);
	return err;
}

/*
 * Processes in the sandbox's cgroup that were not there at checkpoint: one that
 * left the target's tree (double fork), or that the tracker missed. Killed in
 * rounds until none is left, since one may fork while we kill.
 */
static int sweep_cgroup(struct lethe_sandbox *s, struct inj_ctl *c, struct lethe_rewind_stats *st)
{
	for (int round = 0; round < 64; round++) {
		size_t n, extra = 0;
		pid_t *now;
		int err = ld_cgroup_procs(s->cgroup, &now, &n);

		if (err) {
			pr_err("cannot list cgroup %s: %s", s->cgroup, strerror(-err));
			st->reason = LETHE_REASON_TASKS_FAILED;
			return -ENOTRECOVERABLE;
		}
		for (size_t i = 0; i < n; i++) {
			pid_t pid = now[i];
			bool known = false;

			if (pid == s->twin || pid_in(s->cgroup0, s->ncgroup0, pid))
				continue;
			/* a zombie some other parent will reap holds nothing */
			if (proc_state(pid) == 'Z' && parent_of(pid) != s->pid)
				continue;
			for (size_t j = 0; j < s->ntres; j++)
				known |= s->tres[j].pid == pid;
			if (!known)
				task_result(s, pid, pid, false, true);
			st->cgroup_killed++;
			now[extra++] = pid; /* compacted in place: the ones to kill */
		}
		err = kill_tasks(s, c, now, extra, st);
		free(now);
		if (err) {
			st->reason = LETHE_REASON_TASKS_FAILED;
			return -ENOTRECOVERABLE;
		}
		if (!extra)
			return 0;
	}
	pr_err("processes keep appearing in cgroup %s", s->cgroup);
	st->reason = LETHE_REASON_TASKS_FAILED;
	return -ENOTRECOVERABLE;
}

/* New threads are told to exit; a vanished original thread cannot be rewound. */
static int end_new_threads(struct lethe_sandbox *s, struct lethe_rewind_stats *st)
{
	for (size_t i = 0; i < s->nthreads; i++) {
		int idx = rs_proc_find(&s->proc, s->threads[i].tid);

		if (idx < 0 || !s->proc.stopped[idx]) {
			pr_err("thread %d of %d died since the checkpoint", s->threads[i].tid, s->pid);
			st->reason = LETHE_REASON_THREAD_DIED;
			return -ENOTRECOVERABLE;
		}
	}
	for (size_t i = 0; i < s->proc.n;) {
		pid_t tid = s->proc.tids[i];
		bool original = false;
		struct inj_ctl *tc;
		unsigned long a[6] = { 0 };
		long ret;
		int err;

		for (size_t j = 0; j < s->nthreads && !original; j++)
			original = s->threads[j].tid == tid;
		if (original) {
			i++;
			continue;
		}
		err = inj_ctl_new_at(tid, s->syscall_ip, &tc);
		if (!err)
			err = inj_syscall(tc, SYS_exit, a, &ret);
		inj_ctl_free(tc);
		if (err) {
			st->reason = LETHE_REASON_TASKS_FAILED;
			return err;
		}
		st->threads_ended++;
		rs_proc_forget(&s->proc, i);
	}
	return 0;
}

static int inject_checked(struct inj_ctl *c, long nr, unsigned long a0, unsigned long a1, unsigned long a2,
			  unsigned long a3, unsigned long a4, unsigned long a5, long *ret)
{
	unsigned long a[6] = { a0, a1, a2, a3, a4, a5 };
	long r = 0;
	int err = inj_syscall(c, nr, a, &r);

	if (ret)
		*ret = r;
	if (err)
		return err;
	return r < 0 && r > -4096 ? (int)r : 0;
}

/* Append the pages of [start, end) to a page list. */
static int push_pages(struct rs_page **pages, size_t *n, uint64_t start, uint64_t end)
{
	size_t add = end > start ? (end - start) / PG : 0;
	struct rs_page *np;

	if (!add)
		return 0;
	np = realloc(*pages, (*n + add) * sizeof(*np));
	if (!np)
		return -ENOMEM;
	*pages = np;
	for (uint64_t a = start; a < end; a += PG)
		np[(*n)++] = (struct rs_page){ .addr = a, .size = PG };
	return 0;
}

/* Undo layout changes; ranges whose content must come back whole go into extra. */
static int undo_layout(struct lethe_sandbox *s, struct inj_ctl *c, struct rs_page **extra, size_t *nextra,
		       struct lethe_rewind_stats *st)
{
	struct rs_layout_plan plan = {};
	struct rs_maps now;
	int err;

	err = rs_maps_read(s->pid, &now);
	if (err)
		return err;
	err = rs_layout_diff(&s->maps, &now, &plan);
	rs_maps_free(&now);
	if (err < 0)
		return err;
	err = 0;
	for (size_t i = 0; i < plan.n && !err; i++) {
		const struct rs_layout_op *op = &plan.ops[i];
		uint64_t len = op->end - op->start;
		long ret;

		switch (op->kind) {
		case RS_LAYOUT_MUNMAP:
			err = inject_checked(c, SYS_munmap, op->start, len, 0, 0, 0, 0, &ret);
			break;
		case RS_LAYOUT_BRK:
			err = inject_checked(c, SYS_brk, s->brk, 0, 0, 0, 0, 0, &ret);
			if (!err && (uint64_t)ret != s->brk)
				err = -ENOMEM;
			/* heap grown back: it comes back zeroed, its bytes are the twin's */
			if (!err)
				err = push_pages(extra, nextra, op->start, op->end);
			if (!err && s->uffd_on && op->end > op->start)
				err = rs_uffd_register(&s->uffd, op->start, op->end);
			break;
		case RS_LAYOUT_RECREATE:
			if (!(op->flags & MAP_ANONYMOUS) || (op->snap && (op->snap->prot & RS_VMA_SHARED))) {
				pr_err("pid %d: file or shared mapping %s at 0x%llx was removed; cannot re-create it",
				       s->pid, op->snap ? rs_vma_label(op->snap) : "?", (unsigned long long)op->start);
				st->reason = LETHE_REASON_UNSUPPORTED_MAPPING;
				err = -ENOTRECOVERABLE;
				break;
			}
			/* writable so the copy can fill it; the plan's mprotect (if any) follows */
			err = inject_checked(c, SYS_mmap, op->start, len, PROT_READ | PROT_WRITE,
					     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, (unsigned long)-1, 0, &ret);
			if (!err && (op->prot & (PROT_READ | PROT_WRITE)) != (PROT_READ | PROT_WRITE))
				err = -ENOTRECOVERABLE; /* content copy of non-writable anon not done yet */
			if (!err)
				err = push_pages(extra, nextra, op->start, op->end);
			if (!err && s->uffd_on)
				err = rs_uffd_register(&s->uffd, op->start, op->end);
			break;
		case RS_LAYOUT_MPROTECT:
			err = inject_checked(c, SYS_mprotect, op->start, len, op->prot, 0, 0, 0, &ret);
			break;
		}
		if (!err)
			st->mappings_undone++;
	}
	if (err && !st->reason)
		st->reason = LETHE_REASON_LAYOUT_FAILED;
	rs_layout_plan_free(&plan);
	return err;
}

/* Copy ranges from the twin into the target through a bounce buffer. */
static int copy_ranges(struct lethe_sandbox *s, const struct rs_range *r, size_t n, struct lethe_rewind_stats *st)
{
	struct rs_iov_batch *b = malloc(sizeof(*b));
	int cnt, err = 0;

	if (!b)
		return -ENOMEM;
	if (s->dev_fd >= 0) {
		uint64_t bytes = 0;

		st->copy = "kpatch";
		err = rs_copy_dev_ranges(s->dev_fd, s->pid, s->twin, r, n, &bytes);
		st->bytes_restored += bytes;
		if (!err) {
			free(b);
			return 0;
		}
		/* the copy is idempotent: redo all of it the portable way */
		pr_warn("/dev/lethe rollback of %d failed (%s): copying with process_vm", s->pid, strerror(-err));
	}
	st->copy = "process_vm";
	err = rs_iov_batch_init(b, r, n, s->buf, COPY_BUF);
	while (!err && (cnt = rs_iov_batch_next(b)) > 0) {
		ssize_t rd = process_vm_readv(s->twin, b->local, cnt, b->remote, cnt, 0);
		ssize_t wr;

		if (rd != (ssize_t)b->bytes) {
			pr_err("read of %zu bytes from twin %d returned %zd", b->bytes, s->twin, rd);
			err = rd < 0 ? -errno : -EIO;
			break;
		}
		wr = process_vm_writev(s->pid, b->local, cnt, b->remote, cnt, 0);
		if (wr != (ssize_t)b->bytes) {
			pr_err("write of %zu bytes into %d returned %zd", b->bytes, s->pid, wr);
			err = wr < 0 ? -errno : -EIO;
			break;
		}
		st->bytes_restored += b->bytes;
	}
	if (!err && cnt < 0)
		err = cnt;
	free(b);
	return err;
}

/*
 * Ranges whose content the request discarded without writing it: munmap (then
 * maybe a new mapping in the same place), mremap's old range, MAP_FIXED over old
 * memory, MADV_DONTNEED/FREE/REMOVE. No write fault marks them, yet they differ
 * from the snapshot; the clip to the snapshot's layout keeps only what was ours.
 */
static int add_discarded(struct lethe_sandbox *s, struct rs_page **pages, size_t *n)
{
	int err;

	for (size_t i = 0; i < s->trace.nmm; i++) {
		const struct ld_mm_change *m = &s->trace.mm[i];
		uint64_t start = 0, len = 0;

		if (m->pid != s->pid)
			continue;
		switch (m->op) {
		case LETHE_MM_MUNMAP:
			start = m->args[0], len = m->args[1];
			break;
		case LETHE_MM_MREMAP:
			start = m->args[0], len = m->args[1];
			break;
		case LETHE_MM_MMAP:
			if (m->args[3] & (MAP_FIXED | MAP_FIXED_NOREPLACE))
				start = m->ret, len = m->args[1];
			break;
		case LETHE_MM_MADVISE:
			if (m->args[2] == MADV_DONTNEED || m->args[2] == MADV_FREE || m->args[2] == MADV_REMOVE)
				start = m->args[0], len = m->args[1];
			break;
		}
		if (!len || (m->ret < 0 && m->ret > -4096))
			continue;
		start &= ~(PG - 1);
		len = (len + PG - 1) & ~(PG - 1);
		/* only what overlaps the snapshot's layout was ever ours */
		for (size_t j = 0; j < s->maps.n; j++) {
			const struct rs_vma *v = &s->maps.v[j];
			uint64_t lo = start > v->start ? start : v->start;
			uint64_t hi = start + len < v->end ? start + len : v->end;

			if (lo >= hi)
				continue;
			err = push_pages(pages, n, lo, hi);
			/* a mapping replaced in place lost its uffd registration: give it back */
			if (!err && s->uffd_on && rs_vma_is_private_writable(v, NULL))
				err = rs_uffd_register(&s->uffd, lo, hi);
			if (err)
				return err;
		}
	}
	return 0;
}

static int restore_pages(struct lethe_sandbox *s, size_t from, const struct rs_page *extra, size_t nextra,
			 struct lethe_rewind_stats *st)
{
	struct rs_range *r = NULL, *clipped = NULL;
	struct rs_page *pages;
	size_t n = 0, nr = 0, nc = 0;
	int err;

	pages = malloc((s->trace.ndirty + nextra + s->nthreads + 1) * sizeof(*pages));
	/* without re-arm, a page written once stays writable: restore it every time */
	for (size_t i = 0; pages && !from && i < s->never; i++) {
		struct rs_page *np;
		size_t keep = n;

		np = realloc(pages, (s->trace.ndirty + nextra + s->nthreads + 1 + keep + s->ever[i].len / PG) *
					    sizeof(*pages));
		if (!np) {
			free(pages);
			return -ENOMEM;
		}
		pages = np;
		for (uint64_t a = s->ever[i].start; a < s->ever[i].start + s->ever[i].len; a += PG)
			pages[n++] = (struct rs_page){ .addr = a, .size = PG };
	}
	if (!pages)
		return -ENOMEM;
	for (size_t i = from; i < s->trace.ndirty; i++) {
		/* only the root's pages: other members are killed, never rewound */
		if (s->trace.dirty[i].tgid != s->pid)
			continue;
		pages[n++] = (struct rs_page){ .addr = s->trace.dirty[i].addr, .size = s->trace.dirty[i].size };
	}
	if (nextra)
		memcpy(pages + n, extra, nextra * sizeof(*pages));
	n += nextra;
	for (size_t i = 0; !from && i < s->nthreads; i++)
		if (s->threads[i].rseq)
			pages[n++] = (struct rs_page){ .addr = s->threads[i].rseq & ~(PG - 1), .size = PG };
	err = from ? 0 : add_discarded(s, &pages, &n);
	/* the kernel's own record of written pages: exact, GUP writes included */
	if (!err && !from && s->uffd_on) {
		long w = s->layout_changed ? rs_uffd_written(&s->uffd, &s->maps, &pages, &n)
					   : rs_uffd_written_span(&s->uffd, &s->maps, &pages, &n);

		err = w < 0 ? (int)w : 0;
	}
	if (!err && !from && s->sd_on) {
		long w = rs_softdirty_written(&s->sd, &s->maps, &pages, &n);

		err = w < 0 ? (int)w : 0;
	}
	if (err) {
		free(pages);
		return err;
	}
	err = rs_ranges_build(pages, n, &r, &nr);
	free(pages);
	if (err < 0)
		return err;
	/* pages outside the snapshot's writable private memory were unmapped above or are not ours */
	err = rs_ranges_clip(r, nr, &s->maps, vma_in_twin, s, &clipped, &nc);
	free(r);
	if (err < 0)
		return err;
	st->pages_restored += rs_ranges_bytes(clipped, nc) / PG;
	if (s->opts.rearm == LETHE_REARM_EVER && !from) {
		/* clipped already holds the old set and this epoch's pages */
		struct rs_range *keep = malloc((nc ? nc : 1) * sizeof(*keep));

		if (keep) {
			memcpy(keep, clipped, nc * sizeof(*keep));
			free(s->ever);
			s->ever = keep;
			s->never = nc;
		}
	}
	err = copy_ranges(s, clipped, nc, st);
	if (!err)
		wp_note(s, clipped, nc);
	free(clipped);
	if (err)
		st->reason = LETHE_REASON_COPY_FAILED;
	return err;
}

/* Close new fds, put offsets and flags back; closed or replaced fds are lost. */
static int restore_fds(struct lethe_sandbox *s, struct inj_ctl *c, struct lethe_rewind_stats *st)
{
	struct rs_fd_plan plan = {};
	struct rs_fdtable now = {};
	int err;

	err = rs_fdtable_read(s->pid, &now);
	if (err < 0)
		return err;
	err = rs_fdtable_diff(&s->fds, &now, &plan);
	if (err < 0)
		goto out;
	err = 0;
	for (size_t i = 0; i < plan.n && !err; i++) {
		const struct rs_fd_op *op = &plan.ops[i];
		long ret;

		switch (op->change) {
		case RS_FD_NEW:
			if (op->now && rs_fd_is_unsupported(op->now)) {
				st->reason = LETHE_REASON_IO_URING;
				err = -ENOTRECOVERABLE;
				break;
			}
			err = inject_checked(c, SYS_close, op->fd, 0, 0, 0, 0, 0, &ret);
			st->fds_closed++;
			break;
		case RS_FD_POS:
			err = inject_checked(c, SYS_lseek, op->fd, op->snap->pos, SEEK_SET, 0, 0, 0, &ret);
			st->fds_restored++;
			break;
		case RS_FD_FLAGS:
			if (op->setfl >= 0)
				err = inject_checked(c, SYS_fcntl, op->fd, F_SETFL, op->setfl, 0, 0, 0, &ret);
			if (!err && op->setfd >= 0)
				err = inject_checked(c, SYS_fcntl, op->fd, F_SETFD, op->setfd, 0, 0, 0, &ret);
			st->fds_restored++;
			break;
		case RS_FD_CLOSED:
		case RS_FD_REPLACED:
			pr_err("pid %d: fd %d (%s) was %s during the request", s->pid, op->fd,
			       op->snap ? op->snap->target : "?", rs_fd_change_str(op->change));
			st->reason = LETHE_REASON_FD_UNRECOVERABLE;
			err = -ENOTRECOVERABLE;
			break;
		}
	}
out:
	rs_fd_plan_free(&plan);
	rs_fdtable_free(&now);
	return err;
}

static int first_diff(const char *a, const char *b)
{
	for (int i = 0; i < (int)PG; i++)
		if (a[i] != b[i])
			return i;
	return -1;
}

/* Make the kernel-owned rseq fields of every thread compare equal. */
static void mask_rseq(const struct lethe_sandbox *s, uint64_t off, size_t len, char *a, const char *b)
{
	for (size_t i = 0; i < s->nthreads; i++) {
		uint64_t r = s->threads[i].rseq;

		if (!r || r < off || r + RSEQ_KERNEL_HI_END > off + len)
			continue;
		memcpy(a + (r - off), b + (r - off), RSEQ_KERNEL_LO_END);
		memcpy(a + (r - off) + RSEQ_KERNEL_HI_START, b + (r - off) + RSEQ_KERNEL_HI_START,
		       RSEQ_KERNEL_HI_END - RSEQ_KERNEL_HI_START);
	}
}

static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = pread(fd, (char *)buf + done, len - done, off + done);

		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		done += r;
	}
	return 0;
}

/*
 * Compare every page of the snapshot's writable private memory between target and
 * twin through /proc/PID/mem (which, unlike process_vm_readv, never unshares a COW
 * page). With fix, differing pages are copied back. Returns the mismatch count.
 */
static long compare_memory(struct lethe_sandbox *s, bool fix, struct lethe_rewind_stats *st)
{
	char path[64];
	int tfd, wfd;
	long mism = 0;
	char *a = s->buf, *b = (char *)s->buf + COPY_BUF / 2;
	const size_t chunk = COPY_BUF / 2;

	snprintf(path, sizeof(path), "/proc/%d/mem", s->pid);
	tfd = open(path, O_RDWR | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/mem", s->twin);
	wfd = open(path, O_RDONLY | O_CLOEXEC);
	if (tfd < 0 || wfd < 0) {
		mism = -errno;
		goto out;
	}
	for (size_t i = 0; i < s->maps.n; i++) {
		const struct rs_vma *v = &s->maps.v[i];

		if (!vma_in_twin(v, s) || rs_vma_is_special(v))
			continue;
		for (uint64_t off = v->start; off < v->end; off += chunk) {
			size_t len = v->end - off < chunk ? v->end - off : chunk;
			int err = pread_all(tfd, a, len, off);

			if (!err)
				err = pread_all(wfd, b, len, off);
			if (err) {
				mism = err;
				goto out;
			}
			mask_rseq(s, off, len, a, b);
			if (!memcmp(a, b, len))
				continue;
			for (size_t p = 0; p < len; p += PG) {
				if (!memcmp(a + p, b + p, PG))
					continue;
				mism++;
				pr_debug("page 0x%llx (%s) of %d differs from the snapshot", (unsigned long long)(off + p),
					 rs_vma_label(v), s->pid);
				pr_debug("  in vma 0x%llx-0x%llx, first diff at byte %d: target %016llx twin %016llx",
					 (unsigned long long)v->start, (unsigned long long)v->end, first_diff(a + p, b + p),
					 *(unsigned long long *)(a + p + (first_diff(a + p, b + p) & ~7)),
					 *(unsigned long long *)(b + p + (first_diff(a + p, b + p) & ~7)));
				if (fix && pwrite(tfd, b + p, PG, off + p) == (ssize_t)PG)
					st->bytes_restored += PG;
			}
		}
	}
out:
	if (tfd >= 0)
		close(tfd);
	if (wfd >= 0)
		close(wfd);
	return mism;
}

/* I2-I4 beyond memory: layout, threads and their registers, fds. */
static long verify_rest(struct lethe_sandbox *s)
{
	struct rs_maps now;
	struct rs_fdtable fds = {};
	struct rs_fd_plan plan = {};
	long bad = 0;

	if (rs_maps_read(s->pid, &now) == 0) {
		if (!rs_layout_equal(&s->maps, &now)) {
			pr_err("verify: layout of %d differs from the snapshot", s->pid);
			bad++;
		}
		rs_maps_free(&now);
	} else {
		bad++;
	}
	if (cwd_moved(s)) {
		pr_err("verify: working directory of %d differs from the snapshot", s->pid);
		bad++;
	}
	{
		pid_t *kids;
		size_t n;

		if (list_children(s->pid, &kids, &n)) {
			bad++;
		} else {
			for (size_t i = 0; i < n; i++) {
				if (kids[i] != s->twin && !pid_in(s->children0, s->nchildren0, kids[i])) {
					pr_err("verify: %d has a child %d it did not have at checkpoint", s->pid, kids[i]);
					bad++;
				}
			}
			free(kids);
		}
	}
	{
		long d = rs_layers_diff_count(&s->layers);

		bad += d < 0 ? 1 : d;
	}
	if (s->proc.n != s->nthreads) {
		pr_err("verify: %d has %zu threads, snapshot %zu", s->pid, s->proc.n, s->nthreads);
		bad++;
	}
	if (rs_fdtable_read(s->pid, &fds) >= 0 && rs_fdtable_diff(&s->fds, &fds, &plan) >= 0) {
		for (size_t i = 0; i < plan.n; i++) {
			/* offsets of pipes and ttys do not exist; anything else is a difference */
			pr_err("verify: fd %d of %d: %s", plan.ops[i].fd, s->pid, rs_fd_change_str(plan.ops[i].change));
			bad++;
		}
	} else {
		bad++;
	}
	rs_fd_plan_free(&plan);
	rs_fdtable_free(&fds);
	return bad;
}

/* I3: read every original thread's state back and compare it with the snapshot. */
static long verify_regs(struct lethe_sandbox *s)
{
	long bad = 0;

	for (size_t i = 0; i < s->nthreads; i++) {
		struct rs_regs now = {};

		if (rs_regs_save(s->threads[i].tid, &now) || !rs_regs_equal(&now, &s->threads[i].regs)) {
			pr_err("verify: registers of thread %d differ from the snapshot", s->threads[i].tid);
			bad++;
		}
		rs_regs_free(&now);
	}
	return bad;
}

static int restore_regs(struct lethe_sandbox *s)
{
	for (size_t i = 0; i < s->nthreads; i++) {
		int err = rs_regs_restore(s->threads[i].tid, &s->threads[i].regs);

		if (err)
			return err;
	}
	return 0;
}

int lethe_rewind(struct lethe_sandbox *s, bool verify, struct lethe_rewind_stats *st)
{
	struct rs_page *extra = NULL;
	struct inj_ctl *c = NULL;
	size_t nextra = 0, ndirty;
	uint64_t t0 = now_us(), t;
	pid_t new_twin = 0;
	bool new_ours = false;
	long mism;
	int err;

	memset(st, 0, sizeof(*st));
	results_free(s);
	s->nwp = 0;
	s->wp_full = false;
	st->verified = -1;
	st->rearm = lethe_rearm_str(s->opts.rearm);
	verify |= s->opts.verify_always;
	if (s->recycle) {
		st->recycle = true;
		st->reason = LETHE_REASON_NONE;
		return -ENOTRECOVERABLE;
	}

	/*
	 * Between requests the target runs untraced, so its signals and stops behave
	 * as without lethe and nothing has to service it; only the twin stays traced.
	 * Stop exactly the checkpoint's threads first: listing /proc/PID/task is only
	 * needed when the tracker saw a thread created (or lost records).
	 */
	t = now_us();
	err = rs_proc_seize_stop_tids(s->pid, s->tids, s->nthreads, PTRACE_O_TRACESYSGOOD, &s->proc);
	st->us_stop = now_us() - t;
	if (err) {
		st->reason = kill(s->pid, 0) ? LETHE_REASON_TARGET_DIED : LETHE_REASON_THREAD_DIED;
		goto fail;
	}

	/* drain while everything is stopped: the kernel writes rseq/TLS on resume */
	t = now_us();
	err = epoch_close(s, &st->epoch_flags);
	st->us_drain = now_us() - t;
	if (err < 0)
		goto fail;
	if (has_new_threads(s) || (st->epoch_flags & LETHE_EPOCH_LOST)) {
		t = now_us();
		err = rs_proc_stop(&s->proc);
		st->us_stop += now_us() - t;
		if (err) {
			st->reason = LETHE_REASON_THREAD_DIED;
			goto fail;
		}
	}
	s->layout_changed = verify || (st->epoch_flags & (LETHE_EPOCH_MM_CHANGE | LETHE_EPOCH_LOST));
	/* with uffd-wp or soft-dirty, GUP writes are in the kernel's written set; without, compare all */
	st->full_compare = (st->epoch_flags & LETHE_EPOCH_LOST) ||
			   (!s->uffd_on && !s->sd_on && (st->epoch_flags & LETHE_EPOCH_GUP_WRITE));

	err = inj_ctl_new_at(s->pid, s->syscall_ip, &c);
	if (err) {
		st->reason = LETHE_REASON_INJECT_FAILED;
		goto fail;
	}

	t = now_us();
	err = end_new_threads(s, st);
	/*
	 * New processes ran on while the target was stopped: what they did since the
	 * drain (files written, processes forked) is drained once they are dead,
	 * and whatever they forked meanwhile goes the same way. Without any, there
	 * is nothing more to drain.
	 */
	for (int round = 0; !err && has_new_processes(s, st->epoch_flags); round++) {
		size_t before = s->trace.ntasks;
		uint64_t more = 0;

		err = remove_new_tasks(s, c, st);
		if (!err) {
			err = epoch_close(s, &more);
			err = err < 0 ? err : 0;
		}
		st->epoch_flags |= more;
		if (err || s->trace.ntasks == before)
			break;
		if (round == 16) {
			pr_err("processes of %d keep forking", s->pid);
			st->reason = LETHE_REASON_TASKS_FAILED;
			err = -ENOTRECOVERABLE;
		}
	}
	if (err && !st->reason)
		st->reason = LETHE_REASON_TASKS_FAILED;
	if (!err && s->cgroup)
		err = sweep_cgroup(s, c, st);
	for (size_t i = 0; i < s->trace.ntasks; i++)
		if (s->trace.tasks[i].pid != s->twin) /* our own clone, seen by the tracker */
			task_result(s, s->trace.tasks[i].pid, s->trace.tasks[i].tgid, s->trace.tasks[i].thread,
				    false);
	st->tasks = s->tres;
	st->ntasks = s->ntres;
	st->pages_tracked = s->trace.ndirty;
	st->us_tasks = now_us() - t;
	if (err)
		goto fail;

	/* layout first, then content (Groundhog's order) */
	t = now_us();
	if (verify || (st->epoch_flags & (LETHE_EPOCH_MM_CHANGE | LETHE_EPOCH_LOST)))
		err = undo_layout(s, c, &extra, &nextra, st);
	st->us_layout = now_us() - t;
	if (err)
		goto fail;

	t = now_us();
	err = restore_pages(s, 0, extra, nextra, st);
	if (!err && s->saved.n) {
		err = rs_saved_restore(s->pid, &s->saved);
		if (!err)
			st->bytes_restored += s->saved.bytes;
		else
			st->reason = LETHE_REASON_COPY_FAILED;
	}
	st->us_copy = now_us() - t;
	if (err)
		goto fail;

	/*
	 * The request's fds and working directory go before its files: while they
	 * hold an overlayfs name, no dentry drop can make the container see the
	 * snapshot's version of it. The fd table is read only when the tracker saw
	 * it change (two /proc walks). The working directory by path may have to
	 * wait for the files (the request removed it): tried again after them.
	 */
	t = now_us();
	if (verify || (st->epoch_flags & (LETHE_EPOCH_FD_CHANGE | LETHE_EPOCH_LOST)))
		err = restore_fds(s, c, st);
	if (!err)
		cwd_put_back(s, c);
	st->us_fds = now_us() - t;
	if (err)
		goto fail;
	t = now_us();
	err = layers_restore(s, st);
	st->us_files = now_us() - t;
	if (!err)
		err = cwd_restore(s, c, st);
	if (err)
		goto fail;

	/*
	 * Our injections let the thread return to user mode between syscalls, where
	 * the kernel may update rseq/TLS after a CPU migration. Those writes fault
	 * like any other: pick them up and put the pages back too.
	 */
	t = now_us();
	ndirty = s->trace.ndirty;
	err = ld_tracker_drain(s->tracker);
	if (err >= 0 && s->trace.ndirty > ndirty)
		err = restore_pages(s, ndirty, NULL, 0, st);
	st->us_copy += now_us() - t;
	if (err < 0)
		goto fail;

	if (verify || st->full_compare) {
		t = now_us();
		/* an untrusted epoch is repaired from the twin, then checked like any other */
		if (st->full_compare) {
			mism = compare_memory(s, true, st);
			if (mism < 0) {
				err = (int)mism;
				st->reason = LETHE_REASON_COPY_FAILED;
				goto fail;
			}
		}
		mism = compare_memory(s, false, st);
		if (mism >= 0) {
			long sv = rs_saved_compare(s->pid, &s->saved);

			mism = sv < 0 ? sv : mism + sv;
		}
		if (mism >= 0)
			mism += verify_rest(s);
		st->verify_mismatches = mism < 0 ? 1 : mism;
		st->verified = mism != 0;
		st->us_verify = now_us() - t;
		if (mism) {
			pr_err("verify: %ld differences from the snapshot in %d", mism < 0 ? 1 : mism, s->pid);
			st->reason = LETHE_REASON_VERIFY_FAILED;
			err = -ENOTRECOVERABLE;
			goto fail;
		}
	}

	/*
	 * Re-arm. A fresh twin write-protects every private page again (any kernel);
	 * with uffd-wp one PAGEMAP_SCAN re-protects just the written pages, and the
	 * twin is re-forked only to give back the memory it duplicates.
	 */
	t = now_us();
	s->dup_pages += st->pages_restored;
	if (s->opts.rearm == LETHE_REARM_EVER) {
		st->rearm = "ever-dirtied";
	} else if (!(s->uffd_on || s->sd_on) || s->dup_pages * RETWIN_DUP_FRACTION > s->snap_pages) {
		err = twin_fork_clean(s, c, &new_twin, &new_ours);
		if (err) {
			st->reason = LETHE_REASON_INJECT_FAILED;
			goto fail;
		}
		twin_kill(s, s->twin, s->twin_is_our_child, c);
		s->twin = new_twin;
		s->twin_is_our_child = new_ours;
		s->dup_pages = 0;
		st->rearm = s->uffd_on ? "uffd-wp+retwin" : s->sd_on ? "softdirty+retwin" : "retwin";
	} else {
		st->rearm = s->sd_on ? "softdirty" : "uffd-wp";
	}
	if (s->sd_on) {
		err = rearm_softdirty_clear(s, st);
		if (err)
			goto fail;
	}
	if (s->uffd_on || s->opts.rearm == LETHE_REARM_EVER) {
		if (s->uffd_on && (st->epoch_flags & LETHE_EPOCH_LOST))
			/* lost layout records: registrations may be gone; renew and protect all */
			err = uffd_register_all(s);
		else
			err = !s->uffd_on	  ? 0
			      : s->layout_changed ? rs_uffd_rearm(&s->uffd, &s->maps)
			      : s->wp_full || st->full_compare || s->nwp > WP_RANGES_MAX ||
					rs_uffd_protect(&s->uffd, s->wp, s->nwp)
				      ? rs_uffd_rearm_span(&s->uffd, &s->maps)
				      : 0;
		if (!err && (!strcmp(st->rearm, "uffd-wp") || !strcmp(st->rearm, "ever-dirtied")))
			err = epoch_restart(s);
		if (err) {
			pr_err("uffd re-arm of %d failed: %s", s->pid, strerror(-err));
			st->reason = LETHE_REASON_INJECT_FAILED;
			goto fail;
		}
	}
	st->us_rearm = now_us() - t;

	t = now_us();
	err = inj_ctl_restore(c);
	inj_ctl_free(c);
	c = NULL;
	if (!err)
		err = restore_regs(s);
	st->us_regs = now_us() - t;
	if (err) {
		pr_err("restoring the registers of %d failed: %s", s->pid, strerror(-err));
		st->reason = LETHE_REASON_INJECT_FAILED;
		goto fail;
	}
	if (st->verified == 0) {
		t = now_us();
		mism = verify_regs(s);
		st->us_verify += now_us() - t;
		if (mism) {
			st->verified = 1;
			st->verify_mismatches += mism;
			st->reason = LETHE_REASON_VERIFY_FAILED;
			err = -ENOTRECOVERABLE;
			goto fail;
		}
	}

	t = now_us();
	err = rs_proc_detach(&s->proc);
	st->us_resume = now_us() - t;
	st->us_total = now_us() - t0;
	free(extra);
	return err;

fail:
	if (c) {
		inj_ctl_restore(c);
		inj_ctl_free(c);
	}
	free(extra);
	/* I6: never continue silently; the target stays stopped for the caller to replace */
	s->recycle = true;
	st->recycle = true;
	if (!st->reason)
		st->reason = LETHE_REASON_INJECT_FAILED;
	st->us_total = now_us() - t0;
	pr_err("rewind of %d failed (%s): sandbox marked for recycling", s->pid, lethe_reason_str(st->reason));
	return -ENOTRECOVERABLE;
}

int lethe_release(struct lethe_sandbox *s)
{
	int err = 0;

	if (!s)
		return 0;
	twin_kill(s, s->twin, s->twin_is_our_child, NULL);
	/* a recycled sandbox was left stopped: let it go */
	if (s->proc.n && kill(s->pid, 0) == 0)
		err = rs_proc_detach(&s->proc);
	sandbox_free(s);
	return err;
}

pid_t lethe_sandbox_pid(const struct lethe_sandbox *s)
{
	return s->pid;
}

pid_t lethe_sandbox_twin(const struct lethe_sandbox *s)
{
	return s->twin;
}

bool lethe_sandbox_needs_recycle(const struct lethe_sandbox *s)
{
	return s->recycle;
}
