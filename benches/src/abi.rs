// SPDX-License-Identifier: MIT OR Apache-2.0
//! The numbers of the system-call ABI as the user program sees them.
//!
//! `docs/abi.md` is the contract; `ipc-core/src/types.rs` holds the kernel's
//! copy. The program keeps its own copy so that it depends on nothing but the
//! document, and a host test (`tests::agrees_with_ipc_core`) checks that both
//! copies agree.

/// System-call numbers (the value in `rax` / `x8`).
pub mod nr {
    /// Return at once with status 0, every other register preserved.
    pub const NULL: u64 = 0;
    /// Send to an endpoint, then wait for the reply.
    pub const CALL: u64 = 1;
    /// Reply to the caller (if any), then wait on an endpoint.
    pub const REPLY_RECV: u64 = 2;
    /// Send to an endpoint; blocks until a receiver takes the message.
    pub const SEND: u64 = 3;
    /// Wait for a message on an endpoint.
    pub const RECV: u64 = 4;
    /// Reply to the caller without waiting.
    pub const REPLY: u64 = 5;
    /// Let the next ready thread run.
    pub const YIELD: u64 = 6;
    /// End the calling thread.
    pub const EXIT: u64 = 7;
    /// Invoke the kernel object in a capability: op = the tag's label;
    /// reply = status and one result word (in the badge register).
    pub const INVOKE: u64 = 8;
}

/// Ops of a thread capability (the label of an `invoke` tag).
pub mod thread_op {
    /// Returns early: status 0, the capability's badge as the result.
    pub const PING: u64 = 1;
}

/// Service calls: numbers from 16 up, answered by the runtime.
pub mod service {
    /// Print up to [`super::PUTC_MAX`] bytes: `rdi` / `x0` = count, bytes in MR0..MR3.
    pub const PUTC: u64 = 16;
    /// Report one measured run (MR0 bench, MR1 run, MR2 ops, MR3 counters;
    /// deltas in UTCB words 4..4+n).
    pub const REPORT: u64 = 17;
    /// Report a failed check (MR0 bench, MR1 what, MR2 got, MR3 expected).
    pub const FAIL: u64 = 18;
    /// A correctness scenario passed (MR0 scenario id).
    pub const TEST_OK: u64 = 19;
    /// `--latency`: the time stamps are in the sample buffer (MR0 bench,
    /// MR1 overhead pairs, MR2 rounds per run, MR3 measured runs; layout:
    /// [`super::latency`]).
    pub const LATENCY: u64 = 20;
}

/// Status codes returned in `rax` / `x8`.
pub mod status {
    /// Success.
    pub const OK: u64 = 0;
    /// Unknown syscall number.
    pub const INVALID_SYSCALL: u64 = 1;
    /// Capability slot out of range or empty.
    pub const INVALID_CAP: u64 = 2;
    /// The capability names the wrong kind of object.
    pub const WRONG_CAP_TYPE: u64 = 3;
    /// The capability lacks a right the call needs.
    pub const NO_RIGHTS: u64 = 4;
    /// Malformed tag: length over 63 words or flags set.
    pub const INVALID_MESSAGE: u64 = 5;
    /// `reply` without a caller.
    pub const NO_CALLER: u64 = 6;
    /// A service-call argument out of range.
    pub const INVALID_ARGUMENT: u64 = 7;
    /// The partner died while this thread waited for it.
    pub const PARTNER_DIED: u64 = 8;
    /// The runtime has no such service call.
    pub const UNSUPPORTED_SERVICE: u64 = 9;
    /// `invoke`: the object has no op with the tag's label.
    pub const UNKNOWN_OP: u64 = 10;
}

/// Indices of the start-up words in the UTCB (docs/abi.md "Start-up
/// words"), and of the words the program writes for `report`.
pub mod word {
    /// The role to play ([`super::role`]).
    pub const ROLE: usize = 4;
    /// Rounds per run.
    pub const ROUNDS: usize = 5;
    /// Measured runs.
    pub const RUNS: usize = 6;
    /// Warm-up runs (not reported).
    pub const WARMUP: usize = 7;
    /// Bench id, echoed in `report` and `fail`.
    pub const BENCH: usize = 8;
    /// Number of counters `n` (0..=4).
    pub const COUNTERS: usize = 9;
    /// First counter selector; counter `i` is described by word `10 + i`.
    pub const COUNTER_SEL: usize = 10;
    /// Capability slot of the endpoint.
    pub const CAP: usize = 14;
    /// Badge the server must see on every message.
    pub const BADGE: usize = 15;
    /// Message length in words.
    pub const LENGTH: usize = 16;
    /// `report` takes counter delta `i` from UTCB word `REPORT_BASE + i`.
    pub const REPORT_BASE: usize = 4;
    /// Latency roles: how to read the one counter that times each round
    /// (a selector as in [`COUNTER_SEL`]).
    pub const LAT_COUNTER: usize = 17;
    /// Latency roles: user address of the sample buffer (32-bit words).
    pub const SAMPLES: usize = 18;
    /// Latency roles: its length in words.
    pub const SAMPLES_LEN: usize = 19;
}

/// The sample buffer of the latency roles (`--latency`), 32-bit words:
/// first [`OVERHEAD_PAIRS`](latency::OVERHEAD_PAIRS) deltas of
/// back-to-back counter reads, then for each measured run `rounds + 1`
/// time stamps (the counter read at the start of each round, and once
/// after the last). Each is the counter's low 32 bits: one read and one
/// store (a round would have to last 2^32 ticks to wrap).
pub mod latency {
    /// Back-to-back read pairs that measure the counter's read overhead.
    pub const OVERHEAD_PAIRS: usize = 1024;
    /// The buffer's 32-bit words (512 KiB), mapped by the runtime at
    /// [`BUFFER_VA`] for latency roles only.
    pub const BUFFER_WORDS: usize = 128 * 1024;
    /// Where the runtime maps it.
    pub const BUFFER_VA: u64 = 0x30_0000_0000;
    /// Most rounds over all measured runs that fit (`rounds * runs`).
    pub const MAX_ROUNDS: u64 = 128_000;

    /// Words a job of `runs` runs of `rounds` rounds needs.
    pub const fn words_needed(rounds: u64, runs: u64) -> u64 {
        OVERHEAD_PAIRS as u64 + runs * (rounds + 1)
    }

    // Up to `MAX_ROUNDS` rounds in at most 64 runs fit, with their last
    // stamps and the overhead pairs.
    const _: () = assert!(OVERHEAD_PAIRS as u64 + MAX_ROUNDS + 64 <= BUFFER_WORDS as u64);
}

/// Roles of the program (UTCB word 4). Scenario roles double as scenario ids.
pub mod role {
    /// IPC client: measured `call` loop.
    pub const CLIENT: u64 = 1;
    /// IPC server: `reply_recv` loop.
    pub const SERVER: u64 = 2;
    /// Measured `null` syscall loop (the `null` and `floor` benches).
    pub const NULL: u64 = 3;
    /// Measured `invoke` loop: `ping` on the thread's own capability (the
    /// `syscall` bench).
    pub const INVOKE: u64 = 4;
    /// `--latency`: the IPC client with every round timed on its own.
    pub const CLIENT_LAT: u64 = 5;
    /// `--latency`: the `null` loop with every round timed on its own.
    pub const NULL_LAT: u64 = 6;
    /// `--latency`: the `invoke` loop with every round timed on its own.
    pub const INVOKE_LAT: u64 = 7;
    /// Unknown syscall numbers are refused.
    pub const BAD_SYSCALL: u64 = 16;
    /// Empty and out-of-range capability slots are refused.
    pub const BAD_CAP: u64 = 17;
    /// `recv` on a send-only capability is refused.
    pub const NO_RIGHTS: u64 = 18;
    /// Malformed message tags are refused.
    pub const BAD_MESSAGE: u64 = 19;
    /// `reply` without a caller is refused.
    pub const NO_CALLER: u64 = 20;
    /// `null` preserves or clears each register as docs/abi.md says.
    pub const NULL_PRESERVES: u64 = 21;
    /// `invoke` with bad input gets the documented errors (the task's
    /// slot 3: its own thread capability with `CONTROL`; slot 4: one
    /// without; slot 1: the send-only endpoint).
    pub const BAD_INVOKE: u64 = 22;
    /// Fault: read kernel memory.
    pub const FAULT_KERNEL_READ: u64 = 32;
    /// Fault: write to the program's own code.
    pub const FAULT_WRITE_CODE: u64 = 33;
    /// Fault: execute a privileged instruction (`hlt`).
    pub const FAULT_PRIVILEGED: u64 = 34;
    /// Fault: execute an undefined instruction (`ud2`).
    pub const FAULT_UNDEFINED: u64 = 35;
    /// Fault: read address 0.
    pub const FAULT_NULL_READ: u64 = 36;
    /// Fault: jump into the (no-execute) stack.
    pub const FAULT_NX_STACK: u64 = 37;
    /// `selftest=watchdog`: take one call (`recv` on word 14), then spin in
    /// user mode for ever; the kernel's watchdog must kill the task.
    pub const SPIN: u64 = 38;
    /// `selftest=watchdog`: `call` the spinner (word 14); the answer must
    /// be `PartnerDied` once the watchdog killed it; reports
    /// `test_ok(bench)` (the scenario's id, 38).
    pub const SPIN_CALLER: u64 = 39;
}

/// What a `fail` report says failed (its MR1).
pub mod what {
    /// The status word.
    pub const STATUS: u64 = 1;
    /// The label of the tag.
    pub const LABEL: u64 = 2;
    /// The low 16 bits of the tag (length and flags).
    pub const LENGTH: u64 = 3;
    /// The badge.
    pub const BADGE: u64 = 4;
    /// Message word `k` is `WORD_BASE + k` (k < 64).
    pub const WORD_BASE: u64 = 16;
    /// Extension: register `i` of [`crate::scenario::PROBE_REGS`] was not
    /// preserved by `null` is `REGISTER_BASE + i`.
    pub const REGISTER_BASE: u64 = 0x100;
    /// Extension: a fault scenario survived its fault (got = scenario id).
    pub const SURVIVED: u64 = 0x200;
    /// Extension: the role in the UTCB is unknown (got = role).
    pub const UNKNOWN_ROLE: u64 = 0x201;
    /// Extension: a latency role's sample buffer is too small (got = its
    /// words, expected = the words needed).
    pub const SAMPLE_BUFFER: u64 = 0x202;
    /// The program panicked.
    pub const PANIC: u64 = 0xFFFF;
}

/// Message registers that travel in CPU registers (x86_64: `r12`-`r15`;
/// AArch64: `x20`-`x23`); word `k >= MR_IN_REGS` travels in UTCB word `k`.
pub const MR_IN_REGS: usize = 4;
/// Longest message in words.
pub const MSG_MAX_WORDS: usize = 63;
/// Words in a UTCB.
pub const UTCB_WORDS: usize = 64;
/// Counters a job may ask for (UTCB words 10..14).
pub const MAX_COUNTERS: usize = 4;
/// x86_64: the counter selector meaning "read the time-stamp counter with
/// `rdtsc`"; every other selector is the `ecx` value for `rdpmc`.
pub const TSC_SELECTOR: u64 = 1 << 63;
/// AArch64: the counter selector meaning "read PMCCNTR_EL0"; selector
/// `n + 1` reads event counter `n` (PMEVCNTR`n`_EL0).
pub const PMCCNTR_SELECTOR: u64 = 0;
/// Bytes one `putc` service call carries.
pub const PUTC_MAX: usize = 32;

/// Tag bits holding the length.
pub const TAG_LENGTH_MASK: u64 = 0x7f;
/// Tag bits holding the (reserved, must-be-zero) flags.
pub const TAG_FLAGS_MASK: u64 = 0xff80;
/// The label starts at this bit.
pub const TAG_LABEL_SHIFT: u32 = 16;

/// The message tag: `label << 16 | length` (flags zero).
#[inline(always)]
pub const fn tag(label: u64, length: usize) -> u64 {
    (label << TAG_LABEL_SHIFT) | length as u64
}

/// The label of a tag.
#[inline(always)]
pub const fn tag_label(tag: u64) -> u64 {
    tag >> TAG_LABEL_SHIFT
}

/// The low 16 bits of a tag: the length, and the flags above it. A
/// well-formed tag of `n` words has exactly `n` here.
#[inline(always)]
pub const fn tag_length_flags(tag: u64) -> u64 {
    tag & (TAG_LENGTH_MASK | TAG_FLAGS_MASK)
}

#[cfg(test)]
mod tests {
    use super::{nr, status, tag, tag_label, tag_length_flags};
    use ipc_core::{Error, MessageInfo, Syscall};

    #[test]
    fn agrees_with_ipc_core() {
        for (n, s) in [
            (nr::NULL, Syscall::Null),
            (nr::CALL, Syscall::Call),
            (nr::REPLY_RECV, Syscall::ReplyRecv),
            (nr::SEND, Syscall::Send),
            (nr::RECV, Syscall::Recv),
            (nr::REPLY, Syscall::Reply),
            (nr::YIELD, Syscall::Yield),
            (nr::EXIT, Syscall::Exit),
            (nr::INVOKE, Syscall::Invoke),
        ] {
            assert_eq!(Syscall::from_word(n), Some(s));
        }
        for (c, e) in [
            (status::INVALID_SYSCALL, Error::InvalidSyscall),
            (status::INVALID_CAP, Error::InvalidCap),
            (status::WRONG_CAP_TYPE, Error::WrongCapType),
            (status::NO_RIGHTS, Error::NoRights),
            (status::INVALID_MESSAGE, Error::InvalidMessage),
            (status::NO_CALLER, Error::NoCaller),
            (status::INVALID_ARGUMENT, Error::InvalidArgument),
            (status::PARTNER_DIED, Error::PartnerDied),
            (status::UNSUPPORTED_SERVICE, Error::UnsupportedService),
            (status::UNKNOWN_OP, Error::UnknownOp),
        ] {
            assert_eq!(e.code(), c);
        }
        assert_eq!(tag(super::thread_op::PING, 0), ipc_core::ThreadOp::Ping.tag().0);
        assert_eq!(super::MSG_MAX_WORDS, ipc_core::MSG_MAX_WORDS);
        assert_eq!(super::service::PUTC, ipc_core::SERVICE_BASE);
        // Syscall numbers 9..16 are unused: the bad-syscall scenario's 12.
        assert_eq!(Syscall::from_word(12), None);
        const { assert!(12 < ipc_core::SERVICE_BASE) };
        // Slot 15 exists (and the runtime leaves it empty); 1000 does not.
        assert_eq!(ipc_core::CAP_SLOTS, 16);
    }

    #[test]
    fn tags_match_message_info() {
        for (label, len) in [(0, 0), (0x1000, 4), (0x20ff, 63), (0xFFFF_FFFF_FFFF, 1)] {
            let t = tag(label, len);
            let m = MessageInfo::new(label, len);
            assert_eq!(t, m.0);
            assert_eq!(tag_label(t), m.label());
            assert_eq!(tag_length_flags(t), len as u64);
            assert!(m.is_valid());
        }
        // The bad-message scenario's tags are invalid for the kernel too.
        assert!(!MessageInfo(tag(0, 64)).is_valid());
        assert!(!MessageInfo(tag(0, 0) | 1 << 8).is_valid());
        assert_eq!(tag_length_flags(1 << 8), 1 << 8);
    }
}
