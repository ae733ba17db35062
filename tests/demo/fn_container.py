# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# A Python function runtime for container leak tests (tests/container/). It runs
# as the container's init on an overlay rootfs with a tmpfs at /tmp and a host
# directory bind-mounted at /data.
#
# Init opens /srv/state/log for append and keeps it open, then prints "ready".
# Each request line is "CANARY [data] [many=N]"; the canary is planted in every
# persistence point a function reaches from inside a container:
#   memory: a global list, an init-time buffer, a large heap object, a new mmap,
#           a new thread, a forked child, an fd left open;
#   files:  a new file and a new directory tree in the upper layer, appends to
#           existing upper files (one through the fd init holds open), a modified
#           lower-layer file (copy-up), a deleted lower file and a deleted upper
#           file, a renamed lower file and a renamed upper file, a user.* xattr,
#           chmods (upper and lower), a file in the tmpfs /tmp;
#   tasks:  a double-forked background process that rewrites the canary into
#           /srv/bg.txt and /tmp/bg.txt every few ms and outlives the request;
#   "data": also a file in the bind-mounted /data (not a layer of the container);
#   "many=N": also N new files under /srv/many (to overflow the tracker).
# The answer is "ok N PID": N counts requests since start, so it is 1 after each
# rewind. Planting never fails on a file an earlier unrewound request already
# removed or renamed, so the runtime also works without rewinds.
import mmap
import os
import signal
import sys
import threading
import time

counter = 0
cache = []                          # module global that grows
init_buf = bytearray(b"i" * 8192)   # allocated at init, overwritten per request
log = None                          # /srv/state/log, opened at init, kept open


def write(path, data, mode="w"):
    with open(path, mode) as f:
        f.write(data)


def quietly(fn, *args):
    try:
        fn(*args)
    except FileNotFoundError:
        pass


def background_writer(canary):
    """Double fork: the grandchild is reparented to init and keeps writing."""
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)
        return
    try:
        os.setsid()
        if os.fork():
            os._exit(0)
        keep = canary + "-bg"
        while True:
            for path in ("/srv/bg.txt", "/tmp/bg.txt"):
                try:
                    write(path, keep + "\n")
                except OSError:
                    pass
            time.sleep(0.005)
    finally:
        os._exit(0)


def plant_memory(canary):
    data = canary.encode()
    cache.append(canary + "-global")
    init_buf[100:100 + len(data)] = data
    m = mmap.mmap(-1, 4 * 4096)          # new anonymous mapping
    m[4096:4096 + len(data)] = data
    cache.append((canary + "-heap") * 1000)  # large heap object
    t = threading.Thread(target=signal.pause, daemon=True, name=canary[:15])
    t.start()                            # a thread that never ends
    pid = os.fork()
    if pid == 0:                         # a child that keeps the canary
        keep = canary + "-child"
        signal.pause()
        os._exit(0)
    fd = os.open("/dev/null", os.O_WRONLY)  # an fd left open
    cache.append((m, fd))


def plant_files(canary, flags):
    line = canary + "\n"
    # upper layer: new file, appends to existing files, new tree
    write("/srv/new.txt", line)
    write("/srv/state/config", line, "a")
    log.write(line)
    log.flush()
    os.makedirs("/srv/tree/a/b/c", exist_ok=True)
    write("/srv/tree/a/b/c/leaf.txt", line)
    write("/srv/tree/top.txt", line)
    # lower layer: modify (copy-up), delete (whiteout), rename, chmod (copy-up)
    write("/opt/lethe/lower.txt", line, "a")
    quietly(os.unlink, "/opt/lethe/victim.txt")
    quietly(os.rename, "/opt/lethe/rename-me.txt", "/opt/lethe/renamed.txt")
    os.chmod("/opt/lethe/lowerdir/sub/f.txt", 0o600)
    # upper layer: delete, rename, chmod, xattr
    quietly(os.unlink, "/srv/state/victim")
    quietly(os.rename, "/srv/state/rename-me", "/srv/state/renamed")
    os.chmod("/srv/state/config", 0o600)
    os.setxattr("/srv/state/config", "user.canary", canary.encode())
    # tmpfs
    write("/tmp/canary.txt", line)
    write("/tmp/state.txt", line, "a")
    if "data" in flags:
        write("/data/leak.txt", line, "a")
    many = int(flags.get("many", 0))
    if many:
        os.makedirs("/srv/many", exist_ok=True)
        for i in range(many):
            write("/srv/many/f%04d" % i, line)


def plant(req):
    global counter
    counter += 1
    words = req.split()
    canary = words[0]
    flags = {}
    for w in words[1:]:
        k, _, v = w.partition("=")
        flags[k] = v
    plant_memory(canary)
    plant_files(canary, flags)
    background_writer(canary)
    os.chdir("/srv/tree")  # the working directory moves into a tree the rewind removes


def main():
    global log
    log = open("/srv/state/log", "a")
    write("/tmp/state.txt", "init\n")
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        if line.strip():
            plant(line.strip())
        out.write("ok %d %d\n" % (counter, os.getpid()))
        out.flush()


main()
