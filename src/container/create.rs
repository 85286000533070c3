//! `create`: validate everything, claim the id, make the start gate, spawn init, record
//! state. A failure at any point unwinds what was made.

use std::fs;
use std::path::PathBuf;

use anyhow::{bail, Context};
use nix::sys::signal::{kill, Signal};

use super::cgroup;
use super::hooks;
use super::network;
use super::pidfile::write_pid_file;
use super::rollback::Rollback;
use crate::error::Error;
use crate::network::{apply_run_flags, Request, RunFlags};
use crate::process::{
    create_gate, ensure_sealed_exe, send_to_console_socket, spawn_init, InitConfig, Spawned,
};
use crate::rootfs::{self, volumes};
use crate::security;
use crate::spec;
use crate::state::{validate_id, State, Store};
use crate::sys::clock::rfc3339_now;

/// Flags of `create` (and of `run`).
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// Forward init's debug records to `log`.
    pub debug: bool,
    /// `--systemd-cgroup`: refused when a container is made, as no D-Bus driver exists yet.
    pub systemd_cgroup: bool,
    /// `sangja run`'s network flags, applied to the in-memory config of this run only.
    pub network_flags: Option<RunFlags>,
    /// A foreground `run` relays the terminal itself, so no console socket is needed.
    pub terminal_relay: bool,
    /// `sangja run -v SRC:DST[:ro]` and `--tmpfs DST[:opts]`, for this run's config only.
    pub volumes: Vec<String>,
    pub tmpfs: Vec<String>,
}

/// A created container: its init waiting at the start gate, and the state recorded for it
/// (`run` goes on with both rather than reading them back).
pub struct Created {
    pub spawned: Spawned,
    pub state: State,
}

/// Create the container; returns its init waiting at the start gate.
pub fn create(
    store: &Store,
    opts: &CreateOptions,
    log: &mut dyn FnMut(&str, &str),
) -> anyhow::Result<Created> {
    validate_id(&opts.id)?;
    ensure_sealed_exe()?;
    let bundle = fs::canonicalize(&opts.bundle)
        .with_context(|| format!("bundle {}", opts.bundle.display()))?;
    let mut spec = spec::load_checked(&bundle, &security::precheck)?;
    if let Some(flags) = &opts.network_flags {
        apply_run_flags(&mut spec, flags)?;
    }
    if !opts.volumes.is_empty() || !opts.tmpfs.is_empty() {
        let cwd = std::env::current_dir().context("current directory")?;
        volumes::apply_run_flags(&mut spec, store.root(), &cwd, &opts.volumes, &opts.tmpfs)?;
    }
    let listen_fds = socket_activation(&mut spec);
    spec::validate(&spec, &bundle)?;
    rootfs::validate(&spec)?;
    let security = security::Plan::from_spec(&spec)?;
    if security.seccomp_listener().is_some() {
        return Err(Error::invalid(
            "linux.seccomp.listenerPath",
            "SCMP_ACT_NOTIFY listeners are not supported yet",
        )
        .into());
    }
    for note in security.notes() {
        log("debug", note);
    }
    crate::hooks::validate(spec.hooks().as_ref())?;
    check_mount_label(&spec, log)?;
    let net_request = Request::from_spec(&spec, &opts.id)?;
    let rootfs = spec::rootfs_path(&spec, &bundle)?;
    check_terminal(&spec, opts)?;
    let cgroup_plan = cgroup::plan(&spec, &opts.id, opts.systemd_cgroup)?;

    let lock = store.create_dir(&opts.id)?;
    let mut rollback = Rollback::default();
    let (s, id) = (store.clone(), opts.id.clone());
    rollback.push("remove state directory", move || s.remove(&id));
    let result = (|| {
        let cg = cgroup::create(&cgroup_plan)?;
        let undo = cg.clone();
        rollback.push("remove cgroup", move || {
            undo.kill_all()?;
            undo.remove()
        });
        let cgroup_fd = cg.open_fd()?;
        // In a container with its own user namespace init cannot make id-mapped mounts; the
        // parent (host root) makes the trees and init, a copy of it, finds them open.
        let idmapped = if spec::has_namespace(&spec, oci_spec::runtime::LinuxNamespaceType::User) {
            rootfs::open_idmapped_trees(&spec, &bundle)?
        } else {
            rootfs::PreparedMounts::default()
        };
        let net = match &net_request {
            Some(req) => {
                let prepared = network::prepare(store, req, &mut spec)?;
                let (s, a) = (store.clone(), prepared.attachment.clone());
                rollback.push("remove network", move || network::detach(&s, &a));
                Some(prepared)
            }
            None => None,
        };
        let gate = create_gate(&store.fifo_path(&opts.id))?;
        let runtime_hooks = |pid: i32| hooks::run_runtime_hooks(&spec, &opts.id, pid, &bundle);
        let device_program = std::cell::OnceCell::new();
        let load_devices = || {
            let prog = cgroup::load_devices(&cgroup_plan, &cg)?;
            let _ = device_program.set(prog);
            Ok(())
        };
        let cfg = InitConfig {
            id: &opts.id,
            spec: &spec,
            rootfs: &rootfs,
            bundle: &bundle,
            gate: &gate,
            cgroup: Some(&cgroup_fd),
            host_cgroup2: cgroup_plan.whole_hierarchy_mount(),
            idmapped: &idmapped,
            no_pivot: opts.no_pivot,
            no_new_keyring: opts.no_new_keyring,
            preserve_fds: listen_fds + opts.preserve_fds,
            debug: opts.debug,
            security: &security,
            runtime_hooks: hooks::init_needs_hooks(&spec)
                .then_some(&runtime_hooks as &dyn Fn(i32) -> anyhow::Result<String>),
            meanwhile: Some(&load_devices),
        };
        let mut spawned = spawn_init(&cfg, log)?;
        let pid = spawned.pid;
        rollback.push("kill container init", move || {
            kill(pid, Signal::SIGKILL).context("kill init")
        });
        let prog = device_program
            .into_inner()
            .ok_or_else(|| anyhow::anyhow!("the device program was not loaded"))?;
        cg.install_devices(prog)?;
        let attachment = match &net {
            Some(prepared) => {
                let a = crate::network::attach(store.root(), prepared, pid.as_raw())?;
                for note in &a.notes {
                    log("debug", note);
                }
                Some(network::to_state(&a)?)
            }
            None => None,
        };
        let state = State {
            id: opts.id.clone(),
            oci_version: spec.version().clone(),
            bundle: bundle.clone(),
            rootfs: rootfs.clone(),
            pid: pid.as_raw(),
            pid_start_time: spawned.start_time,
            created: rfc3339_now(),
            owner: String::new(),
            annotations: spec
                .annotations()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
            own_pid_ns: spawned.own_pid_ns,
            cgroup_path: Some(cgroup_plan.path.as_str().to_string()),
            network: attachment,
            late_hooks: hooks::late_hooks(&spec),
        };
        store.save(&state)?;
        if let (Some(socket), Some((master, name))) = (&opts.console_socket, &spawned.console) {
            send_to_console_socket(socket, master, name)?;
            spawned.console = None;
        }
        if let Some(pid_file) = &opts.pid_file {
            write_pid_file(pid_file, pid.as_raw())?;
        }
        Ok(Created { spawned, state })
    })();
    drop(lock);
    match result {
        Ok(created) => {
            rollback.commit();
            Ok(created)
        }
        Err(e) => Err(rollback.unwind(e)),
    }
}

/// systemd socket activation, as runc does it: when `LISTEN_FDS=N` (and `LISTEN_PID` names us)
/// fds 3..3+N are passed on before any `--preserve-fds`, and the process is told
/// `LISTEN_FDS=N`, `LISTEN_PID=1`. Returns N.
fn socket_activation(spec: &mut spec::Spec) -> u32 {
    let n: u32 = match std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        Some(n) if n > 0 => n,
        _ => return 0,
    };
    let for_us = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        .is_none_or(|p| p == std::process::id());
    if !for_us {
        return 0;
    }
    if let Some(process) = spec.process().clone() {
        let mut process = process;
        let mut env = process.env().clone().unwrap_or_default();
        env.retain(|e| !e.starts_with("LISTEN_FDS=") && !e.starts_with("LISTEN_PID="));
        env.push(format!("LISTEN_FDS={n}"));
        env.push("LISTEN_PID=1".into());
        process.set_env(Some(env));
        spec.set_process(Some(process));
    }
    n
}

/// `linux.mountLabel` means something only under SELinux: ignored (said at debug level) on a
/// host without it; refused on one with it, since sangja does not label mounts yet.
fn check_mount_label(spec: &spec::Spec, log: &mut dyn FnMut(&str, &str)) -> anyhow::Result<()> {
    let Some(label) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.mount_label().as_deref())
    else {
        return Ok(());
    };
    if std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        return Err(Error::invalid(
            "linux.mountLabel",
            "SELinux mount labels are not supported yet on this SELinux host",
        )
        .into());
    }
    log(
        "debug",
        &format!("linux.mountLabel {label:?} ignored: SELinux is not enabled on this host"),
    );
    Ok(())
}

/// A terminal needs somewhere to go: the console socket, or a foreground relay (runc's rules).
fn check_terminal(spec: &spec::Spec, opts: &CreateOptions) -> anyhow::Result<()> {
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    match (terminal, opts.console_socket.is_some()) {
        (true, false) if !opts.terminal_relay => bail!(
            "cannot allocate tty if sangja will detach without setting console socket \
             (process.terminal is true: pass --console-socket)"
        ),
        (false, true) => bail!(
            "cannot use console socket if sangja will not allocate tty (process.terminal is false)"
        ),
        _ => Ok(()),
    }
}
