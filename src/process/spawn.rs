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
use crate::rootfs::PreparedMounts;
use crate::security::Plan;
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
    /// The runtime's cgroup2 mount when it shows the whole hierarchy (for the `cgroup` mount).
    pub host_cgroup2: Option<&'a Path>,
    /// Id-mapped mount trees the parent made (needed when init has a user namespace).
    pub idmapped: &'a PreparedMounts,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// fds 3..3+N are passed to the container process.
    pub preserve_fds: u32,
    /// Send a debug record to the parent at each stage.
    pub debug: bool,
    /// Capabilities, seccomp, rlimits… applied after the start gate.
    pub security: &'a Plan,
    /// Runs prestart and createRuntime hooks (in the runtime's namespaces) when init reaches
    /// the point before pivot_root; gets init's host pid, returns the state JSON for init's
    /// own createContainer/startContainer hooks. `None`: the config has no hooks.
    pub runtime_hooks: Option<&'a dyn Fn(i32) -> anyhow::Result<String>>,
    /// Work for the parent to do right after the clone, while init sets itself up (on another
    /// CPU, where there is one); init is killed if it fails.
    pub meanwhile: Option<&'a dyn Fn() -> anyhow::Result<()>>,
}

/// A container init waiting at the start gate.
#[derive(Debug)]
pub struct Spawned {
    pub pid: Pid,
    pub start_time: u64,
    /// The container has a pid namespace of its own (killing init ends all of it).
    pub own_pid_ns: bool,
    /// The pty master and slave name, with `process.terminal`.
    pub console: Option<(OwnedFd, String)>,
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
    let mut tracker = Tracker::new(first);
    if let Err(e) = cfg.meanwhile.map_or(Ok(()), |work| work()) {
        tracker.kill_all();
        return Err(e);
    }
    let mut requests = Requests {
        maps: &mut |pid: Pid| write_id_maps(pid.as_raw(), cfg.spec),
        hooks: cfg.runtime_hooks,
    };
    let spawned = finish_spawn(&parent, tracker, "container init", &mut requests, on_log)?;
    Ok(Spawned {
        own_pid_ns: plan.has_new(NsType::Pid),
        ..spawned
    })
}

/// What the parent does when the child asks.
pub(super) struct Requests<'a> {
    /// Write the uid/gid maps of this pid's new user namespace.
    pub maps: &'a mut dyn FnMut(Pid) -> anyhow::Result<()>,
    /// Run the runtime-side hooks for this init pid; returns the state for init's hooks.
    pub hooks: Option<&'a dyn Fn(i32) -> anyhow::Result<String>>,
}

/// Talk to a freshly cloned child until it is ready; on failure kill what was made.
pub(super) fn finish_spawn(
    ch: &Channel,
    mut tracker: Tracker,
    what: &str,
    requests: &mut Requests,
    on_log: &mut dyn FnMut(&str, &str),
) -> anyhow::Result<Spawned> {
    let result = converse(ch, &mut tracker, what, requests, on_log).and_then(|()| {
        match tracker.start_time {
            Some(t) => Ok(t),
            // No second fork: init is our own child, nobody else can reap it.
            None => start_time_of(tracker.init)
                .ok_or_else(|| anyhow!("{what} {} vanished after ready", tracker.init)),
        }
    });
    match result {
        Ok(start_time) => Ok(Spawned {
            pid: tracker.init,
            start_time,
            own_pid_ns: false,
            console: tracker.console.take(),
        }),
        Err(e) => {
            tracker.kill_all();
            Err(e)
        }
    }
}

/// Which processes exist: the first child and, after a second fork, the real init.
pub(super) struct Tracker {
    first: Pid,
    init: Pid,
    first_reaped: bool,
    /// Read while the real init of a second fork still waits for `PidNoted`.
    start_time: Option<u64>,
    console: Option<(OwnedFd, String)>,
}

fn start_time_of(pid: Pid) -> Option<u64> {
    procfs::stat(pid.as_raw())
        .ok()
        .flatten()
        .map(|s| s.start_time)
}

impl Tracker {
    pub(super) fn new(first: Pid) -> Tracker {
        Tracker {
            first,
            init: first,
            first_reaped: false,
            start_time: None,
            console: None,
        }
    }

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
    ch: &Channel,
    t: &mut Tracker,
    what: &str,
    requests: &mut Requests,
    on_log: &mut dyn FnMut(&str, &str),
) -> anyhow::Result<()> {
    loop {
        let (msg, fd) = match ch.recv_with_fd()? {
            Some((m, fd)) => (Some(m), fd),
            None => (None, None),
        };
        match msg {
            None => {
                let status = t.reap_first();
                bail!("{what} exited before it was ready ({status})");
            }
            Some(Message::MapsRequest) => {
                (requests.maps)(t.first).context("write uid/gid maps")?;
                ch.send(&Message::MapsWritten)?;
            }
            Some(Message::InitPid(pid)) => {
                t.init = Pid::from_raw(pid);
                t.reap_first();
                t.start_time = Some(
                    start_time_of(t.init)
                        .ok_or_else(|| anyhow!("{what} {pid} vanished after the second fork"))?,
                );
                ch.send(&Message::PidNoted)?;
            }
            Some(Message::Log { level, msg }) => on_log(&level, &msg),
            Some(Message::HooksPoint) => {
                let run = requests
                    .hooks
                    .ok_or_else(|| anyhow!("{what} asked for hooks the config does not have"))?;
                let state = run(t.init.as_raw())?;
                ch.send(&Message::HooksDone { state })?;
            }
            Some(Message::Console { name }) => {
                let fd = fd.ok_or_else(|| anyhow!("init sent its console without the pty"))?;
                t.console = Some((fd, name));
            }
            Some(Message::Ready) => return Ok(()),
            Some(Message::Failed { stage, error }) => {
                bail!("{what} failed at {stage}: {error}")
            }
            Some(other) => bail!("init channel: unexpected {other:?}"),
        }
    }
}

/// The second fork (pid/time namespaces): returns in the grandchild, which becomes the real
/// process; the intermediate tells the parent the grandchild's pid and leaves. The grandchild
/// waits for the parent's `PidNoted`, so the parent never sees its `Ready` before its pid, and
/// reads its start time while it cannot yet have exited (once the intermediate is gone, a
/// subreaper such as containerd's shim may reap it the moment it exits).
pub(super) fn second_fork(ch: &Channel) -> anyhow::Result<()> {
    match clone_fork(0, None).context("fork into the pid/time namespace")? {
        Forked::Child { .. } => match ch.recv()? {
            Some(Message::PidNoted) => Ok(()),
            Some(other) => bail!("init channel: expected PidNoted, got {other:?}"),
            None => bail!("the runtime closed the init channel before noting the pid"),
        },
        Forked::Parent(pid) => {
            let code = i32::from(ch.send(&Message::InitPid(pid.as_raw())).is_err());
            exit_now(code)
        }
    }
}
