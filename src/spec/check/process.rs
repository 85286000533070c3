//! `process`: what the container will execute.
//!
//! `process` is optional in JSON (oci-spec makes it an `Option`) because the spec only needs it
//! at `start`; sangja builds the process at `create`, so it is required here. `terminal: true`
//! is fine: whether a console socket was given is the runtime's business, not the config's.

use oci_spec::runtime::Process;

use super::{has_nul, Spec};
use crate::error::Error;

fn process(spec: &Spec) -> Option<&Process> {
    spec.process().as_ref()
}

/// `process` is present.
pub(super) fn process_present(spec: &Spec) -> Result<(), Error> {
    match process(spec) {
        Some(_) => Ok(()),
        None => Err(Error::invalid("process", "is required")),
    }
}

/// `process.args` has at least one entry, a non-empty executable, and no NUL bytes.
pub(super) fn process_args(spec: &Spec) -> Result<(), Error> {
    let Some(process) = process(spec) else {
        return Ok(());
    };
    let args = process.args().as_deref().unwrap_or_default();
    if args.is_empty() {
        return Err(Error::invalid(
            "process.args",
            "must contain at least one entry, the executable",
        ));
    }
    if args[0].is_empty() {
        return Err(Error::invalid(
            "process.args[0]",
            "executable must not be empty",
        ));
    }
    match args.iter().position(|a| has_nul(a)) {
        Some(i) => Err(Error::invalid(
            format!("process.args[{i}]"),
            "contains a nul byte",
        )),
        None => Ok(()),
    }
}

/// `process.cwd` is an absolute path.
pub(super) fn process_cwd(spec: &Spec) -> Result<(), Error> {
    let Some(process) = process(spec) else {
        return Ok(());
    };
    let cwd = process.cwd();
    if !cwd.is_absolute() {
        return Err(Error::invalid(
            "process.cwd",
            format!("{:?} is not an absolute path", cwd.display().to_string()),
        ));
    }
    if has_nul(&cwd.to_string_lossy()) {
        return Err(Error::invalid("process.cwd", "contains a nul byte"));
    }
    Ok(())
}

/// Every `process.env` entry is `KEY=VALUE` with a non-empty key, without NUL bytes.
pub(super) fn process_env(spec: &Spec) -> Result<(), Error> {
    let Some(process) = process(spec) else {
        return Ok(());
    };
    let env = process.env().as_deref().unwrap_or_default();
    for (i, entry) in env.iter().enumerate() {
        let field = || format!("process.env[{i}]");
        match entry.split_once('=') {
            Some((key, _)) if !key.is_empty() => {}
            _ => {
                return Err(Error::invalid(
                    field(),
                    format!("{entry:?} is not of the form KEY=VALUE"),
                ))
            }
        }
        if has_nul(entry) {
            return Err(Error::invalid(field(), "contains a nul byte"));
        }
    }
    Ok(())
}

/// Each rlimit type appears once (a second one would silently win) and `soft <= hard`
/// (setrlimit would fail with EINVAL deep inside init).
pub(super) fn process_rlimits(spec: &Spec) -> Result<(), Error> {
    let Some(process) = process(spec) else {
        return Ok(());
    };
    let rlimits = process.rlimits().as_deref().unwrap_or_default();
    for (i, rlimit) in rlimits.iter().enumerate() {
        // The type is not `Hash`; there are only 16 types, so a scan of the earlier ones is cheap.
        if rlimits[..i]
            .iter()
            .any(|earlier| earlier.typ() == rlimit.typ())
        {
            return Err(Error::invalid(
                format!("process.rlimits[{i}].type"),
                format!("rlimit \"{}\" listed twice", rlimit.typ()),
            ));
        }
        if rlimit.soft() > rlimit.hard() {
            return Err(Error::invalid(
                format!("process.rlimits[{i}]"),
                format!(
                    "soft limit {} is above hard limit {}",
                    rlimit.soft(),
                    rlimit.hard()
                ),
            ));
        }
    }
    Ok(())
}

/// `process.oomScoreAdj` is within the kernel's range, -1000 to 1000.
pub(super) fn process_oom_score_adj(spec: &Spec) -> Result<(), Error> {
    match process(spec).and_then(|p| p.oom_score_adj()) {
        Some(adj) if !(-1000..=1000).contains(&adj) => Err(Error::invalid(
            "process.oomScoreAdj",
            format!("{adj} is outside -1000..1000"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::default_spec;
    use crate::spec::testutil::{assert_invalid, patched};
    use serde_json::json;

    #[test]
    fn present() {
        process_present(&default_spec(false)).unwrap();
        let spec = patched(|v| {
            v.as_object_mut().unwrap().remove("process");
        });
        assert_invalid(process_present(&spec), "process", "is required");
    }

    #[test]
    fn args() {
        process_args(&patched(|v| {
            v["process"]["args"] = json!(["/bin/true", "x"])
        }))
        .unwrap();
        let empty = patched(|v| v["process"]["args"] = json!([]));
        assert_invalid(process_args(&empty), "process.args", "at least one entry");
        let missing = patched(|v| {
            v["process"].as_object_mut().unwrap().remove("args");
        });
        assert_invalid(process_args(&missing), "process.args", "at least one entry");
        let blank = patched(|v| v["process"]["args"] = json!(["", "x"]));
        assert_invalid(process_args(&blank), "process.args[0]", "must not be empty");
        let nul = patched(|v| v["process"]["args"] = json!(["sh", "-c", "a\u{0}b"]));
        assert_invalid(process_args(&nul), "process.args[2]", "nul byte");
    }

    #[test]
    fn cwd() {
        process_cwd(&patched(|v| v["process"]["cwd"] = "/home/user".into())).unwrap();
        let relative = patched(|v| v["process"]["cwd"] = "home".into());
        assert_invalid(
            process_cwd(&relative),
            "process.cwd",
            "\"home\" is not an absolute path",
        );
        let empty = patched(|v| v["process"]["cwd"] = "".into());
        assert_invalid(process_cwd(&empty), "process.cwd", "not an absolute path");
    }

    #[test]
    fn env() {
        let ok = patched(|v| v["process"]["env"] = json!(["A=", "B=c=d", "lower.dot=1"]));
        process_env(&ok).unwrap();
        let no_equals = patched(|v| v["process"]["env"] = json!(["A=1", "FOO"]));
        assert_invalid(
            process_env(&no_equals),
            "process.env[1]",
            "\"FOO\" is not of the form",
        );
        let no_key = patched(|v| v["process"]["env"] = json!(["=value"]));
        assert_invalid(process_env(&no_key), "process.env[0]", "KEY=VALUE");
        let nul = patched(|v| v["process"]["env"] = json!(["A=1\u{0}"]));
        assert_invalid(process_env(&nul), "process.env[0]", "nul byte");
    }

    #[test]
    fn rlimits() {
        let ok = patched(|v| {
            v["process"]["rlimits"] = json!([
                {"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20},
                {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}
            ])
        });
        process_rlimits(&ok).unwrap();
        let twice = patched(|v| {
            v["process"]["rlimits"] = json!([
                {"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1},
                {"type": "RLIMIT_NOFILE", "soft": 2, "hard": 2}
            ])
        });
        assert_invalid(
            process_rlimits(&twice),
            "process.rlimits[1].type",
            "rlimit \"RLIMIT_NOFILE\" listed twice",
        );
        let inverted = patched(|v| {
            v["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 2048, "hard": 1024}])
        });
        assert_invalid(
            process_rlimits(&inverted),
            "process.rlimits[0]",
            "soft limit 2048 is above hard limit 1024",
        );
    }

    #[test]
    fn oom_score_adj() {
        for ok in [-1000, 0, 1000] {
            process_oom_score_adj(&patched(|v| v["process"]["oomScoreAdj"] = ok.into())).unwrap();
        }
        let bad = patched(|v| v["process"]["oomScoreAdj"] = 1001.into());
        assert_invalid(process_oom_score_adj(&bad), "process.oomScoreAdj", "1001");
    }

    #[test]
    fn user_ids_need_no_check() {
        let spec = patched(|v| v["process"]["user"] = json!({"uid": 4294967295u32, "gid": 0}));
        for check in [process_args, process_cwd, process_env] {
            check(&spec).unwrap();
        }
    }
}
