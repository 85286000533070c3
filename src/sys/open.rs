//! `openat`/`openat2` returning an owned fd (nix 0.29 hands back raw fds), with EINTR retried.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;
use nix::NixPath;

/// How often `openat2` is retried when the kernel reports a concurrent rename or mount (EAGAIN).
const EAGAIN_RETRIES: usize = 32;

fn own(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful open call; nobody else owns or closes it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// `openat(2)` relative to `dir` (or the cwd when `None`); `O_CLOEXEC` is always added.
pub fn openat<P: ?Sized + NixPath>(
    dir: Option<BorrowedFd<'_>>,
    path: &P,
    flags: OFlag,
    mode: Mode,
) -> nix::Result<OwnedFd> {
    let dirfd = dir.map(|d| d.as_raw_fd());
    loop {
        match nix::fcntl::openat(dirfd, path, flags | OFlag::O_CLOEXEC, mode) {
            Err(Errno::EINTR) => continue,
            other => return other.map(own),
        }
    }
}

/// `openat2(2)` relative to `dir` with the given resolve flags; `O_CLOEXEC` is always added.
/// ENOSYS (kernel older than 5.6) is passed to the caller, which may fall back.
pub fn openat2<P: ?Sized + NixPath>(
    dir: BorrowedFd<'_>,
    path: &P,
    flags: OFlag,
    mode: Mode,
    resolve: ResolveFlag,
) -> nix::Result<OwnedFd> {
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .mode(mode)
        .resolve(resolve);
    let mut again = 0;
    loop {
        match nix::fcntl::openat2(dir.as_raw_fd(), path, how) {
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) if again < EAGAIN_RETRIES => again += 1,
            other => return other.map(own),
        }
    }
}
