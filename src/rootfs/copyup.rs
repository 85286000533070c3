//! `tmpcopyup`: a tmpfs mounted over a rootfs directory starts with a copy of what was there
//! (directories, files, symlinks and device nodes, with their modes and owners; hard links become
//! copies). The copy reads the old directory through an fd opened before the mount, and every
//! entry is opened relative to its parent with `O_NOFOLLOW`, so the rootfs cannot redirect it.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use anyhow::{bail, Context, Result};
use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fchmod, fchmodat, fstat, fstatat, mkdirat, mknodat, FchmodatFlags, Mode};
use nix::sys::stat::{FileStat, SFlag};
use nix::unistd::{fchown, fchownat, symlinkat, Gid, Uid};

use super::flags::MountOptions;
use super::resolve::{proc_fd_path, Root};
use crate::sys::open::openat;

/// How deep a directory tree may be copied.
const MAX_DEPTH: usize = 128;

/// Mount a tmpfs at `target` (the resolved `dest`) and copy the directory's old contents in.
/// Read-only is applied after the copy; the tmpfs root gets the old directory's mode and owner
/// unless the options give `mode=`, `uid=` or `gid=`.
pub fn mount_tmpfs_copyup(
    root: &Root,
    dest: &Path,
    source: Option<&Path>,
    target: &OwnedFd,
    opts: &MountOptions,
) -> Result<()> {
    let old = openat(
        Some(target.as_fd()),
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY,
        Mode::empty(),
    )
    .context("tmpcopyup: open the directory to copy")?;
    let data = (!opts.data.is_empty()).then_some(opts.data.as_str());
    let flags = opts.mount_attrs() - MsFlags::MS_RDONLY;
    let src = source.unwrap_or(Path::new("tmpfs"));
    mount(Some(src), &proc_fd_path(target), Some("tmpfs"), flags, data)
        .with_context(|| format!("mount tmpfs from {}", src.display()))?;
    let new = root
        .open_path(dest, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
        .context("tmpcopyup: open the new tmpfs")?;
    copy_dir(&old, &new, 0).context("tmpcopyup")?;
    let st = fstat(old.as_raw_fd()).context("tmpcopyup: stat the old directory")?;
    let given = |key: &str| opts.data.split(',').any(|w| w.starts_with(key));
    if !given("mode=") {
        fchmod(new.as_raw_fd(), mode_of(&st)).context("tmpcopyup: chmod the tmpfs root")?;
    }
    if !given("uid=") && !given("gid=") {
        chown_tolerant(fchown(new.as_raw_fd(), uid(&st), gid(&st)))
            .context("tmpcopyup: chown the tmpfs root")?;
    }
    if opts.set.contains(MsFlags::MS_RDONLY) {
        mount(
            None::<&str>,
            &proc_fd_path(&new),
            None::<&str>,
            opts.mount_attrs() | MsFlags::MS_REMOUNT,
            data,
        )
        .context("remount the tmpfs read-only")?;
    }
    Ok(())
}

fn mode_of(st: &FileStat) -> Mode {
    Mode::from_bits_truncate(st.st_mode & 0o7777)
}

fn uid(st: &FileStat) -> Option<Uid> {
    Some(Uid::from_raw(st.st_uid))
}

fn gid(st: &FileStat) -> Option<Gid> {
    Some(Gid::from_raw(st.st_gid))
}

/// An owner with no mapping in our user namespace (EINVAL) is left as the copy's default.
fn chown_tolerant(r: nix::Result<()>) -> nix::Result<()> {
    match r {
        Err(Errno::EINVAL) => Ok(()),
        other => other,
    }
}

/// Copy the entries of directory `from` into directory `to`.
fn copy_dir(from: &OwnedFd, to: &OwnedFd, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        bail!("directory tree deeper than {MAX_DEPTH} levels");
    }
    let dup = nix::unistd::dup(from.as_raw_fd()).context("dup")?;
    let mut dir = Dir::from_fd(dup).context("read directory")?;
    let names: Vec<std::ffi::CString> = dir
        .iter()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
        .collect();
    for name in names {
        copy_entry(from, to, &name, depth)
            .with_context(|| format!("copy {}", name.to_string_lossy()))?;
    }
    Ok(())
}

fn copy_entry(from: &OwnedFd, to: &OwnedFd, name: &std::ffi::CStr, depth: usize) -> Result<()> {
    let (src, dst) = (Some(from.as_raw_fd()), Some(to.as_raw_fd()));
    let st = fstatat(src, name, AtFlags::AT_SYMLINK_NOFOLLOW).context("stat")?;
    let kind = SFlag::from_bits_truncate(st.st_mode & libc::S_IFMT);
    let dir_flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW;
    match kind {
        SFlag::S_IFDIR => {
            mkdirat(dst, name, Mode::from_bits_truncate(0o700)).context("mkdir")?;
            let sub_from = openat(Some(from.as_fd()), name, dir_flags, Mode::empty())?;
            let sub_to = openat(Some(to.as_fd()), name, dir_flags, Mode::empty())?;
            copy_dir(&sub_from, &sub_to, depth + 1)?;
            fchmod(sub_to.as_raw_fd(), mode_of(&st)).context("chmod")?;
            chown_tolerant(fchown(sub_to.as_raw_fd(), uid(&st), gid(&st))).context("chown")?;
        }
        SFlag::S_IFREG => {
            let r = openat(
                Some(from.as_fd()),
                name,
                OFlag::O_RDONLY | OFlag::O_NOFOLLOW,
                Mode::empty(),
            )?;
            let w = openat(
                Some(to.as_fd()),
                name,
                OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW,
                Mode::from_bits_truncate(0o600),
            )?;
            let (mut r, mut w) = (File::from(r), File::from(w));
            std::io::copy(&mut r, &mut w).context("copy contents")?;
            fchmod(w.as_raw_fd(), mode_of(&st)).context("chmod")?;
            chown_tolerant(fchown(w.as_raw_fd(), uid(&st), gid(&st))).context("chown")?;
        }
        SFlag::S_IFLNK => {
            let target = nix::fcntl::readlinkat(src, name).context("readlink")?;
            symlinkat(target.as_os_str(), dst, name).context("symlink")?;
            let no_follow = AtFlags::AT_SYMLINK_NOFOLLOW;
            chown_tolerant(fchownat(dst, name, uid(&st), gid(&st), no_follow)).context("chown")?;
        }
        SFlag::S_IFCHR | SFlag::S_IFBLK | SFlag::S_IFIFO => {
            mknodat(dst, name, kind, mode_of(&st), st.st_rdev).context("mknod")?;
            fchmodat(dst, name, mode_of(&st), FchmodatFlags::NoFollowSymlink).context("chmod")?;
            let no_follow = AtFlags::AT_SYMLINK_NOFOLLOW;
            chown_tolerant(fchownat(dst, name, uid(&st), gid(&st), no_follow)).context("chown")?;
        }
        // Sockets mean nothing without their server.
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};

    fn dirfd(p: &Path) -> OwnedFd {
        openat(None, p, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty()).unwrap()
    }

    #[test]
    fn copies_a_tree_with_modes_and_links() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        std::fs::create_dir_all(a.join("sub/deeper")).unwrap();
        std::fs::create_dir(&b).unwrap();
        std::fs::write(a.join("file"), "contents").unwrap();
        std::fs::set_permissions(a.join("file"), std::fs::Permissions::from_mode(0o640)).unwrap();
        std::fs::set_permissions(a.join("sub"), std::fs::Permissions::from_mode(0o711)).unwrap();
        std::fs::write(a.join("sub/deeper/x"), "x").unwrap();
        symlink("/etc/passwd", a.join("abs")).unwrap();
        symlink("../file", a.join("sub/rel")).unwrap();
        copy_dir(&dirfd(&a), &dirfd(&b), 0).unwrap();
        assert_eq!(std::fs::read_to_string(b.join("file")).unwrap(), "contents");
        let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().mode() & 0o7777;
        assert_eq!(mode(&b.join("file")), 0o640);
        assert_eq!(mode(&b.join("sub")), 0o711);
        assert_eq!(
            std::fs::read_to_string(b.join("sub/deeper/x")).unwrap(),
            "x"
        );
        assert_eq!(
            std::fs::read_link(b.join("abs")).unwrap(),
            Path::new("/etc/passwd")
        );
        assert_eq!(
            std::fs::read_link(b.join("sub/rel")).unwrap(),
            Path::new("../file")
        );
        // The link was copied as a link, not followed.
        assert!(std::fs::symlink_metadata(b.join("abs"))
            .unwrap()
            .file_type()
            .is_symlink());
    }
}
