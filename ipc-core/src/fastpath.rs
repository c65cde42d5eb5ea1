// SPDX-License-Identifier: MIT OR Apache-2.0
//! The IPC fastpath: `call` and `reply_recv` between two threads of one CPU,
//! with the message in registers.
//!
//! Structure (after seL4's `fastpath_call` / `fastpath_reply_recv`): a run of
//! cheap checks, each of which gives up with `None` so that
//! [`crate::Kernel::syscall`] falls through to the general path; then the
//! **point of no return**, after which nothing can fail and the state is
//! committed. The message itself is never touched: the returned
//! [`Next::Resume`] names the sender as `regs_from`, so the arch loads the
//! receiver's argument registers straight out of the sender's save area.
//!
//! The fastpath produces exactly the state the slowpath would, except that
//! the message is not copied into the receiver's saved context (it is loaded
//! into its CPU registers directly). The host tests run every scenario both
//! ways and compare.

use crate::arch::{Arch, SyscallArgs, UserContext};
use crate::kernel::{Kernel, Next};
use crate::object::{Cap, EpState, ThreadState, NIL};
use crate::types::{Rights, ThreadId, Word, CAP_SLOTS, MAX_TASKS};

impl<A: Arch> Kernel<A> {
    /// Is the tag a register-only message with no flags? (Length in bits
    /// 0..7, flags in 7..16: the low 16 bits are at most `MR_IN_REGS`.)
    #[inline(always)]
    fn fits_in_regs(tag: Word) -> bool {
        (tag & 0xffff) <= A::MR_IN_REGS as Word
    }

    /// `call` to an endpoint on which a receiver waits.
    #[inline(always)]
    pub(crate) fn fastpath_call(&mut self, cur: u16, args: SyscallArgs) -> Option<Next> {
        // ----- checks: any failure takes the slowpath -----
        if !Self::fits_in_regs(args.tag.0) || args.cap >= CAP_SLOTS as Word {
            return None;
        }
        let task = self.tcb(cur).task;
        let Cap::Endpoint { ep, rights, badge } =
            self.caps[task.0 as usize % MAX_TASKS][args.cap as usize]
        else {
            return None;
        };
        if !rights.contains(Rights::SEND) {
            return None;
        }
        let e = *self.ep_mut(ep);
        if e.state != EpState::Recv {
            return None;
        }
        let dest = e.queue.head;
        if self.tcb(dest).caller != NIL {
            return None; // it still holds a reply right: the slowpath settles it
        }

        // ----- point of no return -----
        self.ep_pop(ep);
        let d = self.tcb_mut(dest);
        d.state = ThreadState::Ready;
        d.caller = cur;
        self.tcb_mut(cur).state = ThreadState::BlockedOnReply;
        self.ctx_mut(cur).set_recv_badge(badge.0);
        self.activate(dest);
        Some(Next::Resume { thread: ThreadId(dest), regs_from: ThreadId(cur) })
    }

    /// `reply_recv`: reply to the waiting caller and wait on the endpoint,
    /// when no sender is queued there.
    #[inline(always)]
    pub(crate) fn fastpath_reply_recv(&mut self, cur: u16, args: SyscallArgs) -> Option<Next> {
        // ----- checks -----
        if !Self::fits_in_regs(args.tag.0) || args.cap >= CAP_SLOTS as Word {
            return None;
        }
        let caller = self.tcb(cur).caller;
        if caller == NIL || self.tcb(caller).state != ThreadState::BlockedOnReply {
            return None;
        }
        let task = self.tcb(cur).task;
        let Cap::Endpoint { ep, rights, .. } =
            self.caps[task.0 as usize % MAX_TASKS][args.cap as usize]
        else {
            return None;
        };
        if !rights.contains(Rights::RECV) || self.ep_mut(ep).state == EpState::Send {
            return None;
        }

        // ----- point of no return -----
        let c = self.tcb_mut(cur);
        c.caller = NIL;
        c.state = ThreadState::BlockedOnRecv { ep };
        self.ctx_mut(cur).set_recv_badge(0);
        self.ep_push(ep, cur, EpState::Recv);
        self.tcb_mut(caller).state = ThreadState::Ready;
        self.activate(caller);
        Some(Next::Resume { thread: ThreadId(caller), regs_from: ThreadId(cur) })
    }
}
