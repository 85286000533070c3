//! Test support for the root-only tests: run a check as pid 1 of fresh namespaces in a forked
//! grandchild (its error text comes back over a pipe), build a busybox rootfs fixture, and small
//! checks on what the container sees.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt};
use std::path::PathBuf;

use nix::errno::Errno;
use nix::sched::{unshare, CloneFlags};
use nix::sys::statvfs::{statvfs, FsFlags};
use nix::unistd::{geteuid, pipe, write};
use oci_spec::runtime::Spec;

use crate::sys::fork::run_in_child;

pub type Check = Result<(), String>;

pub fn skipped() -> bool {
    if geteuid().is_root() {
        return false;
    }
    eprintln!("SKIPPED: needs root");
    true
}

pub fn ensure(cond: bool, what: impl AsRef<str>) -> Check {
    if cond {
        Ok(())
    } else {
        Err(what.as_ref().to_string())
    }
}

/// Run `check` as pid 1 of new mount and pid namespaces; its error text comes back.
pub fn in_namespaces(check: impl FnOnce() -> Check) -> Check {
    in_namespaces_as(false, check)
}

/// Like [`in_namespaces`]; with `userns`, first enter a new user namespace mapping only root.
pub fn in_namespaces_as(userns: bool, check: impl FnOnce() -> Check) -> Check {
    let (rd, wr): (OwnedFd, OwnedFd) = pipe().map_err(|e| e.to_string())?;
    let report = |msg: &str| {
        let _ = write(&wr, msg.as_bytes());
    };
    let code = run_in_child(|| {
        if userns {
            if let Err(e) = enter_user_namespace() {
                report(&e);
                return 2;
            }
        }
        if let Err(e) = unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID) {
            report(&format!("unshare: {e}"));
            return 2;
        }
        let inner = run_in_child(|| match check() {
            Ok(()) => 0,
            Err(m) => {
                report(&m);
                1
            }
        });
        inner.unwrap_or_else(|e| {
            report(&format!("fork: {e}"));
            3
        })
    })
    .map_err(|e| format!("fork: {e}"))?;
    drop(wr);
    let mut msg = String::new();
    let _ = std::fs::File::from(rd).read_to_string(&mut msg);
    ensure(code == 0, format!("child exited {code}: {msg}"))
}

/// A new user namespace where only uid/gid 0 is mapped (to 0).
pub fn enter_user_namespace() -> Check {
    unshare(CloneFlags::CLONE_NEWUSER).map_err(|e| format!("unshare user: {e}"))?;
    for (file, text) in [
        ("/proc/self/setgroups", "deny"),
        ("/proc/self/uid_map", "0 0 1"),
        ("/proc/self/gid_map", "0 0 1"),
    ] {
        std::fs::write(file, text).map_err(|e| format!("write {file}: {e}"))?;
    }
    Ok(())
}

/// A tempdir with `rootfs/` (busybox, `sh`, `etc/secret`, `etc/secretdir/`) and `host/` (a
/// directory and a file to bind in).
pub fn fixture() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let base = t.path().canonicalize().unwrap();
    let root = base.join("rootfs");
    for d in ["bin", "etc/secretdir", "proc", "sys", "dev", "tmp"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    symlink("busybox", root.join("bin/sh")).unwrap();
    std::fs::write(root.join("etc/secret"), "top secret").unwrap();
    std::fs::write(root.join("etc/secretdir/key"), "key").unwrap();
    std::fs::write(root.join("marker"), "rootfs").unwrap();
    let host = base.join("host");
    std::fs::create_dir_all(host.join("data")).unwrap();
    std::fs::write(host.join("data/hello"), "hello").unwrap();
    std::fs::write(host.join("file"), "a file").unwrap();
    (t, root, host)
}

pub fn spec(json: &str) -> Spec {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("bad test spec: {e}\n{json}"))
}

pub fn char_dev(path: &str, major: u64, minor: u64) -> Check {
    let m = std::fs::symlink_metadata(path).map_err(|e| format!("{path}: {e}"))?;
    let rdev = nix::sys::stat::makedev(major, minor);
    ensure(
        m.file_type().is_char_device() && m.rdev() == rdev,
        format!("{path} is not char {major}:{minor}"),
    )
}

pub fn is_readonly(path: &str) -> Check {
    let st = statvfs(path).map_err(|e| format!("statvfs {path}: {e}"))?;
    ensure(
        st.flags().contains(FsFlags::ST_RDONLY),
        format!("{path} is writable"),
    )
}

pub fn write_fails_erofs(path: &str) -> Check {
    match std::fs::write(path, "x") {
        Err(e) if e.raw_os_error() == Some(Errno::EROFS as i32) => Ok(()),
        other => Err(format!("write {path}: expected EROFS, got {other:?}")),
    }
}
