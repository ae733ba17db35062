#!/usr/bin/env bash
# Rewind cost of a real container: tests/demo/fn_container.py as the init of a
# runc container (the test harness's Debian rootfs on overlayfs, tmpfs /tmp)
# serves N requests through `lethe serve --container`, without and with
# --verify; prints the median of each phase (us) and what a request left.
# A benchmark, not a test: it asserts nothing about time.
#   sudo bench/bench_container.sh [N]      (default 50; needs `make all`)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-50}
export B=${B:-$PWD/build}
LETHE=${LETHE:-$B/lethe}
source tests/container/lib.sh
trap ctr_teardown_all EXIT
out=$(mktemp -d /tmp/lethe-bench-ctr.XXXXXX)

for mode in plain verify; do
	ctr_setup "bench-$mode" -- python3 -u /opt/fn/fn_container.py
	flag=
	[ "$mode" = verify ] && flag=--verify
	seq "$n" | sed 's/^/CANARY-/' |
		"$LETHE" serve --container "$CTR_ID" $flag --report "$out/$mode.jsonl" \
			-- runc run --bundle "$CTR_BUNDLE" "$CTR_ID" >/dev/null 2>"$out/$mode.err" ||
		{ echo "serve failed:"; cat "$out/$mode.err"; exit 1; }
	ctr_teardown "bench-$mode"
done

"$PY" - "$out" "$n" <<'PY'
import json, os, statistics, sys
out, n = sys.argv[1], int(sys.argv[2])
print("container rewind, %d requests each (median; us)" % n)
phases = ["stop", "drain", "tasks", "layout", "copy", "files", "fds", "verify", "rearm", "regs", "total"]
print("%-7s " % "mode" + " ".join("%7s" % p for p in phases) + "   pages files tasks flushed")
for mode in ("plain", "verify"):
    r = [json.loads(l) for l in open(os.path.join(out, mode + ".jsonl"))]
    med = lambda f: statistics.median(f(x) for x in r)
    row = " ".join("%7d" % med(lambda x, p=p: x["phases_us"][p]) for p in phases)
    print("%-7s %s   %5d %5d %5d %3d/%d" % (mode, row, med(lambda x: x["pages_restored"]),
          med(lambda x: len(x["files"])), med(lambda x: len(x["tasks"])),
          sum(x["dcache_flushed"] for x in r), len(r)))
    bad = [x for x in r if x["recycle"] or (mode == "verify" and x["verify"] != "passed")]
    if bad:
        print("  %d rewinds failed or did not verify" % len(bad))
PY
rm -rf "$out"
