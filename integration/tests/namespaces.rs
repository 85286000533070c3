//! Namespaces: a listed type is new (its /proc/self/ns inode differs from the
//! test's), an unlisted one is shared, a `path` is joined; user namespace maps,
//! time namespace offsets, and the loopback-only new network namespace.

use sangja_integration::{assert_clean, setup, skip, util, Bundle, Container, NetNs, Runtime};
use serde_json::json;

/// Run `readlink /proc/self/ns/<name>` in a container of `b` and return it.
fn ns_inside(c: &Container, b: &mut Bundle, name: &str) -> String {
    b.set_args(&["readlink", &format!("/proc/self/ns/{name}")]);
    let o = c.run(b).ok();
    let link = o.stdout.trim().to_string();
    assert!(
        link.starts_with(&format!("{name}:[")),
        "readlink printed {link:?}: {o:?}"
    );
    link
}

/// Give `b` what a new namespace of `ty` needs besides its entry.
fn add_new(b: &mut Bundle, ty: &str) {
    match ty {
        "user" => {
            b.set_userns_mapping(100000, 65536);
        }
        _ => {
            b.add_namespace(ty, None);
        }
    }
}

fn new_namespace_differs(ty: &str) {
    let (rt, c) = setup();
    let name = util::proc_ns_name(ty);
    let mut b = c.bundle();
    add_new(&mut b, ty);
    let host = util::host_ns(name);
    b.set_args(&["readlink", &format!("/proc/self/ns/{name}")]);
    let o = c.run(&b);
    if ty == "time" && !rt.is_sangja() && !o.success() {
        skip!(
            "sangja-only: {} cannot make a time namespace: {}",
            rt.kind().name(),
            o.stderr.trim()
        );
    }
    let inside = o.ok().stdout.trim().to_string();
    assert!(inside.starts_with(&format!("{name}:[")), "{inside:?}");
    assert_ne!(inside, host, "a listed {ty} namespace is new");
    assert_clean(&rt, c.id(), &b);
}

fn absent_namespace_is_shared(ty: &str) {
    let (_rt, c) = setup();
    let name = util::proc_ns_name(ty);
    let mut b = c.bundle();
    b.remove_namespace(ty);
    if ty == "uts" {
        b.remove("/hostname");
    }
    let host = util::host_ns(name);
    assert_eq!(
        ns_inside(&c, &mut b, name),
        host,
        "an unlisted {ty} namespace is the host's"
    );
}

#[test]
fn new_pid_namespace() {
    new_namespace_differs("pid");
}
#[test]
fn new_mount_namespace() {
    new_namespace_differs("mount");
}
#[test]
fn new_uts_namespace() {
    new_namespace_differs("uts");
}
#[test]
fn new_ipc_namespace() {
    new_namespace_differs("ipc");
}
#[test]
fn new_network_namespace() {
    new_namespace_differs("network");
}
#[test]
fn new_cgroup_namespace() {
    new_namespace_differs("cgroup");
}
#[test]
fn new_user_namespace() {
    new_namespace_differs("user");
}
#[test]
fn new_time_namespace() {
    new_namespace_differs("time");
}

#[test]
fn absent_pid_namespace_is_shared() {
    absent_namespace_is_shared("pid");
}
#[test]
fn absent_uts_namespace_is_shared() {
    absent_namespace_is_shared("uts");
}
#[test]
fn absent_ipc_namespace_is_shared() {
    absent_namespace_is_shared("ipc");
}
#[test]
fn absent_network_namespace_is_shared() {
    absent_namespace_is_shared("network");
}
#[test]
fn absent_cgroup_namespace_is_shared() {
    absent_namespace_is_shared("cgroup");
}
#[test]
fn absent_user_namespace_is_shared() {
    absent_namespace_is_shared("user");
}
#[test]
fn absent_time_namespace_is_shared() {
    absent_namespace_is_shared("time");
}
#[test]
fn absent_mount_namespace_is_not_tested() {
    let _rt = Runtime::new();
    skip!(
        "a container without a mount namespace would mount its rootfs, /proc and /dev on the host"
    );
}

#[test]
fn join_named_network_namespace_by_path() {
    let (rt, c) = setup();
    let ns = NetNs::new();
    let mut b = c.bundle();
    b.add_namespace("network", Some(ns.path().to_str().unwrap()));
    assert_eq!(ns_inside(&c, &mut b, "net"), ns.ns_link());
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn join_another_containers_namespaces() {
    let rt = Runtime::new();
    let a = Container::new(&rt);
    let mut ba = a.bundle();
    ba.set_hostname("itest-shared");
    ba.set_args(&["sleep", "1000"]);
    a.start_running(&ba);
    let pid = a.pid();
    let target = |name: &str| {
        std::fs::read_link(format!("/proc/{pid}/ns/{name}"))
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };

    let b = Container::new(&rt);
    let mut bb = b.bundle();
    for ty in ["network", "ipc", "uts", "pid"] {
        let p = format!("/proc/{pid}/ns/{}", util::proc_ns_name(ty));
        bb.add_namespace(ty, Some(&p));
    }
    bb.set_script(
        "for n in net ipc uts pid; do readlink /proc/self/ns/$n; done; hostname; \
         [ $$ -ne 1 ] && echo not-init",
    );
    let o = b.run(&bb).ok();
    let want = [
        target("net"),
        target("ipc"),
        target("uts"),
        target("pid"),
        "itest-shared".into(),
        "not-init".into(),
    ];
    assert_eq!(o.lines(), want, "{o:?}");
    assert_eq!(a.status(), "running", "the joined container is unaffected");
}

#[test]
fn user_namespace_maps_ids() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_userns_mapping(100000, 65536);
    b.set_script("cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g");
    let o = c.run(&b).ok();
    let lines: Vec<Vec<String>> = o
        .stdout
        .lines()
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect();
    assert_eq!(lines.len(), 4, "{o:?}");
    assert_eq!(lines[0], ["0", "100000", "65536"], "uid_map: {o:?}");
    assert_eq!(lines[1], ["0", "100000", "65536"], "gid_map: {o:?}");
    assert_eq!(lines[2], ["0"], "root inside: {o:?}");
    assert_eq!(lines[3], ["0"], "{o:?}");
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn user_namespace_with_non_root_user() {
    let (_rt, c) = setup();
    let mut b = c.bundle();
    b.set_userns_mapping(100000, 65536);
    b.set_user(1000, 1000, &[]);
    b.set_script("id -u; id -g; cat /proc/self/uid_map");
    let o = c.run(&b).ok();
    let lines = o.lines();
    assert_eq!(lines[0], "1000", "{o:?}");
    assert_eq!(lines[1], "1000", "{o:?}");
}

#[test]
fn time_namespace_offsets() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.add_namespace("time", None);
    // /proc/uptime follows CLOCK_BOOTTIME; the monotonic offset shows in timens_offsets.
    b.set(
        "/linux/timeOffsets",
        json!({"monotonic": {"secs": 86400, "nanosecs": 0}, "boottime": {"secs": 86400, "nanosecs": 0}}),
    );
    b.set_script("cat /proc/uptime; cat /proc/self/timens_offsets");
    let host_uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let o = c.run(&b);
    if !rt.is_sangja() && !o.success() {
        skip!(
            "sangja-only: {} cannot make a time namespace: {}",
            rt.kind().name(),
            o.stderr.trim()
        );
    }
    let o = o.ok();
    let lines: Vec<Vec<&str>> = o
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let up: f64 = lines[0][0].parse().unwrap();
    assert!(
        up >= host_uptime + 86400.0 - 1.0,
        "uptime inside {up} vs host {host_uptime}: {o:?}"
    );
    assert!(lines.contains(&vec!["monotonic", "86400", "0"]), "{o:?}");
    assert!(lines.contains(&vec!["boottime", "86400", "0"]), "{o:?}");
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn new_network_namespace_has_only_loopback_up() {
    let (_rt, c) = setup();
    let mut b = c.bundle();
    b.set_script("ls /sys/class/net; cat /sys/class/net/lo/operstate; cat /sys/class/net/lo/flags; ip link show lo");
    let o = c.run(&b).ok();
    let lines = o.lines();
    assert_eq!(lines[0], "lo", "only lo: {o:?}");
    assert!(
        ["unknown", "up"].contains(&lines[1].as_str()),
        "lo operstate: {o:?}"
    );
    let flags = u32::from_str_radix(lines[2].trim_start_matches("0x"), 16).unwrap();
    assert_eq!(flags & 1, 1, "IFF_UP set on lo: {o:?}");
    assert!(lines[3].contains("<LOOPBACK,UP"), "ip link: {o:?}");
}
