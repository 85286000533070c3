//! `start`: open the start gate of a created container, letting its init exec.

use super::delete::delete;
use super::{hooks, status_of};
use crate::error::Error;
use crate::process::open_gate;
use crate::state::{validate_id, Status, Store};

pub fn start(store: &Store, id: &str) -> anyhow::Result<()> {
    validate_id(id)?;
    let _lock = store.lock(id)?;
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
    open_gate(&store.fifo_path(id), || state.init_alive())?;
    // poststart: a failure fails `start`, and the container does not stay half started.
    if let Err(e) = hooks::run_poststart(&state) {
        drop(_lock);
        let _ = delete(store, id, true);
        return Err(e);
    }
    Ok(())
}
