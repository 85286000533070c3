//! `pidfd_open(2)`: a pollable handle that becomes readable when a child exits.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// Open a pidfd for `pid` (Linux 5.3+). ENOSYS on older kernels; callers fall back to polling.
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain integer arguments; a non-negative result is a new fd that we own.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if ret < 0 {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(
            err.kind(),
            format!("pidfd_open({pid}): {err}"),
        ));
    }
    // SAFETY: the kernel just returned this fd to us and nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as i32) })
}
