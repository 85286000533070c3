#!/bin/bash
# The client suites (containerd, podman, docker), each with sangja and with runc as the runtime:
# first on this host (no limits: its cgroup2 has no controllers), then the limit tests inside
# User-Mode Linux (a cgroup v2 kernel) unless the host has cgroup v2 controllers itself.
#
#   integration/clients/run.sh [--host-only | --uml-only] [--runtimes "sangja runc"] [--clients "containerd podman docker"]
#
# Prints one summary line per client and runtime and exits non-zero if any failed.
# Captured runtime command lines: target/clients-logs/<client>-<runtime>-<where>.argv
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
mode=all runtimes="sangja runc" clients="containerd podman docker"
while [ $# -gt 0 ]; do
    case "$1" in
        --host-only) mode=host; shift ;;
        --uml-only) mode=uml; shift ;;
        --limits-inner) mode=inner; shift ;;
        --runtimes) runtimes=$2; shift 2 ;;
        --clients) clients=$2; shift 2 ;;
        *) echo "usage: $0 [--host-only|--uml-only] [--runtimes R] [--clients C]" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "test-clients: needs root (private daemons, mounts, cgroups)" >&2; exit 1; }
if [ -z "${SANGJA:-}" ]; then
    for c in "$repo/target/sangja" "$repo/target/clients/debug/sangja"; do [ -x "$c" ] && { SANGJA=$c; break; }; done
fi
export SANGJA=$(readlink -f "${SANGJA:?no sangja binary: make build}")
export CLIENTS_LOGDIR=${CLIENTS_LOGDIR:-$repo/target/clients-logs}
mkdir -p "$CLIENTS_LOGDIR"

install_missing() {
    local need=() c p
    for c in containerd:containerd ctr:containerd podman:podman conmon:conmon dockerd:docker.io \
             iptables:iptables script:bsdutils unshare:util-linux python3:python3; do
        command -v "${c%%:*}" >/dev/null || need+=("${c#*:}")
    done
    [ ${#need[@]} = 0 ] && return
    echo "test-clients: installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >/dev/null ||
        { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >/dev/null; }
}

fail=0
results=()
suite() { # WHERE-label
    local rt c out rc
    for rt in $runtimes; do
        for c in $clients; do
            RUNTIME=$rt "$here/$c.sh" 2>&1 | tee "$CLIENTS_LOGDIR/$c-$rt-$1.out"
            rc=${PIPESTATUS[0]}
            results+=("$(grep -E "^$c: [0-9]+ passed" "$CLIENTS_LOGDIR/$c-$rt-$1.out" | tail -n1 || echo "$c: no summary (exit $rc)")")
            [ "$rc" = 0 ] || fail=1
        done
    done
}

case $mode in
    inner)  # inside UML: only the limit tests
        export ONLY=limits WHERE=uml
        suite uml
        exit $fail ;;
esac
install_missing
t0=$SECONDS
cg2=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
native_limits=0
grep -qw memory "$cg2/cgroup.controllers" 2>/dev/null && native_limits=1
if [ "$mode" != uml ]; then
    WHERE=host suite host
fi
if [ "$mode" != host ] && [ "$native_limits" = 0 ]; then
    echo "=== limit tests inside User-Mode Linux (this host's cgroup2 at $cg2 has no controllers)"
    out=$("$repo/integration/uml/run-in-uml.sh" --mem 2G --timeout 540 --tmpfs /var/lib \
        --env SANGJA="$SANGJA" --env CLIENTS_LOGDIR="$CLIENTS_LOGDIR" \
        -- "$here/run.sh" --limits-inner --runtimes "$runtimes" --clients "$clients" 2>&1)
    rc=$?
    echo "$out" | grep -vE "^(containerd|podman|docker): [0-9]+ passed"
    while read -r l; do results+=("$l"); done < <(echo "$out" | grep -E "^(containerd|podman|docker): [0-9]+ passed")
    [ "$rc" = 0 ] || { fail=1; echo "test-clients: UML pass exited $rc"; }
fi
echo "=== test-clients summary ($((SECONDS - t0)) s; runtime command lines in $CLIENTS_LOGDIR/*.argv)"
printf '%s\n' "${results[@]}"
exit $fail
