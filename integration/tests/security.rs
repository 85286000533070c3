//! Process security seen from inside the container: capability sets for root
//! and non-root, no_new_privs, rlimits, oom_score_adj, scheduler, ioprio,
//! personality and fd hygiene. Seccomp profiles: security_seccomp.rs; protection of the
//! runtime binary: security_exe.rs.

use std::fs::{self, File};

use sangja_integration::{setup, skip};
use serde_json::json;

fn caps_of(o: &sangja_integration::Out) -> Vec<(String, u64)> {
    o.lines()
        .iter()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.to_string(), u64::from_str_radix(v.trim(), 16).ok()?))
        })
        .collect()
}

const CHOWN: u64 = 1 << 0;
const KILL: u64 = 1 << 5;
const NET_BIND: u64 = 1 << 10;

#[test]
fn caps_exact_for_root_with_ambient() {
    let (_rt, c) = setup();
    let mut b = c.bundle();
    let all = json!(["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let one = json!(["CAP_NET_BIND_SERVICE"]);
    b.set(
        "/process/capabilities",
        json!({"bounding": all, "effective": all, "permitted": all,
               "inheritable": one, "ambient": one}),
    );
    b.set_script("grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status");
    let o = c.run(&b).ok();
    let want = [
        ("CapInh", NET_BIND),
        ("CapPrm", CHOWN | KILL | NET_BIND),
        ("CapEff", CHOWN | KILL | NET_BIND),
        ("CapBnd", CHOWN | KILL | NET_BIND),
        ("CapAmb", NET_BIND),
    ];
    let got = caps_of(&o);
    for (k, v) in want {
        assert!(
            got.iter().any(|(gk, gv)| gk == k && *gv == v),
            "{k} should be {v:016x}: {got:x?}\n{o:?}"
        );
    }
}

#[test]
fn caps_exact_for_non_root_through_ambient() {
    // A non-root user keeps capabilities across execve only through the ambient
    // set (which needs them inheritable and permitted): Prm = Eff = Amb.
    let (_rt, c) = setup();
    let mut b = c.bundle();
    b.set_user(1000, 1000, &[]);
    let bnd = json!(["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let one = json!(["CAP_NET_BIND_SERVICE"]);
    b.set(
        "/process/capabilities",
        json!({"bounding": bnd, "effective": one, "permitted": one,
               "inheritable": one, "ambient": one}),
    );
    b.set_script("id -u; grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status");
    let o = c.run(&b).ok();
    assert_eq!(o.lines()[0], "1000", "{o:?}");
    let want = [
        ("CapInh", NET_BIND),
        ("CapPrm", NET_BIND),
        ("CapEff", NET_BIND),
        ("CapBnd", CHOWN | KILL | NET_BIND),
        ("CapAmb", NET_BIND),
    ];
    let got = caps_of(&o);
    for (k, v) in want {
        assert!(
            got.iter().any(|(gk, gv)| gk == k && *gv == v),
            "{k} should be {v:016x}: {got:x?}\n{o:?}"
        );
    }
    // And the capability really works: uid 1000 binds port 80 (NET_BIND_SERVICE).
}

#[test]
fn missing_capabilities_means_none() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.remove("/process/capabilities");
    b.set_script("grep -E '^Cap(Inh|Prm|Eff|Amb)' /proc/self/status");
    let o = c.run(&b).ok();
    if !rt.is_sangja() {
        skip!("sangja-specific: runc keeps its own bounding set when capabilities is absent");
    }
    for (k, v) in caps_of(&o) {
        assert_eq!(v, 0, "{k} is empty without process.capabilities: {o:?}");
    }
}

#[test]
fn no_new_privs_rlimits_and_oom_score_adj() {
    let (_rt, c) = setup();
    let mut b = c.bundle();
    b.set(
        "/process/rlimits",
        json!([{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654},
               {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]),
    );
    // Only a raise is possible here (no CAP_SYS_RESOURCE on this host).
    b.set("/process/oomScoreAdj", json!(567));
    b.set_script(
        "grep NoNewPrivs /proc/self/status; ulimit -n; ulimit -Hn; ulimit -c; cat /proc/self/oom_score_adj",
    );
    let o = c.run(&b).ok();
    let l = o.lines();
    assert_eq!(
        l[0].split_whitespace().collect::<Vec<_>>(),
        ["NoNewPrivs:", "1"],
        "{o:?}"
    );
    assert_eq!(&l[1..], ["321", "654", "0", "567"], "{o:?}");
}

/// Field `n` (1-based, as in proc(5)) of /proc/self/stat text.
fn stat_field(stat: &str, n: usize) -> i64 {
    let after = stat.rsplit_once(')').unwrap().1;
    after
        .split_whitespace()
        .nth(n - 3)
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn scheduler_policy_and_nice() {
    let (rt, c) = setup();
    for (policy, num) in [("SCHED_BATCH", 3), ("SCHED_IDLE", 5)] {
        let mut b = c.bundle();
        b.set("/process/scheduler", json!({"policy": policy, "nice": 7}));
        // The spec's flag name (not oci-spec's): parsed only through the raw normalisation.
        b.set(
            "/process/scheduler/flags",
            json!(["SCHED_FLAG_RESET_ON_FORK"]),
        );
        b.set_args(&["cat", "/proc/self/stat"]);
        let o = c.run(&b);
        if !rt.is_sangja() {
            skip!("runc 1.1.5 has no process.scheduler (added in 1.2)");
        }
        let o = o.ok();
        assert_eq!(stat_field(&o.stdout, 41), num, "{policy} policy: {o:?}");
        if policy == "SCHED_BATCH" {
            assert_eq!(stat_field(&o.stdout, 19), 7, "nice: {o:?}");
        }
    }
}

#[test]
fn io_priority() {
    let (rt, c) = setup();
    if !rt.is_sangja() {
        skip!("runc 1.1.5 has no process.ioPriority (added in 1.2)");
    }
    let mut b = c.bundle();
    b.set(
        "/process/ioPriority",
        json!({"class": "IOPRIO_CLASS_BE", "priority": 6}),
    );
    b.set_script("ionice -p $$");
    let o = c.run(&b).ok();
    assert!(
        o.stdout.contains("best-effort") && o.stdout.contains('6'),
        "{o:?}"
    );
}

#[test]
fn personality_linux32() {
    let (rt, c) = setup();
    if !rt.is_sangja() {
        skip!("runc 1.1.5 has no linux.personality (added in 1.2)");
    }
    let mut b = c.bundle();
    b.set("/linux/personality", json!({"domain": "LINUX32"}));
    b.set_args(&["uname", "-m"]);
    let o = c.run(&b).ok();
    assert_eq!(o.stdout.trim(), "i686", "{o:?}");
}

// ---------- fd hygiene ----------

#[test]
fn only_stdio_and_preserved_fds_reach_the_container() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    let f = rt.scratch("fdfile");
    fs::write(&f, "x").unwrap();
    b.set_script("exec ls -l /proc/self/fd/");
    let mut cmd = rt
        .command(["run", "--preserve-fds", "2", "--bundle"])
        .arg(b.path())
        .arg(c.id());
    // Not CLOEXEC in the runtime (dup2 in the child): 3..=9, of which 3 and 4 are preserved.
    for t in 3..=9 {
        cmd = cmd.pass_fd(File::open(&f).unwrap(), t);
    }
    let o = cmd.output().ok();
    let mut fds = Vec::new();
    for l in o.lines() {
        let Some((left, target)) = l.split_once(" -> ") else {
            continue;
        };
        let fd: u32 = left.rsplit(' ').next().unwrap().parse().unwrap();
        if target.starts_with("/proc/") && target.ends_with("/fd") {
            continue; // ls's own directory handle
        }
        fds.push(fd);
    }
    fds.sort();
    assert_eq!(fds, [0, 1, 2, 3, 4], "{o:?}");
}

/// systemd socket activation: with `LISTEN_FDS=2` the runtime passes fds 3 and 4 on before the
/// `--preserve-fds` ones and tells the process `LISTEN_FDS=2`, `LISTEN_PID=1` (runc's rule).
#[test]
fn listen_fds_are_passed_before_preserved_fds() {
    let (rt, c) = setup();
    if !rt.is_sangja() {
        skip!(
            "runc also wants LISTEN_PID to be its own pid, which this harness cannot set before \
             exec; sangja takes an unset LISTEN_PID as meant for it"
        );
    }
    let mut b = c.bundle();
    let f = rt.scratch("listenfile");
    fs::write(&f, "x").unwrap();
    b.set_script("ls /proc/self/fd/; env | grep '^LISTEN_' | sort");
    let mut cmd = rt
        .command(["run", "--preserve-fds", "1", "--bundle"])
        .arg(b.path())
        .arg(c.id())
        .env("LISTEN_FDS", "2");
    for t in 3..=6 {
        cmd = cmd.pass_fd(File::open(&f).unwrap(), t);
    }
    let o = cmd.output().ok();
    let lines = o.lines();
    let fds: Vec<u32> = lines.iter().filter_map(|l| l.parse().ok()).collect();
    // 0-2, the two listen fds, one preserved fd (and ls's own directory handle after them).
    assert!(fds.starts_with(&[0, 1, 2, 3, 4, 5]), "{o:?}");
    assert!(
        !fds.contains(&6) || fds.len() == 7,
        "fd 6 is not passed: {o:?}"
    );
    let has = |s: &str| lines.iter().any(|l| l == s);
    assert!(has("LISTEN_FDS=2") && has("LISTEN_PID=1"), "{o:?}");
}

#[test]
fn cwd_through_proc_self_fd_is_refused_or_inside() {
    let (rt, c) = setup();
    if !rt.is_sangja() {
        skip!("runc 1.1.5 predates the CVE-2024-21626 fix");
    }
    for n in 3..10 {
        let mut b = c.bundle();
        b.set_cwd(&format!("/proc/self/fd/{n}"));
        b.set_script("pwd; stat -c %d:%i . \"$(pwd)\"");
        let o = c.run(&b);
        if !o.success() {
            continue;
        }
        let l = o.lines();
        assert!(
            l.len() == 3 && l[0].starts_with('/') && l[1] == l[2],
            "cwd /proc/self/fd/{n} is outside the container: {o:?}"
        );
    }
}
