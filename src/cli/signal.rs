//! Signal names and numbers as `kill` accepts them: `9`, `KILL`, `SIGKILL`, `kill`.

use std::str::FromStr;

use anyhow::anyhow;
use nix::sys::signal::Signal;

pub fn parse_signal(text: &str) -> anyhow::Result<Signal> {
    if let Ok(n) = text.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| anyhow!("invalid signal {text:?}"));
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&name).map_err(|_| anyhow!("invalid signal {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names() {
        for t in ["9", "KILL", "SIGKILL", "kill", "sigkill"] {
            assert_eq!(parse_signal(t).unwrap(), Signal::SIGKILL, "{t}");
        }
        assert_eq!(parse_signal("15").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("USR1").unwrap(), Signal::SIGUSR1);
        for t in ["0x", "", "SIGNOPE", "999", "-1"] {
            assert!(parse_signal(t).is_err(), "{t}");
        }
    }
}
