//! `ps`: the host pids of every process of a container (its cgroup).

use super::pause::container_cgroup;
use super::status_of;
use crate::error::Error;
use crate::state::{validate_id, Status, Store};

pub fn pids(store: &Store, id: &str) -> anyhow::Result<Vec<i32>> {
    validate_id(id)?;
    let state = store.load(id)?;
    if status_of(store, &state) == Status::Stopped {
        return Err(Error::WrongStatus("container not running".into()).into());
    }
    container_cgroup(&state)?.pids()
}
