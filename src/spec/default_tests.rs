//! Tests of `default_spec`: the exact JSON `sangja spec` writes, and that it is usable.

use super::*;
use crate::spec::{load_file, to_pretty_json, validate};
use serde_json::{json, Value};

fn as_json(rootless: bool) -> Value {
    serde_json::from_str(&to_pretty_json(&default_spec(rootless))).unwrap()
}

#[test]
fn process_section() {
    let v = as_json(false);
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let want = json!({
        "terminal": false,
        "user": {"uid": 0, "gid": 0},
        "args": ["sh"],
        "env": [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "TERM=xterm"
        ],
        "cwd": "/",
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": true
    });
    assert_eq!(v["process"], want);
}

#[test]
fn top_level_and_mounts() {
    let v = as_json(false);
    assert_eq!(v["ociVersion"], VERSION);
    assert_eq!(v["root"], json!({"path": "rootfs", "readonly": true}));
    assert_eq!(v["hostname"], "sangja");
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "hostname",
            "linux",
            "mounts",
            "ociVersion",
            "process",
            "root"
        ]
    );
    let want = json!([
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
    ]);
    assert_eq!(v["mounts"], want);
}

#[test]
fn linux_section() {
    let v = as_json(false);
    let want = json!({
        "resources": {"devices": [{"allow": false, "access": "rwm"}]},
        "namespaces": [
            {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
            {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}
        ],
        "maskedPaths": [
            "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
            "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
            "/proc/scsi", "/sys/devices/virtual/tpm"
        ],
        "readonlyPaths": [
            "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
        ]
    });
    assert_eq!(v["linux"], want);
}

#[test]
fn rootless_variant() {
    let euid = nix::unistd::geteuid().as_raw();
    let egid = nix::unistd::getegid().as_raw();
    let v = as_json(true);
    let linux = &v["linux"];
    assert_eq!(
        linux["namespaces"],
        json!([
            {"type": "pid"}, {"type": "ipc"}, {"type": "uts"},
            {"type": "mount"}, {"type": "cgroup"}, {"type": "user"}
        ])
    );
    assert_eq!(
        linux["uidMappings"],
        json!([{"containerID": 0, "hostID": euid, "size": 1}])
    );
    assert_eq!(
        linux["gidMappings"],
        json!([{"containerID": 0, "hostID": egid, "size": 1}])
    );
    assert!(linux.get("resources").is_none());
    let mounts = v["mounts"].as_array().unwrap();
    let sys = mounts.iter().find(|m| m["destination"] == "/sys").unwrap();
    assert_eq!(
        sys,
        &json!({"destination": "/sys", "type": "none", "source": "/sys",
                "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]})
    );
    let pts = mounts
        .iter()
        .find(|m| m["destination"] == "/dev/pts")
        .unwrap();
    assert_eq!(
        pts["options"],
        json!([
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620"
        ])
    );
    assert_eq!(mounts.len(), 7);
    // Everything outside linux and mounts is as in the default.
    assert_eq!(v["process"], as_json(false)["process"]);
    assert_eq!(v["root"], as_json(false)["root"]);
}

#[test]
fn round_trips_and_validates_in_a_bundle() {
    for rootless in [false, true] {
        let bundle = tempfile::tempdir().unwrap();
        std::fs::create_dir(bundle.path().join("rootfs")).unwrap();
        let path = bundle.path().join("config.json");
        let spec = default_spec(rootless);
        std::fs::write(&path, to_pretty_json(&spec)).unwrap();
        let loaded = load_file(&path).unwrap();
        assert_eq!(loaded, spec);
        validate(&loaded, bundle.path()).unwrap();
    }
}
