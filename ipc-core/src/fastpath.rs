// SPDX-License-Identifier: MIT OR Apache-2.0
//! The IPC fastpath: `call` and `reply_recv` between two threads of one CPU,
//! with the message in registers; the `invoke` of a thread's control op;
//! and the null syscall.
//!
//! [`Kernel::fastpath`] works on the syscall arguments alone: the arch can
//! call it with the message registers still live in the CPU (on x86_64 they
//! are callee-saved registers, which the Rust code preserves), and on a
//! [`Fast::HandOff`] hand them to the receiver without ever storing them.
//!
//! Structure (after seL4's `fastpath_call` / `fastpath_reply_recv`): a run of
//! cheap checks, each of which gives up with `None` so that
//! [`crate::Kernel::syscall`] falls through to the general path; then the
//! **point of no return**, after which nothing can fail and the state is
//! committed. The message itself is never touched: the returned
//! [`crate::Next::Resume`] names the sender as `regs_from`, so the arch loads the
//! receiver's argument registers straight out of the sender's save area.
//!
//! The fastpath produces exactly the state the slowpath would, except that
//! the message is not copied into the receiver's saved context (it is loaded
//! into its CPU registers directly). The host tests run every scenario both
//! ways and compare.

use crate::arch::{Arch, SyscallArgs};
use crate::kernel::Kernel;
use crate::object::{Cap, CapSlot, Dir, ThreadState, WordRange, NIL};
use crate::types::{Error, MessageInfo, Rights, ThreadId, ThreadOp, Word, CAP_SLOTS, MSG_MAX_WORDS};

/// The layout an assembly `invoke` fastpath reads, from
/// [`Kernel::INVOKE_LAYOUT`]. Its algorithm is exactly [`Kernel::invoke`]'s
/// first half, and it must decline (take the Rust path) in every other case:
///
/// 1. decline unless `cap < cap_slots` and `tag == ping_tag` (the whole
///    tag word: label `Ping`, no words, no flags);
/// 2. `t = byte[k + current]` (the running thread), then
///    `i = byte[k + cap_bases + t] | cap` (its capability table's base is a
///    multiple of `cap_slots`);
/// 3. decline unless `byte[k + caps + (i << slot_shift) + slot_rights] ==
///    thread_control` (a thread capability with the control right, the
///    kind and the rights in one byte);
/// 4. reply status 0, result word `u64[k + caps + (i << slot_shift) +
///    slot_badge]`.
///
/// `current` < `cap_bases` < `caps`, and `caps - current` is below 4096
/// (`Kernel` is `repr(C)`: checked at compile time), so an entry can keep
/// the address of `current` as its base and reach the rest with short
/// immediates. The host tests run this algorithm over raw memory against
/// [`Kernel::invoke`] for every slot of two tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvokeLayout {
    /// Offset of the running thread's index (a byte).
    pub current: usize,
    /// Offset of the per-thread capability-table bases (a byte each).
    pub cap_bases: usize,
    /// Offset of the capability slots.
    pub caps: usize,
    /// log2 of a slot's size in bytes.
    pub slot_shift: u32,
    /// Offset of a slot's kind-and-rights byte.
    pub slot_rights: usize,
    /// Offset of a slot's badge (a word).
    pub slot_badge: usize,
    /// The kind-and-rights byte of a thread capability with the control right.
    pub thread_control: u8,
    /// The tag word of `ping`.
    pub ping_tag: Word,
    /// Slots per capability table.
    pub cap_slots: Word,
}

/// What the fastpath decided (and committed).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fast {
    /// Return to the caller with status 0 and badge 0; the tag and the
    /// register message registers are returned unchanged (the null syscall).
    Return,
    /// Run `thread` instead. It receives status 0, `badge`, and the caller's
    /// tag and register message registers exactly as they are in the CPU.
    /// The caller's registers other than those are the caller's to keep: the
    /// arch saves its preserved registers, program counter and stack pointer.
    HandOff {
        /// The thread to run.
        thread: ThreadId,
        /// Badge it receives (0 for a reply).
        badge: Word,
    },
    /// `invoke`: return to the caller with this reply (nothing else
    /// changed; the message registers are the caller's own).
    Reply(Reply),
}

/// The kernel's answer to an `invoke`: the status the caller gets in its
/// status register and the op's result word in its badge register (0 with
/// an error). The tag comes back as 0: label 0, no words.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(C)]
pub struct Reply {
    /// 0, or an [`Error`] code.
    pub status: Word,
    /// The op's result.
    pub value: Word,
}

impl Reply {
    /// The reply that reports `e`.
    #[inline(always)]
    pub const fn error(e: Error) -> Reply {
        Reply { status: e.code(), value: 0 }
    }
}

impl<A: Arch> Kernel<A> {
    /// The fastpath for syscall `args` of the current thread. `None` means
    /// "not on the fastpath": nothing was changed, and the arch must save the
    /// whole context and call [`Kernel::syscall`].
    #[inline(always)]
    pub fn fastpath(&mut self, args: SyscallArgs) -> Option<Fast> {
        debug_assert!(self.current != NIL, "{}", crate::kernel::NO_CURRENT);
        match args.op {
            0 => Some(Fast::Return),
            8 => Some(Fast::Reply(self.invoke(args.cap, args.tag))),
            _ => self.fastpath_ipc(args),
        }
    }

    /// Where the `invoke` fastpath's data lie in this kernel, for an entry
    /// that answers [`ThreadOp::Ping`] in assembly before any Rust runs
    /// (both arch crates do: a Rust call would cost saving the return
    /// address and the stack, and clearing every register it may use).
    pub const INVOKE_LAYOUT: InvokeLayout = {
        let l = InvokeLayout {
            current: core::mem::offset_of!(Self, current),
            cap_bases: core::mem::offset_of!(Self, cap_bases),
            caps: core::mem::offset_of!(Self, caps),
            slot_shift: CapSlot::SIZE_SHIFT,
            slot_rights: core::mem::offset_of!(CapSlot, rights),
            slot_badge: core::mem::offset_of!(CapSlot, badge),
            thread_control: CapSlot::THREAD_CONTROL,
            ping_tag: ThreadOp::Ping.tag().0,
            cap_slots: CAP_SLOTS as Word,
        };
        assert!(l.current < l.cap_bases && l.cap_bases < l.caps && l.caps - l.current < 4096);
        l
    };

    /// `invoke` of the current thread: look up capability slot `cap` in its
    /// capability space, check the kind and the right, decode the op in
    /// `tag`'s label and run it. Never blocks and never switches: the arch
    /// returns to the caller with the [`Reply`].
    ///
    /// The one op today is [`ThreadOp::Ping`] on a thread capability with
    /// [`Rights::CONTROL`], answered here with one compare of the slot's
    /// kind-and-rights byte and one of the whole tag; everything else
    /// (errors included) is sorted out by the `#[cold]` general half, which
    /// gives the same answer for those two cases as well.
    #[inline(always)]
    pub fn invoke(&self, cap: Word, tag: MessageInfo) -> Reply {
        if cap < CAP_SLOTS as Word {
            // The slot is below CAP_SLOTS and the base a multiple of it, so
            // `base | slot` is the slot's index in the table of all of them
            // (and, a byte, needs no bounds check).
            let base = self.cap_bases[usize::from(self.current)];
            let i = usize::from(base) | cap as usize;
            if self.caps[i].rights == CapSlot::THREAD_CONTROL && tag == ThreadOp::Ping.tag() {
                return Reply { status: 0, value: self.caps[i].badge.0 };
            }
        }
        self.invoke_general(cap, tag)
    }

    /// [`Kernel::invoke`] for every case: the documented error of each bad
    /// argument, in the order of the checks (docs/abi.md "invoke").
    #[cold]
    #[inline(never)]
    pub(crate) fn invoke_general(&self, cap: Word, tag: MessageInfo) -> Reply {
        let args = SyscallArgs { op: 8, cap, tag };
        let (rights, badge) = match self.slot_cap(self.current, args) {
            Err(e) => return Reply::error(e),
            Ok(Cap::Null) => return Reply::error(Error::InvalidCap),
            Ok(Cap::Endpoint { .. } | Cap::Remote { .. }) => return Reply::error(Error::WrongCapType),
            Ok(Cap::Thread { rights, badge, .. }) => (rights, badge),
        };
        if !rights.contains(Rights::CONTROL) {
            return Reply::error(Error::NoRights);
        }
        if !tag.is_valid() {
            return Reply::error(Error::InvalidMessage);
        }
        match ThreadOp::from_label(tag.label()) {
            Some(ThreadOp::Ping) if tag.length() == 0 => Reply { status: 0, value: badge.0 },
            Some(ThreadOp::Ping) => Reply::error(Error::InvalidMessage),
            None => Reply::error(Error::UnknownOp),
        }
    }

    /// [`Kernel::fastpath`] for an entry that answers `null` itself (x86_64
    /// does, in its first two instructions): only `call` and `reply_recv`.
    #[inline(always)]
    pub fn fastpath_ipc(&mut self, args: SyscallArgs) -> Option<Fast> {
        let cur = self.current;
        debug_assert!(cur != NIL, "{}", crate::kernel::NO_CURRENT);
        match args.op {
            1 => self.fastpath_call::<false>(cur, args),
            2 => self.fastpath_reply_recv::<false>(cur, args),
            _ => None,
        }
    }

    /// A capability slot in range?
    #[inline(always)]
    fn fast_cap(args: SyscallArgs) -> bool {
        args.cap < CAP_SLOTS as Word
    }

    /// A register-only message (no flags: length in bits 0..7, flags in
    /// 7..16, so the low 16 bits are at most `MR_IN_REGS`)? With `LONG`, a
    /// valid tag longer than the registers (the low 16 bits above
    /// `MR_IN_REGS` and at most [`MSG_MAX_WORDS`]: one subtraction and one
    /// compare, after which the compiler knows the copy's length is in
    /// range). Checked apart from [`Self::fast_cap`], after the capability
    /// lookup: next to each other, LLVM builds both flags and combines
    /// them, two instructions more than two compare-and-branch pairs.
    #[inline(always)]
    fn fast_tag<const LONG: bool>(args: SyscallArgs) -> bool {
        let low = args.tag.0 as u16;
        if LONG {
            let first = A::MR_IN_REGS as u16 + 1;
            low.wrapping_sub(first) <= MSG_MAX_WORDS as u16 - first
        } else {
            low <= A::MR_IN_REGS as u16
        }
    }

    /// With `LONG`: copy the words of the message `tag` past the registers
    /// from thread `from`'s UTCB to thread `to`'s. `false` (and nothing
    /// copied) when either has no UTCB. Without `LONG`: nothing to do.
    /// `tag` passed [`Self::fast_tag`]: its low 16 bits are its length.
    #[inline(always)]
    fn fast_copy<const LONG: bool>(&self, from: u8, to: u8, tag: MessageInfo) -> bool {
        if !LONG {
            return true;
        }
        let (Some(src), Some(dst)) = (self.utcbs[usize::from(from)], self.utcbs[usize::from(to)]) else {
            return false;
        };
        // `fast_tag::<true>` passed: the low 16 bits, so the length, are
        // above `MR_IN_REGS` and at most `MSG_MAX_WORDS`.
        A::copy_words(dst, src, WordRange::checked(A::MR_IN_REGS, usize::from(tag.0 as u16)));
        true
    }

    /// `call` to an endpoint on which a receiver waits; with `LONG`, of a
    /// message of any length (its words past the registers copied last,
    /// after every check: [`Self::fastpath_long`]).
    #[inline(always)]
    pub(crate) fn fastpath_call<const LONG: bool>(&mut self, cur: u8, args: SyscallArgs) -> Option<Fast> {
        // ----- checks: any failure takes the slowpath -----
        if !Self::fast_cap(args) {
            return None;
        }
        // The slot number is below CAP_SLOTS: in eight bits, the sum is the
        // slot's index in the table of all of them.
        let slot = self.caps[usize::from(self.tcb(cur).cap_base.wrapping_add(args.cap as u8))];
        // An empty slot has no rights: one test checks kind and right.
        if !slot.grants(Rights::SEND) || !Self::fast_tag::<LONG>(args) {
            return None;
        }
        let ep = slot.ep;
        let dest = self.ep_mut(ep).recv.head;
        if dest == NIL || !self.fast_copy::<LONG>(cur, dest, args.tag) {
            return None;
        }
        // A thread waiting in `recv` holds no reply right (the general path
        // drops it before blocking), so the receiver's is free.
        debug_assert_eq!(self.tcb(dest).caller, NIL);

        // ----- point of no return -----
        let next = self.tcb(dest).next;
        self.ep_mut(ep).recv.head = next;
        let d = self.tcb_mut(dest);
        d.state = ThreadState::Ready;
        d.caller = cur;
        self.tcb_mut(cur).state = ThreadState::BlockedOnReply;
        self.activate(dest);
        Some(Fast::HandOff { thread: ThreadId(dest), badge: slot.badge.0 })
    }

    /// The fastpath for messages of any length: `call` and `reply_recv`
    /// with a valid tag, under the same checks as [`Self::fastpath`]. The
    /// words past the registers are copied from the sender's UTCB to the
    /// receiver's ([`Arch::copy_words`]) after the last check, so that
    /// `None` still means nothing was changed.
    ///
    /// Like [`Self::fastpath`], it reads and writes no message register:
    /// an entry calls it with the message still in the CPU's registers
    /// after [`Self::fastpath`] declined (both arch crates' boards do,
    /// from a `#[cold]` function of their own), and [`Kernel::syscall`]
    /// tries it with the whole context saved. The register-only fastpath
    /// is the same code without the copy and with the tag's length at most
    /// [`Arch::MR_IN_REGS`].
    #[inline(always)]
    pub fn fastpath_long(&mut self, args: SyscallArgs) -> Option<Fast> {
        let cur = self.current;
        match args.op {
            1 => self.fastpath_call::<true>(cur, args),
            2 => self.fastpath_reply_recv::<true>(cur, args),
            _ => None,
        }
    }

    /// [`Self::fastpath_long`] out of line, for [`Kernel::syscall`].
    #[cold]
    #[inline(never)]
    pub(crate) fn fastpath_long_cold(&mut self, args: SyscallArgs) -> Option<Fast> {
        self.fastpath_long(args)
    }

    /// `reply_recv`: reply to the waiting caller and wait on the endpoint,
    /// when no sender is queued there; with `LONG`, a reply of any length
    /// (as [`Self::fastpath_call`]).
    #[inline(always)]
    pub(crate) fn fastpath_reply_recv<const LONG: bool>(&mut self, cur: u8, args: SyscallArgs) -> Option<Fast> {
        // ----- checks -----
        if !Self::fast_cap(args) {
            return None;
        }
        // A held reply right always names a thread blocked on the reply
        // (killing a thread clears the rights that name it).
        let caller = self.tcb(cur).caller;
        if caller == NIL {
            return None;
        }
        debug_assert_eq!(self.tcb(caller).state, ThreadState::BlockedOnReply);
        let slot = self.caps[usize::from(self.tcb(cur).cap_base.wrapping_add(args.cap as u8))];
        if !slot.grants(Rights::RECV) || !Self::fast_tag::<LONG>(args) {
            return None;
        }
        let ep = slot.ep;
        if self.ep_mut(ep).send.head != NIL || !self.fast_copy::<LONG>(cur, caller, args.tag) {
            return None;
        }

        // ----- point of no return -----
        let c = self.tcb_mut(cur);
        c.caller = NIL;
        c.state = ThreadState::BlockedOnRecv { ep };
        self.ep_push(ep, cur, Dir::Recv);
        self.tcb_mut(caller).state = ThreadState::Ready;
        self.activate(caller);
        Some(Fast::HandOff { thread: ThreadId(caller), badge: 0 })
    }
}
