//! Typed errors that callers branch on (not found, exists, wrong status, invalid config).
//! Everything else travels as `anyhow::Error` with context.

use std::path::PathBuf;

/// An error a caller may want to tell apart from the rest.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No container with this id under the state root.
    #[error("container {0} does not exist")]
    NotFound(String),
    /// A container with this id is already there.
    #[error("container {0} already exists")]
    AlreadyExists(String),
    /// The id is unsafe or malformed; nothing touched the disk.
    #[error("invalid container id {id:?}: {reason}")]
    InvalidId { id: String, reason: String },
    /// config.json is valid JSON but breaks a rule; `field` is its JSON path.
    #[error("invalid config: {field}: {reason}")]
    InvalidConfig { field: String, reason: String },
    /// config.json could not be read: missing, not a regular file, unreadable or too large.
    /// `reason` is lower case, e.g. "no such file or directory".
    #[error("{}: {reason}", path.display())]
    ConfigRead { path: PathBuf, reason: String },
    /// config.json could not be parsed.
    #[error("{}: line {line}, column {column}: {msg}", path.display())]
    ConfigSyntax {
        path: PathBuf,
        line: usize,
        column: usize,
        msg: String,
    },
    /// A resource asks for a cgroup v2 controller this host cannot give (not in the cgroup2
    /// hierarchy, bound to cgroup v1, or not delegated down the path); `reason` says which.
    #[error("cgroup controller {controller:?} is not available: {reason}")]
    ControllerUnavailable { controller: String, reason: String },
    /// The container is in a status that does not allow the action.
    #[error("{0}")]
    WrongStatus(String),
    /// `exec` could not start its program: the shell's exit codes (127 not found, 126 not
    /// executable) tell callers which, as podman and shells expect.
    #[error("{msg}")]
    ExecFailed { msg: String, exit_code: u8 },
}

impl Error {
    /// Shorthand for an `InvalidConfig` error.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidConfig {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Result with the crate's typed error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
