// SPDX-License-Identifier: MIT OR Apache-2.0
//! The local APIC (just what SMP needs: its ID, the interrupt command
//! register for INIT, STARTUP and wake-up IPIs, end of interrupt) and a
//! delay for the start-up protocol.
//!
//! **xAPIC or x2APIC.** In xAPIC mode the registers are memory-mapped at
//! the physical address in `IA32_APIC_BASE` (0xFEE0_0000 unless moved); the
//! kernel maps that page uncached at [`LAPIC_VA`] in every address space
//! (`smp.rs`). In x2APIC mode the same registers are MSRs 0x800 + offset/16
//! and the ICR is one 64-bit MSR with the destination in its high half. We
//! use x2APIC only where we must: when the firmware handed over in x2APIC
//! mode (it cannot be switched back without a reset), or when an APIC ID
//! does not fit the xAPIC's 8 bits. QEMU 7.2 under TCG offers no x2APIC.
//!
//! **Delay.** The start-up protocol wants 10 ms and 200 µs waits. We count
//! TSC ticks at the rate `tsc.rs` finds: from CPUID where the CPU names it,
//! else measured once against the PIT (channel 2,
//! whose output the PC reads back at port 0x61 bit 5): the PIT runs at a
//! fixed 1.193182 MHz on every PC and in QEMU, where it follows the virtual
//! clock just like the TSC, so the delay is right under KVM, plain TCG and
//! icount alike. [`TscDelay`] implements `embedded_hal::delay::DelayNs`.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use embedded_hal::delay::DelayNs;
use x86_64::instructions::port::Port;
use x86_64::registers::model_specific::Msr;

/// Kernel virtual address of the xAPIC register page (see `smp.rs`).
pub const LAPIC_VA: u64 = crate::layout::DEVICE_VA;

/// `IA32_APIC_BASE`.
pub const MSR_APIC_BASE: u32 = 0x1B;
/// `IA32_APIC_BASE` bit 10: x2APIC mode.
const BASE_EXTD: u64 = 1 << 10;
/// `IA32_APIC_BASE` bit 11: the APIC is enabled.
const BASE_EN: u64 = 1 << 11;

/// Register offsets (xAPIC MMIO; the x2APIC MSR is 0x800 + offset / 16).
const REG_ID: u32 = 0x20;
const REG_TPR: u32 = 0x80;
const REG_EOI: u32 = 0xB0;
const REG_SVR: u32 = 0xF0;
const REG_LVT_LINT1: u32 = 0x360;
/// LVT delivery mode NMI (edge, unmasked).
const LVT_NMI: u32 = 0b100 << 8;
const REG_LVT_TIMER: u32 = 0x320;
const REG_TIMER_INIT: u32 = 0x380;
const REG_TIMER_CUR: u32 = 0x390;
const REG_TIMER_DIV: u32 = 0x3E0;
/// LVT mask bit.
const LVT_MASKED: u32 = 1 << 16;
const REG_ICR_LO: u32 = 0x300;
const REG_ICR_HI: u32 = 0x310;

/// ICR delivery status (xAPIC): the previous IPI is still being sent.
const ICR_PENDING: u32 = 1 << 12;
/// ICR: INIT, level-triggered, assert.
pub const ICR_INIT_ASSERT: u32 = 0x0000_C500;
/// ICR: INIT, level-triggered, de-assert (for old APICs; modern ones
/// ignore it, and x2APIC does not allow it).
pub const ICR_INIT_DEASSERT: u32 = 0x0000_8500;
/// ICR: STARTUP (the vector is the page number of the start address).
pub const ICR_STARTUP: u32 = 0x0000_4600;
/// ICR: fixed delivery, edge, assert (add the vector).
pub const ICR_FIXED: u32 = 0x0000_4000;

/// The vector that wakes a parked CPU (`smp::park`): any vector from 32 up
/// goes to a stub that returns at once; the wake-up only has to end `hlt`.
pub const WAKE_VECTOR: u8 = 0x40;
/// The spurious-interrupt vector (its low four bits must be set on old
/// APICs).
pub const SPURIOUS_VECTOR: u8 = 0xFF;

/// Registers are MSRs (set once, on the boot CPU, before any AP starts).
static X2APIC: AtomicBool = AtomicBool::new(false);

/// Is the APIC in x2APIC mode?
pub fn x2apic() -> bool {
    X2APIC.load(Ordering::Relaxed)
}

/// Physical address of the xAPIC registers and whether the firmware left
/// the APIC in x2APIC mode.
pub fn base() -> (u64, bool) {
    // SAFETY: IA32_APIC_BASE exists on every x86_64 CPU; reading it has
    // no side effect.
    let v = unsafe { Msr::new(MSR_APIC_BASE).read() };
    (v & 0x000F_FFFF_FFFF_F000, v & BASE_EXTD != 0)
}

/// Choose the register access for every CPU (boot CPU, before any AP).
pub fn set_mode(x2: bool) {
    X2APIC.store(x2, Ordering::Relaxed);
}

fn read(reg: u32) -> u32 {
    if x2apic() {
        // SAFETY: x2APIC mode is on (`set_mode`), so the MSR exists.
        unsafe { Msr::new(0x800 + reg / 16).read() as u32 }
    } else {
        // SAFETY: LAPIC_VA maps the register page in every space (smp.rs).
        unsafe { ((LAPIC_VA + u64::from(reg)) as *const u32).read_volatile() }
    }
}

fn write(reg: u32, v: u32) {
    if x2apic() {
        // SAFETY: as in `read`; these registers take any value we write.
        unsafe { Msr::new(0x800 + reg / 16).write(u64::from(v)) }
    } else {
        // SAFETY: as in `read`.
        unsafe { ((LAPIC_VA + u64::from(reg)) as *mut u32).write_volatile(v) }
    }
}

/// Enable this CPU's APIC (software enable, spurious vector, accept every
/// priority). Interrupts stay masked in `rflags`: the kernel takes none
/// but the wake-up in `smp::park`.
pub fn init_local() {
    if x2apic() {
        // SAFETY: the boot CPU chose x2APIC, so this CPU has it too (all
        // CPUs of a system share the mode); enabling is EN then EXTD.
        unsafe {
            let mut m = Msr::new(MSR_APIC_BASE);
            let v = m.read();
            if v & BASE_EXTD == 0 {
                m.write(v | BASE_EN);
                m.write(v | BASE_EN | BASE_EXTD);
            }
        }
    }
    write(REG_TPR, 0);
    write(REG_SVR, 0x100 | u32::from(SPURIOUS_VECTOR));
    // LINT1 delivers NMIs, as the PC wires it (the firmware sets this up on
    // the boot CPU only; a CPU out of reset has it masked): an NMI from a
    // BMC or a watchdog then reaches every CPU, whose stub counts it.
    write(REG_LVT_LINT1, LVT_NMI);
}

/// This CPU's APIC ID.
pub fn id() -> u32 {
    if x2apic() {
        read(REG_ID)
    } else {
        read(REG_ID) >> 24
    }
}

/// Send an IPI: `icr` is the low word (mode, level, vector), `dest` the
/// target's APIC ID. Returns once the APIC has sent it.
pub fn send_ipi(dest: u32, icr: u32) {
    if x2apic() {
        // SAFETY: x2APIC mode; one 64-bit write sends the IPI.
        unsafe { Msr::new(0x830).write((u64::from(dest) << 32) | u64::from(icr)) }
    } else {
        write(REG_ICR_HI, dest << 24);
        write(REG_ICR_LO, icr);
        while read(REG_ICR_LO) & ICR_PENDING != 0 {
            core::hint::spin_loop();
        }
    }
}

/// End of interrupt.
pub fn eoi() {
    write(REG_EOI, 0);
}

/// Start this CPU's APIC timer: one-shot, `vector`, the bus clock divided
/// by 1, `count` ticks (at least 1).
pub fn timer_one_shot(vector: u8, count: u32) {
    write(REG_TIMER_INIT, 0);
    write(REG_TIMER_DIV, 0b1011);
    write(REG_LVT_TIMER, u32::from(vector));
    write(REG_TIMER_INIT, count.max(1));
}

/// Stop this CPU's APIC timer (count 0, the LVT entry masked).
pub fn timer_stop() {
    write(REG_LVT_TIMER, LVT_MASKED);
    write(REG_TIMER_INIT, 0);
}

/// The timer's current count (0: expired or stopped).
pub fn timer_current() -> u32 {
    read(REG_TIMER_CUR)
}

// ----- delay -----------------------------------------------------------------

/// TSC ticks per microsecond, measured by [`calibrate`] (0: not yet).
static TSC_PER_US: AtomicU64 = AtomicU64::new(0);

/// PIT input clock, Hz.
const PIT_HZ: u64 = 1_193_182;

/// Measure the TSC rate against PIT channel 2 over about `ms` ms (at most
/// 50): count TSC ticks until the channel's one-shot count runs out.
/// Returns ticks per µs. If the PIT never answers (a machine without one)
/// we assume 4 GHz: too long a delay is safe, too short is not.
pub fn calibrate(ms: u64) -> u64 {
    let count = (PIT_HZ * ms.min(50) / 1000) as u16;
    let mut ctrl = Port::<u8>::new(0x61);
    let mut cmd = Port::<u8>::new(0x43);
    let mut ch2 = Port::<u8>::new(0x42);
    // SAFETY: port I/O on the PIT and the PC's system control port; only
    // channel 2 (the speaker's, whose output we keep off) is touched.
    let ticks = unsafe {
        let c = ctrl.read();
        ctrl.write((c & !0x02) | 0x01); // gate on, speaker output off
        cmd.write(0b1011_0000); // channel 2, lo/hi byte, mode 0, binary
        ch2.write(count as u8);
        ch2.write((count >> 8) as u8);
        let t0 = crate::pmu::rdtsc();
        let mut polls = 0u64;
        while ctrl.read() & 0x20 == 0 && polls < 50_000_000 {
            polls += 1;
            core::hint::spin_loop();
        }
        let t1 = crate::pmu::rdtsc();
        ctrl.write(c);
        if polls == 50_000_000 { 0 } else { t1 - t0 }
    };
    let per_us = if ticks == 0 { 4000 } else { (ticks / (ms.min(50) * 1000)).max(1) };
    TSC_PER_US.store(per_us, Ordering::Relaxed);
    per_us
}

/// Sets the delay's rate from a known TSC rate (`tsc.rs`: CPUID).
pub fn set_tsc_per_us(per_us: u64) {
    TSC_PER_US.store(per_us.max(1), Ordering::Relaxed);
}

/// A busy-wait on the TSC (after [`calibrate`]). It spins with `pause`:
/// under QEMU icount the other vCPUs run in between, and the wait ends
/// after the given virtual time, so it cannot livelock.
#[derive(Clone, Copy, Debug, Default)]
pub struct TscDelay;

impl DelayNs for TscDelay {
    fn delay_ns(&mut self, ns: u32) {
        let per_us = TSC_PER_US.load(Ordering::Relaxed).max(1);
        let ticks = (u64::from(ns) * per_us).div_ceil(1000);
        let t0 = crate::pmu::rdtsc();
        while crate::pmu::rdtsc().wrapping_sub(t0) < ticks {
            core::hint::spin_loop();
        }
    }
}

/// TSC ticks in `us` microseconds (after [`calibrate`]).
pub fn us_to_ticks(us: u64) -> u64 {
    us * TSC_PER_US.load(Ordering::Relaxed).max(1)
}
