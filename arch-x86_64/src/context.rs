// SPDX-License-Identifier: MIT OR Apache-2.0
//! The saved user registers of one thread and their syscall-ABI meaning.
//!
//! | register | syscall in | syscall out |
//! |----------|------------|-------------|
//! | `rax` | syscall number | status |
//! | `rdi` | capability slot | badge |
//! | `rsi` | message tag | message tag |
//! | `r12`, `r13`, `r14`, `r15` | MR0..MR3 | MR0..MR3 |
//! | `rbx`, `rbp`, `rsp` | preserved | preserved |
//! | `rcx`, `r11` | clobbered (`syscall` uses them) | |
//! | `rdx`, `r8`, `r9`, `r10` | clobbered (returned as zero) | |
//!
//! The message registers are the SysV callee-saved `r12`-`r15`, so the
//! kernel's Rust code preserves them: on the IPC fastpath they go from the
//! sender's CPU registers to the receiver's without ever being stored
//! (`entry.rs`). `rax`, `rdi`, `rsi` and `r12`-`r15` are the *argument
//! registers*: the full exit path loads them from the `regs_from` context
//! named by [`ipc_core::Next`], everything else from the resumed thread's
//! own context. The assembly reaches the fields through the `OFF_*`
//! constants, derived with `offset_of!`.

use core::mem::offset_of;

use ipc_core::{MessageInfo, SyscallArgs, UserContext, Word};

use crate::paging::USER_END;

/// Saved user registers. Layout fixed for the entry assembly; 128 bytes,
/// so a context is a shift away from its thread index.
///
/// The last four fields are in the order in which the `syscall` entry
/// pushes them: it points `rsp` at [`CTX_TOP`] bytes into the current
/// thread's context and saves `rbx`, `rbp`, `rsp` and `rip` with four
/// `push`es (`entry.rs`).
#[repr(C, align(128))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// Syscall number in, status out.
    pub rax: u64,
    /// Capability slot in, badge out.
    pub rdi: u64,
    /// Message tag.
    pub rsi: u64,
    /// MR0.
    pub r12: u64,
    /// MR1.
    pub r13: u64,
    /// MR2.
    pub r14: u64,
    /// MR3.
    pub r15: u64,
    /// Preserved.
    pub rbx: u64,
    /// Preserved.
    pub rbp: u64,
    /// User stack pointer.
    pub rsp: u64,
    /// User instruction pointer (`rcx` at `syscall`). Always a canonical
    /// lower-half address (below [`USER_END`]): `sysretq` loads it into
    /// `rip` and must never see a non-canonical one (see
    /// [`Context::set_program_counter`]). Not public, so that nothing
    /// outside this crate can store another value.
    pub(crate) rip: u64,
}

impl Context {
    /// Set where the thread resumes. `sysretq` with a non-canonical `rcx`
    /// raises #GP *in ring 0* on Intel CPUs, with the user's `rsp` already
    /// loaded (CVE-2012-0217 on other kernels): the kernel would run its
    /// fault handler on a stack the user chose. So a resume address the
    /// user could pick is forced into the user half here, the one place a
    /// `rip` is stored other than the `syscall` entry: an address at or
    /// above [`USER_END`] becomes `USER_END` itself, the unmapped guard
    /// page, and the thread takes an ordinary user-mode page fault there.
    /// (The entry stores `syscall`'s own `rcx`, the address after the
    /// instruction: at most `USER_END`, because no user page is mapped at
    /// or above it, `paging::map_page`.) The exits load `rip` with no
    /// check, so the fastpath keeps its instruction count.
    #[inline]
    pub fn set_program_counter(&mut self, pc: u64) {
        self.rip = pc.min(USER_END);
    }
}

const _: () = assert!(core::mem::size_of::<Context>() == 128);

/// End of the fields the `syscall` entry pushes: the per-CPU block keeps
/// the current context's address plus this, the entry's first stack.
pub const CTX_TOP: usize = offset_of!(Context, rip) + 8;
const _: () = assert!(
    offset_of!(Context, rsp) + 8 == offset_of!(Context, rip)
        && offset_of!(Context, rbp) + 8 == offset_of!(Context, rsp)
        && offset_of!(Context, rbx) + 8 == offset_of!(Context, rbp)
);

/// Offset of `rax`.
pub const OFF_RAX: usize = offset_of!(Context, rax);
/// Offset of `rdi`.
pub const OFF_RDI: usize = offset_of!(Context, rdi);
/// Offset of `rsi`.
pub const OFF_RSI: usize = offset_of!(Context, rsi);
/// Offset of `r12`.
pub const OFF_R12: usize = offset_of!(Context, r12);
/// Offset of `r13`.
pub const OFF_R13: usize = offset_of!(Context, r13);
/// Offset of `r14`.
pub const OFF_R14: usize = offset_of!(Context, r14);
/// Offset of `r15`.
pub const OFF_R15: usize = offset_of!(Context, r15);
/// Offset of `rbx`.
pub const OFF_RBX: usize = offset_of!(Context, rbx);
/// Offset of `rbp`.
pub const OFF_RBP: usize = offset_of!(Context, rbp);
/// Offset of `rip`.
pub const OFF_RIP: usize = offset_of!(Context, rip);
/// Offset of `rsp`.
pub const OFF_RSP: usize = offset_of!(Context, rsp);

/// User RFLAGS on every return to user mode: bit 1 (reserved, always 1);
/// interrupts off (the benchmark kernel takes none), IOPL 0, no trap, no
/// alignment check, direction up. Flags are not preserved across a syscall
/// (docs/abi.md), so the kernel neither saves nor restores them.
pub const USER_RFLAGS: u64 = 0x2;

/// User RFLAGS outside the timed runs, while the watchdog is armed
/// ([`crate::watchdog`]): [`USER_RFLAGS`] with `IF`, so the watchdog's
/// timer interrupt reaches a thread that spins in user mode. The kernel
/// itself still runs with interrupts off (`syscall` clears `IF`).
pub const USER_RFLAGS_IRQ: u64 = USER_RFLAGS | 0x200;


impl UserContext for Context {
    #[inline(always)]
    fn new_thread(entry: Word, stack: Word, arg: Word) -> Self {
        let mut c = Context { rsp: stack, rdi: arg, ..Context::default() };
        c.set_program_counter(entry);
        c
    }

    #[inline(always)]
    fn syscall_args(&self) -> SyscallArgs {
        SyscallArgs { op: self.rax, cap: self.rdi, tag: MessageInfo(self.rsi) }
    }

    #[inline(always)]
    fn set_syscall_args(&mut self, args: SyscallArgs) {
        self.rax = args.op;
        self.rdi = args.cap;
        self.rsi = args.tag.0;
    }

    #[inline(always)]
    fn mr(&self, i: usize) -> Word {
        match i {
            0 => self.r12,
            1 => self.r13,
            2 => self.r14,
            _ => self.r15,
        }
    }

    #[inline(always)]
    fn set_mr(&mut self, i: usize, v: Word) {
        match i {
            0 => self.r12 = v,
            1 => self.r13 = v,
            2 => self.r14 = v,
            _ => self.r15 = v,
        }
    }

    #[inline(always)]
    fn set_recv_result(&mut self, badge: Word, tag: MessageInfo) {
        self.rax = 0;
        self.rdi = badge;
        self.rsi = tag.0;
    }

    #[inline(always)]
    fn set_recv_badge(&mut self, badge: Word) {
        self.rax = 0;
        self.rdi = badge;
    }

    #[inline(always)]
    fn set_status(&mut self, status: Word) {
        self.rax = status;
    }

    fn stack_pointer(&self) -> Word {
        self.rsp
    }

    fn program_counter(&self) -> Word {
        self.rip
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_addresses_stay_canonical() {
        let mut c = Context::new_thread(0x40_1000, 0x20_0000, 0);
        assert_eq!(c.program_counter(), 0x40_1000);
        for pc in [USER_END, 0x0000_8000_0000_0000, 0xFFFF_8000_0000_0000, u64::MAX] {
            c.set_program_counter(pc);
            assert_eq!(c.program_counter(), USER_END);
        }
        // Canonical and in the user half: bits 63..47 clear.
        assert_eq!(USER_END >> 47, 0);
    }
}
