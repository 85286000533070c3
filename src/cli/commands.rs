//! One small handler per verb: turn parsed flags into a `container` call and print the result.

use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{bail, Context};
use nix::sys::signal::Signal;

use super::args::{
    Cli, Command, CreateArgs, DeleteArgs, EventsArgs, GlobalOptions, IdArgs, KillArgs, ListArgs,
    ListFormat, NetworkCommand, PsArgs, RunArgs, SpecArgs, VolumeCommand,
};
use super::output::{list_json, list_table, parse_duration, ps_table, state_json};
use super::signal::parse_signal;
use super::update::resources_from;
use crate::container::{self, CreateOptions, RunOptions};
use crate::logging;
use crate::spec;
use crate::state::Store;

/// The version text: the first line is what tools grep for.
pub fn version_text() -> String {
    format!(
        "sangja version {}\nspec: {}\n",
        env!("CARGO_PKG_VERSION"),
        spec::default_spec(false).version()
    )
}

/// Run the parsed command; returns the process exit code.
pub fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    let g = &cli.global;
    if g.version {
        emit(&version_text())?;
        return Ok(0);
    }
    let Some(command) = cli.command else {
        bail!("no command given; see 'sangja --help'");
    };
    check_unsupported_globals(g)?;
    let store = Store::new(&g.root);
    let mut forward = |level: &str, msg: &str| logging::log(level, msg);
    match command {
        Command::Create(args) => {
            container::create(&store, &create_options(args, g), &mut forward)?;
        }
        Command::Start(IdArgs { id }) => container::start(&store, &id)?,
        Command::State(IdArgs { id }) => emit(&format!(
            "{}\n",
            state_json(&container::state(&store, &id)?)
        ))?,
        Command::Kill(KillArgs { all, id, signal }) => {
            let sig = match signal {
                Some(s) => parse_signal(&s)?,
                None => Signal::SIGTERM,
            };
            container::kill(&store, &id, sig, all)?;
        }
        Command::Delete(DeleteArgs { force, id }) => container::delete(&store, &id, force)?,
        Command::Run(RunArgs {
            create,
            detach,
            keep,
            no_subreaper: _,
            net,
            volume,
            tmpfs,
        }) => {
            let mut create = create_options(create, g);
            create.network_flags = net.to_flags();
            create.volumes = volume;
            create.tmpfs = tmpfs;
            let opts = RunOptions {
                create,
                detach,
                keep,
            };
            return container::run(&store, &opts, &mut forward);
        }
        Command::List(ListArgs { format, quiet }) => {
            let views = container::list(&store)?;
            let text = if quiet {
                views.iter().map(|v| format!("{}\n", v.id)).collect()
            } else if format == ListFormat::Json {
                format!("{}\n", list_json(&views))
            } else {
                list_table(&views)
            };
            emit(&text)?;
        }
        Command::Exec(args) => {
            return container::exec(&store, &args.to_options(g.debug)?, &mut forward);
        }
        Command::Pause(IdArgs { id }) => container::pause(&store, &id)?,
        Command::Resume(IdArgs { id }) => container::resume(&store, &id)?,
        Command::Ps(PsArgs {
            format,
            id,
            ps_args,
        }) => {
            let pids = container::pids(&store, &id)?;
            let text = if format == ListFormat::Json {
                format!("{}\n", serde_json::to_string(&pids)?)
            } else {
                ps_table(&pids, &ps_args)?
            };
            emit(&text)?;
        }
        Command::Update(args) => {
            container::update(&store, &args.id, &resources_from(&args)?)?;
        }
        Command::Events(EventsArgs {
            stats,
            interval,
            id,
        }) => {
            let interval = parse_duration(&interval)?;
            container::events(&store, &id, stats, interval, &mut |e| {
                emit(&format!("{}\n", serde_json::to_string(e)?))
            })?;
        }
        Command::Features => {
            emit(&format!(
                "{}\n",
                serde_json::to_string_pretty(&container::features())?
            ))?;
        }
        Command::Volume(VolumeCommand::Ls) => {
            let names: String = container::list_volumes(&store)?
                .iter()
                .map(|n| format!("{n}\n"))
                .collect();
            emit(&names)?;
        }
        Command::Volume(VolumeCommand::Rm { name }) => container::remove_volume(&store, &name)?,
        Command::Network(NetworkCommand::Rm { name }) => container::remove_network(&store, &name)?,
        Command::Spec(SpecArgs { bundle, rootless }) => write_spec(bundle, rootless)?,
    }
    Ok(0)
}

/// Write command output; a reader that went away (`| head`) is not an error. sangja keeps
/// SIGPIPE ignored (hooks' stdin may close early), so this is where a closed pipe shows.
fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn create_options(a: CreateArgs, g: &GlobalOptions) -> CreateOptions {
    CreateOptions {
        id: a.id,
        bundle: a.bundle,
        pid_file: a.pid_file,
        console_socket: a.console_socket,
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: a.preserve_fds,
        debug: g.debug,
        systemd_cgroup: g.systemd_cgroup,
        network_flags: None,
        terminal_relay: false,
        volumes: Vec::new(),
        tmpfs: Vec::new(),
    }
}

/// Global flags are checked here; `--systemd-cgroup` is refused by `create`, where it would
/// matter. `--rootless` means, as with runc, "ignore cgroup permission errors"; sangja never
/// hits one as root, and without root it makes no cgroup it could be denied, so every value
/// is honoured as is.
fn check_unsupported_globals(g: &GlobalOptions) -> anyhow::Result<()> {
    match g.rootless.as_deref() {
        None | Some("true" | "false" | "auto") => Ok(()),
        Some(other) => bail!("--rootless: invalid value {other:?} (true, false or auto)"),
    }
}

/// `spec`: write a default config.json, refusing to overwrite one.
fn write_spec(bundle: Option<PathBuf>, rootless: bool) -> anyhow::Result<()> {
    let path = bundle
        .unwrap_or_else(|| PathBuf::from("."))
        .join("config.json");
    if path.exists() {
        bail!("{} already exists; remove it first", path.display());
    }
    let text = spec::to_pretty_json(&spec::default_spec(rootless));
    fs::write(&path, text).with_context(|| format!("write {}", path.display()))
}
