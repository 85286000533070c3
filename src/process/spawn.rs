//! Parent side of container creation: clone init into its namespaces, answer its requests
//! (uid/gid maps), learn its real pid after a second fork, and wait for "ready" at the gate.
//! On any failure the half-made init is killed before the error is returned.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use anyhow::{anyhow, bail, Context};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::Spec;

use super::channel::{Channel, Message};
use super::init::run_init;
use crate::namespaces::{write_id_maps, NsPlan, NsType};
use crate::sys::clone::{clone_fork, Forked};
use crate::sys::process::exit_now;
use crate::sys::procfs;

/// What init needs; it is a forked copy of the parent, so it just reads this memory.
pub struct InitConfig<'a> {
    pub id: &'a str,
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    /// Relative mount sources are relative to the bundle, so init starts there.
    pub bundle: &'a Path,
    /// O_PATH handle of the start gate (exec.fifo).
    pub gate: &'a OwnedFd,
    /// The container's cgroup directory: init is born in it (CLONE_INTO_CGROUP).
    pub cgroup: Option<&'a OwnedFd>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// fds 3..3+N are passed to the container process.
    pub preserve_fds: u32,
    /// Send a debug record to the parent at each stage.
    pub debug: bool,
}

/// A container init waiting at the start gate.
#[derive(Debug, Clone, Copy)]
pub struct Spawned {
    pub pid: Pid,
    pub start_time: u64,
    /// The container has a pid namespace of its own (killing init ends all of it).
    pub own_pid_ns: bool,
}

/// Start init and wait until it is ready (or failed). `on_log` receives init's log records.
pub fn spawn_init(cfg: &InitConfig, on_log: &mut dyn FnMut(&str, &str)) -> anyhow::Result<Spawned> {
    let plan = NsPlan::from_spec(cfg.spec);
    let (parent, child) = Channel::pair()?;
    let cgroup_fd = cfg.cgroup.map(|fd| fd.as_raw_fd());
    let forked = clone_fork(plan.clone_flags.bits() as u64, cgroup_fd)
        .context("clone the container init")?;
    let first = match forked {
        Forked::Child { in_cgroup } => {
            drop(parent);
            run_init(cfg, &plan, child, !in_cgroup)
        }
        Forked::Parent(pid) => pid,
    };
    drop(child);
    let mut tracker = Tracker {
        first,
        init: first,
        first_reaped: false,
    };
    match converse(cfg.spec, &parent, &mut tracker, on_log) {
        Ok(()) => {
            let start_time = procfs::stat(tracker.init.as_raw())
                .ok()
                .flatten()
                .map(|s| s.start_time)
                .ok_or_else(|| anyhow!("container init {} vanished after ready", tracker.init))?;
            Ok(Spawned {
                pid: tracker.init,
                start_time,
                own_pid_ns: plan.has_new(NsType::Pid),
            })
        }
        Err(e) => {
            tracker.kill_all();
            Err(e)
        }
    }
}

/// Which processes exist: the first child and, after a second fork, the real init.
struct Tracker {
    first: Pid,
    init: Pid,
    first_reaped: bool,
}

impl Tracker {
    fn kill_all(&mut self) {
        let _ = kill(self.init, Signal::SIGKILL);
        if !self.first_reaped {
            let _ = kill(self.first, Signal::SIGKILL);
            let _ = waitpid(self.first, None);
            self.first_reaped = true;
        }
    }

    /// Exit status text of the first child, for "init died" errors.
    fn reap_first(&mut self) -> String {
        if self.first_reaped {
            return "exited".into();
        }
        self.first_reaped = true;
        match waitpid(self.first, None) {
            Ok(status) => format!("{status:?}"),
            Err(e) => format!("wait: {e}"),
        }
    }
}

fn converse(
    spec: &Spec,
    ch: &Channel,
    t: &mut Tracker,
    on_log: &mut dyn FnMut(&str, &str),
) -> anyhow::Result<()> {
    loop {
        match ch.recv()? {
            None => {
                let status = t.reap_first();
                bail!("container init exited before it was ready ({status})");
            }
            Some(Message::MapsRequest) => {
                write_id_maps(t.first.as_raw(), spec).context("write uid/gid maps")?;
                ch.send(&Message::MapsWritten)?;
            }
            Some(Message::InitPid(pid)) => {
                t.init = Pid::from_raw(pid);
                t.reap_first();
            }
            Some(Message::Log { level, msg }) => on_log(&level, &msg),
            Some(Message::Ready) => return Ok(()),
            Some(Message::Failed { stage, error }) => {
                bail!("container init failed at {stage}: {error}")
            }
            Some(other) => bail!("init channel: unexpected {other:?}"),
        }
    }
}

/// Used by init when it forks again: tell the parent the grandchild's pid and leave.
pub(super) fn hand_over(ch: &Channel, pid: Pid) -> ! {
    let code = i32::from(ch.send(&Message::InitPid(pid.as_raw())).is_err());
    exit_now(code)
}
