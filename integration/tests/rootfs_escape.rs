//! Escapes through the rootfs: mount destinations that climb out with `..`, go through
//! absolute or relative symlinks to host paths, through a symlink inside an earlier (volume)
//! mount, or are swapped for a symlink while the runtime works; a `/dev/null` that is a symlink
//! or a regular file; `/proc` as a symlink to a host path. A naive runtime (join the paths and
//! let the kernel follow the links) creates or mounts things on the host in each case: every
//! test asserts the host paths untouched.

mod rootfs_common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rootfs_common::*;
use sangja_integration::{assert_clean, setup, skip, util};
use serde_json::json;

/// A host path under /tmp that no test creates; asserted absent before and after.
fn host_tmp_victim(tag: &str) -> PathBuf {
    let p = Path::new("/tmp").join(unique_name(tag));
    assert!(!p.exists(), "{} exists before the test", p.display());
    p
}

#[test]
fn dotdot_destination_stays_inside() {
    let (rt, c) = setup();
    let victim = host_tmp_victim("dotdot");
    let name = victim.file_name().unwrap().to_str().unwrap().to_string();
    let mut b = c.bundle();
    let dest = format!("/etc/../../../../../../../../../../tmp/{name}");
    b.add_mount(json!({"destination": dest, "type": "tmpfs", "source": "tmpfs"}));
    b.set_script(&format!("grep -c ' /tmp/{name} ' /proc/self/mountinfo"));
    let o = c.run(&b).ok();
    assert_eq!(
        o.lines(),
        ["1"],
        "mounted at /tmp/{name} in the container: {o:?}"
    );
    assert!(
        !victim.exists(),
        "{} was created on the host",
        victim.display()
    );
    assert!(b.rootfs().join("tmp").join(&name).is_dir());
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn absolute_symlink_to_root_as_destination() {
    let (rt, c) = setup();
    let victim = host_tmp_victim("abslink");
    let name = victim.file_name().unwrap().to_str().unwrap().to_string();
    let mut b = c.bundle();
    symlink("/", b.rootfs().join("hostroot")).unwrap();
    b.add_mount(
        json!({"destination": format!("/hostroot/tmp/{name}/sub"), "type": "tmpfs",
        "source": "tmpfs"}),
    );
    // And a bind of a file through the same link: a naive runtime creates the file on the host.
    let file = b.host_dir("files").join("f");
    fs::write(&file, "f").unwrap();
    b.add_mount(
        json!({"destination": format!("/hostroot/tmp/{name}/file"), "type": "bind",
        "source": file, "options": ["bind"]}),
    );
    b.set_script(&format!(
        "grep -c ' /tmp/{name}/' /proc/self/mountinfo; cat /tmp/{name}/file"
    ));
    let o = c.run(&b).ok();
    assert_eq!(o.lines(), ["2", "f"], "{o:?}");
    assert!(
        !victim.exists(),
        "{} was created on the host",
        victim.display()
    );
    assert!(b.rootfs().join("tmp").join(&name).join("sub").is_dir());
    assert!(b.rootfs().join("tmp").join(&name).join("file").is_file());
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn relative_symlink_climbing_out_as_destination() {
    let (rt, c) = setup();
    let victim = host_tmp_victim("rellink");
    let name = victim.file_name().unwrap().to_str().unwrap().to_string();
    let mut b = c.bundle();
    symlink("../../../../../../../../../..", b.rootfs().join("etc/up")).unwrap();
    // Also `/etc/../../tmp/x` as the target of a link.
    symlink(
        format!("/etc/../../../../../../tmp/{name}-b"),
        b.rootfs().join("etc/dotdot"),
    )
    .unwrap();
    b.add_mount(
        json!({"destination": format!("/etc/up/tmp/{name}"), "type": "tmpfs", "source": "tmpfs"}),
    );
    b.add_mount(json!({"destination": "/etc/dotdot", "type": "tmpfs", "source": "tmpfs"}));
    b.set_script(&format!("grep -c ' /tmp/{name}' /proc/self/mountinfo"));
    let o = c.run(&b).ok();
    assert_eq!(o.lines(), ["2"], "{o:?}");
    assert!(
        !victim.exists(),
        "{} was created on the host",
        victim.display()
    );
    let b_victim = PathBuf::from(format!("{}-b", victim.display()));
    assert!(
        !b_victim.exists(),
        "{} was created on the host",
        b_victim.display()
    );
    assert!(b.rootfs().join("tmp").join(&name).is_dir());
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn symlink_inside_an_earlier_volume_mount() {
    // The first mount brings in a directory (as a shared volume would) that holds symlinks to
    // host paths; later destinations go through them. They must resolve inside the rootfs.
    let (rt, c) = setup();
    let victim = host_tmp_victim("vol");
    let name = victim.file_name().unwrap().to_str().unwrap().to_string();
    let mut b = c.bundle();
    let vol = b.host_dir("vol");
    let host_dir = b.host_dir("hostdir");
    symlink("/", vol.join("evil")).unwrap();
    symlink(&host_dir, vol.join("evil2")).unwrap();
    b.add_mount(
        json!({"destination": "/vol", "type": "bind", "source": vol, "options": ["rbind"]}),
    );
    b.add_mount(
        json!({"destination": format!("/vol/evil/tmp/{name}"), "type": "tmpfs", "source": "tmpfs"}),
    );
    b.add_mount(json!({"destination": "/vol/evil2/new", "type": "tmpfs", "source": "tmpfs"}));
    b.set_script(&format!("grep -c ' /tmp/{name} ' /proc/self/mountinfo"));
    let o = c.run(&b).ok();
    assert_eq!(o.lines(), ["1"], "{o:?}");
    assert!(
        !victim.exists(),
        "{} was created on the host",
        victim.display()
    );
    assert!(
        entries(&host_dir).is_empty(),
        "something was created in {}",
        host_dir.display()
    );
    assert_eq!(entries(&vol), ["evil", "evil2"], "the volume was changed");
    assert_clean(&rt, c.id(), &b);
}

/// `renameat2(RENAME_EXCHANGE)`: swap two names atomically.
fn exchange(a: &Path, b: &Path) -> bool {
    let ca = std::ffi::CString::new(a.as_os_str().as_encoded_bytes()).unwrap();
    let cb = std::ffi::CString::new(b.as_os_str().as_encoded_bytes()).unwrap();
    const RENAME_EXCHANGE: libc::c_uint = 2;
    // SAFETY: both strings are valid and NUL-terminated for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            RENAME_EXCHANGE,
        )
    };
    r == 0
}

#[test]
fn destination_swapped_for_a_symlink_while_creating() {
    // A thread keeps exchanging `/swap/d` (a real directory) with a symlink to a host
    // directory while the runtime creates `/swap/d/new/deeper` and mounts there. A runtime that
    // checks a path and then uses it by name creates directories on the host (runc < 1.1.14:
    // CVE-2024-45310). Resolving inside the rootfs at every step cannot.
    let (rt, c) = setup();
    let mut b = c.bundle();
    let host_dir = b.host_dir("victim");
    let swap = b.rootfs().join("swap");
    fs::create_dir_all(swap.join("d")).unwrap();
    symlink(&host_dir, swap.join("alt")).unwrap();
    b.add_mount(json!({"destination": "/swap/d/new/deeper", "type": "tmpfs", "source": "tmpfs"}));
    b.set_args(&["true"]);
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let stop = stop.clone();
        let (d, alt) = (swap.join("d"), swap.join("alt"));
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if exchange(&d, &alt) {
                    n += 1;
                }
            }
            // Leave the real directory at `d`.
            if fs::symlink_metadata(&d).is_ok_and(|m| m.file_type().is_symlink()) {
                exchange(&d, &alt);
            }
            n
        })
    };
    let runs = 25;
    let mut ok = 0;
    for _ in 0..runs {
        let o = c.run(&b);
        if o.success() {
            ok += 1;
        }
        c.delete(true);
        if !entries(&host_dir).is_empty() {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    let leaked = entries(&host_dir);
    eprintln!("swap race: {swaps} exchanges, {ok}/{runs} runs succeeded, host dir: {leaked:?}");
    if !leaked.is_empty() && !rt.is_sangja() {
        skip!(
            "{} is vulnerable here (CVE-2024-45310, fixed in runc 1.1.14): it created {leaked:?} in \
             the host directory {}",
            rt.kind().name(),
            host_dir.display()
        );
    }
    assert!(
        leaked.is_empty(),
        "the runtime created {leaked:?} in {}",
        host_dir.display()
    );
    assert!(swaps > 0, "the swapper never swapped");
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn dev_null_symlink_to_a_host_file() {
    // No /dev tmpfs: devices go into the rootfs's own /dev, where the image left `null` as a
    // symlink to a host file. A naive chmod/chown/bind follows it to the host.
    let (rt, c) = setup();
    let mut b = c.bundle();
    let victim = b.host_dir("hostfiles").join("precious");
    fs::write(&victim, "precious host data").unwrap();
    let before = fingerprint(&victim);
    symlink(&victim, b.rootfs().join("dev/null")).unwrap();
    fs::write(b.rootfs().join("etc/masked"), "SECRET").unwrap();
    b.remove("/mounts/1"); // the /dev tmpfs
    b.set("/linux/maskedPaths", json!(["/etc/masked"]));
    b.set_script("stat -c '%F %t:%T' /dev/null; wc -c < /etc/masked");
    let o = c.run(&b);
    assert_eq!(
        fingerprint(&victim),
        before,
        "the host file was changed: {o:?}"
    );
    if rt.is_sangja() {
        let o = o.ok();
        assert_eq!(o.lines(), ["character special file 1:3", "0"], "{o:?}");
    } else if !o.success() {
        eprintln!(
            "note: {} refuses this rootfs: {}",
            rt.kind().name(),
            o.stderr.trim()
        );
    }
    c.delete(true);
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn dev_null_regular_file_is_not_used_to_mask() {
    // /dev comes from a bind of a host directory whose `null` is a regular file with data.
    // Masking with it would show that data at every masked path (the 2025 runc CVE class):
    // the runtime must check /dev/null really is the null device.
    let (rt, c) = setup();
    let mut b = c.bundle();
    let fakedev = b.host_dir("fakedev");
    fs::write(fakedev.join("null"), "LEAKED").unwrap();
    fs::write(b.rootfs().join("etc/masked"), "SECRET").unwrap();
    b.set(
        "/mounts",
        json!([
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "bind", "source": fakedev, "options": ["rbind"]}
        ]),
    );
    b.set("/linux/maskedPaths", json!(["/etc/masked"]));
    b.set("/linux/readonlyPaths", json!([]));
    b.set_script("cat /etc/masked; echo");
    if !rt.is_sangja() {
        let o = c.run(&b);
        if o.success() && o.stdout.contains("LEAKED") {
            skip!(
                "{} masks with whatever /dev/null is (here a regular file: the masked path reads \
                 {:?}); sangja refuses",
                rt.kind().name(),
                o.stdout.trim()
            );
        }
        return;
    }
    let o = create_fails(&rt, &c, &b, &["/dev/null is not the null device"]);
    assert!(o.stderr.contains("mask /etc/masked"), "{o:?}");
    assert_eq!(fs::read_to_string(fakedev.join("null")).unwrap(), "LEAKED");
}

#[test]
fn proc_symlink_to_a_host_path_is_refused() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    let hostproc = b.host_dir("hostproc");
    fs::remove_dir(b.rootfs().join("proc")).unwrap();
    symlink(&hostproc, b.rootfs().join("proc")).unwrap();
    b.set_args(&["true"]);
    let o = create_fails(&rt, &c, &b, &["symlink", "ordinary directory"]);
    rt.assert_sangja_wording(
        &o,
        &["mount /proc", "proc must be mounted on a real directory"],
    );
    assert!(entries(&hostproc).is_empty());
    assert!(util::mounts_under(&hostproc).is_empty());
}
