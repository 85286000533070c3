//! `linux.resources.blockIO` → the io controller. Weights go to `io.bfq.weight` as given
//! (BFQ takes the v1 range 1..=1000) when the BFQ scheduler provides that file, else to
//! `io.weight` converted linearly from 10..=1000 to 1..=10000 (runc's
//! `1 + (w − 10) · 9999 / 990`); per-device weights likewise as `MAJ:MIN W` lines. Throttles
//! become `io.max` lines `MAJ:MIN rbps=N` (`wbps`, `riops`, `wiops`); a rate of 0 lifts the
//! limit (`max`), as 0 did on cgroup v1.

use std::path::Path;

use anyhow::bail;
use oci_spec::runtime::{LinuxBlockIo, LinuxThrottleDevice};

use super::files;

/// Whether `b` asks for anything of the io controller.
pub fn needs_controller(b: &LinuxBlockIo) -> bool {
    let any = |l: &Option<Vec<LinuxThrottleDevice>>| l.as_ref().is_some_and(|l| !l.is_empty());
    b.weight().is_some_and(|w| w != 0)
        || b.weight_device().as_ref().is_some_and(|l| !l.is_empty())
        || any(b.throttle_read_bps_device())
        || any(b.throttle_write_bps_device())
        || any(b.throttle_read_iops_device())
        || any(b.throttle_write_iops_device())
}

/// blkio weight (10..=1000) → `io.weight` (1..=10000); 0 = unset.
pub fn blkio_to_io_weight(w: u16) -> u64 {
    if w == 0 {
        return 0;
    }
    let w = u64::from(w.clamp(10, 1000));
    1 + (w - 10) * 9999 / 990
}

/// Write the io settings of `b` to the cgroup at `dir`.
pub fn apply(dir: &Path, b: &LinuxBlockIo) -> anyhow::Result<()> {
    let bfq = files::exists(dir, "io.bfq.weight");
    let weight_file = || -> anyhow::Result<&'static str> {
        if bfq {
            Ok("io.bfq.weight")
        } else if files::exists(dir, "io.weight") {
            Ok("io.weight")
        } else {
            bail!(
                "linux.resources.blockIO: weights need io.bfq.weight (BFQ scheduler) or \
                 io.weight (io.cost), and {} has neither",
                dir.display()
            )
        }
    };
    let convert = |w: u16| {
        if bfq {
            u64::from(w)
        } else {
            blkio_to_io_weight(w)
        }
    };
    if let Some(w) = b.weight().filter(|&w| w != 0) {
        let file = weight_file()?;
        files::write(dir, file, &format!("default {}", convert(w)))?;
    }
    for d in b.weight_device().iter().flatten() {
        if let Some(w) = d.weight().filter(|&w| w != 0) {
            let file = weight_file()?;
            files::write(
                dir,
                file,
                &format!("{}:{} {}", d.major(), d.minor(), convert(w)),
            )?;
        }
    }
    for (key, list) in [
        ("rbps", b.throttle_read_bps_device()),
        ("wbps", b.throttle_write_bps_device()),
        ("riops", b.throttle_read_iops_device()),
        ("wiops", b.throttle_write_iops_device()),
    ] {
        for d in list.iter().flatten() {
            files::write(dir, "io.max", &throttle_line(key, d))?;
        }
    }
    Ok(())
}

/// One `io.max` line.
pub fn throttle_line(key: &str, d: &LinuxThrottleDevice) -> String {
    let rate = match d.rate() {
        0 => "max".to_string(),
        r => r.to_string(),
    };
    format!("{}:{} {key}={rate}", d.major(), d.minor())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::testutil::FakeCgroup;

    fn bio(json: &str) -> LinuxBlockIo {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn weight_conversion() {
        assert_eq!(blkio_to_io_weight(0), 0);
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(500), 4950);
        assert_eq!(blkio_to_io_weight(1000), 10000);
    }

    #[test]
    fn bfq_takes_the_weight_as_is() {
        let cg = FakeCgroup::new(&["io.bfq.weight", "io.weight"]);
        apply(cg.dir(), &bio(r#"{"weight":500}"#)).unwrap();
        assert_eq!(cg.get("io.bfq.weight"), "default 500");
        assert_eq!(cg.get("io.weight"), "");
    }

    #[test]
    fn io_weight_is_converted() {
        let cg = FakeCgroup::new(&["io.weight"]);
        apply(
            cg.dir(),
            &bio(r#"{"weightDevice":[{"major":8,"minor":0,"weight":1000}]}"#),
        )
        .unwrap();
        assert_eq!(cg.get("io.weight"), "8:0 10000");
    }

    #[test]
    fn no_weight_file_is_an_error_not_a_drop() {
        let cg = FakeCgroup::new(&["io.max"]);
        let e = apply(cg.dir(), &bio(r#"{"weight":100}"#)).unwrap_err();
        assert!(e.to_string().contains("has neither"), "{e}");
    }

    #[test]
    fn throttles() {
        let cg = FakeCgroup::new(&["io.max"]);
        apply(
            cg.dir(),
            &bio(
                r#"{"throttleWriteIOPSDevice":[{"major":8,"minor":16,"rate":0}],
                     "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}]}"#,
            ),
        )
        .unwrap();
        // The fake keeps only the last write; check each line by itself too.
        assert_eq!(cg.get("io.max"), "8:16 wiops=max");
        let d: LinuxThrottleDevice =
            serde_json::from_str(r#"{"major":8,"minor":0,"rate":1048576}"#).unwrap();
        assert_eq!(throttle_line("rbps", &d), "8:0 rbps=1048576");
        assert!(needs_controller(&bio(
            r#"{"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1}]}"#
        )));
        assert!(!needs_controller(&bio(
            r#"{"weight":0,"throttleReadBpsDevice":[]}"#
        )));
    }
}
