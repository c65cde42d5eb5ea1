// SPDX-License-Identifier: MIT OR Apache-2.0
//! x86 performance counters, programmed for reads from user mode (CR4.PCE,
//! set in `cpu::init`), as L4Re's ipcbench reads them.
//!
//! * **Intel**: the architectural fixed counters (CPUID leaf 0xA, version 2
//!   or later, three or more fixed counters): instructions retired, core
//!   cycles, reference cycles: L4Re's "a/b/c" triple. Counting in both
//!   rings; RDPMC index `1 << 30 | n`.
//! * **AMD**: core performance counters 0 and 1 (PerfCtrExtCore, CPUID
//!   0x8000_0001 ECX bit 23) with event 0xC0 (retired instructions) and
//!   0x76 (cycles not in halt); RDPMC index 0 and 1.
//! * **TSC**: always (selector `1 << 63` tells user code to use RDTSC).
//!
//! A counter the CPU (or hypervisor) does not announce is reported absent
//! and never programmed: no MSR is touched on a guess.

use pmu::{CounterKind, CounterSet, MAX_COUNTERS};
use runtime::CounterSelector;
use x86_64::registers::model_specific::Msr;

use crate::cpu::cpuid;

/// Selector meaning "read with RDTSC".
pub const SEL_TSC: CounterSelector = 1 << 63;

/// Is the CPU vendor string "GenuineIntel" / "AuthenticAMD"?
fn vendor() -> [u8; 12] {
    let (_, b, c, d) = cpuid(0, 0);
    let mut v = [0u8; 12];
    v[0..4].copy_from_slice(&b.to_le_bytes());
    v[4..8].copy_from_slice(&d.to_le_bytes());
    v[8..12].copy_from_slice(&c.to_le_bytes());
    v
}

/// Probe and program the counters; returns the set and user selectors.
pub fn init() -> (CounterSet, [CounterSelector; MAX_COUNTERS]) {
    let mut set = CounterSet::new();
    let mut sel = [0; MAX_COUNTERS];
    let mut n = 0;
    let mut add = |set: &mut CounterSet, k: CounterKind, s: CounterSelector| {
        set.push(k);
        sel[n] = s;
        n += 1;
    };
    let v = vendor();
    let max = cpuid(0, 0).0;
    if &v == b"GenuineIntel" && max >= 0xA {
        let (eax, _, _, edx) = cpuid(0xA, 0);
        let version = eax & 0xFF;
        let fixed = edx & 0x1F;
        if version >= 2 && fixed >= 3 {
            // SAFETY: CPUID announces architectural perfmon v2 with three
            // fixed counters, so these MSRs exist. Count in rings 0 and 3.
            unsafe {
                Msr::new(0x38D).write(0x333); // IA32_FIXED_CTR_CTRL
                for i in 0..3 {
                    Msr::new(0x309 + i).write(0); // IA32_FIXED_CTRi
                }
                let g = Msr::new(0x38F).read(); // IA32_PERF_GLOBAL_CTRL
                Msr::new(0x38F).write(g | (0x7 << 32));
            }
            add(&mut set, CounterKind::Instructions, 1 << 30);
            add(&mut set, CounterKind::CoreCycles, (1 << 30) | 1);
            add(&mut set, CounterKind::RefCycles, (1 << 30) | 2);
        }
    } else if &v == b"AuthenticAMD" && cpuid(0x8000_0000, 0).0 >= 0x8000_0001 {
        let ecx = cpuid(0x8000_0001, 0).2;
        if ecx & (1 << 23) != 0 {
            const EN: u64 = 1 << 22;
            const OS_USR: u64 = (1 << 16) | (1 << 17);
            // SAFETY: PerfCtrExtCore announces the extended core counter
            // MSRs (PERF_CTL0/1 at 0xC001_0200/2, PERF_CTR0/1 at +1).
            unsafe {
                Msr::new(0xC001_0201).write(0);
                Msr::new(0xC001_0203).write(0);
                Msr::new(0xC001_0200).write(EN | OS_USR | 0xC0);
                Msr::new(0xC001_0202).write(EN | OS_USR | 0x76);
            }
            add(&mut set, CounterKind::Instructions, 0);
            add(&mut set, CounterKind::CoreCycles, 1);
        }
    }
    add(&mut set, CounterKind::Tsc, SEL_TSC);
    (set, sel)
}

/// Vendor and brand strings (CPUID 0 and 0x8000_0002..4).
pub fn identity(vendor_out: &mut [u8; 16], model: &mut [u8; 48]) -> (usize, usize) {
    vendor_out[..12].copy_from_slice(&vendor());
    let mut m = 0;
    if cpuid(0x8000_0000, 0).0 >= 0x8000_0004 {
        for (i, leaf) in (0x8000_0002u32..=0x8000_0004).enumerate() {
            let (a, b, c, d) = cpuid(leaf, 0);
            for (j, w) in [a, b, c, d].iter().enumerate() {
                model[i * 16 + j * 4..i * 16 + j * 4 + 4].copy_from_slice(&w.to_le_bytes());
            }
        }
        m = model.iter().position(|&b| b == 0).unwrap_or(48);
        // Trim the padding some CPUs put around the brand string.
        while m > 0 && model[m - 1] == b' ' {
            m -= 1;
        }
    }
    (12, m)
}

/// Timed loop for the boot calibration: `iters` iterations of `dec; jnz`.
pub fn calibrate(iters: u64) -> u64 {
    #[cfg(target_os = "none")]
    {
        let t0 = rdtsc();
        // SAFETY: a register-only loop.
        unsafe {
            core::arch::asm!("2: dec {n}", "jnz 2b", n = inout(reg) iters.max(1) => _,
                options(nomem, nostack));
        }
        rdtsc() - t0
    }
    #[cfg(not(target_os = "none"))]
    {
        let _ = iters;
        unimplemented!("calibration runs on the target only")
    }
}

/// Read the time-stamp counter.
#[inline(always)]
pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC has no side effects; CR4.TSD is clear.
    unsafe { core::arch::x86_64::_rdtsc() }
}
