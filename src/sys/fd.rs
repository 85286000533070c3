//! File-descriptor hygiene before execve.

use std::io;

/// Mark every fd >= `first` close-on-exec, so the container sees only 0..first.
/// Uses `close_range(CLOSE_RANGE_CLOEXEC)` (Linux 5.11+) and falls back to walking /proc/self/fd.
pub fn cloexec_from(first: u32) -> io::Result<()> {
    // SAFETY: close_range takes plain integers; CLOSE_RANGE_CLOEXEC only sets flags, closes nothing.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if ret == 0 {
        return Ok(());
    }
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd: &i32| fd >= first as i32)
        .collect();
    for fd in fds {
        // SAFETY: fcntl(F_SETFD) on an fd number only changes its flags; a stale number
        // (the read_dir fd itself, now closed) just returns EBADF, which we ignore.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}
