// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Rendering of a rewind's statistics. One place, so serve, the daemon and the
 * benchmarks report the same fields under the same names.
 */
#include <inttypes.h>
#include "rewind_fmt.h"
#include "report_fmt.h"

static const char *verify_str(int v)
{
	return v < 0 ? "not_run" : v == 0 ? "passed" : "failed";
}

static json_object *files_json(const struct lethe_rewind_stats *st)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < st->nfiles; i++) {
		const struct lethe_file_result *f = &st->files[i];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "path", json_object_new_string(f->path));
		json_object_object_add(o, "ops", ld_file_ops_json(f->ops));
		json_object_object_add(o, "action", json_object_new_string(lethe_file_action_str(f->action)));
		json_object_array_add(a, o);
	}
	return a;
}

static json_object *tasks_json(const struct lethe_rewind_stats *st)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < st->ntasks; i++) {
		const struct lethe_task_result *t = &st->tasks[i];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "pid", json_object_new_int(t->pid));
		json_object_object_add(o, "tgid", json_object_new_int(t->tgid));
		json_object_object_add(o, "kind", json_object_new_string(t->thread ? "thread" : "process"));
		json_object_object_add(o, "found_by", json_object_new_string(t->cgroup_only ? "cgroup" : "tracker"));
		json_object_array_add(a, o);
	}
	return a;
}

json_object *ld_rewind_to_json(const struct lethe_rewind_stats *st)
{
	json_object *o = json_object_new_object(), *ph = json_object_new_object();
	const struct {
		const char *name;
		uint64_t v;
	} phases[] = {
		{ "stop", st->us_stop },     { "drain", st->us_drain },   { "tasks", st->us_tasks },
		{ "layout", st->us_layout }, { "copy", st->us_copy },	  { "files", st->us_files }, { "fds", st->us_fds },
		{ "verify", st->us_verify }, { "rearm", st->us_rearm },	  { "regs", st->us_regs },
		{ "resume", st->us_resume }, { "total", st->us_total },
	};

	for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]); i++)
		json_object_object_add(ph, phases[i].name, json_object_new_int64(phases[i].v));
	json_object_object_add(o, "phases_us", ph);
	json_object_object_add(o, "pages_restored", json_object_new_int64(st->pages_restored));
	json_object_object_add(o, "bytes_restored", json_object_new_int64(st->bytes_restored));
	json_object_object_add(o, "mappings_undone", json_object_new_int64(st->mappings_undone));
	json_object_object_add(o, "tasks_killed", json_object_new_int64(st->tasks_killed));
	json_object_object_add(o, "threads_ended", json_object_new_int64(st->threads_ended));
	json_object_object_add(o, "fds_closed", json_object_new_int64(st->fds_closed));
	json_object_object_add(o, "fds_restored", json_object_new_int64(st->fds_restored));
	json_object_object_add(o, "files_restored", json_object_new_int64(st->files_restored));
	json_object_object_add(o, "files_full_diff", json_object_new_boolean(st->files_full_diff));
	json_object_object_add(o, "dcache_flushed", json_object_new_boolean(st->dcache_flushed));
	json_object_object_add(o, "cgroup_killed", json_object_new_int64(st->cgroup_killed));
	{
		json_object *pg = json_object_new_object();

		/* the request's first writes the tracker saw, and what the copy put back */
		json_object_object_add(pg, "dirty", json_object_new_int64(st->pages_tracked));
		json_object_object_add(pg, "restored", json_object_new_int64(st->pages_restored));
		json_object_object_add(o, "pages", pg);
	}
	json_object_object_add(o, "files", files_json(st));
	json_object_object_add(o, "tasks", tasks_json(st));
	json_object_object_add(o, "epoch_flags", json_object_new_int64(st->epoch_flags));
	json_object_object_add(o, "full_compare", json_object_new_boolean(st->full_compare));
	json_object_object_add(o, "rearm", json_object_new_string(st->rearm ? st->rearm : "none"));
	json_object_object_add(o, "copy", json_object_new_string(st->copy ? st->copy : "none"));
	json_object_object_add(o, "verify", json_object_new_string(verify_str(st->verified)));
	json_object_object_add(o, "verify_mismatches", json_object_new_int64(st->verify_mismatches));
	json_object_object_add(o, "reason", json_object_new_string(lethe_reason_str(st->reason)));
	json_object_object_add(o, "recycle", json_object_new_boolean(st->recycle));
	return o;
}

void ld_rewind_print_line(FILE *out, const struct lethe_rewind_stats *st)
{
	fprintf(out,
		"rewind %" PRIu64 " us: %" PRIu64 " pages, %" PRIu64 " mappings, %" PRIu64 " tasks, %" PRIu64
		" threads, %" PRIu64 " fds; rearm %s; verify %s",
		st->us_total, st->pages_restored, st->mappings_undone, st->tasks_killed, st->threads_ended,
		st->fds_closed, st->rearm ? st->rearm : "none", verify_str(st->verified));
	if (st->recycle)
		fprintf(out, "; FAILED (%s): sandbox must be recycled", lethe_reason_str(st->reason));
	fputc('\n', out);
}
