// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests for restore/layers.c on a real, mounted overlayfs: a request's
 * changes made through the merged view (new files, copy-ups of lower files,
 * whiteouts, renames, trees) are undone in the upper dir behind the mount, and
 * the merged view shows the snapshot again. Our own process is the "target":
 * /proc/self/root is the view the layers check.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include "unit.h"
#include "restore/layers.h"

struct ovl {
	char base[64];
	char lower[128], lower2[128], upper[128], work[128], merged[128], store[128];
	char lowers[260];
	bool mounted;
	struct rs_layer_set set;
};

static char *in(const char *dir, const char *rel)
{
	static char buf[8][320];
	static int k;

	k = (k + 1) % 8;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, rel);
	return buf[k];
}

static bool exists(const char *path)
{
	struct stat st;

	return !lstat(path, &st);
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/*
 * lower: a.txt gone.txt mv.txt dir/f.txt        upper: srv/keep.txt srv/log
 * mounted at merged, snapshot taken as one overlay layer seen at merged.
 */
static bool ovl_setup(struct ovl *o)
{
	struct lethe_layer spec = {.kind = LETHE_LAYER_OVERLAY};
	struct lethe_opts opts = {0};
	char data[1024];

	memset(o, 0, sizeof(*o));
	strcpy(o->base, "/tmp/lethe-layers-XXXXXX");
	if (!mkdtemp(o->base))
		return false;
	snprintf(o->lower, sizeof(o->lower), "%s/lower", o->base);
	snprintf(o->lower2, sizeof(o->lower2), "%s/lower2", o->base);
	snprintf(o->lowers, sizeof(o->lowers), "%s\n%s", o->lower, o->lower2);
	snprintf(o->upper, sizeof(o->upper), "%s/upper", o->base);
	snprintf(o->work, sizeof(o->work), "%s/work", o->base);
	snprintf(o->merged, sizeof(o->merged), "%s/merged", o->base);
	snprintf(o->store, sizeof(o->store), "%s/store", o->base);
	if (mkdir(o->lower, 0755) || mkdir(o->lower2, 0755) || mkdir(o->upper, 0755) || mkdir(o->work, 0755) ||
	    mkdir(o->merged, 0755) || mkdir(in(o->lower, "dir"), 0755) || mkdir(in(o->upper, "srv"), 0755))
		return false;
	if (unit_put(in(o->lower, "a.txt"), "lower-a\n", 0) || unit_put(in(o->lower, "gone.txt"), "lower-gone\n", 0) ||
	    unit_put(in(o->lower, "mv.txt"), "lower-mv\n", 0) || unit_put(in(o->lower, "dir/f.txt"), "lower-f\n", 0) ||
	    unit_put(in(o->upper, "srv/keep.txt"), "upper-keep\n", 0) || unit_put(in(o->upper, "srv/log"), "", 0) ||
	    unit_put(in(o->lower2, "deep.txt"), "lower2-deep\n", 0))
		return false;
	snprintf(data, sizeof(data), "lowerdir=%s:%s,upperdir=%s,workdir=%s", o->lower, o->lower2, o->upper, o->work);
	if (mount("overlay", o->merged, "overlay", 0, data))
		return false;
	o->mounted = true;
	spec.path = o->merged;
	spec.root = o->upper;
	spec.lower = o->lowers;
	opts.layers = &spec;
	opts.nlayers = 1;
	return rs_layers_take(&o->set, &opts, getpid(), o->store) == 0;
}

static void ovl_teardown(struct ovl *o)
{
	rs_layers_free(&o->set);
	if (o->mounted)
		umount2(o->merged, MNT_DETACH);
	nftw(o->base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *const touched[] = {
    "new.txt", "srv/keep.txt", "a.txt", "dir/f.txt", "gone.txt", "mv.txt", "srv/moved.txt", "tree", "tree/x/leaf",
};
#define NTOUCHED (sizeof(touched) / sizeof(touched[0]))

/* What a request does, through the merged view only. */
static void request(struct ovl *o)
{
	CU_ASSERT(unit_put(in(o->merged, "new.txt"), "CANARY new\n", O_TRUNC) == 0);
	CU_ASSERT(unit_put(in(o->merged, "srv/keep.txt"), "CANARY more\n", O_APPEND) == 0);
	CU_ASSERT(unit_put(in(o->merged, "a.txt"), "CANARY copy-up\n", O_TRUNC) == 0);
	CU_ASSERT(unit_put(in(o->merged, "dir/f.txt"), "CANARY deep copy-up\n", O_APPEND) == 0);
	CU_ASSERT(unlink(in(o->merged, "gone.txt")) == 0);
	CU_ASSERT(rename(in(o->merged, "mv.txt"), in(o->merged, "srv/moved.txt")) == 0);
	CU_ASSERT(mkdir(in(o->merged, "tree"), 0755) == 0);
	CU_ASSERT(mkdir(in(o->merged, "tree/x"), 0755) == 0);
	CU_ASSERT(unit_put(in(o->merged, "tree/x/leaf"), "CANARY leaf\n", 0) == 0);
	/* the upper dir really changed: a copy-up, a whiteout, new parents */
	CU_ASSERT(exists(in(o->upper, "a.txt")) && exists(in(o->upper, "dir/f.txt")));
	CU_ASSERT(exists(in(o->upper, "gone.txt")));
	CU_ASSERT(rs_layers_diff_count(&o->set) > 0);
}

static struct ld_file *files_of(const struct ovl *o)
{
	struct ld_file *f = calloc(NTOUCHED, sizeof(*f));

	for (size_t i = 0; f && i < NTOUCHED; i++) {
		snprintf(f[i].path, sizeof(f[i].path), "%s/%s", o->merged, touched[i]);
		f[i].ops = 1;
	}
	return f;
}

/* The merged view and the upper dir are the snapshot's again. */
static void check_rewound(struct ovl *o)
{
	CU_ASSERT_EQUAL(rs_layers_diff_count(&o->set), 0);
	CU_ASSERT(!exists(in(o->merged, "new.txt")));
	CU_ASSERT(unit_holds(in(o->merged, "srv/keep.txt"), "upper-keep\n"));
	CU_ASSERT(unit_holds(in(o->merged, "a.txt"), "lower-a\n"));
	CU_ASSERT(unit_holds(in(o->merged, "dir/f.txt"), "lower-f\n"));
	CU_ASSERT(unit_holds(in(o->merged, "gone.txt"), "lower-gone\n"));
	CU_ASSERT(unit_holds(in(o->merged, "mv.txt"), "lower-mv\n"));
	CU_ASSERT(!exists(in(o->merged, "srv/moved.txt")));
	CU_ASSERT(!exists(in(o->merged, "tree")));
	/* copy-ups dropped with the parents overlayfs made for them; the whiteout is gone */
	CU_ASSERT(!exists(in(o->upper, "a.txt")) && !exists(in(o->upper, "dir")));
	CU_ASSERT(!exists(in(o->upper, "gone.txt")) && !exists(in(o->upper, "new.txt")));
}

static void test_layers_overlay_paths(void)
{
	static const enum lethe_file_action want[NTOUCHED] = {
	    LETHE_FILE_REMOVED,	  LETHE_FILE_RESTORED, LETHE_FILE_RESTORED, LETHE_FILE_RESTORED, LETHE_FILE_RECREATED,
	    LETHE_FILE_RECREATED, LETHE_FILE_REMOVED,  LETHE_FILE_REMOVED,  LETHE_FILE_REMOVED,
	};
	struct lethe_file_result res[NTOUCHED];
	struct lethe_rewind_stats st = {0};
	struct ld_file *files;
	struct ovl o;

	CU_ASSERT_FATAL(ovl_setup(&o));
	files = files_of(&o);
	CU_ASSERT_FATAL(files != NULL);
	request(&o);
	CU_ASSERT_EQUAL(rs_layers_restore(&o.set, files, NTOUCHED, false, res, &st), 0);
	CU_ASSERT(st.dcache_flushed);
	CU_ASSERT(!st.files_full_diff);
	CU_ASSERT(st.files_restored >= 7);
	for (size_t i = 0; i < NTOUCHED; i++) {
		if (res[i].action != want[i])
			fprintf(stderr, "%s: %s, expected %s\n", touched[i], lethe_file_action_str(res[i].action),
				lethe_file_action_str(want[i]));
		CU_ASSERT_EQUAL(res[i].action, want[i]);
	}
	check_rewound(&o);
	/* and again: a second request on the restored tree */
	request(&o);
	memset(&st, 0, sizeof(st));
	CU_ASSERT_EQUAL(rs_layers_restore(&o.set, files, NTOUCHED, false, res, &st), 0);
	check_rewound(&o);
	free(files);
	ovl_teardown(&o);
}

/* Lost events: the whole upper dir is diffed and restored, with the same result. */
static void test_layers_overlay_full_diff(void)
{
	struct lethe_file_result res[1];
	struct lethe_rewind_stats st = {0};
	struct ld_file *files;
	struct ovl o;

	CU_ASSERT_FATAL(ovl_setup(&o));
	files = files_of(&o);
	CU_ASSERT_FATAL(files != NULL);
	request(&o);
	/* the tracker named only one path; the full diff finds the rest */
	CU_ASSERT_EQUAL(rs_layers_restore(&o.set, files, 1, true, res, &st), 0);
	CU_ASSERT(st.files_full_diff && st.dcache_flushed);
	CU_ASSERT(st.files_restored >= 7);
	CU_ASSERT_EQUAL(res[0].action, LETHE_FILE_REMOVED);
	check_rewound(&o);
	free(files);
	ovl_teardown(&o);
}

/*
 * A copied-up file the sandbox still holds open keeps its overlayfs dentry on
 * the upper inode, which no cache drop can remove once the copy is gone from the
 * upper dir: the merged view would still show the request's file. The check
 * must see that and refuse, not report success.
 */
static void test_layers_overlay_pinned_dentry_refused(void)
{
	struct lethe_file_result res[NTOUCHED];
	struct lethe_rewind_stats st = {0};
	struct ld_file *files;
	struct ovl o;
	int fd;

	CU_ASSERT_FATAL(ovl_setup(&o));
	files = files_of(&o);
	CU_ASSERT_FATAL(files != NULL);
	request(&o);
	fd = open(in(o.merged, "a.txt"), O_RDONLY);
	CU_ASSERT(fd >= 0);
	CU_ASSERT_EQUAL(rs_layers_restore(&o.set, files, NTOUCHED, false, res, &st), -ENOTRECOVERABLE);
	CU_ASSERT_EQUAL(st.reason, LETHE_REASON_FILES_FAILED);
	close(fd);
	free(files);
	ovl_teardown(&o);
}

/*
 * New entries where no lower layer has the name are removed through the merged
 * view: overlayfs' dentries stay right, so nothing system-wide is dropped, and
 * a file still open there is no obstacle.
 */
static void test_layers_overlay_new_only_no_flush(void)
{
	static const char *const made[] = {"new.txt", "tree", "tree/x/leaf", "srv/fresh"};
	struct lethe_file_result res[4];
	struct lethe_rewind_stats st = {0};
	struct ld_file files[4];
	struct ovl o;
	int fd;

	CU_ASSERT_FATAL(ovl_setup(&o));
	CU_ASSERT(unit_put(in(o.merged, "new.txt"), "CANARY\n", 0) == 0);
	CU_ASSERT(mkdir(in(o.merged, "tree"), 0755) == 0 && mkdir(in(o.merged, "tree/x"), 0755) == 0);
	CU_ASSERT(unit_put(in(o.merged, "tree/x/leaf"), "CANARY\n", 0) == 0);
	CU_ASSERT(unit_put(in(o.merged, "srv/fresh"), "CANARY\n", 0) == 0);
	fd = open(in(o.merged, "new.txt"), O_RDONLY);
	for (size_t i = 0; i < 4; i++) {
		snprintf(files[i].path, sizeof(files[i].path), "%s/%s", o.merged, made[i]);
		files[i].ops = 1;
	}
	CU_ASSERT_EQUAL(rs_layers_restore(&o.set, files, 4, false, res, &st), 0);
	CU_ASSERT(!st.dcache_flushed);
	for (size_t i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(res[i].action, LETHE_FILE_REMOVED);
	CU_ASSERT_EQUAL(rs_layers_diff_count(&o.set), 0);
	CU_ASSERT(!exists(in(o.merged, "new.txt")) && !exists(in(o.merged, "tree")));
	CU_ASSERT(!exists(in(o.upper, "new.txt")) && !exists(in(o.upper, "srv/fresh")));
	if (fd >= 0)
		close(fd);
	ovl_teardown(&o);
}

/*
 * A file only the second lower layer has, modified by the request: dropping the
 * copy-up must not go through the merged view (overlayfs would leave a whiteout
 * that hides the lower file), so every lower layer counts.
 */
static void test_layers_overlay_second_lower(void)
{
	struct lethe_file_result res[1];
	struct lethe_rewind_stats st = {0};
	struct ld_file files[1];
	struct ovl o;

	CU_ASSERT_FATAL(ovl_setup(&o));
	CU_ASSERT(unit_put(in(o.merged, "deep.txt"), "CANARY deep\n", O_TRUNC) == 0);
	CU_ASSERT(exists(in(o.upper, "deep.txt")));
	snprintf(files[0].path, sizeof(files[0].path), "%s/deep.txt", o.merged);
	files[0].ops = 1;
	CU_ASSERT_EQUAL(rs_layers_restore(&o.set, files, 1, false, res, &st), 0);
	CU_ASSERT_EQUAL(res[0].action, LETHE_FILE_RESTORED);
	CU_ASSERT(unit_holds(in(o.merged, "deep.txt"), "lower2-deep\n"));
	CU_ASSERT(!exists(in(o.upper, "deep.txt")));
	CU_ASSERT_EQUAL(rs_layers_diff_count(&o.set), 0);
	ovl_teardown(&o);
}

/* The deepest layer owns a path; names outside every layer and relative ones have none. */
static void test_layers_find(void)
{
	struct rs_sblayer v[4] = {
	    {.path = "/"}, {.path = "/tmp"}, {.path = "/data/in"}, {.path = "/data", .kind = LETHE_LAYER_NONE}};
	struct rs_layer_set set = {.v = v, .n = 4};
	const char *rel = NULL;

	CU_ASSERT_PTR_EQUAL(rs_layers_find(&set, "/tmp/a/b", &rel), &v[1]);
	CU_ASSERT_STRING_EQUAL(rel, "a/b");
	CU_ASSERT_PTR_EQUAL(rs_layers_find(&set, "/tmp", &rel), &v[1]);
	CU_ASSERT_STRING_EQUAL(rel, "");
	CU_ASSERT_PTR_EQUAL(rs_layers_find(&set, "/tmpx/y", &rel), &v[0]);
	CU_ASSERT_STRING_EQUAL(rel, "tmpx/y");
	CU_ASSERT_PTR_EQUAL(rs_layers_find(&set, "//srv//x", &rel), &v[0]);
	CU_ASSERT_STRING_EQUAL(rel, "srv//x");
	CU_ASSERT_PTR_EQUAL(rs_layers_find(&set, "/data/in/z", &rel), &v[2]);
	CU_ASSERT_STRING_EQUAL(rel, "z");
	/* a mount that is not rewound cuts its paths out of the enclosing layer */
	CU_ASSERT_PTR_NULL(rs_layers_find(&set, "/data/inside", &rel));
	CU_ASSERT_PTR_NULL(rs_layers_find(&set, "/data", &rel));
	CU_ASSERT_PTR_EQUAL(rs_layers_find(&set, "/database", &rel), &v[0]);
	CU_ASSERT_PTR_NULL(rs_layers_find(&set, "inode:3:4", &rel));
	set.n = 2;
	set.v = &v[1];
	CU_ASSERT_PTR_NULL(rs_layers_find(&set, "/srv/x", &rel));
}

UNIT_SUITE(layers, UNIT_CASE(test_layers_overlay_paths), UNIT_CASE(test_layers_overlay_full_diff),
	   UNIT_CASE(test_layers_overlay_pinned_dentry_refused), UNIT_CASE(test_layers_overlay_new_only_no_flush),
	   UNIT_CASE(test_layers_overlay_second_lower), UNIT_CASE(test_layers_find));
