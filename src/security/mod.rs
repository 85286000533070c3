//! Process security (layer 2): capabilities, seccomp (profile → BPF, installed by our own
//! `seccomp(2)` call), rlimits, no_new_privs and the other per-process attributes. May use
//! `spec` types (oci-spec), `sys` and `error`.

pub mod attrs;
pub mod caps;
pub mod lsm;
mod raw;
pub mod rlimits;
pub mod seccomp;

pub use raw::precheck;
pub use seccomp::{container_process_state, NotifyHandoff};

#[cfg(test)]
mod testutil;
