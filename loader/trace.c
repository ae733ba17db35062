// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Folds tracker records into a persistence-point model. Used by `lethe trace`
 * for a whole run and by the rewinder for one request.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include "restore/maps.h"
#include "restore/procfs.h"
#include "paths.h"
#include "trace.h"

#define PG 4096ULL
#define LD_FILE_RENAME_TO LETHE_FILE_OP_MAX /* virtual op: the new name of a rename */

/* What we know of one tgid: where it stands and what it maps. */
struct tgid_info {
	pid_t tgid;
	char cwd[4096];
	bool maps_stale;
	bool maps_loaded;
	struct rs_maps maps;
};

struct inode_path {
	uint64_t dev, ino;
	char path[4096];
};

struct page_key {
	uint64_t tgid_addr_hi; /* tgid */
	uint64_t addr;
};

struct trace_priv {
	struct page_key *keys; /* open addressing; addr == 0 marks empty */
	size_t cap, used;
	struct tgid_info *tg;
	size_t ntg;
	struct inode_path *inodes;
	size_t ninodes;
};

static const char *const file_op_names[LETHE_FILE_OP_MAX + 1] = {
	[LETHE_FILE_OPEN_WRITE] = "open_write", [LETHE_FILE_CREATE] = "create",
	[LETHE_FILE_TRUNCATE] = "truncate",	[LETHE_FILE_WRITE] = "write",
	[LETHE_FILE_UNLINK] = "unlink",		[LETHE_FILE_RENAME] = "rename_from",
	[LETHE_FILE_MKDIR] = "mkdir",		[LETHE_FILE_RMDIR] = "rmdir",
	[LETHE_FILE_LINK] = "link",		[LETHE_FILE_SYMLINK] = "symlink",
	[LETHE_FILE_MKNOD] = "mknod",		[LETHE_FILE_CHMOD] = "chmod",
	[LETHE_FILE_CHOWN] = "chown",		[LETHE_FILE_UTIMES] = "utimes",
	[LETHE_FILE_SETXATTR] = "setxattr",	[LETHE_FILE_REMOVEXATTR] = "removexattr",
	[LETHE_FILE_FALLOCATE] = "fallocate",	[LETHE_FILE_MMAP_SHARED] = "mmap_shared_write",
	[LETHE_FILE_CHDIR] = "chdir",		[LD_FILE_RENAME_TO] = "rename_to",
};

const char *ld_file_op_name(unsigned int op)
{
	return op <= LETHE_FILE_OP_MAX && file_op_names[op] ? file_op_names[op] : "unknown";
}

const char *ld_mm_op_name(unsigned int op)
{
	static const char *const names[] = { [LETHE_MM_MMAP] = "mmap",	       [LETHE_MM_MUNMAP] = "munmap",
					     [LETHE_MM_MREMAP] = "mremap",     [LETHE_MM_BRK] = "brk",
					     [LETHE_MM_MPROTECT] = "mprotect", [LETHE_MM_MADVISE] = "madvise" };

	return op < sizeof(names) / sizeof(names[0]) && names[op] ? names[op] : "unknown";
}

static void *grow(void *arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *n;

	if (need <= *cap)
		return arr;
	ncap = *cap ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	n = realloc(arr, ncap * elem);
	if (!n)
		return NULL;
	memset((char *)n + *cap * elem, 0, (ncap - *cap) * elem);
	*cap = ncap;
	return n;
}

int ld_trace_init(struct ld_trace *t)
{
	memset(t, 0, sizeof(*t));
	t->priv = calloc(1, sizeof(struct trace_priv));
	return t->priv ? 0 : -ENOMEM;
}

static void priv_clear_pages(struct trace_priv *p)
{
	free(p->keys);
	p->keys = NULL;
	p->cap = p->used = 0;
}

void ld_trace_reset(struct ld_trace *t)
{
	struct trace_priv *p = t->priv;

	t->ngroups = t->nmm = t->ntasks = t->nfiles = t->ndirty = 0;
	memset(t->events, 0, sizeof(t->events));
	t->unknown_records = 0;
	if (p)
		priv_clear_pages(p);
}

void ld_trace_free(struct ld_trace *t)
{
	struct trace_priv *p = t->priv;

	if (p) {
		priv_clear_pages(p);
		for (size_t i = 0; i < p->ntg; i++)
			rs_maps_free(&p->tg[i].maps);
		free(p->tg);
		free(p->inodes);
		free(p);
	}
	free(t->dirty);
	free(t->groups);
	free(t->mm);
	free(t->tasks);
	free(t->files);
	memset(t, 0, sizeof(*t));
}

static struct tgid_info *tgid_get(struct trace_priv *p, pid_t tgid)
{
	struct tgid_info *n;

	for (size_t i = 0; i < p->ntg; i++)
		if (p->tg[i].tgid == tgid)
			return &p->tg[i];
	n = realloc(p->tg, (p->ntg + 1) * sizeof(*n));
	if (!n)
		return NULL;
	p->tg = n;
	n = &p->tg[p->ntg++];
	memset(n, 0, sizeof(*n));
	n->tgid = tgid;
	n->maps_stale = true;
	if (ld_proc_link(tgid, "cwd", n->cwd, sizeof(n->cwd)) < 0)
		n->cwd[0] = 0;
	return n;
}

int ld_trace_add_root(struct ld_trace *t, pid_t pid)
{
	return tgid_get(t->priv, pid) ? 0 : -ENOMEM;
}

/* Returns true when (tgid, addr) was not in the set yet. */
static int page_insert(struct trace_priv *p, pid_t tgid, uint64_t addr)
{
	size_t i;

	if (p->used * 2 >= p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 1024;
		struct page_key *nk = calloc(ncap, sizeof(*nk));

		if (!nk)
			return -ENOMEM;
		for (size_t j = 0; j < p->cap; j++) {
			struct page_key *k = &p->keys[j];

			if (!k->addr)
				continue;
			i = ((k->addr >> 12) * 0x9E3779B97F4A7C15ULL ^ k->tgid_addr_hi) & (ncap - 1);
			while (nk[i].addr)
				i = (i + 1) & (ncap - 1);
			nk[i] = *k;
		}
		free(p->keys);
		p->keys = nk;
		p->cap = ncap;
	}
	/* page 0 is never mapped, so addr == 0 can mark an empty slot */
	i = ((addr >> 12) * 0x9E3779B97F4A7C15ULL ^ (uint64_t)tgid) & (p->cap - 1);
	while (p->keys[i].addr) {
		if (p->keys[i].addr == addr && p->keys[i].tgid_addr_hi == (uint64_t)tgid)
			return 0;
		i = (i + 1) & (p->cap - 1);
	}
	p->keys[i].addr = addr;
	p->keys[i].tgid_addr_hi = tgid;
	p->used++;
	return 1;
}

static const struct rs_vma *maps_lookup(struct tgid_info *tg, uint64_t addr)
{
	if (tg->maps_stale || !tg->maps_loaded) {
		struct rs_maps m;

		/* a dead process keeps its last known layout */
		if (rs_maps_read(tg->tgid, &m) == 0) {
			rs_maps_free(&tg->maps);
			tg->maps = m;
			tg->maps_loaded = true;
		}
		tg->maps_stale = false;
	}
	return tg->maps_loaded ? rs_maps_find(&tg->maps, addr) : NULL;
}

static void label_fault(struct trace_priv *p, const struct lethe_fault_ev *e, char *label, size_t len,
			uint64_t *start, uint64_t *end)
{
	struct tgid_info *tg = tgid_get(p, e->hdr.tgid);
	const struct rs_vma *v;

	*start = e->vma_start;
	*end = e->vma_end;
	switch (e->vma_kind) {
	case LETHE_VMA_HEAP:
		snprintf(label, len, "[heap]");
		return;
	case LETHE_VMA_STACK:
		snprintf(label, len, "[stack]");
		return;
	case LETHE_VMA_ANON:
		snprintf(label, len, "anon");
		return;
	case LETHE_VMA_FILE:
		/* the full path from the layout when it still matches, else the basename */
		v = tg ? maps_lookup(tg, e->addr) : NULL;
		if (v && v->inode != e->file_ino)
			v = NULL;
		/* the vma may have moved or split since: any mapping of the same inode names it */
		for (size_t i = 0; !v && tg && tg->maps_loaded && i < tg->maps.n; i++)
			if (tg->maps.v[i].inode == e->file_ino && tg->maps.v[i].name[0] == '/')
				v = &tg->maps.v[i];
		if (v && v->name[0] == '/')
			snprintf(label, len, "%s", v->name);
		else
			snprintf(label, len, "%.*s", LETHE_VMA_NAME_LEN, e->file_name);
		return;
	default:
		v = tg ? maps_lookup(tg, e->addr) : NULL;
		if (v) {
			snprintf(label, len, "%s", rs_vma_label(v));
			*start = v->start;
			*end = v->end;
		} else {
			snprintf(label, len, "[unknown]");
		}
	}
}

static bool grow_dirty(struct ld_trace *t)
{
	struct ld_dirty *d = grow(t->dirty, &t->cdirty, t->ndirty + 1, sizeof(*d));

	if (!d)
		return false;
	t->dirty = d;
	return true;
}

static int add_fault(struct ld_trace *t, const struct lethe_fault_ev *e)
{
	struct trace_priv *p = t->priv;
	struct ld_page_group *g = NULL;
	uint64_t start, end;
	char label[256];
	int r;

	r = page_insert(p, e->hdr.tgid, e->addr);
	if (r <= 0)
		return r;
	if (!grow_dirty(t))
		return -ENOMEM;
	t->dirty[t->ndirty++] = (struct ld_dirty){ .tgid = e->hdr.tgid, .size = e->size, .addr = e->addr };
	label_fault(p, e, label, sizeof(label), &start, &end);
	for (size_t i = 0; i < t->ngroups; i++) {
		struct ld_page_group *c = &t->groups[i];

		if (c->pid == (pid_t)e->hdr.tgid && c->start == start && !strcmp(c->mapping, label)) {
			g = c;
			break;
		}
	}
	if (!g) {
		struct ld_page_group *n = grow(t->groups, &t->cgroups, t->ngroups + 1, sizeof(*n));

		if (!n)
			return -ENOMEM;
		t->groups = n;
		g = &t->groups[t->ngroups++];
		g->pid = e->hdr.tgid;
		g->start = start;
		g->end = end;
		snprintf(g->mapping, sizeof(g->mapping), "%s", label);
	}
	g->pages += e->size / PG ? e->size / PG : 1;
	if (e->flags & LETHE_FAULT_HUGE)
		g->huge_pages += e->size / PG;
	if (e->flags & LETHE_FAULT_KERNEL)
		g->kernel_writes++;
	return 0;
}

/* exec replaced the address space: what the old one dirtied persists no more */
static void forget_mm(struct ld_trace *t, pid_t tgid)
{
	struct trace_priv *p = t->priv;
	size_t j = 0;

	for (size_t i = 0; i < t->ngroups; i++)
		if (t->groups[i].pid != tgid)
			t->groups[j++] = t->groups[i];
	t->ngroups = j;
	j = 0;
	for (size_t i = 0; i < t->ndirty; i++)
		if (t->dirty[i].tgid != tgid)
			t->dirty[j++] = t->dirty[i];
	t->ndirty = j;
	j = 0;
	for (size_t i = 0; i < t->nmm; i++)
		if (t->mm[i].pid != tgid)
			t->mm[j++] = t->mm[i];
	t->nmm = j;
	if (p->used) {
		struct page_key *old = p->keys;
		size_t cap = p->cap;

		p->keys = NULL;
		p->cap = p->used = 0;
		for (size_t i = 0; i < cap; i++)
			if (old[i].addr && old[i].tgid_addr_hi != (uint64_t)tgid)
				page_insert(p, old[i].tgid_addr_hi, old[i].addr);
		free(old);
	}
}

static struct ld_task *task_find(struct ld_trace *t, pid_t pid)
{
	for (size_t i = 0; i < t->ntasks; i++)
		if (t->tasks[i].pid == pid)
			return &t->tasks[i];
	return NULL;
}

static int add_task(struct ld_trace *t, const struct lethe_task_ev *e)
{
	struct trace_priv *p = t->priv;
	struct ld_task *k;

	switch (e->op) {
	case LETHE_TASK_FORK:
	case LETHE_TASK_CLONE_THREAD:
		k = grow(t->tasks, &t->ctasks, t->ntasks + 1, sizeof(*k));
		if (!k)
			return -ENOMEM;
		t->tasks = k;
		k = &t->tasks[t->ntasks++];
		memset(k, 0, sizeof(*k));
		k->pid = e->child_pid;
		k->tgid = e->child_tgid;
		k->parent = e->ppid;
		k->thread = e->op == LETHE_TASK_CLONE_THREAD;
		k->alive = true;
		memcpy(k->comm, e->comm, sizeof(k->comm));
		k->comm[sizeof(k->comm) - 1] = 0;
		if (!k->thread) {
			/* a forked child starts where its parent stands */
			struct tgid_info *parent = tgid_get(p, e->hdr.tgid);
			struct tgid_info *child = tgid_get(p, e->child_tgid);

			if (parent && child) {
				parent = tgid_get(p, e->hdr.tgid); /* tgid_get may move the array */
				memcpy(child->cwd, parent->cwd, sizeof(child->cwd));
				if (parent->maps_loaded && !child->maps_loaded && !rs_maps_copy(&parent->maps, &child->maps))
					child->maps_loaded = true;
			}
		}
		return 0;
	case LETHE_TASK_EXIT:
		k = task_find(t, e->child_pid);
		if (k)
			k->alive = false;
		return 0;
	case LETHE_TASK_EXIT_GROUP:
		for (size_t i = 0; i < t->ntasks; i++)
			if (t->tasks[i].tgid == (pid_t)e->child_tgid)
				t->tasks[i].alive = false;
		return 0;
	case LETHE_TASK_EXEC: {
		struct tgid_info *tg = tgid_get(p, e->child_tgid);

		if (tg)
			tg->maps_stale = true;
		forget_mm(t, e->child_tgid);
		for (size_t i = 0; i < t->ntasks; i++) {
			k = &t->tasks[i];
			if (k->tgid != (pid_t)e->child_tgid)
				continue;
			memcpy(k->comm, e->comm, sizeof(k->comm));
			k->comm[sizeof(k->comm) - 1] = 0;
			snprintf(k->exec, sizeof(k->exec), "%.*s", LETHE_PATH_LEN - 1, e->filename);
		}
		return 0;
	}
	}
	return 0;
}

static int add_mm(struct ld_trace *t, const struct lethe_mm_ev *e)
{
	struct tgid_info *tg = tgid_get(t->priv, e->hdr.tgid);
	struct ld_mm_change *m;

	if (tg)
		tg->maps_stale = true;
	m = grow(t->mm, &t->cmm, t->nmm + 1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	t->mm = m;
	m = &t->mm[t->nmm++];
	m->pid = e->hdr.tgid;
	m->op = e->op;
	memcpy(m->args, e->args, sizeof(m->args));
	m->ret = e->ret;
	return 0;
}

static const char *inode_path(struct trace_priv *p, uint64_t dev, uint64_t ino)
{
	if (!ino)
		return NULL;
	for (size_t i = 0; i < p->ninodes; i++)
		if (p->inodes[i].dev == dev && p->inodes[i].ino == ino)
			return p->inodes[i].path;
	return NULL;
}

static void inode_remember(struct trace_priv *p, uint64_t dev, uint64_t ino, const char *path)
{
	struct inode_path *n;

	if (!ino || inode_path(p, dev, ino))
		return;
	n = realloc(p->inodes, (p->ninodes + 1) * sizeof(*n));
	if (!n)
		return;
	p->inodes = n;
	n = &p->inodes[p->ninodes++];
	n->dev = dev;
	n->ino = ino;
	snprintf(n->path, sizeof(n->path), "%s", path);
}

/* Absolute path of a record's raw string, relative to dirfd or the task's cwd. */
static void resolve(struct trace_priv *p, struct tgid_info *tg, int dirfd, const char *raw, char *out, size_t len)
{
	char base[4096] = "", what[32];

	if (raw[0] != '/') {
		if (dirfd == LETHE_AT_FDCWD_VAL) {
			snprintf(base, sizeof(base), "%s", tg ? tg->cwd : "");
		} else {
			snprintf(what, sizeof(what), "fd/%d", dirfd);
			if (!tg || ld_proc_link(tg->tgid, what, base, sizeof(base)) < 0)
				base[0] = 0;
		}
	}
	if (ld_path_join(base, raw, out, len) < 0)
		snprintf(out, len, "%s%s", raw[0] == '/' ? "" : "?/", raw);
}

/* Path of an fd-based record: the opened-file table, then /proc, then the inode. */
static void resolve_fd(struct trace_priv *p, const struct lethe_file_ev *e, char *out, size_t len)
{
	const char *known = inode_path(p, e->dev, e->ino);
	char what[32];

	if (known) {
		snprintf(out, len, "%s", known);
		return;
	}
	snprintf(what, sizeof(what), "fd/%d", e->fd);
	if (ld_proc_link(e->hdr.tgid, what, out, len) > 0 && out[0] == '/') {
		inode_remember(p, e->dev, e->ino, out);
		return;
	}
	snprintf(out, len, "inode:%llu:%llu", (unsigned long long)e->dev, (unsigned long long)e->ino);
}

static int file_mark(struct ld_trace *t, const char *path, unsigned int op, pid_t pid)
{
	struct ld_file *f;

	for (size_t i = 0; i < t->nfiles; i++) {
		if (!strcmp(t->files[i].path, path)) {
			t->files[i].ops |= 1u << op;
			return 0;
		}
	}
	f = grow(t->files, &t->cfiles, t->nfiles + 1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	t->files = f;
	f = &t->files[t->nfiles++];
	snprintf(f->path, sizeof(f->path), "%s", path);
	f->ops = 1u << op;
	f->pid = pid;
	return 0;
}

static int add_file(struct ld_trace *t, const struct lethe_file_ev *e)
{
	struct trace_priv *p = t->priv;
	struct tgid_info *tg = tgid_get(p, e->hdr.tgid);
	char path[4096], path2[4096];
	char raw[LETHE_PATH_LEN + 1], raw2[LETHE_PATH_LEN + 1];
	int err = 0;

	memcpy(raw, e->path, LETHE_PATH_LEN);
	raw[LETHE_PATH_LEN] = 0;
	memcpy(raw2, e->path2, LETHE_PATH_LEN);
	raw2[LETHE_PATH_LEN] = 0;

	if (e->fd >= 0)
		resolve_fd(p, e, path, sizeof(path));
	else
		resolve(p, tg, e->dirfd, raw, path, sizeof(path));

	switch (e->op) {
	case LETHE_FILE_CHDIR:
		if (tg && path[0] == '/')
			snprintf(tg->cwd, sizeof(tg->cwd), "%s", path);
		return 0;
	case LETHE_FILE_OPEN_WRITE:
	case LETHE_FILE_CREATE:
	case LETHE_FILE_TRUNCATE:
		inode_remember(p, e->dev, e->ino, path);
		err = file_mark(t, path, e->op, e->hdr.tgid);
		/* O_CREAT|O_TRUNC is both a create and a truncate */
		if (!err && e->op == LETHE_FILE_CREATE && (e->flags & O_TRUNC))
			err = file_mark(t, path, LETHE_FILE_TRUNCATE, e->hdr.tgid);
		return err;
	case LETHE_FILE_RENAME:
		resolve(p, tg, e->dirfd2, raw2, path2, sizeof(path2));
		err = file_mark(t, path, LETHE_FILE_RENAME, e->hdr.tgid);
		return err ? err : file_mark(t, path2, LD_FILE_RENAME_TO, e->hdr.tgid);
	case LETHE_FILE_LINK:
	case LETHE_FILE_SYMLINK:
		/* only the new name is created; path is the existing file or link text */
		resolve(p, tg, e->dirfd2, raw2, path2, sizeof(path2));
		return file_mark(t, path2, e->op, e->hdr.tgid);
	default:
		return file_mark(t, path, e->op, e->hdr.tgid);
	}
}

int ld_trace_add(struct ld_trace *t, const struct lethe_ev_hdr *h, size_t size)
{
	switch (h->kind) {
	case LETHE_EV_FAULT:
		if (h->size < sizeof(struct lethe_fault_ev))
			break;
		t->events[h->kind]++;
		return add_fault(t, (const void *)h);
	case LETHE_EV_TASK:
		if (h->size < sizeof(struct lethe_task_ev))
			break;
		t->events[h->kind]++;
		return add_task(t, (const void *)h);
	case LETHE_EV_MM:
		if (h->size < sizeof(struct lethe_mm_ev))
			break;
		t->events[h->kind]++;
		return add_mm(t, (const void *)h);
	case LETHE_EV_FILE:
		if (h->size < sizeof(struct lethe_file_ev))
			break;
		t->events[h->kind]++;
		return add_file(t, (const void *)h);
	}
	t->unknown_records++;
	return 0;
}

void ld_trace_refresh_alive(struct ld_trace *t)
{
	for (size_t i = 0; i < t->ntasks; i++)
		if (t->tasks[i].alive)
			t->tasks[i].alive = rs_proc_is_alive(t->tasks[i].pid);
}

uint64_t ld_trace_dirty_pages(const struct ld_trace *t)
{
	uint64_t n = 0;

	for (size_t i = 0; i < t->ngroups; i++)
		n += t->groups[i].pages;
	return n;
}

static int group_cmp(const void *a, const void *b)
{
	const struct ld_page_group *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}

void ld_trace_sort(struct ld_trace *t)
{
	qsort(t->groups, t->ngroups, sizeof(*t->groups), group_cmp);
}
