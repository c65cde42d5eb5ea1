// SPDX-License-Identifier: MIT OR Apache-2.0
//! The saved user registers of one thread and their syscall-ABI meaning.
//!
//! | register | syscall in | syscall out |
//! |----------|------------|-------------|
//! | `x8` | syscall number | status |
//! | `x0` | capability slot | badge |
//! | `x1` | message tag | message tag |
//! | `x20`, `x21`, `x22`, `x23` | MR0..MR3 | MR0..MR3 |
//! | `x19`, `x24`-`x29`, `sp` | preserved | preserved |
//! | `x10`, `x11` | clobbered | the thread's own `pc` (after the `svc`) and `sp` |
//! | `x2`-`x7`, `x9`, `x12`-`x18`, `x30` | clobbered | returned as zero |
//! | NZCV flags | clobbered | |
//!
//! The message registers are AAPCS64 callee-saved registers, so the kernel's
//! Rust code preserves them: on the IPC fastpath they go from the sender's
//! CPU registers to the receiver's without ever being stored (`entry.rs`).
//! They are `x20`-`x23` rather than `x19`-`x22` because LLVM keeps `x19` for
//! itself (a base pointer), so inline assembly in user programs cannot bind
//! it. `x8`, `x0`, `x1` and `x20`-`x23` are the *argument registers*: the
//! full exit path loads them from the `regs_from` context named by
//! [`ipc_core::Next`], everything else from the resumed thread's own
//! context. The assembly reaches the fields through the `OFF_*` constants,
//! derived with `offset_of!`; the order puts the registers that are saved
//! and loaded together next to each other, so that one `stp`/`ldp` moves
//! two of them: the nine words a hand-off saves and loads (`x24`-`x29`,
//! `pc`, `sp`, `x19`) come first, and `x19` sits next to `x0`, so the
//! fastpath's exit loads the receiver's `x19` and its badge (which the fast
//! handler writes into the receiver's `x0` slot) with one `ldp`.
//!
//! Not in the context: the user `PSTATE` (every thread runs at EL0t; the
//! exit paths write `SPSR` = 0, so flags come back clear and no flag of
//! another thread leaks) and the FP/SIMD registers (EL0 has no FP/SIMD
//! access on this kernel: `CPACR_EL1.FPEN` traps it, see `cpu.rs`).

use core::mem::offset_of;

use ipc_core::{MessageInfo, SyscallArgs, UserContext, Word};

/// Saved user registers. Layout fixed for the entry assembly; 128 bytes,
/// so a context is a shift away from its thread index.
#[repr(C, align(128))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// Preserved.
    pub x24: u64,
    /// Preserved.
    pub x25: u64,
    /// Preserved.
    pub x26: u64,
    /// Preserved.
    pub x27: u64,
    /// Preserved.
    pub x28: u64,
    /// Preserved (the frame pointer).
    pub x29: u64,
    /// User program counter (`ELR` at the `svc`).
    pub pc: u64,
    /// User stack pointer (`SP_EL0`).
    pub sp: u64,
    /// Preserved.
    pub x19: u64,
    /// Capability slot in, badge out.
    pub x0: u64,
    /// Message tag.
    pub x1: u64,
    /// Syscall number in, status out.
    pub x8: u64,
    /// MR0.
    pub x20: u64,
    /// MR1.
    pub x21: u64,
    /// MR2.
    pub x22: u64,
    /// MR3.
    pub x23: u64,
}

const _: () = assert!(core::mem::size_of::<Context>() == 128);

/// Offset of `x24` (and `x25` after it).
pub const OFF_X24: usize = offset_of!(Context, x24);
/// Offset of `x26` (and `x27` after it).
pub const OFF_X26: usize = offset_of!(Context, x26);
/// Offset of `x28` (and `x29` after it).
pub const OFF_X28: usize = offset_of!(Context, x28);
/// Offset of `pc` (and `sp` after it).
pub const OFF_PC: usize = offset_of!(Context, pc);
/// Offset of `x19` (and `x0` after it).
pub const OFF_X19: usize = offset_of!(Context, x19);
/// Offset of `x0` (and `x1` after it).
pub const OFF_X0: usize = offset_of!(Context, x0);
/// Offset of `x8`.
pub const OFF_X8: usize = offset_of!(Context, x8);
/// Offset of `x20` (and `x21` after it).
pub const OFF_X20: usize = offset_of!(Context, x20);
/// Offset of `x22` (and `x23` after it).
pub const OFF_X22: usize = offset_of!(Context, x22);

// The assembly moves these pairs with one `stp`/`ldp` each.
const _: () = {
    assert!(offset_of!(Context, x25) == OFF_X24 + 8);
    assert!(offset_of!(Context, x27) == OFF_X26 + 8);
    assert!(offset_of!(Context, x29) == OFF_X28 + 8);
    assert!(offset_of!(Context, sp) == OFF_PC + 8);
    assert!(OFF_X0 == OFF_X19 + 8);
    assert!(offset_of!(Context, x1) == OFF_X0 + 8);
    assert!(offset_of!(Context, x21) == OFF_X20 + 8);
    assert!(offset_of!(Context, x23) == OFF_X22 + 8);
};


impl UserContext for Context {
    /// The stack pointer is rounded down to 16 bytes: AArch64 faults on a
    /// misaligned `sp` (`SCTLR_EL1.SA0`), and the runtime passes the x86
    /// convention ("8 below a 16-byte boundary").
    #[inline(always)]
    fn new_thread(entry: Word, stack: Word, arg: Word) -> Self {
        Context { pc: entry, sp: stack & !0xF, x0: arg, ..Context::default() }
    }

    #[inline(always)]
    fn syscall_args(&self) -> SyscallArgs {
        SyscallArgs { op: self.x8, cap: self.x0, tag: MessageInfo(self.x1) }
    }

    #[inline(always)]
    fn set_syscall_args(&mut self, args: SyscallArgs) {
        self.x8 = args.op;
        self.x0 = args.cap;
        self.x1 = args.tag.0;
    }

    #[inline(always)]
    fn mr(&self, i: usize) -> Word {
        match i {
            0 => self.x20,
            1 => self.x21,
            2 => self.x22,
            _ => self.x23,
        }
    }

    #[inline(always)]
    fn set_mr(&mut self, i: usize, v: Word) {
        match i {
            0 => self.x20 = v,
            1 => self.x21 = v,
            2 => self.x22 = v,
            _ => self.x23 = v,
        }
    }

    #[inline(always)]
    fn set_recv_result(&mut self, badge: Word, tag: MessageInfo) {
        self.x8 = 0;
        self.x0 = badge;
        self.x1 = tag.0;
    }

    #[inline(always)]
    fn set_recv_badge(&mut self, badge: Word) {
        self.x8 = 0;
        self.x0 = badge;
    }

    #[inline(always)]
    fn set_status(&mut self, status: Word) {
        self.x8 = status;
    }

    fn stack_pointer(&self) -> Word {
        self.sp
    }

    fn program_counter(&self) -> Word {
        self.pc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_registers() {
        let mut c = Context::new_thread(0x40_1000, 0x20_0010_0000 - 8, 0x10_0000_0000);
        assert_eq!((c.pc, c.sp, c.x0), (0x40_1000, 0x20_000F_FFF0, 0x10_0000_0000));
        c.x8 = 1;
        c.x1 = MessageInfo::new(7, 4).0;
        assert_eq!(c.syscall_args(), SyscallArgs { op: 1, cap: 0x10_0000_0000, tag: MessageInfo::new(7, 4) });
        for i in 0..4 {
            c.set_mr(i, 100 + i as u64);
        }
        assert_eq!((c.x20, c.x21, c.x22, c.x23), (100, 101, 102, 103));
        assert_eq!(c.mr(3), 103);
        c.set_recv_result(0xB1, MessageInfo(9));
        assert_eq!((c.x8, c.x0, c.x1), (0, 0xB1, 9));
        c.set_status(5);
        assert_eq!(c.x8, 5);
    }
}
