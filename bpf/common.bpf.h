/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Helpers shared by the tracker's programs: sandbox membership, stats counters,
 * bounded ring-buffer reservation and CO-RE walks from an fd to its file.
 */
#ifndef LETHE_COMMON_BPF_H
#define LETHE_COMMON_BPF_H

#include "lethe/events.h"

#define LETHE_MEMBERS_MAX 8192
#define LETHE_RB_SIZE (4 << 20)
#define LETHE_WRITTEN_MAX 4096

#ifndef S_IFMT
#define S_IFMT 00170000
#define S_IFREG 0100000
#define S_IFDIR 0040000
#endif

/* Sandbox membership, keyed by tgid. Userspace seeds the root; fork grows it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LETHE_MEMBERS_MAX);
	__type(key, __u32);
	__type(value, struct lethe_member);
} members SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, LETHE_RB_SIZE);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LETHE_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* Load-time knobs: set in rodata before load, never by rebuilding. */
const volatile __u64 cfg_cgid = 0; /* cgroup v2 id of the sandbox, 0 = none */
const volatile __u32 cfg_self_tgid = 0; /* the restorer: its pokes are not GUP leaks */
const volatile __u32 cfg_huge_size = 2 << 20; /* PMD size on x86_64 */
const volatile bool cfg_thp_always = false; /* transparent_hugepage=always */

/* Epoch state, written by userspace through the mmap'ed bss. */
volatile __u32 epoch = 0;
volatile __u64 epoch_flags = 0;

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline void epoch_flag(__u64 flag)
{
	__sync_fetch_and_or(&epoch_flags, flag);
}

static __always_inline bool tgid_is_member(__u32 tgid)
{
	if (bpf_map_lookup_elem(&members, &tgid))
		return true;
	return cfg_cgid && bpf_get_current_cgroup_id() == cfg_cgid;
}

/*
 * Reserve a record and fill its header. A failed reserve is a lost event: it is
 * counted and marks the epoch so that userspace verifies instead of trusting us.
 */
static __always_inline void *ev_reserve(__u32 size, __u16 kind, __u32 tgid, __u32 tid)
{
	struct lethe_ev_hdr *h = bpf_ringbuf_reserve(&events, size, 0);

	if (!h) {
		stat_inc(LETHE_STAT_RB_DROPS);
		epoch_flag(LETHE_EPOCH_LOST);
		return NULL;
	}
	h->kind = kind;
	h->size = size;
	h->epoch = epoch;
	h->tgid = tgid;
	h->tid = tid;
	h->ts_ns = bpf_ktime_get_ns();
	return h;
}

/* The struct file behind fd in the current task, or NULL. */
static __always_inline struct file *fd_file(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;
	unsigned int max;

	if (fd < 0 || !fdt)
		return NULL;
	max = BPF_CORE_READ(fdt, max_fds);
	if ((unsigned int)fd >= max)
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

#endif /* LETHE_COMMON_BPF_H */
