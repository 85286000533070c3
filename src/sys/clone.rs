//! `clone3` (with the legacy `clone` as fallback) used like `fork`: no new stack, no CLONE_VM.
//! The runtime is single-threaded when it calls this, so the child may keep using the heap.

use std::io;

use nix::unistd::Pid;

/// `CLONE_INTO_CGROUP` (Linux 5.7); libc's constant is an i32 that overflows.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Which side of the clone we are on.
pub enum Forked {
    Child,
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
/// Falls back to `clone(2)` when clone3 is missing or filtered (ENOSYS), e.g. under an old
/// seccomp profile; the cgroup placement is then the caller's job.
pub fn clone_fork(flags: u64, cgroup_fd: Option<i32>) -> io::Result<Forked> {
    let mut args = CloneArgs {
        flags,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(fd) = cgroup_fd {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd as u64;
    }
    // SAFETY: clone3 without CLONE_VM and with a null stack behaves like fork: the child gets a
    // copy of the address space. `args` lives for the duration of the call and its size is passed.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    let ret = if ret < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
        // SAFETY: legacy clone with a null stack and no CLONE_VM is fork with extra flags;
        // the remaining pointer arguments are unused (null) for these flags.
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
    } else {
        ret
    };
    match ret {
        r if r < 0 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(Pid::from_raw(pid as i32))),
    }
}
