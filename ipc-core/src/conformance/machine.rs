// SPDX-License-Identifier: MIT OR Apache-2.0
//! [`Machine`]: a host-side CPU for any [`Arch`], playing the part of the
//! arch's entry and exit code.
//!
//! It holds the "CPU registers" of the running thread as an
//! [`Arch::Context`] value. A syscall writes the arguments into them
//! through [`UserContext`], as user code would into the real registers;
//! the entry then either tries [`Kernel::fastpath`] with the registers
//! still "live" (as the x86_64 entry does, [`Machine::live_fastpath`]) or
//! saves them into the current thread's context and calls
//! [`Kernel::syscall`]; the exit loads the registers [`Next`] names, the
//! argument registers from `regs_from` ([`resume_context`]), exactly as
//! the real exit paths do.

extern crate std;

use crate::arch::{resume_context, Arch, SyscallArgs, UserContext};
use crate::fastpath::Fast;
use crate::kernel::{Kernel, Next, NoServices, Services};
use crate::types::{MessageInfo, TaskId, ThreadId, Word};

/// A host CPU running a [`Kernel<A>`] with services `S`: it holds the live
/// register file of the current thread.
pub struct Machine<A: Arch, S = NoServices> {
    /// The kernel.
    pub kernel: Kernel<A>,
    /// The CPU registers (valid while a thread runs).
    pub cpu: A::Context,
    /// The runtime's services.
    pub services: S,
    /// What the last kernel exit resumed.
    pub last: Next,
    /// Try the fastpath with live registers before saving the context.
    pub live_fastpath: bool,
}

impl<A: Arch, S: Services<A> + Default> Default for Machine<A, S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A: Arch, S: Services<A> + Default> Machine<A, S> {
    /// An empty machine: an empty kernel, no thread running.
    pub fn new() -> Self {
        Self::with_services(S::default())
    }
}

impl<A: Arch, S: Services<A>> Machine<A, S> {
    /// An empty machine with these services.
    pub fn with_services(services: S) -> Self {
        Machine {
            kernel: Kernel::new(),
            cpu: A::Context::new_thread(0, 0, 0),
            services,
            last: Next::Idle,
            live_fastpath: true,
        }
    }

    /// Load the registers `next` names into the CPU (the arch exit path).
    pub fn exit_to(&mut self, next: Next) {
        self.last = next;
        if let Next::Resume { thread, regs_from } = next {
            self.cpu = resume_context::<A>(self.kernel.context(thread), self.kernel.context(regs_from));
        }
    }

    /// Start the first ready thread ([`Kernel::schedule`]).
    pub fn start(&mut self) -> Next {
        let n = self.kernel.schedule();
        self.exit_to(n);
        n
    }

    /// The running thread executes a syscall with these arguments: word
    /// `i` of `mrs` goes into message register `i` below
    /// [`Arch::MR_IN_REGS`] and into the thread's UTCB above (the other
    /// registers and words keep their values). Returns what runs next.
    ///
    /// # Panics
    ///
    /// If no thread runs (call [`Machine::start`] first), or if `mrs` has
    /// words beyond the registers and the thread has no UTCB.
    pub fn syscall(&mut self, op: Word, cap: Word, tag: MessageInfo, mrs: &[Word]) -> Next {
        let cur = self.running_or_panic();
        self.cpu.set_syscall_args(SyscallArgs { op, cap, tag });
        for (i, v) in mrs.iter().enumerate() {
            if i < A::MR_IN_REGS {
                self.cpu.set_mr(i, *v);
            } else {
                let u = self.kernel.utcb(cur).expect("Machine::syscall: words beyond the registers need a UTCB");
                u.set(i, *v);
            }
        }
        self.enter()
    }

    /// Kernel entry with the current CPU registers.
    ///
    /// # Panics
    ///
    /// If no thread runs.
    pub fn enter(&mut self) -> Next {
        let cur = self.running_or_panic();
        if self.live_fastpath {
            match self.kernel.fastpath(self.cpu.syscall_args()) {
                Some(Fast::Return) => {
                    self.cpu.set_recv_badge(0);
                    self.last = Next::Resume { thread: cur, regs_from: cur };
                    return self.last;
                }
                Some(Fast::HandOff { thread, badge }) => {
                    // Save what the caller keeps (its argument registers
                    // are not stored: the message stays in the CPU), load
                    // what the receiver keeps.
                    let saved = resume_context::<A>(&self.cpu, self.kernel.context(cur));
                    let next = resume_context::<A>(self.kernel.context(thread), &self.cpu);
                    *self.kernel.context_mut(cur) = saved;
                    self.cpu = next;
                    self.cpu.set_recv_badge(badge);
                    self.last = Next::Resume { thread, regs_from: cur };
                    return self.last;
                }
                Some(Fast::Reply(r)) => {
                    self.cpu.set_recv_result(r.value, MessageInfo(0));
                    self.cpu.set_status(r.status);
                    self.last = Next::Resume { thread: cur, regs_from: cur };
                    return self.last;
                }
                None => {}
            }
        }
        *self.kernel.context_mut(cur) = self.cpu;
        let n = self.kernel.syscall(&mut self.services);
        self.exit_to(n);
        n
    }

    /// The running thread faults: its task is killed
    /// ([`Kernel::fault_current`]).
    ///
    /// # Panics
    ///
    /// If no thread runs.
    pub fn fault(&mut self) -> (Option<TaskId>, Next) {
        let cur = self.running_or_panic();
        *self.kernel.context_mut(cur) = self.cpu;
        let (t, n) = self.kernel.fault_current();
        self.exit_to(n);
        (t, n)
    }

    fn running_or_panic(&self) -> ThreadId {
        match self.kernel.current() {
            Some(t) => t,
            None => panic!("no thread is running (Machine::start not called, or every thread is blocked)"),
        }
    }

    /// Status register of the CPU (it is the syscall number's).
    pub fn status(&self) -> Word {
        self.cpu.syscall_args().op
    }
    /// Badge register of the CPU (it is the capability slot's).
    pub fn badge(&self) -> Word {
        self.cpu.syscall_args().cap
    }
    /// Tag register of the CPU.
    pub fn tag(&self) -> MessageInfo {
        self.cpu.syscall_args().tag
    }
    /// Message register `i` of the CPU (`i < Arch::MR_IN_REGS`).
    pub fn mr(&self, i: usize) -> Word {
        self.cpu.mr(i)
    }
    /// Message word `i` as the running thread sees it: a register below
    /// [`Arch::MR_IN_REGS`], its UTCB above (0 without one).
    pub fn word(&self, i: usize) -> Word {
        if i < A::MR_IN_REGS {
            return self.cpu.mr(i);
        }
        self.kernel.current().and_then(|t| self.kernel.utcb(t)).map_or(0, |u| u.get(i))
    }
    /// The running thread.
    pub fn running(&self) -> Option<ThreadId> {
        self.kernel.current()
    }
}
