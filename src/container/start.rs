//! `start`: open the start gate of a created container, letting its init exec.

use super::delete::delete;
use super::{hooks, status_of};
use crate::error::Error;
use crate::process::open_gate;
use crate::state::{validate_id, ContainerLock, State, Status, Store};

pub fn start(store: &Store, id: &str) -> anyhow::Result<()> {
    validate_id(id)?;
    let lock = store.lock(id)?;
    let state = store.load(id)?;
    match status_of(store, &state) {
        Status::Created => {}
        Status::Stopped => {
            return Err(
                Error::WrongStatus("cannot start a container that has stopped".into()).into(),
            )
        }
        Status::Running => {
            return Err(
                Error::WrongStatus("cannot start an already running container".into()).into(),
            )
        }
        Status::Paused => {
            return Err(Error::WrongStatus("cannot start a paused container".into()).into())
        }
    }
    open_and_run_poststart(store, &state, lock)
}

/// `start` of the container `run` has just created, from the state it recorded: nothing to
/// read back, and no status to derive (the gate itself fails if init died).
pub(super) fn start_created(store: &Store, state: &State) -> anyhow::Result<()> {
    let lock = store.lock(&state.id)?;
    open_and_run_poststart(store, state, lock)
}

fn open_and_run_poststart(store: &Store, state: &State, lock: ContainerLock) -> anyhow::Result<()> {
    open_gate(&store.fifo_path(&state.id), || state.init_alive())?;
    // poststart: a failure fails `start`, and the container does not stay half started.
    if let Err(e) = hooks::run_poststart(state) {
        drop(lock);
        let _ = delete(store, &state.id, true);
        return Err(e);
    }
    Ok(())
}
