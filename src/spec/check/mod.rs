//! Validation: small named checks over a parsed spec, run before any side effect.
//!
//! Each check is a function `fn(&Spec) -> Result<(), Error>` that fails with
//! `Error::invalid("<json path>", "<reason>")`, printed as `invalid config: <field>: <reason>`
//! (lower case, no period, naming the value). Only the rootfs check touches the filesystem,
//! and it only looks. Checks cover what the OCI runtime spec says MUST hold and is cheap to
//! see up front; what needs the kernel's answer (does the namespace path exist, is the
//! capability known to this kernel) is left to the layer that acts on it.

mod hooks;
mod linux;
mod mounts;
mod namespaces;
mod process;
mod scheduler;
mod sysctl;
mod version;

use std::path::Path;

use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};

use super::{rootfs_path, Spec};
use crate::error::Error;

/// A named check.
type Check = fn(&Spec) -> Result<(), Error>;

/// Every check but the rootfs one, in the order their errors are reported.
const CHECKS: &[Check] = &[
    process::process_present,
    process::process_args,
    process::process_cwd,
    process::process_env,
    process::process_rlimits,
    process::process_oom_score_adj,
    scheduler::scheduler,
    mounts::mount_destinations,
    mounts::bind_mount_sources,
    mounts::mount_id_mappings,
    namespaces::namespaces_unique,
    namespaces::namespace_paths_absolute,
    namespaces::mount_namespace_required,
    namespaces::hostname_needs_uts,
    namespaces::domainname_needs_uts,
    namespaces::user_namespace_mappings,
    namespaces::id_mapping_ranges,
    namespaces::time_offsets,
    sysctl::sysctl,
    linux::devices,
    linux::masked_and_readonly_paths,
    linux::rootfs_propagation,
    linux::seccomp_shape,
    hooks::hooks,
    hooks::annotations,
];

/// Run every check; the first failure is returned as `Error::InvalidConfig`.
pub fn validate(spec: &Spec, bundle: &Path) -> Result<(), Error> {
    version::oci_version(spec)?;
    rootfs_path(spec, bundle)?;
    CHECKS.iter().try_for_each(|check| check(spec))
}

/// The spec's namespace list (empty without a `linux` section).
fn namespaces(spec: &Spec) -> &[LinuxNamespace] {
    spec.linux()
        .as_ref()
        .and_then(|linux| linux.namespaces().as_deref())
        .unwrap_or_default()
}

/// The namespace entry of type `typ`, if listed.
fn find_namespace(spec: &Spec, typ: LinuxNamespaceType) -> Option<&LinuxNamespace> {
    namespaces(spec).iter().find(|ns| ns.typ() == typ)
}

/// The type's name as written in config.json (oci-spec's `Display` says "mnt" and "net").
fn ns_name(typ: LinuxNamespaceType) -> &'static str {
    match typ {
        LinuxNamespaceType::Mount => "mount",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "network",
        LinuxNamespaceType::Time => "time",
    }
}

/// `true` if `s` contains a NUL byte, which no C string (path, argv, env) can carry.
fn has_nul(s: &str) -> bool {
    s.contains('\0')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::default_spec;
    use crate::spec::testutil::{assert_invalid, patched};

    fn bundle_with_rootfs() -> tempfile::TempDir {
        let bundle = tempfile::tempdir().unwrap();
        std::fs::create_dir(bundle.path().join("rootfs")).unwrap();
        bundle
    }

    #[test]
    fn default_specs_pass() {
        let bundle = bundle_with_rootfs();
        validate(&default_spec(false), bundle.path()).unwrap();
        validate(&default_spec(true), bundle.path()).unwrap();
    }

    #[test]
    fn version_is_checked_first() {
        let spec = patched(|v| v["ociVersion"] = "2.0.0".into());
        let bundle = tempfile::tempdir().unwrap(); // no rootfs either
        assert_invalid(validate(&spec, bundle.path()), "ociVersion", "2.0.0");
    }

    #[test]
    fn rootfs_is_checked() {
        let bundle = tempfile::tempdir().unwrap();
        let err = validate(&default_spec(false), bundle.path());
        assert_invalid(err, "root.path", "no such file or directory");
    }

    #[test]
    fn first_failure_is_reported() {
        let bundle = bundle_with_rootfs();
        let spec = patched(|v| {
            v["process"]["args"] = serde_json::json!([]);
            v["mounts"][0]["destination"] = "proc".into();
        });
        assert_invalid(
            validate(&spec, bundle.path()),
            "process.args",
            "at least one",
        );
    }

    #[test]
    fn terminal_true_is_not_rejected() {
        let bundle = bundle_with_rootfs();
        let spec = patched(|v| v["process"]["terminal"] = true.into());
        validate(&spec, bundle.path()).unwrap();
    }

    #[test]
    fn spec_without_linux_section_does_not_panic() {
        let spec = patched(|v| {
            v.as_object_mut().unwrap().remove("linux");
            v.as_object_mut().unwrap().remove("hostname");
        });
        let failures: Vec<String> = CHECKS
            .iter()
            .filter_map(|check| check(&spec).err())
            .map(|e| e.to_string())
            .collect();
        // Only the mount namespace is missed: sangja cannot set up a rootfs without one.
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(failures[0].starts_with("invalid config: linux.namespaces: "));
    }

    #[test]
    fn ns_names_match_json() {
        for typ in [
            LinuxNamespaceType::Mount,
            LinuxNamespaceType::Network,
            LinuxNamespaceType::Time,
        ] {
            let json = serde_json::to_value(typ).unwrap();
            assert_eq!(json.as_str().unwrap(), ns_name(typ));
        }
    }
}
