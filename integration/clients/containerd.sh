#!/bin/bash
# containerd end to end: a private containerd (root, state, grpc socket under a temp dir, in a
# private mount namespace), ctr with shim io.containerd.runc.v2 whose runc binary (BinaryName,
# via ctr --runc-binary) is the logging wrapper around $RUNTIME.
source "$(dirname "$0")/lib.sh"
private_ns "$@"
setup_work containerd
NS=sangja-clients
SOCK=$WORK/containerd.sock
CGP=sangja-clients-ctr-$$
export CONTAINERD_SNAPSHOTTER=native
cat >"$WORK/config.toml" <<EOC
version = 2
root = "$WORK/root"
state = "$WORK/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.opt"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  address = "$WORK/debug.sock"
[metrics]
  address = ""
EOC
cleanup() {
    set +e
    local t p
    for t in $(c task ls -q 2>/dev/null); do c task kill -s SIGKILL "$t"; c task delete -f "$t"; done >/dev/null 2>&1
    for t in $(c container ls -q 2>/dev/null); do c container rm "$t"; done >/dev/null 2>&1
    [ -n "${CPID:-}" ] && kill "$CPID" 2>/dev/null && wait "$CPID" 2>/dev/null
    for p in $(pids_with_arg "$SOCK"); do kill -9 "$p" 2>/dev/null; done
    for t in $("$REAL_RUNTIME" --root "$WORK/runc-root/$NS" list -q 2>/dev/null); do
        "$REAL_RUNTIME" --root "$WORK/runc-root/$NS" kill "$t" KILL 2>/dev/null
        "$REAL_RUNTIME" --root "$WORK/runc-root/$NS" delete -f "$t" 2>/dev/null
    done
    rm_cgroups "$CGP"
    cp "$WORK/containerd.log" "$CLIENTS_LOGDIR/containerd-$RUNTIME-$WHERE.daemon.log" 2>/dev/null
    umount_under "$WORK"
    rm -rf "$WORK"
}
trap cleanup EXIT
c() { timeout 60 ctr -a "$SOCK" -n "$NS" "$@"; }
RF=(--runc-binary "$WRAPPER" --runc-root "$WORK/runc-root")
# ctr puts cpu.shares 1024 in every spec; without a cgroup v2 cpu controller (this hybrid host)
# sangja refuses any cpu setting, as designed, so there ask for none.
[ "$HAVE_LIMITS" = 1 ] || RF+=(--cpu-shares 0)
cg() { echo "--cgroup=/$CGP/$1"; }

echo "containerd ($RUNTIME, $WHERE): $(containerd --version | awk '{print $3}')"
containerd --config "$WORK/config.toml" --log-level debug >"$WORK/containerd.log" 2>&1 &
CPID=$!
wait_for 20 c version || { bad "containerd starts" "$(tail -5 "$WORK/containerd.log")"; summary containerd; exit; }

out=$(c image import --all-platforms "$IMAGE_TAR" 2>&1); rc=$?
if [ $rc = 0 ] && c image ls -q | grep -qx "$IMAGE"; then ok "image import"; else bad "image import" "$out"; fi

if base_here; then
    out=$(c run --rm "${RF[@]}" "$(cg hello)" "$IMAGE" hello echo hello 2>&1); rc=$?
    expect "run --rm echo hello: output" "hello" "$out"
    expect "run --rm echo hello: exit code" 0 "$rc"
    out=$(c run --rm "${RF[@]}" "$(cg exit7)" "$IMAGE" exit7 sh -c 'echo out; echo err >&2; exit 7' 2>"$WORK/err"); rc=$?
    expect "run --rm exit 7: exit code" 7 "$rc"
    expect "run --rm exit 7: stdout" out "$out"
    expect "run --rm exit 7: stderr" err "$(cat "$WORK/err")"

    # Detached task, exec, ps, pause/resume, kill, delete.
    out=$(c run -d "${RF[@]}" "$(cg det)" "$IMAGE" det sleep 1000 2>&1); rc=$?
    expect "run -d: exit code" 0 "$rc"
    status() { c task ls 2>/dev/null | awk -v t="$1" '$1 == t {print $3}'; }
    expect "task ls: RUNNING" RUNNING "$(status det)"
    tpid=$(c task ls 2>/dev/null | awk '$1 == "det" {print $2}')
    if [ -n "$tpid" ] && [ "$(readlink /proc/"$tpid"/exe 2>/dev/null)" = /bin/busybox ] ; then ok "task pid is the container's sleep"; else bad "task pid is the container's sleep" "pid [$tpid] exe [$(readlink /proc/"$tpid"/exe 2>&1)]"; fi
    out=$(c task exec --exec-id e1 det sh -c 'echo in-exec $(cat /proc/1/cmdline | tr "\\0" " "); exit 3' 2>&1); rc=$?
    contains "task exec: output (sees the container's pid 1)" "in-exec sleep 1000" "$out"
    expect "task exec: exit code" 3 "$rc"
    c task exec -d --exec-id e2 det sleep 500 >/dev/null 2>&1
    sleep 0.3
    out=$(c task ps det 2>&1)
    n=$(echo "$out" | awk 'NR > 1 && $1 ~ /^[0-9]+$/' | wc -l)
    if [ "$n" -ge 2 ] && echo "$out" | awk '{print $1}' | grep -qx "$tpid"; then ok "task ps: init and exec'd process"; else bad "task ps: init and exec'd process" "$out"; fi
    out=$(c task pause det 2>&1); rc=$?
    expect "task pause: exit code" 0 "$rc$out"
    expect "task ls: PAUSED" PAUSED "$(status det)"
    st=$(awk '/^State:/{print $2}' /proc/"$tpid"/status 2>/dev/null)
    out=$(c task resume det 2>&1); rc=$?
    expect "task resume: exit code" 0 "$rc$out"
    expect "task ls after resume: RUNNING" RUNNING "$(status det)"
    out=$(c task exec --exec-id e3 det echo after-resume 2>&1)
    expect "exec after resume" after-resume "$out"
    out=$(c task kill -s SIGKILL det 2>&1); rc=$?
    expect "task kill: exit code" 0 "$rc$out"
    wait_for 10 bash -c "[ \"\$(ctr -a '$SOCK' -n '$NS' task ls | awk '\$1==\"det\"{print \$3}')\" = STOPPED ]"
    expect "task ls after kill: STOPPED" STOPPED "$(status det)"
    out=$(c task delete det 2>&1); rc=$?
    expect "task delete: exit code" 0 "$rc"
    contains "task delete: exit status 137" "137" "$out"
    out=$(c task ls -q 2>&1)
    expect "task gone after delete" "" "$out"
    c container rm det >/dev/null 2>&1
    out=$("$REAL_RUNTIME" --root "$WORK/runc-root/$NS" list -q 2>&1)
    expect "runtime state gone after delete" "" "$out"

    # A task with a terminal: ctr -t needs a terminal on its own stdin, so run it under script(1).
    out=$(timeout 60 script -qec "ctr -a $SOCK -n $NS run --rm -t ${RF[*]} $(cg tty1) $IMAGE tty1 sh -c 'tty; test -t 0 && echo stdin-is-tty; exit 5'" /dev/null 2>&1); rc=$?
    contains "tty task: /dev/pts" "/dev/pts/0" "$out"
    contains "tty task: stdin is a tty" "stdin-is-tty" "$out"
    expect "tty task: exit code" 5 "$rc"

    # A failing task: the runtime's error reaches ctr's output.
    out=$(c run --rm "${RF[@]}" "$(cg bad)" "$IMAGE" bad /nonexistent-binary 2>&1); rc=$?
    if [ $rc != 0 ]; then ok "missing executable: ctr fails"; else bad "missing executable: ctr fails" "rc 0: $out"; fi
    contains "missing executable: runtime error in ctr output" "/nonexistent-binary" "$out"
    echo "    ctr said: $out"
    c container rm bad >/dev/null 2>&1
fi

if limits_here "memory limit enforced"; then
    out=$(c run -d --memory-limit 33554432 "${RF[@]}" "$(cg mem)" "$IMAGE" mem sleep 1000 2>&1); rc=$?
    expect "run -d --memory-limit: exit code" 0 "$rc$out"
    expect "memory.max set" 33554432 "$(cat /sys/fs/cgroup/$CGP/mem/memory.max 2>&1)"
    c task exec --exec-id small mem sh -c 'x=$(head -c 4194304 /dev/zero | tr "\0" a); echo ${#x}' >"$WORK/small.out" 2>&1; rc=$?
    expect "4 MiB under the 32 MiB limit: fine" "0 4194304" "$rc $(cat "$WORK/small.out")"
    c task exec --exec-id hog mem sh -c 'x=$(head -c 67108864 /dev/zero | tr "\0" a); echo survived ${#x}' >"$WORK/hog.out" 2>&1; rc=$?
    expect "64 MiB over the 32 MiB limit: OOM-killed (137)" "137" "$rc"
    oom=$(awk '$1 == "oom_kill" {print $2}' /sys/fs/cgroup/$CGP/mem/memory.events 2>/dev/null)
    if [ "${oom:-0}" -ge 1 ]; then ok "memory.events oom_kill counted"; else bad "memory.events oom_kill counted" "[$oom] $(cat "$WORK/hog.out")"; fi
    c task kill -s SIGKILL mem >/dev/null 2>&1
    wait_for 10 bash -c "[ \"\$(ctr -a '$SOCK' -n '$NS' task ls | awk '\$1==\"mem\"{print \$3}')\" = STOPPED ]"
    out=$(c task delete mem 2>&1); rc=$?
    expect "memory task delete" 0 "$rc"
    c container rm mem >/dev/null 2>&1
    [ -d /sys/fs/cgroup/$CGP/mem ] && bad "cgroup removed after delete" "/sys/fs/cgroup/$CGP/mem still there" || ok "cgroup removed after delete"
fi
summary containerd
