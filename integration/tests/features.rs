//! `features`: the OCI features JSON parses and what it claims is true of
//! this build (namespaces create, seccomp actions load, versions agree).

use sangja_integration::{setup, skip, Runtime};
use serde_json::{json, Value};

fn features(rt: &Runtime) -> Value {
    rt.command(["features"]).no_root().output().ok().json()
}

fn ver(s: &str) -> Vec<u32> {
    s.split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .take(3)
        .map(|p| p.parse().unwrap())
        .collect()
}

#[test]
fn features_parses_and_claims_the_basics() {
    let (rt, _c) = setup();
    let f = features(&rt);
    let max = f["ociVersionMax"].as_str().expect("ociVersionMax");
    assert!(ver(max) >= vec![1, 0, 0], "{max}");
    let min = f["ociVersionMin"].as_str().expect("ociVersionMin");
    assert!(ver(min) <= ver(max), "{min} <= {max}");
    let hooks: Vec<&str> = f["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for h in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ] {
        assert!(hooks.contains(&h), "hook {h} listed: {hooks:?}");
    }
    let opts: Vec<&str> = f["mountOptions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let wanted: &[&str] = if rt.is_sangja() {
        &["ro", "rbind", "rro", "idmap"]
    } else {
        &["ro", "rbind"]
    };
    for o in wanted {
        assert!(opts.contains(o), "mount option {o}: {opts:?}");
    }
    let caps = f["linux"]["capabilities"].as_array().unwrap();
    assert!(caps.iter().any(|c| c == "CAP_SYS_ADMIN"), "{caps:?}");
    if rt.is_sangja() {
        assert_eq!(f["linux"]["cgroup"]["v2"], true, "{f}");
        assert_eq!(
            f["linux"]["mountExtensions"]["idmap"]["enabled"], true,
            "{f}"
        );
        assert_eq!(f["linux"]["seccomp"]["enabled"], true);
    }
}

#[test]
fn features_version_annotation_matches_version() {
    let (rt, _c) = setup();
    if !rt.is_sangja() {
        skip!("sangja-only: run.sangja.version annotation");
    }
    let f = features(&rt);
    let v = f["annotations"]["run.sangja.version"]
        .as_str()
        .expect("run.sangja.version");
    let out = rt.command(["--version"]).no_root().output().ok();
    let first = out.stdout.lines().next().unwrap();
    assert_eq!(first, format!("sangja version {v}"), "{out:?}");
}

#[test]
fn every_listed_namespace_can_be_created() {
    let (rt, _c) = setup();
    let f = features(&rt);
    let list: Vec<String> = f["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    assert!(!list.is_empty());
    for ns in &list {
        let (_rt2, c) = setup();
        let mut b = c.bundle();
        b.add_namespace(ns, None);
        if ns == "user" {
            b.set_userns_mapping(100000, 65536);
        }
        b.set_args(&["true"]);
        let o = c.run(&b);
        assert!(
            o.success(),
            "namespace {ns} listed but a container with it fails: {o:?}"
        );
    }
}

#[test]
fn every_listed_seccomp_action_loads() {
    let (rt, _c) = setup();
    let f = features(&rt);
    let sc = &f["linux"]["seccomp"];
    if sc["enabled"] != true {
        skip!("seccomp not enabled in this build");
    }
    for action in sc["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
    {
        if action == "SCMP_ACT_NOTIFY" {
            continue; // needs a listener; sangja does not list it
        }
        let (_rt2, c) = setup();
        let mut b = c.bundle();
        let mut rule = json!({"names": ["mkdirat"], "action": action});
        if action == "SCMP_ACT_ERRNO" || action == "SCMP_ACT_TRACE" {
            rule["errnoRet"] = json!(1);
        }
        b.set(
            "/linux/seccomp",
            json!({"defaultAction": "SCMP_ACT_ALLOW",
                   "architectures": ["SCMP_ARCH_X86_64"],
                   "syscalls": [rule]}),
        );
        // The action is on mkdirat, which `echo` never calls: the container
        // runs normally whatever the action does.
        b.set_script("echo loaded");
        let o = c.run(&b);
        assert_eq!(
            o.stdout, "loaded\n",
            "action {action} listed but does not load: {o:?}"
        );
    }
    // Every listed operator loads too.
    for op in sc["operators"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
    {
        let (_rt2, c) = setup();
        let mut b = c.bundle();
        b.set(
            "/linux/seccomp",
            json!({"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [{"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO",
                                 "args": [{"index": 1, "value": 1, "valueTwo": 1, "op": op}]}]}),
        );
        b.set_script("echo loaded");
        let o = c.run(&b);
        assert_eq!(
            o.stdout, "loaded\n",
            "operator {op} listed but does not load: {o:?}"
        );
    }
}

#[test]
fn features_output_to_a_closed_pipe_does_not_panic() {
    // `sangja features | head -1` must not print a Rust panic backtrace.
    let (rt, _c) = setup();
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: fds is a valid two-int buffer.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both descriptors were just created and are owned here.
    let (r, w) = unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    };
    drop(r); // the reader is gone: every write gets EPIPE
    let o = std::process::Command::new(rt.path())
        .arg("features")
        .stdout(w)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains("panicked"),
        "sangja features to a closed pipe panics: {err}"
    );
}
