#!/usr/bin/env bash
# Sum the `test result:` lines of every cargo test log in a directory and print ONE line:
#   N passed, N failed[, N skipped]
# (skipped = cargo's "ignored"). Usage: summarize-tests.sh [LOGDIR]   (default target/test-logs)
#
# A NAME.skips file (the integration bench's SANGJA_ITEST_SKIP_LOG) holds one `SKIPPED: test: reason`
# line per test that skipped itself at run time; cargo counted those as passed, so they move from
# passed to skipped.
# A log NAME.log may have a NAME.rc beside it holding the exit status of the command that wrote it;
# a non-zero status with no failing test in the log (a build error, a crash) is reported above the
# summary line. Exits 1 when any test failed, else 0.
set -euo pipefail

dir=${1:-target/test-logs}
passed=0 failed=0 ignored=0

shopt -s nullglob
logs=("$dir"/*.log)
for log in "${logs[@]}"; do
    name=$(basename "$log" .log)
    read -r p f i < <(
        sed 's/\x1b\[[0-9;]*m//g; s/\x1b(B//g' "$log" |
            awk '/^test result: /{
                    for (k = 1; k <= NF; k++) {
                        w = $(k + 1); sub(/[;,]$/, "", w)
                        if (w == "passed") p += $k
                        if (w == "failed") f += $k
                        if (w == "ignored") i += $k
                    }
                 }
                 # the real-client suite: "<client>: N passed, N failed (N skipped; ...)"
                 /^(containerd|podman|docker): [0-9]+ passed, [0-9]+ failed/{
                    p += $2; f += $4
                    if ($7 == "skipped;") i += substr($6, 2)
                 }
                 END { print p + 0, f + 0, i + 0 }'
    )
    passed=$((passed + p)) failed=$((failed + f)) ignored=$((ignored + i))
    rc=0
    [[ -f $dir/$name.rc ]] && rc=$(<"$dir/$name.rc")
    if [[ $rc != 0 && $f == 0 ]]; then
        echo "summary: $name exited $rc with no failing test (build error or crash?): see $log"
    fi
done

for skips in "$dir"/*.skips; do
    n=$(grep -c '^SKIPPED:' "$skips" || true)
    passed=$((passed - n)) ignored=$((ignored + n))
done
((passed >= 0)) || passed=0

line="$passed passed, $failed failed"
((ignored > 0)) && line+=", $ignored skipped"
echo "$line"
((failed == 0))
