#!/bin/bash
# podman end to end: podman --runtime <wrapper around $RUNTIME> with private --root, --runroot,
# --tmpdir, storage.conf, containers.conf (runtime_supports_json lists sangja, so podman passes
# --log-format=json), network config dir and cgroup parent, in a private mount namespace.
source "$(dirname "$0")/lib.sh"
private_ns "$@"
setup_work podman
CGP=sangja-clients-pod-$$
mkdir -p "$WORK/tmp" "$WORK/net" "$WORK/hostdir" "$WORK/volumes"
nofile=$(ulimit -Hn) nproc=$(ulimit -Hu); [ "$nproc" = unlimited ] || [ "$nproc" -gt 4096 ] && nproc=4096  # 96365 (= our hard limit) is refused with EPERM here, even by runc
cat >"$WORK/containers.conf" <<EOC
[containers]
$([ "$HAVE_LIMITS" = 1 ] || echo 'pids_limit = 0  # podman asks pids.max 2048 by default; no pids controller on this hybrid host')
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$WORK/events.log"
runtime_supports_json = ["crun", "runc", "kata", "runsc", "krun", "sangja"]
tmp_dir = "$WORK/tmp"
volume_path = "$WORK/volumes"
[network]
network_config_dir = "$WORK/net"
EOC
cat >"$WORK/storage.conf" <<EOC
[storage]
driver = "vfs"
graphroot = "$WORK/root"
runroot = "$WORK/runroot"
EOC
: >"$WORK/registries.conf"
export CONTAINERS_CONF=$WORK/containers.conf CONTAINERS_STORAGE_CONF=$WORK/storage.conf
export CONTAINERS_REGISTRIES_CONF=$WORK/registries.conf
P=(podman --root "$WORK/root" --runroot "$WORK/runroot" --tmpdir "$WORK/tmp" --runtime "$WRAPPER"
   --storage-driver vfs --cgroup-manager cgroupfs --events-backend file
   --network-config-dir "$WORK/net")
p() { timeout 120 "${P[@]}" "$@"; }
# PODMAN_RUN_OPTS (e.g. "--security-opt seccomp=unconfined") is for diagnosing only.
# Every container gets --network none (or host): podman's default bridge network would create a
# bridge, iptables chains and /var/lib/cni state on the host.
RO=(--cgroup-parent "/$CGP" --network none ${PODMAN_RUN_OPTS:-})
RH=(--rm --cgroup-parent "/$CGP" --network host ${PODMAN_RUN_OPTS:-})
R=(--rm "${RO[@]}")
cleanup() {
    set +e
    p rm -af -t 0 >/dev/null 2>&1
    local x
    for x in $(pids_with_arg "$WORK/"); do kill -9 "$x" 2>/dev/null; done
    for x in $("$REAL_RUNTIME" list -q 2>/dev/null); do  # conmon passes no --root: default root, private /run
        "$REAL_RUNTIME" kill "$x" KILL 2>/dev/null; "$REAL_RUNTIME" delete -f "$x" 2>/dev/null
    done
    rm_cgroups "$CGP"
    umount_under "$WORK"
    rm -rf "$WORK"
}
trap cleanup EXIT

had_cni=$(ls -d /sys/class/net/cni-podman0 /var/lib/cni 2>/dev/null)
echo "podman ($RUNTIME, $WHERE): $(podman --version | awk '{print $3}')"
out=$(p load -i "$IMAGE_TAR" 2>&1); rc=$?
if [ $rc = 0 ] && p images --format '{{.Repository}}:{{.Tag}}' | grep -qx "$IMAGE"; then ok "podman load"; else bad "podman load" "$out"; fi

if base_here; then
    out=$(p run "${R[@]}" "$IMAGE" echo hello 2>&1); rc=$?
    expect "run --rm echo hello" "0 hello" "$rc $out"
    out=$(p run "${R[@]}" "$IMAGE" sh -c 'exit 7' 2>&1); rc=$?
    expect "run --rm exit 7" 7 "$rc"
    out=$(p run "${R[@]}" -e FOO=bar-baz "$IMAGE" sh -c 'echo $FOO' 2>&1)
    expect "run -e" bar-baz "$out"
    echo from-host >"$WORK/hostdir/in"
    out=$(p run "${R[@]}" -v "$WORK/hostdir:/data" "$IMAGE" sh -c 'cat /data/in; echo from-container >/data/out' 2>&1)
    expect "run -v: host file visible" from-host "$out"
    expect "run -v: file written inside is on the host" from-container "$(cat "$WORK/hostdir/out" 2>&1)"
    out=$(p run "${R[@]}" --tmpfs /opt "$IMAGE" sh -c 'grep " /opt " /proc/mounts | cut -d" " -f3; cat /opt/image-file; echo x >/opt/new && echo writable' 2>&1)
    expect "run --tmpfs (tmpcopyup keeps the image's files)" $'tmpfs\nfrom the image\nwritable' "$out"
    out=$(p run "${R[@]}" --read-only "$IMAGE" sh -c 'touch /x 2>&1; echo rc=$?; touch /tmp/y && echo tmp-writable' 2>&1)
    contains "run --read-only: / is read-only" "Read-only file system" "$out"
    contains "run --read-only: touch fails" "rc=1" "$out"
    contains "run --read-only: /tmp still writable" "tmp-writable" "$out"
    out=$(p run "${R[@]}" --user 1000:1000 "$IMAGE" sh -c 'echo $(id -u):$(id -g)' 2>&1)
    expect "run --user 1000:1000" 1000:1000 "$out"
    capeff() { local v; v=$(echo "$1" | awk '/^CapEff/{print $2}'); [ -n "$v" ] && printf '%d' "0x$v" || { echo "    no CapEff: ${1:0:300}" >&2; echo -1; }; }
    c1=$(capeff "$(p run "${R[@]}" "$IMAGE" cat /proc/self/status 2>&1)")
    c2=$(capeff "$(p run "${R[@]}" --cap-drop CHOWN --cap-drop NET_RAW "$IMAGE" cat /proc/self/status 2>&1)")
    if [ $((c1 & 1)) = 1 ] && [ $((c2 & 1)) = 0 ] && [ $((c2 & (1 << 13))) = 0 ] && [ $((c1 & ~c2)) != 0 ]; then
        ok "run --cap-drop CHOWN,NET_RAW"; else bad "run --cap-drop CHOWN,NET_RAW" "CapEff default $c1, dropped $c2"; fi
    out=$(p run "${R[@]}" "$IMAGE" ls /sys/class/net 2>&1)
    expect "run --network none: only lo" lo "$out"
    out=$(p run "${RH[@]}" "$IMAGE" ls /sys/class/net 2>&1)
    expect "run --network host: the host's interfaces" "$(ls /sys/class/net)" "$out"
    # The pause: podman 4.3 can attach after a container that prints and exits at once has
    # finished, and then shows nothing (seen with runc and sangja alike).
    out=$(timeout 60 script -qec "$(printf '%q ' "${P[@]}" run "${R[@]}" -it "$IMAGE" sh -c 'sleep 1; tty; test -t 0 && echo stdin-is-tty; exit 5')" /dev/null 2>&1); rc=$?
    contains "run -it: a pty" "/dev/pts/0" "$out"
    contains "run -it: stdin is a tty" "stdin-is-tty" "$out"
    expect "run -it: exit code" 5 "$rc"

    out=$(p run -d --name det "${RO[@]}" "$IMAGE" sleep 1000 2>&1); rc=$?
    expect "run -d" 0 "$rc"
    st() { p inspect -f '{{.State.Status}}' "$1" 2>&1; }
    expect "run -d: running" running "$(st det)"
    out=$(p exec det sh -c 'echo in-exec $(cat /proc/1/cmdline | tr "\0" " "); exit 3' 2>&1); rc=$?
    contains "exec: output (sees the container's pid 1)" "in-exec sleep 1000" "$out"
    expect "exec: exit code" 3 "$rc"
    out=$(p exec -e X=y -u 1000 -w /tmp det sh -c 'echo $X $(id -u) $(pwd)' 2>&1)
    expect "exec -e -u -w" "y 1000 /tmp" "$out"
    out=$(p top det pid args 2>&1)
    contains "top (runtime ps)" "sleep 1000" "$out"
    out=$(p pause det 2>&1); rc=$?
    expect "pause" "0 paused" "$rc $(st det)"
    out=$(p unpause det 2>&1); rc=$?
    expect "unpause" "0 running" "$rc $(st det)"
    out=$(p exec det echo after-unpause 2>&1)
    expect "exec after unpause" after-unpause "$out"
    # stop: sleep as pid 1 ignores SIGTERM, so podman must SIGKILL after the timeout.
    t0=$SECONDS
    out=$(p stop -t 2 det 2>&1); rc=$?
    el=$((SECONDS - t0))
    expect "stop (SIGTERM ignored): exited" "0 exited" "$rc $(st det)"
    if [ $el -ge 2 ]; then ok "stop waited the 2 s timeout before SIGKILL ($el s)"; else bad "stop waited the 2 s timeout before SIGKILL" "took $el s"; fi
    expect "stop: exit code 137" 137 "$(p inspect -f '{{.State.ExitCode}}' det 2>&1)"
    p rm det >/dev/null 2>&1
    p run -d --name term "${RO[@]}" "$IMAGE" sh -c 'trap "exit 42" TERM; while :; do sleep 0.1; done' >/dev/null 2>&1
    t0=$SECONDS
    out=$(p stop -t 20 term 2>&1); rc=$?
    el=$((SECONDS - t0))
    expect "stop (SIGTERM handled): exit code 42" "0 42" "$rc $(p inspect -f '{{.State.ExitCode}}' term 2>&1)"
    if [ $el -lt 10 ]; then ok "stop (SIGTERM handled) is quick ($el s)"; else bad "stop (SIGTERM handled) is quick" "took $el s"; fi
    p rm term >/dev/null 2>&1
    p run -d --name rmf "${RO[@]}" "$IMAGE" sleep 1000 >/dev/null 2>&1
    out=$(p rm -f rmf 2>&1); rc=$?
    expect "rm -f of a running container" 0 "$rc"
    expect "rm -f: gone" "" "$(p ps -aq --filter name=rmf 2>&1)"

    out=$(p run "${R[@]}" "$IMAGE" /nonexistent-binary 2>&1); rc=$?
    expect "missing executable: exit code 127" 127 "$rc"
    contains "missing executable: runtime message" "/nonexistent-binary" "$out"
    echo "    podman said: $out"
fi

if limits_here "--memory / --pids-limit"; then
    out=$(p run "${R[@]}" --memory 32m "$IMAGE" sh -c 'cat /sys/fs/cgroup/memory.max; x=$(head -c 4194304 /dev/zero | tr "\0" a); echo ${#x}' 2>&1); rc=$?
    expect "run --memory 32m: memory.max, 4 MiB fine" $'0 33554432\n4194304' "$rc $out"
    out=$(p run "${R[@]}" --memory 32m "$IMAGE" sh -c 'x=$(head -c 67108864 /dev/zero | tr "\0" a); echo survived' 2>&1); rc=$?
    expect "run --memory 32m: 64 MiB is OOM-killed (137)" 137 "$rc"
    [ "$rc" = 137 ] || echo "    podman said: $out"
    out=$(p run "${R[@]}" --pids-limit 10 "$IMAGE" sh -c 'cat /sys/fs/cgroup/pids.max; for i in $(seq 20); do sleep 5 & done; wait' 2>&1); rc=$?
    expect "run --pids-limit 10: pids.max" 10 "$(echo "$out" | head -n1)"
    contains "run --pids-limit 10: the 11th process cannot fork" "can't fork" "$out"
fi
expect "host network and /var/lib/cni untouched" "$had_cni" "$(ls -d /sys/class/net/cni-podman0 /var/lib/cni 2>/dev/null)"
summary podman
