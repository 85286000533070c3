//! `linux.namespaces` and what depends on them: the mount namespace the rootfs needs,
//! hostname and domainname, user id mappings, time offsets.

use std::collections::HashSet;

use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType};

use super::{find_namespace, namespaces, ns_name, Spec};
use crate::error::Error;

/// Most lines a uid_map or gid_map may have (Linux 4.15 and later).
const MAX_ID_MAP_LINES: usize = 340;

/// Each namespace type is listed at most once (config-linux.md: a MUST).
pub(super) fn namespaces_unique(spec: &Spec) -> Result<(), Error> {
    let mut seen = HashSet::new();
    for (i, ns) in namespaces(spec).iter().enumerate() {
        if !seen.insert(ns.typ()) {
            return Err(Error::invalid(
                format!("linux.namespaces[{i}].type"),
                format!("namespace {:?} listed twice", ns_name(ns.typ())),
            ));
        }
    }
    Ok(())
}

/// A namespace `path` is absolute (config-linux.md: a MUST). Whether it really is a namespace
/// of that type is for `setns` to say.
pub(super) fn namespace_paths_absolute(spec: &Spec) -> Result<(), Error> {
    for (i, ns) in namespaces(spec).iter().enumerate() {
        if let Some(path) = ns.path() {
            if !path.is_absolute() {
                return Err(Error::invalid(
                    format!("linux.namespaces[{i}].path"),
                    format!("{:?} is not an absolute path", path.display().to_string()),
                ));
            }
        }
    }
    Ok(())
}

/// A `mount` namespace is listed: the rootfs, mounts, masked and readonly paths are all set
/// up by mounting, which without one would happen on the host (runc skips its rootfs setup
/// then; sangja refuses instead).
pub(super) fn mount_namespace_required(spec: &Spec) -> Result<(), Error> {
    match find_namespace(spec, LinuxNamespaceType::Mount) {
        Some(_) => Ok(()),
        None => Err(Error::invalid(
            "linux.namespaces",
            "a \"mount\" namespace is required: without one the container's mounts would be made on the host",
        )),
    }
}

/// Setting the host's name from a container is never intended, so `field` needs a UTS
/// namespace. As in runc, one joined by path is accepted (pods share one).
fn needs_uts(spec: &Spec, field: &str, value: Option<&String>) -> Result<(), Error> {
    let set = value.is_some_and(|v| !v.is_empty());
    if set && find_namespace(spec, LinuxNamespaceType::Uts).is_none() {
        return Err(Error::invalid(
            field,
            format!("unable to set {field} without a private uts namespace"),
        ));
    }
    Ok(())
}

/// `hostname` requires a `uts` namespace.
pub(super) fn hostname_needs_uts(spec: &Spec) -> Result<(), Error> {
    needs_uts(spec, "hostname", spec.hostname().as_ref())
}

/// `domainname` requires a `uts` namespace.
pub(super) fn domainname_needs_uts(spec: &Spec) -> Result<(), Error> {
    needs_uts(spec, "domainname", spec.domainname().as_ref())
}

fn uid_maps(spec: &Spec) -> &[LinuxIdMapping] {
    let linux = spec.linux().as_ref();
    linux
        .and_then(|l| l.uid_mappings().as_deref())
        .unwrap_or_default()
}

fn gid_maps(spec: &Spec) -> &[LinuxIdMapping] {
    let linux = spec.linux().as_ref();
    linux
        .and_then(|l| l.gid_mappings().as_deref())
        .unwrap_or_default()
}

/// Mappings require a `user` namespace; a new one (no `path`) requires at least one uid and
/// one gid mapping, without which the container's ids would all be the overflow id.
pub(super) fn user_namespace_mappings(spec: &Spec) -> Result<(), Error> {
    let user_ns = find_namespace(spec, LinuxNamespaceType::User);
    for (field, maps, kind) in [
        ("linux.uidMappings", uid_maps(spec), "uid"),
        ("linux.gidMappings", gid_maps(spec), "gid"),
    ] {
        match user_ns {
            None if !maps.is_empty() => {
                return Err(Error::invalid(
                    field,
                    "mappings require a \"user\" namespace in linux.namespaces",
                ))
            }
            Some(ns) if ns.path().is_none() && maps.is_empty() => {
                return Err(Error::invalid(
                    field,
                    format!("a new user namespace needs at least one {kind} mapping"),
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Each mapping is one the kernel would take: at most 340 lines, a size above zero, no range
/// past the largest id, no two ranges overlapping on either side.
pub(super) fn id_mapping_ranges(spec: &Spec) -> Result<(), Error> {
    check_ranges("linux.uidMappings", uid_maps(spec))?;
    check_ranges("linux.gidMappings", gid_maps(spec))
}

fn check_ranges(field: &str, maps: &[LinuxIdMapping]) -> Result<(), Error> {
    if maps.len() > MAX_ID_MAP_LINES {
        return Err(Error::invalid(
            field,
            format!(
                "{} mappings, the kernel takes at most {MAX_ID_MAP_LINES}",
                maps.len()
            ),
        ));
    }
    let end = |start: u32, size: u32| u64::from(start) + u64::from(size);
    let overlap = |a: u32, b: u32, size_a: u32, size_b: u32| {
        u64::from(a) < end(b, size_b) && u64::from(b) < end(a, size_a)
    };
    for (i, m) in maps.iter().enumerate() {
        if m.size() == 0 {
            return Err(Error::invalid(
                format!("{field}[{i}].size"),
                "must be greater than zero",
            ));
        }
        for (side, start) in [("containerID", m.container_id()), ("hostID", m.host_id())] {
            if end(start, m.size()) > 1 << 32 {
                return Err(Error::invalid(
                    format!("{field}[{i}]"),
                    format!(
                        "{side} {start} plus size {} goes past the largest id",
                        m.size()
                    ),
                ));
            }
        }
        for (j, other) in maps.iter().enumerate().take(i) {
            let c = overlap(
                m.container_id(),
                other.container_id(),
                m.size(),
                other.size(),
            );
            let h = overlap(m.host_id(), other.host_id(), m.size(), other.size());
            if c || h {
                return Err(Error::invalid(
                    format!("{field}[{i}]"),
                    format!("overlaps {field}[{j}]"),
                ));
            }
        }
    }
    Ok(())
}

/// `linux.timeOffsets` needs a new `time` namespace (offsets can only be written before any
/// process enters it), names only the clocks the kernel knows, and keeps nanoseconds below
/// one second.
pub(super) fn time_offsets(spec: &Spec) -> Result<(), Error> {
    let Some(offsets) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().as_ref())
    else {
        return Ok(());
    };
    if offsets.is_empty() {
        return Ok(());
    }
    let time_ns = find_namespace(spec, LinuxNamespaceType::Time);
    if !time_ns.is_some_and(|ns| ns.path().is_none()) {
        return Err(Error::invalid(
            "linux.timeOffsets",
            "requires a new \"time\" namespace (one without a path) in linux.namespaces",
        ));
    }
    let mut clocks: Vec<_> = offsets.iter().collect();
    clocks.sort_by(|a, b| a.0.cmp(b.0));
    for (clock, offset) in clocks {
        let field = format!("linux.timeOffsets.{clock}");
        if clock != "monotonic" && clock != "boottime" {
            return Err(Error::invalid(
                field,
                format!("unknown clock {clock:?}, want \"monotonic\" or \"boottime\""),
            ));
        }
        if let Some(nanos) = offset.nanosecs().filter(|&n| n >= 1_000_000_000) {
            return Err(Error::invalid(
                format!("{field}.nanosecs"),
                format!("{nanos} is not below 1000000000"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "namespaces_tests.rs"]
mod tests;
