//! After the pivot: `linux.maskedPaths` (a file gets the container's `/dev/null` bound over it, a
//! directory a read-only tmpfs), `linux.readonlyPaths` (bound onto themselves, remounted
//! read-only), and `root.readonly`. Missing paths are skipped.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fstat, makedev, stat, Mode};

use super::flags::statvfs_to_mount_flags;
use super::resolve::proc_fd_path;
use crate::sys::open::openat;
use crate::sys::statvfs::fstatvfs_flags;

/// What readonly paths always get on top of what their mount has, as runc.
const READONLY: MsFlags = MsFlags::MS_RDONLY
    .union(MsFlags::MS_NOSUID)
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC);

/// The flags the mount holding `path` has now.
fn mount_flags(path: &Path) -> Result<MsFlags> {
    let fd = openat(None, path, OFlag::O_PATH, Mode::empty())
        .with_context(|| format!("open {}", path.display()))?;
    let st = fstatvfs_flags(fd.as_fd()).with_context(|| format!("statvfs {}", path.display()))?;
    Ok(statvfs_to_mount_flags(st))
}

/// Bind each path onto itself and remount it read-only.
pub fn make_readonly(paths: &[String]) -> Result<()> {
    for p in paths {
        readonly_one(Path::new(p)).with_context(|| format!("make {p} read-only"))?;
    }
    Ok(())
}

fn readonly_one(p: &Path) -> Result<()> {
    match mount(
        Some(p),
        p,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    ) {
        Ok(()) => {}
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(e).context("bind onto itself"),
    }
    let flags = mount_flags(p)? | READONLY | MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
    mount(None::<&str>, p, None::<&str>, flags, None::<&str>).context("remount")
}

/// Mask each path: `/dev/null` over files, an empty read-only tmpfs over directories.
pub fn mask(paths: &[String]) -> Result<()> {
    let mut null: Option<OwnedFd> = None;
    for p in paths {
        mask_one(Path::new(p), &mut null).with_context(|| format!("mask {p}"))?;
    }
    Ok(())
}

fn mask_one(p: &Path, null: &mut Option<OwnedFd>) -> Result<()> {
    let st = match stat(p) {
        Ok(st) => st,
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(e).context("stat"),
    };
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        return mount(
            Some("tmpfs"),
            p,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .context("mount read-only tmpfs");
    }
    let fd = match null {
        Some(fd) => fd,
        None => null.insert(open_null()?),
    };
    // Bind the very node we checked when /proc is there to name it, else the path.
    let src: PathBuf = if Path::new("/proc/self/fd").is_dir() {
        proc_fd_path(fd)
    } else {
        PathBuf::from("/dev/null")
    };
    mount(Some(&src), p, None::<&str>, MsFlags::MS_BIND, None::<&str>).context("bind /dev/null")
}

/// Open the container's `/dev/null` and make sure it is the null device (char 1:3), so a rootfs
/// cannot make us bind some other file over the masked paths.
fn open_null() -> Result<OwnedFd> {
    let fd = openat(None, "/dev/null", OFlag::O_PATH, Mode::empty()).context("open /dev/null")?;
    let st = fstat(fd.as_raw_fd()).context("stat /dev/null")?;
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR || st.st_rdev != makedev(1, 3) {
        bail!("/dev/null is not the null device (char 1:3)");
    }
    Ok(fd)
}

/// Remount `/` read-only, keeping the flags it has (nosuid, nodev, …).
pub fn readonly_root() -> Result<()> {
    let root = Path::new("/");
    let flags = mount_flags(root)? | MsFlags::MS_RDONLY | MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
    mount(None::<&str>, root, None::<&str>, flags, None::<&str>).context("remount / read-only")
}
