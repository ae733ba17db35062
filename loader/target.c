// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Naming a sandbox: a pid, a container (through its OCI runtime) or a cgroup,
 * turned into the pid to checkpoint, its writable layers and its cgroup.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "container.h"
#include "target.h"
#include "restore/procfs.h"

static int why_set(char *why, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return err;
}

bool ld_target_opt(int c, const char *arg, struct ld_target_opts *o)
{
	switch (c) {
	case 'c':
		o->container = arg;
		return true;
	case 'g':
		o->cgroup = arg;
		return true;
	case LD_OPT_RUNTIME:
		o->runtime = arg;
		return true;
	case LD_OPT_RUNTIME_ROOT:
		o->runtime_root = arg;
		return true;
	}
	return false;
}

int ld_target_opts_check(const struct ld_target_opts *o, char *why, size_t len)
{
	if ((o->runtime || o->runtime_root) && !o->container)
		return why_set(why, len, -EINVAL, "--runtime and --runtime-root go with --container");
	if (o->runtime && strcmp(o->runtime, "runc") && strcmp(o->runtime, "crun"))
		return why_set(why, len, -EINVAL, "unknown runtime '%s' (runc, crun)", o->runtime);
	if ((o->cgroup && o->cgroup[0] != '/') || (o->runtime_root && o->runtime_root[0] != '/'))
		return why_set(why, len, -EINVAL, "--cgroup and --runtime-root want absolute paths");
	if (o->container && (!o->container[0] || strlen(o->container) >= sizeof(((struct ld_target *)0)->container) ||
			     o->container[0] == '-' || strchr(o->container, '/')))
		return why_set(why, len, -EINVAL, "bad container id '%s'", o->container);
	return 0;
}

bool ld_target_named(const struct ld_target_opts *o)
{
	return o->pid > 0 || o->container || o->cgroup;
}

static bool protected_path(const struct ld_target_opts *o, const char *path)
{
	for (size_t i = 0; i < o->nprotect; i++)
		if (!strcmp(o->protect[i], path))
			return true;
	return false;
}

static int add_layer(struct ld_target *t, enum lethe_layer_kind kind, const char *path, const char *root,
		     const char *lower)
{
	struct ld_target_layer *l;

	if (t->nlayers == LD_TARGET_LAYERS_MAX)
		return -E2BIG;
	l = &t->layers[t->nlayers++];
	l->kind = kind;
	if (strlen(path) >= sizeof(l->path) || strlen(root) >= sizeof(l->root) ||
	    (lower && strlen(lower) >= sizeof(l->lower))) {
		t->nlayers--;
		return -ENAMETOOLONG;
	}
	strcpy(l->path, path);
	strcpy(l->root, root);
	strcpy(l->lower, lower ? lower : "");
	return 0;
}

/* Layers and unprotected mounts from the target's mount table. */
static int mount_layers(const struct ld_target_opts *o, struct ld_target *t, char *why, size_t len)
{
	struct ld_mount *m;
	size_t n;
	int err = ld_mountinfo_read(t->pid, &m, &n);

	if (err)
		return why_set(why, len, err, "cannot read the mounts of pid %d: %s", t->pid, strerror(-err));
	for (size_t i = 0; i < n && !err; i++) {
		enum ld_mount_class cls;
		char via[PATH_MAX * 2];

		/* a later mount on the same point hides the earlier one */
		bool hidden = false;

		for (size_t j = i + 1; j < n; j++)
			hidden |= !strcmp(m[j].path, m[i].path);
		if (hidden)
			continue;
		snprintf(via, sizeof(via), "/proc/%d/root%s", t->pid, strcmp(m[i].path, "/") ? m[i].path : "");
		cls = m[i].cls;
		if (cls == LD_MNT_TMPFS || cls == LD_MNT_UNPROTECTED) {
			struct stat st;

			/*
			 * A file bind: a device node (runc masks /proc paths with /dev/null)
			 * holds nothing; a writable file (resolv.conf, hosts) is a
			 * persistence point no directory snapshot can cover.
			 */
			if (stat(via, &st) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
				continue;
			if (!S_ISDIR(st.st_mode))
				cls = LD_MNT_UNPROTECTED;
		}
		switch (cls) {
		case LD_MNT_OVERLAY:
			if (!m[i].upper[0]) {
				err = why_set(why, len, -EINVAL, "overlay at %s has no upper dir", m[i].path);
				break;
			}
			err = add_layer(t, LETHE_LAYER_OVERLAY, m[i].path, m[i].upper, m[i].lowers);
			break;
		case LD_MNT_TMPFS:
			err = add_layer(t, LETHE_LAYER_TMPFS, m[i].path, via, NULL);
			break;
		case LD_MNT_UNPROTECTED:
			if (protected_path(o, m[i].path)) {
				err = add_layer(t, LETHE_LAYER_DIR, m[i].path, via, NULL);
				break;
			}
			if (t->nunprotected < LD_TARGET_UNPROTECTED_MAX && strlen(m[i].path) < LD_TARGET_PATH)
				strcpy(t->unprotected[t->nunprotected++], m[i].path);
			/* below it, nothing belongs to an enclosing layer */
			__attribute__((fallthrough));
		case LD_MNT_IGNORED:
			if (strcmp(m[i].path, "/"))
				err = add_layer(t, LETHE_LAYER_NONE, m[i].path, "", NULL);
			break;
		}
	}
	/* --protect of a path that is no mount of its own: a directory of some layer */
	for (size_t p = 0; p < o->nprotect && !err; p++) {
		bool found = false;
		char via[PATH_MAX * 2];

		for (size_t i = 0; i < t->nlayers; i++)
			found |= !strcmp(t->layers[i].path, o->protect[p]);
		if (found)
			continue;
		if (o->protect[p][0] != '/') {
			err = why_set(why, len, -EINVAL, "--protect %s: not an absolute path", o->protect[p]);
			break;
		}
		snprintf(via, sizeof(via), "/proc/%d/root%s", t->pid, o->protect[p]);
		err = add_layer(t, LETHE_LAYER_DIR, o->protect[p], via, NULL);
	}
	free(m);
	if (err == -E2BIG)
		why_set(why, len, err, "pid %d has more than %d writable mounts", t->pid, LD_TARGET_LAYERS_MAX);
	return err;
}

/* The one process of a cgroup whose parent is outside it: the sandbox's root. */
static int cgroup_root(const char *cg, pid_t *out, char *why, size_t len)
{
	pid_t *v, root = 0;
	size_t n, roots = 0;
	int err = ld_cgroup_procs(cg, &v, &n);

	if (err)
		return why_set(why, len, err, "cannot list cgroup %s: %s", cg, strerror(-err));
	for (size_t i = 0; i < n; i++) {
		pid_t pp = 0;
		bool inside = false;

		if (rs_proc_stat(v[i], NULL, &pp))
			continue;
		for (size_t j = 0; j < n; j++)
			inside |= v[j] == pp;
		if (!inside) {
			root = v[i];
			roots++;
		}
	}
	free(v);
	if (!roots)
		return why_set(why, len, -EINVAL, "cgroup %s has no process", cg);
	if (roots > 1)
		return why_set(why, len, -EINVAL, "cgroup %s has %zu process trees: name the root with --pid", cg,
			       roots);
	*out = root;
	return 0;
}

int ld_target_resolve(const struct ld_target_opts *o, bool layers, struct ld_target *t, char *why, size_t len)
{
	pid_t init;
	int err;

	memset(t, 0, sizeof(*t));
	if (why && len)
		why[0] = 0;
	init = 0;
	if (o->container) {
		struct ld_container c;
		const char *rt = o->runtime ? o->runtime : "runc";

		err = ld_runtime_state(rt, o->runtime_root, o->container, &c, why, len);
		if (err)
			return err;
		/* with --pid: a process of the container other than its init (under a shim) */
		init = c.pid;
		t->pid = o->pid > 0 ? o->pid : c.pid;
		snprintf(t->container, sizeof(t->container), "%s", c.id);
	} else if (o->pid > 0) {
		t->pid = o->pid;
	} else if (o->cgroup) {
		err = cgroup_root(o->cgroup, &t->pid, why, len);
		if (err)
			return err;
	} else {
		return why_set(why, len, -EINVAL, "name the sandbox with --pid, --container or --cgroup");
	}
	if (kill(t->pid, 0) && errno == ESRCH)
		return why_set(why, len, -ESRCH, "no such process %d", t->pid);
	if (o->cgroup) {
		snprintf(t->cgroup, sizeof(t->cgroup), "%s", o->cgroup);
	} else if (o->container) {
		/* the container's cgroup is its init's: a --pid outside it must not define it */
		err = ld_cgroup_of(init, t->cgroup, sizeof(t->cgroup));
		if (err)
			return why_set(why, len, err, "cannot find the cgroup of %d: %s", init, strerror(-err));
	}
	if (o->pid > 0 && (o->container || o->cgroup)) {
		pid_t *v;
		size_t n;
		bool in = false;

		err = ld_cgroup_procs(t->cgroup, &v, &n);
		for (size_t i = 0; !err && i < n; i++)
			in |= v[i] == o->pid;
		if (!err)
			free(v);
		if (!err && !in)
			return why_set(why, len, -EINVAL, "pid %d is not in %s %s", o->pid,
				       o->container ? "container" : "cgroup", o->container ? o->container : o->cgroup);
	}
	if (t->cgroup[0]) {
		pid_t *v;
		size_t n;

		err = ld_cgroup_procs(t->cgroup, &v, &n);
		if (err)
			return why_set(why, len, err, "cannot list cgroup %s: %s", t->cgroup, strerror(-err));
		for (size_t i = 0; i < n; i++)
			if (v[i] != t->pid && t->nkept < LD_TARGET_UNPROTECTED_MAX)
				t->kept[t->nkept++] = v[i];
		free(v);
	}
	if (layers && o->container)
		return mount_layers(o, t, why, len);
	return 0;
}

void ld_target_apply(struct ld_target *t, struct lethe_opts *lo)
{
	for (size_t i = 0; i < t->nlayers; i++) {
		t->specs[i] = (struct lethe_layer){
		    .kind = t->layers[i].kind,
		    .path = t->layers[i].path,
		    .root = t->layers[i].root,
		    .lower = t->layers[i].lower[0] ? t->layers[i].lower : NULL,
		};
	}
	lo->layers = t->specs;
	lo->nlayers = t->nlayers;
	lo->cgroup = t->cgroup[0] ? t->cgroup : NULL;
}

int ld_target_exit(int err)
{
	switch (-err) {
	case 0:
		return LD_EXIT_OK;
	case ENOENT:
	case ESRCH:
		return LD_EXIT_NOPROC;
	case ENOEXEC:
	case EOPNOTSUPP:
		return LD_EXIT_UNSUPPORTED;
	case EINVAL:
		return LD_EXIT_USAGE;
	case EPERM:
	case EACCES:
		return LD_EXIT_PERM;
	default:
		return LD_EXIT_FAIL;
	}
}

void ld_target_add_json(json_object *o, const struct ld_target *t)
{
	json_object *ls = json_object_new_array(), *un = json_object_new_array();

	if (t->container[0])
		json_object_object_add(o, "container", json_object_new_string(t->container));
	if (t->cgroup[0])
		json_object_object_add(o, "cgroup", json_object_new_string(t->cgroup));
	for (size_t i = 0; i < t->nlayers; i++) {
		json_object *l;

		if (t->layers[i].kind == LETHE_LAYER_NONE)
			continue; /* mounts that are not rewound: the writable ones are "unprotected" */
		l = json_object_new_object();
		json_object_object_add(l, "path", json_object_new_string(t->layers[i].path));
		json_object_object_add(l, "kind", json_object_new_string(lethe_layer_kind_str(t->layers[i].kind)));
		json_object_object_add(l, "root", json_object_new_string(t->layers[i].root));
		json_object_array_add(ls, l);
	}
	for (size_t i = 0; i < t->nunprotected; i++)
		json_object_array_add(un, json_object_new_string(t->unprotected[i]));
	json_object_object_add(o, "layers", ls);
	json_object_object_add(o, "unprotected", un);
	if (t->cgroup[0]) {
		json_object *kp = json_object_new_array();

		for (size_t i = 0; i < t->nkept; i++)
			json_object_array_add(kp, json_object_new_int(t->kept[i]));
		json_object_object_add(o, "kept_processes", kp);
	}
}
