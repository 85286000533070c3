//! `state.json`: the facts recorded about one container. Status is never stored; it is
//! derived from these facts each time (see `status.rs`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::sys::procfs;

/// What `create` records. `pid_start_time` pins the pid to one process: a recycled pid has
/// another start time, so it is never taken for our init.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct State {
    pub id: String,
    pub oci_version: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub pid: i32,
    pub pid_start_time: u64,
    pub created: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// True when the container has a pid namespace of its own: killing its init then ends
    /// every process in it.
    #[serde(default)]
    pub own_pid_ns: bool,
    /// The container's cgroup (cgroup2 path from the hierarchy root).
    #[serde(default)]
    pub cgroup_path: Option<String>,
    /// What network teardown needs (opaque here: the network layer's attachment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<serde_json::Value>,
    /// The config's poststart and poststop hooks as created (opaque here: the hooks' JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_hooks: Option<serde_json::Value>,
}

impl State {
    /// Is the recorded init still the same live (non-zombie) process?
    pub fn init_alive(&self) -> bool {
        if self.pid <= 0 {
            return false;
        }
        match procfs::stat(self.pid) {
            Ok(Some(s)) => s.start_time == self.pid_start_time && !matches!(s.state, 'Z' | 'X'),
            _ => false,
        }
    }
}
