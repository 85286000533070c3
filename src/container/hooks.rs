//! OCI hooks at the lifecycle's points (runtime-spec 1.3 semantics: every kind but poststop
//! is fatal; poststop failures are warnings and the remaining poststop hooks still run).
//! prestart + createRuntime run here, in the runtime namespace, when init reaches the point
//! before pivot_root; createContainer and startContainer run in init (process layer);
//! poststart after `start`; poststop after `delete`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::hooks::{run_hooks, run_hooks_best_effort, HookKind};
use crate::spec::Spec;

/// The OCI state given to hooks on stdin.
#[derive(Serialize)]
struct HookState<'a> {
    #[serde(rename = "ociVersion")]
    oci_version: &'a str,
    id: &'a str,
    status: &'a str,
    pid: i32,
    bundle: &'a Path,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
}

/// The state JSON of container `id` at `status`.
pub fn state_json(spec: &Spec, id: &str, status: &str, pid: i32, bundle: &Path) -> String {
    let state = HookState {
        oci_version: spec.version(),
        id,
        status,
        pid,
        bundle,
        annotations: spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
    };
    serde_json::to_string(&state).unwrap_or_default()
}

/// Does init have to stop before pivot_root for hooks (any of the kinds that run by then or
/// in the container)?
pub fn init_needs_hooks(spec: &Spec) -> bool {
    let Some(h) = spec.hooks() else { return false };
    [
        HookKind::Prestart,
        HookKind::CreateRuntime,
        HookKind::CreateContainer,
        HookKind::StartContainer,
    ]
    .iter()
    .any(|k| !k.select(h).is_empty())
}

/// prestart then createRuntime, for init `pid`; returns the state init's hooks get.
pub fn run_runtime_hooks(spec: &Spec, id: &str, pid: i32, bundle: &Path) -> anyhow::Result<String> {
    let state = state_json(spec, id, "creating", pid, bundle);
    if let Some(h) = spec.hooks() {
        for kind in [HookKind::Prestart, HookKind::CreateRuntime] {
            run_hooks(kind, kind.select(h), &state)?;
        }
    }
    Ok(state)
}

/// poststart, after the user program was started.
pub fn run_poststart(spec: &Spec, id: &str, pid: i32, bundle: &Path) -> anyhow::Result<()> {
    match spec.hooks() {
        Some(h) if !HookKind::Poststart.select(h).is_empty() => run_hooks(
            HookKind::Poststart,
            HookKind::Poststart.select(h),
            &state_json(spec, id, "running", pid, bundle),
        ),
        _ => Ok(()),
    }
}

/// poststop, after the container is gone; failures are only warned about.
pub fn run_poststop(spec: &Spec, id: &str, bundle: &Path) {
    let Some(h) = spec.hooks() else { return };
    let state = state_json(spec, id, "stopped", 0, bundle);
    for e in run_hooks_best_effort(HookKind::Poststop, HookKind::Poststop.select(h), &state) {
        eprintln!("sangja: warning: {e:#}");
    }
}
