//! Checks of `linux.resources` before anything touches the disk: ranges, values that cgroup
//! v2 cannot honour (they fail here instead of being dropped), `unified` key syntax, device
//! rule syntax, cpusets within the machine. Every failure is
//! `invalid config: linux.resources.<field>: <reason>`.

use std::collections::BTreeSet;

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};

use super::devices::check_rule;
use super::unified::check_key;
use crate::error::Error;

/// CPUs and memory nodes present on this machine, for cpuset checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    pub cpus: BTreeSet<u32>,
    pub mems: BTreeSet<u32>,
}

impl Machine {
    /// Read `/sys/devices/system/cpu/online` and `/sys/devices/system/node/online` (a
    /// machine without the latter, such as UML, has node 0 only).
    pub fn probe() -> Machine {
        let read = |p: &str| std::fs::read_to_string(p).ok();
        let cpus = read("/sys/devices/system/cpu/online")
            .and_then(|t| parse_list(t.trim()).ok())
            .unwrap_or_else(|| (0..num_cpus_fallback()).collect());
        let mems = read("/sys/devices/system/node/online")
            .and_then(|t| parse_list(t.trim()).ok())
            .unwrap_or_else(|| [0].into_iter().collect());
        Machine { cpus, mems }
    }
}

fn num_cpus_fallback() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

/// Parse the kernel's list format (`0-3,8,10-11`).
pub fn parse_list(text: &str) -> Result<BTreeSet<u32>, String> {
    let mut out = BTreeSet::new();
    if text.is_empty() {
        return Ok(out);
    }
    for part in text.split(',') {
        let part = part.trim();
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let a: u32 = a
            .parse()
            .map_err(|_| format!("{part:?} is not a number or range"))?;
        let b: u32 = b
            .parse()
            .map_err(|_| format!("{part:?} is not a number or range"))?;
        if a > b {
            return Err(format!("range {part:?} is backwards"));
        }
        if b - a > 65536 {
            return Err(format!("range {part:?} is absurdly large"));
        }
        out.extend(a..=b);
    }
    Ok(out)
}

fn bad(field: &str, reason: impl Into<String>) -> Error {
    Error::invalid(format!("linux.resources.{field}"), reason)
}

/// Validate everything in `r` for `create`, against the CPUs and nodes of this machine.
pub fn validate_resources(r: &LinuxResources) -> Result<(), Error> {
    validate_resources_on(r, &machine_if_needed(r), true)
}

/// The machine's CPUs and nodes when `r` names a cpuset (the only check that needs them),
/// else an empty machine: two sysfs reads saved on every `create`.
fn machine_if_needed(r: &LinuxResources) -> Machine {
    let cpuset = r
        .cpu()
        .as_ref()
        .is_some_and(|c| c.cpus().is_some() || c.mems().is_some());
    if cpuset {
        Machine::probe()
    } else {
        Machine {
            cpus: BTreeSet::new(),
            mems: BTreeSet::new(),
        }
    }
}

/// Validate the fields present in an `update`: the same checks, except that a swap limit may
/// come without a memory limit (the cgroup's current `memory.max` is used then).
pub fn validate_update(r: &LinuxResources) -> Result<(), Error> {
    validate_resources_on(r, &machine_if_needed(r), false)
}

/// The checks, with the machine given (unit tests).
pub fn validate_resources_on(
    r: &LinuxResources,
    machine: &Machine,
    for_create: bool,
) -> Result<(), Error> {
    if let Some(m) = r.memory() {
        memory(m, for_create)?;
    }
    if let Some(c) = r.cpu() {
        cpu(c, machine)?;
    }
    if let Some(p) = r.pids() {
        if p.limit() < -1 {
            return Err(bad(
                "pids.limit",
                format!("{} is negative (use -1 for no limit)", p.limit()),
            ));
        }
    }
    if let Some(b) = r.block_io() {
        block_io(b)?;
    }
    for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
        if !valid_page_size(h.page_size()) {
            return Err(bad(
                &format!("hugepageLimits[{i}].pageSize"),
                format!("{:?} is not a size like 2MB or 1GB", h.page_size()),
            ));
        }
        if h.limit() < -1 {
            return Err(bad(
                &format!("hugepageLimits[{i}].limit"),
                format!("{} is negative", h.limit()),
            ));
        }
    }
    for name in r.rdma().iter().flat_map(|m| m.keys()) {
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(bad(
                "rdma",
                format!("device name {name:?} is empty or has spaces"),
            ));
        }
    }
    if let Some(n) = r.network() {
        if n.class_id().is_some() || n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
            return Err(bad(
                "network",
                "classID and priorities need the net_cls/net_prio controllers, which cgroup v2 \
                 does not have",
            ));
        }
    }
    for (key, _) in r.unified().iter().flatten() {
        check_key(key).map_err(|reason| bad(&format!("unified.{key}"), reason))?;
    }
    for (i, d) in r.devices().iter().flatten().enumerate() {
        check_rule(d).map_err(|reason| bad(&format!("devices[{i}]"), reason))?;
    }
    Ok(())
}

fn memory(m: &LinuxMemory, for_create: bool) -> Result<(), Error> {
    for (name, v) in [
        ("limit", m.limit()),
        ("reservation", m.reservation()),
        ("swap", m.swap()),
    ] {
        if let Some(v) = v {
            if v < -1 {
                return Err(bad(
                    &format!("memory.{name}"),
                    format!("{v} is negative (use -1 for no limit)"),
                ));
            }
        }
    }
    let limit = m.limit().unwrap_or(0);
    let swap = m.swap().unwrap_or(0);
    if swap > 0 {
        if limit == 0 && for_create {
            return Err(bad(
                "memory.swap",
                "a memory+swap limit needs memory.limit too",
            ));
        }
        if limit > 0 && swap < limit {
            return Err(bad(
                "memory.swap",
                format!("{swap} is below memory.limit {limit}; swap is memory+swap in OCI"),
            ));
        }
    }
    if let (Some(res), true) = (m.reservation(), limit > 0) {
        if res > limit {
            return Err(bad(
                "memory.reservation",
                format!("{res} is above memory.limit {limit}"),
            ));
        }
    }
    for (name, v) in [("kernel", m.kernel()), ("kernelTCP", m.kernel_tcp())] {
        if let Some(v) = v.filter(|&v| v > 0) {
            return Err(bad(
                &format!("memory.{name}"),
                format!(
                    "{v}: cgroup v2 has no separate kernel memory limit (it counts in memory.max)"
                ),
            ));
        }
    }
    if let Some(s) = m.swappiness() {
        return Err(bad(
            "memory.swappiness",
            format!("{s}: cgroup v2 has no per-cgroup swappiness"),
        ));
    }
    if m.disable_oom_killer() == Some(true) {
        return Err(bad(
            "memory.disableOOMKiller",
            "cgroup v2 cannot disable the OOM killer for a cgroup",
        ));
    }
    if m.use_hierarchy() == Some(false) {
        return Err(bad(
            "memory.useHierarchy",
            "cgroup v2 is always hierarchical",
        ));
    }
    Ok(())
}

fn cpu(c: &LinuxCpu, machine: &Machine) -> Result<(), Error> {
    if let Some(q) = c.quota() {
        if q < -1 || (q > 0 && q < 1000) {
            return Err(bad(
                "cpu.quota",
                format!("{q} µs: use -1 (no limit) or at least 1000"),
            ));
        }
    }
    if let Some(p) = c.period().filter(|&p| p != 0) {
        if !(1000..=1_000_000).contains(&p) {
            return Err(bad(
                "cpu.period",
                format!("{p} µs is outside 1000..=1000000"),
            ));
        }
    }
    if let (Some(b), Some(q)) = (c.burst(), c.quota()) {
        if q > 0 && b > q as u64 {
            return Err(bad("cpu.burst", format!("{b} µs is above cpu.quota {q}")));
        }
    }
    if let Some(i) = c.idle() {
        if i != 0 && i != 1 {
            return Err(bad("cpu.idle", format!("{i}: must be 0 or 1")));
        }
    }
    if c.realtime_runtime().is_some_and(|v| v != 0) || c.realtime_period().is_some_and(|v| v != 0) {
        return Err(bad(
            "cpu.realtimeRuntime",
            "realtime CPU limits (cpu.rt_*) do not exist on cgroup v2",
        ));
    }
    for (name, list, avail) in [
        ("cpu.cpus", c.cpus(), &machine.cpus),
        ("cpu.mems", c.mems(), &machine.mems),
    ] {
        let Some(list) = list.as_deref().filter(|l| !l.trim().is_empty()) else {
            continue;
        };
        let set = parse_list(list.trim()).map_err(|e| bad(name, format!("{list:?}: {e}")))?;
        if let Some(missing) = set.iter().find(|n| !avail.contains(n)) {
            return Err(bad(
                name,
                format!(
                    "{list:?} names {missing}, which this machine does not have (it has {})",
                    format_list(avail)
                ),
            ));
        }
    }
    Ok(())
}

fn format_list(set: &BTreeSet<u32>) -> String {
    let mut parts = Vec::new();
    let mut it = set.iter().copied().peekable();
    while let Some(start) = it.next() {
        let mut end = start;
        while it.peek() == Some(&(end + 1)) {
            end = it.next().unwrap_or(end);
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    parts.join(",")
}

fn block_io(b: &LinuxBlockIo) -> Result<(), Error> {
    if let Some(w) = b.weight().filter(|&w| w != 0) {
        if !(10..=1000).contains(&w) {
            return Err(bad("blockIO.weight", format!("{w} is outside 10..=1000")));
        }
    }
    if b.leaf_weight().is_some_and(|w| w != 0) {
        return Err(bad("blockIO.leafWeight", "cgroup v2 has no leaf weight"));
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let f = format!("blockIO.weightDevice[{i}]");
        check_dev(&f, d.major(), d.minor())?;
        if let Some(w) = d.weight().filter(|&w| w != 0) {
            if !(10..=1000).contains(&w) {
                return Err(bad(&f, format!("weight {w} is outside 10..=1000")));
            }
        }
        if d.leaf_weight().is_some_and(|w| w != 0) {
            return Err(bad(&f, "cgroup v2 has no leaf weight"));
        }
    }
    for (name, list) in [
        ("throttleReadBpsDevice", b.throttle_read_bps_device()),
        ("throttleWriteBpsDevice", b.throttle_write_bps_device()),
        ("throttleReadIOPSDevice", b.throttle_read_iops_device()),
        ("throttleWriteIOPSDevice", b.throttle_write_iops_device()),
    ] {
        for (i, d) in list.iter().flatten().enumerate() {
            check_dev(&format!("blockIO.{name}[{i}]"), d.major(), d.minor())?;
        }
    }
    Ok(())
}

fn check_dev(field: &str, major: i64, minor: i64) -> Result<(), Error> {
    if !(0..=u32::MAX as i64).contains(&major) || !(0..=u32::MAX as i64).contains(&minor) {
        return Err(bad(
            field,
            format!("device {major}:{minor} is not a valid major:minor"),
        ));
    }
    Ok(())
}

/// `2MB`, `1GB`, `64KB`: a number and a binary unit, as hugetlb file names use.
fn valid_page_size(s: &str) -> bool {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &s[digits.len()..];
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && matches!(unit, "KB" | "MB" | "GB")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> Machine {
        Machine {
            cpus: parse_list("0-1").unwrap(),
            mems: parse_list("0").unwrap(),
        }
    }

    fn check(json: &str) -> Result<(), Error> {
        let r: LinuxResources = serde_json::from_str(json).unwrap();
        validate_resources_on(&r, &machine(), true)
    }

    fn field_of(json: &str) -> String {
        match check(json).unwrap_err() {
            Error::InvalidConfig { field, .. } => field,
            e => panic!("unexpected {e}"),
        }
    }

    #[test]
    fn good_config_passes() {
        check(
            r#"{"memory":{"limit":104857600,"reservation":1048576,"swap":209715200},
                "cpu":{"shares":1024,"quota":20000,"period":100000,"burst":1000,"idle":0,
                       "cpus":"0-1","mems":"0"},
                "pids":{"limit":0},
                "blockIO":{"weight":500,"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}]},
                "hugepageLimits":[{"pageSize":"2MB","limit":0}],
                "unified":{"memory.high":"50M","cgroup.max.descendants":"10"},
                "devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}]}"#,
        )
        .unwrap();
        check(r#"{"memory":{"limit":-1,"swap":-1},"pids":{"limit":-1},"cpu":{"quota":-1}}"#)
            .unwrap();
    }

    #[test]
    fn negative_and_absurd_values() {
        // (resources JSON, the field the error must name)
        let cases: &[(&str, &str)] = &[
            (r#"{"memory":{"limit":-5}}"#, "linux.resources.memory.limit"),
            (
                r#"{"memory":{"limit":100,"swap":50}}"#,
                "linux.resources.memory.swap",
            ),
            (r#"{"memory":{"swap":50}}"#, "linux.resources.memory.swap"),
            (r#"{"pids":{"limit":-2}}"#, "linux.resources.pids.limit"),
            (r#"{"cpu":{"quota":5}}"#, "linux.resources.cpu.quota"),
            (r#"{"cpu":{"period":10}}"#, "linux.resources.cpu.period"),
            (
                r#"{"cpu":{"quota":2000,"burst":3000}}"#,
                "linux.resources.cpu.burst",
            ),
            (r#"{"cpu":{"idle":2}}"#, "linux.resources.cpu.idle"),
            (
                r#"{"blockIO":{"weight":5000}}"#,
                "linux.resources.blockIO.weight",
            ),
            (
                r#"{"blockIO":{"throttleWriteIOPSDevice":[{"major":-8,"minor":0,"rate":1}]}}"#,
                "linux.resources.blockIO.throttleWriteIOPSDevice[0]",
            ),
            (
                r#"{"hugepageLimits":[{"pageSize":"2XB","limit":1}]}"#,
                "linux.resources.hugepageLimits[0].pageSize",
            ),
        ];
        for (json, field) in cases {
            assert_eq!(field_of(json), *field, "{json}");
        }
    }

    #[test]
    fn cgroup_v2_cannot_honour() {
        assert_eq!(
            field_of(r#"{"memory":{"disableOOMKiller":true}}"#),
            "linux.resources.memory.disableOOMKiller"
        );
        check(r#"{"memory":{"disableOOMKiller":false}}"#).unwrap();
        assert_eq!(
            field_of(r#"{"memory":{"swappiness":10}}"#),
            "linux.resources.memory.swappiness"
        );
        assert_eq!(
            field_of(r#"{"memory":{"kernel":1000000}}"#),
            "linux.resources.memory.kernel"
        );
        assert_eq!(
            field_of(r#"{"cpu":{"realtimeRuntime":1000}}"#),
            "linux.resources.cpu.realtimeRuntime"
        );
        assert_eq!(
            field_of(r#"{"blockIO":{"leafWeight":100}}"#),
            "linux.resources.blockIO.leafWeight"
        );
        assert_eq!(
            field_of(r#"{"network":{"classID":1}}"#),
            "linux.resources.network"
        );
    }

    #[test]
    fn cpuset_outside_the_machine() {
        let e = check(r#"{"cpu":{"cpus":"0-3"}}"#).unwrap_err().to_string();
        assert!(
            e.contains("linux.resources.cpu.cpus")
                && e.contains("names 2")
                && e.contains("has 0-1"),
            "{e}"
        );
        assert_eq!(
            field_of(r#"{"cpu":{"mems":"1"}}"#),
            "linux.resources.cpu.mems"
        );
        assert_eq!(
            field_of(r#"{"cpu":{"cpus":"1-0"}}"#),
            "linux.resources.cpu.cpus"
        );
        assert_eq!(
            field_of(r#"{"cpu":{"cpus":"x"}}"#),
            "linux.resources.cpu.cpus"
        );
    }

    #[test]
    fn unified_and_devices() {
        assert_eq!(
            field_of(r#"{"unified":{"bogus.max":"1"}}"#),
            "linux.resources.unified.bogus.max"
        );
        assert_eq!(
            field_of(r#"{"unified":{"../memory.max":"1"}}"#),
            "linux.resources.unified.../memory.max"
        );
        assert_eq!(
            field_of(r#"{"unified":{"cgroup.procs":"1"}}"#),
            "linux.resources.unified.cgroup.procs"
        );
        assert_eq!(
            field_of(r#"{"devices":[{"allow":true,"type":"p","access":"r"}]}"#),
            "linux.resources.devices[0]"
        );
        assert_eq!(
            field_of(r#"{"devices":[{"allow":true,"access":"rwx"}]}"#),
            "linux.resources.devices[0]"
        );
        assert_eq!(
            field_of(r#"{"devices":[{"allow":true,"access":""}]}"#),
            "linux.resources.devices[0]"
        );
        assert_eq!(
            field_of(r#"{"devices":[{"allow":true,"major":-3,"access":"r"}]}"#),
            "linux.resources.devices[0]"
        );
    }

    #[test]
    fn update_allows_swap_alone() {
        let r: LinuxResources = serde_json::from_str(r#"{"memory":{"swap":50}}"#).unwrap();
        validate_resources_on(&r, &machine(), false).unwrap();
    }

    #[test]
    fn lists() {
        assert_eq!(
            parse_list("0-2,5").unwrap().into_iter().collect::<Vec<_>>(),
            [0, 1, 2, 5]
        );
        assert_eq!(format_list(&parse_list("0-2,5,7-8").unwrap()), "0-2,5,7-8");
        assert!(parse_list("0-99999999").is_err());
        let m = Machine::probe();
        assert!(!m.cpus.is_empty() && m.mems.contains(&0));
    }
}
