// SPDX-License-Identifier: MIT OR Apache-2.0
//! The system calls that need no instruction-set-specific code: each is a
//! [`syscall7`] with its number and arguments (`sys.rs` for x86_64,
//! `sys_aarch64.rs` for AArch64, provide `syscall7`, `null`, `exit` and the
//! probes). Both `sys` modules re-export these.

use crate::abi::{MR_IN_REGS, PUTC_MAX, nr, service};
use crate::msg::Msg;
use crate::sys::syscall7;

/// `call`: send to the endpoint in `cap`, then wait for the reply.
#[inline(always)]
pub fn call(cap: u64, tag: u64, mr: [u64; MR_IN_REGS]) -> Msg {
    syscall7(nr::CALL, cap, tag, mr)
}

/// `reply_recv`: reply to the caller (if any), then wait on `cap`.
#[inline(always)]
pub fn reply_recv(cap: u64, tag: u64, mr: [u64; MR_IN_REGS]) -> Msg {
    syscall7(nr::REPLY_RECV, cap, tag, mr)
}

/// `send`: send to the endpoint in `cap`; blocks until it is taken.
#[inline(always)]
pub fn send(cap: u64, tag: u64, mr: [u64; MR_IN_REGS]) -> Msg {
    syscall7(nr::SEND, cap, tag, mr)
}

/// `recv`: wait for a message on the endpoint in `cap`.
#[inline(always)]
pub fn recv(cap: u64) -> Msg {
    syscall7(nr::RECV, cap, 0, [0; MR_IN_REGS])
}

/// `reply`: reply to the caller without waiting. Returns the status.
#[inline(always)]
pub fn reply(tag: u64, mr: [u64; MR_IN_REGS]) -> u64 {
    syscall7(nr::REPLY, 0, tag, mr).status
}

/// `yield`: let the next ready thread run. Returns the status. (The ABI
/// says nothing of the message registers after a `yield`, so every
/// argument register is taken as changed.)
#[inline(always)]
pub fn yield_() -> u64 {
    syscall7(nr::YIELD, 0, 0, [0; MR_IN_REGS]).status
}

/// Service `putc`: print `bytes` (at most [`PUTC_MAX`]; the rest is
/// dropped) on the console. Returns the status.
#[inline(always)]
pub fn putc(bytes: &[u8]) -> u64 {
    let n = bytes.len().min(PUTC_MAX);
    let mut mr = [0u64; MR_IN_REGS];
    for (i, b) in bytes[..n].iter().enumerate() {
        mr[i / 8] |= u64::from(*b) << (8 * (i % 8)); // little-endian within a word
    }
    syscall7(service::PUTC, n as u64, 0, mr).status
}

/// Prints `s` on the console, [`PUTC_MAX`] bytes per service call.
pub fn puts(s: &str) {
    for chunk in s.as_bytes().chunks(PUTC_MAX) {
        putc(chunk);
    }
}

/// Service `report`: one measured run. The caller has put the `n` counter
/// deltas in UTCB words 4..4+n. Returns the status.
#[inline(always)]
pub fn report(bench: u64, run: u64, ops: u64, n: u64) -> u64 {
    syscall7(service::REPORT, 0, 0, [bench, run, ops, n]).status
}

/// Service `fail`: a check failed (`what` as in [`crate::abi::what`]).
#[inline(always)]
pub fn fail(bench: u64, what: u64, got: u64, expected: u64) -> u64 {
    syscall7(service::FAIL, 0, 0, [bench, what, got, expected]).status
}

/// Service `test_ok`: scenario `id` passed.
#[inline(always)]
pub fn test_ok(id: u64) -> u64 {
    syscall7(service::TEST_OK, 0, 0, [id, 0, 0, 0]).status
}
