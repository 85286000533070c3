//! The runtime under test: which binary, its private `--root`, and every
//! invocation of it (each under a timeout that kills it and fails the test).
//!
//! Selection: `SANGJA_RUNTIME` (a path, or a name looked up in PATH and the sbin
//! directories, e.g. `runc`, `crun`); otherwise `<workspace>/target/release/sangja`
//! if it exists, else `<workspace>/target/debug/sangja`.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bundle::Bundle;
use crate::output::Out;
use crate::util;

/// Which implementation the binary is, for the few tests whose expectation differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sangja,
    Runc,
    Crun,
    Other,
}

impl Kind {
    /// Lower-case name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Sangja => "sangja",
            Kind::Runc => "runc",
            Kind::Crun => "crun",
            Kind::Other => "this runtime",
        }
    }
}

/// Where the per-run state of the bench lives (one directory per `Runtime`).
pub const BASE_DIR: &str = "/run/sangja-itest";

/// Environment variable set on every runtime invocation (see `Cmd::spawn`).
/// A container must never see it.
pub const MARKER_ENV: &str = "SANGJA_ITEST_CMD";

/// How many descriptors `Cmd::pass_fd` can hand over.
const MAX_PASSED_FDS: usize = 16;

/// Default limit for one runtime invocation.
pub fn default_timeout() -> Duration {
    std::env::var("SANGJA_ITEST_TIMEOUT")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(30))
}

/// A handle on the runtime binary with its own, private `--root`.
/// Cheap to clone; the directory goes away with the last clone.
#[derive(Clone)]
pub struct Runtime(Arc<Inner>);

struct Inner {
    path: PathBuf,
    kind: Kind,
    /// `/run/sangja-itest/<pid>-<n>`: holds `root/` and `io/`.
    base: PathBuf,
    root: PathBuf,
    io: PathBuf,
}

impl Drop for Inner {
    fn drop(&mut self) {
        util::remove_tree(&self.base);
    }
}

impl Default for Runtime {
    fn default() -> Self {
        Self::new()
    }
}

impl Runtime {
    /// The selected runtime with a fresh root. Fails the test when not root or
    /// when the binary cannot be found.
    pub fn new() -> Self {
        util::require_root();
        let path = resolve_binary();
        let kind = detect_kind(&path);
        let base = PathBuf::from(BASE_DIR).join(format!(
            "{}-{}-{}",
            util::test_name().chars().take(40).collect::<String>(),
            std::process::id(),
            util::next_serial()
        ));
        let root = base.join("root");
        let io = base.join("io");
        for d in [&root, &io] {
            fs::create_dir_all(d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
        }
        fs::set_permissions(&base, fs::Permissions::from_mode(0o700)).ok();
        Runtime(Arc::new(Inner {
            path,
            kind,
            base,
            root,
            io,
        }))
    }

    pub fn path(&self) -> &Path {
        &self.0.path
    }
    pub fn kind(&self) -> Kind {
        self.0.kind
    }
    pub fn is_sangja(&self) -> bool {
        self.0.kind == Kind::Sangja
    }
    pub fn is_runc(&self) -> bool {
        self.0.kind == Kind::Runc
    }
    /// The `--root` every command of this handle gets.
    pub fn root(&self) -> &Path {
        &self.0.root
    }
    /// A scratch directory private to this handle (log files, pid files, outputs).
    pub fn scratch(&self, name: &str) -> PathBuf {
        self.0.io.join(format!("{}-{}", util::next_serial(), name))
    }

    /// A command with `--root <root>` and then `args`.
    pub fn command<I, S>(&self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Cmd {
            rt: self.clone(),
            args: args
                .into_iter()
                .map(|a| a.as_ref().to_os_string())
                .collect(),
            with_root: true,
            cwd: None,
            stdout: None,
            timeout: default_timeout(),
            fds: Vec::new(),
            envs: Vec::new(),
            wrapper: None,
        }
    }

    /// Run `--root <root> args...` to completion (under the default timeout).
    pub fn cmd(&self, args: &[&str]) -> Out {
        self.command(args).output()
    }

    /// `create --bundle B ID`, asserted successful. The container's stdio is the
    /// runtime's: use `create_with_stdout` to keep what the container prints.
    #[track_caller]
    pub fn create(&self, id: &str, bundle: &Bundle) -> Out {
        self.command(["create", "--bundle"])
            .arg(bundle.path())
            .arg(id)
            .output()
            .ok()
    }

    /// `create --bundle B ID` with stdout (inherited by the container) sent to `stdout`.
    #[track_caller]
    pub fn create_with_stdout(&self, id: &str, bundle: &Bundle, stdout: &Path) -> Out {
        self.command(["create", "--bundle"])
            .arg(bundle.path())
            .arg(id)
            .stdout_to(stdout)
            .output()
            .ok()
    }

    #[track_caller]
    pub fn start(&self, id: &str) -> Out {
        self.cmd(&["start", id]).ok()
    }

    /// `state ID` parsed; panics if it fails.
    #[track_caller]
    pub fn state(&self, id: &str) -> Value {
        self.cmd(&["state", id]).ok().json()
    }

    /// The `status` field of `state ID`.
    #[track_caller]
    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"]
            .as_str()
            .unwrap_or("<no status>")
            .to_string()
    }

    /// The `pid` field of `state ID`.
    #[track_caller]
    pub fn pid(&self, id: &str) -> i32 {
        let st = self.state(id);
        st["pid"]
            .as_i64()
            .unwrap_or_else(|| panic!("state has no numeric pid: {st}")) as i32
    }

    /// `kill ID SIG`, asserted successful.
    #[track_caller]
    pub fn kill(&self, id: &str, sig: &str) -> Out {
        self.cmd(&["kill", id, sig]).ok()
    }

    /// `delete [--force] ID`, not asserted.
    pub fn delete(&self, id: &str, force: bool) -> Out {
        if force {
            self.cmd(&["delete", "--force", id])
        } else {
            self.cmd(&["delete", id])
        }
    }

    /// Foreground `run --bundle B ID`, not asserted (the exit code is the point).
    pub fn run(&self, id: &str, bundle: &Bundle) -> Out {
        self.command(["run", "--bundle"])
            .arg(bundle.path())
            .arg(id)
            .output()
    }

    /// Poll `state ID` until its status is `want` or `timeout` passes.
    #[track_caller]
    pub fn wait_status(&self, id: &str, want: &str, timeout: Duration) -> Value {
        let mut last;
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(2);
        loop {
            let out = self.cmd(&["state", id]);
            if out.success() {
                let st = out.json();
                if st["status"] == want {
                    return st;
                }
                last = out.stdout;
            } else {
                last = format!("{out:?}");
            }
            if Instant::now() >= deadline {
                panic!("container {id} did not reach status {want:?} within {timeout:?}; last state:\n{last}");
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// `list --format json` as a vector (runc prints `null` for no containers).
    #[track_caller]
    pub fn list_json(&self) -> Vec<Value> {
        match self.cmd(&["list", "--format", "json"]).ok().json() {
            Value::Null => Vec::new(),
            Value::Array(v) => v,
            other => panic!("list --format json printed neither an array nor null: {other}"),
        }
    }

    /// Assert a refused command: exit code 1, something on stderr containing one
    /// of `any_of` (case-insensitive; empty means any text). For sangja also:
    /// stderr is exactly one line and starts with `sangja: `.
    #[track_caller]
    pub fn assert_error(&self, out: &Out, any_of: &[&str]) {
        assert_eq!(out.code, Some(1), "expected exit code 1:\n{out:?}");
        let err = out.stderr.trim();
        assert!(
            !err.is_empty(),
            "expected an error message on stderr:\n{out:?}"
        );
        if !any_of.is_empty() {
            let low = err.to_lowercase();
            assert!(
                any_of.iter().any(|s| low.contains(&s.to_lowercase())),
                "stderr should contain one of {any_of:?}:\n{out:?}"
            );
        }
        if self.is_sangja() {
            assert_eq!(
                err.lines().count(),
                1,
                "sangja prints its error as one line:\n{out:?}"
            );
            assert!(
                err.starts_with("sangja: "),
                "sangja errors start with `sangja: `:\n{out:?}"
            );
        }
    }

    /// For sangja only: stderr contains every one of `all_of` (exact wording checks).
    #[track_caller]
    pub fn assert_sangja_wording(&self, out: &Out, all_of: &[&str]) {
        if !self.is_sangja() {
            return;
        }
        for s in all_of {
            assert!(
                out.stderr.contains(s),
                "sangja's message should contain {s:?}:\n{out:?}"
            );
        }
    }
}

/// One invocation being prepared.
pub struct Cmd {
    rt: Runtime,
    args: Vec<OsString>,
    with_root: bool,
    cwd: Option<PathBuf>,
    stdout: Option<PathBuf>,
    timeout: Duration,
    fds: Vec<(File, RawFd)>,
    envs: Vec<(OsString, OsString)>,
    /// Run the runtime as `wrapper <runtime> args...`.
    wrapper: Option<PathBuf>,
}

impl Cmd {
    /// Run the runtime through this program, which gets the runtime's path and arguments.
    pub fn under(mut self, wrapper: impl AsRef<Path>) -> Self {
        self.wrapper = Some(wrapper.as_ref().to_path_buf());
        self
    }
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.args.push(a.as_ref().to_os_string());
        self
    }
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }
    /// Do not add `--root` (for `spec`, `--version`, `--help`).
    pub fn no_root(mut self) -> Self {
        self.with_root = false;
        self
    }
    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Self {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }
    /// Send stdout to this file (appended; the container inherits it).
    pub fn stdout_to(mut self, path: impl AsRef<Path>) -> Self {
        self.stdout = Some(path.as_ref().to_path_buf());
        self
    }
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
    /// Set an environment variable of the runtime process.
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Self {
        self.envs
            .push((k.as_ref().to_os_string(), v.as_ref().to_os_string()));
        self
    }
    /// Give the runtime `file` as descriptor `target` (for `--preserve-fds`).
    pub fn pass_fd(mut self, file: File, target: RawFd) -> Self {
        self.fds.push((file, target));
        self
    }

    fn cmdline(&self) -> String {
        let mut s = self.rt.path().display().to_string();
        if self.with_root {
            s.push_str(&format!(" --root {}", self.rt.root().display()));
        }
        for a in &self.args {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        s
    }

    /// Start it. Output goes to files (never pipes: a detached container keeps
    /// the runtime's stdout open, and a pipe reader would wait for it forever).
    pub fn spawn(self) -> Running {
        let n = util::next_serial();
        let out_path = self
            .stdout
            .clone()
            .unwrap_or_else(|| self.rt.0.io.join(format!("{n}.out")));
        let err_path = self.rt.0.io.join(format!("{n}.err"));
        let out_file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&out_path)
            .unwrap_or_else(|e| panic!("open {}: {e}", out_path.display()));
        let out_start = out_file.metadata().map(|m| m.len()).unwrap_or(0);
        let err_file = File::create(&err_path)
            .unwrap_or_else(|e| panic!("create {}: {e}", err_path.display()));
        let cmdline = self.cmdline();
        let mut c = match &self.wrapper {
            Some(w) => {
                let mut c = Command::new(w);
                c.arg(self.rt.path());
                c
            }
            None => Command::new(self.rt.path()),
        };
        if self.with_root {
            c.arg("--root").arg(self.rt.root());
        }
        // Marks the runtime and every process it forks (until they exec) with
        // the command line, which names the bundle: leftovers::processes finds
        // a leaked pre-exec init by it even if the runtime ignores cgroupsPath.
        let cwd_note = self
            .cwd
            .as_ref()
            .map(|d| format!(" (cwd {})", d.display()))
            .unwrap_or_default();
        c.env(MARKER_ENV, format!("{cmdline}{cwd_note}"));
        c.envs(self.envs.iter().map(|(k, v)| (k, v)));
        c.args(&self.args)
            .stdin(Stdio::null())
            .stdout(out_file)
            .stderr(err_file)
            .process_group(0);
        if let Some(d) = &self.cwd {
            c.current_dir(d);
        }
        let pairs: Vec<(RawFd, RawFd)> =
            self.fds.iter().map(|(f, t)| (f.as_raw_fd(), *t)).collect();
        assert!(
            pairs.len() <= MAX_PASSED_FDS,
            "at most {MAX_PASSED_FDS} passed fds"
        );
        if !pairs.is_empty() {
            // SAFETY: the closure only calls async-signal-safe fcntl/dup2 and does
            // not allocate (other test threads may hold the allocator's lock).
            unsafe {
                c.pre_exec(move || {
                    // Move every source above the targets first, so a source that
                    // happens to sit on another pair's target is not clobbered.
                    let mut tmp = [0 as RawFd; MAX_PASSED_FDS];
                    for (i, &(src, _)) in pairs.iter().enumerate() {
                        let t = libc::fcntl(src, libc::F_DUPFD_CLOEXEC, 1000);
                        if t < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        tmp[i] = t;
                    }
                    for (&t, &(_, dst)) in tmp.iter().zip(&pairs) {
                        if libc::dup2(t, dst) < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                    }
                    Ok(())
                });
            }
        }
        let child = c.spawn().unwrap_or_else(|e| panic!("spawn {cmdline}: {e}"));
        Running {
            child: Some(child),
            cmdline,
            out_path,
            out_start,
            err_path,
            timeout: self.timeout,
            started: Instant::now(),
            _fds: self.fds,
        }
    }

    /// Run to completion; panics (after killing it) if it outlives the timeout.
    #[track_caller]
    pub fn output(self) -> Out {
        self.spawn().wait()
    }
}

/// A runtime process that is running; killed (whole process group) if dropped unwaited.
pub struct Running {
    child: Option<Child>,
    cmdline: String,
    out_path: PathBuf,
    out_start: u64,
    err_path: PathBuf,
    timeout: Duration,
    started: Instant,
    _fds: Vec<(File, RawFd)>,
}

impl Running {
    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap_or(0)
    }

    /// Send `sig` to the runtime process itself (not its group).
    pub fn signal(&self, sig: i32) {
        util::send_signal(self.pid(), sig);
    }

    /// What it has written to stdout so far.
    pub fn stdout_so_far(&self) -> String {
        read_from(&self.out_path, self.out_start)
    }

    /// Poll until stdout contains `needle`, the process exits, or `timeout` passes.
    #[track_caller]
    pub fn wait_stdout(&mut self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(2);
        loop {
            if self.stdout_so_far().contains(needle) {
                return;
            }
            if let Some(Ok(Some(_))) = self.child.as_mut().map(|c| c.try_wait()) {
                let out = self.collect();
                panic!("process exited before printing {needle:?}:\n{out:?}");
            }
            if Instant::now() >= deadline {
                panic!(
                    "no {needle:?} on stdout within {timeout:?}; stdout so far: {:?}",
                    self.stdout_so_far()
                );
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    /// Wait for exit; on timeout kill the process group and return Err.
    pub fn wait_result(mut self) -> Result<Out, Out> {
        let deadline = self.started + self.timeout;
        let mut pause = Duration::from_millis(1);
        loop {
            let child = self.child.as_mut().expect("child");
            match child.try_wait() {
                Ok(Some(_)) => return Ok(self.collect()),
                Ok(None) => {}
                Err(e) => panic!("wait {}: {e}", self.cmdline),
            }
            if Instant::now() >= deadline {
                self.kill_group();
                let mut out = self.collect();
                out.stderr.push_str(&format!(
                    "\n[bench: killed after timeout of {:?}]",
                    self.timeout
                ));
                return Err(out);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(10));
        }
    }

    /// Wait for exit; panics (after killing it) on timeout.
    #[track_caller]
    pub fn wait(self) -> Out {
        match self.wait_result() {
            Ok(o) => o,
            Err(o) => panic!("runtime command hung (killed):\n{o:?}"),
        }
    }

    fn kill_group(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let pid = c.id() as i32;
            // SAFETY: killpg has no memory-safety preconditions; pid is our child's group.
            unsafe { libc::killpg(pid, libc::SIGKILL) };
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn collect(&mut self) -> Out {
        let status = self.child.take().expect("child").wait().expect("wait");
        Out {
            cmdline: self.cmdline.clone(),
            code: status.code(),
            signal: status.signal(),
            stdout: read_from(&self.out_path, self.out_start),
            stderr: fs::read_to_string(&self.err_path).unwrap_or_default(),
            elapsed: self.started.elapsed(),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.kill_group();
        }
    }
}

fn read_from(path: &Path, start: u64) -> String {
    let bytes = fs::read(path).unwrap_or_default();
    let start = (start as usize).min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

fn resolve_binary() -> PathBuf {
    if let Ok(v) = std::env::var("SANGJA_RUNTIME") {
        if !v.is_empty() {
            return find_named(&v);
        }
    }
    let ws = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace dir")
        .to_path_buf();
    let release = ws.join("target/release/sangja");
    let debug = ws.join("target/debug/sangja");
    if release.exists() {
        release
    } else if debug.exists() {
        debug
    } else {
        panic!(
            "no sangja binary at {} or {}: build it first (cargo build), \
             or pick another runtime with SANGJA_RUNTIME=runc",
            release.display(),
            debug.display()
        )
    }
}

fn find_named(v: &str) -> PathBuf {
    if v.contains('/') {
        let p = PathBuf::from(v);
        assert!(p.exists(), "SANGJA_RUNTIME={v}: no such file");
        return fs::canonicalize(&p).unwrap_or(p);
    }
    let path = std::env::var("PATH").unwrap_or_default();
    let dirs = path.split(':').map(str::to_string).chain(
        [
            "/usr/local/sbin",
            "/usr/sbin",
            "/sbin",
            "/usr/local/bin",
            "/usr/bin",
            "/bin",
        ]
        .map(String::from),
    );
    for d in dirs {
        let p = Path::new(&d).join(v);
        if p.is_file() {
            return p;
        }
    }
    panic!("SANGJA_RUNTIME={v}: not found in PATH or the sbin directories")
}

fn detect_kind(path: &Path) -> Kind {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    for (prefix, kind) in [
        ("sangja", Kind::Sangja),
        ("runc", Kind::Runc),
        ("crun", Kind::Crun),
    ] {
        if name.starts_with(prefix) {
            return kind;
        }
    }
    let out = Command::new(path).arg("--version").output();
    let first = out
        .ok()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default();
    for (prefix, kind) in [
        ("sangja", Kind::Sangja),
        ("runc", Kind::Runc),
        ("crun", Kind::Crun),
    ] {
        if first.starts_with(prefix) {
            return kind;
        }
    }
    Kind::Other
}
