// SPDX-License-Identifier: MIT OR Apache-2.0
//! The real [`Kernel`]: the `syscall` stubs, this thread's UTCB, the CPU's
//! counters. Every method inlines to the stub it names.

use crate::abi::MR_IN_REGS;
use crate::counter;
use crate::kernel::Kernel;
use crate::msg::Msg;
use crate::scenario::{Fault, PROBE_WORDS};
use crate::sys::{self, Utcb};

/// The kernel as seen from this user thread.
#[derive(Clone, Copy, Debug)]
pub struct Native {
    utcb: Utcb,
    code: usize,
}

impl Native {
    /// The kernel, for the thread whose UTCB is `utcb`; `code` is an
    /// address in the program's code (the entry point), the target of the
    /// write-to-code fault scenario.
    pub const fn new(utcb: Utcb, code: usize) -> Native {
        Native { utcb, code }
    }
}

impl Kernel for Native {
    #[inline(always)]
    fn syscall(&mut self, nr: u64, cap: u64, tag: u64, mr: [u64; MR_IN_REGS]) -> Msg {
        sys::syscall7(nr, cap, tag, mr)
    }

    #[inline(always)]
    fn null(&mut self, mr0: u64) -> (u64, u64) {
        sys::null(mr0)
    }

    #[inline(always)]
    fn invoke(&mut self, cap: u64, tag: u64) -> (u64, u64) {
        sys::invoke(cap, tag)
    }

    #[inline(always)]
    fn utcb(&self, k: usize) -> u64 {
        self.utcb.get(k)
    }

    #[inline(always)]
    fn set_utcb(&mut self, k: usize, v: u64) {
        self.utcb.set(k, v)
    }

    #[inline(always)]
    fn utcb_add(&mut self, from: usize, to: usize, d: u64) {
        self.utcb.add_words(from, to, d)
    }

    #[inline(always)]
    fn utcb_check_turn(&mut self, from: usize, to: usize, first: u64, d: u64) -> u64 {
        self.utcb.check_turn_words(from, to, first, d)
    }

    #[inline(always)]
    fn read_counter(&mut self, selector: u64) -> u64 {
        counter::read(selector)
    }

    #[inline(always)]
    fn read_primary(&mut self) -> u64 {
        counter::primary()
    }

    fn null_probe(&mut self) -> [u64; PROBE_WORDS] {
        sys::null_probe()
    }

    fn fault(&mut self, f: Fault) {
        sys::fault(f, self.code)
    }
}
