//! Terminal ioctls nix does not wrap safely: the controlling terminal and window sizes.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

pub use nix::pty::Winsize;

/// Make the terminal `fd` the controlling terminal of this session (TIOCSCTTY).
pub fn set_controlling_tty(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: TIOCSCTTY takes an integer argument (0: do not steal); no memory is passed.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY as _, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The window size of terminal `fd`, `None` when it is not a terminal.
pub fn window_size(fd: BorrowedFd<'_>) -> Option<Winsize> {
    let mut ws = Winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one struct winsize into `ws`, which is valid and writable.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ as _, &mut ws) };
    (ret == 0).then_some(ws)
}

/// Set the window size of terminal `fd`.
pub fn set_window_size(fd: BorrowedFd<'_>, ws: &Winsize) -> io::Result<()> {
    // SAFETY: TIOCSWINSZ reads one struct winsize from `ws`, valid for the call.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ as _, ws) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
