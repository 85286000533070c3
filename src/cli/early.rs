//! The binary protection re-exec, done before argument parsing when the command line plainly
//! asks for `create`, `run` or `exec`: the first process then skips clap altogether (in UML,
//! where every page fault is a trip to the host, parsing cost ~10 ms per process). Anything
//! this scan cannot classify is left to the commands themselves, which protect the binary
//! again (a no-op once it is protected).

use std::ffi::OsString;

/// Global flags that take a value as the next argument (`--flag value`).
const VALUED: &[&str] = &["--root", "--log", "--log-format", "--rootless", "--criu"];

/// The first non-flag argument after the program name (the command), skipping the values of
/// global flags; `None` when there is none or an argument is not UTF-8.
pub fn subcommand(args: &[OsString]) -> Option<&str> {
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let s = a.to_str()?;
        if s == "--" {
            return None;
        }
        if VALUED.contains(&s) {
            it.next();
            continue;
        }
        if s.starts_with('-') {
            continue;
        }
        return Some(s);
    }
    None
}

/// True when the command is `create`, `run` or `exec`.
pub fn wants_protection(args: &[OsString]) -> bool {
    matches!(subcommand(args), Some("create" | "run" | "exec"))
}

/// Re-execute from a protected file now if [`wants_protection`]; failures are left for the
/// command itself to report.
pub fn protect_early(args: &[OsString]) {
    if wants_protection(args) {
        let _ = crate::container::protect_runtime_binary();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(line: &str) -> bool {
        let args: Vec<OsString> = line.split_whitespace().map(OsString::from).collect();
        wants_protection(&args)
    }

    #[test]
    fn finds_the_subcommand_past_global_flags() {
        assert!(w("sangja run -b x id"));
        assert!(w(
            "sangja --root /r --log /l --log-format json create --bundle b id"
        ));
        assert!(w("sangja --debug --systemd-cgroup exec id true"));
        assert!(w("sangja --root=/r exec id true"));
        assert!(!w("sangja --root /r state id"));
        assert!(!w("sangja --root run state id"));
        assert!(!w("sangja --help"));
        assert!(!w("sangja"));
        assert!(!w("sangja -- run"));
        assert!(!w("sangja spec"));
    }
}
