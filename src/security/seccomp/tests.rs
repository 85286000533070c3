//! Profile → BPF translation checked with the interpreter in `bpf::emu`, and real installs in
//! forked children.

use std::ffi::CString;
use std::os::fd::AsRawFd;

use nix::errno::Errno;
use oci_spec::runtime::LinuxSeccomp;
use serde_json::{json, Value};

use super::bpf::emu::{run, Data};
use super::compile::*;
use super::syscalls::TABLE;
use super::*;
use crate::security::testutil::{errno_of, in_child, status_field};

const X86_64: u32 = 0xC000_003E;
const I386: u32 = 0x4000_0003;
const X32: u32 = 0x4000_0000;
const ALLOW: u32 = RET_ALLOW;
const EPERM: u32 = RET_ERRNO | 1;
const ENOSYS: u32 = RET_ERRNO | 38;
const KILL_PROCESS: u32 = RET_KILL_PROCESS;

fn profile(v: Value) -> LinuxSeccomp {
    serde_json::from_value(v).expect("profile json")
}

fn build(v: Value) -> Compiled {
    compile(&profile(v)).expect("compile")
}

fn err(v: Value) -> String {
    compile(&profile(v)).unwrap_err().to_string()
}

fn nr(name: &str, abi: usize) -> u32 {
    let i = TABLE.binary_search_by(|(n, _)| (*n).cmp(name)).unwrap();
    let n = TABLE[i].1[abi];
    assert!(n >= 0, "{name} has no number for abi {abi}");
    n as u32 | if abi == 2 { X32 } else { 0 }
}

/// The filter's verdict for syscall `name` of `abi` (0 x86_64, 1 i386, 2 x32) with `args`.
fn verdict(c: &Compiled, abi: usize, name: &str, args: &[u64]) -> u32 {
    let mut d = Data {
        nr: nr(name, abi),
        arch: if abi == 1 { I386 } else { X86_64 },
        args: [0; 6],
    };
    d.args[..args.len()].copy_from_slice(args);
    run(&c.program, &d)
}

/// Two unconditional rules for one syscall: the first wins, as with libseccomp (podman's
/// default profile allows setns, then lists it again as ERRNO).
#[test]
fn the_first_unconditional_rule_of_a_syscall_wins() {
    let c = build(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ERRNO"},
        {"names": ["write", "read"], "action": "SCMP_ACT_KILL"}]}));
    assert_eq!(verdict(&c, 0, "read", &[]), EPERM);
    assert_eq!(verdict(&c, 0, "write", &[]), RET_KILL_THREAD);
    assert!(
        c.notes.iter().any(|n| n.contains("\"read\" already has")),
        "{:?}",
        c.notes
    );
}

#[test]
fn errno_rule_on_x86_64_only_profile() {
    let c = build(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
    }));
    assert_eq!(verdict(&c, 0, "mkdir", &[]), EPERM);
    assert_eq!(verdict(&c, 0, "mkdirat", &[]), EPERM);
    assert_eq!(verdict(&c, 0, "read", &[]), ALLOW);
    // Architectures not listed: i386 and x32 calls get the bad-arch action.
    assert_eq!(verdict(&c, 1, "read", &[]), KILL_PROCESS);
    assert_eq!(verdict(&c, 2, "read", &[]), KILL_PROCESS);
    let foreign = Data {
        arch: 0xC000_00B7,
        ..Default::default()
    };
    assert_eq!(run(&c.program, &foreign), KILL_PROCESS);
    assert_eq!(c.flags, 0);
    assert!(c.listener.is_none());
}

#[test]
fn i386_and_x32_sections_use_their_own_numbers() {
    let c = build(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"],
        "syscalls": [
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["socketcall", "rt_sigaction"], "action": "SCMP_ACT_KILL_PROCESS"}
        ]
    }));
    let eacces = RET_ERRNO | 13;
    assert_eq!(verdict(&c, 0, "mkdir", &[]), eacces);
    assert_eq!(verdict(&c, 1, "mkdir", &[]), eacces);
    assert_eq!(verdict(&c, 2, "mkdir", &[]), eacces);
    // i386 mkdir is 39, which is x86_64 getpid: must not be confused.
    assert_eq!(verdict(&c, 0, "getpid", &[]), ALLOW);
    assert_eq!(verdict(&c, 1, "socketcall", &[]), KILL_PROCESS);
    assert_eq!(verdict(&c, 2, "rt_sigaction", &[]), KILL_PROCESS); // x32 number 512
    assert_eq!(verdict(&c, 0, "rt_sigaction", &[]), KILL_PROCESS);
    assert_eq!(verdict(&c, 2, "read", &[]), ALLOW);
    assert!(
        c.notes.iter().any(|n| n.contains("SCMP_ARCH_AARCH64")),
        "{:?}",
        c.notes
    );
}

#[test]
fn every_operator_on_64_bit_arguments() {
    let big = 0x1_0000_0005u64;
    let cases = [
        (
            "SCMP_CMP_EQ",
            vec![(big, true), (5, false), (big + 1, false)],
        ),
        (
            "SCMP_CMP_NE",
            vec![(big, false), (5, true), (0x2_0000_0005, true)],
        ),
        (
            "SCMP_CMP_LT",
            vec![
                (big - 1, true),
                (big, false),
                (5, true),
                (0x2_0000_0000, false),
            ],
        ),
        (
            "SCMP_CMP_LE",
            vec![(big, true), (big + 1, false), (0xFFFF_FFFF, true)],
        ),
        (
            "SCMP_CMP_GT",
            vec![
                (big, false),
                (big + 1, true),
                (0x2_0000_0000, true),
                (6, false),
            ],
        ),
        (
            "SCMP_CMP_GE",
            vec![(big, true), (big - 1, false), (u64::MAX, true)],
        ),
    ];
    for (op, checks) in cases {
        let c = build(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 38,
            "syscalls": [{"names": ["dup3"], "action": "SCMP_ACT_ALLOW",
                          "args": [{"index": 2, "value": big, "op": op}]}]
        }));
        for (v, allowed) in checks {
            let want = if allowed { ALLOW } else { ENOSYS };
            assert_eq!(verdict(&c, 0, "dup3", &[0, 0, v]), want, "{op} {v:#x}");
        }
    }
}

#[test]
fn masked_eq_uses_value_as_mask_and_value_two_as_datum() {
    // Docker's clone rule: allow unless a namespace flag is set.
    let c = build(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 0, "value": 2114060288u64, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}]
    }));
    assert_eq!(verdict(&c, 0, "clone", &[libc::SIGCHLD as u64]), ALLOW);
    assert_eq!(verdict(&c, 0, "clone", &[0x0120_0011]), ALLOW); // fork()'s flags
    assert_eq!(
        verdict(&c, 0, "clone", &[libc::CLONE_NEWUSER as u64 | 17]),
        EPERM
    );
    assert_eq!(verdict(&c, 0, "clone", &[libc::CLONE_NEWNS as u64]), EPERM);
    assert_eq!(verdict(&c, 0, "clone", &[libc::CLONE_VM as u64]), ALLOW); // not in the mask
    assert_eq!(verdict(&c, 0, "clone", &[0xFFFF_FFFF_0000_0011]), ALLOW); // high word not in mask
}

#[test]
fn args_are_anded_entries_ored_and_repeated_indexes_split() {
    let c = build(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 1, "op": "SCMP_CMP_EQ"}]},
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}
        ]
    }));
    assert_eq!(verdict(&c, 0, "socket", &[1, 1]), ALLOW);
    assert_eq!(verdict(&c, 0, "socket", &[1, 2]), EPERM); // AND
    assert_eq!(verdict(&c, 0, "socket", &[2, 5]), ALLOW); // second entry: OR
    assert_eq!(verdict(&c, 0, "socket", &[3, 1]), EPERM);
    assert_eq!(verdict(&c, 0, "personality", &[0]), ALLOW); // repeated index: ORed (runc)
    assert_eq!(verdict(&c, 0, "personality", &[8]), ALLOW);
    assert_eq!(verdict(&c, 0, "personality", &[9]), EPERM);
    assert!(c
        .notes
        .iter()
        .any(|n| n.contains("syscalls[2]") && n.contains("ORed")));
}

#[test]
fn per_rule_actions_first_match_then_unconditional_fallback() {
    let c = build(json!({
        "defaultAction": "SCMP_ACT_KILL",
        "syscalls": [
            {"names": ["ioctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 25,
             "args": [{"index": 1, "value": 0x5401, "op": "SCMP_CMP_EQ"}]},
            {"names": ["ioctl"], "action": "SCMP_ACT_TRAP",
             "args": [{"index": 1, "value": 0x5400, "op": "SCMP_CMP_GE"}]},
            {"names": ["ioctl", "read"], "action": "SCMP_ACT_LOG"},
            {"names": ["write"], "action": "SCMP_ACT_TRACE", "errnoRet": 7},
            {"names": ["close"], "action": "SCMP_ACT_KILL_THREAD"}
        ]
    }));
    assert_eq!(verdict(&c, 0, "ioctl", &[0, 0x5401]), RET_ERRNO | 25);
    assert_eq!(verdict(&c, 0, "ioctl", &[0, 0x5402]), RET_TRAP);
    assert_eq!(verdict(&c, 0, "ioctl", &[0, 0x10]), RET_LOG);
    assert_eq!(verdict(&c, 0, "read", &[]), RET_LOG);
    assert_eq!(verdict(&c, 0, "write", &[]), RET_TRACE | 7);
    assert_eq!(verdict(&c, 0, "lseek", &[]), RET_KILL_THREAD);
    // getpid (39) is above every syscall the profile names (ioctl is 16): runc's ENOSYS stub.
    assert_eq!(verdict(&c, 0, "getpid", &[]), ENOSYS);
    // close has the default action: skipped as redundant, like runc.
    assert!(c
        .notes
        .iter()
        .any(|n| n.contains("syscalls[4]: same action as defaultAction")));
}

#[test]
fn enosys_stub_for_syscalls_newer_than_the_profile() {
    let c = build(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["read", "write", "mkdir"], "action": "SCMP_ACT_ALLOW"}]
    }));
    assert_eq!(verdict(&c, 0, "mkdir", &[]), ALLOW);
    assert_eq!(verdict(&c, 0, "getpid", &[]), EPERM); // 39 < mkdir's 83
    assert_eq!(verdict(&c, 0, "clone3", &[]), ENOSYS); // 435 > 83
    let no_stub = build(json!({
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]
    }));
    assert_eq!(verdict(&no_stub, 0, "clone3", &[]), ENOSYS);
    let allow = build(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO"}]
    }));
    assert_eq!(verdict(&allow, 0, "clone3", &[]), ALLOW);
}

#[test]
fn unknown_syscalls_are_skipped_with_a_note() {
    let c = build(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "frobnicate_2031"], "action": "SCMP_ACT_ERRNO"}]
    }));
    assert_eq!(verdict(&c, 0, "mkdir", &[]), EPERM);
    assert_eq!(
        c.notes,
        vec![r#"linux.seccomp.syscalls[0].names[1]: unknown syscall "frobnicate_2031", skipped"#]
    );
}

#[test]
fn invalid_profiles_name_the_field() {
    let e = err(json!({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 5}));
    assert_eq!(e, "invalid config: linux.seccomp.defaultErrnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not SCMP_ACT_ALLOW");
    let e = err(json!({"defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}]}));
    assert_eq!(e, "invalid config: linux.seccomp.syscalls[0].errnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not SCMP_ACT_ALLOW");
    let e = err(json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 5000}));
    assert_eq!(
        e,
        "invalid config: linux.seccomp.defaultErrnoRet: 5000 is out of range 0-4095"
    );
    let e = err(json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]}));
    assert_eq!(
        e,
        "invalid config: linux.seccomp.syscalls[0].names: must contain at least one entry"
    );
    let e = err(json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                      "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}));
    assert_eq!(
        e,
        "invalid config: linux.seccomp.syscalls[0].args[0].index: 6 is out of range 0-5"
    );
    let e = err(json!({"defaultAction": "SCMP_ACT_NOTIFY"}));
    assert_eq!(
        e,
        "invalid config: linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action"
    );
    let e = err(json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}));
    assert_eq!(
        e,
        "invalid config: linux.seccomp.listenerPath: required when SCMP_ACT_NOTIFY is used"
    );
    let e = err(json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerMetadata": "x"}));
    assert_eq!(
        e,
        "invalid config: linux.seccomp.listenerMetadata: must not be set without listenerPath"
    );
    let e = err(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}),
    );
    assert_eq!(e, "invalid config: linux.seccomp.flags[0]: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a rule with SCMP_ACT_NOTIFY");
    let e = err(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock",
        "syscalls": [{"names": ["sendmsg"], "action": "SCMP_ACT_NOTIFY"}]}),
    );
    assert!(
        e.starts_with(
            "invalid config: linux.seccomp.syscalls[0].names: SCMP_ACT_NOTIFY on \"sendmsg\""
        ),
        "{e}"
    );
}

#[test]
fn flags_and_notify_listener() {
    let c = build(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": "/run/agent.sock", "listenerMetadata": "meta",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                  "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
    }));
    use crate::sys::seccomp as sc;
    assert_eq!(
        c.flags,
        sc::FLAG_TSYNC
            | sc::FLAG_LOG
            | sc::FLAG_SPEC_ALLOW
            | sc::FLAG_WAIT_KILLABLE_RECV
            | sc::FLAG_NEW_LISTENER
            | sc::FLAG_TSYNC_ESRCH
    );
    assert_eq!(verdict(&c, 0, "mkdir", &[]), RET_USER_NOTIF);
    let l = c.listener.clone().unwrap();
    assert_eq!(
        (l.path.to_str().unwrap(), l.metadata.as_deref()),
        ("/run/agent.sock", Some("meta"))
    );
    check_host(&c).unwrap();
}

/// A profile shaped like Docker's default: hundreds of allowed syscalls, the dangerous ones
/// left to the default ERRNO, argument filters on personality and clone, clone3 → ENOSYS,
/// the three x86 architectures, and names this table does not know.
fn docker_like() -> Value {
    const DENY: &[&str] = &[
        "acct",
        "add_key",
        "bpf",
        "clock_adjtime",
        "clock_settime",
        "clone",
        "clone3",
        "create_module",
        "delete_module",
        "finit_module",
        "fsconfig",
        "fsmount",
        "fsopen",
        "fspick",
        "get_kernel_syms",
        "get_mempolicy",
        "init_module",
        "ioperm",
        "iopl",
        "kcmp",
        "kexec_file_load",
        "kexec_load",
        "keyctl",
        "lookup_dcookie",
        "mbind",
        "mount",
        "mount_setattr",
        "move_mount",
        "move_pages",
        "name_to_handle_at",
        "nfsservctl",
        "open_by_handle_at",
        "open_tree",
        "perf_event_open",
        "personality",
        "pivot_root",
        "process_vm_readv",
        "process_vm_writev",
        "ptrace",
        "query_module",
        "quotactl",
        "quotactl_fd",
        "reboot",
        "request_key",
        "set_mempolicy",
        "setdomainname",
        "sethostname",
        "setns",
        "settimeofday",
        "stime",
        "swapoff",
        "swapon",
        "sysfs",
        "syslog",
        "umount",
        "umount2",
        "unshare",
        "uselib",
        "userfaultfd",
        "ustat",
        "vm86",
        "vm86old",
    ];
    let mut allow: Vec<&str> = TABLE
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| !DENY.contains(n))
        .collect();
    allow.extend(["future_syscall_a", "future_syscall_b"]);
    let mut syscalls = vec![json!({"names": allow, "action": "SCMP_ACT_ALLOW"})];
    for v in [0u64, 8, 131072, 131080, 4294967295] {
        syscalls.push(json!({"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                             "args": [{"index": 0, "value": v, "op": "SCMP_CMP_EQ"}]}));
    }
    syscalls.push(json!({"names": ["clone"], "action": "SCMP_ACT_ALLOW",
        "args": [{"index": 0, "value": 2114060288u64, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}));
    syscalls.push(json!({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}));
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": syscalls
    })
}

#[test]
fn docker_like_profile_fits_and_behaves() {
    let c = build(docker_like());
    assert!(
        c.program.len() <= MAX_INSTRUCTIONS,
        "{} instructions",
        c.program.len()
    );
    assert!(c.program.len() < 2000, "{} instructions", c.program.len());
    assert_eq!(verdict(&c, 0, "read", &[]), ALLOW);
    assert_eq!(verdict(&c, 0, "mount", &[]), EPERM);
    assert_eq!(verdict(&c, 1, "mount", &[]), EPERM);
    assert_eq!(verdict(&c, 1, "socketcall", &[]), ALLOW);
    assert_eq!(verdict(&c, 2, "openat", &[]), ALLOW);
    assert_eq!(verdict(&c, 0, "clone3", &[]), ENOSYS);
    assert_eq!(verdict(&c, 0, "clone", &[0x0120_0011]), ALLOW);
    assert_eq!(
        verdict(&c, 0, "clone", &[libc::CLONE_NEWUSER as u64]),
        EPERM
    );
    assert_eq!(verdict(&c, 1, "clone", &[libc::CLONE_NEWNET as u64]), EPERM);
    assert_eq!(verdict(&c, 0, "personality", &[0xFFFF_FFFF]), ALLOW);
    assert_eq!(verdict(&c, 0, "personality", &[8]), ALLOW);
    assert_eq!(verdict(&c, 0, "personality", &[0x0040_0000]), EPERM);
    assert_eq!(
        c.notes
            .iter()
            .filter(|n| n.contains("unknown syscall"))
            .count(),
        2
    );
}

#[test]
fn oversized_profile_is_invalid() {
    let names: Vec<&str> = TABLE.iter().map(|(n, _)| *n).take(150).collect();
    let args: Vec<Value> = (0..6)
        .map(|i| json!({"index": i, "value": 0x1_0000_0000u64 + i, "op": "SCMP_CMP_EQ"}))
        .collect();
    let e = err(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW", "args": args}]
    }));
    assert!(
        e.starts_with("invalid config: linux.seccomp: the profile compiles to "),
        "{e}"
    );
    assert!(e.ends_with("more than the kernel's limit of 4096"), "{e}");
}

// ---- installed for real, in forked children ----

fn install(v: Value) -> Compiled {
    let c = build(v);
    check_host(&c).unwrap();
    c
}

#[test]
fn denied_mkdir_fails_with_eperm() {
    let dir = tempfile::tempdir().unwrap();
    let c = install(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    }));
    let target = dir.path().join("x");
    let code = in_child(|| {
        // As root without no_new_privs: our own seccomp(2) call, CAP_SYS_ADMIN suffices.
        c.install(None).unwrap();
        if nix::sys::prctl::get_no_new_privs().unwrap() {
            return 2;
        }
        let e = errno_of(nix::unistd::mkdir(&target, nix::sys::stat::Mode::S_IRWXU));
        if e == Errno::EPERM as i32 {
            0
        } else {
            10 + e
        }
    });
    assert_eq!(code, 0);
    assert!(!target.exists());
}

#[test]
fn masked_eq_allows_one_flag_value_and_denies_another() {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    // Deny sockets whose type (low 4 bits of arg 1) is SOCK_DGRAM, whatever the flags.
    let c = install(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                      "args": [{"index": 1, "value": 15, "valueTwo": libc::SOCK_DGRAM, "op": "SCMP_CMP_MASKED_EQ"}]}]
    }));
    let code = in_child(|| {
        c.install(None).unwrap();
        let stream = socket(
            AddressFamily::Unix,
            SockType::Stream,
            SockFlag::SOCK_CLOEXEC,
            None,
        );
        let dgram = socket(
            AddressFamily::Unix,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            None,
        );
        match (stream.is_ok(), errno_of(dgram)) {
            (true, e) if e == Errno::EPERM as i32 => 0,
            (ok, e) => 20 + ok as i32 + 2 * e,
        }
    });
    assert_eq!(code, 0);
}

fn exec_true() -> i32 {
    let prog = CString::new("/bin/true").unwrap();
    let e = nix::unistd::execv(&prog, &[&prog]).unwrap_err();
    60 + e as i32
}

#[test]
fn default_errno_with_allow_list_runs_bin_true() {
    let allow = [
        "execve",
        "brk",
        "mmap",
        "mprotect",
        "munmap",
        "arch_prctl",
        "access",
        "openat",
        "open",
        "newfstatat",
        "fstat",
        "read",
        "pread64",
        "close",
        "set_tid_address",
        "set_robust_list",
        "rseq",
        "prlimit64",
        "getrandom",
        "futex",
        "exit_group",
        "exit",
        "rt_sigprocmask",
    ];
    let c = install(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": allow, "action": "SCMP_ACT_ALLOW"}]
    }));
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("y");
    let code = in_child(|| {
        nix::sys::prctl::set_no_new_privs().unwrap();
        c.install(None).unwrap();
        // Not on the list: mkdir gets EPERM (the default), getpid too.
        if errno_of(nix::unistd::mkdir(&target, nix::sys::stat::Mode::S_IRWXU)) != libc::EPERM {
            return 3;
        }
        exec_true()
    });
    assert_eq!(code, 0);
    // Without execve on the list the exec itself fails with the default errno.
    let c = install(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["exit_group", "exit"], "action": "SCMP_ACT_ALLOW"}]
    }));
    let code = in_child(|| {
        nix::sys::prctl::set_no_new_privs().unwrap();
        c.install(None).unwrap();
        exec_true()
    });
    assert_eq!(code, 60 + libc::EPERM);
}

#[test]
fn docker_like_profile_installs_and_runs_bin_true() {
    let c = install(docker_like());
    let code = in_child(|| {
        c.install(None).unwrap();
        if errno_of(nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER)) != libc::EPERM {
            return 4;
        }
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        if status_field(&status, "Seccomp") != "2" || status_field(&status, "NoNewPrivs") != "0" {
            return 5;
        }
        exec_true()
    });
    assert_eq!(code, 0);
}

#[test]
fn notify_fd_and_process_state_reach_the_agent() {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::io::IoSliceMut;
    use std::os::fd::OwnedFd;
    use std::os::unix::net::UnixStream;

    let c = install(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": "/run/agent.sock", "listenerMetadata": "hello",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
    }));
    let (ours, theirs) = UnixStream::pair().unwrap();
    let state = r#"{"ociVersion":"1.2.0","id":"c1","status":"created","pid":4242,"bundle":"/b"}"#;
    let payload = container_process_state(state, 4242, Some("hello")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("z");
    let code = {
        let theirs_fd: OwnedFd = theirs.into();
        let handoff = std::cell::Cell::new(Some(NotifyHandoff {
            socket: theirs_fd,
            process_state: payload,
        }));
        // The parent receives while the child waits in mkdir, so fork and receive concurrently.
        let child = std::thread::scope(|s| {
            let h = s.spawn(|| {
                let mut buf = vec![0u8; 4096];
                let mut iov = [IoSliceMut::new(&mut buf)];
                let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
                let msg = recvmsg::<()>(
                    ours.as_raw_fd(),
                    &mut iov,
                    Some(&mut cmsg),
                    MsgFlags::empty(),
                )
                .unwrap();
                let mut fds = Vec::new();
                for c in msg.cmsgs().unwrap() {
                    if let ControlMessageOwned::ScmRights(v) = c {
                        fds.extend(v);
                    }
                }
                let n = msg.bytes;
                let v: Value = serde_json::from_slice(&buf[..n]).unwrap();
                // Closing the received notify fd makes the waiting mkdir fail with ENOSYS.
                assert_eq!(fds.len(), 1);
                let fdinfo = std::fs::read_link(format!("/proc/self/fd/{}", fds[0])).unwrap();
                nix::unistd::close(fds[0]).unwrap();
                (v, fdinfo)
            });
            let code = in_child(|| {
                c.install(handoff.take()).unwrap();
                let e = errno_of(nix::unistd::mkdir(&target, nix::sys::stat::Mode::S_IRWXU));
                if e == libc::ENOSYS {
                    0
                } else {
                    30 + e
                }
            });
            (code, h.join().unwrap())
        });
        let (code, (v, link)) = child;
        assert_eq!(v["fds"], json!(["seccompFd"]));
        assert_eq!(v["pid"], json!(4242));
        assert_eq!(v["metadata"], json!("hello"));
        assert_eq!(v["state"]["id"], json!("c1"));
        assert_eq!(v["ociVersion"], json!("1.2.0"));
        assert!(
            link.to_string_lossy().contains("seccomp notify"),
            "{link:?}"
        );
        code
    };
    assert_eq!(code, 0);
}
