/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * liblethe: the public API a platform embeds to give a warm sandbox temporal
 * isolation. Every function that acts returns >= 0 on success, -errno on failure.
 */
#ifndef LETHE_LETHE_H
#define LETHE_LETHE_H

enum lethe_log_level {
	LETHE_LOG_ERR = 0,
	LETHE_LOG_WARN = 1,
	LETHE_LOG_INFO = 2,
	LETHE_LOG_DEBUG = 3,
};

typedef void (*lethe_log_fn_t)(enum lethe_log_level level, const char *msg);

/* Route every message of liblethe (and libbpf, when the CLI sets it up) into fn. */
void lethe_set_log_fn(lethe_log_fn_t fn, enum lethe_log_level level);

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Why a rewind could not be proven complete (invariant I6). */
enum lethe_reason {
	LETHE_REASON_NONE = 0,
	LETHE_REASON_TARGET_DIED, /* the sandbox root exited */
	LETHE_REASON_THREAD_DIED, /* a thread that existed at checkpoint is gone */
	LETHE_REASON_FD_UNRECOVERABLE, /* a pipe/socket/anon fd was closed or replaced */
	LETHE_REASON_IO_URING, /* an io_uring instance exists */
	LETHE_REASON_UNSUPPORTED_MAPPING, /* shared writable memory, or a removed file mapping */
	LETHE_REASON_INJECT_FAILED, /* a syscall could not be run in the target */
	LETHE_REASON_LAYOUT_FAILED, /* an injected munmap/mmap/mprotect/brk failed */
	LETHE_REASON_COPY_FAILED, /* pages could not be copied back from the snapshot */
	LETHE_REASON_TASKS_FAILED, /* a new task could not be removed */
	LETHE_REASON_VERIFY_FAILED, /* --verify found a difference from the snapshot */
	LETHE_REASON_CWD_CHANGED, /* the working directory moved and could not be put back */
	LETHE_REASON_FILES_FAILED, /* a protected layer could not be restored */
	LETHE_REASON_MAX,
};

const char *lethe_reason_str(enum lethe_reason r);

/* How pages are made to fault again after they were restored. */
enum lethe_rearm {
	LETHE_REARM_AUTO = 0, /* uffd-wp where the kernel has it, else soft-dirty, else re-twin */
	LETHE_REARM_RETWIN, /* fork a fresh snapshot twin from the rewound target: any kernel */
	LETHE_REARM_UFFD, /* userfaultfd async WP + PAGEMAP_SCAN (Linux >= 6.7); re-twin rarely */
	LETHE_REARM_EVER, /* no re-arm: restore every page ever dirtied since checkpoint (REWIND's fallback) */
	LETHE_REARM_SOFTDIRTY, /* soft-dirty bits (CONFIG_MEM_SOFT_DIRTY): clear_refs + pagemap; re-twin rarely */
};

const char *lethe_rearm_str(enum lethe_rearm r);
/* "auto", "uffd", "softdirty", "retwin" or "ever" into *out: 0, or -EINVAL. */
int lethe_rearm_parse(const char *name, enum lethe_rearm *out);

/* What a writable layer of the sandbox's filesystem is. */
enum lethe_layer_kind {
	LETHE_LAYER_DIR = 0, /* a plain directory (or a bind mount of one) */
	LETHE_LAYER_OVERLAY, /* the upper dir of a mounted overlayfs */
	LETHE_LAYER_TMPFS, /* a tmpfs, reached through /proc/PID/root */
	/*
	 * A mount that is not rewound (a host bind, /proc): no snapshot; paths below
	 * it belong to no layer (reported unprotected), even under a layer's path.
	 */
	LETHE_LAYER_NONE,
};

const char *lethe_layer_kind_str(enum lethe_layer_kind k);

struct lethe_layer {
	enum lethe_layer_kind kind;
	const char *path; /* where the target sees it (in its mount namespace), absolute */
	const char *root; /* where lethe reads and writes it; NULL = path */
	const char *lower; /* overlay: its lower dirs, top first, '\n'-separated (for the merged view) */
};

struct lethe_opts {
	enum lethe_rearm rearm;
	bool verify_always; /* verify every rewind (tests do) */
	/* directories whose contents belong to the sandbox: snapshot at checkpoint, rewound
	 * path by path (a full diff when the tracker lost events) */
	const char *const *protect;
	size_t nprotect;
	const char *store_dir; /* where layer snapshots live; NULL = /var/lib/lethe */
	/* layers named by where the target sees them (containers: overlay upper, tmpfs) */
	const struct lethe_layer *layers;
	size_t nlayers;
	/*
	 * A cgroup directory (v1 or v2): every process in it belongs to the sandbox,
	 * so one that was not there at checkpoint is killed at rewind, even if it
	 * left the target's process tree (double fork) or the tracker missed it.
	 */
	const char *cgroup;
};

/* What a rewind did about one path the request touched. */
enum lethe_file_action {
	LETHE_FILE_UNCHANGED = 0, /* touched, but already as at checkpoint */
	LETHE_FILE_RESTORED, /* the same inode put back in place */
	LETHE_FILE_RECREATED, /* deleted, renamed or replaced: made again */
	LETHE_FILE_REMOVED, /* created by the request: removed */
	LETHE_FILE_UNPROTECTED, /* outside every layer: not rewound (a persistence point) */
	LETHE_FILE_FULL_DIFF, /* tracking lost events: its layer was diffed and restored whole */
};

const char *lethe_file_action_str(enum lethe_file_action a);

struct lethe_file_result {
	const char *path; /* as the target named it */
	uint32_t ops; /* bit (1 << op) per enum lethe_file_op of lethe/events.h */
	enum lethe_file_action action;
};

struct lethe_task_result {
	pid_t pid; /* host pid namespace */
	pid_t tgid;
	bool thread;
	bool cgroup_only; /* found only by the cgroup sweep (the tracker did not see it) */
};

/* Phase timings (us) and what one rewind did. */
struct lethe_rewind_stats {
	uint64_t us_stop, us_drain, us_tasks, us_layout, us_copy, us_fds, us_verify, us_rearm, us_regs, us_resume,
		us_total;
	uint64_t pages_restored;
	uint64_t bytes_restored;
	uint64_t mappings_undone;
	uint64_t tasks_killed;
	uint64_t threads_ended;
	uint64_t fds_closed;
	uint64_t fds_restored; /* offsets/flags put back */
	uint64_t files_restored; /* paths of protected layers put back */
	bool files_full_diff; /* file tracking was not trusted: whole layers compared */
	bool dcache_flushed; /* overlay entries came or went: unused dentries were dropped */
	uint64_t cgroup_killed; /* processes of the cgroup that were not there at checkpoint */
	uint64_t us_files;
	uint64_t pages_tracked; /* written pages the tracker recorded in this request */
	/* per request, valid until the next rewind or release of the sandbox */
	const struct lethe_file_result *files;
	size_t nfiles;
	const struct lethe_task_result *tasks; /* created by the request (now gone) */
	size_t ntasks;
	uint64_t epoch_flags; /* LETHE_EPOCH_* seen by the tracker */
	const char *rearm; /* the re-arm method that ran */
	const char *copy; /* the copy path that ran: "kpatch" (/dev/lethe) or "process_vm" */
	int verified; /* -1 not run, 0 passed, 1 failed */
	uint64_t verify_mismatches; /* pages (or items) that differed */
	bool full_compare; /* tracking was not trusted (lost events, GUP writes): every page compared */
	enum lethe_reason reason;
	bool recycle; /* the sandbox must be replaced */
};

struct lethe_sandbox;

/*
 * Load and attach the BPF tracker now (~140 ms on this machine) instead of at
 * the first checkpoint. Idempotent; every sandbox of the process shares it.
 */
int lethe_init(void);

/*
 * Checkpoint process pid (and, from now on, everything it spawns) at its current
 * state: stop it, record threads/registers/layout/fds, fork a stopped snapshot twin,
 * attach the tracker, resume. Returns 0 and *out, or -errno (-ESRCH no such process,
 * -EPERM already traced or not root, -EOPNOTSUPP unsupported state, or a re-arm
 * method asked for by name that the kernel lacks).
 */
int lethe_checkpoint(pid_t pid, const struct lethe_opts *opts, struct lethe_sandbox **out);

/*
 * Rewind the sandbox to its checkpoint. Synchronous: the target is stopped for the
 * whole call and resumed at its checkpoint state. verify compares every page and the
 * layout, threads and fds against the snapshot. Returns 0, or -ENOTRECOVERABLE with
 * st->reason set and st->recycle true: the target is then left stopped, and the caller
 * must replace it (lethe_release() kills nothing but the twin).
 */
int lethe_rewind(struct lethe_sandbox *s, bool verify, struct lethe_rewind_stats *st);

/* Forget the snapshot: kill the twin, detach; the target keeps running. NULL-safe. */
int lethe_release(struct lethe_sandbox *s);

pid_t lethe_sandbox_pid(const struct lethe_sandbox *s);
pid_t lethe_sandbox_twin(const struct lethe_sandbox *s);
/* True once a rewind failed: the caller must replace the sandbox. */
bool lethe_sandbox_needs_recycle(const struct lethe_sandbox *s);

#endif /* LETHE_LETHE_H */
