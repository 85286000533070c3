//! `create`: validate everything, claim the id, make the start gate, spawn init, record
//! state. A failure at any point unwinds what was made.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use nix::sys::signal::{kill, Signal};

use super::cgroup;
use super::network;
use super::rollback::Rollback;
use crate::error::Error;
use crate::network::{apply_run_flags, Request, RunFlags};
use crate::process::{create_gate, spawn_init, InitConfig, Spawned};
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
}

/// Create the container; returns its init waiting at the start gate.
pub fn create(
    store: &Store,
    opts: &CreateOptions,
    log: &mut dyn FnMut(&str, &str),
) -> anyhow::Result<Spawned> {
    validate_id(&opts.id)?;
    let bundle = fs::canonicalize(&opts.bundle)
        .with_context(|| format!("bundle {}", opts.bundle.display()))?;
    let mut spec = spec::load(&bundle)?;
    if let Some(flags) = &opts.network_flags {
        apply_run_flags(&mut spec, flags)?;
    }
    spec::validate(&spec, &bundle)?;
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
        let cfg = InitConfig {
            id: &opts.id,
            spec: &spec,
            rootfs: &rootfs,
            bundle: &bundle,
            gate: &gate,
            cgroup: Some(&cgroup_fd),
            no_pivot: opts.no_pivot,
            no_new_keyring: opts.no_new_keyring,
            preserve_fds: opts.preserve_fds,
            debug: opts.debug,
        };
        let spawned = spawn_init(&cfg, log)?;
        let pid = spawned.pid;
        rollback.push("kill container init", move || {
            kill(pid, Signal::SIGKILL).context("kill init")
        });
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
        };
        store.save(&state)?;
        if let Some(pid_file) = &opts.pid_file {
            write_pid_file(pid_file, pid.as_raw())?;
        }
        Ok(spawned)
    })();
    drop(lock);
    match result {
        Ok(spawned) => {
            rollback.commit();
            Ok(spawned)
        }
        Err(e) => Err(rollback.unwind(e)),
    }
}

/// Terminals arrive with the exec/terminal work; until then refuse clearly instead of
/// leaving a caller waiting on a console socket that never gets a pty.
fn check_terminal(spec: &spec::Spec, opts: &CreateOptions) -> anyhow::Result<()> {
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if terminal {
        return Err(Error::invalid(
            "process.terminal",
            "terminal: true is not supported yet (set it to false)",
        )
        .into());
    }
    if opts.console_socket.is_some() {
        bail!("--console-socket is only valid with process.terminal: true");
    }
    Ok(())
}

/// Decimal pid, no newline, written atomically: go-runc parses the whole file as an integer.
fn write_pid_file(path: &Path, pid: i32) -> anyhow::Result<()> {
    let path = std::path::absolute(path).with_context(|| format!("pid file {}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("/"));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&tmp)
        .with_context(|| format!("write pid file {}", tmp.display()))?;
    let written = f
        .write_all(pid.to_string().as_bytes())
        .and_then(|()| f.sync_all());
    let renamed = written.and_then(|()| fs::rename(&tmp, &path));
    if let Err(e) = renamed {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("write pid file {}", path.display()));
    }
    Ok(())
}
