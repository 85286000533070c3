//! `fstatvfs(3)` giving the raw `f_flag` word (nix truncates the bits it does not know, such as
//! `ST_NOSYMFOLLOW`).

use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;

/// The `ST_*` flag word of the mount holding `fd` (an `O_PATH` fd is enough).
pub fn fstatvfs_flags(fd: BorrowedFd<'_>) -> nix::Result<u64> {
    let mut buf = MaybeUninit::<libc::statvfs>::uninit();
    loop {
        // SAFETY: `buf` is a valid, writable `statvfs` buffer and `fd` is a live descriptor for the
        // duration of the call.
        let rc = unsafe { libc::fstatvfs(fd.as_raw_fd(), buf.as_mut_ptr()) };
        match Errno::result(rc) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(_) => break,
        }
    }
    // SAFETY: fstatvfs returned 0, so it filled the whole buffer.
    let st = unsafe { buf.assume_init() };
    Ok(st.f_flag)
}
