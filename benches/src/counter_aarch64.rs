// SPDX-License-Identifier: MIT OR Apache-2.0
//! Counter reads in AArch64 user mode: PMCCNTR_EL0 and the PMU event
//! counters (DESIGN.md §5: counters are read in user mode, as L4Re does).
//!
//! The kernel sets `PMUSERENR_EL0.CR` and `ER`, which let EL0 read (not
//! write) the cycle and event counters. Neither read is serialising (no
//! `isb`): the measured loops run thousands of rounds, so the few
//! instructions by which a read may drift are noise, and a barrier would
//! itself be counted. The asm blocks have no `pure` option, so the compiler
//! keeps them in program order relative to the `svc` blocks of the measured
//! loop.

use core::arch::asm;

use crate::abi::PMCCNTR_SELECTOR;

/// The cycle counter.
///
/// Reading it has no memory-safety implications: `mrs` writes only its
/// destination register. (Without `PMUSERENR_EL0.CR` it would trap and the
/// kernel would kill the task; the kernel sets it.)
#[inline(always)]
pub fn pmccntr() -> u64 {
    let v: u64;
    // SAFETY: reads a counter into one register, touches nothing else (see
    // above).
    unsafe {
        asm!(
            "mrs {v}, pmccntr_el0", // v = PMCCNTR_EL0
            v = out(reg) v,
            options(nomem, nostack, preserves_flags),
        );
    }
    v
}

/// Event counter `n` (0..=3; any other `n` reads as 0).
///
/// No memory-safety implications: `mrs` writes only its destination. It
/// traps (and the task is killed) unless the kernel set
/// `PMUSERENR_EL0.ER` and the counter exists; the runtime only hands out
/// selectors of counters it set up.
#[inline(always)]
pub fn pmevcntr(n: u64) -> u64 {
    let v: u64;
    match n {
        // SAFETY: reads one counter into one register (see above).
        0 => unsafe {
            asm!("mrs {}, pmevcntr0_el0", out(reg) v, options(nomem, nostack, preserves_flags))
        },
        // SAFETY: as above.
        1 => unsafe {
            asm!("mrs {}, pmevcntr1_el0", out(reg) v, options(nomem, nostack, preserves_flags))
        },
        // SAFETY: as above.
        2 => unsafe {
            asm!("mrs {}, pmevcntr2_el0", out(reg) v, options(nomem, nostack, preserves_flags))
        },
        // SAFETY: as above.
        3 => unsafe {
            asm!("mrs {}, pmevcntr3_el0", out(reg) v, options(nomem, nostack, preserves_flags))
        },
        _ => v = 0,
    }
    v
}

/// Reads the counter `selector` describes: [`PMCCNTR_SELECTOR`] for the
/// cycle counter, else event counter `selector - 1`.
#[inline(always)]
pub fn read(selector: u64) -> u64 {
    if selector == PMCCNTR_SELECTOR {
        pmccntr()
    } else {
        pmevcntr(selector - 1)
    }
}

/// The arch's first counter ([`crate::kernel::PRIMARY_SELECTOR`]'s), read
/// with no selector test: the time stamp of the latency loops.
#[inline(always)]
pub fn primary() -> u64 {
    pmccntr()
}
