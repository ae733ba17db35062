#!/usr/bin/env bash
# The daemon verbs on a runc container named by id: tests/demo/fn_container.py
# runs detached (`runc run -d`, stdin/stdout on FIFOs); `lethe checkpoint
# --container ID`, then 10 requests. After each answer, before the rewind, the
# canary is in the init's memory, the upper dir and /tmp, and the cgroup has new
# processes (so the checks can fail); after `lethe rewind --container ID
# --verify` none of it is left, the upper dir, /tmp and /srv equal their
# checkpoint state and the cgroup holds init and the twin only. Then `report
# --json`, `status`, `release` (the twin ends, the container runs on without
# rewinds), and errors: an unknown container exits 4 with a message naming it,
# `--runtime nosuch` exits 2, a --pid outside the container exits 2, a released
# container is not checkpointed (5).
set -uo pipefail
cd "$(dirname "$0")/../.."
: "${LETHE:?set LETHE to the lethe binary}"
source tests/container/lib.sh
dir=$(mktemp -d /tmp/lethe-cdaemon.XXXXXX)
sock=$dir/s.sock
daemon=
cleanup() {
	set +e
	if [ -n "$daemon" ]; then
		kill -TERM "$daemon" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.05; done
		kill -KILL "$daemon" 2>/dev/null
		wait "$daemon" 2>/dev/null
	fi
	ctr_teardown_all
	rm -rf "$dir"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
chk() { "$PY" tests/container/check.py "$@"; }
# python3 check of the JSON object in file $1: $2 is an expression over r
json_check() {
	"$PY" -c 'import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2" || fail "json check '$2' on: $(head -c 3000 "$1")"
}
# the value of a top-level key (or one under "rewind") of the JSON object in $1
json_get() {
	"$PY" -c 'import json, sys
r = json.load(open(sys.argv[1]))
v = r.get(sys.argv[2], (r.get("rewind") or {}).get(sys.argv[2]))
print("" if v is None else v)' "$1" "$2"
}
cgprocs() { chk procs "$cg" | tr '\n' ' ' | sed 's/ $//'; }
# the file init holds open as /srv/state/log (opened before ready) is still the
# one at that path: "dev:ino" of both, or nothing if it is gone
log_ino() {
	local f
	for f in /proc/"$P"/fd/*; do
		if [ "$(readlink "$f")" = /srv/state/log ]; then
			echo "$(stat -L -c %d:%i "$f") $(stat -c %d:%i "/proc/$P/root/srv/state/log")"
			return
		fi
	done
}

ctr_setup cdaemon -- python3 -u /opt/fn/fn_container.py
ctr_start_detached cdaemon || exit 1
read -r -t 30 -u "$CTR_OUT" line
[ "${line:-}" = ready ] || { echo "FAIL: container said '${line:-}'"; exit 1; }
P=$(ctr_pid cdaemon)
cg=$(ctr_cgroup_dir cdaemon)
root=/proc/$P/root

"$LETHE" daemon --socket "$sock" --foreground 2>"$dir/daemon.log" &
daemon=$!
for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || { echo "FAIL: daemon did not come up"; cat "$dir/daemon.log"; exit 1; }

# errors first, while nothing is checkpointed
"$LETHE" checkpoint --container "nosuch-$$" --socket "$sock" >"$dir/o" 2>"$dir/e"
rc=$?
[ $rc -eq 4 ] || fail "checkpoint of an unknown container: exit $rc, expected 4"
grep -q "nosuch-$$" "$dir/e" "$dir/o" || fail "the error does not name the container: $(cat "$dir/e" "$dir/o")"
"$LETHE" rewind --container "nosuch-$$" --socket "$sock" >"$dir/o" 2>"$dir/e"
rc=$?
[ $rc -eq 4 ] || fail "rewind of an unknown container: exit $rc, expected 4 ($(cat "$dir/e"))"
"$LETHE" checkpoint --container "$CTR_ID" --runtime nosuch --socket "$sock" >"$dir/o" 2>"$dir/e"
rc=$?
[ $rc -eq 2 ] || fail "--runtime nosuch: exit $rc, expected 2 ($(cat "$dir/e"))"
"$LETHE" checkpoint --container "$CTR_ID" --pid $$ --socket "$sock" >"$dir/o" 2>"$dir/e"
rc=$?
[ $rc -eq 2 ] || fail "--pid of a process outside the container: exit $rc, expected 2 ($(cat "$dir/e"))"
grep -q "pid $$ is not in container $CTR_ID" "$dir/e" || fail "outside-pid message: $(cat "$dir/e")"
[ "$(cgprocs)" = "$P" ] || fail "a refused checkpoint left processes: $(cgprocs)"

# --pid picks the process to rewind inside the container (here the init itself)
"$LETHE" checkpoint --container "$CTR_ID" --pid "$P" --verify --json --socket "$sock" >"$dir/cp.json" 2>"$dir/e" ||
	{ echo "FAIL: checkpoint --container: $(cat "$dir/e" "$dir/cp.json")"; cat "$dir/daemon.log"; exit 1; }
json_check "$dir/cp.json" "r.get('pid') == $P"
T=$(json_get "$dir/cp.json" twin)
[ -n "$T" ] && [ "$T" -gt 0 ] || { echo "FAIL: no twin in $(cat "$dir/cp.json")"; exit 1; }
base="$(echo "$P $T" | tr ' ' '\n' | sort -n | tr '\n' ' ' | sed 's/ $//')"
[ "$(cgprocs)" = "$base" ] || echo "note: cgroup at checkpoint: $(cgprocs) (init $P, twin $T)"
base=$(cgprocs)
chk snap "$CTR_UPPER" "$dir/upper.json"
ino=$(log_ino)
[ -n "$ino" ] && [ "${ino% *}" = "${ino#* }" ] || fail "init's fd to /srv/state/log: '$ino'"
chk snap "$root/tmp" "$dir/tmp.json"
chk snap "$root/srv" "$dir/srv.json"
chk snap "$root/opt/lethe" "$dir/opt.json"

for i in $(seq 10); do
	tok=LCYd$$x$i
	echo "$tok" >&"$CTR_IN"
	read -r -t 30 -u "$CTR_OUT" ans || { fail "no answer $i"; break; }
	[ "$ans" = "ok 1 1" ] || fail "answer $i: '$ans'"
	sleep 0.02 # the background writer writes
	# planted: the checks below must see it before the rewind
	chk mem "$tok" "$P" >/dev/null && fail "request $i: canary not in init's memory"
	chk grep "$tok" "$CTR_UPPER" >/dev/null && fail "request $i: canary not in the upper dir"
	chk grep "$tok" "$root/tmp" >/dev/null && fail "request $i: canary not in /tmp"
	chk same "$dir/upper.json" "$CTR_UPPER" >/dev/null && fail "request $i: upper dir unchanged"
	[ "$(cgprocs)" = "$base" ] && fail "request $i: no new process in the cgroup"
	"$LETHE" rewind --container "$CTR_ID" --verify --json --socket "$sock" >"$dir/r.json" 2>"$dir/e" ||
		fail "rewind $i: $(cat "$dir/e" "$dir/r.json")"
	json_check "$dir/r.json" "r['rewind']['verify'] == 'passed' and not r['rewind']['recycle'] and r['rewind']['files_restored'] >= 6"
	# the twin may have been re-forked by this rewind: the report names the current one
	"$LETHE" report --container "$CTR_ID" --json --socket "$sock" >"$dir/rep.json" 2>"$dir/e" ||
		fail "report $i: $(cat "$dir/e")"
	t=$(json_get "$dir/rep.json" twin)
	if [ -n "$t" ] && [ "$t" != "$T" ]; then # re-twinned
		base=$(echo "$base" | tr ' ' '\n' | sed "s/^$T\$/$t/" | sort -n | tr '\n' ' ' | sed 's/ $//')
		T=$t
	fi
	# shellcheck disable=SC2046
	h=$(chk mem "$tok" $(chk procs "$cg")) || fail "rewind $i: canary in memory: $h"
	h=$(chk grep "$tok" "$CTR_UPPER" "$root/tmp") || fail "rewind $i: canary in files: $h"
	h=$(chk same "$dir/upper.json" "$CTR_UPPER") || fail "rewind $i: upper dir differs: $h"
	h=$(chk same "$dir/tmp.json" "$root/tmp") || fail "rewind $i: /tmp differs: $h"
	h=$(chk same "$dir/srv.json" "$root/srv") || fail "rewind $i: container's /srv differs: $h"
	h=$(chk same "$dir/opt.json" "$root/opt/lethe") || fail "rewind $i: container's /opt/lethe differs: $h"
	[ "$(cgprocs)" = "$base" ] || fail "rewind $i: cgroup holds $(cgprocs), expected $base (init $P, twin $T)"
	[ "$(log_ino)" = "$ino" ] || fail "rewind $i: init's /srv/state/log fd is $(log_ino), was $ino"
	[ $fails -eq 0 ] || break
done

"$LETHE" report --container "$CTR_ID" --json --socket "$sock" >"$dir/rep.json" 2>"$dir/e" ||
	fail "report --container: $(cat "$dir/e")"
json_check "$dir/rep.json" "r.get('pid') == $P and r.get('rewinds') == 10 and r.get('failed_rewinds') == 0"
json_check "$dir/rep.json" "any(l.get('path') == '/' and l.get('kind') == 'overlay' for l in (r.get('layers') or r['last_rewind'].get('layers') or []))"
json_check "$dir/rep.json" "'/data' in (r.get('unprotected') or r['last_rewind'].get('unprotected') or [])"
json_check "$dir/rep.json" "any(f.get('path') == '/srv/new.txt' and f.get('action') == 'removed' for f in r['last_rewind'].get('files') or [])"
"$LETHE" status --socket "$sock" >"$dir/st" 2>&1 || fail "status: $(cat "$dir/st")"
grep -q "^$P " "$dir/st" || fail "status does not list pid $P: $(cat "$dir/st")"

"$LETHE" release --container "$CTR_ID" --socket "$sock" >"$dir/o" 2>"$dir/e" || fail "release: $(cat "$dir/e")"
for _ in $(seq 100); do [ -z "$("$PY" -c 'import sys; sys.path.insert(0, "tests/container"); import check; print(*check.live([int(sys.argv[1])]))' "$T")" ] && break; sleep 0.05; done
[ -z "$("$PY" -c 'import sys; sys.path.insert(0, "tests/container"); import check; print(*check.live([int(sys.argv[1])]))' "$T")" ] ||
	fail "twin $T outlived release"
"$LETHE" rewind --container "$CTR_ID" --socket "$sock" >"$dir/o" 2>"$dir/e"
rc=$?
[ $rc -eq 5 ] || fail "rewind after release: exit $rc, expected 5 ($(cat "$dir/e"))"
# the container runs on, no longer rewound
for i in 1 2; do
	echo "LCYafter-$i" >&"$CTR_IN"
	read -r -t 30 -u "$CTR_OUT" ans || fail "no answer after release"
	[ "${ans:-}" = "ok $i 1" ] || fail "answer $i after release: '${ans:-}'"
done
[ $fails -eq 0 ] || { sed 's/^/  daemon: /' "$dir/daemon.log" | tail -n 30; }
ctr_teardown cdaemon
ctr_assert_clean cdaemon || fail "teardown left something behind"
exit $fails
