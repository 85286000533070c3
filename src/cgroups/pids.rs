//! `linux.resources.pids.limit` → `pids.max`. As in runc ≥ 1.4 (runtime-spec's newer
//! guidance): a present `pids` object is applied; 0 is a real limit (no new task may be
//! forked), -1 (or any negative the validator let through) is `max`. oci-spec 0.10 cannot
//! tell `"pids": {}` from `{"limit": 0}`, so both mean 0.

use std::path::Path;

use oci_spec::runtime::LinuxPids;

use super::files;

/// The `pids.max` value for `limit`.
pub fn value(limit: i64) -> String {
    if limit < 0 {
        "max".to_string()
    } else {
        limit.to_string()
    }
}

/// Write `pids.max` of the cgroup at `dir`.
pub fn apply(dir: &Path, p: &LinuxPids) -> anyhow::Result<()> {
    files::write(dir, "pids.max", &value(p.limit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::testutil::FakeCgroup;

    #[test]
    fn zero_is_a_limit_and_minus_one_is_max() {
        let cg = FakeCgroup::new(&["pids.max"]);
        for (json, want) in [
            (r#"{"limit":0}"#, "0"),
            (r#"{"limit":-1}"#, "max"),
            (r#"{"limit":32}"#, "32"),
            ("{}", "0"),
        ] {
            apply(cg.dir(), &serde_json::from_str(json).unwrap()).unwrap();
            assert_eq!(cg.get("pids.max"), want, "{json}");
        }
    }
}
