//! Reading `/proc/self/mountinfo`: which mount holds a path, whether it is shared, where the
//! cgroup2 hierarchy is mounted.

use crate::sys::procfs::read_text;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// One line of mountinfo (the fields we use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    pub id: u32,
    pub parent: u32,
    /// Where it is mounted, unescaped.
    pub mount_point: PathBuf,
    /// Optional fields such as `shared:12`, `master:3`.
    pub optional: Vec<String>,
    pub fs_type: String,
}

impl MountInfo {
    /// The mount is in a shared peer group.
    pub fn is_shared(&self) -> bool {
        self.optional.iter().any(|o| o.starts_with("shared:"))
    }
}

/// Parse mountinfo text; malformed lines are skipped.
pub fn parse(text: &str) -> Vec<MountInfo> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<MountInfo> {
    let (left, right) = line.split_once(" - ")?;
    let mut f = left.split(' ');
    let id = f.next()?.parse().ok()?;
    let parent = f.next()?.parse().ok()?;
    let _dev = f.next()?;
    let _root = f.next()?;
    let mount_point = PathBuf::from(unescape(f.next()?));
    let _opts = f.next()?;
    let optional = f.map(str::to_string).collect();
    let fs_type = right.split(' ').next()?.to_string();
    Some(MountInfo {
        id,
        parent,
        mount_point,
        optional,
        fs_type,
    })
}

/// Undo the kernel's octal escapes (`\040` for space, `\011`, `\012`, `\134`).
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let digit = |k: usize| u32::from(b[i + k] - b'0');
            let v = digit(1) * 64 + digit(2) * 8 + digit(3);
            if let Ok(v) = u8::try_from(v) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// This process's mount table.
pub fn read_self() -> Result<Vec<MountInfo>> {
    let text = read_text("/proc/self/mountinfo").context("read /proc/self/mountinfo")?;
    Ok(parse(&text))
}

/// The mount that holds `path` (the last, i.e. topmost, of the longest matching mount points).
pub fn mount_of<'a>(mounts: &'a [MountInfo], path: &Path) -> Option<&'a MountInfo> {
    mounts
        .iter()
        .filter(|m| path.starts_with(&m.mount_point))
        .fold(None, |best: Option<&MountInfo>, m| match best {
            Some(b) if b.mount_point.as_os_str().len() > m.mount_point.as_os_str().len() => Some(b),
            _ => Some(m),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime master:7 - cgroup2 cgroup2 rw
50 27 0:40 / /tmp/with\\040space rw shared:3 master:2 - tmpfs tmpfs rw
51 27 0:41 / /tmp/with\\040space rw - tmpfs tmpfs rw
garbage
";

    #[test]
    fn parses_lines() {
        let m = parse(SAMPLE);
        assert_eq!(m.len(), 6);
        assert_eq!(m[0].id, 22);
        assert_eq!(m[0].parent, 27);
        assert_eq!(m[1].mount_point, Path::new("/"));
        assert!(m[1].is_shared());
        assert!(!m[3].is_shared());
        assert_eq!(m[3].fs_type, "cgroup2");
        assert_eq!(m[4].mount_point, Path::new("/tmp/with space"));
        assert_eq!(m[4].optional, vec!["shared:3", "master:2"]);
    }

    #[test]
    fn unescapes() {
        assert_eq!(unescape(r"a\040b\011c\012d\134e"), "a b\tc\nd\\e");
        assert_eq!(unescape(r"trailing\04"), r"trailing\04");
        assert_eq!(unescape(r"\999"), r"\999");
    }

    #[test]
    fn finds_the_holding_mount() {
        let m = parse(SAMPLE);
        let of = |p: &str| mount_of(&m, Path::new(p)).unwrap().id;
        assert_eq!(of("/var/lib/x"), 27);
        assert_eq!(of("/proc/1"), 22);
        assert_eq!(of("/sys/fs/cgroup/unified/a"), 41);
        assert_eq!(of("/sys/fs/cgroupx"), 27);
        assert_eq!(of("/tmp/with space/rootfs"), 51);
    }
}
