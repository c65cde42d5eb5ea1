// SPDX-License-Identifier: MIT OR Apache-2.0
//! The watchdog: each CPU's generic timer, through a GICv2, a GICv3 or
//! the BCM2836 local interrupt controller, armed while user code runs
//! outside the timed runs, off during them.
//!
//! EL0 always runs with `PSTATE.I` clear (every exit writes `SPSR` = 0);
//! what keeps interrupts out of the timed runs is that no source is on:
//! the timers are off ([`crate::cpu::init`]) and the interrupt controller
//! passes nothing to the CPU (a GIC's CPU interface disabled, the local
//! controller's timer routing off). [`arm`] turns both on for the CPU it
//! runs on: the timer of the kernel's exception level (EL1: the virtual
//! timer, `CNTV`, INTID 27; EL2 with VHE: the EL2 physical timer, which
//! the `CNTP` names reach under `E2H`, INTID 26; the firmware's tables
//! may name others) with a compare value `budget` ticks ahead (`CNTFRQ`:
//! 62.5 MHz in QEMU 7.2), its private interrupt enabled, the CPU
//! interface on. [`arm`] with `None` turns the timer and the CPU
//! interface off again before a benchmark, so the timed runs see exactly
//! the state they always had; the vectors and the `svc` paths are
//! unchanged.
//!
//! Every CPU arms its own timer: a GICv2 banks the private interrupts'
//! enable and priority registers and the CPU interface per CPU at the
//! same addresses; a GICv3 has a redistributor per CPU, which each CPU
//! finds by its affinity in the redistributor regions (and keeps in its
//! `.percpu` state); the BCM2836 has a routing and a source register per
//! core (`MPIDR.Aff0`). The budget and the count of timer interrupts are
//! per CPU too.
//!
//! An IRQ from EL0 (the vector's slot `0x480`) saves a `TrapFrame` and asks
//! [`on_irq`]: the watchdog's expiry (the timer's interrupt, acknowledged
//! and ended at the GIC) kills the running task; anything else is a stray
//! interrupt as before (counted, masked for the thread it hit).
//!
//! Where the controller is comes from the firmware: the device tree
//! ([`init_from_dt`]: `arm,cortex-a15-gic`, `arm,gic-400`, `arm,gic-v3`,
//! and the `arm,armv8-timer` node's interrupts), the ACPI MADT and GTDT
//! (`crate::acpi::interrupts`, then [`init`]), or the board's known
//! addresses ([`init`]: the Raspberry Pi 3's local controller, the Pi 5's
//! GIC-400). A controller outside the device windows means no watchdog:
//! [`available`] is false and nothing is armed.

use core::ptr::{addr_of, addr_of_mut};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};

use crate::bcm2836::{self, LocalIntc};

/// Where the interrupt controller is (physical addresses), as the
/// firmware (or the board) describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intc {
    /// A GICv2 (GIC-400): distributor, CPU interface.
    V2 {
        /// `GICD` base.
        gicd: u64,
        /// `GICC` base.
        gicc: u64,
    },
    /// A GICv3 or GICv4 (GIC-500, GIC-600): distributor, and the bases of
    /// up to [`MAX_GICR_REGIONS`] redistributor regions (0: none), each a
    /// run of redistributors up to the one marked last.
    V3 {
        /// `GICD` base.
        gicd: u64,
        /// Redistributor regions.
        gicr: [u64; MAX_GICR_REGIONS],
    },
    /// The BCM2836 per-core local interrupt controller ([`bcm2836`]).
    Bcm2836 {
        /// Its base ([`bcm2836::BASE`]).
        base: u64,
    },
}

/// Redistributor regions a GICv3 description may list.
pub const MAX_GICR_REGIONS: usize = 4;

/// The generic timer's interrupt IDs the watchdog may use (private
/// peripheral interrupts: 16..32).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerIrqs {
    /// The EL1 virtual timer's (`CNTV`; architected: 27).
    pub virt: u32,
    /// The EL2 physical timer's (`CNTHP`; architected: 26).
    pub hyp: u32,
}

impl Default for TimerIrqs {
    /// The Server Base System Architecture's numbers, which every board
    /// here uses.
    fn default() -> Self {
        TimerIrqs { virt: 27, hyp: 26 }
    }
}

/// What [`init`] found: none, a GICv2, a GICv3, the BCM2836.
const NONE: u8 = 0;
const GICV2: u8 = 2;
const GICV3: u8 = 3;
const BCM: u8 = 36;
static KIND: AtomicU8 = AtomicU8::new(NONE);
/// The distributor (or the BCM2836 block) and the GICv2 CPU interface
/// (kernel virtual addresses).
static GICD: AtomicU64 = AtomicU64::new(0);
static GICC: AtomicU64 = AtomicU64::new(0);
/// The GICv3 redistributor regions (physical; 0: none).
static GICR: [AtomicU64; MAX_GICR_REGIONS] = [const { AtomicU64::new(0) }; MAX_GICR_REGIONS];
/// The timer's interrupt ID (of the kernel's exception level).
static INTID: AtomicU32 = AtomicU32::new(27);
/// The timer is the EL2 one (`CNTP` names under VHE), not `CNTV`.
static EL2: AtomicBool = AtomicBool::new(false);

/// This CPU's watchdog state (`.percpu`: each CPU its own; a secondary's
/// starts as a copy of the boot CPU's, disarmed, so the redistributor is
/// looked up again when the affinity is not this CPU's).
#[derive(Clone, Copy)]
struct Wd {
    /// The budget in force (ticks; 0: disarmed).
    budget: u64,
    /// IRQs the watchdog's timer delivered to this CPU.
    irqs: u64,
    /// GICv3: this CPU's redistributor (virtual; 0: not found yet) and
    /// the affinity it was found for.
    gicr: u64,
    gicr_aff: u64,
}

#[unsafe(link_section = ".percpu")]
static mut WD: Wd = Wd { budget: 0, irqs: 0, gicr: 0, gicr_aff: u64::MAX };

fn wd() -> Wd {
    // SAFETY: this CPU's own copy; one kernel entry at a time, interrupts
    // masked in the kernel.
    unsafe { *addr_of!(WD) }
}

fn set(w: Wd) {
    // SAFETY: as in `wd`.
    unsafe { *addr_of_mut!(WD) = w };
}

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
/// `GICR_TYPER`: this is the last redistributor of its region; it has
/// the GICv4 virtual LPI frames (four 64 KiB frames instead of two).
const TYPER_LAST: u64 = 1 << 4;
const TYPER_VLPIS: u64 = 1 << 1;

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

fn rd(base: u64, off: u64) -> u32 {
    // SAFETY: a register of the interrupt controller, in a device window
    // (`init` checked it).
    unsafe { ((base + off) as *const u32).read_volatile() }
}

fn wr(base: u64, off: u64, v: u32) {
    // SAFETY: as in `rd`.
    unsafe { ((base + off) as *mut u32).write_volatile(v) }
}

fn gicd() -> u64 {
    GICD.load(Ordering::Relaxed)
}

fn gicc() -> u64 {
    GICC.load(Ordering::Relaxed)
}

/// The timer's interrupt ID.
fn intid() -> u32 {
    INTID.load(Ordering::Relaxed)
}

/// Note the interrupt controller `intc` and the timer's interrupt IDs
/// `timer` for the watchdog (boot CPU, before user code and before the
/// other CPUs start; `el`: the kernel's exception level). The first
/// controller whose registers lie in a device window wins: a later call
/// (the device tree's, after the board's known addresses) changes
/// nothing. The Raspberry Pi 3's block is mapped into the second device
/// window ([`crate::paging::map_device_gib`]). Returns whether the
/// board now has a watchdog.
pub fn init(intc: Intc, timer: TimerIrqs, el: u8) -> bool {
    if KIND.load(Ordering::Relaxed) != NONE {
        return true;
    }
    let va = crate::paging::device_va;
    let kind = match intc {
        Intc::V2 { gicd, gicc } => {
            let (Some(d), Some(c)) = (va(gicd), va(gicc)) else { return false };
            GICD.store(d, Ordering::Relaxed);
            GICC.store(c, Ordering::Relaxed);
            GICV2
        }
        Intc::V3 { gicd, gicr } => {
            let Some(d) = va(gicd) else { return false };
            let mut any = false;
            for (slot, &pa) in GICR.iter().zip(&gicr) {
                if pa != 0 && va(pa).is_some() {
                    slot.store(pa, Ordering::Relaxed);
                    any = true;
                }
            }
            if !any {
                return false;
            }
            GICD.store(d, Ordering::Relaxed);
            GICV3
        }
        Intc::Bcm2836 { base } => {
            let Some(b) = crate::paging::map_device_gib(base) else { return false };
            GICD.store(b, Ordering::Relaxed);
            BCM
        }
    };
    let id = if el == 2 { timer.hyp } else { timer.virt };
    if !(16..32).contains(&id) && kind != BCM {
        // Not a private interrupt: not the architected timer's.
        return false;
    }
    INTID.store(id, Ordering::Relaxed);
    EL2.store(el == 2, Ordering::Relaxed);
    KIND.store(kind, Ordering::Release);
    true
}

/// Big-endian 32-bit cells of a device-tree property.
fn cells(b: &[u8]) -> impl Iterator<Item = u32> + '_ {
    b.chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
}

/// The timer interrupt IDs of an `arm,armv8-timer` node's `interrupts`
/// (four GIC triples: secure physical, non-secure physical, virtual,
/// hypervisor; type 1 = PPI, INTID = 16 + number). `None` unless it has
/// four PPI triples.
pub fn timer_irqs_from_cells(interrupts: &[u8]) -> Option<TimerIrqs> {
    let c: [u32; 12] = {
        let mut a = [0u32; 12];
        let mut n = 0;
        for (slot, v) in a.iter_mut().zip(cells(interrupts)) {
            *slot = v;
            n += 1;
        }
        if n < 12 {
            return None;
        }
        a
    };
    let ppi = |i: usize| (c[3 * i] == 1 && c[3 * i + 1] < 16).then_some(16 + c[3 * i + 1]);
    Some(TimerIrqs { virt: ppi(2)?, hyp: ppi(3)? })
}

/// Find a GIC in the device tree at `dtb` and [`init`] the watchdog with
/// it (boot CPU, before user code; `el`: the kernel's exception level):
/// a GICv2 (`reg`: distributor, CPU interface) or a GICv3 (`reg`:
/// distributor, then `#redistributor-regions` redistributor regions), the
/// timer's interrupts from the `arm,armv8-timer` node (else the
/// architected ones). Without one (or outside the device window) the
/// board has no watchdog, unless its known addresses gave one already.
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
    let mut reg = node.reg().into_iter().flatten().map(|r| r.starting_address as u64);
    let Some(gicd) = reg.next() else { return };
    let intc = if v3 {
        let n = node
            .property("#redistributor-regions")
            .and_then(|p| p.as_usize())
            .unwrap_or(1)
            .clamp(1, MAX_GICR_REGIONS);
        let mut gicr = [0u64; MAX_GICR_REGIONS];
        for slot in gicr.iter_mut().take(n) {
            *slot = reg.next().unwrap_or(0);
        }
        Intc::V3 { gicd, gicr }
    } else {
        let Some(gicc) = reg.next() else { return };
        Intc::V2 { gicd, gicc }
    };
    let timer = fdt
        .find_compatible(&["arm,armv8-timer", "arm,armv7-timer"])
        .and_then(|t| t.property("interrupts"))
        .and_then(|p| timer_irqs_from_cells(p.value))
        .unwrap_or_default();
    init(intc, timer, el);
}

/// This CPU's affinity as `GICR_TYPER` bits 63:32 hold it (Aff3, Aff2,
/// Aff1, Aff0).
fn mpidr_aff() -> u64 {
    let m = mpidr();
    (m & 0xFF_FFFF) | ((m >> 32 & 0xFF) << 24)
}

fn mpidr() -> u64 {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    {
        use aarch64_cpu::registers::{MPIDR_EL1, Readable};
        MPIDR_EL1.get()
    }
    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    0
}

/// This CPU's redistributor (virtual), found by its affinity in the
/// regions and kept in its `.percpu` state; `None` if no region has it.
fn my_gicr() -> Option<u64> {
    let me = mpidr_aff();
    let w = wd();
    if w.gicr != 0 && w.gicr_aff == me {
        return Some(w.gicr);
    }
    for region in &GICR {
        let mut pa = region.load(Ordering::Relaxed);
        if pa == 0 {
            continue;
        }
        for _ in 0..crate::smp::MAX_CPUS {
            let Some(va) = crate::paging::device_va(pa) else { break };
            // SAFETY: a redistributor frame of a region the firmware
            // names, in the device window.
            let typer = unsafe { ((va + GICR_TYPER) as *const u64).read_volatile() };
            if typer >> 32 == me {
                set(Wd { gicr: va, gicr_aff: me, ..wd() });
                return Some(va);
            }
            if typer & TYPER_LAST != 0 {
                break;
            }
            pa += if typer & TYPER_VLPIS != 0 { 0x4_0000 } else { 0x2_0000 };
        }
    }
    None
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

/// Has this board a watchdog (an interrupt controller found in a device
/// window)? Any CPU can arm it.
pub fn available() -> bool {
    KIND.load(Ordering::Relaxed) != NONE
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

/// The BCM2836 block, its core number for this CPU and this timer's bit.
fn local_intc() -> (LocalIntc, u64, u32) {
    // SAFETY: GICD holds the block's address in a device window (`init`).
    let intc = unsafe { LocalIntc::new(gicd()) };
    let bit = if EL2.load(Ordering::Relaxed) { bcm2836::CNTPNS } else { bcm2836::CNTV };
    (intc, mpidr() & 0xFF, bit)
}

/// Arm this CPU's watchdog with `budget` ticks of its generic timer, or
/// (`None`, or 0) stop it. Returns whether the board has one
/// ([`available`]). Call between runs of user mode, on any CPU.
pub fn arm(budget: Option<u64>) -> bool {
    if !available() {
        return false;
    }
    let b = budget.unwrap_or(0);
    set(Wd { budget: b, ..wd() });
    match KIND.load(Ordering::Relaxed) {
        GICV3 => arm_v3(b),
        GICV2 => arm_v2(b),
        _ => {
            let (intc, core, bit) = local_intc();
            if b == 0 {
                timer_set(None);
                intc.route_timers(core, 0);
            } else {
                intc.route_timers(core, bit);
                timer_set(Some(b));
            }
        }
    }
    true
}

/// [`arm`] through a GICv2: the PPI's priority and enable (banked per
/// CPU), the distributor on, this CPU's interface on (or off).
fn arm_v2(b: u64) {
    let (d, c) = (gicd(), gicc());
    if b == 0 {
        timer_set(None);
        wr(c, GICC_CTLR, 0);
        return;
    }
    let id = intid();
    let pr = GICD_IPRIORITYR + u64::from(id & !3);
    wr(d, pr, rd(d, pr) & !(0xFF << (8 * (id % 4))) | (0xA0 << (8 * (id % 4))));
    wr(d, GICD_ISENABLER0, 1 << id);
    wr(d, GICD_CTLR, rd(d, GICD_CTLR) | 1);
    wr(c, GICC_PMR, 0xF0);
    wr(c, GICC_CTLR, 1);
    timer_set(Some(b));
}

/// [`arm`] through a GICv3: this CPU's redistributor awake, the PPI in
/// group 1, its priority, enabled; the distributor's affinity routing
/// and group 1 on; the `ICC_*` interface on (or off).
fn arm_v3(b: u64) {
    if b == 0 {
        timer_set(None);
        icc::enable(false);
        return;
    }
    let Some(r) = my_gicr() else {
        // No redistributor for this CPU: no watchdog here.
        set(Wd { budget: 0, ..wd() });
        return;
    };
    let id = intid();
    wr(r, GICR_WAKER, rd(r, GICR_WAKER) & !(1 << 1));
    for _ in 0..1_000_000 {
        if rd(r, GICR_WAKER) & (1 << 2) == 0 {
            break;
        }
    }
    wr(r, GICR_IGROUPR0, rd(r, GICR_IGROUPR0) | 1 << id);
    let pr = GICR_SGI + GICD_IPRIORITYR + u64::from(id & !3);
    wr(r, pr, rd(r, pr) & !(0xFF << (8 * (id % 4))) | (0xA0 << (8 * (id % 4))));
    wr(r, GICR_SGI + GICD_ISENABLER0, 1 << id);
    let d = gicd();
    wr(d, GICD_CTLR, rd(d, GICD_CTLR) | (1 << 4) | (1 << 1));
    icc::enable(true);
    timer_set(Some(b));
}

/// A fresh budget for the threads left after a kill (armed only).
pub fn rearm() {
    let b = wd().budget;
    if b != 0 {
        timer_set(Some(b));
    }
}

/// The budget in force on this CPU (ticks; 0: disarmed).
pub fn budget() -> u64 {
    wd().budget
}

/// An IRQ from EL0: acknowledge it at the interrupt controller (if the
/// watchdog owns one), end it, and sort it ([`Irq`]).
pub fn on_irq() -> Irq {
    let kind = KIND.load(Ordering::Relaxed);
    if kind == NONE {
        return Irq::Stray;
    }
    let armed = wd().budget != 0;
    if kind == BCM {
        let (intc, core, bit) = local_intc();
        let src = intc.pending(core);
        if src & bit == 0 {
            // Not this timer's: another source; with no controller to
            // disable it at, masked for the thread (a stray), unless
            // nothing is asserting any more.
            return if src == 0 && armed { Irq::Resume } else { Irq::Stray };
        }
        let fired = timer_fired();
        set(Wd { irqs: wd().irqs + 1, ..wd() });
        timer_set(None);
        return if fired && armed { Irq::Expired } else { Irq::Resume };
    }
    let v3 = kind == GICV3;
    let iar = if v3 { icc::ack() } else { rd(gicc(), GICC_IAR) };
    let id = iar & 0x3FF;
    if id >= 1020 {
        // Spurious: nothing pending any more (or not for this interface).
        return if armed { Irq::Resume } else { Irq::Stray };
    }
    let mine = id == intid();
    let fired = mine && timer_fired();
    if mine {
        set(Wd { irqs: wd().irqs + 1, ..wd() });
        // The level-sensitive timer output stays high until it is off.
        timer_set(None);
    }
    if v3 {
        icc::eoi(iar);
    } else {
        wr(gicc(), GICC_EOIR, iar);
    }
    if !mine {
        // Some other source the firmware left on: off for good (a private
        // one of a GICv3 in this CPU's redistributor).
        match (v3, id < 32, my_gicr()) {
            (true, true, Some(r)) => wr(r, GICR_SGI + GICD_ICENABLER0, 1 << id),
            (true, true, None) => {}
            _ => wr(gicd(), GICD_ICENABLER0 + 4 * u64::from(id / 32), 1 << (id % 32)),
        }
    }
    match (mine, fired && armed) {
        (true, true) => Irq::Expired,
        (true, false) => Irq::Resume,
        (false, _) => Irq::Stray,
    }
}

/// IRQs the watchdog's timer delivered to this CPU so far.
pub fn interrupts() -> u64 {
    wd().irqs
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    /// A GIC triple: type 1 (PPI), number, flags.
    fn ppi(n: u32) -> [u32; 3] {
        [1, n, 0xF08]
    }

    #[test]
    fn timer_interrupts_from_the_device_tree() {
        // QEMU virt: secure 13, non-secure 14, virtual 11, hypervisor 10.
        let cells: std::vec::Vec<u8> =
            [ppi(13), ppi(14), ppi(11), ppi(10)].iter().flatten().flat_map(|c| c.to_be_bytes()).collect();
        assert_eq!(timer_irqs_from_cells(&cells), Some(TimerIrqs { virt: 27, hyp: 26 }));
        // Too short, or an SPI where a PPI must be: not taken.
        assert_eq!(timer_irqs_from_cells(&cells[..44]), None);
        let mut spi = cells.clone();
        spi[27] = 0; // the virtual timer's type: SPI
        assert_eq!(timer_irqs_from_cells(&spi), None);
        assert_eq!(TimerIrqs::default(), TimerIrqs { virt: 27, hyp: 26 });
    }
}
