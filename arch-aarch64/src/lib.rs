// SPDX-License-Identifier: MIT OR Apache-2.0
//! `arch-aarch64`: the AArch64 implementation of [`ipc_core::Arch`] and
//! [`runtime::Machine`].
//!
//! * [`boot`]: the entry from the loader (EL1, or EL2 where the kernel
//!   keeps EL2 with VHE, or drops to EL1 without it), the boot page tables,
//!   the higher half, the device tree;
//! * [`cpu`]: the kernel stack with its per-CPU block on top, the vectors,
//!   the timers;
//! * [`entry`]: the exception vectors, the `svc` fastpath, user faults, the
//!   exit to user mode and the switch from the driver;
//! * [`smp`]: per-CPU data by page-table aliasing (the `.percpu` region
//!   in each CPU's own `TTBR1` tables), starting the other CPUs (PSCI
//!   `CPU_ON` or a spin table), parking them in `wfi`;
//! * [`paging`]: user address spaces in `TTBR0` with ASIDs, the kernel in
//!   `TTBR1` (W^X, built by [`boot`]);
//! * [`wx`]: the kernel's W^X self-test (`selftest=wx`);
//! * [`watchdog`]: the generic timer through a GICv2, which kills a task
//!   running past its budget outside the timed runs;
//! * [`pmu`]: PMUv3 (cycle counter, instructions event), the CPU identity;
//! * [`acpi`]: the CPUs, PSCI conduit and console of an ACPI-only (SBBR)
//!   machine, from its MADT, FADT and SPCR;
//! * [`pl011`], [`ns16550`], [`linflex`] (NXP LINFlexD), [`cadence`]
//!   (the Xilinx Zynq's Cadence UART), [`semihosting`]: console and exit
//!   for boards that have them;
//! * [`kernel`] (bare metal only): the kernel glue every AArch64 board
//!   shares, generic over its `runtime::Board` (the entries' Rust halves,
//!   the rest of the boot, the end of a run, defmt), and
//!   [`kernel_entries!`], the entry symbols for one board; `ld/` holds the
//!   boards' shared linker layout (`aarch64-kernel.ld`).
//!
//! # Design
//!
//! * **One binary for EL1 and EL2.** With `HCR_EL2.E2H` (VHE) the `*_EL1`
//!   system-register names reach the EL2 registers, and EL0 runs under the
//!   EL2&0 regime with the same tables, ASIDs and vectors; only the boot
//!   code knows the difference.
//! * **Message registers are not copied on the fastpath.** MR0..MR3 are
//!   `x20`-`x23`, callee-saved in AAPCS64: the Rust fast handler preserves
//!   them, and a hand-off leaves them in the CPU for the receiver
//!   (`entry.rs`, `docs/abi.md`).
//! * **No kernel value reaches user mode.** Every exit clears the
//!   registers the ABI does not define, two per instruction, and writes
//!   `SPSR` on every thread switch.
//! * **User programs get no FP/SIMD** (`CPACR_EL1.FPEN` traps it at EL0),
//!   so the kernel, whose Rust code uses the vector registers freely, has no
//!   FP state to switch; the x86_64 user programs are soft-float as well.
//!
//! The assembly exists only for `aarch64` with `target_os = "none"`; on the
//! host the crate builds (so `cargo test`, `doc` and `clippy` run) and the
//! few functions that would run it are `unimplemented!()` or do nothing.

#![no_std]

pub mod acpi;
pub mod bcm2836;
pub mod boot;
pub mod cadence;
pub mod context;
pub mod cpu;
pub mod entry;
// The example kernels' glue, with the defmt logger: bare metal only.
#[cfg(any(doc, target_os = "none"))]
pub mod kernel;
pub mod linflex;
pub mod mmio;
pub mod ns16550;
pub mod paging;
pub mod pl011;
pub mod pmu;
pub mod psci;
pub mod semihosting;
pub mod smp;
pub mod watchdog;
pub mod wx;

pub use context::Context;
pub use entry::{FastPair, InvokePair, ResumePair, TrapFrame};

/// For [`kernel_entries!`]'s expansion in a board crate.
#[doc(hidden)]
pub use runtime as __runtime;

use ipc_core::Arch;
use runtime::mem::FrameAlloc;
use runtime::{CounterSelector, FaultClass, Machine, MemError, Perm};

use crate::entry::ec;

/// The AArch64 architecture (a zero-sized type: all methods are associated).
pub struct Aarch64;

impl Arch for Aarch64 {
    type Context = Context;
    /// The `TTBR0` value: level-0 table and ASID.
    type Space = u64;
    /// `TTBR0` = 0 never names a table of ours.
    const NO_SPACE: u64 = 0;
    const MR_IN_REGS: usize = 4;

    #[inline(always)]
    fn switch_space(space: u64) {
        paging::switch_to(space);
    }

    /// One odd word (`ldr`/`str`), one odd pair (a `q` register), then a
    /// jump into a straight run of `ldp`/`stp` of two `q` registers, four
    /// words per two instructions, no loop. The kernel may use FP/SIMD
    /// registers: user programs have none (`CPACR_EL1.FPEN` traps them at
    /// EL0), so there is nothing of theirs to keep or to leak; alignment
    /// checks are off (`SCTLR.A` clear), so 8-byte aligned `q` accesses are
    /// fine.
    #[cfg(target_arch = "aarch64")]
    #[inline(always)]
    fn copy_words(dst: &ipc_core::Utcb, src: &ipc_core::Utcb, words: ipc_core::WordRange) {
        let (from, to) = (words.from(), words.to());
        // SAFETY: `from < to <= mr.len()` (a `WordRange`'s invariant): exactly
        // `to - from` words are copied within both UTCBs (the run has a
        // block for each group of four up to 15 groups, more than 64 / 4 - 1,
        // and the jump enters it `n / 4` blocks before its end); the words
        // are atomics, written through a shared reference by design. Only
        // the declared registers and the destination are written.
        unsafe {
            core::arch::asm!(
                "tbz {n}, #0, 2f",
                "ldr {a}, [{s}], #8",
                "str {a}, [{d}], #8",
                "2:",
                "tbz {n}, #1, 3f",
                "ldr q0, [{s}], #16",
                "str q0, [{d}], #16",
                "3:",
                "lsr {n}, {n}, #2",
                "adr {a}, 4f",
                "sub {a}, {a}, {n}, lsl #3",
                "br {a}",
                ".irp j, 14,13,12,11,10,9,8,7,6,5,4,3,2,1,0",
                "ldp q0, q1, [{s}, #32*\\j]",
                "stp q0, q1, [{d}, #32*\\j]",
                ".endr",
                "4:",
                n = inout(reg) to - from => _,
                s = inout(reg) src.mr.as_ptr().add(from) => _,
                d = inout(reg) dst.mr.as_ptr().add(from) => _,
                a = out(reg) _,
                out("v0") _,
                out("v1") _,
                options(nostack),
            );
        }
    }
}

impl Machine for Aarch64 {
    const NAME: &'static str = "aarch64";

    fn phys_to_virt(pa: u64) -> *mut u8 {
        paging::phys_to_virt(pa)
    }

    fn new_space(frames: &mut FrameAlloc, id: u16) -> Result<u64, MemError> {
        paging::new_space(frames, id)
    }

    fn map_page(
        frames: &mut FrameAlloc,
        space: u64,
        va: u64,
        pa: u64,
        perm: Perm,
    ) -> Result<(), MemError> {
        paging::map_page(frames, space, va, pa, perm)
    }

    fn flush_user_tlb() {
        paging::flush_all();
    }

    fn load_kernel_space() {
        paging::load_kernel();
    }

    fn counters() -> (::pmu::CounterSet, [CounterSelector; ::pmu::MAX_COUNTERS]) {
        pmu::init()
    }

    fn cpu_identity(vendor: &mut [u8; 16], model: &mut [u8; 48]) -> (usize, usize) {
        pmu::identity(vendor, model)
    }

    /// `Fault::vector` is the exception class (`ESR_ELx.EC`).
    fn fault_class(f: &runtime::Fault) -> FaultClass {
        match f.vector {
            ec::IABT_LOWER | ec::DABT_LOWER | ec::IABT_SAME | ec::DABT_SAME => FaultClass::Page,
            ec::SYSREG | ec::WFX => FaultClass::Protection,
            // FP/SIMD is not available at EL0 (as SSE is not for x86 user
            // programs, where it is #UD).
            ec::UNKNOWN | ec::FP => FaultClass::Undefined,
            _ => FaultClass::Other,
        }
    }

    /// Arm has no architectural "running under a hypervisor" flag.
    fn hypervisor() -> bool {
        false
    }

    fn el() -> Option<u8> {
        Some(cpu::el())
    }

    fn stray_interrupts() -> u64 {
        entry::stray_el0()
    }

    fn watchdog(budget: Option<u64>) -> bool {
        watchdog::arm(budget)
    }

    fn interrupts() -> u64 {
        watchdog::interrupts() + entry::stray_el0()
    }

    fn wx_probe(i: usize) -> Option<runtime::WxProbe> {
        wx::probe(i)
    }

    fn calibrate(iters: u64) -> (&'static str, u64) {
        pmu::calibrate(iters)
    }

    fn floor_entry(on: bool) -> bool {
        cpu::set_floor_entry(on);
        true
    }

    fn cpu_index() -> usize {
        smp::cpu_index()
    }

    unsafe fn start_secondaries(entry: fn(usize) -> !) -> usize {
        // SAFETY: forwarded from the caller's contract (boot CPU, once,
        // after its set-up; the board initialised its per-CPU statics).
        unsafe { smp::start_secondaries(entry) }
    }

    fn relax() {
        smp::relax();
    }

    fn park() {
        smp::park();
    }

    fn unpark_all() {
        smp::unpark_all();
    }

    fn wake(cpu: usize) {
        smp::wake(cpu);
    }

    unsafe fn run_user(thread: *mut Context, regs_from: *const Context) {
        #[cfg(all(target_arch = "aarch64", target_os = "none"))]
        // SAFETY: forwarded from the caller's contract.
        unsafe {
            entry::ipcb_run_user(thread, regs_from)
        }
        #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
        {
            let _ = (thread, regs_from);
            unimplemented!("user mode exists on the target only")
        }
    }
}

/// Stop this CPU for good.
pub fn halt() -> ! {
    cpu::halt()
}
