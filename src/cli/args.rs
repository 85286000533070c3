//! clap definitions. Every flag runc's callers pass is accepted; flags we cannot honour are
//! refused with a clear error by the handlers, never silently ignored.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use super::exec::ExecCliArgs;
pub use super::update::UpdateArgs;
use crate::container::{NetworkMode, RunFlags};

#[derive(Debug, Parser)]
#[command(
    name = "sangja",
    about = "sangja (상자): a low-level OCI container runtime",
    disable_version_flag = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOptions,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args)]
pub struct GlobalOptions {
    /// Root directory for container state
    #[arg(long, global = true, default_value = "/run/sangja")]
    pub root: PathBuf,
    /// Log file (errors, and debug records with --debug)
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Log format: text or json
    #[arg(long = "log-format", global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Enable debug logging
    #[arg(long, global = true)]
    pub debug: bool,
    /// Use systemd to manage cgroups
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// Rootless mode: true, false or auto (before the command, as with runc)
    #[arg(long)]
    pub rootless: Option<String>,
    /// Path to criu (accepted for compatibility; checkpointing is not supported)
    #[arg(long, global = true, hide = true)]
    pub criu: Option<PathBuf>,
    /// Print the version
    #[arg(short = 'v', long)]
    pub version: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ListFormat {
    Table,
    Json,
}

/// Flags shared by `create` and `run`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Path to the bundle (the directory holding config.json)
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// File to write the container init's pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket to send the pty master to (with process.terminal)
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Use chroot (after MS_MOVE) instead of pivot_root
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N extra fds (3..3+N) to the container process
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Container id
    pub id: String,
}

// Parsed once per run; boxing a variant would only cost indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// List named volumes
    Ls,
    /// Remove a named volume no live container uses
    Rm { name: String },
}

#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Remove a network no container uses: its bridge, NAT rules and files
    Rm { name: String },
}

/// `sangja run`'s networking flags (sangja's own; runc has none).
#[derive(Debug, Args)]
pub struct NetworkArgs {
    /// none (only lo), host (the host's network) or bridge[=NAME] (veth on a bridge, NAT)
    #[arg(long)]
    pub network: Option<NetworkMode>,
    /// Publish a port: [HOSTIP:]HOSTPORT:CTRPORT[/tcp|udp] (implies --network bridge)
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Static address on the bridge network
    #[arg(long)]
    pub ip: Option<String>,
    /// Subnet of the bridge network (IPv4 CIDR), when it is first made
    #[arg(long)]
    pub subnet: Option<String>,
    /// Nameserver for the container's resolv.conf (repeatable)
    #[arg(long)]
    pub dns: Vec<String>,
}

impl NetworkArgs {
    /// `None` when no flag was given, so the config is left alone.
    pub fn to_flags(&self) -> Option<RunFlags> {
        let any = self.network.is_some()
            || !self.publish.is_empty()
            || self.ip.is_some()
            || self.subnet.is_some()
            || !self.dns.is_empty();
        any.then(|| RunFlags {
            network: self.network.clone(),
            publish: self.publish.clone(),
            ip: self.ip.clone(),
            subnet: self.subnet.clone(),
            dns: self.dns.clone(),
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container, leaving its init waiting for `start`
    Create(CreateArgs),
    /// Start a created container
    Start(IdArgs),
    /// Print the state of a container as JSON
    State(IdArgs),
    /// Send a signal to a container (default SIGTERM)
    Kill(KillArgs),
    /// Delete a container
    Delete(DeleteArgs),
    /// Create and start a container; in the foreground, wait and return its exit code
    Run(RunArgs),
    /// List containers
    List(ListArgs),
    /// Run a new process inside a running container
    Exec(ExecCliArgs),
    /// Freeze every process of a container
    Pause(IdArgs),
    /// Thaw a paused container
    Resume(IdArgs),
    /// List the processes of a container
    Ps(PsArgs),
    /// Change the resource limits of a container
    Update(UpdateArgs),
    /// Show container events and resource statistics
    Events(EventsArgs),
    /// Manage sangja's bridge networks
    #[command(subcommand)]
    Network(NetworkCommand),
    /// Print the OCI features document of this build
    Features,
    /// Manage named volumes
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Write a default config.json
    Spec(SpecArgs),
}

/// Adds a command's flags to its (empty) `clap::Command`.
pub(super) type AddArgs = fn(clap::Command) -> clap::Command;

/// The commands whose flags are all in one `Args` struct, each with the function that adds
/// them: what [`super::parse`] needs to build the parser of one command alone.
pub(super) const SINGLE_STRUCT: &[(&str, AddArgs)] = &[
    ("create", CreateArgs::augment_args),
    ("start", IdArgs::augment_args),
    ("state", IdArgs::augment_args),
    ("kill", KillArgs::augment_args),
    ("delete", DeleteArgs::augment_args),
    ("run", RunArgs::augment_args),
    ("list", ListArgs::augment_args),
    ("exec", ExecCliArgs::augment_args),
    ("pause", IdArgs::augment_args),
    ("resume", IdArgs::augment_args),
    ("ps", PsArgs::augment_args),
    ("update", UpdateArgs::augment_args),
    ("events", EventsArgs::augment_args),
    ("spec", SpecArgs::augment_args),
];

/// A command that takes only the container id.
#[derive(Debug, Args)]
pub struct IdArgs {
    /// Container id
    pub id: String,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal every process of the container
    #[arg(short, long)]
    pub all: bool,
    /// Container id
    pub id: String,
    /// Signal name or number (default SIGTERM)
    pub signal: Option<String>,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Kill the container first if it is running
    #[arg(short, long)]
    pub force: bool,
    /// Container id
    pub id: String,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Return after starting, leaving the container running
    #[arg(short, long)]
    pub detach: bool,
    /// Keep the container after it exits (no delete)
    #[arg(long)]
    pub keep: bool,
    /// Accepted for compatibility: sangja is always a subreaper in the foreground
    #[arg(long = "no-subreaper", hide = true)]
    pub no_subreaper: bool,
    #[command(flatten)]
    pub net: NetworkArgs,
    /// Mount a host path or a named volume: SRC:DST[:ro] (repeatable)
    #[arg(short = 'v', long = "volume")]
    pub volume: Vec<String>,
    /// Mount a tmpfs: DST[:size=..,mode=..] (repeatable)
    #[arg(long)]
    pub tmpfs: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(short = 'f', long, value_enum, default_value = "table")]
    pub format: ListFormat,
    /// Print only the ids
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// table (runs ps with the given arguments) or json (host pids)
    #[arg(short = 'f', long, value_enum, default_value = "table")]
    pub format: ListFormat,
    /// Container id
    pub id: String,
    /// Arguments for ps (default -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Print the statistics once and exit
    #[arg(long)]
    pub stats: bool,
    /// Interval between statistics (e.g. 5s, 500ms)
    #[arg(long, default_value = "5s")]
    pub interval: String,
    /// Container id
    pub id: String,
}

#[derive(Debug, Args)]
pub struct SpecArgs {
    /// Directory to write config.json into
    #[arg(short = 'b', long)]
    pub bundle: Option<PathBuf>,
    /// A config for running without root
    #[arg(long)]
    pub rootless: bool,
}
