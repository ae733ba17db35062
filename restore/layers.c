// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The sandbox's writable layers. A container's root is an overlayfs whose upper
 * dir we rewrite behind its back: overlayfs keeps dentries for names it looked
 * up (positive ones pointing at the upper inode we removed, negative ones where
 * we recreated a file), so after entries come or go we drop unused dentries and
 * then prove, through the target's own view of the tree, that it sees the
 * snapshot. A name it still holds open would fail that check and recycle.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#define LOG_PREFIX "layers: "
#include "loader/log.h"
#include "layers.h"

const char *lethe_layer_kind_str(enum lethe_layer_kind k)
{
	switch (k) {
	case LETHE_LAYER_DIR:
		return "dir";
	case LETHE_LAYER_OVERLAY:
		return "overlay";
	case LETHE_LAYER_TMPFS:
		return "tmpfs";
	case LETHE_LAYER_NONE:
		return "none";
	}
	return "unknown";
}

const char *lethe_file_action_str(enum lethe_file_action a)
{
	switch (a) {
	case LETHE_FILE_UNCHANGED:
		return "unchanged";
	case LETHE_FILE_RESTORED:
		return "restored";
	case LETHE_FILE_RECREATED:
		return "recreated";
	case LETHE_FILE_REMOVED:
		return "removed";
	case LETHE_FILE_UNPROTECTED:
		return "unprotected";
	case LETHE_FILE_FULL_DIFF:
		return "full_diff";
	}
	return "unknown";
}

/* If prefix is a component-wise prefix of path, the rest of path (no leading '/'). */
static const char *under(const char *prefix, const char *path)
{
	size_t n = strlen(prefix);

	if (!strcmp(prefix, "/"))
		return path[0] == '/' ? path + strspn(path, "/") : NULL;
	if (strncmp(prefix, path, n) || (path[n] && path[n] != '/'))
		return NULL;
	return path + n + strspn(path + n, "/");
}

static int add_layer(struct rs_layer_set *set, enum lethe_layer_kind kind, const char *path, const char *root,
		     const char *lower, const char *store)
{
	struct rs_sblayer *v = &set->v[set->n];
	int err;

	if (path[0] != '/')
		return -EINVAL;
	for (size_t i = 0; i < set->n; i++) {
		const char *r = under(set->v[i].path, path);

		/* nested is fine (a layer stops at mount points; the deepest one owns a path) */
		if (r && !*r) {
			pr_err("layer %s given twice", path);
			return -EINVAL;
		}
	}
	memset(v, 0, sizeof(*v));
	v->kind = kind;
	v->path = rs_path_dup_trimmed(path);
	v->lower = lower ? strdup(lower) : NULL;
	if (!v->path || (lower && !v->lower)) {
		free(v->path);
		free(v->lower);
		return -ENOMEM;
	}
	err = kind == LETHE_LAYER_NONE ? 0 : rs_layer_snapshot(root ? root : path, store, &v->snap);
	if (err) {
		free(v->path);
		free(v->lower);
		return err;
	}
	set->n++;
	pr_debug("layer %s (%s) at %s", v->path, lethe_layer_kind_str(kind), v->snap ? rs_layer_root(v->snap) : "-");
	return 0;
}

int rs_layers_take(struct rs_layer_set *set, const struct lethe_opts *o, pid_t pid, const char *store_base)
{
	size_t total = o->nprotect + o->nlayers;
	int err = 0;

	memset(set, 0, sizeof(*set));
	set->pid = pid;
	if (!total)
		return 0;
	set->v = calloc(total, sizeof(*set->v));
	if (!set->v)
		return -ENOMEM;
	if (mkdir(store_base, 0700) && errno != EEXIST)
		return -errno;
	for (size_t i = 0; i < total && !err; i++) {
		char store[PATH_MAX], *real = NULL;

		snprintf(store, sizeof(store), "%s/%d.%zu", store_base, (int)pid, i);
		if (i < o->nprotect) {
			/* a protected dir of a process in our mount namespace: seen where it is */
			real = realpath(o->protect[i], NULL);
			err = real ? add_layer(set, LETHE_LAYER_DIR, real, NULL, NULL, store) : -errno;
			if (!real)
				pr_err("cannot resolve %s: %s", o->protect[i], strerror(errno));
			free(real);
		} else {
			const struct lethe_layer *l = &o->layers[i - o->nprotect];

			err = l->path ? add_layer(set, l->kind, l->path, l->root, l->lower, store) : -EINVAL;
		}
	}
	if (err)
		rs_layers_free(set);
	return err;
}

void rs_layers_free(struct rs_layer_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		rs_layer_free(set->v[i].snap);
		free(set->v[i].path);
		free(set->v[i].lower);
	}
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

struct rs_sblayer *rs_layers_find(const struct rs_layer_set *set, const char *path, const char **rel)
{
	struct rs_sblayer *best = NULL;
	size_t best_len = 0;

	for (size_t i = 0; i < set->n; i++) {
		const char *r = under(set->v[i].path, path);
		size_t len = strlen(set->v[i].path);

		if (r && (!best || len > best_len)) {
			best = &set->v[i];
			best_len = len;
			if (rel)
				*rel = r;
		}
	}
	return best && best->kind != LETHE_LAYER_NONE ? best : NULL;
}

/* Unused dentries and inodes, system-wide: the only handle userspace has on overlayfs' cache. */
static int drop_dentries(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, "2\n", 2) != 2)
		err = -errno;
	close(fd);
	return err;
}

static bool is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

/*
 * What the merged view should show at rel: *exists, and when it does the type
 * and (regular files) size, from the upper dir, else the first lower dir that
 * has the name. Returns 0 or -errno.
 */
static int overlay_expect(const struct rs_sblayer *L, const char *rel, bool *exists, struct stat *want)
{
	char path[PATH_MAX];
	const char *p, *e;

	*exists = false;
	snprintf(path, sizeof(path), "%s/%s", rs_layer_root(L->snap), rel);
	if (!lstat(path, want)) {
		*exists = !is_whiteout(want);
		return 0;
	}
	if (errno != ENOENT && errno != ENOTDIR)
		return -errno;
	for (p = L->lower; p && *p; p = *e ? e + 1 : e) {
		e = strchr(p, '\n');
		if (!e)
			e = p + strlen(p);
		if (snprintf(path, sizeof(path), "%.*s/%s", (int)(e - p), p, rel) >= (int)sizeof(path))
			return -ENAMETOOLONG;
		if (!lstat(path, want)) {
			*exists = !is_whiteout(want);
			return 0;
		}
	}
	return 0;
}

/*
 * lstat of path (absolute) as the target sees it, from its root vroot, never
 * following a symlink it may have planted: returns 0, -ENOENT (absent or
 * unreachable without a symlink) or -errno.
 */
static int view_lstat(int vroot, const char *path, struct stat *st)
{
	const char *name;
	int pfd, err = 0;

	path += strspn(path, "/");
	pfd = rs_open_parent_at(vroot, path, &name);
	if (pfd < 0)
		return pfd == -ENOTDIR || pfd == -ELOOP || pfd == -EXDEV ? -ENOENT : pfd;
	if (fstatat(pfd, name, st, AT_SYMLINK_NOFOLLOW))
		err = -errno;
	close(pfd);
	return err;
}

/* Whether the target's view of path is what the layers say. */
static int overlay_check(int vroot, const struct rs_sblayer *L, const char *path, const char *rel)
{
	struct stat want, got;
	bool exists, there;
	int err;

	err = overlay_expect(L, rel, &exists, &want);
	if (err)
		return err;
	err = view_lstat(vroot, path, &got);
	there = !err;
	if (err && err != -ENOENT)
		return err;
	if (there != exists || (there && ((got.st_mode & S_IFMT) != (want.st_mode & S_IFMT) || !got.st_nlink ||
					  (S_ISREG(got.st_mode) && got.st_size != want.st_size)))) {
		pr_err("the merged view of %s still shows the request's version (%s): overlayfs holds it", path,
		       there ? (got.st_nlink ? "wrong file" : "a removed file") : "no file");
		return -ESTALE;
	}
	return 0;
}

static enum lethe_file_action action_of(enum rs_file_action a)
{
	switch (a) {
	case RS_FILE_UNCHANGED:
		return LETHE_FILE_UNCHANGED;
	case RS_FILE_RESTORED:
		return LETHE_FILE_RESTORED;
	case RS_FILE_RECREATED:
		return LETHE_FILE_RECREATED;
	case RS_FILE_REMOVED:
		return LETHE_FILE_REMOVED;
	}
	return LETHE_FILE_UNCHANGED;
}

static bool view_stat(int vroot, const char *path, struct stat *st)
{
	return view_lstat(vroot, path, st) == 0;
}

/* Whether a lower dir of overlay layer L has rel. */
static bool in_lower(const struct rs_sblayer *L, const char *rel)
{
	char path[PATH_MAX];
	struct stat st;
	const char *p, *e;

	for (p = L->lower; p && *p; p = *e ? e + 1 : e) {
		e = strchr(p, '\n');
		if (!e)
			e = p + strlen(p);
		if (snprintf(path, sizeof(path), "%.*s/%s", (int)(e - p), p, rel) >= (int)sizeof(path) ||
		    !lstat(path, &st) || errno != ENOENT)
			return true; /* or cannot tell: take the safe route */
	}
	return false;
}

/*
 * A new entry the request made where no lower layer has the name (or its new
 * parent): removing it through the target's merged view leaves the upper dir
 * just as removing it behind overlayfs' back would (no whiteout is needed), and
 * keeps overlayfs' dentries right, so no cache has to be dropped. Returns 1 when
 * done, 0 when the path needs the upper-dir route, -errno.
 */
static int overlay_remove_new(int vroot, struct rs_sblayer *L, const char *rel, enum rs_file_action *act)
{
	char a[PATH_MAX], vrel[PATH_MAX * 2], up[PATH_MAX * 2];
	const char *name, *slash = rel;
	struct stat st;
	int pfd, err;

	/* the first ancestor-or-self the snapshot lacks: everything below it is new too */
	for (;;) {
		slash = strchr(slash, '/');
		if ((size_t)(slash ? slash - rel : (long)strlen(rel)) >= sizeof(a))
			return 0;
		snprintf(a, sizeof(a), "%.*s", (int)(slash ? slash - rel : (long)strlen(rel)), rel);
		if (!rs_layer_has(L->snap, a))
			break;
		if (!slash)
			return 0; /* it existed: a restore, not a removal */
		slash++;
	}
	if (!*a || in_lower(L, a))
		return 0;
	snprintf(up, sizeof(up), "%s/%s", rs_layer_root(L->snap), a);
	if (lstat(up, &st)) {
		if (errno != ENOENT)
			return 0;
		*act = RS_FILE_UNCHANGED; /* made and removed by the request, or removed already */
		return 1;
	}
	if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0))
		return 0;
	snprintf(vrel, sizeof(vrel), "%s%s%s", L->path + strspn(L->path, "/"), strcmp(L->path, "/") ? "/" : "", a);
	pfd = rs_open_parent_at(vroot, vrel, &name);
	if (pfd < 0)
		return 0;
	err = rs_remove_at(pfd, name);
	close(pfd);
	if (err)
		return 0; /* what is left goes the upper-dir route */
	/* the parent's mtime moved; it existed at snapshot (a is its first new entry) */
	slash = strrchr(a, '/');
	if (slash)
		a[slash - a] = 0;
	else
		a[0] = 0;
	err = rs_layer_fix_dir(L->snap, a);
	if (err)
		return err;
	*act = RS_FILE_REMOVED;
	return 1;
}

static bool same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_mode == b->st_mode &&
	       a->st_size == b->st_size && a->st_uid == b->st_uid && a->st_gid == b->st_gid &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/*
 * What the target sees happened to each path: one restore can change several
 * paths (a removed new directory takes its subtree, a dropped overlay copy-up
 * brings the lower file back), so the verdict compares the target's view of the
 * path before and after, refined by what the layer did.
 */
static void refine_actions(int vroot, const struct ld_file *files, size_t nfiles, const struct stat *pre,
			   const bool *had, struct lethe_file_result *res)
{
	for (size_t i = 0; i < nfiles; i++) {
		struct stat post;
		bool has;

		if (res[i].action == LETHE_FILE_UNPROTECTED)
			continue;
		has = view_stat(vroot, files[i].path, &post);
		if (had[i] && !has)
			res[i].action = LETHE_FILE_REMOVED;
		else if (!had[i] && has)
			res[i].action = LETHE_FILE_RECREATED;
		else if (had[i] && has &&
			 (res[i].action == LETHE_FILE_REMOVED || res[i].action == LETHE_FILE_FULL_DIFF ||
			  (res[i].action == LETHE_FILE_UNCHANGED && !same_stat(&pre[i], &post))))
			res[i].action = LETHE_FILE_RESTORED;
		else if (!had[i] && !has && res[i].action != LETHE_FILE_FULL_DIFF)
			res[i].action = LETHE_FILE_UNCHANGED;
	}
}

int rs_layers_restore(struct rs_layer_set *set, const struct ld_file *files, size_t nfiles, bool full,
		      struct lethe_file_result *res, struct lethe_rewind_stats *st)
{
	struct stat *pre = calloc(nfiles + 1, sizeof(*pre));
	bool *had = calloc(nfiles + 1, sizeof(*had));
	bool *behind = calloc(nfiles + 1, sizeof(*behind)); /* changed behind overlayfs' back */
	bool flush = false;
	const char *rel;
	char vpath[64];
	int err = 0, vroot;

	snprintf(vpath, sizeof(vpath), "/proc/%d/root", (int)set->pid);
	vroot = open(vpath, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (!pre || !had || !behind || vroot < 0) {
		err = vroot < 0 ? -errno : -ENOMEM;
		free(pre);
		free(had);
		free(behind);
		if (vroot >= 0)
			close(vroot);
		st->reason = LETHE_REASON_FILES_FAILED;
		return err == -ENOENT ? -ENOTRECOVERABLE : err;
	}

	for (size_t i = 0; i < nfiles; i++) {
		res[i].path = files[i].path;
		res[i].ops = files[i].ops;
		res[i].action =
		    rs_layers_find(set, files[i].path, NULL) ? LETHE_FILE_UNCHANGED : LETHE_FILE_UNPROTECTED;
		if (res[i].action != LETHE_FILE_UNPROTECTED)
			had[i] = view_stat(vroot, files[i].path, &pre[i]);
	}
	st->files_full_diff = full && set->n;
	for (size_t l = 0; full && l < set->n; l++) {
		long n = set->v[l].snap ? rs_layer_restore_all(set->v[l].snap) : 0;

		if (n < 0) {
			err = (int)n;
			pr_err("full diff of %s failed: %s", set->v[l].path, strerror(-err));
			goto fail;
		}
		st->files_restored += n;
		flush |= n && set->v[l].kind == LETHE_LAYER_OVERLAY;
	}
	for (size_t i = 0; i < nfiles; i++) {
		struct rs_sblayer *L = rs_layers_find(set, files[i].path, &rel);
		enum rs_file_action a;

		if (!L)
			continue;
		if (full) {
			res[i].action = LETHE_FILE_FULL_DIFF;
			continue;
		}
		err = L->kind == LETHE_LAYER_OVERLAY ? overlay_remove_new(vroot, L, rel, &a) : 0;
		if (err == 0) {
			err = rs_layer_restore_path(L->snap, rel, &a);
			behind[i] = L->kind == LETHE_LAYER_OVERLAY && (a == RS_FILE_REMOVED || a == RS_FILE_RECREATED);
		}
		if (err < 0) {
			pr_err("cannot restore %s: %s", files[i].path, strerror(-err));
			goto fail;
		}
		res[i].action = action_of(a);
		st->files_restored += a != RS_FILE_UNCHANGED;
		flush |= behind[i];
	}
	if (!flush)
		goto done;
	{
		struct timespec a, b;

		clock_gettime(CLOCK_MONOTONIC, &a);
		err = drop_dentries();
		clock_gettime(CLOCK_MONOTONIC, &b);
		pr_debug("dropping dentries took %ld us",
			 (long)((b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000));
	}
	if (err) {
		pr_err("cannot drop overlayfs' dentries: %s", strerror(-err));
		goto fail;
	}
	st->dcache_flushed = true;
	for (size_t i = 0; i < nfiles; i++) {
		struct rs_sblayer *L = rs_layers_find(set, files[i].path, &rel);

		if (!L || L->kind != LETHE_LAYER_OVERLAY || !(behind[i] || full))
			continue;
		err = overlay_check(vroot, L, files[i].path, rel);
		if (err)
			goto fail;
	}
done:
	refine_actions(vroot, files, nfiles, pre, had, res);
	free(pre);
	free(had);
	free(behind);
	close(vroot);
	return 0;
fail:
	free(pre);
	free(had);
	free(behind);
	close(vroot);
	st->reason = LETHE_REASON_FILES_FAILED;
	return -ENOTRECOVERABLE;
}

long rs_layers_diff_count(struct rs_layer_set *set)
{
	long total = 0;

	for (size_t i = 0; i < set->n; i++) {
		long d = set->v[i].snap ? rs_layer_diff_count(set->v[i].snap) : 0;

		if (d < 0)
			return d;
		if (d)
			pr_err("verify: %ld paths of %s differ from the snapshot", d, set->v[i].path);
		total += d;
	}
	return total;
}
