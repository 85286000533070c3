//! The `cgroup` mount (`/sys/fs/cgroup` in the default config).
//!
//! Decision: the container always gets the cgroup2 (unified) filesystem there, also on a hybrid
//! host whose `/sys/fs/cgroup` holds v1 controllers and whose cgroup2 sits at
//! `/sys/fs/cgroup/unified`. sangja's cgroup manager is v2-only, so the container's cgroup lives in
//! the unified hierarchy; with a cgroup namespace a fresh cgroup2 mount shows exactly that cgroup
//! as its root. runc would rebuild the v1 layout (tmpfs plus one bind per controller); we do not,
//! since we never place the container in v1 cgroups. Mounting cgroup2 works on every kernel with a
//! unified hierarchy, whatever the host layout.
//!
//! Without a cgroup namespace of its own (and outside a user namespace) the container gets a
//! bind of the runtime's cgroup2 mount instead of a fresh mount, when that mount shows the whole
//! hierarchy: in the host's cgroup namespace both are the very same superblock and root, so the
//! container sees the same thing, but the first fresh cgroup2 mount in a new mount namespace of
//! the initial cgroup namespace costs 7–25 ms here (measured; a bind: ~60 µs, a fresh mount
//! inside a cgroup namespace: ~70 µs), and a fresh mount from the initial cgroup namespace
//! re-applies the root's mount options (nsdelegate, memory_recursiveprot) — a bind never touches
//! the host's settings.
//!
//! When the kernel refuses (EPERM: a user namespace without its own cgroup namespace; EBUSY), the
//! container's own cgroup directory from the host's cgroup2 mount is bind-mounted instead, as runc
//! does. Filesystem data in the options (v1 controller names) is not passed to cgroup2.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use nix::errno::Errno;
use nix::mount::{mount, MsFlags};

use oci_spec::runtime::LinuxNamespaceType;

use super::flags::MountOptions;
use super::mountinfo;
use super::mounts::{bind, MountContext};
use super::resolve::{proc_fd_path, Root};
use crate::spec::has_namespace;

/// Mount cgroup2 onto `target` (the resolved `dest`): a bind of the runtime's whole-hierarchy
/// cgroup2 mount without a cgroup namespace, else a fresh mount, else (not permitted) a bind of
/// our own cgroup.
pub fn mount_cgroup(
    root: &Root,
    dest: &Path,
    target: &OwnedFd,
    opts: &MountOptions,
    ctx: &MountContext,
) -> Result<()> {
    if let Some(host) = ctx
        .host_cgroup2
        .filter(|_| !ctx.in_userns && !has_namespace(ctx.spec, LinuxNamespaceType::Cgroup))
    {
        let mut bind_opts = opts.clone();
        bind_opts.set |= MsFlags::MS_BIND;
        bind_opts.set &= !MsFlags::MS_REC;
        return bind(root, dest, host, target, &bind_opts)
            .with_context(|| format!("bind the cgroup2 hierarchy {}", host.display()));
    }
    let res = mount(
        Some("cgroup"),
        &proc_fd_path(target),
        Some("cgroup2"),
        opts.mount_attrs(),
        None::<&str>,
    );
    match res {
        Ok(()) => Ok(()),
        Err(e @ (Errno::EPERM | Errno::EBUSY)) => {
            let src = own_cgroup_dir()
                .with_context(|| format!("mount cgroup2: {e}; find our cgroup to bind instead"))?;
            let mut rbind = opts.clone();
            rbind.set |= MsFlags::MS_BIND | MsFlags::MS_REC;
            bind(root, dest, &src, target, &rbind)
                .with_context(|| format!("mount cgroup2: {e}; bind {} instead", src.display()))
        }
        Err(e) => Err(e).context("mount cgroup2"),
    }
}

/// This process's cgroup directory under the host's cgroup2 mount.
fn own_cgroup_dir() -> Result<PathBuf> {
    let mounts = mountinfo::read_self()?;
    let base = mounts
        .iter()
        .rev()
        .find(|m| m.fs_type == "cgroup2")
        .map(|m| m.mount_point.clone())
        .ok_or_else(|| anyhow!("no cgroup2 filesystem is mounted"))?;
    let text = std::fs::read_to_string("/proc/self/cgroup").context("read /proc/self/cgroup")?;
    let rel =
        unified_path(&text).ok_or_else(|| anyhow!("no cgroup2 entry in /proc/self/cgroup"))?;
    Ok(base.join(rel.trim_start_matches('/')))
}

/// The cgroup2 path (`0::/path`) in `/proc/<pid>/cgroup` text.
pub fn unified_path(text: &str) -> Option<&str> {
    text.lines().find_map(|l| l.strip_prefix("0::"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_unified_path() {
        let hybrid = "12:pids:/user.slice\n1:name=systemd:/init.scope\n0::/sangja/c1\n";
        assert_eq!(unified_path(hybrid), Some("/sangja/c1"));
        assert_eq!(unified_path("0::/\n"), Some("/"));
        assert_eq!(unified_path("3:cpu:/x\n"), None);
    }
}
