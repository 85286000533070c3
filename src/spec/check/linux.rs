//! The rest of `linux`: devices, masked and readonly paths, rootfs propagation, and the
//! shape of the seccomp profile (its meaning is checked where it is compiled).

use oci_spec::runtime::{Linux, LinuxDeviceType};

use super::Spec;
use crate::error::Error;

fn linux(spec: &Spec) -> Option<&Linux> {
    spec.linux().as_ref()
}

/// Each `linux.devices[i]` has an absolute `path` and a `type` of `c`, `b`, `u` or `p`
/// (`a` is only meaningful in the cgroup allow list).
pub(super) fn devices(spec: &Spec) -> Result<(), Error> {
    let devices = linux(spec)
        .and_then(|l| l.devices().as_deref())
        .unwrap_or_default();
    for (i, device) in devices.iter().enumerate() {
        let path = device.path();
        if !path.is_absolute() {
            return Err(Error::invalid(
                format!("linux.devices[{i}].path"),
                format!("{:?} is not an absolute path", path.display().to_string()),
            ));
        }
        if device.typ() == LinuxDeviceType::A {
            return Err(Error::invalid(
                format!("linux.devices[{i}].type"),
                "\"a\" is not a device type, want \"c\", \"b\", \"u\" or \"p\"",
            ));
        }
    }
    Ok(())
}

/// Every `linux.maskedPaths` and `linux.readonlyPaths` entry is absolute (a MUST).
pub(super) fn masked_and_readonly_paths(spec: &Spec) -> Result<(), Error> {
    let Some(linux) = linux(spec) else {
        return Ok(());
    };
    for (name, paths) in [
        ("linux.maskedPaths", linux.masked_paths()),
        ("linux.readonlyPaths", linux.readonly_paths()),
    ] {
        for (i, path) in paths.iter().flatten().enumerate() {
            if !path.starts_with('/') {
                return Err(Error::invalid(
                    format!("{name}[{i}]"),
                    format!("{path:?} is not an absolute path"),
                ));
            }
        }
    }
    Ok(())
}

/// Propagation modes accepted for `linux.rootfsPropagation`: the spec's four and, as runc
/// accepts them, their recursive forms.
const PROPAGATIONS: &[&str] = &[
    "shared",
    "slave",
    "private",
    "unbindable",
    "rshared",
    "rslave",
    "rprivate",
    "runbindable",
];

/// `linux.rootfsPropagation`, if set, is a known propagation mode.
pub(super) fn rootfs_propagation(spec: &Spec) -> Result<(), Error> {
    match linux(spec).and_then(|l| l.rootfs_propagation().as_deref()) {
        Some(mode) if !PROPAGATIONS.contains(&mode) => Err(Error::invalid(
            "linux.rootfsPropagation",
            format!("unknown propagation {mode:?}, want shared, slave, private or unbindable"),
        )),
        _ => Ok(()),
    }
}

/// The MUSTs of `linux.seccomp` that need no kernel: each syscall rule names at least one
/// syscall, and `listenerMetadata` comes only with a `listenerPath`.
pub(super) fn seccomp_shape(spec: &Spec) -> Result<(), Error> {
    let Some(seccomp) = linux(spec).and_then(|l| l.seccomp().as_ref()) else {
        return Ok(());
    };
    if seccomp.listener_metadata().is_some() && seccomp.listener_path().is_none() {
        return Err(Error::invalid(
            "linux.seccomp.listenerMetadata",
            "must not be set without listenerPath",
        ));
    }
    let syscalls = seccomp.syscalls().as_deref().unwrap_or_default();
    for (i, rule) in syscalls.iter().enumerate() {
        if rule.names().is_empty() {
            return Err(Error::invalid(
                format!("linux.seccomp.syscalls[{i}].names"),
                "must contain at least one syscall name",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::default_spec;
    use crate::spec::testutil::{assert_invalid, patched};
    use serde_json::json;

    #[test]
    fn device_entries() {
        let ok = patched(|v| {
            v["linux"]["devices"] = json!([
                {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438},
                {"path": "/dev/sda", "type": "b", "major": 8, "minor": 0},
                {"path": "/run/fifo", "type": "p"}
            ])
        });
        devices(&ok).unwrap();
        let relative = patched(|v| {
            v["linux"]["devices"] = json!([{"path": "dev/fuse", "type": "c", "major": 10}])
        });
        assert_invalid(
            devices(&relative),
            "linux.devices[0].path",
            "not an absolute path",
        );
        let all = patched(|v| {
            v["linux"]["devices"] = json!([
                {"path": "/dev/null", "type": "c", "major": 1, "minor": 3},
                {"path": "/dev/x", "type": "a"}
            ])
        });
        assert_invalid(devices(&all), "linux.devices[1].type", "not a device type");
    }

    #[test]
    fn masked_and_readonly() {
        masked_and_readonly_paths(&default_spec(false)).unwrap();
        let masked = patched(|v| v["linux"]["maskedPaths"][1] = "proc/asound".into());
        assert_invalid(
            masked_and_readonly_paths(&masked),
            "linux.maskedPaths[1]",
            "\"proc/asound\" is not an absolute path",
        );
        let readonly = patched(|v| v["linux"]["readonlyPaths"][0] = "".into());
        assert_invalid(
            masked_and_readonly_paths(&readonly),
            "linux.readonlyPaths[0]",
            "not an absolute path",
        );
    }

    #[test]
    fn propagation() {
        for ok in ["private", "rslave", "shared", "unbindable"] {
            rootfs_propagation(&patched(|v| v["linux"]["rootfsPropagation"] = ok.into())).unwrap();
        }
        let bad = patched(|v| v["linux"]["rootfsPropagation"] = "sideways".into());
        assert_invalid(
            rootfs_propagation(&bad),
            "linux.rootfsPropagation",
            "unknown propagation \"sideways\"",
        );
    }

    #[test]
    fn seccomp() {
        let ok = patched(|v| {
            v["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}]
            })
        });
        seccomp_shape(&ok).unwrap();
        let no_names = patched(|v| {
            v["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["a"], "action": "SCMP_ACT_LOG"},
                             {"names": [], "action": "SCMP_ACT_ERRNO"}]
            })
        });
        assert_invalid(
            seccomp_shape(&no_names),
            "linux.seccomp.syscalls[1].names",
            "at least one",
        );
        let metadata = patched(|v| {
            v["linux"]["seccomp"] =
                json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerMetadata": "x"})
        });
        assert_invalid(
            seccomp_shape(&metadata),
            "linux.seccomp.listenerMetadata",
            "without listenerPath",
        );
    }
}
