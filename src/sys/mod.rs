//! Layer 0: the only place with `unsafe`. One thin wrapper per syscall that nix does not cover
//! safely, EINTR retried, each `unsafe` block with a `// SAFETY:` comment. Callers add the context
//! (which path, which mount) to the errno they get back.
#![allow(unsafe_code)]

#[cfg(test)]
pub mod fork;
pub mod open;
pub mod statvfs;
