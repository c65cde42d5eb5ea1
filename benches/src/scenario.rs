// SPDX-License-Identifier: MIT OR Apache-2.0
//! The correctness and fault scenarios (roles 16 and up), as data.
//!
//! * Bad-input scenarios (16..=20, 22) are lists of [`Step`]s: one system call
//!   each and the status the kernel must answer (docs/abi.md "Status
//!   codes"). None of them may block: every call is malformed.
//! * Scenario 21 loads known values into the registers, makes a `null`
//!   syscall and checks each register afterwards ([`PROBE_REGS`],
//!   [`probe_value`], [`probe_expected`]).
//! * Fault scenarios (32..=37) do one forbidden thing ([`Fault`]); the kernel
//!   must kill the task and report the fault itself. If the program survives
//!   it reports a failure.

use crate::abi::{nr, role, status, tag, thread_op, what};
use crate::msg::Failure;

/// The capability slot a [`Step`] uses.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Slot {
    /// This slot.
    Fixed(u64),
    /// The job's capability (UTCB word 14: a send-only endpoint capability
    /// in the test scenarios).
    Job,
}

/// One malformed system call and the status it must get.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Step {
    /// Syscall number.
    pub nr: u64,
    /// Capability slot.
    pub slot: Slot,
    /// Message tag.
    pub tag: u64,
    /// The status the kernel must return.
    pub expect: u64,
}

const fn step(nr: u64, slot: Slot, tag: u64, expect: u64) -> Step {
    Step {
        nr,
        slot,
        tag,
        expect,
    }
}

/// A well-formed empty message: these steps fail on something else.
const EMPTY: u64 = tag(0x7E57, 0);

/// Scenario 16: unknown syscall numbers. 12 is a hole below the service
/// calls; 1000 is a service call the runtime does not have; the numbers
/// above 32 bits must be read whole (`1 << 32` is not `null`, `1 << 32 | 1`
/// not `call`): service calls the runtime does not have either.
pub const BAD_SYSCALL: &[Step] = &[
    step(12, Slot::Fixed(0), EMPTY, status::INVALID_SYSCALL),
    step(1000, Slot::Fixed(0), EMPTY, status::UNSUPPORTED_SERVICE),
    step(1 << 32, Slot::Fixed(0), EMPTY, status::UNSUPPORTED_SERVICE),
    step(1 << 32 | 1, Slot::Fixed(0), EMPTY, status::UNSUPPORTED_SERVICE),
    step(u64::MAX, Slot::Fixed(0), EMPTY, status::UNSUPPORTED_SERVICE),
];

/// Scenario 17: `call` on an empty slot (15, the last), and on slots out of
/// range.
pub const BAD_CAP: &[Step] = &[
    step(nr::CALL, Slot::Fixed(15), EMPTY, status::INVALID_CAP),
    step(nr::CALL, Slot::Fixed(1000), EMPTY, status::INVALID_CAP),
    step(nr::CALL, Slot::Fixed(u64::MAX), EMPTY, status::INVALID_CAP),
];

/// Scenario 18: `recv` on a send-only capability.
pub const NO_RIGHTS: &[Step] = &[step(nr::RECV, Slot::Job, EMPTY, status::NO_RIGHTS)];

/// Scenario 19: `call` with a length of 64 words, and with a flag bit set.
pub const BAD_MESSAGE: &[Step] = &[
    step(
        nr::CALL,
        Slot::Job,
        tag(0x7E57, 64),
        status::INVALID_MESSAGE,
    ),
    step(nr::CALL, Slot::Job, EMPTY | 1 << 8, status::INVALID_MESSAGE),
];

/// Scenario 20: `reply` with no caller to reply to.
pub const NO_CALLER: &[Step] = &[step(nr::REPLY, Slot::Fixed(0), EMPTY, status::NO_CALLER)];

/// `ping`'s tag.
const PING: u64 = tag(thread_op::PING, 0);

/// Scenario 22: `invoke` through each wrong capability and with each wrong
/// tag, in the order of the kernel's checks (docs/abi.md "Invoking kernel
/// objects"); IPC on the thread capability; then one good `ping`.
pub const BAD_INVOKE: &[Step] = &[
    step(nr::INVOKE, Slot::Fixed(15), PING, status::INVALID_CAP),
    step(nr::INVOKE, Slot::Fixed(1000), PING, status::INVALID_CAP),
    step(nr::INVOKE, Slot::Fixed(1 << 32 | 3), PING, status::INVALID_CAP),
    step(nr::INVOKE, Slot::Job, PING, status::WRONG_CAP_TYPE),
    step(nr::INVOKE, Slot::Fixed(4), PING, status::NO_RIGHTS),
    step(nr::INVOKE, Slot::Fixed(3), PING | 1 << 8, status::INVALID_MESSAGE),
    step(nr::INVOKE, Slot::Fixed(3), EMPTY, status::UNKNOWN_OP),
    step(nr::INVOKE, Slot::Fixed(3), tag(thread_op::PING, 1), status::INVALID_MESSAGE),
    step(nr::CALL, Slot::Fixed(3), EMPTY, status::WRONG_CAP_TYPE),
    step(nr::RECV, Slot::Fixed(3), EMPTY, status::WRONG_CAP_TYPE),
    step(nr::INVOKE, Slot::Fixed(3), PING, status::OK),
];

/// The steps of bad-input scenario `id`, if it is one.
pub const fn steps(id: u64) -> Option<&'static [Step]> {
    Some(match id {
        role::BAD_SYSCALL => BAD_SYSCALL,
        role::BAD_CAP => BAD_CAP,
        role::NO_RIGHTS => NO_RIGHTS,
        role::BAD_MESSAGE => BAD_MESSAGE,
        role::NO_CALLER => NO_CALLER,
        role::BAD_INVOKE => BAD_INVOKE,
        _ => return None,
    })
}

/// The x86_64 registers scenario 21 loads before a `null` and checks after
/// it, in the order of the probe's result (after the status). (`rsp` is
/// checked implicitly: the probe pops through it.)
pub const PROBE_REGS_X86_64: [&str; 12] = [
    "rbx", "rbp", "r12", "r13", "r14", "r15", "rdi", "rsi", "rdx", "r8", "r9", "r10",
];

/// The AArch64 registers scenario 21 loads and checks: every general
/// register but `x8` (the syscall number, then the status: the result's
/// first word). (`sp` is checked implicitly: the probe pops through it.)
pub const PROBE_REGS_AARCH64: [&str; 30] = [
    "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28", "x29", "x0", "x1", "x2",
    "x3", "x4", "x5", "x6", "x7", "x9", "x10", "x11", "x12", "x13", "x14", "x15", "x16", "x17",
    "x18", "x30",
];

/// The registers of this target's probe (the x86_64 list on the host, so
/// the host tests check the x86_64 expectations; both lists are tested).
#[cfg(not(target_arch = "aarch64"))]
pub const PROBE_REGS: &[&str] = &PROBE_REGS_X86_64;
/// The registers of this target's probe.
#[cfg(target_arch = "aarch64")]
pub const PROBE_REGS: &[&str] = &PROBE_REGS_AARCH64;

/// Words of the probe's result: the status, then [`PROBE_REGS`].
pub const PROBE_WORDS: usize = 1 + PROBE_REGS.len();

/// The value the probe loads into register `i` of its list: distinct per
/// register, with bits set in both halves and the sign bit set.
pub const fn probe_value(i: usize) -> u64 {
    0xC0DE_0000_0000_0000 | ((i as u64 + 1) * 0x0000_0101_0101_0101)
}

/// Does `null` return register `name` as zero (docs/abi.md)? Both
/// kernels answer `null` in the first instructions of their entry and
/// touch no register but the one AArch64 needs to tell an `svc` from a
/// fault: `x9`, which holds the exception class minus `svc`'s, so zero.
/// Every other probed register comes back as it went in.
const fn zero_after_null(name: &str) -> bool {
    matches!(name.as_bytes(), b"x9")
}

/// What register `i` of `regs` must hold after `null` (docs/abi.md).
/// x86_64: every probed register comes back unchanged (only `rcx` and
/// `r11`, which `syscall` itself uses, and `rax`, the status, change).
/// AArch64: every probed register comes back unchanged but `x9`, which
/// comes back zero (and `x8`, number 0 in, status 0 out).
pub const fn probe_expected_in(regs: &[&str], i: usize) -> u64 {
    if zero_after_null(regs[i]) {
        0
    } else {
        probe_value(i)
    }
}

/// What register `i` of [`PROBE_REGS`] must hold after `null`.
pub const fn probe_expected(i: usize) -> u64 {
    probe_expected_in(PROBE_REGS, i)
}

/// Checks the probe's result: status 0 (else a `status` failure), then
/// each register against [`probe_expected`] (else
/// `what::REGISTER_BASE + i`).
pub fn check_probe(out: &[u64; PROBE_WORDS]) -> Result<(), Failure> {
    check_probe_in(PROBE_REGS, out)
}

/// [`check_probe`] for the register list `regs` (`out` holds the status
/// and then one word per register).
pub fn check_probe_in(regs: &[&str], out: &[u64]) -> Result<(), Failure> {
    if out[0] != status::OK {
        return Err(Failure::status(out[0]));
    }
    for (i, &got) in out[1..].iter().enumerate().take(regs.len()) {
        let expected = probe_expected_in(regs, i);
        if got != expected {
            return Err(Failure {
                what: what::REGISTER_BASE + i as u64,
                got,
                expected,
            });
        }
    }
    Ok(())
}

/// The address of kernel memory scenario 32 reads (the kernel image).
pub const KERNEL_ADDRESS: u64 = 0xFFFF_FFFF_8010_0000;

/// The forbidden things of the fault scenarios.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fault {
    /// 32: read [`KERNEL_ADDRESS`] (page fault there).
    KernelRead,
    /// 33: write to the program's own code at `_start` (page fault).
    WriteCode,
    /// 34: `hlt` in user mode (general protection).
    Privileged,
    /// 35: `ud2` (invalid opcode).
    Undefined,
    /// 36: read address 0 (page fault at 0).
    NullRead,
    /// 37: call into a `ret` written on the stack (no-execute page fault).
    NxStack,
}

impl Fault {
    /// The fault of scenario `id`, if it is a fault scenario.
    pub const fn from_role(id: u64) -> Option<Fault> {
        Some(match id {
            role::FAULT_KERNEL_READ => Fault::KernelRead,
            role::FAULT_WRITE_CODE => Fault::WriteCode,
            role::FAULT_PRIVILEGED => Fault::Privileged,
            role::FAULT_UNDEFINED => Fault::Undefined,
            role::FAULT_NULL_READ => Fault::NullRead,
            role::FAULT_NX_STACK => Fault::NxStack,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{
        Fault, PROBE_REGS, PROBE_REGS_AARCH64, PROBE_REGS_X86_64, PROBE_WORDS, check_probe,
        check_probe_in, probe_expected, probe_expected_in, probe_value, steps,
    };
    use crate::abi::{status, what};
    use crate::msg::Failure;
    use ipc_core::MessageInfo;

    #[test]
    fn every_test_role_has_steps_or_is_special() {
        for id in 16..=20 {
            assert!(!steps(id).unwrap().is_empty());
        }
        for id in [0, 1, 2, 3, 21, 32, 38, 39] {
            assert!(steps(id).is_none());
        }
        for id in 32..=37 {
            assert!(Fault::from_role(id).is_some());
        }
        assert_eq!(Fault::from_role(31), None);
        assert_eq!(Fault::from_role(38), None);
    }

    #[test]
    fn steps_expect_errors_only() {
        for id in 16..=20 {
            for s in steps(id).unwrap() {
                assert_ne!(s.expect, status::OK);
                // Only the bad-message steps carry a malformed tag.
                assert_eq!(MessageInfo(s.tag).is_valid(), id != 19, "{s:?}");
            }
        }
    }

    #[test]
    fn probe_values_are_distinct_and_wide() {
        for i in 0..PROBE_REGS_AARCH64.len().max(PROBE_REGS.len()) {
            assert!(probe_value(i) >> 32 != 0 && probe_value(i) as u32 != 0);
            for j in 0..i {
                assert_ne!(probe_value(i), probe_value(j));
            }
        }
    }

    #[test]
    fn probe_expectations_follow_the_abi() {
        let expected: [(&str, u64); 12] = [
            ("rbx", probe_value(0)),
            ("rbp", probe_value(1)),
            ("r12", probe_value(2)),
            ("r13", probe_value(3)),
            ("r14", probe_value(4)),
            ("r15", probe_value(5)),
            ("rdi", probe_value(6)),
            ("rsi", probe_value(7)),
            ("rdx", probe_value(8)),
            ("r8", probe_value(9)),
            ("r9", probe_value(10)),
            ("r10", probe_value(11)),
        ];
        for (i, (name, v)) in expected.into_iter().enumerate() {
            assert_eq!((PROBE_REGS[i], probe_expected(i)), (name, v));
        }
    }

    #[test]
    fn aarch64_probe_expectations_follow_the_abi() {
        let regs = &PROBE_REGS_AARCH64;
        let mut names = std::vec::Vec::new();
        for (i, name) in regs.iter().enumerate() {
            let n: u32 = name[1..].parse().unwrap();
            names.push(n);
            let zero = n == 9;
            let want = if zero { 0 } else { probe_value(i) };
            assert_eq!(probe_expected_in(regs, i), want, "{name}");
        }
        // Every general register but x8 (number in, status out), once.
        names.sort_unstable();
        let all: std::vec::Vec<u32> = (0..=30).filter(|&n| n != 8).collect();
        assert_eq!(names, all);
        // A kernel address leaked in x12 is named, and so is an x9 that
        // is not zero.
        let mut out = [0u64; 31];
        for i in 0..regs.len() {
            out[1 + i] = probe_expected_in(regs, i);
        }
        assert_eq!(check_probe_in(regs, &out), Ok(()));
        out[1 + 22] = 0xFFFF_FFFF_8010_2030;
        assert_eq!(regs[22], "x12");
        assert_eq!(
            check_probe_in(regs, &out).unwrap_err().what,
            what::REGISTER_BASE + 22
        );
        out[1 + 22] = probe_value(22);
        out[1 + 19] = probe_value(19);
        assert_eq!(regs[19], "x9");
        assert_eq!(
            check_probe_in(regs, &out).unwrap_err().what,
            what::REGISTER_BASE + 19
        );
    }

    #[test]
    fn host_probe_is_the_x86_64_one() {
        assert_eq!(PROBE_REGS, &PROBE_REGS_X86_64[..]);
    }

    #[test]
    fn probe_check_names_the_register() {
        let mut out = [0u64; PROBE_WORDS];
        for (i, w) in out[1..].iter_mut().enumerate() {
            *w = probe_expected(i);
        }
        assert_eq!(check_probe(&out), Ok(()));
        let mut bad = out;
        bad[4] = 0; // r13 lost
        assert_eq!(PROBE_REGS[3], "r13");
        assert_eq!(
            check_probe(&bad),
            Err(Failure {
                what: what::REGISTER_BASE + 3,
                got: 0,
                expected: probe_value(3)
            })
        );
        let mut bad = out;
        bad[7] = 0; // rdi changed (null must leave it alone)
        assert_eq!(check_probe(&bad).unwrap_err().what, what::REGISTER_BASE + 6);
        let mut bad = out;
        bad[10] = 0xFFFF_8000_0010_2030; // a kernel address leaked in r8
        assert_eq!(check_probe(&bad).unwrap_err().what, what::REGISTER_BASE + 9);
        let mut bad = out;
        bad[0] = status::INVALID_SYSCALL;
        assert_eq!(check_probe(&bad), Err(Failure::status(1)));
    }
}
