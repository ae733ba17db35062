/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR BSD-2-Clause */
/*
 * /dev/lethe UAPI: the kernel helper that copies pages from the snapshot twin
 * into the target in one kernel copy. Versioned, size-first structs.
 */
#ifndef LETHE_DEV_H
#define LETHE_DEV_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define LETHE_DEV_ABI 1
#define LETHE_DEV_MAX_PAGES 4096 /* per rollback call */

enum lethe_dev_feature {
	LETHE_DEV_F_ROLLBACK = 1 << 0, /* LETHE_IOC_ROLLBACK */
	LETHE_DEV_F_DROP = 1 << 1, /* LETHE_ROLLBACK_DROP: zap pages absent at checkpoint */
};

struct lethe_dev_info {
	__u32 size; /* in: sizeof(struct lethe_dev_info) */
	__u32 abi; /* out: LETHE_DEV_ABI */
	__u64 features; /* out: enum lethe_dev_feature */
	__u32 max_pages; /* out */
	__u32 pad;
};

#define LETHE_ROLLBACK_DROP (1 << 0) /* addrs are dropped in the target, not copied */

struct lethe_rollback {
	__u32 size; /* in: sizeof(struct lethe_rollback) */
	__u32 flags; /* LETHE_ROLLBACK_* */
	__s32 target_pid; /* both must be ptrace-stopped by the caller */
	__s32 twin_pid;
	__u64 addrs; /* user pointer to __u64[count]: page-aligned addresses */
	__u32 count; /* <= LETHE_DEV_MAX_PAGES */
	__u32 done; /* out: pages handled before an error or all */
};

#define LETHE_IOC_MAGIC 'L'
#define LETHE_IOC_INFO _IOWR(LETHE_IOC_MAGIC, 1, struct lethe_dev_info)
#define LETHE_IOC_ROLLBACK _IOWR(LETHE_IOC_MAGIC, 2, struct lethe_rollback)

#endif /* LETHE_DEV_H */
