//! Checks of the bench itself: that its leftover detector and its timeout
//! actually catch what they are meant to, whatever the runtime.

use std::time::Duration;

use sangja_integration::{leftovers, setup, util};

#[test]
fn rootfs_has_busybox_users_and_mount_points() {
    let (_rt, c) = setup();
    let b = c.bundle();
    let r = b.rootfs();
    assert!(r.join("bin/busybox").is_file());
    assert_eq!(
        std::fs::read_link(r.join("bin/sh")).unwrap().to_str(),
        Some("busybox")
    );
    for d in ["proc", "dev", "sys", "tmp"] {
        assert!(r.join(d).is_dir(), "{d}");
    }
    let passwd = std::fs::read_to_string(r.join("etc/passwd")).unwrap();
    for u in ["root:x:0:0", "nobody:x:65534:65534", "user:x:1000:1000"] {
        assert!(passwd.contains(u), "{u}");
    }
    let cfg = b.config();
    assert_eq!(cfg["process"]["terminal"], false);
    assert_eq!(
        cfg["linux"]["cgroupsPath"],
        format!("/sangja-itest/{}", c.id())
    );
}

#[test]
fn leftover_detector_sees_a_live_container() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["sleep", "1000"]);
    c.start_running(&b);
    let found = leftovers::leftovers_now(&rt, c.id(), &b);
    assert!(
        found.iter().any(|f| f.starts_with("state directory")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("process left") && f.contains("environ")),
        "the container process is found by its environment: {found:?}"
    );
    if !leftovers::cgroup_dirs(c.id()).is_empty() {
        assert!(
            found.iter().any(|f| f.starts_with("cgroup left")),
            "{found:?}"
        );
    }
    c.delete(true).ok();
    assert!(leftovers::leftovers(&rt, c.id(), &b).is_empty());
}

#[test]
fn hung_command_is_killed_at_the_timeout() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["sleep", "1000"]);
    let r = rt
        .command(["run", "--bundle"])
        .arg(b.path())
        .arg(c.id())
        .timeout(Duration::from_secs(2))
        .spawn();
    let pid = r.pid();
    let res = r.wait_result();
    let out = res.expect_err("a 1000 s container must hit the 2 s limit");
    assert!(out.elapsed < Duration::from_secs(10), "{out:?}");
    assert!(!util::pid_alive(pid), "the runtime process was killed");
    // The Container guard deletes the orphaned container on drop.
}
