//! Process security (layer 2): capabilities, seccomp (profile → BPF, installed by our own
//! `seccomp(2)` call), rlimits, no_new_privs and the other per-process attributes. May use
//! `spec` types (oci-spec), `sys` and `error`.

pub mod seccomp;

pub use seccomp::{container_process_state, NotifyHandoff};

#[cfg(test)]
mod testutil;
