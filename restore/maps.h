/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * /proc/PID/maps as data: parse, look up by address, name a mapping the way
 * the kernel does. Used by trace reports, layout diffs and verification.
 */
#ifndef LETHE_RESTORE_MAPS_H
#define LETHE_RESTORE_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum rs_vma_prot {
	RS_VMA_READ = 1 << 0,
	RS_VMA_WRITE = 1 << 1,
	RS_VMA_EXEC = 1 << 2,
	RS_VMA_SHARED = 1 << 3, /* 's' in the fourth column, else private */
};

struct rs_vma {
	uint64_t start, end; /* [start, end) */
	uint64_t offset;
	uint32_t dev_major, dev_minor;
	uint64_t inode;
	unsigned int prot; /* enum rs_vma_prot */
	bool deleted; /* the backing file was unlinked: " (deleted)" */
	char name[256]; /* path, [heap], [stack], [vdso], ... or "" for anonymous */
};

struct rs_maps {
	struct rs_vma *v;
	size_t n, cap;
};

/* Parse the text of a maps file. Returns 0 or -EINVAL/-ENOMEM; *out owns memory. */
int rs_maps_parse(const char *text, struct rs_maps *out);
/* Read and parse /proc/PID/maps. -ESRCH when the process is gone. */
int rs_maps_read(pid_t pid, struct rs_maps *out);
void rs_maps_free(struct rs_maps *m);
/* Deep copy (for inheriting a layout across fork). */
int rs_maps_copy(const struct rs_maps *src, struct rs_maps *dst);
/* The mapping containing addr, or NULL. O(log n): the kernel lists maps sorted. */
const struct rs_vma *rs_maps_find(const struct rs_maps *m, uint64_t addr);
/* A human label: the name, or "anon" for an anonymous mapping. */
const char *rs_vma_label(const struct rs_vma *v);
/* Kernel-owned mappings that are never ours to rewind: [vdso], [vvar], [vsyscall]. */
bool rs_vma_is_special(const struct rs_vma *v);

#endif /* LETHE_RESTORE_MAPS_H */
