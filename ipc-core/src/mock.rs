// SPDX-License-Identifier: MIT OR Apache-2.0
//! `MockArch`: a host-side architecture for tests.
//!
//! Its context is a plain array of registers, its address-space switch
//! appends to a per-test-thread log. [`Machine`] is the conformance
//! suite's harness ([`crate::conformance::Machine`]) on it: it plays the
//! part of the arch entry and exit code for any `Arch`.

extern crate std;

use std::cell::RefCell;
use std::vec::Vec;

use crate::arch::{Arch, SyscallArgs, UserContext};
use crate::kernel::Services;
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

/// A host CPU running a [`Kernel<MockArch>`](crate::Kernel) with
/// [`MockServices`]: the conformance suite's harness on the mock
/// architecture, as ipc-core's own tests use it.
pub type Machine = crate::conformance::Machine<MockArch, MockServices>;
