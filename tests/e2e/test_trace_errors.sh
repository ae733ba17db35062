#!/usr/bin/env bash
# Bad input to lethe trace: one clear line and a distinct exit code each.
set -u
fails=0
expect() {
	local want=$1; shift
	"$@" >/tmp/lethe-err.out 2>&1
	local rc=$?
	if [ $rc -ne "$want" ]; then
		echo "expected exit $want, got $rc: $*"; cat /tmp/lethe-err.out
		fails=$((fails + 1))
	fi
}
expect 2 "$LETHE" trace
expect 2 "$LETHE" trace --pid 1 -- /bin/true
expect 2 "$LETHE" trace --pid notanumber
expect 2 "$LETHE" frobnicate
expect 4 "$LETHE" trace --pid 999999999
expect 8 "$LETHE" trace -- /nonexistent/program
expect 4 "$LETHE" trace --container lethe-no-such-container
expect 2 "$LETHE" trace --container x --runtime docker
expect 2 "$LETHE" trace --container x --pid 1
expect 2 "$LETHE" trace --cgroup relative/path
expect 4 "$LETHE" serve --container lethe-no-such-container -- /bin/echo ready
expect 0 "$LETHE" --help
expect 0 "$LETHE" trace --help
if command -v setpriv >/dev/null; then
	expect 3 setpriv --reuid=65534 --regid=65534 --clear-groups "$LETHE" trace -- /bin/true
fi
grep -q "no such process" <("$LETHE" trace --pid 999999999 2>&1)  || fails=$((fails + 1))
rm -f /tmp/lethe-err.out
exit $fails
