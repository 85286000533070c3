//! `/dev`: configured devices (char, block, fifo) with their type, numbers, mode and owner;
//! devices in a user namespace (bind-mounted host nodes); `/dev/console` only with a terminal,
//! and then the terminal itself.

mod rootfs_common;

use std::time::Duration;

use rootfs_common::*;
use sangja_integration::console::{self, ConsoleSocket};
use sangja_integration::{assert_clean, setup, skip};
use serde_json::json;

#[test]
fn configured_devices_have_type_numbers_mode_and_owner() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    let before = device_fingerprint(std::path::Path::new("/dev/null"));
    b.set(
        "/linux/devices",
        json!([
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
             "fileMode": 0o640, "uid": 1000, "gid": 1001},
            {"path": "/dev/itest-blk", "type": "b", "major": 7, "minor": 200,
             "fileMode": 0o600, "uid": 0, "gid": 6},
            {"path": "/dev/itest-fifo", "type": "p", "fileMode": 0o620, "uid": 2, "gid": 3},
            {"path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200},
            {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666,
             "uid": 0, "gid": 0}
        ]),
    );
    // The bench denies all devices in the cgroup; allow these (runc applies v1 device rules,
    // which also govern mknod).
    let allow = |t: &str, major: i64, minor: i64| json!({"allow": true, "type": t, "major": major, "minor": minor, "access": "rwm"});
    b.set(
        "/linux/resources/devices",
        json!([
            {"allow": false, "access": "rwm"},
            allow("c", 10, 229),
            allow("b", 7, 200),
            allow("c", 10, 200),
            allow("c", 1, 3)
        ]),
    );
    b.set_script(
        "for d in fuse itest-blk itest-fifo net/tun null; do \
         echo \"$d $(stat -c '%F %t:%T %a %u:%g' /dev/$d)\"; done",
    );
    let o = c.run(&b).ok();
    assert_eq!(
        o.lines(),
        [
            "fuse character special file a:e5 640 1000:1001",
            "itest-blk block special file 7:c8 600 0:6",
            "itest-fifo fifo 0:0 620 2:3",
            "net/tun character special file a:c8 666 0:0",
            "null character special file 1:3 666 0:0",
        ],
        "{o:?}"
    );
    assert_eq!(
        device_fingerprint(std::path::Path::new("/dev/null")),
        before
    );
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn user_namespace_devices_are_bound_host_nodes() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_userns_mapping(100000, 65536);
    let before = device_fingerprint(std::path::Path::new("/dev/null"));
    b.set_script(
        "for d in null zero urandom tty; do echo \"$d $(stat -c '%F %t:%T' /dev/$d)\"; done; \
         echo x > /dev/null && echo null-ok; grep -c ' /dev/null ' /proc/self/mountinfo",
    );
    let o = c.run(&b).ok();
    assert_eq!(
        o.lines(),
        [
            "null character special file 1:3",
            "zero character special file 1:5",
            "urandom character special file 1:9",
            "tty character special file 5:0",
            "null-ok",
            "1"
        ],
        "{o:?}"
    );
    assert_eq!(
        device_fingerprint(std::path::Path::new("/dev/null")),
        before,
        "the host /dev/null was changed"
    );
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn no_console_without_a_terminal() {
    let (_rt, c) = setup();
    let mut b = c.bundle();
    b.set_script("[ -e /dev/console ] && echo console || echo no-console");
    let o = c.run(&b).ok();
    assert_eq!(o.lines(), ["no-console"], "{o:?}");
}

#[test]
fn console_is_the_terminal() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_terminal(true);
    b.set_script(
        "echo \"console $(stat -c '%F %t:%T' /dev/console)\"; \
         echo \"tty $(stat -c '%F %t:%T' $(tty))\"; echo itest-done",
    );
    let sock_path = rt.scratch("console.sock");
    let mut sock = ConsoleSocket::new(&sock_path);
    let o = rt
        .command(["create", "--console-socket"])
        .arg(sock.path())
        .arg("--bundle")
        .arg(b.path())
        .arg(c.id())
        .output();
    if rt.is_sangja() && o.stderr.contains("not supported yet") {
        skip!(
            "sangja has no terminals yet ({}); rootfs::bind_console is ready for them",
            o.stderr.trim()
        );
    }
    let o = o.ok();
    let master = sock.master(Duration::from_secs(10));
    c.start();
    let text = console::read_until(master, "itest-done", Duration::from_secs(10));
    let line = |p: &str| {
        text.lines()
            .find(|l| l.starts_with(p))
            .unwrap_or_else(|| panic!("no {p:?} line in {text:?} ({o:?})"))
            .trim()
            .to_string()
    };
    let console = line("console ");
    let tty = line("tty ");
    assert!(
        console.starts_with("console character special file 88:"),
        "/dev/console is a pty slave (major 136): {text:?}"
    );
    assert_eq!(
        console.trim_start_matches("console "),
        tty.trim_start_matches("tty "),
        "/dev/console is the container's terminal: {text:?}"
    );
    c.wait_status("stopped");
    c.delete(false).ok();
    assert_clean(&rt, c.id(), &b);
}
