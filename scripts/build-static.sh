#!/usr/bin/env bash
# Build ONE statically linked release binary of sangja and put it at target/sangja.
#
# Target choice (DESIGN.md §8):
#   1. x86_64-unknown-linux-musl if rustup has it installed;
#   2. else try `rustup target add` for it (quietly, with a time limit) and use it if that works;
#   3. else x86_64-unknown-linux-gnu with `-C target-feature=+crt-static`.
# Fails unless `ldd` calls the result static. Prints the target used and the binary size.
#
# Env: CARGO (default cargo), CARGO_TARGET_DIR (cargo's own; default ./target),
#      SANGJA_BUILD_TARGET (force a triple, skipping the choice above).
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
cargo=${CARGO:-cargo}
musl=x86_64-unknown-linux-musl
gnu=x86_64-unknown-linux-gnu
out=$root/target/sangja
cargo_dir=${CARGO_TARGET_DIR:-$root/target}
case $cargo_dir in /*) ;; *) cargo_dir=$root/$cargo_dir ;; esac

have_musl() {
    command -v rustup >/dev/null 2>&1 && rustup target list --installed 2>/dev/null | grep -qx "$musl"
}

triple=${SANGJA_BUILD_TARGET:-}
if [[ -z $triple ]]; then
    if have_musl; then
        triple=$musl
    elif command -v rustup >/dev/null 2>&1 &&
        timeout 180 rustup target add "$musl" >/dev/null 2>&1 && have_musl; then
        echo "build: installed rustup target $musl"
        triple=$musl
    else
        triple=$gnu
    fi
fi

echo "build: cargo build --release --target $triple -p sangja"
if [[ $triple == *-gnu ]]; then
    # --target keeps RUSTFLAGS away from build scripts and proc macros, which must stay dynamic.
    RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
        "$cargo" build --release --target "$triple" -p sangja
else
    "$cargo" build --release --target "$triple" -p sangja
fi

built=$cargo_dir/$triple/release/sangja
[[ -x $built ]] || { echo "build: no binary at $built" >&2; exit 1; }

# ldd says "not a dynamic executable" for static, "statically linked" for static-pie.
linkage=$(ldd "$built" 2>&1 || true)
if ! grep -Eq 'not a dynamic executable|statically linked' <<<"$linkage"; then
    echo "build: $built is not statically linked; ldd says:" >&2
    echo "$linkage" >&2
    exit 1
fi

mkdir -p "$root/target"
cp "$built" "$out.tmp.$$"
mv -f "$out.tmp.$$" "$out"

size=$(stat -c %s "$out")
printf 'build: target/sangja (%s, static): %s bytes (%s KiB)\n' "$triple" "$size" "$(( (size + 1023) / 1024 ))"
