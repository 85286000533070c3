//! Named steps of a child (init or exec): a failure carries its stage, goes to the parent
//! while it listens, and to stderr once it no longer does.

use super::channel::{Channel, Message};
use crate::sys::process::exit_now;

/// A failed step: which stage, and the cause chain.
pub(super) struct StageError {
    pub stage: &'static str,
    pub error: anyhow::Error,
}

pub(super) trait Stage<T> {
    fn stage(self, stage: &'static str) -> Result<T, StageError>;
}

impl<T> Stage<T> for anyhow::Result<T> {
    fn stage(self, stage: &'static str) -> Result<T, StageError> {
        self.map_err(|error| StageError { stage, error })
    }
}

/// The child's steps end in execve, so success has no value.
pub(super) enum Never {}

/// Stages after `Ready`: the parent has stopped listening by then.
const AFTER_READY: [&str; 6] = [
    "start gate",
    "startContainer hooks",
    "user",
    "security",
    "cwd",
    "exec",
];

/// Report a failed step and leave the process.
pub(super) fn fail(ch: &Channel, what: &str, err: StageError) -> ! {
    let error = format!("{:#}", err.error);
    if AFTER_READY.contains(&err.stage) {
        // Nobody listens on the channel any more: stderr is all the container has.
        eprintln!("sangja: {what} failed at {}: {error}", err.stage);
    } else {
        let _ = ch.send(&Message::Failed {
            stage: err.stage.to_string(),
            error,
        });
    }
    exit_now(1)
}

/// A debug record to the parent (only with --debug; costs nothing otherwise).
pub(super) fn trace(debug: bool, ch: &Channel, msg: &str) {
    if debug {
        let _ = ch.send(&Message::Log {
            level: "debug".into(),
            msg: msg.to_string(),
        });
    }
}
