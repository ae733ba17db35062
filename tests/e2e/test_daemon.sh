#!/usr/bin/env bash
# lethe daemon and its clients on the C runtime: 20 requests each rewound with --verify,
# status/report, bad input, clients that vanish, a dead target, SIGTERM and SIGKILL of the daemon.
set -u
: "${B:?set B to the build directory}" "${LETHE:?set LETHE to the lethe binary}"

# the system interpreter: a version-manager shim costs a second per call under load
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
dir=$(mktemp -d /tmp/lethe-daemon.XXXXXX)
sock=$dir/s.sock
fails=0
daemon_pid=
rt_pid=
sleeper=

cleanup() {
	# disowned first, so bash prints no "Killed" notice for them
	disown -a 2>/dev/null
	{
		[ -n "$daemon_pid" ] && kill -KILL "$daemon_pid"
		# the runtime leads its own process group: this also ends the children it forked
		[ -n "$rt_pid" ] && kill -KILL -- "-$rt_pid"
		[ -n "$sleeper" ] && kill -KILL "$sleeper"
	} 2>/dev/null
	for p in $daemon_pid $rt_pid $sleeper; do
		for _ in $(seq 100); do
			st=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f1)
			[ -n "$st" ] && [ "$st" != Z ] || break
			sleep 0.02
		done
	done
	rm -rf "$dir"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# run a command, expect exit status $1; its output is left in $dir/out and $dir/err
expect() {
	local want=$1
	shift
	"$@" >"$dir/out" 2>"$dir/err"
	local rc=$?
	if [ "$rc" -ne "$want" ]; then
		fail "expected exit $want, got $rc: $*"
		sed 's/^/  out: /' "$dir/out"
		sed 's/^/  err: /' "$dir/err"
		return 1
	fi
	return 0
}

# python3 check of the JSON object in $dir/out: $1 is an expression over r
json_check() {
	if ! "$PY" -c 'import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$dir/out" "$1"; then
		fail "json check '$1' on: $(cat "$dir/out")"
	fi
}

# send one raw line (or, with a second argument "noread", send and hang up); print the response lines
raw() {
	"$PY" - "$sock" "$1" "${2:-read}" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
try:
    s.sendall(sys.argv[2].encode())
    s.shutdown(socket.SHUT_WR)
except OSError:
    pass  # the daemon may refuse before reading it all: its answer is still there
if sys.argv[3] == "noread":
    s.close()
    sys.exit(0)
data = b""
while True:
    try:
        chunk = s.recv(65536)
    except ConnectionResetError:
        break
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode())
EOF
}

start_daemon() {
	"$LETHE" daemon --socket "$sock" --foreground >>"$dir/daemon.log" 2>&1 &
	daemon_pid=$!
	# readiness: the daemon answers status (the socket alone may exist before listen)
	for _ in $(seq 200); do
		"$LETHE" status --socket "$sock" >/dev/null 2>&1 && return 0
		kill -0 "$daemon_pid" 2>/dev/null || break
		sleep 0.05
	done
	fail "daemon did not come up"
	cat "$dir/daemon.log"
	exit 1
}

# one request to the runtime; the answer lands in $ans
ask() {
	echo "$1" >&"${RT[1]}"
	ans=
	read -r -t 10 -u "${RT[0]}" ans || fail "runtime did not answer '$1'"
}

# the runtime's answer is "ok N PID", maybe followed by more words: check N and PID
answered() {
	case "$ans" in
	"ok $1 $P" | "ok $1 $P "*) ;;
	*) fail "$2: got '$ans', want 'ok $1 $P'" ;;
	esac
}

proc_state() {
	sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f1
}

tracer_of() {
	awk '/^TracerPid:/ { print $2 }' "/proc/$1/status"
}

# --- no daemon yet: exit 7 with one clear line
expect 7 "$LETHE" status --socket "$sock"
grep -q "cannot reach the lethe daemon at $sock (is \`lethe daemon\` running?)" "$dir/err" ||
	fail "unreachable message: $(cat "$dir/err")"
expect 2 "$LETHE" rewind --socket "$sock"
expect 2 "$LETHE" status --pid 1 --socket "$sock"
expect 2 "$LETHE" report --pid 1 --verify --socket "$sock"

start_daemon
mode=$(stat -c %a "$sock")
[ "$mode" = 600 ] || fail "socket mode $mode, want 600"
# a second daemon on a live socket refuses and leaves it alone
expect 1 "$LETHE" daemon --socket "$sock" --foreground
grep -q "already listening" "$dir/err" || fail "second daemon: $(cat "$dir/err")"
expect 0 "$LETHE" status --socket "$sock"
# only root: a peer that gets past the 0600 socket (CAP_DAC_OVERRIDE) is still refused by uid
if command -v setpriv >/dev/null; then
	expect 3 setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=+dac_override \
		--ambient-caps=+dac_override "$LETHE" status --socket "$sock"
	grep -q "only root may use the lethe daemon" "$dir/err" || fail "non-root peer: $(cat "$dir/err")"
fi

# --- the runtime, in its own process group (setsid does not fork: a coproc is no group leader)
coproc RT { exec setsid "$B/demo/fn_runtime"; }
rt_pid=$RT_PID
read -r -t 10 -u "${RT[0]}" line || fail "runtime did not start"
[ "${line:-}" = ready ] || fail "runtime said '${line:-}', not ready"
P=$rt_pid

expect 0 "$LETHE" checkpoint --pid "$P" --verify --json --socket "$sock" &&
	json_check "r['ok'] is True and r['pid'] == $P and r['twin'] > 0 and r['checkpoint_us'] > 0"
[ "$(tracer_of "$P")" = 0 ] || fail "target is traced between requests"

: >"$dir/rewinds"
for i in $(seq 1 20); do
	ask "canary-daemon-$$-$i"
	answered 1 "request $i"
	expect 0 "$LETHE" rewind --pid "$P" --verify --json --socket "$sock" && cat "$dir/out" >>"$dir/rewinds"
done
# one interpreter for all 20 answers: each passed verification, counted in order
"$PY" - "$dir/rewinds" <<'EOF' || fail "rewind answers: $(cat "$dir/rewinds")"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
assert len(rs) == 20, len(rs)
for i, r in enumerate(rs, 1):
    assert r["ok"] is True and r["rewinds"] == i, r
    assert r["rewind"]["verify"] == "passed" and not r["rewind"]["recycle"], r
EOF
ask "after-rewinds"
answered 1 "after 20 rewinds"
expect 0 "$LETHE" rewind --pid "$P" --socket "$sock"
grep -q "^rewind [0-9]* us: .*verify passed" "$dir/out" || fail "rewind line: $(cat "$dir/out")"

expect 0 "$LETHE" status --json --socket "$sock" &&
	json_check "[(s['pid'], s['rewinds'], s['recycle'], s['state']) for s in r['sandboxes']] == [($P, 21, False, 'ok')] and r['sandboxes'][0]['last_rewind_us'] > 0"
expect 0 "$LETHE" status --socket "$sock"
grep -Eq "^$P +[0-9]+ +21 +[0-9]+ +ok +-$" "$dir/out" || fail "status table: $(cat "$dir/out")"
expect 0 "$LETHE" report --pid "$P" --json --socket "$sock" &&
	json_check "r['pid'] == $P and r['rewinds'] == 21 and r['failed_rewinds'] == 0 and r['checkpoint_us'] > 0 and r['verify_always'] and r['last_rewind']['verify'] == 'passed'"
expect 0 "$LETHE" report --pid "$P" --socket "$sock"
grep -q "rewinds: 21 done, 0 failed" "$dir/out" || fail "report: $(cat "$dir/out")"

# --- bad input
true &
dead=$!
wait "$dead"
expect 4 "$LETHE" rewind --pid "$dead" --socket "$sock"
grep -q "no such process: $dead" "$dir/err" || fail "unknown pid message: $(cat "$dir/err")"
"$LETHE" rewind --pid $$ --socket "$sock" >"$dir/out" 2>"$dir/err" && fail "rewind of a pid not checkpointed succeeded"
grep -q "pid $$ is not checkpointed" "$dir/err" || fail "not checkpointed message: $(cat "$dir/err")"
"$LETHE" report --pid $$ --json --socket "$sock" >"$dir/out" 2>/dev/null && fail "report of a pid not checkpointed succeeded"
json_check "r['ok'] is False and r['errno'] == 2 and r['error'] == 'pid $$ is not checkpointed'"
"$LETHE" checkpoint --pid "$P" --json --socket "$sock" >"$dir/out" 2>"$dir/err" && fail "double checkpoint succeeded"
json_check "r['ok'] is False and r['errno'] == 17"
grep -q "already checkpointed" "$dir/err" || fail "double checkpoint message: $(cat "$dir/err")"

raw $'this is not json\n' >"$dir/out"
json_check "r['ok'] is False and r['errno'] == 22"
raw $'{"op":"frobnicate","pid":1}\n' >"$dir/out"
json_check "r['ok'] is False and r['errno'] == 22 and 'unknown op' in r['error']"
raw $'{"op":"rewind","pid":"x"}\n' >"$dir/out"
json_check "r['ok'] is False and r['errno'] == 22"
# two requests in one write: two answers, in order
n=$(raw $'{"op":"status"}\n{"op":"report","pid":'"$P"$'}\n' | "$PY" -c 'import json, sys
rs = [json.loads(l) for l in sys.stdin]
print(len(rs) if rs[0]["ok"] and "sandboxes" in rs[0] and rs[1]["pid"] == '"$P"' else -1)')
[ "$n" = 2 ] || fail "pipelined requests: $n answers"
# a line past the limit is refused, and the connection closed
head -c 70000 /dev/zero | tr '\0' x >"$dir/big"
raw "$(cat "$dir/big")" >"$dir/out"
json_check "r['ok'] is False and r['errno'] == 90"

# --- clients that vanish: half a request, a request never read, a client killed mid-call
raw '{"op":"rewi' noread
raw $'{"op":"rewind","pid":'"$P"$',"verify":true}\n' noread
"$LETHE" rewind --pid "$P" --verify --socket "$sock" >/dev/null 2>&1 &
{
	kill -KILL $!
	wait $!
} 2>/dev/null
expect 0 "$LETHE" status --json --socket "$sock" && json_check "r['ok'] is True and len(r['sandboxes']) == 1"
ask "after-vanished-clients"
answered 1 "after vanished clients"
expect 0 "$LETHE" rewind --pid "$P" --verify --json --socket "$sock" && json_check "r['rewind']['verify'] == 'passed'"

# --- a target that dies: the rewind fails with the engine's reason and the sandbox is recycled
sleep 1000 &
sleeper=$!
expect 0 "$LETHE" checkpoint --pid "$sleeper" --socket "$sock"
{
	kill -KILL "$sleeper"
	wait "$sleeper"
} 2>/dev/null
expect 6 "$LETHE" rewind --pid "$sleeper" --json --socket "$sock" &&
	json_check "r['ok'] is False and r['errno'] == 131 and r['reason'] == 'target_died' and r['recycle'] is True"
expect 0 "$LETHE" status --json --socket "$sock" &&
	json_check "[s['recycle'] for s in r['sandboxes'] if s['pid'] == $sleeper] == [True]"
expect 0 "$LETHE" report --pid "$sleeper" --json --socket "$sock" &&
	json_check "r['recycle'] is True and r['failed_rewinds'] == 1 and r['last_rewind']['reason'] == 'target_died'"
expect 0 "$LETHE" release --pid "$sleeper" --socket "$sock"
sleeper=
expect 0 "$LETHE" status --json --socket "$sock" && json_check "[s['pid'] for s in r['sandboxes']] == [$P]"

# --- SIGTERM: every sandbox released, the socket removed, the runtime runs on untraced
kill -TERM "$daemon_pid"
wait "$daemon_pid"
rc=$?
daemon_pid=
[ "$rc" = 0 ] || fail "daemon exited $rc on SIGTERM"
[ -e "$sock" ] && fail "socket left behind after SIGTERM"
[ "$(tracer_of "$P")" = 0 ] || fail "target still traced after SIGTERM"
ask "after-sigterm"
answered 1 "after SIGTERM"

# --- SIGKILL: the twin dies with the daemon (EXITKILL); the target must not stay stopped
start_daemon
expect 2 "$LETHE" checkpoint --pid "$P" --rearm nosuch --socket "$sock"
expect 2 "$LETHE" rewind --pid "$P" --rearm retwin --socket "$sock"
expect 0 "$LETHE" checkpoint --pid "$P" --rearm retwin --socket "$sock"
ask "before-sigkill"
answered 2 "checkpointed at 1"
expect 0 "$LETHE" rewind --pid "$P" --verify --json --socket "$sock" &&
	json_check "r['rewind']['rearm'] == 'retwin' and r['rewind']['verify'] == 'passed'"
{
	kill -KILL "$daemon_pid"
	wait "$daemon_pid"
} 2>/dev/null
daemon_pid=
st=$(proc_state "$P")
[ "$st" != t ] && [ "$st" != T ] || fail "target left stopped ($st) after the daemon was killed"
[ "$(tracer_of "$P")" = 0 ] || fail "target still traced after SIGKILL"
ask "after-sigkill"
answered 2 "after SIGKILL"

# a stale socket from the killed daemon does not stop the next one
start_daemon
expect 0 "$LETHE" status --json --socket "$sock" && json_check "r['sandboxes'] == []"

if [ "$fails" -ne 0 ]; then
	echo "--- daemon log"
	cat "$dir/daemon.log"
fi
echo "test_daemon: $fails failure(s)"
exit "$fails"
