/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * fd table as data: read it from /proc/PID/fd + fdinfo, and diff a checkpoint table against the
 * current one into close/reopen/lseek/fcntl steps (invariant I4), flagging what cannot be undone.
 */
#ifndef LETHE_RESTORE_FDS_H
#define LETHE_RESTORE_FDS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * fdinfo shows the kernel's f_flags, where open() on 64-bit always sets O_LARGEFILE (0100000 on
 * x86_64 and arm64). glibc defines O_LARGEFILE as 0 there, so name the kernel bit here.
 */
#define RS_FD_O_LARGEFILE 0100000

enum rs_fd_kind {
	RS_FD_FILE, /* regular file */
	RS_FD_DIR,
	RS_FD_PIPE,   /* pipe:[ino], also FIFOs opened by path */
	RS_FD_SOCKET, /* socket:[ino] */
	RS_FD_ANON,   /* anon_inode:*: eventfd, epoll, signalfd, timerfd, io_uring, userfaultfd, ... */
	RS_FD_MEMFD,  /* /memfd:NAME (deleted) */
	RS_FD_DEV,    /* character or block device */
	RS_FD_OTHER,
};

struct rs_fd {
	int fd;
	enum rs_fd_kind kind;
	char target[PATH_MAX]; /* readlink of /proc/PID/fd/N, e.g. "/etc/passwd", "pipe:[14700]" */
	uint64_t pos;	       /* fdinfo "pos:" */
	int flags;	       /* fdinfo "flags:": O_ACCMODE, O_APPEND, O_NONBLOCK, ..., O_CLOEXEC for FD_CLOEXEC */
	unsigned int mnt_id;   /* fdinfo "mnt_id:" */
	uint64_t dev, ino;     /* stat of /proc/PID/fd/N: the object behind the fd */
	unsigned int mode;     /* st_mode of the same */
};

/* Sorted by fd number. */
struct rs_fdtable {
	struct rs_fd *v;
	size_t n, cap;
};

/*
 * Parse the text of /proc/PID/fdinfo/N. Any out pointer may be NULL. Lines other than pos,
 * flags and mnt_id (eventfd-count, tfd, io_uring state, ...) are skipped. Returns 0, or
 * -EINVAL when pos or flags is missing or malformed.
 */
int rs_fdtable_parse_fdinfo(const char *text, uint64_t *pos, int *flags, unsigned int *mnt_id);

/* The kind of an fd from its readlink target and st_mode (mode 0: unknown). */
enum rs_fd_kind rs_fd_kind_of(const char *target, unsigned int mode);

/*
 * Read the fd table of pid. An fd closed while the table is being read is skipped (stop the
 * process first for a consistent table). Returns the number of fds, -ESRCH when the process is
 * gone, -EACCES/-EPERM without ptrace access, -ENOMEM. *out is sorted by fd and owns memory
 * (rs_fdtable_free()). Cost: one readlink, one stat and one fdinfo read per fd.
 */
int rs_fdtable_read(pid_t pid, struct rs_fdtable *out);

void rs_fdtable_free(struct rs_fdtable *t);

/* The entry for fd number fd, or NULL. O(log n). */
const struct rs_fd *rs_fdtable_find(const struct rs_fdtable *t, int fd);

/* Kinds lethe cannot rewind at all: io_uring (its kernel-side writes are untracked). */
bool rs_fd_is_unsupported(const struct rs_fd *f);

enum rs_fd_change {
	RS_FD_NEW,	/* open now, not at checkpoint: close it */
	RS_FD_CLOSED,	/* open at checkpoint, closed now: reopen by path (files, dirs) and dup2 */
	RS_FD_REPLACED, /* same number, other object or access mode: close, then as CLOSED */
	RS_FD_POS,	/* same object, offset moved: lseek(fd, snap->pos, SEEK_SET) */
	RS_FD_FLAGS,	/* same object, status or fd flags differ: F_SETFL setfl, F_SETFD setfd */
};

struct rs_fd_op {
	enum rs_fd_change change;
	int fd;
	const struct rs_fd *snap; /* checkpoint entry, NULL for NEW */
	const struct rs_fd *now;  /* current entry, NULL for CLOSED */
	int setfl;		  /* FLAGS: the F_SETFL argument that restores the checkpoint status flags */
	int setfd;		  /* FLAGS: the F_SETFD argument, FD_CLOEXEC or 0 */
};

/* Ops in fd order; for one fd, POS comes before FLAGS. */
struct rs_fd_plan {
	struct rs_fd_op *ops;
	size_t n, cap;
};

/*
 * Diff two tables (sorted by fd, as rs_fdtable_read() returns them). Two entries with one number
 * are the same object when kind, device and inode agree (and, for anonymous inodes, which share
 * one inode per kind, the target too) and the access mode is unchanged; otherwise REPLACED.
 * A close and reopen of the same file at the same offset and flags is not visible here.
 * Ops point into snap and now, which must outlive the plan. Returns the number of ops (0: the
 * tables match), -EINVAL when a table is not sorted, -ENOMEM. Free with rs_fd_plan_free().
 */
int rs_fdtable_diff(const struct rs_fdtable *snap, const struct rs_fdtable *now, struct rs_fd_plan *out);

void rs_fd_plan_free(struct rs_fd_plan *p);

/*
 * Can a rewind carry out this op? No when an io_uring fd is involved on either side; when a
 * pipe, socket, anonymous inode, memfd or device that existed at checkpoint is gone (CLOSED or
 * REPLACED: nothing can reopen it), or when the file it names was deleted; when the flags differ
 * in bits that F_SETFL cannot change. Reopening a file or directory by path is recoverable.
 */
bool rs_fd_change_is_recoverable(const struct rs_fd_op *op);

/* open(2) flags that reopen a CLOSED/REPLACED file as it was (access mode, status, O_CLOEXEC). */
int rs_fd_reopen_flags(const struct rs_fd *snap);

/* "new", "closed", "replaced", "pos", "flags" */
const char *rs_fd_change_str(enum rs_fd_change change);

#endif /* LETHE_RESTORE_FDS_H */
