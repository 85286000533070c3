//! `kill`: signal the container's init, or with `--all` every process of the container.

use std::fs;

use anyhow::Context;
use nix::errno::Errno;
use nix::sys::signal::{kill as send, Signal};
use nix::unistd::Pid;

use super::{cgroup, status_of};
use crate::error::Error;
use crate::state::{validate_id, State, Store};

pub fn kill(store: &Store, id: &str, signal: Signal, all: bool) -> anyhow::Result<()> {
    validate_id(id)?;
    let _lock = store.lock(id)?;
    let state = store.load(id)?;
    if !status_of(store, &state).can_kill() {
        return Err(Error::WrongStatus("container not running".into()).into());
    }
    if all {
        if let Some(cg) = cgroup::open(&state)? {
            return cg.signal_all(signal);
        }
    }
    if all && state.own_pid_ns {
        for pid in pids_in_namespace_of(&state)? {
            // Processes may exit while we walk; that is not an error.
            let _ = send(Pid::from_raw(pid), signal);
        }
        return Ok(());
    }
    match send(Pid::from_raw(state.pid), signal) {
        Ok(()) => Ok(()),
        Err(Errno::ESRCH) => {
            Err(Error::WrongStatus("container not running: no such process".into()).into())
        }
        Err(e) => Err(e).with_context(|| format!("kill {} with {signal}", state.pid)),
    }
}

/// Host pids of every process in the pid namespace of the container's init: the boundary of
/// a container recorded without a cgroup.
pub(crate) fn pids_in_namespace_of(state: &State) -> anyhow::Result<Vec<i32>> {
    let target = fs::read_link(format!("/proc/{}/ns/pid", state.pid))
        .with_context(|| format!("read pid namespace of {}", state.pid))?;
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").context("read /proc")?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if fs::read_link(entry.path().join("ns/pid")).ok().as_ref() == Some(&target) {
            pids.push(pid);
        }
    }
    Ok(pids)
}
