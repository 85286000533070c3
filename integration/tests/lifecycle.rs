//! create / start / state / kill / delete: every transition and every refusal.

use std::fs;
use std::time::Duration;

use sangja_integration::{assert_clean, setup, util, Container};

#[test]
fn full_cycle_leaves_nothing_behind() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_script("echo started; exec sleep 1000");
    let out_file = rt.scratch("stdout");

    let o = c.create_with_stdout(&b, &out_file);
    assert_eq!(o.stderr, "", "a successful create prints nothing on stderr");
    let st = c.state();
    assert_eq!(st["status"], "created");
    let pid = st["pid"].as_i64().expect("pid") as i32;
    assert!(
        pid > 0 && util::pid_alive(pid),
        "created container has a live init: {st}"
    );
    assert!(
        !fs::read_to_string(&out_file).unwrap().contains("started"),
        "created must not run the process yet"
    );

    let o = c.start();
    assert_eq!(o.stderr, "", "a successful start prints nothing on stderr");
    assert_eq!(c.status(), "running", "status right after start");
    assert_eq!(c.pid(), pid, "start keeps the init pid");
    util::wait_for("container output", Duration::from_secs(10), || {
        fs::read_to_string(&out_file)
            .unwrap()
            .contains("started")
            .then_some(())
    });

    let o = c.kill("KILL");
    assert_eq!(o.stderr, "", "a successful kill prints nothing on stderr");
    c.wait_status("stopped");
    let o = c.delete(false).ok();
    assert_eq!(o.stderr, "", "a successful delete prints nothing on stderr");
    let o = rt.cmd(&["state", c.id()]);
    rt.assert_error(&o, &["does not exist"]);
    assert!(!util::pid_alive(pid), "init {pid} still alive after delete");
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn state_json_shape_and_text() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["sleep", "1000"]);
    c.create(&b);
    let o = rt.cmd(&["state", c.id()]).ok();
    let st = o.json();
    assert!(st.is_object());
    assert!(
        st["ociVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("1.")),
        "ociVersion: {st}"
    );
    assert_eq!(st["id"], c.id());
    assert!(st["pid"].as_i64().is_some_and(|p| p > 0), "pid: {st}");
    assert_eq!(st["status"], "created");
    assert_eq!(st["bundle"], b.path().to_str().unwrap());
    assert_eq!(st["rootfs"], b.rootfs().to_str().unwrap());
    assert!(st["owner"].is_string(), "owner is a string: {st}");
    assert!(
        st.get("annotations").is_none_or(|a| a.is_object()),
        "annotations: {st}"
    );
    let created = st["created"].as_str().expect("created is a string");
    assert!(
        is_rfc3339_nanos(created),
        "created {created:?} is not RFC 3339 with fractional seconds"
    );
    // Pretty-printed like runc: two-space indent, `"key": value`.
    assert!(
        o.stdout.starts_with("{\n  \"ociVersion\": "),
        "state is pretty JSON:\n{}",
        o.stdout
    );
    assert!(
        o.stdout.contains("\n  \"status\": \"created\""),
        "state text:\n{}",
        o.stdout
    );
    assert!(
        o.stdout.contains(&format!("\n  \"id\": \"{}\"", c.id())),
        "state text:\n{}",
        o.stdout
    );
}

/// `YYYY-MM-DDTHH:MM:SS.f{1,9}` then `Z` or `±HH:MM`.
fn is_rfc3339_nanos(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    if b.len() < 21
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
    {
        return false;
    }
    if b[10] != b'T'
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    if b[19] != b'.' {
        return false;
    }
    let mut i = 20;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let frac = i - 20;
    if !(1..=9).contains(&frac) {
        return false;
    }
    let tz = &s[i..];
    tz == "Z"
        || (tz.len() == 6
            && (tz.starts_with('+') || tz.starts_with('-'))
            && tz.as_bytes()[3] == b':')
}

#[test]
fn state_shows_annotations() {
    let (_rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["sleep", "1000"]);
    b.set(
        "/annotations",
        serde_json::json!({"org.sangja.test": "yes", "k": "v"}),
    );
    c.create(&b);
    let st = c.state();
    assert_eq!(
        st["annotations"],
        serde_json::json!({"org.sangja.test": "yes", "k": "v"}),
        "{st}"
    );
}

#[test]
fn state_of_stopped_container() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["true"]);
    c.create(&b);
    c.start();
    let st = c.wait_status("stopped");
    assert_eq!(st["id"], c.id());
    // runc 1.1 reports pid 0 once the init is gone; sangja copies that.
    assert_eq!(st["pid"], 0, "pid of a stopped container: {st}");
    assert_eq!(st["bundle"], b.path().to_str().unwrap());
    c.delete(false).ok();
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn start_twice_is_refused() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["sleep", "1000"]);
    c.start_running(&b);
    let o = rt.cmd(&["start", c.id()]);
    rt.assert_error(&o, &["running"]);
    assert_eq!(c.status(), "running");
}

#[test]
fn start_of_stopped_is_refused() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["true"]);
    c.create(&b);
    c.start();
    c.wait_status("stopped");
    let o = rt.cmd(&["start", c.id()]);
    rt.assert_error(&o, &["stopped"]);
    assert_eq!(c.status(), "stopped");
}

#[test]
fn kill_of_stopped_is_refused() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["true"]);
    c.create(&b);
    c.start();
    c.wait_status("stopped");
    let o = rt.cmd(&["kill", c.id(), "KILL"]);
    rt.assert_error(&o, &["container not running", "no such process"]);
}

#[test]
fn kill_of_created_container_stops_it() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["sleep", "1000"]);
    c.create(&b);
    let pid = c.pid();
    c.kill("KILL");
    c.wait_status("stopped");
    assert!(!util::pid_alive(pid));
    c.delete(false).ok();
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn delete_of_running_is_refused_without_force() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["sleep", "1000"]);
    c.start_running(&b);
    let o = c.delete(false);
    rt.assert_error(&o, &["not stopped"]);
    assert_eq!(
        c.status(),
        "running",
        "a refused delete leaves the container alone"
    );
    c.delete(true).ok();
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn delete_force_of_running() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_script("sleep 1000 & sleep 1000 & wait");
    c.start_running(&b);
    let pid = c.pid();
    let o = rt.cmd(&["delete", "-f", c.id()]).ok();
    assert_eq!(o.stderr, "");
    assert!(!util::pid_alive(pid));
    rt.assert_error(&rt.cmd(&["state", c.id()]), &["does not exist"]);
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn delete_of_created_works_without_force() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["sleep", "1000"]);
    c.create(&b);
    let pid = c.pid();
    c.delete(false).ok();
    rt.assert_error(&rt.cmd(&["state", c.id()]), &["does not exist"]);
    assert!(
        !util::pid_alive(pid),
        "init of the deleted created container is gone"
    );
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn delete_twice_second_says_does_not_exist() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["true"]);
    c.create(&b);
    c.start();
    c.wait_status("stopped");
    c.delete(false).ok();
    rt.assert_error(&c.delete(false), &["does not exist"]);
}

#[test]
fn kill_default_signal_is_sigterm() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_script(
        "trap 'echo term > /tmp/got; exit 3' TERM; touch /tmp/ready; while :; do sleep 0.05; done",
    );
    c.start_running(&b);
    let ready = b.rootfs().join("tmp/ready");
    util::wait_for("trap installed", Duration::from_secs(10), || {
        ready.exists().then_some(())
    });
    let o = rt.cmd(&["kill", c.id()]).ok();
    assert_eq!(o.stderr, "");
    c.wait_status("stopped");
    assert_eq!(
        fs::read_to_string(b.rootfs().join("tmp/got")).unwrap_or_default(),
        "term\n"
    );
}

#[test]
fn kill_accepts_number_name_and_sig_name() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_script("trap 'echo x >> /tmp/usr1' USR1; touch /tmp/ready; while :; do sleep 0.05; done");
    c.start_running(&b);
    let ready = b.rootfs().join("tmp/ready");
    util::wait_for("trap installed", Duration::from_secs(10), || {
        ready.exists().then_some(())
    });
    let count = || {
        fs::read_to_string(b.rootfs().join("tmp/usr1"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    let usr1 = libc::SIGUSR1.to_string();
    for (n, form) in [usr1.as_str(), "USR1", "SIGUSR1"].iter().enumerate() {
        rt.cmd(&["kill", c.id(), form]).ok();
        util::wait_for(
            &format!("USR1 delivery #{} (sent as {form})", n + 1),
            Duration::from_secs(10),
            || (count() == n + 1).then_some(()),
        );
    }
    assert_eq!(c.status(), "running");
}

#[test]
fn kill_sigkill_forms() {
    let rt = sangja_integration::Runtime::new();
    for form in ["9", "KILL", "SIGKILL"] {
        let c = Container::new(&rt);
        let mut b = c.bundle();
        b.set_args(&["sleep", "1000"]);
        c.start_running(&b);
        rt.cmd(&["kill", c.id(), form]).ok();
        c.wait_status("stopped");
        c.delete(false).ok();
        assert_clean(&rt, c.id(), &b);
    }
}

#[test]
fn kill_all_reaches_every_process() {
    let rt = sangja_integration::Runtime::new();
    for flag in ["-a", "--all"] {
        let c = Container::new(&rt);
        let mut b = c.bundle();
        b.set_script("sleep 1000 & sleep 1000 & touch /tmp/ready; wait");
        c.start_running(&b);
        let ready = b.rootfs().join("tmp/ready");
        util::wait_for("children started", Duration::from_secs(10), || {
            ready.exists().then_some(())
        });
        rt.cmd(&["kill", flag, c.id(), "KILL"]).ok();
        c.wait_status("stopped");
        c.delete(false).ok();
        assert_clean(&rt, c.id(), &b);
    }
}

#[test]
fn create_bundle_defaults_to_cwd() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["sleep", "1000"]);
    rt.command(["create", c.id()]).cwd(b.path()).output().ok();
    let st = c.state();
    assert_eq!(st["status"], "created");
    assert_eq!(st["bundle"], b.path().to_str().unwrap());
}

#[test]
fn create_accepts_short_bundle_flag() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["sleep", "1000"]);
    rt.command(["create", "-b"])
        .arg(b.path())
        .arg(c.id())
        .output()
        .ok();
    assert_eq!(c.status(), "created");
}

#[test]
fn create_accepts_options_after_id() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["sleep", "1000"]);
    let pid_file = rt.scratch("pid");
    rt.command(["create", c.id(), "--bundle"])
        .arg(b.path())
        .arg("--pid-file")
        .arg(&pid_file)
        .output()
        .ok();
    assert_eq!(c.status(), "created");
    assert_eq!(fs::read_to_string(&pid_file).unwrap(), c.pid().to_string());
}

#[test]
fn pid_file_holds_init_pid_without_newline() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["sleep", "1000"]);
    let pid_file = rt.scratch("pid");
    rt.command(["create", "--pid-file"])
        .arg(&pid_file)
        .arg("--bundle")
        .arg(b.path())
        .arg(c.id())
        .output()
        .ok();
    let text = fs::read_to_string(&pid_file).unwrap();
    // runc 1.1 writes the bare number too; sangja must match byte for byte.
    assert_eq!(
        text,
        c.pid().to_string(),
        "pid file is the decimal pid with no newline"
    );
}

#[test]
fn pid_file_relative_to_cwd() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["sleep", "1000"]);
    let dir = b.host_dir("piddir");
    rt.command(["create", "--pid-file", "init.pid", "--bundle"])
        .arg(b.path())
        .arg(c.id())
        .cwd(&dir)
        .output()
        .ok();
    assert_eq!(
        fs::read_to_string(dir.join("init.pid")).unwrap(),
        c.pid().to_string()
    );
}
