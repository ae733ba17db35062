# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Container harness for the e2e tests, sourced (bash). Needs root, runc and the
# cached rootfs of tests/container/rootfs.sh (built on first use).
#
#   ctr_setup NAME [--data DIR] -- ARGS...
#       overlay (lower = the shared cached rootfs, never written; upper, work
#       and merged under a per-container temp dir), an OCI bundle from
#       `runc spec` with process.args = ARGS, a tmpfs at /tmp, host dir DIR
#       (default: a fresh one) bind-mounted rw at /data, no network namespace,
#       cgroupsPath lethe-test/ID. Before mounting, the upper dir is seeded with
#       the function code (/opt/fn/fn_container.py) and /srv/state/{config,log,
#       victim,rename-me}. Sets CTR_NAME CTR_ID CTR_DIR CTR_UPPER CTR_MERGED
#       CTR_BUNDLE CTR_DATA CTR_FN (/opt/fn/fn_container.py, container view).
#   ctr_start_detached NAME   runc run -d with stdin/stdout on FIFOs; opens
#       CTR_IN (fd to write requests) and CTR_OUT (fd to read answers).
#   ctr_pid NAME              the init's host pid (runc state)
#   ctr_cgroup_dir NAME       the init's cgroup dir (pids v1, else unified)
#   ctr_teardown NAME         kill, delete, umount, remove cgroups and temp dirs;
#       safe to call twice and from an EXIT trap (ctr_teardown_all). ctr_setup
#       first removes what test shells killed before their trap ran left
#       (ctr_reap_stale).
#   ctr_assert_clean NAME     fails if a container, mount or cgroup of NAME is left.
# Each container is named by NAME; its state lives in _CTR_* associative arrays.

CTR_REPO=${CTR_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
CTR_RUNC=${CTR_RUNC:-runc}
# the system interpreter: a version-manager shim costs half a second per call
PY=${PY:-/usr/bin/python3}
[ -x "$PY" ] || PY=python3
declare -gA _CTR_DIR=() _CTR_ID=()

ctr_log() { echo "ctr: $*" >&2; }

# The cached rootfs, built on first use.
ctr_rootfs() {
	B=${B:-$CTR_REPO/${OUTPUT:-build}} bash "$CTR_REPO/tests/container/rootfs.sh" --print-path
}

# Name -> variables of the last ctr_setup of that name.
_ctr_vars() {
	local name=$1
	CTR_NAME=$name
	CTR_DIR=${_CTR_DIR[$name]}
	CTR_ID=${_CTR_ID[$name]}
	CTR_UPPER=$CTR_DIR/upper
	CTR_MERGED=$CTR_DIR/merged
	CTR_BUNDLE=$CTR_DIR/bundle
	CTR_FN=/opt/fn/fn_container.py
}

# Containers, mounts and cgroups left by test shells that died without their
# EXIT trap (SIGKILL): their owner pid (recorded by ctr_setup) is gone.
ctr_reap_stale() {
	local - d owner id
	set +e
	for d in /tmp/lethe-ctr-*.*; do
		[ -f "$d/owner" ] || continue
		owner=$(cat "$d/owner")
		[ -n "$owner" ] && [ ! -e "/proc/$owner" ] || continue
		id=$(cat "$d/id" 2>/dev/null)
		ctr_log "removing stale $d ($id, owner $owner gone)"
		if [ -n "$id" ]; then
			"$CTR_RUNC" delete -f "$id" >/dev/null 2>&1
			find /sys/fs/cgroup -mindepth 2 -maxdepth 6 -type d -path "*/lethe-test/$id" -exec rmdir {} + 2>/dev/null
		fi
		mountpoint -q "$d/merged" && umount -l "$d/merged"
		awk -v t="$d/" 'index($2, t) == 1 {f = 1} END {exit !f}' /proc/self/mounts || rm -rf "$d"
	done
}

ctr_setup() {
	local name=$1 data= lower dir
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--data) data=$2; shift 2 ;;
		--) shift; break ;;
		*) ctr_log "ctr_setup: unknown option $1"; return 2 ;;
		esac
	done
	[ $# -gt 0 ] || { ctr_log "ctr_setup: no process args"; return 2; }
	command -v "$CTR_RUNC" >/dev/null || { ctr_log "$CTR_RUNC is not installed (scripts/setup.sh)"; return 1; }
	ctr_reap_stale
	lower=$(ctr_rootfs) || return 1
	dir=$(mktemp -d "/tmp/lethe-ctr-$name.XXXXXX") || return 1
	_CTR_DIR[$name]=$dir
	_CTR_ID[$name]=lethe-$name-$$
	_ctr_vars "$name"
	echo $$ >"$dir/owner"
	echo "$CTR_ID" >"$dir/id"
	mkdir -p "$dir/upper" "$dir/work" "$dir/merged" "$dir/bundle"
	if [ -z "$data" ]; then
		data=$dir/data
		mkdir -p "$data"
	fi
	CTR_DATA=$data
	echo "$data" >"$dir/data.path"

	# the function and its state are existing upper files; the lower stays pristine
	local u=$dir/upper
	mkdir -p "$u/opt/fn" "$u/srv/state"
	cp "$CTR_REPO/tests/demo/fn_container.py" "$u/opt/fn/"
	echo "setting=1" >"$u/srv/state/config"
	: >"$u/srv/state/log"
	echo "upper victim" >"$u/srv/state/victim"
	echo "upper, renamed by requests" >"$u/srv/state/rename-me"
	chmod 0644 "$u/srv/state/"* "$u/opt/fn/fn_container.py"

	mount -t overlay overlay -o "lowerdir=$lower,upperdir=$dir/upper,workdir=$dir/work" "$dir/merged" ||
		{ ctr_log "overlay mount failed"; return 1; }
	(cd "$dir/bundle" && "$CTR_RUNC" spec) || return 1
	"$PY" - "$dir/bundle/config.json" "$dir/merged" "lethe-test/$CTR_ID" "$data" "$@" <<'EOF' || return 1
import json, sys
path, merged, cgpath, data, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
c = json.load(open(path))
c["root"] = {"path": merged, "readonly": False}
p = c["process"]
p["terminal"] = False
p["args"] = args
p["cwd"] = "/"
lx = c["linux"]
lx["namespaces"] = [n for n in lx["namespaces"] if n["type"] != "network"]
lx["cgroupsPath"] = cgpath
c["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                    "options": ["nosuid", "nodev", "mode=1777", "size=65536k"]})
c["mounts"].append({"destination": "/data", "type": "bind", "source": data,
                    "options": ["rbind", "rw"]})
json.dump(c, open(path, "w"), indent=1)
EOF
}

ctr_pid() {
	_ctr_vars "$1"
	"$CTR_RUNC" state "$CTR_ID" 2>/dev/null |
		"$PY" -c 'import json,sys; s=json.load(sys.stdin); print(s["pid"] if s.get("status") in ("running","paused") else "")'
}

# Host cgroup dirs of the container (every hierarchy), found by its cgroupsPath.
ctr_cgroup_dirs() {
	_ctr_vars "$1"
	find /sys/fs/cgroup -mindepth 2 -maxdepth 6 -type d -path "*/lethe-test/$CTR_ID" 2>/dev/null
}

# The one cgroup dir whose cgroup.procs lists the container's tasks.
ctr_cgroup_dir() {
	local d
	for d in $(ctr_cgroup_dirs "$1"); do
		case $d in /sys/fs/cgroup/pids/*) echo "$d"; return 0 ;; esac
	done
	for d in $(ctr_cgroup_dirs "$1"); do
		case $d in /sys/fs/cgroup/unified/*) echo "$d"; return 0 ;; esac
	done
	ctr_cgroup_dirs "$1" | head -n 1
}

# runc run -d with the container's stdin on FIFO in and stdout on FIFO out; the
# FIFOs are opened read-write here so neither side blocks on open or gets EOF.
ctr_start_detached() {
	_ctr_vars "$1"
	mkfifo "$CTR_DIR/in" "$CTR_DIR/out"
	exec {CTR_IN}<>"$CTR_DIR/in"
	exec {CTR_OUT}<>"$CTR_DIR/out"
	"$CTR_RUNC" run -d --pid-file "$CTR_DIR/pid" --bundle "$CTR_BUNDLE" "$CTR_ID" \
		<"$CTR_DIR/in" >"$CTR_DIR/out" 2>"$CTR_DIR/stderr" ||
		{ ctr_log "runc run -d failed: $(cat "$CTR_DIR/stderr")"; return 1; }
}

ctr_teardown() {
	local - name=$1 d pid i m
	set +e
	[ -n "${_CTR_DIR[$name]:-}" ] || return 0
	_ctr_vars "$name"
	if [ -n "${CTR_IN:-}" ] && [ -e "/proc/$$/fd/$CTR_IN" ]; then exec {CTR_IN}>&-; fi
	if [ -n "${CTR_OUT:-}" ] && [ -e "/proc/$$/fd/$CTR_OUT" ]; then exec {CTR_OUT}>&-; fi
	CTR_IN= CTR_OUT=
	"$CTR_RUNC" kill "$CTR_ID" KILL >/dev/null 2>&1
	"$CTR_RUNC" delete -f "$CTR_ID" >/dev/null 2>&1
	# anything left in its cgroups (a stopped twin, a background writer)
	for i in $(seq 50); do
		local left=0
		for d in $(ctr_cgroup_dirs "$name"); do
			for pid in $(cat "$d/cgroup.procs" 2>/dev/null); do
				kill -KILL "$pid" 2>/dev/null
				left=1
			done
		done
		[ $left -eq 0 ] && break
		sleep 0.1
	done
	for d in $(ctr_cgroup_dirs "$name"); do
		rmdir "$d" 2>/dev/null || ctr_log "cannot remove cgroup $d"
	done
	# the lethe-test parents, unless another container still uses them
	find /sys/fs/cgroup -mindepth 2 -maxdepth 5 -type d -name lethe-test -exec rmdir {} + 2>/dev/null
	m=$CTR_DIR/merged
	# more than one mount may sit there (a bind runc's mount namespace propagated back)
	for i in $(seq 20); do
		mountpoint -q "$m" || break
		umount "$m" 2>/dev/null || sleep 0.1
	done
	if mountpoint -q "$m"; then
		ctr_log "$m busy, lazy unmount"
		umount -l "$m"
	fi
	if awk -v t="$CTR_DIR/" 'index($2, t) == 1 {f = 1} END {exit !f}' /proc/self/mounts; then
		ctr_log "mounts left under $CTR_DIR, not removing it"
	else
		rm -rf "$CTR_DIR"
	fi
	unset "_CTR_DIR[$name]" "_CTR_ID[$name]"
}

ctr_teardown_all() {
	local - n
	set +e
	for n in "${!_CTR_DIR[@]}"; do
		ctr_teardown "$n"
	done
}

# No container, mount or cgroup of this shell's containers is left (for tests).
ctr_assert_clean() {
	local id=lethe-$1-$$ bad=0
	if "$CTR_RUNC" list -q 2>/dev/null | grep -qx "$id"; then ctr_log "container $id left"; bad=1; fi
	if grep -q "/tmp/lethe-ctr-$1\." /proc/self/mounts; then ctr_log "mount of $1 left"; bad=1; fi
	if find /sys/fs/cgroup -mindepth 2 -maxdepth 6 -type d -path "*/lethe-test/$id" 2>/dev/null | grep -q .; then
		ctr_log "cgroup of $id left"
		bad=1
	fi
	return $bad
}

# EXIT trap of a test that runs a driver in its own session (setsid ... &;
# CTR_DRV=$!): kill the driver's whole group, then tear every container down.
CTR_DRV=
ctr_cleanup_with_driver() {
	set +e
	[ -n "$CTR_DRV" ] && kill -KILL -- "-$CTR_DRV" 2>/dev/null
	ctr_teardown_all
}
