//! Helpers for tests that change the process: they run in a forked child.

use nix::sys::wait::{waitpid, WaitStatus};

use crate::sys::glibc_fork::{fork, Forked};
use crate::sys::process::exit_now;

/// Run `f` in a child forked with glibc's fork (the test harness has other threads, see
/// `sys::fork`) and return its exit code (128 + signal when killed). A panic in
/// the child exits 101. The child never returns into the test harness.
pub(crate) fn in_child(f: impl FnOnce() -> i32) -> i32 {
    match fork().expect("fork") {
        Forked::Child { .. } => {
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(101);
            exit_now(code)
        }
        Forked::Parent(pid) => match waitpid(pid, None).expect("waitpid") {
            WaitStatus::Exited(_, c) => c,
            WaitStatus::Signaled(_, s, _) => 128 + s as i32,
            other => panic!("unexpected wait status {other:?}"),
        },
    }
}

/// The value of `key:` in a `/proc/<pid>/status` text.
pub(crate) fn status_field<'a>(status: &'a str, key: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
        .map(str::trim)
        .unwrap_or_else(|| panic!("{key} not in status"))
}

/// errno of the last failed libc-style call, for children that check syscall results.
pub(crate) fn errno_of<T>(r: nix::Result<T>) -> i32 {
    match r {
        Ok(_) => 0,
        Err(e) => e as i32,
    }
}
