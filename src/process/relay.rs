//! Foreground terminal relay (`run`/`exec` with a terminal and no console socket): copy
//! between our stdin/stdout and the pty master, with our terminal in raw mode (restored on
//! every way out), window size copied at start and on SIGWINCH, other signals forwarded.

use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use anyhow::Context;
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};
use nix::unistd::Pid;

use super::foreground::{reap, BlockedSignals};
use crate::sys::tty::{set_window_size, window_size};

/// Our terminal in raw mode until dropped.
struct RawMode {
    saved: Option<Termios>,
}

impl RawMode {
    fn enter() -> RawMode {
        let stdin = io::stdin();
        let saved = tcgetattr(stdin.as_fd()).ok();
        if let Some(orig) = &saved {
            let mut raw = orig.clone();
            cfmakeraw(&mut raw);
            let _ = tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        }
        RawMode { saved }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(orig) = &self.saved {
            let _ = tcsetattr(io::stdin().as_fd(), SetArg::TCSANOW, orig);
        }
    }
}

fn copy_window_size(master: BorrowedFd<'_>) {
    if let Some(ws) = window_size(io::stdin().as_fd()).or_else(|| window_size(io::stdout().as_fd()))
    {
        let _ = set_window_size(master, &ws);
    }
}

/// Relay until `init` exits; returns its shell-style exit code.
pub fn relay_until_exit(
    master: OwnedFd,
    init: Pid,
    signals: &BlockedSignals,
) -> anyhow::Result<i32> {
    let sigfd = SignalFd::with_flags(
        signals.set(),
        SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK,
    )
    .context("signalfd")?;
    let _raw = RawMode::enter();
    copy_window_size(master.as_fd());
    let stdin_is_tty = nix::unistd::isatty(io::stdin().as_raw_fd()).unwrap_or(false);
    let (mut stdin_open, mut master_open) = (true, true);
    let mut buf = [0u8; 8192];
    loop {
        if let Some(code) = reap(init)? {
            if master_open {
                drain(&master, &mut buf);
            }
            return Ok(code);
        }
        let stdin = io::stdin();
        let mut fds = vec![PollFd::new(sigfd.as_fd(), PollFlags::POLLIN)];
        if master_open {
            fds.push(PollFd::new(master.as_fd(), PollFlags::POLLIN));
        }
        if stdin_open {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(Errno::EINTR) => continue,
            r => r.context("poll the terminal")?,
        };
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| !f.revents().unwrap_or(PollFlags::empty()).is_empty())
            .collect();
        drop(fds);
        if ready[0] {
            while let Ok(Some(info)) = sigfd.read_signal() {
                let sig = Signal::try_from(info.ssi_signo as i32).ok();
                match sig {
                    Some(Signal::SIGCHLD) | None => {}
                    Some(Signal::SIGWINCH) => copy_window_size(master.as_fd()),
                    Some(s) => match kill(init, s) {
                        Ok(()) | Err(Errno::ESRCH) => {}
                        Err(e) => return Err(e).context("forward signal to the container"),
                    },
                }
            }
        }
        let mut i = 1;
        if master_open {
            if ready[i] {
                master_open = pump(master.as_fd(), io::stdout().as_fd(), &mut buf);
            }
            i += 1;
        }
        if stdin_open && ready[i] && !pump(io::stdin().as_fd(), master.as_fd(), &mut buf) {
            stdin_open = false;
            if !stdin_is_tty {
                // End of piped input: the terminal's end-of-file character (^D).
                let _ = nix::unistd::write(master.as_fd(), &[4u8]);
            }
        }
    }
}

/// Copy what is readable from `from` to `to`; false at end of file or on error (EIO: the
/// pty's last slave is closed).
fn pump(from: BorrowedFd<'_>, to: BorrowedFd<'_>, buf: &mut [u8]) -> bool {
    match nix::unistd::read(from.as_raw_fd(), buf) {
        Ok(0) => false,
        Ok(n) => write_all(to, &buf[..n]).is_ok(),
        Err(Errno::EINTR | Errno::EAGAIN) => true,
        Err(_) => false,
    }
}

fn write_all(to: BorrowedFd<'_>, mut data: &[u8]) -> nix::Result<()> {
    while !data.is_empty() {
        match nix::unistd::write(to, data) {
            Ok(n) => data = &data[n..],
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// After init exits, print what it left in the pty.
fn drain(master: &OwnedFd, buf: &mut [u8]) {
    let _ = nix::fcntl::fcntl(
        master.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    );
    while pump(master.as_fd(), io::stdout().as_fd(), buf) {
        let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        if !matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0) {
            break;
        }
    }
    let _ = io::stdout().flush();
}
