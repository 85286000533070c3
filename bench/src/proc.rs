//! One timed runtime call: spawn, wait under a deadline, collect wall time and peak RSS.
//!
//! Every command runs as the child of bench-launch (bench/launch/launch.rs), a ~2 KiB
//! static program that times its fork..wait4 and reports ru_maxrss: the wall time includes
//! loading the runtime's binary (part of its real cost) and one fork of a tiny process, the
//! same for every runtime and the floors; the peak RSS is the runtime's own (and that of
//! every descendant it waited for), not inflated by the bench's memory copied at fork.
//!
//! The deadline is a `poll` on a pidfd (no busy polling, no signal games). A call that
//! passes its deadline has its whole process group killed with SIGKILL and is reported as a
//! hang; the caller never retries it.

use std::fs::File;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub enum Outcome {
    Ok,
    /// Non-zero exit (or killed by a signal: 128 + signal) with the end of its stderr.
    Failed(i32, String),
    /// Still running at the deadline; killed.
    Hang,
}

#[derive(Debug, Clone)]
pub struct Call {
    pub wall: Duration,
    /// Peak resident set of the process and its waited-for descendants, KiB.
    pub maxrss_kib: i64,
    pub outcome: Outcome,
    /// The command's stdout, only when asked for.
    pub stdout: String,
}

impl Call {
    pub fn ok(&self) -> bool {
        matches!(self.outcome, Outcome::Ok)
    }
}

/// Where a call's stderr (and optionally stdout) go: two files with a per-thread prefix, so
/// failures can be explained without pipes (a detached container keeps its inherited stdio
/// open, which would make reading a pipe to EOF hang).
pub struct Scratch {
    base: PathBuf,
}

impl Scratch {
    pub fn new(dir: &Path, tag: &str) -> Scratch {
        Scratch {
            base: dir.join(tag),
        }
    }
    fn err(&self) -> PathBuf {
        self.base.with_extension("err")
    }
    fn out(&self) -> PathBuf {
        self.base.with_extension("out")
    }
    fn res(&self) -> PathBuf {
        self.base.with_extension("res")
    }
}

/// Make this process the reaper of its orphaned descendants: container inits whose runtime
/// exited are then our children, so we can reap them instead of leaving that to PID 1
/// (which, on some hosts, is not a real init).
pub fn become_subreaper() {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes an integer argument and changes
    // only this process's attributes.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if rc != 0 {
        eprintln!(
            "bench: PR_SET_CHILD_SUBREAPER failed: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Reap every child that has exited. Only call when no timed call is in flight, so it
/// cannot steal the status of a process `call` is waiting for.
pub fn reap_orphans() -> usize {
    let mut n = 0;
    loop {
        let mut status = 0;
        // SAFETY: waitpid with a valid pointer to a local int.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return n;
        }
        n += 1;
    }
}

fn pidfd_open(pid: i32) -> i32 {
    // SAFETY: a raw syscall with two integer arguments; returns an fd we own or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    i32::try_from(fd).unwrap_or(-1)
}

/// Wait until `pid` exits or `timeout` passes. True if it exited (is waitable).
fn wait_exit(pid: i32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let fd = pidfd_open(pid);
    if fd >= 0 {
        let exited = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX);
            let mut p = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: poll on one valid pollfd.
            let rc = unsafe { libc::poll(&mut p, 1, ms) };
            if rc > 0 {
                break true;
            }
            if rc == 0 {
                break false;
            }
            if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                break false;
            }
        };
        // SAFETY: fd is ours and closed once.
        unsafe { libc::close(fd) };
        return exited;
    }
    // No pidfd (old kernel): check with waitid(WNOWAIT) every 200 µs.
    loop {
        // SAFETY: siginfo_t is plain data; zeroed is a valid value.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid with a valid siginfo pointer; WNOWAIT leaves the child waitable.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                u32::try_from(pid).unwrap_or(0),
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        // SAFETY: reading si_pid of a siginfo filled by waitid.
        if rc == 0 && unsafe { info.si_pid() } == pid {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn tail(path: &Path, max: usize) -> String {
    let mut s = String::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_string(&mut s);
    }
    // The first line that says "error" says most (a backtrace may follow it); else the
    // last non-empty line. Kept short for the report.
    let lines: Vec<&str> = s.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let line = lines
        .iter()
        .find(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("error") || l.contains("erro[") || l.contains("failed")
        })
        .or(lines.last())
        .copied()
        .unwrap_or("(no stderr)");
    line.chars().take(max).collect()
}

static LAUNCHER: OnceLock<PathBuf> = OnceLock::new();

/// Set the path of bench-launch (bench/launch/launch.rs), through which every timed command
/// is forked: see that file for why.
pub fn set_launcher(p: PathBuf) {
    let _ = LAUNCHER.set(p);
}

/// Run `argv` (argv[0] an absolute path) through bench-launch with stdin and (unless
/// `want_stdout`) stdout on /dev/null, stderr to the scratch file, in its own process group,
/// and wait up to `timeout`. The wall time and peak RSS are bench-launch's measurement of
/// its child: from just before its fork to just after its wait4.
pub fn call(argv: &[String], timeout: Duration, scratch: &Scratch, want_stdout: bool) -> Call {
    let fail = |msg: String| Call {
        wall: Duration::ZERO,
        maxrss_kib: 0,
        outcome: Outcome::Failed(-1, msg),
        stdout: String::new(),
    };
    let Some(launcher) = LAUNCHER.get() else {
        return fail("bench-launch not set".into());
    };
    let err = match File::create(scratch.err()) {
        Ok(f) => f,
        Err(e) => return fail(format!("scratch file: {e}")),
    };
    let out = if want_stdout {
        match File::create(scratch.out()) {
            Ok(f) => Stdio::from(f),
            Err(e) => return fail(format!("scratch file: {e}")),
        }
    } else {
        Stdio::null()
    };
    let res = scratch.res();
    let _ = std::fs::remove_file(&res);
    let mut cmd = Command::new(launcher);
    cmd.arg(&res)
        .args(argv)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::from(err))
        .process_group(0);

    let t0 = Instant::now();
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return fail(format!("cannot execute {}: {e}", launcher.display())),
    };
    // std reads the child's handles only through `wait`; we wait ourselves by pid.
    let pid = i32::try_from(child.id()).unwrap_or(0);
    drop(child);
    let exited = wait_exit(pid, timeout);
    if !exited {
        // SAFETY: kill of the process group we created for this call.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
    }
    let mut status = 0;
    // SAFETY: waitpid on our own child with a valid pointer.
    let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
    let outer = t0.elapsed();
    if rc != pid {
        return fail(format!(
            "waitpid({pid}): {}",
            std::io::Error::last_os_error()
        ));
    }
    if !exited {
        return Call {
            wall: outer,
            maxrss_kib: 0,
            outcome: Outcome::Hang,
            stdout: String::new(),
        };
    }
    let r = std::fs::read(&res).unwrap_or_default();
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) || r.len() != 32 {
        return fail(format!(
            "bench-launch failed (status {status:#x}): {}",
            tail(&scratch.err(), 300)
        ));
    }
    let field = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&r[i * 8..i * 8 + 8]);
        i64::from_le_bytes(b)
    };
    let (wall_ns, maxrss, wstatus) = (field(0), field(1), i32::try_from(field(2)).unwrap_or(-1));
    let outcome = if libc::WIFEXITED(wstatus) && libc::WEXITSTATUS(wstatus) == 0 {
        Outcome::Ok
    } else {
        let code = if libc::WIFEXITED(wstatus) {
            libc::WEXITSTATUS(wstatus)
        } else {
            128 + libc::WTERMSIG(wstatus)
        };
        Outcome::Failed(code, tail(&scratch.err(), 300))
    };
    let stdout = if want_stdout {
        std::fs::read_to_string(scratch.out()).unwrap_or_default()
    } else {
        String::new()
    };
    Call {
        wall: Duration::from_nanos(u64::try_from(wall_ns).unwrap_or(0)),
        maxrss_kib: maxrss,
        outcome,
        stdout,
    }
}

/// The absolute path of a program, searched in PATH like a shell would.
pub fn resolve(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Some(PathBuf::from(name));
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// Run a helper command to completion and return its stdout (setup only, untimed).
pub fn output(argv: &[&str]) -> Result<String, String> {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", argv[0]))?;
    if !out.status.success() {
        return Err(format!(
            "{} exited {}: {}",
            argv.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
