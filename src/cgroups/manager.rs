//! The seam between the container lifecycle and a cgroup driver. Today there is one driver,
//! cgroupfs (`Cgroup`); a systemd driver (a transient scope created over D-Bus, then the
//! same cgroupfs writes inside it) would implement `Manager` too and be picked in `create`
//! and `open` by `Driver::Systemd`, which for now fails with a clear message.

use std::os::fd::OwnedFd;

use nix::sys::signal::Signal;
use oci_spec::runtime::LinuxResources;

use super::cgroup::Cgroup;
use super::devices::DeviceRules;
use super::hierarchy::Hierarchy;
use super::path::{systemd_unsupported, CgroupPath, Driver};
use super::stats::{MemoryEvents, Stats};

/// What the container layer needs of a container's cgroup, whatever the driver.
pub trait Manager {
    fn path(&self) -> &CgroupPath;
    /// An fd for `clone3(CLONE_INTO_CGROUP)`.
    fn cgroup_fd(&self) -> anyhow::Result<OwnedFd>;
    fn add_process(&self, pid: i32) -> anyhow::Result<()>;
    fn update(&self, r: &LinuxResources, devices: Option<&DeviceRules>) -> anyhow::Result<()>;
    fn set_devices(&self, rules: &DeviceRules) -> anyhow::Result<()>;
    fn freeze(&self) -> anyhow::Result<()>;
    fn thaw(&self) -> anyhow::Result<()>;
    fn is_frozen(&self) -> anyhow::Result<bool>;
    fn signal_all(&self, sig: Signal) -> anyhow::Result<()>;
    fn kill_all(&self) -> anyhow::Result<()>;
    fn pids(&self) -> anyhow::Result<Vec<i32>>;
    fn stats(&self) -> anyhow::Result<Stats>;
    fn memory_events(&self) -> anyhow::Result<MemoryEvents>;
    fn remove(&self) -> anyhow::Result<()>;
}

impl Manager for Cgroup {
    fn path(&self) -> &CgroupPath {
        Cgroup::path(self)
    }
    fn cgroup_fd(&self) -> anyhow::Result<OwnedFd> {
        self.open_fd()
    }
    fn add_process(&self, pid: i32) -> anyhow::Result<()> {
        Cgroup::add_process(self, pid)
    }
    fn update(&self, r: &LinuxResources, devices: Option<&DeviceRules>) -> anyhow::Result<()> {
        Cgroup::update(self, r, devices)
    }
    fn set_devices(&self, rules: &DeviceRules) -> anyhow::Result<()> {
        Cgroup::set_devices(self, rules)
    }
    fn freeze(&self) -> anyhow::Result<()> {
        Cgroup::freeze(self)
    }
    fn thaw(&self) -> anyhow::Result<()> {
        Cgroup::thaw(self)
    }
    fn is_frozen(&self) -> anyhow::Result<bool> {
        Cgroup::is_frozen(self)
    }
    fn signal_all(&self, sig: Signal) -> anyhow::Result<()> {
        Cgroup::signal_all(self, sig)
    }
    fn kill_all(&self) -> anyhow::Result<()> {
        Cgroup::kill_all(self)
    }
    fn pids(&self) -> anyhow::Result<Vec<i32>> {
        Cgroup::pids(self)
    }
    fn stats(&self) -> anyhow::Result<Stats> {
        Cgroup::stats(self)
    }
    fn memory_events(&self) -> anyhow::Result<MemoryEvents> {
        Cgroup::memory_events(self)
    }
    fn remove(&self) -> anyhow::Result<()> {
        Cgroup::remove(self)
    }
}

/// Create the container's cgroup with the chosen driver (see `Cgroup::create`).
pub fn create(
    driver: Driver,
    h: &Hierarchy,
    path: &CgroupPath,
    resources: &LinuxResources,
    devices: Option<&DeviceRules>,
) -> anyhow::Result<Box<dyn Manager>> {
    match driver {
        Driver::Fs => Ok(Box::new(Cgroup::create(h, path, resources, devices)?)),
        Driver::Systemd => anyhow::bail!("{}", systemd_unsupported()),
    }
}

/// Open an existing container's cgroup with the driver it was created with.
pub fn open(driver: Driver, h: &Hierarchy, path: &CgroupPath) -> anyhow::Result<Box<dyn Manager>> {
    match driver {
        Driver::Fs => Ok(Box::new(Cgroup::open(h, path)?)),
        Driver::Systemd => anyhow::bail!("{}", systemd_unsupported()),
    }
}
