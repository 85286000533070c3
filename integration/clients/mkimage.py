#!/usr/bin/env python3
"""Build a busybox-static image tarball that is both an OCI image layout (index.json, for
`ctr image import`) and a docker-archive (manifest.json, for `podman load` / `docker load`).

usage: mkimage.py OUT.tar NAME:TAG

Python rather than shell: tar headers, sha256 digests and JSON in one place, deterministic,
no registry and no extra package needed."""
import hashlib, io, json, os, sys, tarfile

BUSYBOX = "/bin/busybox"
APPLETS = ["sh", "echo", "cat", "sleep", "id", "ls", "mkdir", "touch", "grep", "true", "false",
           "ps", "hostname", "head", "wc", "ip", "mount", "dd", "tail", "env", "stat", "test",
           "kill", "tty", "readlink", "yes", "tr", "seq", "printf", "rm", "ln", "top", "uname"]


def add(tf, name, data=None, mode=0o644, kind=tarfile.REGTYPE, link=""):
    ti = tarfile.TarInfo(name)
    ti.mode, ti.type, ti.linkname, ti.mtime = mode, kind, link, 0
    ti.uid = ti.gid = 0
    if data is not None:
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    else:
        tf.addfile(ti)


def layer():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for d in ["bin", "etc", "proc", "sys", "dev", "tmp", "root", "home", "home/user", "data",
                  "var", "run", "opt"]:
            add(tf, d, mode=0o1777 if d == "tmp" else 0o755, kind=tarfile.DIRTYPE)
        with open(BUSYBOX, "rb") as f:
            add(tf, "bin/busybox", f.read(), 0o755)
        for a in APPLETS:
            add(tf, "bin/" + a, kind=tarfile.SYMTYPE, link="busybox")
        add(tf, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n"
            b"nobody:x:65534:65534:nobody:/:/bin/sh\n")
        add(tf, "etc/group", b"root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n")
        add(tf, "opt/image-file", b"from the image\n")
    return buf.getvalue()


def blob(tf, data):
    h = hashlib.sha256(data).hexdigest()
    add(tf, "blobs/sha256/" + h, data)
    return h


def main():
    out, ref = sys.argv[1], sys.argv[2]
    lay = layer()
    lh = hashlib.sha256(lay).hexdigest()
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": ["sh"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + lh]},
        "history": [{"created_by": "integration/clients/mkimage.py"}],
    }, sort_keys=True).encode()
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tf:
        add(tf, "blobs", kind=tarfile.DIRTYPE, mode=0o755)
        add(tf, "blobs/sha256", kind=tarfile.DIRTYPE, mode=0o755)
        blob(tf, lay)
        ch = blob(tf, config)
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": "sha256:" + ch, "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": "sha256:" + lh, "size": len(lay)}],
        }, sort_keys=True).encode()
        mh = blob(tf, manifest)
        index = {"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": "sha256:" + mh, "size": len(manifest),
            "annotations": {"io.containerd.image.name": ref,
                            "org.opencontainers.image.ref.name": ref.rsplit(":", 1)[-1]}}]}
        add(tf, "index.json", json.dumps(index).encode())
        add(tf, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
        add(tf, "manifest.json", json.dumps([{
            "Config": "blobs/sha256/" + ch, "RepoTags": [ref],
            "Layers": ["blobs/sha256/" + lh]}]).encode())


if __name__ == "__main__":
    main()
