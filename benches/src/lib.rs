// SPDX-License-Identifier: MIT OR Apache-2.0
//! `benches`: the benchmark programs that run as user tasks, and the
//! user-side system-call stubs.
//!
//! One binary, `bench-user`, is loaded into every task; the runtime writes
//! each thread's job into its UTCB before it starts (docs/abi.md
//! "Start-up words") and the program runs that role: IPC client, IPC
//! server, null-syscall loop, or one of the correctness scenarios.
//!
//! The message scheme (see `docs/methodology.md`): the client's message
//! changes every round, the server checks the badge, label and length of each
//! request and echoes the message registers in its reply, the client checks
//! status, label, length, badge and every message register of each reply
//! against what it sent. A corruption in either direction, or a message the
//! kernel failed to deliver (stale registers from the previous round),
//! surfaces at one of the two checks.
//!
//! Everything here but [`sys`] is plain logic and is tested on the host.

#![no_std]
#![deny(unsafe_code)]

pub mod msg;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub mod sys;

/// Roles (UTCB word 4).
pub mod role {
    /// IPC client.
    pub const CLIENT: u64 = 1;
    /// IPC server.
    pub const SERVER: u64 = 2;
    /// Null-syscall loop.
    pub const SYSCALL: u64 = 3;
    /// Unknown syscall numbers fail with InvalidSyscall / UnsupportedService.
    pub const BAD_SYSCALL: u64 = 16;
    /// Empty and out-of-range capability slots fail with InvalidCap.
    pub const BAD_CAP: u64 = 17;
    /// Receiving on a send-only capability fails with NoRights.
    pub const NO_RIGHTS: u64 = 18;
    /// Malformed tags fail with InvalidMessage.
    pub const BAD_MESSAGE: u64 = 19;
    /// `reply` without a caller fails with NoCaller.
    pub const NO_CALLER: u64 = 20;
    /// `null` preserves rbx, rbp, r12-r15.
    pub const NULL_PRESERVES: u64 = 21;
    /// Read kernel memory: must be killed.
    pub const FAULT_KERNEL_READ: u64 = 32;
    /// Write to its own code: must be killed.
    pub const FAULT_WRITE_CODE: u64 = 33;
    /// Privileged instruction: must be killed.
    pub const FAULT_PRIVILEGED: u64 = 34;
    /// Undefined instruction: must be killed.
    pub const FAULT_UNDEFINED: u64 = 35;
    /// Read address 0: must be killed.
    pub const FAULT_NULL_READ: u64 = 36;
    /// Execute from the stack: must be killed.
    pub const FAULT_NX_STACK: u64 = 37;
}

/// UTCB word indices of the start-up job (docs/abi.md).
pub mod word {
    /// Role.
    pub const ROLE: usize = 4;
    /// Rounds per run.
    pub const ROUNDS: usize = 5;
    /// Measured runs.
    pub const RUNS: usize = 6;
    /// Warm-up runs.
    pub const WARMUP: usize = 7;
    /// Bench id.
    pub const BENCH: usize = 8;
    /// Number of counters.
    pub const NCOUNTERS: usize = 9;
    /// First counter selector.
    pub const COUNTER0: usize = 10;
    /// Endpoint capability slot.
    pub const CAP: usize = 14;
    /// Badge the server must see.
    pub const BADGE: usize = 15;
    /// Message length in words.
    pub const LENGTH: usize = 16;
}

/// Syscall numbers and status codes (docs/abi.md).
pub mod abi {
    /// `null`.
    pub const NULL: u64 = 0;
    /// `call`.
    pub const CALL: u64 = 1;
    /// `reply_recv`.
    pub const REPLY_RECV: u64 = 2;
    /// `send`.
    pub const SEND: u64 = 3;
    /// `recv`.
    pub const RECV: u64 = 4;
    /// `reply`.
    pub const REPLY: u64 = 5;
    /// `yield`.
    pub const YIELD: u64 = 6;
    /// `exit`.
    pub const EXIT: u64 = 7;
    /// Service `putc`.
    pub const SVC_PUTC: u64 = 16;
    /// Service `report`.
    pub const SVC_REPORT: u64 = 17;
    /// Service `fail`.
    pub const SVC_FAIL: u64 = 18;
    /// Service `test_ok`.
    pub const SVC_TEST_OK: u64 = 19;
    /// Status: unknown syscall.
    pub const E_INVALID_SYSCALL: u64 = 1;
    /// Status: bad capability slot.
    pub const E_INVALID_CAP: u64 = 2;
    /// Status: missing right.
    pub const E_NO_RIGHTS: u64 = 4;
    /// Status: malformed tag.
    pub const E_INVALID_MESSAGE: u64 = 5;
    /// Status: no caller to reply to.
    pub const E_NO_CALLER: u64 = 6;
    /// Status: unsupported service.
    pub const E_UNSUPPORTED_SERVICE: u64 = 9;
}

/// What a `fail` report names (docs/abi.md).
pub mod what {
    /// Status register.
    pub const STATUS: u64 = 1;
    /// Label.
    pub const LABEL: u64 = 2;
    /// Length.
    pub const LENGTH: u64 = 3;
    /// Badge.
    pub const BADGE: u64 = 4;
    /// Message word `k` is `MR0 + k`.
    pub const MR0: u64 = 16;
    /// A panic in the user program.
    pub const PANIC: u64 = 0xFFFF;
}
