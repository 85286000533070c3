//! Where the container's root filesystem is on the host.

use std::fs;
use std::path::{Component, Path, PathBuf};

use super::load::io_reason;
use super::Spec;
use crate::error::Error;

/// Absolute, canonical path of the rootfs: `root.path`, taken relative to `bundle` when it is
/// relative. It must exist and be a directory. Errors name `root` or `root.path`.
pub fn rootfs_path(spec: &Spec, bundle: &Path) -> Result<PathBuf, Error> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| Error::invalid("root", "is required"))?;
    let path = root.path();
    if path.as_os_str().is_empty() {
        return Err(Error::invalid("root.path", "must not be empty"));
    }
    if path.is_relative() && escapes(path) {
        return Err(Error::invalid(
            "root.path",
            format!(
                "{}: a relative path must stay inside the bundle",
                path.display()
            ),
        ));
    }
    let joined = bundle.join(path); // `join` keeps `path` as is when it is absolute
    let resolved = fs::canonicalize(&joined).map_err(|e| {
        Error::invalid(
            "root.path",
            format!("{}: {}", joined.display(), io_reason(&e)),
        )
    })?;
    if !resolved.is_dir() {
        return Err(Error::invalid(
            "root.path",
            format!("{}: not a directory", joined.display()),
        ));
    }
    Ok(resolved)
}

/// Does a relative path climb above its starting directory (`../x`, `a/../../x`)?
fn escapes(path: &Path) -> bool {
    let mut depth: i32 = 0;
    for c in path.components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::testutil::{assert_invalid, patched};

    #[test]
    fn relative_path_resolves_against_bundle() {
        let bundle = tempfile::tempdir().unwrap();
        fs::create_dir(bundle.path().join("rootfs")).unwrap();
        let spec = patched(|_| {});
        let got = rootfs_path(&spec, bundle.path()).unwrap();
        assert_eq!(got, fs::canonicalize(bundle.path().join("rootfs")).unwrap());
        assert!(got.is_absolute());
    }

    #[test]
    fn relative_path_escaping_the_bundle_is_refused() {
        let bundle = tempfile::tempdir().unwrap();
        fs::create_dir(bundle.path().join("rootfs")).unwrap();
        for p in ["../rootfs", "rootfs/../../x", ".."] {
            let spec = patched(|v| v["root"]["path"] = p.into());
            let err = rootfs_path(&spec, bundle.path()).unwrap_err().to_string();
            assert!(err.starts_with("invalid config: root.path:"), "{p}: {err}");
        }
        let spec = patched(|v| v["root"]["path"] = "rootfs/../rootfs".into());
        assert!(rootfs_path(&spec, bundle.path()).is_ok());
    }

    #[test]
    fn absolute_path_is_used_as_is() {
        let bundle = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let abs = elsewhere.path().to_str().unwrap().to_string();
        let spec = patched(|v| v["root"]["path"] = abs.into());
        let got = rootfs_path(&spec, bundle.path()).unwrap();
        assert_eq!(got, fs::canonicalize(elsewhere.path()).unwrap());
    }

    #[test]
    fn missing_rootfs_names_root_path() {
        let bundle = tempfile::tempdir().unwrap();
        let spec = patched(|_| {});
        let err = rootfs_path(&spec, bundle.path());
        assert_invalid(err, "root.path", "rootfs: no such file or directory");
    }

    #[test]
    fn file_is_not_a_rootfs() {
        let bundle = tempfile::tempdir().unwrap();
        fs::write(bundle.path().join("rootfs"), b"").unwrap();
        let spec = patched(|_| {});
        assert_invalid(
            rootfs_path(&spec, bundle.path()),
            "root.path",
            "not a directory",
        );
    }

    #[test]
    fn empty_or_missing_root() {
        let bundle = tempfile::tempdir().unwrap();
        let spec = patched(|v| v["root"]["path"] = "".into());
        assert_invalid(
            rootfs_path(&spec, bundle.path()),
            "root.path",
            "must not be empty",
        );
        let spec = patched(|v| {
            v.as_object_mut().unwrap().remove("root");
        });
        assert_invalid(rootfs_path(&spec, bundle.path()), "root", "is required");
    }
}
