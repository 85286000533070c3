//! bench-launch: the tiny process from which every measured command is forked.
//!
//!   bench-launch RESULT_FILE PROGRAM [ARGS...]
//!
//! Forks, execs PROGRAM (an absolute path; no PATH search) with ARGS and the inherited
//! stdio and environment, waits for it with wait4, and writes four little-endian i64s to
//! RESULT_FILE: wall nanoseconds from just before the fork to just after wait4, ru_maxrss
//! (KiB), the raw wait status, and the child's pid.
//!
//! Why it exists: a peak RSS from wait4 is the high-water mark of the child *including the
//! memory it had before exec*, and a child forked (or vfork'd) from the multi-MiB bench
//! starts with the bench's memory. Forked from this ~10 KiB process instead, ru_maxrss is
//! the runtime's own. It also keeps the timed fork as cheap as any caller's could be.
//!
//! No std, no libc: a `_start` in assembly and five raw x86-64 syscalls, so its memory is a
//! few pages. Built by bench/bench.sh with rustc for x86_64-unknown-linux-musl, static.

#![no_std]
#![no_main]

use core::arch::{asm, global_asm};

// The kernel starts us with rsp pointing at argc; hand that pointer to `launch_main`.
global_asm!(
    ".globl _start",
    "_start:",
    "xor ebp, ebp",
    "mov rdi, rsp",
    "and rsp, -16",
    "call launch_main",
    "ud2",
);

const SYS_WRITE: usize = 1;
const SYS_OPEN: usize = 2;
const SYS_FORK: usize = 57;
const SYS_EXECVE: usize = 59;
const SYS_EXIT: usize = 60;
const SYS_WAIT4: usize = 61;
const SYS_CLOCK_GETTIME: usize = 228;
const O_WRONLY: usize = 0o1;
const O_CREAT: usize = 0o100;
const O_TRUNC: usize = 0o1000;
const O_CLOEXEC: usize = 0o2000000;
const CLOCK_MONOTONIC: usize = 1;
const EINTR: isize = 4;

/// # Safety
/// A raw system call; the caller passes arguments valid for syscall `n`.
unsafe fn sys(n: usize, a: usize, b: usize, c: usize, d: usize) -> isize {
    let ret: isize;
    // SAFETY: the x86-64 Linux syscall convention; rcx and r11 are clobbered by `syscall`.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") n as isize => ret,
            in("rdi") a,
            in("rsi") b,
            in("rdx") c,
            in("r10") d,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

fn exit(code: usize) -> ! {
    // SAFETY: exit takes an integer and does not return.
    unsafe { sys(SYS_EXIT, code, 0, 0, 0) };
    loop {}
}

fn say(msg: &[u8]) {
    // SAFETY: write of a valid buffer to stderr.
    unsafe { sys(SYS_WRITE, 2, msg.as_ptr() as usize, msg.len(), 0) };
}

#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}

fn now_ns() -> i64 {
    let mut t = Timespec { sec: 0, nsec: 0 };
    // SAFETY: clock_gettime fills the timespec we point at.
    unsafe { sys(SYS_CLOCK_GETTIME, CLOCK_MONOTONIC, &mut t as *mut Timespec as usize, 0, 0) };
    t.sec * 1_000_000_000 + t.nsec
}

/// # Safety
/// Called once from `_start` with the initial stack pointer (argc, argv..., 0, envp..., 0).
#[no_mangle]
unsafe extern "C" fn launch_main(sp: *const usize) -> ! {
    // SAFETY: the initial stack layout is defined by the kernel's ELF loader.
    let (argc, argv, envp) = unsafe {
        let argc = *sp;
        let argv = sp.add(1) as *const *const u8;
        (argc, argv, argv.add(argc + 1))
    };
    if argc < 3 {
        say(b"usage: bench-launch RESULT_FILE PROGRAM [ARGS...]\n");
        exit(2);
    }
    // SAFETY: argv[1] is a NUL-terminated string; open returns an fd or -errno.
    let fd = unsafe {
        sys(
            SYS_OPEN,
            *argv.add(1) as usize,
            O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
            0o644,
            0,
        )
    };
    if fd < 0 {
        say(b"bench-launch: cannot open the result file\n");
        exit(126);
    }
    let t0 = now_ns();
    // SAFETY: fork has no arguments.
    let pid = unsafe { sys(SYS_FORK, 0, 0, 0, 0) };
    if pid == 0 {
        // SAFETY: argv[2..] and envp are the NUL-terminated arrays the kernel gave us.
        unsafe { sys(SYS_EXECVE, *argv.add(2) as usize, argv.add(2) as usize, envp as usize, 0) };
        say(b"bench-launch: exec failed\n");
        exit(127);
    }
    if pid < 0 {
        say(b"bench-launch: fork failed\n");
        exit(126);
    }
    let mut status: i32 = 0;
    // struct rusage: two timevals (4 x i64), then 14 longs; ru_maxrss is the first long.
    let mut ru = [0i64; 18];
    loop {
        // SAFETY: wait4 on our child with valid pointers.
        let r = unsafe {
            sys(
                SYS_WAIT4,
                pid as usize,
                &mut status as *mut i32 as usize,
                0,
                ru.as_mut_ptr() as usize,
            )
        };
        if r != -EINTR {
            break;
        }
    }
    let wall = now_ns() - t0;
    let out: [i64; 4] = [wall, ru[4], i64::from(status), pid as i64];
    // SAFETY: write of a valid 32-byte buffer to the result fd.
    let n = unsafe { sys(SYS_WRITE, fd as usize, out.as_ptr() as usize, 32, 0) };
    exit(if n == 32 { 0 } else { 125 });
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    exit(101)
}
