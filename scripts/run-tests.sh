#!/usr/bin/env bash
# Runs every test stage on an already built tree and sums their results into
# one closing line, "N passed, N failed"; exits non-zero on any failure.
set -u
cd "$(dirname "$0")/.."
B=${OUTPUT:-build}
pass=0
fail=0
log=$(mktemp -d /tmp/lethe-tests.XXXXXX)

# CUnit's summary row: "tests  Total Ran Passed Failed Inactive"
run_cunit() {
	local name=$1; shift
	echo "== $name"
	"$@" >"$log/$name.out" 2>&1
	local rc=$?
	local row
	row=$(awk '$1 == "tests" && NF == 6 { print $4, $5 }' "$log/$name.out" | tail -n 1)
	if [ -z "$row" ]; then
		cat "$log/$name.out"
		echo "$name: no CUnit summary (exit $rc)"
		fail=$((fail + 1))
		return
	fi
	set -- $row
	grep -E "FAILED|^ +[0-9]+\. " "$log/$name.out" || true
	echo "$name: $1 passed, $2 failed"
	pass=$((pass + $1))
	fail=$((fail + $2))
	if [ "$rc" -ne 0 ] && [ "$2" -eq 0 ]; then
		echo "$name: exited $rc"
		fail=$((fail + 1))
	fi
}

# Runners that end with "N passed, N failed[, N skipped]"
run_counted() {
	local name=$1; shift
	echo "== $name"
	"$@" 2>&1 | tee "$log/$name.out"
	local rc=${PIPESTATUS[0]}
	local line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log/$name.out" | tail -n 1)
	if [ -z "$line" ]; then
		echo "$name: no summary line (exit $rc)"
		fail=$((fail + 1))
		return
	fi
	local p f
	p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
	f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
	pass=$((pass + p))
	fail=$((fail + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "$name: exited $rc"
		fail=$((fail + 1))
	fi
}

if [ "$(id -u)" -ne 0 ]; then
	echo "the test suite needs root (BPF, ptrace)" >&2
	exit 2
fi

run_cunit unit timeout 600 "$B/tests/unit_runner"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 run_cunit unit-asan timeout 900 "$B/tests/unit_runner_san"
run_counted bpf timeout 600 "$B/tests/bpf_runner"
run_counted e2e ./tests/e2e/run.sh
run_counted kpatch timeout 900 ./tests/kpatch/run.sh

rm -rf "$log"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
