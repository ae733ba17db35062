/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The sandbox's writable layers as a set: which layer a path the target named
 * belongs to, and putting back what a request touched (DESIGN.md §4).
 */
#ifndef LETHE_RS_LAYERS_H
#define LETHE_RS_LAYERS_H

#include <stdbool.h>
#include <sys/types.h>
#include "lethe/lethe.h"
#include "loader/trace.h"
#include "files.h"

struct rs_sblayer {
	struct rs_layer *snap; /* NULL for LETHE_LAYER_NONE */
	char *path;	       /* where the target sees it, no trailing slash ("/" for the root) */
	enum lethe_layer_kind kind;
	char *lower; /* overlay: '\n'-separated lower dirs, top first, or NULL */
};

struct rs_layer_set {
	struct rs_sblayer *v;
	size_t n;
	pid_t pid; /* the target: its /proc/PID/root is the merged view */
};

/*
 * Snapshot every layer of o (protect dirs as LETHE_LAYER_DIR seen where they are,
 * then o->layers) into store_base/PID.N. Layers may nest (a tmpfs on /tmp of an
 * overlay root): a path belongs to the deepest. The same path twice is -EINVAL.
 * Returns 0 or -errno (nothing kept).
 */
int rs_layers_take(struct rs_layer_set *set, const struct lethe_opts *o, pid_t pid, const char *store_base);
void rs_layers_free(struct rs_layer_set *set);

/*
 * The layer holding path (absolute, as the target named it): the one whose view
 * path is the longest component-wise prefix. *rel points into path. NULL if none,
 * or if that deepest one is a LETHE_LAYER_NONE mount.
 */
struct rs_sblayer *rs_layers_find(const struct rs_layer_set *set, const char *path, const char **rel);

/*
 * Put back the nfiles paths a request touched, res[i] saying what was done to
 * files[i] (res has nfiles entries; paths are not copied). With full (the
 * tracker lost records, or named a file it could not resolve) every layer is
 * diffed whole instead. When overlay entries came or went behind the mounted
 * overlay, its unused dentries are dropped and every such path is checked
 * through the target's merged view. Returns 0, or -ENOTRECOVERABLE with
 * st->reason set (FILES_FAILED).
 */
int rs_layers_restore(struct rs_layer_set *set, const struct ld_file *files, size_t nfiles, bool full,
		      struct lethe_file_result *res, struct lethe_rewind_stats *st);

/* Paths of all layers that differ from their snapshots (0 = identical), or -errno. */
long rs_layers_diff_count(struct rs_layer_set *set);

#endif /* LETHE_RS_LAYERS_H */
