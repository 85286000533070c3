//! Test support: run a closure in a forked child and wait for it. Only for tests that must change
//! process-wide state (mount namespaces, root directory) without touching the test process.

use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::ForkResult;

/// Fork; the child runs `f` and leaves with `_exit(f())`, never returning into the caller's frames.
/// The parent waits and gets the child's exit code (128 + signal number when it was killed).
pub fn run_in_child<F: FnOnce() -> i32>(f: F) -> nix::Result<i32> {
    // SAFETY: the child only runs `f` and then `_exit`s; it never unwinds into the caller's stack.
    // Callers run it from tests, where the child uses only memory allocation (glibc's malloc is
    // fork-safe) and syscalls.
    match unsafe { nix::unistd::fork() }? {
        ForkResult::Child => {
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(101);
            // SAFETY: `_exit` ends the process at once without running the parent's atexit handlers.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => loop {
            match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, code)) => return Ok(code),
                Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
                Ok(_) => continue,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e),
            }
        },
    }
}
