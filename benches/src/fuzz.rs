// SPDX-License-Identifier: MIT OR Apache-2.0
//! Seeded system-call fuzzing in user mode (`fuzz=N seed=S`; roles 48..=53).
//!
//! The runtime builds one *episode* at a time (`runtime/src/bench/fuzz.rs`):
//! five tasks in one kernel, each thread's job in its UTCB, and a scratch
//! page per thread. Everything random comes from a [`Rng`] seeded by the
//! runtime from the command line's seed and the episode number, so a seed
//! replays the same run.
//!
//! | task | threads (role) | what it does |
//! |---|---|---|
//! | 0, fuzz | two [`role::FUZZ`] | random syscalls ([`gen_input`]), each return checked against the model ([`expect`]) and the register rules ([`check`]) |
//! | 1, echo | two [`role::ECHO`] | `recv` / `reply_recv` on the echo and on the loop endpoint: answer every message with [`echo_word`] of it |
//! | 2, feed | two [`role::FEED`] | `send` and `call` on the feed and on the loop endpoint, a pattern of a counter ([`feed_word`]) |
//! | 3, victim | [`role::VICTIM`], [`role::VICTIM_SERVER`] | a private `call` / `reply_recv` exchange, a checksummed buffer, preserved registers: must be untouched by everything else |
//! | 4, faulter | [`role::FAULTER`] (some episodes) | a few checked echo calls, then a fault on purpose |
//!
//! The fuzz threads' capability table ([`slot`]) holds every kind the
//! kernel has: endpoints with each right, thread capabilities with and
//! without `CONTROL` (its own, its sibling's, the victim's), empty slots;
//! the inputs ([`gen_input`]) add slots out of range and huge, every syscall
//! number (all 64 bits), malformed tags, random message and UTCB words,
//! random stack pointers and flags. A fuzz thread may also end with a
//! fault on purpose ([`FaultKind`]), killing its task while the other
//! threads are blocked in IPC with it.
//!
//! Each return is checked three ways: the status is the one
//! `docs/abi.md` and the kernel's order of checks give for this input
//! and this state (a reply right held or not; [`Hold`]); the registers
//! are as the ABI says (preserved, zeroed, the message received); and
//! what was received is what the partner sent. A failure goes out as a
//! `fail` service call (MR1 = a [`what`] code); the stats go into UTCB
//! words 0..3 ([`stat`]), which the kernel never writes.
//!
//! The logic here is host-tested; `fuzz_sys` (one file per arch) holds
//! the stub that loads every register from the scratch page, makes the
//! call and stores every register back, and the faults.

use crate::abi::{nr, status, thread_op};
use crate::msg::Failure;

/// Roles of the fuzz episode (UTCB word 4).
pub mod role {
    /// A fuzz thread: random syscalls, each checked.
    pub const FUZZ: u64 = 48;
    /// The echo server.
    pub const ECHO: u64 = 49;
    /// The feeder: sends and calls for the fuzz threads to receive.
    pub const FEED: u64 = 50;
    /// The victim's client: private calls, checksummed memory.
    pub const VICTIM: u64 = 51;
    /// The victim's server.
    pub const VICTIM_SERVER: u64 = 52;
    /// The faulter: some echo calls, then a fault on purpose.
    pub const FAULTER: u64 = 53;
}

/// Is `r` a role of the fuzz episode?
pub const fn is_fuzz(r: u64) -> bool {
    matches!(r, role::FUZZ..=role::FAULTER)
}

/// Start-up words of the fuzz roles (beside [`crate::abi::word::ROLE`]).
pub mod word {
    /// Syscalls to make (fuzz, faulter), rounds (victim).
    pub const BUDGET: usize = 5;
    /// The thread's seed.
    pub const SEED: usize = 6;
    /// Fault on purpose at the end: 0 none, `k + 1` = [`super::FaultKind`] `k`.
    pub const END_FAULT: usize = 7;
    /// The thread's index in the episode (reported in `fail`).
    pub const INDEX: usize = 8;
    /// User address of the thread's scratch page.
    pub const SCRATCH: usize = 10;
}

/// What a fuzz thread leaves in UTCB words 0..3 (the kernel writes message
/// words from 4 up only), for the runtime to read after the episode.
pub mod stat {
    /// Syscalls issued so far.
    pub const COUNT: usize = 0;
    /// [`RUNNING`], [`DONE`], [`FAILED`] or [`FAULTING`].
    pub const STATE: usize = 1;
    /// The last syscall's number.
    pub const NR: usize = 2;
    /// The last syscall's capability slot.
    pub const CAP: usize = 3;
    /// Still at work (or blocked for good in IPC).
    pub const RUNNING: u64 = 0;
    /// The budget is used up; the thread exits.
    pub const DONE: u64 = 1;
    /// A check failed (and was reported).
    pub const FAILED: u64 = 2;
    /// About to raise its fault on purpose.
    pub const FAULTING: u64 = 3;
}

/// The fuzz task's capabilities and the badges (the runtime's copy is in
/// `runtime/src/bench/fuzz.rs`; docs/abi.md "Fuzzing").
pub mod layout {
    /// Echo endpoint, `SEND`.
    pub const ECHO: u64 = 1;
    /// Feed endpoint, `RECV`.
    pub const FEED: u64 = 2;
    /// Thread capability: fuzz thread 0, `CONTROL`.
    pub const THREAD0: u64 = 3;
    /// Thread capability: fuzz thread 1, `CONTROL`.
    pub const THREAD1: u64 = 4;
    /// Loop endpoint (the two fuzz threads), `SEND | RECV`.
    pub const LOOP_ALL: u64 = 5;
    /// Loop endpoint, `SEND`.
    pub const LOOP_SEND: u64 = 6;
    /// Loop endpoint, `RECV`.
    pub const LOOP_RECV: u64 = 7;
    /// Thread capability: the victim's client, `CONTROL`.
    pub const VICTIM: u64 = 8;
    /// Echo endpoint, no rights.
    pub const ECHO_NONE: u64 = 9;
    /// Thread capability: fuzz thread 0, no rights.
    pub const THREAD0_NONE: u64 = 10;

    /// Badge of [`ECHO`] (the echo server checks it).
    pub const B_ECHO: u64 = 0xEC0;
    /// Badge of the faulter's echo capability.
    pub const B_ECHO_FAULTER: u64 = 0xEC4;
    /// Badge of [`ECHO_NONE`].
    pub const B_ECHO_NONE: u64 = 0xEC9;
    /// Badge of the feeder's capability.
    pub const B_FEED: u64 = 0xFEED;
    /// Badge of the second feeder's capability (the loop endpoint).
    pub const B_FEED_LOOP: u64 = 0xFEE2;
    /// Badge of [`THREAD0`].
    pub const B_THREAD0: u64 = 0x7F0;
    /// Badge of [`THREAD1`].
    pub const B_THREAD1: u64 = 0x7F1;
    /// Badge of [`LOOP_ALL`].
    pub const B_LOOP_ALL: u64 = 0x100;
    /// Badge of [`LOOP_SEND`].
    pub const B_LOOP_SEND: u64 = 0x101;
    /// Badge of [`VICTIM`].
    pub const B_VICTIM: u64 = 0x71C;
    /// Badge of [`THREAD0_NONE`].
    pub const B_THREAD0_NONE: u64 = 0x7FA;
    /// Badge of the victim client's capability for its server.
    pub const B_VICTIM_EP: u64 = 0x71C7;
    /// Slot of the endpoint in the echo, feed, victim and faulter tasks
    /// (the echo and feed tasks' second thread: the loop endpoint in slot
    /// 2; each partner's slot is in its start-up word 14).
    pub const PARTNER_SLOT: u64 = 1;
    /// Slot of the victim client's `SEND` capability (its server: slot 1).
    pub const VICTIM_SEND: u64 = 2;
}

/// Check codes of a fuzz `fail` (its MR1; got and expected in MR2, MR3).
pub mod what {
    /// The status: got, expected (an exact code, or `1 << 63 | mask` of the
    /// codes allowed).
    pub const STATUS: u64 = 0x300;
    /// Register `i` of the arch's numbering ([`super::regs`]) is `REG + i`.
    pub const REG: u64 = 0x310;
    /// The badge received.
    pub const BADGE: u64 = 0x340;
    /// The tag received.
    pub const TAG: u64 = 0x341;
    /// Message word `k` received is `WORD + k`.
    pub const WORD: u64 = 0x342;
    /// UTCB word `k` (beyond what a message carried) changed: `UTCB + k`.
    pub const UTCB: u64 = 0x3C0;
    /// The victim's buffer changed (got: the word index).
    pub const VICTIM_MEMORY: u64 = 0x3A0;
    /// The echo server got a badge it does not know.
    pub const ECHO_BADGE: u64 = 0x3A2;
    /// A partner (echo, feed, victim) got an error status.
    pub const PARTNER_STATUS: u64 = 0x3A3;
    /// The victim's server got a wrong message (got, expected: word 0).
    pub const VICTIM_MESSAGE: u64 = 0x3A4;
    /// A fault on purpose did not fault (got: the kind, its variant in
    /// bits 8 and up).
    pub const SURVIVED: u64 = 0x3A5;
}

/// Scratch page layout (word indices): the stub's registers in and out.
pub mod scratch {
    /// First register in ([`super::regs`] numbering; 34 words).
    pub const IN: usize = 0;
    /// First register out (34 words).
    pub const OUT: usize = 40;
    /// The stub's own stack pointer while the call runs.
    pub const SAVED_SP: usize = 80;
    /// Arm: not 0 for `svc #0xffff` instead of `svc #0`.
    pub const SVC_IMM: usize = 82;
    /// Copy of the UTCB words sent (words 4..64 at `SENT + k`).
    pub const SENT: usize = 128;
    /// The victim's checksummed buffer.
    pub const VICTIM: usize = 256;
    /// Its length in words.
    pub const VICTIM_WORDS: usize = 256;
}

/// The register numbering of the stub (x86_64: `rax`..`r15` as 0..15;
/// AArch64: `x0`..`x30`, `sp` 31), the flags at [`regs::FLAGS`].
pub mod regs {
    /// The flags (x86 `rflags`, Arm `NZCV`).
    pub const FLAGS: usize = 32;
    /// Arm: the pc after the `svc` (the stub writes it; `x10` must hold it).
    pub const PC: usize = 33;
    /// Registers in each direction.
    pub const N: usize = 34;

    #[cfg(not(target_arch = "aarch64"))]
    mod arch {
        /// The registers the stub loads and stores: 0..GPRS (and FLAGS).
        pub const GPRS: usize = 16;
        /// The number in, the status out (`rax`).
        pub const NR: usize = 0;
        /// The slot in, the badge out (`rdi`).
        pub const CAP: usize = 7;
        /// The tag (`rsi`).
        pub const TAG: usize = 6;
        /// MR0..MR3 (`r12`..`r15`).
        pub const MR: [usize; 4] = [12, 13, 14, 15];
        /// The stack pointer.
        pub const SP: usize = 4;
        /// Holds the scratch page's address across the call.
        pub const BASE: usize = 3;
        /// Preserved by every call (besides [`BASE`]).
        pub const PRESERVED: &[usize] = &[5, 4];
        /// Returned as zero by every call but `null`.
        pub const ZEROED: &[usize] = &[2, 8, 9, 10];
        /// Of those, the ones a successful `invoke` (`ping`, answered by
        /// the entry's assembly fastpath) returns as they went in.
        pub const INVOKE_KEEPS: &[usize] = &[8, 9, 10];
        /// Does `invoke` return the caller's own flags (else
        /// [`FLAGS_AFTER`])?
        pub const INVOKE_KEEPS_FLAGS: bool = false;
        /// Returned as zero by every call, `null` included.
        pub const ALWAYS_ZERO: &[usize] = &[];
        /// Arm `x10`/`x11` (pc, sp): none.
        pub const PC_SP: Option<(usize, usize)> = None;
        /// The flags every call but `null` returns.
        pub const FLAGS_AFTER: u64 = 0x2;
        /// Flag bits the fuzz threads set at random: CF PF AF ZF SF DF OF
        /// NT AC ID (not TF: a single-step trap is a fault kind of its own).
        pub const FLAGS_FUZZ: u64 = 0x0024_4CD5;
    }
    #[cfg(target_arch = "aarch64")]
    mod arch {
        /// The registers the stub loads and stores: 0..GPRS (and FLAGS).
        pub const GPRS: usize = 32;
        /// The number in, the status out (`x8`).
        pub const NR: usize = 8;
        /// The slot in, the badge out (`x0`).
        pub const CAP: usize = 0;
        /// The tag (`x1`).
        pub const TAG: usize = 1;
        /// MR0..MR3 (`x20`..`x23`).
        pub const MR: [usize; 4] = [20, 21, 22, 23];
        /// The stack pointer.
        pub const SP: usize = 31;
        /// Holds the scratch page's address across the call.
        pub const BASE: usize = 28;
        /// Preserved by every call (besides [`BASE`]).
        pub const PRESERVED: &[usize] = &[19, 24, 25, 26, 27, 29, 31];
        /// Returned as zero by every call but `null`.
        pub const ZEROED: &[usize] = &[2, 3, 4, 5, 6, 7, 12, 13, 14, 15, 16, 17, 18, 30];
        /// Of those (and `x11`), the ones a successful `invoke` (`ping`,
        /// answered by the vector's assembly fastpath, which touches
        /// `x8`-`x10`, `x0`, `x1` only) returns as they went in.
        pub const INVOKE_KEEPS: &[usize] = &[2, 3, 4, 5, 6, 7, 11, 12, 13, 14, 15, 16, 17, 18, 30];
        /// Does `invoke` return the caller's own flags (`SPSR` untouched)?
        pub const INVOKE_KEEPS_FLAGS: bool = true;
        /// Returned as zero by every call, `null` included.
        pub const ALWAYS_ZERO: &[usize] = &[9];
        /// The registers that return the caller's pc and sp (`x10`, `x11`).
        pub const PC_SP: Option<(usize, usize)> = Some((10, 11));
        /// The flags every call but `null` returns.
        pub const FLAGS_AFTER: u64 = 0;
        /// NZCV.
        pub const FLAGS_FUZZ: u64 = 0xF000_0000;
    }
    pub use arch::*;

    /// The bit mask of the registers in `list` (a test of a bit, not of a
    /// list: LLVM turns `contains` into SIMD, which EL0 does not have).
    pub const fn mask(list: &[usize]) -> u64 {
        let mut m = 0;
        let mut k = 0;
        while k < list.len() {
            m |= 1 << list[k];
            k += 1;
        }
        m
    }

    /// Is register `i` in `mask`?
    #[inline(always)]
    pub const fn has(mask: u64, i: usize) -> bool {
        i < 64 && (mask >> i) & 1 == 1
    }
}

/// A splitmix64 stream: small, fast, and every seed (0 too) gives a full
/// period of 2^64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// A number below `n` (`n` > 0; the tiny bias does not matter here).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `p`/256.
    #[inline]
    pub fn chance(&mut self, p: u64) -> bool {
        self.next_u64() & 0xFF < p
    }
}

/// splitmix64's output function: a bijection that spreads every input bit.
pub const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A value biased toward the edges: 0, 1, all ones, the sign bit, the
/// 32-bit boundary, powers of two and their neighbours, kernel and
/// non-canonical addresses, small numbers, or anything.
pub fn edge(r: &mut Rng) -> u64 {
    match r.below(12) {
        0 => 0,
        1 => 1,
        2 => u64::MAX,
        3 => 1 << 63,
        4 => match r.below(4) {
            0 => 1 << 32,
            1 => (1 << 32) - 1,
            2 => 1 << 31,
            _ => (1 << 31) - 1,
        },
        5 => {
            let p = 1u64 << r.below(64);
            match r.below(4) {
                0 => p,
                1 => p.wrapping_sub(1),
                2 => p.wrapping_add(1),
                _ => !p,
            }
        }
        6 => 0xFFFF_FFFF_8000_0000 + (r.below(0x100) << 12),
        7 => 0x0000_8000_0000_0000 + r.below(0x1000),
        8 => r.below(64),
        9 => r.below(0x1_0000),
        _ => r.next_u64(),
    }
}

/// The syscall number of one input: IPC and `invoke` most often, then
/// `null`, `yield`, the holes, the service calls, and any 64-bit value
/// (calls with bits above the low 32 among them). Never `exit` (the end of
/// the thread is planned) and never a service call that reports (17..=20:
/// those are the benchmarks' channel to the runtime); `putc` only with a
/// byte count it must refuse ([`gen_input`]).
pub fn gen_nr(r: &mut Rng) -> u64 {
    let n = match r.below(100) {
        0..=39 => 1 + r.below(5),  // call, reply_recv, send, recv, reply
        40..=51 => nr::INVOKE,
        52..=59 => nr::NULL,
        60..=65 => nr::YIELD,
        66..=73 => 9 + r.below(7), // holes below the services
        74..=81 => 16 + r.below(24),
        82..=89 => r.below(9) | (1 << (32 + r.below(32))), // a call number with high bits
        _ => edge(r),
    };
    match n {
        nr::EXIT => nr::NULL,
        17..=20 => n + 100,
        _ => n,
    }
}

/// A capability slot: the valid ones most often (every kind of the
/// table), then out of range, then huge.
pub fn gen_cap(r: &mut Rng) -> u64 {
    match r.below(100) {
        0..=69 => r.below(16),
        70..=79 => 16 + r.below(240),
        80..=84 => (1 << 32) | r.below(16),
        _ => edge(r),
    }
}

/// A tag: `label << 16 | flags << 7 | length`; mostly valid, with the
/// lengths in registers and in the UTCB, sometimes flags or a length over
/// 63; the label small (`ping` = 1 often), any, or at the edges.
pub fn gen_tag(r: &mut Rng) -> u64 {
    let label = match r.below(4) {
        0 => thread_op::PING,
        1 => r.below(4),
        2 => edge(r) >> 16,
        _ => r.next_u64() >> 16,
    };
    let len = match r.below(10) {
        0..=3 => r.below(5),
        4..=7 => r.below(64),
        8 => 64 + r.below(64),
        _ => 63,
    };
    let flags = if r.chance(40) { r.below(512) } else { 0 };
    if r.chance(8) {
        return edge(r);
    }
    label << 16 | flags << 7 | len
}

/// Is `tag` valid (length at most 63, no flags)?
pub const fn tag_valid(tag: u64) -> bool {
    tag & 0xFFFF <= 63
}

/// Its length field.
pub const fn tag_len(tag: u64) -> u64 {
    tag & 0x7F
}

/// What a capability slot of the fuzz task holds ([`layout`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// Out of range (16 or more).
    Out,
    /// Empty.
    Empty,
    /// An endpoint capability: which endpoint, `SEND`, `RECV`, badge.
    Ep(Ep, bool, bool, u64),
    /// A thread capability: `CONTROL`, badge.
    Thread(bool, u64),
}

/// The fuzz task's endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ep {
    /// The echo server waits here.
    Echo,
    /// The feeder sends here.
    Feed,
    /// The two fuzz threads talk here.
    Loop,
}

/// Slot `cap` of the fuzz task's table.
pub const fn slot(cap: u64) -> Slot {
    use layout::{
        B_ECHO, B_ECHO_NONE, B_LOOP_ALL, B_LOOP_SEND, B_THREAD0, B_THREAD0_NONE, B_THREAD1, B_VICTIM, ECHO, ECHO_NONE, FEED,
        LOOP_ALL, LOOP_RECV, LOOP_SEND, THREAD0, THREAD0_NONE, THREAD1, VICTIM,
    };
    if cap >= 16 {
        return Slot::Out;
    }
    match cap {
        ECHO => Slot::Ep(Ep::Echo, true, false, B_ECHO),
        FEED => Slot::Ep(Ep::Feed, false, true, 0),
        THREAD0 => Slot::Thread(true, B_THREAD0),
        THREAD1 => Slot::Thread(true, B_THREAD1),
        LOOP_ALL => Slot::Ep(Ep::Loop, true, true, B_LOOP_ALL),
        LOOP_SEND => Slot::Ep(Ep::Loop, true, false, B_LOOP_SEND),
        LOOP_RECV => Slot::Ep(Ep::Loop, false, true, 0),
        VICTIM => Slot::Thread(true, B_VICTIM),
        ECHO_NONE => Slot::Ep(Ep::Echo, false, false, B_ECHO_NONE),
        THREAD0_NONE => Slot::Thread(false, B_THREAD0_NONE),
        _ => Slot::Empty,
    }
}

/// Does the thread hold a reply right (a caller waiting for its reply)?
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hold {
    /// No.
    No,
    /// Yes (the feeder called).
    Yes,
    /// Perhaps (a message on the loop endpoint: the sibling's `call` or
    /// `send`, which the receiver cannot tell apart).
    Maybe,
}

/// What must come back from one input, in the current state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// This error status; registers as for any call that fails.
    Error(u64),
    /// `reply` with [`Hold::Maybe`]: 0 or `NoCaller`.
    ReplyMaybe,
    /// `null`: status 0, every register unchanged.
    Null,
    /// `invoke` that succeeds: status 0, the result (the badge).
    Invoke(u64),
    /// Status 0 and no message (`send`, `reply`, `yield`).
    Ok,
    /// `call` to the echo server: its exact answer.
    Echo,
    /// `call` on the loop endpoint: the reply of the sibling or of the
    /// loop's echo server, or `PartnerDied`.
    LoopReply,
    /// A message from the feeder (`recv`, `reply_recv` on the feed endpoint).
    Feed,
    /// A message from the sibling (`recv`, `reply_recv` on the loop endpoint).
    Loop,
    /// A reply the caller checks itself (the victim's).
    Received,
}

/// What `(nr, cap, tag)` must give a fuzz thread in state `hold`, by
/// docs/abi.md and the kernel's order of checks (the tag, then the slot,
/// the kind of capability and the right, for IPC; the slot before the
/// tag for `invoke`).
pub const fn expect(nr: u64, cap: u64, tag: u64, hold: Hold) -> Expect {
    const fn err(e: u64) -> Expect {
        Expect::Error(e)
    }
    match nr {
        nr::NULL => Expect::Null,
        nr::CALL | nr::SEND | nr::RECV | nr::REPLY_RECV => {
            if !tag_valid(tag) {
                return err(status::INVALID_MESSAGE);
            }
            let sending = nr == nr::CALL || nr == nr::SEND;
            let (ep, s, rcv) = match slot(cap) {
                Slot::Out | Slot::Empty => return err(status::INVALID_CAP),
                Slot::Thread(..) => return err(status::WRONG_CAP_TYPE),
                Slot::Ep(ep, s, r, _) => (ep, s, r),
            };
            if (sending && !s) || (!sending && !rcv) {
                return err(status::NO_RIGHTS);
            }
            match (nr, ep) {
                (nr::CALL, Ep::Echo) => Expect::Echo,
                (nr::CALL, _) => Expect::LoopReply,
                (nr::SEND, _) => Expect::Ok,
                (_, Ep::Feed) => Expect::Feed,
                _ => Expect::Loop,
            }
        }
        nr::REPLY => {
            if !tag_valid(tag) {
                return err(status::INVALID_MESSAGE);
            }
            match hold {
                Hold::Yes => Expect::Ok,
                Hold::No => err(status::NO_CALLER),
                Hold::Maybe => Expect::ReplyMaybe,
            }
        }
        nr::YIELD => Expect::Ok,
        nr::INVOKE => match slot(cap) {
            Slot::Out | Slot::Empty => err(status::INVALID_CAP),
            Slot::Ep(..) => err(status::WRONG_CAP_TYPE),
            Slot::Thread(false, _) => err(status::NO_RIGHTS),
            Slot::Thread(true, badge) => {
                if !tag_valid(tag) {
                    err(status::INVALID_MESSAGE)
                } else if tag >> 16 != thread_op::PING {
                    err(status::UNKNOWN_OP)
                } else if tag_len(tag) != 0 {
                    err(status::INVALID_MESSAGE)
                } else {
                    Expect::Invoke(badge)
                }
            }
        },
        9..=15 => err(status::INVALID_SYSCALL),
        // putc with a count over 32 ([`gen_input`] makes sure).
        16 => err(status::INVALID_ARGUMENT),
        _ => err(status::UNSUPPORTED_SERVICE),
    }
}

/// The state after a call that was expected to give `e`, returned `st`
/// and (when it received a message) the tag `got_tag`.
pub const fn next_hold(nr: u64, e: Expect, st: u64, got_tag: u64, hold: Hold) -> Hold {
    match e {
        // `reply` answered, or found nobody: no right left.
        Expect::Ok | Expect::ReplyMaybe | Expect::Error(status::NO_CALLER) if nr == nr::REPLY => Hold::No,
        // A new message: the right is the new caller's, if any.
        Expect::Feed if st == 0 => {
            if (got_tag >> 16) & 1 == 1 { Hold::Yes } else { Hold::No }
        }
        Expect::Loop if st == 0 => Hold::Maybe,
        _ => hold,
    }
}

/// The echo server's answer to word `k` (`k` < 4: the register words;
/// from 4: UTCB words) of a message: a fixed, different pattern per word.
pub const fn echo_word(k: usize, w: u64) -> u64 {
    w ^ (0xEC40_0000_0000_0000 | (k as u64 * 0x0101_0101))
}

/// The echo server's answer to `tag`: the label changed, the length kept.
pub const fn echo_tag(tag: u64) -> u64 {
    (tag ^ (0xEC << 16)) & !0xFF80
}

/// The feeder's message `i`: label [`FEED_LABEL`] (bit 0 set for a
/// `call`), length `i % 9` (words 4..8 in the UTCB), MR0 = `i`.
pub const FEED_LABEL: u64 = 0xFEE0;

/// Word `k` of the feeder's message `i` (word 0 is `i`).
pub const fn feed_word(i: u64, k: usize) -> u64 {
    if k == 0 { i } else { mix(i ^ (k as u64) << 56) }
}

/// Is the feeder's message `i` a `call`?
pub const fn feed_is_call(i: u64) -> bool {
    i.is_multiple_of(3)
}

/// The feeder's tag for message `i`.
pub const fn feed_tag(i: u64) -> u64 {
    (FEED_LABEL | feed_is_call(i) as u64) << 16 | (i % 9)
}

/// The victim's message `i`, word `k` (6 words: 4 in registers, 2 in the
/// UTCB); its server answers with `!` of each.
pub const fn victim_word(i: u64, k: usize) -> u64 {
    mix(i.wrapping_mul(8).wrapping_add(k as u64) ^ 0x71C7)
}

/// Words in a victim message.
pub const VICTIM_LEN: u64 = 6;

/// The victim's tag.
pub const VICTIM_TAG: u64 = 0x71C << 16 | VICTIM_LEN;

/// Word `k` of the victim's buffer (from its seed).
pub const fn victim_buffer(seed: u64, k: usize) -> u64 {
    mix(seed ^ k as u64)
}

/// The ways a thread can fault on purpose. Every one must kill the task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Read kernel memory.
    KernelRead,
    /// Write to the program's code.
    WriteCode,
    /// A privileged instruction (x86 `hlt`, Arm `msr daifset`).
    Privileged,
    /// An undefined instruction.
    Undefined,
    /// Read address 0.
    NullRead,
    /// Jump into the (no-execute) stack.
    NxStack,
    /// Read an unmapped or non-canonical address (from the seed).
    WildRead,
    /// Write one.
    WildWrite,
    /// Jump to one.
    WildJump,
    /// A breakpoint (x86 `int3`, Arm `brk`).
    Breakpoint,
    /// A software interrupt through a kernel-only gate (x86 `int 0x80`;
    /// Arm `hvc`, undefined at EL0).
    Gate,
    /// Single-step (x86 `TF` set with `popf`; Arm: `smc`, undefined at EL0).
    Step,
    /// A push through a wild stack pointer (x86 `#PF`/`#SS`; Arm: a load
    /// through a misaligned or wild `sp`).
    WildStack,
    /// A floating-point / SIMD instruction (x86 SSE, x87; Arm FP/SIMD).
    Float,
    /// Divide by zero (x86 `#DE`; Arm: a jump to a misaligned pc).
    Divide,
    /// Jump into the thread's UTCB (mapped, not executable).
    RunUtcb,
}

impl FaultKind {
    /// Every kind, in the order of their numbers.
    pub const ALL: [FaultKind; 16] = [
        FaultKind::KernelRead,
        FaultKind::WriteCode,
        FaultKind::Privileged,
        FaultKind::Undefined,
        FaultKind::NullRead,
        FaultKind::NxStack,
        FaultKind::WildRead,
        FaultKind::WildWrite,
        FaultKind::WildJump,
        FaultKind::Breakpoint,
        FaultKind::Gate,
        FaultKind::Step,
        FaultKind::WildStack,
        FaultKind::Float,
        FaultKind::Divide,
        FaultKind::RunUtcb,
    ];

    /// Kind number `k`, if there is one.
    pub const fn from_index(k: u64) -> Option<FaultKind> {
        if k < 16 { Some(Self::ALL[k as usize]) } else { None }
    }

    /// The name in reports.
    pub const fn name(self) -> &'static str {
        match self {
            FaultKind::KernelRead => "kernel-read",
            FaultKind::WriteCode => "write-code",
            FaultKind::Privileged => "privileged",
            FaultKind::Undefined => "undefined",
            FaultKind::NullRead => "null-read",
            FaultKind::NxStack => "nx-stack",
            FaultKind::WildRead => "wild-read",
            FaultKind::WildWrite => "wild-write",
            FaultKind::WildJump => "wild-jump",
            FaultKind::Breakpoint => "breakpoint",
            FaultKind::Gate => "gate",
            FaultKind::Step => "step",
            FaultKind::WildStack => "wild-stack",
            FaultKind::Float => "float",
            FaultKind::Divide => "divide",
            FaultKind::RunUtcb => "run-utcb",
        }
    }
}

/// User address of thread 0's UTCB (docs/abi.md "User memory").
pub const UTCB_BASE: u64 = 0x10_0000_0000;

/// An address no task has mapped: the kernel half, the non-canonical
/// hole, or the low user half below the program (from `r`).
pub fn wild_address(r: &mut Rng) -> u64 {
    match r.below(4) {
        0 => 0xFFFF_8000_0000_0000 | (r.next_u64() & 0x7FFF_FFFF_FFF8),
        1 => 0x0000_8000_0000_0000 | (r.next_u64() & 0x7FFF_FFFF_FFF8),
        2 => 0x1000 + (r.below(0x3F0) << 12),
        _ => 0x40_0000_0000 + (r.next_u64() & 0x3F_FFFF_FFF8),
    }
}

/// What the fuzz roles need of the machine: the stub, the UTCB, the
/// scratch page, the faults, `exit`. (Native: `fuzz_sys`.)
pub trait FuzzMachine {
    /// Scratch word `i`.
    fn w(&self, i: usize) -> u64;
    /// Sets scratch word `i`.
    fn set_w(&mut self, i: usize, v: u64);
    /// UTCB word `k`.
    fn utcb(&self, k: usize) -> u64;
    /// Sets UTCB word `k`.
    fn set_utcb(&mut self, k: usize, v: u64);
    /// Loads every register from the scratch page's input words, makes the
    /// call, stores every register into its output words.
    fn raw(&mut self);
    /// Raises fault `f` (returns only if it did not fault: then the
    /// variant of `f` it tried); `r` gives the wild values and the variant.
    fn fault(&mut self, f: FaultKind, r: &mut Rng) -> u64;
    /// Service `fail`.
    fn fail(&mut self, index: u64, f: Failure);
    /// A plain syscall (the partners' IPC): number, slot, tag, MR0..MR3;
    /// returns status, badge, tag and MR0..MR3.
    fn call7(&mut self, nr: u64, cap: u64, tag: u64, mr: [u64; 4]) -> (u64, u64, u64, [u64; 4]);
}

/// Fills the stub's inputs for one random syscall of a fuzz thread, and
/// (sometimes) the UTCB words 4.. with random words, copied to
/// [`scratch::SENT`]. Returns (number, slot, tag).
pub fn gen_input<M: FuzzMachine>(m: &mut M, r: &mut Rng) -> (u64, u64, u64) {
    let nr = gen_nr(r);
    let mut cap = gen_cap(r);
    if nr == 16 && cap <= 32 {
        cap = 33 + (cap << 8); // putc must refuse it (and print nothing)
    }
    let tag = if nr == nr::INVOKE && r.chance(100) { thread_op::PING << 16 } else { gen_tag(r) };
    for i in 0..regs::N {
        m.set_w(scratch::IN + i, if r.chance(64) { edge(r) } else { r.next_u64() });
    }
    m.set_w(scratch::IN + regs::NR, nr);
    m.set_w(scratch::IN + regs::CAP, cap);
    m.set_w(scratch::IN + regs::TAG, tag);
    m.set_w(scratch::IN + regs::FLAGS, r.next_u64() & regs::FLAGS_FUZZ);
    // Pointer-shaped stack pointers (aligned or not) as often as any.
    let sp = match r.below(4) {
        0 => 0x20_0000_0000 + (r.next_u64() & 0xFFFF8),
        1 => wild_address(r),
        _ => edge(r),
    };
    m.set_w(scratch::IN + regs::SP, sp);
    m.set_w(scratch::SVC_IMM, u64::from(r.chance(64)));
    // The UTCB words a long message carries: new random ones up to `end`,
    // and beyond it whatever the last receive left there.
    let end = if r.chance(96) { 4 + r.below(61) as usize } else { 4 };
    for k in 4..64 {
        let v = if k < end { r.next_u64() } else { m.utcb(k) };
        m.set_utcb(k, v);
        m.set_w(scratch::SENT + k, v);
    }
    (nr, cap, tag)
}

/// UTCB words `from..64` are what the thread had there before the call
/// ([`scratch::SENT`]); else a [`what::UTCB`] failure naming the word.
fn utcb_kept<M: FuzzMachine>(m: &M, from: usize) -> Result<(), Failure> {
    for k in from..64 {
        let (got, want) = (m.utcb(k), m.w(scratch::SENT + k));
        if got != want {
            return Err(Failure { what: what::UTCB + k as u64, got, expected: want });
        }
    }
    Ok(())
}

/// Register `i` came back `got` where it must be `want`.
fn reg(i: usize, got: u64, want: u64) -> Result<(), Failure> {
    if got == want { Ok(()) } else { Err(Failure { what: what::REG + i as u64, got, expected: want }) }
}

/// Checks one return against `e`: the status, then the registers, then
/// what was received; returns the status.
pub fn check<M: FuzzMachine>(m: &M, nr: u64, e: Expect) -> Result<u64, Failure> {
    let inp = |i: usize| m.w(scratch::IN + i);
    let out = |i: usize| m.w(scratch::OUT + i);
    let st = out(regs::NR);
    // The status.
    let allowed: u64 = match e {
        Expect::Error(c) => 1 << c,
        Expect::ReplyMaybe => 1 << status::OK | 1 << status::NO_CALLER,
        Expect::LoopReply => 1 << status::OK | 1 << status::PARTNER_DIED,
        _ => 1 << status::OK,
    };
    if st >= 64 || allowed & (1 << st) == 0 {
        let expected = match e {
            Expect::Error(c) => c,
            _ if allowed.count_ones() == 1 => 0,
            _ => 1 << 63 | allowed,
        };
        return Err(Failure { what: what::STATUS, got: st, expected });
    }
    // Preserved by every call.
    reg(regs::BASE, out(regs::BASE), inp(regs::BASE))?;
    for &i in regs::PRESERVED {
        reg(i, out(i), inp(i))?;
    }
    for &i in regs::ALWAYS_ZERO {
        reg(i, out(i), 0)?;
    }
    if e == Expect::Null {
        // Everything else unchanged (but the number, now the status 0,
        // and x86's rcx/r11, which `syscall` itself uses).
        for i in (0..regs::GPRS).chain([regs::FLAGS]) {
            let skip = i == regs::NR || regs::has(const { regs::mask(regs::ALWAYS_ZERO) }, i) || (regs::PC_SP.is_none() && (i == 1 || i == 11));
            if !skip {
                let mask = if i == regs::FLAGS { regs::FLAGS_FUZZ } else { u64::MAX };
                reg(i, out(i) & mask, inp(i) & mask)?;
            }
        }
        return Ok(st);
    }
    // A successful `invoke` is answered by the entry's assembly, which
    // leaves some clobbered registers as the caller had them.
    let invoke = nr == nr::INVOKE;
    let kept = |i: usize| matches!(e, Expect::Invoke(_)) && regs::has(const { regs::mask(regs::INVOKE_KEEPS) }, i);
    for &i in regs::ZEROED {
        reg(i, out(i), if kept(i) { inp(i) } else { 0 })?;
    }
    if let Some((pc, sp)) = regs::PC_SP {
        // `invoke` returns them as zero (docs/abi.md "Invoking kernel
        // objects"; its fastpath keeps `x11`); every other call as the
        // caller's pc and sp.
        reg(pc, out(pc), if invoke { 0 } else { inp(regs::PC) })?;
        reg(sp, out(sp), if kept(sp) { inp(sp) } else if invoke { 0 } else { inp(regs::SP) })?;
    }
    let flags = if invoke && regs::INVOKE_KEEPS_FLAGS { inp(regs::FLAGS) } else { regs::FLAGS_AFTER };
    reg(regs::FLAGS, out(regs::FLAGS) & regs::FLAGS_FUZZ, flags & regs::FLAGS_FUZZ)?;
    let received = matches!(e, Expect::Echo | Expect::Feed | Expect::Loop | Expect::Received) || (e == Expect::LoopReply && st == 0);
    if !received {
        // No message: the message registers as they went in.
        for &i in &regs::MR {
            if e == Expect::LoopReply {
                // PartnerDied: no message, the words 0.
                reg(i, out(i), 0)?;
            } else {
                reg(i, out(i), inp(i))?;
            }
        }
        let (badge, tag) = match e {
            // invoke: the result (0 with an error), tag 0.
            Expect::Invoke(badge) => (badge, 0),
            _ if invoke => (0, 0),
            // PartnerDied: no badge, no tag.
            Expect::LoopReply => (0, 0),
            // Nothing received (an error, send, reply, yield, a service
            // call): the slot and tag registers as they went in, so no
            // kernel value and no other thread's.
            _ => (inp(regs::CAP), inp(regs::TAG)),
        };
        reg(regs::CAP, out(regs::CAP), badge)?;
        reg(regs::TAG, out(regs::TAG), tag)?;
        // Nothing received: the UTCB is as we left it.
        return utcb_kept(m, 4).map(|()| st);
    }
    let (badge, tag) = (out(regs::CAP), out(regs::TAG));
    let bad = |what: u64, got: u64, expected: u64| Err(Failure { what, got, expected });
    if !tag_valid(tag) {
        return bad(what::TAG, tag, tag & 0x3F);
    }
    let len = tag_len(tag) as usize;
    let word = |k: usize| if k < 4 { out(regs::MR[k]) } else { m.utcb(k) };
    match e {
        Expect::Echo => {
            let sent_tag = inp(regs::TAG);
            if badge != 0 {
                return bad(what::BADGE, badge, 0);
            }
            if tag != echo_tag(sent_tag) {
                return bad(what::TAG, tag, echo_tag(sent_tag));
            }
            for k in 0..len.max(4) {
                let sent = if k < 4 { inp(regs::MR[k]) } else { m.w(scratch::SENT + k) };
                if word(k) != echo_word(k, sent) {
                    return bad(what::WORD + k as u64, word(k), echo_word(k, sent));
                }
            }
        }
        Expect::Feed => {
            if badge != layout::B_FEED {
                return bad(what::BADGE, badge, layout::B_FEED);
            }
            let i = word(0);
            if tag != feed_tag(i) {
                return bad(what::TAG, tag, feed_tag(i));
            }
            for k in 1..len.max(4) {
                if word(k) != feed_word(i, k) {
                    return bad(what::WORD + k as u64, word(k), feed_word(i, k));
                }
            }
        }
        Expect::Loop => {
            if !matches!(badge, layout::B_LOOP_ALL | layout::B_LOOP_SEND | layout::B_FEED_LOOP) {
                return bad(what::BADGE, badge, layout::B_LOOP_ALL);
            }
        }
        Expect::Received => return Ok(st),
        _ => {
            // The sibling's reply.
            if badge != 0 {
                return bad(what::BADGE, badge, 0);
            }
        }
    }
    // The kernel wrote the message's words 4..len into our UTCB, and no
    // word after them.
    utcb_kept(m, len.max(4)).map(|()| st)
}

/// Role 48: `budget` random syscalls, each checked; then `exit`, or the
/// fault on purpose of word 7.
pub fn fuzz<M: FuzzMachine>(m: &mut M) -> Result<(), Failure> {
    let budget = m.utcb(word::BUDGET);
    let mut r = Rng(m.utcb(word::SEED));
    let end_fault = m.utcb(word::END_FAULT);
    let mut hold = Hold::No;
    for n in 0..budget {
        let (nr, cap, tag) = gen_input(m, &mut r);
        m.set_utcb(stat::NR, nr);
        m.set_utcb(stat::CAP, cap);
        m.set_utcb(stat::COUNT, n + 1);
        let e = expect(nr, cap, tag, hold);
        m.raw();
        let st = check(m, nr, e)?;
        hold = next_hold(nr, e, st, m.w(scratch::OUT + regs::TAG), hold);
    }
    end(m, end_fault, &mut r)
}

/// The faulter's end (word 7) that is no fault: spin in user mode for
/// ever (`FAULTING`), which only the kernel's watchdog ends (the driver's
/// last episode; never drawn at random).
pub const END_SPIN: u64 = 17;

/// The end of a fuzz or faulter thread: `DONE`, or the fault of
/// `end_fault` (`FAULTING`; surviving it is a failure), or ([`END_SPIN`])
/// a spin for ever.
fn end<M: FuzzMachine>(m: &mut M, end_fault: u64, r: &mut Rng) -> Result<(), Failure> {
    if end_fault == END_SPIN {
        m.set_utcb(stat::STATE, stat::FAULTING);
        crate::run::spin();
    }
    match end_fault.checked_sub(1).and_then(FaultKind::from_index) {
        Some(f) => {
            m.set_utcb(stat::STATE, stat::FAULTING);
            let variant = m.fault(f, r);
            Err(Failure { what: what::SURVIVED, got: (end_fault - 1) | variant << 8, expected: 0 })
        }
        None => {
            m.set_utcb(stat::STATE, stat::DONE);
            Ok(())
        }
    }
}

/// Role 49: the echo server, forever: every message answered with
/// [`echo_tag`] and [`echo_word`] of each of its words (badge checked).
pub fn echo<M: FuzzMachine>(m: &mut M) -> Result<(), Failure> {
    let slot = m.utcb(crate::abi::word::CAP);
    let (mut st, mut badge, mut tag, mut mr) = m.call7(nr::RECV, slot, 0, [0; 4]);
    loop {
        if st != 0 {
            return Err(Failure { what: what::PARTNER_STATUS, got: st, expected: 0 });
        }
        use layout::{B_ECHO, B_ECHO_FAULTER, B_FEED_LOOP, B_LOOP_ALL, B_LOOP_SEND};
        if !matches!(badge, B_ECHO | B_ECHO_FAULTER | B_LOOP_ALL | B_LOOP_SEND | B_FEED_LOOP) {
            return Err(Failure { what: what::ECHO_BADGE, got: badge, expected: layout::B_ECHO });
        }
        for k in 4..tag_len(tag) as usize {
            let w = m.utcb(k);
            m.set_utcb(k, echo_word(k, w));
        }
        let out = [echo_word(0, mr[0]), echo_word(1, mr[1]), echo_word(2, mr[2]), echo_word(3, mr[3])];
        (st, badge, tag, mr) = m.call7(nr::REPLY_RECV, slot, echo_tag(tag), out);
    }
}

/// Role 50: the feeder: `budget` messages, message `i` by `call` (every
/// third) or `send` on its endpoint (word 14).
pub fn feed<M: FuzzMachine>(m: &mut M) -> Result<(), Failure> {
    let slot = m.utcb(crate::abi::word::CAP);
    // Bounded: the loop endpoint's echo server would answer it forever.
    let budget = m.utcb(word::BUDGET);
    for i in 0..budget {
        let tag = feed_tag(i);
        for k in 4..tag_len(tag) as usize {
            m.set_utcb(k, feed_word(i, k));
        }
        let mr = [feed_word(i, 0), feed_word(i, 1), feed_word(i, 2), feed_word(i, 3)];
        let n = if feed_is_call(i) { nr::CALL } else { nr::SEND };
        let (st, ..) = m.call7(n, slot, tag, mr);
        // A `call` may find its receiver gone (PartnerDied) or waiting
        // for another message (which drops the right: PartnerDied too).
        if st != 0 && !(n == nr::CALL && st == status::PARTNER_DIED) {
            return Err(Failure { what: what::PARTNER_STATUS, got: st, expected: 0 });
        }
    }
    Ok(())
}

/// Role 51: the victim's client: `budget` rounds of a `call` to its own
/// server through the stub (known values in every register), the reply and
/// every register checked, its buffer's checksum checked, then `yield`;
/// counts the rounds in [`stat::COUNT`].
pub fn victim<M: FuzzMachine>(m: &mut M) -> Result<(), Failure> {
    let rounds = m.utcb(word::BUDGET);
    let seed = m.utcb(word::SEED);
    let mut r = Rng(seed);
    for k in 0..scratch::VICTIM_WORDS {
        m.set_w(scratch::VICTIM + k, victim_buffer(seed, k));
    }
    for i in 0..rounds {
        for reg in 0..regs::N {
            m.set_w(scratch::IN + reg, r.next_u64());
        }
        m.set_w(scratch::IN + regs::NR, nr::CALL);
        m.set_w(scratch::IN + regs::CAP, layout::VICTIM_SEND);
        m.set_w(scratch::IN + regs::TAG, VICTIM_TAG);
        m.set_w(scratch::IN + regs::FLAGS, r.next_u64() & regs::FLAGS_FUZZ);
        for k in 0..4 {
            m.set_w(scratch::IN + regs::MR[k], victim_word(i, k));
        }
        for k in 4..VICTIM_LEN as usize {
            m.set_utcb(k, victim_word(i, k));
        }
        m.raw();
        check_victim_reply(m, i)?;
        for k in 0..scratch::VICTIM_WORDS {
            let w = m.w(scratch::VICTIM + k);
            if w != victim_buffer(seed, k) {
                return Err(Failure { what: what::VICTIM_MEMORY, got: k as u64, expected: victim_buffer(seed, k) });
            }
        }
        m.set_utcb(stat::COUNT, i + 1);
        m.call7(nr::YIELD, 0, 0, [0; 4]);
    }
    m.set_utcb(stat::STATE, stat::DONE);
    Ok(())
}

/// The victim's reply to round `i`: status 0, badge 0, its own tag, `!`
/// of each word; preserved registers and zeroed ones as the ABI says.
fn check_victim_reply<M: FuzzMachine>(m: &M, i: u64) -> Result<(), Failure> {
    check(m, nr::CALL, Expect::Received)?;
    let out = |i: usize| m.w(scratch::OUT + i);
    let bad = |what: u64, got: u64, expected: u64| Err(Failure { what, got, expected });
    if out(regs::CAP) != 0 {
        return bad(what::BADGE, out(regs::CAP), 0);
    }
    if out(regs::TAG) != VICTIM_TAG {
        return bad(what::TAG, out(regs::TAG), VICTIM_TAG);
    }
    for k in 0..VICTIM_LEN as usize {
        let got = if k < 4 { out(regs::MR[k]) } else { m.utcb(k) };
        if got != !victim_word(i, k) {
            return bad(what::WORD + k as u64, got, !victim_word(i, k));
        }
    }
    Ok(())
}

/// Role 52: the victim's server, forever: checks each message (badge,
/// tag, every word) and answers it with `!` of each word.
pub fn victim_server<M: FuzzMachine>(m: &mut M) -> Result<(), Failure> {
    let (mut st, mut badge, mut tag, mut mr) = m.call7(nr::RECV, layout::PARTNER_SLOT, 0, [0; 4]);
    let mut i = 0u64;
    loop {
        if st != 0 {
            return Err(Failure { what: what::PARTNER_STATUS, got: st, expected: 0 });
        }
        if badge != layout::B_VICTIM_EP || tag != VICTIM_TAG {
            return Err(Failure { what: what::VICTIM_MESSAGE, got: badge, expected: layout::B_VICTIM_EP });
        }
        for (k, &w) in mr.iter().enumerate() {
            if w != victim_word(i, k) {
                return Err(Failure { what: what::VICTIM_MESSAGE, got: w, expected: victim_word(i, k) });
            }
        }
        for k in 4..VICTIM_LEN as usize {
            let got = m.utcb(k);
            if got != victim_word(i, k) {
                return Err(Failure { what: what::VICTIM_MESSAGE, got, expected: victim_word(i, k) });
            }
        }
        for k in 4..VICTIM_LEN as usize {
            m.set_utcb(k, !victim_word(i, k));
        }
        let out = [!victim_word(i, 0), !victim_word(i, 1), !victim_word(i, 2), !victim_word(i, 3)];
        (st, badge, tag, mr) = m.call7(nr::REPLY_RECV, layout::PARTNER_SLOT, VICTIM_TAG, out);
        i += 1;
    }
}

/// Role 53: the faulter: `budget` echo calls, each checked, then its
/// fault on purpose.
pub fn faulter<M: FuzzMachine>(m: &mut M) -> Result<(), Failure> {
    let budget = m.utcb(word::BUDGET);
    let mut r = Rng(m.utcb(word::SEED));
    for n in 0..budget {
        m.set_utcb(stat::COUNT, n + 1);
        let mr = [r.next_u64(), r.next_u64(), r.next_u64(), r.next_u64()];
        let tag = 0x5A << 16 | r.below(5);
        let (st, badge, t, got) = m.call7(nr::CALL, layout::PARTNER_SLOT, tag, mr);
        if st != 0 || badge != 0 || t != echo_tag(tag) {
            return Err(Failure { what: what::STATUS, got: st, expected: 0 });
        }
        for k in 0..4 {
            if got[k] != echo_word(k, mr[k]) {
                return Err(Failure { what: what::WORD + k as u64, got: got[k], expected: echo_word(k, mr[k]) });
            }
        }
    }
    let f = m.utcb(word::END_FAULT);
    end(m, f.max(1), &mut r)
}

/// Runs fuzz role `role`; a failure is reported (`fail`, MR0 = the
/// thread's index) and marked in [`stat::STATE`]. Returns when the role
/// is done; the caller exits.
pub fn run<M: FuzzMachine>(m: &mut M, role: u64) {
    let index = m.utcb(word::INDEX);
    let r = match role {
        role::FUZZ => fuzz(m),
        role::ECHO => echo(m),
        role::FEED => feed(m),
        role::VICTIM => victim(m),
        role::VICTIM_SERVER => victim_server(m),
        _ => faulter(m),
    };
    if let Err(f) = r {
        m.set_utcb(stat::STATE, stat::FAILED);
        m.fail(index, f);
    }
}

#[cfg(test)]
mod tests;
