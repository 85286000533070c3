//! Tests against the real kernel, in two tiers:
//!
//! - `host_*`: need root and a writable cgroup2 mount, nothing else (no controllers): they
//!   run on this project's hybrid host too (cgroups under
//!   `/sys/fs/cgroup/unified/sangja-test-*`, always removed) and check membership, freeze,
//!   kill, remove, the device program, and the "controller not available" refusal.
//! - `v2_*`: need cgroup v2 *with* controllers (cpu, io, memory, pids); they run only when
//!   `SANGJA_CGROUP2_TESTS=1`, which `integration/uml/cgroup-tests.sh` sets inside User-Mode
//!   Linux. They observe enforcement: OOM kill, pids limit, cpu.max, device EPERM.
//!
//! A test that cannot run prints `SKIPPED: <reason>` and passes.

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::{open, OFlag};
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

use super::*;
use crate::error::Error;
use crate::sys::clone::{clone_fork, Forked};
use crate::sys::process::exit_now;

fn host_ready() -> Option<Hierarchy> {
    if !nix::unistd::geteuid().is_root() {
        println!("SKIPPED: needs root to create cgroups");
        return None;
    }
    match Hierarchy::discover() {
        Ok(h) if nix::unistd::access(&h.mount, nix::unistd::AccessFlags::W_OK).is_ok() => Some(h),
        Ok(h) => {
            println!("SKIPPED: {} is not writable", h.mount.display());
            None
        }
        Err(e) => {
            println!("SKIPPED: {e:#}");
            None
        }
    }
}

fn v2_ready() -> Option<Hierarchy> {
    if std::env::var("SANGJA_CGROUP2_TESTS").as_deref() != Ok("1") {
        println!("SKIPPED: needs cgroup v2 with controllers (run via integration/uml)");
        return None;
    }
    let h = host_ready()?;
    let top = std::fs::read_to_string(h.mount.join("cgroup.controllers")).unwrap_or_default();
    for c in ["cpu", "memory", "pids"] {
        assert!(
            top.split_whitespace().any(|t| t == c),
            "SANGJA_CGROUP2_TESTS=1 but no {c} controller in {}",
            h.mount.display()
        );
    }
    Some(h)
}

/// A test cgroup `/sangja-test-<pid>-<name>`, killed and removed on drop.
struct TestCg {
    cg: Cgroup,
    children: Vec<Pid>,
}

impl TestCg {
    fn create(
        h: &Hierarchy,
        name: &str,
        res: &str,
        devices: Option<&DeviceRules>,
    ) -> anyhow::Result<TestCg> {
        let path = CgroupPath::new(&format!("/sangja-test-{}-{name}", std::process::id()))?;
        let r: LinuxResources = serde_json::from_str(res)?;
        validate_resources(&r)?;
        let cg = Cgroup::create(h, &path, &r, devices)?;
        Ok(TestCg {
            cg,
            children: Vec::new(),
        })
    }

    /// Fork a child born in the cgroup (CLONE_INTO_CGROUP) running `body`, which must not
    /// allocate (the test binary is multi-threaded) and whose result is the exit code.
    fn spawn<F: FnOnce() -> i32>(&mut self, body: F) -> Pid {
        let fd = self.cg.open_fd().unwrap();
        match clone_fork(0, Some(fd.as_raw_fd())).unwrap() {
            Forked::Child { .. } => exit_now(body()),
            Forked::Parent(pid) => {
                self.children.push(pid);
                pid
            }
        }
    }

    /// Start `sh -c script` outside, move it in with `add_process` (the legacy path), then
    /// let it go: the script must begin with `read x`.
    fn spawn_shell(&self, script: &str) -> Child {
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.cg.add_process(child.id() as i32).unwrap();
        child.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
        child
    }

    fn reap(&mut self) {
        for pid in self.children.drain(..) {
            let _ = waitpid(pid, None);
        }
    }
}

impl Drop for TestCg {
    fn drop(&mut self) {
        let _ = self.cg.thaw();
        let _ = self.cg.kill_all();
        self.reap();
        self.cg.remove().unwrap();
        assert!(
            !self.cg.dir().exists(),
            "{} left behind",
            self.cg.dir().display()
        );
    }
}

fn sleeper() -> i32 {
    loop {
        nix::unistd::pause();
    }
}

/// Writes one byte to `fd` every millisecond: a counter the parent can read.
fn ticker(fd: &OwnedFd) -> i32 {
    loop {
        let _ = nix::unistd::write(fd, b"x");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn open_devnull(flags: OFlag) -> i32 {
    match open("/dev/null", flags, Mode::empty()) {
        Ok(_) => 0,
        Err(e) => e as i32,
    }
}

fn exit_code(pid: Pid) -> i32 {
    match waitpid(pid, None).unwrap() {
        WaitStatus::Exited(_, c) => c,
        other => panic!("child ended as {other:?}"),
    }
}

fn read_file(cg: &Cgroup, f: &str) -> String {
    std::fs::read_to_string(cg.dir().join(f))
        .unwrap()
        .trim()
        .to_string()
}

/// Bytes available on the nonblocking pipe `r` right now.
fn drain(r: &OwnedFd) -> usize {
    let mut buf = [0u8; 4096];
    let mut n = 0;
    while let Ok(k) = nix::unistd::read(r.as_raw_fd(), &mut buf) {
        if k == 0 {
            break;
        }
        n += k;
    }
    n
}

fn ticker_pipe() -> (OwnedFd, OwnedFd) {
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
    nix::fcntl::fcntl(
        r.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK),
    )
    .unwrap();
    (r, w)
}

/// Membership, freeze/thaw, kill, remove: core cgroup v2, no controller needed.
fn lifecycle(h: &Hierarchy, name: &str, res: &str) {
    let mut t = TestCg::create(h, name, res, None).unwrap();
    let (r, w) = ticker_pipe();
    let a = t.spawn(|| ticker(&w));
    let b = t.spawn(sleeper);
    drop(w);
    let mut ps = t.cg.pids().unwrap();
    ps.sort();
    let mut want = vec![a.as_raw(), b.as_raw()];
    want.sort();
    assert_eq!(ps, want, "both children born in the cgroup");
    let own = std::fs::read_to_string(format!("/proc/{a}/cgroup")).unwrap();
    assert_eq!(own_cgroup(&own).as_deref(), Some(t.cg.path().as_str()));

    std::thread::sleep(Duration::from_millis(100));
    assert!(drain(&r) > 0, "the counter runs");
    t.cg.freeze().unwrap();
    assert!(t.cg.is_frozen().unwrap());
    drain(&r);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(drain(&r), 0, "a frozen counter does not advance");
    t.cg.thaw().unwrap();
    assert!(!t.cg.is_frozen().unwrap());
    std::thread::sleep(Duration::from_millis(100));
    assert!(drain(&r) > 0, "the counter runs again after thaw");

    t.cg.kill_all().unwrap();
    assert!(t.cg.pids().unwrap().is_empty());
    for pid in t.children.drain(..) {
        assert_eq!(
            waitpid(pid, None).unwrap(),
            WaitStatus::Signaled(pid, Signal::SIGKILL, false)
        );
    }
}

#[test]
fn host_lifecycle_without_controllers() {
    let Some(h) = host_ready() else { return };
    lifecycle(&h, "life", "{}");
}

#[test]
fn host_limit_without_controller_is_refused_and_leaves_nothing() {
    let Some(h) = host_ready() else { return };
    let top = std::fs::read_to_string(h.mount.join("cgroup.controllers")).unwrap();
    if top.split_whitespace().any(|c| c == "memory") {
        println!("SKIPPED: this host has the memory controller on cgroup v2");
        return;
    }
    let name = format!("/sangja-test-{}-nomem", std::process::id());
    let err = TestCg::create(&h, "nomem", r#"{"memory":{"limit":104857600}}"#, None)
        .err()
        .unwrap();
    println!("refused as expected: {err}");
    assert!(
        matches!(err.downcast_ref::<Error>(), Some(Error::ControllerUnavailable { controller, .. }) if controller == "memory")
    );
    assert!(err
        .to_string()
        .starts_with("cgroup controller \"memory\" is not available: "));
    assert!(!h.mount.join(&name[1..]).exists());
}

#[test]
fn host_device_program_is_attached_replaced_and_enforced() {
    let Some(h) = host_ready() else { return };
    let deny_null_write: Vec<oci_spec::runtime::LinuxDeviceCgroup> = serde_json::from_str(
        r#"[{"allow":false,"access":"rwm"},{"allow":false,"type":"c","major":1,"minor":3,"access":"w"}]"#,
    )
    .unwrap();
    let rules = DeviceRules::for_container(Some(&deny_null_write), &[]).unwrap();
    let mut t = TestCg::create(&h, "dev", "{}", Some(&rules)).unwrap();
    let fd = t.cg.open_fd().unwrap();
    assert_eq!(device_programs(fd.as_fd()).unwrap(), 1);

    let w = t.spawn(|| open_devnull(OFlag::O_WRONLY));
    assert_eq!(exit_code(w), libc::EPERM, "writing /dev/null is denied");
    let r = t.spawn(|| open_devnull(OFlag::O_RDONLY));
    assert_eq!(exit_code(r), 0, "reading /dev/null is allowed");

    // Update: a new program replaces the old one (never two left, never none).
    t.cg.set_devices(&DeviceRules::for_container(None, &[]).unwrap())
        .unwrap();
    assert_eq!(device_programs(fd.as_fd()).unwrap(), 1);
    let w = t.spawn(|| open_devnull(OFlag::O_WRONLY));
    assert_eq!(exit_code(w), 0, "after the update /dev/null is writable");
    let z = t.spawn(|| match open("/dev/kmsg", OFlag::O_RDONLY, Mode::empty()) {
        Ok(_) => 0,
        Err(e) => e as i32,
    });
    assert_eq!(
        exit_code(z),
        libc::EPERM,
        "a device outside the allow-list stays denied"
    );
}

#[test]
fn host_nested_path_and_existing_busy_cgroup() {
    let Some(h) = host_ready() else { return };
    let top = format!("/sangja-test-{}-nest", std::process::id());
    let path = CgroupPath::new(&format!("{top}/a/b")).unwrap();
    let r = LinuxResources::default();
    let cg = Cgroup::create(&h, &path, &r, None).unwrap();
    assert!(cg.dir().ends_with("a/b"));
    let fd = cg.open_fd().unwrap();
    let child = match clone_fork(0, Some(fd.as_raw_fd())).unwrap() {
        Forked::Child { .. } => exit_now(sleeper()),
        Forked::Parent(p) => p,
    };
    let e = Cgroup::create(&h, &path, &r, None).unwrap_err();
    assert!(
        e.to_string().contains("already exists and has processes"),
        "{e}"
    );
    assert!(
        cg.dir().exists(),
        "a refused create does not remove what it did not make"
    );
    cg.kill_all().unwrap();
    let _ = waitpid(child, None);
    remove_dir(&h.dir_of(&top).unwrap(), DEFAULT_REMOVE_TIMEOUT).unwrap();
    assert!(!h.dir_of(&top).unwrap().exists());
}

#[test]
fn v2_lifecycle_with_controllers_enabled() {
    let Some(h) = v2_ready() else { return };
    lifecycle(
        &h,
        "life2",
        r#"{"memory":{"limit":67108864},"pids":{"limit":32},"cpu":{"quota":50000,"period":100000}}"#,
    );
}

#[test]
fn v2_limits_are_written_and_controllers_enabled() {
    let Some(h) = v2_ready() else { return };
    let t = TestCg::create(
        &h,
        "limits",
        r#"{"memory":{"limit":67108864,"reservation":1048576},"pids":{"limit":16},
            "cpu":{"shares":1024,"quota":20000,"period":100000}}"#,
        None,
    )
    .unwrap();
    assert_eq!(read_file(&t.cg, "memory.max"), "67108864");
    assert_eq!(read_file(&t.cg, "memory.low"), "1048576");
    assert_eq!(read_file(&t.cg, "pids.max"), "16");
    assert_eq!(read_file(&t.cg, "cpu.max"), "20000 100000");
    assert_eq!(read_file(&t.cg, "cpu.weight"), "100");
    let parent = t.cg.dir().parent().unwrap();
    let sc = std::fs::read_to_string(parent.join("cgroup.subtree_control")).unwrap();
    for c in ["cpu", "memory", "pids"] {
        assert!(
            sc.split_whitespace().any(|x| x == c),
            "{c} enabled in {}",
            parent.display()
        );
    }
    // update --memory changes memory.max of a live cgroup.
    let up: LinuxResources = serde_json::from_str(r#"{"memory":{"limit":33554432}}"#).unwrap();
    validate_update(&up).unwrap();
    t.cg.update(&up, None).unwrap();
    assert_eq!(read_file(&t.cg, "memory.max"), "33554432");
    // unified entries land verbatim; an unknown file is an invalid config naming the key.
    let up: LinuxResources =
        serde_json::from_str(r#"{"unified":{"memory.high":"30000000"}}"#).unwrap();
    t.cg.update(&up, None).unwrap();
    assert_eq!(read_file(&t.cg, "memory.high"), "29999104");
    let up: LinuxResources = serde_json::from_str(r#"{"unified":{"memory.bogus":"1"}}"#).unwrap();
    let e = t.cg.update(&up, None).unwrap_err();
    assert!(
        e.to_string()
            .contains("linux.resources.unified.memory.bogus"),
        "{e}"
    );
}

#[test]
fn v2_memory_limit_oom_kills_and_is_counted() {
    let Some(h) = v2_ready() else { return };
    let t = TestCg::create(
        &h,
        "oom",
        r#"{"memory":{"limit":16777216,"swap":16777216}}"#,
        None,
    )
    .unwrap();
    assert_eq!(t.cg.oom_count().unwrap(), 0);
    let mut child = t.spawn_shell("read x; exec dd if=/dev/zero of=/dev/null bs=64M count=1");
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "dd past memory.max is OOM-killed"
    );
    assert!(t.cg.oom_count().unwrap() >= 1);
    let s = t.cg.stats().unwrap();
    assert_eq!(s.memory.usage.limit, 16_777_216);
    assert!(s.memory.usage.failcnt >= 1);
}

#[test]
fn v2_pids_limit_stops_a_fork_loop() {
    let Some(h) = v2_ready() else { return };
    let t = TestCg::create(&h, "pids", r#"{"pids":{"limit":4}}"#, None).unwrap();
    let mut child = t.spawn_shell("read x; for i in 1 2 3 4 5 6 7 8; do sleep 30 & done; sleep 1");
    std::thread::sleep(Duration::from_millis(500));
    let n = t.cg.pids().unwrap().len();
    assert!(n <= 4, "{n} processes under pids.max 4");
    let events = std::fs::read_to_string(t.cg.dir().join("pids.events")).unwrap();
    assert!(!events.contains("max 0"), "the limit was hit: {events}");
    let s = t.cg.stats().unwrap();
    assert_eq!(s.pids.limit, 4);
    t.cg.kill_all().unwrap();
    let _ = child.wait();
}

#[test]
fn v2_cpu_max_holds_a_busy_loop_near_its_quota() {
    let Some(h) = v2_ready() else { return };
    let mut t = TestCg::create(
        &h,
        "cpumax",
        r#"{"cpu":{"quota":20000,"period":100000}}"#,
        None,
    )
    .unwrap();
    t.spawn(|| loop {
        std::hint::black_box(0u64);
    });
    std::thread::sleep(Duration::from_millis(200));
    let used = |cg: &Cgroup| cg.stats().unwrap().cpu.usage.total;
    let (u0, t0) = (used(&t.cg), Instant::now());
    std::thread::sleep(Duration::from_secs(1));
    let share = (used(&t.cg) - u0) as f64 / t0.elapsed().as_nanos() as f64;
    println!(
        "busy loop under cpu.max 20000/100000 used {:.1}% of a CPU",
        share * 100.0
    );
    assert!((0.12..=0.28).contains(&share), "share {share}");
    assert!(t.cg.stats().unwrap().cpu.throttling.throttled_periods > 0);
}

#[test]
fn v2_kill_all_ends_a_tree_that_ignores_sigterm_and_ps_lists_it() {
    let Some(h) = v2_ready() else { return };
    let t = TestCg::create(&h, "kill", "{}", None).unwrap();
    let mut child = t.spawn_shell("read x; trap '' TERM; sleep 1000 & sleep 1000 & wait");
    let deadline = Instant::now() + Duration::from_secs(5);
    while t.cg.pids().unwrap().len() < 3 {
        assert!(Instant::now() < deadline, "three processes expected");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        t.cg.pids().unwrap().len(),
        3,
        "ps: the shell and its two sleeps"
    );
    t.cg.signal_all(Signal::SIGTERM).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !t.cg.pids().unwrap().is_empty(),
        "the shell ignores SIGTERM"
    );
    t.cg.kill_all().unwrap();
    assert!(t.cg.pids().unwrap().is_empty());
    let _ = child.wait();
}

#[test]
fn v2_device_deny_is_eperm() {
    let Some(h) = v2_ready() else { return };
    let rules = DeviceRules::for_container(
        Some(&serde_json::from_str::<Vec<_>>(
            r#"[{"allow":false,"access":"rwm"},{"allow":false,"type":"c","major":1,"minor":3,"access":"w"}]"#,
        )
        .unwrap()),
        &[],
    )
    .unwrap();
    let mut t = TestCg::create(&h, "dev2", r#"{"pids":{"limit":10}}"#, Some(&rules)).unwrap();
    let w = t.spawn(|| open_devnull(OFlag::O_WRONLY));
    assert_eq!(exit_code(w), libc::EPERM);
    let r = t.spawn(|| open_devnull(OFlag::O_RDONLY));
    assert_eq!(exit_code(r), 0);
}

/// The verifier's work for a device program stays within twice its length (it prunes the rule
/// blocks it has seen; see `device_prog.rs`). The earlier layout walked 223 steps for the 62
/// instructions of the default rules and 2,719 for 337 instructions of 40 mixed rules (3.5
/// ms); now 156 for 101 and 988 for 536, at ~1 µs a step here.
#[test]
fn host_device_program_verification_stays_linear() {
    if !nix::unistd::geteuid().is_root() {
        println!("SKIPPED: needs root to load BPF programs");
        return;
    }
    let many: Vec<oci_spec::runtime::LinuxDeviceCgroup> = (0..40)
        .map(|i: u32| {
            let kind = if i.is_multiple_of(2) { "c" } else { "b" };
            let access = ["r", "w", "rw", "m", "rwm"][i as usize % 5];
            serde_json::from_value(serde_json::json!(
                {"allow": !i.is_multiple_of(3), "type": kind, "major": i, "minor": i * 7, "access": access}
            ))
            .unwrap()
        })
        .collect();
    for (what, rules) in [
        ("defaults", DeviceRules::for_container(None, &[]).unwrap()),
        (
            "40 mixed rules",
            DeviceRules::for_container(Some(&many), &[]).unwrap(),
        ),
    ] {
        let insns = super::device_prog::assemble(&rules);
        let stats = crate::sys::bpf::verifier_stats(&insns).unwrap();
        let processed: usize = stats
            .split_whitespace()
            .skip_while(|w| *w != "processed")
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no 'processed N insns' in {stats:?}"));
        println!("{what}: {} insns, verifier: {stats}", insns.len());
        assert!(
            processed <= 2 * insns.len(),
            "{what}: the verifier processed {processed} insns for a program of {}",
            insns.len()
        );
    }
}
