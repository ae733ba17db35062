/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Writable layers (overlayfs upper dirs, tmpfs, plain directories): snapshot a tree at
 * checkpoint, then put single paths or the whole tree back at rewind (DESIGN.md §4).
 */
#ifndef LETHE_RS_FILES_H
#define LETHE_RS_FILES_H

#include <stdbool.h>

struct rs_layer; /* opaque */

/* What restoring one path took. */
enum rs_file_action {
	RS_FILE_UNCHANGED = 0, /* it already matched the snapshot */
	RS_FILE_RESTORED, /* the same inode fixed in place (content, size, metadata) */
	RS_FILE_RECREATED, /* gone, replaced or moved: made again from the snapshot */
	RS_FILE_REMOVED, /* it did not exist at snapshot */
};

const char *rs_file_action_str(enum rs_file_action a);

/*
 * Snapshot the tree at root into a private copy under store_dir (created with mode 0700;
 * -EEXIST if it exists, -EINVAL if it lies inside root). root is resolved with realpath
 * unless it lies under /proc (a /proc/PID/root/... path into another mount namespace:
 * realpath would resolve the magic link to our own root); the tree is reached through a
 * directory fd opened once, so later calls work even if that path stops resolving.
 * A layer is one filesystem: mount points below root are neither recorded nor entered. Keeps in memory, per path: type, mode, uid, gid, size, atime/mtime,
 * rdev, symlink target, every xattr (trusted.overlay.*, user.* ...) and the device and inode
 * of the original; regular file contents go to store_dir, once per hard-link group. Hard
 * links within the tree, overlayfs whiteouts (char device 0/0) and opaque dirs (xattr) are
 * kept as such. Symlinks are never followed. The tree must not change meanwhile (-EAGAIN if
 * a file is swapped under us). Cost: one pass over the tree plus a copy of the file bytes.
 * Returns 0 and sets *out, or -errno (nothing is left behind on failure).
 */
int rs_layer_snapshot(const char *root, const char *store_dir, struct rs_layer **out);
/* Free the snapshot and remove its store dir. NULL is a no-op. */
void rs_layer_free(struct rs_layer *l);

/*
 * Put one path back to its snapshot state. rel is relative to the root ("tmp/a.txt", "" for
 * the root itself; "." components and repeated slashes are ignored); an absolute rel or one
 * with a ".." component is -EINVAL. First every ancestor that was a directory at snapshot is
 * recreated (with its snapshot subtree) if it is missing, no longer a directory or another
 * inode. Then, if rel existed at snapshot and the same inode is still there (the original, or
 * the one a previous restore made), it is fixed in place: content (truncate + rewrite, so
 * open fds see it), owner, mode, xattrs, times; otherwise whatever is there is removed
 * (recursively) and rel is recreated, a directory with its whole snapshot subtree, a hard
 * link as a link to a surviving member of its group. If rel did not exist at snapshot it is
 * removed (recursively). Path walks never cross symlinks (openat2 RESOLVE_NO_SYMLINKS).
 * Returns 0 or -errno; *act (may be NULL) says what had to be done.
 * Cost: a handful of syscalls plus a byte compare of the file when the inode is the same.
 */
int rs_layer_restore_path(struct rs_layer *l, const char *rel, enum rs_file_action *act);
/*
 * Full diff of the live tree against the snapshot, restoring every difference (entries
 * created, deleted, renamed, changed in type, content, size, mode, owner, mtime, xattrs), for
 * when path tracking lost events. Returns the number of paths acted upon (a renamed file is
 * 2: the old name recreated, the new one removed; a recreated or removed directory is 1 with
 * its subtree; a hard link fixed through another of its names is not counted again), or
 * -errno. Cost: a walk of both trees and a byte compare of every same-size regular file.
 */
long rs_layer_restore_all(struct rs_layer *l);
/*
 * Compare only. Returns the number of differing paths (0 = identical) or -errno. Every
 * snapshot path that differs counts once (so both names of a rewritten hard link count),
 * a snapshot directory that must be recreated counts 1 for its subtree, and a live path
 * unknown to the snapshot counts 1 (its subtree is not entered). Content is compared byte
 * by byte, mtime to the nanosecond except for directories, atimes never.
 */
long rs_layer_diff_count(struct rs_layer *l);
/* Whether rel (relative, canonicalised as for restore) existed at snapshot. */
bool rs_layer_has(const struct rs_layer *l, const char *rel);
/*
 * Put the metadata (times, mode, owner, xattrs) of snapshot directory rel back on
 * the same inode: after entries below it came or went by other means. -ENOENT if
 * rel was no directory at snapshot; 0 without action if it is another inode now.
 */
int rs_layer_fix_dir(struct rs_layer *l, const char *rel);
/*
 * Open the parent directory of rel below root_fd, never crossing a symlink or
 * leaving the tree (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS); *name points
 * at the last component ("." for ""). Returns an O_PATH fd or -errno.
 */
int rs_open_parent_at(int root_fd, const char *rel, const char **name);
/* A malloc'ed copy of p without trailing slashes ("/" stays "/"), NULL on ENOMEM. */
char *rs_path_dup_trimmed(const char *p);
/* Remove dirfd/name and, for a directory, everything below it (no symlink followed). */
int rs_remove_at(int dirfd, const char *name);
/* The layer's root as resolved at snapshot (realpath unless under /proc, no trailing slash). */
const char *rs_layer_root(const struct rs_layer *l);
/*
 * Whether abs_path lies inside the layer (the root itself included), compared lexically
 * with the resolved root. *rel (may be NULL) then points into abs_path at the relative part
 * ("" for the root).
 */
bool rs_layer_contains(const struct rs_layer *l, const char *abs_path, const char **rel);

#endif /* LETHE_RS_FILES_H */
