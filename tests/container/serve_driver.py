# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Drives tests/demo/fn_container.py in a runc container, with or without
`lethe serve --container`, one request at a time, and checks the container
from the host after sampled requests (tests/container/check.py).

  serve_driver.py control --id ID --bundle B --upper U [--requests N] [--flags F]
      No lethe: `runc run` directly. Proves the checks see every plant: after
      each request the canary is in the init's memory, the upper dir and /tmp,
      the upper dir and /tmp differ from their ready state, and the cgroup holds
      extra processes. Exit 1 if any check fails to see it.
  serve_driver.py lethe --lethe L --id ID --bundle B --upper U --report R
                  [--requests N] [--sample K] [--flags F] [--serve-arg A]...
                  [--expect-data unprotected|protected|none] [--data DIR]
                  [--expect-full-diff]
      `lethe serve --container ID --verify --report R [A...] -- runc run ...`.
      After requests 1, 2, every K-th and the last (after the answer and after
      the request's report line, i.e. after its rewind): no canary in the memory
      of any process of the container's cgroup, nor in the upper dir or /tmp;
      upper dir, /tmp and the container's view of /srv and /opt/lethe equal
      their state at checkpoint (types, modes, owners, sizes, contents,
      xattrs incl. trusted.overlay.*); the log init holds open is still the
      same inode; the cgroup holds exactly the checkpoint's processes plus the
      twin the report names. Every answer is "ok 1 ...", every report verified.
      The report of request 1 must list its files, pages, tasks and layers.
      /data must be listed unprotected (report and checkpoint line) or, with
      --expect-data protected, be rewound like a layer. --expect-full-diff: every
      report must say the tracker lost records and the layers were diffed whole.
Prints "FAIL: ..." for each failed check and exits 1 if any failed.
"""
import argparse
import json
import os
import secrets
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402

fails = []


def fail(msg):
    print("FAIL: " + msg, flush=True)
    fails.append(msg)


def note(msg):
    print(msg, flush=True)


def runc_state(cid):
    r = subprocess.run(["runc", "state", cid], capture_output=True, text=True)
    if r.returncode:
        return None
    return json.loads(r.stdout)


def cgroup_dir(pid):
    """pid's cgroup dir in the pids v1 hierarchy, else the unified one."""
    lines = open("/proc/%d/cgroup" % pid).read().splitlines()
    by = {}
    for line in lines:
        _, ctrl, path = line.split(":", 2)
        by[ctrl] = path
    if "pids" in by and os.path.isdir("/sys/fs/cgroup/pids"):
        return "/sys/fs/cgroup/pids" + by["pids"]
    if "" in by:
        for base in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
            if os.path.exists(base + "/cgroup.controllers") or os.path.exists(base + "/cgroup.procs"):
                return base + by[""]
    raise RuntimeError("no cgroup dir for pid %d" % pid)


def fd_to(pid, path):
    """(dev, ino) of the file pid holds open at container path, or None."""
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == path:
                st = os.stat("/proc/%d/fd/%s" % (pid, fd))
                return (st.st_dev, st.st_ino)
        except FileNotFoundError:
            pass
    return None


class Runtime:
    """The process that owns the container's stdio (runc run, or lethe serve)."""

    def __init__(self, cmd):
        self.cmd = cmd
        # in our process group: the test kills the group on every exit path
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.err_lines = []
        self.err_cv = threading.Condition()
        threading.Thread(target=self._stderr, daemon=True).start()

    def _stderr(self):
        for raw in self.p.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            sys.stderr.write("  [%s] %s\n" % (os.path.basename(self.cmd[0]), line))
            with self.err_cv:
                self.err_lines.append(line)
                self.err_cv.notify_all()
        with self.err_cv:
            self.err_lines.append(None)  # EOF
            self.err_cv.notify_all()

    def wait_stderr(self, pred, timeout):
        end = time.monotonic() + timeout
        with self.err_cv:
            while True:
                for line in self.err_lines:
                    if line is not None and pred(line):
                        return line
                if None in self.err_lines:
                    return None
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.err_cv.wait(left)

    def readline(self, timeout):
        """One stdout line, or None on EOF/timeout (then the process is killed)."""
        box = []
        t = threading.Thread(target=lambda: box.append(self.p.stdout.readline()), daemon=True)
        t.start()
        t.join(timeout)
        if not box:
            self.kill()
            return None
        return box[0].decode(errors="replace").rstrip("\n") if box[0] else None

    def send(self, line):
        self.p.stdin.write((line + "\n").encode())
        self.p.stdin.flush()

    def finish(self, timeout=60):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            fail("%s did not exit after its stdin closed" % self.cmd[0])
            self.kill()
            return None

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            pass


class Container:
    """What the checks compare against: the state right after ready/checkpoint."""

    def __init__(self, cid, upper, data=None):
        st = runc_state(cid)
        if not st or st.get("status") != "running":
            raise RuntimeError("container %s is not running: %r" % (cid, st))
        self.cid, self.upper, self.pid = cid, upper, st["pid"]
        self.root = "/proc/%d/root" % self.pid
        self.cg = cgroup_dir(self.pid)
        self.views = {"upper": upper, "/tmp": self.root + "/tmp",
                      "/srv": self.root + "/srv", "/opt/lethe": self.root + "/opt/lethe"}
        if data:  # a protected bind mount: rewound like a layer
            self.views["/data"] = data
        self.snap = {k: check.tree(v) for k, v in self.views.items()}
        self.log = fd_to(self.pid, "/srv/state/log")
        if self.log is None:
            raise RuntimeError("init holds no fd to /srv/state/log")

    def procs(self):
        return set(check.live(check.cgroup_procs(self.cg)))

    def leaks(self, token):
        """Every place the canary (or a change since the snapshot) is seen."""
        out = []
        for p in sorted(self.procs() | {self.pid}):
            h = check.mem_hits(p, token)
            if h:
                out.append("memory of pid %d: %s" % (p, "; ".join(h[:4])))
        for h in check.grep_tree([self.upper, self.root + "/tmp"] + ([self.views["/data"]] if "/data" in self.views else []), token):
            out.append("file " + h)
        for k, v in self.views.items():
            d = check.tree_diff(self.snap[k], check.tree(v))
            if d:
                out.append("%s differs from checkpoint (%d): %s" % (k, len(d), " | ".join(d[:6])))
        return out


def wait_report(path, n, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            for line in open(path):
                r = json.loads(line)
                if r.get("request") == n:
                    return r
        except FileNotFoundError:
            pass
        time.sleep(0.02)
    return None


def control(a):
    rt = Runtime(["runc", "run", "--bundle", a.bundle, a.id])
    try:
        line = rt.readline(60)
        if line != "ready":
            fail("container said %r instead of ready" % line)
            return
        c = Container(a.id, a.upper)
        base = c.procs()
        token = "LCY" + secrets.token_hex(6)
        for i in range(1, a.requests + 1):
            rt.send("%s-%d %s" % (token, i, a.flags))
            ans = rt.readline(30)
            if not ans or not ans.startswith("ok %d " % i):
                fail("answer %d: %r" % (i, ans))
                return
            time.sleep(0.05)  # let the background writer write once
            leaks = c.leaks(token)
            kinds = {"memory of pid %d" % c.pid: False, "file " + a.upper: False,
                     "file " + c.root + "/tmp": False, "upper differs": False,
                     "/tmp differs": False, "/srv differs": False, "/opt/lethe differs": False}
            for l in leaks:
                for k in kinds:
                    if l.startswith(k):
                        kinds[k] = True
            for k, seen in kinds.items():
                if not seen:
                    fail("control request %d: the checks did not see the plant in '%s'" % (i, k))
            extra = c.procs() - base
            # the forked child and the background writer, at least
            if len(extra) < 2:
                fail("control request %d: %d new processes in the cgroup, expected >= 2" % (i, len(extra)))
            note("control request %d: %d leaks seen, %d new processes" % (i, len(leaks), len(extra)))
    finally:
        rt.kill()


def check_report(r, i, a, upper):
    if r.get("verify") != "passed" or r.get("recycle"):
        fail("request %d: verify %r recycle %r reason %r" % (i, r.get("verify"), r.get("recycle"), r.get("reason")))
    if not isinstance(r.get("twin"), int) or r["twin"] <= 0:
        fail("request %d: report has no twin pid: %r" % (i, r.get("twin")))
    if not isinstance(r.get("cgroup_killed"), int):
        fail("request %d: report has no cgroup_killed count" % i)
    layers = r.get("layers") or []
    if not any(l.get("path") == "/" and l.get("kind") == "overlay" and
               os.path.realpath(l.get("root", "")) == os.path.realpath(upper) for l in layers):
        fail("request %d: no overlay layer / with root %s in %r" % (i, upper, layers))
    if not any(l.get("path") == "/tmp" and l.get("kind") == "tmpfs" for l in layers):
        fail("request %d: no tmpfs layer /tmp in %r" % (i, layers))
    unprot = r.get("unprotected")
    if a.expect_data == "unprotected" and "/data" not in (unprot or []):
        fail("request %d: /data not listed as unprotected: %r" % (i, unprot))
    if a.expect_data == "protected":
        if "/data" in (unprot or []):
            fail("request %d: /data unprotected despite --protect /data" % i)
        if not any(l.get("path") == "/data" for l in layers):
            fail("request %d: --protect /data is not a layer: %r" % (i, layers))


def check_files_tasks_pages(r, a):
    """The report of a full request names what it did."""
    files = {f.get("path"): f for f in r.get("files") or []}
    want = {  # path: (an op it must list, the action that undoes it)
        "/srv/new.txt": ("create", "removed"),
        "/srv/state/config": (None, "restored"),
        "/srv/state/log": ("write", "restored"),
        "/srv/state/victim": ("unlink", "recreated"),
        "/tmp/canary.txt": ("create", "removed"),
        "/opt/lethe/lower.txt": (None, None),
        "/opt/lethe/victim.txt": ("unlink", None),
        "/opt/lethe/rename-me.txt": (None, None),
        "/srv/tree/a/b/c/leaf.txt": (None, None),
    }
    for path, (op, action) in want.items():
        f = files.get(path)
        if f is None:
            fail("report of request 1 does not list %s (files: %s)" % (path, sorted(files)))
            continue
        ops = f.get("ops") or []
        if not ops:
            fail("report: %s lists no ops: %r" % (path, f))
        if op and op not in ops:
            fail("report: %s ops %r lack %r" % (path, ops, op))
        act = f.get("action")
        if act not in ("restored", "recreated", "removed", "unchanged", "unprotected"):
            fail("report: %s has action %r" % (path, act))
        elif action and act != action:
            fail("report: %s action %r, expected %r" % (path, act, action))
        elif act in ("unchanged", "unprotected"):
            fail("report: %s, a layer file the request changed, has action %r" % (path, act))
    if a.expect_data == "unprotected" and "data" in a.flags.split():
        f = files.get("/data/leak.txt")
        if not f or f.get("action") != "unprotected":
            fail("report: /data/leak.txt should be listed as unprotected: %r" % f)
    tasks = r.get("tasks") or []
    kinds = [t.get("kind") for t in tasks]
    if kinds.count("process") < 2 or kinds.count("thread") < 1:
        fail("report: tasks should list >= 2 processes (child, background writer) and a thread: %r" % tasks)
    if not all(isinstance(t.get("pid"), int) for t in tasks):
        fail("report: a task without pid: %r" % tasks)
    pages = r.get("pages")
    if not isinstance(pages, dict) or not isinstance(pages.get("dirty"), int) or pages["dirty"] <= 0:
        fail("report: pages.dirty missing or 0: %r" % pages)


def lethe(a):
    cmd = [a.lethe, "serve", "--container", a.id, "--verify", "--report", a.report] + \
        a.serve_arg + ["--", "runc", "run", "--bundle", a.bundle, a.id]
    note("running: " + " ".join(cmd))
    rt = Runtime(cmd)
    try:
        line = rt.wait_stderr(lambda l: "checkpointed pid" in l, 90)
        if not line:
            fail("lethe serve never printed 'checkpointed pid P (twin T)' (exit %r)" % rt.p.poll())
            return
        words = line.replace("(", " ").replace(")", " ").split()
        try:
            cp_pid = int(words[words.index("pid") + 1])
            twin = int(words[words.index("twin") + 1])
        except (ValueError, IndexError):
            fail("cannot parse the checkpoint line: %r" % line)
            return
        unprot = line.split("unprotected", 1)[1] if "unprotected" in line else ""
        if a.expect_data == "unprotected" and "/data" not in unprot:
            fail("the checkpoint line does not list /data as unprotected: %r" % line)
        if a.expect_data == "protected" and "/data" in unprot:
            fail("the checkpoint line lists a protected /data as unprotected: %r" % line)
        c = Container(a.id, a.upper, a.data if a.expect_data == "protected" else None)
        if cp_pid != c.pid:
            fail("serve checkpointed pid %d, the container's init is %d" % (cp_pid, c.pid))
        base = c.procs() - {twin}
        if base != {c.pid}:
            fail("at checkpoint the cgroup holds %r besides twin %d, expected only init %d" % (base, twin, c.pid))
        note("checkpoint: init %d, twin %d, cgroup %s, procs %r" % (c.pid, twin, c.cg, sorted(c.procs())))
        token = "LCY" + secrets.token_hex(6)
        sample = set([1, 2, a.requests]) | set(range(a.sample, a.requests + 1, a.sample))
        checked = 0
        for i in range(1, a.requests + 1):
            rt.send("%s-%d %s" % (token, i, a.flags))
            ans = rt.readline(60)
            if not ans or not ans.startswith("ok 1 "):
                fail("answer %d: %r (serve exit %r)" % (i, ans, rt.p.poll()))
                return
            r = wait_report(a.report, i)
            if r is None:
                fail("no report line for request %d" % i)
                return
            check_report(r, i, a, a.upper)
            if a.expect_full_diff:
                if not (r.get("files_full_diff") and r.get("epoch_flags", 0) & 2):
                    fail("request %d: expected lost records (epoch_flags & 2) and files_full_diff: %r %r" %
                         (i, r.get("epoch_flags"), r.get("files_full_diff")))
            elif i == 1:
                check_files_tasks_pages(r, a)
            if i not in sample:
                continue
            checked += 1
            twin = r.get("twin", twin)
            for l in c.leaks(token):
                fail("after rewind %d: %s" % (i, l))
            extra = c.procs() - {twin} - base
            gone = base - c.procs()
            if extra or gone:
                fail("after rewind %d: cgroup procs %r, twin %d, checkpoint's %r" % (i, sorted(c.procs()), twin, sorted(base)))
            st = os.stat(c.root + "/srv/state/log")
            if fd_to(c.pid, "/srv/state/log") != c.log or (st.st_dev, st.st_ino) != c.log:
                fail("after rewind %d: /srv/state/log is not the inode init had open at checkpoint" % i)
            if os.path.exists(os.path.join(a.data, "leak.txt")) and a.expect_data == "protected":
                fail("after rewind %d: /data/leak.txt survived --protect /data" % i)
        if a.expect_data == "unprotected" and "data" in a.flags.split():
            p = os.path.join(a.data, "leak.txt")
            if not (os.path.exists(p) and token.encode() in open(p, "rb").read()):
                fail("the unprotected /data should keep what requests wrote there")
        rc = rt.finish()
        if rc != 0:
            fail("lethe serve exited %r at the end of its input" % rc)
        note("%d requests answered 'ok 1', %d sampled checks" % (a.requests, checked))
    finally:
        rt.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["control", "lethe"])
    ap.add_argument("--lethe")
    ap.add_argument("--id", required=True)
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--upper", required=True)
    ap.add_argument("--data", default="/nonexistent")
    ap.add_argument("--report")
    ap.add_argument("--requests", type=int, default=2)
    ap.add_argument("--sample", type=int, default=10)
    ap.add_argument("--flags", default="")
    ap.add_argument("--serve-arg", action="append", default=[])
    ap.add_argument("--expect-full-diff", action="store_true")
    ap.add_argument("--expect-data", choices=["unprotected", "protected", "none"], default="unprotected")
    a = ap.parse_args()
    try:
        if a.mode == "control":
            control(a)
        else:
            lethe(a)
    except Exception as e:  # a broken harness is a failure, with its reason
        import traceback
        traceback.print_exc()
        fail("driver: %r" % e)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
