/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The persistence-point model: folds tracker records into what a request (or
 * a traced run) left behind: dirty pages by mapping, layout changes, tasks, files.
 */
#ifndef LETHE_LOADER_TRACE_H
#define LETHE_LOADER_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/types.h>
#include "lethe/events.h"

struct ld_page_group {
	pid_t pid;
	uint64_t start; /* start of the mapping the pages belong to */
	uint64_t end;
	uint64_t pages; /* dirty 4 KiB pages (a huge page counts as its size / 4 KiB) */
	uint64_t huge_pages; /* of which came from huge-page records */
	uint64_t kernel_writes; /* records where the kernel did the write */
	char mapping[256]; /* [heap], [stack], anon, or the file path */
};

struct ld_mm_change {
	pid_t pid;
	uint32_t op; /* enum lethe_mm_op */
	uint64_t args[6];
	int64_t ret;
};

struct ld_task {
	pid_t pid;
	pid_t tgid;
	pid_t parent; /* parent tgid (process) or creating tid (thread) */
	bool thread;
	bool alive;
	char comm[LETHE_COMM_LEN];
	char exec[LETHE_PATH_LEN]; /* last exec'ed file, if any */
};

struct ld_file {
	char path[4096];
	uint32_t ops; /* bit (1 << enum lethe_file_op) */
	pid_t pid; /* first task that touched it */
};

/* One first write of an epoch, as the rewinder needs it. */
struct ld_dirty {
	pid_t tgid;
	uint32_t size;
	uint64_t addr;
};

struct ld_trace {
	struct ld_dirty *dirty; /* distinct (tgid, page) first writes, in arrival order */
	size_t ndirty, cdirty;
	struct ld_page_group *groups;
	size_t ngroups, cgroups;
	struct ld_mm_change *mm;
	size_t nmm, cmm;
	struct ld_task *tasks;
	size_t ntasks, ctasks;
	struct ld_file *files;
	size_t nfiles, cfiles;
	uint64_t events[LETHE_EV_FILE + 1]; /* records seen by kind */
	uint64_t unknown_records;
	void *priv; /* page set, per-tgid caches */
};

int ld_trace_init(struct ld_trace *t);
void ld_trace_free(struct ld_trace *t);
/* Forget everything recorded (start of a new request) but keep the caches. */
void ld_trace_reset(struct ld_trace *t);
/* Seed the model with a root task's cwd so relative paths resolve even after it exits. */
int ld_trace_add_root(struct ld_trace *t, pid_t pid);
/* Fold in one ring record. Returns 0 or -ENOMEM. */
int ld_trace_add(struct ld_trace *t, const struct lethe_ev_hdr *h, size_t size);
/* Re-check liveness of recorded tasks against /proc (zombies count as dead). */
void ld_trace_refresh_alive(struct ld_trace *t);
/* Order page groups by pid, then address, for stable reports. */
void ld_trace_sort(struct ld_trace *t);
/* Total dirty 4 KiB pages across groups. */
uint64_t ld_trace_dirty_pages(const struct ld_trace *t);
/* Name of one enum lethe_file_op ("create", "write", ...). */
const char *ld_file_op_name(unsigned int op);
const char *ld_mm_op_name(unsigned int op);

#endif /* LETHE_LOADER_TRACE_H */
