//! `seccomp(2)` and the `SCM_RIGHTS` send used to hand a notify fd to a seccomp agent.
//!
//! We install filters ourselves (not with seccompiler's `apply_filter`) because that helper always
//! sets `no_new_privs`, which is wrong when the config says `noNewPrivileges: false`.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// `SECCOMP_SET_MODE_FILTER`.
const SET_MODE_FILTER: libc::c_uint = 1;
/// `SECCOMP_GET_ACTION_AVAIL`.
const GET_ACTION_AVAIL: libc::c_uint = 2;

/// `SECCOMP_FILTER_FLAG_TSYNC`: apply to every thread of the process.
pub const FLAG_TSYNC: u32 = 1 << 0;
/// `SECCOMP_FILTER_FLAG_LOG`: log every action but ALLOW.
pub const FLAG_LOG: u32 = 1 << 1;
/// `SECCOMP_FILTER_FLAG_SPEC_ALLOW`: keep speculative-store-bypass mitigation off.
pub const FLAG_SPEC_ALLOW: u32 = 1 << 2;
/// `SECCOMP_FILTER_FLAG_NEW_LISTENER`: return a user-notification fd.
pub const FLAG_NEW_LISTENER: u32 = 1 << 3;
/// `SECCOMP_FILTER_FLAG_TSYNC_ESRCH`: TSYNC failures as ESRCH (needed with NEW_LISTENER).
pub const FLAG_TSYNC_ESRCH: u32 = 1 << 4;
/// `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`: notified tasks wait killable once received.
pub const FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;

/// Install the classic-BPF `program` as a seccomp filter for the calling thread (or process,
/// with [`FLAG_TSYNC`]). Without `no_new_privs` the caller needs CAP_SYS_ADMIN in its user
/// namespace. With [`FLAG_NEW_LISTENER`] the kernel's notification fd is returned.
pub fn set_mode_filter(flags: u32, program: &[libc::sock_filter]) -> io::Result<Option<OwnedFd>> {
    let len = u16::try_from(program.len()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "seccomp: program longer than 65535 instructions",
        )
    })?;
    let prog = libc::sock_fprog {
        len,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points at `program`, which outlives the call; the kernel copies the
    // instructions and never writes through the pointer.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SET_MODE_FILTER,
            flags as libc::c_ulong,
            &prog as *const libc::sock_fprog,
        )
    };
    if ret < 0 {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(
            err.kind(),
            format!("seccomp(SECCOMP_SET_MODE_FILTER): {err}"),
        ));
    }
    if flags & FLAG_NEW_LISTENER != 0 {
        // SAFETY: with NEW_LISTENER a non-negative return value is a new fd that we now own.
        return Ok(Some(unsafe { OwnedFd::from_raw_fd(ret as i32) }));
    }
    if ret > 0 {
        // TSYNC without TSYNC_ESRCH: the id of the thread that could not be synchronized.
        return Err(io::Error::other(format!(
            "seccomp(SECCOMP_SET_MODE_FILTER): thread {ret} could not be synchronized"
        )));
    }
    Ok(None)
}

/// Whether the running kernel knows the filter `flag`. Probed the way libseccomp does it: with
/// a null program the kernel checks the flags first (EINVAL when unknown), then faults (EFAULT)
/// copying the program, so nothing is installed either way.
pub fn filter_flag_supported(flag: u32) -> bool {
    // SAFETY: a null program pointer makes the kernel fail with EFAULT before any state change.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SET_MODE_FILTER,
            flag as libc::c_ulong,
            std::ptr::null::<libc::sock_fprog>(),
        )
    };
    ret < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EFAULT)
}

/// Whether the kernel supports the filter return `action` (`SECCOMP_RET_*`, data bits zero).
pub fn action_available(action: u32) -> bool {
    // SAFETY: GET_ACTION_AVAIL reads one u32 through the pointer, which lives for the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            GET_ACTION_AVAIL,
            0 as libc::c_ulong,
            &action as *const u32,
        )
    };
    ret == 0
}

/// Send `payload` over the connected stream socket `sock` with `fd` attached as `SCM_RIGHTS`
/// on the first `sendmsg` (the rest of a partial send follows without it). Uses a stack buffer
/// for the control message: after a notify filter is installed, no allocation may be needed.
pub fn send_with_fd(sock: BorrowedFd<'_>, payload: &[u8], fd: BorrowedFd<'_>) -> io::Result<()> {
    // Room for one cmsghdr carrying one int, aligned as the kernel expects.
    #[repr(C, align(8))]
    struct CmsgBuf([u8; 64]);
    let mut cbuf = CmsgBuf([0; 64]);
    let raw = fd.as_raw_fd();
    let mut sent = 0usize;
    while sent < payload.len() || sent == 0 {
        let mut iov = libc::iovec {
            iov_base: payload[sent..].as_ptr() as *mut libc::c_void,
            iov_len: payload.len() - sent,
        };
        // SAFETY: msghdr is plain data; all-zero is a valid empty header.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if sent == 0 {
            // SAFETY: CMSG_SPACE is a pure size computation.
            let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<libc::c_int>() as u32) };
            msg.msg_control = cbuf.0.as_mut_ptr() as *mut libc::c_void;
            msg.msg_controllen = space as _;
            // SAFETY: msg_control points at a zeroed, aligned buffer of at least `space` bytes,
            // so CMSG_FIRSTHDR is non-null and the header and one int fit inside it.
            unsafe {
                let cmsg = libc::CMSG_FIRSTHDR(&msg);
                (*cmsg).cmsg_level = libc::SOL_SOCKET;
                (*cmsg).cmsg_type = libc::SCM_RIGHTS;
                (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<libc::c_int>() as u32) as _;
                std::ptr::copy_nonoverlapping(
                    &raw as *const libc::c_int as *const u8,
                    libc::CMSG_DATA(cmsg),
                    std::mem::size_of::<libc::c_int>(),
                );
            }
        }
        // SAFETY: `msg` and everything it points to (iov, payload, cbuf) outlive the call.
        let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(io::Error::new(
                err.kind(),
                format!("sendmsg(SCM_RIGHTS): {err}"),
            ));
        }
        sent += n as usize;
        if payload.is_empty() {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_known_flags_and_actions() {
        assert!(filter_flag_supported(FLAG_TSYNC));
        assert!(!filter_flag_supported(1 << 30));
        assert!(action_available(libc::SECCOMP_RET_ALLOW));
        assert!(action_available(libc::SECCOMP_RET_KILL_PROCESS));
        assert!(!action_available(0x1234_0000));
    }

    #[test]
    fn sends_payload_and_fd() {
        use std::io::Read;
        use std::os::fd::AsFd;
        use std::os::unix::net::UnixStream;
        let (a, mut b) = UnixStream::pair().unwrap();
        let file = std::fs::File::open("/proc/self/status").unwrap();
        send_with_fd(a.as_fd(), b"hello", file.as_fd()).unwrap();
        drop(a);
        let mut buf = String::new();
        b.read_to_string(&mut buf).unwrap();
        assert_eq!(buf, "hello");
    }
}
