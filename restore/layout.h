/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Layout diff: compare the mapping list at checkpoint with the current one and produce the
 * ordered munmap/brk/mmap/mprotect plan that undoes the request's layout changes (invariant I2).
 */
#ifndef LETHE_RESTORE_LAYOUT_H
#define LETHE_RESTORE_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "maps.h"

enum rs_layout_op_kind {
	RS_LAYOUT_MUNMAP,   /* munmap(start, end - start): mapped now, not at checkpoint */
	RS_LAYOUT_BRK,	    /* brk(): move the break from start (heap end now) to end (heap end then) */
	RS_LAYOUT_RECREATE, /* mmap(start, end - start, prot, flags, fd of snap->name, offset) */
	RS_LAYOUT_MPROTECT, /* mprotect(start, end - start, prot) */
};

struct rs_layout_op {
	enum rs_layout_op_kind kind;
	uint64_t start, end;	   /* [start, end), page aligned; see the kinds for BRK */
	unsigned int prot;	   /* PROT_* for RECREATE and MPROTECT */
	int flags;		   /* RECREATE: MAP_FIXED | MAP_PRIVATE or MAP_SHARED, | MAP_ANONYMOUS when anonymous */
	uint64_t offset;	   /* RECREATE of a file mapping: file offset of start */
	const struct rs_vma *snap; /* RECREATE: the checkpoint mapping containing start (in the snap list) */
};

/* Ops in execution order: MUNMAP, BRK, RECREATE, MPROTECT; by address within each kind. */
struct rs_layout_plan {
	struct rs_layout_op *ops;
	size_t n, cap;
};

/*
 * Canonical form of a mapping list: kernel-owned mappings ([vdso], [vvar], [vvar_vclock],
 * [vsyscall]) dropped, and adjacent entries merged when they have the same protection and
 * backing (device, inode, name, deleted flag) and, for file-backed entries, contiguous offsets.
 * The kernel splits and merges VMAs as it likes (anon_vma identity, mprotect round trips), so
 * two lists describe the same layout iff their canonical forms are equal. *out owns memory
 * (rs_maps_free()). Returns the number of entries, or -ENOMEM. Cost: O(in->n).
 */
int rs_layout_normalise(const struct rs_maps *in, struct rs_maps *out);

/*
 * Plan the syscalls that turn the layout `now` back into `snap`, comparing canonical forms by
 * address range, so splits and merges are never differences:
 *  - ranges mapped now but not at checkpoint -> MUNMAP (adjacent ranges coalesced);
 *  - [heap] end moved -> one BRK; start is the heap end now, end the heap end at checkpoint
 *    (page aligned: prefer the exact break recorded at checkpoint when there is one). When the
 *    heap grows back, [start, end) comes back zero-filled and its content must be restored;
 *  - ranges mapped at checkpoint but absent now or backed by something else (other inode or
 *    device, other file offset, shared vs private) -> RECREATE with the checkpoint's protection,
 *    flags and backing; MAP_FIXED replaces whatever is there. Content must then be restored
 *    from the twin for the whole range;
 *  - same backing, other protection -> MPROTECT back to the checkpoint protection.
 * A moved mapping (mremap) shows as MUNMAP of the new range plus RECREATE of the old. Anonymous
 * private memory unmapped and mapped again at the same place with the same protection looks
 * identical in /proc/PID/maps; only the content check (--verify) can see it.
 * Every op with a snap pointer points into snap, which must outlive the plan. Returns the
 * number of ops (0: layouts equal), -ENOMEM. *out must be freed with rs_layout_plan_free().
 * Cost: O(snap->n + now->n).
 */
int rs_layout_diff(const struct rs_maps *snap, const struct rs_maps *now, struct rs_layout_plan *out);

void rs_layout_plan_free(struct rs_layout_plan *p);

/* Do a and b describe the same layout once normalised? Allocates nothing. For --verify. */
bool rs_layout_equal(const struct rs_maps *a, const struct rs_maps *b);

/* "munmap", "brk", "recreate", "mprotect" (for reports and logs). */
const char *rs_layout_op_kind_str(enum rs_layout_op_kind kind);

#endif /* LETHE_RESTORE_LAYOUT_H */
