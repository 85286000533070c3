//! Tests that really mount. Each runs `prepare` as pid 1 of a fresh mount and pid namespace in a
//! forked grandchild (`/` is made rslave there first), on a busybox rootfs in a tempdir, and checks
//! the result from inside; failures come back over a pipe. Nothing reaches the host's mounts or
//! device nodes. They need root: without it they print `SKIPPED: needs root` and pass.

use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::sys::statvfs::{statvfs, FsFlags};
use oci_spec::runtime::Spec;

use super::mountinfo;
use super::testenv::*;
use super::{prepare, RootfsOptions};

fn default_like_spec(host: &Path) -> Spec {
    let h = host.display();
    spec(&format!(
        r#"{{
  "ociVersion": "1.0.2",
  "root": {{ "path": "rootfs", "readonly": true }},
  "mounts": [
    {{ "destination": "/proc", "type": "proc", "source": "proc" }},
    {{ "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
       "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] }},
    {{ "destination": "/dev/pts", "type": "devpts", "source": "devpts",
       "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] }},
    {{ "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
       "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] }},
    {{ "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
       "options": ["nosuid", "noexec", "nodev"] }},
    {{ "destination": "/sys", "type": "sysfs", "source": "sysfs",
       "options": ["nosuid", "noexec", "nodev", "ro"] }},
    {{ "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
       "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }},
    {{ "destination": "/data", "type": "bind", "source": "{h}/data",
       "options": ["rbind", "ro", "nosuid", "rprivate"] }},
    {{ "destination": "/etc/hostfile", "source": "{h}/file", "options": ["bind", "ro"] }}
  ],
  "linux": {{
    "devices": [ {{ "path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200,
                   "fileMode": 432, "uid": 1, "gid": 2 }} ],
    "maskedPaths": ["/proc/kcore", "/etc/secret", "/etc/secretdir", "/nonexistent"],
    "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger", "/nonexistent/too"]
  }}
}}"#
    ))
}

#[test]
fn default_like_spec_builds_a_container() {
    if skipped() {
        return;
    }
    let (_t, root, host) = fixture();
    let spec = default_like_spec(&host);
    let host_root = root.clone();
    in_namespaces(move || {
        prepare(&spec, &root, &RootfsOptions::default(), &mut || Ok(()))
            .map_err(|e| format!("{e:#}"))?;
        ensure(
            std::env::current_dir().ok() == Some(PathBuf::from("/")),
            "cwd is not /",
        )?;
        ensure(Path::new("/marker").exists(), "/ is not the rootfs")?;
        ensure(
            !host_root.exists(),
            "the host rootfs path is still reachable",
        )?;
        let table = mountinfo::read_self().map_err(|e| e.to_string())?;
        for (mp, fs) in [
            ("/proc", "proc"),
            ("/dev", "tmpfs"),
            ("/dev/pts", "devpts"),
            ("/dev/shm", "tmpfs"),
            ("/dev/mqueue", "mqueue"),
            ("/sys", "sysfs"),
            ("/sys/fs/cgroup", "cgroup2"),
            ("/etc/secretdir", "tmpfs"),
        ] {
            let found = table
                .iter()
                .any(|m| m.mount_point == Path::new(mp) && m.fs_type == fs);
            ensure(found, format!("no {fs} mount at {mp}"))?;
        }
        char_dev("/dev/null", 1, 3)?;
        char_dev("/dev/urandom", 1, 9)?;
        char_dev("/dev/tty", 5, 0)?;
        char_dev("/dev/net/tun", 10, 200)?;
        let tun = std::fs::metadata("/dev/net/tun").map_err(|e| e.to_string())?;
        ensure(tun.permissions().mode() & 0o7777 == 0o660, "tun mode")?;
        ensure((tun.uid(), tun.gid()) == (1, 2), "tun owner")?;
        let zero = std::fs::metadata("/dev/zero").map_err(|e| e.to_string())?;
        ensure(zero.permissions().mode() & 0o777 == 0o666, "zero mode")?;
        for (link, target) in [
            ("/dev/fd", "/proc/self/fd"),
            ("/dev/stdin", "/proc/self/fd/0"),
            ("/dev/stderr", "/proc/self/fd/2"),
            ("/dev/ptmx", "pts/ptmx"),
        ] {
            let t = std::fs::read_link(link).map_err(|e| format!("{link}: {e}"))?;
            ensure(t == Path::new(target), format!("{link} -> {}", t.display()))?;
        }
        ensure(
            !Path::new("/dev/console").exists(),
            "/dev/console was created",
        )?;
        write_fails_erofs("/newfile")?;
        std::fs::write("/dev/shm/ok", "x").map_err(|e| format!("/dev/shm: {e}"))?;
        let secret = std::fs::read_to_string("/etc/secret").map_err(|e| e.to_string())?;
        ensure(secret.is_empty(), "masked /etc/secret is readable")?;
        let n = std::fs::read_dir("/etc/secretdir")
            .map_err(|e| e.to_string())?
            .count();
        ensure(n == 0, "masked /etc/secretdir is not empty")?;
        write_fails_erofs("/etc/secretdir/x")?;
        is_readonly("/proc/sys")?;
        is_readonly("/sys")?;
        is_readonly("/sys/fs/cgroup")?;
        ensure(
            Path::new("/sys/fs/cgroup/cgroup.controllers").exists(),
            "not cgroup2",
        )?;
        is_readonly("/data")?;
        let st = statvfs("/data").map_err(|e| e.to_string())?;
        ensure(st.flags().contains(FsFlags::ST_NOSUID), "/data lost nosuid")?;
        ensure(
            std::fs::read_to_string("/data/hello").ok().as_deref() == Some("hello"),
            "/data",
        )?;
        write_fails_erofs("/data/new")?;
        let f = std::fs::read_to_string("/etc/hostfile").map_err(|e| e.to_string())?;
        ensure(f == "a file", "/etc/hostfile content")?;
        is_readonly("/etc/hostfile")?;
        let out = std::process::Command::new("/bin/sh")
            .args(["-c", "test -c /dev/null && test -L /dev/fd && echo ok"])
            .output()
            .map_err(|e| format!("exec /bin/sh: {e}"))?;
        ensure(out.stdout == b"ok\n", format!("busybox sh said {out:?}"))
    })
    .unwrap();
}

#[test]
fn no_pivot_moves_and_chroots() {
    if skipped() {
        return;
    }
    let (_t, root, _host) = fixture();
    let spec = spec(
        r#"{ "mounts": [
              { "destination": "/proc", "type": "proc", "source": "proc" },
              { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["mode=755"] }
           ] }"#,
    );
    in_namespaces(move || {
        prepare(
            &spec,
            &root,
            &RootfsOptions {
                no_pivot: true,
                ..Default::default()
            },
            &mut || Ok(()),
        )
        .map_err(|e| format!("{e:#}"))?;
        ensure(
            std::env::current_dir().ok() == Some(PathBuf::from("/")),
            "cwd is not /",
        )?;
        ensure(Path::new("/marker").exists(), "/ is not the rootfs")?;
        ensure(Path::new("/proc/self/mountinfo").exists(), "no /proc")?;
        char_dev("/dev/null", 1, 3)?;
        std::fs::write("/writable", "x").map_err(|e| format!("root not writable: {e}"))
    })
    .unwrap();
}

#[test]
fn mounts_and_devices_cannot_escape_the_rootfs() {
    if skipped() {
        return;
    }
    let (_t, root, host) = fixture();
    std::fs::remove_dir(root.join("dev")).unwrap();
    symlink("/", root.join("mnt")).unwrap();
    symlink("../../..", root.join("b")).unwrap();
    symlink("/../..", root.join("dev")).unwrap();
    let names = ["sangja-escape-test", "sangja-escape-b", "sangja-escape-c"];
    for n in names {
        assert!(
            !Path::new("/").join(n).exists(),
            "/{n} exists before the test"
        );
    }
    let spec = spec(&format!(
        r#"{{ "mounts": [
              {{ "destination": "/proc", "type": "proc", "source": "proc" }},
              {{ "destination": "/mnt/sangja-escape-test", "type": "bind",
                 "source": "{}/data", "options": ["bind"] }},
              {{ "destination": "/b/sangja-escape-b", "type": "tmpfs", "source": "tmpfs" }},
              {{ "destination": "/../../sangja-escape-c", "type": "tmpfs", "source": "tmpfs" }}
           ] }}"#,
        host.display()
    ));
    let r = root.clone();
    in_namespaces(move || {
        prepare(&spec, &r, &RootfsOptions::default(), &mut || Ok(()))
            .map_err(|e| format!("{e:#}"))?;
        let table = mountinfo::read_self().map_err(|e| e.to_string())?;
        for n in names {
            let mp = Path::new("/").join(n);
            ensure(
                table.iter().any(|m| m.mount_point == mp),
                format!("{n} not mounted"),
            )?;
        }
        ensure(
            Path::new("/sangja-escape-test/hello").exists(),
            "bind content",
        )?;
        char_dev("/null", 1, 3)
    })
    .unwrap();
    for n in names {
        assert!(
            !Path::new("/").join(n).exists(),
            "/{n} was created on the host"
        );
        assert!(
            root.join(n).is_dir(),
            "{n} was not created inside the rootfs"
        );
    }
    assert!(
        !Path::new("/null").exists(),
        "a device node was created on the host"
    );
    assert!(
        root.join("null").exists(),
        "device node not created in the rootfs"
    );
}

#[test]
fn errors_name_the_mount_and_unsafe_configs_are_refused() {
    if skipped() {
        return;
    }
    let (_t, root, host) = fixture();
    let h = host.display();
    std::fs::create_dir_all(host.join("fakedev")).unwrap();
    std::fs::write(host.join("fakedev/null"), "not a device").unwrap();
    let cases = [
        (
            r#"{ "destination": "/x", "type": "nosuchfs", "source": "none" }"#.to_string(),
            "mount /x: mount nosuchfs from none: ENODEV",
        ),
        (
            format!(r#"{{ "destination": "/proc", "type": "bind", "source": "{h}/data" }}"#),
            "mount /proc: only a proc filesystem may be mounted on /proc",
        ),
        (
            format!(r#"{{ "destination": "/dev", "type": "bind", "source": "{h}/fakedev" }}"#),
            "mask /etc/secret: /dev/null is not the null device (char 1:3)",
        ),
    ];
    for (mount, want) in cases {
        let spec = spec(&format!(
            r#"{{ "mounts": [ {mount} ], "linux": {{ "maskedPaths": ["/etc/secret"] }} }}"#
        ));
        let r = root.clone();
        in_namespaces(move || {
            match prepare(&spec, &r, &RootfsOptions::default(), &mut || Ok(())) {
                Ok(()) => Err("prepare succeeded".into()),
                Err(e) => ensure(format!("{e:#}").starts_with(want), format!("{e:#}")),
            }
        })
        .unwrap_or_else(|e| panic!("case {want:?}: {e}"));
    }
}

#[test]
fn user_namespace_binds_devices_and_falls_back() {
    if skipped() {
        return;
    }
    let (_t, root, _host) = fixture();
    let spec = spec(
        r#"{ "root": { "path": "rootfs", "readonly": true },
             "mounts": [
              { "destination": "/proc", "type": "proc", "source": "proc" },
              { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["mode=755"] },
              { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
                "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"] },
              { "destination": "/sys", "type": "sysfs", "source": "sysfs",
                "options": ["nosuid", "noexec", "nodev", "ro"] },
              { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }
           ],
           "linux": { "maskedPaths": ["/etc/secret"], "readonlyPaths": ["/proc/sys"] } }"#,
    );
    // Not the ctime: on this host something outside the tests re-chowns /dev/null every few
    // minutes, which would make the check flaky.
    let host_null = || {
        let m = std::fs::metadata("/dev/null").unwrap();
        (m.mode(), m.uid(), m.gid(), m.rdev())
    };
    let before = host_null();
    in_namespaces_as(true, move || {
        prepare(&spec, &root, &RootfsOptions::default(), &mut || Ok(()))
            .map_err(|e| format!("{e:#}"))?;
        let table = mountinfo::read_self().map_err(|e| e.to_string())?;
        for dev in ["null", "zero", "full", "random", "urandom", "tty"] {
            let mp = Path::new("/dev").join(dev);
            let bound = table.iter().any(|m| m.mount_point == mp);
            ensure(bound, format!("{} is not a bind mount", mp.display()))?;
        }
        char_dev("/dev/null", 1, 3)?;
        char_dev("/dev/urandom", 1, 9)?;
        is_readonly("/sys")?;
        is_readonly("/sys/fs/cgroup")?;
        ensure(
            Path::new("/sys/fs/cgroup/cgroup.procs").exists(),
            "no cgroup2 files",
        )?;
        is_readonly("/proc/sys")?;
        let secret = std::fs::read_to_string("/etc/secret").map_err(|e| e.to_string())?;
        ensure(secret.is_empty(), "masked /etc/secret is readable")?;
        write_fails_erofs("/newfile")
    })
    .unwrap();
    assert_eq!(before, host_null(), "the host /dev/null was changed");
}

#[test]
fn shared_root_propagation_still_pivots() {
    if skipped() {
        return;
    }
    for (value, want_shared) in [("rshared", true), ("rslave", false), ("private", false)] {
        let (_t, root, _host) = fixture();
        let spec = spec(&format!(
            r#"{{ "mounts": [ {{ "destination": "/proc", "type": "proc", "source": "proc" }} ],
                 "linux": {{ "rootfsPropagation": "{value}" }} }}"#
        ));
        in_namespaces(move || {
            // Like a systemd host, where "/" is shared.
            nix::mount::mount(
                None::<&str>,
                "/",
                None::<&str>,
                nix::mount::MsFlags::MS_SHARED | nix::mount::MsFlags::MS_REC,
                None::<&str>,
            )
            .map_err(|e| format!("make / rshared: {e}"))?;
            prepare(&spec, &root, &RootfsOptions::default(), &mut || Ok(()))
                .map_err(|e| format!("{e:#}"))?;
            let table = mountinfo::read_self().map_err(|e| e.to_string())?;
            let top = table.iter().find(|m| m.mount_point == Path::new("/"));
            let top = top.ok_or("no / in mountinfo")?;
            let shared = top.is_shared();
            ensure(shared == want_shared, format!("/ has {:?}", top.optional))
        })
        .unwrap_or_else(|e| panic!("rootfsPropagation {value}: {e}"));
    }
}
