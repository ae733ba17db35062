/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Lexical path handling for tracker records: join a raw syscall path onto the
 * directory it was relative to, and normalise it, without touching the disk.
 */
#ifndef LETHE_LOADER_PATHS_H
#define LETHE_LOADER_PATHS_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Write base + "/" + rel into out (rel alone when absolute), removing "//",
 * "/./" and resolving ".." lexically (never above "/"). Returns the length or
 * -ENAMETOOLONG / -EINVAL (empty rel and base, or a relative base).
 */
int ld_path_join(const char *base, const char *rel, char *out, size_t outsz);

/* readlink of /proc/PID/<what> (e.g. "cwd", "fd/3") into out. Returns length or -errno. */
int ld_proc_link(pid_t pid, const char *what, char *out, size_t outsz);

#endif /* LETHE_LOADER_PATHS_H */
