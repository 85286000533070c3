//! sangja-bench: the program behind `make bench` (driven by bench/bench.sh).
//!
//!   sangja-bench measure --env NAME --out FILE --repo DIR --launcher PATH --runtime NAME=PATH... [options]
//!   sangja-bench report --out-dir DIR [--failed TEXT]... FILE...
//!
//! `measure` runs every scenario in the current environment (the host, or inside UML) and
//! writes raw samples; `report` turns one or more of those into report.md and chart.svg.

mod bundle;
mod measure;
mod proc;
mod report;
mod stats;
mod svg;

use std::path::PathBuf;
use std::time::Duration;

use bundle::Variant;

const USAGE: &str = "usage:
  sangja-bench measure --env NAME --out FILE --repo DIR --launcher PATH --runtime NAME=PATH [--runtime ...]
        [--work DIR] [--state DIR] [--rootfs-from DIR] [--runs N] [--var-runs N]
        [--life-runs N] [--life-var-runs N] [--life-variants netns,no-netns,limits]
        [--par-n N] [--par-rounds N] [--timeout SECS] [--par-timeout SECS]
  sangja-bench report --out-dir DIR [--failed TEXT]... [--note TEXT]... FILE...";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.first().map(String::as_str) {
        Some("measure") => parse_measure(&args[1..]).and_then(|o| measure::measure(&o)),
        Some("report") => parse_report(&args[1..]),
        _ => Err(USAGE.to_string()),
    };
    if let Err(e) = r {
        eprintln!("sangja-bench: {e}");
        std::process::exit(1);
    }
}

fn value<'a>(it: &mut impl Iterator<Item = &'a String>, flag: &str) -> Result<&'a String, String> {
    it.next()
        .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
}

fn num<T: std::str::FromStr>(s: &str, flag: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("{flag}: not a number: {s}"))
}

fn parse_measure(args: &[String]) -> Result<measure::Opts, String> {
    let mut o = measure::Opts {
        env: String::new(),
        out: PathBuf::new(),
        work: PathBuf::from("/tmp/sangja-bench"),
        state: PathBuf::from("/run/sangja-bench"),
        repo: PathBuf::from("."),
        launcher: PathBuf::new(),
        runtimes: Vec::new(),
        runs: 50,
        var_runs: usize::MAX,
        life_runs: 30,
        life_var_runs: usize::MAX,
        rootfs_from: None,
        life_variants: Variant::ALL.to_vec(),
        par_n: 50,
        par_rounds: 3,
        timeout: Duration::from_secs(10),
        par_timeout: Duration::from_secs(60),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--env" => o.env = value(&mut it, a)?.clone(),
            "--out" => o.out = PathBuf::from(value(&mut it, a)?),
            "--work" => o.work = PathBuf::from(value(&mut it, a)?),
            "--state" => o.state = PathBuf::from(value(&mut it, a)?),
            "--repo" => o.repo = PathBuf::from(value(&mut it, a)?),
            "--launcher" => o.launcher = PathBuf::from(value(&mut it, a)?),
            "--runtime" => {
                let v = value(&mut it, a)?;
                let (n, p) = v
                    .split_once('=')
                    .ok_or(format!("--runtime NAME=PATH, got {v}"))?;
                o.runtimes.push((n.to_string(), PathBuf::from(p)));
            }
            "--runs" => o.runs = num(value(&mut it, a)?, a)?,
            "--var-runs" => o.var_runs = num(value(&mut it, a)?, a)?,
            "--life-runs" => o.life_runs = num(value(&mut it, a)?, a)?,
            "--life-var-runs" => o.life_var_runs = num(value(&mut it, a)?, a)?,
            "--rootfs-from" => o.rootfs_from = Some(PathBuf::from(value(&mut it, a)?)),
            "--life-variants" => {
                o.life_variants = value(&mut it, a)?
                    .split(',')
                    .map(|s| {
                        Variant::ALL
                            .into_iter()
                            .find(|v| v.key() == s)
                            .ok_or(format!("unknown variant {s}"))
                    })
                    .collect::<Result<_, _>>()?
            }
            "--par-n" => o.par_n = num(value(&mut it, a)?, a)?,
            "--par-rounds" => o.par_rounds = num(value(&mut it, a)?, a)?,
            "--timeout" => o.timeout = Duration::from_secs_f64(num(value(&mut it, a)?, a)?),
            "--par-timeout" => o.par_timeout = Duration::from_secs_f64(num(value(&mut it, a)?, a)?),
            _ => return Err(format!("unknown option {a}\n{USAGE}")),
        }
    }
    if o.env.is_empty()
        || o.out.as_os_str().is_empty()
        || o.runtimes.is_empty()
        || o.launcher.as_os_str().is_empty()
    {
        return Err(USAGE.to_string());
    }
    if o.par_n == 0 {
        return Err("--par-n must be at least 1".into());
    }
    o.repo = std::fs::canonicalize(&o.repo).map_err(|e| format!("--repo: {e}"))?;
    Ok(o)
}

fn parse_report(args: &[String]) -> Result<(), String> {
    let mut out_dir = None;
    let mut failed = Vec::new();
    let mut notes = Vec::new();
    let mut inputs = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--out-dir" => out_dir = Some(PathBuf::from(value(&mut it, a)?)),
            "--failed" => failed.push(value(&mut it, a)?.clone()),
            "--note" => notes.push(value(&mut it, a)?.clone()),
            s if s.starts_with("--") => return Err(format!("unknown option {s}\n{USAGE}")),
            _ => inputs.push(PathBuf::from(a)),
        }
    }
    let out_dir = out_dir.ok_or(USAGE)?;
    report::report(&inputs, &failed, &notes, &out_dir)
}
