# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Host-side observation of a container for the e2e tests (root only).

Importable (serve_driver.py) and a CLI:
  check.py snap DIR OUT.json        record DIR's tree (see tree())
  check.py same SNAP.json DIR       exit 1 and list the differences if DIR changed
  check.py grep TOKEN PATH...       exit 1 and list every file/name/xattr holding TOKEN
  check.py mem TOKEN PID...         exit 1 and list every pid whose memory holds TOKEN
  check.py procs CGROUP_DIR         the live (not zombie) pids in a cgroup, one per line
"""
import hashlib
import json
import os
import stat
import sys


def tree(root):
    """Every entry under root (root itself as "."), by relative path: type,
    mode, owner, size, content hash, symlink target, device number and every
    xattr (trusted.overlay.* included: whiteouts, opaque dirs, redirects)."""
    out = {}

    def rec(path, rel):
        st = os.lstat(path)
        e = {"type": stat.S_IFMT(st.st_mode), "mode": stat.S_IMODE(st.st_mode),
             "uid": st.st_uid, "gid": st.st_gid}
        if stat.S_ISREG(st.st_mode):
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            e["size"] = st.st_size
            e["sha256"] = h.hexdigest()
        elif stat.S_ISLNK(st.st_mode):
            e["target"] = os.readlink(path)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            e["rdev"] = [os.major(st.st_rdev), os.minor(st.st_rdev)]
        try:
            names = os.listxattr(path, follow_symlinks=False)
        except OSError:
            names = []
        xa = {}
        for n in sorted(names):
            try:
                xa[n] = os.getxattr(path, n, follow_symlinks=False).hex()
            except OSError as err:
                xa[n] = "error:%d" % err.errno
        if xa:
            e["xattrs"] = xa
        out[rel] = e
        if stat.S_ISDIR(st.st_mode):
            for name in sorted(os.listdir(path)):
                rec(os.path.join(path, name), name if rel == "." else rel + "/" + name)

    rec(root, ".")
    return out


def tree_diff(old, new):
    """Human-readable differences between two tree() results."""
    diffs = []
    for p in sorted(set(old) | set(new)):
        if p not in new:
            diffs.append("missing: %s %s" % (p, old[p]))
        elif p not in old:
            diffs.append("extra: %s %s" % (p, new[p]))
        elif old[p] != new[p]:
            keys = sorted(k for k in set(old[p]) | set(new[p]) if old[p].get(k) != new[p].get(k))
            diffs.append("changed: %s %s" % (p, ", ".join(
                "%s %r -> %r" % (k, old[p].get(k), new[p].get(k)) for k in keys)))
    return diffs


def grep_tree(roots, token):
    """Files (contents, names, symlink targets, xattr values) holding token."""
    if isinstance(token, str):
        token = token.encode()
    hits = []
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                if token in name.encode():
                    hits.append(path + " (name)")
                try:
                    st = os.lstat(path)
                    if stat.S_ISREG(st.st_mode):
                        with open(path, "rb") as f:
                            if token in f.read():
                                hits.append(path)
                    elif stat.S_ISLNK(st.st_mode) and token in os.readlink(path).encode():
                        hits.append(path + " (symlink)")
                    for n in os.listxattr(path, follow_symlinks=False):
                        if token in os.getxattr(path, n, follow_symlinks=False):
                            hits.append(path + " (xattr %s)" % n)
                except FileNotFoundError:
                    pass  # a writer still running removed/renamed it
    return hits


def mem_hits(pid, token):
    """Where token occurs in pid's memory: a list of mapping names, or None if
    pid is gone. Reads every readable mapping through /proc/PID/mem, which does
    not need the process to cooperate and does not break COW sharing."""
    if isinstance(token, str):
        token = token.encode()
    hits = []
    try:
        maps = open("/proc/%d/maps" % pid).read().splitlines()
        mem = os.open("/proc/%d/mem" % pid, os.O_RDONLY)
    except (FileNotFoundError, ProcessLookupError):
        return None
    try:
        for line in maps:
            f = line.split(None, 5)
            if f[1][0] != "r":
                continue
            name = f[5] if len(f) > 5 else "anon"
            if name in ("[vvar]", "[vvar_vclock]", "[vsyscall]"):
                continue
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            pos, carry = lo, b""
            while pos < hi:
                n = min(hi - pos, 4 << 20)
                try:
                    buf = os.pread(mem, n, pos)
                except OSError:
                    break
                if not buf:
                    break
                if token in carry + buf:
                    hits.append("%s %s" % (f[0], name))
                    break
                carry = buf[-len(token):]
                pos += len(buf)
    finally:
        os.close(mem)
    return hits


def cgroup_procs(cgdir):
    try:
        with open(os.path.join(cgdir, "cgroup.procs")) as f:
            return sorted(int(x) for x in f.read().split())
    except FileNotFoundError:
        return []


def live(pids):
    """pids that are neither gone nor zombies (zombies hold no memory)."""
    out = []
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            continue
        if state not in ("Z", "X"):
            out.append(p)
    return out


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "snap":
        json.dump(tree(argv[2]), open(argv[3], "w"), sort_keys=True)
        return 0
    if cmd == "same":
        d = tree_diff(json.load(open(argv[2])), tree(argv[3]))
        for x in d:
            print(x)
        return 1 if d else 0
    if cmd == "grep":
        h = grep_tree(argv[3:], argv[2])
        for x in h:
            print(x)
        return 1 if h else 0
    if cmd == "mem":
        bad = 0
        for p in argv[3:]:
            h = mem_hits(int(p), argv[2])
            if h:
                print("pid %s: %s" % (p, "; ".join(h)))
                bad = 1
        return bad
    if cmd == "procs":
        for p in live(cgroup_procs(argv[2])):
            print(p)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
