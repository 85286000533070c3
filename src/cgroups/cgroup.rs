//! One container's cgroup (cgroupfs driver): create it (mkdir down the path, enable the
//! controllers the resources need, write them, install the device program), hand out its
//! directory fd for `clone3(CLONE_INTO_CGROUP)`, and act on it later (update, freeze, kill,
//! stats, remove). A failed `create` removes the directories it made.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use nix::sys::signal::Signal;
use oci_spec::runtime::LinuxResources;

use super::devices::DeviceRules;
use super::hierarchy::Hierarchy;
use super::path::CgroupPath;
use super::stats::{MemoryEvents, Stats};
use super::{controllers, device_attach, freezer, procs, resources, stats};
use crate::error::Error;

/// How long `remove` retries `rmdir` while the kernel drains the cgroup.
pub const DEFAULT_REMOVE_TIMEOUT: Duration = Duration::from_secs(5);

/// A container's cgroup in the cgroup2 hierarchy.
#[derive(Debug, Clone)]
pub struct Cgroup {
    hierarchy: Hierarchy,
    path: CgroupPath,
    dir: PathBuf,
}

/// A device program loaded for a cgroup and not yet attached.
#[derive(Debug)]
pub struct DeviceProgram(OwnedFd);

impl Cgroup {
    /// Create the cgroup `path` for a new container and apply `resources` (validate them
    /// first with `validate_resources`). `devices`: the device rules to enforce now, or
    /// `None` to leave device access alone (then call `set_devices` later). On error,
    /// directories made here are removed again; a needed controller that the host cannot
    /// give fails before anything is made.
    pub fn create(
        h: &Hierarchy,
        path: &CgroupPath,
        resources: &LinuxResources,
        devices: Option<&DeviceRules>,
    ) -> anyhow::Result<Cgroup> {
        let needed = controllers::needed(resources);
        controllers::check_top(h, &needed)?;
        let chain = h.chain(path.as_str())?;
        let mut made: Vec<PathBuf> = Vec::new();
        let result = (|| {
            for dir in &chain[1..] {
                match fs::create_dir(dir) {
                    Ok(()) => made.push(dir.clone()),
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => {
                        return Err(e).with_context(|| format!("create cgroup {}", dir.display()))
                    }
                }
            }
            let cg = Cgroup {
                hierarchy: h.clone(),
                path: path.clone(),
                dir: chain[chain.len() - 1].clone(),
            };
            if !made.contains(&cg.dir) {
                let busy = cg.pids()?;
                if !busy.is_empty() {
                    bail!(
                        "cgroup {} already exists and has processes {busy:?}; give the \
                         container a cgroup of its own",
                        cg.dir.display()
                    );
                }
            }
            let refs: Vec<&Path> = chain.iter().map(PathBuf::as_path).collect();
            controllers::enable_down(&refs, &needed)?;
            resources::apply(&cg.dir, resources)?;
            if let Some(rules) = devices {
                cg.set_devices(rules)?;
            }
            Ok(cg)
        })();
        if result.is_err() {
            for dir in made.iter().rev() {
                let _ = fs::remove_dir(dir);
            }
        }
        result
    }

    /// The existing cgroup `path` (for the commands after `create`).
    pub fn open(h: &Hierarchy, path: &CgroupPath) -> anyhow::Result<Cgroup> {
        let dir = h.dir_of(path.as_str())?;
        if !dir.join("cgroup.procs").exists() {
            bail!("cgroup {} does not exist", dir.display());
        }
        Ok(Cgroup {
            hierarchy: h.clone(),
            path: path.clone(),
            dir,
        })
    }

    pub fn path(&self) -> &CgroupPath {
        &self.path
    }

    /// The cgroup's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cgroup directory opened `O_RDONLY|O_DIRECTORY|O_CLOEXEC`: for
    /// `clone3(CLONE_INTO_CGROUP)` and for attaching device programs.
    pub fn open_fd(&self) -> anyhow::Result<OwnedFd> {
        let f: File = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(&self.dir)
            .with_context(|| format!("open {}", self.dir.display()))?;
        Ok(f.into())
    }

    /// Move `pid` in (fallback when the child could not be born inside; also `exec`).
    pub fn add_process(&self, pid: i32) -> anyhow::Result<()> {
        procs::add_process(&self.dir, pid)
    }

    /// Apply the fields present in `r` to the running container (`update`): enables any
    /// controller newly needed, writes the values; `devices`, when given, replaces the device
    /// program. Validate first with `validate_update`.
    pub fn update(&self, r: &LinuxResources, devices: Option<&DeviceRules>) -> anyhow::Result<()> {
        let needed = controllers::needed(r);
        controllers::check_top(&self.hierarchy, &needed)?;
        let chain = self.hierarchy.chain(self.path.as_str())?;
        let refs: Vec<&Path> = chain.iter().map(PathBuf::as_path).collect();
        controllers::enable_down(&refs, &needed)?;
        resources::apply(&self.dir, r)?;
        if let Some(rules) = devices {
            self.set_devices(rules)?;
        }
        Ok(())
    }

    /// Install the device program for `rules`, replacing the one in force.
    pub fn set_devices(&self, rules: &DeviceRules) -> anyhow::Result<()> {
        let fd = self.open_fd()?;
        device_attach::replace(fd.as_fd(), &self.dir, rules)
    }

    /// `set_devices` in two halves: load (verify) the program now, install it later.
    pub fn load_devices(&self, rules: &DeviceRules) -> anyhow::Result<DeviceProgram> {
        device_attach::load(&self.dir, rules).map(DeviceProgram)
    }

    /// Install a program from [`Cgroup::load_devices`], replacing the one in force.
    pub fn install_devices(&self, prog: DeviceProgram) -> anyhow::Result<()> {
        let fd = self.open_fd()?;
        device_attach::install(fd.as_fd(), &self.dir, prog.0)
    }

    /// Freeze every process (`pause`), waiting until the kernel reports it done.
    pub fn freeze(&self) -> anyhow::Result<()> {
        freezer::freeze(&self.dir, freezer::DEFAULT_TIMEOUT)
    }

    /// Thaw (`resume`).
    pub fn thaw(&self) -> anyhow::Result<()> {
        freezer::thaw(&self.dir, freezer::DEFAULT_TIMEOUT)
    }

    /// Frozen? (status `paused`)
    pub fn is_frozen(&self) -> anyhow::Result<bool> {
        freezer::is_frozen(&self.dir)
    }

    /// Send `sig` to every process (`kill --all SIG`).
    pub fn signal_all(&self, sig: Signal) -> anyhow::Result<()> {
        procs::signal_all(&self.dir, sig)
    }

    /// SIGKILL every process and wait until the cgroup is empty (`delete --force`).
    pub fn kill_all(&self) -> anyhow::Result<()> {
        procs::kill_all(&self.dir, procs::DEFAULT_KILL_TIMEOUT)
    }

    /// Host pids of every process in the cgroup and below (`ps`).
    pub fn pids(&self) -> anyhow::Result<Vec<i32>> {
        procs::pids(&self.dir)
    }

    /// Statistics in runc's `events --stats` shape.
    pub fn stats(&self) -> anyhow::Result<Stats> {
        stats::stats(&self.dir)
    }

    /// `memory.events` counters.
    pub fn memory_events(&self) -> anyhow::Result<MemoryEvents> {
        stats::memory_events(&self.dir)
    }

    /// Processes killed by the OOM killer so far (`oom_kill` of `memory.events`; 0 without
    /// the memory controller). `events` reports an `oom` event when it grows.
    pub fn oom_count(&self) -> anyhow::Result<u64> {
        Ok(self.memory_events()?.oom_kill)
    }

    /// Remove the cgroup, first killing whatever is left in it. A cgroup with no process
    /// and no child cgroup is removed by one `rmdir` (the common case: init has exited);
    /// only when that fails are the processes killed and the tree removed.
    pub fn destroy(&self) -> anyhow::Result<()> {
        match fs::remove_dir(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(_) => {
                self.kill_all()?;
                self.remove()
            }
        }
    }

    /// Remove the cgroup (and any child cgroups the container made), retrying while the
    /// kernel still drains it. Processes must be gone (`kill_all` first). Ancestors such as
    /// `/sangja` stay. A cgroup that is already gone is fine.
    pub fn remove(&self) -> anyhow::Result<()> {
        remove_dir(&self.dir, DEFAULT_REMOVE_TIMEOUT)
    }
}

/// Remove the cgroup directory `dir` and the cgroups below it, children first; `rmdir` is
/// retried on EBUSY until `timeout`.
pub fn remove_dir(dir: &Path, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    remove_tree(dir, deadline, timeout)
}

fn remove_tree(dir: &Path, deadline: Instant, timeout: Duration) -> anyhow::Result<()> {
    match fs::read_dir(dir) {
        Ok(entries) => {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    remove_tree(&e.path(), deadline, timeout)?;
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("read directory {}", dir.display())),
    }
    let mut pause = Duration::from_millis(1);
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            Err(e) => {
                let pids = procs::pids(dir).unwrap_or_default();
                let why = if e.raw_os_error() == Some(libc::EBUSY) {
                    format!(" (still busy after {timeout:?}; processes: {pids:?})")
                } else {
                    String::new()
                };
                return Err(e).with_context(|| format!("remove cgroup {}{why}", dir.display()));
            }
        }
    }
}

/// `Error::ControllerUnavailable` if `e` is one (callers may want to branch on it).
pub fn as_unavailable(e: &anyhow::Error) -> Option<&Error> {
    e.downcast_ref::<Error>()
        .filter(|e| matches!(e, Error::ControllerUnavailable { .. }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_dir_removes_children_first_and_accepts_missing() {
        let t = tempfile::tempdir().unwrap();
        let cg = t.path().join("c");
        fs::create_dir_all(cg.join("sub/deeper")).unwrap();
        remove_dir(&cg, Duration::from_millis(100)).unwrap();
        assert!(!cg.exists());
        remove_dir(&cg, Duration::from_millis(100)).unwrap();
    }

    #[test]
    fn create_refuses_unavailable_controllers_before_making_anything() {
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("cgroup.controllers"), "hugetlb\n").unwrap();
        fs::write(t.path().join("cgroup.subtree_control"), "").unwrap();
        let mi = format!(
            "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
             41 31 0:38 / {} rw - cgroup2 cgroup2 rw\n",
            t.path().display()
        );
        let h = Hierarchy::from_texts(&mi, "0::/\n").unwrap();
        let r: LinuxResources = serde_json::from_str(r#"{"memory":{"limit":1048576}}"#).unwrap();
        let path = CgroupPath::new("/sangja/x").unwrap();
        let e = Cgroup::create(&h, &path, &r, None).unwrap_err();
        assert!(as_unavailable(&e).is_some(), "{e:#}");
        assert!(
            e.to_string()
                .contains("binds it to cgroup v1 at /sys/fs/cgroup/memory"),
            "{e}"
        );
        assert!(!t.path().join("sangja").exists());
    }
}
