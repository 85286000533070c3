//! `bpf(2)` for cgroup device programs: load a `BPF_PROG_TYPE_CGROUP_DEVICE` program, attach
//! it to a cgroup directory fd, list and detach the programs attached there. No libbpf: the
//! attribute structs below are the prefixes of the kernel's `union bpf_attr` that these
//! commands read (the kernel accepts a shorter attr as long as it knows the fields).

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_DETACH: libc::c_int = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_int = 13;
const BPF_PROG_QUERY: libc::c_int = 16;

/// `BPF_PROG_TYPE_CGROUP_DEVICE`.
const PROG_TYPE_CGROUP_DEVICE: u32 = 15;
/// `BPF_CGROUP_DEVICE` attach type.
const ATTACH_CGROUP_DEVICE: u32 = 6;
/// `BPF_F_ALLOW_MULTI`: several programs may sit on one cgroup; all must allow.
const F_ALLOW_MULTI: u32 = 2;

/// One eBPF instruction, laid out as the kernel's `struct bpf_insn` (little-endian bitfields:
/// destination register in the low nibble of `regs`, source register in the high one).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    /// Explicit padding (the kernel's `__u32 :32`), so no byte passed is uninitialised.
    pad: u32,
}

#[repr(C)]
#[derive(Default)]
struct GetFdByIdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// Issue one bpf command with `attr` (read and possibly written by the kernel).
fn bpf<T>(cmd: libc::c_int, attr: &mut T) -> io::Result<libc::c_long> {
    loop {
        // SAFETY: `attr` is a live, initialised #[repr(C)] struct matching the prefix of
        // `union bpf_attr` for `cmd`; its exact size is passed, so the kernel neither reads
        // nor writes past it. Pointers inside it (insns, license, log, ids) are valid for
        // the duration of the call, as guaranteed by the callers below.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                cmd,
                attr as *mut T,
                std::mem::size_of::<T>() as libc::c_uint,
            )
        };
        if ret >= 0 {
            return Ok(ret);
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) && err.raw_os_error() != Some(libc::EAGAIN) {
            return Err(err);
        }
    }
}

fn fd_from(ret: libc::c_long) -> OwnedFd {
    // SAFETY: a successful BPF_PROG_LOAD / BPF_PROG_GET_FD_BY_ID returns a fresh fd that
    // nothing else owns.
    unsafe { OwnedFd::from_raw_fd(ret as i32) }
}

/// Load a cgroup device program. On a verifier rejection the error carries the verifier's
/// log, so the message says which instruction it refused.
pub fn load_cgroup_device_prog(insns: &[Insn], license: &CStr) -> io::Result<OwnedFd> {
    let mut attr = ProgLoadAttr {
        prog_type: PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        ..Default::default()
    };
    attr.prog_name[..6].copy_from_slice(b"sangja");
    match bpf(BPF_PROG_LOAD, &mut attr) {
        Ok(fd) => Ok(fd_from(fd)),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::EACCES)) => {
            // Load again with the verifier log switched on, only to explain the failure.
            let mut log = vec![0u8; 64 * 1024];
            attr.log_level = 1;
            attr.log_size = log.len() as u32;
            attr.log_buf = log.as_mut_ptr() as u64;
            match bpf(BPF_PROG_LOAD, &mut attr) {
                Ok(fd) => Ok(fd_from(fd)),
                Err(e2) => {
                    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
                    let text = String::from_utf8_lossy(&log[..end]);
                    let text = text.trim();
                    Err(io::Error::new(
                        e2.kind(),
                        format!("bpf(BPF_PROG_LOAD): {e2}; verifier: {text}"),
                    ))
                }
            }
        }
        Err(e) => Err(io::Error::new(e.kind(), format!("bpf(BPF_PROG_LOAD): {e}"))),
    }
}

/// Load `insns` with the verifier's statistics switched on (`BPF_LOG_STATS`) and return them
/// ("processed N insns … total_states …"): how much work the verifier did.
#[cfg(test)]
pub fn verifier_stats(insns: &[Insn]) -> io::Result<String> {
    let mut log = vec![0u8; 4096];
    let mut attr = ProgLoadAttr {
        prog_type: PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: c"Apache-2.0".as_ptr() as u64,
        log_level: 4,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        ..Default::default()
    };
    drop(fd_from(bpf(BPF_PROG_LOAD, &mut attr)?));
    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
    Ok(String::from_utf8_lossy(&log[..end]).trim().to_string())
}

/// Attach `prog` to the cgroup open at `cgroup` as a device program, with
/// `BPF_F_ALLOW_MULTI` so that it coexists with programs attached above or next to it.
pub fn attach_cgroup_device(cgroup: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: ATTACH_CGROUP_DEVICE,
        attach_flags: F_ALLOW_MULTI,
        ..Default::default()
    };
    bpf(BPF_PROG_ATTACH, &mut attr)
        .map(|_| ())
        .map_err(|e| io::Error::new(e.kind(), format!("bpf(BPF_PROG_ATTACH): {e}")))
}

/// Detach the device program `prog` from the cgroup open at `cgroup`.
pub fn detach_cgroup_device(cgroup: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: ATTACH_CGROUP_DEVICE,
        ..Default::default()
    };
    bpf(BPF_PROG_DETACH, &mut attr)
        .map(|_| ())
        .map_err(|e| io::Error::new(e.kind(), format!("bpf(BPF_PROG_DETACH): {e}")))
}

/// Ids of the device programs attached directly to the cgroup open at `cgroup` (not the
/// ones inherited from its ancestors).
pub fn query_cgroup_device(cgroup: BorrowedFd<'_>) -> io::Result<Vec<u32>> {
    let mut ids = vec![0u32; 64];
    loop {
        let mut attr = QueryAttr {
            target_fd: cgroup.as_raw_fd() as u32,
            attach_type: ATTACH_CGROUP_DEVICE,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            ..Default::default()
        };
        match bpf(BPF_PROG_QUERY, &mut attr) {
            Ok(_) => {
                ids.truncate(attr.prog_cnt as usize);
                return Ok(ids);
            }
            // ENOSPC: more programs than room; prog_cnt now holds the real count.
            Err(e)
                if e.raw_os_error() == Some(libc::ENOSPC) && attr.prog_cnt as usize > ids.len() =>
            {
                ids = vec![0u32; attr.prog_cnt as usize];
            }
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("bpf(BPF_PROG_QUERY): {e}"),
                ))
            }
        }
    }
}

/// Open the loaded program with kernel id `id`.
pub fn prog_fd_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut attr = GetFdByIdAttr {
        prog_id: id,
        ..Default::default()
    };
    bpf(BPF_PROG_GET_FD_BY_ID, &mut attr)
        .map(fd_from)
        .map_err(|e| io::Error::new(e.kind(), format!("bpf(BPF_PROG_GET_FD_BY_ID {id}): {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insn_has_the_kernel_layout() {
        assert_eq!(std::mem::size_of::<Insn>(), 8);
        assert_eq!(std::mem::size_of::<ProgLoadAttr>(), 72);
        assert_eq!(std::mem::size_of::<AttachAttr>(), 20);
        assert_eq!(std::mem::size_of::<QueryAttr>(), 32);
    }
}
