//! Layer 2: the container's filesystem view. `prepare` builds it inside the new mount namespace
//! and enters it, in runc's order: propagation of `/`, the rootfs bound onto itself, the config's
//! mounts (destinations resolved inside the rootfs), `/dev`, pivot_root (or move + chroot), then
//! `linux.sysctl`, readonly and masked paths, a read-only root. Uses `sys`, `error` and the OCI
//! spec types only.
//!
//! The API for the layers above:
//! - [`prepare`] (or [`prepare_with`] when the parent made id-mapped trees): everything at once.
//!   Or [`enter`] … [`Entered::finish`] with, in between, what must happen after the pivot but
//!   before the root turns read-only — [`bind_console`] for a terminal.
//! - [`validate`]: the mount checks, for `create` before any side effect.
//! - [`apply_sysctl`]: idempotent (a value already set is not written again), so calling it after
//!   `prepare`, which applies `linux.sysctl` before `/proc/sys` becomes read-only, is harmless.
//! - [`open_idmapped_trees`]: for the runtime parent, when a container with a user namespace has
//!   id-mapped mounts (see `idmap`).
//! - [`volumes`]: `sangja run -v/--tmpfs` and `sangja volume ls|rm`.

mod cgroup;
mod console;
mod copyup;
mod devices;
mod flags;
mod idmap;
mod mountinfo;
mod mounts;
mod paths;
mod pivot;
mod resolve;
mod sysctl;
mod validate;
pub mod volumes;

#[cfg(test)]
mod feature_tests;
#[cfg(test)]
mod root_tests;
#[cfg(test)]
mod testenv;

use std::path::Path;

use anyhow::{Context, Result};
use nix::mount::{mount, MsFlags};
use oci_spec::runtime::Spec;

pub use console::bind_console;
pub use flags::is_known_option;
pub use idmap::{open_idmapped_trees, PreparedMounts};
pub use sysctl::apply_sysctl;
pub use validate::validate;

/// Choices that are not in config.json.
#[derive(Debug, Clone, Default)]
pub struct RootfsOptions {
    /// Move the rootfs onto `/` and chroot instead of pivot_root (`--no-pivot`).
    pub no_pivot: bool,
    /// The runtime's cgroup2 mount when it shows the whole hierarchy (its root is `/`): a
    /// container without a cgroup namespace gets a bind of it rather than a fresh mount.
    pub host_cgroup2: Option<std::path::PathBuf>,
}

/// Build the container's filesystem and enter it: afterwards "/" is the container root and cwd is "/".
///
/// Runs in the container's init, in its new mount namespace, before hostname and exec. `rootfs` is
/// the absolute, canonical host path of the root filesystem.
/// `before_pivot` runs once the mounts and /dev are made, before the root is entered (the
/// createContainer hooks' moment).
pub fn prepare(
    spec: &Spec,
    rootfs: &Path,
    opts: &RootfsOptions,
    before_pivot: &mut dyn FnMut() -> Result<()>,
) -> Result<()> {
    prepare_with(spec, rootfs, opts, PreparedMounts::default(), before_pivot)
}

/// [`prepare`] with id-mapped mount trees made by the runtime parent.
pub fn prepare_with(
    spec: &Spec,
    rootfs: &Path,
    opts: &RootfsOptions,
    prepared: PreparedMounts,
    before_pivot: &mut dyn FnMut() -> Result<()>,
) -> Result<()> {
    enter(spec, rootfs, opts, prepared, before_pivot)?.finish()
}

/// The container root has been entered; [`Entered::finish`] completes it.
#[must_use = "finish() applies sysctl, readonly and masked paths and the read-only root"]
pub struct Entered<'a> {
    spec: &'a Spec,
}

/// The first part of [`prepare`]: mounts, `/dev`, and the pivot. Afterwards "/" is the container
/// root; the root is still writable and readonly/masked paths are not applied yet.
pub fn enter<'a>(
    spec: &'a Spec,
    rootfs: &Path,
    opts: &RootfsOptions,
    prepared: PreparedMounts,
    before_pivot: &mut dyn FnMut() -> Result<()>,
) -> Result<Entered<'a>> {
    validate(spec)?;
    let linux = spec.linux().as_ref();
    let configured = linux.and_then(|l| l.rootfs_propagation().as_deref());
    let propagation = flags::root_propagation(configured)?;

    let name = configured.filter(|c| !c.is_empty()).unwrap_or("rslave");
    set_propagation(Path::new("/"), propagation).with_context(|| format!("make / {name}"))?;
    if !leaves_nothing_shared(propagation) {
        make_parent_private(rootfs)?;
    }
    mount(
        Some(rootfs),
        rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .with_context(|| format!("bind rootfs {} onto itself", rootfs.display()))?;
    let root = resolve::Root::open(rootfs)?;

    let mounts = spec.mounts().as_deref().unwrap_or(&[]);
    let in_userns = in_user_namespace();
    let mut ctx = mounts::MountContext::new(spec, prepared, in_userns);
    ctx.host_cgroup2 = opts.host_cgroup2.as_deref();
    mounts::mount_all(&root, mounts, &mut ctx)?;
    drop(ctx);
    if devices::needs_dev_setup(mounts) {
        let devs = linux.and_then(|l| l.devices().as_deref()).unwrap_or(&[]);
        devices::setup_dev(&root, devs, in_userns)?;
    }

    // createContainer hooks: the mounts are there, the root is not entered yet.
    before_pivot()?;
    if opts.no_pivot {
        pivot::move_into(&root)
    } else {
        pivot::pivot_into(&root)
    }
    .with_context(|| format!("enter rootfs {}", rootfs.display()))?;
    drop(root);

    // The configured propagation was given to the old "/" and the rootfs sits on a private
    // parent (pivot_root needs that); give it to the new "/" too, as runc does after pivoting.
    if configured.is_some_and(|c| !c.is_empty()) && !propagation.contains(MsFlags::MS_PRIVATE) {
        set_propagation(Path::new("/"), propagation)
            .with_context(|| format!("make the new / {name}"))?;
    }
    Ok(Entered { spec })
}

impl Entered<'_> {
    /// The rest of [`prepare`], in runc's order: `linux.sysctl` (while `/proc/sys` is still
    /// writable), readonly paths, masked paths, and `root.readonly`.
    pub fn finish(self) -> Result<()> {
        let spec = self.spec;
        apply_sysctl(spec)?;
        if let Some(l) = spec.linux().as_ref() {
            paths::make_readonly(l.readonly_paths().as_deref().unwrap_or(&[]))?;
            paths::mask(l.masked_paths().as_deref().unwrap_or(&[]))?;
        }
        if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
            paths::readonly_root()?;
        }
        Ok(())
    }
}

fn set_propagation(path: &Path, flags: MsFlags) -> Result<()> {
    mount(None::<&str>, path, None::<&str>, flags, None::<&str>).map_err(Into::into)
}

/// True when `flags`, applied to `/`, leave no mount shared (recursive slave, private or
/// unbindable: the default `rslave` among them); then the rootfs's parent needs no check, which
/// would read mountinfo.
fn leaves_nothing_shared(flags: MsFlags) -> bool {
    flags.contains(MsFlags::MS_REC)
        && flags.intersects(MsFlags::MS_SLAVE | MsFlags::MS_PRIVATE | MsFlags::MS_UNBINDABLE)
}

/// If the mount holding the rootfs is shared, make it private: the rootfs bind must not propagate
/// anywhere, and pivot_root refuses a shared parent.
fn make_parent_private(rootfs: &Path) -> Result<()> {
    let table = mountinfo::read_self()?;
    match mountinfo::mount_of(&table, rootfs) {
        Some(m) if m.is_shared() => set_propagation(&m.mount_point, MsFlags::MS_PRIVATE)
            .with_context(|| format!("make {} private", m.mount_point.display())),
        _ => Ok(()),
    }
}

/// True when this process is in a user namespace other than the initial one (its uid map is not
/// the identity map of all ids): mknod is then refused and devices are bind-mounted.
pub fn in_user_namespace() -> bool {
    match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(map) => !is_initial_uid_map(&map),
        Err(_) => false,
    }
}

fn is_initial_uid_map(map: &str) -> bool {
    let fields: Vec<&str> = map.split_whitespace().collect();
    fields == ["0", "0", "4294967295"]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_recursive_slave_private_or_unbindable_leave_nothing_shared() {
        let f = |v: &str| flags::root_propagation(Some(v)).unwrap();
        for v in ["rslave", "rprivate", "runbindable"] {
            assert!(leaves_nothing_shared(f(v)), "{v}");
        }
        for v in ["shared", "rshared", "slave", "private", "unbindable"] {
            assert!(!leaves_nothing_shared(f(v)), "{v}");
        }
        assert!(leaves_nothing_shared(
            flags::root_propagation(None).unwrap()
        ));
    }

    #[test]
    fn initial_uid_map() {
        assert!(is_initial_uid_map("         0          0 4294967295\n"));
        assert!(!is_initial_uid_map("         0       1000          1\n"));
        assert!(!is_initial_uid_map("0 0 4294967295\n1 1 1\n"));
    }
}
