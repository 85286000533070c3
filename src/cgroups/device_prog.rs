//! `DeviceRules` → a `BPF_PROG_TYPE_CGROUP_DEVICE` program, assembled by hand.
//!
//! The kernel calls the program with `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major;
//! u32 minor; }` where `access_type = (ACC_* bits << 16) | DEV_TYPE` (1 block, 2 char); it
//! returns 1 to allow, 0 to deny. Layout:
//!
//! ```text
//!   r2 = ctx.access_type & 0xffff     device type
//!   r3 = ctx.access_type >> 16        access bits still undecided
//!   r4 = ctx.major;  r5 = ctx.minor
//!   for each rule, last first:        (a rule "matches" type, major and minor)
//!     deny:  if matches && (r3 & access) != 0 → return 0
//!     allow: if matches { r3 &= !access; if r3 == 0 → return 1 }
//!   return default
//! ```
//!
//! Walking the rules backwards while clearing the bits an allow decided gives exactly "the
//! last matching rule decides each bit" (see `devices.rs`).
//!
//! Laid out for the verifier, which costs ~1.3 µs per instruction it walks: each rule's first
//! test jumps *into* the rule on a match and falls through to the next rule otherwise, and
//! every test compares a copy in r1. The verifier walks fall-throughs first, so its first path
//! reaches every rule with the least-narrowed registers; every later arrival (from inside a
//! rule, with r1 dead and r3 at most narrowed) is then pruned, and the work stays about the
//! program's length. (Jumping *out* on a mismatch and testing r2/r4/r5 themselves made it
//! walk later rules once per way in: 40 mixed rules took 2,719 steps and 3.5 ms.)

use crate::sys::bpf::Insn;

use super::devices::{DevKind, DeviceRule, DeviceRules, ACC_ALL};

const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;

// Opcodes (class | op | source), from linux/bpf_common.h and linux/bpf.h.
const LDX_MEM_W: u8 = 0x61;
const ALU32_AND_K: u8 = 0x54;
const ALU32_RSH_K: u8 = 0x74;
const ALU32_MOV_K: u8 = 0xb4;
const ALU32_MOV_X: u8 = 0xbc;
const JMP_JEQ_K: u8 = 0x15;
const JMP_JNE_K: u8 = 0x55;
const JMP_JA: u8 = 0x05;
const JMP_EXIT: u8 = 0x95;

/// `BPF_DEVCG_DEV_BLOCK` / `BPF_DEVCG_DEV_CHAR`.
pub const DEV_BLOCK: i32 = 1;
pub const DEV_CHAR: i32 = 2;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: dst | (src << 4),
        off,
        imm,
    }
}

fn ldx_w(dst: u8, src: u8, off: i16) -> Insn {
    insn(LDX_MEM_W, dst, src, off, 0)
}

fn alu32_k(code: u8, dst: u8, imm: i32) -> Insn {
    insn(code, dst, 0, 0, imm)
}

fn mov32_x(dst: u8, src: u8) -> Insn {
    insn(ALU32_MOV_X, dst, src, 0, 0)
}

fn exit() -> Insn {
    insn(JMP_EXIT, 0, 0, 0, 0)
}

/// A conditional jump to the end of the current rule's block; the offset is set when the
/// block is complete.
const TO_NEXT: i16 = i16::MIN;

fn jump_next(code: u8, dst: u8, imm: i32) -> Insn {
    insn(code, dst, 0, TO_NEXT, imm)
}

fn rule_block(r: &DeviceRule) -> Vec<Insn> {
    let mut tests: Vec<(u8, i32)> = Vec::new();
    match r.kind {
        DevKind::All => {}
        DevKind::Char => tests.push((R2, DEV_CHAR)),
        DevKind::Block => tests.push((R2, DEV_BLOCK)),
    }
    if let Some(m) = r.major {
        tests.push((R4, m as i32));
    }
    if let Some(m) = r.minor {
        tests.push((R5, m as i32));
    }
    let mut b = Vec::new();
    if let Some(((reg, imm), rest)) = tests.split_first() {
        // r1 = reg; if r1 == imm skip the next insn (into the rule); else on to the next rule.
        b.push(mov32_x(R1, *reg));
        b.push(insn(JMP_JEQ_K, R1, 0, 1, *imm));
        b.push(insn(JMP_JA, 0, 0, TO_NEXT, 0));
        for (reg, imm) in rest {
            b.push(mov32_x(R1, *reg));
            b.push(jump_next(JMP_JNE_K, R1, *imm));
        }
    }
    let access = i32::from(r.access);
    if r.allow {
        if r.access != ACC_ALL {
            // Clear the bits this rule decides; go on if some are left.
            b.push(alu32_k(ALU32_AND_K, R3, i32::from(!r.access & ACC_ALL)));
            b.push(jump_next(JMP_JNE_K, R3, 0));
        }
        b.push(alu32_k(ALU32_MOV_K, R0, 1));
    } else {
        if r.access != ACC_ALL {
            // Only if an undecided requested bit is one this rule denies.
            b.push(mov32_x(R1, R3));
            b.push(alu32_k(ALU32_AND_K, R1, access));
            b.push(jump_next(JMP_JEQ_K, R1, 0));
        }
        b.push(alu32_k(ALU32_MOV_K, R0, 0));
    }
    b.push(exit());
    let len = b.len();
    for (i, ins) in b.iter_mut().enumerate() {
        if ins.off == TO_NEXT {
            ins.off = (len - i - 1) as i16;
        }
    }
    b
}

/// The whole program for `rules`.
pub fn assemble(rules: &DeviceRules) -> Vec<Insn> {
    let mut p = vec![
        ldx_w(R2, R1, 0),
        alu32_k(ALU32_AND_K, R2, 0xffff),
        ldx_w(R3, R1, 0),
        alu32_k(ALU32_RSH_K, R3, 16),
        ldx_w(R4, R1, 4),
        ldx_w(R5, R1, 8),
    ];
    for r in rules.rules.iter().rev() {
        p.extend(rule_block(r));
    }
    p.push(alu32_k(ALU32_MOV_K, R0, i32::from(rules.default_allow)));
    p.push(exit());
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::devices::{ACC_MKNOD, ACC_READ, ACC_WRITE, DEFAULT_ALLOWED};

    /// Run the subset of eBPF the assembler emits, on a device request.
    fn run(prog: &[Insn], kind: DevKind, major: u32, minor: u32, access: u8) -> u32 {
        let dev = match kind {
            DevKind::Block => DEV_BLOCK as u32,
            DevKind::Char => DEV_CHAR as u32,
            DevKind::All => unreachable!(),
        };
        let ctx = [(u32::from(access) << 16) | dev, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        for _ in 0..10_000 {
            let i = prog[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            let imm = i.imm as i64 as u64;
            let jump = |cond: bool| {
                if cond {
                    pc + 1 + i.off as usize
                } else {
                    pc + 1
                }
            };
            pc = match i.code {
                LDX_MEM_W => {
                    assert_eq!(src, 1, "loads come from the ctx");
                    r[dst] = u64::from(ctx[i.off as usize / 4]);
                    pc + 1
                }
                ALU32_AND_K => {
                    r[dst] = (r[dst] as u32 & i.imm as u32) as u64;
                    pc + 1
                }
                ALU32_RSH_K => {
                    r[dst] = ((r[dst] as u32) >> i.imm) as u64;
                    pc + 1
                }
                ALU32_MOV_K => {
                    r[dst] = i.imm as u32 as u64;
                    pc + 1
                }
                ALU32_MOV_X => {
                    r[dst] = r[src] as u32 as u64;
                    pc + 1
                }
                JMP_JEQ_K => jump(r[dst] == imm),
                JMP_JA => jump(true),
                JMP_JNE_K => jump(r[dst] != imm),
                JMP_EXIT => return r[0] as u32,
                c => panic!("unexpected opcode {c:#x}"),
            };
            assert!(pc < prog.len(), "jumped out of the program");
        }
        panic!("program does not terminate");
    }

    fn deny(kind: DevKind, major: Option<u32>, minor: Option<u32>, access: u8) -> DeviceRule {
        DeviceRule {
            allow: false,
            kind,
            major,
            minor,
            access,
        }
    }

    fn allow(kind: DevKind, major: Option<u32>, minor: Option<u32>, access: u8) -> DeviceRule {
        DeviceRule {
            allow: true,
            ..deny(kind, major, minor, access)
        }
    }

    #[test]
    fn instruction_sequence_for_a_small_list() {
        // Default deny; allow c 1:3 rwm; deny c 1:3 w (evaluated first).
        let rules = DeviceRules {
            default_allow: false,
            rules: vec![
                allow(DevKind::Char, Some(1), Some(3), ACC_ALL),
                deny(DevKind::Char, Some(1), Some(3), ACC_WRITE),
            ],
        };
        let want = vec![
            ldx_w(R2, R1, 0),
            alu32_k(ALU32_AND_K, R2, 0xffff),
            ldx_w(R3, R1, 0),
            alu32_k(ALU32_RSH_K, R3, 16),
            ldx_w(R4, R1, 4),
            ldx_w(R5, R1, 8),
            // deny c 1:3 w
            mov32_x(R1, R2),
            insn(JMP_JEQ_K, R1, 0, 1, DEV_CHAR),
            insn(JMP_JA, 0, 0, 9, 0),
            mov32_x(R1, R4),
            insn(JMP_JNE_K, R1, 0, 7, 1),
            mov32_x(R1, R5),
            insn(JMP_JNE_K, R1, 0, 5, 3),
            mov32_x(R1, R3),
            alu32_k(ALU32_AND_K, R1, 4),
            insn(JMP_JEQ_K, R1, 0, 2, 0),
            alu32_k(ALU32_MOV_K, R0, 0),
            exit(),
            // allow c 1:3 rwm
            mov32_x(R1, R2),
            insn(JMP_JEQ_K, R1, 0, 1, DEV_CHAR),
            insn(JMP_JA, 0, 0, 6, 0),
            mov32_x(R1, R4),
            insn(JMP_JNE_K, R1, 0, 4, 1),
            mov32_x(R1, R5),
            insn(JMP_JNE_K, R1, 0, 2, 3),
            alu32_k(ALU32_MOV_K, R0, 1),
            exit(),
            // default
            alu32_k(ALU32_MOV_K, R0, 0),
            exit(),
        ];
        assert_eq!(assemble(&rules), want);
        // Raw bytes of one instruction: code, dst|src<<4, off (LE), imm (LE).
        let i = insn(JMP_JNE_K, R4, 0, 6, 1);
        assert_eq!((i.code, i.regs, i.off, i.imm), (0x55, 0x04, 6, 1));
        assert_eq!(mov32_x(R1, R3).regs, 0x31);
    }

    #[test]
    fn allow_all_is_two_returns() {
        let p = assemble(&DeviceRules::allow_all());
        assert_eq!(p.len(), 8);
        assert_eq!(run(&p, DevKind::Block, 8, 0, ACC_ALL), 1);
    }

    /// The program and the reference evaluator agree on every request over a grid.
    fn agree(rules: &DeviceRules) {
        let p = assemble(rules);
        for kind in [DevKind::Char, DevKind::Block] {
            for major in [0, 1, 5, 8, 10, 136, 4095] {
                for minor in [0, 1, 2, 3, 5, 7, 8, 9, 200, 99] {
                    for access in 1..=ACC_ALL {
                        let want = rules.allows(kind, major, minor, access);
                        let got = run(&p, kind, major, minor, access) == 1;
                        assert_eq!(
                            got, want,
                            "{kind:?} {major}:{minor} access {access} in {rules:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn program_matches_reference_semantics() {
        let defaults: Vec<DeviceRule> = DEFAULT_ALLOWED.iter().map(|(_, r)| *r).collect();
        agree(&DeviceRules::from_ordered(defaults.clone()));
        agree(&DeviceRules::allow_all());
        let mut mixed = defaults;
        mixed.push(deny(DevKind::Char, Some(1), Some(3), ACC_WRITE));
        mixed.push(allow(DevKind::All, Some(8), None, ACC_READ | ACC_MKNOD));
        mixed.push(deny(DevKind::Block, None, Some(0), ACC_READ));
        mixed.push(allow(DevKind::Char, None, Some(5), ACC_WRITE));
        agree(&DeviceRules::from_ordered(mixed.clone()));
        let mut privileged = vec![allow(DevKind::All, None, None, ACC_ALL)];
        privileged.extend(mixed);
        agree(&DeviceRules::from_ordered(privileged));
        agree(&DeviceRules::from_ordered(vec![
            allow(DevKind::All, None, None, ACC_ALL),
            deny(DevKind::Char, None, None, ACC_MKNOD | ACC_READ),
            allow(DevKind::Char, Some(1), None, ACC_READ),
        ]));
    }
}
