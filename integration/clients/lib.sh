# Shared helpers for the client suites (sourced). Bash: the clients are CLIs, and driving them
# from the shell shows exactly the command lines a user would type.
#
# Environment: RUNTIME=sangja|runc (default sangja), SANGJA=path of the sangja binary,
# CLIENTS_LOGDIR=where the captured runtime command lines go (default target/clients-logs).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
RUNTIME=${RUNTIME:-sangja}
CLIENTS_LOGDIR=${CLIENTS_LOGDIR:-$repo/target/clients-logs}
if [ -z "${SANGJA:-}" ]; then
    for c in "$repo/target/clients/debug/sangja" "$repo/target/sangja"; do
        [ -x "$c" ] && { SANGJA=$c; break; }
    done
fi
case "$RUNTIME" in
    sangja) REAL_RUNTIME=$(readlink -f "${SANGJA:?no sangja binary: cargo build -p sangja --target-dir target/clients}") ;;
    runc) REAL_RUNTIME=$(command -v runc) ;;
    *) echo "RUNTIME must be sangja or runc" >&2; exit 2 ;;
esac
if grep -qw memory "$(awk '$9=="cgroup2"{print $5; exit}' /proc/self/mountinfo)/cgroup.controllers" 2>/dev/null; then
    HAVE_LIMITS=1; WHERE=${WHERE:-cgroup2}
else
    HAVE_LIMITS=0; WHERE=${WHERE:-host}
fi
# ONLY=limits: run only the tests that need cgroup v2 controllers (the UML pass).
ONLY=${ONLY:-}

npass=0 nfail=0 nskip=0
failed_names=()
ok() { npass=$((npass + 1)); echo "  ok   $1"; }
bad() { nfail=$((nfail + 1)); failed_names+=("$1"); echo "  FAIL $1: ${2:-}"; }
skip() { nskip=$((nskip + 1)); echo "  SKIP $1: $2"; }
# expect NAME EXPECTED ACTUAL: exact match (after trimming CRs and trailing blanks).
expect() {
    local a=${3//$'\r'/}
    if [ "$a" = "$2" ]; then ok "$1"; else bad "$1" "expected [$2], got [$a]"; fi
}
# contains NAME NEEDLE HAYSTACK
contains() {
    if [[ "$3" == *"$2"* ]]; then ok "$1"; else bad "$1" "expected to contain [$2], got [${3:0:600}]"; fi
}
# wants_limits NAME: true when the limit tests run here; otherwise reports them skipped.
limits_here() {
    if [ "$HAVE_LIMITS" = 1 ]; then return 0; fi
    skip "$1" "no cgroup v2 memory/pids controllers here (hybrid host); run in UML by run.sh"
    return 1
}
# base_here: the tests that run on the host pass (not in the limits-only UML pass)
base_here() { [ "$ONLY" != limits ]; }
summary() { # CLIENT
    echo "$1: $npass passed, $nfail failed ($nskip skipped; runtime $RUNTIME, $WHERE)"
    [ "$nfail" = 0 ] || echo "$1: failed: ${failed_names[*]}"
    [ "$nfail" = 0 ]
}
# wait_for DEADLINE_SECS CMD...: poll until CMD succeeds.
wait_for() {
    local end=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -ge $end ] && return 1
        sleep 0.2
    done
}

# make_wrapper DIR: writes DIR/$RUNTIME, a logging wrapper that appends one line per call
# (time, exit code, argv shell-quoted, and the JSON of `update -r -` read from stdin) to
# $WRAPPER_LOG, then returns the real runtime's exit code. Named after the runtime so
# clients that key on the runtime name (podman's runtime_supports_json) see "sangja"/"runc".
make_wrapper() {
    mkdir -p "$1"
    WRAPPER=$1/$RUNTIME
    cat >"$WRAPPER" <<EOW
#!/bin/bash
# logging wrapper for $REAL_RUNTIME (integration/clients/lib.sh)
real=$(printf %q "$REAL_RUNTIME")
log=$(printf %q "$WRAPPER_LOG")
printf -v argv ' %q' "\$@"
stdin=""
if [ "\${1:-}" = update ] || [[ " \$* " == *" update "* ]]; then
    for a in "\$@"; do [ "\$a" = - ] && stdin=\$(cat); done
fi
# keep each bundle's config.json (the spec shapes the client sends) next to the log
prev=""; for a in "\$@"; do
    case "\$prev" in --bundle|-b) mkdir -p "\$log.d"; cp "\$a/config.json" "\$log.d/\${@: -1}.config.json" 2>/dev/null ;; esac
    case "\$a" in --bundle=*) mkdir -p "\$log.d"; cp "\${a#--bundle=}/config.json" "\$log.d/\${@: -1}.config.json" 2>/dev/null ;; esac
    prev=\$a
done
if [ -n "\$stdin" ]; then
    printf '%s' "\$stdin" | "\$real" "\$@"
else
    "\$real" "\$@"
fi
rc=\$?
printf '%s rc=%d%s%s\n' "\$(date +%T.%3N)" "\$rc" "\$argv" "\${stdin:+  <<< \$(printf %s "\$stdin" | tr -d '\n')}" >>"\$log"
exit \$rc
EOW
    chmod 755 "$WRAPPER"
}

# setup_work CLIENT: a private work dir, the wrapper and the image tarball.
setup_work() {
    WORK=$(mktemp -d /tmp/sangja-clients-$1-XXXXXX)
    mkdir -p "$CLIENTS_LOGDIR"
    WRAPPER_LOG=$CLIENTS_LOGDIR/$1-$RUNTIME-$WHERE.argv
    : >"$WRAPPER_LOG"; rm -rf "$WRAPPER_LOG.d"
    make_wrapper "$WORK/bin"
    IMAGE_TAR=$WORK/busybox.tar
    IMAGE=localhost/sangja-busybox:test
    python3 "$here/mkimage.py" "$IMAGE_TAR" "$IMAGE"
}

# shapes FILE: the runtime command lines with ids, paths and numbers generalised.
shapes() {
    sed -E 's/^[0-9:.]+ rc=[0-9]+ //; s/ +<<<.*//' "$1" |
        sed -E 's#/[^ ]*#PATH#g; s/[0-9a-f]{12,}/ID/g; s/\b[0-9]+\b/N/g' | sort | uniq -c | sort -rn
}

# umount_under DIR: lazily unmount everything mounted at or below DIR, deepest first.
umount_under() {
    local m
    awk -v d="$1" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null || true; done
}
# rm_cgroups NAME: remove the cgroup directories named NAME (and below) in every hierarchy;
# only this suite's own top-level directory, never anything else.
rm_cgroups() {
    local d
    for d in /sys/fs/cgroup/"$1" /sys/fs/cgroup/*/"$1"; do
        [ -d "$d" ] || continue
        find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || echo "cleanup: cannot remove cgroup $d" >&2
    done
}
# pids_with_arg STRING: pids whose command line contains STRING (our private socket path).
pids_with_arg() {
    local p
    for p in /proc/[0-9]*; do
        { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF -- "$1" && echo "${p#/proc/}"
    done
}
# private_ns "$@": re-exec this script in a private mount namespace with a tmpfs on /run, so
# whatever a client writes under /run (containerd's shim sockets in /run/containerd/s, fifos,
# podman's /run/libpod, the runtime's default state dir) is private and vanishes with us.
private_ns() {
    if [ -z "${CLIENTS_IN_NS:-}" ]; then
        CLIENTS_IN_NS=1 exec unshare --mount --propagation private -- "$0" "$@"
    fi
    mount -t tmpfs -o mode=755 tmpfs /run
}
