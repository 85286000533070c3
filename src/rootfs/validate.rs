//! Checks of `mounts` that need the mount option table, run before anything is touched:
//! `invalid config: mounts[N].<field>: <reason>`. The container layer calls [`validate`] in
//! `create` (before any side effect); `prepare` runs it again inside init.
//!
//! Stricter than runc on purpose: a bind mount takes no filesystem data, so a word there that
//! is not a mount option (a typo such as `rslve`) is an error instead of being ignored.

use std::path::{Component, Path};

use oci_spec::runtime::{LinuxNamespaceType, Mount, Spec};

use super::flags::MountOptions;
use super::idmap;
use crate::error::Error;

/// Validate every mount; the first problem is returned.
pub fn validate(spec: &Spec) -> Result<(), Error> {
    let mounts = spec.mounts().as_deref().unwrap_or(&[]);
    for (i, m) in mounts.iter().enumerate() {
        check_mount(spec, i, m)?;
    }
    Ok(())
}

fn check_mount(spec: &Spec, i: usize, m: &Mount) -> Result<(), Error> {
    let field = |f: &str| format!("mounts[{i}].{f}");
    if covers_root(m.destination()) {
        return Err(Error::invalid(
            field("destination"),
            format!(
                "{:?} is the container root, which cannot be mounted over",
                m.destination().display().to_string()
            ),
        ));
    }
    let typ = m.typ().as_deref().unwrap_or("");
    let opts = MountOptions::parse(m.options().as_deref().unwrap_or(&[]));
    let bind = typ == "bind" || opts.is_bind();
    if bind {
        if let Some(word) = opts.data.split(',').find(|w| !w.is_empty()) {
            return Err(Error::invalid(
                field("options"),
                format!("{word:?} is not a mount option (a bind mount takes no filesystem data)"),
            ));
        }
    } else if typ.is_empty() {
        return Err(Error::invalid(
            field("type"),
            "is required unless the mount is a bind",
        ));
    }
    if opts.tmpcopyup && typ != "tmpfs" {
        return Err(Error::invalid(
            field("options"),
            "tmpcopyup is only supported on tmpfs",
        ));
    }
    if idmap::wanted(m, &opts).is_some() {
        if !bind {
            return Err(Error::invalid(
                field("options"),
                "id-mapped mounts (idmap, ridmap, uidMappings) are only supported on bind mounts",
            ));
        }
        if idmap::mappings(m, spec).is_err() {
            let reason = if crate::spec::has_namespace(spec, LinuxNamespaceType::User) {
                "idmap needs uidMappings and gidMappings here or on the container's user namespace"
            } else {
                "idmap needs uidMappings and gidMappings (the container has no user namespace to \
                 take them from)"
            };
            return Err(Error::invalid(field("uidMappings"), reason));
        }
    }
    Ok(())
}

/// The destination names `/` itself once `.` and `..` are taken lexically (`/`, `/..`, `/a/..`).
fn covers_root(dest: &Path) -> bool {
    let mut depth: usize = 0;
    for c in dest.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::ParentDir => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    depth == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with(mount: &str, linux: &str) -> Spec {
        serde_json::from_str(&format!(r#"{{"mounts":[{mount}],"linux":{{{linux}}}}}"#)).unwrap()
    }

    fn err(mount: &str, linux: &str) -> String {
        validate(&spec_with(mount, linux)).unwrap_err().to_string()
    }

    #[test]
    fn good_mounts_pass() {
        for m in [
            r#"{"destination":"/proc","type":"proc","source":"proc"}"#,
            r#"{"destination":"/d","type":"bind","source":"/s","options":["rbind","rro","rslave"]}"#,
            r#"{"destination":"/d","source":"/s","options":["bind","ro","nosuid","private"]}"#,
            r#"{"destination":"/t","type":"tmpfs","options":["tmpcopyup","mode=755","size=1m"]}"#,
            r#"{"destination":"/d","type":"bind","source":"/s","options":["idmap"],
                "uidMappings":[{"containerID":0,"hostID":1,"size":1}],
                "gidMappings":[{"containerID":0,"hostID":1,"size":1}]}"#,
        ] {
            validate(&spec_with(m, "")).unwrap_or_else(|e| panic!("{m}: {e}"));
        }
        let with_userns = r#""namespaces":[{"type":"user"}],
            "uidMappings":[{"containerID":0,"hostID":1000,"size":100}],
            "gidMappings":[{"containerID":0,"hostID":1000,"size":100}]"#;
        let bare = r#"{"destination":"/d","type":"bind","source":"/s","options":["ridmap"]}"#;
        validate(&spec_with(bare, with_userns)).unwrap();
    }

    #[test]
    fn bad_mounts_name_the_field() {
        let cases = [
            (
                r#"{"destination":"/d","type":"bind","source":"/s","options":["rbind","rslve"]}"#,
                "invalid config: mounts[0].options: \"rslve\" is not a mount option",
            ),
            (
                r#"{"destination":"/","type":"tmpfs"}"#,
                "invalid config: mounts[0].destination: \"/\" is the container root",
            ),
            (
                r#"{"destination":"/a/../..","type":"tmpfs"}"#,
                "invalid config: mounts[0].destination",
            ),
            (
                r#"{"destination":"/x","source":"none"}"#,
                "invalid config: mounts[0].type: is required",
            ),
            (
                r#"{"destination":"/x","type":"proc","options":["tmpcopyup"]}"#,
                "invalid config: mounts[0].options: tmpcopyup is only supported on tmpfs",
            ),
            (
                r#"{"destination":"/x","type":"tmpfs","options":["idmap"]}"#,
                "invalid config: mounts[0].options: id-mapped mounts",
            ),
            (
                r#"{"destination":"/x","type":"bind","source":"/s","options":["idmap"]}"#,
                "invalid config: mounts[0].uidMappings: idmap needs uidMappings",
            ),
        ];
        for (m, want) in cases {
            let e = err(m, "");
            assert!(e.starts_with(want), "{m}:\n  got  {e}\n  want {want}");
        }
    }

    #[test]
    fn root_detection_is_lexical() {
        for d in ["/", "/.", "/..", "/a/..", "/a/b/../../.."] {
            assert!(covers_root(Path::new(d)), "{d}");
        }
        for d in ["/a", "/a/b/..", "/../a"] {
            assert!(!covers_root(Path::new(d)), "{d}");
        }
    }
}
