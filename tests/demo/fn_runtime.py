# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# A Python function runtime for leak tests: after "ready", each request line (a
# canary) is planted in every persistence class Python code reaches, then
# answered "ok N PID". N counts requests since start: after a rewind it is 1.
import mmap
import os
import signal
import sys
import threading

counter = 0
cache = []           # module global that grows
init_buf = bytearray(b"i" * 8192)  # allocated at init, overwritten per request


def plant(canary):
    global counter
    counter += 1
    data = canary.encode()
    cache.append(canary + "-global")
    init_buf[100:100 + len(data)] = data
    m = mmap.mmap(-1, 4 * 4096)          # new anonymous mapping
    m[4096:4096 + len(data)] = data
    big = (canary + "-heap") * 1000      # large heap object
    cache.append(big)
    t = threading.Thread(target=signal.pause, daemon=True, name=canary[:15])
    t.start()                            # a new thread that never ends
    pid = os.fork()
    if pid == 0:                         # a child that keeps the canary
        keep = canary + "-child"
        signal.pause()
        os._exit(0)
    fd = os.open("/dev/null", os.O_WRONLY)  # an fd left open
    cache.append((m, fd))


def main():
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        plant(line.strip())
        out.write("ok %d %d\n" % (counter, os.getpid()))
        out.flush()


main()
