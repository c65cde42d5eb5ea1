// SPDX-License-Identifier: MIT OR Apache-2.0
//! The watchdog: the generic timer of the boot CPU through a GICv2 (QEMU
//! `virt`), armed while user code runs outside the timed runs, off during
//! them.
//!
//! EL0 always runs with `PSTATE.I` clear (every exit writes `SPSR` = 0);
//! what keeps interrupts out of the timed runs is that no source is on:
//! the timers are off ([`crate::cpu::init`]) and the GIC's CPU interface is
//! disabled. [`arm`] turns both on for the boot CPU (the one that runs
//! the scenarios): the timer of the kernel's exception level (EL1: the
//! virtual timer, `CNTV`, INTID 27; EL2 with VHE: the EL2 physical timer,
//! which the `CNTP` names reach under `E2H`, INTID 26) with a compare value
//! `budget` ticks ahead (`CNTFRQ`: 62.5 MHz in QEMU 7.2), its private
//! interrupt enabled in the distributor, the CPU interface on. [`arm`] with
//! `None` turns the timer and the CPU interface off again before a
//! benchmark, so the timed runs see exactly the state they always had; the
//! vectors and the `svc` paths are unchanged.
//!
//! An IRQ from EL0 (the vector's slot `0x480`) saves a `TrapFrame` and asks
//! [`on_irq`]: the watchdog's expiry (the timer's interrupt, acknowledged
//! and ended at the GIC) kills the running task; anything else is a stray
//! interrupt as before (counted, masked for the thread it hit). Boards
//! without a GICv2 in their device tree (the Pis, GICv3 machines) have no
//! watchdog yet: [`available`] is false and nothing is armed.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The distributor and CPU interface (kernel virtual addresses; 0: none).
static GICD: AtomicU64 = AtomicU64::new(0);
static GICC: AtomicU64 = AtomicU64::new(0);
/// The budget in force (ticks; 0: disarmed).
static BUDGET: AtomicU64 = AtomicU64::new(0);
/// IRQs the watchdog's timer delivered.
static IRQS: AtomicU64 = AtomicU64::new(0);
/// The timer is the EL2 one (`CNTP` names under VHE), not `CNTV`.
static EL2: AtomicBool = AtomicBool::new(false);

const GICD_CTLR: u64 = 0x000;
const GICD_ISENABLER0: u64 = 0x100;
const GICD_ICENABLER0: u64 = 0x180;
const GICD_IPRIORITYR: u64 = 0x400;
const GICC_CTLR: u64 = 0x00;
const GICC_PMR: u64 = 0x04;
const GICC_IAR: u64 = 0x0C;
const GICC_EOIR: u64 = 0x10;

/// What an IRQ from EL0 was ([`on_irq`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Irq {
    /// The watchdog's budget ran out: kill the running task.
    Expired,
    /// Nothing to do (a spurious or stale interrupt): resume.
    Resume,
    /// Not the watchdog's: a stray interrupt (count it, mask it for the
    /// interrupted thread).
    Stray,
}

fn rd(base: &AtomicU64, off: u64) -> u32 {
    // SAFETY: a GIC register in the device window (`init_from_dt`).
    unsafe { ((base.load(Ordering::Relaxed) + off) as *const u32).read_volatile() }
}

fn wr(base: &AtomicU64, off: u64, v: u32) {
    // SAFETY: as in `rd`.
    unsafe { ((base.load(Ordering::Relaxed) + off) as *mut u32).write_volatile(v) }
}

/// The timer's interrupt ID.
fn intid() -> u32 {
    if EL2.load(Ordering::Relaxed) { 26 } else { 27 }
}

/// Find a GICv2 in the device tree at `dtb` and note it (boot CPU, before
/// user code; `el`: the kernel's exception level). Without one (or outside
/// the device window) the board has no watchdog.
pub fn init_from_dt(dtb: u64, el: u8) {
    if !crate::paging::in_direct_map(dtb) {
        return;
    }
    // SAFETY: as `psci::conduit_from_dt`: a device tree in the direct map,
    // never written, mapped for the life of the kernel.
    let Ok(fdt) = (unsafe { fdt::Fdt::from_ptr(crate::paging::phys_to_virt(dtb)) }) else {
        return;
    };
    let Some(node) = fdt.find_compatible(&["arm,cortex-a15-gic", "arm,gic-400"]) else {
        return;
    };
    let mut reg = node.reg().into_iter().flatten();
    let (Some(d), Some(c)) = (reg.next(), reg.next()) else {
        return;
    };
    let (Some(d), Some(c)) = (
        crate::paging::device_va(d.starting_address as u64),
        crate::paging::device_va(c.starting_address as u64),
    ) else {
        return;
    };
    EL2.store(el == 2, Ordering::Relaxed);
    GICD.store(d, Ordering::Relaxed);
    GICC.store(c, Ordering::Relaxed);
}

/// Has this board a watchdog (a GICv2 found, and this is the boot CPU)?
pub fn available() -> bool {
    GICC.load(Ordering::Relaxed) != 0 && crate::smp::cpu_index() == 0
}

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
fn timer_set(deadline: Option<u64>) {
    use aarch64_cpu::asm::barrier;
    use aarch64_cpu::registers::{
        CNTPCT_EL0, CNTP_CTL_EL0, CNTP_CVAL_EL0, CNTVCT_EL0, CNTV_CTL_EL0, CNTV_CVAL_EL0, Readable,
        Writeable,
    };
    let el2 = EL2.load(Ordering::Relaxed);
    match (deadline, el2) {
        (Some(t), false) => {
            CNTV_CVAL_EL0.set(CNTVCT_EL0.get().wrapping_add(t));
            CNTV_CTL_EL0.set(1);
        }
        (Some(t), true) => {
            CNTP_CVAL_EL0.set(CNTPCT_EL0.get().wrapping_add(t));
            CNTP_CTL_EL0.set(1);
        }
        (None, false) => CNTV_CTL_EL0.set(0),
        (None, true) => CNTP_CTL_EL0.set(0),
    }
    barrier::isb(barrier::SY);
}

#[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
fn timer_set(_: Option<u64>) {}

/// The timer is on and has fired (`ISTATUS`).
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
fn timer_fired() -> bool {
    use aarch64_cpu::registers::{CNTP_CTL_EL0, CNTV_CTL_EL0, Readable};
    let ctl = if EL2.load(Ordering::Relaxed) { CNTP_CTL_EL0.get() } else { CNTV_CTL_EL0.get() };
    ctl & 0b101 == 0b101
}

#[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
fn timer_fired() -> bool {
    false
}

/// Arm the watchdog with `budget` ticks of the generic timer, or (`None`,
/// or 0) stop it. Returns whether the board has one ([`available`]).
/// Call between runs of user mode, on the boot CPU.
pub fn arm(budget: Option<u64>) -> bool {
    if !available() {
        return false;
    }
    let b = budget.unwrap_or(0);
    BUDGET.store(b, Ordering::Relaxed);
    if b == 0 {
        timer_set(None);
        wr(&GICC, GICC_CTLR, 0);
    } else {
        let id = intid();
        wr(&GICD, GICD_IPRIORITYR + u64::from(id & !3), rd(&GICD, GICD_IPRIORITYR + u64::from(id & !3)) & !(0xFF << (8 * (id % 4))) | (0xA0 << (8 * (id % 4))));
        wr(&GICD, GICD_ISENABLER0, 1 << id);
        wr(&GICD, GICD_CTLR, rd(&GICD, GICD_CTLR) | 1);
        wr(&GICC, GICC_PMR, 0xF0);
        wr(&GICC, GICC_CTLR, 1);
        timer_set(Some(b));
    }
    true
}

/// A fresh budget for the threads left after a kill (armed only).
pub fn rearm() {
    let b = BUDGET.load(Ordering::Relaxed);
    if b != 0 {
        timer_set(Some(b));
    }
}

/// The budget in force (ticks; 0: disarmed).
pub fn budget() -> u64 {
    BUDGET.load(Ordering::Relaxed)
}

/// An IRQ from EL0: acknowledge it at the GIC (if the watchdog owns one),
/// end it, and sort it ([`Irq`]).
pub fn on_irq() -> Irq {
    if GICC.load(Ordering::Relaxed) == 0 || crate::smp::cpu_index() != 0 {
        return Irq::Stray;
    }
    let iar = rd(&GICC, GICC_IAR);
    let id = iar & 0x3FF;
    if id >= 1020 {
        // Spurious: nothing pending any more (or not for this interface).
        return if BUDGET.load(Ordering::Relaxed) != 0 { Irq::Resume } else { Irq::Stray };
    }
    let mine = id == intid();
    let fired = mine && timer_fired();
    if mine {
        IRQS.fetch_add(1, Ordering::Relaxed);
        // The level-sensitive timer output stays high until it is off.
        timer_set(None);
    }
    wr(&GICC, GICC_EOIR, iar);
    if !mine {
        // Some other source the firmware left on: off for good.
        wr(&GICD, GICD_ICENABLER0 + 4 * u64::from(id / 32), 1 << (id % 32));
    }
    match (mine, fired && BUDGET.load(Ordering::Relaxed) != 0) {
        (true, true) => Irq::Expired,
        (true, false) => Irq::Resume,
        (false, _) => Irq::Stray,
    }
}

/// IRQs the watchdog's timer delivered so far.
pub fn interrupts() -> u64 {
    IRQS.load(Ordering::Relaxed)
}
