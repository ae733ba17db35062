// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Persistence-point reports: the same model rendered as a table for people
 * and as JSON (json-c) for machines.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>
#include "report_fmt.h"

static const char *prot_str(uint64_t prot, char buf[4])
{
	buf[0] = prot & 1 ? 'r' : '-';
	buf[1] = prot & 2 ? 'w' : '-';
	buf[2] = prot & 4 ? 'x' : '-';
	buf[3] = 0;
	return buf;
}

static json_object *hex(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	return json_object_new_string(buf);
}

json_object *ld_file_ops_json(uint32_t ops)
{
	json_object *a = json_object_new_array();

	for (unsigned int op = 0; op <= LETHE_FILE_OP_MAX; op++)
		if (ops & (1u << op))
			json_object_array_add(a, json_object_new_string(ld_file_op_name(op)));
	return a;
}

static json_object *mm_json(const struct ld_mm_change *m)
{
	json_object *o = json_object_new_object();
	char pb[4];

	json_object_object_add(o, "pid", json_object_new_int(m->pid));
	json_object_object_add(o, "op", json_object_new_string(ld_mm_op_name(m->op)));
	switch (m->op) {
	case LETHE_MM_MMAP:
		json_object_object_add(o, "start", hex(m->ret));
		json_object_object_add(o, "length", json_object_new_int64(m->args[1]));
		json_object_object_add(o, "prot", json_object_new_string(prot_str(m->args[2], pb)));
		json_object_object_add(o, "shared", json_object_new_boolean(m->args[3] & 1));
		json_object_object_add(o, "fd", json_object_new_int((int)m->args[4]));
		break;
	case LETHE_MM_MUNMAP:
	case LETHE_MM_MPROTECT:
	case LETHE_MM_MADVISE:
		json_object_object_add(o, "start", hex(m->args[0]));
		json_object_object_add(o, "length", json_object_new_int64(m->args[1]));
		if (m->op == LETHE_MM_MPROTECT)
			json_object_object_add(o, "prot", json_object_new_string(prot_str(m->args[2], pb)));
		if (m->op == LETHE_MM_MADVISE)
			json_object_object_add(o, "advice", json_object_new_int((int)m->args[2]));
		break;
	case LETHE_MM_MREMAP:
		json_object_object_add(o, "old_start", hex(m->args[0]));
		json_object_object_add(o, "old_length", json_object_new_int64(m->args[1]));
		json_object_object_add(o, "start", hex(m->ret));
		json_object_object_add(o, "length", json_object_new_int64(m->args[2]));
		break;
	case LETHE_MM_BRK:
		json_object_object_add(o, "requested", hex(m->args[0]));
		json_object_object_add(o, "brk", hex(m->ret));
		break;
	}
	json_object_object_add(o, "result", json_object_new_int64(m->ret));
	return o;
}

static void counters_add(json_object *c, const struct ld_trace_summary *s)
{
	for (int i = 0; i < LETHE_STAT_MAX; i++)
		json_object_object_add(c, ld_stat_name(i), json_object_new_int64(s->stats[i]));
	json_object_object_add(c, "epoch_flags", json_object_new_int64(s->epoch_flags));
	json_object_object_add(c, "dirty_pages", json_object_new_int64(s->dirty_pages));
}

json_object *ld_trace_to_json(const struct ld_trace *t, const struct ld_trace_summary *s)
{
	json_object *root = json_object_new_object();
	json_object *pages = json_object_new_array(), *mm = json_object_new_array();
	json_object *tasks = json_object_new_array(), *files = json_object_new_array();
	json_object *target = json_object_new_object(), *counters = json_object_new_object();

	json_object_object_add(target, "pid", json_object_new_int(s->pid));
	json_object_object_add(target, "comm", json_object_new_string(s->comm));
	if (s->exited) {
		json_object_object_add(target, "exit_status", json_object_new_int(s->exit_status));
		json_object_object_add(target, "signal", json_object_new_int(s->exit_signal));
	}
	json_object_object_add(target, "tracker", json_object_new_string(s->flavour));
	json_object_object_add(target, "duration_ms", json_object_new_double(s->duration_ms));
	json_object_object_add(root, "target", target);

	for (size_t i = 0; i < t->ngroups; i++) {
		const struct ld_page_group *g = &t->groups[i];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "pid", json_object_new_int(g->pid));
		json_object_object_add(o, "mapping", json_object_new_string(g->mapping));
		json_object_object_add(o, "start", hex(g->start));
		json_object_object_add(o, "end", hex(g->end));
		json_object_object_add(o, "dirty_pages", json_object_new_int64(g->pages));
		json_object_object_add(o, "huge_pages", json_object_new_int64(g->huge_pages));
		json_object_object_add(o, "kernel_writes", json_object_new_int64(g->kernel_writes));
		json_object_array_add(pages, o);
	}
	json_object_object_add(root, "pages", pages);

	for (size_t i = 0; i < t->nmm; i++)
		json_object_array_add(mm, mm_json(&t->mm[i]));
	json_object_object_add(root, "mappings", mm);

	for (size_t i = 0; i < t->ntasks; i++) {
		const struct ld_task *k = &t->tasks[i];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "pid", json_object_new_int(k->pid));
		json_object_object_add(o, "tgid", json_object_new_int(k->tgid));
		json_object_object_add(o, "parent", json_object_new_int(k->parent));
		json_object_object_add(o, "comm", json_object_new_string(k->comm));
		json_object_object_add(o, "kind", json_object_new_string(k->thread ? "thread" : "process"));
		json_object_object_add(o, "alive", json_object_new_boolean(k->alive));
		if (k->exec[0])
			json_object_object_add(o, "exec", json_object_new_string(k->exec));
		json_object_array_add(tasks, o);
	}
	json_object_object_add(root, "tasks", tasks);

	for (size_t i = 0; i < t->nfiles; i++) {
		const struct ld_file *f = &t->files[i];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "path", json_object_new_string(f->path));
		json_object_object_add(o, "ops", ld_file_ops_json(f->ops));
		json_object_object_add(o, "pid", json_object_new_int(f->pid));
		json_object_array_add(files, o);
	}
	json_object_object_add(root, "files", files);

	counters_add(counters, s);
	json_object_object_add(root, "counters", counters);
	return root;
}

int ld_trace_print_json(FILE *out, const struct ld_trace *t, const struct ld_trace_summary *s)
{
	json_object *root = ld_trace_to_json(t, s);
	int err;

	if (!root)
		return -ENOMEM;
	err = fprintf(out, "%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY)) < 0 ? -EIO : 0;
	json_object_put(root);
	return err;
}

int ld_trace_print_table(FILE *out, const struct ld_trace *t, const struct ld_trace_summary *s)
{
	char pb[4];

	fprintf(out, "lethe trace: pid %d (%s)", s->pid, s->comm);
	if (s->exited) {
		if (s->exit_signal)
			fprintf(out, " killed by signal %d", s->exit_signal);
		else
			fprintf(out, " exited with status %d", s->exit_status);
	}
	fprintf(out, ", %.1f ms, tracker %s\n\n", s->duration_ms, s->flavour);

	fprintf(out, "DIRTY PAGES (%" PRIu64 ")\n", s->dirty_pages);
	fprintf(out, "  %-8s %-18s %8s %6s %6s  %s\n", "PID", "START", "PAGES", "HUGE", "KERN", "MAPPING");
	for (size_t i = 0; i < t->ngroups; i++) {
		const struct ld_page_group *g = &t->groups[i];

		fprintf(out, "  %-8d 0x%-16" PRIx64 " %8" PRIu64 " %6" PRIu64 " %6" PRIu64 "  %s\n", g->pid, g->start,
			g->pages, g->huge_pages, g->kernel_writes, g->mapping);
	}
	if (!t->ngroups)
		fprintf(out, "  (none)\n");

	fprintf(out, "\nMAPPINGS CHANGED (%zu)\n", t->nmm);
	for (size_t i = 0; i < t->nmm; i++) {
		const struct ld_mm_change *m = &t->mm[i];

		fprintf(out, "  %-8d %-9s", m->pid, ld_mm_op_name(m->op));
		switch (m->op) {
		case LETHE_MM_MMAP:
			fprintf(out, "0x%" PRIx64 " +%" PRIu64 " %s %s%s\n", (uint64_t)m->ret, m->args[1],
				prot_str(m->args[2], pb), m->args[3] & 1 ? "shared" : "private",
				(int)m->args[4] >= 0 ? " file" : " anon");
			break;
		case LETHE_MM_MREMAP:
			fprintf(out, "0x%" PRIx64 " +%" PRIu64 " -> 0x%" PRIx64 " +%" PRIu64 "\n", m->args[0], m->args[1],
				(uint64_t)m->ret, m->args[2]);
			break;
		case LETHE_MM_BRK:
			fprintf(out, "brk -> 0x%" PRIx64 "\n", (uint64_t)m->ret);
			break;
		default:
			fprintf(out, "0x%" PRIx64 " +%" PRIu64 "\n", m->args[0], m->args[1]);
		}
	}

	fprintf(out, "\nTASKS CREATED (%zu)\n", t->ntasks);
	if (t->ntasks)
		fprintf(out, "  %-8s %-8s %-8s %-16s %s\n", "PID", "PARENT", "KIND", "COMM", "ALIVE");
	for (size_t i = 0; i < t->ntasks; i++) {
		const struct ld_task *k = &t->tasks[i];

		fprintf(out, "  %-8d %-8d %-8s %-16s %s\n", k->pid, k->parent, k->thread ? "thread" : "process", k->comm,
			k->alive ? "yes" : "no");
	}

	fprintf(out, "\nFILES TOUCHED (%zu)\n", t->nfiles);
	for (size_t i = 0; i < t->nfiles; i++) {
		const struct ld_file *f = &t->files[i];
		bool first = true;

		fprintf(out, "  %-48s ", f->path);
		for (unsigned int op = 0; op <= LETHE_FILE_OP_MAX; op++) {
			if (!(f->ops & (1u << op)))
				continue;
			fprintf(out, "%s%s", first ? "" : ",", ld_file_op_name(op));
			first = false;
		}
		fputc('\n', out);
	}

	fprintf(out, "\nCOUNTERS\n");
	for (int i = 0; i < LETHE_STAT_MAX; i++)
		fprintf(out, "  %-18s %" PRIu64 "\n", ld_stat_name(i), s->stats[i]);
	if (s->stats[LETHE_STAT_RB_DROPS] || s->stats[LETHE_STAT_MEMBER_OVERFLOW])
		fprintf(out, "  WARNING: events were lost; this report is incomplete\n");
	return ferror(out) ? -EIO : 0;
}
