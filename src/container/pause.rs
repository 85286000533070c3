//! `pause` and `resume`: freeze and thaw the container's cgroup.

use anyhow::anyhow;

use super::{cgroup, status_of};
use crate::cgroups::Cgroup;
use crate::error::Error;
use crate::state::{validate_id, State, Status, Store};

/// Freeze every process of a running (or created) container.
pub fn pause(store: &Store, id: &str) -> anyhow::Result<()> {
    validate_id(id)?;
    let _lock = store.lock(id)?;
    let state = store.load(id)?;
    match status_of(store, &state) {
        Status::Running | Status::Created => container_cgroup(&state)?.freeze(),
        Status::Paused => Err(Error::WrongStatus("container already paused".into()).into()),
        Status::Stopped => Err(Error::WrongStatus("container not running".into()).into()),
    }
}

/// Thaw a paused container.
pub fn resume(store: &Store, id: &str) -> anyhow::Result<()> {
    validate_id(id)?;
    let _lock = store.lock(id)?;
    let state = store.load(id)?;
    match status_of(store, &state) {
        Status::Paused => container_cgroup(&state)?.thaw(),
        _ => Err(Error::WrongStatus("container not paused".into()).into()),
    }
}

/// The cgroup of a container that must have one.
pub(crate) fn container_cgroup(state: &State) -> anyhow::Result<Cgroup> {
    cgroup::open(state)?.ok_or_else(|| anyhow!("container {} has no cgroup", state.id))
}
