//! The lifecycle API: create, start, run, kill, delete, state and list. The only writer of
//! state. Drives `process`; uses `state`, `spec`, `namespaces` (for the plan), `error`.

mod create;
mod delete;
mod kill;
mod rollback;
mod run;
mod start;
mod view;

pub use create::{create, CreateOptions};
pub use delete::delete;
pub use kill::kill;
pub use run::{run, RunOptions};
pub use start::start;
pub use view::{list, state, ContainerView};

use crate::state::{State, Status, Store};

/// Status of a recorded container, derived from facts. Pause comes with cgroup freezing;
/// until then no container can be frozen.
pub(crate) fn status_of(store: &Store, state: &State) -> Status {
    Status::derive(
        state.init_alive(),
        false,
        store.fifo_path(&state.id).exists(),
    )
}
