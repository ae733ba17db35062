// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fd table snapshot from /proc and its diff against the checkpoint. No ptrace here: the caller
 * stops the target and injects the close/dup2/lseek/fcntl calls the plan names.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fds.h"

/* Status flags F_SETFL can change (the kernel's SETFL_MASK). */
#define RS_FD_SETFL_MASK (O_APPEND | O_ASYNC | O_DIRECT | O_NOATIME | O_NONBLOCK)

static bool has_prefix(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

int rs_fdtable_parse_fdinfo(const char *text, uint64_t *pos, int *flags, unsigned int *mnt_id)
{
	bool have_pos = false, have_flags = false;
	const char *p = text;

	while (*p) {
		const char *nl = strchr(p, '\n');
		unsigned long long v;
		char *end;

		if (has_prefix(p, "pos:")) {
			errno = 0;
			v = strtoull(p + 4, &end, 10);
			if (errno || end == p + 4 || (*end && *end != '\n'))
				return -EINVAL;
			if (pos)
				*pos = v;
			have_pos = true;
		} else if (has_prefix(p, "flags:")) {
			errno = 0;
			v = strtoull(p + 6, &end, 8);
			if (errno || end == p + 6 || (*end && *end != '\n') || v > 0x7fffffff)
				return -EINVAL;
			if (flags)
				*flags = (int)v;
			have_flags = true;
		} else if (has_prefix(p, "mnt_id:")) {
			errno = 0;
			v = strtoull(p + 7, &end, 10);
			if (!errno && end != p + 7 && mnt_id)
				*mnt_id = (unsigned int)v;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	return have_pos && have_flags ? 0 : -EINVAL;
}

enum rs_fd_kind rs_fd_kind_of(const char *target, unsigned int mode)
{
	if (has_prefix(target, "pipe:["))
		return RS_FD_PIPE;
	if (has_prefix(target, "socket:["))
		return RS_FD_SOCKET;
	if (has_prefix(target, "anon_inode:"))
		return RS_FD_ANON;
	if (has_prefix(target, "/memfd:"))
		return RS_FD_MEMFD;
	switch (mode & S_IFMT) {
	case S_IFREG:
		return RS_FD_FILE;
	case S_IFDIR:
		return RS_FD_DIR;
	case S_IFCHR:
	case S_IFBLK:
		return RS_FD_DEV;
	case S_IFIFO:
		return RS_FD_PIPE;
	case S_IFSOCK:
		return RS_FD_SOCKET;
	}
	return RS_FD_OTHER;
}

static int fdtable_push(struct rs_fdtable *t, struct rs_fd **slot)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct rs_fd *nv = realloc(t->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		t->v = nv;
		t->cap = cap;
	}
	*slot = &t->v[t->n];
	memset(*slot, 0, sizeof(**slot));
	return 0;
}

/* Fill f for fd number fd. -ENOENT when the fd went away meanwhile. */
static int read_one(int fd_dir, int info_dir, int fd, struct rs_fd *f)
{
	char name[16], info[4096];
	struct stat st;
	ssize_t len;
	int ifd, err;

	snprintf(name, sizeof(name), "%d", fd);
	f->fd = fd;
	len = readlinkat(fd_dir, name, f->target, sizeof(f->target) - 1);
	if (len < 0)
		return -errno;
	f->target[len] = 0;
	if (fstatat(fd_dir, name, &st, 0) < 0)
		return -errno;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->mode = st.st_mode;
	f->kind = rs_fd_kind_of(f->target, f->mode);

	ifd = openat(info_dir, name, O_RDONLY | O_CLOEXEC);
	if (ifd < 0)
		return -errno;
	/* pos, flags and mnt_id are the first lines; the rest (io_uring state) can be long */
	len = read(ifd, info, sizeof(info) - 1);
	err = len < 0 ? -errno : 0;
	close(ifd);
	if (err)
		return err;
	info[len] = 0;
	return rs_fdtable_parse_fdinfo(info, &f->pos, &f->flags, &f->mnt_id);
}

static int fd_cmp(const void *a, const void *b)
{
	const struct rs_fd *x = a, *y = b;

	return (x->fd > y->fd) - (x->fd < y->fd);
}

int rs_fdtable_read(pid_t pid, struct rs_fdtable *out)
{
	char path[64];
	int fd_dir = -1, info_dir = -1, err = 0;
	DIR *d = NULL;
	struct dirent *de;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	fd_dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd_dir < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	snprintf(path, sizeof(path), "/proc/%d/fdinfo", (int)pid);
	info_dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (info_dir < 0) {
		err = errno == ENOENT ? -ESRCH : -errno;
		goto cleanup;
	}
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d) {
		err = -errno;
		goto cleanup;
	}
	for (;;) {
		struct rs_fd *f;
		char *end;
		long n;

		errno = 0;
		de = readdir(d);
		if (!de) {
			err = errno ? -errno : 0;
			break;
		}
		n = strtol(de->d_name, &end, 10);
		if (end == de->d_name || *end || n < 0 || n > INT_MAX)
			continue; /* "." and ".." */
		err = fdtable_push(out, &f);
		if (err)
			break;
		err = read_one(fd_dir, info_dir, (int)n, f);
		if (err == -ENOENT) {
			err = 0; /* closed while we looked */
			continue;
		}
		if (err)
			break;
		out->n++;
	}
	if (!err && out->n)
		qsort(out->v, out->n, sizeof(*out->v), fd_cmp);
cleanup:
	if (d)
		closedir(d);
	if (info_dir >= 0)
		close(info_dir);
	close(fd_dir);
	if (err) {
		rs_fdtable_free(out);
		return err;
	}
	return (int)out->n;
}

void rs_fdtable_free(struct rs_fdtable *t)
{
	if (!t)
		return;
	free(t->v);
	memset(t, 0, sizeof(*t));
}

const struct rs_fd *rs_fdtable_find(const struct rs_fdtable *t, int fd)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->v[mid].fd == fd)
			return &t->v[mid];
		if (t->v[mid].fd < fd)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

bool rs_fd_is_unsupported(const struct rs_fd *f)
{
	return f && f->kind == RS_FD_ANON && !strcmp(f->target, "anon_inode:[io_uring]");
}

static bool same_object(const struct rs_fd *a, const struct rs_fd *b)
{
	if (a->kind != b->kind || a->dev != b->dev || a->ino != b->ino)
		return false;
	/* every eventfd (signalfd, ...) shares the one anonymous inode: the name tells them apart */
	if (a->kind == RS_FD_ANON && strcmp(a->target, b->target))
		return false;
	return (a->flags & O_ACCMODE) == (b->flags & O_ACCMODE);
}

static int plan_push(struct rs_fd_plan *p, enum rs_fd_change change, const struct rs_fd *snap, const struct rs_fd *now)
{
	struct rs_fd_op *op;

	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		struct rs_fd_op *ops = realloc(p->ops, cap * sizeof(*ops));

		if (!ops)
			return -ENOMEM;
		p->ops = ops;
		p->cap = cap;
	}
	op = &p->ops[p->n++];
	memset(op, 0, sizeof(*op));
	op->change = change;
	op->fd = snap ? snap->fd : now->fd;
	op->snap = snap;
	op->now = now;
	if (change == RS_FD_FLAGS) {
		op->setfl = snap->flags & RS_FD_SETFL_MASK;
		op->setfd = snap->flags & O_CLOEXEC ? FD_CLOEXEC : 0;
	}
	return 0;
}

static bool is_sorted(const struct rs_fdtable *t)
{
	for (size_t i = 1; i < t->n; i++)
		if (t->v[i - 1].fd >= t->v[i].fd)
			return false;
	return true;
}

int rs_fdtable_diff(const struct rs_fdtable *snap, const struct rs_fdtable *now, struct rs_fd_plan *out)
{
	size_t i = 0, j = 0;
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (!is_sorted(snap) || !is_sorted(now))
		return -EINVAL;
	while (!err && (i < snap->n || j < now->n)) {
		const struct rs_fd *s = i < snap->n ? &snap->v[i] : NULL;
		const struct rs_fd *n = j < now->n ? &now->v[j] : NULL;

		if (s && (!n || s->fd < n->fd)) {
			err = plan_push(out, RS_FD_CLOSED, s, NULL);
			i++;
		} else if (n && (!s || n->fd < s->fd)) {
			err = plan_push(out, RS_FD_NEW, NULL, n);
			j++;
		} else {
			if (!same_object(s, n)) {
				err = plan_push(out, RS_FD_REPLACED, s, n);
			} else {
				if (s->pos != n->pos)
					err = plan_push(out, RS_FD_POS, s, n);
				if (!err && s->flags != n->flags)
					err = plan_push(out, RS_FD_FLAGS, s, n);
			}
			i++;
			j++;
		}
	}
	if (err) {
		rs_fd_plan_free(out);
		return err;
	}
	return (int)out->n;
}

void rs_fd_plan_free(struct rs_fd_plan *p)
{
	if (!p)
		return;
	free(p->ops);
	memset(p, 0, sizeof(*p));
}

static bool is_deleted(const struct rs_fd *f)
{
	size_t len = strlen(f->target);

	return len > 10 && !strcmp(f->target + len - 10, " (deleted)");
}

bool rs_fd_change_is_recoverable(const struct rs_fd_op *op)
{
	if (rs_fd_is_unsupported(op->snap) || rs_fd_is_unsupported(op->now))
		return false;
	switch (op->change) {
	case RS_FD_NEW:
	case RS_FD_POS:
		return true;
	case RS_FD_CLOSED:
	case RS_FD_REPLACED:
		return (op->snap->kind == RS_FD_FILE || op->snap->kind == RS_FD_DIR) && !is_deleted(op->snap);
	case RS_FD_FLAGS:
		return !((op->snap->flags ^ op->now->flags) & ~(RS_FD_SETFL_MASK | O_CLOEXEC));
	}
	return false;
}

int rs_fd_reopen_flags(const struct rs_fd *snap)
{
	int flags = snap->flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC);

	if (snap->kind == RS_FD_DIR)
		flags |= O_DIRECTORY;
	return flags;
}

const char *rs_fd_change_str(enum rs_fd_change change)
{
	switch (change) {
	case RS_FD_NEW:
		return "new";
	case RS_FD_CLOSED:
		return "closed";
	case RS_FD_REPLACED:
		return "replaced";
	case RS_FD_POS:
		return "pos";
	case RS_FD_FLAGS:
		return "flags";
	}
	return "unknown";
}
