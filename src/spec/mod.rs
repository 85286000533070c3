//! Layer 1: the OCI runtime configuration (`config.json`).
//!
//! Its one job: turn a bundle's `config.json` into an [`oci_spec::runtime::Spec`] and decide,
//! before any side effect, whether sangja can run it. It may use only `crate::error`.
//!
//! - [`load`] / [`load_file`] read and parse; errors name the file, line, column and, for a
//!   wrong type or value, the JSON field (`linux.namespaces[1].type: unknown variant ...`).
//! - [`validate`] runs small named checks (see `check/`); the first failure comes back as
//!   `invalid config: <field>: <reason>`.
//! - [`rootfs_path`] resolves `root.path` against the bundle; [`has_namespace`] asks
//!   `linux.namespaces`.
//! - [`default_spec`] and [`to_pretty_json`] make the `config.json` that `sangja spec` writes.

mod check;
mod default;
mod load;
mod locate;
mod namespaces;
mod pretty;
mod rootfs;
#[cfg(test)]
mod testutil;

pub use oci_spec::runtime::Spec;

pub use check::validate;
pub use default::default_spec;
pub use load::{load, load_checked, load_file, parse_named, RawCheck, MAX_CONFIG_SIZE};
pub use namespaces::has_namespace;
pub use pretty::{to_pretty_json, try_to_pretty_json};
pub use rootfs::rootfs_path;
