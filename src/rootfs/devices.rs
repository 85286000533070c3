//! `/dev`: the default device nodes (null, zero, full, random, urandom, tty), every
//! `linux.devices` entry, and the standard symlinks. Nodes are made with mknod inside the rootfs;
//! where mknod is not permitted (user namespace) the host node is bind-mounted onto an empty file
//! instead, and such a host node is never chowned or chmodded.

use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fstatat, makedev, mknodat, umask, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Mount};

use super::mounts::is_bind;
use super::resolve::{proc_fd_path, Root};
use crate::sys::open::openat;

/// One device node to create in the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceNode {
    /// Container path, e.g. `/dev/null`.
    pub path: PathBuf,
    /// `S_IFCHR`, `S_IFBLK` or `S_IFIFO`.
    pub kind: SFlag,
    pub major: u64,
    pub minor: u64,
    /// Permission bits only.
    pub mode: Mode,
    pub uid: u32,
    pub gid: u32,
}

impl DeviceNode {
    fn chr(path: &str, major: u64, minor: u64) -> DeviceNode {
        DeviceNode {
            path: PathBuf::from(path),
            kind: SFlag::S_IFCHR,
            major,
            minor,
            mode: Mode::from_bits_truncate(0o666),
            uid: 0,
            gid: 0,
        }
    }

    /// A `linux.devices` entry; `fileMode` defaults to 0666 and owner to root, as runc does.
    pub fn from_spec(d: &LinuxDevice) -> Result<DeviceNode> {
        let path = d.path().clone();
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            LinuxDeviceType::A => bail!("device {}: type \"a\" is not a node", path.display()),
        };
        let num = |v: i64, what: &str| {
            u64::try_from(v).with_context(|| format!("device {}: {what} {v}", path.display()))
        };
        let (major, minor) = if kind == SFlag::S_IFIFO {
            (0, 0)
        } else {
            (num(d.major(), "major")?, num(d.minor(), "minor")?)
        };
        Ok(DeviceNode {
            kind,
            major,
            minor,
            mode: Mode::from_bits_truncate(d.file_mode().unwrap_or(0o666) & 0o7777),
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
            path,
        })
    }

    /// The device number.
    pub fn dev(&self) -> libc::dev_t {
        makedev(self.major, self.minor)
    }

    /// Whether an existing node with this `st_mode`/`st_rdev` already is this device.
    fn is_same(&self, st_mode: u32, st_rdev: libc::dev_t) -> bool {
        st_mode & libc::S_IFMT == self.kind.bits()
            && (self.kind == SFlag::S_IFIFO || st_rdev == self.dev())
    }
}

/// runc's default devices: char, mode 0666, owned by root.
pub fn default_devices() -> Vec<DeviceNode> {
    vec![
        DeviceNode::chr("/dev/null", 1, 3),
        DeviceNode::chr("/dev/zero", 1, 5),
        DeviceNode::chr("/dev/full", 1, 7),
        DeviceNode::chr("/dev/random", 1, 8),
        DeviceNode::chr("/dev/urandom", 1, 9),
        DeviceNode::chr("/dev/tty", 5, 0),
    ]
}

/// The defaults plus `linux.devices`; a config entry replaces a default with the same path.
pub fn plan(spec_devices: &[LinuxDevice]) -> Result<Vec<DeviceNode>> {
    let mut nodes = default_devices();
    for d in spec_devices {
        let n = DeviceNode::from_spec(d)?;
        match nodes.iter_mut().find(|o| o.path == n.path) {
            Some(o) => *o = n,
            None => nodes.push(n),
        }
    }
    Ok(nodes)
}

/// `/dev` is set up by us unless the config bind-mounts it.
pub fn needs_dev_setup(mounts: &[Mount]) -> bool {
    !mounts
        .iter()
        .any(|m| is_bind(m) && clean(m.destination()) == Path::new("/dev"))
}

fn clean(p: &Path) -> PathBuf {
    Path::new("/").join(
        p.components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .collect::<PathBuf>(),
    )
}

/// Restores the umask when dropped.
struct UmaskGuard(Mode);

impl Drop for UmaskGuard {
    fn drop(&mut self) {
        umask(self.0);
    }
}

/// Create the device nodes and the `/dev` symlinks. `bind_only`: do not try mknod (user namespace).
pub fn setup_dev(root: &Root, spec_devices: &[LinuxDevice], bind_only: bool) -> Result<()> {
    let nodes = plan(spec_devices)?;
    let _umask = UmaskGuard(umask(Mode::empty()));
    for n in &nodes {
        create(root, n, bind_only)
            .with_context(|| format!("create device {}", n.path.display()))?;
    }
    symlinks(root)
}

fn create(root: &Root, n: &DeviceNode, bind_only: bool) -> Result<()> {
    let (parent, name) = root.parent_and_name(&n.path)?;
    if !bind_only {
        match make_node(&parent, &name, n) {
            Err(Errno::EPERM) => {}
            other => return other.context("mknod"),
        }
    }
    bind_host_node(&parent, &name, n)
}

/// mknod, then chown to the configured owner. An existing node that already is this device is
/// left alone (it may be a host node bind-mounted by the config); anything else is replaced.
fn make_node(parent: &OwnedFd, name: &OsStr, n: &DeviceNode) -> nix::Result<()> {
    let dir = Some(parent.as_raw_fd());
    match mknodat(dir, name, n.kind, n.mode, n.dev()) {
        Ok(()) => {}
        Err(Errno::EEXIST) => {
            let st = fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
            if n.is_same(st.st_mode, st.st_rdev) {
                return Ok(());
            }
            unlinkat(dir, name, UnlinkatFlags::NoRemoveDir)?;
            mknodat(dir, name, n.kind, n.mode, n.dev())?;
        }
        Err(e) => return Err(e),
    }
    fchownat(
        dir,
        name,
        Some(Uid::from_raw(n.uid)),
        Some(Gid::from_raw(n.gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
}

/// Bind the host's node at the same path onto an empty file in the container. A symlink there
/// (planted by the image) is replaced by the file, never followed; a directory is refused.
fn bind_host_node(parent: &OwnedFd, name: &OsStr, n: &DeviceNode) -> Result<()> {
    let dir = Some(parent.as_raw_fd());
    match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => bail!("bind target is a directory"),
        Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFLNK => {
            unlinkat(dir, name, UnlinkatFlags::NoRemoveDir).context("remove symlink")?;
        }
        Ok(_) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(e).context("stat bind target"),
    }
    match openat(
        Some(parent.as_fd()),
        name,
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW,
        Mode::from_bits_truncate(0o644),
    ) {
        Ok(_) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(e).context("create bind target"),
    }
    let target = openat(
        Some(parent.as_fd()),
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW,
        Mode::empty(),
    )
    .context("open bind target")?;
    let st = nix::sys::stat::fstat(target.as_raw_fd()).context("stat bind target")?;
    if st.st_mode & libc::S_IFMT == libc::S_IFLNK || st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        bail!("bind target is not a file");
    }
    mount(
        Some(&n.path),
        &proc_fd_path(&target),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .with_context(|| format!("bind host {}", n.path.display()))
}

/// `/dev/fd`, `/dev/std{in,out,err}`, `/dev/core` (only when `/proc/kcore` exists, as runc), and
/// `/dev/ptmx -> pts/ptmx` when nothing is at `/dev/ptmx` yet. Existing entries are kept.
fn symlinks(root: &Root) -> Result<()> {
    let dev = root.mkdir_all(Path::new("/dev")).context("open /dev")?;
    let dir = Some(dev.as_raw_fd());
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
        ("pts/ptmx", "ptmx"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    for (target, name) in links {
        match symlinkat(target, dir, name) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e).with_context(|| format!("symlink /dev/{name} -> {target}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(json: &str) -> LinuxDevice {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn spec_device_to_node() {
        let n = DeviceNode::from_spec(&dev(
            r#"{"path":"/dev/fuse","type":"c","major":10,"minor":229,"fileMode":8630,"uid":1000,"gid":5}"#,
        ))
        .unwrap();
        assert_eq!(n.kind, SFlag::S_IFCHR);
        assert_eq!(n.mode.bits(), 0o666); // 8630 = 0o20666: the type bits are dropped
        assert_eq!(n.dev(), libc::makedev(10, 229));
        assert_eq!((n.uid, n.gid), (1000, 5));

        let n = DeviceNode::from_spec(&dev(
            r#"{"path":"/dev/sda","type":"b","major":8,"minor":0}"#,
        ))
        .unwrap();
        assert_eq!(
            (n.kind, n.mode.bits(), n.uid, n.gid),
            (SFlag::S_IFBLK, 0o666, 0, 0)
        );
        assert_eq!(nix::sys::stat::major(n.dev()), 8);

        let n = DeviceNode::from_spec(&dev(r#"{"path":"/dev/p","type":"p","major":3,"minor":3}"#))
            .unwrap();
        assert_eq!((n.kind, n.dev()), (SFlag::S_IFIFO, 0));

        let u = DeviceNode::from_spec(&dev(
            r#"{"path":"/dev/u","type":"u","major":1,"minor":2,"fileMode":384}"#,
        ))
        .unwrap();
        assert_eq!((u.kind, u.mode.bits()), (SFlag::S_IFCHR, 0o600));

        assert!(DeviceNode::from_spec(&dev(r#"{"path":"/dev/a","type":"a"}"#)).is_err());
        assert!(DeviceNode::from_spec(&dev(
            r#"{"path":"/dev/n","type":"c","major":-1,"minor":0}"#
        ))
        .is_err());
    }

    #[test]
    fn defaults_and_overrides() {
        let d = default_devices();
        let names: Vec<_> = d.iter().map(|n| n.path.to_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "/dev/null",
                "/dev/zero",
                "/dev/full",
                "/dev/random",
                "/dev/urandom",
                "/dev/tty"
            ]
        );
        assert!(d
            .iter()
            .all(|n| n.kind == SFlag::S_IFCHR && n.mode.bits() == 0o666));
        assert_eq!(d[0].dev(), libc::makedev(1, 3));
        assert_eq!(d[5].dev(), libc::makedev(5, 0));

        let p = plan(&[
            dev(r#"{"path":"/dev/null","type":"c","major":1,"minor":3,"fileMode":438,"uid":7}"#),
            dev(r#"{"path":"/dev/net/tun","type":"c","major":10,"minor":200}"#),
        ])
        .unwrap();
        assert_eq!(p.len(), 7);
        assert_eq!(p[0].uid, 7);
        assert_eq!(p[6].path, Path::new("/dev/net/tun"));
    }

    #[test]
    fn same_device_check() {
        let n = DeviceNode::chr("/dev/null", 1, 3);
        assert!(n.is_same(libc::S_IFCHR | 0o666, libc::makedev(1, 3)));
        assert!(!n.is_same(libc::S_IFCHR | 0o666, libc::makedev(1, 5)));
        assert!(!n.is_same(libc::S_IFREG | 0o666, 0));
    }

    #[test]
    fn dev_setup_unless_dev_is_bound() {
        let m = |json: &str| -> Vec<Mount> { serde_json::from_str(json).unwrap() };
        assert!(needs_dev_setup(&m(
            r#"[{"destination":"/dev","type":"tmpfs","source":"tmpfs"}]"#
        )));
        assert!(needs_dev_setup(&m("[]")));
        assert!(!needs_dev_setup(&m(
            r#"[{"destination":"/dev","type":"bind","source":"/dev"}]"#
        )));
        assert!(!needs_dev_setup(&m(
            r#"[{"destination":"/dev/","source":"/dev","options":["rbind"]}]"#
        )));
    }
}
