// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Layout diff and undo plan. The kernel's VMA boundaries are not stable (merges, splits), so
 * both lists are normalised and compared address range by address range.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "layout.h"

/*
 * Same object behind the mapping. A file is its device and inode: renaming or
 * unlinking it elsewhere changes the name /proc prints (" (deleted)"), not the
 * mapping. Anonymous memory is told apart by name ([heap], [stack], [anon:x]).
 */
static bool same_backing(const struct rs_vma *a, const struct rs_vma *b)
{
	if (a->dev_major != b->dev_major || a->dev_minor != b->dev_minor || a->inode != b->inode ||
	    (a->prot & RS_VMA_SHARED) != (b->prot & RS_VMA_SHARED))
		return false;
	if (a->inode)
		return true;
	return a->deleted == b->deleted && !strcmp(a->name, b->name);
}

/* File offset of addr inside v; anonymous mappings have none (the kernel shows 0). */
static uint64_t offset_at(const struct rs_vma *v, uint64_t addr)
{
	return v->inode ? v->offset + (addr - v->start) : 0;
}

/* b continues a: touching, same protection and backing, and contiguous in the file. */
static bool can_merge(const struct rs_vma *a, const struct rs_vma *b)
{
	return a->end == b->start && a->prot == b->prot && same_backing(a, b) &&
	       offset_at(a, a->end) == offset_at(b, b->start);
}

/* The next canonical entry of m, merged from m->v[*i] on; false at the end. */
static bool next_run(const struct rs_maps *m, size_t *i, struct rs_vma *run)
{
	while (*i < m->n && (rs_vma_is_special(&m->v[*i]) || m->v[*i].start >= m->v[*i].end))
		(*i)++;
	if (*i >= m->n)
		return false;
	*run = m->v[(*i)++];
	while (*i < m->n && can_merge(run, &m->v[*i]))
		run->end = m->v[(*i)++].end;
	return true;
}

int rs_layout_normalise(const struct rs_maps *in, struct rs_maps *out)
{
	struct rs_vma run;
	size_t i = 0;

	memset(out, 0, sizeof(*out));
	if (!in->n)
		return 0;
	out->v = malloc(in->n * sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	out->cap = in->n;
	while (next_run(in, &i, &run))
		out->v[out->n++] = run;
	return (int)out->n;
}

bool rs_layout_equal(const struct rs_maps *a, const struct rs_maps *b)
{
	struct rs_vma ra, rb;
	size_t i = 0, j = 0;

	for (;;) {
		bool more_a = next_run(a, &i, &ra), more_b = next_run(b, &j, &rb);

		if (!more_a || !more_b)
			return more_a == more_b;
		if (ra.start != rb.start || ra.end != rb.end || ra.prot != rb.prot || !same_backing(&ra, &rb) ||
		    offset_at(&ra, ra.start) != offset_at(&rb, rb.start))
			return false;
	}
}

const char *rs_layout_op_kind_str(enum rs_layout_op_kind kind)
{
	switch (kind) {
	case RS_LAYOUT_MUNMAP:
		return "munmap";
	case RS_LAYOUT_BRK:
		return "brk";
	case RS_LAYOUT_RECREATE:
		return "recreate";
	case RS_LAYOUT_MPROTECT:
		return "mprotect";
	}
	return "unknown";
}

void rs_layout_plan_free(struct rs_layout_plan *p)
{
	if (!p)
		return;
	free(p->ops);
	memset(p, 0, sizeof(*p));
}

static unsigned int prot_of(const struct rs_vma *v)
{
	unsigned int prot = 0;

	if (v->prot & RS_VMA_READ)
		prot |= PROT_READ;
	if (v->prot & RS_VMA_WRITE)
		prot |= PROT_WRITE;
	if (v->prot & RS_VMA_EXEC)
		prot |= PROT_EXEC;
	return prot;
}

/* Extent of the [heap] entries of a canonical list (mprotect can cut the heap in pieces). */
struct heap {
	bool present;
	uint64_t start, end;
};

static struct heap heap_of(const struct rs_maps *m)
{
	struct heap h = {false, 0, 0};

	for (size_t i = 0; i < m->n; i++) {
		if (strcmp(m->v[i].name, "[heap]"))
			continue;
		if (!h.present || m->v[i].start < h.start)
			h.start = m->v[i].start;
		if (!h.present || m->v[i].end > h.end)
			h.end = m->v[i].end;
		h.present = true;
	}
	return h;
}

struct differ {
	const struct rs_maps *snap; /* as given, for op->snap */
	struct rs_layout_plan *plan;
	/* brk moves the heap end across [lo, hi): growth back when grow, else shrink */
	bool brk;
	bool grow;
	uint64_t lo, hi;
	/* the op each kind may extend, as an index into plan->ops, or -1 */
	long last[RS_LAYOUT_MPROTECT + 1];
	const struct rs_vma *last_src; /* canonical snap entry of the last RECREATE */
};

static int plan_push(struct rs_layout_plan *p, const struct rs_layout_op *op)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		struct rs_layout_op *ops = realloc(p->ops, cap * sizeof(*ops));

		if (!ops)
			return -ENOMEM;
		p->ops = ops;
		p->cap = cap;
	}
	p->ops[p->n++] = *op;
	return 0;
}

/* Append [x, y), or extend the previous op of the same kind when it ends at x and agrees. */
static int emit(struct differ *d, enum rs_layout_op_kind kind, uint64_t x, uint64_t y, const struct rs_vma *s)
{
	struct rs_layout_op op = {.kind = kind, .start = x, .end = y};
	long li = d->last[kind];
	int err;

	if (s)
		op.prot = prot_of(s);
	if (li >= 0) {
		struct rs_layout_op *prev = &d->plan->ops[li];

		if (prev->end == x && prev->prot == op.prot && (kind != RS_LAYOUT_RECREATE || d->last_src == s)) {
			prev->end = y;
			return 0;
		}
	}
	if (kind == RS_LAYOUT_RECREATE) {
		op.flags = MAP_FIXED | (s->prot & RS_VMA_SHARED ? MAP_SHARED : MAP_PRIVATE);
		if (!s->inode)
			op.flags |= MAP_ANONYMOUS;
		op.offset = offset_at(s, x);
		op.snap = rs_maps_find(d->snap, x);
		d->last_src = s;
	}
	err = plan_push(d->plan, &op);
	if (err)
		return err;
	d->last[kind] = (long)d->plan->n - 1;
	return 0;
}

/*
 * One elementary interval [x, y): s is the canonical checkpoint entry covering it, n the
 * current one (either may be NULL). Heap growth and shrinkage are left to the BRK op.
 */
static int visit(struct differ *d, uint64_t x, uint64_t y, const struct rs_vma *s, const struct rs_vma *n)
{
	bool in_brk = d->brk && x >= d->lo && y <= d->hi;
	int err;

	if (in_brk && d->grow && s && !strcmp(s->name, "[heap]")) {
		/* brk() needs the range free, and brings it back as plain read-write memory */
		if (n) {
			err = emit(d, RS_LAYOUT_MUNMAP, x, y, NULL);
			if (err)
				return err;
		}
		if (prot_of(s) != (PROT_READ | PROT_WRITE))
			return emit(d, RS_LAYOUT_MPROTECT, x, y, s);
		return 0;
	}
	if (in_brk && !d->grow && n && !s && !strcmp(n->name, "[heap]"))
		return 0;
	if (!s)
		return emit(d, RS_LAYOUT_MUNMAP, x, y, NULL);
	if (!n || !same_backing(s, n) || offset_at(s, x) != offset_at(n, x))
		return emit(d, RS_LAYOUT_RECREATE, x, y, s);
	if (s->prot != n->prot)
		return emit(d, RS_LAYOUT_MPROTECT, x, y, s);
	return 0;
}

static int op_rank_cmp(const void *a, const void *b)
{
	const struct rs_layout_op *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

int rs_layout_diff(const struct rs_maps *snap, const struct rs_maps *now, struct rs_layout_plan *out)
{
	struct rs_maps a = {0}, b = {0};
	struct differ d = {.snap = snap, .plan = out, .last = {-1, -1, -1, -1}};
	struct heap hs, hn;
	size_t i = 0, j = 0;
	uint64_t x = 0;
	int err;

	memset(out, 0, sizeof(*out));
	err = rs_layout_normalise(snap, &a);
	if (err < 0)
		goto out;
	err = rs_layout_normalise(now, &b);
	if (err < 0)
		goto out;

	hs = heap_of(&a);
	hn = heap_of(&b);
	if (hs.present || hn.present) {
		/* without a heap the break sits at its start: brk() there removes the heap */
		uint64_t from = hn.present ? hn.end : hs.start;
		uint64_t to = hs.present ? hs.end : hn.start;

		if (from != to) {
			struct rs_layout_op op = {.kind = RS_LAYOUT_BRK, .start = from, .end = to};

			err = plan_push(out, &op);
			if (err)
				goto out;
			d.brk = true;
			d.grow = to > from;
			d.lo = min_u64(from, to);
			d.hi = max_u64(from, to);
		}
	}

	while (i < a.n || j < b.n) {
		const struct rs_vma *s = i < a.n ? &a.v[i] : NULL, *n = j < b.n ? &b.v[j] : NULL;
		uint64_t y = UINT64_MAX, lo = UINT64_MAX;
		bool in_s, in_n;

		if (s && s->end <= x) {
			i++;
			continue;
		}
		if (n && n->end <= x) {
			j++;
			continue;
		}
		/* skip to the next address covered by either list */
		if (s)
			lo = min_u64(lo, max_u64(s->start, x));
		if (n)
			lo = min_u64(lo, max_u64(n->start, x));
		x = lo;
		in_s = s && s->start <= x;
		in_n = n && n->start <= x;
		/* the interval ends at the next boundary of either list */
		if (s)
			y = min_u64(y, in_s ? s->end : s->start);
		if (n)
			y = min_u64(y, in_n ? n->end : n->start);
		err = visit(&d, x, y, in_s ? s : NULL, in_n ? n : NULL);
		if (err)
			goto out;
		x = y;
	}
	/* RECREATE ops keep pointers into snap, not into a, so sorting and freeing a is safe */
	if (out->n)
		qsort(out->ops, out->n, sizeof(*out->ops), op_rank_cmp);
	err = (int)out->n;
out:
	rs_maps_free(&a);
	rs_maps_free(&b);
	if (err < 0)
		rs_layout_plan_free(out);
	return err;
}
