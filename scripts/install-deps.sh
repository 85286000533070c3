#!/usr/bin/env bash
# Install the Debian packages the tests and the demo need, only those that are missing.
# Quiet and idempotent when everything is there; needs root (apt-get) only when something is missing.
set -euo pipefail

# package           why
packages=(
    busybox-static  # the static shell and applets every test bundle and the demo rootfs are made of
    runc            # the reference runtime the integration tests can be checked against
    iproute2        # ip netns / veth for the network tests' fake hosts
    user-mode-linux # a kernel with cgroup v2 controllers for the cgroup tests
    nftables        # nft, to inspect the NAT and port rules sangja installs
    python3         # scripts/json-set.py edits config.json for the demo bundle
)
missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$p")
done

[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "deps: missing: ${missing[*]}"
if ! command -v apt-get >/dev/null 2>&1; then
    echo "deps: no apt-get here; install these by hand: ${missing[*]}" >&2
    exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "deps: installing needs root: run 'sudo make deps'" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: installed: ${missing[*]}"
