//! sangja: a low-level OCI container runtime. The modules are layered (see DESIGN.md):
//! `cli` → `container` → `process` → (`namespaces`, `rootfs`, `security`, `network`, `hooks`)
//! → (`spec`, `state`) → `sys`. Lower layers never import higher ones.
#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod cgroups;
pub mod cli;
pub mod container;
pub mod error;
pub mod hooks;
pub mod logging;
pub mod namespaces;
pub mod network;
pub mod process;
pub mod rootfs;
pub mod security;
pub mod spec;
pub mod state;
pub mod sys;
