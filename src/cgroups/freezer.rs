//! Freeze and thaw through `cgroup.freeze` (core cgroup v2, no controller needed), waiting for
//! `cgroup.events` to report `frozen 1` / `frozen 0`. The wait sleeps in `poll(POLLPRI)` on
//! `cgroup.events`, which the kernel signals on every change, with short timeouts as a
//! safety net, under an overall deadline.

use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::files;

/// How long `pause`/`resume` wait for the kernel by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Freeze every process of the cgroup at `dir` (and below) and wait until they all are.
pub fn freeze(dir: &Path, timeout: Duration) -> anyhow::Result<()> {
    files::write(dir, "cgroup.freeze", "1")?;
    wait_event(dir, "frozen", 1, timeout).context("freeze")
}

/// Thaw the cgroup at `dir` and wait until the kernel reports it running.
pub fn thaw(dir: &Path, timeout: Duration) -> anyhow::Result<()> {
    files::write(dir, "cgroup.freeze", "0")?;
    wait_event(dir, "frozen", 0, timeout).context("thaw")
}

/// Whether the cgroup at `dir` is frozen (`frozen 1` in `cgroup.events`).
pub fn is_frozen(dir: &Path) -> anyhow::Result<bool> {
    Ok(event(dir, "frozen")? == Some(1))
}

/// One value of `cgroup.events` (`populated`, `frozen`).
pub fn event(dir: &Path, key: &str) -> anyhow::Result<Option<u64>> {
    Ok(files::parse_flat_keyed(&files::read(dir, "cgroup.events")?)
        .get(key)
        .copied())
}

/// Wait until `cgroup.events` of `dir` shows `key want`, or fail after `timeout`.
pub fn wait_event(dir: &Path, key: &str, want: u64, timeout: Duration) -> anyhow::Result<()> {
    let path = dir.join("cgroup.events");
    let file = File::open(&path).with_context(|| format!("open {}", path.display()))?;
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 512];
    loop {
        let n = file
            .read_at(&mut buf, 0)
            .with_context(|| format!("read {}", path.display()))?;
        let text = String::from_utf8_lossy(&buf[..n]);
        let now = files::parse_flat_keyed(&text).get(key).copied();
        if now == Some(want) {
            return Ok(());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!(
                "{} still says {key} {} after {:?} (waiting for {key} {want})",
                path.display(),
                now.map_or("?".to_string(), |v| v.to_string()),
                timeout
            );
        }
        let slice = left.min(Duration::from_millis(20));
        let started = Instant::now();
        let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLPRI)];
        let ms =
            PollTimeout::try_from(slice.as_millis().max(1) as i32).unwrap_or(PollTimeout::NONE);
        match poll(&mut fds, ms) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e).with_context(|| format!("poll {}", path.display())),
        }
        // Never spin: a stale event flag could make poll return at once every time.
        if started.elapsed() < Duration::from_millis(1) {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::testutil::FakeCgroup;

    #[test]
    fn waits_for_the_event_and_times_out_with_a_clear_message() {
        let cg = FakeCgroup::new(&["cgroup.freeze", "cgroup.events"]);
        cg.set("cgroup.events", "populated 1\nfrozen 1\n");
        freeze(cg.dir(), Duration::from_millis(50)).unwrap();
        assert_eq!(cg.get("cgroup.freeze"), "1");
        assert!(is_frozen(cg.dir()).unwrap());
        let e = thaw(cg.dir(), Duration::from_millis(50)).unwrap_err();
        let e = format!("{e:#}");
        assert!(
            e.contains("still says frozen 1") && e.contains("cgroup.events"),
            "{e}"
        );
    }

    #[test]
    fn sees_a_later_change() {
        let cg = FakeCgroup::new(&["cgroup.events"]);
        cg.set("cgroup.events", "populated 1\nfrozen 0\n");
        let path = cg.dir().join("cgroup.events");
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            std::fs::write(path, "populated 1\nfrozen 1\n").unwrap();
        });
        wait_event(cg.dir(), "frozen", 1, Duration::from_secs(5)).unwrap();
        t.join().unwrap();
    }
}
