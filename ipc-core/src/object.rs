// SPDX-License-Identifier: MIT OR Apache-2.0
//! Kernel objects: threads, tasks, endpoints, capabilities, UTCBs.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::arch::Arch;
use crate::types::{Badge, EndpointId, Rights, TaskId, ThreadId, Word, MSG_MAX_WORDS};

/// The user thread control block: the part of a thread that user code can
/// read and write directly. Message registers beyond the ones in CPU
/// registers live here (word `i` is message register `i`).
///
/// The UTCB is user memory, so user code may change it at any time; the
/// kernel therefore accesses it only with relaxed atomic loads and stores,
/// which compile to plain moves.
#[repr(C, align(4096))]
pub struct Utcb {
    /// Message registers; the first `Arch::MR_IN_REGS` are unused here.
    pub mr: [AtomicU64; MSG_MAX_WORDS + 1],
}

impl Utcb {
    /// An all-zero UTCB.
    pub const fn new() -> Self {
        Utcb { mr: [const { AtomicU64::new(0) }; MSG_MAX_WORDS + 1] }
    }
    /// Read word `i`.
    #[inline(always)]
    pub fn get(&self, i: usize) -> Word {
        self.mr[i].load(Ordering::Relaxed)
    }
    /// Write word `i`.
    #[inline(always)]
    pub fn set(&self, i: usize, v: Word) {
        self.mr[i].store(v, Ordering::Relaxed)
    }
}

impl Default for Utcb {
    fn default() -> Self {
        Self::new()
    }
}

/// A capability: a reference to a kernel object with rights and a badge.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Cap {
    /// An empty slot.
    #[default]
    Null,
    /// An endpoint.
    Endpoint {
        /// The endpoint.
        ep: EndpointId,
        /// What the holder may do with it.
        rights: Rights,
        /// Stamped on every message sent through this capability.
        badge: Badge,
    },
}

/// What a thread is doing.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum ThreadState {
    /// Never started, or freed.
    #[default]
    Inactive,
    /// Runnable: the current thread or on the run queue.
    Ready,
    /// Queued on an endpoint with a message to deliver.
    BlockedOnSend {
        /// The endpoint.
        ep: EndpointId,
        /// Sent by `call`: the sender then waits for a reply.
        call: bool,
    },
    /// Queued on an endpoint, waiting for a message.
    BlockedOnRecv {
        /// The endpoint.
        ep: EndpointId,
    },
    /// Sent a `call` that was received; waits for the reply.
    BlockedOnReply,
    /// Ended (by `exit`) or killed (by a fault).
    Dead,
}

/// Sentinel for "no thread" in the intrusive queues.
pub(crate) const NIL: u8 = u8::MAX;

/// The scheduling and IPC state of a thread (its registers, UTCB and queued
/// badge live in parallel arrays of the [`crate::Kernel`], so that this hot
/// part stays small: 32 bytes, a shift away from its index).
#[repr(C, align(32))]
pub struct Tcb<A: Arch> {
    /// Scheduling / IPC state.
    pub(crate) state: ThreadState,
    /// The task (address space, capabilities) the thread runs in.
    pub(crate) task: TaskId,
    /// Next thread in the queue this thread is on (endpoint or run queue).
    pub(crate) next: u8,
    /// The thread waiting for this one's reply (the implicit reply right).
    pub(crate) caller: u8,
    /// The task's address space, cached for the switch.
    pub(crate) space: A::Space,
}

impl<A: Arch> Tcb<A> {
    pub(crate) fn empty() -> Self {
        Tcb { state: ThreadState::Inactive, task: TaskId(0), next: NIL, caller: NIL, space: A::NO_SPACE }
    }
}

/// Which kind of thread waits on an endpoint (seL4: the queue holds only one
/// kind at a time).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(crate) enum EpState {
    /// Nobody waits.
    #[default]
    Idle,
    /// Senders wait.
    Send,
    /// Receivers wait.
    Recv,
}

/// A FIFO of threads, linked through [`Tcb::next`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Queue {
    pub(crate) head: u8,
    pub(crate) tail: u8,
}

impl Queue {
    pub(crate) const EMPTY: Queue = Queue { head: NIL, tail: NIL };
}

/// An endpoint: the rendezvous point of synchronous IPC.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(8))]
pub struct Endpoint {
    pub(crate) state: EpState,
    pub(crate) queue: Queue,
    pub(crate) live: bool,
}

impl Endpoint {
    pub(crate) const EMPTY: Endpoint =
        Endpoint { state: EpState::Idle, queue: Queue::EMPTY, live: false };
}

/// Is `id` a real thread index (not [`NIL`])?
#[inline(always)]
pub(crate) fn some(id: u8) -> Option<ThreadId> {
    if id == NIL { None } else { Some(ThreadId(id)) }
}
