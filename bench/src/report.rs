//! `sangja-bench report`: read each environment's samples, write target/bench/report.md and
//! chart.svg, print the tables and the targets of issue 9 with PASS/FAIL.

use std::fmt::Write;
use std::path::Path;

use serde_json::Value;

use crate::stats::{self, median};
use crate::svg;

const SANGJA: &str = "sangja";
const OPS: [&str; 5] = ["create", "start", "state", "kill", "delete"];
const VARIANTS: [&str; 3] = ["netns", "no-netns", "limits"];
const BINARY_LIMIT: u64 = 3 << 20;

pub struct Env {
    pub v: Value,
}

impl Env {
    fn name(&self) -> &str {
        self.v["env"].as_str().unwrap_or("?")
    }
    fn title(&self) -> String {
        let m = &self.v["machine"];
        let place = match self.name() {
            "host" => "on the host".to_string(),
            "uml" => "inside User-Mode Linux (cgroup v2)".to_string(),
            other => format!("in {other}"),
        };
        format!(
            "{place}: kernel {}, {} CPU, {} MiB; {}",
            m["kernel"].as_str().unwrap_or("?"),
            m["nproc"],
            m["mem_mib"],
            self.v["cgroups"].as_str().unwrap_or("?")
        )
    }
    fn runtimes(&self) -> Vec<String> {
        self.v["runtimes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r["name"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }
    fn competitors(&self) -> Vec<String> {
        self.runtimes()
            .into_iter()
            .filter(|r| r != SANGJA)
            .collect()
    }
    fn series(&self, key: &str, subject: &str) -> &Value {
        &self.v["samples"][key][subject]
    }
    fn ms(&self, key: &str, subject: &str) -> Vec<f64> {
        nums(&self.series(key, subject)["ms"])
    }
    fn rss_mib(&self, key: &str, subject: &str) -> Vec<f64> {
        nums(&self.series(key, subject)["rss_kib"])
            .iter()
            .map(|k| k / 1024.0)
            .collect()
    }
    fn med(&self, key: &str, subject: &str) -> Option<f64> {
        median(&self.ms(key, subject))
    }
    fn unavailable(&self, variant: &str, rt: &str) -> Option<String> {
        self.v["unavailable"][variant][rt]
            .as_str()
            .map(String::from)
    }
    fn counts(&self, key: &str, subject: &str) -> (u64, u64) {
        let s = self.series(key, subject);
        (
            s["fail"].as_u64().unwrap_or(0),
            s["hang"].as_u64().unwrap_or(0),
        )
    }
    fn par(&self, rt: &str) -> &Value {
        &self.v["parallel"][rt]
    }
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().filter_map(|x| x.as_f64()).collect())
        .unwrap_or_default()
}

fn ms(x: f64) -> String {
    if x < 10.0 {
        format!("{x:.2}")
    } else if x < 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    }
}

fn mib(x: f64) -> String {
    format!("{x:.1}")
}

fn color(rt: &str) -> &'static str {
    match rt {
        SANGJA => "#d1495b",
        "runc" => "#2e86ab",
        "crun" => "#3a9d5d",
        "youki" => "#8e6bbf",
        _ => "#777777",
    }
}

/// A verdict line of the targets table.
struct Verdict {
    target: String,
    sangja: String,
    best: String,
    ratio: String,
    pass: Option<bool>,
}

fn verdict_table(vs: &[Verdict]) -> String {
    let mut s = String::from(
        "| target | sangja | best competitor | sangja ÷ best | verdict |\n|---|---|---|---|---|\n",
    );
    for v in vs {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            v.target,
            v.sangja,
            v.best,
            v.ratio,
            match v.pass {
                Some(true) => "PASS",
                Some(false) => "**FAIL**",
                None => "n/a",
            }
        );
    }
    s
}

/// min over competitors of f(rt), with its name.
fn best<F: Fn(&str) -> Option<f64>>(comps: &[String], f: F) -> Option<(String, f64)> {
    comps
        .iter()
        .filter_map(|c| f(c).map(|x| (c.clone(), x)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

fn targets(e: &Env, binary: &Value) -> Vec<Verdict> {
    let comps = e.competitors();
    let mut out = Vec::new();
    let lat = |key: &str, factor: f64, label: &str, out: &mut Vec<Verdict>| {
        let s = e.med(key, SANGJA);
        let b = best(&comps, |c| e.med(key, c));
        out.push(match (s, b) {
            (Some(s), Some((bn, bv))) => Verdict {
                target: label.to_string(),
                sangja: format!("{} ms", ms(s)),
                best: format!("{bn} {} ms", ms(bv)),
                ratio: format!("{:.2} (≤ {factor})", s / bv),
                pass: Some(s / bv <= factor),
            },
            (s, _) => Verdict {
                target: label.to_string(),
                sangja: s
                    .map(|x| format!("{} ms", ms(x)))
                    .unwrap_or("no samples".into()),
                best: "no competitor ran here".into(),
                ratio: "-".into(),
                pass: None,
            },
        });
    };
    lat(
        "run/netns",
        0.8,
        "`run` ≤ 0.8 × fastest competitor",
        &mut out,
    );
    match (e.med("run/netns", SANGJA), e.med("floor", "unshare")) {
        (Some(s), Some(f)) => out.push(Verdict {
            target: "`run` ≤ 2 × unshare floor".into(),
            sangja: format!("{} ms", ms(s)),
            best: format!("unshare {} ms", ms(f)),
            ratio: format!("{:.2} (≤ 2)", s / f),
            pass: Some(s / f <= 2.0),
        }),
        _ => out.push(Verdict {
            target: "`run` ≤ 2 × unshare floor".into(),
            sangja: "-".into(),
            best: "-".into(),
            ratio: "-".into(),
            pass: None,
        }),
    }
    for op in OPS {
        lat(
            &format!("{op}/netns"),
            1.0,
            &format!("`{op}` ≤ fastest competitor"),
            &mut out,
        );
    }
    for op in ["run", "create", "start", "state", "kill", "delete"] {
        let key = format!("{op}/netns");
        let s = median(&e.rss_mib(&key, SANGJA));
        let b = best(&comps, |c| median(&e.rss_mib(&key, c)));
        out.push(match (s, b) {
            (Some(s), Some((bn, bv))) => Verdict {
                target: format!("peak RSS of `{op}` ≤ leanest"),
                sangja: format!("{} MiB", mib(s)),
                best: format!("{bn} {} MiB", mib(bv)),
                ratio: format!("{:.2} (≤ 1)", s / bv),
                pass: Some(s <= bv),
            },
            _ => Verdict {
                target: format!("peak RSS of `{op}` ≤ leanest"),
                sangja: s.map(|x| format!("{} MiB", mib(x))).unwrap_or("-".into()),
                best: "no competitor ran here".into(),
                ratio: "-".into(),
                pass: None,
            },
        });
    }
    let p = e.par(SANGJA);
    let pmed = median(&nums(&p["start_ms"]));
    let pfail = p["fail"].as_u64().unwrap_or(0) + p["hang"].as_u64().unwrap_or(0);
    out.push(Verdict {
        target: format!("{} parallel starts: 0 failures", p["containers"]),
        sangja: format!("{pfail} failed or hung"),
        best: "-".into(),
        ratio: "-".into(),
        pass: if p.is_null() { None } else { Some(pfail == 0) },
    });
    let b = best(&comps, |c| median(&nums(&e.par(c)["start_ms"])));
    out.push(match (pmed, b) {
        (Some(s), Some((bn, bv))) => Verdict {
            target: "parallel starts: wall ≤ fastest".into(),
            sangja: format!("{} ms", ms(s)),
            best: format!("{bn} {} ms", ms(bv)),
            ratio: format!("{:.2} (≤ 1)", s / bv),
            pass: Some(s <= bv),
        },
        _ => Verdict {
            target: "parallel starts: wall ≤ fastest".into(),
            sangja: pmed.map(|x| format!("{} ms", ms(x))).unwrap_or("-".into()),
            best: "no competitor ran here".into(),
            ratio: "-".into(),
            pass: None,
        },
    });
    let hangs: u64 = e.v["samples"]
        .as_object()
        .map(|m| {
            m.values()
                .map(|s| s[SANGJA]["hang"].as_u64().unwrap_or(0))
                .sum()
        })
        .unwrap_or(0)
        + e.par(SANGJA)["hang"].as_u64().unwrap_or(0);
    out.push(Verdict {
        target: "sangja: 0 hangs".into(),
        sangja: format!("{hangs} hangs"),
        best: "-".into(),
        ratio: "-".into(),
        pass: Some(hangs == 0),
    });
    let size = binary["size"].as_u64().unwrap_or(0);
    let is_static = binary["static"].as_bool().unwrap_or(false);
    out.push(Verdict {
        target: "binary: one static file ≤ 3 MiB".into(),
        sangja: format!(
            "{:.2} MiB, {}",
            size as f64 / 1048576.0,
            if is_static { "static" } else { "dynamic" }
        ),
        best: "-".into(),
        ratio: format!("{:.2} (≤ 1)", size as f64 / BINARY_LIMIT as f64),
        pass: Some(is_static && size <= BINARY_LIMIT),
    });
    out
}

fn runtime_binary<'a>(envs: &'a [Env], name: &str) -> &'a Value {
    for e in envs {
        if let Some(a) = e.v["runtimes"].as_array() {
            if let Some(r) = a.iter().find(|r| r["name"] == name) {
                return r;
            }
        }
    }
    &Value::Null
}

fn env_section(e: &Env, out: &mut String, binary: &Value) -> String {
    let rts = e.runtimes();
    let comps = e.competitors();
    let title = e.title();
    let _ = writeln!(out, "## Ran {title}\n");
    let m = &e.v["method"];
    let list = |k: &str| {
        m[k].as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    let _ = writeln!(
        out,
        "Date {}; CPU: {}; load average {} at the start, {} at the end. \
`run`: {} rounds (the no-netns and limits scenarios in the first {}); lifecycle: {} rounds (netns; {} also in the first {}); \
parallel: {} round(s) of {} containers. Per-call timeout {} s ({} s in the parallel test). This environment took {:.0} s.\n",
        e.v["machine"]["date"].as_str().unwrap_or("?"),
        e.v["machine"]["cpu"].as_str().unwrap_or("?"),
        m["loadavg_start"].as_str().unwrap_or("?"),
        m["loadavg_end"].as_str().unwrap_or("?"),
        m["runs"],
        m["var_runs"],
        m["life_runs"],
        list("life_variants"),
        m["life_var_runs"],
        m["par_rounds"],
        m["par_n"],
        m["timeout_s"],
        m["par_timeout_s"],
        m["elapsed_s"].as_f64().unwrap_or(0.0)
    );
    let _ = writeln!(
        out,
        "Bundle here: {}.\n",
        m["bundle"].as_str().unwrap_or("?")
    );

    // Who could not run what here.
    let mut cannot = String::new();
    for v in VARIANTS {
        for rt in &rts {
            if let Some(why) = e.unavailable(v, rt) {
                let _ = writeln!(cannot, "- **{rt}** cannot run `{v}` here: {why}");
            }
        }
    }
    if cannot.is_empty() {
        out.push_str("Every runtime ran every scenario here.\n\n");
    } else {
        let _ = writeln!(
            out,
            "Not measured here (the probe `run` of each runtime × scenario failed):\n\n{cannot}"
        );
    }

    // Latency medians with ratios.
    let _ = writeln!(
        out,
        "### Latency (median ms; in brackets: that runtime's median ÷ sangja's, > 1 means sangja is faster)\n"
    );
    let mut hdr = String::from("| operation | scenario |");
    let mut sep = String::from("|---|---|");
    for rt in &rts {
        let _ = write!(hdr, " {rt} |");
        sep.push_str("---:|");
    }
    let _ = writeln!(out, "{hdr}\n{sep}");
    let mut keys: Vec<(String, String)> = VARIANTS
        .iter()
        .map(|v| ("run".to_string(), v.to_string()))
        .collect();
    for v in VARIANTS {
        for op in OPS {
            keys.push((op.to_string(), v.to_string()));
        }
    }
    for (op, v) in &keys {
        let key = format!("{op}/{v}");
        if e.v["samples"][&key].is_null() {
            continue;
        }
        let s = e.med(&key, SANGJA);
        let mut row = format!("| {op} | {v} |");
        for rt in &rts {
            let cell = match (e.med(&key, rt), e.unavailable(v, rt)) {
                (_, Some(_)) => "n/a".to_string(),
                (None, None) => "no samples".to_string(),
                (Some(x), None) => {
                    let (f, h) = e.counts(&key, rt);
                    let mut c = ms(x);
                    if rt != SANGJA {
                        if let Some(s) = s {
                            let _ = write!(c, " ({:.2}×)", x / s);
                        }
                    }
                    if f + h > 0 {
                        let _ = write!(c, " ⚠{f}f/{h}h");
                    }
                    c
                }
            };
            let _ = write!(row, " {cell} |");
        }
        let _ = writeln!(out, "{row}");
    }
    out.push_str("\n⚠Nf/Mh: N failed and M hung calls (not in the median). n/a: cannot run here (above).\n\n");

    // Floors.
    let fe = e.med("floor", "fork+exec");
    let fu = e.med("floor", "unshare");
    let _ = writeln!(
        out,
        "### Floor (median ms) and each runtime's `run` (netns) as a multiple of it\n"
    );
    let _ = writeln!(
        out,
        "| floor | median | {} |\n|---|---:|{}",
        rts.join(" | "),
        "---:|".repeat(rts.len())
    );
    for (name, f) in [
        ("fork+exec of /bin/true", fe),
        ("`unshare -m -u -i -p -n --fork /bin/true`", fu),
    ] {
        let mut row = format!("| {name} | {} |", f.map(ms).unwrap_or("-".into()));
        for rt in &rts {
            let cell = match (e.med("run/netns", rt), f) {
                (Some(r), Some(f)) => format!("{:.1}×", r / f),
                _ => "-".into(),
            };
            let _ = write!(row, " {cell} |");
        }
        let _ = writeln!(out, "{row}");
    }
    out.push('\n');

    // Parallel.
    let _ = writeln!(out, "### {} containers started in parallel (create + start each, all at once; then `delete -f` all at once)\n", e.v["method"]["par_n"]);
    let _ = writeln!(out, "| runtime | rounds | start wall (median ms) | ÷ sangja | delete wall (median ms) | failed | hung | left behind |\n|---|---:|---:|---:|---:|---:|---:|---:|");
    let ps = median(&nums(&e.par(SANGJA)["start_ms"]));
    for rt in &rts {
        let p = e.par(rt);
        if p.is_null() {
            let why = e.unavailable("netns", rt).unwrap_or("not run".into());
            let _ = writeln!(out, "| {rt} | n/a: {} | | | | | | |", short(&why));
            continue;
        }
        let st = median(&nums(&p["start_ms"]));
        let _ = writeln!(
            out,
            "| {rt} | {} | {} | {} | {} | {} | {} | {} |",
            nums(&p["start_ms"]).len(),
            st.map(ms).unwrap_or("-".into()),
            match (st, ps) {
                (Some(a), Some(b)) if rt != SANGJA => format!("{:.2}×", a / b),
                _ => "".into(),
            },
            median(&nums(&p["delete_ms"])).map(ms).unwrap_or("-".into()),
            p["fail"],
            p["hang"],
            p["leftovers"]
        );
    }
    out.push('\n');

    // Peak RSS.
    let _ = writeln!(out, "### Peak RSS of the runtime process (median of wait4's ru_maxrss, MiB; includes the children it waited for)\n");
    let _ = writeln!(
        out,
        "| command | {} |\n|---|{}",
        rts.join(" | "),
        "---:|".repeat(rts.len())
    );
    for op in ["run", "create", "start", "state", "kill", "delete"] {
        let key = format!("{op}/netns");
        let s = median(&e.rss_mib(&key, SANGJA));
        let mut row = format!("| {op} |");
        for rt in &rts {
            let cell = match median(&e.rss_mib(&key, rt)) {
                Some(x) if rt != SANGJA && s.is_some() => {
                    format!("{} ({:.2}×)", mib(x), x / s.unwrap_or(1.0))
                }
                Some(x) => mib(x),
                None => "n/a".into(),
            };
            let _ = write!(row, " {cell} |");
        }
        let _ = writeln!(out, "{row}");
    }
    out.push('\n');

    // Targets.
    let vs = targets(e, binary);
    let _ = writeln!(out, "### Targets of issue 9, {}\n", e.name());
    out.push_str(&verdict_table(&vs));
    out.push('\n');

    // Distributions and failures.
    let _ = writeln!(out, "<details><summary>Distributions (n, min, median, max ms; failures, hangs) and error messages</summary>\n");
    let _ = writeln!(out, "| operation | runtime | n | min | median | max | failed | hung |\n|---|---|---:|---:|---:|---:|---:|---:|");
    let mut errs = String::new();
    let mut all_keys: Vec<String> = vec!["floor".into()];
    all_keys.extend(keys.iter().map(|(o, v)| format!("{o}/{v}")));
    for key in &all_keys {
        let subjects: Vec<String> = if key == "floor" {
            vec!["fork+exec".into(), "unshare".into()]
        } else {
            rts.clone()
        };
        for rt in &subjects {
            let sv = e.series(key, rt);
            if sv.is_null() {
                continue;
            }
            let (f, h) = e.counts(key, rt);
            match stats::summary(&e.ms(key, rt)) {
                Some(s) => {
                    let _ = writeln!(
                        out,
                        "| {key} | {rt} | {} | {} | {} | {} | {f} | {h} |",
                        s.n,
                        ms(s.min),
                        ms(s.median),
                        ms(s.max)
                    );
                }
                None => {
                    let _ = writeln!(out, "| {key} | {rt} | 0 | | | | {f} | {h} |");
                }
            }
            if let Some(m) = sv["errors"].as_object() {
                for (msg, n) in m {
                    let _ = writeln!(errs, "- {key} {rt} ×{n}: `{}`", msg.replace('`', "'"));
                }
            }
        }
    }
    for rt in &comps
        .iter()
        .chain(std::iter::once(&SANGJA.to_string()))
        .cloned()
        .collect::<Vec<_>>()
    {
        if let Some(m) = e.par(rt)["errors"].as_object() {
            for (msg, n) in m {
                let _ = writeln!(errs, "- parallel {rt} ×{n}: `{}`", msg.replace('`', "'"));
            }
        }
    }
    if !errs.is_empty() {
        let _ = writeln!(out, "\nErrors seen:\n\n{errs}");
    }
    if let Some(notes) = e.v["notes"].as_array() {
        if !notes.is_empty() {
            out.push_str("\nNotes:\n\n");
            for n in notes {
                let _ = writeln!(out, "- {}", n.as_str().unwrap_or(""));
            }
        }
    }
    out.push_str("\n</details>\n\n");
    verdict_table(&vs)
}

fn short(s: &str) -> String {
    let s: String = s.chars().take(120).collect();
    s.replace('|', "/")
}

fn panels(envs: &[Env]) -> Vec<svg::Panel> {
    let mut ps = Vec::new();
    for e in envs {
        let rts = e.runtimes();
        let mut groups = Vec::new();
        let row = |key: &str, v: &str, rt: &str| svg::Row {
            label: rt.to_string(),
            color: color(rt),
            samples: e.ms(key, rt),
            missing: e
                .unavailable(v, rt)
                .map(|w| format!("cannot run here: {w}")),
            extra: {
                let (f, h) = e.counts(key, rt);
                let mut x = String::new();
                if f > 0 {
                    x.push_str(&format!(", {f} failed"));
                }
                if h > 0 {
                    x.push_str(&format!(", {h} hung"));
                }
                x
            },
        };
        for v in VARIANTS {
            let key = format!("run/{v}");
            if e.v["samples"][&key].is_null() {
                continue;
            }
            let mut rows: Vec<svg::Row> = rts.iter().map(|rt| row(&key, v, rt)).collect();
            if v == "netns" {
                for f in ["unshare", "fork+exec"] {
                    rows.push(svg::Row {
                        label: format!("floor: {f}"),
                        color: "#777777",
                        samples: e.ms("floor", f),
                        missing: None,
                        extra: String::new(),
                    });
                }
            }
            groups.push(svg::Group {
                title: format!("run /bin/true ({v})"),
                rows,
            });
        }
        for op in OPS {
            let key = format!("{op}/netns");
            if e.v["samples"][&key].is_null() {
                continue;
            }
            groups.push(svg::Group {
                title: format!(
                    "{op} (netns{})",
                    if op == "state" || op == "kill" {
                        ", running sleep"
                    } else {
                        ""
                    }
                ),
                rows: rts.iter().map(|rt| row(&key, "netns", rt)).collect(),
            });
        }
        let m = &e.v["machine"];
        ps.push(svg::Panel {
            title: match e.name() {
                "host" => format!(
                    "On the host: {} CPU, kernel {}",
                    m["nproc"],
                    m["kernel"].as_str().unwrap_or("?")
                ),
                "uml" => format!(
                    "Inside User-Mode Linux: {} CPU, kernel {}",
                    m["nproc"],
                    m["kernel"].as_str().unwrap_or("?")
                ),
                n => format!("In {n}"),
            },
            subtitle: e.v["cgroups"].as_str().unwrap_or("").to_string(),
            groups,
        });
    }
    ps
}

pub fn report(
    inputs: &[std::path::PathBuf],
    failed: &[String],
    notes: &[String],
    out_dir: &Path,
) -> Result<(), String> {
    let mut envs = Vec::new();
    for p in inputs {
        let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        envs.push(Env {
            v: serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?,
        });
    }
    let binary = runtime_binary(&envs, SANGJA).clone();
    let mut md = String::new();
    md.push_str("# sangja benchmark: sangja vs runc, crun, youki\n\n");
    if let Some(e) = envs.first() {
        let m = &e.v["machine"];
        let _ = writeln!(
            md,
            "Generated by `make bench` (bench/bench.sh, bench/src), {}. Machine: {} CPU ({}), kernel {}, {} MiB memory.\n",
            m["date"].as_str().unwrap_or("?"),
            m["nproc"],
            m["cpu"].as_str().unwrap_or("?"),
            m["kernel"].as_str().unwrap_or("?"),
            m["mem_mib"]
        );
    }
    md.push_str("## Method\n\n");
    md.push_str("- One harness (`bench/`, Rust) calls each runtime's CLI exactly as a user would: `RT --root DIR create|start|state|kill|delete|run …`, \
every call under a deadline (a pidfd `poll`); a call past its deadline is killed with its process group and counted as a **hang**, never retried.\n");
    md.push_str("- Every command is forked from `bench-launch` (bench/launch/launch.rs, a ~2 KiB static program with a ~12 KiB resident set): \
wall time runs from just before its fork to just after its `wait4`, so loading each runtime's binary is included; \
peak RSS is that `wait4`'s `ru_maxrss` (the runtime process and the children it waited for), not inflated by a big parent's memory copied at fork.\n");
    md.push_str("- Interleaved: each round calls every runtime × scenario (and the floors) once; the starting point rotates each round so drift and ordering hit all alike.\n");
    md.push_str("- `run`: foreground `run` of `/bin/true` (create + start + wait + delete). Lifecycle: `create`, `start`, `state`, `kill KILL`, (wait until stopped, untimed), `delete` of `/bin/sleep 1000`.\n");
    md.push_str("- Scenarios: `netns` = `runc spec`'s namespaces (pid, network, ipc, uts, mount; on cgroup v2 also cgroup — listed per table); \
`no-netns` = without the network namespace; `limits` = netns plus `memory.limit` 256 MiB and `pids.limit` 128.\n");
    md.push_str("- Parallel: N threads released by one barrier, each `create` then `start` of its own sleeping container; wall time until the last returns. Then `delete -f` of all at once.\n");
    md.push_str("- Floors: fork+exec of `/bin/true` through the same harness, and `unshare -m -u -i -p -n --fork /bin/true`.\n");
    md.push_str("- The bench process is a child subreaper: container inits whose runtime exited are reaped by it (untimed, between calls).\n");
    if let Some(e) = envs.first() {
        let _ = writeln!(
            md,
            "- State roots under `{}`, one per runtime; bundles and rootfs under `{}`.",
            e.v["method"]["state_root"].as_str().unwrap_or("?"),
            e.v["method"]["work"].as_str().unwrap_or("?")
        );
    }
    for n in notes {
        let _ = writeln!(md, "- {n}");
    }
    md.push('\n');
    md.push_str(
        "## Runtimes\n\n| runtime | version | binary | size | linkage |\n|---|---|---|---:|---|\n",
    );
    for e in envs.iter().take(1) {
        for r in e.v["runtimes"].as_array().cloned().unwrap_or_default() {
            if r["installed"] == false {
                let _ = writeln!(
                    md,
                    "| {} | not installed | {} | | |",
                    r["name"].as_str().unwrap_or("?"),
                    r["path"].as_str().unwrap_or("?")
                );
                continue;
            }
            let libs: Vec<String> = r["libs"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            let _ = writeln!(
                md,
                "| {} | {} | `{}` | {:.2} MiB | {} |",
                r["name"].as_str().unwrap_or("?"),
                short(r["version"].as_str().unwrap_or("?")),
                r["path"].as_str().unwrap_or("?"),
                r["size"].as_u64().unwrap_or(0) as f64 / 1048576.0,
                if r["static"] == true {
                    "static".to_string()
                } else {
                    format!("dynamic: {}", libs.join(", "))
                }
            );
        }
    }
    md.push('\n');
    if !failed.is_empty() {
        md.push_str("## Environments that did not produce results\n\n");
        for f in failed {
            let _ = writeln!(md, "- {f}");
        }
        md.push('\n');
    }
    md.push_str("![latency distributions per runtime and operation](chart.svg)\n\n");
    let mut verdicts = Vec::new();
    for e in &envs {
        let t = env_section(e, &mut md, &binary);
        verdicts.push((e.title(), t));
    }
    md.push_str("## 7. Network (sangja only): `run` with bridge networking\n\n");
    md.push_str("Not measured yet: sangja has no `--network bridge` wired at this revision. This section will hold \
`run` with bridge networking vs `run` (netns) and the time the network setup adds, measured in the same interleaved way.\n");

    std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    std::fs::write(out_dir.join("report.md"), &md).map_err(|e| e.to_string())?;
    let subtitle = envs
        .first()
        .map(|e| {
            format!(
                "make bench, {} — each row: one runtime, every sample; lower is better",
                e.v["machine"]["date"].as_str().unwrap_or("")
            )
        })
        .unwrap_or_default();
    let chart = svg::chart(
        "sangja vs runc, crun, youki: latency per operation",
        &subtitle,
        &panels(&envs),
    );
    std::fs::write(out_dir.join("chart.svg"), chart).map_err(|e| e.to_string())?;

    // Terminal: the report without its collapsed details, then the verdicts.
    let mut term = String::new();
    let mut hidden = false;
    for l in md.lines() {
        if l.starts_with("<details>") {
            hidden = true;
        }
        if !hidden {
            term.push_str(l);
            term.push('\n');
        }
        if l.starts_with("</details>") {
            hidden = false;
        }
    }
    println!("{term}");
    println!("==== Targets of issue 9 ====\n");
    for (title, t) in &verdicts {
        println!("Ran {title}\n{t}");
    }
    for f in failed {
        println!("NOT RUN: {f}");
    }
    println!(
        "wrote {} and {}",
        out_dir.join("report.md").display(),
        out_dir.join("chart.svg").display()
    );
    Ok(())
}
