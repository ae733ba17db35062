// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Path joining and normalisation for file records. Lexical on purpose: the
 * path may no longer exist when we read the record (unlink, rename).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "paths.h"

int ld_path_join(const char *base, const char *rel, char *out, size_t outsz)
{
	char tmp[8192];
	size_t len = 0;
	const char *p;
	int n;

	if (!rel)
		rel = "";
	if (rel[0] == '/')
		n = snprintf(tmp, sizeof(tmp), "%s", rel);
	else if (base && base[0] == '/')
		n = snprintf(tmp, sizeof(tmp), "%s/%s", base, rel);
	else
		return -EINVAL;
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;

	/* walk components, building the normalised path in out */
	if (outsz < 2)
		return -ENAMETOOLONG;
	out[0] = '/';
	len = 1;
	p = tmp;
	while (*p) {
		const char *start, *end;
		size_t clen;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		start = p;
		while (*p && *p != '/')
			p++;
		end = p;
		clen = end - start;
		if (clen == 1 && start[0] == '.')
			continue;
		if (clen == 2 && start[0] == '.' && start[1] == '.') {
			/* drop the last component, never above the root */
			while (len > 1 && out[len - 1] != '/')
				len--;
			if (len > 1)
				len--;
			continue;
		}
		if (len + (len > 1) + clen + 1 > outsz)
			return -ENAMETOOLONG;
		if (len > 1)
			out[len++] = '/';
		memcpy(out + len, start, clen);
		len += clen;
	}
	out[len] = 0;
	return (int)len;
}

int ld_proc_link(pid_t pid, const char *what, char *out, size_t outsz)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/%s", (int)pid, what);
	n = readlink(link, out, outsz - 1);
	if (n < 0)
		return -errno;
	out[n] = 0;
	return (int)n;
}
