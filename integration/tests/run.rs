//! `run`: foreground waiting, exit codes, signal forwarding, --detach, --keep.

use std::time::{Duration, Instant};

use sangja_integration::{assert_clean, setup, Container, Runtime};

#[test]
fn run_exit_codes_pass_through() {
    let rt = Runtime::new();
    for code in [0, 1, 7, 255] {
        let c = Container::new(&rt);
        let mut b = c.bundle();
        b.set_script(&format!("exit {code}"));
        c.run(&b).code_is(code);
        assert_clean(&rt, c.id(), &b);
    }
}

#[test]
fn run_captures_container_stdio() {
    let (_rt, c) = setup();
    let mut b = c.bundle();
    b.set_script("echo to-stdout; echo to-stderr >&2");
    let o = c.run(&b).ok();
    assert_eq!(o.stdout, "to-stdout\n");
    assert!(o.stderr.contains("to-stderr"), "{o:?}");
}

#[test]
fn run_deletes_the_container_afterwards() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["true"]);
    c.run(&b).ok();
    rt.assert_error(&rt.cmd(&["state", c.id()]), &["does not exist"]);
    assert!(rt.list_json().is_empty(), "list after run is empty");
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn run_keep_leaves_a_stopped_container() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_script("exit 3");
    rt.command(["run", "--keep", "--bundle"])
        .arg(b.path())
        .arg(c.id())
        .output()
        .code_is(3);
    let st = c.state();
    assert_eq!(st["status"], "stopped", "{st}");
    c.delete(false).ok();
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn run_detach_returns_while_container_runs() {
    let rt = Runtime::new();
    for flag in ["-d", "--detach"] {
        let c = Container::new(&rt);
        let mut b = c.bundle();
        b.set_args(&["sleep", "1000"]);
        let o = rt
            .command(["run", flag, "--bundle"])
            .arg(b.path())
            .arg(c.id())
            .output()
            .ok();
        assert!(
            o.elapsed < Duration::from_secs(10),
            "run {flag} returned promptly: {o:?}"
        );
        assert_eq!(c.status(), "running");
        c.kill("KILL");
        c.wait_status("stopped");
        c.delete(false).ok();
        assert_clean(&rt, c.id(), &b);
    }
}

#[test]
fn run_detach_with_pid_file() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["sleep", "1000"]);
    let pid_file = rt.scratch("pid");
    rt.command(["run", "-d", "--pid-file"])
        .arg(&pid_file)
        .arg("--bundle")
        .arg(b.path())
        .arg(c.id())
        .output()
        .ok();
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap(),
        c.pid().to_string()
    );
}

#[test]
fn run_bundle_defaults_to_cwd() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_script("echo in-cwd-bundle");
    let o = rt.command(["run", c.id()]).cwd(b.path()).output().ok();
    assert_eq!(o.stdout, "in-cwd-bundle\n");
}

#[test]
fn run_killed_by_sigkill_exits_137() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["sleep", "1000"]);
    let running = rt
        .command(["run", "--bundle"])
        .arg(b.path())
        .arg(c.id())
        .spawn();
    c.wait_status("running");
    c.kill("KILL");
    running.wait().code_is(128 + libc::SIGKILL);
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn run_killed_by_sigterm_without_pid_namespace_exits_143() {
    // Outside a pid namespace the process is not an init, so its own SIGTERM kills it.
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.remove_namespace("pid");
    b.set_script("kill -TERM $$; sleep 5");
    c.run(&b).code_is(128 + libc::SIGTERM);
    assert_clean(&rt, c.id(), &b);
}

/// Start `run` in the foreground with a trap for `name`, send `sig` to the
/// runtime process, and expect the container's exit code 42.
fn forwards(sig: i32, name: &str) {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_script(&format!(
        "trap 'exit 42' {name}; echo ready; while :; do sleep 0.05; done"
    ));
    let mut running = rt
        .command(["run", "--bundle"])
        .arg(b.path())
        .arg(c.id())
        .spawn();
    running.wait_stdout("ready", Duration::from_secs(10));
    running.signal(sig);
    let o = running.wait();
    assert_eq!(
        o.code,
        Some(42),
        "SIG{name} sent to the runtime reaches the container:\n{o:?}"
    );
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn run_forwards_sigint() {
    forwards(libc::SIGINT, "INT");
}
#[test]
fn run_forwards_sigterm() {
    forwards(libc::SIGTERM, "TERM");
}
#[test]
fn run_forwards_sighup() {
    forwards(libc::SIGHUP, "HUP");
}
#[test]
fn run_forwards_sigquit() {
    forwards(libc::SIGQUIT, "QUIT");
}
#[test]
fn run_forwards_sigusr1() {
    forwards(libc::SIGUSR1, "USR1");
}
#[test]
fn run_forwards_sigusr2() {
    forwards(libc::SIGUSR2, "USR2");
}
#[test]
fn run_forwards_sigwinch() {
    let rt = Runtime::new();
    if !rt.is_sangja() {
        sangja_integration::skip!(
            "sangja-only: runc/crun treat SIGWINCH as a tty resize and do not forward it without a terminal"
        );
    }
    forwards(libc::SIGWINCH, "WINCH");
}

#[test]
fn run_true_fifty_times_never_hangs() {
    let rt = Runtime::new();
    let start = Instant::now();
    for i in 0..50 {
        let c = Container::new(&rt);
        let mut b = c.bundle();
        b.set_args(&["/bin/true"]);
        let o = rt
            .command(["run", "--bundle"])
            .arg(b.path())
            .arg(c.id())
            .timeout(Duration::from_secs(30))
            .spawn()
            .wait_result()
            .unwrap_or_else(|o| panic!("run #{i} of /bin/true hung:\n{o:?}"));
        assert_eq!(o.code, Some(0), "run #{i}:\n{o:?}");
    }
    eprintln!("50 runs of /bin/true took {:?}", start.elapsed());
    assert!(rt.list_json().is_empty());
}

#[test]
fn run_with_failing_process_cleans_up() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["/bin/does-not-exist"]);
    let o = c.run(&b);
    rt.assert_error(
        &o,
        &["executable file not found", "no such file or directory"],
    );
    assert_clean(&rt, c.id(), &b);
}
