use std::time::Instant;

use serde_json::{json, Value};

use super::*;

const STATE: &str =
    r#"{"ociVersion":"1.2.0","id":"c1","status":"creating","pid":42,"bundle":"/b"}"#;

fn hook(v: Value) -> Hook {
    serde_json::from_value(v).unwrap()
}

fn sh(script: &str, extra: Value) -> Hook {
    let mut v = json!({"path": "/bin/sh", "args": ["sh", "-c", script]});
    v.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    hook(v)
}

fn run(kind: HookKind, h: &Hook) -> (anyhow::Result<()>, String) {
    let mut out = Vec::new();
    let r = run_hook(kind, 0, h, STATE, &mut out);
    (r, String::from_utf8_lossy(&out).into_owned())
}

#[test]
fn state_on_stdin_args_and_env() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("state");
    let h = hook(json!({
        "path": "/bin/sh",
        "args": ["my-hook", "-c", "cat > \"$OUT\"; printf '%s %s %s' \"$0\" \"$FOO\" \"${HOME:-none}\" > \"$OUT.meta\""],
        "env": [format!("OUT={}", out.display()), "FOO=bar=baz"]
    }));
    let (r, _) = run(HookKind::CreateRuntime, &h);
    r.unwrap();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), STATE);
    // argv[0] is args[0]; env is exactly the configured one (no HOME inherited).
    let meta = std::fs::read_to_string(dir.path().join("state.meta")).unwrap();
    assert_eq!(meta, "my-hook bar=baz none");
}

#[test]
fn without_env_the_runtime_environment_is_inherited() {
    let h = sh("test -n \"$PATH\"", json!({}));
    run(HookKind::Poststart, &h).0.unwrap();
    // Without args, argv is just the path.
    let h = hook(json!({"path": "/bin/true"}));
    run(HookKind::Poststart, &h).0.unwrap();
}

#[test]
fn output_goes_to_the_sink() {
    let (r, out) = run(
        HookKind::Prestart,
        &sh("echo to-stdout; echo to-stderr >&2", json!({})),
    );
    r.unwrap();
    assert!(
        out.contains("to-stdout") && out.contains("to-stderr"),
        "{out:?}"
    );
}

#[test]
fn failure_names_kind_path_status_and_stderr() {
    let (r, _) = run(
        HookKind::CreateRuntime,
        &sh("echo something broke >&2; exit 3", json!({})),
    );
    assert_eq!(
        r.unwrap_err().to_string(),
        "createRuntime hook #0 /bin/sh failed: exit status 3; stderr: something broke"
    );
    let (r, _) = run(HookKind::StartContainer, &sh("kill -9 $$", json!({})));
    assert_eq!(
        r.unwrap_err().to_string(),
        "startContainer hook #0 /bin/sh failed: killed by signal 9"
    );
    let (r, _) = run(
        HookKind::Prestart,
        &hook(json!({"path": "/nonexistent/hook"})),
    );
    let e = format!("{:#}", r.unwrap_err());
    assert!(
        e.starts_with("prestart hook #0 /nonexistent/hook: spawning: "),
        "{e}"
    );
}

#[test]
fn timeout_kills_the_hook_and_what_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let script = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
    let start = Instant::now();
    let (r, _) = run(
        HookKind::CreateContainer,
        &sh(&script, json!({"timeout": 1})),
    );
    let took = start.elapsed();
    assert_eq!(
        r.unwrap_err().to_string(),
        "createContainer hook #0 /bin/sh timed out after 1s and was killed"
    );
    assert!(took < Duration::from_secs(3), "{took:?}");
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The background sleep was in the hook's process group: killed too (maybe not yet reaped).
    std::thread::sleep(Duration::from_millis(100));
    let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z"))
        .unwrap_or(false);
    assert!(!alive, "sleep {pid} survived the timeout");
}

#[test]
fn a_hook_leaving_a_daemon_with_our_pipes_does_not_hang() {
    let start = Instant::now();
    let (r, _) = run(HookKind::Poststart, &sh("sleep 3 & exit 0", json!({})));
    r.unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_hook_ignoring_a_large_state_does_not_block() {
    let big = format!(r#"{{"id":"c","pad":"{}"}}"#, "x".repeat(300_000));
    let h = sh("exit 0", json!({}));
    run_hook(HookKind::Poststop, 0, &h, &big, &mut Vec::new()).unwrap();
    // And one that reads it all gets all of it.
    let h = sh(&format!("test $(wc -c) -eq {}", big.len()), json!({}));
    run_hook(HookKind::Poststop, 0, &h, &big, &mut Vec::new()).unwrap();
}

#[test]
fn run_hooks_stops_at_the_first_failure_best_effort_runs_all() {
    let dir = tempfile::tempdir().unwrap();
    let mark = dir.path().join("ran");
    let touch = sh(&format!("echo x >> {}", mark.display()), json!({}));
    let fail = sh("exit 1", json!({}));
    let hooks = vec![touch.clone(), fail.clone(), touch.clone()];
    let e = run_hooks_with(HookKind::CreateRuntime, &hooks, STATE, &mut Vec::new()).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("createRuntime hook #1 /bin/sh failed"),
        "{e}"
    );
    assert_eq!(std::fs::read_to_string(&mark).unwrap(), "x\n");
    let errs = run_hooks_best_effort(HookKind::Poststop, &[fail.clone(), touch, fail], STATE);
    assert_eq!(errs.len(), 2);
    assert!(errs[1].to_string().starts_with("poststop hook #2 "));
    assert_eq!(std::fs::read_to_string(&mark).unwrap(), "x\nx\n");
}

#[test]
fn validation() {
    let hooks = |v: Value| -> Hooks { serde_json::from_value(v).unwrap() };
    assert!(validate(None).is_ok());
    let ok = hooks(json!({"prestart": [{"path": "/bin/true", "timeout": 5, "env": ["A=1"]}]}));
    assert!(validate(Some(&ok)).is_ok());
    let e = validate(Some(&hooks(
        json!({"createRuntime": [{"path": "bin/true"}]}),
    )))
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid config: hooks.createRuntime[0].path: \"bin/true\" is not an absolute path"
    );
    let e = validate(Some(&hooks(
        json!({"poststop": [{"path": "/x"}, {"path": "/y", "timeout": 0}]}),
    )))
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid config: hooks.poststop[1].timeout: 0 is not greater than zero"
    );
    let e = validate(Some(&hooks(
        json!({"startContainer": [{"path": "/x", "env": ["NOEQUALS"]}]}),
    )))
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid config: hooks.startContainer[0].env[0]: \"NOEQUALS\" is not KEY=VALUE"
    );
    assert!(HookKind::Poststart.fatal() && !HookKind::Poststop.fatal());
    let all =
        hooks(json!({"prestart": [{"path": "/a"}], "poststop": [{"path": "/b"}, {"path": "/c"}]}));
    assert_eq!(HookKind::Prestart.select(&all).len(), 1);
    assert_eq!(HookKind::Poststop.select(&all).len(), 2);
    assert!(HookKind::StartContainer.select(&all).is_empty());
}
