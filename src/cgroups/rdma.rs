//! `linux.resources.rdma` → `rdma.max` lines `DEVICE hca_handle=N hca_object=M` (a field left
//! out stays as it is). Needs the rdma controller; availability is checked by the caller.

use std::collections::HashMap;
use std::path::Path;

use oci_spec::runtime::LinuxRdma;

use super::files;

/// One `rdma.max` line, or `None` when the entry limits nothing.
pub fn line(device: &str, r: &LinuxRdma) -> Option<String> {
    let mut out = device.to_string();
    if let Some(h) = r.hca_handles() {
        out.push_str(&format!(" hca_handle={h}"));
    }
    if let Some(o) = r.hca_objects() {
        out.push_str(&format!(" hca_object={o}"));
    }
    (out.len() > device.len()).then_some(out)
}

/// Write the rdma limits to the cgroup at `dir`, devices in name order.
pub fn apply(dir: &Path, map: &HashMap<String, LinuxRdma>) -> anyhow::Result<()> {
    let mut names: Vec<&String> = map.keys().collect();
    names.sort();
    for name in names {
        if let Some(l) = line(name, &map[name]) {
            files::write(dir, "rdma.max", &l)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let r: LinuxRdma = serde_json::from_str(r#"{"hcaHandles":3,"hcaObjects":100}"#).unwrap();
        assert_eq!(
            line("mlx5_0", &r).unwrap(),
            "mlx5_0 hca_handle=3 hca_object=100"
        );
        let r: LinuxRdma = serde_json::from_str(r#"{}"#).unwrap();
        assert_eq!(line("mlx5_0", &r), None);
    }
}
