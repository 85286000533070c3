//! Id-mapped bind mounts (`idmap`, `ridmap`, or a mount with `uidMappings`/`gidMappings`).
//!
//! How: `open_tree(OPEN_TREE_CLONE)` makes a detached copy of the source (with its submounts for
//! `ridmap`), `mount_setattr(MOUNT_ATTR_IDMAP)` gives it the id mapping of a user namespace, and
//! `move_mount` attaches it at the destination. A file whose owner on disk is `containerID + n`
//! shows as `hostID + n` through the mount (the mapping is written as that namespace's uid_map).
//!
//! The user namespace: a helper child unshares `CLONE_NEWUSER` and waits; we write its uid/gid
//! maps from outside (only a process privileged in the parent namespace may write arbitrary
//! maps), open `/proc/<child>/ns/user`, and let the child exit — the fd keeps the namespace alive
//! (crun and runc also use a helper process). One namespace serves every mount with the same maps.
//!
//! Where: the kernel wants the caller privileged over the source's superblock (the host's user
//! namespace for a host filesystem). A container init without a user namespace of its own is,
//! so [`super::prepare`] builds the trees itself. An init inside a user namespace is not: for
//! such containers the runtime parent (host root) must call [`open_idmapped_trees`] before init
//! mounts, hand the fds to init, and init passes them to [`super::prepare_with`] (runc 1.2 does
//! the same). Without them, such a mount fails with an error saying so.
//!
//! With no mappings on the mount, the container's own `linux.uidMappings`/`gidMappings` are used
//! (runtime-spec: MAY); with neither, the mount is refused.

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use nix::errno::Errno;
use oci_spec::runtime::{LinuxIdMapping, Mount, Spec};

use super::flags::{Idmap, MountOptions};
use crate::sys::mount_api::{attr, mount_setattr, open_tree_clone};
use crate::sys::userns::park_in_new_userns;

/// Detached, already id-mapped mount trees by index in `spec.mounts`, made outside init.
#[derive(Debug, Default)]
pub struct PreparedMounts {
    trees: HashMap<usize, OwnedFd>,
}

impl PreparedMounts {
    /// Hand over the tree for `mounts[index]`; a tree is used once.
    pub fn take(&mut self, index: usize) -> Option<OwnedFd> {
        self.trees.remove(&index)
    }

    /// Add the tree for `mounts[index]` (e.g. one received from the parent).
    pub fn insert(&mut self, index: usize, tree: OwnedFd) {
        self.trees.insert(index, tree);
    }

    /// The indices and fds, for sending them to init (SCM_RIGHTS) in index order.
    pub fn into_sorted(self) -> Vec<(usize, OwnedFd)> {
        let mut v: Vec<_> = self.trees.into_iter().collect();
        v.sort_by_key(|(i, _)| *i);
        v
    }

    pub fn is_empty(&self) -> bool {
        self.trees.is_empty()
    }

    /// The same trees on new fds (init gets a copy of the parent's memory, not its values).
    pub fn try_clone(&self) -> std::io::Result<PreparedMounts> {
        let mut trees = HashMap::new();
        for (i, fd) in &self.trees {
            trees.insert(*i, fd.try_clone()?);
        }
        Ok(PreparedMounts { trees })
    }
}

/// Whether `m` asks for an id-mapped mount, and whether recursively: the `idmap`/`ridmap`
/// option, or mappings without the option (then not recursive, as runc reads them).
pub fn wanted(m: &Mount, opts: &MountOptions) -> Option<Idmap> {
    let has_maps = m.uid_mappings().as_ref().is_some_and(|v| !v.is_empty())
        || m.gid_mappings().as_ref().is_some_and(|v| !v.is_empty());
    opts.idmap.or(has_maps.then_some(Idmap::Mount))
}

/// The uid and gid mappings for mount `m`: its own, else the container's user namespace maps.
pub fn mappings(m: &Mount, spec: &Spec) -> Result<(Vec<LinuxIdMapping>, Vec<LinuxIdMapping>)> {
    let own = |v: &Option<Vec<LinuxIdMapping>>| v.clone().filter(|v| !v.is_empty());
    if let (Some(u), Some(g)) = (own(m.uid_mappings()), own(m.gid_mappings())) {
        return Ok((u, g));
    }
    let linux = spec.linux().as_ref();
    let has_userns = crate::spec::has_namespace(spec, oci_spec::runtime::LinuxNamespaceType::User);
    let u = linux.and_then(|l| own(l.uid_mappings()));
    let g = linux.and_then(|l| own(l.gid_mappings()));
    match (has_userns, u, g) {
        (true, Some(u), Some(g)) => Ok((u, g)),
        _ => bail!(
            "an id-mapped mount needs uidMappings and gidMappings (on the mount, or of the \
             container's user namespace)"
        ),
    }
}

/// `/proc/<pid>/uid_map` text for the mappings.
pub fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// A user namespace fd with these maps (see the module header for how).
pub fn userns_with_maps(uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<OwnedFd> {
    let child = park_in_new_userns().context("start a helper in a new user namespace")?;
    let dir = child.proc_dir();
    for (file, maps) in [("uid_map", uid), ("gid_map", gid)] {
        let path = dir.join(file);
        std::fs::write(&path, map_text(maps))
            .with_context(|| format!("write {} ({})", path.display(), map_text(maps).trim()))?;
    }
    let ns = dir.join("ns/user");
    let f = std::fs::File::open(&ns).with_context(|| format!("open {}", ns.display()))?;
    Ok(OwnedFd::from(f))
}

/// A detached copy of `source` carrying the id mapping of `userns`: with its submounts for
/// `rbind` (or `ridmap`), which get the mapping too for `ridmap` only.
pub fn idmapped_tree(source: &Path, how: Idmap, rbind: bool, userns: &OwnedFd) -> Result<OwnedFd> {
    let recursive = how == Idmap::Recursive;
    let tree = open_tree_clone(source, recursive || rbind).map_err(|e| match e {
        Errno::ENOSYS => anyhow!("open_tree: not supported by this kernel (needs Linux 5.12)"),
        e => anyhow!("open_tree {}: {e}", source.display()),
    })?;
    mount_setattr(
        tree.as_fd(),
        recursive,
        attr::IDMAP,
        0,
        Some(userns.as_fd()),
    )
    .map_err(|e| match e {
        Errno::EINVAL => anyhow!(
            "mount_setattr(MOUNT_ATTR_IDMAP) on {}: EINVAL (the filesystem does not support \
             id-mapped mounts, or the mapping is invalid)",
            source.display()
        ),
        Errno::EPERM => anyhow!(
            "mount_setattr(MOUNT_ATTR_IDMAP) on {}: EPERM (not privileged over the source \
             filesystem, e.g. inside a user namespace)",
            source.display()
        ),
        e => anyhow!(
            "mount_setattr(MOUNT_ATTR_IDMAP) on {}: {e}",
            source.display()
        ),
    })?;
    Ok(tree)
}

/// One user namespace per distinct pair of maps.
#[derive(Default)]
pub struct UsernsCache {
    by_maps: HashMap<(String, String), OwnedFd>,
}

impl UsernsCache {
    pub fn get(&mut self, uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<&OwnedFd> {
        let key = (map_text(uid), map_text(gid));
        if !self.by_maps.contains_key(&key) {
            let fd = userns_with_maps(uid, gid)?;
            self.by_maps.insert(key.clone(), fd);
        }
        Ok(&self.by_maps[&key])
    }
}

/// For the runtime parent (host user namespace, root): the id-mapped trees of every such mount
/// in `spec`, relative sources taken from `bundle`. Call before init mounts; send the fds to
/// init and give them to [`super::prepare_with`]. Errors name the mount.
pub fn open_idmapped_trees(spec: &Spec, bundle: &Path) -> Result<PreparedMounts> {
    let mut out = PreparedMounts::default();
    let mut cache = UsernsCache::default();
    for (i, m) in spec.mounts().as_deref().unwrap_or(&[]).iter().enumerate() {
        let opts = MountOptions::parse(m.options().as_deref().unwrap_or(&[]));
        let Some(how) = wanted(m, &opts) else {
            continue;
        };
        let tree = (|| {
            let src = m
                .source()
                .as_ref()
                .ok_or_else(|| anyhow!("an id-mapped mount needs a source"))?;
            let src: PathBuf = bundle.join(src);
            let (u, g) = mappings(m, spec)?;
            idmapped_tree(&src, how, opts.is_recursive(), cache.get(&u, &g)?)
        })()
        .with_context(|| format!("mounts[{i}] {}", m.destination().display()))?;
        out.insert(i, tree);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(json: &str) -> Mount {
        serde_json::from_str(json).unwrap()
    }

    fn spec(json: &str) -> Spec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn which_mounts_are_idmapped() {
        let maps = r#""uidMappings":[{"containerID":0,"hostID":1000,"size":10}],
                      "gidMappings":[{"containerID":0,"hostID":1000,"size":10}]"#;
        let cases = [
            (
                r#"{"destination":"/a","source":"/s","options":["rbind"]}"#.to_string(),
                None,
            ),
            (
                r#"{"destination":"/a","source":"/s","options":["rbind","idmap"]}"#.into(),
                Some(Idmap::Mount),
            ),
            (
                r#"{"destination":"/a","source":"/s","options":["rbind","ridmap"]}"#.into(),
                Some(Idmap::Recursive),
            ),
            (
                format!(r#"{{"destination":"/a","source":"/s","options":["bind"],{maps}}}"#),
                Some(Idmap::Mount),
            ),
        ];
        for (json, want) in cases {
            let m = mount(&json);
            let o = MountOptions::parse(m.options().as_deref().unwrap_or(&[]));
            assert_eq!(wanted(&m, &o), want, "{json}");
        }
    }

    #[test]
    fn mappings_come_from_the_mount_or_the_user_namespace() {
        let m = mount(
            r#"{"destination":"/a","source":"/s","options":["idmap"],
                "uidMappings":[{"containerID":0,"hostID":1000,"size":10}],
                "gidMappings":[{"containerID":0,"hostID":2000,"size":5},
                               {"containerID":5,"hostID":3000,"size":1}]}"#,
        );
        let (u, g) = mappings(&m, &spec("{}")).unwrap();
        assert_eq!(map_text(&u), "0 1000 10\n");
        assert_eq!(map_text(&g), "0 2000 5\n5 3000 1\n");

        let bare = mount(r#"{"destination":"/a","source":"/s","options":["idmap"]}"#);
        let e = mappings(&bare, &spec("{}")).unwrap_err().to_string();
        assert!(e.contains("needs uidMappings and gidMappings"), "{e}");
        let with_userns = spec(
            r#"{"linux":{"namespaces":[{"type":"user"}],
                "uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],
                "gidMappings":[{"containerID":0,"hostID":100000,"size":65536}]}}"#,
        );
        let (u, _) = mappings(&bare, &with_userns).unwrap();
        assert_eq!(map_text(&u), "0 100000 65536\n");
        // Maps of the container without a user namespace do not count.
        let no_userns = spec(
            r#"{"linux":{"uidMappings":[{"containerID":0,"hostID":1,"size":1}],
                "gidMappings":[{"containerID":0,"hostID":1,"size":1}]}}"#,
        );
        assert!(mappings(&bare, &no_userns).is_err());
    }
}
