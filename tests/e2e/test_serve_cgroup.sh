#!/usr/bin/env bash
# A sandbox named by cgroup: `lethe serve --cgroup DIR`. Each request leaves a
# double-forked background process that left the runtime's process tree, and
# between two requests an unrelated process is moved into the cgroup from
# outside (the tracker never sees it fork). After every rewind the cgroup holds
# exactly what it held at checkpoint (the runtime and lethe's snapshot twin);
# the report says which processes the cgroup sweep found.
# Runs once per cgroup version this host mounts (hybrid here: v2 and v1 pids).
set -euo pipefail
if [ $# -eq 0 ]; then
	roots=()
	if [ -f /sys/fs/cgroup/unified/cgroup.procs ]; then
		roots+=(/sys/fs/cgroup/unified)
	elif [ -f /sys/fs/cgroup/cgroup.procs ] && [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
		roots+=(/sys/fs/cgroup)
	fi
	[ -f /sys/fs/cgroup/pids/cgroup.procs ] && roots+=(/sys/fs/cgroup/pids)
	[ ${#roots[@]} -gt 0 ] || { echo "FAIL: no cgroup hierarchy mounted"; exit 1; }
	for r in "${roots[@]}"; do
		echo "cgroup root $r"
		bash "$0" "$r" || exit 1
	done
	exit 0
fi
root=$1
dir=$(mktemp -d /tmp/lethe-cgroup.XXXXXX)
cg=$root/lethe-e2e-$$
outsider=
serve=
cleanup() {
	[ -n "$outsider" ] && kill -KILL "$outsider" 2>/dev/null
	[ -n "$serve" ] && kill -KILL "$serve" 2>/dev/null
	exec 3>&- 4<&- 2>/dev/null || true
	if [ -d "$cg" ]; then
		for p in $(cat "$cg/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
		for _ in $(seq 50); do rmdir "$cg" 2>/dev/null && break; sleep 0.1; done
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
mkdir "$cg"
mkfifo "$dir/in" "$dir/out"

# the runtime joins the cgroup before it says it is ready
"$LETHE" serve --cgroup "$cg" --verify --report "$dir/report.jsonl" \
	-- sh -c "echo \$\$ > $cg/cgroup.procs && exec $B/demo/fn_runtime --daemon" \
	<"$dir/in" >"$dir/out" 2>"$dir/err" &
serve=$!
exec 3>"$dir/in" 4<"$dir/out"

members() { sort -n "$cg/cgroup.procs" | tr '\n' ' '; }
twin_of() { python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readlines()[-1])["twin"])' "$dir/report.jsonl"; }

echo CANARY-1 >&3
read -r -t 30 a1 <&4
runtime=$(echo "$a1" | cut -d' ' -f3)
[ "$(echo "$a1" | cut -d' ' -f1,2)" = "ok 1" ] || { echo "FAIL: answer 1: $a1"; exit 1; }
[ "$(members)" = "$(echo "$runtime $(twin_of)" | tr ' ' '\n' | sort -n | tr '\n' ' ')" ] ||
	{ echo "FAIL: after rewind 1 the cgroup holds $(members), want runtime $runtime and twin $(twin_of)"; exit 1; }

# a process from outside joins the sandbox's cgroup
(sleep 1000 </dev/null >/dev/null 2>&1 & echo $! >"$dir/outsider")
outsider=$(cat "$dir/outsider")
echo "$outsider" >"$cg/cgroup.procs"
echo CANARY-2 >&3
read -r -t 30 a2 <&4
[ "$(echo "$a2" | cut -d' ' -f1,2)" = "ok 1" ] || { echo "FAIL: answer 2: $a2"; exit 1; }
[ "$(members)" = "$(echo "$runtime $(twin_of)" | tr ' ' '\n' | sort -n | tr '\n' ' ')" ] ||
	{ echo "FAIL: after rewind 2 the cgroup holds $(members)"; exit 1; }
for _ in $(seq 50); do kill -0 "$outsider" 2>/dev/null || break; sleep 0.1; done
kill -0 "$outsider" 2>/dev/null && { echo "FAIL: the outsider $outsider survived"; exit 1; }
outsider=

echo CANARY-3 >&3
read -r -t 30 a3 <&4
exec 3>&-
wait "$serve" || { echo "FAIL: serve exited $?"; cat "$dir/err"; exit 1; }
serve=
if pgrep -f CANARY >/dev/null; then echo "FAIL: a process with a canary survived"; exit 1; fi

python3 - "$dir/report.jsonl" <<'PY' 2>&1 || { cat "$dir/err"; exit 1; }
import json, sys
reps = [json.loads(l) for l in open(sys.argv[1])]
assert len(reps) == 3, len(reps)
for r in reps:
    assert r["verify"] == "passed" and not r["recycle"], r
    assert r["cgroup"].startswith("/sys/fs/cgroup"), r
    procs = [t for t in r["tasks"] if t["kind"] == "process"]
    # the request's child and both halves of the double fork, all seen by the tracker
    assert len([t for t in procs if t["found_by"] == "tracker"]) >= 3, r["tasks"]
outs = [t for t in reps[1]["tasks"] if t["found_by"] == "cgroup"]
assert len(outs) == 1 and reps[1]["cgroup_killed"] == 1, reps[1]
assert all(r["cgroup_killed"] == 0 for r in (reps[0], reps[2])), reps
PY

# a process already in the cgroup at checkpoint (a sidecar) is kept, not rewound: the
# checkpoint line warns, every report line names it, and it survives the rewinds
(sleep 1000 </dev/null >/dev/null 2>&1 & echo $! >"$dir/sidecar")
outsider=$(cat "$dir/sidecar")
echo "$outsider" >"$cg/cgroup.procs"
printf 'CANARY-4\nCANARY-5\n' | "$LETHE" serve --cgroup "$cg" --verify --report "$dir/report2.jsonl" \
	-- sh -c "echo \$\$ > $cg/cgroup.procs && exec $B/demo/fn_runtime --daemon" >"$dir/out2" 2>"$dir/err2" ||
	{ echo "FAIL: serve with a sidecar exited $?"; cat "$dir/err2"; exit 1; }
grep -q "1 other process(es) of the cgroup, first $outsider, are kept but not rewound" "$dir/err2" ||
	{ echo "FAIL: no warning about the sidecar: $(cat "$dir/err2")"; exit 1; }
kill -0 "$outsider" || { echo "FAIL: the sidecar was killed"; exit 1; }
python3 - "$dir/report2.jsonl" "$outsider" <<'PY' || exit 1
import json, sys
reps = [json.loads(l) for l in open(sys.argv[1])]
assert len(reps) == 2 and all(r["kept_processes"] == [int(sys.argv[2])] for r in reps), reps
assert all(r["verify"] == "passed" and r["cgroup_killed"] == 0 for r in reps), reps
PY
