//! uid/gid maps of a new user namespace, written by the parent (which holds the rights in
//! the outer namespace) into `/proc/<pid>/{uid_map,gid_map}`.

use std::fs;

use anyhow::Context;
use oci_spec::runtime::{LinuxIdMapping, Spec};

/// Write the spec's mappings for the process `pid`, which has just made its user namespace.
/// As an unprivileged caller the kernel demands `setgroups` be denied before a gid map.
pub fn write_id_maps(pid: i32, spec: &Spec) -> anyhow::Result<()> {
    let linux = spec.linux().as_ref();
    let uid = linux
        .and_then(|l| l.uid_mappings().clone())
        .unwrap_or_default();
    let gid = linux
        .and_then(|l| l.gid_mappings().clone())
        .unwrap_or_default();
    if !nix::unistd::geteuid().is_root() {
        let p = format!("/proc/{pid}/setgroups");
        fs::write(&p, "deny").with_context(|| format!("write {p}"))?;
    }
    write_map(&format!("/proc/{pid}/uid_map"), &uid)?;
    write_map(&format!("/proc/{pid}/gid_map"), &gid)
}

fn write_map(path: &str, maps: &[LinuxIdMapping]) -> anyhow::Result<()> {
    if maps.is_empty() {
        return Ok(());
    }
    let text = format_map(maps);
    fs::write(path, text.as_bytes()).with_context(|| format!("write {path} ({})", text.trim()))
}

/// Lines of `inside outside count`, one write as the kernel requires.
fn format_map(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_mapping() {
        let maps: Vec<LinuxIdMapping> =
            serde_json::from_str(r#"[{"containerID":0,"hostID":1000,"size":1},{"containerID":1,"hostID":100000,"size":65536}]"#)
                .unwrap();
        assert_eq!(format_map(&maps), "0 1000 1\n1 100000 65536\n");
    }
}
