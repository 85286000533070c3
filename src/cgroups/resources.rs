//! All of `linux.resources` except devices → the interface files of one cgroup directory, one
//! controller writer after another; `unified` last so that it wins.

use std::path::Path;

use oci_spec::runtime::LinuxResources;

use super::{cpu, cpuset, hugetlb, io, memory, pids, rdma, unified};

/// Write `r` to the cgroup at `dir`. The controllers must already be enabled for it.
pub fn apply(dir: &Path, r: &LinuxResources) -> anyhow::Result<()> {
    if let Some(c) = r.cpu() {
        cpuset::apply(dir, c)?;
        cpu::apply(dir, c)?;
    }
    if let Some(m) = r.memory() {
        memory::apply(dir, m)?;
    }
    if let Some(p) = r.pids() {
        pids::apply(dir, p)?;
    }
    if let Some(b) = r.block_io() {
        io::apply(dir, b)?;
    }
    if let Some(h) = r.hugepage_limits() {
        hugetlb::apply(dir, h)?;
    }
    if let Some(m) = r.rdma() {
        rdma::apply(dir, m)?;
    }
    if let Some(u) = r.unified() {
        unified::apply(dir, u)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::testutil::FakeCgroup;

    #[test]
    fn every_writer_on_one_fake_cgroup() {
        let cg = FakeCgroup::new(&[
            "cpu.weight",
            "cpu.max",
            "cpuset.cpus",
            "memory.max",
            "memory.high",
            "pids.max",
            "io.max",
            "hugetlb.2MB.max",
            "rdma.max",
        ]);
        let r: LinuxResources = serde_json::from_str(
            r#"{"cpu":{"shares":2048,"quota":50000,"cpus":"0"},"memory":{"limit":1048576},
                "pids":{"limit":10},
                "blockIO":{"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":100}]},
                "hugepageLimits":[{"pageSize":"2MB","limit":0}],
                "rdma":{"mlx4_0":{"hcaHandles":2}},
                "unified":{"memory.high":"900000","memory.max":"2097152"}}"#,
        )
        .unwrap();
        apply(cg.dir(), &r).unwrap();
        assert_eq!(cg.get("cpu.weight"), "174");
        assert_eq!(cg.get("cpu.max"), "50000 100000");
        assert_eq!(cg.get("cpuset.cpus"), "0");
        assert_eq!(cg.get("memory.max"), "2097152", "unified wins");
        assert_eq!(cg.get("memory.high"), "900000");
        assert_eq!(cg.get("pids.max"), "10");
        assert_eq!(cg.get("io.max"), "8:0 rbps=100");
        assert_eq!(cg.get("hugetlb.2MB.max"), "0");
        assert_eq!(cg.get("rdma.max"), "mlx4_0 hca_handle=2");
    }
}
