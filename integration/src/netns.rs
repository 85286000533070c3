//! A named network namespace (`ip netns add sangja-itest-<pid>-<n>`) for
//! join-by-path tests, deleted on drop.

use std::path::PathBuf;
use std::process::Command;

use crate::util;

pub struct NetNs {
    name: String,
}

impl NetNs {
    pub fn new() -> Self {
        let name = format!(
            "sangja-itest-{}-{}",
            std::process::id(),
            util::next_serial()
        );
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .expect("run ip netns add");
        assert!(
            out.status.success(),
            "ip netns add {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        NetNs { name }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `/var/run/netns/<name>`, the path a config joins.
    pub fn path(&self) -> PathBuf {
        PathBuf::from("/var/run/netns").join(&self.name)
    }

    /// `net:[<inode>]`, as `readlink /proc/self/ns/net` prints it inside.
    pub fn ns_link(&self) -> String {
        format!("net:[{}]", util::inode_of(&self.path()))
    }
}

impl Default for NetNs {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}
