// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The lethe tracker: records what a sandbox changes between two rewinds (pages
 * written, layout changes, tasks, file mutations) so a rewind is O(dirty).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <asm/unistd_64.h>
#include "common.bpf.h"

/* Syscalls newer than the build host's uapi headers (x86_64 numbers). */
#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452 /* Linux 6.6 */
#endif
#ifndef __NR_setxattrat
#define __NR_setxattrat 463 /* Linux 6.13 */
#endif
#ifndef __NR_removexattrat
#define __NR_removexattrat 466 /* Linux 6.13 */
#endif

#define X86_PF_WRITE 0x2
#define PAGE_SIZE_4K 4096UL
#define VM_HUGETLB 0x00400000UL
#define VM_HUGEPAGE 0x20000000UL
#define VM_NOHUGEPAGE 0x40000000UL
#define O_WRONLY_ 01
#define O_RDWR_ 02
#define O_CREAT_ 0100
#define O_TRUNC_ 01000
#define O_DIRECT_ 040000
#define MAP_SHARED_ 0x01
#define PROT_WRITE_ 0x2
#define AT_REMOVEDIR_ 0x200
#define PTRACE_POKETEXT_ 4
#define PTRACE_POKEDATA_ 5

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Files already reported as written in the current epoch (key: struct file *). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LETHE_WRITTEN_MAX);
	__type(key, __u64);
	__type(value, __u32);
} written SEC(".maps");

/* ---- memory: write faults ---------------------------------------------- */

struct vma_probe {
	__u64 addr;
	__u32 size;
	__u32 kind;
	__u64 start, end, flags, dev, ino;
	struct file *file;
};

static long vma_probe_cb(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct vma_probe *p = data;
	unsigned long flags = vma->vm_flags;
	struct mm_struct *mm = vma->vm_mm;
	struct file *file = vma->vm_file;
	__u64 huge = cfg_huge_size, start;
	bool thp;

	p->start = vma->vm_start;
	p->end = vma->vm_end;
	p->flags = flags;
	p->file = file;
	/* the same tests /proc/PID/maps uses to print [heap] and [stack] */
	if (file) {
		p->kind = LETHE_VMA_FILE;
		p->dev = BPF_CORE_READ(file, f_inode, i_sb, s_dev);
		p->ino = BPF_CORE_READ(file, f_inode, i_ino);
	} else if (mm && vma->vm_start <= mm->brk && vma->vm_end >= mm->start_brk) {
		p->kind = LETHE_VMA_HEAP;
	} else if (mm && vma->vm_start <= mm->start_stack && vma->vm_end >= mm->start_stack) {
		p->kind = LETHE_VMA_STACK;
	} else {
		p->kind = LETHE_VMA_ANON;
	}

	if (flags & VM_HUGETLB) {
		/* hugetlbfs reports its page size as the block size */
		huge = BPF_CORE_READ(vma, vm_file, f_inode, i_sb, s_blocksize);
		if (huge >= PAGE_SIZE_4K)
			p->size = huge;
		return 0;
	}
	thp = (flags & VM_HUGEPAGE) || (cfg_thp_always && !(flags & VM_NOHUGEPAGE) && !vma->vm_file);
	if (!thp)
		return 0;
	start = p->addr & ~(huge - 1);
	/* a THP is only possible where the aligned huge page fits in the vma */
	if (start >= vma->vm_start && start + huge <= vma->vm_end)
		p->size = huge;
	return 0;
}

static __always_inline int record_fault(__u64 addr, __u64 ip, __u64 error_code, bool kernel)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct lethe_fault_ev *e;
	struct vma_probe p = { .addr = addr, .size = PAGE_SIZE_4K };
	const unsigned char *name;

	if (!(error_code & X86_PF_WRITE))
		return 0;
	/* kernel faults on kernel addresses are none of our business */
	if (kernel && (long)addr < 0)
		return 0;
	if (!tgid_is_member(tgid))
		return 0;

	if (bpf_find_vma(bpf_get_current_task_btf(), addr, vma_probe_cb, &p, 0))
		stat_inc(LETHE_STAT_VMA_UNKNOWN);

	e = ev_reserve(sizeof(*e), LETHE_EV_FAULT, tgid, (__u32)id);
	if (!e)
		return 0;
	e->size = p.size;
	e->addr = addr & ~((__u64)p.size - 1);
	e->ip = kernel ? 0 : ip;
	e->flags = (kernel ? LETHE_FAULT_KERNEL : 0) | (p.size > PAGE_SIZE_4K ? LETHE_FAULT_HUGE : 0);
	e->vma_start = p.start;
	e->vma_end = p.end;
	e->vm_flags = p.flags;
	e->file_dev = p.dev;
	e->file_ino = p.ino;
	e->vma_kind = p.kind;
	e->pad = 0;
	e->file_name[0] = 0;
	if (p.file) {
		struct file *file = p.file;

		name = BPF_CORE_READ(file, f_path.dentry, d_name.name);
		bpf_probe_read_kernel_str(e->file_name, sizeof(e->file_name), name);
	}
	bpf_ringbuf_submit(e, 0);
	stat_inc(LETHE_STAT_FAULTS);
	return 0;
}

/* tp_btf and raw_tp flavours: the loader keeps whichever this kernel accepts. */
SEC("tp_btf/page_fault_user")
int BPF_PROG(on_fault_user_btf, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	return record_fault(address, regs->ip, error_code, false);
}

SEC("tp_btf/page_fault_kernel")
int BPF_PROG(on_fault_kernel_btf, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	return record_fault(address, 0, error_code, true);
}

SEC("raw_tp/page_fault_user")
int BPF_PROG(on_fault_user_raw, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	return record_fault(address, BPF_CORE_READ(regs, ip), error_code, false);
}

SEC("raw_tp/page_fault_kernel")
int BPF_PROG(on_fault_kernel_raw, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	return record_fault(address, 0, error_code, true);
}

/* ---- tasks -------------------------------------------------------------- */

static __always_inline int record_fork(struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	struct lethe_member *pm, m = {};
	struct lethe_task_ev *e;
	bool thread = ptgid == ctgid;

	pm = bpf_map_lookup_elem(&members, &ptgid);
	if (!pm && !tgid_is_member(ptgid))
		return 0;
	if (!thread) {
		m.root_tgid = pm ? pm->root_tgid : ptgid;
		m.parent_tgid = ptgid;
		if (bpf_map_update_elem(&members, &ctgid, &m, BPF_NOEXIST) && !bpf_map_lookup_elem(&members, &ctgid)) {
			/* the child runs untracked: userspace must verify */
			stat_inc(LETHE_STAT_MEMBER_OVERFLOW);
			epoch_flag(LETHE_EPOCH_LOST);
		}
		epoch_flag(LETHE_EPOCH_FORK);
	}
	e = ev_reserve(sizeof(*e), LETHE_EV_TASK, ptgid, BPF_CORE_READ(parent, pid));
	if (!e)
		return 0;
	e->op = thread ? LETHE_TASK_CLONE_THREAD : LETHE_TASK_FORK;
	e->ppid = thread ? BPF_CORE_READ(parent, pid) : ptgid;
	e->child_pid = BPF_CORE_READ(child, pid);
	e->child_tgid = ctgid;
	BPF_CORE_READ_STR_INTO(&e->comm, child, comm);
	e->filename[0] = 0;
	bpf_ringbuf_submit(e, 0);
	stat_inc(LETHE_STAT_TASK_EVENTS);
	return 0;
}

static __always_inline int record_exit(struct task_struct *p, bool group_dead)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	struct lethe_task_ev *e;

	if (!bpf_map_lookup_elem(&members, &tgid) && !tgid_is_member(tgid))
		return 0;
	e = ev_reserve(sizeof(*e), LETHE_EV_TASK, tgid, BPF_CORE_READ(p, pid));
	if (e) {
		e->op = group_dead ? LETHE_TASK_EXIT_GROUP : LETHE_TASK_EXIT;
		e->ppid = 0;
		e->child_pid = BPF_CORE_READ(p, pid);
		e->child_tgid = tgid;
		BPF_CORE_READ_STR_INTO(&e->comm, p, comm);
		e->filename[0] = 0;
		bpf_ringbuf_submit(e, 0);
		stat_inc(LETHE_STAT_TASK_EVENTS);
	}
	/* a dead tgid leaves the sandbox so a recycled pid is not mistaken for it */
	if (group_dead)
		bpf_map_delete_elem(&members, &tgid);
	return 0;
}

static __always_inline int record_exec(struct task_struct *p, struct linux_binprm *bprm)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	struct lethe_task_ev *e;
	const char *fname;

	if (!tgid_is_member(tgid))
		return 0;
	epoch_flag(LETHE_EPOCH_EXEC | LETHE_EPOCH_MM_CHANGE);
	e = ev_reserve(sizeof(*e), LETHE_EV_TASK, tgid, BPF_CORE_READ(p, pid));
	if (!e)
		return 0;
	e->op = LETHE_TASK_EXEC;
	e->ppid = 0;
	e->child_pid = BPF_CORE_READ(p, pid);
	e->child_tgid = tgid;
	BPF_CORE_READ_STR_INTO(&e->comm, p, comm);
	fname = BPF_CORE_READ(bprm, filename);
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), fname);
	bpf_ringbuf_submit(e, 0);
	stat_inc(LETHE_STAT_TASK_EVENTS);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork_btf, struct task_struct *parent, struct task_struct *child)
{
	return record_fork(parent, child);
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(on_fork_raw, struct task_struct *parent, struct task_struct *child)
{
	return record_fork(parent, child);
}

/*
 * Whether the whole group is dead is read from signal->live, which do_exit()
 * decrements before this tracepoint on every kernel we support; the explicit
 * group_dead argument only exists since Linux 6.16.
 */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit_btf, struct task_struct *p)
{
	return record_exit(p, p->signal->live.counter == 0);
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(on_exit_raw, struct task_struct *p)
{
	return record_exit(p, BPF_CORE_READ(p, signal, live.counter) == 0);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec_btf, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	return record_exec(p, bprm);
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(on_exec_raw, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	return record_exec(p, bprm);
}

/* ---- syscalls: layout, files, GUP writers ------------------------------- */

struct sc {
	__u64 nr;
	__u64 a[6];
	long ret;
	__u32 tgid, tid;
};

static __always_inline void record_mm(struct sc *s, __u32 op)
{
	struct lethe_mm_ev *e;
	int i;

	epoch_flag(LETHE_EPOCH_MM_CHANGE);
	e = ev_reserve(sizeof(*e), LETHE_EV_MM, s->tgid, s->tid);
	if (!e)
		return;
	e->op = op;
	e->pad = 0;
	for (i = 0; i < 6; i++)
		e->args[i] = s->a[i];
	e->ret = s->ret;
	bpf_ringbuf_submit(e, 0);
	stat_inc(LETHE_STAT_MM_EVENTS);
}

static __always_inline void read_path(char *dst, __u64 uptr)
{
	long n;

	dst[0] = 0;
	if (!uptr)
		return;
	n = bpf_probe_read_user_str(dst, LETHE_PATH_LEN, (const void *)uptr);
	if (n == LETHE_PATH_LEN)
		stat_inc(LETHE_STAT_PATH_TRUNC);
	else if (n < 0)
		dst[0] = 0;
}

static __always_inline void file_ident(struct lethe_file_ev *e, struct file *f)
{
	struct inode *ino;

	e->dev = 0;
	e->ino = 0;
	e->mode = 0;
	if (!f)
		return;
	ino = BPF_CORE_READ(f, f_inode);
	e->dev = BPF_CORE_READ(ino, i_sb, s_dev);
	e->ino = BPF_CORE_READ(ino, i_ino);
	e->mode = BPF_CORE_READ(ino, i_mode) & S_IFMT;
}

/*
 * Emit one file event. p1/p2 are user pointers to paths (0 = none), d1/d2 their
 * dirfds, fd an fd the op acted on (-1 = none) and ident_fd the fd whose inode
 * identifies the file (the opened fd for opens).
 */
static __always_inline void record_file(struct sc *s, __u32 op, __u32 flags, int d1, __u64 p1, int d2, __u64 p2,
					int fd, int ident_fd)
{
	struct lethe_file_ev *e;

	e = ev_reserve(sizeof(*e), LETHE_EV_FILE, s->tgid, s->tid);
	if (!e)
		return;
	e->op = op;
	e->ret = s->ret;
	e->dirfd = d1;
	e->dirfd2 = d2;
	e->fd = fd;
	e->syscall_nr = s->nr;
	e->flags = flags;
	file_ident(e, ident_fd >= 0 ? fd_file(ident_fd) : NULL);
	read_path(e->path, p1);
	read_path(e->path2, p2);
	bpf_ringbuf_submit(e, 0);
	stat_inc(LETHE_STAT_FILE_EVENTS);
}

/* A successful write-family call through fd: reported once per file per epoch. */
static __always_inline void record_fd_write(struct sc *s, int fd, __u32 op)
{
	struct file *f = fd_file(fd);
	__u64 key = (__u64)f;
	__u32 ep = epoch, *seen;
	umode_t mode;

	if (!f)
		return;
	mode = BPF_CORE_READ(f, f_inode, i_mode);
	/* pipes, sockets and ttys hold no persistent state in the file system */
	if ((mode & S_IFMT) != S_IFREG)
		return;
	epoch_flag(LETHE_EPOCH_FD_CHANGE);
	if (op == LETHE_FILE_WRITE) {
		seen = bpf_map_lookup_elem(&written, &key);
		if (seen && *seen == ep)
			return;
		bpf_map_update_elem(&written, &key, &ep, BPF_ANY);
	}
	record_file(s, op, 0, -1, 0, -1, 0, fd, fd);
}

static __always_inline void flag_gup(void)
{
	stat_inc(LETHE_STAT_GUP_EVENTS);
	epoch_flag(LETHE_EPOCH_GUP_WRITE);
}

static __always_inline void check_read(int fd)
{
	struct file *f = fd_file(fd);
	umode_t mode;

	if (!f)
		return;
	if (BPF_CORE_READ(f, f_flags) & O_DIRECT_)
		flag_gup();
	/* a regular file's offset moved: the fd table differs from the snapshot */
	mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT) == S_IFREG || (mode & S_IFMT) == S_IFDIR)
		epoch_flag(LETHE_EPOCH_FD_CHANGE);
}

static __always_inline void record_open(struct sc *s, int dirfd, __u64 path, __u64 flags)
{
	__u32 op;

	if (!(flags & (O_WRONLY_ | O_RDWR_ | O_CREAT_ | O_TRUNC_)))
		return;
	op = (flags & O_CREAT_) ? LETHE_FILE_CREATE : (flags & O_TRUNC_) ? LETHE_FILE_TRUNCATE : LETHE_FILE_OPEN_WRITE;
	record_file(s, op, flags, dirfd, path, -1, 0, -1, s->ret);
}

/* Writes into a sandbox process by someone else (not our own restorer). */
static __always_inline void check_foreign_writer(struct sc *s)
{
	__u32 pid;

	if (s->tgid == cfg_self_tgid || s->ret < 0)
		return;
	if (s->nr == __NR_process_vm_writev)
		pid = s->a[0];
	else if (s->nr == __NR_ptrace && (s->a[0] == PTRACE_POKETEXT_ || s->a[0] == PTRACE_POKEDATA_))
		pid = s->a[1];
	else
		return;
	if (bpf_map_lookup_elem(&members, &pid))
		flag_gup();
}

static __always_inline int handle_sys_exit(struct sc *s)
{
	int AT = LETHE_AT_FDCWD_VAL;
	__u64 *a = s->a;

	if (s->nr == __NR_process_vm_writev || s->nr == __NR_ptrace)
		check_foreign_writer(s);
	if (!tgid_is_member(s->tgid))
		return 0;

	switch (s->nr) {
	/* layout */
	case __NR_mmap:
		if (s->ret >= 0 || s->ret < -4095)
			record_mm(s, LETHE_MM_MMAP);
		/* MAP_SHARED is bit 0: set in MAP_SHARED and MAP_SHARED_VALIDATE, clear in MAP_PRIVATE */
		if ((a[3] & MAP_SHARED_) && (a[2] & PROT_WRITE_) && (long)a[4] >= 0 &&
		    (s->ret >= 0 || s->ret < -4095))
			record_fd_write(s, a[4], LETHE_FILE_MMAP_SHARED);
		return 0;
	case __NR_munmap:
		if (s->ret == 0)
			record_mm(s, LETHE_MM_MUNMAP);
		return 0;
	case __NR_mremap:
		record_mm(s, LETHE_MM_MREMAP);
		return 0;
	case __NR_brk:
		record_mm(s, LETHE_MM_BRK);
		return 0;
	case __NR_mprotect:
	case __NR_pkey_mprotect:
		if (s->ret == 0)
			record_mm(s, LETHE_MM_MPROTECT);
		return 0;
	case __NR_madvise:
		if (s->ret == 0)
			record_mm(s, LETHE_MM_MADVISE);
		return 0;
	case __NR_shmat:
	case __NR_shmdt:
		epoch_flag(LETHE_EPOCH_MM_CHANGE);
		return 0;

	/* memory written without a fault */
	case __NR_read:
	case __NR_pread64:
	case __NR_readv:
	case __NR_preadv:
	case __NR_preadv2:
		if (s->ret > 0)
			check_read(a[0]);
		return 0;
	/* calls that create, close or change fds, or move an offset */
	case __NR_open:
	case __NR_openat:
	case __NR_openat2:
	case __NR_creat:
	case __NR_close:
	case __NR_close_range:
	case __NR_dup:
	case __NR_dup2:
	case __NR_dup3:
	case __NR_fcntl:
	case __NR_pipe:
	case __NR_pipe2:
	case __NR_socket:
	case __NR_socketpair:
	case __NR_accept:
	case __NR_accept4:
	case __NR_eventfd:
	case __NR_eventfd2:
	case __NR_epoll_create:
	case __NR_epoll_create1:
	case __NR_signalfd:
	case __NR_signalfd4:
	case __NR_timerfd_create:
	case __NR_memfd_create:
	case __NR_inotify_init:
	case __NR_inotify_init1:
	case __NR_fanotify_init:
	case __NR_userfaultfd:
	case __NR_pidfd_open:
	case __NR_pidfd_getfd:
	case __NR_perf_event_open:
	case __NR_bpf:
	case __NR_lseek:
	case __NR_getdents64:
	case __NR_getdents:
		epoch_flag(LETHE_EPOCH_FD_CHANGE);
		break;
	case __NR_io_uring_setup:
		epoch_flag(LETHE_EPOCH_FD_CHANGE);
		flag_gup();
		return 0;
	case __NR_io_uring_enter:
	case __NR_io_uring_register:
	case __NR_vmsplice:
	case __NR_process_vm_writev:
		flag_gup();
		return 0;
	case __NR_ptrace:
		if (a[0] == PTRACE_POKETEXT_ || a[0] == PTRACE_POKEDATA_)
			flag_gup();
		return 0;
	}

	if (s->ret < 0)
		return 0; /* a failed call changed no file */

	switch (s->nr) {
	case __NR_chdir:
		record_file(s, LETHE_FILE_CHDIR, 0, AT, a[0], -1, 0, -1, -1);
		break;
	case __NR_fchdir:
		record_file(s, LETHE_FILE_CHDIR, 0, -1, 0, -1, 0, a[0], a[0]);
		break;
	case __NR_open:
		record_open(s, AT, a[0], a[1]);
		break;
	case __NR_openat:
		record_open(s, a[0], a[1], a[2]);
		break;
	case __NR_openat2: {
		__u64 flags = 0;

		bpf_probe_read_user(&flags, sizeof(flags), (void *)a[2]); /* open_how.flags */
		record_open(s, a[0], a[1], flags);
		break;
	}
	case __NR_creat:
		record_file(s, LETHE_FILE_CREATE, O_CREAT_ | O_WRONLY_ | O_TRUNC_, AT, a[0], -1, 0, -1, s->ret);
		break;
	case __NR_write:
	case __NR_pwrite64:
	case __NR_writev:
	case __NR_pwritev:
	case __NR_pwritev2:
		if (s->ret > 0)
			record_fd_write(s, a[0], LETHE_FILE_WRITE);
		break;
	case __NR_sendfile:
		if (s->ret > 0)
			record_fd_write(s, a[0], LETHE_FILE_WRITE);
		break;
	case __NR_copy_file_range:
	case __NR_splice:
		if (s->ret > 0)
			record_fd_write(s, a[2], LETHE_FILE_WRITE);
		break;
	case __NR_ftruncate:
		record_fd_write(s, a[0], LETHE_FILE_TRUNCATE);
		break;
	case __NR_fallocate:
		record_fd_write(s, a[0], LETHE_FILE_FALLOCATE);
		break;
	case __NR_fchmod:
		record_file(s, LETHE_FILE_CHMOD, a[1], -1, 0, -1, 0, a[0], a[0]);
		break;
	case __NR_fchown:
		record_file(s, LETHE_FILE_CHOWN, 0, -1, 0, -1, 0, a[0], a[0]);
		break;
	case __NR_fsetxattr:
		record_file(s, LETHE_FILE_SETXATTR, 0, -1, 0, -1, a[1], a[0], a[0]);
		break;
	case __NR_fremovexattr:
		record_file(s, LETHE_FILE_REMOVEXATTR, 0, -1, 0, -1, a[1], a[0], a[0]);
		break;
	case __NR_truncate:
		record_file(s, LETHE_FILE_TRUNCATE, 0, AT, a[0], -1, 0, -1, -1);
		break;
	case __NR_unlink:
		record_file(s, LETHE_FILE_UNLINK, 0, AT, a[0], -1, 0, -1, -1);
		break;
	case __NR_unlinkat:
		record_file(s, (a[2] & AT_REMOVEDIR_) ? LETHE_FILE_RMDIR : LETHE_FILE_UNLINK, a[2], a[0], a[1], -1, 0,
			    -1, -1);
		break;
	case __NR_rmdir:
		record_file(s, LETHE_FILE_RMDIR, 0, AT, a[0], -1, 0, -1, -1);
		break;
	case __NR_rename:
		record_file(s, LETHE_FILE_RENAME, 0, AT, a[0], AT, a[1], -1, -1);
		break;
	case __NR_renameat:
		record_file(s, LETHE_FILE_RENAME, 0, a[0], a[1], a[2], a[3], -1, -1);
		break;
	case __NR_renameat2:
		record_file(s, LETHE_FILE_RENAME, a[4], a[0], a[1], a[2], a[3], -1, -1);
		break;
	case __NR_mkdir:
		record_file(s, LETHE_FILE_MKDIR, a[1], AT, a[0], -1, 0, -1, -1);
		break;
	case __NR_mkdirat:
		record_file(s, LETHE_FILE_MKDIR, a[2], a[0], a[1], -1, 0, -1, -1);
		break;
	case __NR_link:
		record_file(s, LETHE_FILE_LINK, 0, AT, a[0], AT, a[1], -1, -1);
		break;
	case __NR_linkat:
		record_file(s, LETHE_FILE_LINK, a[4], a[0], a[1], a[2], a[3], -1, -1);
		break;
	case __NR_symlink:
		record_file(s, LETHE_FILE_SYMLINK, 0, -1, a[0], AT, a[1], -1, -1);
		break;
	case __NR_symlinkat:
		record_file(s, LETHE_FILE_SYMLINK, 0, -1, a[0], a[1], a[2], -1, -1);
		break;
	case __NR_mknod:
		record_file(s, LETHE_FILE_MKNOD, a[1], AT, a[0], -1, 0, -1, -1);
		break;
	case __NR_mknodat:
		record_file(s, LETHE_FILE_MKNOD, a[2], a[0], a[1], -1, 0, -1, -1);
		break;
	case __NR_chmod:
		record_file(s, LETHE_FILE_CHMOD, a[1], AT, a[0], -1, 0, -1, -1);
		break;
	case __NR_fchmodat:
	case __NR_fchmodat2:
		record_file(s, LETHE_FILE_CHMOD, a[2], a[0], a[1], -1, 0, -1, -1);
		break;
	case __NR_chown:
	case __NR_lchown:
		record_file(s, LETHE_FILE_CHOWN, 0, AT, a[0], -1, 0, -1, -1);
		break;
	case __NR_fchownat:
		record_file(s, LETHE_FILE_CHOWN, a[4], a[0], a[1], -1, 0, -1, -1);
		break;
	case __NR_utime:
	case __NR_utimes:
		record_file(s, LETHE_FILE_UTIMES, 0, AT, a[0], -1, 0, -1, -1);
		break;
	case __NR_futimesat:
		record_file(s, LETHE_FILE_UTIMES, 0, a[0], a[1], -1, 0, -1, -1);
		break;
	case __NR_utimensat:
		/* a NULL path means "the file dirfd refers to" */
		if (a[1])
			record_file(s, LETHE_FILE_UTIMES, a[3], a[0], a[1], -1, 0, -1, -1);
		else
			record_file(s, LETHE_FILE_UTIMES, a[3], -1, 0, -1, 0, a[0], a[0]);
		break;
	case __NR_setxattr:
	case __NR_lsetxattr:
		record_file(s, LETHE_FILE_SETXATTR, 0, AT, a[0], -1, a[1], -1, -1);
		break;
	case __NR_removexattr:
	case __NR_lremovexattr:
		record_file(s, LETHE_FILE_REMOVEXATTR, 0, AT, a[0], -1, a[1], -1, -1);
		break;
	case __NR_setxattrat:
		record_file(s, LETHE_FILE_SETXATTR, a[2], a[0], a[1], -1, a[3], -1, -1);
		break;
	case __NR_removexattrat:
		record_file(s, LETHE_FILE_REMOVEXATTR, a[2], a[0], a[1], -1, a[3], -1, -1);
		break;
	}
	return 0;
}

/*
 * Everything is handled at syscall exit: the result is known, the argument
 * registers are still the caller's, and an opened fd can be resolved to its inode.
 */
SEC("raw_tp/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sc s;

	s.tgid = id >> 32;
	s.nr = BPF_CORE_READ(regs, orig_ax);
	/* this runs for every syscall on the host: leave early and cheaply */
	if (s.nr != __NR_process_vm_writev && s.nr != __NR_ptrace && !tgid_is_member(s.tgid))
		return 0;
	s.tid = (__u32)id;
	s.ret = ret;
	s.a[0] = BPF_CORE_READ(regs, di);
	s.a[1] = BPF_CORE_READ(regs, si);
	s.a[2] = BPF_CORE_READ(regs, dx);
	s.a[3] = BPF_CORE_READ(regs, r10);
	s.a[4] = BPF_CORE_READ(regs, r8);
	s.a[5] = BPF_CORE_READ(regs, r9);
	return handle_sys_exit(&s);
}
