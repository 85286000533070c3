#!/bin/bash
# Docker end to end: a private dockerd (data-root, exec-root, pidfile, socket, config file under a
# temp dir, in a private mount namespace with tmpfs on /run and /etc/docker so its trust key and
# its containerd's shim sockets stay private) with --add-runtime clients-rt=<wrapper around
# $RUNTIME> ("runc" is a reserved runtime name in dockerd, so both runs use clients-rt).
source "$(dirname "$0")/lib.sh"
private_ns "$@"
[ -d /etc/docker ] && mount -t tmpfs tmpfs /etc/docker
setup_work docker
CGP=sangja-clients-dock-$$
mkdir -p "$WORK/hostdir" "$WORK/cli"
echo '{}' >"$WORK/daemon.json"
export DOCKER_CONFIG=$WORK/cli DOCKER_HOST=unix://$WORK/docker.sock
dk() { timeout 120 docker "$@"; }
RO=(--runtime clients-rt)
cleanup() {
    set +e
    local x
    for x in $(dk ps -aq 2>/dev/null); do dk rm -f "$x"; done >/dev/null 2>&1
    [ -n "${DPID:-}" ] && kill "$DPID" 2>/dev/null && { for _ in $(seq 50); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.2; done; }
    for x in $(pids_with_arg "$WORK/"); do kill -9 "$x" 2>/dev/null; done
    for x in $("$REAL_RUNTIME" --root "$WORK/exec/runtime-clients-rt/moby" list -q 2>/dev/null); do
        "$REAL_RUNTIME" --root "$WORK/exec/runtime-clients-rt/moby" delete -f "$x" 2>/dev/null
    done
    rm_cgroups "$CGP"
    cp "$WORK/dockerd.log" "$CLIENTS_LOGDIR/docker-$RUNTIME-$WHERE.daemon.log" 2>/dev/null
    umount_under "$WORK"
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "docker ($RUNTIME, $WHERE): $(dockerd --version | awk '{print $3}' | tr -d ,)"
dockerd --data-root "$WORK/data" --exec-root "$WORK/exec" --pidfile "$WORK/docker.pid" \
    -H "unix://$WORK/docker.sock" --config-file "$WORK/daemon.json" \
    --add-runtime "clients-rt=$WRAPPER" --iptables=false --ip6tables=false --bridge=none \
    --ip-forward=false --ip-masq=false --userland-proxy=false --storage-driver vfs \
    --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent "/$CGP" >"$WORK/dockerd.log" 2>&1 &
DPID=$!
wait_for 60 dk version || { bad "dockerd starts" "$(tail -5 "$WORK/dockerd.log")"; summary docker; exit; }
out=$(dk load -i "$IMAGE_TAR" 2>&1); rc=$?
if [ $rc = 0 ] && dk images --format '{{.Repository}}:{{.Tag}}' | grep -qx "$IMAGE"; then ok "docker load"; else bad "docker load" "$out"; fi

if base_here; then
    out=$(dk run --rm "${RO[@]}" --network none "$IMAGE" echo hello 2>&1); rc=$?
    expect "run --rm echo hello" "0 hello" "$rc $out"
    out=$(dk run --rm "${RO[@]}" --network none "$IMAGE" sh -c 'exit 7' 2>&1); rc=$?
    expect "run --rm exit 7" 7 "$rc"
    echo from-host >"$WORK/hostdir/in"
    out=$(dk run --rm "${RO[@]}" --network none -e FOO=bar-baz -v "$WORK/hostdir:/data" "$IMAGE" sh -c 'echo $FOO; cat /data/in; echo from-container >/data/out' 2>&1)
    expect "run -e -v: env and host file" $'bar-baz\nfrom-host' "$out"
    expect "run -v: file written inside is on the host" from-container "$(cat "$WORK/hostdir/out" 2>&1)"
    out=$(dk run --rm "${RO[@]}" --network host "$IMAGE" ls /sys/class/net 2>&1)
    expect "run --network host: the host's interfaces" "$(ls /sys/class/net)" "$out"
    out=$(timeout 60 script -qec "docker run --rm ${RO[*]} --network none -it $IMAGE sh -c 'tty; test -t 0 && echo stdin-is-tty; exit 5'" /dev/null 2>&1); rc=$?
    contains "run -it: a pty" "/dev/pts/0" "$out"
    contains "run -it: stdin is a tty" "stdin-is-tty" "$out"
    expect "run -it: exit code" 5 "$rc"

    out=$(dk run -d --name det "${RO[@]}" --network none "$IMAGE" sleep 1000 2>&1); rc=$?
    expect "run -d" 0 "$rc"
    st() { dk inspect -f '{{.State.Status}}' "$1" 2>&1; }
    expect "run -d: running" running "$(st det)"
    out=$(dk exec det sh -c 'echo in-exec $(cat /proc/1/cmdline | tr "\0" " "); exit 3' 2>&1); rc=$?
    contains "exec: output (sees the container's pid 1)" "in-exec sleep 1000" "$out"
    expect "exec: exit code" 3 "$rc"
    out=$(dk exec -e X=y -u 1000 -w /tmp det sh -c 'echo $X $(id -u) $(pwd)' 2>&1)
    expect "exec -e -u -w" "y 1000 /tmp" "$out"
    out=$(dk top det 2>&1)
    contains "top" "sleep 1000" "$out"
    out=$(dk pause det 2>&1); rc=$?
    expect "pause" "0 paused" "$rc $(st det)"
    out=$(dk unpause det 2>&1); rc=$?
    expect "unpause" "0 running" "$rc $(st det)"
    t0=$SECONDS
    out=$(dk stop -t 2 det 2>&1); rc=$?
    el=$((SECONDS - t0))
    expect "stop (SIGTERM ignored): exited 137" "0 exited 137" "$rc $(st det) $(dk inspect -f '{{.State.ExitCode}}' det 2>&1)"
    if [ $el -ge 2 ]; then ok "stop waited the 2 s timeout ($el s)"; else bad "stop waited the 2 s timeout" "took $el s"; fi
    dk rm det >/dev/null 2>&1
    out=$(dk run --rm "${RO[@]}" --network none "$IMAGE" /nonexistent-binary 2>&1); rc=$?
    expect "missing executable: exit code 127" 127 "$rc"
    contains "missing executable: runtime message" "/nonexistent-binary" "$out"
    echo "    docker said: $out"
fi

if limits_here "--memory / update --memory"; then
    out=$(dk run --rm "${RO[@]}" --network none --memory 32m "$IMAGE" sh -c 'x=$(head -c 67108864 /dev/zero | tr "\0" a); echo survived' 2>&1); rc=$?
    expect "run --memory 32m: 64 MiB is OOM-killed (137)" 137 "$rc"
    [ "$rc" = 137 ] || echo "    docker said: $out"
    out=$(dk run -d --name upd "${RO[@]}" --network none --memory 64m "$IMAGE" sleep 1000 2>&1) || echo "    docker said: $out"
    expect "run -d --memory 64m: memory.max" 67108864 "$(dk exec upd cat /sys/fs/cgroup/memory.max 2>&1)"
    out=$(dk update --memory 32m upd 2>&1); rc=$?
    expect "update --memory 32m: exit code" 0 "$rc"
    [ $rc = 0 ] || echo "    docker said: $out"
    expect "update --memory 32m: memory.max" 33554432 "$(dk exec upd cat /sys/fs/cgroup/memory.max 2>&1)"
    dk rm -f upd >/dev/null 2>&1
fi
summary docker
