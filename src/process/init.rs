//! The container init, in the child: the ordered steps from namespaces to execve. Each step
//! names its stage; a failure is sent to the parent as `Failed { stage, error }` before exit.
//! Order (runc's): namespaces and maps → rootfs (mounts, devices, pivot, masked/readonly
//! paths) → hostname, sysctl → loopback → cwd and executable lookup → ready → start gate →
//! user → signal mask and fd hygiene → execve.

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use anyhow::{anyhow, Context};
use nix::sched::{unshare, CloneFlags};
use nix::unistd::{Gid, Uid};

use super::channel::{Channel, Message};
use super::console::attach_new_pty;
use super::finish::{before_ready, exec_process};
use super::gate::wait_at_gate;
use super::spawn::{second_fork, InitConfig};
use super::stage::{fail, trace, Never, Stage, StageError};
use crate::hooks::{run_hooks, HookKind};
use crate::namespaces::{
    open_joins, set_hostname_and_domain, setns_all, write_time_offsets, NsPlan, NsType,
};
use crate::rootfs::{self, RootfsOptions};
use crate::sys::netif;
use crate::sys::open::openat;
use crate::sys::process::join_session_keyring;
use nix::fcntl::OFlag;

/// Run init's steps and exec the container process; never returns.
pub(super) fn run_init(cfg: &InitConfig, plan: &NsPlan, ch: Channel, join_cgroup: bool) -> ! {
    let err = match steps(cfg, plan, &ch, join_cgroup) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    fail(&ch, "container init", err)
}

fn steps(
    cfg: &InitConfig,
    plan: &NsPlan,
    ch: &Channel,
    join_cgroup: bool,
) -> Result<Never, StageError> {
    if let (true, Some(fd)) = (join_cgroup, cfg.cgroup) {
        // The clone could not place us (old kernel or filtered clone3): join before anything
        // else, and before a second fork, so every process of the container is inside.
        join_cgroup_fd(fd).stage("cgroup")?;
    }
    nix::unistd::chdir(cfg.bundle)
        .with_context(|| format!("chdir to bundle {}", cfg.bundle.display()))
        .stage("bundle")?;
    enter_namespaces(cfg, plan, ch).stage("namespaces")?;
    trace(cfg.debug, ch, "init: in namespaces");
    let process = cfg
        .spec
        .process()
        .as_ref()
        .ok_or_else(|| anyhow!("process is missing"))
        .stage("config")?;
    if !cfg.no_new_keyring {
        // Keyrings may be disabled or filtered; like runc, carry on without one.
        let _ = join_session_keyring(&format!("_ses.{}", cfg.id));
    }
    let hooks = cfg.spec.hooks().as_ref();
    let mut hook_state = None;
    let mut before_pivot = || -> anyhow::Result<()> {
        if cfg.runtime_hooks.is_none() {
            return Ok(());
        }
        ch.send(&Message::HooksPoint)?;
        let state = match ch.recv()? {
            Some(Message::HooksDone { state }) => state,
            other => anyhow::bail!("init channel: expected HooksDone, got {other:?}"),
        };
        if let Some(h) = hooks {
            run_hooks(
                HookKind::CreateContainer,
                HookKind::CreateContainer.select(h),
                &state,
            )?;
        }
        hook_state = Some(state);
        Ok(())
    };
    let entered = rootfs::enter(
        cfg.spec,
        cfg.rootfs,
        &RootfsOptions {
            no_pivot: cfg.no_pivot,
            host_cgroup2: cfg.host_cgroup2.map(Path::to_path_buf),
        },
        cfg.idmapped
            .try_clone()
            .context("id-mapped mount trees")
            .stage("rootfs")?,
        &mut before_pivot,
    )
    .stage("rootfs")?;
    // The terminal's pty comes from the container's own devpts, and /dev/console is its slave;
    // both before the root and /dev paths turn read-only.
    let pty = if process.terminal().unwrap_or(false) {
        let size = process
            .console_size()
            .as_ref()
            .map(|b| (b.height() as u16, b.width() as u16));
        let pty = attach_new_pty(size).stage("console")?;
        rootfs::bind_console(Path::new(&pty.slave_name)).stage("console")?;
        Some(pty)
    } else {
        None
    };
    entered.finish().stage("rootfs")?;
    trace(cfg.debug, ch, "init: rootfs ready");
    set_hostname_and_domain(cfg.spec).stage("hostname")?;
    rootfs::apply_sysctl(cfg.spec).stage("sysctl")?;
    if plan.has_new(NsType::Net) {
        netif::set_up("lo")
            .context("bring up lo")
            .stage("network")?;
    }
    let ready = before_ready(process, ch, pty)?;
    trace(cfg.debug, ch, "init: ready");
    ch.send(&Message::Ready).stage("ready")?;
    // Held open until execve closes it: `start` waits for that.
    let _gate = wait_at_gate(cfg.gate).stage("start gate")?;
    if let (Some(h), Some(state)) = (hooks, &hook_state) {
        let state = with_status(state, "created");
        run_hooks(
            HookKind::StartContainer,
            HookKind::StartContainer.select(h),
            &state,
        )
        .stage("startContainer hooks")?;
    }
    exec_process(process, ready, cfg.preserve_fds, cfg.security, cfg.debug)
}

/// The state JSON with another `status`.
fn with_status(state: &str, status: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(state) {
        Ok(mut v) => {
            v["status"] = status.into();
            v.to_string()
        }
        Err(_) => state.to_string(),
    }
}

/// Joins, new user namespace and its maps, other new namespaces, time offsets, and the
/// second fork when pid/time namespaces demand it (the intermediate hands over and exits).
fn enter_namespaces(cfg: &InitConfig, plan: &NsPlan, ch: &Channel) -> anyhow::Result<()> {
    if !plan.joins.is_empty() {
        setns_all(open_joins(&plan.joins)?)?;
    }
    if plan.new_user {
        if !plan.clone_flags.contains(CloneFlags::CLONE_NEWUSER) {
            unshare(CloneFlags::CLONE_NEWUSER).context("unshare user namespace")?;
        }
        ch.send(&Message::MapsRequest)?;
        ch.expect(&Message::MapsWritten)?;
    }
    if !plan.unshare_flags.is_empty() {
        unshare(plan.unshare_flags)
            .with_context(|| format!("unshare namespaces {:?}", plan.unshare_flags))?;
    }
    if plan.unshare_flags.contains(NsType::Time.flag()) {
        // Before any credential change: that makes us non-dumpable, and /proc/self files
        // then belong to the host's root, out of a user namespace's reach.
        write_time_offsets(cfg.spec)?;
    }
    if plan.new_user {
        // Become root of the new namespace when the maps allow it (they usually map 0), so
        // files made while building the rootfs get a mapped owner.
        let _ = nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0));
        let _ = nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0));
    }
    if plan.second_fork {
        second_fork(ch)?;
    }
    Ok(())
}

/// Move ourselves into the cgroup open at `dir` ("0" names the writer).
pub(super) fn join_cgroup_fd(dir: &OwnedFd) -> anyhow::Result<()> {
    let procs = openat(
        Some(dir.as_fd()),
        "cgroup.procs",
        OFlag::O_WRONLY,
        nix::sys::stat::Mode::empty(),
    )
    .context("open cgroup.procs")?;
    std::fs::File::from(procs)
        .write_all(b"0")
        .context("join the container cgroup")
}
