/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Records shared by the BPF tracker and userspace: ring-buffer events, the stats
 * indices and epoch flags. Both clang -target bpf and the host compiler include
 * this, so it uses only __u8..__u64 and spells out all padding.
 */
#ifndef LETHE_EVENTS_H
#define LETHE_EVENTS_H

#define LETHE_COMM_LEN 16
#define LETHE_PATH_LEN 256

/* Every ring record starts with this header so a reader can skip unknown kinds. */
enum lethe_ev_kind {
	LETHE_EV_FAULT = 1, /* first write to a page in this epoch */
	LETHE_EV_TASK = 2, /* fork/clone/exec/exit of a sandbox task */
	LETHE_EV_MM = 3, /* mmap/munmap/mremap/brk/mprotect/madvise */
	LETHE_EV_FILE = 4, /* file-mutating syscall */
};

struct lethe_ev_hdr {
	__u16 kind; /* enum lethe_ev_kind */
	__u16 size; /* whole record, header included */
	__u32 epoch;
	__u32 tgid;
	__u32 tid;
	__u64 ts_ns;
};

enum lethe_fault_flags {
	LETHE_FAULT_KERNEL = 1 << 0, /* written by the kernel (e.g. read() into a buffer) */
	LETHE_FAULT_HUGE = 1 << 1, /* huge-page-backed range: size is the huge page */
};

/* What the faulting address belonged to, named the way /proc/PID/maps would. */
enum lethe_vma_kind {
	LETHE_VMA_UNKNOWN = 0, /* the vma could not be looked up (mmap lock busy, stack growth) */
	LETHE_VMA_ANON = 1,
	LETHE_VMA_HEAP = 2,
	LETHE_VMA_STACK = 3,
	LETHE_VMA_FILE = 4,
};

#define LETHE_VMA_NAME_LEN 48

struct lethe_fault_ev {
	struct lethe_ev_hdr hdr;
	__u64 addr; /* start of the dirtied page (aligned to size) */
	__u64 ip; /* first writer's user ip (0 for kernel writes) */
	__u32 size; /* 4096 or the huge page size */
	__u32 flags; /* enum lethe_fault_flags */
	/* the vma at fault time, so a report needs no racy /proc read */
	__u64 vma_start, vma_end;
	__u64 vm_flags;
	__u64 file_dev, file_ino; /* LETHE_VMA_FILE only */
	__u32 vma_kind; /* enum lethe_vma_kind */
	__u32 pad;
	char file_name[LETHE_VMA_NAME_LEN]; /* basename of the backing file */
};

enum lethe_task_op {
	LETHE_TASK_FORK = 1, /* new process */
	LETHE_TASK_CLONE_THREAD = 2, /* new thread in an existing process */
	LETHE_TASK_EXEC = 3,
	LETHE_TASK_EXIT = 4, /* one thread exited */
	LETHE_TASK_EXIT_GROUP = 5, /* the last thread of a process exited */
};

struct lethe_task_ev {
	struct lethe_ev_hdr hdr;
	__u32 op; /* enum lethe_task_op */
	__u32 ppid; /* parent tgid for FORK, creating tid for CLONE_THREAD */
	__u32 child_pid; /* new task's pid (tid) for FORK/CLONE_THREAD */
	__u32 child_tgid;
	char comm[LETHE_COMM_LEN];
	char filename[LETHE_PATH_LEN]; /* EXEC only */
};

enum lethe_mm_op {
	LETHE_MM_MMAP = 1,
	LETHE_MM_MUNMAP = 2,
	LETHE_MM_MREMAP = 3,
	LETHE_MM_BRK = 4,
	LETHE_MM_MPROTECT = 5,
	LETHE_MM_MADVISE = 6,
};

struct lethe_mm_ev {
	struct lethe_ev_hdr hdr;
	__u32 op; /* enum lethe_mm_op */
	__u32 pad;
	__u64 args[6]; /* the syscall's raw arguments */
	__s64 ret; /* its result (an address or -errno) */
};

enum lethe_file_op {
	LETHE_FILE_OPEN_WRITE = 1, /* open for writing, no create/truncate */
	LETHE_FILE_CREATE = 2, /* O_CREAT or creat() */
	LETHE_FILE_TRUNCATE = 3, /* O_TRUNC, truncate, ftruncate */
	LETHE_FILE_WRITE = 4, /* write family through an fd (once per file per epoch) */
	LETHE_FILE_UNLINK = 5,
	LETHE_FILE_RENAME = 6, /* path = old, path2 = new */
	LETHE_FILE_MKDIR = 7,
	LETHE_FILE_RMDIR = 8,
	LETHE_FILE_LINK = 9, /* path = existing, path2 = new */
	LETHE_FILE_SYMLINK = 10, /* path = target text, path2 = new link */
	LETHE_FILE_MKNOD = 11,
	LETHE_FILE_CHMOD = 12,
	LETHE_FILE_CHOWN = 13,
	LETHE_FILE_UTIMES = 14,
	LETHE_FILE_SETXATTR = 15,
	LETHE_FILE_REMOVEXATTR = 16,
	LETHE_FILE_FALLOCATE = 17,
	LETHE_FILE_MMAP_SHARED = 18, /* writable MAP_SHARED map of a file */
	LETHE_FILE_CHDIR = 19, /* not a mutation: lets userspace resolve relative paths */
	LETHE_FILE_OP_MAX,
};

/* Which of path/path2 are resolved from a dirfd (raw string relative to it). */
#define LETHE_AT_FDCWD_VAL (-100)

struct lethe_file_ev {
	struct lethe_ev_hdr hdr;
	__u32 op; /* enum lethe_file_op */
	__s32 ret; /* syscall result (fd, 0 or -errno) */
	__s32 dirfd; /* base of path when relative; -1 when fd-based */
	__s32 dirfd2; /* base of path2 when relative */
	__s32 fd; /* fd-based ops: the fd; else -1 */
	__u32 syscall_nr;
	__u64 dev; /* fd-based ops and opens: the inode's device ... */
	__u64 ino; /* ... and number (0 when unknown) */
	__u32 mode; /* S_IFMT bits of the inode when known */
	__u32 flags; /* the call's flags or mode argument (open flags, AT_*, ...) */
	char path[LETHE_PATH_LEN]; /* raw user string ('' for fd-based ops) */
	char path2[LETHE_PATH_LEN];
};

/* Indices of the stats array map. */
enum lethe_stat {
	LETHE_STAT_FAULTS, /* write faults recorded */
	LETHE_STAT_RB_DROPS, /* ring-buffer reserve failures: events lost */
	LETHE_STAT_MEMBER_OVERFLOW, /* members map full: a task went untracked */
	LETHE_STAT_TASK_EVENTS,
	LETHE_STAT_MM_EVENTS,
	LETHE_STAT_FILE_EVENTS,
	LETHE_STAT_GUP_EVENTS, /* syscalls that write memory without faults */
	LETHE_STAT_PATH_TRUNC, /* a path longer than LETHE_PATH_LEN was cut */
	LETHE_STAT_VMA_UNKNOWN, /* fault recorded without its vma (lock busy, no vma) */
	LETHE_STAT_MAX,
};

/* Per-epoch flags, OR-ed by BPF and exchanged to 0 by userspace at epoch close. */
enum lethe_epoch_flag {
	LETHE_EPOCH_GUP_WRITE = 1 << 0, /* O_DIRECT read, io_uring, vmsplice, ... */
	LETHE_EPOCH_LOST = 1 << 1, /* some event was dropped */
	LETHE_EPOCH_MM_CHANGE = 1 << 2, /* a layout-changing syscall ran */
	LETHE_EPOCH_EXEC = 1 << 3,
	LETHE_EPOCH_FORK = 1 << 4,
	LETHE_EPOCH_FD_CHANGE = 1 << 5, /* an fd was created/closed/changed or a file offset moved */
};

/* Value of the members map (key: tgid). */
struct lethe_member {
	__u32 root_tgid; /* the sandbox root this task descends from */
	__u32 parent_tgid;
};

#endif /* LETHE_EVENTS_H */
