//! `exec`: run a new process in a live container, in the foreground (signals forwarded, its
//! exit code returned, a terminal relayed) or detached (pid file written).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use oci_spec::runtime::Process;

use super::pidfile::write_pid_file;
use super::{cgroup, status_of};
use crate::error::Error;
use crate::process::{
    ensure_sealed_exe, relay_until_exit, send_to_console_socket, spawn_exec, BlockedSignals,
    ExecConfig,
};
use crate::security;
use crate::spec;
use crate::state::{validate_id, State, Status, Store};

/// Where the process comes from: a process.json (`-p`), or the container's own process
/// with these changes (runc's flags).
#[derive(Debug, Clone)]
pub enum ExecProcess {
    File(PathBuf),
    Args(ExecArgs),
}

/// runc's `exec` flags that shape the process.
#[derive(Debug, Clone, Default)]
pub struct ExecArgs {
    pub args: Vec<String>,
    pub cwd: Option<PathBuf>,
    pub env: Vec<String>,
    pub tty: bool,
    pub user: Option<(u32, Option<u32>)>,
    pub additional_gids: Vec<u32>,
    pub caps: Vec<String>,
    pub no_new_privs: bool,
    pub apparmor: Option<String>,
    pub process_label: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ExecOptions {
    pub id: String,
    pub process: ExecProcess,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub preserve_fds: u32,
    pub ignore_paused: bool,
    pub debug: bool,
}

/// Returns the exit code: the process's in the foreground, 0 when detached.
pub fn exec(
    store: &Store,
    opts: &ExecOptions,
    log: &mut dyn FnMut(&str, &str),
) -> anyhow::Result<i32> {
    validate_id(&opts.id)?;
    ensure_sealed_exe()?;
    let state = store.load(&opts.id)?;
    match status_of(store, &state) {
        Status::Stopped => return Err(Error::WrongStatus("container not running".into()).into()),
        Status::Paused if !opts.ignore_paused => {
            return Err(Error::WrongStatus(
                "container is paused (use --ignore-paused to exec anyway)".into(),
            )
            .into())
        }
        _ => {}
    }
    let process = build_process(&state, &opts.process)?;
    // The process's own capabilities, seccomp, rlimits… judged like a config's process.
    let mut with_process = spec::load(&state.bundle)?;
    with_process.set_process(Some(process.clone()));
    let security = security::Plan::from_spec(&with_process)?;
    if security.seccomp_listener().is_some() {
        bail!("exec: SCMP_ACT_NOTIFY listeners are not supported yet");
    }
    let terminal = process.terminal().unwrap_or(false);
    match (terminal, opts.console_socket.is_some()) {
        (true, false) if opts.detach => {
            bail!("cannot allocate tty if sangja will detach without setting console socket")
        }
        (false, true) => bail!("cannot use console socket if sangja will not allocate tty"),
        _ => {}
    }
    let cg = cgroup::open(&state)?;
    let cgroup_fd = cg.as_ref().map(|c| c.open_fd()).transpose()?;
    let signals = if opts.detach {
        None
    } else {
        Some(BlockedSignals::block()?)
    };
    let cfg = ExecConfig {
        init_pid: state.pid,
        process: &process,
        cgroup: cgroup_fd.as_ref(),
        preserve_fds: opts.preserve_fds,
        debug: opts.debug,
        security: &security,
    };
    let mut spawned = spawn_exec(&cfg, log).map_err(exec_failure)?;
    if let (Some(socket), Some((master, name))) = (&opts.console_socket, &spawned.console) {
        send_to_console_socket(socket, master, name)?;
        spawned.console = None;
    }
    if let Some(pid_file) = &opts.pid_file {
        write_pid_file(pid_file, spawned.pid.as_raw())?;
    }
    let Some(signals) = signals else {
        return Ok(0);
    };
    match spawned.console {
        Some((master, _)) => relay_until_exit(master, spawned.pid, &signals),
        None => signals.wait_for_exit(spawned.pid),
    }
}

/// A program that could not be found or run gets the shell's exit code.
fn exec_failure(e: anyhow::Error) -> anyhow::Error {
    let msg = format!("{e:#}");
    let exit_code =
        if msg.contains("executable file not found") || msg.contains("no such file or directory") {
            127
        } else if msg.contains("permission denied") || msg.contains("is a directory") {
            126
        } else {
            return e;
        };
    Error::ExecFailed { msg, exit_code }.into()
}

/// The process to run, checked like `process` in config.json.
fn build_process(state: &State, source: &ExecProcess) -> anyhow::Result<Process> {
    let process = match source {
        ExecProcess::File(path) => read_process_file(path)?,
        ExecProcess::Args(a) => from_container(state, a)?,
    };
    let args = process.args().clone().unwrap_or_default();
    if args.first().is_none_or(|a| a.is_empty()) {
        return Err(Error::invalid("process.args", "must name the program to run").into());
    }
    if !process.cwd().is_absolute() {
        return Err(Error::invalid("process.cwd", "must be an absolute path").into());
    }
    Ok(process)
}

fn read_process_file(path: &Path) -> anyhow::Result<Process> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("read process file {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parse process file {}", path.display()))
}

/// The container's own process (from its bundle) with the flags applied, as runc does.
fn from_container(state: &State, a: &ExecArgs) -> anyhow::Result<Process> {
    let config = spec::load(&state.bundle)?;
    let mut p = config.process().clone().unwrap_or_default();
    p.set_args(Some(a.args.clone()));
    p.set_terminal(Some(a.tty));
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    let mut env = p.env().clone().unwrap_or_default();
    env.extend(a.env.iter().cloned());
    p.set_env(Some(env));
    let mut user = p.user().clone();
    if let Some((uid, gid)) = a.user {
        user.set_uid(uid);
        if let Some(gid) = gid {
            user.set_gid(gid);
        }
    }
    if !a.additional_gids.is_empty() {
        user.set_additional_gids(Some(a.additional_gids.clone()));
    }
    p.set_user(user);
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some(profile) = &a.apparmor {
        p.set_apparmor_profile(Some(profile.clone()));
    }
    if let Some(label) = &a.process_label {
        p.set_selinux_label(Some(label.clone()));
    }
    if !a.caps.is_empty() {
        add_capabilities(&mut p, &a.caps)?;
    }
    Ok(p)
}

/// `--cap NAME`: added to the bounding, effective and permitted sets (runc's rule).
fn add_capabilities(p: &mut Process, names: &[String]) -> anyhow::Result<()> {
    use oci_spec::runtime::{Capability, LinuxCapabilities};
    let mut caps = p.capabilities().clone().unwrap_or_else(|| {
        let mut c = LinuxCapabilities::default();
        c.set_bounding(None)
            .set_effective(None)
            .set_permitted(None)
            .set_inheritable(None)
            .set_ambient(None);
        c
    });
    for name in names {
        let upper = name.to_ascii_uppercase();
        let full = if upper.starts_with("CAP_") {
            upper
        } else {
            format!("CAP_{upper}")
        };
        // Through serde, which knows the config's "CAP_"-prefixed spelling.
        let cap: Capability = serde_json::from_value(serde_json::Value::String(full))
            .map_err(|_| Error::invalid("--cap", format!("unknown capability {name:?}")))?;
        let with = |set: &Option<oci_spec::runtime::Capabilities>| {
            let mut s = set.clone().unwrap_or_default();
            s.insert(cap);
            Some(s)
        };
        let (b, e, p) = (
            with(caps.bounding()),
            with(caps.effective()),
            with(caps.permitted()),
        );
        caps.set_bounding(b).set_effective(e).set_permitted(p);
    }
    p.set_capabilities(Some(caps));
    Ok(())
}
