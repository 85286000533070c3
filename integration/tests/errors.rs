//! Refusals and failures: unknown ids, duplicate ids (also concurrent), bad
//! process.args, failing mounts, bad configs. Each must exit 1 with a clear
//! message and leave nothing behind.

use std::time::Duration;

use sangja_integration::{assert_clean, bundle, setup, skip, Bundle, Container, Runtime};
use serde_json::json;

#[test]
fn unknown_id_does_not_exist_for_every_verb() {
    let rt = Runtime::new();
    let id = "itest-never-created";
    for args in [
        vec!["state", id],
        vec!["start", id],
        vec!["kill", id, "KILL"],
        vec!["kill", id],
        vec!["delete", id],
    ] {
        let o = rt.cmd(&args);
        rt.assert_error(&o, &["does not exist"]);
    }
}

#[test]
fn delete_force_of_unknown_id_succeeds() {
    let rt = Runtime::new();
    let o = rt.cmd(&["delete", "--force", "itest-never-created"]).ok();
    assert_eq!(o.stderr, "", "{o:?}");
}

#[test]
fn create_twice_says_already_exists() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["sleep", "1000"]);
    c.create(&b);
    let pid = c.pid();
    let o = rt
        .command(["create", "--bundle"])
        .arg(b.path())
        .arg(c.id())
        .output();
    rt.assert_error(&o, &["already exists"]);
    let st = c.state();
    assert_eq!(
        st["status"], "created",
        "the first container is untouched: {st}"
    );
    assert_eq!(st["pid"], pid);
}

#[test]
fn concurrent_create_of_one_id_exactly_one_wins() {
    let rt = Runtime::new();
    let strict = rt.is_sangja();
    if !strict {
        sangja_integration::util::print_skip(&format!(
            "partly sangja-only: {} is not held to this (runc 1.1.5 races here: stat, then MkdirAll \
             of the state dir, so both creates can fail, or the loser's rollback deletes the \
             winner's state); only 'no hang, at most one success' is checked against it",
            rt.kind().name()
        ));
    }
    for round in 0..5 {
        let c = Container::new(&rt);
        let mut b1 = c.bundle();
        b1.set_args(&["sleep", "1000"]);
        let mut b2 = c.bundle();
        b2.set_args(&["sleep", "1000"]);
        let r1 = rt
            .command(["create", "--bundle"])
            .arg(b1.path())
            .arg(c.id())
            .spawn();
        let r2 = rt
            .command(["create", "--bundle"])
            .arg(b2.path())
            .arg(c.id())
            .spawn();
        let (o1, o2) = (r1.wait(), r2.wait());
        assert!(
            !(o1.success() && o2.success()),
            "round {round}: both creates of one id succeeded:\n{o1:?}\n{o2:?}"
        );
        if !strict {
            continue;
        }
        let (winner, loser, wb) = match (o1.success(), o2.success()) {
            (true, false) => (o1, o2, &b1),
            (false, true) => (o2, o1, &b2),
            _ => panic!("round {round}: expected exactly one create to succeed:\n{o1:?}\n{o2:?}"),
        };
        assert_eq!(winner.stderr, "");
        rt.assert_error(&loser, &["already exists"]);
        let st = rt.cmd(&["state", c.id()]);
        assert!(
            st.success(),
            "round {round}: the winner must survive the loser's failure\nstate: {st:?}\nwinner: {winner:?}\nloser: {loser:?}"
        );
        let st = st.json();
        assert_eq!(st["status"], "created", "round {round}: {st}");
        assert_eq!(st["bundle"], wb.path().to_str().unwrap(), "round {round}");
        c.delete(true).ok();
        assert_clean(&rt, c.id(), &b1);
        assert_clean(&rt, c.id(), &b2);
    }
}

#[test]
fn concurrent_creates_of_distinct_ids_all_succeed() {
    let rt = Runtime::new();
    let cs: Vec<Container> = (0..6).map(|_| Container::new(&rt)).collect();
    let bs: Vec<Bundle> = cs
        .iter()
        .map(|c| {
            let mut b = c.bundle();
            b.set_args(&["sleep", "1000"]);
            b
        })
        .collect();
    let running: Vec<_> = cs
        .iter()
        .zip(&bs)
        .map(|(c, b)| {
            rt.command(["create", "--bundle"])
                .arg(b.path())
                .arg(c.id())
                .spawn()
        })
        .collect();
    for r in running {
        r.wait().ok();
    }
    for c in &cs {
        assert_eq!(c.status(), "created");
    }
    assert_eq!(rt.list_json().len(), 6);
}

#[test]
fn invalid_ids_are_refused() {
    let rt = Runtime::new();
    let b = Bundle::new("itest-invalid-id");
    for id in ["../itest-escape", "a/b"] {
        let o = rt
            .command(["create", "--bundle"])
            .arg(b.path())
            .arg(id)
            .output();
        rt.assert_error(&o, &[]);
        assert!(
            !rt.root().parent().unwrap().join("itest-escape").exists(),
            "id {id:?} escaped --root"
        );
        assert!(!rt.root().join("a").exists(), "id {id:?} made a directory");
    }
}

#[test]
fn kill_with_unknown_signal_is_refused() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["sleep", "1000"]);
    c.start_running(&b);
    let o = rt.cmd(&["kill", c.id(), "NOSUCHSIG"]);
    rt.assert_error(&o, &["signal"]);
    assert_eq!(c.status(), "running");
}

/// `create` must fail with exit 1, mention one of `any_of`, and leave nothing.
fn create_fails(
    rt: &Runtime,
    c: &Container,
    b: &Bundle,
    any_of: &[&str],
) -> sangja_integration::Out {
    let o = rt
        .command(["create", "--bundle"])
        .arg(b.path())
        .arg(c.id())
        .output();
    rt.assert_error(&o, any_of);
    assert_clean(rt, c.id(), b);
    assert!(rt.list_json().is_empty(), "a failed create is not listed");
    o
}

#[test]
fn bad_args0_not_in_path() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["does-not-exist-anywhere"]);
    create_fails(
        &rt,
        &c,
        &b,
        &["executable file not found", "no such file or directory"],
    );
}

#[test]
fn bad_args0_absolute_missing() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["/bin/does-not-exist"]);
    create_fails(
        &rt,
        &c,
        &b,
        &["executable file not found", "no such file or directory"],
    );
}

#[test]
fn bad_args0_not_executable() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["/etc/passwd"]);
    create_fails(&rt, &c, &b, &["permission denied"]);
}

#[test]
fn failing_bind_mount_cleans_up() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["true"]);
    b.add_mount(json!({"destination": "/mnt/x", "type": "bind", "source": "/nonexistent/itest-src", "options": ["rbind"]}));
    create_fails(&rt, &c, &b, &["/nonexistent/itest-src"]);
}

#[test]
fn failing_fs_type_mount_cleans_up() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["true"]);
    b.add_mount(json!({"destination": "/mnt/x", "type": "itestnosuchfs", "source": "none"}));
    create_fails(&rt, &c, &b, &[]);
}

#[test]
fn terminal_without_console_socket_is_an_error() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["true"]);
    b.set_terminal(true);
    let o = create_fails(&rt, &c, &b, &["console"]);
    assert!(o.elapsed < Duration::from_secs(10), "fails promptly: {o:?}");
}

/// A config `create` must refuse. `field` is what sangja's message names
/// (`invalid config: <field>`); `runc_accepts` marks configs runc/crun run anyway.
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
fn config_missing_process_args() {
    bad_config(
        |b| {
            b.remove("/process/args");
        },
        &["invalid config: process.args"],
        None,
    );
}

#[test]
fn config_empty_process_args() {
    bad_config(
        |b| {
            b.set_args(&[]);
        },
        &["invalid config: process.args"],
        None,
    );
}

#[test]
fn config_relative_cwd() {
    bad_config(
        |b| {
            b.set_cwd("tmp");
        },
        &["invalid config: process.cwd"],
        None,
    );
}

#[test]
fn config_root_path_escaping_bundle() {
    bad_config(
        |b| {
            bundle::make_rootfs(&b.host_dir("outside"));
            b.set("/root/path", json!("../outside"));
        },
        &["invalid config: root.path"],
        Some("runc 1.1 accepts a relative root.path that leaves the bundle"),
    );
}

#[test]
fn config_namespace_listed_twice() {
    bad_config(
        |b| {
            let mut ns = b.config()["linux"]["namespaces"]
                .as_array()
                .unwrap()
                .clone();
            ns.push(json!({"type": "uts"}));
            b.set("/linux/namespaces", json!(ns));
        },
        &["invalid config: linux.namespaces"],
        None,
    );
}

#[test]
fn config_unknown_namespace_type() {
    bad_config(
        |b| {
            let mut ns = b.config()["linux"]["namespaces"]
                .as_array()
                .unwrap()
                .clone();
            ns.push(json!({"type": "itestbogus"}));
            b.set("/linux/namespaces", json!(ns));
        },
        &["invalid config: linux.namespaces"],
        None,
    );
}

#[test]
fn config_hostname_without_uts_namespace() {
    bad_config(
        |b| {
            b.remove_namespace("uts");
            b.set_hostname("itest");
        },
        &["invalid config: hostname"],
        None,
    );
}

#[test]
fn config_relative_mount_destination() {
    bad_config(
        |b| {
            b.add_mount(json!({"destination": "mnt/rel", "type": "tmpfs", "source": "tmpfs"}));
        },
        &["invalid config: mounts", "destination"],
        Some("runc 1.1 only warns about a relative mount destination and mounts it under /"),
    );
}

#[test]
fn config_oci_version_2() {
    bad_config(
        |b| {
            b.set("/ociVersion", json!("2.0.0"));
        },
        &["invalid config: ociVersion"],
        Some("runc 1.1 does not check ociVersion"),
    );
}

#[test]
fn config_unknown_capability_names_its_field() {
    bad_config(
        |b| {
            b.set(
                "/process/capabilities/bounding",
                json!(["CAP_KILL", "CAP_ITEST_BOGUS"]),
            );
        },
        &[
            "invalid config: process.capabilities.bounding[1]",
            "unknown capability \"CAP_ITEST_BOGUS\"",
        ],
        Some("runc 1.1 only warns about an unknown capability"),
    );
}

#[test]
fn config_garbage_json() {
    bad_config(
        |b| b.write_raw_config("{ this is not json"),
        &["config.json", "line"],
        None,
    );
}

#[test]
fn config_missing_file() {
    bad_config(|b| b.remove_config(), &["config.json"], None);
}
