#!/bin/sh
# Run the sangja integration bench.
#
#   integration/run.sh [--runtime PATH|NAME] [cargo test args...]
#
# --runtime picks the binary under test (sets SANGJA_RUNTIME): a path, or a
# name found in PATH/sbin such as runc or crun. Default: target/release/sangja
# if built, else target/debug/sangja. `cargo test ... -- --runtime X` cannot
# work (libtest owns the test binary's argv), hence this wrapper.
#
# Examples:
#   integration/run.sh                               # sangja, all tests
#   integration/run.sh --runtime runc                # check the tests against runc
#   integration/run.sh --runtime runc --test run     # one test file
#   integration/run.sh -- --test-threads=1 full_cycle
#
# Builds into target/integ (override with CARGO_TARGET_DIR) so it never waits
# on the lock of the main target directory. Prints every SKIPPED test at the end.
set -eu

while [ $# -gt 0 ]; do
    case "$1" in
        --runtime) [ $# -ge 2 ] || { echo "run.sh: --runtime needs a value" >&2; exit 2; }
                   SANGJA_RUNTIME=$2; shift 2 ;;
        --runtime=*) SANGJA_RUNTIME=${1#--runtime=}; shift ;;
        -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) break ;;
    esac
done
if [ -n "${SANGJA_RUNTIME:-}" ]; then export SANGJA_RUNTIME; fi

if [ "$(id -u)" -ne 0 ]; then
    echo "run.sh: the integration bench must run as root (try: sudo -E env PATH=\"\$PATH\" $0 $*)" >&2
    exit 1
fi

here=$(cd "$(dirname "$0")" && pwd)
ws=$(dirname "$here")
: "${CARGO_TARGET_DIR:=$ws/target/integ}"
export CARGO_TARGET_DIR

skip_log=$(mktemp /tmp/sangja-itest-skips.XXXXXX)
export SANGJA_ITEST_SKIP_LOG="$skip_log"
trap 'rm -f "$skip_log"' EXIT

echo "runtime under test: ${SANGJA_RUNTIME:-sangja (workspace target)}"
status=0
(cd "$ws" && cargo test -p sangja-integration --no-fail-fast "$@") || status=$?

if [ -s "$skip_log" ]; then
    echo
    echo "==== SKIPPED ($(wc -l < "$skip_log")) ===="
    sort "$skip_log"
fi
exit $status
