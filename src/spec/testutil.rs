//! Test helpers: specs patched as JSON (so tests read like the config they describe) and an
//! assertion on the exact field an `InvalidConfig` error names.

use serde_json::Value;

use super::{default_spec, Spec};
use crate::error::Error;

/// The default (non-rootless) spec after `patch` edits its JSON form.
pub fn patched(patch: impl FnOnce(&mut Value)) -> Spec {
    let mut value = serde_json::to_value(default_spec(false)).unwrap();
    patch(&mut value);
    serde_json::from_value(value).unwrap()
}

/// Assert `result` is `invalid config: <field>: <reason>` with `reason` containing `reason_part`.
#[track_caller]
pub fn assert_invalid<T: std::fmt::Debug>(
    result: Result<T, Error>,
    field: &str,
    reason_part: &str,
) {
    match result {
        Err(Error::InvalidConfig {
            field: got_field,
            reason,
        }) => {
            assert_eq!(got_field, field, "wrong field; reason: {reason}");
            assert!(
                reason.contains(reason_part),
                "reason {reason:?} lacks {reason_part:?}"
            );
            let text = Error::invalid(got_field, reason.clone()).to_string();
            assert_eq!(text, format!("invalid config: {field}: {reason}"));
            assert!(!reason.ends_with('.'), "trailing period: {reason}");
            assert!(
                !reason.starts_with(|c: char| c.is_uppercase()),
                "not lower case: {reason}"
            );
        }
        other => panic!("expected invalid config at {field}, got {other:?}"),
    }
}
