//! Argument parsing that builds only the parser of the command at hand.
//!
//! `Cli::parse()` builds the whole command tree first: every subcommand with every flag, the
//! global flags copied into each. Measured on `sangja --version`: ~230 KiB of heap and ~100 KiB
//! of stack touched, ~80 page faults, about half the cost of a short command such as `state`
//! (and far more in UML, where a page fault is a trip to the host). When the command is
//! plain (one `Args` struct, no help asked for), the parser here holds the global flags and
//! that command only; the result is the same `Cli` (a unit test compares both parsers).

use std::ffi::OsString;

use clap::{Args, FromArgMatches, Parser};

use super::args::{Cli, GlobalOptions, SINGLE_STRUCT};
use super::early;

/// Parse `args` (program name first), exiting with clap's message on bad input as
/// `Cli::parse` does.
pub fn parse(args: Vec<OsString>) -> Cli {
    match parser_of_one(&args) {
        Some(cmd) => cmd
            .try_get_matches_from(&args)
            .and_then(|m| Cli::from_arg_matches(&m))
            .unwrap_or_else(|e| e.exit()),
        None => Cli::parse_from(args),
    }
}

/// The parser of the global flags plus the one command `args` names, when that command has a
/// single `Args` struct and no help is asked for (help text needs the whole tree).
fn parser_of_one(args: &[OsString]) -> Option<clap::Command> {
    if args.iter().skip(1).any(|a| a == "-h" || a == "--help") {
        return None;
    }
    let name = early::subcommand(args)?;
    let (name, augment) = SINGLE_STRUCT.iter().find(|(n, _)| *n == name)?;
    let top = clap::Command::new("sangja").disable_version_flag(true);
    Some(GlobalOptions::augment_args(top).subcommand(augment(clap::Command::new(*name))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn args(line: &str) -> Vec<OsString> {
        line.split_whitespace().map(OsString::from).collect()
    }

    /// The one-command parser and the whole-tree parser agree, on success and on failure.
    fn same(line: &str) {
        let a = args(line);
        let one = parser_of_one(&a).unwrap_or_else(|| panic!("{line}: not a single command"));
        let fast = one
            .try_get_matches_from(&a)
            .and_then(|m| Cli::from_arg_matches(&m));
        let full = Cli::try_parse_from(&a);
        match (fast, full) {
            (Ok(f), Ok(s)) => assert_eq!(format!("{f:?}"), format!("{s:?}"), "{line}"),
            (Err(f), Err(s)) => assert_eq!(f.kind(), s.kind(), "{line}"),
            (f, s) => panic!("{line}: one-command parser {f:?}, whole tree {s:?}"),
        }
    }

    #[test]
    fn every_single_struct_command_parses_as_with_the_whole_tree() {
        for line in [
            "sangja --root /r --log /l --log-format json create --bundle /b --pid-file /p c1",
            "sangja create --console-socket /s --no-pivot --no-new-keyring --preserve-fds 2 c1",
            "sangja --debug start c1",
            "sangja state c1 --root /x",
            "sangja kill --all c1 KILL",
            "sangja kill c1",
            "sangja delete -f c1",
            "sangja --systemd-cgroup run -d --keep -b /b -v a:/b --tmpfs /t --network none c1",
            "sangja run --no-subreaper -p 8080:80 --dns 1.1.1.1 --ip 10.0.0.2 c1",
            "sangja list -f json -q",
            "sangja list",
            "sangja exec -t -e A=1 -u 1:2 --cwd /w c1 sh -c true",
            "sangja exec --process /p.json -d c1",
            "sangja pause c1",
            "sangja resume c1",
            "sangja ps -f json c1",
            "sangja ps c1 -ef",
            "sangja update --memory 1m --pids-limit 5 c1",
            "sangja events --stats --interval 1s c1",
            "sangja spec -b /tmp --rootless",
            "sangja --rootless true --criu /c state c1",
            // failures: unknown flag, missing id, bad value
            "sangja run --bogus c1",
            "sangja start",
            "sangja --log-format yaml state c1",
            "sangja kill c1 TERM extra",
        ] {
            same(line);
        }
    }

    #[test]
    fn help_and_other_commands_use_the_whole_tree() {
        assert!(parser_of_one(&args("sangja run --help")).is_none());
        assert!(parser_of_one(&args("sangja -h")).is_none());
        assert!(parser_of_one(&args("sangja features")).is_none());
        assert!(parser_of_one(&args("sangja network rm n")).is_none());
        assert!(parser_of_one(&args("sangja --version")).is_none());
        assert!(parser_of_one(&args("sangja help run")).is_none());
    }

    #[test]
    fn every_command_of_the_tree_is_listed_or_deliberately_left_out() {
        let tree = Cli::command();
        for sub in tree.get_subcommands() {
            let name = sub.get_name();
            let listed = SINGLE_STRUCT.iter().any(|(n, _)| *n == name);
            let left_out = matches!(name, "network" | "volume" | "features" | "help");
            assert!(
                listed ^ left_out,
                "{name}: add it to SINGLE_STRUCT or the left-out list"
            );
        }
    }
}
