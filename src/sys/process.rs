//! Process-level calls nix leaves unsafe or does not wrap: `_exit` and the session keyring.

use std::ffi::CString;
use std::io;

/// Leave the process at once, without running atexit handlers or flushing buffers that a
/// forked child shares by copy with its parent.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no Rust state.
    unsafe { libc::_exit(code) }
}

/// Give SIGPIPE back its default action, in a container process just before execve. Rust's
/// runtime ignores it before `main`, and an ignored signal stays ignored across execve.
pub fn default_sigpipe() {
    // SAFETY: installing SIG_DFL involves no handler code; the caller is single-threaded.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

/// Join a new anonymous-per-name session keyring (`KEYCTL_JOIN_SESSION_KEYRING`), so the
/// container does not share the caller's keys. ENOSYS/EACCES (keyrings disabled or filtered)
/// are reported to the caller, which may ignore them as runc does.
pub fn join_session_keyring(name: &str) -> io::Result<()> {
    let name = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: KEYCTL_JOIN_SESSION_KEYRING (1) takes one pointer to a NUL-terminated name that
    // stays alive during the call.
    let ret = unsafe { libc::syscall(libc::SYS_keyctl, 1, name.as_ptr()) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
