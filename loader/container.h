/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Naming a sandbox by container or cgroup: the OCI runtime's state gives the
 * init pid, /proc/PID/cgroup its cgroup, /proc/PID/mountinfo its writable
 * layers (overlay upper dir, tmpfs) and the writable mounts lethe cannot rewind.
 */
#ifndef LETHE_LOADER_CONTAINER_H
#define LETHE_LOADER_CONTAINER_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

/* What a mount means for a rewind. */
enum ld_mount_class {
	LD_MNT_IGNORED = 0, /* read-only, or a pseudo fs (proc, sysfs, cgroup, devpts, mqueue, ...) */
	LD_MNT_OVERLAY, /* writable overlayfs: its upper dir is a layer */
	LD_MNT_TMPFS, /* writable tmpfs: a layer reached through /proc/PID/root */
	LD_MNT_UNPROTECTED, /* writable mount of a persistent fs (host bind mount): not rewound */
};

struct ld_mount {
	char path[PATH_MAX]; /* mount point as the process sees it (octal escapes undone) */
	char root[PATH_MAX]; /* the mount's root inside its filesystem (mountinfo field 4) */
	char fstype[64];
	char source[PATH_MAX];
	bool rw; /* per-mount and superblock both read-write */
	enum ld_mount_class cls;
	/* overlay only, from the super options (host paths, as the mounter gave them) */
	char upper[PATH_MAX];
	char lower[PATH_MAX]; /* first lower dir (the one merged lookups hit first) */
	char lowers[PATH_MAX]; /* every lower dir, top first, '\n'-separated */
	char work[PATH_MAX];
};

/*
 * Parse a mountinfo stream (proc(5)) and classify every mount. Returns 0 with a
 * malloc'ed array in *out (*n entries, in file order), or -EINVAL on a malformed
 * line, -ENAMETOOLONG (a field longer than its slot), -ENOMEM, -EIO.
 */
int ld_mountinfo_parse(FILE *f, struct ld_mount **out, size_t *n);
/* The same for /proc/PID/mountinfo; -ESRCH when pid does not exist (or is a zombie). */
int ld_mountinfo_read(pid_t pid, struct ld_mount **out, size_t *n);

/*
 * The host path of pid's cgroup directory, for cgroup.procs: the cgroup v2 one
 * when a cgroup2 hierarchy is mounted in our namespace (/sys/fs/cgroup or
 * /sys/fs/cgroup/unified) and pid has a "0::" line, else the v1 one of the
 * first mounted hierarchy among pids, memory, freezer, cpu, name=systemd.
 * Returns 0, -ESRCH (no such pid), -ENOENT (no usable hierarchy), -ENAMETOOLONG.
 */
int ld_cgroup_of(pid_t pid, char *out, size_t len);
/*
 * The pure part of ld_cgroup_of, from the texts of /proc/PID/cgroup and of our
 * /proc/self/mountinfo. usable (may be NULL: all are) vets a candidate directory;
 * when it refuses, the next mount or hierarchy in the order above is tried.
 * Returns 0, -ENOENT, -ENAMETOOLONG, -EINVAL (malformed mountinfo), -ENOMEM.
 */
int ld_cgroup_resolve(const char *cgroup, const char *mountinfo, bool (*usable)(const char *dir), char *out,
		      size_t len);
/*
 * Every pid in cgroup directory dir (its cgroup.procs; not recursive), sorted.
 * Returns 0 with a malloc'ed array, -ENOENT if dir is not a cgroup, -errno.
 */
int ld_cgroup_procs(const char *dir, pid_t **out, size_t *n);

struct ld_container {
	char id[256];
	pid_t pid; /* init process, host pid namespace */
	char status[32]; /* "running", "paused", "stopped", "created" */
	char bundle[PATH_MAX];
	char rootfs[PATH_MAX];
};

/*
 * Parse the JSON an OCI runtime prints for `state ID` (runc and crun: "id",
 * "pid", "status", "bundle", "rootfs"). Returns 0, or -EINVAL when it is not such
 * an object or lacks id/pid/status.
 */
int ld_runtime_state_parse(const char *json, struct ld_container *c);
/*
 * Run `RUNTIME [--root ROOT] state ID` (runtime: "runc" or "crun", found in PATH;
 * root may be NULL) and parse its answer. Returns 0, -ENOENT (no such container:
 * the runtime said so), -ENOEXEC (the runtime is not installed), -ESRCH (the
 * container is not running or paused: no live init), -EINVAL (unparseable), -errno.
 * On failure, why (may be NULL) holds a one-line reason fit for the user.
 */
int ld_runtime_state(const char *runtime, const char *root, const char *id, struct ld_container *c,
		     char *why, size_t whylen);

#endif /* LETHE_LOADER_CONTAINER_H */
