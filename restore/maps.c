// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Parser for /proc/PID/maps. Kept free of ptrace so unit tests can feed it
 * captured text.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "maps.h"

static int maps_push(struct rs_maps *m, const struct rs_vma *v)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		struct rs_vma *nv = realloc(m->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		m->v = nv;
		m->cap = cap;
	}
	m->v[m->n++] = *v;
	return 0;
}

static int parse_line(const char *line, size_t len, struct rs_vma *v)
{
	char perms[5] = {0};
	int name_at = -1, n;
	const char *name;
	size_t nlen;

	memset(v, 0, sizeof(*v));
	n = sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %x:%x %" SCNu64 " %n", &v->start, &v->end,
		   perms, &v->offset, &v->dev_major, &v->dev_minor, &v->inode, &name_at);
	if (n < 7 || v->end < v->start || strlen(perms) != 4)
		return -EINVAL;
	if (perms[0] == 'r')
		v->prot |= RS_VMA_READ;
	if (perms[1] == 'w')
		v->prot |= RS_VMA_WRITE;
	if (perms[2] == 'x')
		v->prot |= RS_VMA_EXEC;
	if (perms[3] == 's')
		v->prot |= RS_VMA_SHARED;
	else if (perms[3] != 'p')
		return -EINVAL;
	if (name_at < 0 || (size_t)name_at >= len)
		return 0;
	name = line + name_at;
	nlen = len - name_at;
	if (nlen > 10 && !memcmp(name + nlen - 10, " (deleted)", 10)) {
		v->deleted = true;
		nlen -= 10;
	}
	if (nlen >= sizeof(v->name))
		nlen = sizeof(v->name) - 1;
	memcpy(v->name, name, nlen);
	v->name[nlen] = 0;
	return 0;
}

int rs_maps_parse(const char *text, struct rs_maps *out)
{
	const char *p = text;
	struct rs_vma v;
	int err;

	memset(out, 0, sizeof(*out));
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (len) {
			err = parse_line(p, len, &v);
			if (!err)
				err = maps_push(out, &v);
			if (err) {
				rs_maps_free(out);
				return err;
			}
		}
		p += len + (nl ? 1 : 0);
	}
	return 0;
}

int rs_maps_read(pid_t pid, struct rs_maps *out)
{
	char path[64], *buf = NULL;
	size_t cap = 0, len = 0;
	ssize_t r;
	int fd, err;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	for (;;) {
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap ? cap * 2 : 16384);

			if (!nb) {
				err = -ENOMEM;
				goto out;
			}
			buf = nb;
			cap = cap ? cap * 2 : 16384;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r < 0) {
			err = errno == ESRCH ? -ESRCH : -errno;
			goto out;
		}
		if (r == 0)
			break;
		len += r;
	}
	buf[len] = 0;
	err = rs_maps_parse(buf, out);
out:
	free(buf);
	close(fd);
	return err;
}

void rs_maps_free(struct rs_maps *m)
{
	free(m->v);
	memset(m, 0, sizeof(*m));
}

int rs_maps_copy(const struct rs_maps *src, struct rs_maps *dst)
{
	memset(dst, 0, sizeof(*dst));
	if (!src->n)
		return 0;
	dst->v = malloc(src->n * sizeof(*dst->v));
	if (!dst->v)
		return -ENOMEM;
	memcpy(dst->v, src->v, src->n * sizeof(*dst->v));
	dst->n = dst->cap = src->n;
	return 0;
}

const struct rs_vma *rs_maps_find(const struct rs_maps *m, uint64_t addr)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct rs_vma *v = &m->v[mid];

		if (addr < v->start)
			hi = mid;
		else if (addr >= v->end)
			lo = mid + 1;
		else
			return v;
	}
	return NULL;
}

const char *rs_vma_label(const struct rs_vma *v)
{
	return v->name[0] ? v->name : "anon";
}

bool rs_vma_is_special(const struct rs_vma *v)
{
	return !strcmp(v->name, "[vdso]") || !strcmp(v->name, "[vvar]") || !strcmp(v->name, "[vsyscall]") ||
	       !strcmp(v->name, "[vvar_vclock]");
}
