//! sangja: a low-level OCI container runtime. The modules are layered (see DESIGN.md):
//! `cli` → `container` → `process` → (`namespaces`, `rootfs`, `security`, `network`, `hooks`)
//! → (`spec`, `state`) → `sys`. Lower layers never import higher ones.
#![deny(unsafe_code)]

pub mod error;
pub mod hooks;
pub mod logging;
pub mod namespaces;
pub mod security;
pub mod state;
pub mod sys;
