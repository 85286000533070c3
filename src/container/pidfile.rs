//! `--pid-file`: the decimal pid with NO trailing newline, written atomically (temp +
//! rename): containerd's go-runc parses the whole file as an integer.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;

/// Decimal pid, no newline, written atomically: go-runc parses the whole file as an integer.
pub fn write_pid_file(path: &Path, pid: i32) -> anyhow::Result<()> {
    let path = std::path::absolute(path).with_context(|| format!("pid file {}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("/"));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&tmp)
        .with_context(|| format!("write pid file {}", tmp.display()))?;
    // No fsync: the reader (a shim) reads it at once; the rename makes it whole or absent.
    let written = f.write_all(pid.to_string().as_bytes());
    let renamed = written.and_then(|()| fs::rename(&tmp, &path));
    if let Err(e) = renamed {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("write pid file {}", path.display()));
    }
    Ok(())
}
