// SPDX-License-Identifier: MIT OR Apache-2.0
//! The BCM2836 per-core local interrupt controller ("ARM control" block
//! of the BCM2836/2837: Raspberry Pi 2 and 3; QEMU's `raspi3b` emulates
//! it as `bcm2836_control`), which takes the place of a GIC there: each
//! core's generic-timer outputs go straight to that core's IRQ line
//! when enabled here.
//!
//! Registers (32 bits, physical base [`BASE`], BCM2836 "ARM Quad A7 core"
//! document, QEMU `hw/intc/bcm2836_control.c`):
//!
//! | offset | register |
//! |---|---|
//! | `0x40 + 4 * core` | core timer interrupt control: bit 0 `CNTPS`, 1 `CNTPNS`, 2 `CNTHP`, 3 `CNTV` to IRQ; bits 4-7 the same to FIQ |
//! | `0x60 + 4 * core` | core IRQ source: bits 0-3 the four timers, 4-7 mailboxes, 8 the GPU, 9 the PMU, 11 the local timer |
//!
//! The core number is `MPIDR_EL1.Aff0` (0-3). Nothing is acknowledged
//! here: a timer's line is level-sensitive and drops when the timer is
//! turned off or given a later compare value.

/// The block's physical base on the BCM2836 and BCM2837.
pub const BASE: u64 = 0x4000_0000;

/// The core timer interrupt control register of `core`.
pub const fn timer_control(core: u64) -> u64 {
    0x40 + 4 * core
}

/// The core IRQ source register of `core`.
pub const fn irq_source(core: u64) -> u64 {
    0x60 + 4 * core
}

/// Bit of a generic timer in [`timer_control`] (IRQ) and [`irq_source`]:
/// the non-secure physical timer (`CNTP`, under VHE the EL2 one's names).
pub const CNTPNS: u32 = 1 << 1;
/// The EL2 physical timer (`CNTHP`).
pub const CNTHP: u32 = 1 << 2;
/// The virtual timer (`CNTV`).
pub const CNTV: u32 = 1 << 3;

/// The timer bits of [`irq_source`] (any of the four timers).
pub const TIMERS: u32 = 0xF;

/// The block's registers at kernel virtual address `va`.
#[derive(Clone, Copy, Debug)]
pub struct LocalIntc {
    va: u64,
}

impl LocalIntc {
    /// # Safety
    ///
    /// `va` maps the block (device memory) for the life of the kernel.
    pub const unsafe fn new(va: u64) -> LocalIntc {
        LocalIntc { va }
    }

    fn rd(&self, off: u64) -> u32 {
        // SAFETY: a register of the block `new` was given.
        unsafe { ((self.va + off) as *const u32).read_volatile() }
    }

    fn wr(&self, off: u64, v: u32) {
        // SAFETY: as in `rd`.
        unsafe { ((self.va + off) as *mut u32).write_volatile(v) }
    }

    /// Route the timers `bits` (of [`CNTV`], [`CNTHP`], [`CNTPNS`]) of
    /// `core` to its IRQ line, and no other timer (none: `bits` = 0).
    pub fn route_timers(&self, core: u64, bits: u32) {
        self.wr(timer_control(core), bits & TIMERS);
    }

    /// What is asserting `core`'s IRQ line now ([`irq_source`]'s bits).
    pub fn pending(&self, core: u64) -> u32 {
        self.rd(irq_source(core))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_offsets_per_core() {
        assert_eq!(BASE + timer_control(0), 0x4000_0040);
        assert_eq!(BASE + timer_control(3), 0x4000_004C);
        assert_eq!(BASE + irq_source(0), 0x4000_0060);
        assert_eq!(BASE + irq_source(2), 0x4000_0068);
        assert_eq!(CNTV | CNTHP | CNTPNS, 0b1110);
    }
}
