//! Protection of the runtime binary (CVE-2019-5736): nothing a container can reach through
//! `/proc/<pid>/exe` (its own, the runtime's with host pids, an exec'd process's parent) may be
//! opened for writing, the host binary is unchanged, and sangja's default protection is a
//! read-only overlay rather than a copy (both of sangja's ways are exercised).

use std::fs;
use std::time::Duration;

use sangja_integration::runtime::Cmd;
use sangja_integration::{setup, skip, util, Runtime};
use serde_json::json;

fn sha256(path: &std::path::Path) -> String {
    let o = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string()
}

/// sangja protects itself two ways (a private read-only overlay, or a sealed memfd copy
/// where overlayfs is missing); `SANGJA_EXE_CLONE=memfd` forces the second so both are tested.
fn protections(rt: &Runtime) -> Vec<Option<&'static str>> {
    match rt.is_sangja() {
        true => vec![None, Some("memfd")],
        false => vec![None],
    }
}

/// The runtime command with the protection mode `mode` (see [`protections`]).
fn with_mode(cmd: Cmd, mode: Option<&str>) -> Cmd {
    match mode {
        Some(m) => cmd.env("SANGJA_EXE_CLONE", m),
        None => cmd,
    }
}

#[test]
fn runtime_binary_cannot_be_opened_for_writing_from_inside() {
    let (rt, c) = setup();
    let before = sha256(rt.path());
    for (mode, extra_caps) in protections(&rt)
        .into_iter()
        .flat_map(|m| [(m, false), (m, true)])
    {
        let mut b = c.bundle();
        // Host pids visible: no pid namespace. The container's parent is the
        // runtime process (`run` in the foreground).
        b.remove_namespace("pid");
        if extra_caps {
            let caps = json!([
                "CAP_AUDIT_WRITE",
                "CAP_KILL",
                "CAP_NET_BIND_SERVICE",
                "CAP_SYS_PTRACE",
                "CAP_DAC_OVERRIDE",
                "CAP_CHOWN",
                "CAP_FOWNER"
            ]);
            b.set(
                "/process/capabilities",
                json!({"bounding": caps, "effective": caps, "permitted": caps}),
            );
        }
        b.set_script(
            "for p in $PPID /proc/self; do t=/proc/${p#/proc/}/exe; [ $p = /proc/self ] && t=/proc/self/exe; \
               if (echo x >> $t) 2>/dev/null; then echo WROTE:$t; else echo refused:$t; fi; done; \
             for p in /proc/[0-9]*; do l=$(readlink $p/exe 2>/dev/null); case $l in *sangja*|*runc*) \
               if (echo x >> $p/exe) 2>/dev/null; then echo WROTE:$p; else echo refused:$p; fi;; esac; done",
        );
        let o = with_mode(rt.command(["run", "--bundle"]), mode)
            .arg(b.path())
            .arg(c.id())
            .output()
            .ok();
        assert!(
            !o.stdout.contains("WROTE"),
            "a runtime binary was opened for writing ({mode:?}): {o:?}"
        );
        assert!(o.stdout.contains("refused:"), "{mode:?}: {o:?}");
        assert_eq!(sha256(rt.path()), before, "the host binary is unchanged");
    }
}

/// The default protection costs no copy: sangja runs from a read-only mount (the overlay) —
/// the host sees its `/proc/<pid>/exe` refuse writing with EROFS.
#[test]
fn runtime_runs_from_a_read_only_overlay_not_a_copy() {
    let (rt, c) = setup();
    if !rt.is_sangja() {
        skip!("sangja's own protection mode");
    }
    let mut b = c.bundle();
    b.remove_namespace("pid");
    b.set_script("sleep 30");
    let run = rt
        .command(["run", "--bundle"])
        .arg(b.path())
        .arg(c.id())
        .spawn();
    let exe = format!("/proc/{}/exe", run.pid());
    let target = util::wait_for("sangja re-executed", Duration::from_secs(10), || {
        fs::read_link(&exe)
            .ok()
            .filter(|t| t.as_os_str() != rt.path().as_os_str())
    });
    assert!(
        !target.to_string_lossy().contains("memfd"),
        "runs from {target:?}, not from a copy"
    );
    let err = fs::OpenOptions::new().append(true).open(&exe).unwrap_err();
    assert_eq!(
        err.raw_os_error(),
        Some(libc::EROFS),
        "{exe} -> {target:?}: {err}"
    );
    c.wait_status("running");
    c.kill("KILL");
    run.wait();
}

#[test]
fn runtime_binary_protected_during_exec() {
    let (rt, c) = setup();
    let before = sha256(rt.path());
    let mut b = c.bundle();
    b.remove_namespace("pid");
    b.set_args(&["sleep", "1000"]);
    c.start_running(&b);
    for mode in protections(&rt) {
        let o = with_mode(rt.command(["exec"]), mode)
            .arg(c.id())
            .args([
                "sh",
                "-c",
                "if (echo x >> /proc/$PPID/exe) 2>/dev/null; then echo WROTE; else echo refused; fi",
            ])
            .output()
            .ok();
        assert_eq!(o.stdout.trim(), "refused", "{mode:?}: {o:?}");
        assert_eq!(sha256(rt.path()), before);
    }
}
