//! `sangja-bench measure`: every scenario in one environment, interleaved across runtimes,
//! raw samples written as JSON for `report`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::bundle::{path_str, Bundles, Variant};
use crate::proc::{self, Call, Outcome, Scratch};

pub struct Opts {
    pub env: String,
    pub out: PathBuf,
    pub work: PathBuf,
    pub state: PathBuf,
    pub repo: PathBuf,
    pub launcher: PathBuf,
    pub runtimes: Vec<(String, PathBuf)>,
    /// Rounds of `run` (every runtime, plus the floors, once per round).
    pub runs: usize,
    /// How many of those rounds also run the no-netns and limits variants.
    pub var_runs: usize,
    /// Rounds of create/start/state/kill/delete (netns).
    pub life_runs: usize,
    /// How many of those rounds also do the other `life_variants`.
    pub life_var_runs: usize,
    pub life_variants: Vec<Variant>,
    /// A prepared rootfs to copy (cp -a) instead of building one with scripts/make-rootfs.sh.
    pub rootfs_from: Option<PathBuf>,
    pub par_n: usize,
    pub par_rounds: usize,
    pub timeout: Duration,
    pub par_timeout: Duration,
}

pub struct Runtime {
    pub name: String,
    pub path: PathBuf,
    pub root: PathBuf,
}

impl Runtime {
    fn argv(&self, sub: &[&str]) -> Vec<String> {
        let mut v = vec![
            self.path.display().to_string(),
            "--root".to_string(),
            self.root.display().to_string(),
        ];
        v.extend(sub.iter().map(|s| s.to_string()));
        v
    }
    fn has_state(&self, id: &str) -> bool {
        self.root.join(id).exists()
    }
}

/// Samples of one operation by one subject (a runtime or a floor).
#[derive(Default)]
pub struct Series {
    pub ms: Vec<f64>,
    pub rss_kib: Vec<i64>,
    pub fail: u32,
    pub hang: u32,
    pub errors: BTreeMap<String, u32>,
}

impl Series {
    fn add(&mut self, c: &Call) {
        match &c.outcome {
            Outcome::Ok => {
                self.ms.push(c.wall.as_secs_f64() * 1e3);
                self.rss_kib.push(c.maxrss_kib);
            }
            Outcome::Failed(code, msg) => {
                self.fail += 1;
                self.note(format!("exit {code}: {msg}"));
            }
            Outcome::Hang => {
                self.hang += 1;
                self.note(format!("hang: killed after {:.1} s", c.wall.as_secs_f64()));
            }
        }
    }
    fn note(&mut self, msg: String) {
        if self.errors.len() < 8 || self.errors.contains_key(&msg) {
            *self.errors.entry(msg).or_insert(0) += 1;
        }
    }
    fn to_json(&self) -> Value {
        json!({
            "ms": self.ms,
            "rss_kib": self.rss_kib,
            "fail": self.fail,
            "hang": self.hang,
            "errors": self.errors,
        })
    }
}

#[derive(Default)]
struct Results {
    /// op key ("run/netns", "create/limits", "floor/unshare", ...) -> subject -> series
    samples: BTreeMap<String, BTreeMap<String, Series>>,
    /// variant -> runtime -> why it cannot run that variant here
    unavailable: BTreeMap<String, BTreeMap<String, String>>,
    /// runtime -> parallel results
    parallel: BTreeMap<String, Value>,
    notes: Vec<String>,
}

impl Results {
    fn series(&mut self, key: &str, subject: &str) -> &mut Series {
        self.samples
            .entry(key.to_string())
            .or_default()
            .entry(subject.to_string())
            .or_default()
    }
    fn available(&self, v: Variant, rt: &str) -> bool {
        !self
            .unavailable
            .get(v.key())
            .is_some_and(|m| m.contains_key(rt))
    }
}

fn log(t0: Instant, msg: &str) {
    eprintln!("bench [{:>6.1}s] {msg}", t0.elapsed().as_secs_f64());
}

pub fn measure(o: &Opts) -> Result<(), String> {
    let t0 = Instant::now();
    proc::become_subreaper();
    proc::set_launcher(o.launcher.clone());
    let _ = std::fs::remove_dir_all(&o.work);
    std::fs::create_dir_all(o.work.join("io")).map_err(|e| format!("{}: {e}", o.work.display()))?;
    std::fs::create_dir_all(o.work.join("b")).map_err(|e| e.to_string())?;
    let io = o.work.join("io");
    let mut res = Results::default();

    // Runtimes: describe every one; a missing binary is unavailable everywhere, said so.
    let mut rts: Vec<Runtime> = Vec::new();
    let mut rt_info = Vec::new();
    for (name, path) in &o.runtimes {
        let info = describe_binary(name, path);
        let exists = path.is_file();
        rt_info.push(info);
        if !exists {
            for v in Variant::ALL {
                res.unavailable
                    .entry(v.key().to_string())
                    .or_default()
                    .insert(
                        name.clone(),
                        format!("not installed ({} missing)", path.display()),
                    );
            }
            continue;
        }
        let rt = Runtime {
            name: name.clone(),
            path: path.clone(),
            root: o.state.join(name),
        };
        clean_state_root(&rt, o.timeout, &io);
        std::fs::create_dir_all(&rt.root).map_err(|e| format!("{}: {e}", rt.root.display()))?;
        rts.push(rt);
    }
    let sangja = rts
        .iter()
        .find(|r| r.name == "sangja")
        .map(|r| r.path.clone())
        .ok_or("sangja binary missing (make build)")?;
    let runc = rts
        .iter()
        .find(|r| r.name == "runc")
        .map(|r| r.path.clone());
    let load_start = loadavg();
    let bundles = Bundles::prepare(
        &o.work,
        &o.repo,
        o.rootfs_from.as_deref(),
        runc.as_deref(),
        &sangja,
    )?;
    log(
        t0,
        &format!("env {}: bundle ready; {}", o.env, bundles.describe()),
    );

    // Probe: one `run` of /bin/true per runtime and variant. A runtime that fails it cannot
    // run that variant here; the report says why. A probe hang is a hang, not an inability.
    for rt in &rts {
        for v in Variant::ALL {
            let id = format!("probe{}-{}", v.short(), rt.name);
            let dir = o.work.join("b").join(&id);
            bundles.write(&dir, v, &["/bin/true"], &id)?;
            let c = proc::call(
                &rt.argv(&["run", "-b", path_str(&dir)?, &id]),
                o.timeout,
                &Scratch::new(&io, &id),
                false,
            );
            match &c.outcome {
                Outcome::Ok => {}
                Outcome::Failed(code, msg) => {
                    res.unavailable
                        .entry(v.key().to_string())
                        .or_default()
                        .insert(rt.name.clone(), format!("`run` fails (exit {code}): {msg}"));
                }
                Outcome::Hang => res.notes.push(format!(
                    "{}: the probe `run` ({}) hung and was killed after {:.0} s",
                    rt.name,
                    v.key(),
                    c.wall.as_secs_f64()
                )),
            }
            cleanup(rt, &id, o.timeout, &io);
            let _ = std::fs::remove_dir_all(&dir);
            proc::reap_orphans();
        }
    }
    for (v, m) in &res.unavailable {
        for (rt, why) in m {
            log(t0, &format!("{rt} cannot run {v} here: {why}"));
        }
    }

    // 1 + 3 + 6: `run` of /bin/true for every runtime and variant, and the two floors,
    // interleaved; the starting subject rotates each round so none always follows another.
    #[derive(Clone)]
    enum Subject<'a> {
        Rt(&'a Runtime, Variant),
        Floor(&'static str, Vec<String>),
    }
    let mut subjects: Vec<Subject> = vec![
        Subject::Floor("fork+exec", vec!["/bin/true".into()]),
        Subject::Floor(
            "unshare",
            [
                &proc::resolve("unshare")
                    .ok_or("unshare not found")?
                    .display()
                    .to_string(),
                "-m",
                "-u",
                "-i",
                "-p",
                "-n",
                "--fork",
                "/bin/true",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ),
    ];
    for v in Variant::ALL {
        for rt in &rts {
            if res.available(v, &rt.name) {
                subjects.push(Subject::Rt(rt, v));
            }
        }
    }
    log(
        t0,
        &format!(
            "run: {} rounds x {} subjects (variants in the first {})",
            o.runs,
            subjects.len(),
            o.var_runs
        ),
    );
    for i in 0..o.runs {
        let round: Vec<&Subject> = subjects
            .iter()
            .filter(|s| i < o.var_runs || !matches!(s, Subject::Rt(_, v) if *v != Variant::Default))
            .collect();
        let n = round.len();
        for k in 0..n {
            match round[(i + k) % n] {
                Subject::Floor(name, argv) => {
                    let c = proc::call(argv, o.timeout, &Scratch::new(&io, "floor"), false);
                    res.series("floor", name).add(&c);
                }
                Subject::Rt(rt, v) => {
                    let id = format!("r{i}{}-{}", v.short(), rt.name);
                    let dir = o.work.join("b").join(&id);
                    bundles.write(&dir, *v, &["/bin/true"], &id)?;
                    let c = proc::call(
                        &rt.argv(&["run", "-b", path_str(&dir)?, &id]),
                        o.timeout,
                        &Scratch::new(&io, &id),
                        false,
                    );
                    res.series(&format!("run/{}", v.key()), &rt.name).add(&c);
                    if !c.ok() || rt.has_state(&id) {
                        if c.ok() {
                            res.notes.push(format!(
                                "{}: `run` left the container's state behind; deleted untimed",
                                rt.name
                            ));
                        }
                        cleanup(rt, &id, o.timeout, &io);
                    }
                    let _ = std::fs::remove_dir_all(&dir);
                }
            }
            proc::reap_orphans();
        }
        if (i + 1) % 10 == 0 {
            log(t0, &format!("run: {} rounds done", i + 1));
        }
    }

    // 2 + 3: create, start, state, kill, delete of a running container (sleep), each timed.
    let life: Vec<(&Runtime, Variant)> = o
        .life_variants
        .iter()
        .flat_map(|v| rts.iter().map(move |rt| (rt, *v)))
        .filter(|(rt, v)| res.available(*v, &rt.name))
        .collect();
    log(
        t0,
        &format!(
            "lifecycle: {} rounds x {} subjects (variants in the first {})",
            o.life_runs,
            life.len(),
            o.life_var_runs
        ),
    );
    for i in 0..o.life_runs {
        let round: Vec<&(&Runtime, Variant)> = life
            .iter()
            .filter(|(_, v)| i < o.life_var_runs || *v == Variant::Default)
            .collect();
        let n = round.len();
        for k in 0..n {
            let (rt, v) = *round[(i + k) % n];
            lifecycle(rt, v, i, o, &bundles, &io, &mut res)?;
            proc::reap_orphans();
        }
        if (i + 1) % 10 == 0 {
            log(t0, &format!("lifecycle: {} rounds done", i + 1));
        }
    }

    // 4: N containers at once.
    let par: Vec<&Runtime> = rts
        .iter()
        .filter(|rt| res.available(Variant::Default, &rt.name))
        .collect();
    for r in 0..o.par_rounds {
        for k in 0..par.len() {
            let rt = par[(r + k) % par.len()];
            let v = parallel(rt, r, o, &bundles, &io)?;
            let entry = res.parallel.entry(rt.name.clone()).or_insert_with(|| {
                json!({"start_ms": [], "delete_ms": [], "fail": 0, "hang": 0, "errors": {}, "leftovers": 0, "containers": o.par_n})
            });
            merge_parallel(entry, &v);
            proc::reap_orphans();
        }
        log(t0, &format!("parallel: round {} done", r + 1));
    }

    // Leave nothing behind: state roots, cgroups, the work directory.
    for rt in &rts {
        clean_state_root(rt, o.timeout, &io);
        let _ = std::fs::remove_dir_all(&rt.root);
    }
    // The parent of the state roots, only if empty (it may be shared).
    let _ = std::fs::remove_dir(&o.state);
    proc::reap_orphans();
    let left = remove_bench_cgroups();
    if !left.is_empty() {
        res.notes.push(format!(
            "cgroup directories that could not be removed: {}",
            left.join(", ")
        ));
    }
    let _ = std::fs::remove_dir_all(&o.work);
    res.notes.sort();
    res.notes.dedup();

    let samples: BTreeMap<&String, BTreeMap<&String, Value>> = res
        .samples
        .iter()
        .map(|(k, m)| (k, m.iter().map(|(s, se)| (s, se.to_json())).collect()))
        .collect();
    let out = json!({
        "env": o.env,
        "machine": machine(),
        "cgroups": cgroup_description(),
        "method": {
            "bundle": bundles.describe(),
            "runs": o.runs,
            "var_runs": o.var_runs.min(o.runs),
            "life_runs": o.life_runs,
            "life_var_runs": o.life_var_runs.min(o.life_runs),
            "loadavg_start": load_start,
            "loadavg_end": loadavg(),
            "life_variants": o.life_variants.iter().map(|v| v.key()).collect::<Vec<_>>(),
            "par_n": o.par_n,
            "par_rounds": o.par_rounds,
            "timeout_s": o.timeout.as_secs_f64(),
            "par_timeout_s": o.par_timeout.as_secs_f64(),
            "state_root": o.state.display().to_string(),
            "work": o.work.display().to_string(),
            "elapsed_s": t0.elapsed().as_secs_f64(),
        },
        "runtimes": rt_info,
        "unavailable": res.unavailable,
        "samples": samples,
        "parallel": res.parallel,
        "notes": res.notes,
    });
    if let Some(d) = o.out.parent() {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    std::fs::write(
        &o.out,
        serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("{}: {e}", o.out.display()))?;
    log(t0, &format!("wrote {}", o.out.display()));
    Ok(())
}

fn lifecycle(
    rt: &Runtime,
    v: Variant,
    i: usize,
    o: &Opts,
    bundles: &Bundles,
    io: &Path,
    res: &mut Results,
) -> Result<(), String> {
    let id = format!("l{i}{}-{}", v.short(), rt.name);
    let dir = o.work.join("b").join(&id);
    bundles.write(&dir, v, &["/bin/sleep", "1000"], &id)?;
    let scratch = Scratch::new(io, &id);
    let key = |op: &str| format!("{op}/{}", v.key());
    let mut done = false;
    let steps: [(&str, Vec<String>); 4] = [
        ("create", rt.argv(&["create", "-b", path_str(&dir)?, &id])),
        ("start", rt.argv(&["start", &id])),
        ("state", rt.argv(&["state", &id])),
        ("kill", rt.argv(&["kill", &id, "KILL"])),
    ];
    let mut ok = true;
    for (op, argv) in &steps {
        let c = proc::call(argv, o.timeout, &scratch, false);
        res.series(&key(op), &rt.name).add(&c);
        if !c.ok() {
            ok = false;
            break;
        }
    }
    if ok {
        match wait_stopped(rt, &id, o.timeout, &scratch) {
            Ok(()) => {
                let c = proc::call(&rt.argv(&["delete", &id]), o.timeout, &scratch, false);
                res.series(&key("delete"), &rt.name).add(&c);
                done = c.ok();
            }
            Err(e) => res
                .series(&key("kill"), &rt.name)
                .note(format!("not stopped after kill: {e}")),
        }
    }
    if !done || rt.has_state(&id) {
        cleanup(rt, &id, o.timeout, io);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Poll `state` (untimed) until the container is stopped, reaping its init on the way.
fn wait_stopped(
    rt: &Runtime,
    id: &str,
    timeout: Duration,
    scratch: &Scratch,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        proc::reap_orphans();
        let c = proc::call(&rt.argv(&["state", id]), timeout, scratch, true);
        match &c.outcome {
            Outcome::Ok => {
                let st: Value = serde_json::from_str(&c.stdout).unwrap_or(Value::Null);
                if st["status"] == "stopped" {
                    return Ok(());
                }
            }
            Outcome::Failed(code, msg) => return Err(format!("state exited {code}: {msg}")),
            Outcome::Hang => return Err("state hung".into()),
        }
        if Instant::now() >= deadline {
            return Err("still not stopped at the deadline".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// `delete -f`, untimed, for containers a failed or hung call left behind.
fn cleanup(rt: &Runtime, id: &str, timeout: Duration, io: &Path) {
    if rt.has_state(id) {
        let _ = proc::call(
            &rt.argv(&["delete", "-f", id]),
            timeout,
            &Scratch::new(io, "cleanup"),
            false,
        );
        proc::reap_orphans();
        if rt.has_state(id) {
            // Some runtimes refuse a half-made container; its state directory is ours to drop.
            let _ = std::fs::remove_dir_all(rt.root.join(id));
        }
    }
}

fn clean_state_root(rt: &Runtime, timeout: Duration, io: &Path) {
    if let Ok(rd) = std::fs::read_dir(&rt.root) {
        for e in rd.flatten() {
            if let Some(id) = e.file_name().to_str() {
                if e.path().is_dir() {
                    cleanup(rt, id, timeout, io);
                }
            }
        }
    }
}

/// Parallel starts: `par_n` threads, each `create` then `start` of its own sleeping
/// container, released together; wall time until the last returns. Then all `delete -f`
/// at once, timed the same way.
fn parallel(
    rt: &Runtime,
    round: usize,
    o: &Opts,
    bundles: &Bundles,
    io: &Path,
) -> Result<Value, String> {
    let mut ids = Vec::new();
    for k in 0..o.par_n {
        let id = format!("p{round}-{}-{k}", rt.name);
        let dir = o.work.join("b").join(&id);
        bundles.write(&dir, Variant::Default, &["/bin/sleep", "1000"], &id)?;
        ids.push((id, dir));
    }
    let phase = |make: &dyn Fn(&str, &Path) -> Vec<Vec<String>>| -> (f64, Vec<Call>) {
        let barrier = Arc::new(Barrier::new(ids.len() + 1));
        let mut handles = Vec::new();
        for (id, dir) in &ids {
            let argvs = make(id, dir);
            let barrier = barrier.clone();
            let scratch = Scratch::new(io, id);
            let t = o.par_timeout;
            handles.push(std::thread::spawn(move || {
                barrier.wait();
                let mut last = None;
                for argv in &argvs {
                    let c = proc::call(argv, t, &scratch, false);
                    let ok = c.ok();
                    last = Some(c);
                    if !ok {
                        break;
                    }
                }
                last.expect("at least one command")
            }));
        }
        // The clock starts before this thread's arrival releases the others: read after the
        // barrier, it could start late, as this thread competes with 50 busy ones for the CPUs
        // (measured: 50 sangja create+start in "18 ms").
        let t0 = Instant::now();
        barrier.wait();
        let calls: Vec<Call> = handles
            .into_iter()
            .map(|h| h.join().expect("bench thread panicked"))
            .collect();
        (t0.elapsed().as_secs_f64() * 1e3, calls)
    };
    let (start_ms, starts) = phase(&|id, dir| {
        vec![
            rt.argv(&["create", "-b", dir.to_str().unwrap_or(""), id]),
            rt.argv(&["start", id]),
        ]
    });
    proc::reap_orphans();
    let (delete_ms, deletes) = phase(&|id, _| vec![rt.argv(&["delete", "-f", id])]);
    proc::reap_orphans();
    let mut fail = 0;
    let mut hang = 0;
    let mut errors: BTreeMap<String, u32> = BTreeMap::new();
    for c in starts.iter().chain(deletes.iter()) {
        match &c.outcome {
            Outcome::Ok => {}
            Outcome::Failed(code, msg) => {
                fail += 1;
                *errors.entry(format!("exit {code}: {msg}")).or_insert(0) += 1;
            }
            Outcome::Hang => hang += 1,
        }
    }
    let mut leftovers = 0;
    for (id, dir) in &ids {
        if rt.has_state(id) {
            leftovers += 1;
            cleanup(rt, id, o.timeout, io);
        }
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(json!({
        "start_ms": start_ms,
        "delete_ms": delete_ms,
        "fail": fail,
        "hang": hang,
        "errors": errors,
        "leftovers": leftovers,
    }))
}

fn merge_parallel(entry: &mut Value, v: &Value) {
    for k in ["start_ms", "delete_ms"] {
        if let Some(a) = entry[k].as_array_mut() {
            a.push(v[k].clone());
        }
    }
    for k in ["fail", "hang", "leftovers"] {
        entry[k] = json!(entry[k].as_u64().unwrap_or(0) + v[k].as_u64().unwrap_or(0));
    }
    if let Some(m) = v["errors"].as_object() {
        for (msg, n) in m {
            let cur = entry["errors"][msg].as_u64().unwrap_or(0);
            entry["errors"][msg] = json!(cur + n.as_u64().unwrap_or(0));
        }
    }
}

fn describe_binary(name: &str, path: &Path) -> Value {
    if !path.is_file() {
        return json!({"name": name, "path": path.display().to_string(), "installed": false});
    }
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let p = path.to_str().unwrap_or("");
    let version = proc::output(&[p, "--version"])
        .map(|s| {
            s.lines()
                .filter(|l| !l.trim().is_empty())
                .take(2)
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_else(|e| format!("? ({e})"));
    // ldd exits non-zero for a static binary; read what it says either way.
    let ldd = std::process::Command::new("ldd")
        .arg(path)
        .output()
        .map(|o| {
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        })
        .unwrap_or_default();
    let is_static = ldd.contains("not a dynamic executable") || ldd.contains("statically linked");
    let libs: Vec<String> = ldd
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|l| l.contains(".so"))
        .map(String::from)
        .collect();
    json!({
        "name": name,
        "path": path.display().to_string(),
        "installed": true,
        "version": version,
        "size": size,
        "static": is_static,
        "libs": libs,
    })
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn machine() -> Value {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let meminfo = read("/proc/meminfo");
    let mem_kib: u64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let cpuinfo = read("/proc/cpuinfo");
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "?".into());
    let nproc = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let date = proc::output(&["date", "-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default();
    json!({
        "date": date.trim(),
        "nproc": nproc,
        "kernel": read("/proc/sys/kernel/osrelease").trim(),
        "mem_mib": mem_kib / 1024,
        "cpu": cpu,
    })
}

/// The cgroup mounts (mount point, fs type, v1 controllers) from /proc/self/mountinfo.
fn cgroup_mounts() -> Vec<(PathBuf, String, String)> {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut out = Vec::new();
    for l in mi.lines() {
        let f: Vec<&str> = l.split(' ').collect();
        let Some(sep) = f.iter().position(|x| *x == "-") else {
            continue;
        };
        let (Some(fstype), Some(opts)) = (f.get(sep + 1), f.get(sep + 3)) else {
            continue;
        };
        if *fstype == "cgroup" || *fstype == "cgroup2" {
            out.push((PathBuf::from(f[4]), fstype.to_string(), opts.to_string()));
        }
    }
    out
}

fn cgroup_description() -> String {
    let mounts = cgroup_mounts();
    let v2: Vec<String> = mounts
        .iter()
        .filter(|m| m.1 == "cgroup2")
        .map(|m| {
            let c = std::fs::read_to_string(m.0.join("cgroup.controllers")).unwrap_or_default();
            let c = c.trim();
            format!(
                "cgroup2 at {} (controllers: {})",
                m.0.display(),
                if c.is_empty() { "none" } else { c }
            )
        })
        .collect();
    let v1: Vec<String> = mounts
        .iter()
        .filter(|m| m.1 == "cgroup")
        .filter_map(|m| m.0.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    match (v1.is_empty(), v2.is_empty()) {
        (true, false) => format!("unified cgroup v2: {}", v2.join("; ")),
        (false, false) => format!(
            "hybrid: cgroup v1 controllers ({}) + {}",
            v1.join(", "),
            v2.join("; ")
        ),
        (false, true) => format!("cgroup v1 only ({})", v1.join(", ")),
        (true, true) => "no cgroup mounts".into(),
    }
}

/// Remove every `<mount>/sangja-bench` tree (empty directories only, deepest first).
/// Returns what could not be removed.
fn remove_bench_cgroups() -> Vec<String> {
    fn rm(dir: &Path, left: &mut Vec<String>) {
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    rm(&e.path(), left);
                }
            }
        }
        if let Err(e) = std::fs::remove_dir(dir) {
            left.push(format!("{} ({e})", dir.display()));
        }
    }
    let mut left = Vec::new();
    let mut seen = Vec::new();
    for (mp, _, _) in cgroup_mounts() {
        let d = mp.join("sangja-bench");
        if seen.contains(&d) {
            continue;
        }
        seen.push(d.clone());
        if d.is_dir() {
            rm(&d, &mut left);
        }
    }
    left
}
