//! `regex` for sangja's build: regex-lite under the `regex` crate name (see Cargo.toml).
pub use regex_lite::{Captures, Error, Match, Regex, RegexBuilder};
