//! Small helpers shared by the bench: unique names, the root check, loud skips,
//! deadline polling, and directory removal that refuses to cross mount points.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A process-unique number (combined with the pid it is unique across test binaries).
pub fn next_serial() -> u64 {
    COUNTER.fetch_add(1, Ordering::SeqCst)
}

/// The name of the running test, from the thread libtest runs it on,
/// reduced to characters that are valid in a container id.
pub fn test_name() -> String {
    let raw = std::thread::current()
        .name()
        .unwrap_or("test")
        .rsplit("::")
        .next()
        .unwrap_or("test")
        .to_string();
    let mut s: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if s.is_empty() || s == "main" {
        s = "test".into();
    }
    s
}

/// `itest-<tag>-<pid>-<n>` (tag cut to 40 characters): a container id no other
/// test, or test binary, uses.
pub fn unique_id(tag: &str) -> String {
    let tag: String = tag.chars().take(40).collect();
    format!(
        "itest-{}-{}-{}",
        tag.trim_end_matches('-'),
        std::process::id(),
        next_serial()
    )
}

/// Fail (not skip) when not running as root: the whole bench needs it.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        panic!(
            "sangja integration tests must run as root (euid is {euid}); \
             run them with: sudo -E env PATH=$PATH integration/run.sh"
        );
    }
}

/// Print the loud skip line. Use through the `skip!` macro, which also returns.
/// Written straight to fd 2 (libtest's capture only hooks `eprintln!`), so it is
/// shown even for a passing test; also appended to `$SANGJA_ITEST_SKIP_LOG` if set
/// (run.sh prints that file as a summary).
pub fn print_skip(reason: &str) {
    use std::io::Write;
    let line = format!("SKIPPED: {}: {}\n", test_name(), reason);
    let _ = std::io::stderr().write_all(line.as_bytes());
    if let Some(log) = std::env::var_os("SANGJA_ITEST_SKIP_LOG") {
        if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(log) {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

/// Print the skip line and return from the test.
#[macro_export]
macro_rules! skip {
    ($($arg:tt)*) => {{
        $crate::util::print_skip(&format!($($arg)*));
        return;
    }};
}

/// Poll `f` until it returns `Some`, or panic with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(2);
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Mount points (field 5 of /proc/self/mountinfo, unescaped) at or below `path`.
pub fn mounts_under(path: &Path) -> Vec<PathBuf> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let prefix = path.to_string_lossy().to_string();
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape_mountinfo)
        .filter(|m| m == &prefix || m.starts_with(&format!("{prefix}/")))
        .map(PathBuf::from)
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
pub fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Remove a directory tree the bench created, but never through a mount point:
/// a leaked bind mount of a host directory inside a bundle must not cost the host
/// its files. Leaked mounts are detached first (deepest first); if any remains,
/// the tree is left in place and a loud warning printed.
pub fn remove_tree(path: &Path) {
    if !path.exists() {
        return;
    }
    let mut mounts = mounts_under(path);
    if !mounts.is_empty() {
        eprintln!(
            "WARNING: leaked mounts under {}: {:?}; detaching them",
            path.display(),
            mounts
        );
        mounts.sort_by_key(|m| std::cmp::Reverse(m.as_os_str().len()));
        for m in &mounts {
            let c = std::ffi::CString::new(m.as_os_str().as_encoded_bytes()).unwrap();
            // SAFETY: c is a valid NUL-terminated path; umount2 only reads it.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
        if !mounts_under(path).is_empty() {
            eprintln!(
                "WARNING: not removing {}: mounts remain under it",
                path.display()
            );
            return;
        }
    }
    if let Err(e) = fs::remove_dir_all(path) {
        eprintln!("WARNING: removing {}: {e}", path.display());
    }
}

/// `readlink /proc/self/ns/<name>` of the test process, e.g. `net:[4026531840]`.
pub fn host_ns(name: &str) -> String {
    fs::read_link(format!("/proc/self/ns/{name}"))
        .unwrap_or_else(|e| panic!("readlink /proc/self/ns/{name}: {e}"))
        .to_string_lossy()
        .into_owned()
}

/// The name under /proc/<pid>/ns/ for an OCI namespace type.
pub fn proc_ns_name(oci_type: &str) -> &'static str {
    match oci_type {
        "pid" => "pid",
        "network" => "net",
        "mount" => "mnt",
        "ipc" => "ipc",
        "uts" => "uts",
        "user" => "user",
        "cgroup" => "cgroup",
        "time" => "time",
        other => panic!("unknown namespace type {other}"),
    }
}

/// The inode of a file, for comparing a namespace file with `ns:[inode]`.
pub fn inode_of(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .ino()
}

/// Send a signal to a pid.
pub fn send_signal(pid: i32, sig: i32) {
    // SAFETY: kill has no memory-safety preconditions.
    let r = unsafe { libc::kill(pid, sig) };
    if r != 0 {
        panic!("kill({pid}, {sig}): {}", std::io::Error::last_os_error());
    }
}

/// A process's state letter from /proc/<pid>/stat (R, S, Z, ...), None if gone.
pub fn proc_state(pid: i32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    after.trim_start().chars().next()
}

/// True if `pid` exists and is not a zombie.
pub fn pid_alive(pid: i32) -> bool {
    matches!(proc_state(pid), Some(c) if c != 'Z' && c != 'X')
}
