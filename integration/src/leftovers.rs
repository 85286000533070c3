//! What a container must not leave behind once it is deleted (or its create
//! failed): its state directory under `--root`, processes tied to its bundle or
//! cgroup, mounts under its bundle, and its cgroup directories.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::bundle::Bundle;
use crate::runtime::Runtime;
use crate::util;

/// `/sys/fs/cgroup/<hierarchy>/sangja-itest/<id>` for every hierarchy that has it.
pub fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir("/sys/fs/cgroup") else {
        return found;
    };
    let mut roots: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    roots.push(PathBuf::from("/sys/fs/cgroup"));
    for r in roots {
        let d = r.join("sangja-itest").join(id);
        if d.is_dir() {
            found.push(d);
        }
    }
    found
}

/// Processes (not zombies, not us) whose command line, cwd, root or exe points
/// into `base`, or whose cgroup is the container's.
pub fn processes(base: &Path, id: &str) -> Vec<String> {
    let me = std::process::id() as i32;
    let base_s = base.to_string_lossy().to_string();
    let cg_leaf = format!("/sangja-itest/{id}");
    let mut hits = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return hits;
    };
    for e in entries.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me || !util::pid_alive(pid) {
            continue;
        }
        let dir = e.path();
        let cmdline = fs::read(dir.join("cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        let mut why = Vec::new();
        if cmdline.contains(&base_s) {
            why.push("cmdline".to_string());
        }
        // The bench marks both the runtime's environment (inherited by an init
        // until it execs) and the config's env with paths under `base`.
        let environ = fs::read(dir.join("environ")).unwrap_or_default();
        if contains(&environ, base_s.as_bytes()) {
            why.push("environ".to_string());
        }
        for link in ["cwd", "root", "exe"] {
            if let Ok(t) = fs::read_link(dir.join(link)) {
                if t.starts_with(base) {
                    why.push(format!("{link}={}", t.display()));
                }
            }
        }
        if let Ok(cg) = fs::read_to_string(dir.join("cgroup")) {
            if cg
                .lines()
                .any(|l| l.ends_with(&cg_leaf) || l.contains(&format!("{cg_leaf}/")))
            {
                why.push("cgroup".to_string());
            }
        }
        if !why.is_empty() {
            hits.push(format!(
                "pid {pid} ({}) [{}]",
                cmdline.trim(),
                why.join(", ")
            ));
        }
    }
    hits
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Everything container `id` of `bundle` under `rt` has on the system right now.
pub fn leftovers_now(rt: &Runtime, id: &str, bundle: &Bundle) -> Vec<String> {
    let mut found = Vec::new();
    let state_dir = rt.root().join(id);
    if state_dir.exists() {
        found.push(format!(
            "state directory {} still exists",
            state_dir.display()
        ));
    }
    for p in processes(bundle.base(), id) {
        found.push(format!("process left: {p}"));
    }
    for m in util::mounts_under(bundle.base()) {
        found.push(format!("mount left: {}", m.display()));
    }
    for d in cgroup_dirs(id) {
        found.push(format!("cgroup left: {}", d.display()));
    }
    found
}

/// Everything left behind by container `id` of `bundle` under `rt`, after
/// giving the kernel up to 5 s to reap processes and drain cgroups.
pub fn leftovers(rt: &Runtime, id: &str, bundle: &Bundle) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let found = leftovers_now(rt, id, bundle);
        if found.is_empty() || Instant::now() >= deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Fail the test if container `id` left anything behind.
#[track_caller]
pub fn assert_clean(rt: &Runtime, id: &str, bundle: &Bundle) {
    let found = leftovers(rt, id, bundle);
    assert!(
        found.is_empty(),
        "container {id} left things behind:\n  {}",
        found.join("\n  ")
    );
}
