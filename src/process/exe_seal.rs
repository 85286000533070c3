//! `/proc/self/exe` protection (CVE-2019-5736). A container entrypoint `#!/proc/self/exe`
//! makes the kernel run, at init's final execve, the very file init runs from; if that were
//! the host's sangja binary, the container could later open it for writing and replace it.
//! So every command that makes a process inside a container first re-executes itself from a
//! file nothing can write:
//!
//! 1. **A private read-only overlay** (the default): a detached overlayfs whose top layer is
//!    the directory of the binary (and whose bottom layer is `/sys/fs` or an empty tmpfs:
//!    overlayfs wants two layers when it has no upper one). With no upper layer the overlay superblock
//!    itself is read-only, so no remount of the mount can make it writable; it is attached to
//!    no mount namespace and disappears with the last process running from it. Cost: ~0.1 ms
//!    plus one execve of a binary already in the page cache (no copy).
//! 2. **A sealed memfd copy** (when overlayfs is unavailable, e.g. a kernel without it, or
//!    `SANGJA_EXE_CLONE=memfd`): the whole binary copied into a memfd sealed against write,
//!    grow and shrink. Cost: ~10 ms for a 5 MB binary.
//!
//! A binary already on a read-only mount (an install may bind-mount it so) needs neither.

use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use anyhow::{bail, Context};
use nix::fcntl::{FcntlArg, OFlag, SealFlag};
use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
use nix::sys::stat::Mode;

use crate::sys::mount_api::{attr, FsContext};

/// The memfd name; `/proc/self/exe` then reads `/memfd:sangja-sealed (deleted)`.
const NAME: &CStr = c"sangja-sealed";

/// Forces the memfd fallback (tests use it to cover both ways).
const FORCE_ENV: &str = "SANGJA_EXE_CLONE";

/// Set once this process is known to run from a protected file (it cannot stop doing so).
static PROTECTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Re-exec from a protected file unless already running from one; returns only when protected.
pub fn ensure_sealed_exe() -> anyhow::Result<()> {
    use std::sync::atomic::Ordering::Relaxed;
    if PROTECTED.load(Relaxed) {
        return Ok(());
    }
    protected_or_reexec()?;
    PROTECTED.store(true, Relaxed);
    Ok(())
}

fn protected_or_reexec() -> anyhow::Result<()> {
    let exe = std::fs::read_link("/proc/self/exe").context("read /proc/self/exe")?;
    if exe
        .as_os_str()
        .as_bytes()
        .starts_with(b"/memfd:sangja-sealed")
    {
        return Ok(());
    }
    // A binary on a read-only mount (or on our read-only overlay, after the re-exec) cannot be
    // opened for writing through any path, the magic link included.
    if nix::sys::statvfs::statvfs("/proc/self/exe")
        .is_ok_and(|st| st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
    {
        return Ok(());
    }
    let force_memfd = std::env::var_os(FORCE_ENV).is_some_and(|v| v == "memfd");
    let file = match force_memfd {
        true => sealed_copy()?,
        false => match read_only_overlay_of(&exe) {
            Ok(fd) => fd,
            // No overlayfs here (ENODEV), or not allowed to make one: the copy always works.
            Err(_) => sealed_copy()?,
        },
    };
    reexec(file)
}

/// The binary, opened through a new detached read-only overlay of its directory. overlayfs
/// needs a second lower layer when it has no upper one; its files would show in the merged
/// directory, but we only open the binary's own name, which the top layer answers. The second
/// layer must not overlap the first, so it is on another filesystem: `/sys/fs` (sysfs is
/// mounted nearly everywhere; no mount to make), else an empty detached tmpfs (kernels before
/// ~6.5 refuse a detached mount as a layer: "failed to clone lowerpath", seen in UML 6.1).
fn read_only_overlay_of(exe: &Path) -> anyhow::Result<OwnedFd> {
    let (dir, name) = match (exe.parent(), exe.file_name()) {
        (Some(d), Some(n)) if exe.is_absolute() => (d, n),
        _ => bail!("unusable binary path {}", exe.display()),
    };
    let mnt = match overlay(dir, Path::new("/sys/fs")) {
        Ok(mnt) => mnt,
        Err(first) => {
            let empty = FsContext::open(c"tmpfs")
                .and_then(|ctx| ctx.create_detached(attr::RDONLY | attr::NODEV | attr::NOSUID))
                .context("detached tmpfs")?;
            let path = format!("/proc/self/fd/{}", empty.as_raw_fd());
            overlay(dir, Path::new(&path)).with_context(|| format!("{first:#}; then"))?
        }
    };
    crate::sys::open::openat(
        Some(mnt.as_fd()),
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW,
        Mode::empty(),
    )
    .context("open the binary in the overlay")
}

/// A detached read-only overlay of `top` over `bottom`.
fn overlay(top: &Path, bottom: &Path) -> anyhow::Result<OwnedFd> {
    // overlayfs splits `lowerdir` at ':' and unescapes '\'.
    let mut lower = Vec::with_capacity(top.as_os_str().len() + bottom.as_os_str().len() + 4);
    for (i, dir) in [top, bottom].iter().enumerate() {
        if i > 0 {
            lower.push(b':');
        }
        for &b in dir.as_os_str().as_bytes() {
            if b == b':' || b == b'\\' {
                lower.push(b'\\');
            }
            lower.push(b);
        }
    }
    let lower = CString::new(lower).context("binary path with a NUL byte")?;
    let ctx = FsContext::open(c"overlay").context("fsopen overlay")?;
    ctx.set_string(c"lowerdir", &lower)
        .with_context(|| format!("overlay lowerdir {}", lower.to_string_lossy()))?;
    ctx.create_detached(attr::RDONLY | attr::NODEV | attr::NOSUID)
        .context("create the overlay")
}

/// A copy of the binary in a memfd sealed against write, grow, shrink and further seals.
fn sealed_copy() -> anyhow::Result<OwnedFd> {
    let memfd = memfd_create(
        NAME,
        MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING,
    )
    .context("memfd_create for the sealed sangja copy")?;
    let mut src = std::fs::File::open("/proc/self/exe").context("open /proc/self/exe")?;
    let mut dst = std::fs::File::from(memfd);
    std::io::copy(&mut src, &mut dst).context("copy sangja into the sealed memfd")?;
    let seals = SealFlag::F_SEAL_SEAL
        | SealFlag::F_SEAL_SHRINK
        | SealFlag::F_SEAL_GROW
        | SealFlag::F_SEAL_WRITE;
    nix::fcntl::fcntl(dst.as_raw_fd(), FcntlArg::F_ADD_SEALS(seals)).context("seal the memfd")?;
    Ok(OwnedFd::from(dst))
}

fn reexec(file: OwnedFd) -> anyhow::Result<()> {
    let args = cstrings(std::env::args_os().map(|a| a.as_bytes().to_vec()))?;
    let env = cstrings(std::env::vars_os().map(|(k, v)| {
        let mut kv = k.as_bytes().to_vec();
        kv.push(b'=');
        kv.extend_from_slice(v.as_bytes());
        kv
    }))?;
    let err = nix::unistd::fexecve(file.as_fd().as_raw_fd(), &args, &env).unwrap_err();
    bail!("re-execute sangja from a protected file (needed to protect the host binary): {err}")
}

fn cstrings(items: impl Iterator<Item = Vec<u8>>) -> anyhow::Result<Vec<CString>> {
    items
        .map(|b| CString::new(b).context("argument or environment with a NUL byte"))
        .collect()
}
