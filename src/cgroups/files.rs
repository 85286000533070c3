//! Reading and writing cgroup interface files in a given directory, with errors that name the
//! file and the value; parsers for the kernel's flat-keyed and nested-keyed formats.

use crate::sys::procfs::read_text;
use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;

/// Write `value` to `dir/file` in one `write(2)`, as cgroupfs wants. The file must exist
/// (cgroupfs never creates files; in tests the fake tree has them), so a missing file shows
/// as `NotFound`.
pub fn write_io(dir: &Path, file: &str, value: &str) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .truncate(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(dir.join(file))?;
    loop {
        match f.write(value.as_bytes()) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// `write_io` with an error naming the value and the path.
pub fn write(dir: &Path, file: &str, value: &str) -> anyhow::Result<()> {
    write_io(dir, file, value)
        .with_context(|| format!("write {:?} to {}", value, dir.join(file).display()))
}

/// Read `dir/file` whole.
pub fn read(dir: &Path, file: &str) -> anyhow::Result<String> {
    let path = dir.join(file);
    read_text(&path).with_context(|| format!("read {}", path.display()))
}

/// Read `dir/file`, or `None` when it does not exist (controller not enabled, old kernel).
pub fn read_opt(dir: &Path, file: &str) -> anyhow::Result<Option<String>> {
    let path = dir.join(file);
    match read_text(&path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("read {}", path.display())),
    }
}

/// Whether the interface file `dir/file` exists.
pub fn exists(dir: &Path, file: &str) -> bool {
    dir.join(file).exists()
}

/// A single value that may be the word `max` (→ `u64::MAX`).
pub fn parse_u64_or_max(text: &str) -> Option<u64> {
    match text.trim() {
        "max" => Some(u64::MAX),
        t => t.parse().ok(),
    }
}

/// Flat-keyed files (`memory.stat`, `cpu.stat`, `memory.events`, `cgroup.events`):
/// one `key value` pair a line. Lines that do not parse are skipped.
pub fn parse_flat_keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|line| {
            let mut it = line.split_whitespace();
            let key = it.next()?;
            let value = parse_u64_or_max(it.next()?)?;
            Some((key.to_string(), value))
        })
        .collect()
}

/// Nested-keyed files (`io.stat`, `io.max`): `KEY sub=value sub=value` a line.
pub fn parse_nested_keyed(text: &str) -> Vec<(String, BTreeMap<String, u64>)> {
    text.lines()
        .filter_map(|line| {
            let mut it = line.split_whitespace();
            let key = it.next()?.to_string();
            let subs = it
                .filter_map(|kv| {
                    let (k, v) = kv.split_once('=')?;
                    Some((k.to_string(), parse_u64_or_max(v)?))
                })
                .collect();
            Some((key, subs))
        })
        .collect()
}

/// Space-separated names (`cgroup.controllers`, `cgroup.subtree_control`).
pub fn parse_names(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_keyed_with_max() {
        let m = parse_flat_keyed("low 0\nhigh 3\nmax max\nbroken\n");
        assert_eq!(m["low"], 0);
        assert_eq!(m["high"], 3);
        assert_eq!(m["max"], u64::MAX);
        assert!(!m.contains_key("broken"));
    }

    #[test]
    fn nested_keyed() {
        let v = parse_nested_keyed("8:0 rbytes=10 wbytes=20 rios=1 wios=max\n");
        assert_eq!(v[0].0, "8:0");
        assert_eq!(v[0].1["wbytes"], 20);
        assert_eq!(v[0].1["wios"], u64::MAX);
    }

    #[test]
    fn write_needs_an_existing_file() {
        let d = tempfile::tempdir().unwrap();
        let err = write(d.path(), "memory.max", "1").unwrap_err();
        assert!(format!("{err:#}").contains("memory.max"));
        std::fs::write(d.path().join("memory.max"), "max\n").unwrap();
        write(d.path(), "memory.max", "1").unwrap();
        assert_eq!(read(d.path(), "memory.max").unwrap(), "1");
        assert_eq!(read_opt(d.path(), "nope").unwrap(), None);
    }
}
