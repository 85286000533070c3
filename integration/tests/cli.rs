//! The command line itself: --version, --help, spec, list, global flags,
//! create flags, usage errors.

use std::collections::BTreeSet;
use std::fs;

use sangja_integration::{setup, Container, Runtime};

#[test]
fn version_output() {
    let rt = Runtime::new();
    let o = rt.command(["--version"]).no_root().output().ok();
    let lines = o.lines();
    let first = lines.first().cloned().unwrap_or_default();
    let mut words = first.split_whitespace();
    let (name, kw, ver) = (words.next(), words.next(), words.next().unwrap_or(""));
    assert_eq!(
        kw,
        Some("version"),
        "first line is `<name> version X.Y.Z`: {o:?}"
    );
    let nums: Vec<&str> = ver.split(|c: char| !c.is_ascii_digit()).take(3).collect();
    assert!(
        nums.len() == 3 && nums.iter().all(|n| !n.is_empty()),
        "X.Y.Z version: {o:?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("spec: 1.")),
        "a `spec: 1.x` line: {o:?}"
    );
    if rt.is_sangja() {
        assert_eq!(name, Some("sangja"), "{o:?}");
    }
    assert_eq!(o.stderr, "");
}

#[test]
fn help_lists_the_commands() {
    let rt = Runtime::new();
    for flag in ["--help", "-h"] {
        let o = rt.command([flag]).no_root().output().ok();
        for verb in [
            "create", "start", "state", "kill", "delete", "run", "list", "spec",
        ] {
            assert!(o.stdout.contains(verb), "{flag} mentions {verb}: {o:?}");
        }
    }
}

#[test]
fn create_help_lists_its_flags() {
    let rt = Runtime::new();
    let o = rt.command(["create", "--help"]).no_root().output().ok();
    for flag in [
        "--bundle",
        "--pid-file",
        "--console-socket",
        "--no-pivot",
        "--no-new-keyring",
        "--preserve-fds",
    ] {
        assert!(
            o.stdout.contains(flag),
            "create --help mentions {flag}: {o:?}"
        );
    }
}

#[test]
fn unknown_command_fails() {
    let rt = Runtime::new();
    let o = rt.cmd(&["itest-no-such-command"]);
    assert!(!o.success() && o.code.is_some(), "{o:?}");
}

#[test]
fn missing_container_id_fails() {
    // runc exits 1 with "requires exactly 1 argument(s)".
    let rt = Runtime::new();
    for verb in ["state", "start", "delete", "create"] {
        let o = rt.cmd(&[verb]);
        assert!(
            !o.success() && o.code.is_some(),
            "{verb} without an id must fail: {o:?}"
        );
    }
}

#[test]
fn spec_writes_a_config_and_refuses_to_overwrite() {
    let (rt, c) = setup();
    let b = c.bundle();
    let dir = b.host_dir("spec-cwd");
    let o = rt.command(["spec"]).no_root().cwd(&dir).output().ok();
    assert_eq!(o.stderr, "");
    let path = dir.join("config.json");
    let text = fs::read_to_string(&path).expect("spec writes config.json in the cwd");
    let v: serde_json::Value = serde_json::from_str(&text).expect("config.json is JSON");
    assert!(
        v["ociVersion"]
            .as_str()
            .is_some_and(|s| s.starts_with("1.")),
        "{v}"
    );
    assert_eq!(v["root"]["path"], "rootfs");
    assert!(v["process"]["args"]
        .as_array()
        .is_some_and(|a| !a.is_empty()));
    let ns: Vec<&str> = v["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["type"].as_str())
        .collect();
    for t in ["pid", "network", "ipc", "uts", "mount"] {
        assert!(ns.contains(&t), "default spec has a {t} namespace: {ns:?}");
    }
    assert!(
        !ns.contains(&"user"),
        "no user namespace without --rootless"
    );

    fs::write(&path, "{\"sentinel\": true}").unwrap();
    let o = rt.command(["spec"]).no_root().cwd(&dir).output();
    rt.assert_error(&o, &["exists"]);
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "{\"sentinel\": true}",
        "spec must not overwrite"
    );
}

#[test]
fn spec_bundle_flag() {
    let (rt, c) = setup();
    let b = c.bundle();
    for flag in ["-b", "--bundle"] {
        let dir = b.host_dir(&format!("spec{flag}"));
        rt.command(["spec", flag]).arg(&dir).no_root().output().ok();
        assert!(
            dir.join("config.json").is_file(),
            "spec {flag} DIR writes DIR/config.json"
        );
    }
}

#[test]
fn spec_rootless() {
    let (rt, c) = setup();
    let b = c.bundle();
    let dir = b.host_dir("spec-rootless");
    rt.command(["spec", "--rootless"])
        .no_root()
        .cwd(&dir)
        .output()
        .ok();
    let v: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let ns: Vec<&str> = v["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["type"].as_str())
        .collect();
    assert!(
        ns.contains(&"user"),
        "rootless spec has a user namespace: {ns:?}"
    );
    for m in ["uidMappings", "gidMappings"] {
        assert!(
            v["linux"][m].as_array().is_some_and(|a| !a.is_empty()),
            "rootless spec has {m}: {v}"
        );
    }
}

#[test]
fn global_flags_are_accepted() {
    let rt = Runtime::new();
    let log = rt.scratch("global.log");
    let log = log.to_str().unwrap();
    for flags in [
        vec!["--debug"],
        vec!["--systemd-cgroup"],
        vec!["--rootless", "true"],
        vec!["--rootless", "false"],
        vec!["--rootless", "auto"],
        vec!["--rootless=false"],
        vec!["--log", log],
        vec!["--log", log, "--log-format", "json"],
        vec!["--log", log, "--log-format", "text"],
        vec!["--log-format=json"],
    ] {
        let mut args = flags.clone();
        args.push("list");
        let o = rt.cmd(&args);
        assert!(o.success(), "global flags {flags:?} accepted:\n{o:?}");
    }
}

#[test]
fn create_flags_together() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_script("echo all-flags-ok");
    let pid_file = rt.scratch("pid");
    let out = rt.scratch("stdout");
    rt.command([
        "create",
        "--no-pivot",
        "--no-new-keyring",
        "--preserve-fds",
        "0",
        "--pid-file",
    ])
    .arg(&pid_file)
    .arg("--bundle")
    .arg(b.path())
    .arg(c.id())
    .stdout_to(&out)
    .output()
    .ok();
    assert_eq!(fs::read_to_string(&pid_file).unwrap(), c.pid().to_string());
    c.start();
    c.wait_status("stopped");
    assert_eq!(fs::read_to_string(&out).unwrap(), "all-flags-ok\n");
}

#[test]
fn root_directory_is_created_if_missing() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["sleep", "1000"]);
    let root = rt.scratch("fresh-root").join("nested");
    let o = rt
        .command(["--root"])
        .no_root()
        .arg(&root)
        .args(["create", "--bundle"])
        .arg(b.path())
        .arg(c.id())
        .output();
    let del = rt
        .command(["--root"])
        .no_root()
        .arg(&root)
        .args(["delete", "--force", c.id()])
        .output();
    o.ok();
    del.ok();
    assert!(root.is_dir());
}

#[test]
fn list_empty() {
    let rt = Runtime::new();
    let o = rt.cmd(&["list"]).ok();
    let lines = o.lines();
    assert_eq!(lines.len(), 1, "only the header: {o:?}");
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"],
        "{o:?}"
    );
    assert_eq!(rt.cmd(&["list", "-q"]).ok().stdout.trim(), "");
    // runc prints `null` for no containers; `[]` is accepted too.
    let j = rt.cmd(&["list", "-f", "json"]).ok().json();
    assert!(
        j.is_null() || j.as_array().is_some_and(|a| a.is_empty()),
        "{j}"
    );
}

#[test]
fn list_shows_every_container_and_status() {
    let rt = Runtime::new();
    let created = Container::new(&rt);
    let running = Container::new(&rt);
    let stopped = Container::new(&rt);
    let mut b1 = created.bundle();
    b1.set_args(&["sleep", "1000"]);
    created.create(&b1);
    let mut b2 = running.bundle();
    b2.set_args(&["sleep", "1000"]);
    running.start_running(&b2);
    let mut b3 = stopped.bundle();
    b3.set_args(&["true"]);
    stopped.create(&b3);
    stopped.start();
    stopped.wait_status("stopped");

    let want = [
        (created.id(), "created", &b1),
        (running.id(), "running", &b2),
        (stopped.id(), "stopped", &b3),
    ];
    let list = rt.list_json();
    assert_eq!(list.len(), 3, "{list:?}");
    for (id, status, b) in want {
        let e = list
            .iter()
            .find(|e| e["id"] == id)
            .unwrap_or_else(|| panic!("{id} listed: {list:?}"));
        assert_eq!(e["status"], status, "{e}");
        assert_eq!(e["bundle"], b.path().to_str().unwrap(), "{e}");
        assert!(
            e["pid"].is_number() && e["created"].is_string() && e["owner"].is_string(),
            "{e}"
        );
        if status != "stopped" {
            assert!(e["pid"].as_i64().unwrap() > 0, "{e}");
        }
    }

    for q in ["-q", "--quiet"] {
        let ids: BTreeSet<String> = rt.cmd(&["list", q]).ok().lines().into_iter().collect();
        let expect: BTreeSet<String> = want.iter().map(|w| w.0.to_string()).collect();
        assert_eq!(ids, expect, "list {q}");
    }

    for args in [
        vec!["list"],
        vec!["list", "--format", "table"],
        vec!["list", "-f", "table"],
    ] {
        let o = rt.cmd(&args).ok();
        let lines = o.lines();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
        );
        for (id, status, b) in want {
            let row = lines
                .iter()
                .find(|l| l.split_whitespace().next() == Some(id))
                .unwrap_or_else(|| panic!("{id} row: {o:?}"));
            let cols: Vec<&str> = row.split_whitespace().collect();
            assert_eq!(cols[2], status, "{row}");
            assert_eq!(cols[3], b.path().to_str().unwrap(), "{row}");
        }
    }
}
