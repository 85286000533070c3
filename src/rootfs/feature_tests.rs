//! Root-only tests of the newer mount features, run like `root_tests` (as pid 1 of fresh mount
//! and pid namespaces, on a tempdir busybox rootfs): recursive attributes, id-mapped mounts,
//! tmpcopyup, `/dev/console`, sysctl before read-only `/proc/sys`, and the refusals.

use std::os::unix::fs::{chown, symlink, FileTypeExt, MetadataExt};
use std::path::Path;

use nix::sched::{unshare, CloneFlags};

use super::testenv::*;
use super::{bind_console, enter, prepare, PreparedMounts, RootfsOptions};

fn fail(e: anyhow::Error) -> String {
    format!("{e:#}")
}

fn owner(path: &str) -> Result<(u32, u32), String> {
    let m = std::fs::symlink_metadata(path).map_err(|e| format!("{path}: {e}"))?;
    Ok((m.uid(), m.gid()))
}

#[test]
fn rro_makes_submounts_read_only() {
    if skipped() {
        return;
    }
    let (_t, root, _host) = fixture();
    let r = root.display();
    // /a and /a/sub are tmpfs mounts; /ro binds /a (a path inside the rootfs) with plain ro,
    // /rro with rro: only the latter makes /rro/sub read-only.
    let spec = spec(&format!(
        r#"{{ "mounts": [
              {{ "destination": "/proc", "type": "proc", "source": "proc" }},
              {{ "destination": "/a", "type": "tmpfs", "source": "tmpfs" }},
              {{ "destination": "/a/sub", "type": "tmpfs", "source": "tmpfs" }},
              {{ "destination": "/ro", "type": "bind", "source": "{r}/a", "options": ["rbind", "ro"] }},
              {{ "destination": "/rro", "type": "bind", "source": "{r}/a",
                 "options": ["rbind", "rro", "rnosuid", "rnoatime"] }}
           ] }}"#
    ));
    in_namespaces(move || {
        prepare(&spec, &root, &RootfsOptions::default(), &mut || Ok(())).map_err(fail)?;
        write_fails_erofs("/ro/x")?;
        std::fs::write("/ro/sub/x", "x").map_err(|e| format!("plain ro reached /ro/sub: {e}"))?;
        write_fails_erofs("/rro/x")?;
        write_fails_erofs("/rro/sub/y")?;
        let st = nix::sys::statvfs::statvfs("/rro/sub").map_err(|e| e.to_string())?;
        let f = st.flags();
        use nix::sys::statvfs::FsFlags;
        ensure(
            f.contains(FsFlags::ST_NOSUID),
            "rnosuid missing on /rro/sub",
        )?;
        ensure(
            f.contains(FsFlags::ST_NOATIME),
            "rnoatime missing on /rro/sub",
        )?;
        // The original stays writable.
        std::fs::write("/a/sub/z", "z").map_err(|e| format!("/a/sub: {e}"))
    })
    .unwrap();
}

#[test]
fn idmapped_bind_shows_mapped_owners() {
    if skipped() {
        return;
    }
    let (_t, root, host) = fixture();
    let data = host.join("data");
    std::fs::write(data.join("by1000"), "x").unwrap();
    chown(data.join("by1000"), Some(1000), Some(1000)).unwrap();
    chown(data.join("hello"), Some(0), Some(0)).unwrap();
    let before = std::fs::metadata(data.join("by1000")).unwrap();
    let d = data.display();
    let maps = r#""uidMappings": [{ "containerID": 0, "hostID": 100000, "size": 65536 }],
                  "gidMappings": [{ "containerID": 0, "hostID": 200000, "size": 65536 }]"#;
    let spec = spec(&format!(
        r#"{{ "mounts": [
              {{ "destination": "/proc", "type": "proc", "source": "proc" }},
              {{ "destination": "/plain", "type": "bind", "source": "{d}", "options": ["rbind"] }},
              {{ "destination": "/mapped", "type": "bind", "source": "{d}",
                 "options": ["rbind", "idmap"], {maps} }},
              {{ "destination": "/rmapped", "type": "bind", "source": "{d}",
                 "options": ["rbind", "ridmap", "ro"], {maps} }}
           ] }}"#
    ));
    let sub = data.join("sub");
    std::fs::create_dir(&sub).unwrap();
    in_namespaces(move || {
        // A submount in the source: rbind takes it along; ridmap maps it too, idmap does not.
        nix::mount::mount(
            Some("tmpfs"),
            &sub,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )
        .map_err(|e| format!("mount tmpfs on the source's sub: {e}"))?;
        std::fs::write(sub.join("inner"), "i").map_err(|e| e.to_string())?;
        prepare(&spec, &root, &RootfsOptions::default(), &mut || Ok(())).map_err(fail)?;
        ensure(
            owner("/plain/hello")? == (0, 0),
            "plain bind changed owners",
        )?;
        ensure(owner("/plain/by1000")? == (1000, 1000), "plain by1000")?;
        let o = owner("/mapped/hello")?;
        ensure(o == (100000, 200000), format!("/mapped/hello is {o:?}"))?;
        let o = owner("/mapped/by1000")?;
        ensure(o == (101000, 201000), format!("/mapped/by1000 is {o:?}"))?;
        let o = owner("/rmapped/sub/inner")?;
        ensure(
            o == (100000, 200000),
            format!("/rmapped/sub/inner is {o:?}"),
        )?;
        let o = owner("/mapped/sub/inner")?;
        ensure(o == (0, 0), format!("idmap mapped the submount: {o:?}"))?;
        write_fails_erofs("/rmapped/new")
    })
    .unwrap();
    let after = std::fs::metadata(data.join("by1000")).unwrap();
    assert_eq!((before.uid(), before.gid()), (after.uid(), after.gid()));
}

#[test]
fn idmapped_bind_from_prepared_trees() {
    if skipped() {
        return;
    }
    let (_t, root, host) = fixture();
    let d = host.join("data").display().to_string();
    let spec = spec(&format!(
        r#"{{ "mounts": [
              {{ "destination": "/mapped", "type": "bind", "source": "{d}", "options": ["bind", "idmap"],
                 "uidMappings": [{{ "containerID": 0, "hostID": 4242, "size": 1 }}],
                 "gidMappings": [{{ "containerID": 0, "hostID": 4343, "size": 1 }}] }}
           ] }}"#
    ));
    let bundle = root.parent().unwrap().to_path_buf();
    in_namespaces(move || {
        // As the runtime parent would: make the trees, then enter a user namespace (where
        // making them is no longer possible) and use them.
        let trees = super::open_idmapped_trees(&spec, &bundle).map_err(fail)?;
        ensure(!trees.is_empty(), "no tree made")?;
        let none = PreparedMounts::default();
        let in_userns = |prepared| -> Check {
            enter_user_namespace()?;
            unshare(CloneFlags::CLONE_NEWNS).map_err(|e| e.to_string())?;
            super::prepare_with(
                &spec,
                &root,
                &RootfsOptions::default(),
                prepared,
                &mut || Ok(()),
            )
            .map_err(fail)
        };
        // Without the trees the error says what is missing.
        let no_trees = crate::sys::fork::run_in_child(|| match in_userns(none) {
            Err(e) if e.contains("must be prepared by the runtime") => 0,
            other => {
                eprintln!("without trees: {other:?}");
                1
            }
        })
        .map_err(|e| e.to_string())?;
        ensure(no_trees == 0, "missing trees were not reported")?;
        in_userns(trees)?;
        // Host ids 4242/4343 are not mapped in this user namespace: they show as overflow ids.
        let o = owner("/mapped/hello")?;
        ensure(o == (65534, 65534), format!("/mapped/hello is {o:?}"))
    })
    .unwrap();
}

#[test]
fn tmpcopyup_copies_the_old_contents() {
    if skipped() {
        return;
    }
    let (_t, root, _host) = fixture();
    std::fs::create_dir_all(root.join("etc/app/conf.d")).unwrap();
    std::fs::write(root.join("etc/app/conf.d/a.conf"), "a=1").unwrap();
    symlink("conf.d/a.conf", root.join("etc/app/main")).unwrap();
    chown(root.join("etc/app"), Some(7), Some(8)).unwrap();
    let spec = spec(
        r#"{ "mounts": [
              { "destination": "/proc", "type": "proc", "source": "proc" },
              { "destination": "/etc/app", "type": "tmpfs", "source": "tmpfs",
                "options": ["tmpcopyup", "nosuid", "size=1m"] },
              { "destination": "/etc/secretdir", "type": "tmpfs", "source": "tmpfs",
                "options": ["tmpcopyup", "ro"] }
           ] }"#,
    );
    let host_root = root.clone();
    in_namespaces(move || {
        prepare(&spec, &root, &RootfsOptions::default(), &mut || Ok(())).map_err(fail)?;
        let a = std::fs::read_to_string("/etc/app/main").map_err(|e| e.to_string())?;
        ensure(a == "a=1", format!("copied file reads {a:?}"))?;
        ensure(owner("/etc/app")? == (7, 8), "tmpfs root lost the owner")?;
        std::fs::write("/etc/app/new", "n").map_err(|e| e.to_string())?;
        let key = std::fs::read_to_string("/etc/secretdir/key").map_err(|e| e.to_string())?;
        ensure(key == "key", "ro tmpcopyup lost its contents")?;
        write_fails_erofs("/etc/secretdir/x")
    })
    .unwrap();
    assert!(
        !host_root.join("etc/app/new").exists(),
        "wrote through the tmpfs"
    );
}

#[test]
fn console_is_the_pty_slave() {
    if skipped() {
        return;
    }
    let (_t, root, _host) = fixture();
    let spec = spec(
        r#"{ "root": { "path": "rootfs", "readonly": true },
             "mounts": [
              { "destination": "/proc", "type": "proc", "source": "proc" },
              { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["mode=755"] },
              { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
                "options": ["newinstance", "ptmxmode=0666", "mode=0620"] }
           ] }"#,
    );
    in_namespaces(move || {
        let entered = enter(
            &spec,
            &root,
            &RootfsOptions::default(),
            PreparedMounts::default(),
            &mut || Ok(()),
        )
        .map_err(fail)?;
        use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
        let master = posix_openpt(nix::fcntl::OFlag::O_RDWR).map_err(|e| e.to_string())?;
        grantpt(&master).map_err(|e| e.to_string())?;
        unlockpt(&master).map_err(|e| e.to_string())?;
        let slave = ptsname_r(&master).map_err(|e| e.to_string())?;
        // An image could plant a symlink there; it must be replaced, not followed.
        symlink("/etc/secret", "/dev/console").map_err(|e| e.to_string())?;
        bind_console(Path::new(&slave)).map_err(fail)?;
        entered.finish().map_err(fail)?;
        let c = std::fs::metadata("/dev/console").map_err(|e| e.to_string())?;
        let s = std::fs::metadata(&slave).map_err(|e| e.to_string())?;
        ensure(
            c.file_type().is_char_device(),
            "/dev/console is not a char device",
        )?;
        ensure(c.rdev() == s.rdev(), "/dev/console is not the slave")?;
        let secret = std::fs::read_to_string("/etc/secret").map_err(|e| e.to_string())?;
        ensure(
            secret == "top secret",
            "the planted symlink's target was touched",
        )?;
        write_fails_erofs("/newfile")?;
        // Not a pty slave: refused.
        let e = bind_console(Path::new("/dev/null"))
            .map(|_| ())
            .map_err(fail);
        ensure(
            e.as_ref()
                .is_err_and(|m| m.contains("not a pty slave device")),
            format!("/dev/null as console: {e:?}"),
        )
    })
    .unwrap();
}

#[test]
fn sysctl_is_applied_before_proc_sys_turns_read_only() {
    if skipped() {
        return;
    }
    let (_t, root, _host) = fixture();
    let spec = spec(
        r#"{ "mounts": [ { "destination": "/proc", "type": "proc", "source": "proc" } ],
             "linux": { "sysctl": { "net.ipv4.ip_forward": "1" },
                        "readonlyPaths": ["/proc/sys"] } }"#,
    );
    let host_value = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let s2 = spec.clone();
    in_namespaces(move || {
        unshare(CloneFlags::CLONE_NEWNET).map_err(|e| format!("unshare net: {e}"))?;
        prepare(&spec, &root, &RootfsOptions::default(), &mut || Ok(())).map_err(fail)?;
        let v =
            std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").map_err(|e| e.to_string())?;
        ensure(v.trim() == "1", format!("ip_forward is {v:?}"))?;
        is_readonly("/proc/sys")?;
        // Applying it again (as init still does) writes nothing and succeeds.
        super::apply_sysctl(&s2).map_err(fail)
    })
    .unwrap();
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        host_value
    );
}

#[test]
fn bind_of_the_rootfs_into_itself() {
    if skipped() {
        return;
    }
    let (_t, root, _host) = fixture();
    let spec = spec(&format!(
        r#"{{ "mounts": [
              {{ "destination": "/proc", "type": "proc", "source": "proc" }},
              {{ "destination": "/tmp/self", "type": "bind", "source": "{}", "options": ["rbind", "ro"] }}
           ] }}"#,
        root.display()
    ));
    in_namespaces(move || {
        prepare(&spec, &root, &RootfsOptions::default(), &mut || Ok(())).map_err(fail)?;
        let m = std::fs::read_to_string("/tmp/self/marker").map_err(|e| e.to_string())?;
        ensure(m == "rootfs", "the rootfs is not at /tmp/self")?;
        ensure(
            Path::new("/tmp/self/proc/self").exists(),
            "rbind lost /proc",
        )?;
        write_fails_erofs("/tmp/self/x")?;
        std::fs::write("/tmp/x", "x").map_err(|e| format!("root: {e}"))
    })
    .unwrap();
}

#[test]
fn unsafe_destinations_are_refused() {
    if skipped() {
        return;
    }
    let cases: [(&str, &str, &str); 5] = [
        (
            "proc",
            r#"{ "destination": "/proc", "type": "proc", "source": "proc" }"#,
            "mount /proc: /proc is a symlink; proc must be mounted on a real directory",
        ),
        (
            "sys",
            r#"{ "destination": "/sys", "type": "sysfs", "source": "sysfs" }"#,
            "mount /sys: /sys is a symlink; sysfs must be mounted on a real directory",
        ),
        (
            "mnt",
            r#"{ "destination": "/mnt", "type": "tmpfs", "source": "tmpfs" }"#,
            "mount /mnt: the destination resolves to the container root",
        ),
        (
            "x",
            r#"{ "destination": "/x", "type": "bind", "source": "/tmp", "options": ["rbind", "rslve"] }"#,
            "invalid config: mounts[0].options: \"rslve\" is not a mount option",
        ),
        (
            "y",
            r#"{ "destination": "/y", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"] }"#,
            "invalid config: mounts[0].options: id-mapped mounts",
        ),
    ];
    for (link, mount, want) in cases {
        let (_t, root, _host) = fixture();
        let victim = root.parent().unwrap().join("victim");
        std::fs::create_dir(&victim).unwrap();
        let _ = std::fs::remove_dir(root.join(link));
        let target = if link == "mnt" {
            "/".to_string()
        } else {
            victim.display().to_string()
        };
        symlink(&target, root.join(link)).unwrap();
        let spec = spec(&format!(r#"{{ "mounts": [ {mount} ] }}"#));
        in_namespaces(move || {
            match prepare(&spec, &root, &RootfsOptions::default(), &mut || Ok(())) {
                Ok(()) => Err("prepare succeeded".into()),
                Err(e) => {
                    let msg = fail(e);
                    ensure(msg.starts_with(want), msg)
                }
            }
        })
        .unwrap_or_else(|e| panic!("case {link}: {e}"));
        assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 0, "{link}");
    }
}

#[test]
fn planted_dev_null_symlink_is_replaced() {
    if skipped() {
        return;
    }
    for userns in [false, true] {
        let (_t, root, host) = fixture();
        let victim = host.join("file");
        let before = std::fs::metadata(&victim).unwrap();
        symlink(&victim, root.join("dev/null")).unwrap();
        std::fs::write(root.join("dev/zero"), "regular").unwrap();
        // No /dev mount: the devices go straight into the rootfs's /dev.
        let spec = spec(
            r#"{ "mounts": [ { "destination": "/proc", "type": "proc", "source": "proc" } ],
                 "linux": { "maskedPaths": ["/etc/secret"] } }"#,
        );
        in_namespaces_as(userns, move || {
            prepare(&spec, &root, &RootfsOptions::default(), &mut || Ok(())).map_err(fail)?;
            char_dev("/dev/null", 1, 3)?;
            char_dev("/dev/zero", 1, 5)?;
            let s = std::fs::read_to_string("/etc/secret").map_err(|e| e.to_string())?;
            ensure(s.is_empty(), "masked path not masked")
        })
        .unwrap_or_else(|e| panic!("userns={userns}: {e}"));
        let after = std::fs::metadata(&victim).unwrap();
        assert_eq!(
            (
                before.mode(),
                before.uid(),
                before.ctime(),
                before.ctime_nsec()
            ),
            (after.mode(), after.uid(), after.ctime(), after.ctime_nsec()),
            "userns={userns}: the symlink's target was changed"
        );
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "a file");
    }
}
