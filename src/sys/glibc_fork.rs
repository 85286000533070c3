//! glibc's `fork()`, for helpers and tests that fork from a multi-threaded process.
//!
//! Unlike the raw `clone3` of [`crate::sys::clone`], glibc's fork runs the atfork handlers
//! (malloc's arena locks are taken around it) and resets glibc's own thread bookkeeping in the
//! child. That matters as soon as other threads exist: after a raw clone3 of a multi-threaded
//! process, glibc's `setgroups`/`setresuid` (its setxid broadcast) wait forever for threads
//! that exist only in the parent.

use std::io;

use nix::unistd::Pid;

pub use crate::sys::clone::Forked;

/// Fork the calling process with glibc's `fork()`. The child has one thread; it should do
/// simple work and leave with [`crate::sys::process::exit_now`].
pub fn fork() -> io::Result<Forked> {
    // SAFETY: fork has no memory-safety preconditions of its own; the child gets a copy of the
    // address space with only the calling thread, and glibc's atfork handlers leave malloc
    // usable there. Callers keep the child's work simple (no locks other threads might hold).
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child { in_cgroup: false }),
        pid => Ok(Forked::Parent(Pid::from_raw(pid))),
    }
}
