//! Facts about a process read from `/proc/<pid>/stat`, and [`read_text`] for the small
//! generated files of procfs, sysfs and cgroupfs. Safe code, but kept at layer 0 because
//! state (liveness), process (start time after spawn), cgroups and rootfs all need it.

use std::io;

/// What we need of `/proc/<pid>/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// One-letter state (R, S, D, Z, X, T, ...).
    pub state: char,
    /// Start time in clock ticks after boot (field 22): with the pid it names one process forever.
    pub start_time: u64,
}

/// Read a whole (small) text file in one or two `read` calls. `std::fs::read_to_string`
/// sizes its buffer from `st_size`, which is 0 for procfs, sysfs and cgroupfs files, and then
/// reads 32, 32, 64, 128… bytes: seven calls for a 1 KiB `mountinfo`, each one making the
/// kernel format the file again up to the offset.
pub fn read_text(path: impl AsRef<std::path::Path>) -> io::Result<String> {
    use std::io::Read;
    /// Only `read`: `File::read_to_end` would also `fstat` and `lseek` for a size hint of 0.
    struct Plain(std::fs::File);
    impl Read for Plain {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.0.read(buf)
        }
    }
    let mut buf = Vec::with_capacity(4096);
    Plain(std::fs::File::open(path)?).read_to_end(&mut buf)?;
    String::from_utf8(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Read the stat of `pid`; `Ok(None)` when there is no such process.
pub fn stat(pid: i32) -> io::Result<Option<ProcStat>> {
    match read_text(format!("/proc/{pid}/stat")) {
        Ok(text) => parse_stat(&text).map(Some).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("/proc/{pid}/stat: unexpected format"),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH) => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Parse the text of a stat file. The command name (field 2) may contain spaces and parens,
/// so fields are counted from the last ')'.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // Fields after the state start at index 4 (1-based); starttime is field 22.
    let start_time = fields.nth(22 - 4)?.parse().ok()?;
    Some(ProcStat { state, start_time })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_with_parens_and_spaces() {
        let line = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 123456 1000 10 18446744073709551615";
        let s = parse_stat(line).unwrap();
        assert_eq!(s.state, 'S');
        assert_eq!(s.start_time, 123456);
    }

    #[test]
    fn own_process_is_alive() {
        let s = stat(std::process::id() as i32).unwrap().unwrap();
        assert!(s.start_time > 0);
        assert!(stat(i32::MAX).unwrap().is_none());
    }

    #[test]
    fn garbage_is_none() {
        assert!(parse_stat("").is_none());
        assert!(parse_stat("1 (x) S 1").is_none());
    }
}
