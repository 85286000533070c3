//! `update`: change the resource limits of a live container.

use oci_spec::runtime::LinuxResources;

use super::pause::container_cgroup;
use super::status_of;
use crate::cgroups::{validate_update, DeviceRules};
use crate::error::Error;
use crate::state::{validate_id, Status, Store};

pub fn update(store: &Store, id: &str, resources: &LinuxResources) -> anyhow::Result<()> {
    validate_id(id)?;
    let _lock = store.lock(id)?;
    let state = store.load(id)?;
    if status_of(store, &state) == Status::Stopped {
        return Err(Error::WrongStatus("container not running".into()).into());
    }
    validate_update(resources)?;
    let rules = match resources.devices() {
        Some(devices) => Some(DeviceRules::for_container(Some(devices), &[])?),
        None => None,
    };
    container_cgroup(&state)?.update(resources, rules.as_ref())
}
