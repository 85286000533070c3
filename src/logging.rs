//! `--log`, `--log-format text|json`, `--debug`. Without `--debug` only errors are written, so
//! a caller that parses the whole log file as one JSON object (podman) finds just that line.
//! JSON lines are `{"level","msg","time"}`; text lines are logrus-style like runc's.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;

use anyhow::Context;

use crate::sys::clock::rfc3339_now;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

struct Logger {
    file: Option<File>,
    format: Format,
    debug: bool,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Set up logging once, at start. Without `--log`, records go to stderr (errors are printed
/// by main itself, so only debug records go there).
pub fn init(path: Option<&Path>, format: Format, debug: bool) -> anyhow::Result<()> {
    let file = match path {
        Some(p) => Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("open log file {}", p.display()))?,
        ),
        None => None,
    };
    let _ = LOGGER.set(Logger {
        file,
        format,
        debug,
    });
    Ok(())
}

/// Is `--debug` on?
pub fn debug_enabled() -> bool {
    LOGGER.get().is_some_and(|l| l.debug)
}

/// Write a record at `level` ("error", "warning", "info", "debug").
pub fn log(level: &str, msg: &str) {
    let Some(logger) = LOGGER.get() else { return };
    if level == "debug" && !logger.debug {
        return;
    }
    let line = format_line(logger.format, level, msg, &rfc3339_now());
    match &logger.file {
        Some(f) => {
            let _ = (&*f).write_all(line.as_bytes());
        }
        None if level != "error" => {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
        None => {}
    }
}

pub fn error(msg: &str) {
    log("error", msg);
}

pub fn debug(msg: &str) {
    log("debug", msg);
}

fn format_line(format: Format, level: &str, msg: &str, time: &str) -> String {
    match format {
        Format::Json => {
            let v = serde_json::json!({ "level": level, "msg": msg, "time": time });
            format!("{v}\n")
        }
        Format::Text => format!("time={time:?} level={level} msg={msg:?}\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_line_has_the_three_fields() {
        let line = format_line(Format::Json, "error", "a \"b\"", "T");
        let v: serde_json::Value = serde_json::from_str(line.trim_end()).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "a \"b\"");
        assert_eq!(v["time"], "T");
        assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
    }

    #[test]
    fn text_line_is_logrus_style() {
        assert_eq!(
            format_line(Format::Text, "debug", "hi there", "T"),
            "time=\"T\" level=debug msg=\"hi there\"\n"
        );
    }
}
