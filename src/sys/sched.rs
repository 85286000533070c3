//! Scheduling attributes of the calling process: `sched_setattr`, `ioprio_set`, `personality`.

use std::io;

/// The kernel's `struct sched_attr` (SCHED_ATTR_SIZE_VER1, with the utilization clamps).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SchedAttr {
    pub size: u32,
    pub sched_policy: u32,
    pub sched_flags: u64,
    pub sched_nice: i32,
    pub sched_priority: u32,
    pub sched_runtime: u64,
    pub sched_deadline: u64,
    pub sched_period: u64,
    pub sched_util_min: u32,
    pub sched_util_max: u32,
}

impl SchedAttr {
    /// A zeroed attribute block with `size` filled in.
    pub fn new() -> Self {
        SchedAttr {
            size: std::mem::size_of::<SchedAttr>() as u32,
            ..Default::default()
        }
    }
}

/// `sched_setattr(0, attr, 0)`: set the policy and parameters of the calling thread.
pub fn sched_setattr(attr: &SchedAttr) -> io::Result<()> {
    // SAFETY: `attr` is a valid, fully initialized sched_attr whose `size` field says how many
    // bytes the kernel may read; it is only read.
    let ret = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, attr as *const SchedAttr, 0) };
    if ret < 0 {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(err.kind(), format!("sched_setattr: {err}")));
    }
    Ok(())
}

/// `sched_getattr(0, ...)`: the calling thread's policy and parameters.
pub fn sched_getattr() -> io::Result<SchedAttr> {
    let mut attr = SchedAttr::new();
    // SAFETY: the kernel writes at most `size` bytes (the size of our struct) into `attr`.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_sched_getattr,
            0,
            &mut attr as *mut SchedAttr,
            std::mem::size_of::<SchedAttr>() as u32,
            0,
        )
    };
    if ret < 0 {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(err.kind(), format!("sched_getattr: {err}")));
    }
    Ok(attr)
}

/// `IOPRIO_WHO_PROCESS`.
const IOPRIO_WHO_PROCESS: libc::c_int = 1;

/// `ioprio_set(IOPRIO_WHO_PROCESS, 0, ioprio)` for the calling process (children inherit it).
pub fn ioprio_set_self(ioprio: u16) -> io::Result<()> {
    // SAFETY: plain integer arguments.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_ioprio_set,
            IOPRIO_WHO_PROCESS,
            0,
            libc::c_int::from(ioprio),
        )
    };
    if ret < 0 {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(err.kind(), format!("ioprio_set: {err}")));
    }
    Ok(())
}

/// `ioprio_get(IOPRIO_WHO_PROCESS, 0)`.
pub fn ioprio_get_self() -> io::Result<u16> {
    // SAFETY: plain integer arguments.
    let ret = unsafe { libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0) };
    if ret < 0 {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(err.kind(), format!("ioprio_get: {err}")));
    }
    Ok(ret as u16)
}

/// `personality(persona)`; returns the previous persona. `0xffffffff` only queries.
pub fn personality(persona: u32) -> io::Result<u32> {
    // SAFETY: plain integer argument.
    let ret = unsafe { libc::personality(libc::c_ulong::from(persona)) };
    if ret < 0 {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(
            err.kind(),
            format!("personality({persona:#x}): {err}"),
        ));
    }
    Ok(ret as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_attributes() {
        let attr = sched_getattr().unwrap();
        assert_eq!(attr.size as usize, std::mem::size_of::<SchedAttr>());
        assert!(ioprio_get_self().is_ok());
        let p = personality(0xffff_ffff).unwrap();
        assert_eq!(p & 0xff, 0, "PER_LINUX expected, got {p:#x}");
    }
}
