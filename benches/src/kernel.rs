// SPDX-License-Identifier: MIT OR Apache-2.0
//! The interface between the roles and the machine: system calls, UTCB
//! words, counters and the deliberate faults.
//!
//! On the target, `native::Native` implements it with the inline
//! `syscall` stubs of `sys`; every method is `#[inline(always)]`, so
//! the role loops compile to straight-line code around each `syscall`. On the
//! host, the tests implement it with mock kernels (two threads joined by
//! channels play client and server), so the very loops that run in user
//! mode are tested here.

use crate::abi::{MR_IN_REGS, nr, service, word};

/// The selector of the arch's first counter: the TSC on x86_64 (and on the
/// host), PMCCNTR_EL0 on AArch64.
#[cfg(not(target_arch = "aarch64"))]
pub const PRIMARY_SELECTOR: u64 = crate::abi::TSC_SELECTOR;
/// The selector of the arch's first counter: the TSC on x86_64 (and on the
/// host), PMCCNTR_EL0 on AArch64.
#[cfg(target_arch = "aarch64")]
pub const PRIMARY_SELECTOR: u64 = crate::abi::PMCCNTR_SELECTOR;
use crate::msg::{Failure, Msg};
use crate::scenario::{Fault, PROBE_WORDS};

/// What the user program needs from the kernel and the CPU.
pub trait Kernel {
    /// A system call with every argument register: number, capability slot
    /// (or the `putc` byte count), tag, MR0..MR3.
    fn syscall(&mut self, nr: u64, cap: u64, tag: u64, mr: [u64; MR_IN_REGS]) -> Msg;

    /// The `null` syscall with `mr0` in MR0; returns status and MR0 (which
    /// the kernel must leave alone).
    fn null(&mut self, mr0: u64) -> (u64, u64);

    /// `invoke` on capability slot `cap` with `tag` (op in the label);
    /// returns the status and the result word. The message registers are
    /// the caller's own afterwards.
    fn invoke(&mut self, cap: u64, tag: u64) -> (u64, u64);

    /// UTCB word `k` (message words from 4 up; the `report` deltas).
    fn utcb(&self, k: usize) -> u64;

    /// Writes UTCB word `k`.
    fn set_utcb(&mut self, k: usize, v: u64);
    /// Adds `d` (wrapping) to UTCB words `from..to`: a long message's turn
    /// of its UTCB words (`crate::msg`).
    #[inline(always)]
    fn utcb_add(&mut self, from: usize, to: usize, d: u64) {
        for k in from..to {
            let v = self.utcb(k);
            self.set_utcb(k, v.wrapping_add(d));
        }
    }
    /// Checks UTCB words `from..to` against the pattern `first + (k -
    /// from) * WORD_STEP`, then adds `d` (wrapping) to each: a long reply's
    /// check and turn (`crate::msg`). Returns the differences from the
    /// pattern folded into one word: zero exactly when all matched.
    #[inline(always)]
    fn utcb_check_turn(&mut self, from: usize, to: usize, first: u64, d: u64) -> u64 {
        let bad = crate::msg::mismatch_words(from, to, first, |k| self.utcb(k));
        self.utcb_add(from, to, d);
        bad
    }
    /// Reads the counter described by `selector` (docs/abi.md, word 10+i).
    fn read_counter(&mut self, selector: u64) -> u64;

    /// Reads the arch's first counter, [`PRIMARY_SELECTOR`]'s (the TSC on
    /// x86_64, PMCCNTR_EL0 on AArch64), with no test of a selector: the
    /// latency loops' usual time stamp.
    #[inline(always)]
    fn read_primary(&mut self) -> u64 {
        self.read_counter(PRIMARY_SELECTOR)
    }

    /// Runs `null` with known values in every register the kernel must
    /// preserve; returns the status, then those registers afterwards, in the
    /// order of [`crate::scenario::PROBE_REGS`].
    fn null_probe(&mut self) -> [u64; PROBE_WORDS];

    /// Does the bad thing `f`. Returns only if the kernel let it pass.
    fn fault(&mut self, f: Fault);

    /// `call`: send to the endpoint in `cap`, wait for the reply.
    #[inline(always)]
    fn call(&mut self, cap: u64, tag: u64, mr: [u64; MR_IN_REGS]) -> Msg {
        self.syscall(nr::CALL, cap, tag, mr)
    }

    /// `reply_recv`: reply to the caller, then wait on the endpoint in `cap`.
    #[inline(always)]
    fn reply_recv(&mut self, cap: u64, tag: u64, mr: [u64; MR_IN_REGS]) -> Msg {
        self.syscall(nr::REPLY_RECV, cap, tag, mr)
    }

    /// `recv`: wait for a message on the endpoint in `cap`.
    #[inline(always)]
    fn recv(&mut self, cap: u64) -> Msg {
        self.syscall(nr::RECV, cap, 0, [0; MR_IN_REGS])
    }

    /// Service `report`: one measured run; `deltas` go to UTCB words 4.. .
    /// Returns the status.
    fn report(&mut self, bench: u64, run: u64, ops: u64, deltas: &[u64]) -> u64 {
        for (i, d) in deltas.iter().enumerate() {
            self.set_utcb(word::REPORT_BASE + i, *d);
        }
        self.syscall(
            service::REPORT,
            0,
            0,
            [bench, run, ops, deltas.len() as u64],
        )
        .status
    }

    /// Service `fail`: a check failed.
    fn fail(&mut self, bench: u64, f: Failure) {
        self.syscall(service::FAIL, 0, 0, [bench, f.what, f.got, f.expected]);
    }

    /// Service `latency`: the sample buffer holds `pairs` overhead deltas
    /// and `runs` runs of `rounds + 1` time stamps. Returns the status.
    fn latency(&mut self, bench: u64, pairs: u64, rounds: u64, runs: u64) -> u64 {
        self.syscall(service::LATENCY, 0, 0, [bench, pairs, rounds, runs]).status
    }

    /// Service `test_ok`: scenario `id` passed.
    fn test_ok(&mut self, id: u64) {
        self.syscall(service::TEST_OK, 0, 0, [id, 0, 0, 0]);
    }
}
