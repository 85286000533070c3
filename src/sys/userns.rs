//! A child process parked in a new, empty user namespace, so its parent can write the
//! namespace's uid/gid maps and open `/proc/<pid>/ns/user` (the fd an id-mapped mount needs).
//!
//! Only a process privileged in the *parent* user namespace may write arbitrary maps, and it must
//! open the map files itself, so the maps cannot be written by the child. The parent finds the
//! child's `/proc` directory by the pid the child reads from `readlink("/proc/self")`: that is its
//! pid as the mounted procfs numbers it, which differs from `fork`'s return value when the caller
//! is in a pid namespace of its own (a container init still sees the host's `/proc`).
//!
//! The child does nothing but async-signal-safe calls (no allocation), so this may be used from a
//! process with threads too (unit tests).

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

use nix::errno::Errno;
use nix::sys::wait::waitpid;
use nix::unistd::{pipe, Pid};

/// The parked child; dropping it lets the child exit and reaps it.
pub struct ParkedUserns {
    pid: Pid,
    proc_pid: i32,
    /// Our end of the pipe the child blocks reading; closing it releases the child.
    release: Option<OwnedFd>,
}

impl ParkedUserns {
    /// `/proc/<pid>` of the child, as the procfs mounted at `/proc` names it.
    pub fn proc_dir(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}", self.proc_pid))
    }
}

impl Drop for ParkedUserns {
    fn drop(&mut self) {
        drop(self.release.take());
        while let Err(Errno::EINTR) = waitpid(self.pid, None) {}
    }
}

/// Fork a child that unshares `CLONE_NEWUSER` and waits; fails with the child's errno when the
/// kernel refuses the new namespace.
pub fn park_in_new_userns() -> io::Result<ParkedUserns> {
    let (report_rd, report_wr) = pipe()?;
    let (release_rd, release_wr) = pipe()?;
    let (report_w, release_r, release_w) = (
        report_wr.as_raw_fd(),
        release_rd.as_raw_fd(),
        release_wr.as_raw_fd(),
    );
    // SAFETY: the child only makes raw syscalls on stack buffers and leaves with `_exit`; it never
    // returns into Rust code of the parent's frames, so no lock or allocator state is touched.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: see above; every call gets valid fds and stack buffers.
        unsafe { child(report_w, release_r, release_w) }
    }
    drop(report_wr);
    drop(release_rd);
    let parked = ParkedUserns {
        pid: Pid::from_raw(pid),
        proc_pid: 0,
        release: Some(release_wr),
    };
    let report = read_all(&report_rd)?;
    let mut parked = parked;
    match report.split_first() {
        Some((b'+', digits)) => {
            parked.proc_pid = std::str::from_utf8(digits)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| io::Error::other("userns child: bad /proc/self link"))?;
            Ok(parked)
        }
        Some((b'-', errno)) if errno.len() == 4 => {
            let code = i32::from_ne_bytes([errno[0], errno[1], errno[2], errno[3]]);
            Err(io::Error::from_raw_os_error(code))
        }
        _ => Err(io::Error::other("userns child exited without a report")),
    }
}

fn read_all(fd: &OwnedFd) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        match nix::unistd::read(fd.as_raw_fd(), &mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// The child: unshare, report `+<pid>` (or `-<errno bytes>`), block until released, exit.
///
/// # Safety
/// Must only run in the child right after `fork`; the fds must be the pipe ends named.
unsafe fn child(report_w: i32, release_r: i32, release_w: i32) -> ! {
    libc::close(release_w);
    let mut msg = [0u8; 40];
    let len = if libc::unshare(libc::CLONE_NEWUSER) != 0 {
        msg[0] = b'-';
        msg[1..5].copy_from_slice(&(*libc::__errno_location()).to_ne_bytes());
        5
    } else {
        msg[0] = b'+';
        let n = libc::readlink(
            c"/proc/self".as_ptr(),
            msg[1..].as_mut_ptr().cast(),
            msg.len() - 1,
        );
        if n <= 0 {
            msg[0] = b'-';
            msg[1..5].copy_from_slice(&(*libc::__errno_location()).to_ne_bytes());
            5
        } else {
            1 + n as usize
        }
    };
    libc::write(report_w, msg.as_ptr().cast(), len);
    libc::close(report_w);
    let mut b = [0u8; 1];
    loop {
        let r = libc::read(release_r, b.as_mut_ptr().cast(), 1);
        if r < 0 && *libc::__errno_location() == libc::EINTR {
            continue;
        }
        break;
    }
    libc::_exit(0)
}
