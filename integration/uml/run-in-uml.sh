#!/bin/bash
# Run a command inside User-Mode Linux booted over the host filesystem, with a real cgroup v2
# hierarchy (cpu, io, memory, pids controllers) mounted at /sys/fs/cgroup. For hosts whose own
# cgroups are hybrid or lack controllers. See README.md next to this script.
#
#   integration/uml/run-in-uml.sh [options] [--] CMD [ARGS...]
#
# Options:
#   --mem SIZE        UML memory (default 1G)
#   --timeout SECS    limit for the whole boot + command + shutdown (default 600)
#   --modules "M..."  kernel modules to load first (veth, bridge, overlay, ...)
#   --tmpfs DIR       also mount a tmpfs on DIR inside UML (repeatable; DIR must exist)
#   --env K=V         set K=V for CMD (repeatable); SANGJA_*, RUST_* and CARGO_* pass through
#   --keep            keep the run directory (init script, console log) for inspection
#
# CMD runs as root in UML, in the current directory (the host's, through hostfs: files it
# writes there land on the host; /tmp, /run and /dev/shm are UML tmpfs). Its stdout and
# stderr are captured in a file on the host and printed here; this script exits with CMD's
# exit code, or non-zero if UML failed, timed out or left no exit code (never a silent pass).
set -euo pipefail

mem=1G
limit=600
modules=""
keep=0
tmpfs_dirs=()
envs=()
while [ $# -gt 0 ]; do
    case "$1" in
        --mem) mem=$2; shift 2 ;;
        --timeout) limit=$2; shift 2 ;;
        --modules) modules=$2; shift 2 ;;
        --tmpfs) tmpfs_dirs+=("$2"); shift 2 ;;
        --env) envs+=("$2"); shift 2 ;;
        --keep) keep=1; shift ;;
        --) shift; break ;;
        -*) echo "run-in-uml: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
if [ $# -eq 0 ]; then
    echo "usage: run-in-uml.sh [options] [--] CMD [ARGS...]" >&2
    exit 2
fi

need_pkg() { # command package
    command -v "$1" >/dev/null 2>&1 && return 0
    echo "run-in-uml: $1 missing, installing $2" >&2
    if [ "$(id -u)" != 0 ]; then
        echo "run-in-uml: need root to apt-get install $2" >&2
        exit 2
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y "$2" >&2 ||
        { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y "$2" >&2; }
    command -v "$1" >/dev/null 2>&1 || { echo "run-in-uml: $1 still missing" >&2; exit 2; }
}
need_pkg linux.uml user-mode-linux
[ -n "$modules" ] && need_pkg modprobe kmod

uml_modules=/usr/lib/uml/modules
kver=$(ls "$uml_modules" 2>/dev/null | head -n1)

# The run directory must be on the host filesystem that UML mounts (/), so results come back.
repo=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$repo/target/uml"
work=$(mktemp -d "$repo/target/uml/run.XXXXXX")
cleanup() { [ "$keep" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT

# Pass selected variables through, then the explicit --env ones (later wins).
while IFS='=' read -r k _; do
    case "$k" in SANGJA_*|RUST_*|CARGO_*) envs=("$k=${!k}" "${envs[@]}") ;; esac
done < <(env)

{
    echo '#!/bin/bash'
    echo '# init for UML, written by run-in-uml.sh'
    echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
    printf 'export HOME=%q TMPDIR=/tmp LANG=C.UTF-8\n' "${HOME:-/root}"
    printf 'work=%q\n' "$work"
    printf 'repo=%q\n' "$repo"
    cat <<'EOF'
finish() { sync; poweroff -f; }
trap finish EXIT
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# A checkout under /tmp or /run (a CI clone, say) would vanish under the tmpfs: park a bind
# of it on /dev (devtmpfs, untouched here) and move it back afterwards.
mkdir -p /dev/.sangja-repo
mount --bind "$repo" /dev/.sangja-repo
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
if [ ! -d "$work" ]; then
    mkdir -p "$repo" && mount --move /dev/.sangja-repo "$repo"
else
    umount /dev/.sangja-repo
fi
mkdir -p /dev/shm /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
hostname uml
ip link set lo up 2>/dev/null || true
EOF
    for d in "${tmpfs_dirs[@]}"; do printf 'mount -t tmpfs tmpfs %q\n' "$d"; done
    if [ -n "$modules" ]; then
        echo 'mkdir -p /run/modroot/lib'
        printf 'ln -s %q /run/modroot/lib/modules\n' "$uml_modules"
        for m in $modules; do
            printf 'modprobe -d /run/modroot %q >>"$work/output" 2>&1 || { echo "run-in-uml: cannot load module %q" >>"$work/output"; echo 3 >"$work/rc"; exit; }\n' "$m" "$m"
        done
    fi
    printf 'cd %q\n' "$PWD"
    echo 'date +%s.%N >"$work/started"'
    printf 'env'
    for e in "${envs[@]}"; do printf ' %q' "$e"; done
    for a in "$@"; do printf ' %q' "$a"; done
    echo ' >>"$work/output" 2>&1 </dev/null'
    echo 'echo $? >"$work/rc"'
    echo 'date +%s.%N >"$work/ended"'
} >"$work/init"
chmod +x "$work/init"
: >"$work/output"

t0=$(date +%s.%N)
set +e
TMPDIR=/dev/shm timeout --kill-after=10 "$limit" \
    linux.uml mem="$mem" root=/dev/root rootfstype=hostfs rootflags=/ rw \
    init="$work/init" con=null con0=fd:0,fd:1 </dev/null >"$work/console.log" 2>&1
uml_rc=$?
set -e
t1=$(date +%s.%N)

cat "$work/output"
if [ ! -s "$work/rc" ]; then
    echo "run-in-uml: no exit code from the command (linux.uml exited $uml_rc$([ $uml_rc = 124 ] && echo ", timed out after ${limit}s")); last console lines:" >&2
    tail -n 20 "$work/console.log" >&2
    keep=1
    echo "run-in-uml: kept $work" >&2
    exit 1
fi
rc=$(cat "$work/rc")
if [ -s "$work/started" ] && [ -s "$work/ended" ]; then
    awk -v a="$t0" -v s="$(cat "$work/started")" -v e="$(cat "$work/ended")" -v b="$t1" -v rc="$rc" \
        'BEGIN { printf "run-in-uml: boot %.2fs, command %.2fs, shutdown %.2fs, exit %d (kernel %s)\n", s-a, e-s, b-e, rc, "'"$kver"'" }' >&2
fi
exit "$rc"
