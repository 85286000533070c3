#!/usr/bin/env bash
# make bench: sangja against runc, crun and youki, on the host and inside User-Mode Linux
# (cgroup v2), written to target/bench/report.md and target/bench/chart.svg.
#
#   bench/bench.sh            (run as root; `make bench` builds target/sangja first)
#
# Steps: install what is missing (runc and crun from Debian, youki built once from crates.io
# into target/bench-tools/), build the harness (bench/, its own workspace) and bench-launch
# into target/bench-build/, build one busybox rootfs, measure on the host, measure inside
# UML, write the report. A phase that fails is named in the report, never dropped silently.
#
# Env (defaults in brackets; the UML ones are smaller because UML is ~10-30x slower):
#   BENCH_RUNS [50]  BENCH_VAR_RUNS [50/20 UML]  BENCH_LIFE_RUNS [40/20]  BENCH_LIFE_VAR_RUNS [25/8]
#   BENCH_PAR_N [50]  BENCH_PAR_ROUNDS [3/1]  BENCH_TIMEOUT [2/6 s]  BENCH_PAR_TIMEOUT [60/180 s]
#   BENCH_QUICK=1 (a smoke run with tiny counts)  BENCH_SKIP_UML=1  BENCH_SKIP_HOST=1
#   YOUKI_VERSIONS ["0.7.0 0.6.0 0.5.7"]: tried in order until one builds.
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$PWD
out=$repo/target/bench
tools=$repo/target/bench-tools
build=$repo/target/bench-build
cargo=${CARGO:-cargo}
sangja=$repo/target/sangja

# A developer's RUST_BACKTRACE=1 makes every anyhow error capture a backtrace (sangja's and
# youki's error paths get ~10x dearer); runtimes run without it, as in production.
unset RUST_BACKTRACE RUST_LIB_BACKTRACE

say() { echo "bench: $*" >&2; }
die() { say "$*"; exit 1; }

[[ $(id -u) == 0 ]] || die "must run as root (containers need namespaces, mounts and cgroups): sudo make bench"
[[ -x $sangja ]] || die "no $sangja: run make build first (make bench does)"
mkdir -p "$out" "$tools" "$build"

apt_install() { # package...
    say "installing $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >&2 ||
        { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >&2; }
}
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# --- competitors and tools ----------------------------------------------------------------
missing=()
for p in runc crun busybox-static util-linux user-mode-linux; do have_pkg "$p" || missing+=("$p"); done
[[ ${#missing[@]} == 0 ]] || apt_install "${missing[@]}" || say "could not install ${missing[*]}"

# youki: the crate has no default features; without these it refuses every container.
youki=""
for v in ${YOUKI_VERSIONS:-0.7.0 0.6.0 0.5.7}; do
    bin=$tools/youki-$v/bin/youki
    if [[ -x $bin ]]; then youki=$bin; break; fi
    if [[ -e $tools/youki-$v.failed ]]; then
        say "youki $v failed to build before (see $tools/youki-$v.build.log; remove $tools/youki-$v.failed to retry)"
        continue
    fi
    for p in libseccomp-dev libelf-dev pkg-config; do have_pkg "$p" || apt_install "$p"; done
    say "building youki $v from crates.io (once; cached in $tools/youki-$v) — several minutes"
    if CARGO_TARGET_DIR=$build "$cargo" install youki --version "$v" --locked \
        --no-default-features --features v1,v2,systemd,seccomp,cgroupsv2_devices \
        --root "$tools/youki-$v" >"$tools/youki-$v.build.log" 2>&1; then
        youki=$bin
        break
    fi
    say "youki $v did not build (tail of $tools/youki-$v.build.log):"
    tail -n 5 "$tools/youki-$v.build.log" >&2
    touch "$tools/youki-$v.failed"
done
[[ -n $youki ]] || { youki=$tools/youki-none/bin/youki; say "no youki version built; the report says so"; }

# --- the harness ----------------------------------------------------------------------------
say "building the harness (bench/, CARGO_TARGET_DIR=$build)"
CARGO_TARGET_DIR=$build "$cargo" build --release --quiet --manifest-path bench/Cargo.toml
harness=$build/release/sangja-bench
# bench-launch: no std, no libc, static; every timed command is forked from it.
if [[ ! -x $build/bench-launch || bench/launch/launch.rs -nt $build/bench-launch ]]; then
    rustc --edition 2021 -C panic=abort -C opt-level=2 -C relocation-model=static -C strip=symbols \
        -C link-arg=-nostartfiles -C link-arg=-nostdlib -C link-arg=-static \
        -o "$build/bench-launch" bench/launch/launch.rs
fi
launcher=$build/bench-launch

rm -f "$out"/host.json "$out"/uml.json "$out"/report.md "$out"/chart.svg
bash scripts/make-rootfs.sh "$out/rootfs"

runtimes=(--runtime "sangja=$sangja" --runtime "runc=$(command -v runc || echo /usr/sbin/runc)"
    --runtime "crun=$(command -v crun || echo /usr/bin/crun)" --runtime "youki=$youki")
common=(--repo "$repo" --launcher "$launcher" --rootfs-from "$out/rootfs" --par-n "${BENCH_PAR_N:-50}" "${runtimes[@]}")
if [[ ${BENCH_QUICK:-0} == 1 ]]; then
    quick=(--runs 3 --var-runs 2 --life-runs 2 --life-var-runs 1 --par-n 5 --par-rounds 1)
else
    quick=()
fi

failed=()
notes=()
start=$SECONDS
# A systemd host has /run on tmpfs; where it is not (this VM: /run is on the ext4 root), every
# runtime's state writes would hit the disk's journal, which no production host pays. The state
# roots then get a tmpfs of their own for the host phase (UML's /run is a tmpfs already).
state_tmpfs=""
unmount_state_tmpfs() { if [[ -n $state_tmpfs ]]; then umount "$state_tmpfs" && rmdir "$state_tmpfs"; state_tmpfs=""; fi; }
trap unmount_state_tmpfs EXIT
if [[ ${BENCH_SKIP_HOST:-0} != 1 ]]; then
    say "host phase"
    run_fs=$(stat -f -c %T /run)
    if [[ $run_fs != tmpfs ]] && ! mountpoint -q /run/sangja-bench; then
        mkdir -p /run/sangja-bench
        mount -t tmpfs -o mode=0755,size=256m sangja-bench /run/sangja-bench
        state_tmpfs=/run/sangja-bench
        notes+=("Host: /run is on ${run_fs} here, not on the tmpfs of a systemd host, so the state roots of every runtime (/run/sangja-bench) were on a tmpfs mounted for the host phase.")
    fi
    if "$harness" measure --env host --out "$out/host.json" "${common[@]}" \
        --work /tmp/sangja-bench --state /run/sangja-bench \
        --runs "${BENCH_RUNS:-50}" --var-runs "${BENCH_VAR_RUNS:-50}" \
        --life-runs "${BENCH_LIFE_RUNS:-40}" --life-var-runs "${BENCH_LIFE_VAR_RUNS:-25}" \
        --par-rounds "${BENCH_PAR_ROUNDS:-3}" --timeout "${BENCH_TIMEOUT:-2}" \
        --par-timeout "${BENCH_PAR_TIMEOUT:-60}" "${quick[@]}"; then :
    else
        failed+=("host: the harness exited $? (see the make bench output)")
    fi
    unmount_state_tmpfs
    say "host phase: $((SECONDS - start)) s"
fi

if [[ ${BENCH_SKIP_HOST:-0} == 1 ]]; then failed+=("host: skipped (BENCH_SKIP_HOST=1)"); fi
if [[ ${BENCH_SKIP_UML:-0} == 1 ]]; then failed+=("uml: skipped (BENCH_SKIP_UML=1); crun and the limits scenario for sangja are not compared"); fi
if [[ ${BENCH_SKIP_UML:-0} != 1 ]]; then
    say "UML phase (cgroup v2; boots in a few seconds, then runs the same harness)"
    t=$SECONDS
    load_before=$(cut -d' ' -f1-3 /proc/loadavg)
    # overlay: the module a real container host has loaded; sangja protects its binary with it.
    if integration/uml/run-in-uml.sh --mem 2G --timeout 1200 --modules overlay -- \
        "$harness" measure --env uml --out "$out/uml.json" "${common[@]}" \
        --work /tmp/sangja-bench --state /run/sangja-bench \
        --runs "${BENCH_RUNS:-50}" --var-runs "${BENCH_UML_VAR_RUNS:-20}" \
        --life-runs "${BENCH_UML_LIFE_RUNS:-20}" --life-var-runs "${BENCH_UML_LIFE_VAR_RUNS:-8}" \
        --par-rounds "${BENCH_UML_PAR_ROUNDS:-1}" --timeout "${BENCH_UML_TIMEOUT:-6}" \
        --par-timeout "${BENCH_UML_PAR_TIMEOUT:-180}" "${quick[@]}"; then :
    else
        failed+=("uml: run-in-uml.sh or the harness exited non-zero (see the make bench output)")
    fi
    [[ -s $out/uml.json ]] || failed+=("uml: no results written")
    notes+=("UML phase: host load average ${load_before} before, $(cut -d' ' -f1-3 /proc/loadavg) after (the host is shared; UML has 1 CPU).")
    say "UML phase: $((SECONDS - t)) s"
fi

inputs=()
for f in "$out/host.json" "$out/uml.json"; do [[ -s $f ]] && inputs+=("$f"); done
[[ ${#inputs[@]} -gt 0 ]] || die "no environment produced results"
args=()
for f in "${failed[@]}"; do args+=(--failed "$f"); done
for n in "${notes[@]}"; do args+=(--note "$n"); done
"$harness" report --out-dir "$out" "${args[@]}" "${inputs[@]}"
say "total $((SECONDS - start)) s"
