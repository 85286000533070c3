//! Mount types and options, observed from inside the container: mountinfo flags, EROFS on
//! read-only binds, noexec, recursive read-only (`rro`), propagation of a host-side mount into
//! `rslave` but not `private` binds, tmpcopyup, overlay, id-mapped mounts, sysctl, cgroup2 with
//! a cgroup namespace, binds of the rootfs into itself, config order.

mod rootfs_common;

use std::fs;
use std::os::unix::fs::chown;
use std::time::Duration;

use rootfs_common::*;
use sangja_integration::{assert_clean, setup, skip};
use serde_json::json;

#[test]
fn default_mount_types() {
    let (_rt, c) = setup();
    let mut b = c.bundle();
    b.set_script("cat /proc/self/mountinfo");
    let o = c.run(&b).ok();
    let t = parse_mountinfo(&o.stdout);
    for (mp, fs) in [
        ("/proc", "proc"),
        ("/dev", "tmpfs"),
        ("/dev/pts", "devpts"),
        ("/dev/shm", "tmpfs"),
        ("/dev/mqueue", "mqueue"),
        ("/sys", "sysfs"),
    ] {
        assert_eq!(mount_at(&t, mp, &o.stdout).fs_type, fs, "{mp}");
    }
    let devpts = mount_at(&t, "/dev/pts", &o.stdout);
    assert!(devpts.has("nosuid") && devpts.has("noexec"), "{devpts:?}");
    assert!(
        devpts.has_super("mode=620") && devpts.has_super("ptmxmode=666"),
        "{devpts:?}"
    );
    let shm = mount_at(&t, "/dev/shm", &o.stdout);
    assert!(
        shm.has("nosuid") && shm.has("nodev") && shm.has("noexec"),
        "{shm:?}"
    );
    assert!(mount_at(&t, "/sys", &o.stdout).has("ro"));
}

#[test]
fn tmpfs_flags_and_data_show_in_mountinfo() {
    let (_rt, c) = setup();
    let mut b = c.bundle();
    b.add_mount(
        json!({"destination": "/t1", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "nodev", "noexec", "noatime", "size=1m", "mode=700", "uid=7"]}),
    );
    b.add_mount(
        json!({"destination": "/t2", "type": "tmpfs", "source": "tmpfs",
        "options": ["ro", "relatime", "nodiratime"]}),
    );
    b.add_mount(
        json!({"destination": "/t3", "type": "tmpfs", "source": "tmpfs",
        "options": ["strictatime", "sync", "dirsync"]}),
    );
    b.set_script("cat /proc/self/mountinfo; echo x > /t2/f || true");
    let o = c.run(&b).ok();
    let t = parse_mountinfo(&o.stdout);
    let t1 = mount_at(&t, "/t1", &o.stdout);
    for f in ["rw", "nosuid", "nodev", "noexec", "noatime"] {
        assert!(t1.has(f), "/t1 lacks {f}: {}", t1.line);
    }
    for d in ["size=1024k", "mode=700", "uid=7"] {
        assert!(t1.has_super(d), "/t1 lacks {d}: {}", t1.line);
    }
    let t2 = mount_at(&t, "/t2", &o.stdout);
    assert!(
        t2.has("ro") && t2.has("relatime") && t2.has("nodiratime"),
        "{}",
        t2.line
    );
    let t3 = mount_at(&t, "/t3", &o.stdout);
    assert!(
        !t3.has("relatime") && !t3.has("noatime"),
        "strictatime: {}",
        t3.line
    );
    assert!(t3.has_super("sync") || t3.has("sync"), "sync: {}", t3.line);
    assert!(
        t3.has("dirsync") || t3.has_super("dirsync"),
        "dirsync: {}",
        t3.line
    );
    assert!(o.stderr.contains("/t2/f: Read-only file system"), "{o:?}");
}

#[test]
fn readonly_bind_refuses_writes_with_erofs() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    let host = b.host_dir("share");
    fs::write(host.join("f"), "host data").unwrap();
    let file = b.host_dir("files").join("single");
    fs::write(&file, "one file").unwrap();
    b.add_mount(json!({"destination": "/ro", "type": "bind", "source": host,
        "options": ["rbind", "ro", "nosuid", "nodev", "noexec"]}));
    b.add_mount(
        json!({"destination": "/etc/single", "type": "none", "source": file,
        "options": ["bind", "ro"]}),
    );
    b.add_mount(json!({"destination": "/rw", "type": "bind", "source": host, "options": ["bind"]}));
    b.set_script(
        "cat /ro/f; echo; echo x > /ro/new; echo x >> /etc/single; \
         echo from-container > /rw/written && echo rw-ok; grep -E ' /(ro|rw|etc/single) ' /proc/self/mountinfo",
    );
    let o = c.run(&b).ok();
    assert!(o.stdout.starts_with("host data\n"), "{o:?}");
    for f in ["/ro/new", "/etc/single"] {
        assert!(
            o.stderr.contains(&format!("{f}: Read-only file system")),
            "ro binds refuse writes with EROFS: {o:?}"
        );
    }
    assert!(o.stdout.contains("rw-ok"), "{o:?}");
    let t = parse_mountinfo(&o.stdout);
    let ro = mount_at(&t, "/ro", &o.stdout);
    for f in ["ro", "nosuid", "nodev", "noexec"] {
        assert!(ro.has(f), "/ro lacks {f}: {}", ro.line);
    }
    assert!(mount_at(&t, "/etc/single", &o.stdout).has("ro"));
    assert!(mount_at(&t, "/rw", &o.stdout).has("rw"));
    assert_eq!(fs::read_to_string(&file).unwrap(), "one file");
    assert!(!host.join("new").exists());
    assert_eq!(
        fs::read_to_string(host.join("written")).unwrap(),
        "from-container\n"
    );
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn noexec_refuses_exec() {
    let (_rt, c) = setup();
    let mut b = c.bundle();
    b.add_mount(
        json!({"destination": "/nx", "type": "tmpfs", "source": "tmpfs", "options": ["noexec"]}),
    );
    b.add_mount(
        json!({"destination": "/ex", "type": "tmpfs", "source": "tmpfs", "options": ["exec"]}),
    );
    b.set_script(
        "cp /bin/busybox /nx/true; cp /bin/busybox /ex/true; \
         /ex/true && echo exec-ok; /nx/true; echo noexec-status=$?",
    );
    let o = c.run(&b).ok();
    assert!(o.stdout.contains("exec-ok"), "{o:?}");
    assert!(o.stderr.contains("/nx/true: Permission denied"), "{o:?}");
    assert!(o.stdout.contains("noexec-status=126"), "{o:?}");
}

#[test]
fn rro_makes_submounts_read_only() {
    let (rt, c) = setup();
    if !rt.is_sangja() {
        skip!("sangja-only: runc 1.1.5 has no rro (the word becomes bind data and is ignored)");
    }
    let mut b = c.bundle();
    let a = b.rootfs().join("a");
    // /a and /a/sub are tmpfs mounts of the container; /ro and /rro bind /a (by its host path,
    // where init sees the container's mounts) with ro and rro.
    b.add_mount(json!({"destination": "/a", "type": "tmpfs", "source": "tmpfs"}));
    b.add_mount(json!({"destination": "/a/sub", "type": "tmpfs", "source": "tmpfs"}));
    b.add_mount(
        json!({"destination": "/ro", "type": "bind", "source": a, "options": ["rbind", "ro"]}),
    );
    b.add_mount(json!({"destination": "/rro", "type": "bind", "source": a,
        "options": ["rbind", "rro", "rnosuid", "rnodev", "rnoexec"]}));
    b.set_script(
        "echo x > /ro/sub/f && echo ro-sub-writable; \
         echo x > /rro/sub/f; echo x > /rro/f; grep ' /rro/sub ' /proc/self/mountinfo",
    );
    let o = c.run(&b).ok();
    assert!(
        o.stdout.contains("ro-sub-writable"),
        "plain ro leaves submounts rw: {o:?}"
    );
    for f in ["/rro/sub/f", "/rro/f"] {
        assert!(
            o.stderr.contains(&format!("{f}: Read-only file system")),
            "{o:?}"
        );
    }
    let t = parse_mountinfo(&o.stdout);
    let sub = mount_at(&t, "/rro/sub", &o.stdout);
    for f in ["ro", "nosuid", "nodev", "noexec"] {
        assert!(sub.has(f), "/rro/sub lacks {f}: {}", sub.line);
    }
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn propagation_rslave_sees_a_later_host_mount_private_does_not() {
    in_own_mount_namespace(|| {
        let (rt, c) = setup();
        let mut b = c.bundle();
        // The source: a tmpfs of the test's own (in this thread's mount namespace), shared so
        // that mounts below it propagate to its copies.
        let src = b.host_dir("src");
        mount_tmpfs(&src);
        mount_flags(&src, libc::MS_SHARED);
        fs::create_dir(src.join("late")).unwrap();
        b.add_mount(
            json!({"destination": "/mnt/slave", "type": "bind", "source": src,
            "options": ["rbind", "rslave"]}),
        );
        b.add_mount(
            json!({"destination": "/mnt/private", "type": "bind", "source": src,
            "options": ["rbind", "rprivate"]}),
        );
        b.set_script(
            "echo ready; i=0; while [ ! -e /mnt/slave/late/marker ] && [ $i -lt 100 ]; do \
             sleep 0.1; i=$((i+1)); done; \
             [ -e /mnt/slave/late/marker ] && echo slave-sees-it; \
             [ -e /mnt/private/late/marker ] && echo private-sees-it; \
             grep -c ' /mnt/private/late ' /proc/self/mountinfo",
        );
        let out = rt.scratch("stdout");
        c.create_with_stdout(&b, &out);
        c.start();
        sangja_integration::util::wait_for("container ready", Duration::from_secs(10), || {
            fs::read_to_string(&out)
                .ok()
                .filter(|t| t.contains("ready"))
        });
        // The host-side mount, after start.
        mount_tmpfs(src.join("late"));
        fs::write(src.join("late/marker"), "m").unwrap();
        c.wait_status("stopped");
        let text = fs::read_to_string(&out).unwrap();
        detach(src.join("late"));
        detach(&src);
        c.delete(false).ok();
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            ["ready", "slave-sees-it", "0"],
            "the rslave bind gets the new mount, the private one does not"
        );
        assert_clean(&rt, c.id(), &b);
    });
}

#[test]
fn tmpcopyup_starts_with_the_directory_contents() {
    let (_rt, c) = setup();
    let mut b = c.bundle();
    let app = b.rootfs().join("etc/app");
    fs::create_dir_all(app.join("conf.d")).unwrap();
    fs::write(app.join("conf.d/a.conf"), "a=1\n").unwrap();
    b.add_mount(
        json!({"destination": "/etc/app", "type": "tmpfs", "source": "tmpfs",
        "options": ["tmpcopyup", "nosuid", "size=1m"]}),
    );
    b.set_script(
        "cat /etc/app/conf.d/a.conf; echo new > /etc/app/new && echo written; \
         grep -c ' /etc/app .* tmpfs ' /proc/self/mountinfo",
    );
    let o = c.run(&b).ok();
    assert_eq!(o.lines(), ["a=1", "written", "1"], "{o:?}");
    assert!(
        !app.join("new").exists(),
        "the write went to the tmpfs, not the rootfs"
    );
}

#[test]
fn overlay_takes_its_data_options() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    let (lower, upper, work) = (b.host_dir("lower"), b.host_dir("upper"), b.host_dir("work"));
    fs::write(lower.join("from-lower"), "lower\n").unwrap();
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    b.add_mount(
        json!({"destination": "/merged", "type": "overlay", "source": "overlay",
        "options": [data]}),
    );
    b.set_script(
        "cat /merged/from-lower; echo up > /merged/new; grep -c ' /merged ' /proc/self/mountinfo",
    );
    let o = c.run(&b).ok();
    assert_eq!(o.lines(), ["lower", "1"], "{o:?}");
    assert_eq!(fs::read_to_string(upper.join("new")).unwrap(), "up\n");
    assert!(!lower.join("new").exists());
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn idmapped_mount_shows_mapped_owners() {
    let (rt, c) = setup();
    if !rt.is_sangja() {
        skip!("sangja-only: runc 1.1.5 has no id-mapped mounts (added in runc 1.2)");
    }
    let mut b = c.bundle();
    let data = b.host_dir("owned");
    fs::write(data.join("root-file"), "r").unwrap();
    fs::write(data.join("user-file"), "u").unwrap();
    chown(data.join("user-file"), Some(1000), Some(1000)).unwrap();
    let maps = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    b.add_mount(
        json!({"destination": "/mapped", "type": "bind", "source": data,
        "options": ["rbind", "idmap"], "uidMappings": maps, "gidMappings": maps}),
    );
    b.add_mount(
        json!({"destination": "/plain", "type": "bind", "source": data, "options": ["rbind"]}),
    );
    b.set_script("stat -c '%n %u:%g' /mapped/root-file /mapped/user-file /plain/user-file");
    let o = c.run(&b);
    if !o.success() && o.stderr.contains("does not support id-mapped mounts") {
        skip!(
            "the filesystem of {} cannot be id-mapped here: {}",
            data.display(),
            o.stderr.trim()
        );
    }
    let o = o.ok();
    assert_eq!(
        o.lines(),
        [
            "/mapped/root-file 100000:100000",
            "/mapped/user-file 101000:101000",
            "/plain/user-file 1000:1000"
        ],
        "{o:?}"
    );
    let m = fs::metadata(data.join("user-file")).unwrap();
    assert_eq!(
        (
            std::os::unix::fs::MetadataExt::uid(&m),
            std::os::unix::fs::MetadataExt::gid(&m)
        ),
        (1000, 1000),
        "the host files keep their owners"
    );
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn sysctl_is_visible_inside() {
    let (_rt, c) = setup();
    let host = fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let want = if host.trim() == "1" { "0" } else { "1" };
    let mut b = c.bundle();
    assert!(b.has_namespace("network"));
    b.set("/linux/sysctl", json!({ "net.ipv4.ip_forward": want }));
    b.set_script(
        "cat /proc/sys/net/ipv4/ip_forward; echo 1 > /proc/sys/net/ipv4/ip_forward || true",
    );
    let o = c.run(&b).ok();
    let lines = o.lines();
    assert_eq!(lines[0], want, "{o:?}");
    assert!(
        o.stderr.contains("Read-only file system"),
        "/proc/sys stays read-only: {o:?}"
    );
    assert_eq!(
        fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        host
    );
}

#[test]
fn cgroup2_with_cgroup_namespace_shows_its_own_cgroup_as_root() {
    let (_rt, c) = setup();
    let mut b = c.bundle();
    b.add_namespace("cgroup", None);
    b.add_mount(
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup2", "source": "cgroup",
        "options": ["nosuid", "noexec", "nodev", "ro"]}),
    );
    b.set_script(
        "grep '^0::' /proc/self/cgroup; cat /sys/fs/cgroup/cgroup.procs | wc -l; \
         grep ' /sys/fs/cgroup ' /proc/self/mountinfo",
    );
    let o = c.run(&b).ok();
    let lines = o.lines();
    assert_eq!(lines[0], "0::/", "{o:?}");
    let n: usize = lines[1].parse().unwrap();
    assert!(
        (1..=3).contains(&n),
        "only the container's processes: {o:?}"
    );
    let t = parse_mountinfo(&o.stdout);
    let cg = mount_at(&t, "/sys/fs/cgroup", &o.stdout);
    assert_eq!(cg.fs_type, "cgroup2");
    assert!(cg.has("ro"), "{}", cg.line);
}

/// Without a cgroup namespace the container sees the whole cgroup2 hierarchy (as a fresh mount
/// from the host's cgroup namespace shows it), its own cgroup at the path /proc/self/cgroup
/// names, read-only as asked; the host's cgroup2 mount options are left as they were.
#[test]
fn cgroup2_without_cgroup_namespace_shows_the_whole_hierarchy() {
    let (_rt, c) = setup();
    let host_before = host_cgroup2_options();
    let mut b = c.bundle();
    b.remove_namespace("cgroup");
    b.add_mount(
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup2", "source": "cgroup",
        "options": ["nosuid", "noexec", "nodev", "ro"]}),
    );
    b.set_script(
        "p=$(grep '^0::' /proc/self/cgroup | cut -d: -f3); echo \"own:$p\"; \
         test -f \"/sys/fs/cgroup$p/cgroup.procs\" && echo own-cgroup-visible; \
         test -f /sys/fs/cgroup/cgroup.subtree_control && echo root-visible; \
         grep ' /sys/fs/cgroup ' /proc/self/mountinfo",
    );
    let o = c.run(&b).ok();
    let lines = o.lines();
    assert!(
        lines[0].starts_with("own:/") && lines[0] != "own:/",
        "a cgroup below the root: {o:?}"
    );
    assert_eq!(lines[1..3], ["own-cgroup-visible", "root-visible"], "{o:?}");
    let t = parse_mountinfo(&o.stdout);
    let cg = mount_at(&t, "/sys/fs/cgroup", &o.stdout);
    assert_eq!(cg.fs_type, "cgroup2");
    assert!(
        cg.has("ro") && cg.has("nosuid") && cg.has("noexec"),
        "{}",
        cg.line
    );
    assert_eq!(
        host_cgroup2_options(),
        host_before,
        "host cgroup2 options unchanged"
    );
}

/// The host's cgroup2 mount lines (mount and superblock options), from its mountinfo.
fn host_cgroup2_options() -> Vec<String> {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(" - cgroup2 "))
        .map(|l| l.split_whitespace().skip(3).collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn bind_of_the_rootfs_into_itself() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    let rootfs = b.rootfs();
    b.add_mount(
        json!({"destination": "/mnt/self", "type": "bind", "source": rootfs,
        "options": ["rbind", "ro"]}),
    );
    b.set_script(
        "ls /mnt/self/bin/busybox; echo x > /mnt/self/tmp/f; echo y > /tmp/f && echo root-rw",
    );
    let o = c.run(&b).ok();
    assert_eq!(o.lines(), ["/mnt/self/bin/busybox", "root-rw"], "{o:?}");
    assert!(
        o.stderr.contains("/mnt/self/tmp/f: Read-only file system"),
        "{o:?}"
    );
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn mounts_are_applied_in_config_order() {
    let (_rt, c) = setup();
    let mut b = c.bundle();
    let host = b.host_dir("order");
    fs::write(host.join("file"), "bound\n").unwrap();
    // The tmpfs first, then a bind into it: the bind must be visible on top.
    b.add_mount(json!({"destination": "/o", "type": "tmpfs", "source": "tmpfs"}));
    b.add_mount(
        json!({"destination": "/o/in/file", "type": "bind", "source": host.join("file"),
        "options": ["bind"]}),
    );
    // And a tmpfs over an earlier bind hides it.
    b.add_mount(json!({"destination": "/p", "type": "bind", "source": host, "options": ["bind"]}));
    b.add_mount(json!({"destination": "/p", "type": "tmpfs", "source": "tmpfs"}));
    b.set_script("cat /o/in/file; ls /p | wc -l");
    let o = c.run(&b).ok();
    assert_eq!(o.lines(), ["bound", "0"], "{o:?}");
}

/// In a container with its own user namespace, init cannot make an id-mapped mount itself: the
/// runtime's parent makes the tree on the host side. The owners seen inside go through both
/// mappings (the mount's, then the user namespace's).
#[test]
fn idmapped_mount_in_a_container_with_a_user_namespace() {
    let (rt, c) = setup();
    if !rt.is_sangja() {
        skip!("sangja-only: runc 1.1.5 has no id-mapped mounts (added in runc 1.2)");
    }
    let mut b = c.bundle();
    let data = b.host_dir("owned-userns");
    fs::write(data.join("root-file"), "r").unwrap();
    let maps = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    b.set_userns_mapping(100000, 65536);
    // An existing directory of the rootfs: the container's root cannot create one in a
    // rootfs owned by the host's root.
    b.add_mount(
        json!({"destination": "/tmp", "type": "bind", "source": data,
        "options": ["rbind", "idmap"], "uidMappings": maps, "gidMappings": maps}),
    );
    b.set_script("stat -c '%n %u:%g' /tmp/root-file");
    let o = c.run(&b);
    if !o.success() && o.stderr.contains("does not support id-mapped mounts") {
        skip!(
            "the filesystem of {} cannot be id-mapped here",
            data.display()
        );
    }
    let o = o.ok();
    assert_eq!(o.lines(), ["/tmp/root-file 0:0"], "{o:?}");
    assert_clean(&rt, c.id(), &b);
}

/// `linux.mountLabel` on a host without SELinux is ignored, and `--debug` says so.
#[test]
fn mount_label_without_selinux_is_ignored_with_a_debug_line() {
    let (rt, c) = setup();
    if !rt.is_sangja() {
        skip!("sangja-only: checks sangja's debug log wording");
    }
    if std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        skip!("this host has SELinux: the label would be refused, not ignored");
    }
    let mut b = c.bundle();
    b.set(
        "/linux/mountLabel",
        json!("system_u:object_r:container_file_t:s0"),
    );
    b.set_args(&["true"]);
    let log = rt.scratch("debug.log");
    let o = rt
        .command(["--debug", "--log"])
        .arg(&log)
        .args(["run", "-b"])
        .arg(b.path())
        .arg(c.id())
        .output();
    o.ok();
    let text = fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("mountLabel") && text.contains("SELinux is not enabled"),
        "{text}"
    );
}
