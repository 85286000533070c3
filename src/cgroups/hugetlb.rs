//! `linux.resources.hugepageLimits` → `hugetlb.<size>.max`, and `hugetlb.<size>.rsvd.max`
//! where the kernel has reservation accounting (5.7+; the spec prefers reservation limits).
//! A page size the kernel does not offer is an invalid config naming it. Limit -1 = `max`.

use std::path::Path;

use oci_spec::runtime::LinuxHugepageLimit;

use super::files;
use crate::error::Error;

/// Write the hugetlb limits to the cgroup at `dir`.
pub fn apply(dir: &Path, limits: &[LinuxHugepageLimit]) -> anyhow::Result<()> {
    for (i, l) in limits.iter().enumerate() {
        let size = l.page_size();
        let max = format!("hugetlb.{size}.max");
        if !files::exists(dir, &max) {
            return Err(Error::invalid(
                format!("linux.resources.hugepageLimits[{i}].pageSize"),
                format!(
                    "this kernel has no {size} huge pages ({} has no {max})",
                    dir.display()
                ),
            )
            .into());
        }
        let value = if l.limit() < 0 {
            "max".to_string()
        } else {
            l.limit().to_string()
        };
        let rsvd = format!("hugetlb.{size}.rsvd.max");
        if files::exists(dir, &rsvd) {
            files::write(dir, &rsvd, &value)?;
        }
        files::write(dir, &max, &value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::testutil::FakeCgroup;

    #[test]
    fn writes_max_and_rsvd() {
        let cg = FakeCgroup::new(&["hugetlb.2MB.max", "hugetlb.2MB.rsvd.max", "hugetlb.1GB.max"]);
        let l: Vec<LinuxHugepageLimit> = serde_json::from_str(
            r#"[{"pageSize":"2MB","limit":4194304},{"pageSize":"1GB","limit":-1}]"#,
        )
        .unwrap();
        apply(cg.dir(), &l).unwrap();
        assert_eq!(cg.get("hugetlb.2MB.max"), "4194304");
        assert_eq!(cg.get("hugetlb.2MB.rsvd.max"), "4194304");
        assert_eq!(cg.get("hugetlb.1GB.max"), "max");
        let l: Vec<LinuxHugepageLimit> =
            serde_json::from_str(r#"[{"pageSize":"16GB","limit":1}]"#).unwrap();
        let e = apply(cg.dir(), &l).unwrap_err().to_string();
        assert!(
            e.contains("hugepageLimits[0].pageSize") && e.contains("16GB"),
            "{e}"
        );
    }
}
