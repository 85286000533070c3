//! `linux.resources.memory` → `memory.max` (limit), `memory.low` (reservation),
//! `memory.swap.max` (OCI's memory+swap minus the limit). Values: 0 = leave as is (runc),
//! -1 = `max`. `checkBeforeUpdate` refuses a limit below the current usage. The fields
//! cgroup v2 cannot honour (kernel, kernelTCP, swappiness, disableOOMKiller=true) are refused
//! by `validate`; `memory.oom.group` is left to `unified` (runc does not set it either).

use std::io;
use std::path::Path;

use anyhow::{bail, Context};
use oci_spec::runtime::LinuxMemory;

use super::files;

/// Whether `m` asks for anything of the memory controller.
pub fn needs_controller(m: &LinuxMemory) -> bool {
    [m.limit(), m.reservation(), m.swap()]
        .iter()
        .any(|v| v.is_some_and(|v| v != 0))
}

/// -1 → `max`, 0 → nothing to write, else the number.
fn to_value(v: Option<i64>) -> Option<String> {
    match v? {
        0 => None,
        -1 => Some("max".to_string()),
        v => Some(v.to_string()),
    }
}

/// OCI `swap` (memory+swap) → `memory.swap.max` given the memory limit in force
/// (-1 = unlimited, 0 = unknown). `None`: leave the file alone.
pub fn swap_to_v2(swap: i64, memory: i64) -> Result<Option<String>, String> {
    Ok(match (swap, memory) {
        // Unlimited memory and no swap setting: unlimited swap too (cgroup v1 behaviour).
        (0, -1) => Some("max".into()),
        (0, _) => None,
        (-1, _) => Some("max".into()),
        (s, -1) => Some(s.to_string()),
        (_, 0) => return Err("a memory+swap limit needs a memory limit".into()),
        (s, m) if s < m => {
            return Err(format!("memory+swap {s} is below the memory limit {m}"));
        }
        (s, m) => Some((s - m).to_string()),
    })
}

/// Write the memory settings of `m` to the cgroup at `dir`.
pub fn apply(dir: &Path, m: &LinuxMemory) -> anyhow::Result<()> {
    let limit = m.limit().unwrap_or(0);
    if m.check_before_update() == Some(true) && limit > 0 {
        let usage = current_usage(dir)?;
        if usage >= limit as u64 {
            bail!(
                "rejecting memory limit {limit}: the cgroup {} already uses {usage} bytes \
                 (checkBeforeUpdate)",
                dir.display()
            );
        }
    }
    if let Some(swap) = m.swap() {
        // The limit that will be in force: the new one, or (update) the current one.
        let effective = if limit != 0 {
            limit
        } else {
            current_limit(dir)?
        };
        let value = swap_to_v2(swap, effective)
            .map_err(|e| anyhow::anyhow!("linux.resources.memory.swap: {e}"))?;
        if let Some(v) = value {
            match files::write_io(dir, "memory.swap.max", &v) {
                Ok(()) => {}
                // No swap accounting in this kernel: "no limit"/"no swap" are already true.
                Err(e) if e.kind() == io::ErrorKind::NotFound && (v == "max" || v == "0") => {}
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("write {v:?} to {}", dir.join("memory.swap.max").display())
                    })
                }
            }
        }
    }
    if let Some(v) = to_value(m.limit()) {
        files::write(dir, "memory.max", &v)?;
    }
    if let Some(v) = to_value(m.reservation()) {
        files::write(dir, "memory.low", &v)?;
    }
    Ok(())
}

/// `memory.current` + `memory.swap.current` (the latter when swap is accounted).
fn current_usage(dir: &Path) -> anyhow::Result<u64> {
    let mem = files::read(dir, "memory.current")?;
    let swap = files::read_opt(dir, "memory.swap.current")?;
    let n = |s: &str| files::parse_u64_or_max(s).unwrap_or(0);
    Ok(n(&mem).saturating_add(swap.as_deref().map_or(0, n)))
}

/// The `memory.max` in force as an OCI value (-1 for `max`).
fn current_limit(dir: &Path) -> anyhow::Result<i64> {
    let text = files::read(dir, "memory.max")?;
    Ok(match files::parse_u64_or_max(&text) {
        Some(u64::MAX) | None => -1,
        Some(v) => v as i64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::testutil::FakeCgroup;

    fn mem(json: &str) -> LinuxMemory {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn swap_conversion() {
        assert_eq!(swap_to_v2(0, 0), Ok(None));
        assert_eq!(swap_to_v2(0, -1), Ok(Some("max".into())));
        assert_eq!(swap_to_v2(-1, 100), Ok(Some("max".into())));
        assert_eq!(swap_to_v2(300, 100), Ok(Some("200".into())));
        assert_eq!(swap_to_v2(100, 100), Ok(Some("0".into())));
        assert_eq!(swap_to_v2(300, -1), Ok(Some("300".into())));
        assert!(swap_to_v2(50, 100).is_err());
        assert!(swap_to_v2(50, 0).is_err());
    }

    #[test]
    fn writes_limit_reservation_swap() {
        let cg = FakeCgroup::new(&[
            "memory.max",
            "memory.low",
            "memory.swap.max",
            "memory.current",
        ]);
        apply(
            cg.dir(),
            &mem(r#"{"limit":104857600,"reservation":52428800,"swap":209715200}"#),
        )
        .unwrap();
        assert_eq!(cg.get("memory.max"), "104857600");
        assert_eq!(cg.get("memory.low"), "52428800");
        assert_eq!(cg.get("memory.swap.max"), "104857600");
    }

    #[test]
    fn minus_one_is_max_and_zero_is_untouched() {
        let cg = FakeCgroup::new(&["memory.max", "memory.low", "memory.swap.max"]);
        cg.set("memory.low", "7");
        apply(cg.dir(), &mem(r#"{"limit":-1,"reservation":0}"#)).unwrap();
        assert_eq!(cg.get("memory.max"), "max");
        assert_eq!(cg.get("memory.low"), "7");
        assert_eq!(cg.get("memory.swap.max"), "");
        apply(cg.dir(), &mem(r#"{"limit":-1,"swap":0}"#)).unwrap();
        assert_eq!(cg.get("memory.swap.max"), "max");
    }

    #[test]
    fn swap_alone_uses_the_current_limit() {
        let cg = FakeCgroup::new(&["memory.max", "memory.swap.max"]);
        cg.set("memory.max", "1000\n");
        apply(cg.dir(), &mem(r#"{"swap":3000}"#)).unwrap();
        assert_eq!(cg.get("memory.swap.max"), "2000");
        cg.set("memory.max", "max\n");
        apply(cg.dir(), &mem(r#"{"swap":3000}"#)).unwrap();
        assert_eq!(cg.get("memory.swap.max"), "3000");
    }

    #[test]
    fn no_swap_accounting_is_fine_for_max_only() {
        let cg = FakeCgroup::new(&["memory.max"]);
        apply(cg.dir(), &mem(r#"{"limit":100,"swap":100}"#)).unwrap();
        apply(cg.dir(), &mem(r#"{"limit":100,"swap":-1}"#)).unwrap();
        let e = apply(cg.dir(), &mem(r#"{"limit":100,"swap":300}"#)).unwrap_err();
        assert!(format!("{e:#}").contains("memory.swap.max"), "{e:#}");
    }

    #[test]
    fn check_before_update() {
        let cg = FakeCgroup::new(&["memory.max", "memory.current", "memory.swap.current"]);
        cg.set("memory.current", "5000\n");
        cg.set("memory.swap.current", "1000\n");
        let e = apply(cg.dir(), &mem(r#"{"limit":5500,"checkBeforeUpdate":true}"#)).unwrap_err();
        assert!(e.to_string().contains("already uses 6000"), "{e}");
        assert_eq!(cg.get("memory.max"), "");
        apply(cg.dir(), &mem(r#"{"limit":5500}"#)).unwrap();
        apply(cg.dir(), &mem(r#"{"limit":9000,"checkBeforeUpdate":true}"#)).unwrap();
        assert_eq!(cg.get("memory.max"), "9000");
    }

    #[test]
    fn needs() {
        assert!(!needs_controller(&mem(
            r#"{"limit":0,"disableOOMKiller":false}"#
        )));
        assert!(needs_controller(&mem(r#"{"limit":-1}"#)));
    }
}
