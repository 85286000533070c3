//! The only home of `unsafe`: one thin wrapper per syscall that nix does not cover safely.
//! Each wrapper retries EINTR where it can block and names the syscall in its error.
#![allow(unsafe_code)]

pub mod alloc;
pub mod bpf;
pub mod clock;
pub mod clone;
pub mod fd;
#[cfg(test)]
pub mod fork;
#[cfg(test)]
pub mod glibc_fork;
pub mod mount_api;
pub mod netif;
pub mod open;
pub mod process;
pub mod procfs;
pub mod sched;
pub mod seccomp;
pub mod socket;
pub mod statvfs;
pub mod tty;
pub mod userns;
pub mod uts;
