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

/// UTCB words `from..to`, not empty and inside every [`Utcb`]
/// (`from < to <= MSG_MAX_WORDS + 1`): what [`Arch::copy_words`] copies.
/// The kernel makes one after checking a message's length; anyone else
/// with [`WordRange::new`], which checks.
///
/// [`Arch::copy_words`]: crate::Arch::copy_words
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WordRange {
    from: usize,
    to: usize,
}

impl WordRange {
    /// `from..to`, if it is not empty and lies inside a UTCB.
    pub const fn new(from: usize, to: usize) -> Option<WordRange> {
        if from < to && to <= MSG_MAX_WORDS + 1 { Some(WordRange { from, to }) } else { None }
    }

    /// `from..to`, which the caller has checked: `from < to <=
    /// MSG_MAX_WORDS + 1`.
    #[inline(always)]
    pub(crate) const fn checked(from: usize, to: usize) -> WordRange {
        debug_assert!(from < to && to <= MSG_MAX_WORDS + 1);
        WordRange { from, to }
    }

    /// The first word.
    #[inline(always)]
    pub const fn from(self) -> usize {
        self.from
    }

    /// One past the last word.
    #[inline(always)]
    pub const fn to(self) -> usize {
        self.to
    }

    /// How many words (at least 1).
    #[inline(always)]
    pub const fn len(self) -> usize {
        self.to - self.from
    }

    /// Never: a range has at least one word.
    pub const fn is_empty(self) -> bool {
        false
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
    /// An endpoint in another CPU's kernel: `call` only. The message (tag
    /// and register words) goes out through [`crate::Kernel::peek_outgoing`] / [`crate::Kernel::pop_outgoing`]
    /// and comes in there through [`crate::Kernel::remote_call`]; the reply
    /// comes back the same way.
    Remote {
        /// The CPU whose kernel holds the endpoint.
        cpu: u8,
        /// The endpoint there.
        ep: EndpointId,
        /// Stamped on every message sent through this capability.
        badge: Badge,
    },
    /// A thread: `invoke` runs its control ops ([`crate::ThreadOp`]).
    Thread {
        /// The thread.
        thread: ThreadId,
        /// What the holder may do with it ([`Rights::CONTROL`]; other
        /// rights are dropped).
        rights: Rights,
        /// Returned by [`crate::ThreadOp::Ping`], so the caller can tell
        /// which capability answered.
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
    /// Sent a `call` to an endpoint on another CPU; waits for the reply.
    BlockedOnRemoteReply,
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
    /// Index of the task's first capability slot in [`crate::Kernel`]'s
    /// table of all of them (`task * CAP_SLOTS`).
    pub(crate) cap_base: u8,
    /// The reply right of a `call` from another CPU: the caller's CPU and
    /// thread there (`remote_thread == NIL`: none). Kept apart from
    /// `caller`, so the fastpath, which sees `caller == NIL`, leaves such a
    /// reply to the general path at no cost.
    pub(crate) remote_cpu: u8,
    pub(crate) remote_thread: u8,
    /// Next thread in the queue this thread is on (endpoint or run queue).
    pub(crate) next: u8,
    /// The thread waiting for this one's reply (the implicit reply right).
    pub(crate) caller: u8,
    /// The task's address space, cached for the switch.
    pub(crate) space: A::Space,
}

impl<A: Arch> Tcb<A> {
    pub(crate) fn empty() -> Self {
        Tcb {
            state: ThreadState::Inactive,
            task: TaskId(0),
            cap_base: 0,
            remote_cpu: 0,
            remote_thread: NIL,
            next: NIL,
            caller: NIL,
            space: A::NO_SPACE,
        }
    }
}

/// A FIFO of threads, linked through [`Tcb::next`]. Empty when `head` is
/// [`NIL`]; `tail` is meaningful only when it is not, so emptying a queue
/// is one store and taking its head is a load and a store.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Queue {
    pub(crate) head: u8,
    pub(crate) tail: u8,
}

impl Queue {
    pub(crate) const EMPTY: Queue = Queue { head: NIL, tail: NIL };
}

/// Which queue of an endpoint.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Dir {
    /// Senders waiting for a receiver.
    Send,
    /// Receivers waiting for a sender.
    Recv,
}

/// An endpoint: the rendezvous point of synchronous IPC. It has a queue of
/// waiting receivers and one of waiting senders, at most one of them
/// non-empty at a time (a sender that finds a receiver does not queue, and
/// the other way round). Keeping them apart lets the fastpath ask "is a
/// receiver waiting?" with one load of its head.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(8))]
pub struct Endpoint {
    pub(crate) recv: Queue,
    pub(crate) send: Queue,
    pub(crate) live: bool,
}

impl Endpoint {
    pub(crate) const EMPTY: Endpoint = Endpoint { recv: Queue::EMPTY, send: Queue::EMPTY, live: false };

    /// The queue of `dir`.
    #[inline(always)]
    pub(crate) fn queue_mut(&mut self, dir: Dir) -> &mut Queue {
        match dir {
            Dir::Send => &mut self.send,
            Dir::Recv => &mut self.recv,
        }
    }
}

/// A capability as the kernel stores it: 16 bytes, the kind folded into
/// the rights byte (bit 7: an endpoint; bit 6: a remote endpoint; bit 5: a
/// thread; an empty slot is all zero), so the fastpath checks "an endpoint
/// capability with this right" with one test, and "a thread capability
/// with the control right" with one compare.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(C, align(16))]
pub(crate) struct CapSlot {
    /// The kind bit | the rights; 0 for an empty slot.
    pub(crate) rights: u8,
    /// The endpoint (when `rights` has [`CapSlot::ENDPOINT`] or
    /// [`CapSlot::REMOTE`]).
    pub(crate) ep: EndpointId,
    /// The CPU of a [`Cap::Remote`].
    pub(crate) cpu: u8,
    /// The thread of a [`Cap::Thread`].
    pub(crate) thread: u8,
    /// The badge stamped on messages sent through it (an endpoint), or
    /// returned by `ping` (a thread).
    pub(crate) badge: Badge,
}

const _: () = assert!(core::mem::size_of::<CapSlot>() == 1 << CapSlot::SIZE_SHIFT);

impl CapSlot {
    /// Kind bit: the slot holds an endpoint capability.
    pub(crate) const ENDPOINT: u8 = 0x80;
    /// Kind bit: the slot holds a [`Cap::Remote`] (its rights byte has no
    /// right bit, so the fastpath's one test declines it).
    pub(crate) const REMOTE: u8 = 0x40;
    /// Kind bit: the slot holds a [`Cap::Thread`]. Its only right is
    /// [`Rights::CONTROL`] (bit 2), never SEND or RECV, so the IPC
    /// fastpath's one test declines it too.
    pub(crate) const THREAD: u8 = 0x20;
    /// The rights byte of a thread capability that may run control ops:
    /// what the `invoke` fastpath compares with.
    pub(crate) const THREAD_CONTROL: u8 = Self::THREAD | Rights::CONTROL.0;
    /// log2 of the slot's size (the assembly `invoke` fastpath scales by it).
    pub(crate) const SIZE_SHIFT: u32 = 4;
    /// The right bits an endpoint capability keeps.
    const ENDPOINT_RIGHTS: u8 = Rights::ALL.0;
    /// An empty slot.
    pub(crate) const NULL: CapSlot =
        CapSlot { rights: 0, ep: EndpointId(0), cpu: 0, thread: 0, badge: Badge(0) };

    /// The stored form of `cap`.
    pub(crate) const fn new(cap: Cap) -> Self {
        match cap {
            Cap::Null => Self::NULL,
            Cap::Endpoint { ep, rights, badge } => CapSlot {
                rights: Self::ENDPOINT | (rights.0 & Self::ENDPOINT_RIGHTS),
                ep,
                badge,
                ..Self::NULL
            },
            Cap::Remote { cpu, ep, badge } => CapSlot { rights: Self::REMOTE, ep, cpu, badge, ..Self::NULL },
            Cap::Thread { thread, rights, badge } => CapSlot {
                rights: Self::THREAD | (rights.0 & Rights::CONTROL.0),
                thread: thread.0,
                badge,
                ..Self::NULL
            },
        }
    }

    /// The capability it holds.
    pub(crate) const fn cap(self) -> Cap {
        if self.rights & Self::REMOTE != 0 {
            Cap::Remote { cpu: self.cpu, ep: self.ep, badge: self.badge }
        } else if self.rights & Self::ENDPOINT != 0 {
            Cap::Endpoint {
                ep: self.ep,
                rights: Rights(self.rights & Self::ENDPOINT_RIGHTS),
                badge: self.badge,
            }
        } else if self.rights & Self::THREAD != 0 {
            Cap::Thread {
                thread: ThreadId(self.thread),
                rights: Rights(self.rights & Rights::CONTROL.0),
                badge: self.badge,
            }
        } else {
            Cap::Null
        }
    }

    /// Does it hold an endpoint capability with every right in `need`
    /// (which must be SEND, RECV or both)?
    #[inline(always)]
    pub(crate) const fn grants(self, need: Rights) -> bool {
        self.rights & need.0 == need.0
    }
}

/// Is `id` a real thread index (not [`NIL`])?
#[inline(always)]
pub(crate) fn some(id: u8) -> Option<ThreadId> {
    if id == NIL { None } else { Some(ThreadId(id)) }
}
