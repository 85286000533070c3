//! Test helpers: specs patched as JSON, so tests read like the config they describe.

use serde_json::Value;

use super::{default_spec, Spec};

/// The default (non-rootless) spec after `patch` edits its JSON form.
pub fn patched(patch: impl FnOnce(&mut Value)) -> Spec {
    let mut value = serde_json::to_value(default_spec(false)).unwrap();
    patch(&mut value);
    serde_json::from_value(value).unwrap()
}
