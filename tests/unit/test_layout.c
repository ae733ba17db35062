// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests for restore/layout.c. The captured pairs in data/maps_layout_*.txt come from one
 * program run without ASLR that, between "before" and "after", did exactly this:
 *   munmap(0x7e0000006000, 2 pages)              hole in the 16-page anon map at 0x7e0000000000
 *   mprotect(0x7e0000101000, 1 page, PROT_READ)  in the rw-p private map of /usr/bin/cat
 *   mremap(0x7e0000200000 -> 0x7e0000280000, 4 pages)
 *   mmap(0x7e0000300000, 8 pages)                new anon map
 *   mmap(0x7e0000404000, 2 pages)                right after a 4-page anon map: the kernel merged them
 *   sbrk(+256 KiB)                               [heap] end 0x555555569000 -> 0x5555555a9000
 *   mmap 2 pages elsewhere, touch, mremap to 0x7e0000010000: right after the hole's upper part,
 *                                                identical attributes but not merged (other anon_vma)
 * and for "brk_shrunk", from "after": sbrk(-288 KiB) and munmap of those 2 moved pages.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "unit.h"
#include "../../restore/layout.h"

static void load(const char *name, struct rs_maps *m)
{
	char *text = unit_read_data(name);

	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_EQUAL_FATAL(rs_maps_parse(text, m), 0);
	free(text);
}

static void parse(const char *text, struct rs_maps *m)
{
	CU_ASSERT_EQUAL_FATAL(rs_maps_parse(text, m), 0);
}

#define ASSERT_OP(op, k, s, e)                    \
	do {                                      \
		CU_ASSERT_EQUAL((op).kind, (k));  \
		CU_ASSERT_EQUAL((op).start, (s)); \
		CU_ASSERT_EQUAL((op).end, (e));   \
	} while (0)

#define RW (PROT_READ | PROT_WRITE)
#define ANON_FLAGS (MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS)

static void test_layout_captured_request(void)
{
	struct rs_maps snap, now;
	struct rs_layout_plan p;

	load("maps_layout_before.txt", &snap);
	load("maps_layout_after.txt", &now);
	/* 4 munmaps + 1 brk + 2 recreates + 1 mprotect */
	CU_ASSERT_EQUAL_FATAL(rs_layout_diff(&snap, &now, &p), 8);
	CU_ASSERT_EQUAL_FATAL(p.n, 8);
	ASSERT_OP(p.ops[0], RS_LAYOUT_MUNMAP, 0x7e0000010000ULL, 0x7e0000012000ULL); /* the moved-in pair */
	ASSERT_OP(p.ops[1], RS_LAYOUT_MUNMAP, 0x7e0000280000ULL, 0x7e0000284000ULL); /* mremap target */
	ASSERT_OP(p.ops[2], RS_LAYOUT_MUNMAP, 0x7e0000300000ULL, 0x7e0000308000ULL); /* new map */
	ASSERT_OP(p.ops[3], RS_LAYOUT_MUNMAP, 0x7e0000404000ULL, 0x7e0000406000ULL); /* merged tail */
	ASSERT_OP(p.ops[4], RS_LAYOUT_BRK, 0x5555555a9000ULL, 0x555555569000ULL);
	ASSERT_OP(p.ops[5], RS_LAYOUT_RECREATE, 0x7e0000006000ULL, 0x7e0000008000ULL); /* the hole */
	CU_ASSERT_EQUAL(p.ops[5].prot, RW);
	CU_ASSERT_EQUAL(p.ops[5].flags, ANON_FLAGS);
	CU_ASSERT_EQUAL(p.ops[5].offset, 0);
	CU_ASSERT_PTR_EQUAL(p.ops[5].snap, rs_maps_find(&snap, 0x7e0000000000ULL));
	ASSERT_OP(p.ops[6], RS_LAYOUT_RECREATE, 0x7e0000200000ULL, 0x7e0000204000ULL); /* mremap source */
	CU_ASSERT_EQUAL(p.ops[6].flags, ANON_FLAGS);
	ASSERT_OP(p.ops[7], RS_LAYOUT_MPROTECT, 0x7e0000101000ULL, 0x7e0000102000ULL);
	CU_ASSERT_EQUAL(p.ops[7].prot, RW);
	CU_ASSERT(!rs_layout_equal(&snap, &now));
	rs_layout_plan_free(&p);
	rs_maps_free(&snap);
	rs_maps_free(&now);
}

static void test_layout_captured_reverse(void)
{
	/* checkpoint = "after", now = "before": every change runs the other way */
	struct rs_maps snap, now;
	struct rs_layout_plan p;
	const struct rs_vma *cat;

	load("maps_layout_after.txt", &snap);
	load("maps_layout_before.txt", &now);
	/* 2 munmaps + 1 brk + 4 recreates + 1 mprotect */
	CU_ASSERT_EQUAL_FATAL(rs_layout_diff(&snap, &now, &p), 8);
	ASSERT_OP(p.ops[0], RS_LAYOUT_MUNMAP, 0x7e0000006000ULL, 0x7e0000008000ULL);
	ASSERT_OP(p.ops[1], RS_LAYOUT_MUNMAP, 0x7e0000200000ULL, 0x7e0000204000ULL);
	ASSERT_OP(p.ops[2], RS_LAYOUT_BRK, 0x555555569000ULL, 0x5555555a9000ULL);
	ASSERT_OP(p.ops[3], RS_LAYOUT_RECREATE, 0x7e0000010000ULL, 0x7e0000012000ULL);
	/* the moved-in pair is its own VMA in the snap list; op->snap names it */
	CU_ASSERT_PTR_EQUAL(p.ops[3].snap, rs_maps_find(&snap, 0x7e0000010000ULL));
	CU_ASSERT_EQUAL(p.ops[3].snap->start, 0x7e0000010000ULL);
	ASSERT_OP(p.ops[4], RS_LAYOUT_RECREATE, 0x7e0000280000ULL, 0x7e0000284000ULL);
	ASSERT_OP(p.ops[5], RS_LAYOUT_RECREATE, 0x7e0000300000ULL, 0x7e0000308000ULL);
	ASSERT_OP(p.ops[6], RS_LAYOUT_RECREATE, 0x7e0000404000ULL, 0x7e0000406000ULL);
	ASSERT_OP(p.ops[7], RS_LAYOUT_MPROTECT, 0x7e0000101000ULL, 0x7e0000102000ULL);
	CU_ASSERT_EQUAL(p.ops[7].prot, PROT_READ);
	cat = rs_maps_find(&snap, 0x7e0000101000ULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cat);
	CU_ASSERT_STRING_EQUAL(cat->name, "/usr/bin/cat");
	rs_layout_plan_free(&p);
	rs_maps_free(&snap);
	rs_maps_free(&now);
}

static void test_layout_captured_brk_shrunk(void)
{
	/* heap now ends 32 KiB below the checkpoint: brk grows back over [0x555555561000, 0x555555569000) */
	struct rs_maps snap, now;
	struct rs_layout_plan p;

	load("maps_layout_before.txt", &snap);
	load("maps_layout_brk_shrunk.txt", &now);
	CU_ASSERT_EQUAL_FATAL(rs_layout_diff(&snap, &now, &p), 7);
	ASSERT_OP(p.ops[0], RS_LAYOUT_MUNMAP, 0x7e0000280000ULL, 0x7e0000284000ULL);
	ASSERT_OP(p.ops[1], RS_LAYOUT_MUNMAP, 0x7e0000300000ULL, 0x7e0000308000ULL);
	ASSERT_OP(p.ops[2], RS_LAYOUT_MUNMAP, 0x7e0000404000ULL, 0x7e0000406000ULL);
	ASSERT_OP(p.ops[3], RS_LAYOUT_BRK, 0x555555561000ULL, 0x555555569000ULL);
	ASSERT_OP(p.ops[4], RS_LAYOUT_RECREATE, 0x7e0000006000ULL, 0x7e0000008000ULL);
	ASSERT_OP(p.ops[5], RS_LAYOUT_RECREATE, 0x7e0000200000ULL, 0x7e0000204000ULL);
	ASSERT_OP(p.ops[6], RS_LAYOUT_MPROTECT, 0x7e0000101000ULL, 0x7e0000102000ULL);
	rs_layout_plan_free(&p);
	rs_maps_free(&snap);
	rs_maps_free(&now);
}

static void test_layout_normalise_captured(void)
{
	/*
	 * 28 lines - 4 kernel-owned ([vvar], [vvar_vclock], [vdso], [vsyscall]) - 2 merges = 22.
	 * The kernel split libc and ld.so at RELRO: r--p 0x17c000 (0x53000 long) then r--p
	 * 0x1cf000, and r--p 0x27000 (0xa000 long) then r--p 0x31000 are contiguous in the file
	 * with identical attributes, so each pair becomes one entry. The two r--p entries of
	 * /tmp/cap/cap both have offset 0x2000: not contiguous, not merged.
	 */
	struct rs_maps m, c;
	const struct rs_vma *v;

	load("maps_layout_before.txt", &m);
	CU_ASSERT_EQUAL_FATAL(m.n, 28);
	CU_ASSERT_EQUAL_FATAL(rs_layout_normalise(&m, &c), 22);
	CU_ASSERT_EQUAL(c.v[2].start, 0x555555556000ULL);
	CU_ASSERT_EQUAL(c.v[3].start, 0x555555557000ULL);
	v = rs_maps_find(&c, 0x7ffff7fa2000ULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_EQUAL(v->start, 0x7ffff7f4f000ULL);
	CU_ASSERT_EQUAL(v->end, 0x7ffff7fa6000ULL);
	CU_ASSERT_EQUAL(v->offset, 0x17c000);
	CU_ASSERT(rs_layout_equal(&m, &c));
	CU_ASSERT(rs_layout_equal(&c, &m));
	rs_maps_free(&c);
	rs_maps_free(&m);

	/* "after": 33 lines - 4 kernel-owned - 3 merges: the moved-in pair joins the holed map's upper part */
	load("maps_layout_after.txt", &m);
	CU_ASSERT_EQUAL_FATAL(rs_layout_normalise(&m, &c), 26);
	CU_ASSERT_EQUAL(c.v[7].start, 0x7e0000008000ULL);
	CU_ASSERT_EQUAL(c.v[7].end, 0x7e0000012000ULL);
	rs_maps_free(&c);
	rs_maps_free(&m);
}

static void test_layout_split_identical_is_no_diff(void)
{
	/* an mprotect round trip left three VMAs with identical attributes: same layout */
	static const char snap_t[] = "10000-19000 rw-p 00000000 00:00 0 \n"
				     "20000-30000 r-xp 00001000 fe:00 77 /usr/lib/libx.so\n";
	static const char now_t[] = "10000-12000 rw-p 00000000 00:00 0 \n"
				    "12000-13000 rw-p 00000000 00:00 0 \n"
				    "13000-19000 rw-p 00000000 00:00 0 \n"
				    "20000-24000 r-xp 00001000 fe:00 77 /usr/lib/libx.so\n"
				    "24000-30000 r-xp 00005000 fe:00 77 /usr/lib/libx.so\n";
	struct rs_maps snap, now;
	struct rs_layout_plan p;

	parse(snap_t, &snap);
	parse(now_t, &now);
	CU_ASSERT_EQUAL(rs_layout_diff(&snap, &now, &p), 0);
	CU_ASSERT_EQUAL(p.n, 0);
	CU_ASSERT(rs_layout_equal(&snap, &now));
	rs_layout_plan_free(&p);
	rs_maps_free(&now);

	/* the same split with a file offset gap is a different file range, not a split */
	parse("20000-24000 r-xp 00001000 fe:00 77 /usr/lib/libx.so\n"
	      "24000-30000 r-xp 00006000 fe:00 77 /usr/lib/libx.so\n"
	      "10000-19000 rw-p 00000000 00:00 0 \n",
	      &now);
	CU_ASSERT(!rs_layout_equal(&snap, &now));
	rs_maps_free(&now);
	rs_maps_free(&snap);
}

static void test_layout_hole_in_file_map(void)
{
	/* two pages punched out of the middle of a file map: one RECREATE of exactly the hole */
	struct rs_maps snap, now;
	struct rs_layout_plan p;

	parse("10000-20000 r-xp 00004000 fe:00 5 /lib/x.so\n", &snap);
	parse("10000-13000 r-xp 00004000 fe:00 5 /lib/x.so\n"
	      "15000-20000 r-xp 00009000 fe:00 5 /lib/x.so\n",
	      &now);
	CU_ASSERT_EQUAL_FATAL(rs_layout_diff(&snap, &now, &p), 1);
	ASSERT_OP(p.ops[0], RS_LAYOUT_RECREATE, 0x13000, 0x15000);
	CU_ASSERT_EQUAL(p.ops[0].prot, PROT_READ | PROT_EXEC);
	CU_ASSERT_EQUAL(p.ops[0].flags, MAP_FIXED | MAP_PRIVATE);
	CU_ASSERT_EQUAL(p.ops[0].offset, 0x7000);
	CU_ASSERT_PTR_EQUAL(p.ops[0].snap, &snap.v[0]);
	rs_layout_plan_free(&p);
	rs_maps_free(&now);
	rs_maps_free(&snap);
}

static void test_layout_merged_neighbour_is_munmap_of_new_part(void)
{
	/* a new anon map right after an old one: the kernel shows one VMA; unmap only the new part */
	struct rs_maps snap, now;
	struct rs_layout_plan p;

	parse("10000-14000 rw-p 00000000 00:00 0 \n", &snap);
	parse("f000-16000 rw-p 00000000 00:00 0 \n", &now);
	CU_ASSERT_EQUAL_FATAL(rs_layout_diff(&snap, &now, &p), 2);
	ASSERT_OP(p.ops[0], RS_LAYOUT_MUNMAP, 0xf000, 0x10000);
	ASSERT_OP(p.ops[1], RS_LAYOUT_MUNMAP, 0x14000, 0x16000);
	rs_layout_plan_free(&p);
	rs_maps_free(&now);
	rs_maps_free(&snap);
}

static void test_layout_backing_changed(void)
{
	/*
	 * munmap of a file map then anon over it; a file map remapped at another offset; a private
	 * map replaced by a shared one; a file whose inode changed. Each is a RECREATE of the whole
	 * range with the checkpoint backing. Adjacent new maps of different prot coalesce into one
	 * MUNMAP.
	 */
	struct rs_maps snap, now;
	struct rs_layout_plan p;

	parse("10000-12000 rw-p 00000000 fe:00 5 /data/a\n"
	      "20000-22000 r--p 00002000 fe:00 5 /data/a\n"
	      "30000-31000 rw-p 00000000 00:00 0 \n"
	      "40000-41000 r--p 00000000 fe:00 6 /data/b\n",
	      &snap);
	parse("10000-12000 rw-p 00000000 00:00 0 \n"
	      "20000-22000 r--p 00003000 fe:00 5 /data/a\n"
	      "30000-31000 rw-s 00000000 00:01 9 /dev/zero (deleted)\n"
	      "40000-41000 r--p 00000000 fe:00 7 /data/b\n"
	      "50000-51000 rw-p 00000000 00:00 0 \n"
	      "51000-53000 r--p 00000000 00:00 0 \n",
	      &now);
	CU_ASSERT_EQUAL_FATAL(rs_layout_diff(&snap, &now, &p), 5);
	ASSERT_OP(p.ops[0], RS_LAYOUT_MUNMAP, 0x50000, 0x53000);
	ASSERT_OP(p.ops[1], RS_LAYOUT_RECREATE, 0x10000, 0x12000);
	CU_ASSERT_EQUAL(p.ops[1].flags, MAP_FIXED | MAP_PRIVATE);
	CU_ASSERT_STRING_EQUAL(p.ops[1].snap->name, "/data/a");
	ASSERT_OP(p.ops[2], RS_LAYOUT_RECREATE, 0x20000, 0x22000);
	CU_ASSERT_EQUAL(p.ops[2].offset, 0x2000);
	ASSERT_OP(p.ops[3], RS_LAYOUT_RECREATE, 0x30000, 0x31000);
	CU_ASSERT_EQUAL(p.ops[3].flags, ANON_FLAGS);
	ASSERT_OP(p.ops[4], RS_LAYOUT_RECREATE, 0x40000, 0x41000);
	CU_ASSERT_EQUAL(p.ops[4].snap->inode, 6);
	rs_layout_plan_free(&p);
	rs_maps_free(&now);
	rs_maps_free(&snap);
}

static void test_layout_heap_cases(void)
{
	struct rs_maps snap, now;
	struct rs_layout_plan p;

	/* no heap at checkpoint, one now: brk back to its start, nothing else */
	parse("400000-401000 r-xp 00000000 fe:00 3 /bin/x\n", &snap);
	parse("400000-401000 r-xp 00000000 fe:00 3 /bin/x\n"
	      "600000-622000 rw-p 00000000 00:00 0 [heap]\n",
	      &now);
	CU_ASSERT_EQUAL_FATAL(rs_layout_diff(&snap, &now, &p), 1);
	ASSERT_OP(p.ops[0], RS_LAYOUT_BRK, 0x622000, 0x600000);
	rs_layout_plan_free(&p);
	/* and the other way: the heap must grow back from its start */
	CU_ASSERT_EQUAL_FATAL(rs_layout_diff(&now, &snap, &p), 1);
	ASSERT_OP(p.ops[0], RS_LAYOUT_BRK, 0x600000, 0x622000);
	rs_layout_plan_free(&p);
	rs_maps_free(&now);
	rs_maps_free(&snap);

	/*
	 * The heap had a read-only page at checkpoint inside what was since given back by brk and
	 * is now partly occupied by a new map: unmap the squatter, brk, then mprotect the page.
	 * Pages whose protection changed below the current end are plain MPROTECTs.
	 */
	parse("600000-602000 rw-p 00000000 00:00 0 [heap]\n"
	      "602000-603000 r--p 00000000 00:00 0 [heap]\n"
	      "603000-605000 rw-p 00000000 00:00 0 [heap]\n"
	      "605000-606000 r--p 00000000 00:00 0 [heap]\n"
	      "606000-608000 rw-p 00000000 00:00 0 [heap]\n",
	      &snap);
	parse("600000-601000 rw-p 00000000 00:00 0 [heap]\n"
	      "601000-602000 r--p 00000000 00:00 0 [heap]\n"
	      "602000-604000 rw-p 00000000 00:00 0 [heap]\n"
	      "606000-607000 rw-p 00000000 00:00 0 \n",
	      &now);
	CU_ASSERT_EQUAL_FATAL(rs_layout_diff(&snap, &now, &p), 5);
	ASSERT_OP(p.ops[0], RS_LAYOUT_MUNMAP, 0x606000, 0x607000);
	ASSERT_OP(p.ops[1], RS_LAYOUT_BRK, 0x604000, 0x608000);
	ASSERT_OP(p.ops[2], RS_LAYOUT_MPROTECT, 0x601000, 0x602000);
	CU_ASSERT_EQUAL(p.ops[2].prot, RW);
	ASSERT_OP(p.ops[3], RS_LAYOUT_MPROTECT, 0x602000, 0x603000);
	CU_ASSERT_EQUAL(p.ops[3].prot, PROT_READ);
	ASSERT_OP(p.ops[4], RS_LAYOUT_MPROTECT, 0x605000, 0x606000);
	CU_ASSERT_EQUAL(p.ops[4].prot, PROT_READ);
	rs_layout_plan_free(&p);
	rs_maps_free(&now);
	rs_maps_free(&snap);
}

static void test_layout_ignores_kernel_mappings(void)
{
	struct rs_maps snap, now;
	struct rs_layout_plan p;

	parse("7ffd0000-7ffd2000 r--p 00000000 00:00 0 [vvar]\n"
	      "7ffd2000-7ffd4000 r-xp 00000000 00:00 0 [vdso]\n"
	      "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]\n",
	      &snap);
	parse("7ffe0000-7ffe4000 r--p 00000000 00:00 0 [vvar]\n"
	      "7ffe4000-7ffe6000 r--p 00000000 00:00 0 [vvar_vclock]\n"
	      "7ffe6000-7ffe8000 r-xp 00000000 00:00 0 [vdso]\n",
	      &now);
	CU_ASSERT_EQUAL(rs_layout_diff(&snap, &now, &p), 0);
	CU_ASSERT(rs_layout_equal(&snap, &now));
	rs_layout_plan_free(&p);
	rs_maps_free(&now);
	rs_maps_free(&snap);
	CU_ASSERT_STRING_EQUAL(rs_layout_op_kind_str(RS_LAYOUT_RECREATE), "recreate");
}

/* The binary replaced on disk while mapped: same inode, new name; no layout change. */
static void test_layout_unlinked_file_is_same_mapping(void)
{
	const char *a = "555555554000-555555556000 rw-p 00002000 fe:00 4242    /srv/fn/runtime\n";
	const char *b = "555555554000-555555556000 rw-p 00002000 fe:00 4242    /srv/fn/runtime (deleted)\n";
	const char *c = "555555554000-555555556000 rw-p 00002000 fe:00 4343    /srv/fn/runtime\n";
	struct rs_layout_plan plan = {};
	struct rs_maps ma, mb, mc;

	CU_ASSERT_FATAL(rs_maps_parse(a, &ma) == 0 && rs_maps_parse(b, &mb) == 0 && rs_maps_parse(c, &mc) == 0);
	CU_ASSERT(mb.v[0].deleted);
	CU_ASSERT_EQUAL(rs_layout_diff(&ma, &mb, &plan), 0);
	CU_ASSERT(rs_layout_equal(&ma, &mb));
	rs_layout_plan_free(&plan);
	/* another inode at the same place is another mapping */
	CU_ASSERT_EQUAL(rs_layout_diff(&ma, &mc, &plan), 1);
	CU_ASSERT_EQUAL(plan.ops[0].kind, RS_LAYOUT_RECREATE);
	rs_layout_plan_free(&plan);
	rs_maps_free(&ma);
	rs_maps_free(&mb);
	rs_maps_free(&mc);
}

UNIT_SUITE(layout, UNIT_CASE(test_layout_unlinked_file_is_same_mapping), UNIT_CASE(test_layout_captured_request), UNIT_CASE(test_layout_captured_reverse),
	   UNIT_CASE(test_layout_captured_brk_shrunk), UNIT_CASE(test_layout_normalise_captured),
	   UNIT_CASE(test_layout_split_identical_is_no_diff), UNIT_CASE(test_layout_hole_in_file_map),
	   UNIT_CASE(test_layout_merged_neighbour_is_munmap_of_new_part), UNIT_CASE(test_layout_backing_changed),
	   UNIT_CASE(test_layout_heap_cases), UNIT_CASE(test_layout_ignores_kernel_mappings))
