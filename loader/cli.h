/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the lethe subcommands share: exit codes (distinct per failure class, so
 * scripts can tell them apart), verbosity, and the subcommand entry points.
 */
#ifndef LETHE_LOADER_CLI_H
#define LETHE_LOADER_CLI_H

#include <stdbool.h>

enum ld_exit {
	LD_EXIT_OK = 0,
	LD_EXIT_FAIL = 1, /* the operation failed */
	LD_EXIT_USAGE = 2, /* bad arguments */
	LD_EXIT_PERM = 3, /* not root / not permitted */
	LD_EXIT_NOPROC = 4, /* no such process, or it died */
	LD_EXIT_UNSUPPORTED = 5, /* kernel lacks a needed feature (BTF, BPF attach, ...) */
	LD_EXIT_RECYCLE = 6, /* rewind could not be proven: sandbox marked for recycling */
	LD_EXIT_DAEMON = 7, /* cannot reach the daemon */
	LD_EXIT_EXEC = 8, /* the command to run could not be executed */
};

extern int ld_verbose;
extern const char *ld_prog;

/* Map a -errno from liblethe to the exit code a user should see. */
int ld_exit_from_err(int err);

int cmd_trace(int argc, char **argv);
int cmd_serve(int argc, char **argv);
/* The daemon that owns every sandbox; returns an ld_exit code. */
int cmd_daemon(int argc, char **argv);
/* Thin clients of the daemon, one request each; return an ld_exit code (7: no daemon). */
int cmd_checkpoint(int argc, char **argv);
int cmd_rewind(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_release(int argc, char **argv);
int cmd_status(int argc, char **argv);

#endif /* LETHE_LOADER_CLI_H */
