//! `linux.sysctl`: each key written to `/proc/sys/<key with . replaced by />`. Run by init after
//! `prepare`, so `/proc` is the container's.

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
        std::fs::write(&path, map[key].as_bytes())
            .with_context(|| format!("sysctl {key}: write {}", path.display()))?;
    }
    Ok(())
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
        map.insert("kernel.nope".to_string(), "1".to_string());
        let e = format!("{:#}", apply_under(t.path(), &map).unwrap_err());
        assert!(e.starts_with("sysctl kernel.nope: write "), "{e}");
    }
}
