//! Entering the rootfs: `pivot_root(".", ".")` and a lazy unmount of the old root (no temporary
//! directory needed), or — with `no_pivot` — moving the rootfs mount onto `/` and chrooting.

use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nix::unistd::{chdir, chroot, fchdir, pivot_root};

use super::mountinfo::{self, MountInfo};
use super::resolve::Root;
use crate::sys::open::openat;

/// Make the rootfs `/` with pivot_root; afterwards cwd is `/` and the old root is gone.
pub fn pivot_into(root: &Root) -> Result<()> {
    let old = openat(
        None,
        "/",
        OFlag::O_DIRECTORY | OFlag::O_RDONLY,
        Mode::empty(),
    )
    .context("open old root")?;
    fchdir(root.fd().as_raw_fd()).context("chdir into rootfs")?;
    pivot_root(".", ".").context("pivot_root")?;
    // The old root is stacked under the new one at "."; go there explicitly (the kernel does not
    // promise where cwd is after pivot_root).
    fchdir(old.as_fd().as_raw_fd()).context("chdir to old root")?;
    // rslave first, so the unmount cannot propagate to the host.
    mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .context("make old root rslave")?;
    umount2(".", MntFlags::MNT_DETACH).context("detach old root")?;
    chdir("/").context("chdir /")?;
    Ok(())
}

/// Without pivot_root (e.g. a rootfs on ramfs): detach what the container should not reach, move
/// the rootfs mount onto `/`, chroot into it.
pub fn move_into(root: &Root) -> Result<()> {
    let rootfs = root.path();
    let mounts = mountinfo::read_self()?;
    for m in detachable(&mounts, rootfs).into_iter().rev() {
        detach_or_hide(m)?;
    }
    fchdir(root.fd().as_raw_fd()).context("chdir into rootfs")?;
    mount(
        Some(rootfs),
        "/",
        None::<&str>,
        MsFlags::MS_MOVE,
        None::<&str>,
    )
    .with_context(|| format!("move {} onto /", rootfs.display()))?;
    chroot(".").context("chroot")?;
    chdir("/").context("chdir /")?;
    Ok(())
}

/// Host mounts that are neither `/`, nor the rootfs or below it, nor above the rootfs.
fn detachable<'a>(mounts: &'a [MountInfo], rootfs: &Path) -> Vec<&'a MountInfo> {
    mounts
        .iter()
        .filter(|m| {
            let p = m.mount_point.as_path();
            p != Path::new("/") && !p.starts_with(rootfs) && !rootfs.starts_with(p)
        })
        .collect()
}

/// Lazily unmount a host mount; one that cannot be unmounted (locked in a user namespace) is,
/// when it is procfs or sysfs, covered with an empty read-only tmpfs as runc does.
fn detach_or_hide(m: &MountInfo) -> Result<()> {
    // Other failures are fine: a parent's detach may have taken the mount along already.
    if umount2(&m.mount_point, MntFlags::MNT_DETACH).is_ok() || !is_proc_or_sys(m) {
        return Ok(());
    }
    let hide = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    match mount(
        Some("tmpfs"),
        &m.mount_point,
        Some("tmpfs"),
        hide,
        None::<&str>,
    ) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("hide {}", m.mount_point.display())),
    }
}

fn is_proc_or_sys(m: &MountInfo) -> bool {
    m.fs_type == "proc" || m.fs_type == "sysfs"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detaches_only_unrelated_mounts() {
        let text = "\
1 0 0:1 / / rw - ext4 /dev/vda rw
2 1 0:2 / /proc rw - proc proc rw
3 1 0:3 / /var rw - tmpfs tmpfs rw
4 3 0:4 / /var/lib/c/rootfs rw - ext4 x rw
5 4 0:5 / /var/lib/c/rootfs/proc rw - proc proc rw
6 1 0:6 / /var2 rw - tmpfs tmpfs rw
";
        let m = mountinfo::parse(text);
        let d: Vec<u32> = detachable(&m, Path::new("/var/lib/c/rootfs"))
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(d, [2, 6]);
    }
}
