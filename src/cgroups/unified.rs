//! `linux.resources.unified`: cgroup v2 interface files written verbatim, last (so they win
//! over the structured fields). Each key must name a file of a known controller (or a core
//! `cgroup.*` file the runtime does not own); a key with no such file in the cgroup is an
//! invalid config naming the key.

use std::collections::HashMap;
use std::io;
use std::path::Path;

use crate::error::Error;

use super::files;

/// Controllers of cgroup v2 (Linux 6.x) whose files may appear in `unified`.
pub const KNOWN_CONTROLLERS: &[&str] = &[
    "cpu", "cpuset", "io", "memory", "pids", "hugetlb", "rdma", "misc",
];

/// Core files the runtime itself drives; writing them through `unified` would fight it.
const RUNTIME_OWNED: &[&str] = &[
    "cgroup.procs",
    "cgroup.threads",
    "cgroup.subtree_control",
    "cgroup.kill",
    "cgroup.freeze",
    "cgroup.type",
];

/// The controller a key belongs to (`memory.high` → `memory`), `None` for core `cgroup.*`.
pub fn controller_of(key: &str) -> Option<&str> {
    match key.split_once('.') {
        Some(("cgroup", _)) | None => None,
        Some((c, _)) => Some(c),
    }
}

/// Syntax check of one key: `<controller>.<file>`, nothing that could leave the directory.
pub fn check_key(key: &str) -> Result<(), String> {
    let ok_chars = key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_');
    let Some((prefix, rest)) = key.split_once('.') else {
        return Err(format!("{key:?} is not <controller>.<file>"));
    };
    if !ok_chars || rest.is_empty() || rest.starts_with('.') || key.contains("..") {
        return Err(format!("{key:?} is not a cgroup interface file name"));
    }
    if prefix != "cgroup" && !KNOWN_CONTROLLERS.contains(&prefix) {
        return Err(format!(
            "{prefix:?} is not a cgroup v2 controller (known: cgroup, {})",
            KNOWN_CONTROLLERS.join(", ")
        ));
    }
    if RUNTIME_OWNED.contains(&key) {
        return Err(format!("{key} is managed by the runtime itself"));
    }
    Ok(())
}

/// Write every entry of `map` to `dir`, in key order.
pub fn apply(dir: &Path, map: &HashMap<String, String>) -> anyhow::Result<()> {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    for key in keys {
        check_key(key).map_err(|r| Error::invalid(format!("linux.resources.unified.{key}"), r))?;
        let value = &map[key];
        match files::write_io(dir, key, value) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::invalid(
                    format!("linux.resources.unified.{key}"),
                    format!("{} has no interface file {key}", dir.display()),
                )
                .into());
            }
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!(
                    "linux.resources.unified: write {value:?} to {}",
                    dir.join(key).display()
                )))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert!(check_key("memory.high").is_ok());
        assert!(check_key("cgroup.max.depth").is_ok());
        assert!(check_key("hugetlb.2MB.max").is_ok());
        assert!(check_key("memory.max/x").is_err());
        assert!(check_key("memory").is_err());
        assert!(check_key("memory.").is_err());
        assert!(check_key("memory..max").is_err());
        assert!(check_key("net_cls.classid").is_err());
        assert!(check_key("cgroup.kill").is_err());
        assert_eq!(controller_of("io.max"), Some("io"));
        assert_eq!(controller_of("cgroup.max.depth"), None);
    }

    #[test]
    fn writes_verbatim_and_names_missing_keys() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("memory.high"), "max\n").unwrap();
        let mut m = HashMap::new();
        m.insert("memory.high".to_string(), "50M".to_string());
        apply(d.path(), &m).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.path().join("memory.high")).unwrap(),
            "50M"
        );
        m.insert("memory.nope".to_string(), "1".to_string());
        let e = apply(d.path(), &m).unwrap_err();
        let e = e.downcast::<Error>().unwrap().to_string();
        assert!(
            e.starts_with("invalid config: linux.resources.unified.memory.nope:"),
            "{e}"
        );
    }
}
