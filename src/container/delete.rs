//! `delete`: remove a stopped (or never started) container; with `--force` kill a running
//! one first. A container that does not exist is an error, except with `--force` (runc's
//! behaviour, which callers rely on).

use std::time::{Duration, Instant};

use anyhow::bail;
use nix::sys::signal::Signal;

use super::{cgroup, hooks, network, status_of};
use crate::error::Error;
use crate::state::{validate_id, State, Status, Store};

/// How long we wait for a killed init to disappear.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);

pub fn delete(store: &Store, id: &str, force: bool) -> anyhow::Result<()> {
    validate_id(id)?;
    let lock = match store.lock(id) {
        Err(e) if force && is_not_found(&e) => return Ok(()),
        other => other?,
    };
    let state = match store.load(id) {
        Ok(s) => s,
        // A directory without a record is the debris of a create that died hard.
        Err(e) if force && is_not_found(&e) => return store.remove(id),
        Err(e) => return Err(e),
    };
    match status_of(store, &state) {
        Status::Stopped => {}
        Status::Created => kill_and_wait(&state)?,
        Status::Paused if force => {
            // A frozen init cannot die until thawed; cgroup.kill handles it, plain SIGKILL
            // needs the thaw.
            if let Some(cg) = cgroup::open(&state)? {
                cg.kill_all()?;
                let _ = cg.thaw();
            }
            kill_and_wait(&state)?
        }
        _ if force => kill_and_wait(&state)?,
        status => {
            return Err(Error::WrongStatus(format!(
                "cannot delete container {id} that is not stopped: container is {status}"
            ))
            .into())
        }
    }
    teardown(store, &state)?;
    drop(lock);
    // poststop: only warnings.
    hooks::run_poststop(&state);
    Ok(())
}

/// Delete the container `run` created, once its init has exited and been reaped, from the
/// state `run` holds: nothing to read back, no status to derive.
pub(super) fn delete_exited(store: &Store, state: &State) -> anyhow::Result<()> {
    let lock = match store.lock(&state.id) {
        // Someone deleted it meanwhile (as `delete --force` would be, this is no error).
        Err(e) if is_not_found(&e) => return Ok(()),
        other => other?,
    };
    teardown(store, state)?;
    drop(lock);
    hooks::run_poststop(state);
    Ok(())
}

/// Remove everything the container had, keeping on past failures and reporting them all.
fn teardown(store: &Store, state: &State) -> anyhow::Result<()> {
    let mut errors: Vec<String> = Vec::new();
    // Processes left in the cgroup (a container without its own pid namespace) go too.
    let cgroup = cgroup::open(state).and_then(|cg| cg.map_or(Ok(()), |cg| cg.destroy()));
    if let Err(e) = cgroup {
        errors.push(format!("{e:#}"));
    }
    if let Some(stored) = &state.network {
        if let Err(e) = network::from_state(stored).and_then(|a| network::detach(store, &a)) {
            errors.push(format!("{e:#}"));
        }
    }
    if let Err(e) = store.remove(&state.id) {
        errors.push(format!("{e:#}"));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        bail!("delete {}: {}", state.id, errors.join("; "))
    }
}

fn is_not_found(e: &anyhow::Error) -> bool {
    matches!(e.downcast_ref::<Error>(), Some(Error::NotFound(_)))
}

/// SIGKILL init and wait until it is gone. With a pid namespace of its own, the kernel then
/// kills every process in it; without one, only init is known to be the container's until
/// cgroups track membership.
fn kill_and_wait(state: &State) -> anyhow::Result<()> {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(state.pid), Signal::SIGKILL);
    let deadline = Instant::now() + KILL_TIMEOUT;
    let mut pause = Duration::from_micros(200);
    while state.init_alive() {
        if Instant::now() > deadline {
            bail!(
                "container init {} did not die within {KILL_TIMEOUT:?} of SIGKILL",
                state.pid
            );
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
    Ok(())
}
