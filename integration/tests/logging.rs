//! `--log`, `--log-format text|json`, `--debug`.

use std::fs;

use sangja_integration::{setup, Runtime};
use serde_json::Value;

/// Parse every non-empty line of a JSON log; each must be an object with
/// string `level`, `msg` and `time`.
fn json_lines(path: &std::path::Path) -> Vec<Value> {
    let text = fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {l:?}"));
            for k in ["level", "msg", "time"] {
                assert!(v[k].is_string(), "log line has a string {k:?}: {l}");
            }
            v
        })
        .collect()
}

#[test]
fn json_log_holds_the_error() {
    let rt = Runtime::new();
    let log = rt.scratch("log.json");
    let o = rt
        .command(["--log"])
        .arg(&log)
        .args(["--log-format", "json", "state", "itest-nope"])
        .output();
    rt.assert_error(&o, &["does not exist"]);
    let lines = json_lines(&log);
    let errors: Vec<&Value> = lines.iter().filter(|v| v["level"] == "error").collect();
    assert_eq!(errors.len(), 1, "one error line: {lines:?}");
    assert!(
        errors[0]["msg"]
            .as_str()
            .unwrap()
            .contains("does not exist"),
        "{lines:?}"
    );
    let time = errors[0]["time"].as_str().unwrap();
    assert!(
        time.len() >= 20 && time.as_bytes()[10] == b'T',
        "time is RFC 3339: {time}"
    );
    if rt.is_sangja() {
        assert_eq!(
            lines.len(),
            1,
            "without --debug only the error line: {lines:?}"
        );
    }
}

#[test]
fn text_log_holds_the_error() {
    let rt = Runtime::new();
    let log = rt.scratch("log.txt");
    for fmt in [None, Some("text")] {
        let mut c = rt.command(["--log"]).arg(&log);
        if let Some(f) = fmt {
            c = c.args(["--log-format", f]);
        }
        let o = c.args(["kill", "itest-nope", "KILL"]).output();
        rt.assert_error(&o, &["does not exist"]);
    }
    let text = fs::read_to_string(&log).unwrap();
    let hits = text
        .lines()
        .filter(|l| l.contains("does not exist"))
        .count();
    assert_eq!(
        hits, 2,
        "the log is appended to, one line per error: {text:?}"
    );
    assert!(
        !text.trim_start().starts_with('{'),
        "text format is not JSON: {text:?}"
    );
}

#[test]
fn json_log_of_a_failed_create() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["/bin/itest-missing"]);
    let log = rt.scratch("create.json");
    let o = rt
        .command(["--log"])
        .arg(&log)
        .args(["--log-format", "json", "create", "--bundle"])
        .arg(b.path())
        .arg(c.id())
        .output();
    rt.assert_error(
        &o,
        &["no such file or directory", "executable file not found"],
    );
    let lines = json_lines(&log);
    let err = lines
        .iter()
        .find(|v| v["level"] == "error")
        .unwrap_or_else(|| panic!("an error line: {lines:?}"));
    let msg = err["msg"].as_str().unwrap();
    assert!(
        msg.contains("/bin/itest-missing"),
        "the error names the executable: {msg}"
    );
}

#[test]
fn successful_command_logs_no_error() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["sleep", "1000"]);
    let log = rt.scratch("ok.json");
    rt.command(["--log"])
        .arg(&log)
        .args(["--log-format", "json", "create", "--bundle"])
        .arg(b.path())
        .arg(c.id())
        .output()
        .ok();
    let lines = json_lines(&log);
    assert!(lines.iter().all(|v| v["level"] != "error"), "{lines:?}");
    if rt.is_sangja() {
        assert!(
            lines.is_empty(),
            "without --debug a successful create logs nothing: {lines:?}"
        );
    }
}

#[test]
fn debug_json_log_is_all_json() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["true"]);
    let log = rt.scratch("debug.json");
    rt.command(["--debug", "--log"])
        .arg(&log)
        .args(["--log-format", "json", "run", "--bundle"])
        .arg(b.path())
        .arg(c.id())
        .output()
        .ok();
    let lines = json_lines(&log);
    assert!(!lines.is_empty(), "--debug logs something");
    assert!(
        lines.iter().any(|v| v["level"] == "debug"),
        "debug lines present: {lines:?}"
    );
}
