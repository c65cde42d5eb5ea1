// SPDX-License-Identifier: MIT OR Apache-2.0
//! `MockArch`: a host-side architecture for tests.
//!
//! Its context is a plain array of registers, its address-space switch
//! appends to a per-test-thread log, and [`Machine`] plays the part of the
//! arch entry and exit code: it saves the "CPU registers" into the current
//! thread's context, calls [`Kernel::syscall`], and loads the registers of
//! whatever [`Next`] names, taking the argument registers from `regs_from`
//! exactly as the real exit paths do. With [`Machine::live_fastpath`] (the
//! default) it first tries [`Kernel::fastpath`] with the message registers
//! still "in the CPU", as the x86_64 entry does.

extern crate std;

use std::cell::RefCell;
use std::vec::Vec;

use crate::arch::{Arch, SyscallArgs, UserContext};
use crate::fastpath::Fast;
use crate::kernel::{Kernel, Next, Services};
use crate::object::Utcb;
use crate::types::{Error, MessageInfo, TaskId, ThreadId, Word};

/// Number of register message registers of the mock ABI (as on x86_64).
pub const MOCK_MRS: usize = 4;

/// Register indices of [`MockContext::regs`].
pub mod reg {
    /// Syscall number in, status out.
    pub const OP: usize = 0;
    /// Capability slot in, badge out.
    pub const CAP: usize = 1;
    /// Message tag.
    pub const TAG: usize = 2;
    /// First message register.
    pub const MR0: usize = 3;
    /// Program counter.
    pub const PC: usize = 7;
    /// Stack pointer.
    pub const SP: usize = 8;
    /// A preserved (callee-saved) register.
    pub const KEEP: usize = 9;
}

/// The mock register file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MockContext {
    /// The registers, indexed by [`reg`].
    pub regs: [Word; 10],
}

impl UserContext for MockContext {
    fn new_thread(entry: Word, stack: Word, arg: Word) -> Self {
        let mut regs = [0; 10];
        regs[reg::PC] = entry;
        regs[reg::SP] = stack;
        regs[reg::CAP] = arg;
        MockContext { regs }
    }
    fn syscall_args(&self) -> SyscallArgs {
        SyscallArgs {
            op: self.regs[reg::OP],
            cap: self.regs[reg::CAP],
            tag: MessageInfo(self.regs[reg::TAG]),
        }
    }
    fn set_syscall_args(&mut self, args: SyscallArgs) {
        self.regs[reg::OP] = args.op;
        self.regs[reg::CAP] = args.cap;
        self.regs[reg::TAG] = args.tag.0;
    }
    fn mr(&self, i: usize) -> Word {
        self.regs[reg::MR0 + i]
    }
    fn set_mr(&mut self, i: usize, v: Word) {
        assert!(i < MOCK_MRS);
        self.regs[reg::MR0 + i] = v;
    }
    fn set_recv_result(&mut self, badge: Word, tag: MessageInfo) {
        self.regs[reg::OP] = 0;
        self.regs[reg::CAP] = badge;
        self.regs[reg::TAG] = tag.0;
    }
    fn set_recv_badge(&mut self, badge: Word) {
        self.regs[reg::OP] = 0;
        self.regs[reg::CAP] = badge;
    }
    fn set_status(&mut self, status: Word) {
        self.regs[reg::OP] = status;
    }
    fn stack_pointer(&self) -> Word {
        self.regs[reg::SP]
    }
    fn program_counter(&self) -> Word {
        self.regs[reg::PC]
    }
}

std::thread_local! {
    static SPACE_LOG: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// The mock architecture.
pub struct MockArch;

impl MockArch {
    /// Address spaces switched to on this test thread, oldest first; clears
    /// the log.
    pub fn take_space_log() -> Vec<u64> {
        SPACE_LOG.with(|l| core::mem::take(&mut *l.borrow_mut()))
    }
}

impl Arch for MockArch {
    type Context = MockContext;
    type Space = u64;
    const NO_SPACE: u64 = u64::MAX;
    const MR_IN_REGS: usize = MOCK_MRS;
    fn switch_space(space: u64) {
        SPACE_LOG.with(|l| l.borrow_mut().push(space));
    }
}

/// Services that record what they were asked and echo MR0 + 1 into MR0.
#[derive(Default, Debug)]
pub struct MockServices {
    /// (thread, task, op, mr0) of each service call.
    pub calls: Vec<(ThreadId, TaskId, Word, Word)>,
}

impl Services<MockArch> for MockServices {
    fn service(
        &mut self,
        thread: ThreadId,
        task: TaskId,
        op: Word,
        ctx: &mut MockContext,
        _utcb: Option<&Utcb>,
    ) -> Result<(), Error> {
        self.calls.push((thread, task, op, ctx.mr(0)));
        if op == 99 {
            return Err(Error::UnsupportedService);
        }
        ctx.set_mr(0, ctx.mr(0).wrapping_add(1));
        Ok(())
    }
}

/// A mock CPU running a [`Kernel<MockArch>`]: it holds the live register
/// file of the current thread.
pub struct Machine {
    /// The kernel.
    pub kernel: Kernel<MockArch>,
    /// The CPU registers (valid while a thread runs).
    pub cpu: MockContext,
    /// The runtime's services.
    pub services: MockServices,
    /// What the last kernel exit resumed.
    pub last: Next,
    /// Try the fastpath with live registers before saving the context.
    pub live_fastpath: bool,
}

impl Default for Machine {
    fn default() -> Self {
        Self::new()
    }
}

impl Machine {
    /// An empty machine.
    pub fn new() -> Self {
        Machine {
            kernel: Kernel::new(),
            cpu: MockContext::default(),
            services: MockServices::default(),
            last: Next::Idle,
            live_fastpath: true,
        }
    }

    /// Load the registers `next` names into the CPU (the arch exit path).
    pub fn exit_to(&mut self, next: Next) {
        self.last = next;
        if let Next::Resume { thread, regs_from } = next {
            let own = *self.kernel.context(thread);
            let src = *self.kernel.context(regs_from);
            self.cpu = own;
            for r in [reg::OP, reg::CAP, reg::TAG] {
                self.cpu.regs[r] = src.regs[r];
            }
            for i in 0..MOCK_MRS {
                self.cpu.regs[reg::MR0 + i] = src.regs[reg::MR0 + i];
            }
        }
    }

    /// Start the first ready thread.
    pub fn start(&mut self) -> Next {
        let n = self.kernel.schedule();
        self.exit_to(n);
        n
    }

    /// The running thread executes a syscall with these arguments (the other
    /// argument registers keep their values); returns what runs next.
    pub fn syscall(&mut self, op: Word, cap: Word, tag: MessageInfo, mrs: &[Word]) -> Next {
        self.cpu.regs[reg::OP] = op;
        self.cpu.regs[reg::CAP] = cap;
        self.cpu.regs[reg::TAG] = tag.0;
        for (i, v) in mrs.iter().enumerate() {
            self.cpu.regs[reg::MR0 + i] = *v;
        }
        self.enter()
    }

    /// Kernel entry with the current CPU registers.
    pub fn enter(&mut self) -> Next {
        let cur = self.kernel.current().expect("no thread is running");
        if self.live_fastpath {
            match self.kernel.fastpath(self.cpu.syscall_args()) {
                Some(Fast::Return) => {
                    self.cpu.set_recv_badge(0);
                    self.last = Next::Resume { thread: cur, regs_from: cur };
                    return self.last;
                }
                Some(Fast::HandOff { thread, badge }) => {
                    // Save what the caller keeps, load what the receiver
                    // keeps; the tag and message registers stay in the CPU.
                    for r in [reg::PC, reg::SP, reg::KEEP] {
                        self.kernel.context_mut(cur).regs[r] = self.cpu.regs[r];
                        self.cpu.regs[r] = self.kernel.context(thread).regs[r];
                    }
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

    /// The running thread faults.
    pub fn fault(&mut self) -> (Option<TaskId>, Next) {
        let cur = self.kernel.current().expect("no thread is running");
        *self.kernel.context_mut(cur) = self.cpu;
        let (t, n) = self.kernel.fault_current();
        self.exit_to(n);
        (t, n)
    }

    /// Status register of the CPU.
    pub fn status(&self) -> Word {
        self.cpu.regs[reg::OP]
    }
    /// Badge register of the CPU.
    pub fn badge(&self) -> Word {
        self.cpu.regs[reg::CAP]
    }
    /// Tag register of the CPU.
    pub fn tag(&self) -> MessageInfo {
        MessageInfo(self.cpu.regs[reg::TAG])
    }
    /// Message register `i` of the CPU.
    pub fn mr(&self, i: usize) -> Word {
        self.cpu.regs[reg::MR0 + i]
    }
    /// The running thread.
    pub fn running(&self) -> Option<ThreadId> {
        self.kernel.current()
    }
}
