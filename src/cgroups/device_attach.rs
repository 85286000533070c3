//! Install a device program on a cgroup: load the assembled program, attach it with
//! `BPF_F_ALLOW_MULTI`, then detach the programs that were there before. Between the attach
//! and the detach both are in force, and a request must pass all of them, so an update never
//! lets through what either the old or the new rules deny.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use anyhow::Context;

use super::device_prog;
use super::devices::DeviceRules;
use crate::sys::bpf;

/// Replace the device program(s) attached to the cgroup open at `cgroup` (`dir` is for
/// messages).
pub fn replace(cgroup: BorrowedFd<'_>, dir: &Path, rules: &DeviceRules) -> anyhow::Result<()> {
    install(cgroup, dir, load(dir, rules)?)
}

/// Assemble and load (verify) the program for `rules`, attached nowhere yet: the costly half,
/// which `create` does while init sets up its root filesystem.
pub fn load(dir: &Path, rules: &DeviceRules) -> anyhow::Result<OwnedFd> {
    let insns = device_prog::assemble(rules);
    bpf::load_cgroup_device_prog(&insns, c"Apache-2.0")
        .with_context(|| format!("load the device program for {}", dir.display()))
}

/// Attach the loaded `prog`, then detach the programs that were there before.
pub fn install(cgroup: BorrowedFd<'_>, dir: &Path, prog: OwnedFd) -> anyhow::Result<()> {
    let old = bpf::query_cgroup_device(cgroup)
        .with_context(|| format!("list the device programs of {}", dir.display()))?;
    bpf::attach_cgroup_device(cgroup, prog.as_fd())
        .with_context(|| format!("attach the device program to {}", dir.display()))?;
    for id in old {
        let fd = match bpf::prog_fd_by_id(id) {
            Ok(fd) => fd,
            // Gone already (detached by someone else): nothing to do.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => return Err(e).with_context(|| format!("open device program {id}")),
        };
        bpf::detach_cgroup_device(cgroup, fd.as_fd())
            .with_context(|| format!("detach old device program {id} from {}", dir.display()))?;
    }
    Ok(())
}

/// How many device programs are attached directly to the cgroup (tests, diagnostics).
pub fn attached(cgroup: BorrowedFd<'_>) -> anyhow::Result<usize> {
    Ok(bpf::query_cgroup_device(cgroup)?.len())
}
