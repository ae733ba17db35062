// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Client of the kernel helper's UAPI (include/lethe/dev.h). Kept free of the
 * rest of liblethe so the QEMU guest test links it alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "lethe/dev.h"
#include "copy_dev.h"

#define PG 4096ULL

int rs_copy_dev_open(void)
{
	struct lethe_dev_info info = { .size = sizeof(info) };
	int fd = open("/dev/lethe", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT || errno == ENXIO || errno == ENODEV ? -ENOENT : -errno;
	if (ioctl(fd, LETHE_IOC_INFO, &info) || info.abi != LETHE_DEV_ABI || !(info.features & LETHE_DEV_F_ROLLBACK)) {
		close(fd);
		return -EPROTO;
	}
	return fd;
}

static int flush(int fd, pid_t target, pid_t twin, const uint64_t *addrs, unsigned int n, uint64_t *bytes)
{
	struct lethe_rollback r = {
		.size = sizeof(r),
		.target_pid = target,
		.twin_pid = twin,
		.addrs = (uint64_t)(uintptr_t)addrs,
		.count = n,
	};
	int err = ioctl(fd, LETHE_IOC_ROLLBACK, &r) ? -errno : 0;

	*bytes += (uint64_t)r.done * PG;
	return err;
}

int rs_copy_dev_ranges(int fd, pid_t target, pid_t twin, const struct rs_range *r, size_t n, uint64_t *bytes)
{
	static uint64_t addrs[LETHE_DEV_MAX_PAGES];
	unsigned int k = 0;
	int err;

	*bytes = 0;
	for (size_t i = 0; i < n; i++) {
		for (uint64_t a = r[i].start; a < r[i].start + r[i].len; a += PG) {
			addrs[k++] = a;
			if (k == LETHE_DEV_MAX_PAGES) {
				err = flush(fd, target, twin, addrs, k, bytes);
				if (err)
					return err;
				k = 0;
			}
		}
	}
	return k ? flush(fd, target, twin, addrs, k, bytes) : 0;
}
