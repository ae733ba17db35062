// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for restore/files.c: snapshot a small layer, mutate it as a request would, put it back. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include "unit.h"
#include "restore/files.h"

struct fixture {
	char base[64];	   /* mkdtemp dir: root/, store/, outside/ */
	char root[128];
	char store[128];
	struct rs_layer *l;
};

static char *at(const struct fixture *f, const char *rel)
{
	static char buf[4][256];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", f->root, rel);
	return buf[k];
}

static bool xattr_is(const char *path, const char *name, const char *want)
{
	char buf[64];
	ssize_t n = lgetxattr(path, name, buf, sizeof(buf));

	return n == (ssize_t)strlen(want) && !memcmp(buf, want, n);
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/*
 * root/ a.txt b.txt c.txt d.txt e.txt own.txt(1000:1000) rep.txt h1 link->a.txt fifo
 *       wh (whiteout 0/0) sub/{f.txt(user.tag) g.txt(0600) h2 (= h1)} opq/{x} (opaque)
 */
static void setup(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	strcpy(f->base, "/tmp/lethe-files-XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(f->base) != NULL);
	snprintf(f->root, sizeof(f->root), "%s/root", f->base);
	snprintf(f->store, sizeof(f->store), "%s/store", f->base);
	CU_ASSERT_FATAL(mkdir(f->root, 0755) == 0);
	CU_ASSERT_FATAL(unit_put(at(f, "a.txt"), "alpha\n", O_TRUNC) == 0);
	CU_ASSERT_FATAL(unit_put(at(f, "b.txt"), "bravo\n", O_TRUNC) == 0);
	CU_ASSERT_FATAL(unit_put(at(f, "c.txt"), "charlie charlie\n", O_TRUNC) == 0);
	CU_ASSERT_FATAL(unit_put(at(f, "d.txt"), "delta\n", O_TRUNC) == 0);
	CU_ASSERT_FATAL(unit_put(at(f, "e.txt"), "echo\n", O_TRUNC) == 0);
	CU_ASSERT_FATAL(unit_put(at(f, "own.txt"), "owned\n", O_TRUNC) == 0);
	CU_ASSERT_FATAL(chown(at(f, "own.txt"), 1000, 1000) == 0);
	CU_ASSERT_FATAL(unit_put(at(f, "rep.txt"), "replace me\n", O_TRUNC) == 0);
	CU_ASSERT_FATAL(unit_put(at(f, "h1"), "hard\n", O_TRUNC) == 0);
	CU_ASSERT_FATAL(symlink("a.txt", at(f, "link")) == 0);
	CU_ASSERT_FATAL(mkfifo(at(f, "fifo"), 0640) == 0);
	CU_ASSERT_FATAL(mknod(at(f, "wh"), S_IFCHR | 0000, makedev(0, 0)) == 0);
	CU_ASSERT_FATAL(mkdir(at(f, "sub"), 0750) == 0);
	CU_ASSERT_FATAL(unit_put(at(f, "sub/f.txt"), "foxtrot\n", O_TRUNC) == 0);
	CU_ASSERT_FATAL(setxattr(at(f, "sub/f.txt"), "user.tag", "orig", 4, 0) == 0);
	CU_ASSERT_FATAL(unit_put(at(f, "sub/g.txt"), "golf\n", O_TRUNC) == 0);
	CU_ASSERT_FATAL(chmod(at(f, "sub/g.txt"), 0600) == 0);
	CU_ASSERT_FATAL(link(at(f, "h1"), at(f, "sub/h2")) == 0);
	CU_ASSERT_FATAL(mkdir(at(f, "opq"), 0755) == 0);
	CU_ASSERT_FATAL(setxattr(at(f, "opq"), "user.overlay.opaque", "y", 1, 0) == 0);
	CU_ASSERT_FATAL(setxattr(at(f, "opq"), "trusted.overlay.opaque", "y", 1, 0) == 0);
	CU_ASSERT_FATAL(unit_put(at(f, "opq/x"), "x-ray\n", O_TRUNC) == 0);
	CU_ASSERT_FATAL(rs_layer_snapshot(f->root, f->store, &f->l) == 0);
}

static void teardown(struct fixture *f)
{
	struct stat st;

	rs_layer_free(f->l);
	CU_ASSERT(stat(f->store, &st) != 0 && errno == ENOENT); /* the store went with it */
	nftw(f->base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* The request: 14 changes touching 16 snapshot-or-live paths (see the counts per line). */
static void mutate(struct fixture *f)
{
	int fd;

	CU_ASSERT(unit_put(at(f, "new.txt"), "new\n", O_TRUNC) == 0);				/* 1: extra */
	fd = open(at(f, "b.txt"), O_WRONLY | O_APPEND);				/* 1: content */
	CU_ASSERT(fd >= 0 && write(fd, "more\n", 5) == 5);
	close(fd);
	CU_ASSERT(truncate(at(f, "c.txt"), 3) == 0);				/* 1: size */
	CU_ASSERT(unlink(at(f, "d.txt")) == 0);					/* 1: missing */
	CU_ASSERT(rename(at(f, "e.txt"), at(f, "e2.txt")) == 0);		/* 2: missing + extra */
	CU_ASSERT(mkdir(at(f, "newdir"), 0755) == 0);				/* 1: extra subtree */
	CU_ASSERT(mkdir(at(f, "newdir/x"), 0755) == 0);
	CU_ASSERT(unit_put(at(f, "newdir/x/z"), "zulu\n", O_TRUNC) == 0);
	CU_ASSERT(setxattr(at(f, "sub/f.txt"), "user.tag", "changed", 7, 0) == 0); /* 1: xattr */
	CU_ASSERT(chmod(at(f, "sub/g.txt"), 0644) == 0);			/* 1: mode */
	CU_ASSERT(chown(at(f, "own.txt"), 0, 0) == 0);				/* 1: owner */
	CU_ASSERT(unlink(at(f, "rep.txt")) == 0);				/* 1: file -> dir */
	CU_ASSERT(mkdir(at(f, "rep.txt"), 0755) == 0);
	CU_ASSERT(unit_put(at(f, "rep.txt/in"), "inside\n", O_TRUNC) == 0);
	CU_ASSERT(unlink(at(f, "link")) == 0);					/* 1: new target */
	CU_ASSERT(symlink("b.txt", at(f, "link")) == 0);
	CU_ASSERT(unlink(at(f, "wh")) == 0);					/* 1: whiteout gone */
	CU_ASSERT(unit_put(at(f, "h1"), "HARDER\n", O_TRUNC) == 0);				/* 2: h1 and sub/h2 */
	CU_ASSERT(removexattr(at(f, "opq"), "user.overlay.opaque") == 0);	/* 1: not opaque */
}

/* Everything setup() made, as it made it. */
static void check_tree(struct fixture *f)
{
	struct stat st, st2;

	CU_ASSERT(unit_holds(at(f, "a.txt"), "alpha\n"));
	CU_ASSERT(unit_holds(at(f, "b.txt"), "bravo\n"));
	CU_ASSERT(unit_holds(at(f, "c.txt"), "charlie charlie\n"));
	CU_ASSERT(unit_holds(at(f, "d.txt"), "delta\n"));
	CU_ASSERT(unit_holds(at(f, "e.txt"), "echo\n"));
	CU_ASSERT(unit_holds(at(f, "rep.txt"), "replace me\n"));
	CU_ASSERT(unit_holds(at(f, "h1"), "hard\n"));
	CU_ASSERT(unit_holds(at(f, "sub/f.txt"), "foxtrot\n"));
	CU_ASSERT(unit_holds(at(f, "opq/x"), "x-ray\n"));
	CU_ASSERT(access(at(f, "new.txt"), F_OK) != 0);
	CU_ASSERT(access(at(f, "e2.txt"), F_OK) != 0);
	CU_ASSERT(access(at(f, "newdir"), F_OK) != 0);
	CU_ASSERT(lstat(at(f, "own.txt"), &st) == 0 && st.st_uid == 1000 && st.st_gid == 1000);
	CU_ASSERT(lstat(at(f, "sub/g.txt"), &st) == 0 && (st.st_mode & 07777) == 0600);
	CU_ASSERT(lstat(at(f, "wh"), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
	CU_ASSERT(lstat(at(f, "fifo"), &st) == 0 && S_ISFIFO(st.st_mode) && (st.st_mode & 07777) == 0640);
	CU_ASSERT(lstat(at(f, "h1"), &st) == 0 && lstat(at(f, "sub/h2"), &st2) == 0);
	CU_ASSERT(st.st_ino == st2.st_ino && st.st_nlink == 2);
	CU_ASSERT(xattr_is(at(f, "sub/f.txt"), "user.tag", "orig"));
	CU_ASSERT(xattr_is(at(f, "opq"), "user.overlay.opaque", "y"));
	CU_ASSERT(xattr_is(at(f, "opq"), "trusted.overlay.opaque", "y"));
	{
		char buf[64];
		ssize_t n = readlink(at(f, "link"), buf, sizeof(buf));

		CU_ASSERT(n == 5 && !memcmp(buf, "a.txt", 5));
	}
}

static void test_files_snapshot_unchanged(void)
{
	struct fixture f;
	const char *rel;
	enum rs_file_action changed = RS_FILE_RESTORED;

	setup(&f);
	CU_ASSERT_STRING_EQUAL(rs_layer_root(f.l), f.root);
	CU_ASSERT(rs_layer_contains(f.l, at(&f, "sub/f.txt"), &rel) && !strcmp(rel, "sub/f.txt"));
	CU_ASSERT(rs_layer_contains(f.l, f.root, &rel) && !strcmp(rel, ""));
	CU_ASSERT(!rs_layer_contains(f.l, f.store, &rel));
	CU_ASSERT(!rs_layer_contains(f.l, "/tmp", &rel));
	CU_ASSERT_EQUAL(rs_layer_diff_count(f.l), 0);
	CU_ASSERT_EQUAL(rs_layer_restore_path(f.l, "a.txt", &changed), 0);
	CU_ASSERT(!changed);
	CU_ASSERT_EQUAL(rs_layer_restore_path(f.l, "", &changed), 0);
	CU_ASSERT(!changed);
	CU_ASSERT_EQUAL(rs_layer_restore_path(f.l, "nothing/here", &changed), 0);
	CU_ASSERT(!changed);
	CU_ASSERT_EQUAL(rs_layer_restore_all(f.l), 0);
	check_tree(&f);
	teardown(&f);
}

static void test_files_restore_each_path(void)
{
	static const char *const paths[] = { "new.txt", "b.txt", "c.txt", "d.txt", "e.txt", "e2.txt",
					     "newdir", "sub/f.txt", "sub/g.txt", "own.txt", "rep.txt",
					     "link", "wh", "h1", "opq" };
	/* in place where the inode survived; recreated where it went or changed type */
	static const enum rs_file_action want[] = {
		RS_FILE_REMOVED,   RS_FILE_RESTORED,  RS_FILE_RESTORED,	 RS_FILE_RECREATED, RS_FILE_RECREATED,
		RS_FILE_REMOVED,   RS_FILE_REMOVED,   RS_FILE_RESTORED,	 RS_FILE_RESTORED,  RS_FILE_RESTORED,
		RS_FILE_RECREATED, RS_FILE_RECREATED, RS_FILE_RECREATED, RS_FILE_RESTORED,  RS_FILE_RESTORED,
	};
	struct stat before, after;
	struct fixture f;
	ino_t c_ino = 0;
	enum rs_file_action changed;
	char buf[64];
	int fd;

	setup(&f);
	fd = open(at(&f, "b.txt"), O_RDONLY);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(stat(at(&f, "c.txt"), &before) == 0);
	c_ino = before.st_ino;
	mutate(&f);
	CU_ASSERT_EQUAL(rs_layer_diff_count(f.l), 16);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		changed = RS_FILE_UNCHANGED;
		CU_ASSERT_EQUAL(rs_layer_restore_path(f.l, paths[i], &changed), 0);
		if (changed != want[i])
			fprintf(stderr, "restore of %s: %s, expected %s\n", paths[i], rs_file_action_str(changed),
				rs_file_action_str(want[i]));
		CU_ASSERT_EQUAL(changed, want[i]);
	}
	/* rewritten through h1 already; the second name has nothing left to do */
	changed = RS_FILE_RESTORED;
	CU_ASSERT_EQUAL(rs_layer_restore_path(f.l, "sub/h2", &changed), 0);
	CU_ASSERT(!changed);
	CU_ASSERT_EQUAL(rs_layer_diff_count(f.l), 0);
	check_tree(&f);
	/* in place: the fd opened before sees the old bytes, c.txt kept its inode */
	CU_ASSERT(fstat(fd, &after) == 0 && after.st_size == 6);
	CU_ASSERT(pread(fd, buf, sizeof(buf), 0) == 6 && !memcmp(buf, "bravo\n", 6));
	CU_ASSERT(stat(at(&f, "b.txt"), &before) == 0 && before.st_ino == after.st_ino);
	CU_ASSERT(stat(at(&f, "c.txt"), &after) == 0 && after.st_ino == c_ino);
	close(fd);
	/* a second request on the recreated e.txt: restored in place now */
	CU_ASSERT(stat(at(&f, "e.txt"), &before) == 0);
	CU_ASSERT(unit_put(at(&f, "e.txt"), "ECHO ECHO\n", O_TRUNC) == 0);
	CU_ASSERT_EQUAL(rs_layer_diff_count(f.l), 1);
	CU_ASSERT_EQUAL(rs_layer_restore_path(f.l, "./e.txt", &changed), 0);
	CU_ASSERT_EQUAL(changed, RS_FILE_RESTORED);
	CU_ASSERT(stat(at(&f, "e.txt"), &after) == 0 && after.st_ino == before.st_ino);
	CU_ASSERT(unit_holds(at(&f, "e.txt"), "echo\n"));
	CU_ASSERT_EQUAL(rs_layer_diff_count(f.l), 0);
	teardown(&f);
}

static void test_files_restore_all(void)
{
	struct fixture f;

	setup(&f);
	mutate(&f);
	CU_ASSERT_EQUAL(rs_layer_diff_count(f.l), 16);
	/* 16 - 1: sub/h2 is already right once h1 was rewritten */
	CU_ASSERT_EQUAL(rs_layer_restore_all(f.l), 15);
	CU_ASSERT_EQUAL(rs_layer_diff_count(f.l), 0);
	CU_ASSERT_EQUAL(rs_layer_restore_all(f.l), 0);
	check_tree(&f);
	teardown(&f);
}

static void test_files_deleted_dir_and_root(void)
{
	struct fixture f;
	enum rs_file_action changed;

	setup(&f);
	CU_ASSERT(nftw(at(&f, "sub"), rm_cb, 16, FTW_DEPTH | FTW_PHYS) == 0);
	CU_ASSERT(chmod(f.root, 0700) == 0);
	/* sub with its subtree counts 1, the root's mode 1 */
	CU_ASSERT_EQUAL(rs_layer_diff_count(f.l), 2);
	CU_ASSERT_EQUAL(rs_layer_restore_path(f.l, "sub/g.txt", &changed), 0); /* brings sub back */
	CU_ASSERT(changed);
	CU_ASSERT_EQUAL(rs_layer_restore_path(f.l, "sub", &changed), 0);
	CU_ASSERT(!changed);
	CU_ASSERT_EQUAL(rs_layer_diff_count(f.l), 1);
	CU_ASSERT_EQUAL(rs_layer_restore_path(f.l, "", &changed), 0);
	CU_ASSERT(changed);
	CU_ASSERT_EQUAL(rs_layer_diff_count(f.l), 0);
	check_tree(&f); /* sub/h2 is a link to h1 again */
	/* both names of the hard link gone: one new inode for the pair */
	CU_ASSERT(unlink(at(&f, "h1")) == 0 && unlink(at(&f, "sub/h2")) == 0);
	CU_ASSERT_EQUAL(rs_layer_diff_count(f.l), 2);
	CU_ASSERT_EQUAL(rs_layer_restore_all(f.l), 2);
	CU_ASSERT_EQUAL(rs_layer_diff_count(f.l), 0);
	check_tree(&f);
	/* an mtime one nanosecond off is a difference, fixed in place */
	{
		struct stat st, st2;
		struct timespec ts[2];

		CU_ASSERT(lstat(at(&f, "a.txt"), &st) == 0);
		ts[0] = st.st_atim;
		ts[1] = st.st_mtim;
		ts[1].tv_nsec = (ts[1].tv_nsec + 1) % 1000000000;
		CU_ASSERT(utimensat(AT_FDCWD, at(&f, "a.txt"), ts, AT_SYMLINK_NOFOLLOW) == 0);
		CU_ASSERT_EQUAL(rs_layer_diff_count(f.l), 1);
		CU_ASSERT_EQUAL(rs_layer_restore_path(f.l, "a.txt", &changed), 0);
		CU_ASSERT(changed);
		CU_ASSERT(lstat(at(&f, "a.txt"), &st2) == 0 && st2.st_ino == st.st_ino);
		CU_ASSERT(st2.st_mtim.tv_nsec == st.st_mtim.tv_nsec && st2.st_mtim.tv_sec == st.st_mtim.tv_sec);
		CU_ASSERT_EQUAL(rs_layer_diff_count(f.l), 0);
	}
	teardown(&f);
}

static void test_files_symlink_never_followed(void)
{
	char outside[160], file[192];
	struct fixture f;
	enum rs_file_action changed;

	setup(&f);
	snprintf(outside, sizeof(outside), "%s/outside", f.base);
	snprintf(file, sizeof(file), "%s/f.txt", outside);
	CU_ASSERT_FATAL(mkdir(outside, 0755) == 0);
	CU_ASSERT_FATAL(unit_put(file, "outside\n", O_TRUNC) == 0);
	/* the request swaps sub for a symlink out of the layer */
	CU_ASSERT(nftw(at(&f, "sub"), rm_cb, 16, FTW_DEPTH | FTW_PHYS) == 0);
	CU_ASSERT(symlink(outside, at(&f, "sub")) == 0);
	CU_ASSERT_EQUAL(rs_layer_diff_count(f.l), 1);
	CU_ASSERT_EQUAL(rs_layer_restore_path(f.l, "sub/f.txt", &changed), 0);
	CU_ASSERT(changed);
	CU_ASSERT(unit_holds(file, "outside\n"));
	CU_ASSERT(xattr_is(file, "user.tag", "orig") == false);
	CU_ASSERT_EQUAL(rs_layer_diff_count(f.l), 0);
	check_tree(&f);
	teardown(&f);
}

static void test_files_rejects_bad_paths(void)
{
	struct fixture f;
	enum rs_file_action changed = RS_FILE_RESTORED;

	setup(&f);
	CU_ASSERT_EQUAL(rs_layer_restore_path(f.l, "../etc/passwd", &changed), -EINVAL);
	CU_ASSERT(!changed);
	CU_ASSERT_EQUAL(rs_layer_restore_path(f.l, "sub/../../x", NULL), -EINVAL);
	CU_ASSERT_EQUAL(rs_layer_restore_path(f.l, "/etc/passwd", NULL), -EINVAL);
	CU_ASSERT_EQUAL(rs_layer_restore_path(f.l, "..", NULL), -EINVAL);
	CU_ASSERT_EQUAL(rs_layer_snapshot(f.root, f.store, &(struct rs_layer *){ NULL }), -EEXIST);
	CU_ASSERT_EQUAL(rs_layer_snapshot(f.root, at(&f, "store"), &(struct rs_layer *){ NULL }), -EINVAL);
	CU_ASSERT(access(at(&f, "store"), F_OK) != 0); /* nothing left behind */
	CU_ASSERT_EQUAL(rs_layer_diff_count(f.l), 0);
	teardown(&f);
}

UNIT_SUITE(files, UNIT_CASE(test_files_snapshot_unchanged), UNIT_CASE(test_files_restore_each_path),
	   UNIT_CASE(test_files_restore_all), UNIT_CASE(test_files_deleted_dir_and_root),
	   UNIT_CASE(test_files_symlink_never_followed), UNIT_CASE(test_files_rejects_bad_paths))
