//! The on-disk record of containers: `<root>/<id>/` holding `state.json`, the `exec.fifo`
//! start gate and the per-container lock. Only `container` writes it. Uses `sys`, `error`.

mod id;
mod record;
mod status;
mod store;

pub use id::validate_id;
pub use record::State;
pub use status::Status;
pub use store::{ContainerLock, Store, FIFO_NAME};
