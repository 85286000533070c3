//! `exec`'s flags (runc's) turned into the container layer's options.

use std::path::PathBuf;

use anyhow::{anyhow, bail};
use clap::Args;

use crate::container::{ExecArgs, ExecOptions, ExecProcess};

#[derive(Debug, Args)]
pub struct ExecCliArgs {
    /// Unix socket to send the pty master to (with --tty or a terminal process)
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Working directory in the container
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Set an environment variable (repeatable)
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Allocate a pseudo-terminal
    #[arg(short = 't', long)]
    pub tty: bool,
    /// User as uid[:gid]
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Additional group id (repeatable)
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Process JSON file (OCI process object); other process flags are then ignored
    #[arg(short = 'p', long)]
    pub process: Option<PathBuf>,
    /// Return once the process started
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// File to write the process's pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// SELinux label for the process
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// AppArmor profile for the process
    #[arg(long)]
    pub apparmor: Option<String>,
    /// Set no_new_privs
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Add a capability (repeatable)
    #[arg(short = 'c', long = "cap")]
    pub cap: Vec<String>,
    /// Pass N extra fds (3..3+N)
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Exec even into a paused container
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// Sub-cgroup to run in (cgroup v1 style controller:path; not supported)
    #[arg(long, hide = true)]
    pub cgroup: Vec<String>,
    /// Container id
    pub id: String,
    /// Command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

impl ExecCliArgs {
    pub fn to_options(&self, debug: bool) -> anyhow::Result<ExecOptions> {
        if !self.cgroup.is_empty() {
            bail!("--cgroup: joining a sub-cgroup is not supported");
        }
        let process = match &self.process {
            Some(path) => ExecProcess::File(path.clone()),
            None => {
                if self.command.is_empty() {
                    bail!("exec: a command is required (or --process FILE)");
                }
                ExecProcess::Args(ExecArgs {
                    args: self.command.clone(),
                    cwd: self.cwd.clone(),
                    env: self.env.clone(),
                    tty: self.tty,
                    user: self.user.as_deref().map(parse_user).transpose()?,
                    additional_gids: self.additional_gids.clone(),
                    caps: self.cap.clone(),
                    no_new_privs: self.no_new_privs,
                    apparmor: self.apparmor.clone(),
                    process_label: self.process_label.clone(),
                })
            }
        };
        Ok(ExecOptions {
            id: self.id.clone(),
            process,
            detach: self.detach,
            pid_file: self.pid_file.clone(),
            console_socket: self.console_socket.clone(),
            preserve_fds: self.preserve_fds,
            ignore_paused: self.ignore_paused,
            debug,
        })
    }
}

/// `uid` or `uid:gid`, numeric as runc takes them.
fn parse_user(s: &str) -> anyhow::Result<(u32, Option<u32>)> {
    let bad = || anyhow!("--user {s:?}: expected uid[:gid] (numbers)");
    let (uid, gid) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    let uid = uid.parse().map_err(|_| bad())?;
    let gid = gid.map(|g| g.parse().map_err(|_| bad())).transpose()?;
    Ok((uid, gid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        e: ExecCliArgs,
    }

    #[test]
    fn command_after_the_id_keeps_its_flags() {
        let t = T::parse_from(["t", "-e", "A=1", "--tty", "c1", "ls", "-la", "--color"]);
        assert_eq!(t.e.id, "c1");
        assert_eq!(t.e.command, vec!["ls", "-la", "--color"]);
        let o = t.e.to_options(false).unwrap();
        let ExecProcess::Args(a) = o.process else {
            panic!("args expected")
        };
        assert!(a.tty && a.env == vec!["A=1"]);
    }

    #[test]
    fn users() {
        assert_eq!(parse_user("1000").unwrap(), (1000, None));
        assert_eq!(parse_user("1:2").unwrap(), (1, Some(2)));
        assert!(parse_user("root").is_err() && parse_user("1:x").is_err());
    }
}
