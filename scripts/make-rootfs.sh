#!/usr/bin/env bash
# Build a minimal busybox rootfs: make-rootfs.sh DIR [BUSYBOX]
#   DIR/bin/busybox (a static busybox) with a symlink per applet in DIR/bin,
#   DIR/{proc,sys,dev,tmp,etc,root}, and etc/passwd + etc/group with root and nobody.
# DIR is replaced if it exists.
set -euo pipefail

dir=${1:?usage: make-rootfs.sh DIR [BUSYBOX]}
busybox=${2:-$(command -v busybox || echo /bin/busybox)}

[[ -x $busybox ]] || { echo "rootfs: no busybox at $busybox (make deps installs busybox-static)" >&2; exit 1; }
linkage=$(ldd "$busybox" 2>&1 || true)
if ! grep -Eq 'not a dynamic executable|statically linked' <<<"$linkage"; then
    echo "rootfs: $busybox is dynamically linked; install busybox-static" >&2
    exit 1
fi

rm -rf "$dir"
mkdir -p "$dir"/{bin,proc,sys,dev,tmp,etc,root}
chmod 1777 "$dir/tmp"
chmod 700 "$dir/root"
cp "$busybox" "$dir/bin/busybox"
chmod 755 "$dir/bin/busybox"

"$busybox" --list | while read -r applet; do
    [[ -n $applet && $applet != busybox && $applet != */* ]] || continue
    ln -sf busybox "$dir/bin/$applet"
done

cat >"$dir/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$dir/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
GROUP
