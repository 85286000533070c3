//! `linux.sysctl`: each key written to `/proc/sys/<key with . replaced by />`, after the pivot
//! (so `/proc` is the container's) and before `/proc/sys` is made read-only. A key that already
//! holds the value (compared word by word, as the kernel prints it with tabs and a newline) is not
//! written again, so applying the same config twice is harmless.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use oci_spec::runtime::Spec;

/// Set every `linux.sysctl` value (in key order); the error names the key.
pub fn apply_sysctl(spec: &Spec) -> Result<()> {
    match spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) {
        Some(map) => apply_under(Path::new("/proc/sys"), map),
        None => Ok(()),
    }
}

/// Write the values below `base` (a parameter so tests can use a tempdir).
pub fn apply_under(base: &Path, map: &HashMap<String, String>) -> Result<()> {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    for key in keys {
        let path = key_path(base, key).with_context(|| format!("sysctl {key}"))?;
        if let Ok(current) = std::fs::read_to_string(&path) {
            if same_value(&current, &map[key]) {
                continue;
            }
        }
        std::fs::write(&path, map[key].as_bytes())
            .with_context(|| format!("sysctl {key}: write {}", path.display()))?;
    }
    Ok(())
}

fn same_value(current: &str, wanted: &str) -> bool {
    current.split_whitespace().eq(wanted.split_whitespace())
}

/// `/proc/sys` file for a key; dots and slashes both separate components, as sysctl(8) allows.
fn key_path(base: &Path, key: &str) -> Result<PathBuf> {
    let parts: Vec<&str> = key.split(['.', '/']).collect();
    if parts.iter().any(|p| p.is_empty()) {
        bail!("invalid key");
    }
    Ok(parts.iter().fold(base.to_path_buf(), |p, c| p.join(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_paths() {
        let b = Path::new("/proc/sys");
        assert_eq!(
            key_path(b, "net.ipv4.ip_forward").unwrap(),
            Path::new("/proc/sys/net/ipv4/ip_forward")
        );
        assert_eq!(
            key_path(b, "kernel/shm_rmid_forced").unwrap(),
            Path::new("/proc/sys/kernel/shm_rmid_forced")
        );
        for bad in ["", "net..x", ".x", "x.", "../../etc/passwd"] {
            assert!(key_path(b, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn writes_values_and_names_the_failing_key() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("net/ipv4")).unwrap();
        let mut map = HashMap::new();
        map.insert("net.ipv4.ip_forward".to_string(), "1".to_string());
        apply_under(t.path(), &map).unwrap();
        assert_eq!(
            std::fs::read_to_string(t.path().join("net/ipv4/ip_forward")).unwrap(),
            "1"
        );
        // Unchanged values are not written again (the file keeps its old mtime).
        let range = t.path().join("net/ipv4/ip_local_port_range");
        std::fs::write(&range, "1024\t65000\n").unwrap();
        let old = nix::sys::time::TimeSpec::new(1000, 0);
        nix::sys::stat::utimensat(
            None,
            &range,
            &old,
            &old,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .unwrap();
        let mut same = HashMap::new();
        same.insert(
            "net.ipv4.ip_local_port_range".to_string(),
            "1024 65000".to_string(),
        );
        apply_under(t.path(), &same).unwrap();
        let mtime = std::fs::metadata(&range).unwrap().modified().unwrap();
        assert_eq!(
            mtime,
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(1000)
        );
        assert!(same_value("1\n", "1") && !same_value("0\n", "1"));
        map.insert("kernel.nope".to_string(), "1".to_string());
        let e = format!("{:#}", apply_under(t.path(), &map).unwrap_err());
        assert!(e.starts_with("sysctl kernel.nope: write "), "{e}");
    }
}
