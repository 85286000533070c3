//! Path resolution that cannot leave the container rootfs: every path is resolved as if the rootfs
//! were `/`, so an absolute symlink or `..` in the rootfs never leads to the host. The kernel does
//! it with `openat2(RESOLVE_IN_ROOT)`; on kernels without openat2 a component-by-component walk
//! ([`secure_join`]) is used and the opened fd is checked to be under the rootfs.

use std::cell::Cell;
use std::collections::VecDeque;
use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{OFlag, ResolveFlag};
use nix::sys::stat::Mode;

use crate::sys::open::{openat, openat2};

/// Symlinks followed in one resolution before giving up with ELOOP (the kernel's limit).
pub const MAX_SYMLINKS: usize = 40;

/// `/proc/self/fd/N` for `fd`: how a mount call is pointed at an fd we opened safely.
pub fn proc_fd_path(fd: &impl AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Resolve `unsafe_path` inside `root` as if `root` were `/`, following symlinks by hand
/// (absolute targets restart at `root`, `..` never climbs above it). Components that do not
/// exist are kept as written. The result is always `root` or below it.
pub fn secure_join(root: &Path, unsafe_path: &Path) -> Result<PathBuf> {
    let mut pending: VecDeque<OsString> = components(unsafe_path).collect();
    let mut done: Vec<OsString> = Vec::new();
    let mut links = 0;
    while let Some(c) = pending.pop_front() {
        if c == ".." {
            done.pop();
            continue;
        }
        let candidate: PathBuf = root.join(done.iter().collect::<PathBuf>()).join(&c);
        match std::fs::symlink_metadata(&candidate) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > MAX_SYMLINKS {
                    bail!(
                        "resolve {} in {}: too many levels of symbolic links",
                        unsafe_path.display(),
                        root.display()
                    );
                }
                let target = std::fs::read_link(&candidate)
                    .with_context(|| format!("readlink {}", candidate.display()))?;
                if target.is_absolute() {
                    done.clear();
                }
                for t in components(&target).collect::<Vec<_>>().into_iter().rev() {
                    pending.push_front(t);
                }
            }
            Ok(_) => done.push(c),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => done.push(c),
            Err(e) => return Err(e).with_context(|| format!("stat {}", candidate.display())),
        }
    }
    Ok(root.join(done.iter().collect::<PathBuf>()))
}

/// The `Normal` and `..` components of a path (`/` and `.` dropped), as owned strings.
fn components(p: &Path) -> impl Iterator<Item = OsString> + '_ {
    p.components().filter_map(|c| match c {
        Component::Normal(n) => Some(n.to_os_string()),
        Component::ParentDir => Some(OsString::from("..")),
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    })
}

/// What to create at a missing mount destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
}

/// The container rootfs, opened once; every path below is looked up through it.
pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
    use_openat2: Cell<bool>,
}

impl Root {
    /// Open the rootfs at `path` (an absolute, canonical host path).
    pub fn open(path: &Path) -> Result<Root> {
        Self::open_with(path, true)
    }

    /// Like [`Root::open`]; `use_openat2: false` forces the userspace walk (for tests and old
    /// kernels).
    pub fn open_with(path: &Path, use_openat2: bool) -> Result<Root> {
        let fd = openat(
            None,
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY,
            Mode::empty(),
        )
        .with_context(|| format!("open rootfs {}", path.display()))?;
        Ok(Root {
            fd,
            path: path.to_path_buf(),
            use_openat2: Cell::new(use_openat2),
        })
    }

    /// The rootfs directory fd.
    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// The rootfs host path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Open `path` (container-absolute or relative to the root) inside the root, following
    /// symlinks without ever leaving it. Returns the bare errno so callers can branch on ENOENT.
    pub fn open_path(&self, path: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
        let rel: PathBuf = components(path).collect();
        let rel = if rel.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            rel
        };
        if self.use_openat2.get() {
            let resolve = ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS;
            match openat2(self.fd.as_fd(), &rel, flags, Mode::empty(), resolve) {
                Err(Errno::ENOSYS) => self.use_openat2.set(false),
                other => return other,
            }
        }
        let joined = secure_join(&self.path, &rel).map_err(|e| {
            e.downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::raw_os_error)
                .map_or(Errno::ELOOP, Errno::from_raw)
        })?;
        let fd = openat(None, &joined, flags | OFlag::O_NOFOLLOW, Mode::empty())?;
        // A concurrent rename could have moved us out between the walk and the open.
        match self.host_path(&fd) {
            Ok(p) if p.starts_with(&self.path) => Ok(fd),
            _ => Err(Errno::EXDEV),
        }
    }

    /// Open a directory inside the root, creating it and its missing parents (mode 0755).
    pub fn mkdir_all(&self, path: &Path) -> Result<OwnedFd> {
        let dir_flags = OFlag::O_PATH | OFlag::O_DIRECTORY;
        let mut dir = self
            .open_path(Path::new("/"), dir_flags)
            .context("open rootfs")?;
        let mut prefix = PathBuf::from("/");
        for c in components(path) {
            prefix.push(&c);
            match self.open_path(&prefix, dir_flags) {
                Ok(fd) => dir = fd,
                Err(Errno::ENOENT) if c != ".." => {
                    match nix::sys::stat::mkdirat(
                        Some(dir.as_raw_fd()),
                        c.as_os_str(),
                        Mode::from_bits_truncate(0o755),
                    ) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => {
                            return Err(e).with_context(|| format!("mkdir {}", prefix.display()))
                        }
                    }
                    dir = self
                        .open_path(&prefix, dir_flags)
                        .with_context(|| format!("open {}", prefix.display()))?;
                }
                Err(e) => return Err(e).with_context(|| format!("open {}", prefix.display())),
            }
        }
        Ok(dir)
    }

    /// The parent directory of `path` inside the root (created if missing) and the final name.
    pub fn parent_and_name(&self, path: &Path) -> Result<(OwnedFd, OsString)> {
        let mut parts: Vec<OsString> = components(path).collect();
        let name = match parts.pop() {
            Some(n) if n != ".." => n,
            _ => bail!("{} does not name a file", path.display()),
        };
        let parent: PathBuf = Path::new("/").join(parts.iter().collect::<PathBuf>());
        Ok((self.mkdir_all(&parent)?, name))
    }

    /// An `O_PATH` fd for `path` inside the root, creating a directory or an empty file there
    /// (and missing parents) when nothing is there yet. A dangling symlink on the way is
    /// followed inside the root: what is created is its target.
    pub fn ensure(&self, path: &Path, kind: Kind) -> Result<OwnedFd> {
        match self.open_path(path, OFlag::O_PATH) {
            Ok(fd) => return Ok(fd),
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e).with_context(|| format!("open {}", path.display())),
        }
        let expanded = self.expand(path)?;
        let path = expanded.as_path();
        let (parent, name) = self.parent_and_name(path)?;
        let made = match kind {
            Kind::Dir => nix::sys::stat::mkdirat(
                Some(parent.as_raw_fd()),
                name.as_os_str(),
                Mode::from_bits_truncate(0o755),
            ),
            Kind::File => openat(
                Some(parent.as_fd()),
                name.as_os_str(),
                OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW,
                Mode::from_bits_truncate(0o644),
            )
            .map(drop),
        };
        match made {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e).with_context(|| format!("create {}", path.display())),
        }
        self.open_path(path, OFlag::O_PATH)
            .with_context(|| format!("open {}", path.display()))
    }

    /// `path` as a container path with the symlinks that exist now resolved inside the root
    /// (missing components kept as written), so a dangling symlink names its target. Only used
    /// to choose names to create: each step is still opened through [`Root::open_path`].
    fn expand(&self, path: &Path) -> Result<PathBuf> {
        let rel: PathBuf = components(path).collect();
        let joined = secure_join(&self.path, &rel)?;
        let inside = joined
            .strip_prefix(&self.path)
            .map_err(|_| anyhow!("{} resolves outside the rootfs", path.display()))?;
        Ok(Path::new("/").join(inside))
    }

    /// Where an fd opened by us really is on the host (`/proc/self/fd` link).
    pub fn host_path(&self, fd: &impl AsRawFd) -> Result<PathBuf> {
        let link = proc_fd_path(fd);
        std::fs::read_link(&link).with_context(|| format!("readlink {}", link.display()))
    }

    /// Where an fd opened by us is, as a container path (`/` = the root).
    pub fn container_path(&self, fd: &impl AsRawFd) -> Result<PathBuf> {
        let host = self.host_path(fd)?;
        let rel = host
            .strip_prefix(&self.path)
            .map_err(|_| anyhow!("{} is outside the rootfs", host.display()))?;
        Ok(Path::new("/").join(rel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A tempdir "rootfs" with `etc/`, `x/`, and the symlinks `a -> /etc`, `b -> ../../..`,
    /// `c -> b/x`, `loop1 <-> loop2`, `self -> self`.
    fn tree() -> (tempfile::TempDir, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(root.join("x/y")).unwrap();
        symlink("/etc", root.join("a")).unwrap();
        symlink("../../..", root.join("b")).unwrap();
        symlink("b/x", root.join("c")).unwrap();
        symlink("loop2", root.join("loop1")).unwrap();
        symlink("loop1", root.join("loop2")).unwrap();
        symlink("self", root.join("self")).unwrap();
        (t, root)
    }

    #[test]
    fn secure_join_stays_inside() {
        let (_t, root) = tree();
        let j = |p: &str| secure_join(&root, Path::new(p)).unwrap();
        assert_eq!(j("/a"), root.join("etc"));
        assert_eq!(j("/a/passwd"), root.join("etc/passwd"));
        assert_eq!(j("/b"), root.clone());
        assert_eq!(j("/b/etc/shadow"), root.join("etc/shadow"));
        assert_eq!(j("/c"), root.join("x"));
        assert_eq!(j("/c/y"), root.join("x/y"));
        assert_eq!(j("../../../../etc"), root.join("etc"));
        assert_eq!(j("/x/../../.."), root.clone());
        assert_eq!(j("/missing/../x"), root.join("x"));
        assert_eq!(j("/"), root.clone());
    }

    #[test]
    fn secure_join_loops_fail() {
        let (_t, root) = tree();
        for p in ["/loop1", "/self/x", "/loop2/a"] {
            let e = secure_join(&root, Path::new(p)).unwrap_err().to_string();
            assert!(e.contains("too many levels of symbolic links"), "{p}: {e}");
        }
    }

    fn check_open(openat2: bool) {
        let (_t, root) = tree();
        let r = Root::open_with(&root, openat2).unwrap();
        let at = |p: &str| {
            let fd = r.open_path(Path::new(p), OFlag::O_PATH).unwrap();
            r.host_path(&fd).unwrap()
        };
        assert_eq!(at("/a"), root.join("etc"));
        assert_eq!(at("/b"), root.clone());
        assert_eq!(at("/c/y"), root.join("x/y"));
        assert_eq!(at("b/../../x"), root.join("x"));
        assert_eq!(
            r.open_path(Path::new("/loop1"), OFlag::O_PATH).unwrap_err(),
            Errno::ELOOP
        );
        assert_eq!(
            r.open_path(Path::new("/b/nothere"), OFlag::O_PATH)
                .unwrap_err(),
            Errno::ENOENT
        );
        // Creating through the symlinks lands inside the root.
        let fd = r.mkdir_all(Path::new("/a/new/deeper")).unwrap();
        assert_eq!(r.host_path(&fd).unwrap(), root.join("etc/new/deeper"));
        let fd = r.ensure(Path::new("/b/c/file"), Kind::File).unwrap();
        assert_eq!(r.container_path(&fd).unwrap(), Path::new("/x/file"));
        assert!(root.join("x/file").is_file());
        let fd = r.ensure(Path::new("/b/b/dir"), Kind::Dir).unwrap();
        assert_eq!(r.container_path(&fd).unwrap(), Path::new("/dir"));
        assert!(r.ensure(Path::new("/x/.."), Kind::Dir).is_ok());
        // Dangling symlinks (absolute, relative, with `..`) are followed inside the root.
        symlink("/etc/../../../made/by/link", root.join("dangling")).unwrap();
        symlink("../../nowhere", root.join("x/rel")).unwrap();
        let fd = r.ensure(Path::new("/dangling"), Kind::Dir).unwrap();
        assert_eq!(r.container_path(&fd).unwrap(), Path::new("/made/by/link"));
        let fd = r.ensure(Path::new("/x/rel/deeper"), Kind::File).unwrap();
        assert_eq!(r.container_path(&fd).unwrap(), Path::new("/nowhere/deeper"));
        assert!(root.join("nowhere/deeper").is_file());
        assert!(r.parent_and_name(Path::new("/x/..")).is_err());
        assert!(r.mkdir_all(Path::new("/loop1/z")).is_err());
    }

    #[test]
    fn open_in_root_with_openat2() {
        check_open(true);
    }

    #[test]
    fn open_in_root_with_userspace_walk() {
        check_open(false);
    }
}
