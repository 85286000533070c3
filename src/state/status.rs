//! The container status, derived from facts, and which actions each status allows.

use std::fmt;

/// OCI status. Printed exactly as `created|running|paused|stopped`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    /// Derive the status: init gone → stopped; frozen → paused; start gate still present →
    /// created; otherwise running.
    pub fn derive(init_alive: bool, frozen: bool, gate_present: bool) -> Status {
        match (init_alive, frozen, gate_present) {
            (false, _, _) => Status::Stopped,
            (true, true, _) => Status::Paused,
            (true, false, true) => Status::Created,
            (true, false, false) => Status::Running,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }

    pub fn can_start(self) -> bool {
        self == Status::Created
    }

    pub fn can_kill(self) -> bool {
        self != Status::Stopped
    }

    /// Without --force only a stopped or a never-started container may be deleted (runc
    /// kills a created one on delete).
    pub fn can_delete(self) -> bool {
        matches!(self, Status::Stopped | Status::Created)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Status::{self, *};

    #[test]
    fn derivation_table() {
        let cases = [
            ((false, false, false), Stopped),
            ((false, true, true), Stopped),
            ((true, true, false), Paused),
            ((true, true, true), Paused),
            ((true, false, true), Created),
            ((true, false, false), Running),
        ];
        for ((alive, frozen, gate), want) in cases {
            assert_eq!(Status::derive(alive, frozen, gate), want);
        }
    }

    #[test]
    fn transitions_table() {
        // (status, start, kill, delete)
        let table = [
            (Created, true, true, true),
            (Running, false, true, false),
            (Paused, false, true, false),
            (Stopped, false, false, true),
        ];
        for (s, start, kill, delete) in table {
            assert_eq!(s.can_start(), start, "{s} start");
            assert_eq!(s.can_kill(), kill, "{s} kill");
            assert_eq!(s.can_delete(), delete, "{s} delete");
        }
    }
}
