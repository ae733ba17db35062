/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Lifecycle of the BPF tracker: open, pick the attach flavour this kernel
 * accepts, load, attach, feed ring-buffer records to a callback, close epochs.
 */
#ifndef LETHE_LOADER_TRACKER_H
#define LETHE_LOADER_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/types.h>
#include "lethe/events.h"

struct ld_tracker;

/* Called once per ring record, in order; a non-zero return stops the drain. */
typedef int (*ld_tracker_event_fn)(void *ctx, const struct lethe_ev_hdr *hdr, size_t size);

struct ld_tracker_opts {
	uint32_t rb_bytes; /* ring buffer size, power of two; 0 = default (4 MiB) */
	uint32_t members_max; /* bound of the members map; 0 = default */
	uint32_t written_max; /* bound of the written-files LRU; 0 = default */
	uint64_t cgroup_id; /* cgroup v2 id that also defines membership; 0 = none */
	bool force_raw_tp; /* skip tp_btf even where it works (tests, old kernels) */
};

/*
 * Open, load and attach the tracker. Tries the tp_btf flavour first and falls
 * back to raw_tp when the kernel refuses it. Returns 0 or -errno (-EPERM when
 * not privileged, -ENOENT/-EOPNOTSUPP when the kernel lacks BTF or tracepoints).
 */
int ld_tracker_new(const struct ld_tracker_opts *opts, ld_tracker_event_fn fn, void *ctx, struct ld_tracker **out);
void ld_tracker_free(struct ld_tracker *t);

/* "tp_btf" or "raw_tp": which flavour of the paired programs is attached. */
const char *ld_tracker_flavour(const struct ld_tracker *t);

/* Add tgid to the sandbox rooted at root (root == tgid for a root). */
int ld_tracker_member_add(struct ld_tracker *t, pid_t tgid, pid_t root);
int ld_tracker_member_del(struct ld_tracker *t, pid_t tgid);
bool ld_tracker_is_member(struct ld_tracker *t, pid_t tgid);

/* An fd that becomes readable when records are waiting (for epoll). */
int ld_tracker_fd(const struct ld_tracker *t);
/* Consume every waiting record. Returns the count or -errno. */
int ld_tracker_drain(struct ld_tracker *t);
/* Wait up to timeout_ms for records, then consume them. */
int ld_tracker_poll(struct ld_tracker *t, int timeout_ms);

/*
 * Close the current epoch: drain it, then start the next one. *flags gets the
 * closed epoch's LETHE_EPOCH_* flags. Call it while the sandbox is stopped so
 * no record can straddle the boundary. Returns the new epoch number.
 */
int ld_tracker_epoch_close(struct ld_tracker *t, uint64_t *flags);
uint32_t ld_tracker_epoch(const struct ld_tracker *t);

/* Sum of the stats array (LETHE_STAT_MAX entries). */
int ld_tracker_stats(struct ld_tracker *t, uint64_t out[LETHE_STAT_MAX]);
const char *ld_stat_name(int idx);

#endif /* LETHE_LOADER_TRACKER_H */
