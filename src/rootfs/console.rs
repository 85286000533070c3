//! `/dev/console` for a container with a terminal: the pty slave bind-mounted onto an empty file
//! at `/dev/console`, as runc does. Called by init after the pivot (the slave path is inside the
//! container's own devpts), before `finish` makes the root read-only.
//!
//! Checked, so a rootfs cannot make us bind something else or write outside `/dev`: the slave
//! must be a pty slave (char major 136–143) on a devpts filesystem; `/dev` must be a real
//! directory (not a symlink); whatever is at `/dev/console` that is not a regular file (a symlink
//! planted by the image, a device node) is removed first, never followed.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fstat, fstatat, major, Mode};
use nix::sys::statfs::{fstatfs, DEVPTS_SUPER_MAGIC};
use nix::unistd::{unlinkat, UnlinkatFlags};

use super::resolve::proc_fd_path;
use crate::sys::open::openat;

/// Char majors of Unix98 pty slaves (`UNIX98_PTY_SLAVE_MAJOR` and the 7 after it).
const PTY_SLAVE_MAJORS: std::ops::RangeInclusive<u64> = 136..=143;

/// Bind the pty slave at `slave` (e.g. `/dev/pts/0`, a path in the container, after the pivot)
/// onto `/dev/console`, creating `/dev/console` as an empty file.
pub fn bind_console(slave: &Path) -> Result<()> {
    bind_console_in(Path::new("/"), slave)
}

/// [`bind_console`] with the container root at `base` (tests use a tempdir); `slave` is still
/// opened as given.
pub fn bind_console_in(base: &Path, slave: &Path) -> Result<()> {
    let pty = open_slave(slave).with_context(|| format!("console {}", slave.display()))?;
    let dev_path = base.join("dev");
    let dev = openat(
        None,
        &dev_path,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW,
        Mode::empty(),
    )
    .with_context(|| format!("open {} (it must be a directory)", dev_path.display()))?;
    let console = console_file(&dev).context("prepare /dev/console")?;
    // Through /proc/self/fd when there is a /proc (names the very inodes we checked).
    let (src, dst): (PathBuf, PathBuf) = if Path::new("/proc/self/fd").is_dir() {
        (proc_fd_path(&pty), proc_fd_path(&console))
    } else {
        (slave.to_path_buf(), dev_path.join("console"))
    };
    mount(
        Some(&src),
        &dst,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .with_context(|| format!("bind {} onto /dev/console", slave.display()))
}

fn open_slave(slave: &Path) -> Result<OwnedFd> {
    let fd = openat(
        None,
        slave,
        OFlag::O_PATH | OFlag::O_NOFOLLOW,
        Mode::empty(),
    )
    .context("open the pty slave")?;
    let st = fstat(fd.as_raw_fd()).context("stat the pty slave")?;
    let is_chr = st.st_mode & libc::S_IFMT == libc::S_IFCHR;
    if !is_chr || !PTY_SLAVE_MAJORS.contains(&major(st.st_rdev)) {
        bail!("not a pty slave device");
    }
    let fs = fstatfs(fd.as_fd()).context("statfs the pty slave")?;
    if fs.filesystem_type() != DEVPTS_SUPER_MAGIC {
        bail!("not on a devpts filesystem");
    }
    Ok(fd)
}

/// An `O_PATH` fd of the regular file `console` in `dev`, created (mode 0600) when missing;
/// anything else there but a directory is unlinked first.
fn console_file(dev: &OwnedFd) -> Result<OwnedFd> {
    let d = Some(dev.as_raw_fd());
    match fstatat(d, "console", AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFREG => {}
        Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => {
            bail!("/dev/console is a directory")
        }
        Ok(_) => {
            unlinkat(d, "console", UnlinkatFlags::NoRemoveDir).context("remove /dev/console")?;
            create(dev)?;
        }
        Err(Errno::ENOENT) => create(dev)?,
        Err(e) => return Err(e).context("stat /dev/console"),
    }
    let fd = openat(
        Some(dev.as_fd()),
        "console",
        OFlag::O_PATH | OFlag::O_NOFOLLOW,
        Mode::empty(),
    )
    .context("open /dev/console")?;
    let st = fstat(fd.as_raw_fd()).context("stat /dev/console")?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        bail!("/dev/console changed under us");
    }
    Ok(fd)
}

fn create(dev: &OwnedFd) -> Result<()> {
    match openat(
        Some(dev.as_fd()),
        "console",
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW,
        Mode::from_bits_truncate(0o600),
    ) {
        Ok(_) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(e).context("create /dev/console"),
    }
}
