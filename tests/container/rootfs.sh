#!/usr/bin/env bash
# Builds, once, the minimal Debian bookworm rootfs with python3 that the
# container tests use as their (shared, read-only) overlay lower layer, in
# $B/container/rootfs (B defaults to build/). It is built into a temp dir and
# renamed into place with a marker file, so an interrupted build is never used;
# reruns are instant. Concurrent callers wait on a lock. Prints the path last.
# Progress and the build time go to stderr, the path to stdout.
#   tests/container/rootfs.sh [--print-path]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-$repo/${OUTPUT:-build}}
cdir=$B/container
rootfs=$cdir/rootfs
# Bump when the content below changes: an old cache is rebuilt.
version="lethe-rootfs 2: bookworm minbase python3, /opt/lethe"
marker=.lethe-rootfs

quiet=0 # --print-path: say nothing when the cache is there
[ "${1:-}" = --print-path ] && quiet=1
say() { echo "rootfs: $*" >&2; }

cached() { [ -f "$rootfs/$marker" ] && [ "$(cat "$rootfs/$marker")" = "$version" ]; }

start=$(date +%s.%N)
if cached; then
	[ $quiet -eq 1 ] || say "cached in $rootfs (0 s)"
	echo "$rootfs"
	exit 0
fi
[ "$(id -u)" -eq 0 ] || { echo "rootfs: must run as root (debootstrap)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "rootfs: debootstrap is not installed (scripts/setup.sh)" >&2; exit 1; }
mkdir -p "$cdir"
exec 9>"$cdir/.rootfs.lock"
flock 9
if cached; then # another caller built it while we waited
	say "built by another caller, cached in $rootfs"
	echo "$rootfs"
	exit 0
fi

mirror=
if [ -r /etc/apt/sources.list.d/debian.sources ]; then
	# first URIs of a stanza that is not the security archive
	mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
fi
if [ -z "$mirror" ] && [ -r /etc/apt/sources.list ]; then
	mirror=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
fi
mirror=${mirror:-http://deb.debian.org/debian}

tmp=$(mktemp -d "$cdir/rootfs.tmp.XXXXXX")
cleanup() {
	# debootstrap mounts proc/sys in the target; never rm -rf through a mount
	local m
	for m in $(awk -v t="$tmp/" 'index($2, t) == 1 {print $2}' /proc/self/mounts | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	if awk -v t="$tmp/" 'index($2, t) == 1 {f = 1} END {exit !f}' /proc/self/mounts; then
		echo "rootfs: mounts left under $tmp, not removing it" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
# a stale, unmarked or outdated rootfs from an earlier run
if [ -e "$rootfs" ]; then
	mv "$rootfs" "$tmp/old"
fi

say "debootstrap bookworm from $mirror (about a minute)"
if ! debootstrap --variant=minbase --include=python3 bookworm "$tmp/rootfs" "$mirror" >"$tmp/debootstrap.log" 2>&1; then
	echo "rootfs: debootstrap failed:" >&2
	tail -n 30 "$tmp/debootstrap.log" >&2
	tail -n 30 "$tmp/rootfs/debootstrap/debootstrap.log" >&2 2>/dev/null || true
	exit 1
fi
r=$tmp/rootfs
[ -x "$r/usr/bin/python3" ] || { echo "rootfs: no python3 in the result" >&2; exit 1; }

# small: no package caches, lists, docs, man pages
rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/cache/apt/*.bin "$r"/var/lib/apt/lists/* \
	"$r"/usr/share/doc/* "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/var/log/*.log \
	"$r"/var/cache/debconf/*-old "$r"/var/lib/dpkg/*-old
# lower-layer files the tests modify, delete and rename from inside the container
mkdir -p "$r/opt/lethe/lowerdir/sub" "$r/srv/state" "$r/data"
echo "lower layer file" >"$r/opt/lethe/lower.txt"
echo "lower victim" >"$r/opt/lethe/victim.txt"
echo "lower, renamed by requests" >"$r/opt/lethe/rename-me.txt"
echo "in a lower dir" >"$r/opt/lethe/lowerdir/sub/f.txt"
chmod 0644 "$r"/opt/lethe/*.txt
echo "$version" >"$r/$marker"
sync -f "$r" 2>/dev/null || true
mv -T "$r" "$rootfs"

end=$(date +%s.%N)
say "built in $(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.1f", b - a}') s, $(du -sh "$rootfs" | cut -f1) in $rootfs"
echo "$rootfs"
