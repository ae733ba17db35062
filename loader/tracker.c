// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The only code that touches the tracker skeleton. Kernel differences are
 * decided here at load time (tp_btf vs raw_tp), never with #ifdef.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#define LOG_PREFIX "tracker: "
#include "log.h"
#include "tracker.h"
#include "tracker.skel.h"

struct ld_tracker {
	struct tracker_bpf *skel;
	struct ring_buffer *rb;
	ld_tracker_event_fn fn;
	void *ctx;
	bool raw;
};

static int on_record(void *ctx, void *data, size_t size)
{
	struct ld_tracker *t = ctx;
	const struct lethe_ev_hdr *h = data;

	if (size < sizeof(*h) || h->size > size)
		return 0; /* not ours to interpret */
	return t->fn ? t->fn(t->ctx, h, size) : 0;
}

static void set_flavour(struct tracker_bpf *s, bool raw)
{
	struct bpf_program *btf[] = { s->progs.on_fault_user_btf, s->progs.on_fault_kernel_btf, s->progs.on_fork_btf,
				      s->progs.on_exit_btf, s->progs.on_exec_btf };
	struct bpf_program *rawp[] = { s->progs.on_fault_user_raw, s->progs.on_fault_kernel_raw,
				       s->progs.on_fork_raw, s->progs.on_exit_raw, s->progs.on_exec_raw };

	for (size_t i = 0; i < sizeof(btf) / sizeof(btf[0]); i++) {
		bpf_program__set_autoload(btf[i], !raw);
		bpf_program__set_autoload(rawp[i], raw);
	}
}

static bool thp_always(void)
{
	char buf[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");

	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return strstr(buf, "[always]") != NULL;
}

static int open_load_attach(const struct ld_tracker_opts *o, bool raw, struct tracker_bpf **out)
{
	struct tracker_bpf *s;
	int err;

	s = tracker_bpf__open();
	if (!s)
		return -errno;
	s->rodata->cfg_cgid = o->cgroup_id;
	s->rodata->cfg_self_tgid = getpid();
	s->rodata->cfg_thp_always = thp_always();
	if (o->rb_bytes)
		bpf_map__set_max_entries(s->maps.events, o->rb_bytes);
	if (o->members_max)
		bpf_map__set_max_entries(s->maps.members, o->members_max);
	if (o->written_max)
		bpf_map__set_max_entries(s->maps.written, o->written_max);
	set_flavour(s, raw);

	err = tracker_bpf__load(s);
	if (err) {
		pr_debug("load (%s) failed: %s", raw ? "raw_tp" : "tp_btf", strerror(-err));
		goto fail;
	}
	err = tracker_bpf__attach(s);
	if (err) {
		pr_debug("attach (%s) failed: %s", raw ? "raw_tp" : "tp_btf", strerror(-err));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	tracker_bpf__destroy(s);
	return err;
}

int ld_tracker_new(const struct ld_tracker_opts *opts, ld_tracker_event_fn fn, void *ctx, struct ld_tracker **out)
{
	struct ld_tracker_opts def = {};
	struct ld_tracker *t;
	int err;

	if (!opts)
		opts = &def;
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		pr_err("kernel has no BTF (/sys/kernel/btf/vmlinux): CO-RE programs cannot load");
		return -EOPNOTSUPP;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->fn = fn;
	t->ctx = ctx;

	err = -EINVAL;
	if (!opts->force_raw_tp)
		err = open_load_attach(opts, false, &t->skel);
	if (err) {
		t->raw = true;
		err = open_load_attach(opts, true, &t->skel);
	}
	if (err) {
		pr_err("cannot load the BPF tracker: %s", strerror(-err));
		free(t);
		return err;
	}

	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events), on_record, t, NULL);
	if (!t->rb) {
		err = -errno;
		pr_err("cannot open the ring buffer: %s", strerror(-err));
		tracker_bpf__destroy(t->skel);
		free(t);
		return err;
	}
	*out = t;
	return 0;
}

void ld_tracker_free(struct ld_tracker *t)
{
	if (!t)
		return;
	ring_buffer__free(t->rb);
	tracker_bpf__destroy(t->skel);
	free(t);
}

const char *ld_tracker_flavour(const struct ld_tracker *t)
{
	return t->raw ? "raw_tp" : "tp_btf";
}

int ld_tracker_member_add(struct ld_tracker *t, pid_t tgid, pid_t root)
{
	struct lethe_member m = { .root_tgid = root, .parent_tgid = 0 };
	__u32 key = tgid;

	if (bpf_map_update_elem(bpf_map__fd(t->skel->maps.members), &key, &m, BPF_ANY))
		return -errno;
	return 0;
}

int ld_tracker_member_del(struct ld_tracker *t, pid_t tgid)
{
	__u32 key = tgid;

	if (bpf_map_delete_elem(bpf_map__fd(t->skel->maps.members), &key))
		return -errno;
	return 0;
}

bool ld_tracker_is_member(struct ld_tracker *t, pid_t tgid)
{
	struct lethe_member m;
	__u32 key = tgid;

	return bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.members), &key, &m) == 0;
}

int ld_tracker_fd(const struct ld_tracker *t)
{
	return ring_buffer__epoll_fd(t->rb);
}

int ld_tracker_drain(struct ld_tracker *t)
{
	return ring_buffer__consume(t->rb);
}

int ld_tracker_poll(struct ld_tracker *t, int timeout_ms)
{
	int n = ring_buffer__poll(t->rb, timeout_ms);

	if (n == -EINTR)
		return 0;
	return n;
}

int ld_tracker_epoch_close(struct ld_tracker *t, uint64_t *flags)
{
	int err = ld_tracker_drain(t);

	if (err < 0)
		return err;
	t->skel->bss->epoch++;
	if (flags)
		*flags = __atomic_exchange_n(&t->skel->bss->epoch_flags, 0, __ATOMIC_SEQ_CST);
	else
		__atomic_store_n(&t->skel->bss->epoch_flags, 0, __ATOMIC_SEQ_CST);
	return t->skel->bss->epoch;
}

uint32_t ld_tracker_epoch(const struct ld_tracker *t)
{
	return t->skel->bss->epoch;
}

int ld_tracker_stats(struct ld_tracker *t, uint64_t out[LETHE_STAT_MAX])
{
	int fd = bpf_map__fd(t->skel->maps.stats);

	for (__u32 i = 0; i < LETHE_STAT_MAX; i++) {
		__u64 v = 0;

		if (bpf_map_lookup_elem(fd, &i, &v))
			return -errno;
		out[i] = v;
	}
	return 0;
}

const char *ld_stat_name(int idx)
{
	static const char *const names[LETHE_STAT_MAX] = {
		[LETHE_STAT_FAULTS] = "faults",
		[LETHE_STAT_RB_DROPS] = "ringbuf_drops",
		[LETHE_STAT_MEMBER_OVERFLOW] = "member_overflows",
		[LETHE_STAT_TASK_EVENTS] = "task_events",
		[LETHE_STAT_MM_EVENTS] = "mm_events",
		[LETHE_STAT_FILE_EVENTS] = "file_events",
		[LETHE_STAT_GUP_EVENTS] = "gup_events",
		[LETHE_STAT_PATH_TRUNC] = "path_truncations",
		[LETHE_STAT_VMA_UNKNOWN] = "vma_unknown",
	};

	return idx >= 0 && idx < LETHE_STAT_MAX && names[idx] ? names[idx] : "unknown";
}
