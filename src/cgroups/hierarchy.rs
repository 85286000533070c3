//! Discovery: where the cgroup2 hierarchy is mounted (from `/proc/self/mountinfo`; it may be
//! `/sys/fs/cgroup` or, on hybrid hosts, `/sys/fs/cgroup/unified`), which cgroup we are in
//! (the `0::/path` line of `/proc/self/cgroup`), and which controllers the host binds to
//! cgroup v1 instead (so an "unavailable" error can say why).
//!
//! The common case needs no mountinfo (whose text the kernel formats for every mount, ~0.1 ms
//! on a host with a few dozen mounts): in the initial cgroup namespace, a cgroup2 mount at
//! `/sys/fs/cgroup` or `/sys/fs/cgroup/unified` whose directory is inode 1 (the hierarchy's
//! root) shows the whole tree under the paths `/proc/self/cgroup` gives. Anything else
//! (another namespace, a bind of a subtree, another mount point) is read from mountinfo.

use crate::sys::procfs::read_text;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

/// The cgroup2 hierarchy as this process sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Where cgroup2 is mounted, e.g. `/sys/fs/cgroup` or `/sys/fs/cgroup/unified`.
    pub mount: PathBuf,
    /// The cgroup shown at the mount point (field 4 of mountinfo; `/` unless a subtree is
    /// bind-mounted or the mount was made inside a cgroup namespace).
    pub mount_root: String,
    /// Our own cgroup, as `/proc/self/cgroup` names it (`/` when we are at the root).
    pub own: String,
    /// cgroup v1 mounts: (mount point, controllers bound to it), for error messages; `None`
    /// when discovery did not read mountinfo (then read when an error needs them).
    pub v1_mounts: Option<Vec<(PathBuf, Vec<String>)>>,
}

/// `PROC_CGROUP_INIT_INO`: the inode number of the initial cgroup namespace.
const INIT_CGROUP_NS_INO: u64 = 0xEFFF_FFFB;

/// The usual cgroup2 mount showing the whole tree, found without mountinfo (see the module
/// comment), or `None`.
fn plain_mount() -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    if std::fs::metadata("/proc/self/ns/cgroup").ok()?.ino() != INIT_CGROUP_NS_INO {
        return None;
    }
    ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .into_iter()
        .find(|p| {
            nix::sys::statfs::statfs(*p)
                .is_ok_and(|st| st.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
                && std::fs::metadata(p).is_ok_and(|m| m.ino() == 1)
        })
        .map(PathBuf::from)
}

/// cgroup v1 mounts and their controllers, from mountinfo text.
fn v1_mounts_of(mountinfo: &str) -> Vec<(PathBuf, Vec<String>)> {
    mountinfo
        .lines()
        .filter_map(parse_mountinfo_line)
        .filter(|m| m.fstype == "cgroup")
        .map(|m| {
            let ctrls = m
                .super_options
                .split(',')
                .filter(|o| !o.contains('=') && !matches!(*o, "rw" | "ro"))
                .map(str::to_string)
                .collect();
            (m.mount_point, ctrls)
        })
        .collect()
}

impl Hierarchy {
    /// Read `/proc/self/cgroup`, and `/proc/self/mountinfo` unless the mount is the usual one.
    pub fn discover() -> anyhow::Result<Hierarchy> {
        let cgroup = read_text("/proc/self/cgroup").context("read /proc/self/cgroup")?;
        if let Some(mount) = plain_mount() {
            let own =
                own_cgroup(&cgroup).context("/proc/self/cgroup has no cgroup v2 (\"0::\") line")?;
            return Ok(Hierarchy {
                mount,
                mount_root: "/".to_string(),
                own,
                v1_mounts: None,
            });
        }
        let mountinfo = read_text("/proc/self/mountinfo").context("read /proc/self/mountinfo")?;
        Self::from_texts(&mountinfo, &cgroup)
    }

    /// The same from the texts of those two files (unit tests).
    pub fn from_texts(mountinfo: &str, proc_cgroup: &str) -> anyhow::Result<Hierarchy> {
        let cgroup2 = mountinfo
            .lines()
            .filter_map(parse_mountinfo_line)
            // The first cgroup2 mount wins, as for every other tool reading mountinfo.
            .find(|m| m.fstype == "cgroup2")
            .map(|m| (m.mount_point, m.root));
        let v1_mounts = Some(v1_mounts_of(mountinfo));
        let Some((mount, mount_root)) = cgroup2 else {
            bail!("no cgroup2 filesystem is mounted (see /proc/self/mountinfo)");
        };
        let own =
            own_cgroup(proc_cgroup).context("/proc/self/cgroup has no cgroup v2 (\"0::\") line")?;
        Ok(Hierarchy {
            mount,
            mount_root,
            own,
            v1_mounts,
        })
    }

    /// The directory of the cgroup `path` (absolute within the hierarchy, as in
    /// `/proc/<pid>/cgroup`), or an error when the mount does not show that part of the tree.
    pub fn dir_of(&self, path: &str) -> anyhow::Result<PathBuf> {
        let rel = strip_cgroup_prefix(path, &self.mount_root).with_context(|| {
            format!(
                "cgroup {path} is outside the part of the cgroup2 tree mounted at {} ({})",
                self.mount.display(),
                self.mount_root
            )
        })?;
        Ok(if rel.is_empty() {
            self.mount.clone()
        } else {
            self.mount.join(rel)
        })
    }

    /// The directories from the mount point down to the cgroup `path`:
    /// `[mount, mount/a, mount/a/b]` for `/a/b` (with the mount showing `/`).
    pub fn chain(&self, path: &str) -> anyhow::Result<Vec<PathBuf>> {
        let leaf = self.dir_of(path)?;
        let mut cur = self.mount.clone();
        let mut out = vec![cur.clone()];
        for comp in leaf
            .strip_prefix(&self.mount)
            .unwrap_or(Path::new(""))
            .components()
        {
            cur.push(comp);
            out.push(cur.clone());
        }
        Ok(out)
    }

    /// The v1 mount point a controller is bound to, if any (reading mountinfo now if
    /// discovery did not).
    pub fn v1_binding(&self, controller: &str) -> Option<PathBuf> {
        let read;
        let mounts = match &self.v1_mounts {
            Some(m) => m,
            None => {
                read = v1_mounts_of(&read_text("/proc/self/mountinfo").ok()?);
                &read
            }
        };
        mounts
            .iter()
            .find(|(_, c)| c.iter().any(|c| c == controller))
            .map(|(p, _)| p.clone())
    }
}

/// `path` relative to `prefix` (both absolute cgroup paths), or `None` if not under it.
fn strip_cgroup_prefix<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    let prefix = prefix.trim_end_matches('/');
    let rest = path.strip_prefix(prefix)?;
    if rest.is_empty() {
        return Some("");
    }
    rest.strip_prefix('/')
}

struct MountLine {
    root: String,
    mount_point: PathBuf,
    fstype: String,
    super_options: String,
}

/// Fields of one mountinfo line: `id parent maj:min root mountpoint opts [tags...] - fstype
/// source superopts`. Octal escapes (`\040` for a space) are decoded in paths.
fn parse_mountinfo_line(line: &str) -> Option<MountLine> {
    let (left, right) = line.split_once(" - ")?;
    let mut l = left.split(' ');
    let root = unescape(l.nth(3)?);
    let mount_point = PathBuf::from(unescape(l.next()?));
    let mut r = right.split(' ');
    let fstype = r.next()?.to_string();
    let _source = r.next()?;
    let super_options = r.next().unwrap_or("").to_string();
    Some(MountLine {
        root,
        mount_point,
        fstype,
        super_options,
    })
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
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

/// The cgroup v2 path in the text of a `/proc/<pid>/cgroup` file (`0::/path`).
pub fn own_cgroup(proc_cgroup: &str) -> Option<String> {
    proc_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(|p| p.trim_end_matches(" (deleted)").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    /// Where the fast path applies (this host, UML), it finds what mountinfo says.
    #[test]
    fn the_plain_mount_is_what_mountinfo_shows() {
        let mountinfo = read_text("/proc/self/mountinfo").unwrap();
        let cgroup = read_text("/proc/self/cgroup").unwrap();
        let Ok(slow) = Hierarchy::from_texts(&mountinfo, &cgroup) else {
            println!("SKIPPED: no cgroup2 mount here");
            return;
        };
        match plain_mount() {
            Some(mount) => {
                assert_eq!(mount, slow.mount);
                assert_eq!(slow.mount_root, "/");
                let fast = Hierarchy::discover().unwrap();
                assert_eq!(fast.v1_binding("memory"), slow.v1_binding("memory"));
                assert_eq!((fast.mount, fast.own), (slow.mount, slow.own));
            }
            None => println!("SKIPPED: no plain cgroup2 mount in the initial namespace here"),
        }
    }

    #[test]
    fn hybrid_host() {
        let h = Hierarchy::from_texts(HYBRID, "4:memory:/x\n0::/\n").unwrap();
        assert_eq!(h.mount, PathBuf::from("/sys/fs/cgroup/unified"));
        assert_eq!(h.own, "/");
        assert_eq!(
            h.v1_binding("memory"),
            Some(PathBuf::from("/sys/fs/cgroup/memory"))
        );
        assert_eq!(h.v1_binding("pids"), None);
        assert_eq!(h.v1_binding("systemd"), None);
        assert_eq!(
            h.dir_of("/sangja/a").unwrap(),
            PathBuf::from("/sys/fs/cgroup/unified/sangja/a")
        );
        assert_eq!(
            h.dir_of("/").unwrap(),
            PathBuf::from("/sys/fs/cgroup/unified")
        );
        let chain = h.chain("/sangja/a").unwrap();
        assert_eq!(chain.len(), 3);
        assert_eq!(chain[1], PathBuf::from("/sys/fs/cgroup/unified/sangja"));
    }

    #[test]
    fn unified_host_in_a_session() {
        let mi = "30 22 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        let h = Hierarchy::from_texts(mi, "0::/user.slice/session-3.scope\n").unwrap();
        assert_eq!(h.mount, PathBuf::from("/sys/fs/cgroup"));
        assert_eq!(h.own, "/user.slice/session-3.scope");
    }

    #[test]
    fn bind_mounted_subtree() {
        let mi = "30 22 0:26 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let h = Hierarchy::from_texts(mi, "0::/kubepods/pod1/c\n").unwrap();
        assert_eq!(
            h.dir_of("/kubepods/pod1/c/x").unwrap(),
            PathBuf::from("/sys/fs/cgroup/c/x")
        );
        assert!(h.dir_of("/kubepods/pod10").is_err());
        assert!(h.dir_of("/other").is_err());
    }

    #[test]
    fn escapes_and_missing_mount() {
        let mi = "30 22 0:26 / /sys/fs/my\\040cg rw - cgroup2 none rw\n";
        let h = Hierarchy::from_texts(mi, "0::/\n").unwrap();
        assert_eq!(h.mount, PathBuf::from("/sys/fs/my cg"));
        let err = Hierarchy::from_texts(HYBRID.lines().next().unwrap(), "0::/\n").unwrap_err();
        assert!(err.to_string().contains("no cgroup2"));
        assert!(Hierarchy::from_texts(HYBRID, "4:memory:/x\n").is_err());
    }

    #[test]
    fn discover_here() {
        // Every Linux box running these tests has a cgroup2 mount (hybrid or unified).
        if let Ok(h) = Hierarchy::discover() {
            assert!(h.own.starts_with('/'));
        }
    }
}
