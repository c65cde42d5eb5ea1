// SPDX-License-Identifier: MIT OR Apache-2.0
//! The watchdog: the generic timer of the boot CPU through a GICv2 or
//! GICv3 (QEMU `virt`), armed while user code runs outside the timed runs, off during
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
//! interrupt as before (counted, masked for the thread it hit). A GICv3
//! (virt above 8 CPUs) works the same way through the boot CPU's
//! redistributor and the `ICC_*` registers (`ICC_IGRPEN1_EL1` is the
//! switch). Boards without a GIC in their device tree (raspi3b, ACPI-only
//! machines) or with one outside the device window have no watchdog yet:
//! [`available`] is false and nothing is armed.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The distributor and CPU interface (kernel virtual addresses; 0: none).
/// With a GICv3, `GICC` is the boot CPU's redistributor instead (its SGI
/// and PPI frame at + 64 KiB) and the CPU interface is the `ICC_*`
/// system registers.
static GICD: AtomicU64 = AtomicU64::new(0);
static GICC: AtomicU64 = AtomicU64::new(0);
/// The GIC is a GICv3.
static V3: AtomicBool = AtomicBool::new(false);
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
/// GICv3 redistributor: `GICR_TYPER`, `GICR_WAKER`; in the SGI frame
/// (+ 64 KiB): `GICR_IGROUPR0`, `GICR_ISENABLER0`, `GICR_IPRIORITYR`.
const GICR_TYPER: u64 = 0x08;
const GICR_WAKER: u64 = 0x14;
const GICR_SGI: u64 = 0x1_0000;
const GICR_IGROUPR0: u64 = GICR_SGI + 0x80;

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
    let (node, v3) = match fdt.find_compatible(&["arm,cortex-a15-gic", "arm,gic-400"]) {
        Some(n) => (n, false),
        None => match fdt.find_compatible(&["arm,gic-v3"]) {
            Some(n) => (n, true),
            None => return,
        },
    };
    let mut reg = node.reg().into_iter().flatten();
    let (Some(d), Some(c)) = (reg.next(), reg.next()) else {
        return;
    };
    let Some(d) = crate::paging::device_va(d.starting_address as u64) else {
        return;
    };
    let c = if v3 {
        // The boot CPU's redistributor: the frame (128 KiB each, the last
        // one marked in GICR_TYPER) whose affinity is this CPU's.
        let me = mpidr_aff();
        let mut pa = c.starting_address as u64;
        let mut found = None;
        for _ in 0..crate::smp::MAX_CPUS {
            let Some(va) = crate::paging::device_va(pa) else { break };
            // SAFETY: a redistributor frame of the region the device tree
            // names, in the device window.
            let typer = unsafe { ((va + GICR_TYPER) as *const u64).read_volatile() };
            if typer >> 32 == me {
                found = Some(va);
                break;
            }
            if typer & (1 << 4) != 0 {
                break;
            }
            pa += 0x2_0000;
        }
        let Some(va) = found else { return };
        va
    } else {
        let Some(va) = crate::paging::device_va(c.starting_address as u64) else {
            return;
        };
        va
    };
    EL2.store(el == 2, Ordering::Relaxed);
    V3.store(v3, Ordering::Relaxed);
    GICD.store(d, Ordering::Relaxed);
    GICC.store(c, Ordering::Relaxed);
}

/// This CPU's affinity as `GICR_TYPER` bits 63:32 hold it (Aff3, Aff2,
/// Aff1, Aff0).
fn mpidr_aff() -> u64 {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    {
        use aarch64_cpu::registers::{MPIDR_EL1, Readable};
        let m = MPIDR_EL1.get();
        (m & 0xFF_FFFF) | ((m >> 32 & 0xFF) << 24)
    }
    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    0
}

/// The GICv3 CPU interface (`ICC_*_EL1`, reached from EL1 and from EL2).
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod icc {
    /// `ICC_SRE_EL1.SRE`, `ICC_PMR_EL1`, `ICC_IGRPEN1_EL1` (`on`: 1).
    pub fn enable(on: bool) {
        // SAFETY: GICv3 system registers (the device tree names a GICv3);
        // they touch no memory.
        unsafe {
            if on {
                core::arch::asm!(
                    "mrs {t}, S3_0_C12_C12_5", "orr {t}, {t}, #1", "msr S3_0_C12_C12_5, {t}", "isb",
                    "mov {t}, #0xF0", "msr S3_0_C4_C6_0, {t}",
                    "mov {t}, #1", "msr S3_0_C12_C12_7, {t}", "isb",
                    t = out(reg) _, options(nostack)
                );
            } else {
                core::arch::asm!("msr S3_0_C12_C12_7, xzr", "isb", options(nostack));
            }
        }
    }
    /// `ICC_IAR1_EL1`.
    pub fn ack() -> u32 {
        let v: u64;
        // SAFETY: as in `enable`.
        unsafe { core::arch::asm!("mrs {v}, S3_0_C12_C12_0", v = out(reg) v, options(nostack)) };
        v as u32
    }
    /// `ICC_EOIR1_EL1`.
    pub fn eoi(iar: u32) {
        // SAFETY: as in `enable`.
        unsafe { core::arch::asm!("msr S3_0_C12_C12_1, {v}", "isb", v = in(reg) u64::from(iar), options(nostack)) };
    }
}

#[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
mod icc {
    pub fn enable(_: bool) {}
    pub fn ack() -> u32 {
        1023
    }
    pub fn eoi(_: u32) {}
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
    if V3.load(Ordering::Relaxed) {
        if b == 0 {
            timer_set(None);
            icc::enable(false);
        } else {
            let id = intid();
            // The redistributor awake, the PPI in group 1, its priority,
            // enabled; the distributor's affinity routing and group 1 on.
            wr(&GICC, GICR_WAKER, rd(&GICC, GICR_WAKER) & !(1 << 1));
            for _ in 0..1_000_000 {
                if rd(&GICC, GICR_WAKER) & (1 << 2) == 0 {
                    break;
                }
            }
            wr(&GICC, GICR_IGROUPR0, rd(&GICC, GICR_IGROUPR0) | 1 << id);
            let pr = GICR_SGI + GICD_IPRIORITYR + u64::from(id & !3);
            wr(&GICC, pr, rd(&GICC, pr) & !(0xFF << (8 * (id % 4))) | (0xA0 << (8 * (id % 4))));
            wr(&GICC, GICR_SGI + GICD_ISENABLER0, 1 << id);
            wr(&GICD, GICD_CTLR, rd(&GICD, GICD_CTLR) | (1 << 4) | (1 << 1));
            icc::enable(true);
            timer_set(Some(b));
        }
        return true;
    }
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
    let v3 = V3.load(Ordering::Relaxed);
    let iar = if v3 { icc::ack() } else { rd(&GICC, GICC_IAR) };
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
    if v3 {
        icc::eoi(iar);
    } else {
        wr(&GICC, GICC_EOIR, iar);
    }
    if !mine {
        // Some other source the firmware left on: off for good (a private
        // one of a GICv3 in the redistributor).
        match (v3, id < 32) {
            (true, true) => wr(&GICC, GICR_SGI + GICD_ICENABLER0, 1 << id),
            _ => wr(&GICD, GICD_ICENABLER0 + 4 * u64::from(id / 32), 1 << (id % 32)),
        }
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
