#!/bin/sh
# The test list of the Debian 6.1 QEMU guest (tests/kpatch/run.sh packs this as
# /guest.sh, lethe's static binaries under /opt/lethe): the module's ioctl
# tests, the tracker, then the rewind engine's leak tests with the kernel
# helper loaded (copy "kpatch") and unloaded (copy "process_vm"), re-armed by
# soft-dirty (6.1 has no uffd-wp async). One line per test, then
# "N passed, N failed" and the KPATCH-RESULT marker run.sh looks for.
top=/opt/lethe
B=$top/build
LETHE=$B/lethe
export B LETHE PATH=/bin:/sbin
pass=0
fail=0

# run NAME CMD...: counts the program's closing "N passed, N failed" (or
# CUnit's tests row, or else its exit status as one test); a non-zero exit
# with nothing failed counts one failure. Prints its output when it failed.
run() {
	name=$1
	shift
	t=$(date +%s)
	# a hung test fails alone instead of eating the stage's timeout
	timeout 240 "$@" >"/tmp/$name.out" 2>&1
	rc=$?
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "/tmp/$name.out" | tail -n 1)
	row=$(awk '$1 == "tests" && NF == 6 { print $4, $5 }' "/tmp/$name.out" | tail -n 1)
	if [ -n "$line" ]; then
		p=${line%% passed*}
		f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
	elif [ -n "$row" ]; then
		p=${row% *}
		f=${row#* }
	elif [ $rc -eq 0 ]; then
		p=1 f=0
	else
		p=0 f=1
	fi
	[ $rc -ne 0 ] && [ "$f" -eq 0 ] && f=1
	pass=$((pass + p))
	fail=$((fail + f))
	# what ran: the first rewind's re-arm and copy path, the tracker flavour
	grep -E '^(rewind|auto|kernel|tracker):' "/tmp/$name.out" | head -n 2 | sed 's/^/  /'
	if [ "$f" -ne 0 ]; then
		# the failures first (CUnit lists them far from its tail), then the end
		grep -E -A 2 'FAIL' "/tmp/$name.out" | head -n 60 | sed 's/^/  /'
		tail -n 20 "/tmp/$name.out" | sed 's/^/  /'
	fi
	echo "#$name: $p passed, $f failed (exit $rc, $(($(date +%s) - t)) s)"
}

# expect_exit CODE CMD...: the command must exit with CODE and say why on stderr.
expect_exit() {
	want=$1
	shift
	"$@" </dev/null >/tmp/x.out 2>/tmp/x.err
	rc=$?
	cat /tmp/x.err
	[ $rc -eq "$want" ] && [ -s /tmp/x.err ]
}

# The tracker on this kernel: lethe trace of leaky names its dirty pages, file and child.
trace_leaky() {
	d=$(mktemp -d /tmp/trace.XXXXXX)
	"$LETHE" trace -- "$B/demo/leaky" "$d" >"$d/table" || return 1
	echo "tracker: $(grep -oE 'tracker (tp_btf|raw_tp)' "$d/table")"
	grep -qE "tracker (tp_btf|raw_tp)" "$d/table" &&
		grep -q "DIRTY PAGES" "$d/table" &&
		grep -q "lethe-demo-secret.txt .*create" "$d/table" &&
		grep -qE "process +leaky +no" "$d/table"
}

# "guest.sh FUNCTION ARGS...": run one of the helpers above (under timeout)
if [ $# -gt 0 ]; then
	"$@"
	exit
fi

echo "kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) cpus, $(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo) MiB"
leak=$top/tests/e2e/test_rewind_leak_c.sh
leak_gup=$top/tests/e2e/test_rewind_leak_gup.sh
serve_sd=$top/tests/e2e/test_serve_rearm_softdirty.sh
if insmod /lethe_kp.ko; then
	run kp_ioctl "$B/kp_test"
	run tracker_bpf "$B/tests/bpf_runner"
	run tracker_trace sh /guest.sh trace_leaky
	# all suites but files: tmpfs (the guest's only fs) has user xattrs only since 6.6
	run unit sh -c "cd $top && $B/tests/unit_runner --skip files"
	# AUTO on 6.1: no uffd-wp async, soft-dirty present
	run leak_kpatch env LETHE_LEAK_ARGS="--expect-copy kpatch --expect-rearm softdirty" sh "$leak"
	run leak_gup_kpatch env LETHE_LEAK_ARGS="--expect-copy kpatch --expect-rearm softdirty" sh "$leak_gup"
	run serve_softdirty_kpatch sh "$serve_sd"
	run serve_uffd_refused sh /guest.sh expect_exit 5 "$LETHE" serve --rearm uffd -- "$B/demo/fn_runtime"
	run bench_kpatch "$B/bench/bench_kpatch" -n 100
	cat /tmp/bench_kpatch.out
	rmmod lethe_kp || { echo "#rmmod: FAIL"; fail=$((fail + 1)); }
else
	echo "#insmod: FAIL"
	fail=$((fail + 1))
fi
[ ! -e /dev/lethe ] || { echo "#unload: /dev/lethe still exists"; fail=$((fail + 1)); }
run leak_process_vm env LETHE_LEAK_ARGS="--expect-copy process_vm --expect-rearm softdirty" sh "$leak"
run serve_softdirty_process_vm sh "$serve_sd"
run leak_retwin env LETHE_LEAK_ARGS="--rearm retwin --expect-copy process_vm --expect-rearm retwin" \
	LETHE_LEAK_ROUNDS=20 sh "$leak"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ] && echo "KPATCH-RESULT: PASS" || echo "KPATCH-RESULT: FAIL"
