//! Seccomp profiles seen from inside the container: deny with EPERM, errnoRet, argument
//! filters (masked equality and the other operators), allow-lists with an errno default, a
//! Docker-shaped profile running busybox, and an unknown action refused as invalid config.

use sangja_integration::setup;
use serde_json::{json, Value};

fn seccomp(default: &str, syscalls: Value) -> Value {
    json!({
        "defaultAction": default,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": syscalls
    })
}

#[test]
fn seccomp_denies_mkdir_with_eperm() {
    let (_rt, c) = setup();
    let mut b = c.bundle();
    b.set(
        "/linux/seccomp",
        seccomp(
            "SCMP_ACT_ALLOW",
            json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]),
        ),
    );
    b.set_script("mkdir /tmp/d; echo rc=$?; touch /tmp/f && echo touch-ok");
    let o = c.run(&b);
    assert!(
        o.stderr.contains("Operation not permitted") || o.stdout.contains("rc=1"),
        "{o:?}"
    );
    assert!(o.stdout.contains("rc=1"), "mkdir fails: {o:?}");
    assert!(o.stdout.contains("touch-ok"), "other syscalls work: {o:?}");
    assert!(!b.rootfs().join("tmp/d").exists());
}

#[test]
fn seccomp_errno_ret_is_used() {
    let (_rt, c) = setup();
    let mut b = c.bundle();
    b.set(
        "/linux/seccomp",
        seccomp(
            "SCMP_ACT_ALLOW",
            json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 28}]),
        ),
    );
    b.set_script("mkdir /tmp/d 2>&1");
    let o = c.run(&b);
    assert!(
        o.stdout.contains("No space left on device"),
        "ENOSPC (28): {o:?}"
    );
}

#[test]
fn seccomp_masked_eq_args_filter() {
    // personality(2) driven by busybox linux32 (arg 0x0008) and linux64 (arg 0):
    // deny when (arg0 & 0xff) == 8, allow otherwise.
    let (_rt, c) = setup();
    let mut b = c.bundle();
    b.set(
        "/linux/seccomp",
        seccomp(
            "SCMP_ACT_ALLOW",
            json!([{"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                    "args": [{"index": 0, "value": 255, "valueTwo": 8, "op": "SCMP_CMP_MASKED_EQ"}]}]),
        ),
    );
    b.set_script(
        "linux64 true && echo linux64-ok; linux32 true && echo linux32-ok || echo linux32-denied",
    );
    let o = c.run(&b);
    assert!(
        o.stdout.contains("linux64-ok"),
        "personality(0) allowed: {o:?}"
    );
    assert!(
        o.stdout.contains("linux32-denied"),
        "personality(8) denied: {o:?}"
    );
    assert!(!o.stdout.contains("linux32-ok"), "{o:?}");
}

/// Syscalls busybox `sh`, `true`, `ls`, `mkdir` and a runtime's last steps need.
const BASE_ALLOW: &[&str] = &[
    "read",
    "write",
    "open",
    "openat",
    "close",
    "stat",
    "fstat",
    "lstat",
    "newfstatat",
    "statx",
    "poll",
    "lseek",
    "mmap",
    "mprotect",
    "munmap",
    "brk",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "ioctl",
    "pread64",
    "pwrite64",
    "readv",
    "writev",
    "access",
    "faccessat",
    "faccessat2",
    "pipe",
    "pipe2",
    "select",
    "pselect6",
    "sched_yield",
    "madvise",
    "dup",
    "dup2",
    "dup3",
    "nanosleep",
    "clock_nanosleep",
    "getpid",
    "gettid",
    "exit",
    "exit_group",
    "wait4",
    "waitid",
    "kill",
    "tgkill",
    "uname",
    "fcntl",
    "getcwd",
    "chdir",
    "fchdir",
    "getuid",
    "getgid",
    "geteuid",
    "getegid",
    "getppid",
    "getpgrp",
    "getpgid",
    "setpgid",
    "setsid",
    "arch_prctl",
    "set_tid_address",
    "set_robust_list",
    "futex",
    "execve",
    "execveat",
    "clone",
    "clone3",
    "fork",
    "vfork",
    "prlimit64",
    "getrlimit",
    "getrandom",
    "rseq",
    "sigaltstack",
    "close_range",
    "capget",
    "capset",
    "prctl",
    "setgroups",
    "setuid",
    "setgid",
    "setresuid",
    "setresgid",
    "getresuid",
    "getresgid",
    "fstatfs",
    "statfs",
    "readlink",
    "readlinkat",
    "getdents64",
    "getdents",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "clock_gettime",
    "gettimeofday",
    "time",
    "umask",
    "sysinfo",
    "getgroups",
    "mremap",
    "membarrier",
    "sched_getaffinity",
];

#[test]
fn seccomp_default_errno_with_allow_list_runs_true() {
    let (_rt, c) = setup();
    let mut b = c.bundle();
    let profile = seccomp(
        "SCMP_ACT_ERRNO",
        json!([{"names": BASE_ALLOW, "action": "SCMP_ACT_ALLOW"}]),
    );
    b.set("/linux/seccomp", profile);
    b.set_args(&["/bin/true"]);
    c.run(&b).ok();
    let (_rt2, c2) = setup();
    let mut b2 = c2.bundle();
    b2.set(
        "/linux/seccomp",
        seccomp(
            "SCMP_ACT_ERRNO",
            json!([{"names": BASE_ALLOW, "action": "SCMP_ACT_ALLOW"}]),
        ),
    );
    // mkdir is not in the list: denied with the default errno (EPERM).
    b2.set_script("echo in-sh; mkdir /tmp/x 2>&1; exit 4");
    let o = c2.run(&b2).code_is(4);
    assert!(o.stdout.contains("in-sh"), "{o:?}");
    assert!(o.stdout.contains("Operation not permitted"), "{o:?}");
}

/// A profile shaped like Docker's default: an allow-list of hundreds of names
/// (some unknown to older tables), arg filters on clone and personality, and
/// the x86 arch family.
fn docker_like_profile() -> Value {
    let names = "accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32 \
clock_adjtime clock_getres clock_gettime clock_nanosleep close close_range connect copy_file_range creat \
dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait \
epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 \
fallocate fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync \
fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync \
ftruncate ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv futex_wake futimesat \
get_robust_list get_thread_area getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 \
getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority \
getrandom getresgid getresgid32 getresuid getresuid32 getrlimit getrusage getsid getsockname getsockopt \
gettid gettimeofday getuid getuid32 getxattr inotify_add_watch inotify_init inotify_init1 inotify_rm_watch \
io_cancel io_destroy io_getevents io_pgetevents io_setup io_submit io_uring_enter io_uring_register \
io_uring_setup ioctl ioprio_get ioprio_set ipc kill landlock_add_rule landlock_create_ruleset \
landlock_restrict_self lchown lchown32 lgetxattr link linkat listen listxattr llistxattr lremovexattr \
lseek lsetxattr lstat lstat64 madvise map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir \
mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open \
mq_timedreceive mq_timedsend mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall munmap \
name_to_handle_at nanosleep newfstatat open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 \
pkey_alloc pkey_free pkey_mprotect poll ppoll prctl pread64 preadv preadv2 prlimit64 process_mrelease \
pselect6 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv recvfrom recvmmsg \
recvmsg remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir rseq rt_sigaction \
rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_tgsigqueueinfo \
sched_get_priority_max sched_get_priority_min sched_getaffinity sched_getattr sched_getparam \
sched_getscheduler sched_rr_get_interval sched_setaffinity sched_setattr sched_setparam \
sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop send sendfile sendfile64 \
sendmmsg sendmsg sendto set_robust_list set_thread_area set_tid_address setfsgid setfsgid32 setfsuid \
setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 \
setresgid setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit setsid setsockopt setuid \
setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask \
sigreturn socket socketcall socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync \
sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime \
timer_settime timerfd_create timerfd_gettime timerfd_settime times tkill truncate truncate64 ugetrlimit \
umask uname unlink unlinkat utime utimensat utimes vfork vmsplice wait4 waitid waitpid write writev \
arch_prctl modify_ldt chroot";
    let names: Vec<&str> = names.split_whitespace().collect();
    assert!(names.len() > 300, "a Docker-sized list: {}", names.len());
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": names, "action": "SCMP_ACT_ALLOW"},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 131072, "op": "SCMP_CMP_EQ"}]},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 131080, "op": "SCMP_CMP_EQ"}]},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 4294967295u64, "op": "SCMP_CMP_EQ"}]},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 2114060288u64, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
        ]
    })
}

#[test]
fn seccomp_docker_shaped_profile_runs_busybox() {
    let (_rt, c) = setup();
    let mut b = c.bundle();
    b.set("/linux/seccomp", docker_like_profile());
    b.set_script(
        "ls / >/dev/null && mkdir /tmp/d && echo hi | cat && (echo sub) && linux32 true && echo all-ok; \
         unshare -n true 2>/dev/null && echo unshare-allowed || echo unshare-denied",
    );
    let o = c.run(&b).ok();
    assert!(
        o.stdout.contains("sub"),
        "fork through clone with flags 0 works: {o:?}"
    );
    assert!(o.stdout.contains("all-ok"), "busybox runs normally: {o:?}");
    assert!(
        o.stdout.contains("unshare-denied"),
        "unshare not allowed: {o:?}"
    );
}

#[test]
fn seccomp_unknown_action_is_invalid_config() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set(
        "/linux/seccomp",
        seccomp(
            "SCMP_ACT_ALLOW",
            json!([{"names": ["mkdir"], "action": "SCMP_ACT_BOGUS"}]),
        ),
    );
    b.set_args(&["true"]);
    let o = c.run(&b);
    assert_ne!(o.code, Some(0), "{o:?}");
    if rt.is_sangja() {
        rt.assert_error(&o, &["invalid config"]);
    }
}
