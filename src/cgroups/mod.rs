//! cgroup v2 for containers: find the hierarchy, resolve `linux.cgroupsPath`, create the
//! cgroup and enable the controllers down its path, write every OCI resource (one writer per
//! controller, each taking the cgroup directory, so unit tests run on tempdir trees), enforce
//! device rules with a hand-assembled eBPF program, freeze/thaw, kill, list pids, gather
//! stats, remove. Uses `spec` types (oci-spec), `sys` (bpf), `error`.
//!
//! How the container layer uses it:
//!
//! ```text
//! create:  validate_resources(&res)?                       // before any side effect
//!          let h = Hierarchy::discover()?;
//!          let path = resolve_path(spec cgroupsPath, id, &h.own, driver)?;   // → state.json
//!          let rules = DeviceRules::for_container(res.devices, linux.devices)?;
//!          let cg = Cgroup::create(&h, &path, &res, Some(&rules))?;         // rollback: kill_all + remove
//!          let fd = cg.open_fd()?;  clone_fork(flags, Some(fd.as_raw_fd()))
//!          (legacy clone fallback → cg.add_process(pid))
//! exec:    cg.add_process(pid)  (or clone3 with cg.open_fd())
//! later:   let cg = Cgroup::open(&Hierarchy::discover()?, &state.cgroup_path)?;
//!          pause/resume: cg.freeze() / cg.thaw(); status paused ⇔ cg.is_frozen()
//!          kill --all SIG: cg.signal_all(SIG);  ps: cg.pids()
//!          update: validate_update(&r)? then cg.update(&r, rules)
//!          events: cg.stats(), cg.oom_count()
//!          delete: cg.kill_all() then cg.remove()
//! ```
//!
//! On a hybrid host (cgroup2 at /sys/fs/cgroup/unified without controllers) all of this
//! works as long as no limit is requested; a limit fails `create` with
//! `ControllerUnavailable` naming the controller and why.

mod cgroup;
mod controllers;
mod cpu;
mod cpuset;
mod device_attach;
mod device_prog;
mod devices;
mod files;
mod freezer;
mod hierarchy;
mod hugetlb;
mod io;
mod manager;
mod memory;
mod path;
mod pids;
mod procs;
mod rdma;
mod resources;
mod stats;
mod unified;
mod validate;

#[cfg(test)]
mod kernel_tests;
#[cfg(test)]
mod testutil;

pub use cgroup::{as_unavailable, remove_dir, Cgroup, DeviceProgram, DEFAULT_REMOVE_TIMEOUT};
pub use controllers::needed as needed_controllers;
pub use cpu::shares_to_weight;
pub use devices::{DevKind, DeviceRule, DeviceRules, DEFAULT_ALLOWED};
pub use freezer::{freeze, is_frozen, thaw};
pub use hierarchy::{own_cgroup, Hierarchy};
pub use io::blkio_to_io_weight;
pub use manager::{create as create_manager, open as open_manager, Manager};
pub use memory::swap_to_v2;
pub use path::{resolve_path, systemd_unsupported, CgroupPath, Driver, DEFAULT_PARENT};
pub use procs::{add_process, kill_all, pids, signal_all};
pub use stats::{stats, MemoryEvents, Stats};
pub use validate::{validate_resources, validate_update, Machine};

/// Device programs attached directly to the cgroup open at `fd` (diagnostics and tests).
pub fn device_programs(fd: std::os::fd::BorrowedFd<'_>) -> anyhow::Result<usize> {
    device_attach::attached(fd)
}
