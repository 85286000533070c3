//! OCI hooks at the lifecycle's points (runtime-spec 1.3 semantics: every kind but poststop
//! is fatal; poststop failures are warnings and the remaining poststop hooks still run).
//! prestart + createRuntime run here, in the runtime namespace, when init reaches the point
//! before pivot_root; createContainer and startContainer run in init (process layer);
//! poststart after `start`; poststop after `delete`. Those two come from the state recorded at
//! create, not from config.json again: the spec says changes to the config after create have no
//! effect (runc keeps the whole config in its state too), and it spares a parse per command.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::hooks::{run_hooks, run_hooks_best_effort, HookKind};
use crate::spec::Spec;
use crate::state::State;

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
    let annotations = spec.annotations().clone().unwrap_or_default();
    encode(HookState {
        oci_version: spec.version(),
        id,
        status,
        pid,
        bundle,
        annotations: annotations.into_iter().collect(),
    })
}

/// The same, from the recorded state of a created container.
fn recorded_state_json(st: &State, status: &str, pid: i32) -> String {
    encode(HookState {
        oci_version: &st.oci_version,
        id: &st.id,
        status,
        pid,
        bundle: &st.bundle,
        annotations: st.annotations.clone(),
    })
}

fn encode(state: HookState) -> String {
    serde_json::to_string(&state).unwrap_or_default()
}

/// The config's poststart and poststop hooks, to record in the state at create; `None` when it
/// has neither.
pub fn late_hooks(spec: &Spec) -> Option<serde_json::Value> {
    let h = spec.hooks().as_ref()?;
    let late = [HookKind::Poststart, HookKind::Poststop];
    if late.iter().all(|k| k.select(h).is_empty()) {
        return None;
    }
    let mut only = oci_spec::runtime::Hooks::default();
    only.set_poststart(h.poststart().clone());
    only.set_poststop(h.poststop().clone());
    serde_json::to_value(only).ok()
}

/// The recorded poststart/poststop hooks (a record that cannot be read has none: it was
/// written by this code from valid hooks).
fn recorded(st: &State) -> Option<oci_spec::runtime::Hooks> {
    serde_json::from_value(st.late_hooks.clone()?).ok()
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
pub fn run_poststart(st: &State) -> anyhow::Result<()> {
    match recorded(st) {
        Some(h) if !HookKind::Poststart.select(&h).is_empty() => run_hooks(
            HookKind::Poststart,
            HookKind::Poststart.select(&h),
            &recorded_state_json(st, "running", st.pid),
        ),
        _ => Ok(()),
    }
}

/// poststop, after the container is gone; failures are only warned about.
pub fn run_poststop(st: &State) {
    let Some(h) = recorded(st) else { return };
    let state = recorded_state_json(st, "stopped", 0);
    for e in run_hooks_best_effort(HookKind::Poststop, HookKind::Poststop.select(&h), &state) {
        eprintln!("sangja: warning: {e:#}");
    }
}
