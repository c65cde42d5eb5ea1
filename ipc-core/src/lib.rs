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
//!
//! # Porting
//!
//! A port implements [`Arch`] (and [`UserContext`] for its context type)
//! and checks it on the host with the conformance suite (feature
//! `conformance`, module `conformance`): one `#[test]` calling
//! `ipc_core::conformance::run::<MyArch>()` reports every mistake the
//! suite can see as a named failed check. [`NoServices`] serves a kernel
//! without service calls; [`resume_context`] is the register rule of a
//! [`Next::Resume`] exit.
//!
//! # Examples
//!
//! These run on the host against `mock::MockArch` (feature `mock`), the
//! way a port's own tests run against its `Arch`.
//!
//! **Tasks, an endpoint and capabilities.** Two tasks, a server thread and
//! a client thread, one endpoint; the server may receive on it, the client
//! may send through it with a badge the server will see.
//!
//! ```
//! use ipc_core::mock::Machine;
//! use ipc_core::{Badge, Cap, Rights, Utcb};
//!
//! let utcb = || -> &'static Utcb { Box::leak(Box::new(Utcb::new())) };
//! let mut m = Machine::new();
//! let k = &mut m.kernel;
//! let server_task = k.create_task(0x1000).unwrap();
//! let client_task = k.create_task(0x2000).unwrap();
//! let ep = k.create_endpoint().unwrap();
//! k.set_cap(server_task, 1, Cap::Endpoint { ep, rights: Rights::RECV, badge: Badge(0) }).unwrap();
//! k.set_cap(client_task, 1, Cap::Endpoint { ep, rights: Rights::SEND, badge: Badge(0xB1) }).unwrap();
//! let server = k.create_thread(server_task, 0x40_0000, 0x7000, 1, Some(utcb())).unwrap();
//! let client = k.create_thread(client_task, 0x40_0000, 0x8000, 1, Some(utcb())).unwrap();
//! // A slot out of range is an error, not a panic.
//! assert!(k.set_cap(client_task, 99, Cap::Null).is_err());
//! m.start();
//! assert_eq!(m.running(), Some(server));
//! # let _ = client;
//! ```
//!
//! **`call` and `reply_recv`.** The server waits; the client's `call`
//! hands the CPU straight to it with the message and the badge, and the
//! server's `reply_recv` answers and waits again.
//!
//! ```
//! use ipc_core::mock::Machine;
//! use ipc_core::{Badge, Cap, MessageInfo, Rights, Syscall, Utcb};
//!
//! # let utcb = || -> &'static Utcb { Box::leak(Box::new(Utcb::new())) };
//! # let mut m = Machine::new();
//! # let k = &mut m.kernel;
//! # let st = k.create_task(0x1000).unwrap();
//! # let ct = k.create_task(0x2000).unwrap();
//! # let ep = k.create_endpoint().unwrap();
//! # k.set_cap(st, 1, Cap::Endpoint { ep, rights: Rights::RECV, badge: Badge(0) }).unwrap();
//! # k.set_cap(ct, 1, Cap::Endpoint { ep, rights: Rights::SEND, badge: Badge(0xB1) }).unwrap();
//! # let server = k.create_thread(st, 0x40_0000, 0x7000, 1, Some(utcb())).unwrap();
//! # let client = k.create_thread(ct, 0x40_0000, 0x8000, 1, Some(utcb())).unwrap();
//! # m.start();
//! // The server blocks in `recv`; the client runs.
//! m.syscall(Syscall::Recv as u64, 1, MessageInfo::new(0, 0), &[]);
//! assert_eq!(m.running(), Some(client));
//! // call: label 7, two words.
//! m.syscall(Syscall::Call as u64, 1, MessageInfo::new(7, 2), &[40, 2]);
//! assert_eq!(m.running(), Some(server));
//! assert_eq!((m.status(), m.badge(), m.tag()), (0, 0xB1, MessageInfo::new(7, 2)));
//! assert_eq!((m.mr(0), m.mr(1)), (40, 2));
//! // reply_recv: the answer goes back, the server waits again.
//! m.syscall(Syscall::ReplyRecv as u64, 1, MessageInfo::new(0, 1), &[42]);
//! assert_eq!(m.running(), Some(client));
//! assert_eq!((m.status(), m.mr(0)), (0, 42));
//! ```
//!
//! **A fault kills the task.** A thread that faults is not resumed: its
//! task is killed, and a client blocked on its reply gets
//! [`Error::PartnerDied`] instead of hanging.
//!
//! ```
//! use ipc_core::mock::Machine;
//! use ipc_core::{Badge, Cap, Error, MessageInfo, Rights, Syscall, ThreadState, Utcb};
//!
//! # let utcb = || -> &'static Utcb { Box::leak(Box::new(Utcb::new())) };
//! # let mut m = Machine::new();
//! # let k = &mut m.kernel;
//! # let st = k.create_task(0x1000).unwrap();
//! # let ct = k.create_task(0x2000).unwrap();
//! # let ep = k.create_endpoint().unwrap();
//! # k.set_cap(st, 1, Cap::Endpoint { ep, rights: Rights::RECV, badge: Badge(0) }).unwrap();
//! # k.set_cap(ct, 1, Cap::Endpoint { ep, rights: Rights::SEND, badge: Badge(0xB1) }).unwrap();
//! # let server = k.create_thread(st, 0x40_0000, 0x7000, 1, Some(utcb())).unwrap();
//! # let client = k.create_thread(ct, 0x40_0000, 0x8000, 1, Some(utcb())).unwrap();
//! # m.start();
//! m.syscall(Syscall::Recv as u64, 1, MessageInfo::new(0, 0), &[]);
//! m.syscall(Syscall::Call as u64, 1, MessageInfo::new(1, 0), &[]);
//! assert_eq!(m.running(), Some(server));
//! // The server faults (a bad access, say) while the client waits.
//! let (killed, _next) = m.fault();
//! assert_eq!(killed, Some(st));
//! assert_eq!(m.kernel.thread_info(server).map(|i| i.state), Some(ThreadState::Dead));
//! assert_eq!(m.running(), Some(client));
//! assert_eq!(m.status(), Error::PartnerDied as u64);
//! ```

#![no_std]
#![forbid(unsafe_code)]

mod arch;
mod kernel;
mod object;
mod types;

pub mod fastpath;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
#[cfg(test)]
mod tests;
#[cfg(any(test, feature = "mock"))]
pub mod mock;

// The crate README's examples, tested.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}

pub use arch::{resume_context, Arch, SyscallArgs, UserContext};
pub use fastpath::{Fast, InvokeLayout, Reply};
pub use kernel::{Kernel, Next, NoServices, RemoteKind, RemoteMsg, Services, ThreadInfo, REMOTE_WORDS};
pub use object::{Cap, ThreadState, Utcb, WordRange};
pub use types::{
    Badge, EndpointId, Error, MessageInfo, Rights, Syscall, TaskId, ThreadId, ThreadOp, Word, CAP_SLOTS,
    MAX_ENDPOINTS, MAX_TASKS, MAX_THREADS, MSG_MAX_WORDS, SERVICE_BASE,
};
