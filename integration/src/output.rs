//! The result of one runtime invocation, with the assertions tests make on it.

use std::fmt;

/// What a finished runtime command left behind.
#[derive(Clone)]
pub struct Out {
    /// The command line, for failure messages.
    pub cmdline: String,
    /// Exit code, None if killed by a signal.
    pub code: Option<i32>,
    /// Terminating signal, if any.
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Wall time the command took.
    pub elapsed: std::time::Duration,
}

impl Out {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Panic with the full picture unless the command exited 0.
    #[track_caller]
    pub fn ok(self) -> Self {
        if !self.success() {
            panic!("command failed unexpectedly:\n{self:?}");
        }
        self
    }

    /// Panic unless the command exited with `code`.
    #[track_caller]
    pub fn code_is(self, code: i32) -> Self {
        if self.code != Some(code) {
            panic!("expected exit code {code}:\n{self:?}");
        }
        self
    }

    /// Panic unless the command failed (any non-zero exit, not a signal).
    #[track_caller]
    pub fn failed(self) -> Self {
        match self.code {
            Some(c) if c != 0 => self,
            _ => panic!("expected the command to fail:\n{self:?}"),
        }
    }

    /// stdout split into trimmed, non-empty lines.
    pub fn lines(&self) -> Vec<String> {
        self.stdout
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// Parse stdout as JSON, panicking with the text on failure.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{self:?}"))
    }
}

impl fmt::Debug for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "  command: {}", self.cmdline)?;
        match (self.code, self.signal) {
            (Some(c), _) => writeln!(f, "  exit code: {c}")?,
            (None, Some(s)) => writeln!(f, "  killed by signal {s}")?,
            _ => writeln!(f, "  no exit status")?,
        }
        writeln!(f, "  elapsed: {:?}", self.elapsed)?;
        writeln!(f, "  stdout: {:?}", self.stdout)?;
        write!(f, "  stderr: {:?}", self.stderr)
    }
}
