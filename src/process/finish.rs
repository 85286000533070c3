//! The last mile shared by a container's init and an `exec`'d process, inside the container:
//! terminal, environment, cwd and executable lookup before ready; user, umask and execve
//! after.

use std::ffi::CString;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use nix::sys::signal::{SigSet, SigmaskHow};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::Process;

use super::channel::{Channel, Message};
use super::console::{attach_new_pty, Pty};
use super::exec_path::resolve_executable;
use super::stage::{Never, Stage, StageError};
use super::user_env::with_home;
use crate::security::Plan;
use crate::sys::fd;

/// What the pre-ready half found.
pub(super) struct Ready {
    exe: PathBuf,
    args: Vec<String>,
    env: Vec<String>,
    cwd: PathBuf,
    cwd_done: bool,
}

/// Before ready: the pty (made here unless the caller made it; its master goes to the
/// parent), environment, cwd, executable.
pub(super) fn before_ready(
    process: &Process,
    ch: &Channel,
    made: Option<Pty>,
) -> Result<Ready, StageError> {
    let pty = match made {
        Some(pty) => Some(pty),
        None if process.terminal().unwrap_or(false) => {
            let size = process
                .console_size()
                .as_ref()
                .map(|b| (b.height() as u16, b.width() as u16));
            Some(attach_new_pty(size).stage("console")?)
        }
        None => None,
    };
    if let Some(pty) = pty {
        ch.send_with_fd(
            &Message::Console {
                name: pty.slave_name.clone(),
            },
            Some(pty.master.as_fd()),
        )
        .stage("console")?;
        // Our copy of the master goes now: the container must hold only the slave.
        drop(pty.master);
    }
    let env = with_home(
        process.env().clone().unwrap_or_default(),
        process.user().uid(),
        Path::new("/etc/passwd"),
    );
    let cwd = process.cwd().clone();
    if !cwd.exists() {
        // As runc: a missing working directory is made (as root, before the user switch).
        std::fs::create_dir_all(&cwd)
            .with_context(|| format!("create process.cwd {}", cwd.display()))
            .stage("process.cwd")?;
    }
    // chdir before switching user catches a bad cwd before ready; a cwd only the user may
    // enter is retried after the switch.
    let cwd_done = nix::unistd::chdir(&cwd).is_ok();
    if cwd_done {
        check_cwd_inside_root(&cwd).stage("process.cwd")?;
    }
    let args = process.args().clone().unwrap_or_default();
    let arg0 = args.first().map(String::as_str).unwrap_or("");
    let exe = resolve_executable(arg0, &env, &cwd).stage("exec lookup")?;
    Ok(Ready {
        exe,
        args,
        env,
        cwd,
        cwd_done,
    })
}

/// CVE-2024-21626: a cwd like `/proc/self/fd/N` naming a leaked host directory would put the
/// process outside its root. The kernel's getcwd fails (or says "(unreachable)") then.
fn check_cwd_inside_root(cwd: &Path) -> anyhow::Result<()> {
    match nix::unistd::getcwd() {
        Ok(p) if !p.to_string_lossy().starts_with("(unreachable)") => Ok(()),
        _ => anyhow::bail!(
            "process.cwd {} is outside the container's root filesystem",
            cwd.display()
        ),
    }
}

/// After ready (and the start gate for init), in runc's order: fds marked close-on-exec,
/// rlimits/oom/scheduler/LSM labels/bounding set, user, capabilities + no_new_privs + seccomp,
/// umask, cwd, execve.
pub(super) fn exec_process(
    process: &Process,
    ready: Ready,
    preserve_fds: u32,
    security: &Plan,
    debug: bool,
) -> Result<Never, StageError> {
    fd::cloexec_from(3 + preserve_fds)
        .context("mark fds close-on-exec")
        .stage("exec")?;
    security.apply_before_user_switch().stage("security")?;
    let user = process.user();
    switch_user(
        user.uid(),
        user.gid(),
        user.additional_gids().as_deref().unwrap_or(&[]),
    )
    .stage("user")?;
    let warnings = security.apply_after_user_switch(None).stage("security")?;
    if debug {
        // Capabilities that cannot be granted (the spec says warn, not fail; runc drops them
        // silently): only with --debug, on stderr, the one place left to say it.
        for warning in warnings {
            eprintln!("sangja: warning: {warning}");
        }
    }
    if let Some(mask) = user.umask() {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
    }
    if !ready.cwd_done {
        nix::unistd::chdir(&ready.cwd)
            .with_context(|| format!("chdir to process.cwd {}", ready.cwd.display()))
            .stage("cwd")?;
    }
    exec(&ready.exe, &ready.args, &ready.env).stage("exec")
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

fn exec(exe: &Path, args: &[String], env: &[String]) -> anyhow::Result<Never> {
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
    crate::sys::process::default_sigpipe();
    let err = nix::unistd::execve(&path, &argv, &envp).unwrap_err();
    Err(anyhow!(
        "exec {}: {}",
        exe.display(),
        err.desc().to_lowercase()
    ))
}
