/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * How a command names its sandbox: --pid, --container (OCI runtime state plus
 * the init's mounts and cgroup) or --cgroup. One resolver for serve and the
 * daemon clients, so they name sandboxes the same way.
 */
#ifndef LETHE_LOADER_TARGET_H
#define LETHE_LOADER_TARGET_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>
#include <json-c/json.h>
#include "lethe/lethe.h"

#define LD_TARGET_LAYERS_MAX 96 /* a runc container has ~25 mounts, most of them not rewound */
#define LD_TARGET_UNPROTECTED_MAX 32
#define LD_TARGET_PATH 1024

struct ld_target_opts {
	pid_t pid;
	const char *container;
	const char *runtime; /* "runc" (default) or "crun" */
	const char *runtime_root;
	const char *cgroup;	    /* a cgroup directory, absolute */
	const char *const *protect; /* paths as the target sees them */
	size_t nprotect;
};

struct ld_target_layer {
	enum lethe_layer_kind kind; /* LETHE_LAYER_NONE: a mount not rewound, paths below it unprotected */
	char path[LD_TARGET_PATH];
	char root[LD_TARGET_PATH];
	char lower[LD_TARGET_PATH];
};

struct ld_target {
	pid_t pid;
	char container[256];
	char cgroup[PATH_MAX]; /* "" when the sandbox is not named by cgroup */
	struct ld_target_layer layers[LD_TARGET_LAYERS_MAX];
	size_t nlayers;
	/* writable mounts no layer covers: reported as persistence points */
	char unprotected[LD_TARGET_UNPROTECTED_MAX][LD_TARGET_PATH];
	size_t nunprotected;
	/*
	 * Other processes of the cgroup at resolution (a container's sidecars, an init
	 * shim whose child is the runtime): kept across rewinds but not rewound, so
	 * reported as persistence points.
	 */
	pid_t kept[LD_TARGET_UNPROTECTED_MAX];
	size_t nkept;
	struct lethe_layer specs[LD_TARGET_LAYERS_MAX]; /* lethe_opts.layers, pointing into layers */
};

/*
 * The options that name a sandbox by container or cgroup, the same in every
 * command (getopt_long; --container and --cgroup also as -c and -g).
 */
enum { LD_OPT_RUNTIME = 0x100, LD_OPT_RUNTIME_ROOT };
/* clang-format off */
#define LD_TARGET_LONGOPTS \
	{ "container", required_argument, NULL, 'c' }, \
	{ "runtime", required_argument, NULL, LD_OPT_RUNTIME }, \
	{ "runtime-root", required_argument, NULL, LD_OPT_RUNTIME_ROOT }, \
	{ "cgroup", required_argument, NULL, 'g' }
/* clang-format on */

/* Take getopt result c with its argument into o; false if c is not one of these options. */
bool ld_target_opt(int c, const char *arg, struct ld_target_opts *o);
/*
 * Check what the options named, before anything runs: --runtime and
 * --runtime-root only with --container, a known runtime, absolute --cgroup and
 * --runtime-root, a container id that is no path or option. 0, or -EINVAL with
 * a one-line reason in why.
 */
int ld_target_opts_check(const struct ld_target_opts *o, char *why, size_t len);

/* Whether o names a sandbox some way (pid, container or cgroup). */
bool ld_target_named(const struct ld_target_opts *o);

/*
 * Resolve o. A container gives its init pid, its cgroup, an overlay layer per
 * writable overlay mount and a tmpfs layer per writable tmpfs, every other
 * writable mount as unprotected unless o->protect names it (then a dir layer
 * reached through /proc/PID/root). A cgroup gives the process whose parent is
 * outside it (-EINVAL if there is not exactly one, unless o->pid picks it). With
 * a container or cgroup, o->pid picks the process to rewind among its members
 * (-EINVAL if it is not one): the runtime under an init shim.
 * With layers false only the pid is wanted (rewind, report, release).
 * Returns 0 or -errno with a one-line reason in why: -ESRCH no such process,
 * -ENOENT no such container or cgroup, -ENOEXEC runtime not installed, -EINVAL.
 */
int ld_target_resolve(const struct ld_target_opts *o, bool layers, struct ld_target *t, char *why, size_t len);

/* The exit code for a failed resolve: 4 no such container/process/cgroup, 5 no runtime, 2 usage. */
int ld_target_exit(int err);

/* Add container, cgroup, layers (rewound ones) and unprotected mounts of t to object o. */
void ld_target_add_json(json_object *o, const struct ld_target *t);

/* Fill the layer and cgroup fields of lo from t (pointers into t). */
void ld_target_apply(struct ld_target *t, struct lethe_opts *lo);

#endif /* LETHE_LOADER_TARGET_H */
