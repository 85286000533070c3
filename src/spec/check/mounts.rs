//! `mounts`: each entry must say where it goes and, for a bind, what it binds.
//!
//! runtime-spec 1.1 tolerates a relative `destination` (taken from `/`) as deprecated; runc
//! 1.1 accepted it too. sangja rejects it: a relative destination is almost always a typo,
//! and resolving it silently hides the mistake.

use oci_spec::runtime::Mount;

use super::Spec;
use crate::error::Error;

fn mounts(spec: &Spec) -> &[Mount] {
    spec.mounts().as_deref().unwrap_or_default()
}

/// Every `mounts[i].destination` is present and absolute.
pub(super) fn mount_destinations(spec: &Spec) -> Result<(), Error> {
    for (i, m) in mounts(spec).iter().enumerate() {
        let field = format!("mounts[{i}].destination");
        let destination = m.destination();
        if destination.as_os_str().is_empty() {
            return Err(Error::invalid(field, "is required"));
        }
        if !destination.is_absolute() {
            return Err(Error::invalid(
                field,
                format!(
                    "{:?} is not an absolute path",
                    destination.display().to_string()
                ),
            ));
        }
    }
    Ok(())
}

/// `true` for a bind mount: type `bind`, or a `bind`/`rbind` option (runc's rule: the option
/// makes it a bind whatever the type says).
fn is_bind(m: &Mount) -> bool {
    m.typ().as_deref() == Some("bind")
        || m.options()
            .iter()
            .flatten()
            .any(|o| o == "bind" || o == "rbind")
}

/// A bind mount has a non-empty `source`.
pub(super) fn bind_mount_sources(spec: &Spec) -> Result<(), Error> {
    for (i, m) in mounts(spec).iter().enumerate() {
        let no_source = m.source().as_ref().is_none_or(|s| s.as_os_str().is_empty());
        if is_bind(m) && no_source {
            return Err(Error::invalid(
                format!("mounts[{i}].source"),
                "a bind mount needs a source",
            ));
        }
    }
    Ok(())
}

/// An id-mapped mount gives both `uidMappings` and `gidMappings`, or neither.
pub(super) fn mount_id_mappings(spec: &Spec) -> Result<(), Error> {
    for (i, m) in mounts(spec).iter().enumerate() {
        let uid = m.uid_mappings().as_ref().is_some_and(|v| !v.is_empty());
        let gid = m.gid_mappings().as_ref().is_some_and(|v| !v.is_empty());
        let missing = match (uid, gid) {
            (true, false) => "gidMappings",
            (false, true) => "uidMappings",
            _ => continue,
        };
        return Err(Error::invalid(
            format!("mounts[{i}].{missing}"),
            "uidMappings and gidMappings must be given together",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::default_spec;
    use crate::spec::testutil::{assert_invalid, patched};
    use serde_json::json;

    fn with_mount(mount: serde_json::Value) -> Spec {
        patched(|v| v["mounts"].as_array_mut().unwrap().push(mount))
    }

    #[test]
    fn destinations() {
        mount_destinations(&default_spec(false)).unwrap();
        let relative = with_mount(json!({"destination": "data", "type": "tmpfs"}));
        assert_invalid(
            mount_destinations(&relative),
            "mounts[7].destination",
            "\"data\" is not an absolute path",
        );
        let empty = patched(|v| v["mounts"][3]["destination"] = "".into());
        assert_invalid(
            mount_destinations(&empty),
            "mounts[3].destination",
            "is required",
        );
    }

    #[test]
    fn bind_sources() {
        let ok = with_mount(json!({"destination": "/data", "type": "bind", "source": "/srv"}));
        bind_mount_sources(&ok).unwrap();
        let tmpfs = with_mount(json!({"destination": "/tmp", "type": "tmpfs"}));
        bind_mount_sources(&tmpfs).unwrap();
        let by_type = with_mount(json!({"destination": "/data", "type": "bind"}));
        assert_invalid(
            bind_mount_sources(&by_type),
            "mounts[7].source",
            "needs a source",
        );
        let by_option = with_mount(json!({"destination": "/data", "options": ["rbind", "ro"]}));
        assert_invalid(
            bind_mount_sources(&by_option),
            "mounts[7].source",
            "needs a source",
        );
        let empty = with_mount(json!({"destination": "/d", "type": "bind", "source": ""}));
        assert_invalid(
            bind_mount_sources(&empty),
            "mounts[7].source",
            "needs a source",
        );
    }

    #[test]
    fn id_mappings_together() {
        let map = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
        let both = with_mount(json!({
            "destination": "/d", "type": "bind", "source": "/s", "options": ["idmap"],
            "uidMappings": map, "gidMappings": map
        }));
        mount_id_mappings(&both).unwrap();
        let uid_only = with_mount(json!({
            "destination": "/d", "type": "bind", "source": "/s", "uidMappings": map
        }));
        assert_invalid(
            mount_id_mappings(&uid_only),
            "mounts[7].gidMappings",
            "together",
        );
        let gid_only = with_mount(json!({
            "destination": "/d", "type": "bind", "source": "/s", "gidMappings": map
        }));
        assert_invalid(
            mount_id_mappings(&gid_only),
            "mounts[7].uidMappings",
            "together",
        );
    }
}
