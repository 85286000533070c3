//! OCI lifecycle hooks (layer 2): run `path` with `args` and `env`, the container state JSON
//! on stdin, an optional timeout; the hook's stdout and stderr are copied to a sink (sangja's
//! stderr by default) and the tail of its stderr goes into the error. May use `error`.
//!
//! Where each kind runs (runtime-spec 1.3 config.md; the caller picks the process):
//!
//! | kind            | namespace | when                                                                     |
//! |-----------------|-----------|--------------------------------------------------------------------------|
//! | prestart        | runtime   | create: container namespaces exist, before pivot_root; before createRuntime |
//! | createRuntime   | runtime   | create: same point, after prestart                                       |
//! | createContainer | container | create: in init, after the mounts, before pivot_root                    |
//! | startContainer  | container | start: in init, after the start gate, before execve                     |
//! | poststart       | runtime   | start: after the user process was started, before `start` returns       |
//! | poststop        | runtime   | delete: after the container is gone, before `delete` returns            |
//!
//! Failure semantics (runtime-spec 1.3 runtime.md): a failing prestart, createRuntime,
//! createContainer, startContainer or poststart hook is an error; the operation fails and the
//! container is destroyed. A failing poststop hook is a warning and the remaining poststop
//! hooks still run ([`run_hooks_best_effort`]).

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::{Hook, Hooks};

use crate::error::Error;

/// The six hook points of the runtime spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl HookKind {
    /// All kinds, in lifecycle order.
    pub const ALL: [HookKind; 6] = [
        HookKind::Prestart,
        HookKind::CreateRuntime,
        HookKind::CreateContainer,
        HookKind::StartContainer,
        HookKind::Poststart,
        HookKind::Poststop,
    ];

    /// The config.json name.
    pub fn name(self) -> &'static str {
        match self {
            HookKind::Prestart => "prestart",
            HookKind::CreateRuntime => "createRuntime",
            HookKind::CreateContainer => "createContainer",
            HookKind::StartContainer => "startContainer",
            HookKind::Poststart => "poststart",
            HookKind::Poststop => "poststop",
        }
    }

    /// This kind's hooks in `hooks` (empty when absent).
    #[allow(deprecated)]
    pub fn select(self, hooks: &Hooks) -> &[Hook] {
        let v = match self {
            HookKind::Prestart => hooks.prestart(),
            HookKind::CreateRuntime => hooks.create_runtime(),
            HookKind::CreateContainer => hooks.create_container(),
            HookKind::StartContainer => hooks.start_container(),
            HookKind::Poststart => hooks.poststart(),
            HookKind::Poststop => hooks.poststop(),
        };
        v.as_deref().unwrap_or(&[])
    }

    /// Whether a failure fails the operation (all but poststop, runtime-spec 1.3).
    pub fn fatal(self) -> bool {
        self != HookKind::Poststop
    }
}

/// Check every hook: absolute `path`, `timeout` > 0, `env` entries of the form KEY=VALUE.
pub fn validate(hooks: Option<&Hooks>) -> Result<(), Error> {
    let Some(hooks) = hooks else { return Ok(()) };
    for kind in HookKind::ALL {
        for (i, h) in kind.select(hooks).iter().enumerate() {
            let f = format!("hooks.{}[{i}]", kind.name());
            if !h.path().is_absolute() {
                return Err(Error::invalid(
                    format!("{f}.path"),
                    format!("{:?} is not an absolute path", h.path()),
                ));
            }
            if let Some(t) = h.timeout().filter(|t| *t <= 0) {
                return Err(Error::invalid(
                    format!("{f}.timeout"),
                    format!("{t} is not greater than zero"),
                ));
            }
            for (j, e) in h.env().iter().flatten().enumerate() {
                if !e.contains('=') || e.starts_with('=') {
                    return Err(Error::invalid(
                        format!("{f}.env[{j}]"),
                        format!("{e:?} is not KEY=VALUE"),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Run `hooks` of `kind` in order with `state_json` on stdin; the first failure stops and is
/// returned. Hook output goes to sangja's stderr.
pub fn run_hooks(kind: HookKind, hooks: &[Hook], state_json: &str) -> anyhow::Result<()> {
    run_hooks_with(kind, hooks, state_json, &mut io::stderr())
}

/// [`run_hooks`] with the hooks' output copied to `out` (e.g. a buffer that init sends to
/// the parent).
pub fn run_hooks_with(
    kind: HookKind,
    hooks: &[Hook],
    state_json: &str,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    for (i, h) in hooks.iter().enumerate() {
        run_hook(kind, i, h, state_json, out)?;
    }
    Ok(())
}

/// Run every hook even when some fail (poststop); returns the failures for the caller to log
/// as warnings.
pub fn run_hooks_best_effort(
    kind: HookKind,
    hooks: &[Hook],
    state_json: &str,
) -> Vec<anyhow::Error> {
    hooks
        .iter()
        .enumerate()
        .filter_map(|(i, h)| run_hook(kind, i, h, state_json, &mut io::stderr()).err())
        .collect()
}

/// Keep at most this much of a hook's stderr for the error message.
const TAIL: usize = 2048;
/// How often to look for the hook's exit while its pipes stay open (a daemonized child may
/// hold them).
const SLICE: Duration = Duration::from_millis(20);

/// Run one hook: spawn, feed stdin, copy output, wait with the timeout.
pub fn run_hook(
    kind: HookKind,
    index: usize,
    hook: &Hook,
    state_json: &str,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let path = hook.path();
    let what = format!("{} hook #{index} {}", kind.name(), path.display());
    let mut cmd = Command::new(path);
    // argv[0] is args[0] when given (execv semantics); otherwise the path.
    if let Some([argv0, rest @ ..]) = hook.args().as_deref() {
        cmd.arg0(argv0).args(rest);
    }
    if let Some(env) = hook.env() {
        cmd.env_clear();
        for e in env {
            let (k, v) = e.split_once('=').unwrap_or((e, ""));
            cmd.env(k, v);
        }
    }
    // Own process group, so a timeout kills whatever the hook started too.
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().with_context(|| format!("{what}: spawning"))?;
    let deadline = hook
        .timeout()
        .map(|t| Instant::now() + Duration::from_secs(t as u64));

    let result = supervise(&mut child, state_json.as_bytes(), deadline, out);
    let (status, stderr_tail) = match result {
        Ok(r) => r,
        Err(Timeout) => {
            let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
            let _ = child.wait();
            return Err(anyhow!(
                "{what} timed out after {}s and was killed",
                hook.timeout().unwrap_or_default()
            ));
        }
    };
    if status.success() {
        return Ok(());
    }
    let how = match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => status.to_string(),
    };
    let tail = String::from_utf8_lossy(&stderr_tail);
    let tail = tail.trim();
    if tail.is_empty() {
        Err(anyhow!("{what} failed: {how}"))
    } else {
        Err(anyhow!("{what} failed: {how}; stderr: {tail}"))
    }
}

struct Timeout;

fn nonblocking(fd: BorrowedFd<'_>) -> nix::Result<()> {
    let flags = OFlag::from_bits_truncate(fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL)?);
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// The hook's output pipes and what we keep of them.
struct Output<'a> {
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    sink: &'a mut dyn Write,
    tail: Vec<u8>,
}

impl Output<'_> {
    fn open(&self) -> bool {
        self.stdout.is_some() || self.stderr.is_some()
    }

    /// Copy whatever can be read now; a pipe at EOF is closed.
    fn drain(&mut self) {
        let mut buf = [0u8; 4096];
        let Output {
            stdout,
            stderr,
            sink,
            tail,
        } = self;
        let mut pump = |r: &mut dyn Read, keep: bool| -> bool {
            loop {
                match r.read(&mut buf) {
                    Ok(0) => return false,
                    Ok(n) => {
                        let _ = sink.write_all(&buf[..n]);
                        if keep {
                            tail.extend_from_slice(&buf[..n]);
                            let excess = tail.len().saturating_sub(TAIL);
                            tail.drain(..excess);
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return true, // WouldBlock: still open
                }
            }
        };
        if let Some(p) = stdout.as_mut() {
            if !pump(p, false) {
                *stdout = None;
            }
        }
        if let Some(p) = stderr.as_mut() {
            if !pump(p, true) {
                *stderr = None;
            }
        }
    }
}

/// Feed stdin, copy stdout/stderr to `sink`, keep the stderr tail, until the hook exits (or
/// the deadline passes). Single-threaded: init must not start threads.
fn supervise(
    child: &mut Child,
    input: &[u8],
    deadline: Option<Instant>,
    sink: &mut dyn Write,
) -> Result<(ExitStatus, Vec<u8>), Timeout> {
    let mut stdin = child.stdin.take().filter(|_| !input.is_empty());
    let mut o = Output {
        stdout: child.stdout.take(),
        stderr: child.stderr.take(),
        sink,
        tail: Vec::new(),
    };
    let fds = [
        stdin.as_ref().map(|f| f.as_fd()),
        o.stdout.as_ref().map(|f| f.as_fd()),
        o.stderr.as_ref().map(|f| f.as_fd()),
    ];
    for fd in fds.into_iter().flatten() {
        let _ = nonblocking(fd);
    }
    let mut written = 0usize;
    loop {
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            return Err(Timeout);
        }
        if stdin.is_none() && !o.open() && deadline.is_none() {
            // Everything closed and no deadline: a plain wait is all that is left.
            return Ok((child.wait().expect("wait for hook"), o.tail));
        }
        let mut wait = SLICE;
        if let Some(d) = deadline {
            wait = wait.min(d.saturating_duration_since(now));
        }
        if stdin.is_none() && !o.open() {
            std::thread::sleep(wait);
        } else {
            let mut pfds = Vec::with_capacity(3);
            if let Some(f) = &stdin {
                pfds.push(PollFd::new(f.as_fd(), PollFlags::POLLOUT));
            }
            if let Some(f) = &o.stdout {
                pfds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
            }
            if let Some(f) = &o.stderr {
                pfds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
            }
            let timeout = PollTimeout::try_from(wait).unwrap_or(PollTimeout::ZERO);
            let _ = poll(&mut pfds, timeout);
        }
        if let Some(f) = stdin.as_mut() {
            match f.write(&input[written..]) {
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => written = input.len(), // EPIPE: the hook does not read stdin
            }
            if written >= input.len() {
                stdin = None; // closing gives the hook EOF
            }
        }
        o.drain();
        // Exited, even if something it started still holds the pipes: done.
        if let Ok(Some(status)) = child.try_wait() {
            o.drain();
            return Ok((status, o.tail));
        }
    }
}

#[cfg(test)]
mod tests;
