//! The new mount API calls nix does not wrap: `open_tree` (Linux 5.2), `move_mount` (5.2) and
//! `mount_setattr` (5.12). Used for recursive mount attributes (`rro`, …) and id-mapped mounts.
//! Each call retries EINTR and returns the bare errno so callers can branch on ENOSYS/EINVAL.

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;

/// `open_tree`: make a detached copy of the mount tree (a bind mount not yet attached anywhere).
pub const OPEN_TREE_CLONE: u32 = 1;
/// `AT_RECURSIVE`: take (or change) the submounts too.
pub const AT_RECURSIVE: u32 = 0x8000;
const AT_EMPTY_PATH: u32 = 0x1000;
const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;

/// `MOUNT_ATTR_*` bits of `mount_setattr`.
pub mod attr {
    pub const RDONLY: u64 = 0x1;
    pub const NOSUID: u64 = 0x2;
    pub const NODEV: u64 = 0x4;
    pub const NOEXEC: u64 = 0x8;
    /// The access-time mode field; to change it, clear all of it and set one mode.
    pub const ATIME_MASK: u64 = 0x70;
    pub const RELATIME: u64 = 0x0;
    pub const NOATIME: u64 = 0x10;
    pub const STRICTATIME: u64 = 0x20;
    pub const NODIRATIME: u64 = 0x80;
    pub const IDMAP: u64 = 0x10_0000;
    pub const NOSYMFOLLOW: u64 = 0x20_0000;
}

/// The kernel's `struct mount_attr` (version 0, 32 bytes).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

fn cstr(p: &Path) -> nix::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)
}

fn retry(mut f: impl FnMut() -> libc::c_long) -> nix::Result<libc::c_long> {
    loop {
        let r = f();
        if r >= 0 {
            return Ok(r);
        }
        match Errno::last() {
            Errno::EINTR => continue,
            e => return Err(e),
        }
    }
}

/// `open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC [| AT_RECURSIVE])`: a detached
/// copy of the mount at `path` (with its submounts when `recursive`), like a bind mount that is
/// not attached yet. `path` is followed like a bind source (symlinks resolved).
pub fn open_tree_clone(path: &Path, recursive: bool) -> nix::Result<OwnedFd> {
    let c = cstr(path)?;
    let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as u32;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    // SAFETY: `c` is a NUL-terminated string alive for the call; the other arguments are plain
    // integers. On success the kernel returns a new fd that nobody else owns.
    let fd = retry(|| unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::c_ulong::from(flags),
        )
    })?;
    let fd = i32::try_from(fd).map_err(|_| Errno::EBADF)?;
    // SAFETY: `fd` was just returned by open_tree and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `mount_setattr(fd, "", AT_EMPTY_PATH [| AT_RECURSIVE], …)`: set and clear `MOUNT_ATTR_*` bits
/// on the mount `fd` refers to (an `O_PATH` fd of a mount root, or a detached tree), and give it
/// the id mapping of the user namespace `userns` when `set` holds [`attr::IDMAP`].
pub fn mount_setattr(
    fd: BorrowedFd<'_>,
    recursive: bool,
    set: u64,
    clear: u64,
    userns: Option<BorrowedFd<'_>>,
) -> nix::Result<()> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: userns.map_or(0, |u| u.as_raw_fd() as u64),
    };
    let mut flags = AT_EMPTY_PATH;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    let empty = c"";
    // SAFETY: `empty` and `attr` outlive the call, `attr`'s size is passed; `fd` is a live
    // descriptor borrowed for the call.
    retry(|| unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            empty.as_ptr(),
            libc::c_ulong::from(flags),
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })
    .map(drop)
}

/// `move_mount(from, "", to, "", F_EMPTY_PATH | T_EMPTY_PATH)`: attach the detached tree `from`
/// onto the directory or file that `to` (an `O_PATH` fd) refers to.
pub fn move_mount_onto(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> nix::Result<()> {
    let empty = c"";
    let flags = MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH;
    // SAFETY: `empty` is a static NUL-terminated string; both fds are live for the call.
    retry(|| unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            empty.as_ptr(),
            to.as_raw_fd(),
            empty.as_ptr(),
            libc::c_ulong::from(flags),
        )
    })
    .map(drop)
}

const FSOPEN_CLOEXEC: libc::c_ulong = 0x1;
const FSMOUNT_CLOEXEC: libc::c_ulong = 0x1;
const FSCONFIG_SET_STRING: libc::c_ulong = 1;
const FSCONFIG_CMD_CREATE: libc::c_ulong = 6;

fn owned(fd: libc::c_long) -> nix::Result<OwnedFd> {
    let fd = i32::try_from(fd).map_err(|_| Errno::EBADF)?;
    // SAFETY: `fd` was just returned by the kernel as a new descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A filesystem context being configured (`fsopen`, Linux 5.2).
pub struct FsContext(OwnedFd);

impl FsContext {
    /// `fsopen(fstype, FSOPEN_CLOEXEC)`; ENODEV when the kernel lacks the filesystem.
    pub fn open(fstype: &std::ffi::CStr) -> nix::Result<FsContext> {
        // SAFETY: `fstype` is NUL-terminated and outlives the call.
        let fd =
            retry(|| unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), FSOPEN_CLOEXEC) })?;
        owned(fd).map(FsContext)
    }

    /// `fsconfig(FSCONFIG_SET_STRING, key, value)`.
    pub fn set_string(&self, key: &std::ffi::CStr, value: &std::ffi::CStr) -> nix::Result<()> {
        // SAFETY: both strings are NUL-terminated and outlive the call; the fd is ours.
        retry(|| unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                self.0.as_raw_fd(),
                FSCONFIG_SET_STRING,
                key.as_ptr(),
                value.as_ptr(),
                0,
            )
        })
        .map(drop)
    }

    /// `fsconfig(FSCONFIG_CMD_CREATE)` then `fsmount`: a detached mount of the new superblock
    /// with these `MOUNT_ATTR_*` bits; it is attached nowhere and goes away with its last fd.
    pub fn create_detached(self, attrs: u64) -> nix::Result<OwnedFd> {
        let none = std::ptr::null::<libc::c_char>();
        // SAFETY: CMD_CREATE takes no key or value (null pointers); the fd is ours.
        retry(|| unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                self.0.as_raw_fd(),
                FSCONFIG_CMD_CREATE,
                none,
                none,
                0,
            )
        })?;
        // SAFETY: plain integer arguments; the fd is ours.
        let fd = retry(|| unsafe {
            libc::syscall(
                libc::SYS_fsmount,
                self.0.as_raw_fd(),
                FSMOUNT_CLOEXEC,
                attrs as libc::c_ulong,
            )
        })?;
        owned(fd)
    }
}
