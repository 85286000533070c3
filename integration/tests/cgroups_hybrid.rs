//! A host whose cgroup v1 hierarchies hold the controllers (a "hybrid" host: cgroup2 mounted
//! at /sys/fs/cgroup/unified with no cpu, memory or pids controller), like this project's
//! CI host. Containers without limits must still work there (membership, freeze and kill
//! come from cgroup2 itself), and a limit whose controller is bound to v1 must fail with
//! one line naming the controller, never be dropped silently, and leave nothing behind.
//!
//! On any other host these print `SKIPPED: ... needs a hybrid host` (`make uml` does not
//! run this file: User-Mode Linux is pure cgroup v2).

use std::time::Duration;

use serde_json::json;

use sangja_integration::{assert_clean, cgroupenv, setup, util, Runtime};

/// True on a hybrid host (cgroup v1 mounts plus a cgroup2 mount that lacks `ctrl`); else a
/// loud skip.
fn need_hybrid_without(ctrl: &str) -> bool {
    let Some(m) = cgroupenv::mount() else {
        util::print_skip("needs a hybrid host: there is no cgroup2 mount at all");
        return false;
    };
    if !cgroupenv::has_v1_mounts() {
        util::print_skip(&format!(
            "needs a hybrid host (cgroup v1 controllers + cgroup2 at {}): this one has no v1 \
             mounts (pure cgroup v2; make uml covers it)",
            m.display()
        ));
        return false;
    }
    if cgroupenv::has_controllers(&[ctrl]) {
        util::print_skip(&format!(
            "needs a hybrid host whose cgroup2 lacks the {ctrl} controller; {} has it",
            m.display()
        ));
        return false;
    }
    true
}

/// For the refusal tests: sangja only (runc 1.1 puts such limits into the v1 hierarchies).
fn need_sangja(rt: &Runtime) -> bool {
    if rt.is_sangja() {
        return true;
    }
    util::print_skip(&format!(
        "sangja refuses limits whose controller is bound to v1 ({} uses the v1 hierarchies)",
        rt.kind().name()
    ));
    false
}

/// The line sangja prints for a limit whose controller the host cannot give.
fn unavailable(ctrl: &str) -> String {
    format!("cgroup controller \"{ctrl}\" is not available")
}

#[test]
fn container_without_limits_runs_in_its_cgroup2_cgroup() {
    if !need_hybrid_without("memory") {
        return;
    }
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_script("echo hello; cat /proc/self/cgroup");
    let want = cgroupenv::container_path(c.id());
    let o = c.run(&b).ok();
    assert!(o.stdout.starts_with("hello\n"), "{o:?}");
    assert!(
        o.stdout.lines().any(|l| l == format!("0::{want}")),
        "the container's cgroup2 line should be 0::{want}:\n{o:?}"
    );
    assert_clean(&rt, c.id(), &b);

    // Detached: the cgroup directory lives under the hybrid mount while it runs.
    let c = sangja_integration::Container::new(&rt);
    let mut b = c.bundle();
    b.set_args(&["sleep", "1000"]);
    c.start_running(&b);
    let dir = cgroupenv::container_dir(c.id());
    assert!(
        dir.starts_with(cgroupenv::root()) && dir.is_dir(),
        "no cgroup at {}",
        dir.display()
    );
    assert_eq!(cgroupenv::read(c.id(), "cgroup.procs"), c.pid().to_string());
    // pause/resume need no controller.
    rt.cmd(&["pause", c.id()]).ok();
    assert_eq!(c.status(), "paused");
    if rt.is_sangja() {
        // sangja freezes through cgroup2 (runc 1.1 uses the v1 freezer here).
        let ev = cgroupenv::read(c.id(), "cgroup.events");
        assert!(ev.lines().any(|l| l == "frozen 1"), "cgroup.events:\n{ev}");
    }
    rt.cmd(&["resume", c.id()]).ok();
    assert_eq!(c.status(), "running");
    c.delete(true).ok();
    assert!(!dir.exists(), "delete --force left {}", dir.display());
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn memory_limit_is_refused_naming_the_controller_and_leaves_nothing() {
    if !need_hybrid_without("memory") {
        return;
    }
    let (rt, c) = setup();
    if !need_sangja(&rt) {
        return;
    }
    let mut b = c.bundle();
    b.set("/linux/resources/memory", json!({ "limit": 67108864 }));
    b.set_args(&["true"]);
    let o = rt
        .command(["create", "--bundle"])
        .arg(b.path())
        .arg(c.id())
        .output();
    rt.assert_error(&o, &[&unavailable("memory")]);
    // The reason names where the controller is (v1), so the user knows why.
    rt.assert_sangja_wording(&o, &["cgroup v1"]);
    assert!(
        !cgroupenv::container_dir(c.id()).exists(),
        "a refused create made a cgroup"
    );
    rt.assert_error(&rt.cmd(&["state", c.id()]), &["does not exist"]);
    assert_clean(&rt, c.id(), &b);

    // The same through run.
    let o = c.run(&b);
    rt.assert_error(&o, &[&unavailable("memory")]);
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn every_v1_bound_limit_is_refused() {
    let rt = Runtime::new();
    if !need_sangja(&rt) {
        return;
    }
    for (ctrl, res) in [
        ("pids", json!({ "pids": { "limit": 10 } })),
        (
            "cpu",
            json!({ "cpu": { "quota": 50000, "period": 100000 } }),
        ),
        ("cpu", json!({ "cpu": { "shares": 512 } })),
        ("cpuset", json!({ "cpu": { "cpus": "0" } })),
        (
            "memory",
            json!({ "unified": { "memory.high": "67108864" } }),
        ),
    ] {
        if !need_hybrid_without(ctrl) {
            return;
        }
        let c = sangja_integration::Container::new(&rt);
        let mut b = c.bundle();
        let mut r = res.clone();
        r["devices"] = json!([{ "allow": false, "access": "rwm" }]);
        b.set("/linux/resources", r);
        b.set_args(&["true"]);
        let o = rt
            .command(["create", "--bundle"])
            .arg(b.path())
            .arg(c.id())
            .output();
        rt.assert_error(&o, &[&unavailable(ctrl)]);
        assert_clean(&rt, c.id(), &b);
    }
}

#[test]
fn update_asking_for_a_v1_bound_controller_is_refused() {
    if !need_hybrid_without("memory") {
        return;
    }
    let (rt, c) = setup();
    if !need_sangja(&rt) {
        return;
    }
    let mut b = c.bundle();
    b.set_args(&["sleep", "1000"]);
    c.start_running(&b);
    let o = rt.cmd(&["update", "--memory", "64m", c.id()]);
    rt.assert_error(&o, &[&unavailable("memory")]);
    assert_eq!(c.status(), "running");
    let dir = cgroupenv::container_dir(c.id());
    assert!(
        !dir.join("memory.max").exists(),
        "no memory files may appear"
    );
    // events --stats still works: zeros for what the host does not give.
    let data = cgroupenv::stats(&rt, c.id());
    assert!(data["memory"].is_object(), "{data}");
    c.delete(true).ok();
    util::wait_for("cgroup removal", Duration::from_secs(5), || {
        (!dir.exists()).then_some(())
    });
    assert_clean(&rt, c.id(), &b);
}
