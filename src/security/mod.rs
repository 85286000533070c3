//! Process security (layer 2): capabilities, seccomp (profile → BPF, installed by our own
//! `seccomp(2)` call), rlimits, no_new_privs, oom_score_adj, scheduler, I/O priority,
//! personality and the AppArmor/SELinux exec labels. May use `spec` types (oci-spec), `sys`
//! and `error`.
//!
//! Use: [`precheck`] on the raw JSON, [`validate`] (or [`Plan::from_spec`]) in the parent
//! before the clone, then in init after the start gate [`Plan::apply_before_user_switch`],
//! the user switch, [`Plan::apply_after_user_switch`], execve.

mod attrs;
pub mod caps;
pub mod lsm;
mod plan;
mod raw;
pub mod rlimits;
pub mod seccomp;

pub use plan::{validate, Plan};
pub use raw::precheck;
pub use seccomp::{container_process_state, NotifyHandoff};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;
