//! `clone3` (with the legacy `clone` as fallback) used like `fork`: no new stack, no CLONE_VM.
//! The runtime is single-threaded when it calls this, so the child may keep using the heap.

use std::io;

use nix::unistd::Pid;

/// `CLONE_INTO_CGROUP` (Linux 5.7); libc's constant is an i32 that overflows.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Which side of the clone we are on.
pub enum Forked {
    /// `in_cgroup`: the child was born in the requested cgroup (false after a fallback, or
    /// when none was asked for); otherwise it must join the cgroup itself.
    Child {
        in_cgroup: bool,
    },
    Parent(Pid),
}

/// The kernel's `struct clone_args` (v2, with the cgroup field).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Create a child in new namespaces given by `flags` (CLONE_NEW*), optionally born in the
/// cgroup open at `cgroup_fd` (CLONE_INTO_CGROUP). The child gets SIGCHLD as exit signal.
/// Fallbacks: a kernel whose clone3 lacks CLONE_INTO_CGROUP (5.3–5.6: EINVAL/E2BIG) gets
/// clone3 without it; clone3 missing or filtered (ENOSYS, e.g. an old seccomp profile) gets
/// `clone(2)`. After a fallback the child reports `in_cgroup: false`.
pub fn clone_fork(flags: u64, cgroup_fd: Option<i32>) -> io::Result<Forked> {
    let (mut ret, mut placed) = match cgroup_fd {
        Some(fd) => (clone3(flags | CLONE_INTO_CGROUP, fd as u64), true),
        None => (clone3(flags, 0), false),
    };
    let errno = || io::Error::last_os_error().raw_os_error();
    if ret < 0 && placed && matches!(errno(), Some(libc::EINVAL | libc::E2BIG)) {
        (ret, placed) = (clone3(flags, 0), false);
    }
    if ret < 0 && errno() == Some(libc::ENOSYS) {
        (ret, placed) = (legacy_clone(flags), false);
    }
    match ret {
        r if r < 0 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child { in_cgroup: placed }),
        pid => Ok(Forked::Parent(Pid::from_raw(pid as i32))),
    }
}

fn clone3(flags: u64, cgroup: u64) -> libc::c_long {
    let args = CloneArgs {
        flags,
        exit_signal: libc::SIGCHLD as u64,
        cgroup,
        ..Default::default()
    };
    // SAFETY: clone3 without CLONE_VM and with a null stack behaves like fork: the child gets a
    // copy of the address space. `args` lives for the duration of the call and its size is passed.
    unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    }
}

fn legacy_clone(flags: u64) -> libc::c_long {
    // SAFETY: legacy clone with a null stack and no CLONE_VM is fork with extra flags; the
    // remaining pointer arguments are unused (null) for these flags.
    unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags | libc::SIGCHLD as u64,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    }
}
