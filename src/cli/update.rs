//! `update`'s flags (runc's names) and `--resources FILE|-` turned into one LinuxResources.
//! The file is read first and flags override its fields (runc 1.1 ignores the flags when a
//! file is given; applying both loses nothing the caller asked for).

use std::io::Read;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use oci_spec::runtime::LinuxResources;
use serde_json::{json, Map, Value};

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// OCI LinuxResources JSON file, or - for stdin
    #[arg(short = 'r', long)]
    pub resources: Option<PathBuf>,
    /// Memory limit in bytes (k/m/g suffixes accepted; -1 for unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory plus swap limit (-1 for unlimited swap)
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Kernel memory limit (cgroup v1 only; refused on v2)
    #[arg(long = "kernel-memory", hide = true)]
    pub kernel_memory: Option<String>,
    /// Kernel TCP memory limit (cgroup v1 only; refused on v2)
    #[arg(long = "kernel-memory-tcp", hide = true)]
    pub kernel_memory_tcp: Option<String>,
    /// CPU shares (relative weight)
    #[arg(long = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    /// CPU CFS quota in microseconds (-1 for unlimited)
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS period in microseconds
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPU burst in microseconds
    #[arg(long = "cpu-burst")]
    pub cpu_burst: Option<u64>,
    /// Realtime runtime (cgroup v1 only; refused on v2)
    #[arg(long = "cpu-rt-runtime")]
    pub cpu_rt_runtime: Option<i64>,
    /// Realtime period (cgroup v1 only; refused on v2)
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    /// CPUs to use (e.g. 0-2,4)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Maximum number of pids (-1 for unlimited)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block IO weight (10-1000)
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// SCHED_IDLE for the cgroup (0 or 1)
    #[arg(long = "cpu-idle")]
    pub cpu_idle: Option<i64>,
    /// Intel RDT L3 cache schema (not supported)
    #[arg(long = "l3-cache-schema", hide = true)]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT memory bandwidth schema (not supported)
    #[arg(long = "mem-bw-schema", hide = true)]
    pub mem_bw_schema: Option<String>,
    /// Container id
    pub id: String,
}

/// Merge the file and the flags into the resources to apply.
pub fn resources_from(a: &UpdateArgs) -> anyhow::Result<LinuxResources> {
    if a.l3_cache_schema.is_some() || a.mem_bw_schema.is_some() {
        bail!("--l3-cache-schema/--mem-bw-schema: Intel RDT is not supported");
    }
    let mut doc = match &a.resources {
        Some(path) => read_resources(path)?,
        None => Value::Object(Map::new()),
    };
    let mut set = |section: &str, key: &str, v: Value| {
        let obj = doc.as_object_mut().expect("resources is an object");
        let sec = obj.entry(section).or_insert_with(|| json!({}));
        sec[key] = v;
    };
    let bytes = |flag: &str, v: &Option<String>| -> anyhow::Result<Option<Value>> {
        v.as_deref()
            .map(|s| {
                parse_bytes(s)
                    .map(Value::from)
                    .with_context(|| format!("--{flag}"))
            })
            .transpose()
    };
    if let Some(v) = bytes("memory", &a.memory)? {
        set("memory", "limit", v);
    }
    if let Some(v) = bytes("memory-swap", &a.memory_swap)? {
        set("memory", "swap", v);
    }
    if let Some(v) = bytes("memory-reservation", &a.memory_reservation)? {
        set("memory", "reservation", v);
    }
    if let Some(v) = bytes("kernel-memory", &a.kernel_memory)? {
        set("memory", "kernel", v);
    }
    if let Some(v) = bytes("kernel-memory-tcp", &a.kernel_memory_tcp)? {
        set("memory", "kernelTCP", v);
    }
    let cpu: [(&str, Option<Value>); 9] = [
        ("shares", a.cpu_shares.map(Value::from)),
        ("quota", a.cpu_quota.map(Value::from)),
        ("period", a.cpu_period.map(Value::from)),
        ("burst", a.cpu_burst.map(Value::from)),
        ("realtimeRuntime", a.cpu_rt_runtime.map(Value::from)),
        ("realtimePeriod", a.cpu_rt_period.map(Value::from)),
        ("cpus", a.cpuset_cpus.clone().map(Value::from)),
        ("mems", a.cpuset_mems.clone().map(Value::from)),
        ("idle", a.cpu_idle.map(Value::from)),
    ];
    for (key, v) in cpu {
        if let Some(v) = v {
            set("cpu", key, v);
        }
    }
    if let Some(v) = a.pids_limit {
        set("pids", "limit", v.into());
    }
    if let Some(v) = a.blkio_weight {
        set("blockIO", "weight", v.into());
    }
    let text = serde_json::to_string_pretty(&doc).context("encode resources")?;
    Ok(crate::spec::parse_named(&text, "linux.resources")?)
}

fn read_resources(path: &PathBuf) -> anyhow::Result<Value> {
    let mut text = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("read resources from stdin")?;
    } else {
        text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    }
    let doc: Value = serde_json::from_str(&text)
        .with_context(|| format!("parse resources {}", path.display()))?;
    if !doc.is_object() {
        bail!("resources {}: not a JSON object", path.display());
    }
    Ok(doc)
}

/// `1024`, `100k`, `64m`, `1g`, `-1`.
pub fn parse_bytes(s: &str) -> anyhow::Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: i64 = num
        .parse()
        .map_err(|_| anyhow::anyhow!("invalid size {s:?}"))?;
    if n < 0 {
        bail!("invalid size {s:?}");
    }
    n.checked_mul(mult)
        .ok_or_else(|| anyhow::anyhow!("size {s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        u: UpdateArgs,
    }

    #[test]
    fn a_type_error_names_the_field() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("r.json");
        std::fs::write(&f, r#"{"pids":{"limit":"many"}}"#).unwrap();
        let args = T::parse_from(["t", "-r", f.to_str().unwrap(), "c1"]);
        let err = resources_from(&args.u).unwrap_err().to_string();
        assert!(
            err.starts_with("invalid config: linux.resources.pids.limit:"),
            "{err}"
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("1024").unwrap(), 1024);
        assert_eq!(parse_bytes("64m").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("1G").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("-1").unwrap(), -1);
        for bad in ["", "x", "-5", "1q", "99999999999999999999"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn flags_override_the_file() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("r.json");
        std::fs::write(
            &f,
            r#"{"memory":{"limit":1000,"reservation":5},"pids":{"limit":3}}"#,
        )
        .unwrap();
        let args = T::parse_from([
            "t",
            "-r",
            f.to_str().unwrap(),
            "--memory",
            "2k",
            "--cpu-quota",
            "-1",
            "--cpuset-cpus",
            "0",
            "c1",
        ]);
        let r = resources_from(&args.u).unwrap();
        let m = r.memory().as_ref().unwrap();
        assert_eq!(m.limit(), Some(2048));
        assert_eq!(m.reservation(), Some(5));
        assert_eq!(r.pids().as_ref().unwrap().limit(), 3);
        assert_eq!(r.cpu().as_ref().unwrap().quota(), Some(-1));
        assert_eq!(r.cpu().as_ref().unwrap().cpus().as_deref(), Some("0"));
    }
}
