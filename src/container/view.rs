//! What `state` and `list` show: runc's field names, which containerd's go-runc parses.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::status_of;
use crate::state::{validate_id, Status, Store};

/// One container as the OCI state / runc prints it.
#[derive(Debug, Clone, Serialize)]
pub struct ContainerView {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The state of one container.
pub fn state(store: &Store, id: &str) -> anyhow::Result<ContainerView> {
    validate_id(id)?;
    let s = store.load(id)?;
    let status = status_of(store, &s);
    Ok(ContainerView {
        oci_version: s.oci_version,
        id: s.id,
        // A stopped container has no process; runc prints 0 too.
        pid: if status == Status::Stopped { 0 } else { s.pid },
        status: status.to_string(),
        bundle: s.bundle,
        rootfs: s.rootfs,
        created: s.created,
        owner: s.owner,
        annotations: s.annotations,
    })
}

/// Every container under the root; one that vanishes while we look is skipped.
pub fn list(store: &Store) -> anyhow::Result<Vec<ContainerView>> {
    Ok(store
        .list()?
        .iter()
        .filter_map(|id| state(store, id).ok())
        .collect())
}
