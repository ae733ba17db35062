// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Writable layers: a sorted in-memory record of every path plus a copy of the file bytes,
 * so a rewind can put a path back in place (open fds keep working) or recreate it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#define LOG_PREFIX "files: "
#include "loader/log.h"
#include "files.h"

#define CHUNK (64 * 1024)

struct xa {
	char *name;
	void *val;
	size_t len;
};

struct xa_set {
	struct xa *v;
	size_t n;
};

struct ent {
	char *rel;
	mode_t mode; /* type and permission bits */
	uid_t uid;
	gid_t gid;
	off_t size;
	dev_t rdev;
	struct timespec atime, mtime;
	dev_t dev;	   /* of the original */
	ino_t ino;	   /* of the original */
	dev_t cur_dev;	   /* the inode that stands for this path now: the original or the */
	ino_t cur_ino;	   /* one the last recreate made */
	nlink_t nlink;
	char *target;	   /* symlink */
	struct xa_set xattrs;
	long link_next;	   /* circular list of the hard-link group, -1 if alone */
	long store;	   /* regular files: index of the group leader, names store file c<N> */
};

struct rs_layer {
	char *root;
	char *store_dir;
	int root_fd;  /* O_PATH */
	int store_fd; /* O_PATH */
	dev_t dev;    /* of the root: a layer is one filesystem, mounts below it are not its */
	struct ent *e;
	size_t n, cap;
};

enum { ST_SAME, ST_INPLACE, ST_RECREATE };

/* Order by path with '/' below every other byte, so a subtree follows its directory. */
static int path_cmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned int ca = (unsigned char)*a, cb = (unsigned char)*b;

		if (ca == cb) {
			if (!ca)
				return 0;
			continue;
		}
		if (!ca)
			return -1;
		if (!cb)
			return 1;
		ca = ca == '/' ? 1 : ca + 1;
		cb = cb == '/' ? 1 : cb + 1;
		return ca < cb ? -1 : 1;
	}
}

static int ent_cmp(const void *a, const void *b)
{
	return path_cmp(((const struct ent *)a)->rel, ((const struct ent *)b)->rel);
}

static bool is_under(const char *child, const char *dir)
{
	size_t len = strlen(dir);

	if (!len)
		return *child != 0;
	return !strncmp(child, dir, len) && child[len] == '/';
}

/* Index just past the snapshot subtree of entry i. */
static size_t subtree_end(const struct rs_layer *l, size_t i)
{
	size_t j = i + 1;

	while (j < l->n && is_under(l->e[j].rel, l->e[i].rel))
		j++;
	return j;
}

static struct ent *lookup(const struct rs_layer *l, const char *rel)
{
	struct ent key = { .rel = (char *)rel };

	return bsearch(&key, l->e, l->n, sizeof(*l->e), ent_cmp);
}

/* -------- xattrs, reached as /proc/self/fd/<dirfd>/<name> with the l*xattr calls -------- */

static void xa_free(struct xa_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].name);
		free(s->v[i].val);
	}
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static int xa_cmp(const void *a, const void *b)
{
	return strcmp(((const struct xa *)a)->name, ((const struct xa *)b)->name);
}

static void xa_path(char *buf, size_t size, int dirfd, const char *name)
{
	snprintf(buf, size, "/proc/self/fd/%d/%s", dirfd, name);
}

static int xa_read(int dirfd, const char *name, struct xa_set *out)
{
	char path[PATH_MAX + 32], *list = NULL;
	ssize_t len, vlen;
	int err = 0;

	out->v = NULL;
	out->n = 0;
	xa_path(path, sizeof(path), dirfd, name);
	for (;;) {
		len = llistxattr(path, NULL, 0);
		if (len < 0)
			return errno == ENOTSUP ? 0 : -errno;
		if (!len)
			return 0;
		free(list);
		list = malloc(len);
		if (!list)
			return -ENOMEM;
		len = llistxattr(path, list, len);
		if (len >= 0)
			break;
		if (errno != ERANGE) {
			free(list);
			return -errno;
		}
	}
	for (char *p = list; p < list + len; p += strlen(p) + 1) {
		struct xa *x, *v = realloc(out->v, (out->n + 1) * sizeof(*v));

		if (!v) {
			err = -ENOMEM;
			goto fail;
		}
		out->v = v;
		x = &v[out->n];
		x->name = strdup(p);
		x->val = NULL;
		x->len = 0;
		if (!x->name) {
			err = -ENOMEM;
			goto fail;
		}
		out->n++;
		for (;;) {
			vlen = lgetxattr(path, p, NULL, 0);
			if (vlen < 0) {
				err = -errno;
				goto fail;
			}
			free(x->val);
			x->val = malloc(vlen ? vlen : 1);
			if (!x->val) {
				err = -ENOMEM;
				goto fail;
			}
			vlen = lgetxattr(path, p, x->val, vlen);
			if (vlen >= 0)
				break;
			if (errno != ERANGE) {
				err = -errno;
				goto fail;
			}
		}
		x->len = vlen;
	}
	free(list);
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), xa_cmp);
	return 0;
fail:
	free(list);
	xa_free(out);
	return err;
}

static bool xa_equal(const struct xa_set *a, const struct xa_set *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		if (strcmp(a->v[i].name, b->v[i].name) || a->v[i].len != b->v[i].len ||
		    memcmp(a->v[i].val, b->v[i].val, a->v[i].len))
			return false;
	}
	return true;
}

/* Make the xattrs of dirfd/name equal to want, given what is there (cur). */
static int xa_apply(int dirfd, const char *name, const struct xa_set *cur, const struct xa_set *want)
{
	char path[PATH_MAX + 32];

	xa_path(path, sizeof(path), dirfd, name);
	for (size_t i = 0; i < cur->n; i++) {
		struct xa key = { .name = cur->v[i].name };

		if (want->n && bsearch(&key, want->v, want->n, sizeof(*want->v), xa_cmp))
			continue;
		if (lremovexattr(path, cur->v[i].name) && errno != ENODATA)
			return -errno;
	}
	for (size_t i = 0; i < want->n; i++) {
		struct xa *c = cur->n ? bsearch(&want->v[i], cur->v, cur->n, sizeof(*cur->v), xa_cmp) : NULL;

		if (c && c->len == want->v[i].len && !memcmp(c->val, want->v[i].val, c->len))
			continue;
		if (lsetxattr(path, want->v[i].name, want->v[i].val, want->v[i].len, 0))
			return -errno;
	}
	return 0;
}

/* -------- path resolution and file helpers -------- */

/*
 * Open the parent directory of rel below the root without crossing a symlink or leaving the
 * tree, and point *name at the last component ("." for the root). Returns an O_PATH fd.
 */
int rs_open_parent_at(int root_fd, const char *rel, const char **name)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	const char *slash = strrchr(rel, '/');
	char dir[PATH_MAX];
	int fd;

	if (!*rel) {
		*name = ".";
		fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
		return fd < 0 ? -errno : fd;
	}
	if (!slash) {
		*name = rel;
		strcpy(dir, ".");
	} else {
		if ((size_t)(slash - rel) >= sizeof(dir))
			return -ENAMETOOLONG;
		memcpy(dir, rel, slash - rel);
		dir[slash - rel] = 0;
		*name = slash + 1;
	}
	fd = syscall(SYS_openat2, root_fd, dir, &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

static int open_parent(const struct rs_layer *l, const char *rel, const char **name)
{
	return rs_open_parent_at(l->root_fd, rel, name);
}

/* A missing or non-directory ancestor, or a symlink on the way: nothing is at rel. */
static bool is_absent_err(int err)
{
	return err == -ENOENT || err == -ENOTDIR || err == -ELOOP || err == -EXDEV;
}

static int copy_fd(int in, int out)
{
	char *buf = NULL;
	ssize_t n, w;
	int err = 0;

	for (;;) {
		n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
		if (n == 0)
			return 0;
		if (n < 0)
			break;
	}
	if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP && errno != EPERM)
		return -errno;
	buf = malloc(CHUNK);
	if (!buf)
		return -ENOMEM;
	while ((n = read(in, buf, CHUNK)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		for (ssize_t off = 0; off < n; off += w) {
			w = write(out, buf + off, n - off);
			if (w < 0) {
				err = -errno;
				goto out;
			}
		}
	}
out:
	free(buf);
	return err;
}

static ssize_t read_full(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			break;
		got += n;
	}
	return got;
}

/* 1 when the two files hold the same bytes, 0 when not, or -errno. */
static int same_bytes(int a, int b)
{
	char *ba = malloc(CHUNK), *bb = malloc(CHUNK);
	ssize_t na, nb;
	int ret = -ENOMEM;

	if (!ba || !bb)
		goto out;
	for (;;) {
		na = read_full(a, ba, CHUNK);
		nb = read_full(b, bb, CHUNK);
		if (na < 0 || nb < 0) {
			ret = na < 0 ? na : nb;
			break;
		}
		if (na != nb || memcmp(ba, bb, na)) {
			ret = 0;
			break;
		}
		if (!na) {
			ret = 1;
			break;
		}
	}
out:
	free(ba);
	free(bb);
	return ret;
}

static int open_store(const struct rs_layer *l, const struct ent *e, int flags)
{
	char name[32];
	int fd;

	snprintf(name, sizeof(name), "c%ld", e->store);
	fd = openat(l->store_fd, name, flags | O_CLOEXEC | O_NOFOLLOW, 0600);
	return fd < 0 ? -errno : fd;
}

/* Remove dirfd/name, recursively for a directory, never following a symlink. */
static int rm_rf(int pfd, const char *name);

int rs_remove_at(int pfd, const char *name)
{
	return rm_rf(pfd, name);
}

static int rm_rf(int pfd, const char *name)
{
	struct dirent *de;
	struct stat st;
	int fd, err = 0;
	DIR *d;

	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(pfd, name, 0) && errno != ENOENT ? -errno : 0;
	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		err = -errno;
		close(fd);
		return err;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		err = rm_rf(dirfd(d), de->d_name);
		if (err)
			break;
	}
	closedir(d);
	if (err)
		return err;
	return unlinkat(pfd, name, AT_REMOVEDIR) && errno != ENOENT ? -errno : 0;
}

/* -------- snapshot -------- */

static int add_ent(struct rs_layer *l, const char *rel, int dirfd, const char *name, const struct stat *st)
{
	struct ent *e;
	int err;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct ent *v = realloc(l->e, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->e = v;
		l->cap = cap;
	}
	e = &l->e[l->n];
	memset(e, 0, sizeof(*e));
	e->rel = strdup(rel);
	if (!e->rel)
		return -ENOMEM;
	e->mode = st->st_mode;
	e->uid = st->st_uid;
	e->gid = st->st_gid;
	e->size = st->st_size;
	e->rdev = st->st_rdev;
	e->atime = st->st_atim;
	e->mtime = st->st_mtim;
	e->dev = e->cur_dev = st->st_dev;
	e->ino = e->cur_ino = st->st_ino;
	e->nlink = st->st_nlink;
	e->link_next = -1;
	e->store = -1;
	l->n++;
	if (S_ISLNK(st->st_mode)) {
		char buf[PATH_MAX];
		ssize_t n = readlinkat(dirfd, name, buf, sizeof(buf) - 1);

		if (n < 0)
			return -errno;
		buf[n] = 0;
		e->target = strdup(buf);
		if (!e->target)
			return -ENOMEM;
	}
	err = xa_read(dirfd, name, &e->xattrs);
	if (err)
		pr_err("cannot read xattrs of '%s': %s", rel, strerror(-err));
	return err;
}

static int join(char *out, size_t size, const char *dir, const char *name)
{
	int n = *dir ? snprintf(out, size, "%s/%s", dir, name) : snprintf(out, size, "%s", name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* A readdir stream over a fresh descriptor of dirfd (its offset is not shared). */
static int dir_stream(int dirfd, DIR **out)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	*out = fdopendir(fd);
	if (!*out) {
		close(fd);
		return -ENOMEM;
	}
	return fd;
}

static int walk_snapshot(struct rs_layer *l, int dirfd, const char *prefix)
{
	char rel[PATH_MAX];
	struct dirent *de;
	struct stat st;
	int fd, err = 0;
	DIR *d;

	fd = dir_stream(dirfd, &d);
	if (fd < 0)
		return fd;
	while (!err && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		err = join(rel, sizeof(rel), prefix, de->d_name);
		if (err)
			break;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW)) {
			err = -errno;
			break;
		}
		if (st.st_dev != l->dev)
			continue; /* a mount point: another layer, or none */
		err = add_ent(l, rel, dirfd, de->d_name, &st);
		if (err || !S_ISDIR(st.st_mode))
			continue;
		fd = openat(dirfd, de->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			err = -errno;
			break;
		}
		err = walk_snapshot(l, fd, rel);
		close(fd);
	}
	closedir(d);
	return err;
}

static int ino_cmp(const void *a, const void *b, void *arg)
{
	const struct ent *e = arg, *x = &e[*(const long *)a], *y = &e[*(const long *)b];

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return *(const long *)a < *(const long *)b ? -1 : 1;
}

/* Chain hard links of one inode into circular lists; all share the leader's store file. */
static int group_links(struct rs_layer *l)
{
	long *idx = malloc((l->n + 1) * sizeof(*idx));
	size_t k = 0;

	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < l->n; i++) {
		if (S_ISREG(l->e[i].mode)) {
			l->e[i].store = i;
			if (l->e[i].nlink > 1)
				idx[k++] = i;
		}
	}
	qsort_r(idx, k, sizeof(*idx), ino_cmp, l->e);
	for (size_t i = 0; i < k;) {
		size_t j = i + 1;

		while (j < k && l->e[idx[j]].ino == l->e[idx[i]].ino && l->e[idx[j]].dev == l->e[idx[i]].dev)
			j++;
		for (size_t m = i; j - i > 1 && m < j; m++) {
			l->e[idx[m]].link_next = idx[m + 1 < j ? m + 1 : i];
			l->e[idx[m]].store = idx[i];
		}
		i = j;
	}
	free(idx);
	return 0;
}

static int store_contents(struct rs_layer *l)
{
	for (size_t i = 0; i < l->n; i++) {
		struct ent *e = &l->e[i];
		const char *name;
		int pfd, in, out, err;
		struct stat st;

		if (!S_ISREG(e->mode) || e->store != (long)i)
			continue;
		pfd = open_parent(l, e->rel, &name);
		if (pfd < 0)
			return pfd;
		in = openat(pfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		err = in < 0 ? -errno : 0;
		close(pfd);
		if (err)
			return err;
		if (fstat(in, &st) || st.st_ino != e->ino || st.st_dev != e->dev) {
			close(in);
			return -EAGAIN;
		}
		out = open_store(l, e, O_WRONLY | O_CREAT | O_EXCL);
		if (out < 0) {
			close(in);
			return out;
		}
		err = copy_fd(in, out);
		close(in);
		close(out);
		if (err)
			return err;
	}
	return 0;
}

static void free_mem(struct rs_layer *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->e[i].rel);
		free(l->e[i].target);
		xa_free(&l->e[i].xattrs);
	}
	free(l->e);
	if (l->root_fd >= 0)
		close(l->root_fd);
	if (l->store_fd >= 0)
		close(l->store_fd);
	free(l->root);
	free(l->store_dir);
	free(l);
}

static bool proc_path(const char *p)
{
	return !strncmp(p, "/proc/", 6);
}

char *rs_path_dup_trimmed(const char *p)
{
	char *c = strdup(p);
	size_t n = c ? strlen(c) : 0;

	while (n > 1 && c[n - 1] == '/')
		c[--n] = 0;
	return c;
}

int rs_layer_snapshot(const char *root, const char *store_dir, struct rs_layer **out)
{
	struct rs_layer *l;
	bool made = false;
	struct stat st;
	int err;

	if (!root || !store_dir || !out)
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->root_fd = l->store_fd = -1;
	/* /proc/PID/root/... goes into another mount namespace: keep it as given */
	l->root = proc_path(root) ? rs_path_dup_trimmed(root) : realpath(root, NULL);
	l->store_dir = strdup(store_dir);
	if (!l->root || !l->store_dir) {
		err = l->root ? -ENOMEM : -errno;
		goto fail;
	}
	l->root_fd = open(l->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (l->root_fd < 0) {
		err = -errno;
		goto fail;
	}
	if (mkdir(store_dir, 0700)) {
		err = -errno;
		goto fail;
	}
	made = true;
	l->store_fd = open(store_dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (l->store_fd < 0) {
		err = -errno;
		goto fail;
	}
	if (!proc_path(root)) {
		/* a store inside the tree would be snapshotted, then removed as an extra */
		char *real = realpath(store_dir, NULL);

		err = !real ? -errno : rs_layer_contains(l, real, NULL) ? -EINVAL : 0;
		free(real);
		if (err)
			goto fail;
	}
	if (fstat(l->root_fd, &st)) {
		err = -errno;
		goto fail;
	}
	l->dev = st.st_dev;
	err = add_ent(l, "", l->root_fd, ".", &st);
	if (!err)
		err = walk_snapshot(l, l->root_fd, "");
	if (err)
		goto fail;
	qsort(l->e, l->n, sizeof(*l->e), ent_cmp);
	err = group_links(l);
	if (!err)
		err = store_contents(l);
	if (err)
		goto fail;
	pr_debug("snapshot of %s: %zu paths in %s", l->root, l->n, store_dir);
	*out = l;
	return 0;
fail:
	pr_err("cannot snapshot %s into %s: %s", root, store_dir, strerror(-err));
	if (made)
		rm_rf(AT_FDCWD, store_dir);
	free_mem(l);
	return err;
}

void rs_layer_free(struct rs_layer *l)
{
	int err;

	if (!l)
		return;
	err = rm_rf(AT_FDCWD, l->store_dir);
	if (err)
		pr_err("cannot remove %s: %s", l->store_dir, strerror(-err));
	free_mem(l);
}

const char *rs_layer_root(const struct rs_layer *l)
{
	return l->root;
}

bool rs_layer_contains(const struct rs_layer *l, const char *abs_path, const char **rel)
{
	size_t len = strlen(l->root);

	if (!abs_path || abs_path[0] != '/')
		return false;
	if (len == 1)
		len = 0; /* root "/" */
	if (strncmp(abs_path, l->root, len) || (abs_path[len] && abs_path[len] != '/'))
		return false;
	abs_path += len;
	while (*abs_path == '/')
		abs_path++;
	if (rel)
		*rel = abs_path;
	return true;
}

/* -------- compare and restore -------- */

/* Whether the inode at dirfd/name (stat st, already lstat'ed) equals e in place. */
static int same_inplace(const struct rs_layer *l, const struct ent *e, int dirfd, const char *name,
			const struct stat *st)
{
	struct xa_set cur;
	int err, in, sfd;

	if ((st->st_mode & 07777) != (e->mode & 07777) || st->st_uid != e->uid || st->st_gid != e->gid)
		return 0;
	if (!S_ISDIR(e->mode) && (st->st_mtim.tv_sec != e->mtime.tv_sec || st->st_mtim.tv_nsec != e->mtime.tv_nsec))
		return 0;
	if (S_ISREG(e->mode)) {
		if (st->st_size != e->size)
			return 0;
		in = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (in < 0)
			return -errno;
		sfd = open_store(l, e, O_RDONLY);
		if (sfd < 0) {
			close(in);
			return sfd;
		}
		err = same_bytes(in, sfd);
		close(in);
		close(sfd);
		if (err <= 0)
			return err;
	}
	err = xa_read(dirfd, name, &cur);
	if (err)
		return err;
	err = xa_equal(&cur, &e->xattrs);
	xa_free(&cur);
	return err;
}

/* ST_SAME, ST_INPLACE or ST_RECREATE for snapshot entry e, or -errno. */
static int classify(const struct rs_layer *l, const struct ent *e)
{
	const char *name;
	struct stat st;
	int pfd, err;

	pfd = open_parent(l, e->rel, &name);
	if (pfd < 0)
		return is_absent_err(pfd) ? ST_RECREATE : pfd;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW)) {
		err = errno == ENOENT ? ST_RECREATE : -errno;
		goto out;
	}
	if ((st.st_mode & S_IFMT) != (e->mode & S_IFMT) ||
	    (*e->rel && (st.st_ino != e->cur_ino || st.st_dev != e->cur_dev))) {
		err = ST_RECREATE;
		goto out;
	}
	if ((S_ISCHR(e->mode) || S_ISBLK(e->mode)) && st.st_rdev != e->rdev) {
		err = ST_RECREATE;
		goto out;
	}
	if (S_ISLNK(e->mode)) {
		char buf[PATH_MAX];
		ssize_t n = readlinkat(pfd, name, buf, sizeof(buf) - 1);

		if (n < 0) {
			err = -errno;
			goto out;
		}
		buf[n] = 0;
		if (strcmp(buf, e->target)) {
			err = ST_RECREATE;
			goto out;
		}
	}
	err = same_inplace(l, e, pfd, name, &st);
	if (err >= 0)
		err = err ? ST_SAME : ST_INPLACE;
out:
	close(pfd);
	return err;
}

/* Bring dirfd/name (of e's type, the inode e->cur_ino) to e's content and metadata. */
static int fix_inplace(const struct rs_layer *l, struct ent *e, int dirfd, const char *name)
{
	struct timespec ts[2] = { e->atime, e->mtime };
	struct stat st = { 0 };
	struct xa_set cur;
	int err, fd, sfd;

	if (S_ISREG(e->mode)) {
		fd = openat(dirfd, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		sfd = open_store(l, e, O_RDONLY);
		err = sfd;
		if (sfd >= 0 && (fstat(fd, &st) || !S_ISREG(st.st_mode)))
			err = -EAGAIN;
		if (err >= 0 && (st.st_size != e->size || (err = same_bytes(fd, sfd)) == 0)) {
			if (lseek(fd, 0, SEEK_SET) || lseek(sfd, 0, SEEK_SET) || ftruncate(fd, 0))
				err = -errno;
			else
				err = copy_fd(sfd, fd);
		}
		if (sfd >= 0)
			close(sfd);
		close(fd);
		if (err < 0)
			return err;
	}
	if (fchownat(dirfd, name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW))
		return -errno;
	if (!S_ISLNK(e->mode) && fchmodat(dirfd, name, e->mode & 07777, AT_SYMLINK_NOFOLLOW))
		return -errno;
	err = xa_read(dirfd, name, &cur);
	if (err)
		return err;
	err = xa_apply(dirfd, name, &cur, &e->xattrs);
	xa_free(&cur);
	if (err)
		return err;
	if (utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW))
		return -errno;
	return 0;
}

/* Another name of e's hard-link group that holds the group's current inode, or NULL. */
static struct ent *live_link(const struct rs_layer *l, const struct ent *e)
{
	for (long i = e->link_next; i >= 0 && &l->e[i] != e; i = l->e[i].link_next) {
		struct ent *o = &l->e[i];
		int st8 = classify(l, o);

		if (st8 >= 0 && st8 != ST_RECREATE)
			return o;
	}
	return NULL;
}

/* Create e at dirfd/name (nothing is there) and bring it to its snapshot state. */
static int create_one(struct rs_layer *l, struct ent *e, int dirfd, const char *name)
{
	struct ent *o = S_ISREG(e->mode) ? live_link(l, e) : NULL;
	struct stat st;
	int err = 0, fd;

	if (o) {
		const char *oname;
		int ofd = open_parent(l, o->rel, &oname);

		if (ofd < 0)
			return ofd;
		if (linkat(ofd, oname, dirfd, name, 0))
			err = -errno;
		close(ofd);
	} else if (S_ISREG(e->mode)) {
		fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
		close(fd);
	} else if (S_ISDIR(e->mode)) {
		err = mkdirat(dirfd, name, 0700) ? -errno : 0;
	} else if (S_ISLNK(e->mode)) {
		err = symlinkat(e->target, dirfd, name) ? -errno : 0;
	} else {
		err = mknodat(dirfd, name, (e->mode & S_IFMT) | 0600, e->rdev) ? -errno : 0;
	}
	if (err)
		return err;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW))
		return -errno;
	e->cur_dev = st.st_dev;
	e->cur_ino = st.st_ino;
	/* a new inode for the group: the other names now stand for it too */
	for (long i = e->link_next; !o && i >= 0 && &l->e[i] != e; i = l->e[i].link_next) {
		l->e[i].cur_dev = st.st_dev;
		l->e[i].cur_ino = st.st_ino;
	}
	return fix_inplace(l, e, dirfd, name);
}

/* Recreate entry i, with its snapshot subtree for a directory. */
static int recreate(struct rs_layer *l, size_t i)
{
	size_t end = subtree_end(l, i);
	const char *name;
	int pfd, err;

	if (!*l->e[i].rel)
		return -EBUSY; /* the root is the layer itself */
	pfd = open_parent(l, l->e[i].rel, &name);
	if (pfd < 0)
		return pfd;
	err = rm_rf(pfd, name);
	if (!err)
		err = create_one(l, &l->e[i], pfd, name);
	close(pfd);
	for (size_t j = i + 1; !err && j < end; j++) {
		pfd = open_parent(l, l->e[j].rel, &name);
		if (pfd < 0)
			return pfd;
		err = create_one(l, &l->e[j], pfd, name);
		close(pfd);
	}
	/* entries made inside a directory moved its mtime: set directory times last */
	for (size_t j = end; !err && j-- > i;) {
		struct timespec ts[2] = { l->e[j].atime, l->e[j].mtime };

		if (!S_ISDIR(l->e[j].mode))
			continue;
		pfd = open_parent(l, l->e[j].rel, &name);
		if (pfd < 0)
			return pfd;
		err = utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
		close(pfd);
	}
	if (err)
		pr_err("cannot recreate '%s': %s", l->e[i].rel, strerror(-err));
	return err;
}

/* Act on entry i classified as state (ST_INPLACE or ST_RECREATE). */
static int restore_ent(struct rs_layer *l, size_t i, int state)
{
	const char *name;
	int pfd, err;

	pr_debug("restore '%s' %s", l->e[i].rel, state == ST_INPLACE ? "in place" : "by recreating");
	if (state == ST_RECREATE)
		return recreate(l, i);
	pfd = open_parent(l, l->e[i].rel, &name);
	if (pfd < 0)
		return pfd;
	err = fix_inplace(l, &l->e[i], pfd, name);
	close(pfd);
	if (err)
		pr_err("cannot restore '%s' in place: %s", l->e[i].rel, strerror(-err));
	return err;
}

/* Canonical form of rel into out: no empty or "." components; -EINVAL for ".." or "/...". */
static int canon(const char *rel, char *out, size_t size)
{
	size_t len = 0;

	if (!rel || rel[0] == '/')
		return -EINVAL;
	while (*rel) {
		size_t n = strcspn(rel, "/");

		if (n == 2 && !strncmp(rel, "..", 2))
			return -EINVAL;
		if (n && !(n == 1 && rel[0] == '.')) {
			if (len + n + 2 > size)
				return -ENAMETOOLONG;
			if (len)
				out[len++] = '/';
			memcpy(out + len, rel, n);
			len += n;
		}
		rel += n;
		while (*rel == '/')
			rel++;
	}
	out[len] = 0;
	return 0;
}

/*
 * Put the metadata (times, xattrs, mode, owner) of directory entry e back when its
 * inode survived: a create or unlink below it moved its mtime, and an overlayfs
 * copy-up below it may have marked it (trusted.overlay.impure).
 */
static int fix_dir_meta(struct rs_layer *l, struct ent *e)
{
	const char *name;
	int pfd, err;

	if (!*e->rel)
		return fix_inplace(l, e, l->root_fd, ".");
	/* classify ignores a directory's mtime, which every create or unlink below it moves */
	if (classify(l, e) == ST_RECREATE)
		return 0;
	pfd = open_parent(l, e->rel, &name);
	if (pfd < 0)
		return pfd;
	err = fix_inplace(l, e, pfd, name);
	close(pfd);
	return err;
}

/* Remove path (not in the snapshot) if it exists; *gone says whether it did. */
static int remove_extra(struct rs_layer *l, const char *path, bool *gone)
{
	const char *name;
	struct stat st;
	int pfd, err = 0;

	*gone = false;
	pfd = open_parent(l, path, &name);
	if (pfd < 0)
		return is_absent_err(pfd) ? 0 : pfd;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW)) {
		err = errno == ENOENT ? 0 : -errno;
	} else {
		pr_debug("remove '%s'", path);
		*gone = true;
		err = rm_rf(pfd, name);
	}
	close(pfd);
	return err;
}

int rs_layer_restore_path(struct rs_layer *l, const char *rel, enum rs_file_action *act)
{
	enum rs_file_action done = RS_FILE_UNCHANGED;
	char path[PATH_MAX];
	struct ent *e, *parent;
	bool gone;
	int err, st8;

	if (act)
		*act = RS_FILE_UNCHANGED;
	err = canon(rel, path, sizeof(path));
	if (err)
		return err;
	parent = lookup(l, "");
	if (!parent)
		return -EIO;
	/*
	 * Ancestors first: each one that was a directory must be that directory again.
	 * The first one the snapshot does not know is new as a whole (e.g. the parents
	 * overlayfs made in the upper dir for a copy-up): it goes with its subtree.
	 */
	for (char *s = strchr(path, '/'); s; s = strchr(s + 1, '/')) {
		*s = 0;
		e = lookup(l, path);
		if (!e) {
			err = remove_extra(l, path, &gone);
			*s = '/';
			if (err)
				return err;
			if (gone)
				done = RS_FILE_REMOVED;
			goto out;
		}
		st8 = classify(l, e);
		*s = '/';
		if (st8 < 0)
			return st8;
		if (!S_ISDIR(e->mode)) {
			/* not a directory at snapshot: putting it back removes what is below */
			if (st8 != ST_SAME) {
				done = st8 == ST_RECREATE ? RS_FILE_RECREATED : RS_FILE_RESTORED;
				err = restore_ent(l, e - l->e, st8);
				if (err)
					return err;
			}
			goto out;
		}
		if (st8 == ST_RECREATE) {
			err = restore_ent(l, e - l->e, st8);
			if (err)
				return err;
			done = RS_FILE_RECREATED;
		}
		parent = e;
	}
	e = lookup(l, path);
	if (e) {
		st8 = classify(l, e);
		if (st8 < 0)
			return st8;
		if (st8 != ST_SAME) {
			done = st8 == ST_RECREATE ? RS_FILE_RECREATED : RS_FILE_RESTORED;
			err = restore_ent(l, e - l->e, st8);
			if (err)
				return err;
		}
	} else {
		err = remove_extra(l, path, &gone);
		if (err)
			return err;
		if (gone)
			done = RS_FILE_REMOVED;
	}
out:
	if (done != RS_FILE_UNCHANGED && parent && S_ISDIR(parent->mode)) {
		err = fix_dir_meta(l, parent);
		if (err)
			return err;
	}
	if (act)
		*act = done;
	return 0;
}

bool rs_layer_has(const struct rs_layer *l, const char *rel)
{
	char path[PATH_MAX];

	return !canon(rel, path, sizeof(path)) && lookup(l, path);
}

int rs_layer_fix_dir(struct rs_layer *l, const char *rel)
{
	char path[PATH_MAX];
	struct ent *e;
	int err = canon(rel, path, sizeof(path));

	if (err)
		return err;
	e = lookup(l, path);
	if (!e || !S_ISDIR(e->mode))
		return -ENOENT;
	return fix_dir_meta(l, e);
}

const char *rs_file_action_str(enum rs_file_action a)
{
	switch (a) {
	case RS_FILE_UNCHANGED:
		return "unchanged";
	case RS_FILE_RESTORED:
		return "restored";
	case RS_FILE_RECREATED:
		return "recreated";
	case RS_FILE_REMOVED:
		return "removed";
	}
	return "unknown";
}

/* Live entries below dirfd (path prefix) the snapshot does not know: count, and remove if fix. */
static bool mount_point(const struct rs_layer *l, int dirfd, const char *name)
{
	struct stat st;

	return !fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) && st.st_dev != l->dev;
}

static long walk_extras(struct rs_layer *l, int pfd, const char *prefix, const unsigned char *skip, bool fix)
{
	char rel[PATH_MAX];
	struct dirent *de;
	long count = 0, n = 0;
	struct ent *e;
	int fd;
	DIR *d;

	fd = dir_stream(pfd, &d);
	if (fd < 0)
		return fd;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		n = join(rel, sizeof(rel), prefix, de->d_name);
		if (n)
			break;
		if (mount_point(l, dirfd(d), de->d_name))
			continue;
		e = lookup(l, rel);
		if (!e) {
			count++;
			pr_debug("'%s' is new", rel);
			if (fix) {
				pr_debug("remove '%s'", rel);
				n = rm_rf(dirfd(d), de->d_name);
				if (n)
					break;
			}
			continue;
		}
		if (!S_ISDIR(e->mode) || skip[e - l->e])
			continue;
		fd = openat(dirfd(d), de->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue; /* not a directory now: counted with the snapshot entries */
		n = walk_extras(l, fd, rel, skip, fix);
		close(fd);
		if (n < 0)
			break;
		count += n;
	}
	closedir(d);
	return n < 0 ? n : count;
}

static long diff(struct rs_layer *l, bool fix)
{
	unsigned char *skip = calloc(l->n ? l->n : 1, 1);
	long count = 0, err = 0;
	int st8;

	if (!skip)
		return -ENOMEM;
	for (size_t i = 0; i < l->n; i++) {
		st8 = classify(l, &l->e[i]);
		if (st8 < 0) {
			err = st8;
			break;
		}
		if (st8 == ST_SAME)
			continue;
		count++;
		pr_debug("'%s' differs (%s)", l->e[i].rel, st8 == ST_RECREATE ? "gone or replaced" : "content or metadata");
		if (fix) {
			err = restore_ent(l, i, st8);
			if (err)
				break;
		}
		if (st8 == ST_RECREATE) {
			size_t end = subtree_end(l, i);

			memset(skip + i, 1, end - i);
			i = end - 1;
		}
	}
	if (!err)
		err = walk_extras(l, l->root_fd, "", skip, fix);
	free(skip);
	return err < 0 ? err : count + err;
}

long rs_layer_restore_all(struct rs_layer *l)
{
	return diff(l, true);
}

long rs_layer_diff_count(struct rs_layer *l)
{
	return diff(l, false);
}
