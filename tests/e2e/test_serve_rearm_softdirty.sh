#!/usr/bin/env bash
# serve --rearm softdirty against the kernel's own config: where soft-dirty is
# not built in (this host, 6.18) it is refused with exit 5 (unsupported) and a
# message naming it, before any request; where it is (Debian 6.1, run by
# tests/kpatch/ in QEMU) every rewind uses it, verified, and the report names
# the copy path (/dev/lethe when the kernel helper is loaded).
# Plain POSIX sh, so the busybox guest of make kernel-test runs it too.
set -u
cd "$(dirname "$0")/../.."
dir=$(mktemp -d /tmp/lethe-softdirty.XXXXXX)
trap 'rm -rf "$dir"' EXIT
fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# the oracle: the running kernel's config (absent: judged by the outcome alone)
cfg=unknown
{ zcat /proc/config.gz || cat "/boot/config-$(uname -r)"; } 2>/dev/null >"$dir/config"
if grep -q '^CONFIG_MEM_SOFT_DIRTY=y' "$dir/config"; then
	cfg=y
elif grep -q '^CONFIG_' "$dir/config"; then
	cfg=n
fi
copy=process_vm
[ -e /dev/lethe ] && copy=kpatch

seq 10 | "$LETHE" serve --verify --rearm softdirty --report "$dir/r.jsonl" -- "$B/demo/fn_runtime" \
	>"$dir/out" 2>"$dir/err"
rc=$?
echo "kernel: $(uname -r), CONFIG_MEM_SOFT_DIRTY $cfg, serve --rearm softdirty exit $rc"
if [ "$cfg" = n ] || { [ "$cfg" = unknown ] && [ $rc -ne 0 ]; }; then
	[ $rc -eq 5 ] || fail "exit $rc, expected 5 (unsupported)"
	grep -q "soft-dirty" "$dir/err" || fail "the refusal does not name soft-dirty: $(cat "$dir/err")"
	[ ! -s "$dir/out" ] || fail "requests were served: $(head -3 "$dir/out")"
	[ ! -s "$dir/r.jsonl" ] || fail "rewinds were reported"
else
	[ $rc -eq 0 ] || { fail "exit $rc"; cat "$dir/err"; }
	[ "$(wc -l <"$dir/out")" -eq 10 ] || fail "$(wc -l <"$dir/out") answers for 10 requests"
	[ "$(cut -d' ' -f1,2 "$dir/out" | sort -u)" = "ok 1" ] || fail "answers not rewound: $(sort -u "$dir/out" | head -3)"
	[ "$(wc -l <"$dir/r.jsonl")" -eq 10 ] || fail "$(wc -l <"$dir/r.jsonl") report lines"
	# every rewind: soft-dirty re-arm (a re-twin now and then), the expected copy, verified
	n=$(grep -c "\"rearm\":\"softdirty[+a-z]*\".*\"copy\":\"$copy\".*\"verify\":\"passed\"" "$dir/r.jsonl")
	[ "$n" -eq 10 ] || { fail "$n of 10 rewinds used softdirty, copy $copy, verified"; head -2 "$dir/r.jsonl"; }
fi

# AUTO never refuses: whatever the kernel has (uffd-wp, soft-dirty or a re-twin)
seq 3 | "$LETHE" serve --verify --report "$dir/auto.jsonl" -- "$B/demo/fn_runtime" >"$dir/auto.out" 2>"$dir/err"
rc=$?
[ $rc -eq 0 ] || { fail "auto: exit $rc"; cat "$dir/err"; }
[ "$(cut -d' ' -f1,2 "$dir/auto.out" | sort -u)" = "ok 1" ] || fail "auto: answers not rewound"
if [ "$cfg" = n ]; then
	! grep -q '"rearm":"softdirty' "$dir/auto.jsonl" || fail "auto picked soft-dirty on a kernel without it"
fi
echo "auto: rearm $(sed -n 's/.*"rearm":"\([^"]*\)".*/\1/p' "$dir/auto.jsonl" | sort -u | tr '\n' ' ')"
exit $fails
