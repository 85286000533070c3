//! The cgroup v2 environment the `cgroups_*` tests run in: where the cgroup2 hierarchy is
//! mounted (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on a hybrid host), which controllers
//! its root offers, the container's cgroup directory, and loud skips for tests that need
//! what this host lacks.
//!
//! `SANGJA_ITEST_REQUIRE_CGROUP2=1` (set by `integration/uml/integration-tests.sh`, inside
//! User-Mode Linux or on a host with cgroup v2 controllers) turns every "needs cgroup v2
//! with controllers" skip into a failure, so a broken cgroup stage can never pass by
//! skipping.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::runtime::Runtime;
use crate::util;

/// The skip reason of a test that needs controllers (and how to get them here).
pub const NEEDS_V2: &str = "needs cgroup v2 with controllers (make uml runs it)";

/// The mount point of the cgroup2 hierarchy, from /proc/self/mountinfo.
pub fn mount() -> Option<PathBuf> {
    let text = fs::read_to_string("/proc/self/mountinfo").ok()?;
    text.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        if post.split(' ').next()? != "cgroup2" {
            return None;
        }
        pre.split(' ')
            .nth(4)
            .map(|m| PathBuf::from(util::unescape_mountinfo(m)))
    })
}

/// True if any cgroup v1 hierarchy is mounted (a hybrid or legacy host).
pub fn has_v1_mounts() -> bool {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(" - "))
        .any(|(_, post)| post.split(' ').next() == Some("cgroup"))
}

/// The controllers the root of the cgroup2 hierarchy offers (empty without a cgroup2 mount).
pub fn root_controllers() -> Vec<String> {
    mount()
        .and_then(|m| fs::read_to_string(m.join("cgroup.controllers")).ok())
        .map(|t| t.split_whitespace().map(String::from).collect())
        .unwrap_or_default()
}

/// True if the cgroup2 root offers every one of `wanted`.
pub fn has_controllers(wanted: &[&str]) -> bool {
    let have = root_controllers();
    wanted.iter().all(|w| have.iter().any(|h| h == w))
}

fn required() -> bool {
    std::env::var("SANGJA_ITEST_REQUIRE_CGROUP2").as_deref() == Ok("1")
}

/// For tests that observe enforcement: true if the cgroup2 root offers `wanted`; otherwise
/// print `SKIPPED: <test>: needs cgroup v2 with controllers (make uml runs it)...` and return
/// false (panics instead under `SANGJA_ITEST_REQUIRE_CGROUP2=1`).
#[track_caller]
pub fn need_controllers(wanted: &[&str]) -> bool {
    if has_controllers(wanted) {
        return true;
    }
    let why = match mount() {
        Some(m) => format!(
            "{NEEDS_V2}: {} offers [{}], the test needs [{}]",
            m.display(),
            root_controllers().join(" "),
            wanted.join(" ")
        ),
        None => format!("{NEEDS_V2}: no cgroup2 mount"),
    };
    if required() {
        panic!("SANGJA_ITEST_REQUIRE_CGROUP2=1 but {why}");
    }
    util::print_skip(&why);
    false
}

/// For tests that need a writable cgroup2 hierarchy but no controller (membership, freeze,
/// kill, device programs): true if there is one, else a loud skip (a failure under
/// `SANGJA_ITEST_REQUIRE_CGROUP2=1`).
#[track_caller]
pub fn need_cgroup2() -> bool {
    let why = match mount() {
        Some(m) if m.join("cgroup.procs").exists() => return true,
        Some(m) => format!("{} has no cgroup.procs", m.display()),
        None => "needs a cgroup2 mount (none in /proc/self/mountinfo)".to_string(),
    };
    if required() {
        panic!("SANGJA_ITEST_REQUIRE_CGROUP2=1 but {why}");
    }
    util::print_skip(&why);
    false
}

/// The cgroup2 mount, for tests that already passed `need_cgroup2`/`need_controllers`.
#[track_caller]
pub fn root() -> PathBuf {
    mount().expect("no cgroup2 mount in /proc/self/mountinfo")
}

/// The bench's cgroups path of container `id` (`/sangja-itest/<id>`, see `Bundle::new`).
pub fn container_path(id: &str) -> String {
    format!("/sangja-itest/{id}")
}

/// The directory of container `id`'s cgroup in the cgroup2 hierarchy.
pub fn container_dir(id: &str) -> PathBuf {
    root().join("sangja-itest").join(id)
}

/// Read an interface file of container `id`'s cgroup, trimmed.
#[track_caller]
pub fn read(id: &str, file: &str) -> String {
    read_in(&container_dir(id), file)
}

/// Read `dir/file`, trimmed; panics with the path on error.
#[track_caller]
pub fn read_in(dir: &Path, file: &str) -> String {
    let p = dir.join(file);
    fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_string()
}

/// The cgroup2 path of `pid` (the `0::` line of /proc/<pid>/cgroup), None if it is gone.
pub fn cgroup_of(pid: i32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("0::").map(String::from))
}

/// `events --stats ID`: one `{"type":"stats","id":ID,"data":{...}}` line; returns `data`.
#[track_caller]
pub fn stats(rt: &Runtime, id: &str) -> Value {
    let out = rt.cmd(&["events", "--stats", id]).ok();
    let lines = out.lines();
    assert_eq!(
        lines.len(),
        1,
        "events --stats prints exactly one line:\n{out:?}"
    );
    let v: Value = serde_json::from_str(&lines[0])
        .unwrap_or_else(|e| panic!("events --stats line is not JSON ({e}):\n{out:?}"));
    assert_eq!(v["type"], "stats", "{v}");
    assert_eq!(v["id"], id, "{v}");
    assert!(v["data"].is_object(), "stats record without data: {v}");
    v["data"].clone()
}

/// `ps --format json ID` as a list of host pids.
#[track_caller]
pub fn ps_json(rt: &Runtime, id: &str) -> Vec<i32> {
    let out = rt.cmd(&["ps", "--format", "json", id]).ok();
    let v = out.json();
    v.as_array()
        .unwrap_or_else(|| panic!("ps --format json did not print an array:\n{out:?}"))
        .iter()
        .map(|p| {
            p.as_i64()
                .unwrap_or_else(|| panic!("ps --format json: {p} is not a pid:\n{out:?}"))
                as i32
        })
        .collect()
}
