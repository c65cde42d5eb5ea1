// SPDX-License-Identifier: MIT OR Apache-2.0
//! Counter reads in user mode: `rdtsc` and `rdpmc` (DESIGN.md §5: counters
//! are read in user mode, as L4Re does).
//!
//! Neither read is serialising: the measured loops run tens of thousands of
//! rounds, so the few instructions by which a read may drift are noise, and
//! a fence would itself be counted. The asm blocks have no `pure` option,
//! so the compiler keeps them in program order relative to the `syscall`
//! blocks of the measured loop.

use core::arch::asm;

use crate::abi::TSC_SELECTOR;

/// The time-stamp counter.
///
/// Reading it has no memory-safety implications: `rdtsc` writes only `edx`
/// and `eax`. (With `CR4.TSD` set it would fault in user mode and the
/// kernel would kill the task; the kernels here leave it clear.)
#[inline(always)]
pub fn rdtsc() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: `rdtsc` reads a CPU counter into edx:eax and touches nothing
    // else (see above).
    unsafe {
        asm!(
            "rdtsc",          // edx:eax = TSC
            out("eax") lo,
            out("edx") hi,
            options(nomem, nostack, preserves_flags),
        );
    }
    (u64::from(hi) << 32) | u64::from(lo)
}

/// Performance-monitoring counter `ecx` (bit 30 set: Intel fixed counter
/// `ecx & 0x3fff`; otherwise a general counter).
///
/// No memory-safety implications: `rdpmc` writes only `edx` and `eax`. It
/// faults (and the task is killed) unless the kernel set `CR4.PCE` and the
/// counter exists; the runtime only hands out selectors of counters it set
/// up.
#[inline(always)]
pub fn rdpmc(ecx: u32) -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: `rdpmc` reads a CPU counter into edx:eax and touches nothing
    // else (see above).
    unsafe {
        asm!(
            "rdpmc",          // edx:eax = PMC[ecx]
            in("ecx") ecx,
            out("eax") lo,
            out("edx") hi,
            options(nomem, nostack, preserves_flags),
        );
    }
    (u64::from(hi) << 32) | u64::from(lo)
}

/// Reads the counter `selector` describes: [`TSC_SELECTOR`] for the TSC,
/// else the `rdpmc` index in the low 32 bits.
#[inline(always)]
pub fn read(selector: u64) -> u64 {
    if selector == TSC_SELECTOR {
        rdtsc()
    } else {
        rdpmc(selector as u32)
    }
}

/// The arch's first counter ([`crate::kernel::PRIMARY_SELECTOR`]'s), read
/// with no selector test: the time stamp of the latency loops.
#[inline(always)]
pub fn primary() -> u64 {
    rdtsc()
}
