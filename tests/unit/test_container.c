// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests for loader/container.c: mountinfo classification, cgroup
 * resolution and OCI runtime state, on captured texts, on ourselves, on a fake
 * runtime and on a live busybox container under runc (root only).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <json-c/json.h>
#include "unit.h"
#include "loader/container.h"

#define DATA(name) unit_data_path("container/" name)

static int parse_fixture(const char *path, struct ld_mount **m, size_t *n)
{
	FILE *f = fopen(path, "r");
	int err;

	if (!f)
		return -errno;
	err = ld_mountinfo_parse(f, m, n);
	fclose(f);
	return err;
}

static int parse_text(const char *text, struct ld_mount **m, size_t *n)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int err;

	if (!f)
		return -errno;
	err = ld_mountinfo_parse(f, m, n);
	fclose(f);
	return err;
}

static const struct ld_mount *find_mount(const struct ld_mount *m, size_t n, const char *path)
{
	const struct ld_mount *hit = NULL;

	/* the last one wins: it is the one on top */
	for (size_t i = 0; i < n; i++)
		if (!strcmp(m[i].path, path))
			hit = &m[i];
	return hit;
}

static void test_container_mountinfo_host(void)
{
	static const struct {
		const char *path;
		const char *fstype;
		enum ld_mount_class cls;
	} want[] = {
	    {"/", "ext4", LD_MNT_UNPROTECTED},
	    {"/proc", "proc", LD_MNT_IGNORED},
	    {"/sys", "sysfs", LD_MNT_IGNORED},
	    {"/dev", "devtmpfs", LD_MNT_IGNORED},
	    {"/dev/pts", "devpts", LD_MNT_IGNORED},
	    {"/run", "tmpfs", LD_MNT_TMPFS},
	    {"/sys/fs/cgroup", "cgroup2", LD_MNT_IGNORED},
	    {"/sys/fs/pstore", "pstore", LD_MNT_IGNORED},
	    {"/sys/fs/bpf", "bpf", LD_MNT_IGNORED},
	    {"/proc/sys/fs/binfmt_misc", "autofs", LD_MNT_IGNORED},
	    {"/dev/hugepages", "hugetlbfs", LD_MNT_IGNORED},
	    {"/dev/mqueue", "mqueue", LD_MNT_IGNORED},
	    {"/sys/kernel/debug", "debugfs", LD_MNT_IGNORED},
	    {"/sys/kernel/tracing", "tracefs", LD_MNT_IGNORED},
	    {"/sys/fs/fuse/connections", "fusectl", LD_MNT_IGNORED},
	    {"/sys/kernel/config", "configfs", LD_MNT_IGNORED},
	    {"/boot/efi", "vfat", LD_MNT_UNPROTECTED},
	    {"/srv/my data", "xfs", LD_MNT_UNPROTECTED},
	    {"/mnt/share", "9p", LD_MNT_UNPROTECTED},
	    {"/mnt/virtio", "virtiofs", LD_MNT_UNPROTECTED},
	    {"/home/u/remote", "fuse.sshfs", LD_MNT_UNPROTECTED},
	    {"/mnt/nfs", "nfs4", LD_MNT_UNPROTECTED},
	    {"/var/ro-bind", "ext4", LD_MNT_IGNORED},
	    {"/mnt/tab\tnew\nback\\slash", "ext4", LD_MNT_UNPROTECTED},
	    {"/mnt/ram", "ramfs", LD_MNT_TMPFS},
	    {"/run/user/1000", "tmpfs", LD_MNT_TMPFS},
	    {"/var/lib/nfs/rpc_pipefs", "rpc_pipefs", LD_MNT_IGNORED},
	    {"/sys/firmware/efi/efivars", "efivarfs", LD_MNT_IGNORED},
	    {"/sys/kernel/security", "securityfs", LD_MNT_IGNORED},
	    {"/run/netns/ns1", "nsfs", LD_MNT_IGNORED},
	    {"/mnt/empty-source", "tmpfs", LD_MNT_TMPFS},
	    {"/tmp", "tmpfs", LD_MNT_IGNORED},
	};
	struct ld_mount *m;
	size_t n;

	CU_ASSERT_FATAL(parse_fixture(DATA("mountinfo_host_misc.txt"), &m, &n) == 0);
	CU_ASSERT_EQUAL_FATAL(n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n; i++) {
		CU_ASSERT_STRING_EQUAL(m[i].path, want[i].path);
		CU_ASSERT_STRING_EQUAL(m[i].fstype, want[i].fstype);
		CU_ASSERT_EQUAL(m[i].cls, want[i].cls);
		CU_ASSERT_EQUAL(m[i].upper[0], 0);
	}
	CU_ASSERT_STRING_EQUAL(m[0].source, "/dev/sda2");
	CU_ASSERT(m[0].rw);
	/* per-mount ro over a rw superblock, and the reverse */
	CU_ASSERT_STRING_EQUAL(m[22].root, "/srv/ro");
	CU_ASSERT(!m[22].rw);
	CU_ASSERT(!m[31].rw);
	CU_ASSERT_STRING_EQUAL(m[29].root, "net:[4026532281]");
	CU_ASSERT_STRING_EQUAL(m[30].source, "");
	CU_ASSERT_STRING_EQUAL(m[20].source, "u@host:/data");
	free(m);
}

/* Captured from a runc container whose rootfs is an overlay with a space in its upper dir. */
static void test_container_mountinfo_runc_overlay(void)
{
	const struct ld_mount *r;
	struct ld_mount *m;
	size_t n;

	CU_ASSERT_FATAL(parse_fixture(DATA("mountinfo_runc_overlay.txt"), &m, &n) == 0);
	CU_ASSERT_EQUAL(n, 25);
	r = find_mount(m, n, "/");
	CU_ASSERT_FATAL(r != NULL);
	CU_ASSERT_EQUAL(r->cls, LD_MNT_OVERLAY);
	CU_ASSERT_STRING_EQUAL(r->upper, "/tmp/ctrprobe.BhUf1O/ovl/up per");
	CU_ASSERT_STRING_EQUAL(r->lower, "/tmp/ctrprobe.BhUf1O/B/rootfs");
	CU_ASSERT_STRING_EQUAL(r->work, "/tmp/ctrprobe.BhUf1O/ovl/work");
	CU_ASSERT_EQUAL(find_mount(m, n, "/proc")->cls, LD_MNT_IGNORED);
	CU_ASSERT_EQUAL(find_mount(m, n, "/dev")->cls, LD_MNT_TMPFS);
	CU_ASSERT_EQUAL(find_mount(m, n, "/dev/shm")->cls, LD_MNT_TMPFS);
	CU_ASSERT_STRING_EQUAL(find_mount(m, n, "/dev/shm")->source, "shm");
	CU_ASSERT_EQUAL(find_mount(m, n, "/dev/pts")->cls, LD_MNT_IGNORED);
	CU_ASSERT_EQUAL(find_mount(m, n, "/dev/mqueue")->cls, LD_MNT_IGNORED);
	CU_ASSERT_EQUAL(find_mount(m, n, "/sys")->cls, LD_MNT_IGNORED);
	CU_ASSERT_EQUAL(find_mount(m, n, "/sys/fs/cgroup/pids")->cls, LD_MNT_IGNORED);
	CU_ASSERT_STRING_EQUAL(find_mount(m, n, "/sys/fs/cgroup/pids")->root, "/lethe-probe2");
	CU_ASSERT_EQUAL(find_mount(m, n, "/proc/acpi")->cls, LD_MNT_IGNORED);
	/* /dev/null of the container's /dev tmpfs bound over /proc/keys */
	CU_ASSERT_EQUAL(find_mount(m, n, "/proc/keys")->cls, LD_MNT_TMPFS);
	CU_ASSERT_STRING_EQUAL(find_mount(m, n, "/proc/keys")->root, "/null");
	free(m);
}

/* Captured on kernel 6.18: lowerdir+= lists, "\:" and "\," inside lowerdir=, a ro overlay. */
static void test_container_mountinfo_overlay_escapes(void)
{
	struct ld_mount *m;
	size_t n;

	CU_ASSERT_FATAL(parse_fixture(DATA("mountinfo_overlay_escapes.txt"), &m, &n) == 0);
	CU_ASSERT_EQUAL_FATAL(n, 4);
	CU_ASSERT_EQUAL(m[0].cls, LD_MNT_OVERLAY);
	CU_ASSERT_STRING_EQUAL(m[0].lower, "/tmp/ctrprobe.BhUf1O/l/a:b");
	CU_ASSERT_STRING_EQUAL(m[0].upper, "/tmp/ctrprobe.BhUf1O/lp/u");
	CU_ASSERT_STRING_EQUAL(m[0].work, "/tmp/ctrprobe.BhUf1O/lp/w");
	/* the full stack, top first: a deeper layer can hold a name the top one lacks */
	CU_ASSERT_STRING_EQUAL(m[0].lowers, "/tmp/ctrprobe.BhUf1O/l/a:b\n/tmp/ctrprobe.BhUf1O/l/two");
	CU_ASSERT_STRING_EQUAL(m[1].lowers,
			       "/tmp/ctrprobe.BhUf1O/l/a:b\n/tmp/ctrprobe.BhUf1O/l/c d\n/tmp/ctrprobe.BhUf1O/l/two");
	CU_ASSERT_EQUAL(m[1].cls, LD_MNT_OVERLAY);
	CU_ASSERT_STRING_EQUAL(m[1].lower, "/tmp/ctrprobe.BhUf1O/l/a:b");
	CU_ASSERT_STRING_EQUAL(m[1].upper, "/tmp/ctrprobe.BhUf1O/lq/u");
	CU_ASSERT_EQUAL(m[2].cls, LD_MNT_OVERLAY);
	CU_ASSERT_STRING_EQUAL(m[2].lower, "/tmp/ctrprobe.BhUf1O/l/x,y");
	CU_ASSERT_STRING_EQUAL(m[2].upper, "/tmp/ctrprobe.BhUf1O/lr/u");
	CU_ASSERT_STRING_EQUAL(m[2].work, "/tmp/ctrprobe.BhUf1O/lr/w");
	/* no upper dir: read-only superblock */
	CU_ASSERT(!m[3].rw);
	CU_ASSERT_EQUAL(m[3].cls, LD_MNT_IGNORED);
	CU_ASSERT_STRING_EQUAL(m[3].lower, "/tmp/ctrprobe.BhUf1O/l/two");
	CU_ASSERT_EQUAL(m[3].upper[0], 0);
	free(m);
}

static void test_container_mountinfo_plain_escaped_comma(void)
{
	static const char text[] =
	    "9 1 0:9 / /m rw - overlay overlay rw,upperdir=/u\\,1,lowerdir=/l\\,2:/l3,workdir=/w\n";
	struct ld_mount *m;
	size_t n;

	CU_ASSERT_FATAL(parse_text(text, &m, &n) == 0);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_STRING_EQUAL(m[0].upper, "/u,1");
	CU_ASSERT_STRING_EQUAL(m[0].lower, "/l,2");
	CU_ASSERT_STRING_EQUAL(m[0].lowers, "/l,2\n/l3");
	CU_ASSERT_STRING_EQUAL(m[0].work, "/w");
	free(m);
}

static void test_container_mountinfo_malformed(void)
{
	static const char *const bad[] = {
	    "22 1 8:2 / / rw - ext4 /dev/sda2\n",	      /* no super options */
	    "22 1 8:2 / / rw ext4 /dev/sda2 rw\n",	      /* no separator */
	    "22 1 8:2 / - ext4 /dev/sda2 rw\n",		      /* separator among the first six */
	    "x 1 8:2 / / rw - ext4 /dev/sda2 rw\n",	      /* mount ID */
	    "22 1 8 / / rw - ext4 /dev/sda2 rw\n",	      /* MAJ:MIN */
	    "22 1 8:2 / rel rw - ext4 /dev/sda2 rw\n",	      /* mount point */
	    "22 1 8:2 / / rw -  /dev/sda2 rw\n",	      /* empty fs type */
	    "22 1 8:2 / / rw - ext4 /dev/sda2 rw\ngarbage\n", /* a later line */
	};
	struct ld_mount *m = (struct ld_mount *)1;
	size_t n = 7;

	CU_ASSERT_EQUAL(parse_fixture(DATA("mountinfo_bad_nosep.txt"), &m, &n), -EINVAL);
	CU_ASSERT_PTR_NULL(m);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(parse_fixture(DATA("mountinfo_bad_short.txt"), &m, &n), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_EQUAL(parse_text(bad[i], &m, &n), -EINVAL);
	/* an empty stream is no mount at all, not an error */
	CU_ASSERT_EQUAL(parse_text("\n", &m, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	free(m);
}

static void test_container_mountinfo_read_self(void)
{
	struct ld_mount *m;
	size_t n;

	CU_ASSERT_FATAL(ld_mountinfo_read(getpid(), &m, &n) == 0);
	CU_ASSERT(n > 0);
	CU_ASSERT(find_mount(m, n, "/") != NULL);
	CU_ASSERT_EQUAL(find_mount(m, n, "/proc")->cls, LD_MNT_IGNORED);
	free(m);
	CU_ASSERT_EQUAL(ld_mountinfo_read(INT_MAX, &m, &n), -ESRCH);
	CU_ASSERT_EQUAL(ld_mountinfo_read(0, &m, &n), -ESRCH);
}

/* A zombie has no mount namespace any more: no such process for us. */
static void test_container_mountinfo_read_zombie(void)
{
	struct ld_mount *m;
	siginfo_t si;
	size_t n;
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	CU_ASSERT_FATAL(pid > 0);
	/* wait for the exit without reaping */
	CU_ASSERT_EQUAL(waitid(P_PID, pid, &si, WEXITED | WNOWAIT), 0);
	CU_ASSERT_EQUAL(ld_mountinfo_read(pid, &m, &n), -ESRCH);
	waitpid(pid, NULL, 0);
}

/* usable() stand-in: refuses every dir containing one of the words in reject */
static const char *const *reject;

static bool fake_usable(const char *dir)
{
	for (const char *const *r = reject; r && *r; r++)
		if (strstr(dir, *r))
			return false;
	return true;
}

static int resolve(const char *cgfile, const char *mifile, const char *const *rej, char *out, size_t len)
{
	char *cg = unit_read_data(cgfile), *mi = unit_read_data(mifile);
	int err = -EIO;

	reject = rej;
	if (cg && mi)
		err = ld_cgroup_resolve(cg, mi, fake_usable, out, len);
	free(cg);
	free(mi);
	return err;
}

static void test_container_cgroup_resolve_hybrid(void)
{
	static const char *const no_unified[] = {"unified", NULL};
	static const char *const no_v2_pids[] = {"unified", "pids", NULL};
	char out[PATH_MAX];

	/* v2 first: the host's mounts and the container's /proc/PID/cgroup */
	CU_ASSERT_EQUAL(
	    resolve("container/cgroup_runc_hybrid.txt", "container/mountinfo_host_hybrid.txt", NULL, out, sizeof(out)),
	    0);
	CU_ASSERT_STRING_EQUAL(out, "/sys/fs/cgroup/unified/lethe-probe2");
	CU_ASSERT_EQUAL(
	    resolve("container/cgroup_self_hybrid.txt", "container/mountinfo_host_hybrid.txt", NULL, out, sizeof(out)),
	    0);
	CU_ASSERT_STRING_EQUAL(out, "/sys/fs/cgroup/unified");
	/* then v1 in order: pids, memory */
	CU_ASSERT_EQUAL(resolve("container/cgroup_runc_hybrid.txt", "container/mountinfo_host_hybrid.txt", no_unified,
				out, sizeof(out)),
			0);
	CU_ASSERT_STRING_EQUAL(out, "/sys/fs/cgroup/pids/lethe-probe2");
	CU_ASSERT_EQUAL(resolve("container/cgroup_self_hybrid.txt", "container/mountinfo_host_hybrid.txt", no_v2_pids,
				out, sizeof(out)),
			0);
	CU_ASSERT_STRING_EQUAL(out, "/sys/fs/cgroup/memory/process_api/554862488a369bc01957acacb46f9441");
	CU_ASSERT_EQUAL(
	    resolve("container/cgroup_runc_hybrid.txt", "container/mountinfo_host_hybrid.txt", NULL, out, 20),
	    -ENAMETOOLONG);
}

/* As seen from inside the container: no cgroup2 mount, v1 mounts rooted at the container's cgroup. */
static void test_container_cgroup_resolve_mount_root(void)
{
	static const char *const no_pids[] = {"pids", NULL};
	static const char outside[] = "8:pids:/lethe-probe\n4:memory:/process_api/lethe-probe2x\n0::/lethe-probe2\n";
	char out[PATH_MAX], *mi = unit_read_data("container/mountinfo_runc_overlay.txt");

	CU_ASSERT_EQUAL(
	    resolve("container/cgroup_runc_hybrid.txt", "container/mountinfo_runc_overlay.txt", NULL, out, sizeof(out)),
	    0);
	CU_ASSERT_STRING_EQUAL(out, "/sys/fs/cgroup/pids");
	CU_ASSERT_EQUAL(resolve("container/cgroup_runc_hybrid.txt", "container/mountinfo_runc_overlay.txt", no_pids,
				out, sizeof(out)),
			0);
	CU_ASSERT_STRING_EQUAL(out, "/sys/fs/cgroup/memory");
	/* paths outside each mount's root ("/lethe-probe2x" is not under "/lethe-probe2") */
	CU_ASSERT_FATAL(mi != NULL);
	CU_ASSERT_EQUAL(ld_cgroup_resolve(outside, mi, NULL, out, sizeof(out)), -ENOENT);
	CU_ASSERT_STRING_EQUAL(out, "");
	CU_ASSERT_EQUAL(ld_cgroup_resolve("8:pids:/lethe-probe2/sub\n", mi, NULL, out, sizeof(out)), 0);
	CU_ASSERT_STRING_EQUAL(out, "/sys/fs/cgroup/pids/sub");
	free(mi);
}

static void test_container_cgroup_resolve_v1(void)
{
	static const char *const r1[] = {"/pids/", NULL};
	static const char *const r2[] = {"/pids/", "/memory/", NULL};
	static const char *const r3[] = {"/pids/", "/memory/", "/freezer/", NULL};
	static const char *const r4[] = {"/pids/", "/memory/", "/freezer/", "/cpu,", NULL};
	static const char *const r5[] = {"/sys", NULL};
	char out[PATH_MAX];

	CU_ASSERT_EQUAL(resolve("container/cgroup_v1.txt", "container/mountinfo_cgroup_v1.txt", NULL, out, sizeof(out)),
			0);
	CU_ASSERT_STRING_EQUAL(out, "/sys/fs/cgroup/pids/docker/4c1a3e2f9b");
	CU_ASSERT_EQUAL(resolve("container/cgroup_v1.txt", "container/mountinfo_cgroup_v1.txt", r1, out, sizeof(out)),
			0);
	CU_ASSERT_STRING_EQUAL(out, "/sys/fs/cgroup/memory/docker/4c1a3e2f9b");
	CU_ASSERT_EQUAL(resolve("container/cgroup_v1.txt", "container/mountinfo_cgroup_v1.txt", r2, out, sizeof(out)),
			0);
	CU_ASSERT_STRING_EQUAL(out, "/sys/fs/cgroup/freezer/docker/4c1a3e2f9b");
	/* a "cpuacct,cpu" hierarchy counts as cpu */
	CU_ASSERT_EQUAL(resolve("container/cgroup_v1.txt", "container/mountinfo_cgroup_v1.txt", r3, out, sizeof(out)),
			0);
	CU_ASSERT_STRING_EQUAL(out, "/sys/fs/cgroup/cpu,cpuacct/docker/4c1a3e2f9b");
	CU_ASSERT_EQUAL(resolve("container/cgroup_v1.txt", "container/mountinfo_cgroup_v1.txt", r4, out, sizeof(out)),
			0);
	CU_ASSERT_STRING_EQUAL(out, "/sys/fs/cgroup/systemd/docker/4c1a3e2f9b");
	CU_ASSERT_EQUAL(resolve("container/cgroup_v1.txt", "container/mountinfo_cgroup_v1.txt", r5, out, sizeof(out)),
			-ENOENT);
	/* a "0::" line but no cgroup2 mount (v1-only host): v1 */
	CU_ASSERT_EQUAL(
	    resolve("container/cgroup_runc_hybrid.txt", "container/mountinfo_cgroup_v1.txt", NULL, out, sizeof(out)),
	    0);
	CU_ASSERT_STRING_EQUAL(out, "/sys/fs/cgroup/pids/lethe-probe2");
}

static void test_container_cgroup_resolve_v2(void)
{
	static const char nested[] = "40 30 0:37 /kubepods /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
	char out[PATH_MAX];

	CU_ASSERT_EQUAL(resolve("container/cgroup_v2.txt", "container/mountinfo_host_misc.txt", NULL, out, sizeof(out)),
			0);
	CU_ASSERT_STRING_EQUAL(out, "/sys/fs/cgroup/system.slice/docker-4c1a3e2f9b.scope");
	/* no v1 line, and no v1 mount to fall back on */
	CU_ASSERT_EQUAL(resolve("container/cgroup_v2.txt", "container/mountinfo_cgroup_v1.txt", NULL, out, sizeof(out)),
			-ENOENT);
	CU_ASSERT_EQUAL(ld_cgroup_resolve("0::/\n", nested, NULL, out, sizeof(out)), -ENOENT);
	CU_ASSERT_EQUAL(ld_cgroup_resolve("0::/kubepods\n", nested, NULL, out, sizeof(out)), 0);
	CU_ASSERT_STRING_EQUAL(out, "/sys/fs/cgroup");
	CU_ASSERT_EQUAL(ld_cgroup_resolve("0::/kubepods/pod1/ctr\n", nested, NULL, out, sizeof(out)), 0);
	CU_ASSERT_STRING_EQUAL(out, "/sys/fs/cgroup/pod1/ctr");
	CU_ASSERT_EQUAL(ld_cgroup_resolve("0::/kubepodsX/pod1\n", nested, NULL, out, sizeof(out)), -ENOENT);
	/* a removed cgroup */
	CU_ASSERT_EQUAL(ld_cgroup_resolve("0::/kubepods/gone (deleted)\n", nested, NULL, out, sizeof(out)), -ENOENT);
	CU_ASSERT_EQUAL(ld_cgroup_resolve("0::/kubepods\n", "40 30 0:37 /\n", NULL, out, sizeof(out)), -EINVAL);
}

static bool pid_in(const pid_t *v, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == pid)
			return true;
	return false;
}

static void test_container_cgroup_of_self(void)
{
	char dir[PATH_MAX];
	struct stat st;
	pid_t *v;
	size_t n;

	CU_ASSERT_FATAL(ld_cgroup_of(getpid(), dir, sizeof(dir)) == 0);
	CU_ASSERT(stat(dir, &st) == 0 && S_ISDIR(st.st_mode));
	CU_ASSERT_FATAL(ld_cgroup_procs(dir, &v, &n) == 0);
	CU_ASSERT(pid_in(v, n, getpid()));
	for (size_t i = 1; i < n; i++)
		CU_ASSERT(v[i - 1] < v[i]);
	free(v);
	CU_ASSERT_EQUAL(ld_cgroup_of(INT_MAX, dir, sizeof(dir)), -ESRCH);
	CU_ASSERT_EQUAL(ld_cgroup_of(getpid(), dir, 4), -ENAMETOOLONG);
}

static void test_container_cgroup_procs(void)
{
	char dir[] = "/tmp/lethe-cgprocs.XXXXXX", path[PATH_MAX];
	pid_t *v = NULL;
	size_t n = 0;
	FILE *f;

	CU_ASSERT_EQUAL(ld_cgroup_procs("/tmp", &v, &n), -ENOENT);
	CU_ASSERT_EQUAL(ld_cgroup_procs("/nonexistent/dir", &v, &n), -ENOENT);
	CU_ASSERT_EQUAL(ld_cgroup_procs("/etc/hostname", &v, &n), -ENOENT);
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	/* v1 promises neither order nor uniqueness */
	f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs("300\n12\n4000\n12\n7\n", f);
	fclose(f);
	CU_ASSERT_EQUAL(ld_cgroup_procs(dir, &v, &n), 0);
	CU_ASSERT_EQUAL(n, 4);
	if (n == 4) {
		CU_ASSERT_EQUAL(v[0], 7);
		CU_ASSERT_EQUAL(v[1], 12);
		CU_ASSERT_EQUAL(v[2], 300);
		CU_ASSERT_EQUAL(v[3], 4000);
	}
	free(v);
	f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fclose(f);
	v = NULL;
	CU_ASSERT_EQUAL(ld_cgroup_procs(dir, &v, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_PTR_NOT_NULL(v);
	free(v);
	f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs("12\nabc\n", f);
	fclose(f);
	CU_ASSERT_EQUAL(ld_cgroup_procs(dir, &v, &n), -EINVAL);
	unlink(path);
	rmdir(dir);
}

static int state_fixture(const char *name, struct ld_container *c)
{
	char *json = unit_read_data(name);
	int err = json ? ld_runtime_state_parse(json, c) : -EIO;

	free(json);
	return err;
}

static void test_container_state_parse(void)
{
	struct ld_container c;

	CU_ASSERT_EQUAL(state_fixture("container/runc_state_running.json", &c), 0);
	CU_ASSERT_STRING_EQUAL(c.id, "lethe-probe");
	CU_ASSERT_EQUAL(c.pid, 30953);
	CU_ASSERT_STRING_EQUAL(c.status, "running");
	CU_ASSERT_STRING_EQUAL(c.bundle, "/tmp/ctrprobe.BhUf1O/B");
	CU_ASSERT_STRING_EQUAL(c.rootfs, "/tmp/ctrprobe.BhUf1O/B/rootfs");
	CU_ASSERT_EQUAL(state_fixture("container/runc_state_paused.json", &c), 0);
	CU_ASSERT_STRING_EQUAL(c.status, "paused");
	CU_ASSERT_EQUAL(c.pid, 31185);
	CU_ASSERT_STRING_EQUAL(c.rootfs, "/tmp/ctrprobe.BhUf1O/merged");
	CU_ASSERT_EQUAL(state_fixture("container/runc_state_stopped.json", &c), 0);
	CU_ASSERT_STRING_EQUAL(c.status, "stopped");
	CU_ASSERT_EQUAL(c.pid, 0);
	CU_ASSERT_EQUAL(state_fixture("container/crun_state_running.json", &c), 0);
	CU_ASSERT_STRING_EQUAL(c.id, "web-1");
	CU_ASSERT_EQUAL(c.pid, 4242);
	CU_ASSERT_STRING_EQUAL(c.bundle, "/var/lib/ctr/web-1");
	/* bundle and rootfs are optional */
	CU_ASSERT_EQUAL(ld_runtime_state_parse("{\"id\":\"x\",\"pid\":5,\"status\":\"created\"}\n", &c), 0);
	CU_ASSERT_EQUAL(c.pid, 5);
	CU_ASSERT_STRING_EQUAL(c.bundle, "");
}

static void test_container_state_parse_bad(void)
{
	static const char *const bad[] = {
	    "",
	    "{}",
	    "null",
	    "{\"id\":\"x\",\"pid\":5}",
	    "{\"pid\":5,\"status\":\"running\"}",
	    "{\"id\":\"\",\"pid\":5,\"status\":\"running\"}",
	    "{\"id\":7,\"pid\":5,\"status\":\"running\"}",
	    "{\"id\":\"x\",\"pid\":-1,\"status\":\"running\"}",
	    "{\"id\":\"x\",\"pid\":0,\"status\":\"running\"}",
	    "{\"id\":\"x\",\"pid\":5.5,\"status\":\"running\"}",
	    "{\"id\":\"x\",\"pid\":99999999999,\"status\":\"running\"}",
	    "{\"id\":\"x\",\"pid\":5,\"status\":\"running\",\"bundle\":[]}",
	    "{\"id\":\"x\",\"pid\":5,\"status\":\"a-status-that-is-far-too-long-to-be-one\"}",
	    "{\"id\":\"x\",\"pid\":5,\"status\":\"running\"} trailing",
	};
	struct ld_container c;

	CU_ASSERT_EQUAL(state_fixture("container/state_no_pid.json", &c), -EINVAL);
	CU_ASSERT_EQUAL(state_fixture("container/state_pid_string.json", &c), -EINVAL);
	CU_ASSERT_EQUAL(state_fixture("container/state_truncated.json", &c), -EINVAL);
	CU_ASSERT_EQUAL(state_fixture("container/state_list.json", &c), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(ld_runtime_state_parse(bad[i], &c), -EINVAL);
		CU_ASSERT_EQUAL(c.pid, 0);
	}
}

static bool in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	while (path && *path) {
		const char *e = strchr(path, ':');
		size_t l = e ? (size_t)(e - path) : strlen(path);

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)l, path, prog);
		if (l && access(buf, X_OK) == 0)
			return true;
		path = e ? e + 1 : NULL;
	}
	return false;
}

static void test_container_runtime_args(void)
{
	struct ld_container c;
	char why[256], *old;

	CU_ASSERT_EQUAL(ld_runtime_state("nosuchruntime", NULL, "x", &c, why, sizeof(why)), -EINVAL);
	CU_ASSERT(strstr(why, "nosuchruntime") != NULL);
	CU_ASSERT_EQUAL(ld_runtime_state(NULL, NULL, "x", &c, why, sizeof(why)), -EINVAL);
	CU_ASSERT_EQUAL(ld_runtime_state("runc", NULL, "", &c, why, sizeof(why)), -EINVAL);
	CU_ASSERT_EQUAL(ld_runtime_state("runc", NULL, "a/b", &c, why, sizeof(why)), -EINVAL);
	CU_ASSERT_EQUAL(ld_runtime_state("runc", NULL, "-h", &c, NULL, 0), -EINVAL);
	CU_ASSERT_EQUAL(ld_runtime_state("runc", NULL, NULL, &c, why, sizeof(why)), -EINVAL);
	CU_ASSERT_EQUAL(ld_runtime_state("runc", "", "x", &c, why, sizeof(why)), -EINVAL);
	if (!in_path("crun")) {
		CU_ASSERT_EQUAL(ld_runtime_state("crun", NULL, "x", &c, why, sizeof(why)), -ENOEXEC);
		CU_ASSERT(strstr(why, "crun is not installed") != NULL);
	}
	/* not installed, whatever this host has */
	old = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	setenv("PATH", "/nonexistent-lethe", 1);
	CU_ASSERT_EQUAL(ld_runtime_state("runc", NULL, "x", &c, why, sizeof(why)), -ENOEXEC);
	CU_ASSERT(strstr(why, "runc is not installed") != NULL);
	setenv("PATH", old, 1);
	free(old);
}

/*
 * A fake "runc" in a temp dir first in PATH: prints $FAKE_OUT, $FAKE_ERR to
 * stderr, exits $FAKE_RC, and records its arguments.
 */
struct fake {
	char dir[64];
	char *oldpath;
};

static bool fake_setup(struct fake *f)
{
	static const char script[] = "#!/bin/sh\n"
				     "echo \"$@\" > \"$(dirname \"$0\")/args\"\n"
				     "printf '%s' \"$FAKE_OUT\"\n"
				     "printf '%s' \"$FAKE_ERR\" >&2\n"
				     "exit ${FAKE_RC:-0}\n";
	char path[128], np[PATH_MAX + 128];
	int fd;

	snprintf(f->dir, sizeof(f->dir), "/tmp/lethe-fakert.XXXXXX");
	if (!mkdtemp(f->dir))
		return false;
	snprintf(path, sizeof(path), "%s/runc", f->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	if (fd < 0)
		return false;
	if (write(fd, script, sizeof(script) - 1) != sizeof(script) - 1) {
		close(fd);
		return false;
	}
	close(fd);
	f->oldpath = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	snprintf(np, sizeof(np), "%s:%s", f->dir, f->oldpath);
	setenv("PATH", np, 1);
	return true;
}

static void fake_teardown(struct fake *f)
{
	char path[128];

	if (f->oldpath) {
		setenv("PATH", f->oldpath, 1);
		free(f->oldpath);
	}
	unsetenv("FAKE_OUT");
	unsetenv("FAKE_ERR");
	unsetenv("FAKE_RC");
	snprintf(path, sizeof(path), "%s/runc", f->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/args", f->dir);
	unlink(path);
	rmdir(f->dir);
}

static int fake_run(const char *out, const char *err, const char *rc, const char *root, struct ld_container *c,
		    char *why, size_t whylen)
{
	setenv("FAKE_OUT", out, 1);
	setenv("FAKE_ERR", err, 1);
	setenv("FAKE_RC", rc, 1);
	return ld_runtime_state("runc", root, "fake-1", c, why, whylen);
}

static char *read_abs(const char *path)
{
	static char buf[4096];
	int fd = open(path, O_RDONLY);
	ssize_t r;

	buf[0] = 0;
	if (fd < 0)
		return buf;
	r = read(fd, buf, sizeof(buf) - 1);
	buf[r > 0 ? r : 0] = 0;
	close(fd);
	return buf;
}

static void test_container_runtime_fake(void)
{
	static const char logrus[] = "time=\"2026-11-27T22:08:06Z\" level=error msg=\"container does not exist\"\n";
	struct fake f = {0};
	struct ld_container c;
	char why[256], json[256], args[128];

	if (!fake_setup(&f)) {
		CU_FAIL("cannot set up a fake runtime");
		fake_teardown(&f);
		return;
	}
	snprintf(args, sizeof(args), "%s/args", f.dir);
	snprintf(json, sizeof(json), "{\"id\":\"fake-1\",\"pid\":%d,\"status\":\"running\",\"bundle\":\"/b\"}\n",
		 (int)getpid());
	CU_ASSERT_EQUAL(fake_run(json, "", "0", NULL, &c, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(c.pid, getpid());
	CU_ASSERT_STRING_EQUAL(c.status, "running");
	CU_ASSERT_STRING_EQUAL(c.bundle, "/b");
	CU_ASSERT_STRING_EQUAL(why, "");
	CU_ASSERT_STRING_EQUAL(read_abs(args), "state fake-1\n");
	CU_ASSERT_EQUAL(fake_run(json, "", "0", "/run/other root", &c, why, sizeof(why)), 0);
	CU_ASSERT_STRING_EQUAL(read_abs(args), "--root /run/other root state fake-1\n");

	/* the runtime's "no such container", from runc and from an older crun */
	CU_ASSERT_EQUAL(fake_run("", logrus, "1", NULL, &c, why, sizeof(why)), -ENOENT);
	CU_ASSERT(strstr(why, "fake-1") != NULL);
	CU_ASSERT_EQUAL(fake_run("",
				 "2026-11-27T22:08:06.000000Z: error opening file `/run/crun/fake-1/status`: "
				 "No such file or directory\n",
				 "1", NULL, &c, why, sizeof(why)),
			-ENOENT);
	/* any other failure, with the runtime's message */
	CU_ASSERT_EQUAL(fake_run("", "time=\"x\" level=error msg=\"open /run/runc: permission denied\"\n", "1", NULL,
				 &c, why, sizeof(why)),
			-EIO);
	CU_ASSERT(strstr(why, "open /run/runc: permission denied") != NULL);
	CU_ASSERT(strchr(why, '\n') == NULL);

	/* stopped, or an init that is gone */
	CU_ASSERT_EQUAL(
	    fake_run("{\"id\":\"fake-1\",\"pid\":0,\"status\":\"stopped\"}", "", "0", NULL, &c, why, sizeof(why)),
	    -ESRCH);
	CU_ASSERT(strstr(why, "stopped") != NULL);
	CU_ASSERT_EQUAL(fake_run("{\"id\":\"fake-1\",\"pid\":2147483600,\"status\":\"running\"}", "", "0", NULL, &c,
				 why, sizeof(why)),
			-ESRCH);
	/* unparseable answers */
	CU_ASSERT_EQUAL(fake_run("not json", "", "0", NULL, &c, why, sizeof(why)), -EINVAL);
	CU_ASSERT(why[0] != 0);
	CU_ASSERT_EQUAL(fake_run("", "", "0", NULL, &c, NULL, 0), -EINVAL);
	fake_teardown(&f);
}

/*
 * A live busybox container under runc, its rootfs an overlay we mount. All
 * commands run with stdio on a log file: `runc run -d` hands its stdio to the
 * container, so a pipe would never see EOF.
 */
struct live {
	char dir[64];
	char path[8][PATH_MAX];
	char id[64];
	bool mounted;
};

enum { L_BUNDLE, L_ROOTFS, L_UPPER, L_WORK, L_MERGED, L_LOG, L_CONFIG };

static int run_cmd(const char *log, const char *const argv[])
{
	int64_t deadline;
	struct timespec ts;
	pid_t pid, w;
	int st;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		int in = open("/dev/null", O_RDONLY), out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
			_exit(126);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	deadline = ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 10000;
	for (;;) {
		w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (w < 0 && errno != EINTR)
			return -errno;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if (ts.tv_sec * 1000 + ts.tv_nsec / 1000000 > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -ETIMEDOUT;
		}
		usleep(2000);
	}
}

static int copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out = in < 0 ? -1 : open(to, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ssize_t r = -1;

	while (out >= 0 && (r = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, r) != r) {
			r = -1;
			break;
		}
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return r == 0 ? 0 : -1;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	remove(path);
	return 0;
}

/* The default `runc spec`, made to run `sleep 1000` on our overlay without a terminal. */
static int live_config(struct live *l)
{
	const char *spec[] = {"runc", "spec", "--bundle", l->path[L_BUNDLE], NULL};
	json_object *cfg, *proc, *root, *args;
	int err = -EINVAL;

	if (run_cmd(l->path[L_LOG], spec))
		return -EIO;
	cfg = json_object_from_file(l->path[L_CONFIG]);
	if (!cfg)
		return -EIO;
	if (json_object_object_get_ex(cfg, "process", &proc) && json_object_object_get_ex(cfg, "root", &root)) {
		args = json_object_new_array();
		json_object_array_add(args, json_object_new_string("sleep"));
		json_object_array_add(args, json_object_new_string("1000"));
		json_object_object_add(proc, "args", args);
		json_object_object_add(proc, "terminal", json_object_new_boolean(0));
		json_object_object_add(root, "path", json_object_new_string(l->path[L_MERGED]));
		json_object_object_add(root, "readonly", json_object_new_boolean(0));
		err = json_object_to_file(l->path[L_CONFIG], cfg) ? -EIO : 0;
	}
	json_object_put(cfg);
	return err;
}

static int live_setup(struct live *l)
{
	static const char *const names[] = {"B", "B/rootfs", "upper", "work", "merged", "log", "B/config.json"};
	static const char *const dirs[] = {"bin", "proc", "dev", "sys", "tmp", "etc"};
	char p[PATH_MAX * 2], opts[PATH_MAX * 4];

	snprintf(l->dir, sizeof(l->dir), "/tmp/lethe-ctr.XXXXXX");
	if (!mkdtemp(l->dir))
		return -errno;
	snprintf(l->id, sizeof(l->id), "lethe-unit-%d", (int)getpid());
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		snprintf(l->path[i], sizeof(l->path[i]), "%s/%s", l->dir, names[i]);
	for (int i = L_BUNDLE; i <= L_MERGED; i++)
		if (mkdir(l->path[i], 0755))
			return -errno;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", l->path[L_ROOTFS], dirs[i]);
		if (mkdir(p, 0755))
			return -errno;
	}
	snprintf(p, sizeof(p), "%s/bin/busybox", l->path[L_ROOTFS]);
	if (copy_file("/bin/busybox", p, 0755))
		return -EIO;
	snprintf(p, sizeof(p), "%s/bin/sh", l->path[L_ROOTFS]);
	if (symlink("busybox", p))
		return -errno;
	snprintf(p, sizeof(p), "%s/bin/sleep", l->path[L_ROOTFS]);
	if (symlink("busybox", p))
		return -errno;
	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s", l->path[L_ROOTFS], l->path[L_UPPER],
		 l->path[L_WORK]);
	if (mount("overlay", l->path[L_MERGED], "overlay", 0, opts))
		return -errno;
	l->mounted = true;
	return live_config(l);
}

static void live_teardown(struct live *l)
{
	const char *del[] = {"runc", "delete", "-f", l->id, NULL};

	if (!l->dir[0] || strncmp(l->dir, "/tmp/lethe-ctr.", 15))
		return;
	if (l->id[0])
		run_cmd("/dev/null", del);
	if (l->mounted && umount2(l->path[L_MERGED], 0))
		umount2(l->path[L_MERGED], MNT_DETACH);
	nftw(l->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static void live_check(struct live *l)
{
	const char *run[] = {"runc", "run", "-d", "--bundle", l->path[L_BUNDLE], l->id, NULL};
	const char *kill9[] = {"runc", "kill", l->id, "KILL", NULL};
	const struct ld_mount *r;
	struct ld_container c;
	struct ld_mount *m;
	char why[256], dir[PATH_MAX];
	pid_t *v;
	size_t n;
	int err;

	err = run_cmd(l->path[L_LOG], run);
	CU_ASSERT_EQUAL(err, 0);
	if (err) {
		fprintf(stderr, "runc run: %d, %s\n", err, read_abs(l->path[L_LOG]));
		return;
	}
	err = ld_runtime_state("runc", NULL, l->id, &c, why, sizeof(why));
	CU_ASSERT_EQUAL(err, 0);
	if (err) {
		fprintf(stderr, "ld_runtime_state: %d %s\n", err, why);
		return;
	}
	CU_ASSERT_STRING_EQUAL(c.id, l->id);
	CU_ASSERT_STRING_EQUAL(c.status, "running");
	CU_ASSERT_STRING_EQUAL(c.bundle, l->path[L_BUNDLE]);
	CU_ASSERT_STRING_EQUAL(c.rootfs, l->path[L_MERGED]);
	CU_ASSERT(c.pid > 0 && kill(c.pid, 0) == 0);
	/* runc's default root, given explicitly */
	CU_ASSERT_EQUAL(ld_runtime_state("runc", "/run/runc", l->id, &c, why, sizeof(why)), 0);

	CU_ASSERT_EQUAL(ld_mountinfo_read(c.pid, &m, &n), 0);
	if (n) {
		/* no CU_ASSERT_FATAL here: its longjmp would skip the teardown */
		r = find_mount(m, n, "/");
		CU_ASSERT(r != NULL);
		if (r) {
			CU_ASSERT_EQUAL(r->cls, LD_MNT_OVERLAY);
			CU_ASSERT_STRING_EQUAL(r->upper, l->path[L_UPPER]);
			CU_ASSERT_STRING_EQUAL(r->lower, l->path[L_ROOTFS]);
			CU_ASSERT_STRING_EQUAL(r->work, l->path[L_WORK]);
		}
		r = find_mount(m, n, "/dev/shm");
		CU_ASSERT(r && r->cls == LD_MNT_TMPFS);
		r = find_mount(m, n, "/dev");
		CU_ASSERT(r && r->cls == LD_MNT_TMPFS);
		r = find_mount(m, n, "/proc");
		CU_ASSERT(r && r->cls == LD_MNT_IGNORED);
		r = find_mount(m, n, "/sys");
		CU_ASSERT(r && r->cls == LD_MNT_IGNORED);
		free(m);
	}

	CU_ASSERT_EQUAL(ld_cgroup_of(c.pid, dir, sizeof(dir)), 0);
	CU_ASSERT(strstr(dir, l->id) != NULL);
	CU_ASSERT_EQUAL(ld_cgroup_procs(dir, &v, &n), 0);
	if (n) {
		CU_ASSERT(pid_in(v, n, c.pid));
		CU_ASSERT(!pid_in(v, n, getpid()));
		free(v);
	}

	/* killed: runc calls it stopped once the init is gone */
	CU_ASSERT_EQUAL(run_cmd(l->path[L_LOG], kill9), 0);
	for (int i = 0; i < 200; i++) {
		err = ld_runtime_state("runc", NULL, l->id, &c, why, sizeof(why));
		if (err)
			break;
		usleep(5000);
	}
	CU_ASSERT_EQUAL(err, -ESRCH);
	CU_ASSERT(strstr(why, l->id) != NULL);
}

static void test_container_runc_live(void)
{
	struct live l = {0};
	struct ld_container c;
	char why[256];
	int err;

	if (geteuid() != 0 || !in_path("runc") || access("/bin/busybox", X_OK)) {
		fprintf(stderr, "skipped: needs root, runc and /bin/busybox ");
		return;
	}
	err = ld_runtime_state("runc", NULL, "lethe-no-such-container", &c, why, sizeof(why));
	CU_ASSERT_EQUAL(err, -ENOENT);
	CU_ASSERT(strstr(why, "lethe-no-such-container") != NULL);

	err = live_setup(&l);
	CU_ASSERT_EQUAL(err, 0);
	if (!err) {
		char root[PATH_MAX];

		/* an empty state root (runc creates a missing one: keep it in our temp dir) */
		snprintf(root, sizeof(root), "%s/state-root", l.dir);
		CU_ASSERT_EQUAL(ld_runtime_state("runc", root, l.id, &c, why, sizeof(why)), -ENOENT);
		live_check(&l);
	} else
		fprintf(stderr, "live setup: %s\n", strerror(-err));
	live_teardown(&l);
}

UNIT_SUITE(container, UNIT_CASE(test_container_mountinfo_host), UNIT_CASE(test_container_mountinfo_runc_overlay),
	   UNIT_CASE(test_container_mountinfo_overlay_escapes), UNIT_CASE(test_container_mountinfo_plain_escaped_comma),
	   UNIT_CASE(test_container_mountinfo_malformed), UNIT_CASE(test_container_mountinfo_read_self),
	   UNIT_CASE(test_container_mountinfo_read_zombie), UNIT_CASE(test_container_cgroup_resolve_hybrid),
	   UNIT_CASE(test_container_cgroup_resolve_mount_root), UNIT_CASE(test_container_cgroup_resolve_v1),
	   UNIT_CASE(test_container_cgroup_resolve_v2), UNIT_CASE(test_container_cgroup_of_self),
	   UNIT_CASE(test_container_cgroup_procs), UNIT_CASE(test_container_state_parse),
	   UNIT_CASE(test_container_state_parse_bad), UNIT_CASE(test_container_runtime_args),
	   UNIT_CASE(test_container_runtime_fake), UNIT_CASE(test_container_runc_live))
