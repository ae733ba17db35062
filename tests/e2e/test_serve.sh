#!/usr/bin/env bash
# lethe serve with a C and a Python runtime: every answer is the first one's
# ("ok 1 PID": the request counter is rewound), every rewind verified, one
# report line per request; and each failure mode exits with its own code.
set -uo pipefail
cd "$(dirname "$0")/../.."
dir=$(mktemp -d /tmp/lethe-serve.XXXXXX)
trap 'rm -rf "$dir"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

check_runtime() {
	local name=$1 n=$2; shift 2
	seq "$n" | sed 's/^/request-/' >"$dir/in"
	"$LETHE" serve --verify --report "$dir/$name.jsonl" -- "$@" <"$dir/in" >"$dir/$name.out" 2>"$dir/$name.err"
	local rc=$?
	[ $rc -eq 0 ] || { fail "$name: exit $rc"; cat "$dir/$name.err"; }
	[ "$(wc -l <"$dir/$name.out")" -eq "$n" ] || fail "$name: $(wc -l <"$dir/$name.out") answers for $n requests"
	[ "$(cut -d' ' -f1,2 "$dir/$name.out" | sort -u)" = "ok 1" ] || fail "$name: answers not rewound: $(sort -u "$dir/$name.out" | head -3)"
	[ "$(cut -d' ' -f3 "$dir/$name.out" | sort -u | wc -l)" -eq 1 ] || fail "$name: the runtime was replaced"
	python3 - "$dir/$name.jsonl" "$n" <<'PY' || fail "$name: report"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) == int(sys.argv[2]), len(lines)
for r in lines:
    assert r["verify"] == "passed" and not r["recycle"], r
    assert r["tasks_killed"] == 1 and r["threads_ended"] == 1 and r["fds_closed"] == 1, r
    # this host cannot load the kernel helper: the portable copy path ran
    assert r["copy"] == "process_vm", r
PY
}

check_runtime c 50 "$B/demo/fn_runtime"
check_runtime python 20 python3 -u tests/demo/fn_runtime.py

# each re-arm method can be forced, and the report says which one ran
for m in retwin uffd ever; do
	seq 10 | "$LETHE" serve --verify --rearm $m --report "$dir/$m.jsonl" -- "$B/demo/fn_runtime" >"$dir/$m.out" ||
		fail "rearm $m: exit $?"
	[ "$(cut -d' ' -f1,2 "$dir/$m.out" | sort -u)" = "ok 1" ] || fail "rearm $m: answers not rewound"
	python3 - "$dir/$m.jsonl" $m <<'PY' || fail "rearm $m: report"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
want = {"retwin": {"retwin"}, "uffd": {"uffd-wp", "uffd-wp+retwin"}, "ever": {"ever-dirtied"}}[sys.argv[2]]
assert len(lines) == 10 and all(r["rearm"] in want and r["verify"] == "passed" for r in lines), lines
PY
done

expect() {
	local want=$1 what=$2; shift 2
	"$@" >"$dir/x.out" 2>"$dir/x.err"
	local rc=$?
	[ $rc -eq "$want" ] || { fail "$what: exit $rc, expected $want"; cat "$dir/x.err"; }
	[ "$want" -eq 0 ] || [ -s "$dir/x.err" ] || fail "$what: no error message"
}
expect 2 "no command" "$LETHE" serve
expect 2 "bad rearm" "$LETHE" serve --rearm sometimes -- "$B/demo/fn_runtime"
expect 8 "missing program" "$LETHE" serve -- /nonexistent/runtime </dev/null
expect 1 "never ready" "$LETHE" serve --timeout 300 -- sleep 5 </dev/null
expect 1 "dies mid-request" sh -c "echo req | \"$LETHE\" serve -- sh -c 'echo ready; read x; exit 3'"
grep -q "no response" "$dir/x.err" || fail "dies mid-request: message"
expect 0 "empty input" "$LETHE" serve -- "$B/demo/fn_runtime" </dev/null
exit $fails
