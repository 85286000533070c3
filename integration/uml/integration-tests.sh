#!/bin/bash
# The cgroup v2 stage of `make test` (`make uml`): run the cgroup integration tests
# (integration/tests/cgroups_*.rs, except cgroups_hybrid.rs, which is about hybrid hosts)
# and the library's cgroup v2 kernel tests (cgroups::kernel_tests::v2_*) on a kernel with
# cgroup v2 controllers:
#
#   - natively, when this host's cgroup2 root offers cpu, memory and pids and is writable;
#   - otherwise inside User-Mode Linux (run-in-uml.sh next to this script), which boots the
#     host filesystem with cgroup2 on /sys/fs/cgroup (cpu io memory pids).
#
# Everything is built on the host first (compiling inside UML is slow); UML only runs the
# built test binaries. Under SANGJA_ITEST_REQUIRE_CGROUP2=1 a test that finds no
# controllers fails instead of skipping, so this stage can never pass by skipping.
#
#   integration/uml/integration-tests.sh [--uml|--native] [--no-lib] [--timeout SECS] [TEST-FILTER...]
#
#   --uml / --native   force the mode (default: native if the host can, else UML)
#   --no-lib           only the integration tests, not the library's v2 kernel tests
#   --timeout SECS     limit for the whole UML run (default 900)
#   TEST-FILTER        passed to every test binary (libtest name filter)
#
# Env: SANGJA_RUNTIME (the sangja binary under test; default target/sangja, else
# target/debug/sangja), SANGJA_ITEST_SKIP_LOG (skip lines for scripts/summarize-tests.sh),
# CARGO (default cargo), CARGO_TARGET_DIR (cargo's own).
# Output: every test binary's libtest output (with its `test result:` line); exit status
# non-zero if any test failed, the build failed, or UML did not finish.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ws=$(cd "$here/../.." && pwd)

# ---- inside: run the given test binaries one after another (in UML or natively) ----
if [[ ${1:-} == --inside ]]; then
    shift
    filters=()
    while [[ $# -gt 0 && $1 != -- ]]; do filters+=("$1"); shift; done
    shift || true
    echo "cgroup stage: kernel $(uname -r), cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers 2>/dev/null || echo '?'), $(nproc) CPU(s), TMPDIR=${TMPDIR:-}"
    rc=0
    for spec in "$@"; do
        # spec: BINARY[:FILTER] (the library binary runs only its v2 kernel tests)
        bin=${spec%%:*} filter=
        [[ $spec == *:* ]] && filter=${spec#*:}
        args=()
        [[ -n $filter ]] && args+=("$filter")
        args+=("${filters[@]}")
        echo "==> $(basename "$bin") ${args[*]}"
        start=$SECONDS
        # --test-threads=1: the cpu.max measurement must have the CPU to itself (UML has one).
        (cd "$ws/integration" && "$bin" "${args[@]}" --test-threads=1) || rc=1
        echo "==> $(basename "$bin"): $((SECONDS - start))s"
    done
    exit $rc
fi

mode=auto
with_lib=1
limit=900
filters=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --uml) mode=uml; shift ;;
        --native) mode=native; shift ;;
        --no-lib) with_lib=0; shift ;;
        --timeout) limit=$2; shift 2 ;;
        -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
        *) filters+=("$1"); shift ;;
    esac
done

cd "$ws"
cargo=${CARGO:-cargo}

if [[ $(id -u) != 0 ]]; then
    echo "cgroup stage: must run as root (containers, cgroups, UML's hostfs root)" >&2
    exit 1
fi

runtime=${SANGJA_RUNTIME:-}
if [[ -z $runtime ]]; then
    for c in target/sangja target/debug/sangja; do
        [[ -x $c ]] && { runtime=$ws/$c; break; }
    done
fi
if [[ -z $runtime || ! -x $runtime ]]; then
    echo "cgroup stage: no sangja binary (${runtime:-none found}); run make build or set SANGJA_RUNTIME" >&2
    exit 1
fi
runtime=$(realpath "$runtime")
export SANGJA_RUNTIME=$runtime

# The cgroup2 mount of this host and whether it can run the tests natively.
cg2=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo)
native_ok=0
if [[ -n $cg2 && -w $cg2 ]]; then
    ctrls=$(cat "$cg2/cgroup.controllers" 2>/dev/null || true)
    if grep -qw cpu <<<"$ctrls" && grep -qw memory <<<"$ctrls" && grep -qw pids <<<"$ctrls"; then
        native_ok=1
    fi
fi
if [[ $mode == auto ]]; then
    if [[ $native_ok == 1 ]]; then mode=native; else mode=uml; fi
fi
if [[ $mode == native && $native_ok != 1 ]]; then
    echo "cgroup stage: --native, but ${cg2:-no cgroup2 mount} offers no cpu+memory+pids controllers" >&2
    exit 1
fi
echo "cgroup stage: host cgroup2 at ${cg2:-<none>} offers [$(cat "${cg2:-/nonexistent}/cgroup.controllers" 2>/dev/null || true)]; running $mode; runtime $runtime"

# ---- build on the host ----
# The test files: every integration/tests/cgroups_*.rs except the hybrid-host one.
tests=()
for f in integration/tests/cgroups_*.rs; do
    name=$(basename "$f" .rs)
    [[ $name == cgroups_hybrid ]] && continue
    tests+=("$name")
done
test_flags=()
for t in "${tests[@]}"; do test_flags+=(--test "$t"); done

executables() { # cargo args...: the test executables cargo built, one per line
    "$cargo" test --no-run --message-format=json-render-diagnostics "$@" |
        python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m.get("profile", {}).get("test"):
        print(m["target"]["name"] + " " + m["executable"])
'
}

echo "cgroup stage: building ${tests[*]}$([[ $with_lib == 1 ]] && echo " and the sangja library tests")"
built=$(executables -p sangja-integration "${test_flags[@]}") || {
    echo "cgroup stage: cargo could not build the integration tests" >&2
    exit 1
}
specs=()
for t in "${tests[@]}"; do
    exe=$(awk -v t="$t" '$1 == t { print $2 }' <<<"$built")
    [[ -n $exe ]] || { echo "cgroup stage: no executable for test $t" >&2; exit 1; }
    specs+=("$exe")
done
if [[ $with_lib == 1 ]]; then
    lib=$(executables -p sangja --lib) || {
        echo "cgroup stage: cargo could not build the library tests" >&2
        exit 1
    }
    lib_exe=$(awk '{ print $2; exit }' <<<"$lib")
    [[ -n $lib_exe ]] || { echo "cgroup stage: no library test executable" >&2; exit 1; }
    specs+=("$lib_exe:cgroups::kernel_tests::v2_")
fi

export SANGJA_ITEST_REQUIRE_CGROUP2=1 SANGJA_CGROUP2_TESTS=1
start=$SECONDS
if [[ $mode == native ]]; then
    status=0
    bash "$0" --inside "${filters[@]}" -- "${specs[@]}" || status=$?
else
    # /tmp, /run and /dev/shm are tmpfs inside UML; bundles go to /dev/shm, the bench's
    # state to /run/sangja-itest. Only the skip log and run-in-uml's results reach the host.
    status=0
    "$here/run-in-uml.sh" --mem 1G --timeout "$limit" --env TMPDIR=/dev/shm -- \
        bash "$0" --inside "${filters[@]}" -- "${specs[@]}" || status=$?
fi
echo "cgroup stage ($mode): $((SECONDS - start))s, exit $status"
exit $status
