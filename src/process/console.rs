//! `process.terminal`: the pty is made INSIDE the container (its own devpts instance), its
//! slave becomes init's controlling terminal and stdio, and the master travels to the
//! parent, which sends it to `--console-socket` or relays it in the foreground.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use anyhow::Context;
use nix::fcntl::OFlag;
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};

use crate::sys::open::openat;
use crate::sys::socket::send_with_fds;
use crate::sys::tty::{set_controlling_tty, set_window_size, Winsize};

/// A pty made for the container: the master, and the slave's path inside the container.
pub struct Pty {
    pub master: OwnedFd,
    pub slave_name: String,
}

/// init (after pivot_root): open a pty through the container's /dev/ptmx, become a session
/// leader with the slave as controlling terminal, and make the slave fds 0, 1 and 2.
pub fn attach_new_pty(size: Option<(u16, u16)>) -> anyhow::Result<Pty> {
    let ptm = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .context("open /dev/ptmx")?;
    grantpt(&ptm).context("grantpt")?;
    unlockpt(&ptm).context("unlockpt")?;
    let slave_name = ptsname_r(&ptm).context("ptsname")?;
    let slave = openat(
        None,
        slave_name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY,
        nix::sys::stat::Mode::empty(),
    )
    .with_context(|| format!("open {slave_name}"))?;
    if let Some((rows, cols)) = size {
        let ws = Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        set_window_size(slave.as_fd(), &ws).context("set the console size")?;
    }
    nix::unistd::setsid().context("setsid")?;
    set_controlling_tty(slave.as_fd()).context("make the pty the controlling terminal")?;
    for target in 0..=2 {
        nix::unistd::dup2(std::os::fd::AsRawFd::as_raw_fd(&slave), target)
            .with_context(|| format!("dup the pty onto fd {target}"))?;
    }
    let master = ptm
        .as_fd()
        .try_clone_to_owned()
        .context("keep the pty master")?;
    Ok(Pty { master, slave_name })
}

/// Hand the pty master to the `--console-socket` listener: ONE fd with SCM_RIGHTS and the
/// pty's name as payload, as containerd's go-runc and conmon expect.
pub fn send_to_console_socket(socket: &Path, master: &OwnedFd, name: &str) -> anyhow::Result<()> {
    let stream = UnixStream::connect(socket)
        .with_context(|| format!("connect to console socket {}", socket.display()))?;
    send_with_fds(stream.as_fd(), name.as_bytes(), &[master.as_fd()])
        .with_context(|| format!("send the pty to console socket {}", socket.display()))
}
