// SPDX-License-Identifier: MIT OR Apache-2.0
//! The boundary to the architecture crates.
//!
//! An architecture is a zero-sized type implementing [`Arch`]. Its
//! [`Arch::Context`] is the register save area of one thread; ipc-core reads
//! and writes it only through the typed accessors of [`UserContext`], so the
//! register assignment of the syscall ABI stays the arch's business.

use crate::object::{Utcb, WordRange};
use crate::types::{MessageInfo, Word};

/// The decoded arguments of a system call, as they arrived in registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyscallArgs {
    /// Syscall number.
    pub op: Word,
    /// Capability slot the call acts on.
    pub cap: Word,
    /// Message tag.
    pub tag: MessageInfo,
}

/// Typed access to a thread's saved user registers.
///
/// The arch saves the registers of the syscall ABI into this type on every
/// kernel entry and loads them from it on exit. *Argument registers* are the
/// ones a syscall consumes and overwrites with results: the syscall number /
/// status, the capability / badge, the tag and the register message
/// registers. All other registers are preserved across a syscall.
///
/// The contract, which `ipc_core::conformance` (feature `conformance`)
/// checks for a port's type: the status shares the syscall number's
/// register (after `set_status(s)`, `syscall_args().op` is `s`) and the
/// badge the capability slot's (`syscall_args().cap`); each setter writes
/// only the registers it names; `set_mr(i, v)` then `mr(i)` gives `v` and
/// leaves every other message register alone.
pub trait UserContext: Copy {
    /// The context of a thread that starts at `entry` with stack pointer
    /// `stack` and `arg` in its first argument register.
    fn new_thread(entry: Word, stack: Word, arg: Word) -> Self;

    /// The syscall arguments (number, capability slot, tag).
    fn syscall_args(&self) -> SyscallArgs;

    /// Store the syscall arguments (an entry that passed them to the
    /// fastpath in registers, when the fastpath declined).
    fn set_syscall_args(&mut self, args: SyscallArgs);

    /// Message register `i`, for `i < Arch::MR_IN_REGS`.
    fn mr(&self, i: usize) -> Word;

    /// Set message register `i`, for `i < Arch::MR_IN_REGS`.
    fn set_mr(&mut self, i: usize, v: Word);

    /// Write the result of a receive: status 0, the sender's badge and tag.
    fn set_recv_result(&mut self, badge: Word, tag: MessageInfo);

    /// Write status 0 and `badge`, leaving the tag as the sender wrote it
    /// (the fastpath hands the sender's own saved registers to the
    /// receiver, so its tag is already in place).
    fn set_recv_badge(&mut self, badge: Word);

    /// Write a plain status (0 for success, else an [`crate::Error`] code).
    fn set_status(&mut self, status: Word);

    /// The user stack pointer (for diagnostics).
    fn stack_pointer(&self) -> Word;

    /// The user program counter (for diagnostics).
    fn program_counter(&self) -> Word;
}

/// One instruction-set architecture, as ipc-core needs it.
///
/// Implemented by a zero-sized type per ISA (`X86_64`, `Aarch64`) and by
/// `mock::MockArch` (feature `mock`) for host tests. All methods are associated
/// functions: there is no `self`, and calls are monomorphised and inlined.
pub trait Arch: 'static {
    /// Saved user registers of one thread.
    type Context: UserContext;
    /// An address-space root as the MMU wants it (CR3 value with PCID,
    /// TTBR0 value with ASID).
    type Space: Copy + PartialEq + core::fmt::Debug;
    /// An address-space value that no task has: "nothing loaded yet".
    const NO_SPACE: Self::Space;
    /// Number of message registers that travel in CPU registers.
    const MR_IN_REGS: usize;

    /// Make `space` the current user address space of this CPU.
    ///
    /// Called only when the space differs from the current one. Must not
    /// flush the TLB where the hardware tags entries (PCID, ASID).
    fn switch_space(space: Self::Space);

    /// Copy the message words `words` of `src` into `dst`: the
    /// long-message fastpath's copy of the words past the registers
    /// ([`Kernel::fastpath_long`](crate::Kernel::fastpath_long)). A
    /// [`WordRange`] is never empty and lies inside every UTCB, so an
    /// implementation need not check it again.
    ///
    /// The default is a word loop. An arch may use what it copies memory
    /// fastest with: x86_64 uses `rep movsq` (one instruction per word),
    /// AArch64 `ldp`/`stp` of FP/SIMD registers, four words to each pair.
    #[inline(always)]
    fn copy_words(dst: &Utcb, src: &Utcb, words: WordRange) {
        for i in words.from()..words.to() {
            dst.set(i, src.get(i));
        }
    }
}

/// The registers `own`'s thread resumes with when a [`crate::Next::Resume`]
/// names it, with `regs_from` the context its `regs_from` names: its own
/// saved registers, except the argument registers (status, badge, tag and
/// the [`Arch::MR_IN_REGS`] register message registers), which come from
/// `regs_from`.
///
/// This is what an arch's exit path does, in terms of [`UserContext`] (the
/// real ones do it in assembly, loading the argument registers from one
/// context and the rest from the other). A port whose exit path is Rust can
/// use it as it is; the host harness (`conformance::Machine`, feature
/// `conformance`) uses it for every kernel exit.
pub fn resume_context<A: Arch>(own: &A::Context, regs_from: &A::Context) -> A::Context {
    let mut c = *own;
    c.set_syscall_args(regs_from.syscall_args());
    for i in 0..A::MR_IN_REGS {
        c.set_mr(i, regs_from.mr(i));
    }
    c
}
