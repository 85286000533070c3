//! Tests of the namespace checks (a file of their own to keep `namespaces.rs` short).

use super::*;
use crate::spec::default_spec;
use crate::spec::testutil::{assert_invalid, patched};
use serde_json::{json, Value};

fn push_ns(v: &mut Value, ns: Value) {
    v["linux"]["namespaces"].as_array_mut().unwrap().push(ns);
}

fn remove_ns(v: &mut Value, typ: &str) {
    let list = v["linux"]["namespaces"].as_array_mut().unwrap();
    list.retain(|ns| ns["type"] != typ);
}

fn map(container: u32, host: u32, size: u32) -> Value {
    json!({"containerID": container, "hostID": host, "size": size})
}

#[test]
fn unique() {
    namespaces_unique(&default_spec(false)).unwrap();
    let twice = patched(|v| push_ns(v, json!({"type": "pid", "path": "/proc/1/ns/pid"})));
    assert_invalid(
        namespaces_unique(&twice),
        "linux.namespaces[6].type",
        "namespace \"pid\" listed twice",
    );
}

#[test]
fn paths_absolute() {
    let ok = patched(|v| v["linux"]["namespaces"][1]["path"] = "/var/run/netns/a".into());
    namespace_paths_absolute(&ok).unwrap();
    let relative = patched(|v| v["linux"]["namespaces"][2]["path"] = "netns/a".into());
    assert_invalid(
        namespace_paths_absolute(&relative),
        "linux.namespaces[2].path",
        "\"netns/a\" is not an absolute path",
    );
}

#[test]
fn mount_namespace() {
    mount_namespace_required(&default_spec(false)).unwrap();
    let joined = patched(|v| v["linux"]["namespaces"][4]["path"] = "/proc/1/ns/mnt".into());
    mount_namespace_required(&joined).unwrap();
    let none = patched(|v| remove_ns(v, "mount"));
    assert_invalid(
        mount_namespace_required(&none),
        "linux.namespaces",
        "a \"mount\" namespace is required",
    );
    let no_linux = patched(|v| {
        v.as_object_mut().unwrap().remove("linux");
    });
    assert_invalid(
        mount_namespace_required(&no_linux),
        "linux.namespaces",
        "required",
    );
}

#[test]
fn hostname() {
    hostname_needs_uts(&default_spec(false)).unwrap();
    let joined = patched(|v| v["linux"]["namespaces"][3]["path"] = "/proc/1/ns/uts".into());
    hostname_needs_uts(&joined).unwrap();
    let no_uts_no_name = patched(|v| {
        remove_ns(v, "uts");
        v.as_object_mut().unwrap().remove("hostname");
    });
    hostname_needs_uts(&no_uts_no_name).unwrap();
    let no_uts = patched(|v| remove_ns(v, "uts"));
    assert_invalid(
        hostname_needs_uts(&no_uts),
        "hostname",
        "unable to set hostname without a private uts namespace",
    );
}

#[test]
fn domainname() {
    let with_uts = patched(|v| v["domainname"] = "example.org".into());
    domainname_needs_uts(&with_uts).unwrap();
    let no_uts = patched(|v| {
        remove_ns(v, "uts");
        v["domainname"] = "example.org".into();
    });
    assert_invalid(
        domainname_needs_uts(&no_uts),
        "domainname",
        "without a private uts namespace",
    );
}

#[test]
fn user_namespace_and_mappings() {
    user_namespace_mappings(&default_spec(false)).unwrap();
    user_namespace_mappings(&default_spec(true)).unwrap();
    let maps_without_userns = patched(|v| v["linux"]["uidMappings"] = json!([map(0, 1000, 1)]));
    assert_invalid(
        user_namespace_mappings(&maps_without_userns),
        "linux.uidMappings",
        "require a \"user\" namespace",
    );
    let gid_without_userns = patched(|v| v["linux"]["gidMappings"] = json!([map(0, 1000, 1)]));
    assert_invalid(
        user_namespace_mappings(&gid_without_userns),
        "linux.gidMappings",
        "require a \"user\" namespace",
    );
    let userns_without_maps = patched(|v| push_ns(v, json!({"type": "user"})));
    assert_invalid(
        user_namespace_mappings(&userns_without_maps),
        "linux.uidMappings",
        "at least one uid mapping",
    );
    let no_gid = patched(|v| {
        push_ns(v, json!({"type": "user"}));
        v["linux"]["uidMappings"] = json!([map(0, 1000, 1)]);
    });
    assert_invalid(
        user_namespace_mappings(&no_gid),
        "linux.gidMappings",
        "at least one gid mapping",
    );
    let joined = patched(|v| push_ns(v, json!({"type": "user", "path": "/proc/1/ns/user"})));
    user_namespace_mappings(&joined).unwrap();
}

#[test]
fn mapping_ranges() {
    let ok = patched(|v| {
        v["linux"]["uidMappings"] = json!([map(0, 100000, 65536), map(65536, 1000, 1)]);
        v["linux"]["gidMappings"] = json!([map(0, 4294967295u32, 1)]);
    });
    id_mapping_ranges(&ok).unwrap();
    let zero = patched(|v| v["linux"]["uidMappings"] = json!([map(0, 1000, 0)]));
    assert_invalid(
        id_mapping_ranges(&zero),
        "linux.uidMappings[0].size",
        "greater than zero",
    );
    let past_end = patched(|v| v["linux"]["gidMappings"] = json!([map(4294967295u32, 0, 2)]));
    assert_invalid(
        id_mapping_ranges(&past_end),
        "linux.gidMappings[0]",
        "containerID 4294967295 plus size 2 goes past the largest id",
    );
    let overlap = patched(|v| {
        v["linux"]["uidMappings"] = json!([map(0, 1000, 10), map(100, 1005, 1)]);
    });
    assert_invalid(
        id_mapping_ranges(&overlap),
        "linux.uidMappings[1]",
        "overlaps linux.uidMappings[0]",
    );
    let too_many = patched(|v| {
        let maps: Vec<Value> = (0..341).map(|i| map(i, i, 1)).collect();
        v["linux"]["uidMappings"] = maps.into();
    });
    assert_invalid(
        id_mapping_ranges(&too_many),
        "linux.uidMappings",
        "at most 340",
    );
}

#[test]
fn time_offsets_need_time_namespace() {
    let offsets = json!({"monotonic": {"secs": 10, "nanosecs": 5}, "boottime": {"secs": -3}});
    let ok = patched(|v| {
        push_ns(v, json!({"type": "time"}));
        v["linux"]["timeOffsets"] = offsets.clone();
    });
    time_offsets(&ok).unwrap();
    let no_ns = patched(|v| v["linux"]["timeOffsets"] = offsets.clone());
    assert_invalid(
        time_offsets(&no_ns),
        "linux.timeOffsets",
        "requires a new \"time\"",
    );
    let joined = patched(|v| {
        push_ns(v, json!({"type": "time", "path": "/proc/1/ns/time"}));
        v["linux"]["timeOffsets"] = offsets.clone();
    });
    assert_invalid(time_offsets(&joined), "linux.timeOffsets", "without a path");
    let bad_clock = patched(|v| {
        push_ns(v, json!({"type": "time"}));
        v["linux"]["timeOffsets"] = json!({"realtime": {"secs": 1}});
    });
    assert_invalid(
        time_offsets(&bad_clock),
        "linux.timeOffsets.realtime",
        "unknown clock",
    );
    let bad_nanos = patched(|v| {
        push_ns(v, json!({"type": "time"}));
        v["linux"]["timeOffsets"] = json!({"boottime": {"nanosecs": 1_000_000_000}});
    });
    assert_invalid(
        time_offsets(&bad_nanos),
        "linux.timeOffsets.boottime.nanosecs",
        "not below 1000000000",
    );
}
