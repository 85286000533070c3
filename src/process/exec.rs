//! `exec`: a new process in a running container. It is cloned into the container's cgroup,
//! joins every namespace the container has of its own (user first), forks again when the pid
//! namespace demands it (so it is a child of the container's pid namespace), enters the
//! container's root through init's `/proc/<pid>/root` (right for pivot_root and chroot
//! containers alike), then takes the same last mile as init.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;

use anyhow::Context;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use oci_spec::runtime::Process;

use super::channel::{Channel, Message};
use super::finish::{before_ready, exec_process};
use super::spawn::{finish_spawn, second_fork, Requests, Spawned, Tracker};
use super::stage::{fail, trace, Never, Stage, StageError};
use crate::namespaces::{open_joins, setns_all, NsPlan, NsType};
use crate::security::Plan;
use crate::sys::clone::{clone_fork, Forked};
use crate::sys::open::openat;

/// What the exec'd process needs.
pub struct ExecConfig<'a> {
    /// The container's init, whose namespaces and root are joined.
    pub init_pid: i32,
    pub process: &'a Process,
    /// The container's cgroup directory.
    pub cgroup: Option<&'a OwnedFd>,
    pub preserve_fds: u32,
    pub debug: bool,
    /// The process's capabilities, seccomp, rlimits…
    pub security: &'a Plan,
}

/// Start the process and wait until it has exec'd.
pub fn spawn_exec(cfg: &ExecConfig, on_log: &mut dyn FnMut(&str, &str)) -> anyhow::Result<Spawned> {
    let plan = NsPlan::joining(namespaces_to_join(cfg.init_pid)?);
    let root = openat(
        None,
        format!("/proc/{}/root", cfg.init_pid).as_str(),
        OFlag::O_PATH | OFlag::O_DIRECTORY,
        Mode::empty(),
    )
    .with_context(|| format!("open the root of container init {}", cfg.init_pid))?;
    let (parent, child) = Channel::pair()?;
    let cgroup_fd = cfg.cgroup.map(|fd| fd.as_raw_fd());
    let first = match clone_fork(0, cgroup_fd).context("clone the exec process")? {
        Forked::Child { in_cgroup } => {
            drop(parent);
            let err = match steps(cfg, &plan, &root, &child, !in_cgroup) {
                Ok(never) => match never {},
                Err(e) => e,
            };
            fail(&child, "exec", err)
        }
        Forked::Parent(pid) => pid,
    };
    drop(child);
    let mut requests = Requests {
        maps: &mut |_| Ok(()),
        hooks: None,
    };
    let spawned = finish_spawn(&parent, Tracker::new(first), "exec", &mut requests, on_log)?;
    wait_until_gone_from_channel(&parent)?;
    Ok(spawned)
}

/// After `Ready` the process applies its security settings and execs; its end of the channel
/// is close-on-exec, so end of file means it has exec'd (or died trying, saying why on
/// stderr). `exec -d` returns only then, as runc's does: the pid it writes is the program's.
fn wait_until_gone_from_channel(ch: &Channel) -> anyhow::Result<()> {
    while ch.recv()?.is_some() {}
    Ok(())
}

/// Every namespace of init that differs from ours, as `/proc/<pid>/ns/<type>` paths.
fn namespaces_to_join(pid: i32) -> anyhow::Result<Vec<(NsType, PathBuf)>> {
    let mut joins = Vec::new();
    for t in NsType::ALL {
        let theirs = PathBuf::from(format!("/proc/{pid}/ns/{}", t.name()));
        let Ok(target) = std::fs::read_link(&theirs) else {
            // A kernel without this namespace type.
            continue;
        };
        let ours = std::fs::read_link(format!("/proc/self/ns/{}", t.name())).ok();
        if ours.as_ref() != Some(&target) {
            joins.push((t, theirs));
        }
    }
    if joins.is_empty() && std::fs::metadata(format!("/proc/{pid}")).is_err() {
        anyhow::bail!("container init {pid} is gone");
    }
    Ok(joins)
}

fn steps(
    cfg: &ExecConfig,
    plan: &NsPlan,
    root: &OwnedFd,
    ch: &Channel,
    join_cgroup: bool,
) -> Result<Never, StageError> {
    if let (true, Some(fd)) = (join_cgroup, cfg.cgroup) {
        super::init::join_cgroup_fd(fd).stage("cgroup")?;
    }
    setns_all(open_joins(&plan.joins).stage("namespaces")?).stage("namespaces")?;
    if plan.second_fork {
        second_fork(ch).stage("namespaces")?;
    }
    enter_root(root).stage("root")?;
    trace(cfg.debug, ch, "exec: in the container");
    let ready = before_ready(cfg.process, ch, None)?;
    ch.send(&Message::Ready).stage("ready")?;
    exec_process(
        cfg.process,
        ready,
        cfg.preserve_fds,
        cfg.security,
        cfg.debug,
    )
}

/// Make the container's root our root.
fn enter_root(root: &OwnedFd) -> anyhow::Result<()> {
    nix::unistd::fchdir(root.as_fd().as_raw_fd()).context("enter the container root")?;
    nix::unistd::chroot(".").context("chroot into the container root")?;
    nix::unistd::chdir("/").context("chdir /")
}
