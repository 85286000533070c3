//! The lifecycle API: create, start, run, kill, delete, state, list, pause, resume, ps,
//! update and events. The only writer of
//! state. Drives `process`; uses `state`, `spec`, `namespaces` (for the plan), `error`.

mod cgroup;
mod create;
mod delete;
mod events;
mod exec;
mod features;
mod hooks;
mod kill;
mod network;
mod pause;
mod pidfile;
mod ps;
mod rollback;
mod run;
mod start;
mod update;
mod view;
mod volumes;

/// The network flag types `run` takes, so the CLI need not reach below this layer.
pub use crate::network::{NetworkMode, RunFlags};
pub use crate::process::ensure_sealed_exe as protect_runtime_binary;
pub use create::{create, CreateOptions};
pub use delete::delete;
pub use events::{events, Event};
pub use exec::{exec, ExecArgs, ExecOptions, ExecProcess};
pub use features::features;
pub use kill::kill;
pub use network::remove_network;
pub use pause::{pause, resume};
pub use ps::pids;
pub use run::{run, RunOptions};
pub use start::start;
pub use update::update;
pub use view::{list, state, ContainerView};
pub use volumes::{list_volumes, remove_volume};

use crate::state::{State, Status, Store};

/// Status of a recorded container, derived from facts: init alive (pid + start time),
/// cgroup frozen, start gate present.
pub(crate) fn status_of(store: &Store, state: &State) -> Status {
    let alive = state.init_alive();
    let frozen = alive
        && cgroup::open(state)
            .ok()
            .flatten()
            .is_some_and(|cg| cg.is_frozen().unwrap_or(false));
    Status::derive(alive, frozen, store.fifo_path(&state.id).exists())
}
