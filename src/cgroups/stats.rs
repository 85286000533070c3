//! Statistics for `events --stats`, shaped like runc's `types.Stats` (JSON names from
//! runc/types/events.go: `cpu.usage.{total,percpu,kernel,user}`, `cpu.throttling`,
//! `memory.{cache,usage,swap,kernel,kernelTCP,raw}`, `pids.{current,limit}`,
//! `blkio.ioServiceBytesRecursive`…, `hugetlb.<size>`), filled from cgroup v2 files the way
//! runc's fs2 driver does (times in ns, `max` as u64::MAX, swap reported as memory+swap).
//! Files that do not exist (controller not enabled) leave zeros. Also: `memory.events`
//! counters, for `oom` events.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::files;

fn is_zero(v: &u64) -> bool {
    *v == 0
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub cpu: Cpu,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
    pub hugetlb: BTreeMap<String, Hugetlb>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuUsage {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub total: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Throttling {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache: u64,
    pub usage: MemoryEntry,
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pids {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub current: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioEntry {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub major: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub minor: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub value: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Blkio {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hugetlb {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

/// Counters of `memory.events` (this cgroup and below).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryEvents {
    pub low: u64,
    pub high: u64,
    pub max: u64,
    pub oom: u64,
    pub oom_kill: u64,
}

fn flat(dir: &Path, file: &str) -> anyhow::Result<BTreeMap<String, u64>> {
    Ok(files::read_opt(dir, file)?
        .map(|t| files::parse_flat_keyed(&t))
        .unwrap_or_default())
}

fn single(dir: &Path, file: &str) -> anyhow::Result<Option<u64>> {
    Ok(files::read_opt(dir, file)?.and_then(|t| files::parse_u64_or_max(&t)))
}

/// `memory.events` of the cgroup at `dir` (zeros without the memory controller).
pub fn memory_events(dir: &Path) -> anyhow::Result<MemoryEvents> {
    let m = flat(dir, "memory.events")?;
    let g = |k: &str| m.get(k).copied().unwrap_or(0);
    Ok(MemoryEvents {
        low: g("low"),
        high: g("high"),
        max: g("max"),
        oom: g("oom"),
        oom_kill: g("oom_kill"),
    })
}

/// Gather the statistics of the cgroup at `dir`.
pub fn stats(dir: &Path) -> anyhow::Result<Stats> {
    let mut s = Stats::default();

    let cpu = flat(dir, "cpu.stat")?;
    let c = |k: &str| cpu.get(k).copied().unwrap_or(0);
    s.cpu.usage.total = c("usage_usec") * 1000;
    s.cpu.usage.user = c("user_usec") * 1000;
    s.cpu.usage.kernel = c("system_usec") * 1000;
    s.cpu.throttling.periods = c("nr_periods");
    s.cpu.throttling.throttled_periods = c("nr_throttled");
    s.cpu.throttling.throttled_time = c("throttled_usec") * 1000;

    s.memory.raw = flat(dir, "memory.stat")?;
    s.memory.cache = s.memory.raw.get("file").copied().unwrap_or(0);
    let events = memory_events(dir)?;
    if let Some(usage) = single(dir, "memory.current")? {
        s.memory.usage = MemoryEntry {
            usage,
            limit: single(dir, "memory.max")?.unwrap_or(u64::MAX),
            max: single(dir, "memory.peak")?.unwrap_or(0),
            failcnt: events.max,
        };
        if let Some(swap) = single(dir, "memory.swap.current")? {
            let limit = single(dir, "memory.swap.max")?.unwrap_or(u64::MAX);
            s.memory.swap = MemoryEntry {
                usage: swap + usage,
                limit: if limit == u64::MAX || s.memory.usage.limit == u64::MAX {
                    u64::MAX
                } else {
                    limit + s.memory.usage.limit
                },
                max: 0,
                failcnt: 0,
            };
        }
    }

    s.pids.current = single(dir, "pids.current")?.unwrap_or(0);
    s.pids.limit = match single(dir, "pids.max")? {
        Some(u64::MAX) | None => 0,
        Some(v) => v,
    };

    for (dev, kv) in files::read_opt(dir, "io.stat")?
        .map(|t| files::parse_nested_keyed(&t))
        .unwrap_or_default()
    {
        let Some((major, minor)) = dev.split_once(':') else {
            continue;
        };
        let (major, minor) = (major.parse().unwrap_or(0), minor.parse().unwrap_or(0));
        let entry = |op: &str, key: &str| BlkioEntry {
            major,
            minor,
            op: op.to_string(),
            value: kv.get(key).copied().unwrap_or(0),
        };
        s.blkio
            .io_service_bytes_recursive
            .push(entry("Read", "rbytes"));
        s.blkio
            .io_service_bytes_recursive
            .push(entry("Write", "wbytes"));
        s.blkio.io_serviced_recursive.push(entry("Read", "rios"));
        s.blkio.io_serviced_recursive.push(entry("Write", "wios"));
    }

    for name in hugetlb_sizes(dir)? {
        let usage = single(dir, &format!("hugetlb.{name}.current"))?.unwrap_or(0);
        let failcnt = flat(dir, &format!("hugetlb.{name}.events"))?
            .get("max")
            .copied()
            .unwrap_or(0);
        s.hugetlb.insert(
            name,
            Hugetlb {
                usage,
                max: 0,
                failcnt,
            },
        );
    }
    Ok(s)
}

/// Page sizes with a `hugetlb.<size>.current` file in `dir`.
fn hugetlb_sizes(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(out);
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if let Some(size) = name
            .strip_prefix("hugetlb.")
            .and_then(|n| n.strip_suffix(".current"))
        {
            if !size.contains('.') {
                out.push(size.to_string());
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::testutil::FakeCgroup;

    #[test]
    fn fills_runc_shaped_stats() {
        let cg = FakeCgroup::new(&[]);
        cg.set("cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 10\nnr_throttled 4\nthrottled_usec 20\n");
        cg.set("memory.current", "4096\n");
        cg.set("memory.max", "1048576\n");
        cg.set("memory.peak", "8192\n");
        cg.set("memory.swap.current", "100\n");
        cg.set("memory.swap.max", "max\n");
        cg.set("memory.stat", "anon 2048\nfile 1024\n");
        cg.set("memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
        cg.set("pids.current", "3\n");
        cg.set("pids.max", "max\n");
        cg.set(
            "io.stat",
            "8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n",
        );
        cg.set("hugetlb.2MB.current", "0\n");
        cg.set("hugetlb.2MB.events", "max 2\n");
        cg.set("hugetlb.2MB.rsvd.current", "0\n");
        let s = stats(cg.dir()).unwrap();
        assert_eq!(s.cpu.usage.total, 1_500_000);
        assert_eq!(s.cpu.throttling.throttled_time, 20_000);
        assert_eq!(s.memory.usage.limit, 1_048_576);
        assert_eq!(s.memory.usage.failcnt, 3);
        assert_eq!(s.memory.swap.usage, 4196);
        assert_eq!(s.memory.swap.limit, u64::MAX);
        assert_eq!(s.memory.cache, 1024);
        assert_eq!(s.pids.limit, 0);
        assert_eq!(s.hugetlb.len(), 1);
        assert_eq!(s.hugetlb["2MB"].failcnt, 2);
        let j = serde_json::to_value(&s).unwrap();
        assert_eq!(j["cpu"]["usage"]["total"], 1_500_000);
        assert_eq!(j["cpu"]["usage"]["kernel"], 500_000);
        assert_eq!(j["cpu"]["throttling"]["throttledPeriods"], 4);
        assert_eq!(j["memory"]["usage"]["max"], 8192);
        assert_eq!(j["memory"]["raw"]["anon"], 2048);
        assert!(j["memory"]["kernelTCP"].is_object());
        assert_eq!(j["pids"]["current"], 3);
        assert!(j["pids"].get("limit").is_none());
        assert_eq!(j["blkio"]["ioServiceBytesRecursive"][1]["op"], "Write");
        assert_eq!(j["blkio"]["ioServicedRecursive"][0]["value"], 1);
        assert_eq!(memory_events(cg.dir()).unwrap().oom_kill, 1);
    }

    #[test]
    fn missing_files_give_zeros() {
        let cg = FakeCgroup::new(&[]);
        let s = stats(cg.dir()).unwrap();
        assert_eq!(s, Stats::default());
        assert_eq!(memory_events(cg.dir()).unwrap(), MemoryEvents::default());
    }
}
