//! `linux.resources.cpu.cpus`/`mems` → `cpuset.cpus`/`cpuset.mems` (the cpuset
//! controller). Range checks against the machine are in `validate`.

use std::path::Path;

use oci_spec::runtime::LinuxCpu;

use super::files;

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Whether `c` asks for anything of the cpuset controller.
pub fn needs_controller(c: &LinuxCpu) -> bool {
    non_empty(c.cpus()).is_some() || non_empty(c.mems()).is_some()
}

/// Write `cpuset.cpus` and `cpuset.mems` of the cgroup at `dir`.
pub fn apply(dir: &Path, c: &LinuxCpu) -> anyhow::Result<()> {
    if let Some(cpus) = non_empty(c.cpus()) {
        files::write(dir, "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = non_empty(c.mems()) {
        files::write(dir, "cpuset.mems", mems)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::testutil::FakeCgroup;

    #[test]
    fn writes_lists() {
        let cg = FakeCgroup::new(&["cpuset.cpus", "cpuset.mems"]);
        let c: LinuxCpu = serde_json::from_str(r#"{"cpus":"0-1","mems":" 0 "}"#).unwrap();
        assert!(needs_controller(&c));
        apply(cg.dir(), &c).unwrap();
        assert_eq!(cg.get("cpuset.cpus"), "0-1");
        assert_eq!(cg.get("cpuset.mems"), "0");
        let c: LinuxCpu = serde_json::from_str(r#"{"cpus":""}"#).unwrap();
        assert!(!needs_controller(&c));
    }
}
