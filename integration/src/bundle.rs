//! A throw-away OCI bundle: a busybox-static rootfs and a runc-like default
//! `config.json` (written by the bench, never by the runtime's `spec`), edited
//! through `serde_json::Value` helpers and rewritten after every change.
//!
//! Layout: `<tmp>/sangja-itest-<pid>-<n>/` (the base, removed on drop) holds
//! `bundle/` (config.json + rootfs/) and whatever host-side files a test needs.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::util;

/// The busybox-static binary the rootfs is made from (override: SANGJA_ITEST_BUSYBOX).
pub fn busybox_path() -> PathBuf {
    std::env::var_os("SANGJA_ITEST_BUSYBOX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/bin/busybox"))
}

/// `busybox --list`, checked once: the binary must exist and be static.
fn applets() -> &'static [String] {
    static APPLETS: OnceLock<Vec<String>> = OnceLock::new();
    APPLETS.get_or_init(|| {
        let bb = busybox_path();
        let bytes = fs::read(&bb).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; install Debian's busybox-static (apt-get install busybox-static)",
                bb.display()
            )
        });
        assert!(
            !elf_has_interp(&bytes),
            "{} is dynamically linked; the rootfs needs busybox-static",
            bb.display()
        );
        let out = std::process::Command::new(&bb)
            .arg("--list")
            .output()
            .unwrap_or_else(|e| panic!("{} --list: {e}", bb.display()));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|a| !a.is_empty() && *a != "busybox" && !a.contains('/'))
            .map(String::from)
            .collect()
    })
}

/// True if a 64-bit little-endian ELF file has a PT_INTERP program header.
fn elf_has_interp(b: &[u8]) -> bool {
    if b.len() < 64 || &b[..4] != b"\x7fELF" || b[4] != 2 {
        return false;
    }
    let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap()) as usize;
    let u16_at = |o: usize| u16::from_le_bytes(b[o..o + 2].try_into().unwrap()) as usize;
    let (phoff, phentsize, phnum) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    (0..phnum).any(|i| {
        let o = phoff + i * phentsize;
        o + 4 <= b.len() && u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) == 3
    })
}

fn mkdir_mode(p: &Path, mode: u32) {
    fs::create_dir_all(p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
    fs::set_permissions(p, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", p.display()));
}

fn write_mode(p: &Path, text: &str, mode: u32) {
    fs::write(p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

/// Make a busybox rootfs at `dir`: /bin/busybox plus one symlink per applet,
/// /etc/passwd and /etc/group (root, nobody 65534, user 1000), and the empty
/// /proc /dev /sys /tmp /root mount points. Modes are set explicitly so the
/// tree works under any umask and for a mapped (user namespace) root.
pub fn make_rootfs(dir: &Path) {
    mkdir_mode(dir, 0o755);
    for d in ["bin", "etc", "proc", "dev", "sys", "root", "mnt"] {
        mkdir_mode(&dir.join(d), 0o755);
    }
    mkdir_mode(&dir.join("tmp"), 0o1777);
    let bb = dir.join("bin/busybox");
    fs::copy(busybox_path(), &bb)
        .unwrap_or_else(|e| panic!("copy busybox to {}: {e}", bb.display()));
    fs::set_permissions(&bb, fs::Permissions::from_mode(0o755)).unwrap();
    for a in applets() {
        symlink("busybox", dir.join("bin").join(a)).unwrap_or_else(|e| panic!("symlink {a}: {e}"));
    }
    write_mode(
        &dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\n\
         user:x:1000:1000:user:/tmp:/bin/sh\n\
         nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        0o644,
    );
    write_mode(
        &dir.join("etc/group"),
        "root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n",
        0o644,
    );
}

/// The bench's default config: runc's `spec` output with `terminal: false`,
/// a writable root, no hostname, no /sys/fs/cgroup mount, and an absolute
/// cgroups path of our own (`/sangja-itest/<id>`), never the host's.
pub fn default_config(id: &str) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps, "ambient": caps
            },
            "rlimits": [ { "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 } ],
            "noNewPrivileges": true
        },
        "root": { "path": "rootfs", "readonly": false },
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
              "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs",
              "options": ["nosuid", "noexec", "nodev", "ro"] }
        ],
        "linux": {
            "cgroupsPath": format!("/sangja-itest/{id}"),
            "resources": { "devices": [ { "allow": false, "access": "rwm" } ] },
            "namespaces": [
                { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
                { "type": "uts" }, { "type": "mount" }
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

/// Environment variable every bundle's process gets: the bundle's base directory.
pub const BUNDLE_ENV: &str = "ITEST_BUNDLE";

/// A bundle on disk; removed (never through a mount point) on drop.
pub struct Bundle {
    base: PathBuf,
    dir: PathBuf,
    config: Value,
}

impl Bundle {
    /// A fresh bundle whose config uses the cgroups path of container `id`.
    pub fn new(id: &str) -> Self {
        let base = std::env::temp_dir().join(format!(
            "sangja-itest-{}-{}",
            std::process::id(),
            util::next_serial()
        ));
        if base.exists() {
            util::remove_tree(&base);
        }
        mkdir_mode(&base, 0o755);
        let dir = base.join("bundle");
        mkdir_mode(&dir, 0o755);
        make_rootfs(&dir.join("rootfs"));
        let mut b = Bundle {
            base,
            dir,
            config: default_config(id),
        };
        // Lets leftovers::processes recognise this bundle's container processes
        // by their environment, whatever their cgroup, cwd or mount namespace.
        let marker = b.base.to_string_lossy().into_owned();
        b.set_env(BUNDLE_ENV, &marker);
        b
    }

    /// The bundle directory (holds config.json and rootfs/).
    pub fn path(&self) -> &Path {
        &self.dir
    }
    /// Everything this bundle owns (for leftover checks).
    pub fn base(&self) -> &Path {
        &self.base
    }
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }
    /// A host-side directory next to the bundle (created if missing).
    pub fn host_dir(&self, name: &str) -> PathBuf {
        let p = self.base.join(name);
        mkdir_mode(&p, 0o755);
        p
    }
    pub fn config(&self) -> &Value {
        &self.config
    }

    /// Rewrite config.json from the in-memory value.
    pub fn save(&mut self) {
        let text = serde_json::to_string_pretty(&self.config).unwrap();
        write_mode(&self.config_path(), &text, 0o644);
    }

    /// Replace config.json with arbitrary text (for garbage-config tests).
    pub fn write_raw_config(&self, text: &str) {
        write_mode(&self.config_path(), text, 0o644);
    }
    pub fn remove_config(&self) {
        fs::remove_file(self.config_path()).unwrap();
    }

    /// Set the value at a JSON pointer (`/process/user/umask`), creating missing
    /// objects on the way; a numeric segment indexes an existing array.
    pub fn set(&mut self, pointer: &str, value: Value) -> &mut Self {
        set_pointer(&mut self.config, pointer, value);
        self.save();
        self
    }

    /// Remove the value at a JSON pointer (no-op if absent).
    pub fn remove(&mut self, pointer: &str) -> &mut Self {
        let (parent, last) = match pointer.rsplit_once('/') {
            Some(p) => p,
            None => panic!("bad pointer {pointer}"),
        };
        let last = unescape_token(last);
        match self.config.pointer_mut(parent) {
            Some(Value::Object(m)) => {
                m.remove(&last);
            }
            Some(Value::Array(a)) => {
                if let Ok(i) = last.parse::<usize>() {
                    if i < a.len() {
                        a.remove(i);
                    }
                }
            }
            _ => {}
        }
        self.save();
        self
    }

    pub fn set_args(&mut self, args: &[&str]) -> &mut Self {
        self.set("/process/args", json!(args))
    }

    /// `sh -c SCRIPT`: the usual way tests give the container something to do.
    pub fn set_script(&mut self, script: &str) -> &mut Self {
        self.set_args(&["sh", "-c", script])
    }

    /// Set (or replace) one `KEY=value` in process.env.
    pub fn set_env(&mut self, key: &str, value: &str) -> &mut Self {
        let mut env: Vec<String> = self.config["process"]["env"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let prefix = format!("{key}=");
        env.retain(|e| !e.starts_with(&prefix));
        env.push(format!("{key}={value}"));
        self.set("/process/env", json!(env))
    }

    pub fn set_cwd(&mut self, cwd: &str) -> &mut Self {
        self.set("/process/cwd", json!(cwd))
    }

    pub fn set_user(&mut self, uid: u32, gid: u32, additional: &[u32]) -> &mut Self {
        let mut u = json!({ "uid": uid, "gid": gid });
        if !additional.is_empty() {
            u["additionalGids"] = json!(additional);
        }
        if let Some(m) = self.config["process"]["user"].get("umask").cloned() {
            u["umask"] = m;
        }
        self.set("/process/user", u)
    }

    pub fn set_hostname(&mut self, name: &str) -> &mut Self {
        self.set("/hostname", json!(name))
    }

    pub fn set_terminal(&mut self, on: bool) -> &mut Self {
        self.set("/process/terminal", json!(on))
    }

    pub fn set_readonly_root(&mut self, on: bool) -> &mut Self {
        self.set("/root/readonly", json!(on))
    }

    /// Add (or replace) a namespace of `ns_type`, joined at `path` if given.
    pub fn add_namespace(&mut self, ns_type: &str, path: Option<&str>) -> &mut Self {
        let mut list = self.namespaces();
        list.retain(|n| n["type"] != ns_type);
        let mut entry = json!({ "type": ns_type });
        if let Some(p) = path {
            entry["path"] = json!(p);
        }
        list.push(entry);
        self.set("/linux/namespaces", Value::Array(list))
    }

    pub fn remove_namespace(&mut self, ns_type: &str) -> &mut Self {
        let mut list = self.namespaces();
        list.retain(|n| n["type"] != ns_type);
        self.set("/linux/namespaces", Value::Array(list))
    }

    pub fn has_namespace(&self, ns_type: &str) -> bool {
        self.namespaces().iter().any(|n| n["type"] == ns_type)
    }

    fn namespaces(&self) -> Vec<Value> {
        self.config["linux"]["namespaces"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Append a mount entry.
    pub fn add_mount(&mut self, mount: Value) -> &mut Self {
        let mut list = self.config["mounts"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        list.push(mount);
        self.set("/mounts", Value::Array(list))
    }

    /// A user namespace mapping container 0.. to host `host_id`.. (`size` ids).
    pub fn set_userns_mapping(&mut self, host_id: u32, size: u32) -> &mut Self {
        self.add_namespace("user", None);
        let m = json!([{ "containerID": 0, "hostID": host_id, "size": size }]);
        self.set("/linux/uidMappings", m.clone());
        self.set("/linux/gidMappings", m)
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        util::remove_tree(&self.base);
    }
}

fn unescape_token(t: &str) -> String {
    t.replace("~1", "/").replace("~0", "~")
}

fn set_pointer(root: &mut Value, pointer: &str, value: Value) {
    assert!(
        pointer.starts_with('/'),
        "JSON pointer must start with '/': {pointer}"
    );
    let tokens: Vec<String> = pointer[1..].split('/').map(unescape_token).collect();
    let mut cur = root;
    for (i, tok) in tokens.iter().enumerate() {
        let last = i + 1 == tokens.len();
        if let Value::Array(a) = cur {
            let idx: usize = tok
                .parse()
                .unwrap_or_else(|_| panic!("{pointer}: {tok} is not an index"));
            assert!(idx < a.len(), "{pointer}: index {idx} out of range");
            if last {
                a[idx] = value;
                return;
            }
            cur = &mut a[idx];
            continue;
        }
        if !cur.is_object() {
            *cur = json!({});
        }
        let m = cur.as_object_mut().unwrap();
        if last {
            m.insert(tok.clone(), value);
            return;
        }
        cur = m.entry(tok.clone()).or_insert_with(|| json!({}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_set_creates_objects() {
        let mut v = json!({"a": [1, {"b": 2}]});
        set_pointer(&mut v, "/a/1/c/d", json!(5));
        set_pointer(&mut v, "/x~1y", json!(true));
        assert_eq!(v, json!({"a": [1, {"b": 2, "c": {"d": 5}}], "x/y": true}));
    }

    #[test]
    fn busybox_is_static() {
        let b = fs::read("/bin/busybox").unwrap();
        assert!(!elf_has_interp(&b));
        let sh = fs::read("/bin/ls").unwrap();
        assert!(elf_has_interp(&sh));
    }
}
