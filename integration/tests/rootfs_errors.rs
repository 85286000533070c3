//! Bad mounts and devices: `create` exits 1 with one error line that names the mount (for
//! sangja: `invalid config: mounts[N]…`, or `mount <destination>: …` from init), and leaves
//! nothing behind (state dir, processes, mounts under the bundle, cgroups).

mod rootfs_common;

use rootfs_common::*;
use sangja_integration::{setup, skip, Bundle};
use serde_json::{json, Value};

/// Append `mount` (it becomes `mounts[6]` of the bench's default config) and expect `create` to
/// fail; sangja's message must contain every one of `sangja_words`. `runc_accepts`: the reason a
/// runtime without sangja's check runs the config anyway (the test is then sangja-only).
fn bad_mount(mount: Value, sangja_words: &[&str], runc_accepts: Option<&str>) {
    bad_config(
        |b| {
            b.add_mount(mount);
            assert_eq!(
                b.config()["mounts"].as_array().map(|a| a.len()),
                Some(7),
                "the bench's default config has 6 mounts"
            );
        },
        sangja_words,
        runc_accepts,
    )
}

fn bad_config(edit: impl FnOnce(&mut Bundle), sangja_words: &[&str], runc_accepts: Option<&str>) {
    let (rt, c) = setup();
    if let (false, Some(why)) = (rt.is_sangja(), runc_accepts) {
        skip!("sangja-only: {why}");
    }
    let mut b = c.bundle();
    b.set_args(&["true"]);
    edit(&mut b);
    let o = create_fails(&rt, &c, &b, &[]);
    rt.assert_sangja_wording(&o, sangja_words);
}

#[test]
fn relative_destination() {
    bad_mount(
        json!({"destination": "data", "type": "bind", "source": "/tmp", "options": ["rbind"]}),
        &[
            "invalid config: mounts[6].destination",
            "\"data\" is not an absolute path",
        ],
        Some("runc 1.1 only warns about a relative destination and mounts it under /"),
    );
}

#[test]
fn unknown_propagation_word_on_a_bind() {
    bad_mount(
        json!({"destination": "/mnt/x", "type": "bind", "source": "/tmp", "options": ["rbind", "rslve"]}),
        &[
            "invalid config: mounts[6].options",
            "\"rslve\" is not a mount option",
        ],
        Some("runc 1.1 passes unknown words to a bind mount as data, which the kernel ignores"),
    );
}

#[test]
fn unknown_word_on_a_tmpfs() {
    // The word reaches the filesystem, which refuses it: every runtime fails.
    bad_mount(
        json!({"destination": "/mnt/x", "type": "tmpfs", "source": "tmpfs", "options": ["rprivat"]}),
        &["mount /mnt/x", "tmpfs"],
        None,
    );
}

#[test]
fn missing_bind_source() {
    bad_mount(
        json!({"destination": "/mnt/x", "type": "bind", "source": "/nonexistent/itest-src",
               "options": ["rbind"]}),
        &["mount /mnt/x", "/nonexistent/itest-src"],
        None,
    );
}

#[test]
fn unknown_filesystem_type() {
    bad_mount(
        json!({"destination": "/mnt/x", "type": "itestnosuchfs", "source": "none"}),
        &["mount /mnt/x", "itestnosuchfs"],
        None,
    );
}

#[test]
fn destination_is_the_root() {
    bad_mount(
        json!({"destination": "/", "type": "tmpfs", "source": "tmpfs"}),
        &["invalid config: mounts[6].destination", "container root"],
        None,
    );
}

#[test]
fn idmap_without_mappings() {
    bad_mount(
        json!({"destination": "/mnt/x", "type": "bind", "source": "/tmp", "options": ["rbind", "idmap"]}),
        &[
            "invalid config: mounts[6].uidMappings",
            "idmap needs uidMappings",
        ],
        Some("runc 1.1.5 has no idmap (it ignores the word on a bind)"),
    );
}

#[test]
fn tmpcopyup_on_a_bind() {
    bad_mount(
        json!({"destination": "/mnt/x", "type": "bind", "source": "/tmp", "options": ["rbind", "tmpcopyup"]}),
        &[
            "invalid config: mounts[6].options",
            "tmpcopyup is only supported on tmpfs",
        ],
        Some("runc 1.1 ignores tmpcopyup on a bind mount"),
    );
}

#[test]
fn device_with_an_unknown_type() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["true"]);
    b.set(
        "/linux/devices",
        json!([{"path": "/dev/itest", "type": "x", "major": 1, "minor": 3}]),
    );
    let o = create_fails(&rt, &c, &b, &[]);
    rt.assert_sangja_wording(&o, &["linux.devices[0].type"]);
}

#[test]
fn device_of_type_a() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["true"]);
    b.set(
        "/linux/devices",
        json!([{"path": "/dev/itest", "type": "a", "major": 1, "minor": 3}]),
    );
    let o = create_fails(&rt, &c, &b, &[]);
    rt.assert_sangja_wording(&o, &["invalid config: linux.devices[0].type"]);
}

#[test]
fn device_with_a_relative_path() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["true"]);
    b.set(
        "/linux/devices",
        json!([{"path": "dev/itest", "type": "c", "major": 1, "minor": 3}]),
    );
    if !rt.is_sangja() {
        skip!("sangja-only: runc 1.1 accepts a device with a relative path");
    }
    let o = create_fails(&rt, &c, &b, &[]);
    rt.assert_sangja_wording(&o, &["invalid config: linux.devices[0].path"]);
}
