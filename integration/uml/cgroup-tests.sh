#!/bin/bash
# Build the library's unit-test binary on the host and run its cgroup tests inside UML with
# SANGJA_CGROUP2_TESTS=1, so the tests that need real cgroup v2 controllers (OOM kill,
# pids.max, cpu.max, device EPERM, freeze/kill/remove with controllers enabled) run instead
# of printing SKIPPED. Extra arguments go to the test binary (e.g. a name filter).
#
#   integration/uml/cgroup-tests.sh [TEST-FILTER...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."

bin=$(cargo test --lib --no-run --message-format=json 2>/dev/null |
    python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["lib"]:
        print(m["executable"])
')
if [ -z "$bin" ]; then
    echo "cgroup-tests: could not build the library test binary (run cargo test --lib --no-run)" >&2
    exit 2
fi
filter=("$@")
[ ${#filter[@]} -eq 0 ] && filter=(cgroups::)
# One test at a time: the cpu.max measurement must not share UML's single CPU.
exec "$here/run-in-uml.sh" --env SANGJA_CGROUP2_TESTS=1 -- \
    "$bin" "${filter[@]}" --test-threads=1 --show-output
