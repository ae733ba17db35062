// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests for restore/fds.c: captured fdinfo text, and the real fd table of a forked child
 * driven through a pipe protocol, read before and after it changes its fds.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "unit.h"
#include "../../restore/fds.h"

static void parse_data(const char *name, uint64_t *pos, int *flags, unsigned int *mnt_id)
{
	char *text = unit_read_data(name);

	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_EQUAL(rs_fdtable_parse_fdinfo(text, pos, flags, mnt_id), 0);
	free(text);
}

static void test_fds_parse_fdinfo_captured(void)
{
	uint64_t pos = 99;
	unsigned int mnt = 0;
	int flags = -1;

	/* /etc/passwd opened O_RDONLY | O_CLOEXEC, lseek 123; the kernel adds O_LARGEFILE */
	parse_data("fdinfo_file.txt", &pos, &flags, &mnt);
	CU_ASSERT_EQUAL(pos, 123);
	CU_ASSERT_EQUAL(flags, O_RDONLY | O_CLOEXEC | RS_FD_O_LARGEFILE);
	CU_ASSERT_EQUAL(mnt, 26);
	/* eventfd(3, EFD_NONBLOCK): extra eventfd-* lines are skipped */
	parse_data("fdinfo_eventfd.txt", &pos, &flags, &mnt);
	CU_ASSERT_EQUAL(pos, 0);
	CU_ASSERT_EQUAL(flags, O_RDWR | O_NONBLOCK);
	CU_ASSERT_EQUAL(mnt, 17);
	/* epoll with one tfd line that itself contains "pos:" mid-line */
	parse_data("fdinfo_epoll.txt", &pos, &flags, &mnt);
	CU_ASSERT_EQUAL(flags, O_RDWR);
	/* pipe2(O_NONBLOCK), write end */
	parse_data("fdinfo_pipe.txt", &pos, &flags, &mnt);
	CU_ASSERT_EQUAL(flags, O_WRONLY | O_NONBLOCK);
	CU_ASSERT_EQUAL(mnt, 16);
	/* io_uring: long tail of ring state; NULL outs are allowed */
	parse_data("fdinfo_io_uring.txt", NULL, &flags, NULL);
	CU_ASSERT_EQUAL(flags, O_RDWR | O_CLOEXEC);
}

static void test_fds_parse_fdinfo_rejects_garbage(void)
{
	uint64_t pos;
	int flags;

	CU_ASSERT_EQUAL(rs_fdtable_parse_fdinfo("pos:\t12\n", &pos, &flags, NULL), -EINVAL);
	CU_ASSERT_EQUAL(rs_fdtable_parse_fdinfo("flags:\t02\n", &pos, &flags, NULL), -EINVAL);
	CU_ASSERT_EQUAL(rs_fdtable_parse_fdinfo("pos:\tx\nflags:\t02\n", &pos, &flags, NULL), -EINVAL);
	/* 9 is not an octal digit */
	CU_ASSERT_EQUAL(rs_fdtable_parse_fdinfo("pos:\t0\nflags:\t09\n", &pos, &flags, NULL), -EINVAL);
	CU_ASSERT_EQUAL(rs_fdtable_parse_fdinfo("", &pos, &flags, NULL), -EINVAL);
	/* no trailing newline is fine */
	CU_ASSERT_EQUAL(rs_fdtable_parse_fdinfo("pos:\t5\nflags:\t0100002", &pos, &flags, NULL), 0);
	CU_ASSERT_EQUAL(pos, 5);
	CU_ASSERT_EQUAL(flags, O_RDWR | RS_FD_O_LARGEFILE);
}

static void test_fds_kind_of(void)
{
	CU_ASSERT_EQUAL(rs_fd_kind_of("pipe:[14700]", S_IFIFO), RS_FD_PIPE);
	CU_ASSERT_EQUAL(rs_fd_kind_of("socket:[1]", S_IFSOCK), RS_FD_SOCKET);
	CU_ASSERT_EQUAL(rs_fd_kind_of("anon_inode:[eventfd]", 0), RS_FD_ANON);
	CU_ASSERT_EQUAL(rs_fd_kind_of("anon_inode:[io_uring]", S_IFREG), RS_FD_ANON);
	CU_ASSERT_EQUAL(rs_fd_kind_of("/memfd:x (deleted)", S_IFREG), RS_FD_MEMFD);
	CU_ASSERT_EQUAL(rs_fd_kind_of("/etc/passwd", S_IFREG | 0644), RS_FD_FILE);
	CU_ASSERT_EQUAL(rs_fd_kind_of("/tmp", S_IFDIR | 01777), RS_FD_DIR);
	CU_ASSERT_EQUAL(rs_fd_kind_of("/dev/null", S_IFCHR | 0666), RS_FD_DEV);
	CU_ASSERT_EQUAL(rs_fd_kind_of("/run/fifo", S_IFIFO), RS_FD_PIPE);
	CU_ASSERT_EQUAL(rs_fd_kind_of("/x", S_IFLNK), RS_FD_OTHER);
}

static void test_fds_unsupported_and_recoverable(void)
{
	struct rs_fd ring = {.fd = 5, .kind = RS_FD_ANON, .target = "anon_inode:[io_uring]", .flags = O_RDWR};
	struct rs_fd efd = {.fd = 5, .kind = RS_FD_ANON, .target = "anon_inode:[eventfd]", .flags = O_RDWR};
	struct rs_fd file = {.fd = 5, .kind = RS_FD_FILE, .target = "/data/x", .flags = O_RDWR | O_CLOEXEC};
	struct rs_fd gone = {.fd = 5, .kind = RS_FD_FILE, .target = "/data/x (deleted)", .flags = O_RDWR};
	struct rs_fd_op op = {0};

	CU_ASSERT(rs_fd_is_unsupported(&ring));
	CU_ASSERT(!rs_fd_is_unsupported(&efd));
	CU_ASSERT(!rs_fd_is_unsupported(NULL));
	/* a ring opened during the request cannot simply be closed: its writes were untracked */
	op = (struct rs_fd_op){.change = RS_FD_NEW, .now = &ring};
	CU_ASSERT(!rs_fd_change_is_recoverable(&op));
	op = (struct rs_fd_op){.change = RS_FD_NEW, .now = &efd};
	CU_ASSERT(rs_fd_change_is_recoverable(&op));
	op = (struct rs_fd_op){.change = RS_FD_CLOSED, .snap = &file};
	CU_ASSERT(rs_fd_change_is_recoverable(&op));
	op = (struct rs_fd_op){.change = RS_FD_CLOSED, .snap = &gone};
	CU_ASSERT(!rs_fd_change_is_recoverable(&op));
	op = (struct rs_fd_op){.change = RS_FD_CLOSED, .snap = &efd};
	CU_ASSERT(!rs_fd_change_is_recoverable(&op));
	op = (struct rs_fd_op){.change = RS_FD_REPLACED, .snap = &file, .now = &efd};
	CU_ASSERT(rs_fd_change_is_recoverable(&op));
	/* O_LARGEFILE cannot be changed by F_SETFL; O_APPEND and O_CLOEXEC can */
	gone = file;
	gone.flags = file.flags | RS_FD_O_LARGEFILE;
	op = (struct rs_fd_op){.change = RS_FD_FLAGS, .snap = &file, .now = &gone};
	CU_ASSERT(!rs_fd_change_is_recoverable(&op));
	gone.flags = (file.flags | O_APPEND) & ~O_CLOEXEC;
	CU_ASSERT(rs_fd_change_is_recoverable(&op));
	CU_ASSERT_EQUAL(rs_fd_reopen_flags(&file), O_RDWR | O_CLOEXEC);
	file.kind = RS_FD_DIR;
	file.flags = O_RDONLY | O_CREAT | O_TRUNC;
	CU_ASSERT_EQUAL(rs_fd_reopen_flags(&file), O_RDONLY | O_DIRECTORY);
	CU_ASSERT_STRING_EQUAL(rs_fd_change_str(RS_FD_REPLACED), "replaced");
}

/* fd numbers the child reports after setting up */
struct child_fds {
	int file, file2, pipe_r, pipe_w, sock0, sock1, efd, devnull;
};

/* The child: set up, report, wait for 'g', change its fds, report again, wait for the end. */
static void child_main(const char *path, const char *path2, int cmd, int ack)
{
	struct child_fds c = {0};
	int p[2], s[2], t;
	char op;

	c.file = open(path, O_RDWR | O_CLOEXEC);
	c.file2 = open(path, O_RDONLY);
	if (c.file < 0 || c.file2 < 0 || pipe(p) || socketpair(AF_UNIX, SOCK_STREAM, 0, s))
		_exit(1);
	c.pipe_r = p[0];
	c.pipe_w = p[1];
	c.sock0 = s[0];
	c.sock1 = s[1];
	c.efd = eventfd(0, 0);
	if (c.efd < 0 || lseek(c.file, 100, SEEK_SET) != 100)
		_exit(1);
	if (write(ack, &c, sizeof(c)) != sizeof(c) || read(cmd, &op, 1) != 1 || op != 'g')
		_exit(1);

	c.devnull = open("/dev/null", O_RDONLY); /* NEW, opened first so it does not reuse pipe_r */
	close(c.pipe_r);			 /* CLOSED */
	lseek(c.file, 7, SEEK_SET);		 /* POS */
	fcntl(c.file, F_SETFD, 0);		 /* FLAGS: O_CLOEXEC dropped */
	fcntl(c.sock0, F_SETFL, O_NONBLOCK);	 /* FLAGS */
	dup2(c.file, c.efd);			 /* REPLACED: the eventfd number now names the file */
	t = open(path2, O_RDONLY);		 /* REPLACED: file2 now names another file, same kind and flags */
	if (t < 0 || dup2(t, c.file2) != c.file2 || close(t))
		_exit(1);
	if (write(ack, &c, sizeof(c)) != sizeof(c))
		_exit(1);
	/* until the parent closes its end (or dies): no orphan outlives the runner */
	while (read(cmd, &op, 1) > 0)
		;
	_exit(0);
}

static const struct rs_fd_op *find_op(const struct rs_fd_plan *p, int fd, enum rs_fd_change change)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->ops[i].fd == fd && p->ops[i].change == change)
			return &p->ops[i];
	return NULL;
}

static void test_fds_read_and_diff_child(void)
{
	char path[] = "/tmp/lethe-test-fds-XXXXXX", path2[] = "/tmp/lethe-test-fds-XXXXXX";
	struct stat st2;
	int cmd[2] = {-1, -1}, ack[2] = {-1, -1}, tmp;
	struct rs_fdtable snap = {0}, now = {0};
	struct rs_fd_plan p = {0};
	const struct rs_fd *f, *g;
	const struct rs_fd_op *op;
	struct child_fds c;
	struct stat st;
	pid_t pid;

	tmp = mkstemp(path);
	CU_ASSERT_FATAL(tmp >= 0);
	CU_ASSERT_FATAL(write(tmp, "0123456789", 10) == 10);
	CU_ASSERT_FATAL(fstat(tmp, &st) == 0);
	close(tmp);
	tmp = mkstemp(path2);
	CU_ASSERT_FATAL(tmp >= 0);
	CU_ASSERT_FATAL(fstat(tmp, &st2) == 0);
	close(tmp);
	CU_ASSERT_FATAL(pipe2(cmd, O_CLOEXEC) == 0 && pipe2(ack, O_CLOEXEC) == 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		close(cmd[1]);
		close(ack[0]);
		child_main(path, path2, cmd[0], ack[1]);
	}
	close(cmd[0]);
	close(ack[1]);

	if (read(ack[0], &c, sizeof(c)) != (ssize_t)sizeof(c)) {
		CU_FAIL("child did not report its fds");
		goto cleanup;
	}
	CU_ASSERT(rs_fdtable_read(pid, &snap) > 0);

	/* the table as read at the checkpoint */
	f = rs_fdtable_find(&snap, c.file);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(f->kind, RS_FD_FILE);
	CU_ASSERT_STRING_EQUAL(f->target, path);
	CU_ASSERT_EQUAL(f->pos, 100);
	CU_ASSERT_EQUAL(f->flags & (O_ACCMODE | O_CLOEXEC), O_RDWR | O_CLOEXEC);
	CU_ASSERT_EQUAL(f->dev, st.st_dev);
	CU_ASSERT_EQUAL(f->ino, st.st_ino);
	CU_ASSERT(f->mnt_id > 0);
	f = rs_fdtable_find(&snap, c.pipe_r);
	g = rs_fdtable_find(&snap, c.pipe_w);
	CU_ASSERT_FATAL(f && g);
	CU_ASSERT_EQUAL(f->kind, RS_FD_PIPE);
	CU_ASSERT_EQUAL(f->flags & O_ACCMODE, O_RDONLY);
	CU_ASSERT_EQUAL(g->flags & O_ACCMODE, O_WRONLY);
	CU_ASSERT_EQUAL(f->ino, g->ino); /* two ends of one pipe */
	CU_ASSERT_STRING_EQUAL(f->target, g->target);
	CU_ASSERT_EQUAL(rs_fdtable_find(&snap, c.sock0)->kind, RS_FD_SOCKET);
	f = rs_fdtable_find(&snap, c.efd);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(f->kind, RS_FD_ANON);
	CU_ASSERT_STRING_EQUAL(f->target, "anon_inode:[eventfd]");
	for (size_t i = 1; i < snap.n; i++)
		CU_ASSERT(snap.v[i - 1].fd < snap.v[i].fd);

	/* nothing changed yet: no ops */
	CU_ASSERT(rs_fdtable_read(pid, &now) > 0);
	CU_ASSERT_EQUAL(rs_fdtable_diff(&snap, &now, &p), 0);
	rs_fd_plan_free(&p);
	rs_fdtable_free(&now);

	/* the request */
	CU_ASSERT_FATAL(write(cmd[1], "g", 1) == 1);
	if (read(ack[0], &c, sizeof(c)) != (ssize_t)sizeof(c)) {
		CU_FAIL("child did not report its fds");
		goto cleanup;
	}
	CU_ASSERT(rs_fdtable_read(pid, &now) > 0);
	/* the file: POS + FLAGS; file2 REPLACED; pipe_r CLOSED; sock0 FLAGS; efd REPLACED; devnull NEW */
	CU_ASSERT_EQUAL_FATAL(rs_fdtable_diff(&snap, &now, &p), 7);
	for (size_t i = 1; i < p.n; i++)
		CU_ASSERT(p.ops[i - 1].fd <= p.ops[i].fd);

	op = find_op(&p, c.file, RS_FD_POS);
	CU_ASSERT_PTR_NOT_NULL_FATAL(op);
	CU_ASSERT_EQUAL(op->snap->pos, 100);
	CU_ASSERT_EQUAL(op->now->pos, 7);
	CU_ASSERT(rs_fd_change_is_recoverable(op));
	CU_ASSERT(op + 1 == find_op(&p, c.file, RS_FD_FLAGS)); /* POS first, then FLAGS */
	op = find_op(&p, c.file, RS_FD_FLAGS);
	CU_ASSERT_PTR_NOT_NULL_FATAL(op);
	CU_ASSERT_EQUAL(op->setfd, FD_CLOEXEC);
	CU_ASSERT_EQUAL(op->setfl, 0);
	CU_ASSERT(rs_fd_change_is_recoverable(op));

	op = find_op(&p, c.pipe_r, RS_FD_CLOSED);
	CU_ASSERT_PTR_NOT_NULL_FATAL(op);
	CU_ASSERT_PTR_NULL(op->now);
	CU_ASSERT(!rs_fd_change_is_recoverable(op)); /* a pipe cannot be reopened */

	op = find_op(&p, c.sock0, RS_FD_FLAGS);
	CU_ASSERT_PTR_NOT_NULL_FATAL(op);
	CU_ASSERT_EQUAL(op->now->flags & O_NONBLOCK, O_NONBLOCK);
	CU_ASSERT_EQUAL(op->setfl, 0);
	CU_ASSERT_EQUAL(op->setfd, 0);
	CU_ASSERT(rs_fd_change_is_recoverable(op));

	op = find_op(&p, c.efd, RS_FD_REPLACED);
	CU_ASSERT_PTR_NOT_NULL_FATAL(op);
	CU_ASSERT_EQUAL(op->snap->kind, RS_FD_ANON);
	CU_ASSERT_EQUAL(op->now->kind, RS_FD_FILE);
	CU_ASSERT(!rs_fd_change_is_recoverable(op)); /* the eventfd is gone for good */

	/* same kind, same access mode, other inode: still another object */
	op = find_op(&p, c.file2, RS_FD_REPLACED);
	CU_ASSERT_PTR_NOT_NULL_FATAL(op);
	CU_ASSERT_EQUAL(op->snap->ino, st.st_ino);
	CU_ASSERT_EQUAL(op->now->ino, st2.st_ino);
	CU_ASSERT_STRING_EQUAL(op->now->target, path2);
	CU_ASSERT(rs_fd_change_is_recoverable(op)); /* reopen path by name, dup2 into place */
	CU_ASSERT_EQUAL(rs_fd_reopen_flags(op->snap), O_RDONLY | RS_FD_O_LARGEFILE);

	op = find_op(&p, c.devnull, RS_FD_NEW);
	CU_ASSERT_PTR_NOT_NULL_FATAL(op);
	CU_ASSERT_PTR_NULL(op->snap);
	CU_ASSERT_EQUAL(op->now->kind, RS_FD_DEV);
	CU_ASSERT_STRING_EQUAL(op->now->target, "/dev/null");
	CU_ASSERT(rs_fd_change_is_recoverable(op));

	/* unsorted input is refused */
	if (snap.n >= 2) {
		struct rs_fd t = snap.v[0];
		struct rs_fd_plan q;

		snap.v[0] = snap.v[1];
		snap.v[1] = t;
		CU_ASSERT_EQUAL(rs_fdtable_diff(&snap, &now, &q), -EINVAL);
	}
cleanup:
	rs_fd_plan_free(&p);
	rs_fdtable_free(&now);
	rs_fdtable_free(&snap);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(cmd[1]);
	close(ack[0]);
	unlink(path);
	unlink(path2);
}

static void test_fds_read_missing_pid(void)
{
	struct rs_fdtable t;

	CU_ASSERT_EQUAL(rs_fdtable_read(0, &t), -ESRCH);
	CU_ASSERT_PTR_NULL(t.v);
	CU_ASSERT_EQUAL(t.n, 0);
}

UNIT_SUITE(fds, UNIT_CASE(test_fds_parse_fdinfo_captured), UNIT_CASE(test_fds_parse_fdinfo_rejects_garbage),
	   UNIT_CASE(test_fds_kind_of), UNIT_CASE(test_fds_unsupported_and_recoverable),
	   UNIT_CASE(test_fds_read_and_diff_child), UNIT_CASE(test_fds_read_missing_pid))
