//! `process.capabilities`: parse the five sets, then apply them around the user switch.
//!
//! Order (runc's): drop the bounding set and set PR_SET_KEEPCAPS before the uid change (so a
//! non-root user keeps its permitted set), then set inheritable, effective, permitted (in that
//! order each capset is legal) and finally the ambient set.

use std::collections::HashSet;

use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::LinuxCapabilities;

use crate::error::Error;

/// The five capability sets of the container process. A missing `capabilities` object, or a
/// missing set, means the empty set (not the runtime's own capabilities).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapPlan {
    pub bounding: CapsHashSet,
    pub effective: CapsHashSet,
    pub inheritable: CapsHashSet,
    pub permitted: CapsHashSet,
    pub ambient: CapsHashSet,
}

/// Map an oci-spec capability (displayed without the `CAP_` prefix) to the caps crate's.
fn convert(field: &str, c: &oci_spec::runtime::Capability) -> Result<Capability, Error> {
    let name = format!("CAP_{c}");
    name.parse::<Capability>()
        .map_err(|_| Error::invalid(field, format!("unknown capability {name:?}")))
}

fn sorted(set: &CapsHashSet) -> Vec<String> {
    let mut v: Vec<String> = set.iter().map(|c| c.to_string()).collect();
    v.sort();
    v
}

impl CapPlan {
    /// Parse the config; `notes` receives capabilities this kernel does not know (the spec
    /// says to warn and go on). Contradictions the kernel always refuses are errors.
    pub fn from_spec(
        caps: Option<&LinuxCapabilities>,
        notes: &mut Vec<String>,
    ) -> Result<CapPlan, Error> {
        let Some(c) = caps else {
            return Ok(CapPlan::default());
        };
        let supported = supported();
        let mut set = |name: &str, v: &Option<HashSet<oci_spec::runtime::Capability>>| {
            let field = format!("process.capabilities.{name}");
            let mut out = CapsHashSet::new();
            for cap in v.iter().flatten() {
                let cap = convert(&field, cap)?;
                if supported.is_empty() || supported.contains(&cap) {
                    out.insert(cap);
                } else {
                    notes.push(format!(
                        "{field}: {cap} is not supported by this kernel, not granted"
                    ));
                }
            }
            Ok::<_, Error>(out)
        };
        let plan = CapPlan {
            bounding: set("bounding", c.bounding())?,
            effective: set("effective", c.effective())?,
            inheritable: set("inheritable", c.inheritable())?,
            permitted: set("permitted", c.permitted())?,
            ambient: set("ambient", c.ambient())?,
        };
        let extra: CapsHashSet = plan
            .effective
            .difference(&plan.permitted)
            .copied()
            .collect();
        if !extra.is_empty() {
            return Err(Error::invalid(
                "process.capabilities.effective",
                format!("{} not in the permitted set", sorted(&extra).join(", ")),
            ));
        }
        notes.sort();
        notes.dedup();
        Ok(plan)
    }

    /// Drop every capability not in `bounding` from the bounding set (needs CAP_SETPCAP, so
    /// before the user switch and before the effective set is reduced).
    pub fn apply_bounding(&self) -> anyhow::Result<()> {
        for c in current_bounding()? {
            if !self.bounding.contains(&c) {
                caps::drop(None, CapSet::Bounding, c)
                    .map_err(|e| anyhow::anyhow!("dropping {c} from the bounding set: {e}"))?;
            }
        }
        Ok(())
    }

    /// Set inheritable, effective, permitted and ambient exactly as planned. Capabilities the
    /// process cannot be granted (not in its permitted set, inheritable outside the bounding
    /// set, ambient outside permitted ∩ inheritable) are left out and reported as warnings, as
    /// the spec asks.
    pub fn apply_sets(&self) -> anyhow::Result<Vec<String>> {
        let mut warnings = Vec::new();
        let have = caps::read(None, CapSet::Permitted)?;
        let old_inh = caps::read(None, CapSet::Inheritable)?;
        let bounding = current_bounding()?;
        let mut grant = |name: &str, want: &CapsHashSet, allowed: &CapsHashSet| {
            let (ok, missing): (Vec<Capability>, Vec<Capability>) =
                want.iter().partition(|c| allowed.contains(c));
            if !missing.is_empty() {
                let m: CapsHashSet = missing.into_iter().collect();
                warnings.push(format!(
                    "process.capabilities.{name}: {} cannot be granted, left out",
                    sorted(&m).join(", ")
                ));
            }
            ok.into_iter().collect::<CapsHashSet>()
        };
        let permitted = grant("permitted", &self.permitted, &have);
        let effective = grant("effective", &self.effective, &permitted);
        let inh_allowed: CapsHashSet = bounding.union(&old_inh).copied().collect();
        let inheritable = grant("inheritable", &self.inheritable, &inh_allowed);
        let amb_allowed: CapsHashSet = permitted.intersection(&inheritable).copied().collect();
        let ambient = grant("ambient", &self.ambient, &amb_allowed);

        caps::set(None, CapSet::Inheritable, &inheritable)
            .map_err(|e| anyhow::anyhow!("setting the inheritable capabilities: {e}"))?;
        caps::set(None, CapSet::Effective, &effective)
            .map_err(|e| anyhow::anyhow!("setting the effective capabilities: {e}"))?;
        caps::set(None, CapSet::Permitted, &permitted)
            .map_err(|e| anyhow::anyhow!("setting the permitted capabilities: {e}"))?;
        if caps::runtime::ambient_set_supported().is_ok() {
            caps::clear(None, CapSet::Ambient)
                .map_err(|e| anyhow::anyhow!("clearing the ambient capabilities: {e}"))?;
            for c in &ambient {
                caps::raise(None, CapSet::Ambient, *c)
                    .map_err(|e| anyhow::anyhow!("raising ambient {c}: {e}"))?;
            }
        } else if !ambient.is_empty() {
            warnings.push("process.capabilities.ambient: the kernel has no ambient set".into());
        }
        Ok(warnings)
    }
}

/// Capabilities this kernel knows: up to `/proc/sys/kernel/cap_last_cap` (one read; the caps
/// crate's `thread_all_supported` probes each capability with a prctl, 41 calls, and every
/// syscall counts in UML). Falls back to the probe without that file.
fn supported() -> CapsHashSet {
    match crate::sys::procfs::read_text("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|t| t.trim().parse::<u8>().ok())
    {
        Some(last) => caps::all()
            .into_iter()
            .filter(|c| c.index() <= last)
            .collect(),
        None => caps::runtime::thread_all_supported(),
    }
}

/// This thread's bounding set, from the `CapBnd` line of `/proc/thread-self/status` (one read
/// where asking the kernel cap by cap takes a prctl each); by prctl when that is unreadable
/// (a container without /proc).
fn current_bounding() -> anyhow::Result<CapsHashSet> {
    let from_status = crate::sys::procfs::read_text("/proc/thread-self/status")
        .ok()
        .and_then(|t| bounding_of_status(&t));
    match from_status {
        Some(set) => Ok(set),
        None => Ok(caps::read(None, CapSet::Bounding)?),
    }
}

/// The set in the `CapBnd:` line of a status file.
fn bounding_of_status(status: &str) -> Option<CapsHashSet> {
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))?
        .trim();
    let mask = u64::from_str_radix(hex, 16).ok()?;
    Some(
        caps::all()
            .into_iter()
            .filter(|c| c.index() < 64 && mask & (1u64 << c.index()) != 0)
            .collect(),
    )
}

/// Make sure `cap` is in the effective set (taking it from the permitted set); used to install
/// a seccomp filter without no_new_privs after a switch to a non-root user cleared the
/// effective set.
pub(crate) fn ensure_effective(cap: Capability) -> anyhow::Result<()> {
    if caps::has_cap(None, CapSet::Effective, cap)? {
        return Ok(());
    }
    if !caps::has_cap(None, CapSet::Permitted, cap)? {
        anyhow::bail!("{cap} is not in the permitted set");
    }
    caps::raise(None, CapSet::Effective, cap).map_err(|e| anyhow::anyhow!("raising {cap}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounding_set_from_status_matches_the_kernel() {
        let status = "Name:\tx\nCapBnd:\t0000000000000401\nCapAmb:\t0\n";
        let set = bounding_of_status(status).unwrap();
        let want: CapsHashSet = [Capability::CAP_CHOWN, Capability::CAP_NET_BIND_SERVICE]
            .into_iter()
            .collect();
        assert_eq!(set, want);
        assert_eq!(bounding_of_status("Name:\tx\n"), None);
        // And what it reads for this thread is what prctl says, cap by cap.
        assert_eq!(
            current_bounding().unwrap(),
            caps::read(None, CapSet::Bounding).unwrap()
        );
        assert_eq!(supported(), caps::runtime::thread_all_supported());
    }

    fn parse(json: &str) -> LinuxCapabilities {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn every_oci_capability_maps_to_the_caps_crate() {
        let names: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
        let json = format!(
            r#"{{"bounding": {}}}"#,
            serde_json::to_string(&names).unwrap()
        );
        let mut notes = Vec::new();
        let plan = CapPlan::from_spec(Some(&parse(&json)), &mut notes).unwrap();
        // Unsupported-by-kernel ones (if any) are notes; the rest are all there.
        assert_eq!(
            plan.bounding.len() + notes.len(),
            caps::all().len(),
            "{notes:?}"
        );
    }

    #[test]
    fn missing_capabilities_mean_none() {
        let mut notes = Vec::new();
        assert_eq!(
            CapPlan::from_spec(None, &mut notes).unwrap(),
            CapPlan::default()
        );
        let plan = CapPlan::from_spec(Some(&parse(r#"{"effective": []}"#)), &mut notes).unwrap();
        assert!(plan.bounding.is_empty() && plan.permitted.is_empty());
    }

    #[test]
    fn effective_outside_permitted_is_invalid() {
        let c = parse(r#"{"effective": ["CAP_KILL", "CAP_CHOWN"], "permitted": ["CAP_KILL"]}"#);
        let err = CapPlan::from_spec(Some(&c), &mut Vec::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid config: process.capabilities.effective: CAP_CHOWN not in the permitted set"
        );
    }

    #[test]
    fn names_parse_into_sets() {
        let c = parse(
            r#"{"bounding": ["CAP_NET_BIND_SERVICE", "CAP_KILL"], "ambient": ["CAP_KILL"],
                "permitted": ["CAP_KILL"], "inheritable": ["CAP_KILL"], "effective": ["CAP_KILL"]}"#,
        );
        let plan = CapPlan::from_spec(Some(&c), &mut Vec::new()).unwrap();
        assert!(plan.bounding.contains(&Capability::CAP_NET_BIND_SERVICE));
        assert_eq!(plan.ambient.len(), 1);
    }
}
