#!/usr/bin/env bash
# End-to-end tests: each tests/e2e/test_*.sh runs real processes under the
# built lethe and exits 0 on success. Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
export LETHE=${LETHE:-$PWD/${OUTPUT:-build}/lethe}
export B=$PWD/${OUTPUT:-build}
pass=0
fail=0
for t in tests/e2e/test_*.sh; do
	name=$(basename "$t" .sh)
	out=$(timeout 300 bash "$t" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then
		echo "#$name: OK"
		pass=$((pass + 1))
	else
		echo "$out" | sed 's/^/  /'
		echo "#$name: FAIL (exit $rc)"
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
