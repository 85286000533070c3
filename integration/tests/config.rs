//! The rootfs the config describes: root.readonly, --no-pivot, /dev, /proc,
//! masked and read-only paths, extra mounts.

use std::fs;

use sangja_integration::{assert_clean, setup, skip};
use serde_json::json;

#[test]
fn readonly_root_refuses_writes() {
    let (_rt, c) = setup();
    let mut b = c.bundle();
    b.set_readonly_root(true);
    b.set_script(
        "touch /itest 2>/dev/null && echo root-writable || echo root-readonly; \
         touch /tmp/itest 2>/dev/null && echo tmp-writable || echo tmp-readonly; \
         echo x > /dev/itest && echo dev-writable",
    );
    let o = c.run(&b).ok();
    assert_eq!(
        o.lines(),
        ["root-readonly", "tmp-readonly", "dev-writable"],
        "{o:?}"
    );
    assert!(!b.rootfs().join("itest").exists());
}

#[test]
fn writable_root_by_default() {
    let (_rt, c) = setup();
    let mut b = c.bundle();
    b.set_script("echo hello > /tmp/from-container");
    c.run(&b).ok();
    assert_eq!(
        fs::read_to_string(b.rootfs().join("tmp/from-container")).unwrap(),
        "hello\n"
    );
}

#[test]
fn no_pivot_create_start() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_script("cat /proc/1/cmdline | tr '\\0' ' '; echo; ls /");
    let out = rt.scratch("stdout");
    rt.command(["create", "--no-pivot", "--bundle"])
        .arg(b.path())
        .arg(c.id())
        .stdout_to(&out)
        .output()
        .ok();
    c.start();
    c.wait_status("stopped");
    let text = fs::read_to_string(&out).unwrap();
    assert!(
        text.starts_with("sh -c "),
        "container runs its own init: {text:?}"
    );
    assert!(
        text.contains("busybox") || text.contains("bin"),
        "sees its rootfs: {text:?}"
    );
    c.delete(false).ok();
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn no_pivot_run() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_script("ls /bin/busybox && echo ok");
    let o = rt
        .command(["run", "--no-pivot", "--bundle"])
        .arg(b.path())
        .arg(c.id())
        .output()
        .ok();
    assert_eq!(o.lines(), ["/bin/busybox", "ok"]);
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn dev_has_the_default_char_devices() {
    let (_rt, c) = setup();
    let mut b = c.bundle();
    // busybox stat: %F file type, %t/%T major/minor in hex.
    b.set_script("for d in null zero full random urandom tty; do echo \"$d $(stat -c '%F %t:%T' /dev/$d)\"; done");
    let o = c.run(&b).ok();
    let want = [
        "null character special file 1:3",
        "zero character special file 1:5",
        "full character special file 1:7",
        "random character special file 1:8",
        "urandom character special file 1:9",
        "tty character special file 5:0",
    ];
    assert_eq!(o.lines(), want, "{o:?}");
}

#[test]
fn dev_devices_work() {
    let (_rt, c) = setup();
    let mut b = c.bundle();
    b.set_script(
        "echo x > /dev/null && echo null-ok; \
         [ \"$(head -c 4 /dev/zero | wc -c)\" = 4 ] && echo zero-ok; \
         echo x > /dev/full 2>/dev/null || echo full-ok; \
         [ \"$(head -c 16 /dev/urandom | wc -c)\" = 16 ] && echo urandom-ok",
    );
    let o = c.run(&b).ok();
    assert_eq!(
        o.lines(),
        ["null-ok", "zero-ok", "full-ok", "urandom-ok"],
        "{o:?}"
    );
}

#[test]
fn dev_symlinks_and_ptmx() {
    // What runc sets up besides the device nodes; sangja copies it.
    let (_rt, c) = setup();
    let mut b = c.bundle();
    b.set_script(
        "for l in fd stdin stdout stderr ptmx; do echo \"$l $(readlink /dev/$l)\"; done; \
         [ -e /dev/pts/ptmx ] && echo pts-ptmx; [ -d /dev/shm ] && echo shm; [ -d /dev/mqueue ] && echo mqueue",
    );
    let o = c.run(&b).ok();
    assert_eq!(
        o.lines(),
        [
            "fd /proc/self/fd",
            "stdin /proc/self/fd/0",
            "stdout /proc/self/fd/1",
            "stderr /proc/self/fd/2",
            "ptmx pts/ptmx",
            "pts-ptmx",
            "shm",
            "mqueue"
        ],
        "{o:?}"
    );
}

#[test]
fn proc_is_the_containers_own() {
    let (_rt, c) = setup();
    let mut b = c.bundle();
    b.set_script("echo pid=$$; tr '\\0' ' ' < /proc/1/cmdline; echo; ls /proc | grep -c '^[0-9]'");
    let o = c.run(&b).ok();
    let lines = o.lines();
    assert_eq!(lines[0], "pid=1", "{o:?}");
    assert!(
        lines[1].starts_with("sh -c echo pid=$$"),
        "/proc/1/cmdline is ours: {o:?}"
    );
    let n: usize = lines[2].parse().unwrap();
    assert!(
        n <= 3,
        "a new pid namespace's /proc shows only the container's processes: {o:?}"
    );
}

/// Paths of the default config's list that exist on this host (a kernel without,
/// say, CONFIG_PROC_KCORE has nothing to mask there).
fn existing(paths: &[&'static str]) -> Vec<&'static str> {
    paths
        .iter()
        .copied()
        .filter(|p| std::path::Path::new(p).exists())
        .collect()
}

#[test]
fn masked_paths_are_masked() {
    let (_rt, c) = setup();
    let files = existing(&[
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/proc/sched_debug",
        "/proc/latency_stats",
    ]);
    let dirs = existing(&["/sys/firmware", "/proc/acpi", "/proc/scsi", "/proc/asound"]);
    if files.is_empty() && dirs.is_empty() {
        skip!("none of the masked paths exists on this host");
    }
    let mut b = c.bundle();
    let mut script = String::new();
    for f in &files {
        script.push_str(&format!("echo {f}=$(wc -c < {f}); "));
    }
    for d in &dirs {
        script.push_str(&format!("echo {d}=$(ls -A {d} | wc -l); "));
    }
    b.set_script(&script);
    let o = c.run(&b).ok();
    let want: Vec<String> = files
        .iter()
        .chain(&dirs)
        .map(|p| format!("{p}=0"))
        .collect();
    assert_eq!(
        o.lines(),
        want,
        "masked files read empty, masked dirs list empty: {o:?}"
    );
}

#[test]
fn readonly_paths_are_readonly() {
    let (_rt, c) = setup();
    let mut paths = existing(&[
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger",
    ]);
    paths.push("/sys");
    let mut b = c.bundle();
    b.set_script("awk '{print $5, $6}' /proc/self/mountinfo");
    let o = c.run(&b).ok();
    for p in paths {
        let line = o
            .lines()
            .into_iter()
            .rev()
            .find(|l| l.split(' ').next() == Some(p))
            .unwrap_or_else(|| panic!("{p} is a mount point of its own: {o:?}"));
        let opts = line.split(' ').nth(1).unwrap_or("");
        assert!(
            opts.split(',').any(|x| x == "ro"),
            "{p} must be mounted read-only ({line}): {o:?}"
        );
    }
}

#[test]
fn bind_mount_readonly_and_tmpfs() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    let host = b.host_dir("hostshare");
    fs::write(host.join("greeting"), "hello from host\n").unwrap();
    b.add_mount(json!({"destination": "/mnt/share", "type": "bind", "source": host, "options": ["rbind", "ro"]}));
    b.add_mount(json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m", "mode=1777"]}));
    b.set_script(
        "cat /mnt/share/greeting; \
         touch /mnt/share/new 2>/dev/null && echo share-writable || echo share-readonly; \
         echo hi > /scratch/f && cat /scratch/f; \
         awk '$5 == \"/scratch\" {print $9}' /proc/self/mountinfo",
    );
    let o = c.run(&b).ok();
    assert_eq!(
        o.lines(),
        ["hello from host", "share-readonly", "hi", "tmpfs"],
        "{o:?}"
    );
    assert!(!host.join("new").exists());
    assert!(
        b.rootfs().join("scratch").is_dir(),
        "missing mount destinations are created in the rootfs"
    );
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn sysfs_is_mounted() {
    let (_rt, c) = setup();
    let mut b = c.bundle();
    b.set_script(
        "[ -d /sys/class ] && echo sysfs-ok; touch /sys/x 2>/dev/null || echo sys-readonly",
    );
    let o = c.run(&b).ok();
    assert_eq!(o.lines(), ["sysfs-ok", "sys-readonly"], "{o:?}");
}
