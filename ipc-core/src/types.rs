// SPDX-License-Identifier: MIT OR Apache-2.0
//! Plain value types of the kernel ABI: identifiers, the message tag, rights,
//! badges, syscall numbers and error codes. `docs/abi.md` is their prose
//! description; the numbers here are the contract.

/// A machine word: a message register, a badge, a tag.
pub type Word = u64;

/// Number of thread control blocks a [`crate::Kernel`] holds. Thread and
/// endpoint indices are bytes and their tables have 256 entries (index 255
/// is the "none" marker), so an index needs neither a mask nor a bounds
/// check on the fastpath.
pub const MAX_THREADS: usize = 255;
/// Number of tasks (address space + capability table).
pub const MAX_TASKS: usize = 16;
/// Number of endpoints.
pub const MAX_ENDPOINTS: usize = 255;
/// Capability slots per task. All tasks' tables together are 256 slots
/// (`MAX_TASKS * CAP_SLOTS`), so a slot's index in them is a byte: the
/// fastpath adds the thread's table base and the (checked) slot number in
/// eight bits and needs no mask and no bounds check.
pub const CAP_SLOTS: usize = 16;
/// Longest message in words (register message registers plus UTCB words).
pub const MSG_MAX_WORDS: usize = 63;
/// First syscall number that the kernel hands to the runtime's
/// [`crate::Services`] (console, result reports, ...).
pub const SERVICE_BASE: Word = 16;

/// Index of a thread control block.
#[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord, Hash)]
pub struct ThreadId(pub u8);

/// Index of a task.
#[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord, Hash)]
pub struct TaskId(pub u16);

/// Index of an endpoint.
#[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord, Hash)]
pub struct EndpointId(pub u8);

/// The word a capability stamps on every message sent through it, so a
/// server can tell its clients apart (seL4's badge, L4's label of the gate).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Hash)]
pub struct Badge(pub Word);

/// Rights a capability grants on its object.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Hash)]
pub struct Rights(pub u8);

impl Rights {
    /// May send (`send`, `call`) to the endpoint.
    pub const SEND: Rights = Rights(1);
    /// May receive (`recv`, `reply_recv`) from the endpoint.
    pub const RECV: Rights = Rights(2);
    /// Both.
    pub const ALL: Rights = Rights(3);
    /// May invoke the control ops of the thread (a thread capability's
    /// right, [`crate::ThreadOp`]). Bit 2, so that no thread capability
    /// ever carries the bits the IPC fastpath tests for an endpoint.
    pub const CONTROL: Rights = Rights(4);

    /// Does `self` include every right in `other`?
    #[inline(always)]
    pub const fn contains(self, other: Rights) -> bool {
        self.0 & other.0 == other.0
    }
}

/// The message tag ("message info"): label, length and flags in one word.
///
/// | bits   | field  |
/// |--------|--------|
/// | 0..7   | length in words (0..=63) |
/// | 7..16  | flags (reserved, must be zero) |
/// | 16..64 | label (free for the protocol) |
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Hash)]
pub struct MessageInfo(pub Word);

impl MessageInfo {
    pub(crate) const LEN_MASK: Word = 0x7f;
    const FLAGS_MASK: Word = 0xff80;

    /// A tag with `label` (48 bits) and `length` words.
    #[inline(always)]
    pub const fn new(label: Word, length: usize) -> Self {
        MessageInfo((label << 16) | (length as Word & Self::LEN_MASK))
    }
    /// The protocol label.
    #[inline(always)]
    pub const fn label(self) -> Word {
        self.0 >> 16
    }
    /// Number of message words.
    #[inline(always)]
    pub const fn length(self) -> usize {
        (self.0 & Self::LEN_MASK) as usize
    }
    /// Reserved flag bits; non-zero is an error today.
    #[inline(always)]
    pub const fn flags(self) -> Word {
        (self.0 & Self::FLAGS_MASK) >> 7
    }
    /// Is the tag well-formed: length at most [`MSG_MAX_WORDS`], no flags?
    #[inline(always)]
    pub const fn is_valid(self) -> bool {
        self.0 & Self::FLAGS_MASK == 0 && self.length() <= MSG_MAX_WORDS
    }
}

/// System call numbers (the value of the syscall-number register).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u64)]
pub enum Syscall {
    /// Returns at once with status 0: the `null` benchmark.
    Null = 0,
    /// Send to an endpoint, then wait for the reply.
    Call = 1,
    /// Reply to the caller (if any), then wait on an endpoint.
    ReplyRecv = 2,
    /// Send to an endpoint; blocks until a receiver takes the message.
    Send = 3,
    /// Wait for a message on an endpoint.
    Recv = 4,
    /// Reply to the caller without waiting.
    Reply = 5,
    /// Give the CPU to the next ready thread.
    Yield = 6,
    /// End the calling thread.
    Exit = 7,
    /// Invoke the kernel object in a capability: the op is the tag's label,
    /// the reply a status and one result word (the `syscall` benchmark).
    Invoke = 8,
}

impl Syscall {
    /// Decode a syscall number; `None` for numbers the core does not know
    /// (which may still be service calls, see [`SERVICE_BASE`]).
    #[inline(always)]
    pub const fn from_word(w: Word) -> Option<Syscall> {
        Some(match w {
            0 => Syscall::Null,
            1 => Syscall::Call,
            2 => Syscall::ReplyRecv,
            3 => Syscall::Send,
            4 => Syscall::Recv,
            5 => Syscall::Reply,
            6 => Syscall::Yield,
            7 => Syscall::Exit,
            8 => Syscall::Invoke,
            _ => return None,
        })
    }
}

/// Error codes returned in the status register. 0 means success.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u64)]
pub enum Error {
    /// Unknown syscall number.
    InvalidSyscall = 1,
    /// The capability slot is out of range or empty.
    InvalidCap = 2,
    /// The capability names the wrong kind of object for this call.
    WrongCapType = 3,
    /// The capability lacks a right the call needs.
    NoRights = 4,
    /// The message tag is malformed (length over 63 words, reserved flags).
    InvalidMessage = 5,
    /// `reply` without a caller to reply to.
    NoCaller = 6,
    /// An argument of a service call is out of range.
    InvalidArgument = 7,
    /// The partner thread died while this thread waited for it.
    PartnerDied = 8,
    /// The runtime does not implement this service call.
    UnsupportedService = 9,
    /// `invoke`: the object has no op with the tag's label.
    UnknownOp = 10,
}

impl Error {
    /// The status word the caller sees.
    #[inline(always)]
    pub const fn code(self) -> Word {
        self as Word
    }
}

/// The ops of a thread capability: the label of an `invoke` tag.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u64)]
pub enum ThreadOp {
    /// A control op that returns early (what L4Re's syscall benchmark
    /// invokes on its own thread): no words in, none changed; the reply is
    /// status 0 and the capability's badge as the result word.
    Ping = 1,
}

impl ThreadOp {
    /// The `invoke` tag of `op`: its label, no words, no flags.
    #[inline(always)]
    pub const fn tag(self) -> MessageInfo {
        MessageInfo::new(self as Word, 0)
    }

    /// Decode a label; `None` for labels no thread op has.
    #[inline(always)]
    pub const fn from_label(label: Word) -> Option<ThreadOp> {
        match label {
            1 => Some(ThreadOp::Ping),
            _ => None,
        }
    }
}
