// SPDX-License-Identifier: MIT OR Apache-2.0
//! `ipc-core`: the kernel's decisions, with none of its machine code.
//!
//! This crate is the part of a microkernel that someone else can depend on to
//! build their own: kernel objects (tasks, threads, endpoints), capabilities
//! with rights and badges, synchronous IPC (`call`, `reply_recv`, `send`,
//! `recv`), the invocation of kernel objects (`invoke`: a thread's control
//! ops), the null system call, and the scheduler hand-off that makes IPC
//! cheap. It is `no_std`, contains no `unsafe`, and is generic over an
//! [`Arch`]: the architecture crate saves the user registers into an
//! [`Arch::Context`], calls [`Kernel::syscall`], and then resumes whatever
//! [`Next`] says.
//!
//! # Design principles
//!
//! * **ipc-core decides, the arch acts.** Nothing here knows a register
//!   number. The saved user context gives typed access to the syscall
//!   arguments and message registers ([`UserContext`]); address-space
//!   switches go through [`Arch::switch_space`].
//! * **Event-driven, one kernel stack per CPU.** A kernel entry runs to
//!   completion and names the thread to resume. There are no kernel threads
//!   and no kernel-stack switch on IPC: a context switch is "change the
//!   current thread, maybe change the address space".
//! * **Message registers are not copied on the fastpath.** The first
//!   [`Arch::MR_IN_REGS`] message words travel in CPU registers. When a `call`
//!   or `reply_recv` hands the CPU straight to its partner, `regs_from` of [`Next::Resume`]
//!   tells the arch to load the partner's argument registers from the
//!   *sender's* saved context: the message goes from the sender's registers
//!   into its save area and out into the receiver's registers, and no word is
//!   copied in between. Longer messages add the UTCB words.
//! * **Check, then commit.** The fastpath ([`fastpath`]) runs cheap checks,
//!   each of which falls to the general (`#[cold]`) slowpath; past its point of
//!   no return nothing can fail.
//! * **Every bad argument is an error code, never a crash.** A bad syscall
//!   number, an empty or wrong capability, a missing right, an overlong
//!   message: the caller gets an [`Error`] in its status register.

#![no_std]
#![forbid(unsafe_code)]

mod arch;
mod kernel;
mod object;
mod types;

pub mod fastpath;
#[cfg(test)]
mod tests;
#[cfg(any(test, feature = "mock"))]
pub mod mock;

pub use arch::{Arch, SyscallArgs, UserContext};
pub use fastpath::{Fast, InvokeLayout, Reply};
pub use kernel::{Kernel, Next, NoServices, RemoteKind, RemoteMsg, Services, ThreadInfo, REMOTE_WORDS};
pub use object::{Cap, ThreadState, Utcb};
pub use types::{
    Badge, EndpointId, Error, MessageInfo, Rights, Syscall, TaskId, ThreadId, ThreadOp, Word, CAP_SLOTS,
    MAX_ENDPOINTS, MAX_TASKS, MAX_THREADS, MSG_MAX_WORDS, SERVICE_BASE,
};
