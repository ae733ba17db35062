// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * From a container name to what a rewind needs: the OCI runtime's state gives
 * the init pid, /proc/PID/mountinfo its writable layers, /proc/PID/cgroup and
 * our own mountinfo the cgroup directory whose cgroup.procs lists the sandbox.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <json-c/json.h>
#define LOG_PREFIX "container: "
#include "log.h"
#include "container.h"

#define RUNTIME_TIMEOUT_MS 5000
#define RUNTIME_OUT_MAX (1 << 20)

/* Filesystems that hold no user data a rewind could lose (or the host's devices). */
static const char *const pseudo_fs[] = {"proc",	    "sysfs",	 "cgroup",	"cgroup2",    "devpts", "mqueue",
					"debugfs",  "tracefs",	 "securityfs",	"pstore",     "bpf",	"configfs",
					"fusectl",  "hugetlbfs", "binfmt_misc", "autofs",     "nsfs",	"rpc_pipefs",
					"efivarfs", "selinuxfs", "devtmpfs",	"apparmorfs", "smackfs"};

static bool in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s, list[i]))
			return true;
	return false;
}

static bool is_octal(char c)
{
	return c >= '0' && c <= '7';
}

/*
 * Undo the kernel's seq_file escapes (\ooo, as for space, tab, newline,
 * backslash, comma, '='), and "\," for a comma; other backslashes are kept, as
 * overlayfs' own "\:" must survive for the lowerdir split.
 */
static int unescape(const char *s, size_t slen, char *out, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < slen; i++) {
		char c = s[i];

		if (c == '\\' && i + 3 < slen && is_octal(s[i + 1]) && is_octal(s[i + 2]) && is_octal(s[i + 3])) {
			c = (char)(((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0'));
			i += 3;
		} else if (c == '\\' && i + 1 < slen && s[i + 1] == ',') {
			c = ',';
			i++;
		}
		if (o + 1 >= len)
			return -ENAMETOOLONG;
		out[o++] = c;
	}
	if (!len)
		return -ENAMETOOLONG;
	out[o] = 0;
	return 0;
}

static bool is_number(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Does the raw comma-separated option list opts hold the option word? */
static bool has_opt(const char *opts, const char *word)
{
	size_t wl = strlen(word);

	for (const char *p = opts; p && *p;) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);

		if (l == wl && !strncmp(p, word, wl))
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

/*
 * The next option of a raw super option list: [*p, return) holds it, *p moves
 * past it. A comma after a backslash belongs to the value.
 */
static const char *next_opt(const char **p)
{
	const char *s = *p;

	while (*s && *s != ',') {
		if (*s == '\\' && s[1])
			s++;
		s++;
	}
	*p = *s ? s + 1 : s;
	return s;
}

/* Append dir to the '\n'-separated list; -ENAMETOOLONG when it does not fit. */
static int add_lower(char *list, const char *dir)
{
	size_t n = strlen(list), d = strlen(dir);

	if (n + !!n + d >= PATH_MAX)
		return -ENAMETOOLONG;
	if (n)
		list[n++] = '\n';
	memcpy(list + n, dir, d + 1);
	return 0;
}

/* Every entry of an overlayfs lowerdir list (split at unescaped ':', "\x" read as "x") into list. */
static int all_lowers(const char *val, char *list)
{
	char dir[PATH_MAX];
	size_t w = 0;
	int err = 0;

	for (const char *r = val;; r++) {
		if (!*r || *r == ':') {
			dir[w] = 0;
			if (w)
				err = add_lower(list, dir);
			w = 0;
			if (!*r || err)
				return err;
			continue;
		}
		if (*r == '\\' && r[1])
			r++;
		if (w + 1 >= sizeof(dir))
			return -ENAMETOOLONG;
		dir[w++] = *r;
	}
}

/* The first entry of an overlayfs lowerdir list: up to an unescaped ':', "\x" read as "x". */
static void first_lower(char *dir)
{
	char *r = dir, *w = dir;

	while (*r && *r != ':') {
		if (*r == '\\' && r[1])
			r++;
		*w++ = *r++;
	}
	*w = 0;
}

static int overlay_opts(const char *sopts, struct ld_mount *m)
{
	bool have_lower = false;
	const char *p = sopts;
	int err;

	while (*p) {
		const char *o = p, *end = next_opt(&p), *eq = memchr(o, '=', end - o);
		size_t kl = eq ? (size_t)(eq - o) : 0;
		char *dst = NULL;

		if (!eq)
			continue;
		if (kl == 8 && !strncmp(o, "upperdir", 8))
			dst = m->upper;
		else if (kl == 7 && !strncmp(o, "workdir", 7))
			dst = m->work;
		else if ((kl == 8 && !strncmp(o, "lowerdir", 8)) || (kl == 9 && !strncmp(o, "lowerdir+", 9)))
			dst = m->lower;
		if (!dst)
			continue;
		if (dst == m->lower && have_lower) {
			/* a further lowerdir+= entry: only the full list wants it */
			char dir[PATH_MAX];

			err = unescape(eq + 1, end - eq - 1, dir, PATH_MAX);
			if (!err)
				err = add_lower(m->lowers, dir);
			if (err)
				return err;
			continue;
		}
		err = unescape(eq + 1, end - eq - 1, dst, PATH_MAX);
		if (err)
			return err;
		if (dst == m->lower) {
			/* lowerdir= is a ':' list with "\:" escapes; each lowerdir+= is one dir */
			err = kl == 8 ? all_lowers(m->lower, m->lowers) : add_lower(m->lowers, m->lower);
			if (err)
				return err;
			if (kl == 8)
				first_lower(m->lower);
			have_lower = true;
		}
	}
	return 0;
}

static enum ld_mount_class classify(const struct ld_mount *m)
{
	if (!m->rw || in_list(m->fstype, pseudo_fs, sizeof(pseudo_fs) / sizeof(pseudo_fs[0])))
		return LD_MNT_IGNORED;
	if (!strcmp(m->fstype, "overlay"))
		return LD_MNT_OVERLAY;
	if (!strcmp(m->fstype, "tmpfs") || !strcmp(m->fstype, "ramfs"))
		return LD_MNT_TMPFS;
	return LD_MNT_UNPROTECTED;
}

#define MI_MAX_FIELDS 64

/*
 * One mountinfo line (no newline; split in place). Fills m but for cls and the
 * overlay dirs; *sopts points at the raw super options inside line.
 */
static int parse_line(char *line, struct ld_mount *m, const char **sopts)
{
	char *f[MI_MAX_FIELDS];
	size_t nf = 0, sep = 0;
	const char *mopts;
	int err;

	/* single spaces: an empty source ("- tmpfs  rw") is still a field */
	for (char *p = line;;) {
		char *sp = strchr(p, ' ');

		if (nf == MI_MAX_FIELDS)
			return -EINVAL;
		f[nf++] = p;
		if (!sp)
			break;
		*sp = 0;
		p = sp + 1;
	}
	for (size_t i = 6; i < nf; i++) {
		if (!strcmp(f[i], "-")) {
			sep = i;
			break;
		}
	}
	if (!sep || nf < sep + 4)
		return -EINVAL;
	if (!is_number(f[0]) || !is_number(f[1]) || !strchr(f[2], ':') || f[4][0] != '/')
		return -EINVAL;

	memset(m, 0, sizeof(*m));
	if ((err = unescape(f[3], strlen(f[3]), m->root, sizeof(m->root))) ||
	    (err = unescape(f[4], strlen(f[4]), m->path, sizeof(m->path))) ||
	    (err = unescape(f[sep + 1], strlen(f[sep + 1]), m->fstype, sizeof(m->fstype))) ||
	    (err = unescape(f[sep + 2], strlen(f[sep + 2]), m->source, sizeof(m->source))))
		return err;
	if (!m->fstype[0])
		return -EINVAL;
	mopts = f[5];
	*sopts = f[sep + 3];
	m->rw = has_opt(mopts, "rw") && has_opt(*sopts, "rw");
	return 0;
}

static int parse_classify(char *line, struct ld_mount *m)
{
	const char *sopts;
	int err = parse_line(line, m, &sopts);

	if (err)
		return err;
	if (!strcmp(m->fstype, "overlay") && (err = overlay_opts(sopts, m)))
		return err;
	m->cls = classify(m);
	return 0;
}

int ld_mountinfo_parse(FILE *f, struct ld_mount **out, size_t *n)
{
	struct ld_mount *v = NULL;
	size_t cnt = 0, cap = 0, lsz = 0;
	char *line = NULL;
	ssize_t len;
	int err = 0;

	*out = NULL;
	*n = 0;
	while ((len = getline(&line, &lsz, f)) >= 0) {
		if (len && line[len - 1] == '\n')
			line[--len] = 0;
		if (!len)
			continue;
		if (cnt == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			struct ld_mount *nv = realloc(v, ncap * sizeof(*v));

			if (!nv) {
				err = -ENOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		err = parse_classify(line, &v[cnt]);
		if (err)
			break;
		cnt++;
	}
	if (!err && ferror(f))
		err = -EIO;
	free(line);
	if (err) {
		free(v);
		return err;
	}
	if (!v && !(v = calloc(1, sizeof(*v))))
		return -ENOMEM;
	*out = v;
	*n = cnt;
	return 0;
}

int ld_mountinfo_read(pid_t pid, struct ld_mount **out, size_t *n)
{
	char path[64];
	FILE *f;
	int err;

	*out = NULL;
	*n = 0;
	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/mountinfo", (int)pid);
	f = fopen(path, "re");
	/* a zombie has no mount namespace left: EINVAL */
	if (!f)
		return errno == ENOENT || errno == ESRCH || errno == EINVAL ? -ESRCH : -errno;
	err = ld_mountinfo_parse(f, out, n);
	fclose(f);
	return err;
}

/* A whole (proc) file into a malloc'ed NUL-terminated buffer. */
static int read_text(const char *path, char **out)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	int fd, err = 0;

	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		free(buf);
		return err;
	}
	for (;;) {
		ssize_t r;

		if (cap - len < 2) {
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				err = -ENOMEM;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			break;
		}
		if (!r)
			break;
		len += r;
	}
	close(fd);
	if (err) {
		free(buf);
		return err;
	}
	buf[len] = 0;
	*out = buf;
	return 0;
}

/*
 * pid's path in one hierarchy, from the text of /proc/PID/cgroup: the "0::"
 * line when ctrl is NULL, else the v1 line whose controller list holds ctrl.
 * Returns a pointer into text and its length, or NULL.
 */
static const char *cg_path(const char *text, const char *ctrl, size_t *plen)
{
	for (const char *l = text; l && *l;) {
		const char *ls = l, *nl = strchr(l, '\n'), *end = nl ? nl : l + strlen(l);
		const char *c1 = memchr(l, ':', end - l), *c2 = c1 ? memchr(c1 + 1, ':', end - c1 - 1) : NULL;

		l = nl ? nl + 1 : NULL;
		if (!c2)
			continue;
		if (!ctrl) {
			/* "0::PATH" */
			if (c1 - ls != 1 || *ls != '0' || c2 != c1 + 1)
				continue;
		} else {
			char ctrls[256];
			size_t cl = c2 - c1 - 1;

			if (cl >= sizeof(ctrls))
				continue;
			memcpy(ctrls, c1 + 1, cl);
			ctrls[cl] = 0;
			if (!cl || !has_opt(ctrls, ctrl))
				continue;
		}
		*plen = end - c2 - 1;
		return c2 + 1;
	}
	return NULL;
}

/* mountpoint + (path relative to the mount's root), or -ENOENT when path is outside root. */
static int cg_join(const char *mnt, const char *root, const char *path, size_t plen, char *out, size_t len)
{
	const char *rel = path;
	size_t rl = strlen(root), relen = plen;
	int w;

	if (!plen || path[0] != '/')
		return -ENOENT;
	if (strcmp(root, "/")) {
		if (plen < rl || strncmp(path, root, rl) || (plen > rl && path[rl] != '/'))
			return -ENOENT;
		rel = path + rl;
		relen = plen - rl;
	}
	if (relen == 1 && rel[0] == '/')
		relen = 0;
	if (!relen)
		w = snprintf(out, len, "%s", mnt);
	else
		w = snprintf(out, len, "%s%.*s", strcmp(mnt, "/") ? mnt : "", (int)relen, rel);
	if (w < 0 || (size_t)w >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* One hierarchy (ctrl NULL: cgroup v2): 0 with out set, -ENOENT, -ENAMETOOLONG, -EINVAL, -ENOMEM. */
static int cg_try(const char *cgroup, const char *mountinfo, const char *ctrl, bool (*usable)(const char *dir),
		  char *out, size_t len)
{
	struct ld_mount *m;
	size_t plen;
	const char *path = cg_path(cgroup, ctrl, &plen);
	char *text, *line, *save = NULL;
	int err = -ENOENT;

	if (!path)
		return -ENOENT;
	if (plen > 10 && !strncmp(path + plen - 10, " (deleted)", 10))
		return -ENOENT;
	text = strdup(mountinfo);
	m = malloc(sizeof(*m));
	if (!text || !m) {
		free(text);
		free(m);
		return -ENOMEM;
	}
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *sopts;
		int r = parse_line(line, m, &sopts);

		if (r) {
			err = r;
			break;
		}
		if (ctrl ? strcmp(m->fstype, "cgroup") || !has_opt(sopts, ctrl) : strcmp(m->fstype, "cgroup2"))
			continue;
		r = cg_join(m->path, m->root, path, plen, out, len);
		if (r == -ENOENT)
			continue;
		if (r) {
			err = r;
			break;
		}
		if (usable && !usable(out))
			continue;
		err = 0;
		break;
	}
	free(text);
	free(m);
	return err;
}

int ld_cgroup_resolve(const char *cgroup, const char *mountinfo, bool (*usable)(const char *dir), char *out, size_t len)
{
	static const char *const v1[] = {"pids", "memory", "freezer", "cpu", "name=systemd"};
	int err;

	if (!cgroup || !mountinfo || !out || !len)
		return -EINVAL;
	err = cg_try(cgroup, mountinfo, NULL, usable, out, len);
	for (size_t i = 0; err == -ENOENT && i < sizeof(v1) / sizeof(v1[0]); i++)
		err = cg_try(cgroup, mountinfo, v1[i], usable, out, len);
	if (err)
		out[0] = 0;
	return err;
}

static bool has_procs(const char *dir)
{
	char p[PATH_MAX];
	int w = snprintf(p, sizeof(p), "%s/cgroup.procs", dir);

	return w > 0 && (size_t)w < sizeof(p) && access(p, F_OK) == 0;
}

int ld_cgroup_of(pid_t pid, char *out, size_t len)
{
	char path[64], *cg = NULL, *mi = NULL;
	int err;

	if (!out || !len)
		return -EINVAL;
	out[0] = 0;
	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	err = read_text(path, &cg);
	if (err)
		return err == -ENOENT ? -ESRCH : err;
	err = read_text("/proc/self/mountinfo", &mi);
	if (!err)
		err = ld_cgroup_resolve(cg, mi, has_procs, out, len);
	if (err == -ENOENT)
		pr_debug("no usable cgroup hierarchy for pid %d", (int)pid);
	free(cg);
	free(mi);
	return err;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

int ld_cgroup_procs(const char *dir, pid_t **out, size_t *n)
{
	char path[PATH_MAX], *text, *p;
	size_t cnt = 0, cap = 0, k;
	pid_t *v = NULL;
	int w, err;

	*out = NULL;
	*n = 0;
	if (!dir || !dir[0])
		return -EINVAL;
	w = snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	if (w < 0 || (size_t)w >= sizeof(path))
		return -ENAMETOOLONG;
	err = read_text(path, &text);
	if (err)
		return err == -ENOTDIR ? -ENOENT : err;
	for (p = text; *p;) {
		char *end;
		long val;

		if (*p == '\n') {
			p++;
			continue;
		}
		errno = 0;
		val = strtol(p, &end, 10);
		if (end == p || errno || val <= 0 || val > INT32_MAX || (*end && *end != '\n')) {
			err = -EINVAL;
			break;
		}
		p = end;
		if (cnt == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			pid_t *nv = realloc(v, ncap * sizeof(*v));

			if (!nv) {
				err = -ENOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		v[cnt++] = (pid_t)val;
	}
	free(text);
	if (!err && !v && !(v = calloc(1, sizeof(*v))))
		err = -ENOMEM;
	if (err) {
		free(v);
		return err;
	}
	/* cgroup v1 promises neither order nor uniqueness */
	qsort(v, cnt, sizeof(*v), cmp_pid);
	for (size_t i = k = 0; i < cnt; i++)
		if (!k || v[k - 1] != v[i])
			v[k++] = v[i];
	*out = v;
	*n = k;
	return 0;
}

static int copy_str(json_object *o, const char *key, bool required, char *dst, size_t len)
{
	json_object *v;
	const char *s;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return required ? -EINVAL : 0;
	if (!json_object_is_type(v, json_type_string))
		return -EINVAL;
	s = json_object_get_string(v);
	if ((size_t)json_object_get_string_len(v) >= len || strlen(s) != (size_t)json_object_get_string_len(v))
		return -EINVAL;
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

int ld_runtime_state_parse(const char *json, struct ld_container *c)
{
	struct json_tokener *tok;
	json_object *o, *v;
	int64_t pid;
	int err;

	if (!json || !c)
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	o = json_tokener_parse_ex(tok, json, (int)strnlen(json, INT32_MAX));
	if (o && json[json_tokener_get_parse_end(tok) + strspn(json + json_tokener_get_parse_end(tok), " \t\r\n")])
		err = -EINVAL; /* trailing garbage */
	else
		err = o ? 0 : -EINVAL;
	json_tokener_free(tok);
	if (!err && !json_object_is_type(o, json_type_object))
		err = -EINVAL;
	if (!err)
		err = copy_str(o, "id", true, c->id, sizeof(c->id));
	if (!err && !c->id[0])
		err = -EINVAL;
	if (!err)
		err = copy_str(o, "status", true, c->status, sizeof(c->status));
	if (!err)
		err = copy_str(o, "bundle", false, c->bundle, sizeof(c->bundle));
	if (!err)
		err = copy_str(o, "rootfs", false, c->rootfs, sizeof(c->rootfs));
	if (!err && (!json_object_object_get_ex(o, "pid", &v) || !json_object_is_type(v, json_type_int)))
		err = -EINVAL;
	if (!err) {
		pid = json_object_get_int64(v);
		if (pid < 0 || pid > INT32_MAX)
			err = -EINVAL;
		/* only a stopped (or creating) container may lack its init */
		else if (!pid && (!strcmp(c->status, "running") || !strcmp(c->status, "paused") ||
				  !strcmp(c->status, "created")))
			err = -EINVAL;
		else
			c->pid = (pid_t)pid;
	}
	json_object_put(o);
	if (err)
		memset(c, 0, sizeof(*c));
	return err;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct capture {
	char *out; /* stdout, NUL-terminated, up to RUNTIME_OUT_MAX */
	size_t outlen;
	char err[1024]; /* start of stderr */
	size_t errlen;
	int status; /* wait status */
};

static int drain(int fd, struct capture *cap, bool is_out)
{
	char buf[4096];
	ssize_t r = read(fd, buf, sizeof(buf));

	if (r < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : -errno;
	if (!r)
		return 0;
	if (is_out) {
		size_t keep = cap->outlen + r > RUNTIME_OUT_MAX ? RUNTIME_OUT_MAX - cap->outlen : (size_t)r;
		char *nb;

		if (!keep)
			return 1; /* past the cap: drained and dropped */
		nb = realloc(cap->out, cap->outlen + keep + 1);
		if (!nb)
			return -ENOMEM;
		cap->out = nb;
		memcpy(cap->out + cap->outlen, buf, keep);
		cap->outlen += keep;
		cap->out[cap->outlen] = 0;
	} else {
		size_t room = sizeof(cap->err) - 1 - cap->errlen, keep = (size_t)r < room ? (size_t)r : room;

		memcpy(cap->err + cap->errlen, buf, keep);
		cap->errlen += keep;
		cap->err[cap->errlen] = 0;
	}
	return 1;
}

static void close_pair(int p[2])
{
	for (int i = 0; i < 2; i++)
		if (p[i] >= 0)
			close(p[i]);
}

/*
 * Run argv (PATH lookup) with stdin from /dev/null, capturing stdout and the
 * start of stderr, for at most timeout_ms. Returns 0 once it exited (cap->status),
 * -ETIMEDOUT (killed), -errno of a failed exec (cap->status unset), -errno.
 */
static int run_capture(char *const argv[], int timeout_ms, struct capture *cap)
{
	int po[2] = {-1, -1}, pe[2] = {-1, -1}, px[2] = {-1, -1};
	int64_t deadline = now_ms() + timeout_ms;
	int err = 0, xerr = 0, st;
	bool open_out = true, open_err = true;
	ssize_t r;
	pid_t child;

	memset(cap, 0, sizeof(*cap));
	if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC) || pipe2(px, O_CLOEXEC)) {
		err = -errno;
		goto out;
	}
	child = fork();
	if (child < 0) {
		err = -errno;
		goto out;
	}
	if (!child) {
		int e, nul = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (nul < 0 || dup2(nul, 0) < 0 || dup2(po[1], 1) < 0 || dup2(pe[1], 2) < 0)
			_exit(127);
		execvp(argv[0], argv);
		e = errno;
		if (write(px[1], &e, sizeof(e)) != sizeof(e))
			_exit(126);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	close(px[1]);
	po[1] = pe[1] = px[1] = -1;

	/* the exec pipe closes on a successful exec, or carries the errno */
	do
		r = read(px[0], &xerr, sizeof(xerr));
	while (r < 0 && errno == EINTR);
	if (r != sizeof(xerr))
		xerr = 0;

	while (!xerr && (open_out || open_err)) {
		struct pollfd pfd[2] = {{open_out ? po[0] : -1, POLLIN, 0}, {open_err ? pe[0] : -1, POLLIN, 0}};
		int64_t left = deadline - now_ms();
		int pr;

		if (left <= 0) {
			err = -ETIMEDOUT;
			break;
		}
		pr = poll(pfd, 2, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0) {
			err = -errno;
			break;
		}
		for (int i = 0; i < 2 && !err; i++) {
			int d;

			if (!pfd[i].revents)
				continue;
			d = drain(pfd[i].fd, cap, i == 0);
			if (d < 0)
				err = d;
			else if (!d && i == 0)
				open_out = false;
			else if (!d)
				open_err = false;
		}
	}
	if (err)
		kill(child, SIGKILL);
	/* EOF on both pipes: the runtime is exiting; bounded anyway */
	while (!err) {
		pid_t w = waitpid(child, &st, WNOHANG);

		if (w == child) {
			cap->status = st;
			break;
		}
		if (w < 0 && errno != EINTR) {
			err = -errno;
			break;
		}
		if (now_ms() >= deadline) {
			err = -ETIMEDOUT;
			kill(child, SIGKILL);
			break;
		}
		usleep(1000);
	}
	if (err)
		while (waitpid(child, &st, 0) < 0 && errno == EINTR)
			;
	if (!err && xerr)
		err = -xerr;
out:
	close_pair(po);
	close_pair(pe);
	close_pair(px);
	if (err) {
		free(cap->out);
		cap->out = NULL;
		cap->outlen = 0;
	}
	return err;
}

/* The runtime's message from its stderr: the msg="..." of a logrus line, or the first line. */
static void runtime_msg(const char *err, char *out, size_t len)
{
	const char *m = strstr(err, "msg=\""), *e;
	size_t l;

	while (*err == '\n' || *err == ' ')
		err++;
	if (m) {
		m += 5;
		for (e = m; *e && *e != '"' && *e != '\n'; e++)
			if (*e == '\\' && e[1])
				e++;
	} else {
		m = err;
		e = strchr(m, '\n');
		if (!e)
			e = m + strlen(m);
	}
	l = e - m;
	if (l >= len)
		l = len - 1;
	memcpy(out, m, l);
	out[l] = 0;
}

static bool valid_id(const char *id)
{
	return id && id[0] && id[0] != '-' && !strchr(id, '/') && strlen(id) < sizeof(((struct ld_container *)0)->id);
}

__attribute__((format(printf, 3, 4))) static void set_why(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!why || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

int ld_runtime_state(const char *runtime, const char *root, const char *id, struct ld_container *c, char *why,
		     size_t whylen)
{
	static const char *const runtimes[] = {"runc", "crun"};
	char *argv[6], msg[256];
	struct capture cap;
	int ac = 0, err;

	if (why && whylen)
		why[0] = 0;
	if (!c)
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	if (!runtime || !in_list(runtime, runtimes, 2)) {
		set_why(why, whylen, "unknown OCI runtime \"%s\" (runc or crun)", runtime ? runtime : "");
		return -EINVAL;
	}
	if (!valid_id(id)) {
		set_why(why, whylen, "invalid container ID \"%s\"", id ? id : "");
		return -EINVAL;
	}
	if (root && !root[0]) {
		set_why(why, whylen, "empty %s root directory", runtime);
		return -EINVAL;
	}
	argv[ac++] = (char *)runtime;
	if (root) {
		argv[ac++] = "--root";
		argv[ac++] = (char *)root;
	}
	argv[ac++] = "state";
	argv[ac++] = (char *)id;
	argv[ac] = NULL;

	err = run_capture(argv, RUNTIME_TIMEOUT_MS, &cap);
	if (err == -ENOENT || err == -ENOTDIR) {
		set_why(why, whylen, "%s is not installed (not found in PATH)", runtime);
		return -ENOEXEC;
	}
	if (err == -ETIMEDOUT) {
		set_why(why, whylen, "%s state %s timed out after %d s", runtime, id, RUNTIME_TIMEOUT_MS / 1000);
		return err;
	}
	if (err) {
		set_why(why, whylen, "cannot run %s: %s", runtime, strerror(-err));
		return err;
	}
	runtime_msg(cap.err, msg, sizeof(msg));
	if (!WIFEXITED(cap.status) || WEXITSTATUS(cap.status)) {
		free(cap.out);
		/* runc: "container does not exist"; older crun: "error opening file `ROOT/ID/status`: No such..." */
		if (strstr(cap.err, "does not exist") || strstr(cap.err, "not exist") || strstr(cap.err, "not found") ||
		    (strstr(cap.err, "/status") && strstr(cap.err, "No such file or directory"))) {
			set_why(why, whylen, "%s has no container \"%s\"", runtime, id);
			return -ENOENT;
		}
		if (WIFEXITED(cap.status))
			set_why(why, whylen, "%s state %s failed (exit %d)%s%s", runtime, id, WEXITSTATUS(cap.status),
				msg[0] ? ": " : "", msg);
		else
			set_why(why, whylen, "%s state %s killed by signal %d", runtime, id, WTERMSIG(cap.status));
		return -EIO;
	}
	err = ld_runtime_state_parse(cap.out ? cap.out : "", c);
	free(cap.out);
	if (err) {
		set_why(why, whylen, "cannot parse the output of %s state %s", runtime, id);
		return err;
	}
	if (!strcmp(c->status, "stopped") || c->pid <= 0) {
		set_why(why, whylen, "container \"%s\" is %s: no live init", id, c->status);
		return -ESRCH;
	}
	if (kill(c->pid, 0) && errno == ESRCH) {
		set_why(why, whylen, "the init (pid %d) of container \"%s\" is gone", (int)c->pid, id);
		return -ESRCH;
	}
	return 0;
}
