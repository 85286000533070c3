//! `hooks` and `annotations`: the MUSTs config.md puts on them.

use oci_spec::runtime::Hook;

use super::Spec;
use crate::error::Error;

/// Every hook has an absolute `path` and, if it has a `timeout`, one above zero.
#[allow(deprecated)] // `prestart` is deprecated but still part of the spec and still run
pub(super) fn hooks(spec: &Spec) -> Result<(), Error> {
    let Some(hooks) = spec.hooks().as_ref() else {
        return Ok(());
    };
    let kinds: [(&str, &Option<Vec<Hook>>); 6] = [
        ("prestart", hooks.prestart()),
        ("createRuntime", hooks.create_runtime()),
        ("createContainer", hooks.create_container()),
        ("startContainer", hooks.start_container()),
        ("poststart", hooks.poststart()),
        ("poststop", hooks.poststop()),
    ];
    for (kind, list) in kinds {
        for (i, hook) in list.iter().flatten().enumerate() {
            let path = hook.path();
            if !path.is_absolute() {
                return Err(Error::invalid(
                    format!("hooks.{kind}[{i}].path"),
                    format!("{:?} is not an absolute path", path.display().to_string()),
                ));
            }
            if let Some(timeout) = hook.timeout().filter(|&t| t <= 0) {
                return Err(Error::invalid(
                    format!("hooks.{kind}[{i}].timeout"),
                    format!("{timeout} is not greater than zero"),
                ));
            }
        }
    }
    Ok(())
}

/// No annotation key is empty.
pub(super) fn annotations(spec: &Spec) -> Result<(), Error> {
    let empty_key = spec
        .annotations()
        .as_ref()
        .is_some_and(|map| map.contains_key(""));
    if empty_key {
        return Err(Error::invalid("annotations", "keys must not be empty"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::testutil::{assert_invalid, patched};
    use serde_json::json;

    #[test]
    fn hook_paths_and_timeouts() {
        let ok = patched(|v| {
            v["hooks"] = json!({
                "prestart": [{"path": "/bin/true"}],
                "createRuntime": [{"path": "/usr/bin/hook", "args": ["hook", "x"], "timeout": 5}]
            })
        });
        hooks(&ok).unwrap();
        let relative = patched(|v| {
            v["hooks"] = json!({"poststop": [{"path": "/bin/true"}, {"path": "bin/hook"}]})
        });
        assert_invalid(
            hooks(&relative),
            "hooks.poststop[1].path",
            "\"bin/hook\" is not an absolute path",
        );
        let zero = patched(|v| {
            v["hooks"] = json!({"startContainer": [{"path": "/bin/true", "timeout": 0}]})
        });
        assert_invalid(
            hooks(&zero),
            "hooks.startContainer[0].timeout",
            "0 is not greater than zero",
        );
    }

    #[test]
    fn annotation_keys() {
        let ok = patched(|v| v["annotations"] = json!({"org.example.key": ""}));
        annotations(&ok).unwrap();
        let empty = patched(|v| v["annotations"] = json!({"": "value"}));
        assert_invalid(annotations(&empty), "annotations", "keys must not be empty");
    }
}
