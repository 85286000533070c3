//! Seccomp: compile `linux.seccomp` to BPF (`compile`), check the kernel supports what the
//! profile asks for, install with our own `seccomp(2)` call, and hand a notify fd to the
//! seccomp agent at `listenerPath` (`SCMP_ACT_NOTIFY`).

mod bpf;
mod compile;
mod syscalls;

use std::os::fd::{AsFd, OwnedFd};

use anyhow::Context;

pub use compile::{compile, Compiled, Listener, MAX_INSTRUCTIONS};

use crate::error::Error;
use crate::sys::seccomp as sc;

/// Check that the running kernel knows every action and flag the compiled profile uses.
/// Read-only probes: nothing is installed.
pub fn check_host(c: &Compiled) -> Result<(), Error> {
    for &a in &c.actions {
        if !sc::action_available(a) {
            return Err(Error::invalid(
                "linux.seccomp",
                format!("the kernel does not support the seccomp action {a:#010x}"),
            ));
        }
    }
    for (field, flag, name) in &c.flag_fields {
        // The kernel only accepts WAIT_KILLABLE_RECV together with NEW_LISTENER.
        let probe = if *flag == sc::FLAG_WAIT_KILLABLE_RECV {
            flag | sc::FLAG_NEW_LISTENER
        } else {
            *flag
        };
        if !sc::filter_flag_supported(probe) {
            return Err(Error::invalid(
                field.clone(),
                format!("{name} is not supported by this kernel"),
            ));
        }
    }
    if c.listener.is_some() && !sc::filter_flag_supported(sc::FLAG_NEW_LISTENER) {
        return Err(Error::invalid(
            "linux.seccomp.listenerPath",
            "the kernel does not support seccomp user notification",
        ));
    }
    if !sc::filter_flag_supported(c.flags) {
        return Err(Error::invalid(
            "linux.seccomp.flags",
            format!(
                "the kernel refuses this combination of flags ({:#x})",
                c.flags
            ),
        ));
    }
    Ok(())
}

/// A connected `SOCK_STREAM` unix socket to the seccomp agent and the bytes to send on it (the
/// container process state JSON from [`container_process_state`]). Built by the runtime before
/// the container can no longer reach `listenerPath` (the path is a host path).
#[derive(Debug)]
pub struct NotifyHandoff {
    pub socket: OwnedFd,
    pub process_state: Vec<u8>,
}

/// The "container process state" of config-linux.md: `{ociVersion, fds: ["seccompFd"], pid,
/// metadata, state}`. `state_json` is the container's state (runtime.md) as the runtime would
/// print it; `pid` is the container process as seen by the runtime.
pub fn container_process_state(
    state_json: &str,
    pid: i32,
    metadata: Option<&str>,
) -> anyhow::Result<Vec<u8>> {
    let state: serde_json::Value =
        serde_json::from_str(state_json).context("container state for the seccomp agent")?;
    let version = state
        .get("ociVersion")
        .and_then(|v| v.as_str())
        .unwrap_or("1.2.0")
        .to_string();
    let mut v = serde_json::json!({
        "ociVersion": version,
        "fds": ["seccompFd"],
        "pid": pid,
        "state": state,
    });
    if let Some(m) = metadata {
        v["metadata"] = serde_json::Value::String(m.to_string());
    }
    Ok(serde_json::to_vec(&v)?)
}

impl Compiled {
    /// Install the filter on the calling thread (all threads with TSYNC). Without
    /// `no_new_privs` this needs CAP_SYS_ADMIN in the effective set. When the profile notifies,
    /// `handoff` must be given: the notify fd and process state are sent at once (before any
    /// other syscall that a notify rule could catch) and both fds are closed.
    pub fn install(&self, handoff: Option<NotifyHandoff>) -> anyhow::Result<()> {
        if self.listener.is_some() && handoff.is_none() {
            anyhow::bail!(
                "seccomp: the profile uses SCMP_ACT_NOTIFY but no connection to the agent at \
                 listenerPath was prepared"
            );
        }
        let fd = sc::set_mode_filter(self.flags, &self.program)?;
        if let (Some(fd), Some(h)) = (fd, handoff) {
            let path = self.listener.as_ref().map(|l| l.path.display().to_string());
            sc::send_with_fd(h.socket.as_fd(), &h.process_state, fd.as_fd()).with_context(
                || {
                    format!(
                        "seccomp: sending the notify fd to {}",
                        path.unwrap_or_default()
                    )
                },
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
