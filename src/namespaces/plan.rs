//! Turn `linux.namespaces` into a plan. Two shapes:
//! - **one clone** (the common case): no namespace to join and no time namespace, so every new
//!   namespace goes into the clone3 flags and the child is born in all of them (pid 1 of its
//!   pid namespace);
//! - **join, unshare, fork**: joins by path must happen before new namespaces are made (a new
//!   user namespace made first would lose the rights to join host-owned ones), and a new or
//!   joined pid/time namespace only applies to children, so init is a second fork.

use std::path::PathBuf;

use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

/// The namespace types, in the order joins are performed: user first (so the others are
/// joined with its rights), mount last (so /proc paths are not yet switched; we open all
/// fds beforehand anyway).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NsType {
    User,
    Pid,
    Ipc,
    Uts,
    Net,
    Cgroup,
    Time,
    Mount,
}

impl NsType {
    pub const ALL: [NsType; 8] = [
        NsType::User,
        NsType::Pid,
        NsType::Ipc,
        NsType::Uts,
        NsType::Net,
        NsType::Cgroup,
        NsType::Time,
        NsType::Mount,
    ];

    pub fn flag(self) -> CloneFlags {
        match self {
            NsType::User => CloneFlags::CLONE_NEWUSER,
            NsType::Pid => CloneFlags::CLONE_NEWPID,
            NsType::Ipc => CloneFlags::CLONE_NEWIPC,
            NsType::Uts => CloneFlags::CLONE_NEWUTS,
            NsType::Net => CloneFlags::CLONE_NEWNET,
            NsType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
            NsType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
            NsType::Mount => CloneFlags::CLONE_NEWNS,
        }
    }

    /// Name used in `/proc/<pid>/ns/<name>` and in the spec.
    pub fn name(self) -> &'static str {
        match self {
            NsType::User => "user",
            NsType::Pid => "pid",
            NsType::Ipc => "ipc",
            NsType::Uts => "uts",
            NsType::Net => "net",
            NsType::Cgroup => "cgroup",
            NsType::Time => "time",
            NsType::Mount => "mnt",
        }
    }

    fn from_spec(t: LinuxNamespaceType) -> NsType {
        match t {
            LinuxNamespaceType::User => NsType::User,
            LinuxNamespaceType::Pid => NsType::Pid,
            LinuxNamespaceType::Ipc => NsType::Ipc,
            LinuxNamespaceType::Uts => NsType::Uts,
            LinuxNamespaceType::Network => NsType::Net,
            LinuxNamespaceType::Cgroup => NsType::Cgroup,
            LinuxNamespaceType::Time => NsType::Time,
            LinuxNamespaceType::Mount => NsType::Mount,
        }
    }
}

/// How init gets into its namespaces.
#[derive(Debug, Clone)]
pub struct NsPlan {
    /// New namespaces made by the clone itself (one-clone path only).
    pub clone_flags: CloneFlags,
    /// Namespaces to join by path, in join order.
    pub joins: Vec<(NsType, PathBuf)>,
    /// New namespaces made by unshare in the child after the joins (user excluded).
    pub unshare_flags: CloneFlags,
    /// A new user namespace is made (by clone or unshare); the parent must write the maps.
    pub new_user: bool,
    /// Init is a second fork (pid/time namespace made by unshare, or joined).
    pub second_fork: bool,
    /// Set of types the container has of its own (new, not joined).
    pub new_types: Vec<NsType>,
}

impl NsPlan {
    /// Build the plan. The spec was validated (no duplicate types, absolute paths).
    pub fn from_spec(spec: &Spec) -> NsPlan {
        let mut joins = Vec::new();
        let mut new_types = Vec::new();
        let namespaces = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default();
        for ns in &namespaces {
            let t = NsType::from_spec(ns.typ());
            match ns.path() {
                Some(p) if !p.as_os_str().is_empty() => joins.push((t, p.clone())),
                _ => new_types.push(t),
            }
        }
        joins.sort_by_key(|(t, _)| *t);
        new_types.sort();
        let all_new = new_types
            .iter()
            .fold(CloneFlags::empty(), |acc, t| acc | t.flag());
        let new_user = new_types.contains(&NsType::User);
        let one_clone = joins.is_empty() && !new_types.contains(&NsType::Time);
        if one_clone {
            return NsPlan {
                clone_flags: all_new,
                joins,
                unshare_flags: CloneFlags::empty(),
                new_user,
                second_fork: false,
                new_types,
            };
        }
        let joined_pid_or_time = joins
            .iter()
            .any(|(t, _)| matches!(t, NsType::Pid | NsType::Time));
        let pid_time = NsType::Pid.flag() | NsType::Time.flag();
        NsPlan {
            clone_flags: CloneFlags::empty(),
            second_fork: joined_pid_or_time || all_new.intersects(pid_time),
            unshare_flags: all_new - CloneFlags::CLONE_NEWUSER,
            joins,
            new_user,
            new_types,
        }
    }

    /// Join all of `joins` and make nothing new (how `exec` enters a container); a joined
    /// pid or time namespace takes a second fork.
    pub fn joining(mut joins: Vec<(NsType, PathBuf)>) -> NsPlan {
        joins.sort_by_key(|(t, _)| *t);
        let second_fork = joins
            .iter()
            .any(|(t, _)| matches!(t, NsType::Pid | NsType::Time));
        NsPlan {
            clone_flags: CloneFlags::empty(),
            joins,
            unshare_flags: CloneFlags::empty(),
            new_user: false,
            second_fork,
            new_types: Vec::new(),
        }
    }

    /// Does the container get a namespace of this type of its own?
    pub fn has_new(&self, t: NsType) -> bool {
        self.new_types.contains(&t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(namespaces: &str) -> Spec {
        let json = format!(
            r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs"}},"linux":{{"namespaces":{namespaces}}}}}"#
        );
        serde_json::from_str(&json).unwrap()
    }

    #[test]
    fn only_new_namespaces_take_one_clone() {
        let p = NsPlan::from_spec(&spec(
            r#"[{"type":"pid"},{"type":"mount"},{"type":"user"},{"type":"network"}]"#,
        ));
        assert!(p.clone_flags.contains(
            CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUSER
        ));
        assert!(p.new_user && !p.second_fork && p.joins.is_empty());
        assert!(p.unshare_flags.is_empty());
    }

    #[test]
    fn a_join_moves_new_namespaces_to_unshare_and_forks_for_pid() {
        let p = NsPlan::from_spec(&spec(
            r#"[{"type":"mount"},{"type":"network","path":"/run/netns/x"},{"type":"pid"},{"type":"user"}]"#,
        ));
        assert!(p.clone_flags.is_empty());
        assert_eq!(p.joins, vec![(NsType::Net, PathBuf::from("/run/netns/x"))]);
        assert!(p
            .unshare_flags
            .contains(CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS));
        assert!(!p.unshare_flags.contains(CloneFlags::CLONE_NEWUSER));
        assert!(p.new_user && p.second_fork);
    }

    #[test]
    fn time_namespace_needs_the_second_fork() {
        let p = NsPlan::from_spec(&spec(r#"[{"type":"time"},{"type":"mount"}]"#));
        assert!(p.second_fork && p.clone_flags.is_empty());
    }

    #[test]
    fn joining_forks_only_for_pid_or_time() {
        let p = NsPlan::joining(vec![
            (NsType::Mount, "/m".into()),
            (NsType::User, "/u".into()),
        ]);
        assert!(!p.second_fork && p.clone_flags.is_empty() && !p.new_user);
        assert_eq!(p.joins[0].0, NsType::User);
        assert!(NsPlan::joining(vec![(NsType::Pid, "/p".into())]).second_fork);
    }

    #[test]
    fn joins_are_ordered_user_first_mount_last() {
        let p = NsPlan::from_spec(&spec(
            r#"[{"type":"mount","path":"/m"},{"type":"ipc","path":"/i"},{"type":"user","path":"/u"}]"#,
        ));
        let order: Vec<NsType> = p.joins.iter().map(|(t, _)| *t).collect();
        assert_eq!(order, vec![NsType::User, NsType::Ipc, NsType::Mount]);
        assert!(!p.second_fork);
    }
}
