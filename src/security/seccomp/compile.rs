//! OCI `linux.seccomp` → one classic-BPF program, with the semantics of runc + libseccomp.
//!
//! seccompiler's `SeccompFilter` has one match action and one mismatch action per filter and a
//! fixed x86_64-only architecture check that kills, so it cannot express an OCI profile (an
//! action per rule, a default action, i386 and x32 sections). We therefore assemble the
//! skeleton ourselves (`bpf.rs`) and use seccompiler for what it does well: the argument
//! comparisons of one rule (`SeccompRule` → `BpfProgram`, including 64-bit `<`, `>`, masks).
//!
//! Layout of the program:
//!
//! ```text
//! ld arch; x86_64 → S64; i386 → S32 (if SCMP_ARCH_X86); else return KILL_PROCESS
//! S64: ld nr; nr ≥ 0x40000000 → SX32 (if SCMP_ARCH_X32) or KILL_PROCESS
//!      [nr > highest known syscall of the profile → ERRNO(ENOSYS)]      (runc's -ENOSYS stub)
//!      unconditional rules, grouped by action: jeq nr₁..nrₙ → return action
//!      per syscall with argument rules: jeq nr → rule₁ → action₁ … ruleₖ → actionₖ,
//!                                        else the syscall's unconditional action or default
//!      return defaultAction
//! SX32, S32: the same with that ABI's numbers and 32-bit argument comparisons
//! ```
//!
//! Rule semantics (stated, since neither libseccomp nor the spec define overlaps precisely):
//! rules whose action equals the default action are skipped (runc does this); for one syscall
//! the argument rules are tried in profile order and the first match wins, then the
//! unconditional rule; two unconditional rules with different actions are an error (libseccomp
//! refuses them too); several args of one entry are ANDed, except when an entry compares the
//! same argument index twice: then each comparison is its own rule (ORed), as runc does.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as Act, LinuxSeccompArg, LinuxSeccompFilterFlag as Flag,
    LinuxSeccompOperator as Op,
};
use seccompiler::{BpfProgram, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompRule};

use super::bpf::{Asm, To, DATA_ARCH, DATA_NR};
use super::syscalls::TABLE;
use crate::error::Error;
use crate::sys::seccomp as sc;

const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

pub(crate) const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub(crate) const RET_KILL_THREAD: u32 = 0x0000_0000;
pub(crate) const RET_TRAP: u32 = 0x0003_0000;
pub(crate) const RET_ERRNO: u32 = 0x0005_0000;
pub(crate) const RET_USER_NOTIF: u32 = 0x7FC0_0000;
pub(crate) const RET_TRACE: u32 = 0x7FF0_0000;
pub(crate) const RET_LOG: u32 = 0x7FFC_0000;
pub(crate) const RET_ALLOW: u32 = 0x7FFF_0000;
const RET_ACTION_FULL: u32 = 0xFFFF_0000;

/// The kernel's limit on a classic-BPF program (BPF_MAXINSNS).
pub const MAX_INSTRUCTIONS: usize = 4096;
/// errno values above this are clamped by the kernel (MAX_ERRNO).
const MAX_ERRNO: u32 = 4095;
const DEFAULT_ERRNO: u32 = libc::EPERM as u32;
/// What runc's bad-architecture handling boils down to; we kill the whole process rather than
/// one thread (libseccomp's default is KILL_THREAD).
const BAD_ARCH: u32 = RET_KILL_PROCESS;
/// Unconditional syscalls per `jeq` run (keeps every conditional jump under 256).
const GROUP: usize = 200;

/// The x86 ABIs a filter can see on an x86_64 kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Abi {
    X86_64 = 0,
    I386 = 1,
    X32 = 2,
}

impl Abi {
    fn name(self) -> &'static str {
        match self {
            Abi::X86_64 => "x86_64",
            Abi::I386 => "x86",
            Abi::X32 => "x32",
        }
    }
}

/// Where to send the notify fd (`SCMP_ACT_NOTIFY`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub path: PathBuf,
    pub metadata: Option<String>,
}

/// A compiled profile, ready to install.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The BPF program.
    pub program: Vec<libc::sock_filter>,
    /// `seccomp(2)` flags (including NEW_LISTENER when a rule notifies).
    pub flags: u32,
    /// Set when a rule uses `SCMP_ACT_NOTIFY`.
    pub listener: Option<Listener>,
    /// Debug notes: skipped unknown syscalls, skipped redundant rules, ignored architectures.
    pub notes: Vec<String>,
    /// Base actions used, for the kernel-support check.
    pub(crate) actions: BTreeSet<u32>,
    /// Each requested flag with its config field, for the kernel-support check.
    pub(crate) flag_fields: Vec<(String, u32, &'static str)>,
}

#[derive(Debug, Default)]
struct SysRules {
    /// Argument rules in profile order.
    conditional: Vec<(Vec<SeccompCondition>, u32)>,
    /// (action, its display name, entry index)
    unconditional: Option<(u32, String, usize)>,
}

fn lookup(name: &str) -> Option<[i16; 3]> {
    TABLE
        .binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()
        .map(|i| TABLE[i].1)
}

/// The return value for an action; `field` names the errnoRet for messages.
fn action_value(field: &str, act: Act, errno: Option<u32>) -> Result<u32, Error> {
    let errno_ok = |max: u32| -> Result<u32, Error> {
        let e = errno.unwrap_or(DEFAULT_ERRNO);
        if e > max {
            return Err(Error::invalid(
                field,
                format!("{e} is out of range 0-{max}"),
            ));
        }
        Ok(e)
    };
    let v = match act {
        Act::ScmpActErrno => RET_ERRNO | errno_ok(MAX_ERRNO)?,
        Act::ScmpActTrace => RET_TRACE | errno_ok(0xFFFF)?,
        other => {
            if errno.is_some() {
                return Err(Error::invalid(
                    field,
                    format!("only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not {other}"),
                ));
            }
            match other {
                Act::ScmpActKill | Act::ScmpActKillThread => RET_KILL_THREAD,
                Act::ScmpActKillProcess => RET_KILL_PROCESS,
                Act::ScmpActTrap => RET_TRAP,
                Act::ScmpActLog => RET_LOG,
                Act::ScmpActAllow => RET_ALLOW,
                Act::ScmpActNotify => RET_USER_NOTIF,
                Act::ScmpActErrno | Act::ScmpActTrace => unreachable!(),
            }
        }
    };
    Ok(v)
}

fn flag_value(f: Flag) -> (u32, &'static str) {
    match f {
        Flag::SeccompFilterFlagTsync => (sc::FLAG_TSYNC, "SECCOMP_FILTER_FLAG_TSYNC"),
        Flag::SeccompFilterFlagLog => (sc::FLAG_LOG, "SECCOMP_FILTER_FLAG_LOG"),
        Flag::SeccompFilterFlagSpecAllow => (sc::FLAG_SPEC_ALLOW, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"),
        Flag::SeccompFilterFlagWaitKillableRecv => (
            sc::FLAG_WAIT_KILLABLE_RECV,
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        ),
    }
}

fn condition(
    abi: Abi,
    arg: &LinuxSeccompArg,
    notes: &mut Vec<String>,
    field: &str,
) -> SeccompCondition {
    let (op, value) = match arg.op() {
        Op::ScmpCmpNe => (SeccompCmpOp::Ne, arg.value()),
        Op::ScmpCmpLt => (SeccompCmpOp::Lt, arg.value()),
        Op::ScmpCmpLe => (SeccompCmpOp::Le, arg.value()),
        Op::ScmpCmpEq => (SeccompCmpOp::Eq, arg.value()),
        Op::ScmpCmpGe => (SeccompCmpOp::Ge, arg.value()),
        Op::ScmpCmpGt => (SeccompCmpOp::Gt, arg.value()),
        // libseccomp/runc: `value` is the mask, `valueTwo` the datum.
        Op::ScmpCmpMaskedEq => (
            SeccompCmpOp::MaskedEq(arg.value()),
            arg.value_two().unwrap_or(0),
        ),
    };
    // 64-bit comparisons on x86_64; the 32-bit ABIs only have 32-bit arguments (libseccomp
    // compares the low word there too).
    let len = if abi == Abi::X86_64 {
        SeccompCmpArgLen::Qword
    } else {
        let wide = value > u64::from(u32::MAX)
            || matches!(op, SeccompCmpOp::MaskedEq(m) if m > u64::from(u32::MAX));
        if wide {
            notes.push(format!(
                "{field}: value wider than 32 bits compared on its low 32 bits for the {} ABI",
                abi.name()
            ));
        }
        SeccompCmpArgLen::Dword
    };
    // Index checked by the caller (≤ 5), so this cannot fail.
    SeccompCondition::new(arg.index() as u8, len, op, value).expect("argument index checked")
}

/// Compile `seccomp` without touching the kernel. Errors are `invalid config` naming the field.
pub fn compile(seccomp: &LinuxSeccomp) -> Result<Compiled, Error> {
    const F: &str = "linux.seccomp";
    if !cfg!(target_arch = "x86_64") {
        return Err(Error::invalid(
            F,
            "seccomp profiles are only supported on x86_64 hosts",
        ));
    }
    let mut notes = Vec::new();
    let mut actions = BTreeSet::new();

    let default_action = seccomp.default_action();
    if default_action == Act::ScmpActNotify {
        return Err(Error::invalid(
            format!("{F}.defaultAction"),
            "SCMP_ACT_NOTIFY cannot be the default action",
        ));
    }
    let default = action_value(
        &format!("{F}.defaultErrnoRet"),
        default_action,
        seccomp.default_errno_ret(),
    )?;
    actions.insert(default & RET_ACTION_FULL);

    // Architectures: x86_64 is always there (libseccomp adds the native one).
    let mut abis = vec![Abi::X86_64];
    for (i, arch) in seccomp.architectures().iter().flatten().enumerate() {
        match arch {
            Arch::ScmpArchNative | Arch::ScmpArchX86_64 => {}
            Arch::ScmpArchX86 if !abis.contains(&Abi::I386) => abis.push(Abi::I386),
            Arch::ScmpArchX32 if !abis.contains(&Abi::X32) => abis.push(Abi::X32),
            Arch::ScmpArchX86 | Arch::ScmpArchX32 => {}
            other => notes.push(format!(
                "{F}.architectures[{i}]: {other} cannot occur on an x86_64 kernel, ignored"
            )),
        }
    }

    let mut tables: [BTreeMap<u32, SysRules>; 3] = Default::default();
    let mut highest: [Option<u32>; 3] = [None; 3];
    let mut notify_used = false;

    for (i, entry) in seccomp.syscalls().iter().flatten().enumerate() {
        let ef = format!("{F}.syscalls[{i}]");
        let act = entry.action();
        let value = action_value(&format!("{ef}.errnoRet"), act, entry.errno_ret())?;
        if entry.names().is_empty() {
            return Err(Error::invalid(
                format!("{ef}.names"),
                "must contain at least one entry",
            ));
        }
        let args = entry.args().as_deref().unwrap_or(&[]);
        let mut seen = [0u8; 6];
        for (j, a) in args.iter().enumerate() {
            if a.index() > 5 {
                return Err(Error::invalid(
                    format!("{ef}.args[{j}].index"),
                    format!("{} is out of range 0-5", a.index()),
                ));
            }
            seen[a.index()] += 1;
        }
        let split = seen.iter().any(|&n| n > 1);
        if split {
            notes.push(format!(
                "{ef}: an argument index is compared more than once; each comparison is its own \
                 rule (ORed), as runc does"
            ));
        }
        if act == Act::ScmpActNotify {
            notify_used = true;
            if let Some(n) = entry.names().iter().find(|n| *n == "sendmsg") {
                return Err(Error::invalid(
                    format!("{ef}.names"),
                    format!(
                        "SCMP_ACT_NOTIFY on {n:?} would block the hand-off of the notify fd to \
                         the seccomp agent"
                    ),
                ));
            }
        }
        let redundant = value == default;
        if redundant {
            notes.push(format!("{ef}: same action as defaultAction, skipped"));
        } else {
            actions.insert(value & RET_ACTION_FULL);
        }

        for (j, name) in entry.names().iter().enumerate() {
            if name.is_empty() {
                return Err(Error::invalid(
                    format!("{ef}.names[{j}]"),
                    "empty syscall name",
                ));
            }
            let Some(nrs) = lookup(name) else {
                notes.push(format!(
                    "{ef}.names[{j}]: unknown syscall {name:?}, skipped"
                ));
                continue;
            };
            for &abi in &abis {
                let nr = nrs[abi as usize];
                if nr < 0 {
                    continue;
                }
                let nr = nr as u32;
                let h = &mut highest[abi as usize];
                *h = Some(h.map_or(nr, |h| h.max(nr)));
                if redundant {
                    continue;
                }
                let rules = tables[abi as usize].entry(nr).or_default();
                if args.is_empty() {
                    match &rules.unconditional {
                        Some((v, _, _)) if *v == value => {}
                        // libseccomp (so runc) keeps the first unconditional rule of a
                        // syscall; podman's default profile relies on it (setns allowed,
                        // then listed again as ERRNO).
                        Some((_, other, k)) => notes.push(format!(
                            "{ef}.names[{j}]: {name:?} already has the unconditional action \
                             {other} from {F}.syscalls[{k}], which is kept"
                        )),
                        None => rules.unconditional = Some((value, act.to_string(), i)),
                    }
                    continue;
                }
                let conds: Vec<SeccompCondition> = args
                    .iter()
                    .enumerate()
                    .map(|(k, a)| condition(abi, a, &mut notes, &format!("{ef}.args[{k}]")))
                    .collect();
                if split {
                    for c in conds {
                        rules.conditional.push((vec![c], value));
                    }
                } else {
                    rules.conditional.push((conds, value));
                }
            }
        }
    }
    notes.dedup();

    // Flags.
    let mut flags = 0u32;
    let mut flag_fields = Vec::new();
    for (k, f) in seccomp.flags().iter().flatten().enumerate() {
        let (v, name) = flag_value(*f);
        if v == sc::FLAG_WAIT_KILLABLE_RECV && !notify_used {
            return Err(Error::invalid(
                format!("{F}.flags[{k}]"),
                format!("{name} needs a rule with SCMP_ACT_NOTIFY"),
            ));
        }
        flags |= v;
        flag_fields.push((format!("{F}.flags[{k}]"), v, name));
    }

    // The notify listener.
    let listener_path = seccomp.listener_path().clone();
    if seccomp.listener_metadata().is_some() && listener_path.is_none() {
        return Err(Error::invalid(
            format!("{F}.listenerMetadata"),
            "must not be set without listenerPath",
        ));
    }
    let listener = if notify_used {
        let Some(path) = listener_path else {
            return Err(Error::invalid(
                format!("{F}.listenerPath"),
                "required when SCMP_ACT_NOTIFY is used",
            ));
        };
        if !path.is_absolute() {
            return Err(Error::invalid(
                format!("{F}.listenerPath"),
                "must be an absolute path",
            ));
        }
        flags |= sc::FLAG_NEW_LISTENER;
        if flags & sc::FLAG_TSYNC != 0 {
            // TSYNC and NEW_LISTENER are only compatible with TSYNC_ESRCH.
            flags |= sc::FLAG_TSYNC_ESRCH;
        }
        Some(Listener {
            path,
            metadata: seccomp.listener_metadata().clone(),
        })
    } else {
        None
    };

    // runc's -ENOSYS stub: syscalls newer than every one the profile names return ENOSYS
    // instead of the default action, unless the default already allows or is ENOSYS.
    let base = default & RET_ACTION_FULL;
    let stub = !matches!(base, RET_ALLOW | RET_LOG | RET_TRACE)
        && default != RET_ERRNO | libc::ENOSYS as u32;
    if stub {
        actions.insert(RET_ERRNO);
    }

    let program = assemble(&abis, &tables, &highest, default, stub)
        .map_err(|e| Error::invalid(F, format!("internal error compiling the filter: {e}")))?;
    if program.len() > MAX_INSTRUCTIONS {
        return Err(Error::invalid(
            F,
            format!(
                "the profile compiles to {} BPF instructions, more than the kernel's limit of {}",
                program.len(),
                MAX_INSTRUCTIONS
            ),
        ));
    }
    Ok(Compiled {
        program,
        flags,
        listener,
        notes,
        actions,
        flag_fields,
    })
}

fn assemble(
    abis: &[Abi],
    tables: &[BTreeMap<u32, SysRules>; 3],
    highest: &[Option<u32>; 3],
    default: u32,
    stub: bool,
) -> Result<Vec<libc::sock_filter>, String> {
    let mut a = Asm::default();
    let has = |x: Abi| abis.contains(&x);
    let (s64, s32, sx32) = (a.label(), a.label(), a.label());

    a.load(DATA_ARCH);
    let not64 = a.label();
    a.jeq(AUDIT_ARCH_X86_64, To::Next, To::L(not64));
    a.ja(s64);
    a.bind(not64);
    if has(Abi::I386) {
        let not32 = a.label();
        a.jeq(AUDIT_ARCH_I386, To::Next, To::L(not32));
        a.ja(s32);
        a.bind(not32);
    }
    a.ret(BAD_ARCH);

    a.bind(s64);
    a.load(DATA_NR);
    let native = a.label();
    a.jge(X32_SYSCALL_BIT, To::Next, To::L(native));
    if has(Abi::X32) {
        a.ja(sx32);
    } else {
        a.ret(BAD_ARCH);
    }
    a.bind(native);
    section(&mut a, Abi::X86_64, &tables[0], highest[0], default, stub)?;

    if has(Abi::X32) {
        a.bind(sx32);
        a.load(DATA_NR);
        section(&mut a, Abi::X32, &tables[2], highest[2], default, stub)?;
    }
    if has(Abi::I386) {
        a.bind(s32);
        a.load(DATA_NR);
        section(&mut a, Abi::I386, &tables[1], highest[1], default, stub)?;
    }
    a.finish()
}

/// One ABI's dispatch; `A` holds the syscall number on entry; every path returns.
fn section(
    a: &mut Asm,
    abi: Abi,
    table: &BTreeMap<u32, SysRules>,
    highest: Option<u32>,
    default: u32,
    stub: bool,
) -> Result<(), String> {
    let bit = if abi == Abi::X32 { X32_SYSCALL_BIT } else { 0 };
    if let (true, Some(max)) = (stub, highest) {
        let known = a.label();
        a.jgt(max | bit, To::Next, To::L(known));
        a.ret(RET_ERRNO | libc::ENOSYS as u32);
        a.bind(known);
    }

    // Syscalls with only an unconditional rule, grouped by action.
    let mut groups: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for (nr, rules) in table {
        if let (true, Some((v, _, _))) = (rules.conditional.is_empty(), &rules.unconditional) {
            groups.entry(*v).or_default().push(*nr);
        }
    }
    // ALLOW first: it is what most syscalls of a container hit.
    let mut order: Vec<u32> = groups.keys().copied().collect();
    order.sort_by_key(|v| (*v != RET_ALLOW, *v));
    for v in order {
        for chunk in groups[&v].chunks(GROUP) {
            let hit = a.label();
            let miss = a.label();
            for nr in chunk {
                a.jeq(nr | bit, To::L(hit), To::Next);
            }
            a.ja(miss);
            a.bind(hit);
            a.ret(v);
            a.bind(miss);
        }
    }

    // Syscalls with argument rules.
    for (nr, rules) in table.iter().filter(|(_, r)| !r.conditional.is_empty()) {
        let body = a.label();
        let skip = a.label();
        a.jeq(nr | bit, To::L(body), To::Next);
        a.ja(skip);
        a.bind(body);
        for (conds, v) in &rules.conditional {
            // seccompiler's rule block falls through when every condition holds and jumps to
            // one past the instruction after the block when one fails: that instruction is the
            // rule's own return, so a failed rule continues with the next one.
            let rule = SeccompRule::new(conds.clone()).map_err(|e| e.to_string())?;
            let block: BpfProgram = rule.into();
            a.raw(&block);
            a.ret(*v);
        }
        a.ret(rules.unconditional.as_ref().map_or(default, |(v, _, _)| *v));
        a.bind(skip);
    }
    a.ret(default);
    Ok(())
}
