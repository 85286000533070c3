//! The command line, runc-compatible: clap structs accepting runc's flags, one small handler
//! per verb, and output formatting. Uses `container`, `spec`, `logging`, `state` (the
//! `Store` handle), `error`.

mod args;
mod commands;
mod early;
mod exec;
mod output;
mod parse;
mod signal;
mod update;

pub use args::{Cli, Command, GlobalOptions, LogFormat};
pub use commands::dispatch;
pub use early::protect_early;
pub use parse::parse;
