//! Which controllers a config needs, and making them available down a cgroup path by
//! writing `+ctrl` to each ancestor's `cgroup.subtree_control`. A needed controller that
//! cannot be had fails with `ControllerUnavailable` saying why (not in the hierarchy, bound
//! to cgroup v1, not delegated, blocked by processes in an ancestor). Controllers that are
//! only nice to have (for `events --stats`) are enabled where possible and skipped quietly.

use std::collections::BTreeSet;
use std::io;
use std::path::Path;

use oci_spec::runtime::LinuxResources;

use super::hierarchy::Hierarchy;
use super::{cpu, cpuset, files, io as blkio, memory, unified};
use crate::error::Error;

/// Enabled along the path when available, for statistics; never required.
pub const OPTIONAL: &[&str] = &["cpu", "memory", "pids", "io"];

/// The controllers `r` needs, by name.
pub fn needed(r: &LinuxResources) -> BTreeSet<String> {
    let mut n = BTreeSet::new();
    let mut add = |c: &str| {
        n.insert(c.to_string());
    };
    if r.memory().as_ref().is_some_and(memory::needs_controller) {
        add("memory");
    }
    if let Some(c) = r.cpu() {
        if cpu::needs_controller(c) {
            add("cpu");
        }
        if cpuset::needs_controller(c) {
            add("cpuset");
        }
    }
    if r.pids().is_some() {
        add("pids");
    }
    if r.block_io().as_ref().is_some_and(blkio::needs_controller) {
        add("io");
    }
    if r.hugepage_limits().as_ref().is_some_and(|l| !l.is_empty()) {
        add("hugetlb");
    }
    if r.rdma().as_ref().is_some_and(|m| !m.is_empty()) {
        add("rdma");
    }
    for key in r.unified().iter().flat_map(|m| m.keys()) {
        if let Some(c) = unified::controller_of(key) {
            add(c);
        }
    }
    n
}

fn names(dir: &Path, file: &str) -> anyhow::Result<BTreeSet<String>> {
    Ok(files::parse_names(&files::read(dir, file)?)
        .into_iter()
        .collect())
}

/// Fail unless the hierarchy's top (the mount point) offers every needed controller. Runs
/// before anything is created, so a hybrid host's refusal leaves nothing behind.
pub fn check_top(h: &Hierarchy, needed: &BTreeSet<String>) -> anyhow::Result<()> {
    let top = names(&h.mount, "cgroup.controllers")?;
    for c in needed {
        if !top.contains(c) {
            let why = match h.v1_binding(c) {
                Some(p) => format!("this host binds it to cgroup v1 at {}", p.display()),
                None => "the kernel does not offer it on cgroup v2".to_string(),
            };
            return Err(unavailable(
                c,
                format!("{} has no {c} controller ({why})", h.mount.display()),
            ));
        }
    }
    Ok(())
}

fn unavailable(controller: &str, reason: String) -> anyhow::Error {
    Error::ControllerUnavailable {
        controller: controller.to_string(),
        reason,
    }
    .into()
}

/// Make `needed` (and what is available of `OPTIONAL`) available to the children of `dir`
/// by writing its `cgroup.subtree_control`.
pub fn enable_in(dir: &Path, needed: &BTreeSet<String>) -> anyhow::Result<()> {
    let available = names(dir, "cgroup.controllers")?;
    let enabled = names(dir, "cgroup.subtree_control")?;
    if let Some(c) = needed.iter().find(|c| !available.contains(*c)) {
        return Err(unavailable(
            c,
            format!(
                "{} does not have it (cgroup.controllers lacks {c}): an ancestor does not \
                 delegate it",
                dir.display()
            ),
        ));
    }
    let optional = OPTIONAL
        .iter()
        .map(|c| c.to_string())
        .filter(|c| available.contains(c));
    let all: BTreeSet<String> = needed.iter().cloned().chain(optional).collect();
    let missing = |set: &BTreeSet<String>| -> Vec<String> {
        set.iter()
            .filter(|c| !enabled.contains(*c))
            .cloned()
            .collect()
    };
    let want_all = missing(&all);
    if want_all.is_empty() || write_plus(dir, &want_all).is_ok() {
        return Ok(());
    }
    // Some optional controller could not be enabled (e.g. cpu with realtime tasks around):
    // settle for the needed ones.
    let want = missing(needed);
    if want.is_empty() {
        return Ok(());
    }
    write_plus(dir, &want).map_err(|e| {
        let why = match e.raw_os_error() {
            Some(libc::EBUSY) => format!(
                "{} has processes of its own, and cgroup v2 enables no controller below a \
                 cgroup with processes; choose a linux.cgroupsPath outside it",
                dir.display()
            ),
            Some(libc::EOPNOTSUPP) => format!("{} is a threaded cgroup", dir.display()),
            _ => format!(
                "write to {}: {e}",
                dir.join("cgroup.subtree_control").display()
            ),
        };
        unavailable(
            &want.join(" "),
            format!("cannot enable it in {}: {why}", dir.display()),
        )
    })
}

fn write_plus(dir: &Path, ctrls: &[String]) -> io::Result<()> {
    let line: Vec<String> = ctrls.iter().map(|c| format!("+{c}")).collect();
    files::write_io(dir, "cgroup.subtree_control", &line.join(" "))
}

/// Enable down the chain `top → … → parent of leaf` (each of `dirs` but the last), then
/// check that the leaf has every needed controller.
pub fn enable_down(dirs: &[&Path], needed: &BTreeSet<String>) -> anyhow::Result<()> {
    let Some((leaf, ancestors)) = dirs.split_last() else {
        return Ok(());
    };
    for dir in ancestors {
        enable_in(dir, needed)?;
    }
    let have = names(leaf, "cgroup.controllers")?;
    if let Some(c) = needed.iter().find(|c| !have.contains(*c)) {
        return Err(unavailable(
            c,
            format!("{} did not get it from its parent", leaf.display()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::PathBuf;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    /// A fake tree top/a/b with the given controllers at the top.
    fn tree(top_ctrls: &str) -> (tempfile::TempDir, Vec<PathBuf>) {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("a");
        let b = a.join("b");
        fs::create_dir_all(&b).unwrap();
        for d in [t.path(), a.as_path(), b.as_path()] {
            fs::write(d.join("cgroup.controllers"), top_ctrls).unwrap();
            fs::write(d.join("cgroup.subtree_control"), "").unwrap();
        }
        let dirs = vec![
            t.path().to_path_buf(),
            t.path().join("a"),
            t.path().join("a/b"),
        ];
        (t, dirs)
    }

    #[test]
    fn needed_controllers() {
        assert!(needed(&res("{}")).is_empty());
        assert!(needed(&res(
            r#"{"memory":{"limit":0},"cpu":{"shares":0},"devices":[]}"#
        ))
        .is_empty());
        assert_eq!(
            needed(&res(
                r#"{"memory":{"limit":1},"cpu":{"cpus":"0","quota":1000},"pids":{"limit":5},
                "blockIO":{"weight":100},"hugepageLimits":[{"pageSize":"2MB","limit":0}],
                "unified":{"misc.max":"x","cgroup.max.depth":"2"}}"#
            )),
            set(&["cpu", "cpuset", "hugetlb", "io", "memory", "misc", "pids"])
        );
    }

    #[test]
    fn enables_needed_and_optional_down_the_path() {
        let (_t, dirs) = tree("cpu memory pids hugetlb");
        let refs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
        enable_down(&refs, &set(&["hugetlb"])).unwrap();
        for d in &dirs[..2] {
            assert_eq!(
                fs::read_to_string(d.join("cgroup.subtree_control")).unwrap(),
                "+cpu +hugetlb +memory +pids"
            );
        }
        assert_eq!(
            fs::read_to_string(dirs[2].join("cgroup.subtree_control")).unwrap(),
            ""
        );
    }

    #[test]
    fn missing_at_the_top_names_the_v1_binding() {
        let (_t, dirs) = tree("hugetlb");
        let mountinfo = format!(
            "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
             41 31 0:38 / {} rw - cgroup2 cgroup2 rw\n",
            dirs[0].display()
        );
        let h = Hierarchy::from_texts(&mountinfo, "0::/\n").unwrap();
        check_top(&h, &set(&["hugetlb"])).unwrap();
        let e = check_top(&h, &set(&["memory"])).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "cgroup controller \"memory\" is not available: {} has no memory controller \
                 (this host binds it to cgroup v1 at /sys/fs/cgroup/memory)",
                dirs[0].display()
            )
        );
        let e = check_top(&h, &set(&["rdma"])).unwrap_err();
        assert!(
            e.to_string().contains("the kernel does not offer it"),
            "{e}"
        );
        assert!(matches!(
            e.downcast_ref::<Error>(),
            Some(Error::ControllerUnavailable { .. })
        ));
    }

    #[test]
    fn not_delegated_below() {
        let (_t, dirs) = tree("memory");
        fs::write(dirs[1].join("cgroup.controllers"), "").unwrap();
        let refs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
        let e = enable_down(&refs, &set(&["memory"])).unwrap_err();
        assert!(e.to_string().contains("does not delegate"), "{e}");
    }
}
