// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The lethe command: global options, the log sink, and the subcommand table.
 * Each subcommand lives in its own loader/cmd_<name>.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "lethe/lethe.h"
#include "cli.h"

int ld_verbose;
const char *ld_prog = "lethe";

struct subcmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct subcmd subcmds[] = {
	{ "trace", cmd_trace, "run or follow a process and report what it left behind" },
	{ "serve", cmd_serve, "run a function runtime, rewinding it after every request" },
	{ "daemon", cmd_daemon, "own every sandbox and serve the commands below over a socket" },
	{ "checkpoint", cmd_checkpoint, "checkpoint a running process (through the daemon)" },
	{ "rewind", cmd_rewind, "rewind a checkpointed process to its checkpoint" },
	{ "report", cmd_report, "what the daemon knows about a checkpointed process" },
	{ "release", cmd_release, "forget a checkpoint; the process keeps running" },
	{ "status", cmd_status, "list the daemon's sandboxes" },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: %s [-v] [-h] COMMAND [ARGS]\n\n"
		     "lethe gives warm serverless sandboxes temporal isolation: it records what a\n"
		     "request leaves behind and rewinds the sandbox to its pristine checkpoint.\n\n"
		     "commands:\n", ld_prog);
	for (size_t i = 0; i < sizeof(subcmds) / sizeof(subcmds[0]); i++)
		fprintf(out, "  %-12s %s\n", subcmds[i].name, subcmds[i].help);
	fprintf(out, "\noptions:\n"
		     "  -v, --verbose   more log output (repeat for debug, including libbpf)\n"
		     "  -h, --help      show this help\n"
		     "\nRun '%s COMMAND --help' for the options of a command.\n", ld_prog);
}

static void log_to_stderr(enum lethe_log_level level, const char *msg)
{
	fprintf(stderr, "%s: %s", ld_prog, msg);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[1024];

	if (level == LIBBPF_DEBUG && ld_verbose < 2)
		return 0;
	if (level == LIBBPF_INFO && ld_verbose < 1)
		return 0;
	/* libbpf warns about every refused attach flavour we probe; show them with -v */
	if (level == LIBBPF_WARN && ld_verbose < 1)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	fprintf(stderr, "%s: libbpf: %s", ld_prog, buf);
	return 0;
}

int ld_exit_from_err(int err)
{
	switch (-err) {
	case 0:
		return LD_EXIT_OK;
	case EPERM:
	case EACCES:
		return LD_EXIT_PERM;
	case ESRCH:
	case ECHILD:
		return LD_EXIT_NOPROC;
	case EOPNOTSUPP:
	case ENOSYS:
	case ENOENT:
		return LD_EXIT_UNSUPPORTED;
	case ENOTRECOVERABLE:
		return LD_EXIT_RECYCLE;
	case EINVAL:
		return LD_EXIT_USAGE;
	default:
		return LD_EXIT_FAIL;
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c;

	/* stop at the subcommand: its options are its own */
	while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			ld_verbose++;
			break;
		case 'h':
			usage(stdout);
			return LD_EXIT_OK;
		default:
			usage(stderr);
			return LD_EXIT_USAGE;
		}
	}
	lethe_set_log_fn(log_to_stderr, ld_verbose >= 2 ? LETHE_LOG_DEBUG : ld_verbose ? LETHE_LOG_INFO : LETHE_LOG_WARN);
	libbpf_set_print(libbpf_print);

	if (optind >= argc) {
		usage(stderr);
		return LD_EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(subcmds) / sizeof(subcmds[0]); i++) {
		if (!strcmp(argv[optind], subcmds[i].name)) {
			argv += optind;
			argc -= optind;
			optind = 0; /* reset getopt for the subcommand (0 also re-inits GNU getopt) */
			return subcmds[i].fn(argc, argv);
		}
	}
	fprintf(stderr, "%s: unknown command '%s' (see '%s --help')\n", ld_prog, argv[optind], ld_prog);
	return LD_EXIT_USAGE;
}
