//! `exec`: a second process inside a running container. It joins the
//! container's namespaces and cgroup, gets the caps/env/cwd/user asked for,
//! returns the process's exit code, detaches with a pid file, takes a process
//! JSON, and is refused for stopped and paused containers.

use std::fs;
use std::time::Duration;

use sangja_integration::{assert_clean, setup, skip, util, Bundle, Container, Runtime};
use serde_json::json;

/// A running container whose init sleeps (with a hostname and a marker file).
fn running(c: &Container) -> Bundle {
    let mut b = c.bundle();
    b.set_hostname("exec-host");
    b.set_script("echo init-marker > /tmp/marker; exec sleep 1000");
    c.start_running(&b);
    b
}

/// A refusal: for sangja exactly `assert_error`; runc exits 255 for exec errors.
#[track_caller]
fn assert_refused(rt: &Runtime, o: &sangja_integration::Out, any_of: &[&str]) {
    if rt.is_sangja() {
        rt.assert_error(o, any_of);
        return;
    }
    assert!(
        matches!(o.code, Some(c) if c != 0),
        "expected a failure: {o:?}"
    );
    let low = o.stderr.to_lowercase();
    assert!(
        any_of.iter().any(|w| low.contains(w)),
        "stderr has one of {any_of:?}: {o:?}"
    );
}

fn exec(rt: &Runtime, id: &str, args: &[&str]) -> sangja_integration::Out {
    rt.command(["exec"]).arg(id).args(args).output()
}

/// `/proc/<pid>/<what>` of the container's init, read from the host.
fn init_file(c: &Container, what: &str) -> String {
    fs::read_to_string(format!("/proc/{}/{what}", c.pid())).unwrap()
}

#[test]
fn exec_sees_the_containers_namespaces_mounts_and_cgroup() {
    let (rt, c) = setup();
    let _b = running(&c);
    let init = c.pid();
    // Same hostname, same rootfs (the marker init wrote), same mount table.
    let o = exec(&rt, c.id(), &["sh", "-c", "hostname; cat /tmp/marker"]).ok();
    assert_eq!(o.lines(), ["exec-host", "init-marker"], "{o:?}");
    let o = exec(&rt, c.id(), &["cat", "/proc/self/mountinfo"]).ok();
    // The mount ids and the tree are the container's: compare with init's table.
    assert_eq!(
        o.stdout,
        init_file(&c, "mountinfo"),
        "exec sees init's mounts"
    );
    // Namespaces: every one of init's (read from the host) is exec's.
    let o = exec(
        &rt,
        c.id(),
        &[
            "sh",
            "-c",
            "for n in mnt uts ipc net pid; do readlink /proc/self/ns/$n; done",
        ],
    )
    .ok();
    let want: Vec<String> = ["mnt", "uts", "ipc", "net", "pid"]
        .iter()
        .map(|n| {
            fs::read_link(format!("/proc/{init}/ns/{n}"))
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(o.lines(), want, "{o:?}");
    // Cgroup: identical /proc/self/cgroup.
    let o = exec(&rt, c.id(), &["cat", "/proc/self/cgroup"]).ok();
    assert_eq!(
        o.stdout,
        init_file(&c, "cgroup"),
        "exec joins init's cgroup"
    );
}

#[test]
fn exec_is_in_the_pid_namespace_and_visible_in_ps() {
    let (rt, c) = setup();
    let _b = running(&c);
    let o = exec(&rt, c.id(), &["sh", "-c", "echo $$; ps -o pid,args"]).ok();
    let lines = o.lines();
    let me: u32 = lines[0].parse().unwrap_or_else(|_| panic!("{o:?}"));
    assert_ne!(me, 1, "exec is not pid 1: {o:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.split_whitespace().next() == Some(&me.to_string())),
        "its own pid {me} is listed by ps inside: {o:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("1 ") && l.contains("sleep 1000")),
        "init is pid 1 in the same namespace: {o:?}"
    );
}

#[test]
fn exec_caps_from_cap_flag() {
    let (rt, c) = setup();
    let _b = running(&c);
    let sys_admin = 1u64 << 21;
    let cap_eff = |extra: &[&str]| -> u64 {
        let o = rt
            .command(["exec"])
            .args(extra)
            .arg(c.id())
            .args(["grep", "CapEff", "/proc/self/status"])
            .output()
            .ok();
        let hex = o
            .stdout
            .split_whitespace()
            .nth(1)
            .unwrap_or_else(|| panic!("{o:?}"));
        u64::from_str_radix(hex, 16).unwrap()
    };
    let without = cap_eff(&[]);
    assert_eq!(
        without & sys_admin,
        0,
        "no CAP_SYS_ADMIN by default: {without:x}"
    );
    // The container's own set: AUDIT_WRITE, KILL, NET_BIND_SERVICE.
    let base = (1u64 << 29) | (1 << 5) | (1 << 10);
    assert_eq!(without, base, "exec gets the container's caps: {without:x}");
    let with = cap_eff(&["--cap", "CAP_SYS_ADMIN"]);
    assert_ne!(
        with & sys_admin,
        0,
        "--cap CAP_SYS_ADMIN is effective: {with:x}"
    );
    assert_eq!(with & !sys_admin, base, "the other caps stay: {with:x}");
}

#[test]
fn exec_exit_codes() {
    let (rt, c) = setup();
    let _b = running(&c);
    exec(&rt, c.id(), &["true"]).code_is(0);
    exec(&rt, c.id(), &["sh", "-c", "exit 3"]).code_is(3);
    let o = exec(&rt, c.id(), &["no-such-program"]);
    if rt.is_sangja() {
        assert_eq!(o.code, Some(127), "missing program: {o:?}");
    } else {
        assert_ne!(o.code, Some(0), "{o:?}");
    }
    assert!(
        o.stderr.contains("executable file not found"),
        "message names the problem: {o:?}"
    );
    // A file that exists but is not executable.
    fs::write(_b.rootfs().join("bin/notexec"), "#!/bin/sh\n").unwrap();
    let o = exec(&rt, c.id(), &["/bin/notexec"]);
    if rt.is_sangja() {
        assert_eq!(o.code, Some(126), "non-executable: {o:?}");
    } else {
        assert_ne!(o.code, Some(0), "{o:?}");
    }
    // Still running after all that.
    assert_eq!(c.status(), "running");
}

#[test]
fn exec_detach_writes_pid_file() {
    let (rt, c) = setup();
    let _b = running(&c);
    let pidf = rt.scratch("exec.pid");
    rt.command(["exec", "-d", "--pid-file"])
        .arg(&pidf)
        .arg(c.id())
        .args(["sleep", "999"])
        .timeout(Duration::from_secs(10))
        .output()
        .ok();
    let text = fs::read_to_string(&pidf).unwrap();
    assert!(
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()),
        "pid file is digits without newline: {text:?}"
    );
    let pid: i32 = text.parse().unwrap();
    assert!(util::pid_alive(pid), "pid {pid} is alive");
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert_eq!(cmdline, b"sleep\0999\0", "the pid is the exec'd process");
    assert_eq!(
        fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap(),
        fs::read_link(format!("/proc/{}/ns/pid", c.pid())).unwrap(),
        "in the container's pid namespace"
    );
}

/// containerd's shim is a subreaper that reaps every orphan at once: a detached exec'd process
/// that exits straight away (after the runtime's intermediate process has gone) must still be
/// a success, not "vanished" (seen in the client suite before the real process waited for the
/// runtime to note its pid and start time).
#[test]
fn exec_detach_of_a_quick_process_under_a_reaping_subreaper() {
    let (rt, c) = setup();
    let _b = running(&c);
    for i in 0..25 {
        let pidf = rt.scratch("quick.pid");
        let o = rt
            .command(["exec", "-d", "--pid-file"])
            .under(env!("CARGO_BIN_EXE_reaping-subreaper"))
            .arg(&pidf)
            .arg(c.id())
            .args(["true"])
            .output();
        assert_eq!(o.code, Some(0), "round {i}: {o:?}");
        let text = fs::read_to_string(&pidf).unwrap();
        assert!(text.parse::<i32>().is_ok(), "round {i}: pid file {text:?}");
    }
}

#[test]
fn exec_process_json() {
    let (rt, c) = setup();
    let _b = running(&c);
    let p = rt.scratch("process.json");
    let proc_json = json!({
        "terminal": false,
        "user": {"uid": 1000, "gid": 1000},
        "args": ["sh", "-c", "echo $FROM_JSON; pwd; id -u; id -g"],
        "env": ["PATH=/bin", "FROM_JSON=yes"],
        "cwd": "/tmp",
        "capabilities": {"bounding": [], "effective": [], "permitted": []}
    });
    fs::write(&p, proc_json.to_string()).unwrap();
    let o = rt.command(["exec", "-p"]).arg(&p).arg(c.id()).output().ok();
    assert_eq!(o.lines(), ["yes", "/tmp", "1000", "1000"], "{o:?}");
}

#[test]
fn exec_env_cwd_user_and_groups_flags() {
    let (rt, c) = setup();
    let _b = running(&c);
    let o = rt
        .command([
            "exec",
            "-e",
            "A=1",
            "--cwd",
            "/tmp",
            "-u",
            "1000:1000",
            "-g",
            "10",
        ])
        .arg(c.id())
        .args(["sh", "-c", "echo $A; pwd; id -u; id -g; id -G"])
        .output()
        .ok();
    let l = o.lines();
    assert_eq!(&l[..4], ["1", "/tmp", "1000", "1000"], "{o:?}");
    assert!(
        l[4].split_whitespace().any(|g| g == "10"),
        "additional gid 10: {o:?}"
    );
}

#[test]
fn exec_into_stopped_container_is_refused() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["true"]);
    c.create(&b);
    c.start();
    c.wait_status("stopped");
    let o = exec(&rt, c.id(), &["true"]);
    assert_refused(&rt, &o, &["not running", "stopped"]);
}

#[test]
fn exec_into_created_container_works_as_in_runc() {
    // runc allows exec into a created (not yet started) container: the init
    // namespaces exist. sangja does the same; the container stays created.
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["true"]);
    c.create(&b);
    let o = exec(&rt, c.id(), &["echo", "in-created"]).ok();
    assert_eq!(o.stdout, "in-created\n");
    assert_eq!(c.status(), "created");
}

#[test]
fn exec_into_paused_container() {
    let (rt, c) = setup();
    let _b = running(&c);
    let p = rt.cmd(&["pause", c.id()]);
    if !p.success() {
        skip!("pause does not work here: {p:?}");
    }
    c.wait_status("paused");
    let o = rt
        .command(["exec"])
        .arg(c.id())
        .arg("true")
        .timeout(Duration::from_secs(10))
        .output();
    assert_refused(&rt, &o, &["paused"]);
    // --ignore-paused: the process is created (frozen with the cgroup), then runs after resume.
    let mut r = rt
        .command(["exec", "--ignore-paused"])
        .arg(c.id())
        .args(["echo", "after-resume"])
        .timeout(Duration::from_secs(15))
        .spawn();
    std::thread::sleep(Duration::from_millis(300));
    rt.cmd(&["resume", c.id()]).ok();
    r.wait_stdout("after-resume", Duration::from_secs(10));
    r.wait().ok();
}

#[test]
fn exec_cwd_through_leaked_fd_is_refused() {
    let (rt, c) = setup();
    let _b = running(&c);
    if !rt.is_sangja() {
        // runc 1.1.5 predates the CVE-2024-21626 fix (1.1.12).
        skip!("sangja-only: runc 1.1.5 predates the CVE-2024-21626 fix");
    }
    // Whatever sangja holds open while it enters the container, a cwd through
    // /proc/self/fd/N must never land outside the container's root: either it
    // is refused, or it is a directory inside the root (checked by comparing
    // dev:ino of the cwd with the same path resolved from `/`).
    for n in 3..10 {
        let o = rt
            .command(["exec", "--cwd", &format!("/proc/self/fd/{n}")])
            .arg(c.id())
            .args(["sh", "-c", "pwd; stat -c %d:%i . \"$(pwd)\""])
            .output();
        if !o.success() {
            continue;
        }
        let l = o.lines();
        assert!(
            l.len() == 3 && l[0].starts_with('/') && l[1] == l[2],
            "--cwd /proc/self/fd/{n} reached a directory outside the container: {o:?}"
        );
    }
}

#[test]
fn exec_process_gone_after_delete() {
    let (rt, c) = setup();
    let b = running(&c);
    let pidf = rt.scratch("exec.pid");
    rt.command(["exec", "-d", "--pid-file"])
        .arg(&pidf)
        .arg(c.id())
        .args(["sleep", "998"])
        .output()
        .ok();
    let pid: i32 = fs::read_to_string(&pidf).unwrap().parse().unwrap();
    assert!(util::pid_alive(pid));
    c.kill("KILL");
    c.wait_status("stopped");
    c.delete(false).ok();
    util::wait_for("exec'd process gone", Duration::from_secs(5), || {
        (!util::pid_alive(pid)).then_some(())
    });
    assert_clean(&rt, c.id(), &b);
}
