//! Resource limits observed through their effect, not just the files: OOM kill at
//! `memory.limit` (and the `oom` record of `events`), a fork loop stopped at `pids.limit`,
//! a busy loop held near `cpu.max`, `update` changing the limits of a running container.
//!
//! These need cgroup v2 *with* the cpu, memory and pids controllers: on a host without them
//! (such as a hybrid host) they print `SKIPPED: ... needs cgroup v2 with controllers (make uml
//! runs it)`; `make uml` runs them inside User-Mode Linux with
//! `SANGJA_ITEST_REQUIRE_CGROUP2=1`, where a missing controller fails instead.

use std::fs;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use sangja_integration::{assert_clean, cgroupenv, setup, util, Bundle, Container, Runtime};

const WAIT: Duration = Duration::from_secs(20);
const MIB: u64 = 1 << 20;

/// The tests of this file run one at a time, whatever --test-threads says: the cpu.max
/// measurement must not compete with another test's busy processes for the CPU.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Wait for `/tmp/<name>` in the container's rootfs and return its contents, trimmed.
/// The container writes `<name>.new` and renames it, so the content is complete.
fn wait_file(b: &Bundle, name: &str) -> String {
    let p = b.rootfs().join("tmp").join(name);
    util::wait_for(&format!("{} from the container", p.display()), WAIT, || {
        fs::read_to_string(&p).ok().map(|s| s.trim().to_string())
    })
}

/// Let a container waiting in `until [ -e /tmp/<name> ]` go on.
fn signal_file(b: &Bundle, name: &str) {
    fs::write(b.rootfs().join("tmp").join(name), "").unwrap();
}

/// Shell: wait for the host to create /tmp/NAME.
fn await_go(name: &str) -> String {
    format!("until [ -e /tmp/{name} ]; do sleep 0.02; done")
}

/// Shell: write VALUE atomically to /tmp/NAME.
fn report(name: &str, value: &str) -> String {
    format!("echo {value} > /tmp/{name}.new; mv /tmp/{name}.new /tmp/{name}")
}

fn u64_at(v: &Value, pointer: &str) -> u64 {
    v.pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no number at {pointer} in {v}"))
}

#[test]
fn memory_limit_oom_kills_and_events_reports_oom() {
    if !cgroupenv::need_controllers(&["memory"]) {
        return;
    }
    let _serial = serial();
    let (rt, c) = setup();
    let mut b = c.bundle();
    let limit = 32 * MIB;
    b.set(
        "/linux/resources/memory",
        json!({ "limit": limit, "swap": limit }),
    );
    // busybox tail keeps a line without newline in a growing heap buffer: anonymous
    // memory charged to the cgroup. 200 MiB does not fit in 32 MiB.
    b.set_script(&format!(
        "{}; head -c 200m /dev/zero | tail >/dev/null; {}; exec sleep 1000",
        await_go("go"),
        report("tail-rc", "$?")
    ));
    c.start_running(&b);

    // `events` in the background, started before the allocation: it counts OOM kills
    // from the moment it starts. Its first stats record says it is watching.
    let events_out = rt.scratch("events");
    let mut events = rt
        .command(["events", "--interval", "1s", c.id()])
        .stdout_to(&events_out)
        .timeout(Duration::from_secs(60))
        .spawn();
    events.wait_stdout("\"type\":\"stats\"", WAIT);

    signal_file(&b, "go");
    let rc = wait_file(&b, "tail-rc");
    assert_eq!(
        rc, "137",
        "tail should be SIGKILLed by the OOM killer (exit 137) under a {limit}-byte limit"
    );
    assert_eq!(cgroupenv::read(c.id(), "memory.max"), limit.to_string());
    events.wait_stdout("\"type\":\"oom\"", WAIT);
    let oom_lines: Vec<Value> = events
        .stdout_so_far()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["type"] == "oom")
        .collect();
    assert_eq!(
        oom_lines[0],
        json!({ "type": "oom", "id": c.id() }),
        "the oom record has runc's shape"
    );

    let ev = cgroupenv::read(c.id(), "memory.events");
    let oom_kill = ev
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(oom_kill >= 1, "memory.events counts no oom_kill:\n{ev}");
    let data = cgroupenv::stats(&rt, c.id());
    assert_eq!(u64_at(&data, "/memory/usage/limit"), limit, "{data}");
    if rt.is_sangja() {
        // runc 1.1 leaves failcnt 0 on cgroup v2.
        assert!(
            u64_at(&data, "/memory/usage/failcnt") >= 1,
            "events --stats memory.usage.failcnt (memory.events max) should count the OOM: {data}"
        );
    }
    // usage.max is memory.peak (runc 1.1 does not report it).
    match data.pointer("/memory/usage/max").and_then(Value::as_u64) {
        Some(peak) => assert!(peak <= limit, "memory.peak above the limit: {data}"),
        None => assert!(!rt.is_sangja(), "no memory.usage.max (memory.peak): {data}"),
    }
    assert_eq!(c.status(), "running", "only tail was killed, not the init");

    // events ends by itself once the container is gone.
    c.delete(true).ok();
    let out = events.wait();
    assert!(
        out.success(),
        "events should exit 0 when the container stops:\n{out:?}"
    );
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn pids_limit_stops_a_fork_loop() {
    if !cgroupenv::need_controllers(&["pids"]) {
        return;
    }
    let _serial = serial();
    let (rt, c) = setup();
    let mut b = c.bundle();
    let limit = 10;
    b.set("/linux/resources/pids", json!({ "limit": limit }));
    // The init (1) and the subshell (1) leave room for limit-2 background sleeps; the next
    // fork fails with EAGAIN and ash ends the subshell. /tmp/forks counts the forks that
    // worked (written after each, by a builtin, without forking).
    b.set_script(&format!(
        "( n=0; while [ $n -lt 40 ]; do sleep 1000 & n=$((n+1)); echo $n > /tmp/forks; done ); \
         {}; exec sleep 1000",
        report("loop-rc", "$?")
    ));
    c.start_running(&b);
    let loop_rc = wait_file(&b, "loop-rc");
    let forks: u64 = fs::read_to_string(b.rootfs().join("tmp/forks"))
        .unwrap_or_default()
        .trim()
        .parse()
        .unwrap_or(0);
    assert_eq!(
        forks,
        limit - 2,
        "with pids.limit {limit}: init + subshell + {} sleeps, then fork must fail \
         (the subshell exited {loop_rc})",
        limit - 2
    );
    assert_ne!(loop_rc, "0", "the fork loop should end by a failed fork");
    assert_eq!(cgroupenv::read(c.id(), "pids.max"), limit.to_string());
    let pe = cgroupenv::read(c.id(), "pids.events");
    assert!(
        pe.lines()
            .any(|l| l.strip_prefix("max ").is_some_and(|n| n != "0")),
        "pids.events counts no refused fork:\n{pe}"
    );
    // The sleeps live on under the (exec'd) init: 1 + limit-2 processes.
    let pids = cgroupenv::ps_json(&rt, c.id());
    assert_eq!(pids.len() as u64, limit - 1, "ps after the loop: {pids:?}");
    let data = cgroupenv::stats(&rt, c.id());
    assert_eq!(u64_at(&data, "/pids/limit"), limit, "{data}");
    assert_eq!(u64_at(&data, "/pids/current"), limit - 1, "{data}");

    // Raising the limit with update lets the container fork again.
    rt.cmd(&["update", "--pids-limit", "20", c.id()]).ok();
    assert_eq!(cgroupenv::read(c.id(), "pids.max"), "20");
    c.delete(true).ok();
    assert_clean(&rt, c.id(), &b);
}

/// `events --stats` cpu usage (ns) and the time it was taken (the command's midpoint).
fn cpu_sample(rt: &Runtime, id: &str) -> (u64, Instant) {
    let before = Instant::now();
    let data = cgroupenv::stats(rt, id);
    let after = Instant::now();
    (
        u64_at(&data, "/cpu/usage/total"),
        before + (after - before) / 2,
    )
}

#[test]
fn cpu_max_holds_a_busy_loop_near_its_quota() {
    if !cgroupenv::need_controllers(&["cpu"]) {
        return;
    }
    let _serial = serial();
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set(
        "/linux/resources/cpu",
        json!({ "quota": 20000, "period": 100000 }),
    );
    b.set_script("while :; do :; done");
    c.start_running(&b);
    // Let the loop run into its first throttled periods.
    util::wait_for("the busy loop to use CPU", WAIT, || {
        (cpu_sample(&rt, c.id()).0 > 0).then_some(())
    });

    let (u0, t0) = cpu_sample(&rt, c.id());
    std::thread::sleep(Duration::from_millis(1000));
    let (u1, t1) = cpu_sample(&rt, c.id());
    let wall = (t1 - t0).as_nanos() as f64;
    let share = (u1 - u0) as f64 / wall;
    eprintln!(
        "cpu.max 20000 100000: busy loop used {:.1}% of one CPU over {:.2}s",
        share * 100.0,
        wall / 1e9
    );
    assert!(
        (0.10..=0.35).contains(&share),
        "a busy loop under cpu.max 20000/100000 used {:.1}% of a CPU over {:.2}s (want 10-35%)",
        share * 100.0,
        wall / 1e9
    );
    assert_eq!(cgroupenv::read(c.id(), "cpu.max"), "20000 100000");
    let data = cgroupenv::stats(&rt, c.id());
    assert!(
        u64_at(&data, "/cpu/throttling/throttledPeriods") > 0,
        "no throttled periods reported: {data}"
    );
    c.delete(true).ok();
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn limits_from_the_config_reach_the_cgroup_files() {
    if !cgroupenv::need_controllers(&["cpu", "memory", "pids"]) {
        return;
    }
    let _serial = serial();
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set(
        "/linux/resources/memory",
        json!({ "limit": 48 * MIB, "reservation": 16 * MIB, "swap": 64 * MIB }),
    );
    b.set(
        "/linux/resources/cpu",
        json!({ "shares": 1024, "quota": 50000, "period": 200000 }),
    );
    b.set("/linux/resources/pids", json!({ "limit": 33 }));
    b.set(
        "/linux/resources/unified",
        json!({ "memory.high": "41943040" }),
    );
    b.set_args(&["sleep", "1000"]);
    c.start_running(&b);
    for (file, want) in [
        ("memory.max", (48 * MIB).to_string()),
        ("memory.low", (16 * MIB).to_string()),
        // OCI swap is memory+swap; cgroup v2 wants swap alone.
        ("memory.swap.max", (16 * MIB).to_string()),
        ("memory.high", "41943040".to_string()),
        ("cpu.max", "50000 200000".to_string()),
        ("pids.max", "33".to_string()),
    ] {
        assert_eq!(cgroupenv::read(c.id(), file), want, "{file}");
    }
    // shares→weight: sangja uses the conversion of runc ≥ 1.3.2 (1024 → 100, the v2
    // default); runc 1.1's linear formula gives 39.
    let weight = cgroupenv::read(c.id(), "cpu.weight");
    let want_weight = if rt.is_sangja() { "100" } else { "39" };
    assert_eq!(weight, want_weight, "cpu.weight for shares 1024");
    let parent = cgroupenv::root().join("sangja-itest");
    let sc = cgroupenv::read_in(&parent, "cgroup.subtree_control");
    for ctrl in ["cpu", "memory", "pids"] {
        assert!(
            sc.split_whitespace().any(|w| w == ctrl),
            "{ctrl} not enabled in {}/cgroup.subtree_control: {sc}",
            parent.display()
        );
    }
    let data = cgroupenv::stats(&rt, c.id());
    assert_eq!(u64_at(&data, "/memory/usage/limit"), 48 * MIB, "{data}");
    assert_eq!(u64_at(&data, "/pids/limit"), 33, "{data}");
    let dir = cgroupenv::container_dir(c.id());
    c.delete(true).ok();
    assert!(!dir.exists(), "delete left {}", dir.display());
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn update_memory_changes_memory_max_of_a_running_container() {
    if !cgroupenv::need_controllers(&["cpu", "memory", "pids"]) {
        return;
    }
    let _serial = serial();
    let (rt, c) = setup();
    let mut b = c.bundle();
    let small = 16 * MIB;
    b.set(
        "/linux/resources/memory",
        json!({ "limit": small, "swap": small }),
    );
    // The same allocation (tail buffering 20 MiB: at least 20 MiB of heap, peaks at ~42
    // MiB) before and after the update: killed under 16 MiB, fine under 64 MiB.
    let alloc = "head -c 20m /dev/zero | tail >/dev/null";
    b.set_script(&format!(
        "{}; {alloc}; {}; {}; {alloc}; {}; exec sleep 1000",
        await_go("go1"),
        report("rc1", "$?"),
        await_go("go2"),
        report("rc2", "$?")
    ));
    c.start_running(&b);
    signal_file(&b, "go1");
    assert_eq!(
        wait_file(&b, "rc1"),
        "137",
        "a 20 MiB+ allocation must be OOM-killed under memory.max {small}"
    );
    assert_eq!(cgroupenv::read(c.id(), "memory.max"), small.to_string());

    let o = rt
        .cmd(&["update", "--memory", "64m", "--memory-swap", "64m", c.id()])
        .ok();
    assert_eq!(o.stderr, "", "a successful update prints nothing on stderr");
    assert_eq!(
        cgroupenv::read(c.id(), "memory.max"),
        (64 * MIB).to_string(),
        "update --memory 64m"
    );
    let data = cgroupenv::stats(&rt, c.id());
    assert_eq!(u64_at(&data, "/memory/usage/limit"), 64 * MIB, "{data}");
    signal_file(&b, "go2");
    assert_eq!(
        wait_file(&b, "rc2"),
        "0",
        "the same allocation must fit after update --memory 64m"
    );

    // -r FILE (OCI LinuxResources JSON), flags overriding the file.
    let res = rt.scratch("resources.json");
    fs::write(
        &res,
        json!({ "pids": { "limit": 7 }, "cpu": { "quota": 30000, "period": 100000 },
                "memory": { "limit": 100 * MIB, "swap": 100 * MIB } })
        .to_string(),
    )
    .unwrap();
    rt.command(["update", "-r"])
        .arg(&res)
        .args(["--pids-limit", "9", c.id()])
        .output()
        .ok();
    // sangja: flags override the file's fields; runc 1.1 ignores the flags when -r is given.
    let want_pids = if rt.is_sangja() { "9" } else { "7" };
    assert_eq!(
        cgroupenv::read(c.id(), "pids.max"),
        want_pids,
        "-r FILE plus --pids-limit"
    );
    assert_eq!(cgroupenv::read(c.id(), "cpu.max"), "30000 100000");
    assert_eq!(
        cgroupenv::read(c.id(), "memory.max"),
        (100 * MIB).to_string()
    );

    // Invalid values are refused (naming the field) and change nothing. sangja's own
    // checks: runc 1.1 passes some of these to the kernel or ignores them.
    let invalid: &[(&str, &str, &str)] = &[
        (
            "--cpu-quota",
            "10",
            "invalid config: linux.resources.cpu.quota",
        ),
        (
            "--cpu-period",
            "5000000",
            "invalid config: linux.resources.cpu.period",
        ),
        (
            "--pids-limit",
            "-5",
            "invalid config: linux.resources.pids.limit",
        ),
        (
            "--blkio-weight",
            "5000",
            "invalid config: linux.resources.blockIO.weight",
        ),
        (
            "--cpuset-cpus",
            "0-100000",
            "invalid config: linux.resources.cpu.cpus",
        ),
        ("--memory", "-5", "--memory"),
    ];
    for (flag, value, names) in invalid.iter().filter(|_| rt.is_sangja()) {
        let o = rt.cmd(&["update", flag, value, c.id()]);
        rt.assert_error(&o, &[names]);
    }
    assert_eq!(cgroupenv::read(c.id(), "pids.max"), want_pids);
    assert_eq!(cgroupenv::read(c.id(), "cpu.max"), "30000 100000");
    assert_eq!(
        cgroupenv::read(c.id(), "memory.max"),
        (100 * MIB).to_string()
    );

    // -1 lifts the limits.
    rt.cmd(&[
        "update",
        "--memory",
        "-1",
        "--memory-swap",
        "-1",
        "--pids-limit",
        "-1",
        "--cpu-quota",
        "-1",
        c.id(),
    ])
    .ok();
    assert_eq!(cgroupenv::read(c.id(), "memory.max"), "max");
    assert_eq!(cgroupenv::read(c.id(), "pids.max"), "max");
    assert_eq!(cgroupenv::read(c.id(), "cpu.max"), "max 100000");
    c.delete(true).ok();
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn delete_with_limits_leaves_no_cgroup() {
    if !cgroupenv::need_controllers(&["cpu", "memory", "pids"]) {
        return;
    }
    let _serial = serial();
    let rt = Runtime::new();
    for force in [false, true] {
        let c = Container::new(&rt);
        let mut b = c.bundle();
        b.set("/linux/resources/memory", json!({ "limit": 64 * MIB }));
        b.set("/linux/resources/pids", json!({ "limit": 50 }));
        b.set("/linux/resources/cpu", json!({ "quota": 50000 }));
        b.set_script("sleep 1000 & sleep 1000 & wait");
        c.start_running(&b);
        let dir = cgroupenv::container_dir(c.id());
        assert!(dir.is_dir());
        if !force {
            rt.cmd(&["kill", "--all", c.id(), "KILL"]).ok();
            c.wait_status("stopped");
        }
        c.delete(force).ok();
        assert!(
            !dir.exists(),
            "delete{} left {}",
            if force { " --force" } else { "" },
            dir.display()
        );
        assert_clean(&rt, c.id(), &b);
    }
}
