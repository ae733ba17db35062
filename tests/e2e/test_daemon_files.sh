#!/usr/bin/env bash
# The daemon with a protected directory: `lethe checkpoint --protect DIR`, then
# 10 requests that change files in DIR, each followed by `lethe rewind --verify`;
# DIR ends equal to its checkpoint state, and a bad protect list is refused.
set -uo pipefail
dir=$(mktemp -d /tmp/lethe-dfiles.XXXXXX)
sock=$dir/s.sock
mkdir "$dir/state"
daemon=
cleanup() {
	[ -n "${RT_PID:-}" ] && kill -KILL -- "-$RT_PID" 2>/dev/null
	[ -n "$daemon" ] && kill -TERM "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$LETHE" daemon --socket "$sock" --foreground 2>"$dir/daemon.log" &
daemon=$!
for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || { fail "daemon did not come up"; cat "$dir/daemon.log"; exit 1; }

coproc RT { exec setsid "$B/demo/fn_runtime" --files "$dir/state"; }
read -r -t 10 -u "${RT[0]}" line || fail "runtime did not start"
[ "${line:-}" = ready ] || fail "runtime said '${line:-}'"
P=$RT_PID

"$LETHE" checkpoint --pid "$P" --verify --protect "$dir/state" --socket "$sock" >/dev/null ||
	fail "checkpoint --protect"
for i in $(seq 10); do
	echo "CANARY-$i" >&"${RT[1]}"
	read -r -t 10 -u "${RT[0]}" ans || fail "no answer $i"
	case "$ans" in "ok 1 $P"*) ;; *) fail "answer $i: $ans" ;; esac
	"$LETHE" rewind --pid "$P" --verify --json --socket "$sock" >"$dir/r.json" || fail "rewind $i: $(cat "$dir/r.json")"
	python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['rewind']; assert r['verify']=='passed' and r['files_restored']>=6, r" \
		"$dir/r.json" || fail "rewind $i report"
done
grep -rl CANARY "$dir/state" && fail "canary left on disk"
[ "$(ls "$dir/state" | tr '\n' ' ')" = "config log renamed victim " ] || fail "entries: $(ls "$dir/state")"

# relative or non-list protect entries are refused by the daemon
python3 - "$sock" <<'PY' || fail "bad protect accepted"
import json, socket, sys
for bad in ({"op": "checkpoint", "pid": 1, "protect": "x"}, {"op": "checkpoint", "pid": 1, "protect": ["rel"]},
            {"op": "rewind", "pid": 1, "protect": ["/tmp"]}):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
    s.sendall((json.dumps(bad) + "\n").encode())
    r = json.loads(s.makefile().readline())
    assert r["ok"] is False and r["errno"] == 22, r
PY
exit $fails
