//! The config's `mounts`, in order: each destination is resolved (and created) inside the rootfs,
//! then mounted through `/proc/self/fd/N` so no symlink swapped in later can redirect it. Bind
//! mounts get a second, remounting call so `ro`/`nosuid`/… really apply; id-mapped binds are
//! attached from a detached tree (see `idmap`); recursive attributes (`rro`, …) are set with
//! `mount_setattr(AT_RECURSIVE)`; propagation words are applied last, one call each.
//!
//! Refused: a destination that resolves to the container root; `proc` or `sysfs` on anything but
//! a real directory (a symlink there could move `/proc` somewhere the later steps do not expect,
//! as runc refuses too).

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fstatat, mkdirat, Mode};
use nix::sys::statfs::{statfs, PROC_SUPER_MAGIC};
use oci_spec::runtime::{Mount, Spec};

use super::cgroup;
use super::copyup::mount_tmpfs_copyup;
use super::flags::{statvfs_to_mount_flags, MountOptions, RecAttrs};
use super::idmap::{self, PreparedMounts, UsernsCache};
use super::resolve::{proc_fd_path, Kind, Root};
use crate::sys::mount_api::{mount_setattr, move_mount_onto};
use crate::sys::open::openat;
use crate::sys::statvfs::fstatvfs_flags;

/// Files below `/proc` that may be mount targets (the ones lxcfs emulates), as runc allows.
const PROC_MOUNT_ALLOWED: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/pressure/cpu",
    "/proc/pressure/io",
    "/proc/pressure/memory",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
];

/// What mounting needs besides the rootfs and the mount list.
pub struct MountContext<'a> {
    /// The whole config (an id-mapped mount without maps takes the container's).
    pub spec: &'a Spec,
    /// Id-mapped trees made outside init, by mount index.
    pub prepared: PreparedMounts,
    /// Init is in a user namespace: id-mapped trees cannot be made here.
    pub in_userns: bool,
    /// The runtime's cgroup2 mount showing the whole hierarchy (see `cgroup::mount_cgroup`).
    pub host_cgroup2: Option<&'a Path>,
    usernss: UsernsCache,
}

impl<'a> MountContext<'a> {
    pub fn new(spec: &'a Spec, prepared: PreparedMounts, in_userns: bool) -> Self {
        MountContext {
            spec,
            prepared,
            in_userns,
            host_cgroup2: None,
            usernss: UsernsCache::default(),
        }
    }
}

/// Mount every entry of `mounts` in config order; errors name the destination.
pub fn mount_all(root: &Root, mounts: &[Mount], ctx: &mut MountContext) -> Result<()> {
    for (i, m) in mounts.iter().enumerate() {
        mount_one(root, i, m, ctx)
            .with_context(|| format!("mount {}", m.destination().display()))?;
    }
    Ok(())
}

/// True if the mount is a bind mount (`bind`/`rbind` option or type `bind`).
pub fn is_bind(m: &Mount) -> bool {
    m.typ().as_deref() == Some("bind")
        || MountOptions::parse(m.options().as_deref().unwrap_or(&[])).is_bind()
}

fn mount_one(root: &Root, index: usize, m: &Mount, ctx: &mut MountContext) -> Result<()> {
    let dest = m.destination();
    let typ = m.typ().as_deref().unwrap_or("");
    let mut opts = MountOptions::parse(m.options().as_deref().unwrap_or(&[]));
    let source = m.source().as_deref();
    if typ == "bind" {
        opts.set |= MsFlags::MS_BIND;
    }
    if opts.is_bind() {
        let src = source.ok_or_else(|| anyhow!("bind mount without a source"))?;
        let meta = std::fs::metadata(src)
            .with_context(|| format!("stat bind source {}", src.display()))?;
        let kind = if meta.is_dir() { Kind::Dir } else { Kind::File };
        let target = root.ensure(dest, kind)?;
        check_destination(root, &target, src_is_proc(src))?;
        let tree = match idmap::wanted(m, &opts) {
            Some(how) => Some(idmapped_tree(index, m, src, how, opts.is_recursive(), ctx)?),
            None => None,
        };
        bind_with(root, dest, src, &target, &opts, tree)?;
    } else {
        if typ.is_empty() {
            bail!("no mount type");
        }
        if opts.idmap.is_some() {
            bail!("idmap and ridmap are only supported on bind mounts");
        }
        let target = match typ {
            "proc" | "sysfs" => real_directory(root, dest, typ)?,
            _ => root.ensure(dest, Kind::Dir)?,
        };
        check_destination(root, &target, typ == "proc")?;
        match typ {
            "cgroup" | "cgroup2" => cgroup::mount_cgroup(root, dest, &target, &opts, ctx)?,
            "sysfs" => mount_sysfs(root, dest, source, &target, &opts)?,
            "tmpfs" if opts.tmpcopyup => mount_tmpfs_copyup(root, dest, source, &target, &opts)?,
            _ if opts.tmpcopyup => bail!("tmpcopyup is only supported on tmpfs"),
            _ => {
                let src = source.map_or(Path::new(typ), |s| s);
                mount_fs(src, &target, typ, &opts)?
            }
        }
    }
    apply_recursive(root, dest, opts.rec)?;
    apply_propagation(root, dest, &opts.propagation)
}

/// The id-mapped tree for `mounts[index]`: handed in by the parent, or made here when init is
/// privileged over the host's filesystems (no user namespace of its own).
fn idmapped_tree(
    index: usize,
    m: &Mount,
    src: &Path,
    how: super::flags::Idmap,
    rbind: bool,
    ctx: &mut MountContext,
) -> Result<OwnedFd> {
    if let Some(tree) = ctx.prepared.take(index) {
        return Ok(tree);
    }
    if ctx.in_userns {
        bail!(
            "id-mapped mounts in a container with a user namespace must be prepared by the \
             runtime before init enters it (not supported yet)"
        );
    }
    let (u, g) = idmap::mappings(m, ctx.spec)?;
    let userns = ctx.usernss.get(&u, &g)?;
    idmap::idmapped_tree(src, how, rbind, userns)
}

/// For `proc` and `sysfs`: the destination must be a directory, not a symlink or a file; a
/// missing one is created. The last component is looked at without following it, whichever way
/// paths are resolved.
fn real_directory(root: &Root, dest: &Path, typ: &str) -> Result<OwnedFd> {
    let (parent, name) = root.parent_and_name(dest)?;
    let dir = Some(parent.as_raw_fd());
    match fstatat(dir, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => {}
            libc::S_IFLNK => bail!(
                "{} is a symlink; {typ} must be mounted on a real directory",
                dest.display()
            ),
            _ => bail!(
                "{} is not a directory; {typ} must be mounted on a directory",
                dest.display()
            ),
        },
        Err(Errno::ENOENT) => match mkdirat(dir, name.as_os_str(), Mode::from_bits_truncate(0o755))
        {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e).with_context(|| format!("mkdir {}", dest.display())),
        },
        Err(e) => return Err(e).with_context(|| format!("stat {}", dest.display())),
    }
    openat(
        Some(parent.as_fd()),
        name.as_os_str(),
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW,
        Mode::empty(),
    )
    .with_context(|| format!("open {}", dest.display()))
}

/// Mount a filesystem of type `typ` onto `target` with the options' flags and data.
fn mount_fs(source: &Path, target: &OwnedFd, typ: &str, opts: &MountOptions) -> Result<()> {
    let data = (!opts.data.is_empty()).then_some(opts.data.as_str());
    mount(
        Some(source),
        &proc_fd_path(target),
        Some(typ),
        opts.mount_attrs(),
        data,
    )
    .with_context(|| format!("mount {typ} from {}", source.display()))
}

/// sysfs; in a user namespace without its own network namespace the kernel refuses (EPERM), and,
/// like runc, the host's `/sys` is bind-mounted recursively instead.
fn mount_sysfs(
    root: &Root,
    dest: &Path,
    source: Option<&Path>,
    target: &OwnedFd,
    opts: &MountOptions,
) -> Result<()> {
    let src = source.unwrap_or(Path::new("sysfs"));
    match mount_fs(src, target, "sysfs", opts) {
        Err(e) if e.downcast_ref::<Errno>() == Some(&Errno::EPERM) => {
            let mut rbind = opts.clone();
            rbind.set |= MsFlags::MS_BIND | MsFlags::MS_REC;
            bind(root, dest, Path::new("/sys"), target, &rbind)
                .context("sysfs not permitted; rbind host /sys instead")
        }
        other => other,
    }
}

/// Bind `src` onto `target` (recursively for `rbind`), then remount with the options' flags
/// when there are any, keeping the flags the new mount already has unless the options clear them.
pub fn bind(
    root: &Root,
    dest: &Path,
    src: &Path,
    target: &OwnedFd,
    opts: &MountOptions,
) -> Result<()> {
    bind_with(root, dest, src, target, opts, None)
}

/// [`bind`], attaching the detached (id-mapped) `tree` instead of binding `src` when given.
fn bind_with(
    root: &Root,
    dest: &Path,
    src: &Path,
    target: &OwnedFd,
    opts: &MountOptions,
    tree: Option<OwnedFd>,
) -> Result<()> {
    match tree {
        Some(tree) => move_mount_onto(tree.as_fd(), target.as_fd())
            .with_context(|| format!("attach id-mapped {}", src.display()))?,
        None => {
            let flags = if opts.is_recursive() {
                MsFlags::MS_BIND | MsFlags::MS_REC
            } else {
                MsFlags::MS_BIND
            };
            mount(
                Some(src),
                &proc_fd_path(target),
                None::<&str>,
                flags,
                None::<&str>,
            )
            .with_context(|| format!("bind {}", src.display()))?
        }
    }
    if !opts.needs_remount() {
        return Ok(());
    }
    // Reopen: the old fd is the directory under the new mount, not the mount itself.
    let mounted = reopen(root, dest)?;
    let current = fstatvfs_flags(mounted.as_fd()).context("statvfs of the bind mount")?;
    let flags = opts.remount_flags(statvfs_to_mount_flags(current));
    mount(
        None::<&str>,
        &proc_fd_path(&mounted),
        None::<&str>,
        flags,
        None::<&str>,
    )
    .context("remount bind mount with its options")
}

/// Set the recursive attributes (`rro`, `rnosuid`, …) on the mount now at `dest` and below it.
fn apply_recursive(root: &Root, dest: &Path, rec: RecAttrs) -> Result<()> {
    if rec.is_empty() {
        return Ok(());
    }
    let mounted = reopen(root, dest)?;
    mount_setattr(mounted.as_fd(), true, rec.set, rec.clear, None).map_err(|e| match e {
        Errno::ENOSYS => anyhow!("recursive mount options need mount_setattr (Linux 5.12)"),
        e => anyhow!("mount_setattr(AT_RECURSIVE): {e}"),
    })
}

/// Apply each propagation change to the mount now at `dest`.
fn apply_propagation(root: &Root, dest: &Path, changes: &[MsFlags]) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let mounted = reopen(root, dest)?;
    for &p in changes {
        mount(
            None::<&str>,
            &proc_fd_path(&mounted),
            None::<&str>,
            p,
            None::<&str>,
        )
        .with_context(|| format!("set propagation {p:?}"))?;
    }
    Ok(())
}

fn reopen(root: &Root, dest: &Path) -> Result<OwnedFd> {
    root.open_path(dest, OFlag::O_PATH)
        .with_context(|| format!("reopen {}", dest.display()))
}

fn src_is_proc(src: &Path) -> bool {
    statfs(src).is_ok_and(|s| s.filesystem_type() == PROC_SUPER_MAGIC)
}

/// Refuse a destination that is the container root itself, and mounts that would fake `/proc`
/// (later steps write there) or cover files in it, as runc does: `/proc` itself takes only
/// procfs, below it only the files lxcfs emulates.
fn check_destination(root: &Root, target: &OwnedFd, is_proc: bool) -> Result<()> {
    let real = root.container_path(target)?;
    if real == Path::new("/") {
        bail!("the destination resolves to the container root, which cannot be mounted over");
    }
    check_proc_path(&real, is_proc)
}

fn check_proc_path(real: &Path, is_proc: bool) -> Result<()> {
    if real == Path::new("/proc") {
        if !is_proc {
            bail!("only a proc filesystem may be mounted on /proc");
        }
    } else if real.starts_with("/proc") && !PROC_MOUNT_ALLOWED.iter().any(|a| real == Path::new(a))
    {
        bail!(
            "{} is inside /proc and may not be a mount target",
            real.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_destinations() {
        assert!(check_proc_path(Path::new("/proc"), true).is_ok());
        assert!(check_proc_path(Path::new("/proc"), false).is_err());
        assert!(check_proc_path(Path::new("/proc/meminfo"), false).is_ok());
        assert!(check_proc_path(Path::new("/proc/sys/kernel/core_pattern"), false).is_err());
        assert!(check_proc_path(Path::new("/process"), false).is_ok());
        assert!(check_proc_path(Path::new("/sys"), false).is_ok());
    }

    #[test]
    fn bind_detection() {
        let m = |json: &str| serde_json::from_str::<Mount>(json).unwrap();
        assert!(is_bind(&m(
            r#"{"destination":"/a","type":"bind","source":"/x"}"#
        )));
        assert!(is_bind(&m(
            r#"{"destination":"/a","type":"none","source":"/x","options":["rbind","ro"]}"#
        )));
        assert!(!is_bind(&m(r#"{"destination":"/a","type":"tmpfs"}"#)));
    }
}
