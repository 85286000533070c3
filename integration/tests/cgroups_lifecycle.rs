//! cgroup v2 through the CLI, for everything that needs a writable cgroup2 hierarchy but no
//! controller: membership (init is born in its cgroup), `pause`/`resume` (cgroup.freeze),
//! `kill --all` (cgroup.kill), `ps --format json`, the device program (eBPF, deny rules give
//! EPERM) and `delete` removing the cgroup. These run on the hybrid host in `make
//! integration` (cgroup2 at /sys/fs/cgroup/unified) and again inside User-Mode Linux in
//! `make uml`.

use std::collections::BTreeSet;
use std::fs;
use std::time::{Duration, Instant};

use serde_json::json;

use sangja_integration::{assert_clean, cgroupenv, setup, util, Bundle, Container, Runtime};

const WAIT: Duration = Duration::from_secs(10);

/// Wait until the container wrote `/tmp/<name>` in its (host-visible) rootfs.
fn wait_marker(b: &Bundle, name: &str) {
    let p = b.rootfs().join("tmp").join(name);
    util::wait_for(&format!("{} in the container", p.display()), WAIT, || {
        p.exists().then_some(())
    });
}

fn pid_set(pids: &[i32]) -> BTreeSet<i32> {
    pids.iter().copied().collect()
}

/// The pids listed in `cgroup.procs` of the container's cgroup.
fn procs_of(id: &str) -> BTreeSet<i32> {
    cgroupenv::read(id, "cgroup.procs")
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Poll `ps --format json` until it lists `n` pids.
fn wait_ps_count(rt: &Runtime, id: &str, n: usize) -> Vec<i32> {
    let deadline = Instant::now() + WAIT;
    loop {
        let pids = cgroupenv::ps_json(rt, id);
        if pids.len() == n {
            return pids;
        }
        if Instant::now() >= deadline {
            panic!("ps --format json {id} never listed {n} pids; last: {pids:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn init_is_born_in_its_cgroup_and_delete_removes_it() {
    if !cgroupenv::need_cgroup2() {
        return;
    }
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_script("cat /proc/self/cgroup > /tmp/cg.new; mv /tmp/cg.new /tmp/cg; exec sleep 1000");
    let dir = cgroupenv::container_dir(c.id());
    let want = cgroupenv::container_path(c.id());

    c.create(&b);
    let pid = c.pid();
    assert!(dir.is_dir(), "create made no cgroup at {}", dir.display());
    assert_eq!(
        cgroupenv::cgroup_of(pid).as_deref(),
        Some(want.as_str()),
        "the created (not yet started) init {pid} is not in {want}"
    );
    assert_eq!(procs_of(c.id()), pid_set(&[pid]), "cgroup.procs of {want}");

    c.start();
    wait_marker(&b, "cg");
    let inside = fs::read_to_string(b.rootfs().join("tmp/cg")).unwrap();
    assert!(
        inside.lines().any(|l| l == format!("0::{want}")),
        "/proc/self/cgroup in the container (no cgroup namespace) should say 0::{want}:\n{inside}"
    );
    assert_eq!(cgroupenv::ps_json(&rt, c.id()), vec![pid]);

    c.kill("KILL");
    c.wait_status("stopped");
    assert!(
        dir.is_dir(),
        "the cgroup must stay until delete: {}",
        dir.display()
    );
    c.delete(false).ok();
    assert!(
        !dir.exists(),
        "delete left the cgroup directory {}",
        dir.display()
    );
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn default_cgroups_path_is_sangja_slash_id() {
    if !cgroupenv::need_cgroup2() {
        return;
    }
    let (rt, c) = setup();
    if !rt.is_sangja() {
        // runc's default is /<id>.
        util::print_skip(&format!(
            "sangja's default cgroups path /sangja/<id> ({} uses another)",
            rt.kind().name()
        ));
        return;
    }
    let mut b = c.bundle();
    b.remove("/linux/cgroupsPath");
    b.set_args(&["sleep", "1000"]);
    let dir = cgroupenv::root().join("sangja").join(c.id());
    c.create(&b);
    let pid = c.pid();
    let cg = cgroupenv::cgroup_of(pid);
    // Remove whatever this test leaves before asserting: the Container guard only knows
    // the bench's own /sangja-itest/<id>.
    let check = || -> Result<(), String> {
        if cg.as_deref() != Some(&format!("/sangja/{}", c.id())) {
            return Err(format!(
                "without linux.cgroupsPath the init {pid} should be in /sangja/{}, it is in {cg:?}",
                c.id()
            ));
        }
        if !dir.is_dir() {
            return Err(format!("no cgroup directory {}", dir.display()));
        }
        Ok(())
    };
    let verdict = check();
    c.delete(true).ok();
    let gone = !dir.exists();
    if !gone {
        let _ = fs::remove_dir(&dir);
    }
    verdict.unwrap();
    assert!(gone, "delete --force left {}", dir.display());
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn pause_stops_a_counter_and_resume_lets_it_continue() {
    if !cgroupenv::need_cgroup2() {
        return;
    }
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_script("i=0; while :; do i=$((i+1)); echo $i >> /tmp/count; sleep 0.02; done");
    let count_file = b.rootfs().join("tmp/count");
    let count = || {
        fs::read_to_string(&count_file)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    c.start_running(&b);
    util::wait_for("the counter to reach 5", WAIT, || {
        (count() >= 5).then_some(())
    });

    let o = rt.cmd(&["pause", c.id()]).ok();
    assert_eq!(o.stderr, "", "a successful pause prints nothing on stderr");
    assert_eq!(c.status(), "paused");
    // (runc on a hybrid host freezes through the v1 freezer instead.)
    if rt.is_sangja() || !cgroupenv::has_v1_mounts() {
        let events = cgroupenv::read(c.id(), "cgroup.events");
        assert!(
            events.lines().any(|l| l == "frozen 1"),
            "pause returned but cgroup.events says:\n{events}"
        );
    }
    let frozen_at = count();
    // A frozen cgroup runs nothing: the counter (50 steps a second while running) must
    // not move for half a second.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        count(),
        frozen_at,
        "the counter advanced while the container was paused"
    );
    assert_eq!(c.status(), "paused", "still paused");

    let o = rt.cmd(&["resume", c.id()]).ok();
    assert_eq!(o.stderr, "", "a successful resume prints nothing on stderr");
    assert_eq!(c.status(), "running");
    util::wait_for("the counter to move after resume", WAIT, || {
        (count() >= frozen_at + 5).then_some(())
    });

    // Wrong-state refusals.
    let o = rt.cmd(&["resume", c.id()]);
    rt.assert_error(&o, &["not paused"]);
    rt.cmd(&["pause", c.id()]).ok();
    let o = rt.cmd(&["pause", c.id()]);
    rt.assert_error(&o, &[]);
    rt.assert_sangja_wording(&o, &["already paused"]);

    // A paused container is deleted with --force (cgroup.kill works on a frozen cgroup).
    let dir = cgroupenv::container_dir(c.id());
    c.delete(true).ok();
    assert!(!dir.exists(), "delete --force left {}", dir.display());
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn kill_all_kill_ends_a_tree_whose_members_ignore_sigterm() {
    if !cgroupenv::need_cgroup2() {
        return;
    }
    let (rt, c) = setup();
    let mut b = c.bundle();
    // SIG_IGN is inherited by the children (and kept across exec). No pid namespace: its
    // end would take the children along with the init, and hide a kill that missed them.
    b.remove_namespace("pid");
    b.set_script("trap '' TERM; sleep 1000 & sleep 1000 & touch /tmp/ready; wait");
    c.start_running(&b);
    wait_marker(&b, "ready");
    let pids = wait_ps_count(&rt, c.id(), 3);

    // TERM goes to every process; all three ignore it and stay.
    rt.cmd(&["kill", "--all", c.id(), "TERM"]).ok();
    std::thread::sleep(Duration::from_millis(300));
    for &p in &pids {
        assert!(
            util::pid_alive(p),
            "pid {p} ignores SIGTERM but died after kill --all TERM"
        );
    }
    assert_eq!(c.status(), "running");

    // KILL cannot be ignored: the whole tree goes, the cgroup empties.
    rt.cmd(&["kill", "--all", c.id(), "KILL"]).ok();
    c.wait_status("stopped");
    util::wait_for("every pid of the tree to die", WAIT, || {
        pids.iter().all(|&p| !util::pid_alive(p)).then_some(())
    });
    util::wait_for("the cgroup to be empty", WAIT, || {
        procs_of(c.id()).is_empty().then_some(())
    });
    c.delete(false).ok();
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn kill_all_term_reaches_the_init_and_every_child() {
    if !cgroupenv::need_cgroup2() {
        return;
    }
    let (rt, c) = setup();
    let mut b = c.bundle();
    // The children keep the default TERM action (they start before the trap). The init, as
    // pid 1 of its namespace, only sees TERM through its trap; after it and both children
    // have seen it, it execs a sleep that stays.
    b.set_script(
        "sleep 1000 & sleep 1000 & trap 'echo term >> /tmp/got' TERM; touch /tmp/ready; \
         wait; wait; echo children-gone >> /tmp/got; exec sleep 1000",
    );
    c.start_running(&b);
    wait_marker(&b, "ready");
    let pids = wait_ps_count(&rt, c.id(), 3);
    let init = c.pid();

    rt.cmd(&["kill", "--all", c.id(), "TERM"]).ok();
    wait_marker(&b, "got");
    util::wait_for("children-gone from the init", WAIT, || {
        fs::read_to_string(b.rootfs().join("tmp/got"))
            .unwrap_or_default()
            .contains("children-gone")
            .then_some(())
    });
    let got = fs::read_to_string(b.rootfs().join("tmp/got")).unwrap();
    assert!(
        got.starts_with("term\n"),
        "the init's TERM trap did not run:\n{got}"
    );
    for &p in pids.iter().filter(|&&p| p != init) {
        util::wait_for(&format!("child {p} to die of TERM"), WAIT, || {
            (!util::pid_alive(p)).then_some(())
        });
    }
    assert_eq!(wait_ps_count(&rt, c.id(), 1), vec![init]);
    assert_eq!(c.status(), "running");
    c.delete(true).ok();
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn ps_json_lists_the_three_processes_of_the_container() {
    if !cgroupenv::need_cgroup2() {
        return;
    }
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_script("sleep 1000 & sleep 1000 & touch /tmp/ready; wait");
    c.start_running(&b);
    wait_marker(&b, "ready");
    let pids = wait_ps_count(&rt, c.id(), 3);
    let init = c.pid();
    assert!(
        pids.contains(&init),
        "ps --format json {pids:?} lacks the init {init}"
    );
    let want = cgroupenv::container_path(c.id());
    for &p in &pids {
        assert_eq!(
            cgroupenv::cgroup_of(p).as_deref(),
            Some(want.as_str()),
            "pid {p} from ps is not in the container's cgroup"
        );
        let comm = fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
        assert!(
            matches!(comm.trim(), "sh" | "sleep"),
            "pid {p} from ps is {comm:?}, not one of the container's processes"
        );
    }
    assert_eq!(
        pid_set(&pids),
        procs_of(c.id()),
        "ps --format json and cgroup.procs disagree"
    );

    // The table form runs ps with the given arguments and keeps the header and the
    // container's lines.
    let o = rt.cmd(&["ps", c.id(), "-e", "-o", "pid,comm"]).ok();
    let lines = o.lines();
    assert_eq!(
        lines.len(),
        4,
        "ps table: a header and one line per process:\n{o:?}"
    );
    assert!(lines[0].contains("PID"), "ps table header:\n{o:?}");
    let listed: BTreeSet<i32> = lines[1..]
        .iter()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    assert_eq!(listed, pid_set(&pids), "ps table pids:\n{o:?}");
    // The default arguments (-ef) need a ps that works here (procps' ps -ef fails under
    // User-Mode Linux: "Unable to get system boot time").
    let host_ps_ef = std::process::Command::new("ps")
        .arg("-ef")
        .output()
        .is_ok_and(|o| o.status.success());
    if host_ps_ef {
        let o = rt.cmd(&["ps", c.id()]).ok();
        assert_eq!(o.lines().len(), 4, "ps (default -ef):\n{o:?}");
    } else {
        eprintln!(
            "note: ps -ef does not work on this machine; checked ps with -e -o pid,comm only"
        );
    }

    // Once stopped, sangja's ps refuses (runc 1.1 prints `null`).
    rt.cmd(&["kill", "--all", c.id(), "KILL"]).ok();
    c.wait_status("stopped");
    if rt.is_sangja() {
        let o = rt.cmd(&["ps", "--format", "json", c.id()]);
        rt.assert_error(&o, &["not running"]);
    }
    c.delete(false).ok();
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn delete_force_of_a_running_tree_and_foreground_run_leave_no_cgroup() {
    if !cgroupenv::need_cgroup2() {
        return;
    }
    let rt = Runtime::new();
    {
        let c = Container::new(&rt);
        let mut b = c.bundle();
        b.set_script("sleep 1000 & sleep 1000 & touch /tmp/ready; wait");
        c.start_running(&b);
        wait_marker(&b, "ready");
        let pids = wait_ps_count(&rt, c.id(), 3);
        let dir = cgroupenv::container_dir(c.id());
        c.delete(true).ok();
        assert!(!dir.exists(), "delete --force left {}", dir.display());
        for p in pids {
            assert!(!util::pid_alive(p), "pid {p} outlived delete --force");
        }
        assert_clean(&rt, c.id(), &b);
    }
    {
        let c = Container::new(&rt);
        let mut b = c.bundle();
        b.set_script("cat /proc/self/cgroup");
        let o = c.run(&b).ok();
        assert!(
            o.stdout
                .contains(&format!("0::{}", cgroupenv::container_path(c.id()))),
            "run: the process was not in its cgroup:\n{o:?}"
        );
        let dir = cgroupenv::container_dir(c.id());
        assert!(!dir.exists(), "foreground run left {}", dir.display());
        assert_clean(&rt, c.id(), &b);
    }
}

/// `linux.resources.devices` as the bench default (deny all) plus `extra`.
fn set_device_rules(b: &mut Bundle, extra: &[serde_json::Value]) {
    let mut rules = vec![json!({ "allow": false, "access": "rwm" })];
    rules.extend(extra.iter().cloned());
    b.set("/linux/resources/devices", json!(rules));
}

const DEVICE_SCRIPT: &str = "head -c 3 /dev/zero | wc -c; \
     echo x > /dev/null; echo write-null=$?; \
     cat /dev/null; echo read-null=$?";

fn write_null_result(stdout: &str) -> Option<&str> {
    stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("write-null="))
}

#[test]
fn device_deny_rule_makes_dev_null_eperm() {
    if !cgroupenv::need_cgroup2() {
        return;
    }
    let rt = Runtime::new();
    if !rt.is_sangja() {
        // runc appends its default allow-list after the config's rules, so a deny of a
        // default device (1:3) is allowed again; sangja puts the defaults first.
        util::print_skip(&format!(
            "a deny of a default device after the defaults is sangja's semantics ({} re-allows it)",
            rt.kind().name()
        ));
        return;
    }

    // Control: the default allow-list lets the container use /dev/null.
    let c = Container::new(&rt);
    let mut b = c.bundle();
    b.set_script(DEVICE_SCRIPT);
    set_device_rules(&mut b, &[]);
    let o = c.run(&b).ok();
    assert_eq!(
        write_null_result(&o.stdout),
        Some("0"),
        "without a deny rule /dev/null must be writable:\n{o:?}"
    );
    assert!(
        !o.stderr.contains("Operation not permitted"),
        "control run:\n{o:?}"
    );
    drop(c);

    // deny c 1:3 rwm after the defaults: open(/dev/null) fails with EPERM, /dev/zero works.
    let c = Container::new(&rt);
    let mut b = c.bundle();
    b.set_script(DEVICE_SCRIPT);
    set_device_rules(
        &mut b,
        &[json!({ "allow": false, "type": "c", "major": 1, "minor": 3, "access": "rwm" })],
    );
    let o = c.run(&b).ok();
    let lines = o.lines();
    assert_eq!(
        lines.first().map(String::as_str),
        Some("3"),
        "/dev/zero (1:5) must stay readable:\n{o:?}"
    );
    assert!(
        matches!(write_null_result(&o.stdout), Some(rc) if rc != "0"),
        "writing /dev/null must fail under deny c 1:3 rwm:\n{o:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("read-null=") && l != "read-null=0"),
        "reading /dev/null must fail too (r is denied):\n{o:?}"
    );
    assert!(
        o.stderr.contains("/dev/null: Operation not permitted"),
        "the shell should report EPERM for /dev/null:\n{o:?}"
    );
    assert_clean(&rt, c.id(), &b);

    // Only the write bit denied: reading works, writing does not.
    let c = Container::new(&rt);
    let mut b = c.bundle();
    b.set_script(DEVICE_SCRIPT);
    set_device_rules(
        &mut b,
        &[json!({ "allow": false, "type": "c", "major": 1, "minor": 3, "access": "w" })],
    );
    let o = c.run(&b).ok();
    assert!(
        matches!(write_null_result(&o.stdout), Some(rc) if rc != "0"),
        "deny c 1:3 w: writing /dev/null must fail:\n{o:?}"
    );
    assert!(
        o.lines().iter().any(|l| l == "read-null=0"),
        "deny c 1:3 w: reading /dev/null must still work:\n{o:?}"
    );
    assert_clean(&rt, c.id(), &b);
}
