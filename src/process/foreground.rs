//! `run` in the foreground: signals blocked before the container can exist (so a fast exit
//! is never missed), then a sigwait loop that forwards signals to init and reaps children
//! until init is gone.

use anyhow::Context;
use nix::errno::Errno;
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// Signals a foreground `run` passes on to the container's init.
pub const FORWARDED: [Signal; 7] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// SIGCHLD and the forwarded signals, blocked until dropped.
pub struct BlockedSignals {
    set: SigSet,
    old: SigSet,
}

impl BlockedSignals {
    /// Block now; call before spawning the container. Also makes this process a subreaper,
    /// so an init that is a grandchild (second fork) is reparented to us and reaped here.
    pub fn block() -> anyhow::Result<Self> {
        let mut set = SigSet::empty();
        set.add(Signal::SIGCHLD);
        for s in FORWARDED {
            set.add(s);
        }
        let mut old = SigSet::empty();
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old))
            .context("block signals")?;
        nix::sys::prctl::set_child_subreaper(true).context("become a child subreaper")?;
        Ok(BlockedSignals { set, old })
    }

    /// The blocked set (for a signalfd in the terminal relay).
    pub fn set(&self) -> &SigSet {
        &self.set
    }

    /// Wait for init to exit, forwarding signals meanwhile. Returns the shell-style exit
    /// code: the exit status, or 128+N when killed by signal N.
    pub fn wait_for_exit(&self, init: Pid) -> anyhow::Result<i32> {
        loop {
            if let Some(code) = reap(init)? {
                return Ok(code);
            }
            let sig = self.set.wait().context("sigwait")?;
            if sig != Signal::SIGCHLD {
                match kill(init, sig) {
                    Ok(()) | Err(Errno::ESRCH) => {}
                    Err(e) => return Err(e).context("forward signal to container init"),
                }
            }
        }
    }
}

impl Drop for BlockedSignals {
    fn drop(&mut self) {
        let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.old), None);
    }
}

/// Reap every exited child; `Some(code)` once init is among them.
pub(super) fn reap(init: Pid) -> anyhow::Result<Option<i32>> {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid == init => return Ok(Some(code)),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == init => {
                return Ok(Some(128 + sig as i32))
            }
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return Ok(None),
            Ok(_) => continue,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e).context("waitpid"),
        }
    }
}
