// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Checkpoint-time copies of the memory a fork-based snapshot cannot protect,
 * written back whole at every rewind. Meant for small ranges; bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define LOG_PREFIX "saved: "
#include "loader/log.h"
#include "saved.h"

#define PG 4096ULL

bool rs_vmflags_has(const char *line, const char *flag)
{
	size_t fl = strlen(flag);
	const char *p;

	if (strncmp(line, "VmFlags:", 8))
		return false;
	for (p = line + 8; *p;) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, flag, fl) && (p[fl] == ' ' || p[fl] == '\n' || !p[fl]))
			return true;
		while (*p && *p != ' ')
			p++;
	}
	return false;
}

struct fork_flag {
	uint64_t start;
	const char *why;
};

/* One pass over smaps: the vmas marked dontfork ("dc") or wipeonfork ("wf"). */
static int fork_flags(FILE *smaps, struct fork_flag **out, size_t *n)
{
	char line[512];
	uint64_t cur = 0, s, e;

	*out = NULL;
	*n = 0;
	while (fgets(line, sizeof(line), smaps)) {
		const char *why = NULL;
		struct fork_flag *nf;

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " ", &s, &e) == 2) {
			cur = s;
			continue;
		}
		if (rs_vmflags_has(line, "dc"))
			why = "dontfork";
		else if (rs_vmflags_has(line, "wf"))
			why = "wipeonfork";
		if (!why)
			continue;
		nf = realloc(*out, (*n + 1) * sizeof(*nf));
		if (!nf)
			return -ENOMEM;
		*out = nf;
		nf[(*n)++] = (struct fork_flag){ .start = cur, .why = why };
	}
	return 0;
}

static const char *fork_flag_of(const struct fork_flag *f, size_t n, uint64_t start)
{
	for (size_t i = 0; i < n; i++)
		if (f[i].start == start)
			return f[i].why;
	return NULL;
}

static int pio_all(int fd, void *buf, size_t len, uint64_t off, bool wr)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = wr ? pwrite(fd, (char *)buf + done, len - done, off + done)
			       : pread(fd, (char *)buf + done, len - done, off + done);

		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		done += r;
	}
	return 0;
}

static int open_mem(pid_t pid, int flags)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int rs_saved_take(pid_t pid, const struct rs_maps *maps, uint64_t max_bytes, struct rs_saved_set *out)
{
	struct fork_flag *ff = NULL;
	size_t nff = 0;
	char path[64];
	FILE *smaps;
	int mem, err = 0;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	smaps = fopen(path, "re");
	if (!smaps)
		return -errno;
	err = fork_flags(smaps, &ff, &nff);
	fclose(smaps);
	if (err) {
		free(ff);
		return err;
	}
	mem = open_mem(pid, O_RDONLY);
	if (mem < 0) {
		free(ff);
		return mem;
	}
	for (size_t i = 0; i < maps->n && !err; i++) {
		const struct rs_vma *v = &maps->v[i];
		const char *why = NULL;
		struct rs_saved *n;

		if (!(v->prot & RS_VMA_WRITE) || rs_vma_is_special(v))
			continue;
		if (v->prot & RS_VMA_SHARED)
			why = "shared";
		else
			why = fork_flag_of(ff, nff, v->start);
		if (!why)
			continue;
		if (out->bytes + (v->end - v->start) > max_bytes) {
			pr_err("pid %d: %s mapping 0x%llx-0x%llx would take the copied memory past %llu bytes", pid,
			       why, (unsigned long long)v->start, (unsigned long long)v->end,
			       (unsigned long long)max_bytes);
			err = -EFBIG;
			break;
		}
		n = realloc(out->v, (out->n + 1) * sizeof(*n));
		if (!n) {
			err = -ENOMEM;
			break;
		}
		out->v = n;
		n = &out->v[out->n];
		n->start = v->start;
		n->len = v->end - v->start;
		n->why = why;
		n->buf = malloc(n->len);
		if (!n->buf) {
			err = -ENOMEM;
			break;
		}
		err = pio_all(mem, n->buf, n->len, n->start, false);
		if (err) {
			free(n->buf);
			break;
		}
		out->n++;
		out->bytes += n->len;
		pr_debug("pid %d: saved %s mapping 0x%llx +%llu", pid, why, (unsigned long long)n->start,
			 (unsigned long long)n->len);
	}
	close(mem);
	free(ff);
	if (err) {
		rs_saved_free(out);
		return err;
	}
	return (int)out->n;
}

void rs_saved_free(struct rs_saved_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].buf);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

bool rs_saved_has_vma(const struct rs_saved_set *s, const struct rs_vma *v)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].start == v->start)
			return true;
	return false;
}

int rs_saved_restore(pid_t pid, const struct rs_saved_set *s)
{
	int mem, err = 0;

	if (!s->n)
		return 0;
	mem = open_mem(pid, O_RDWR);
	if (mem < 0)
		return mem;
	for (size_t i = 0; i < s->n && !err; i++)
		err = pio_all(mem, s->v[i].buf, s->v[i].len, s->v[i].start, true);
	close(mem);
	return err;
}

long rs_saved_compare(pid_t pid, const struct rs_saved_set *s)
{
	char page[PG];
	long bad = 0;
	int mem;

	if (!s->n)
		return 0;
	mem = open_mem(pid, O_RDONLY);
	if (mem < 0)
		return mem;
	for (size_t i = 0; i < s->n; i++) {
		for (uint64_t off = 0; off < s->v[i].len; off += PG) {
			int err = pio_all(mem, page, PG, s->v[i].start + off, false);

			if (err) {
				close(mem);
				return err;
			}
			bad += memcmp(page, (char *)s->v[i].buf + off, PG) != 0;
		}
	}
	close(mem);
	return bad;
}
