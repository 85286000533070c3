//! `events`: runc-shaped records from the container's cgroup: `stats` every interval (or
//! once with `--stats`) and `oom` whenever the OOM counter grows, until the container stops.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::pause::container_cgroup;
use super::status_of;
use crate::cgroups::Stats;
use crate::error::Error;
use crate::state::{validate_id, Status, Store};

/// One line of `events` output (runc's `types.Event`).
#[derive(Debug, Serialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Stats>,
}

/// How often the OOM counter and liveness are looked at between stats.
const POLL: Duration = Duration::from_millis(100);

/// Emit events through `emit`. With `once`, one stats record and return.
pub fn events(
    store: &Store,
    id: &str,
    once: bool,
    interval: Duration,
    emit: &mut dyn FnMut(&Event) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    validate_id(id)?;
    let state = store.load(id)?;
    if status_of(store, &state) == Status::Stopped {
        return Err(Error::WrongStatus("container not running".into()).into());
    }
    let cg = container_cgroup(&state)?;
    let stats = |cg: &crate::cgroups::Cgroup| -> anyhow::Result<Event> {
        Ok(Event {
            kind: "stats",
            id: id.to_string(),
            data: Some(cg.stats()?),
        })
    };
    if once {
        return emit(&stats(&cg)?);
    }
    let mut ooms = cg.oom_count().unwrap_or(0);
    let mut next_stats = Instant::now();
    while state.init_alive() {
        let now = cg.oom_count().unwrap_or(ooms);
        if now > ooms {
            ooms = now;
            emit(&Event {
                kind: "oom",
                id: id.to_string(),
                data: None,
            })?;
        }
        if Instant::now() >= next_stats {
            emit(&stats(&cg)?)?;
            next_stats = Instant::now() + interval;
        }
        std::thread::sleep(POLL.min(interval));
    }
    Ok(())
}
