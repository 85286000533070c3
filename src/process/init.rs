//! The container init, in the child: the ordered steps from namespaces to execve. Each step
//! names its stage; a failure is sent to the parent as `Failed { stage, error }` before exit.
//! Order (runc's): namespaces and maps → rootfs (mounts, devices, pivot, masked/readonly
//! paths) → hostname, sysctl → loopback → cwd and executable lookup → ready → start gate →
//! user → signal mask and fd hygiene → execve.

use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::{SigSet, SigmaskHow};
use nix::unistd::{Gid, Uid};

use super::channel::{Channel, Message};
use super::exec_path::resolve_executable;
use super::gate::wait_at_gate;
use super::spawn::{hand_over, InitConfig};
use super::user_env::with_home;
use crate::namespaces::{
    open_joins, set_hostname_and_domain, setns_all, write_time_offsets, NsPlan, NsType,
};
use crate::rootfs::{self, RootfsOptions};
use crate::sys::clone::{clone_fork, Forked};
use crate::sys::open::openat;
use crate::sys::process::{exit_now, join_session_keyring};
use crate::sys::{fd, netif};
use nix::fcntl::OFlag;

/// A failed step: which stage, and the cause chain.
struct StageError {
    stage: &'static str,
    error: anyhow::Error,
}

trait Stage<T> {
    fn stage(self, stage: &'static str) -> Result<T, StageError>;
}

/// A debug record to the parent (only with --debug; costs nothing otherwise).
fn trace(cfg: &InitConfig, ch: &Channel, msg: &str) {
    if cfg.debug {
        let _ = ch.send(&Message::Log {
            level: "debug".into(),
            msg: format!("init: {msg}"),
        });
    }
}

impl<T> Stage<T> for anyhow::Result<T> {
    fn stage(self, stage: &'static str) -> Result<T, StageError> {
        self.map_err(|error| StageError { stage, error })
    }
}

/// Run init's steps and exec the container process; never returns.
pub(super) fn run_init(cfg: &InitConfig, plan: &NsPlan, ch: Channel, join_cgroup: bool) -> ! {
    let err = match steps(cfg, plan, &ch, join_cgroup) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let error = format!("{:#}", err.error);
    if AFTER_READY.contains(&err.stage) {
        // Nobody listens on the channel any more: stderr is all the container has.
        eprintln!("sangja: container init failed at {}: {error}", err.stage);
    } else {
        let _ = ch.send(&Message::Failed {
            stage: err.stage.to_string(),
            error,
        });
    }
    exit_now(1)
}

enum Never {}

/// Stages after `Ready`: the parent has stopped listening by then.
const AFTER_READY: [&str; 4] = ["start gate", "user", "cwd", "exec"];

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
    trace(cfg, ch, "in namespaces");
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
    rootfs::prepare(
        cfg.spec,
        cfg.rootfs,
        &RootfsOptions {
            no_pivot: cfg.no_pivot,
        },
    )
    .stage("rootfs")?;
    trace(cfg, ch, "rootfs ready");
    set_hostname_and_domain(cfg.spec).stage("hostname")?;
    rootfs::apply_sysctl(cfg.spec).stage("sysctl")?;
    if plan.has_new(NsType::Net) {
        netif::set_up("lo")
            .context("bring up lo")
            .stage("network")?;
    }
    let env = with_home(
        process.env().clone().unwrap_or_default(),
        process.user().uid(),
        Path::new("/etc/passwd"),
    );
    let cwd = process.cwd().clone();
    // chdir before switching user catches a missing cwd at create; a cwd only the user may
    // enter is retried after the switch.
    if !cwd.exists() {
        // As runc: a missing working directory is made (as root, before the user switch).
        std::fs::create_dir_all(&cwd)
            .with_context(|| format!("create process.cwd {}", cwd.display()))
            .stage("cwd")?;
    }
    let cwd_done = nix::unistd::chdir(&cwd).is_ok();
    let args = process.args().clone().unwrap_or_default();
    let arg0 = args.first().map(String::as_str).unwrap_or("");
    let exe = resolve_executable(arg0, &env, &cwd).stage("exec lookup")?;
    trace(cfg, ch, &format!("found {}", exe.display()));
    ch.send(&Message::Ready).stage("ready")?;
    wait_at_gate(cfg.gate).stage("start gate")?;
    let user = process.user();
    switch_user(
        user.uid(),
        user.gid(),
        user.additional_gids().as_deref().unwrap_or(&[]),
    )
    .stage("user")?;
    if let Some(mask) = user.umask() {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
    }
    if !cwd_done {
        nix::unistd::chdir(&cwd)
            .with_context(|| format!("chdir to process.cwd {}", cwd.display()))
            .stage("cwd")?;
    }
    exec(&exe, &args, &env, cfg.preserve_fds).stage("exec")
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
        match clone_fork(0, None).context("fork into the pid/time namespace")? {
            Forked::Child { .. } => {}
            Forked::Parent(pid) => hand_over(ch, pid),
        }
    }
    Ok(())
}

/// Move ourselves into the cgroup open at `dir` ("0" names the writer).
fn join_cgroup_fd(dir: &OwnedFd) -> anyhow::Result<()> {
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

/// Supplementary groups, then gid, then uid (after which we could no longer change groups).
fn switch_user(uid: u32, gid: u32, additional: &[u32]) -> anyhow::Result<()> {
    let groups: Vec<Gid> = additional.iter().map(|g| Gid::from_raw(*g)).collect();
    // setgroups is refused in a user namespace with setgroups denied; only fail when asked.
    if let Err(e) = nix::unistd::setgroups(&groups) {
        if !groups.is_empty() {
            return Err(e).context("setgroups process.user.additionalGids");
        }
    }
    let g = Gid::from_raw(gid);
    nix::unistd::setresgid(g, g, g).with_context(|| format!("setgid {gid}"))?;
    let u = Uid::from_raw(uid);
    nix::unistd::setresuid(u, u, u).with_context(|| format!("setuid {uid}"))?;
    Ok(())
}

fn exec(exe: &Path, args: &[String], env: &[String], preserve_fds: u32) -> anyhow::Result<Never> {
    let cstr = |s: &str| CString::new(s).with_context(|| format!("{s:?} contains a NUL byte"));
    let path = cstr(&exe.to_string_lossy())?;
    let argv = args
        .iter()
        .map(|a| cstr(a))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let envp = env
        .iter()
        .map(|e| cstr(e))
        .collect::<anyhow::Result<Vec<_>>>()?;
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .context("unblock signals")?;
    fd::cloexec_from(3 + preserve_fds).context("mark fds close-on-exec")?;
    let err = nix::unistd::execve(&path, &argv, &envp).unwrap_err();
    Err(anyhow!(
        "exec {}: {}",
        PathBuf::from(exe).display(),
        err.desc().to_lowercase()
    ))
}
