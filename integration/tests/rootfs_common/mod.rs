//! Helpers shared by the `rootfs_*` test files (each includes this module): a failing `create`
//! with the leftover checks, `/proc/self/mountinfo` as printed by a container, a thread in a
//! mount namespace of its own for tests that mount on the host side, and unique host names.
#![allow(dead_code)]

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use sangja_integration::{assert_clean, Bundle, Container, Out, Runtime};

/// `create` must fail with exit 1 and a message holding one of `any_of`; nothing is left.
#[track_caller]
pub fn create_fails(rt: &Runtime, c: &Container, b: &Bundle, any_of: &[&str]) -> Out {
    let o = rt
        .command(["create", "--bundle"])
        .arg(b.path())
        .arg(c.id())
        .output();
    rt.assert_error(&o, any_of);
    assert_clean(rt, c.id(), b);
    assert!(rt.list_json().is_empty(), "a failed create is not listed");
    o
}

/// One mountinfo line, as a container printed it.
#[derive(Debug, Clone)]
pub struct MountLine {
    pub mount_point: String,
    /// Per-mount options (`rw,nosuid,relatime`).
    pub opts: Vec<String>,
    pub fs_type: String,
    /// Superblock options (`rw,size=1024k,mode=755`).
    pub super_opts: Vec<String>,
    pub line: String,
}

impl MountLine {
    pub fn has(&self, opt: &str) -> bool {
        self.opts.iter().any(|o| o == opt)
    }
    pub fn has_super(&self, opt: &str) -> bool {
        self.super_opts.iter().any(|o| o == opt)
    }
}

/// Parse mountinfo text (lines that do not parse are skipped).
pub fn parse_mountinfo(text: &str) -> Vec<MountLine> {
    text.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let f: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            Some(MountLine {
                mount_point: sangja_integration::util::unescape_mountinfo(f.get(4)?),
                opts: f.get(5)?.split(',').map(String::from).collect(),
                fs_type: r.first()?.to_string(),
                super_opts: r
                    .get(2)
                    .unwrap_or(&"")
                    .split(',')
                    .map(String::from)
                    .collect(),
                line: l.to_string(),
            })
        })
        .collect()
}

/// The topmost mount at `mp` in the parsed table.
#[track_caller]
pub fn mount_at<'a>(table: &'a [MountLine], mp: &str, all: &str) -> &'a MountLine {
    table
        .iter()
        .rev()
        .find(|m| m.mount_point == mp)
        .unwrap_or_else(|| panic!("no mount at {mp} in the container's mountinfo:\n{all}"))
}

/// Run `f` on a thread in a new mount namespace whose mounts are all slaves of the host's, so
/// a test can mount (under its own tempdir) without any of it reaching the host. The runtime
/// commands `f` starts inherit that namespace. A panic in `f` is the test's panic.
pub fn in_own_mount_namespace<F: FnOnce() + Send + 'static>(f: F) {
    let name = std::thread::current().name().unwrap_or("test").to_string();
    let h = std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            // SAFETY: unshare takes a plain flag word; CLONE_NEWNS affects only this thread.
            let r = unsafe { libc::unshare(libc::CLONE_NEWNS) };
            assert_eq!(
                r,
                0,
                "unshare(CLONE_NEWNS): {}",
                std::io::Error::last_os_error()
            );
            mount_flags("/", libc::MS_REC | libc::MS_SLAVE);
            f();
        })
        .expect("spawn test thread");
    if let Err(p) = h.join() {
        std::panic::resume_unwind(p);
    }
}

fn cstr(p: &Path) -> std::ffi::CString {
    std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap()
}

/// Bind-mount `path` onto itself (it becomes a mount point of its own).
#[track_caller]
pub fn bind_onto_itself(path: impl AsRef<Path>) {
    let p = cstr(path.as_ref());
    // SAFETY: `p` is a valid NUL-terminated path, used as source and target; no data.
    let r = unsafe {
        libc::mount(
            p.as_ptr(),
            p.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND,
            std::ptr::null(),
        )
    };
    assert_eq!(
        r,
        0,
        "bind {} onto itself: {}",
        path.as_ref().display(),
        std::io::Error::last_os_error()
    );
}

/// `mount(NULL, path, NULL, flags, NULL)` (propagation changes).
#[track_caller]
pub fn mount_flags(path: impl AsRef<Path>, flags: libc::c_ulong) {
    let p = cstr(path.as_ref());
    // SAFETY: `p` is a valid NUL-terminated path; the null pointers are allowed for these flags.
    let r = unsafe {
        libc::mount(
            std::ptr::null(),
            p.as_ptr(),
            std::ptr::null(),
            flags,
            std::ptr::null(),
        )
    };
    assert_eq!(
        r,
        0,
        "mount flags {flags:#x} on {}: {}",
        path.as_ref().display(),
        std::io::Error::last_os_error()
    );
}

/// Mount a small tmpfs at `path` (in the calling thread's mount namespace).
#[track_caller]
pub fn mount_tmpfs(path: impl AsRef<Path>) {
    let p = cstr(path.as_ref());
    // SAFETY: all strings are valid and NUL-terminated for the call.
    let r = unsafe {
        libc::mount(
            c"tmpfs".as_ptr(),
            p.as_ptr(),
            c"tmpfs".as_ptr(),
            0,
            c"size=1m".as_ptr().cast(),
        )
    };
    assert_eq!(
        r,
        0,
        "mount tmpfs on {}: {}",
        path.as_ref().display(),
        std::io::Error::last_os_error()
    );
}

/// Lazily unmount `path`; errors ignored (cleanup).
pub fn detach(path: impl AsRef<Path>) {
    let p = cstr(path.as_ref());
    // SAFETY: `p` is a valid NUL-terminated path.
    unsafe { libc::umount2(p.as_ptr(), libc::MNT_DETACH) };
}

/// A name no other test uses, for paths on the host that must never appear.
pub fn unique_name(tag: &str) -> String {
    format!(
        "sangja-itest-{tag}-{}-{}",
        std::process::id(),
        sangja_integration::util::next_serial()
    )
}

/// What must not change on a host file: mode, owner, size, change time, contents.
pub fn fingerprint(p: &Path) -> (u32, u32, u32, u64, i64, i64, Vec<u8>) {
    let m = std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let data = if m.is_file() {
        std::fs::read(p).unwrap()
    } else {
        Vec::new()
    };
    (
        m.mode(),
        m.uid(),
        m.gid(),
        m.size(),
        m.ctime(),
        m.ctime_nsec(),
        data,
    )
}

/// What must not change on a host device node such as `/dev/null`: type and mode, owner, device
/// number. Not the ctime: a host may re-chown its /dev nodes on its own (this one does, every
/// few minutes), which would make a ctime check flaky.
pub fn device_fingerprint(p: &Path) -> (u32, u32, u32, u64) {
    let m = std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    (m.mode(), m.uid(), m.gid(), m.rdev())
}

/// Names in a host directory (sorted).
pub fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
