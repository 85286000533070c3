//! The processes of a cgroup: list them (recursively), move one in, signal or kill them all.
//! `kill_all` uses `cgroup.kill` (Linux 5.14+) and falls back to freezing the cgroup and
//! sending SIGKILL to every pid until none is left.

use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{files, freezer};

/// How long `kill_all` waits for the cgroup to empty by default.
pub const DEFAULT_KILL_TIMEOUT: Duration = Duration::from_secs(10);

/// The pids in `cgroup.procs` of `dir` and of every cgroup below it (host pid namespace as
/// seen by the reader), in tree order.
pub fn pids(dir: &Path) -> anyhow::Result<Vec<i32>> {
    let mut out = Vec::new();
    collect(dir, &mut out)?;
    Ok(out)
}

fn collect(dir: &Path, out: &mut Vec<i32>) -> anyhow::Result<()> {
    let text = match files::read_opt(dir, "cgroup.procs")? {
        Some(t) => t,
        // Removed while we walked: it has no processes any more.
        None => return Ok(()),
    };
    out.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("read directory {}", dir.display())),
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("read directory {}", dir.display()))?;
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            collect(&entry.path(), out)?;
        }
    }
    Ok(())
}

/// Move process `pid` into the cgroup at `dir` (the fallback when clone3 could not place the
/// child with CLONE_INTO_CGROUP). EINVAL can mean the task is still being created: retried a
/// few times, as runc does.
pub fn add_process(dir: &Path, pid: i32) -> anyhow::Result<()> {
    let mut tries = 0;
    loop {
        match files::write_io(dir, "cgroup.procs", &pid.to_string()) {
            Ok(()) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && tries < 5 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(30));
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("move pid {pid} into {}", dir.join("cgroup.procs").display())
                })
            }
        }
    }
}

fn send(pid: i32, sig: Signal) -> anyhow::Result<()> {
    match kill(Pid::from_raw(pid), sig) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("kill({pid}, {sig})")),
    }
}

/// Send `sig` to every process of the cgroup (`kill --all`). SIGKILL goes through
/// `cgroup.kill` when the kernel has it; otherwise the cgroup is frozen while the pids are
/// read and signalled (so nothing forks in between) and then returned to its former state.
pub fn signal_all(dir: &Path, sig: Signal) -> anyhow::Result<()> {
    if sig == Signal::SIGKILL && files::exists(dir, "cgroup.kill") {
        return files::write(dir, "cgroup.kill", "1");
    }
    let was_frozen = freezer::is_frozen(dir).unwrap_or(false);
    let froze = !was_frozen && freezer::freeze(dir, Duration::from_secs(2)).is_ok();
    let result = pids(dir).and_then(|ps| ps.into_iter().try_for_each(|p| send(p, sig)));
    if froze {
        freezer::thaw(dir, freezer::DEFAULT_TIMEOUT)?;
    }
    result
}

/// Kill every process of the cgroup and wait until it is empty.
pub fn kill_all(dir: &Path, timeout: Duration) -> anyhow::Result<()> {
    signal_all(dir, Signal::SIGKILL)?;
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        let left = pids(dir)?;
        if left.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "processes {left:?} of {} still alive after SIGKILL and {timeout:?}",
                dir.display()
            );
        }
        if !files::exists(dir, "cgroup.kill") {
            // Without cgroup.kill a fork may have slipped through: signal again.
            for p in left {
                send(p, Signal::SIGKILL)?;
            }
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn pids_are_collected_recursively() {
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("cgroup.procs"), "10\n11\n").unwrap();
        fs::create_dir(t.path().join("sub")).unwrap();
        fs::write(t.path().join("sub/cgroup.procs"), "12\n").unwrap();
        fs::write(t.path().join("memory.max"), "max\n").unwrap();
        assert_eq!(pids(t.path()).unwrap(), [10, 11, 12]);
        assert_eq!(pids(&t.path().join("gone")).unwrap(), Vec::<i32>::new());
    }

    #[test]
    fn cgroup_kill_is_used_for_sigkill() {
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("cgroup.kill"), "").unwrap();
        fs::write(t.path().join("cgroup.procs"), "").unwrap();
        kill_all(t.path(), Duration::from_millis(100)).unwrap();
        assert_eq!(
            fs::read_to_string(t.path().join("cgroup.kill")).unwrap(),
            "1"
        );
    }

    #[test]
    fn add_process_names_the_file() {
        let t = tempfile::tempdir().unwrap();
        let e = add_process(t.path(), 1234).unwrap_err();
        assert!(format!("{e:#}").contains("move pid 1234"), "{e:#}");
    }
}
