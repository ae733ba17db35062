#!/usr/bin/env bash
# The kernel helper on a second kernel: fetch Debian's current 6.1 kernel image
# and headers (the ABI resolved from linux-image-amd64), build lethe_kp.ko
# against them, boot that kernel in QEMU (TCG: no usable KVM here) with a
# busybox initramfs, load the module and run the ioctl tests inside.
# Ends with the guest's "N passed, N failed"; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$PWD
work=${KPATCH_WORK:-$top/build/kpatch}
mkdir -p "$work/debs" "$work/root" "$work/initramfs"

KVER=$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: linux-image-\([0-9].*-amd64\)$/\1/p' | head -n 1)
[ -n "$KVER" ] || { echo "cannot resolve the linux-image-amd64 ABI (apt-get update?)"; exit 1; }
HDR=$work/root/usr/src/linux-headers-$KVER
if [ ! -f "$work/root/boot/vmlinuz-$KVER" ] || [ ! -d "$HDR" ]; then
	common=$(apt-cache depends "linux-headers-$KVER" | sed -n 's/.*Depends: \(linux-headers-.*-common\)$/\1/p' | head -n 1)
	kbuild=$(apt-cache depends "linux-headers-$KVER" | sed -n 's/.*Depends: \(linux-kbuild-.*\)$/\1/p' | head -n 1)
	(cd "$work/debs" && apt-get download -q "linux-image-$KVER" "linux-headers-$KVER" "$common" "$kbuild" 2>/dev/null)
	dpkg-deb --fsys-tarfile "$work"/debs/linux-image-"$KVER"_*.deb | tar -x -C "$work/root" "./boot/vmlinuz-$KVER"
	for d in "$work"/debs/linux-headers-*.deb "$work"/debs/linux-kbuild-*.deb; do dpkg -x "$d" "$work/root"; done
	# the one absolute path in Debian's header tree
	sed -i "s|^include /usr/src/|include $work/root/usr/src/|" "$HDR/Makefile"
fi

# out-of-tree build in a copy, so the source tree stays clean
rm -rf "$work/mod" && cp -r kpatch "$work/mod"
echo "ccflags-y := -I$top/include" >>"$work/mod/Kbuild"
make -s -C "$HDR" M="$work/mod" modules 2>&1 | grep -v "Skipping BTF" || true
[ -f "$work/mod/lethe_kp.ko" ]

gcc -O2 -static -Wall -Wextra -Werror -Iinclude -I. -o "$work/kp_test" tests/kpatch/kp_test.c restore/copy_dev.c

ir=$work/initramfs
rm -rf "$ir" && mkdir -p "$ir/bin" "$ir/proc" "$ir/sys" "$ir/dev"
cp /bin/busybox "$ir/bin/busybox"
cp "$work/mod/lethe_kp.ko" "$work/kp_test" "$ir/"
cat >"$ir/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo "kernel $(uname -r)"
if insmod /lethe_kp.ko; then
	/kp_test
	rmmod lethe_kp || echo "KPATCH-RESULT: FAIL (rmmod)"
else
	echo "KPATCH-RESULT: FAIL (insmod)"
fi
poweroff -f
INIT
chmod +x "$ir/init"
(cd "$ir" && find . -print0 | cpio --null -o -H newc --owner=0:0 --quiet | gzip -1 >"$work/initramfs.cpio.gz")

# QEMU exits 0 even when the guest panics: the verdict is the serial log's marker
timeout 300 qemu-system-x86_64 -cpu max -m 1024 -smp 2 -nographic -no-reboot -nodefaults -display none \
	-serial stdio -kernel "$work/root/boot/vmlinuz-$KVER" -initrd "$work/initramfs.cpio.gz" \
	-append "console=ttyS0 panic=-1 oops=panic quiet" >"$work/serial.log" 2>&1 || true
grep -E "^kernel |FAIL|passed, [0-9]+ failed|KPATCH-RESULT" "$work/serial.log" | tr -d '\r'
grep -q "KPATCH-RESULT: PASS" "$work/serial.log"
