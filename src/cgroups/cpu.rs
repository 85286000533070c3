//! `linux.resources.cpu` (cpu controller part) → `cpu.weight` (from shares), `cpu.max`
//! (quota and period), `cpu.max.burst`, `cpu.idle`. The cpuset part is in `cpuset.rs`;
//! realtime fields are refused by `validate` (cgroup v2 has no `cpu.rt_*`).
//!
//! shares → weight uses the formula of runc ≥ 1.3.2 / crun ≥ 1.23 (opencontainers/cgroups
//! `ConvertCPUSharesToCgroupV2Value`): with `l = log2(shares)`,
//! `weight = ceil(10^((l² + 125·l) / 612 − 7/34))`, clamped to 1..=10000. It maps the v1
//! default 1024 to the v2 default 100 (the older linear formula gave 39) and 2 → 1,
//! 262144 → 10000.

use std::path::Path;

use oci_spec::runtime::LinuxCpu;

use super::files;

/// Default CFS period (µs) when neither the config nor the cgroup says otherwise.
const DEFAULT_PERIOD: u64 = 100_000;

/// Whether `c` asks for anything of the cpu controller.
pub fn needs_controller(c: &LinuxCpu) -> bool {
    c.shares().is_some_and(|s| s != 0)
        || c.quota().is_some_and(|q| q != 0)
        || c.period().is_some_and(|p| p != 0)
        || c.burst().is_some()
        || c.idle().is_some()
}

/// cgroup v1 `cpu.shares` → cgroup v2 `cpu.weight` (see the module header); 0 = unset.
pub fn shares_to_weight(shares: u64) -> u64 {
    match shares {
        0 => 0,
        s if s <= 2 => 1,
        s if s >= 262_144 => 10_000,
        s => {
            let l = (s as f64).log2();
            let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
            (10f64.powf(exponent).ceil() as u64).clamp(1, 10_000)
        }
    }
}

/// The `cpu.max` line for the new quota/period, keeping whichever of the two the config
/// leaves out from the current line (`current` = the file's text, if any).
pub fn cpu_max_line(quota: Option<i64>, period: Option<u64>, current: Option<&str>) -> String {
    let mut cur = current.unwrap_or("").split_whitespace();
    let cur_quota = cur.next().unwrap_or("max").to_string();
    let cur_period = cur
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(DEFAULT_PERIOD);
    let period = period.filter(|&p| p != 0).unwrap_or(cur_period);
    let quota = match quota {
        Some(q) if q > 0 => q.to_string(),
        Some(-1) => "max".to_string(),
        _ => cur_quota,
    };
    format!("{quota} {period}")
}

/// Write the cpu-controller settings of `c` to the cgroup at `dir`.
pub fn apply(dir: &Path, c: &LinuxCpu) -> anyhow::Result<()> {
    let weight = shares_to_weight(c.shares().unwrap_or(0));
    if weight != 0 {
        files::write(dir, "cpu.weight", &weight.to_string())?;
    }
    let wants_max = c.quota().is_some_and(|q| q != 0) || c.period().is_some_and(|p| p != 0);
    if wants_max {
        // A lower quota must not trip over a larger burst still in force: drop the burst
        // first when a new one follows.
        if c.burst().is_some() && files::exists(dir, "cpu.max.burst") {
            files::write(dir, "cpu.max.burst", "0")?;
        }
        let current = files::read_opt(dir, "cpu.max")?;
        let line = cpu_max_line(c.quota(), c.period(), current.as_deref());
        files::write(dir, "cpu.max", &line)?;
    }
    if let Some(b) = c.burst() {
        files::write(dir, "cpu.max.burst", &b.to_string())?;
    }
    if let Some(i) = c.idle() {
        files::write(dir, "cpu.idle", &i.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::testutil::FakeCgroup;

    fn cpu(json: &str) -> LinuxCpu {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn shares_to_weight_matches_runc() {
        for (shares, weight) in [
            (0, 0),
            (1, 1),
            (2, 1),
            (3, 2),
            (100, 17),
            (512, 59),
            (1024, 100),
            (2048, 174),
            (262_143, 10_000),
            (262_144, 10_000),
            (1 << 30, 10_000),
        ] {
            assert_eq!(shares_to_weight(shares), weight, "shares {shares}");
        }
    }

    #[test]
    fn cpu_max_lines() {
        assert_eq!(
            cpu_max_line(Some(20_000), Some(100_000), None),
            "20000 100000"
        );
        assert_eq!(cpu_max_line(Some(50_000), None, None), "50000 100000");
        assert_eq!(cpu_max_line(Some(-1), Some(50_000), None), "max 50000");
        assert_eq!(
            cpu_max_line(None, Some(50_000), Some("30000 100000\n")),
            "30000 50000"
        );
        assert_eq!(
            cpu_max_line(Some(10_000), None, Some("max 200000\n")),
            "10000 200000"
        );
        assert_eq!(cpu_max_line(Some(0), Some(10_000), None), "max 10000");
    }

    #[test]
    fn writes_all_files() {
        let cg = FakeCgroup::new(&["cpu.weight", "cpu.max", "cpu.max.burst", "cpu.idle"]);
        cg.set("cpu.max", "max 100000\n");
        apply(
            cg.dir(),
            &cpu(r#"{"shares":1024,"quota":20000,"period":50000,"burst":5000,"idle":1}"#),
        )
        .unwrap();
        assert_eq!(cg.get("cpu.weight"), "100");
        assert_eq!(cg.get("cpu.max"), "20000 50000");
        assert_eq!(cg.get("cpu.max.burst"), "5000");
        assert_eq!(cg.get("cpu.idle"), "1");
    }

    #[test]
    fn nothing_requested_nothing_written() {
        let cg = FakeCgroup::new(&[]);
        apply(cg.dir(), &cpu(r#"{"shares":0,"cpus":"0"}"#)).unwrap();
        assert!(!needs_controller(&cpu(r#"{"shares":0,"cpus":"0"}"#)));
        assert!(needs_controller(&cpu(r#"{"idle":0}"#)));
    }
}
