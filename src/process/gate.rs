//! The start gate: `<state>/<id>/exec.fifo`. `create` makes it; init blocks opening it for
//! writing until `start` opens it for reading and takes one byte; `start` then removes it, so
//! its existence is the "created" status.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{bail, Context};
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::stat::Mode;

use crate::sys::open::openat;

/// Make the fifo and return an `O_PATH` handle for init (it cannot reach the state
/// directory after pivot_root, so it reopens the fifo through /proc/self/fd).
pub fn create_gate(path: &Path) -> anyhow::Result<OwnedFd> {
    nix::unistd::mkfifo(path, Mode::from_bits_truncate(0o622))
        .with_context(|| format!("mkfifo {}", path.display()))?;
    // Explicitly, past the umask: an init in a user namespace is "other" to this file.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o622))
        .with_context(|| format!("chmod {}", path.display()))?;
    // Not std's OpenOptions: on musl it masks O_PATH off as part of O_ACCMODE, and a plain
    // read-only open of a fifo blocks until a writer comes.
    openat(None, path, OFlag::O_PATH, Mode::empty())
        .with_context(|| format!("open {}", path.display()))
}

/// init: block until `start` opens the gate, then write the byte that lets it go on. The
/// returned fifo stays open (close-on-exec) until init's execve, which is how `start` learns
/// that the user process runs.
pub fn wait_at_gate(gate: &OwnedFd) -> anyhow::Result<File> {
    let reopen = format!("/proc/self/fd/{}", gate.as_raw_fd());
    let mut fifo = OpenOptions::new()
        .write(true)
        .open(&reopen)
        .with_context(|| format!("open the start gate through {reopen} (is /proc mounted?)"))?;
    fifo.write_all(b"0").context("write to the start gate")?;
    Ok(fifo)
}

/// `start`: open the gate, take init's byte, remove the fifo, then wait until init's end of
/// the fifo closes — at its execve — so `start` returns once the user process runs (poststart
/// hooks must come after that). `init_alive` is polled while waiting, so an init that died
/// gives an error or an end, never a hang.
pub fn open_gate(path: &Path, init_alive: impl Fn() -> bool) -> anyhow::Result<()> {
    // Non-blocking open succeeds with no writer yet; a blocked writer counts as one already.
    let mut fifo = File::from(
        openat(
            None,
            path,
            OFlag::O_RDONLY | OFlag::O_NONBLOCK,
            Mode::empty(),
        )
        .with_context(|| format!("open {}", path.display()))?,
    );
    loop {
        let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
        let n = match poll(&mut fds, PollTimeout::from(100u16)) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => r.context("poll the start gate")?,
        };
        let revents = fds[0].revents().unwrap_or(PollFlags::empty());
        if n > 0 && revents.intersects(PollFlags::POLLIN | PollFlags::POLLHUP) {
            let mut byte = [0u8; 1];
            match fifo.read(&mut byte) {
                Ok(1) => break,
                Ok(_) => bail!("container init exited before it was started"),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e).context("read the start gate"),
            }
        }
        if !init_alive() {
            bail!("container init exited before it was started");
        }
    }
    std::fs::remove_file(path).with_context(|| format!("remove {}", path.display()))?;
    wait_for_writer_to_close(&mut fifo, &init_alive)
}

/// Read until end of file: the writer's fd closes when init execs (or dies).
fn wait_for_writer_to_close(fifo: &mut File, init_alive: &impl Fn() -> bool) -> anyhow::Result<()> {
    loop {
        let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(100u16)) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => r.context("poll the start gate")?,
        };
        let mut byte = [0u8; 1];
        match fifo.read(&mut byte) {
            Ok(0) => return Ok(()),
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e).context("read the start gate"),
        }
        if !init_alive() {
            return Ok(());
        }
    }
}
