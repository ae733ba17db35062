#!/usr/bin/env bash
# Containers without lethe: builds (once, ~1 min) the cached Debian rootfs the
# container tests share (this test sorts first, so it pays for the build), then
# proves the harness the other test_container_* tests stand on. A runc container
# (overlay over the rootfs, tmpfs /tmp, host dir bound at /data) runs
# tests/demo/fn_container.py; after each request the host-side checks see the
# canary in the init's memory, the upper dir, /tmp and /data, see the upper dir
# and /tmp differ from their ready state, and see new processes in the
# container's cgroup; the lower layer stays pristine; the detached mode (FIFOs)
# answers and counts requests; teardown leaves no container, mount, cgroup or
# process behind.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/container/lib.sh
trap ctr_teardown_all EXIT

start=$(date +%s)
rootfs=$(ctr_rootfs)
echo "rootfs ready in $(($(date +%s) - start)) s: $rootfs"
lower_before=$(cd "$rootfs" && find . -xdev -newer "$rootfs/.lethe-rootfs" | wc -l)

# foreground, as lethe serve runs it: every plant is seen by the checks
ctr_setup base -- python3 -u /opt/fn/fn_container.py
data=$CTR_DATA
"$PY" tests/container/serve_driver.py control --id "$CTR_ID" --bundle "$CTR_BUNDLE" \
	--upper "$CTR_UPPER" --requests 3 --flags data
grep -q '^LCY' "$data/leak.txt" || { echo "FAIL: nothing written to the bound /data"; exit 1; }
ctr_teardown base
ctr_assert_clean base

# detached with FIFOs, as the daemon test drives it
ctr_setup base2 -- python3 -u /opt/fn/fn_container.py
ctr_start_detached base2
read -r -t 30 -u "$CTR_OUT" line
[ "$line" = ready ] || { echo "FAIL: container said '$line'"; exit 1; }
pid=$(ctr_pid base2)
cg=$(ctr_cgroup_dir base2)
[ "$("$PY" tests/container/check.py procs "$cg")" = "$pid" ] || { echo "FAIL: cgroup $cg does not hold just $pid"; exit 1; }
for i in 1 2 3; do
	echo "LCYdetached-$i" >&"$CTR_IN"
	read -r -t 30 -u "$CTR_OUT" line
	[ "$line" = "ok $i 1" ] || { echo "FAIL: answer $i: '$line'"; exit 1; }
done
seen=$("$PY" tests/container/check.py procs "$cg")
[ "$(echo "$seen" | wc -l)" -ge 7 ] || { echo "FAIL: expected init + 2 per request in the cgroup: $seen"; exit 1; }
if "$PY" tests/container/check.py mem LCYdetached $seen >/dev/null; then echo "FAIL: canary not found in memory"; exit 1; fi
ctr_teardown base2
ctr_assert_clean base2
for p in $seen; do
	if [ -n "$("$PY" -c 'import sys; sys.path.insert(0, "tests/container"); import check; print(*check.live([int(sys.argv[1])]))' "$p")" ]; then
		echo "FAIL: pid $p of the container outlived its teardown"
		exit 1
	fi
done

# the shared lower layer was never written
lower_after=$(cd "$rootfs" && find . -xdev -newer "$rootfs/.lethe-rootfs" | wc -l)
[ "$lower_before" = "$lower_after" ] || { echo "FAIL: the cached rootfs changed"; exit 1; }
echo "harness OK"
