#!/usr/bin/env bash
# The kernel helper and the rewind stack on a second kernel: fetch Debian's
# current 6.1 kernel image and headers (the ABI resolved from linux-image-amd64),
# build lethe_kp.ko against them and lethe's binaries statically, boot that
# kernel in QEMU (TCG: no usable KVM here) with a busybox initramfs and run
# tests/kpatch/guest.sh inside: the ioctl tests, the tracker, the leak tests
# with the helper loaded and unloaded, bench_kpatch.
# Ends with the guest's "N passed, N failed"; exits non-zero on any failure,
# a guest panic (oops=panic) or a timeout.
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$PWD
B=${OUTPUT:-build}
work=${KPATCH_WORK:-$top/$B/kpatch}
t0=$(date +%s)
mkdir -p "$work/debs" "$work/root" "$work/initramfs"

KVER=$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: linux-image-\([0-9].*-amd64\)$/\1/p' | head -n 1)
[ -n "$KVER" ] || { echo "cannot resolve the linux-image-amd64 ABI (apt-get update?)"; exit 1; }
HDR=$work/root/usr/src/linux-headers-$KVER
OVL=lib/modules/$KVER/kernel/fs/overlayfs/overlay.ko # a module on Debian; the layers tests mount overlays
if [ ! -f "$work/root/boot/vmlinuz-$KVER" ] || [ ! -f "$work/root/boot/config-$KVER" ] ||
	[ ! -f "$work/root/$OVL" ] || [ ! -d "$HDR" ]; then
	if ! ls "$work"/debs/linux-image-"$KVER"_*.deb >/dev/null 2>&1; then
		common=$(apt-cache depends "linux-headers-$KVER" | sed -n 's/.*Depends: \(linux-headers-.*-common\)$/\1/p' | head -n 1)
		kbuild=$(apt-cache depends "linux-headers-$KVER" | sed -n 's/.*Depends: \(linux-kbuild-.*\)$/\1/p' | head -n 1)
		(cd "$work/debs" && apt-get download -q "linux-image-$KVER" "linux-headers-$KVER" "$common" "$kbuild" 2>/dev/null)
	fi
	dpkg-deb --fsys-tarfile "$work"/debs/linux-image-"$KVER"_*.deb |
		tar -x -C "$work/root" "./boot/vmlinuz-$KVER" "./boot/config-$KVER" "./$OVL"
	for d in "$work"/debs/linux-headers-*.deb "$work"/debs/linux-kbuild-*.deb; do dpkg -x "$d" "$work/root"; done
	# the one absolute path in Debian's header tree
	sed -i "s|^include /usr/src/|include $work/root/usr/src/|" "$HDR/Makefile"
fi

# out-of-tree build in a copy, so the source tree stays clean
rm -rf "$work/mod" && cp -r kpatch "$work/mod"
echo "ccflags-y := -I$top/include" >>"$work/mod/Kbuild"
make -s -C "$HDR" M="$work/mod" modules 2>&1 | grep -v "Skipping BTF" || true
[ -f "$work/mod/lethe_kp.ko" ]

# the guest has no libc, libbpf or json-c: everything it runs is static
gcc -O2 -static -Wall -Wextra -Werror -Iinclude -I. -o "$work/kp_test" tests/kpatch/kp_test.c restore/copy_dev.c
make -s OUTPUT="$B" static 2>&1 | grep -vE "statically linked applications|in function" || true
S=$B/static

ir=$work/initramfs
o=$ir/opt/lethe
rm -rf "$ir" && mkdir -p "$ir/bin" "$ir/proc" "$ir/sys" "$ir/dev" "$ir/tmp" "$ir/var/tmp" "$ir/boot" \
	"$o/build/tests/e2e" "$o/build/demo" "$o/build/bench" "$o/tests/e2e" "$o/tests/unit"
cp /bin/busybox "$ir/bin/busybox"
cp "$work/mod/lethe_kp.ko" "$work/root/$OVL" "$ir/"
cp "$work/root/boot/config-$KVER" "$ir/boot/" # the soft-dirty tests' oracle
cp "$S/lethe" "$work/kp_test" "$o/build/"
cp "$S/rewind_leak" "$o/build/tests/e2e/"
cp "$S/unit_runner" "$S/bpf_runner" "$o/build/tests/"
cp "$S/fn_runtime" "$S/leaky" "$o/build/demo/"
cp "$S/bench_kpatch" "$o/build/bench/"
cp tests/e2e/test_rewind_leak_c.sh tests/e2e/test_rewind_leak_gup.sh tests/e2e/test_serve_rearm_softdirty.sh \
	"$o/tests/e2e/"
cp -r tests/unit/data "$o/tests/unit/"
cp tests/kpatch/guest.sh "$ir/guest.sh"
cat >"$ir/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
# what the BPF tracker may want: its fs, tracefs and debugfs (tracepoint ids)
mount -t bpf bpf /sys/fs/bpf
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
# as on any systemd host: the container unit suite reads this process's cgroup
mount -t cgroup2 cgroup2 /sys/fs/cgroup
insmod /overlay.ko || echo "cannot load overlay.ko: the layers tests will fail"
[ -r /sys/kernel/btf/vmlinux ] || echo "no /sys/kernel/btf/vmlinux: the tracker cannot load"
sh /guest.sh
poweroff -f
INIT
chmod +x "$ir/init" "$ir/guest.sh"
(cd "$ir" && find . -print0 | cpio --null -o -H newc --owner=0:0 --quiet | gzip -1 >"$work/initramfs.cpio.gz")
t1=$(date +%s)

# QEMU exits 0 even when the guest panics: the verdict is the serial log's marker
rc=0
timeout "${KPATCH_TIMEOUT:-480}" qemu-system-x86_64 -cpu max -m 1536 -smp 2 -nographic -no-reboot -nodefaults \
	-display none -serial stdio -kernel "$work/root/boot/vmlinuz-$KVER" -initrd "$work/initramfs.cpio.gz" \
	-append "console=ttyS0 panic=-1 oops=panic quiet" >"$work/serial.log" 2>&1 || rc=$?
t2=$(date +%s)
# the guest's own lines, from its first one on (no firmware escapes)
tr -d '\r' <"$work/serial.log" | sed -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' -e 's/\x1bc//g' |
	sed -n '/^kernel [0-9]/,$p' | grep -v "reboot: Power down" || true
echo "kpatch stage: $((t2 - t0)) s (build and pack $((t1 - t0)) s, boot and guest tests $((t2 - t1)) s)"
if ! grep -q "KPATCH-RESULT: PASS" "$work/serial.log"; then
	[ $rc -eq 124 ] && echo "guest timed out after ${KPATCH_TIMEOUT:-480} s"
	grep -q "Kernel panic" "$work/serial.log" && tr -d '\r' <"$work/serial.log" | grep -B 20 -m 1 "Kernel panic"
	# no closing line with a failure in it (panic, hang): the stage still fails
	tr -d '\r' <"$work/serial.log" | grep -qE '^[0-9]+ passed, [1-9][0-9]* failed' || echo "0 passed, 1 failed"
	exit 1
fi
