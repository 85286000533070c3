//! A spec as the pretty JSON that `sangja spec` writes to `config.json`.
//!
//! Output is deterministic: oci-spec keeps capabilities in a `HashSet` and annotations and
//! sysctls in `HashMap`s, whose order changes from run to run, so the spec goes through a
//! `serde_json::Value` (object keys sorted) and capability lists are sorted. Nulls are dropped:
//! every nullable field in oci-spec is optional, and some runtimes reject `null` where they
//! expect an object or a string.

use serde_json::Value;

use super::Spec;
use crate::error::Error;

/// Pretty JSON (two-space indent, no trailing newline) of `spec`.
///
/// # Panics
/// Only if a path in `spec` is not valid UTF-8, which JSON cannot hold. Specs from `load` or
/// `default_spec` never have one; use [`try_to_pretty_json`] for specs built from OS strings.
pub fn to_pretty_json(spec: &Spec) -> String {
    match try_to_pretty_json(spec) {
        Ok(text) => text,
        Err(e) => panic!("{e}"),
    }
}

/// Like [`to_pretty_json`], but a path that is not valid UTF-8 is an error.
pub fn try_to_pretty_json(spec: &Spec) -> Result<String, Error> {
    let mut value = serde_json::to_value(spec)
        .map_err(|e| Error::invalid("spec", format!("cannot be written as JSON: {e}")))?;
    drop_nulls(&mut value);
    sort_capabilities(&mut value);
    serde_json::to_string_pretty(&value)
        .map_err(|e| Error::invalid("spec", format!("cannot be written as JSON: {e}")))
}

/// Remove `null` members of objects, at every depth (iteratively: no recursion limit to hit).
fn drop_nulls(value: &mut Value) {
    let mut todo = vec![value];
    while let Some(v) = todo.pop() {
        match v {
            Value::Object(map) => {
                map.retain(|_, member| !member.is_null());
                todo.extend(map.values_mut());
            }
            Value::Array(items) => todo.extend(items.iter_mut()),
            _ => {}
        }
    }
}

/// Sort every list under `process.capabilities` by name.
fn sort_capabilities(value: &mut Value) {
    let Some(sets) = value
        .pointer_mut("/process/capabilities")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for set in sets.values_mut() {
        if let Some(list) = set.as_array_mut() {
            list.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::default_spec;
    use crate::spec::testutil::patched;

    #[test]
    fn output_is_stable_and_sorted() {
        let spec = default_spec(false);
        let first = to_pretty_json(&spec);
        for _ in 0..10 {
            // A fresh spec has freshly seeded hash sets.
            assert_eq!(to_pretty_json(&default_spec(false)), first);
        }
        let value: Value = serde_json::from_str(&first).unwrap();
        let bounding = &value["process"]["capabilities"]["bounding"];
        let want = serde_json::json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
        assert_eq!(bounding, &want);
        assert!(first.starts_with("{\n  \""), "two-space indent: {first}");
        assert!(!first.ends_with('\n'));
    }

    #[test]
    fn no_nulls_anywhere() {
        let spec = patched(|v| {
            v["linux"]["resources"]["devices"] = serde_json::json!([{"allow": true}]);
        });
        let text = to_pretty_json(&spec);
        assert!(!text.contains("null"), "{text}");
        for rootless in [false, true] {
            assert!(!to_pretty_json(&default_spec(rootless)).contains("null"));
        }
    }

    #[test]
    fn non_utf8_path_is_an_error_not_a_panic() {
        use std::os::unix::ffi::OsStrExt;
        let mut spec = default_spec(false);
        let bad = std::ffi::OsStr::from_bytes(b"/\xff");
        spec.root_mut().as_mut().unwrap().set_path(bad.into());
        let err = try_to_pretty_json(&spec).unwrap_err().to_string();
        assert!(
            err.starts_with("invalid config: spec: cannot be written as JSON"),
            "{err}"
        );
    }
}
