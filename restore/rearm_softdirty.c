// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Soft-dirty re-arm: clear the target's soft-dirty bits at checkpoint and after
 * every rewind, read the written set from pagemap bit 55 at the next rewind.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#define LOG_PREFIX "softdirty: "
#include "loader/log.h"
#include "rearm_softdirty.h"

#define PG 4096ULL
#define PM_SOFT_DIRTY (1ULL << 55) /* Documentation/admin-guide/mm/soft-dirty.rst */
#define PM_SWAP (1ULL << 62)
#define PM_PRESENT (1ULL << 63)
#define CLEAR_SOFT_DIRTY "4" /* CLEAR_REFS_SOFT_DIRTY */
#define PM_CHUNK 4096 /* pagemap entries per read: 32 KiB, 16 MiB of address space */

static bool is_tracked(const struct rs_vma *v)
{
	return rs_vma_is_private_writable(v, NULL) && !rs_vma_is_special(v);
}

static int write_clear(int fd)
{
	/* clear_refs ignores the offset; each write is one command */
	if (pwrite(fd, CLEAR_SOFT_DIRTY, 1, 0) != 1)
		return -errno;
	return 0;
}

static int pagemap_entry(int fd, uint64_t addr, uint64_t *e)
{
	ssize_t r = pread(fd, e, sizeof(*e), addr / PG * sizeof(*e));

	if (r != sizeof(*e))
		return r < 0 ? -errno : -EIO;
	return 0;
}

/*
 * Clear, read (must be clean), write, read (must be dirty) on a page of our
 * own. Returns 0 when soft-dirty works, -EOPNOTSUPP when it does not, -errno.
 */
static int probe(void)
{
	volatile char *page;
	int cfd, pfd, err;
	uint64_t e = 0;

	page = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		return -errno;
	page[0] = 1;
	cfd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	pfd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	err = cfd < 0 || pfd < 0 ? -errno : 0;
	if (!err)
		err = write_clear(cfd);
	if (err == -EINVAL)
		err = -EOPNOTSUPP; /* clear_refs predates soft-dirty (< 3.11) */
	if (!err)
		err = pagemap_entry(pfd, (uintptr_t)page, &e);
	if (!err && (e & PM_SOFT_DIRTY)) {
		pr_debug("bit 55 still set after clear_refs 4: no soft-dirty tracking");
		err = -EOPNOTSUPP;
	}
	if (!err) {
		page[0] = 2;
		err = pagemap_entry(pfd, (uintptr_t)page, &e);
	}
	if (!err && !(e & PM_SOFT_DIRTY)) {
		pr_debug("bit 55 not set by a write: no soft-dirty tracking (CONFIG_MEM_SOFT_DIRTY)");
		err = -EOPNOTSUPP;
	}
	if (cfd >= 0)
		close(cfd);
	if (pfd >= 0)
		close(pfd);
	munmap((void *)page, PG);
	return err;
}

bool rs_softdirty_is_supported(void)
{
	static int known = 1; /* 1: not probed yet */

	if (known == 1)
		known = probe();
	return known == 0;
}

int rs_softdirty_setup(pid_t pid, struct rs_softdirty *out)
{
	char path[64];
	int err;

	out->pid = pid;
	out->pagemap = out->clear_refs = -1;
	if (!rs_softdirty_is_supported())
		return -EOPNOTSUPP;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	out->pagemap = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/clear_refs", pid);
	out->clear_refs = open(path, O_WRONLY | O_CLOEXEC);
	err = out->pagemap < 0 || out->clear_refs < 0 ? -errno : 0;
	if (!err)
		err = write_clear(out->clear_refs);
	if (err) {
		pr_err("pid %d: cannot set up soft-dirty tracking: %s", pid, strerror(-err));
		rs_softdirty_free(out);
	}
	return err;
}

int rs_softdirty_select(pid_t pid, enum lethe_rearm want, bool uffd_on, struct rs_softdirty *out)
{
	int err;

	out->pagemap = out->clear_refs = -1;
	if (uffd_on || (want != LETHE_REARM_AUTO && want != LETHE_REARM_SOFTDIRTY))
		return 0;
	err = rs_softdirty_setup(pid, out);
	if (!err)
		return 1;
	if (want == LETHE_REARM_SOFTDIRTY) {
		pr_err("soft-dirty re-arm unavailable for %d: %s", pid,
		       err == -EOPNOTSUPP ? "the kernel does not track soft-dirty bits (CONFIG_MEM_SOFT_DIRTY)"
					  : strerror(-err));
		return err;
	}
	pr_info("soft-dirty re-arm unavailable (%s): re-twin after every rewind", strerror(-err));
	return 0;
}

void rs_softdirty_free(struct rs_softdirty *sd)
{
	if (sd->pagemap >= 0)
		close(sd->pagemap);
	if (sd->clear_refs >= 0)
		close(sd->clear_refs);
	sd->pagemap = sd->clear_refs = -1;
}

static int push_page(struct rs_page **pages, size_t *n, size_t *cap, uint64_t addr)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 256;
		struct rs_page *np = realloc(*pages, nc * sizeof(*np));

		if (!np)
			return -ENOMEM;
		*pages = np;
		*cap = nc;
	}
	(*pages)[(*n)++] = (struct rs_page){ .addr = addr, .size = PG };
	return 0;
}

long rs_softdirty_written(struct rs_softdirty *sd, const struct rs_maps *maps, struct rs_page **pages, size_t *n)
{
	uint64_t *buf = malloc(PM_CHUNK * sizeof(*buf));
	size_t cap = *n; /* the caller's array holds exactly *n entries */
	long found = 0;
	int err = buf ? 0 : -ENOMEM;

	for (size_t i = 0; !err && i < maps->n; i++) {
		const struct rs_vma *v = &maps->v[i];

		if (!is_tracked(v))
			continue;
		for (uint64_t a = v->start; !err && a < v->end; a += PM_CHUNK * PG) {
			size_t cnt = (v->end - a) / PG < PM_CHUNK ? (v->end - a) / PG : PM_CHUNK;
			size_t want = cnt * sizeof(*buf), got = 0;

			while (got < want) {
				ssize_t r = pread(sd->pagemap, (char *)buf + got, want - got, a / PG * sizeof(*buf) + got);

				if (r <= 0) {
					err = r < 0 ? -errno : -EIO;
					break;
				}
				got += r;
			}
			for (size_t j = 0; !err && j < cnt; j++) {
				/*
				 * A mapping created or grown since the clear (VM_SOFTDIRTY)
				 * reports even its holes; a hole holds nothing written, and
				 * one the request emptied is the tracker's (add_discarded).
				 */
				if (!(buf[j] & PM_SOFT_DIRTY) || !(buf[j] & (PM_PRESENT | PM_SWAP)))
					continue;
				err = push_page(pages, n, &cap, a + j * PG);
				found++;
			}
		}
	}
	free(buf);
	if (err) {
		pr_err("pid %d: reading soft-dirty bits failed: %s", sd->pid, strerror(-err));
		return err;
	}
	return found;
}

int rs_softdirty_clear(struct rs_softdirty *sd)
{
	return write_clear(sd->clear_refs);
}
