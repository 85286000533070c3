//! `linux.timeOffsets`: written to /proc/self/timens_offsets after unshare(CLONE_NEWTIME) and
//! before any process enters the namespace (our second fork).

use std::fs;

use anyhow::Context;
use oci_spec::runtime::Spec;

/// Write the offsets of the spec (monotonic, boottime) for the namespace just unshared.
pub fn write_time_offsets(spec: &Spec) -> anyhow::Result<()> {
    let Some(offsets) = spec.linux().as_ref().and_then(|l| l.time_offsets().clone()) else {
        return Ok(());
    };
    let mut text = String::new();
    for (clock, off) in &offsets {
        text.push_str(&format!(
            "{clock} {} {}\n",
            off.secs().unwrap_or(0),
            off.nanosecs().unwrap_or(0)
        ));
    }
    if text.is_empty() {
        return Ok(());
    }
    fs::write("/proc/self/timens_offsets", text.as_bytes())
        .with_context(|| format!("write /proc/self/timens_offsets ({})", text.trim()))
}
