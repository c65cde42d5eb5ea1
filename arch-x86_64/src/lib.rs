// SPDX-License-Identifier: MIT OR Apache-2.0
//! `arch-x86_64`: the x86_64 implementation of [`ipc_core::Arch`] and
//! [`runtime::Machine`].
//!
//! * [`boot`]: multiboot 1 (QEMU `-kernel`) and multiboot 2 (GRUB2) headers
//!   in one ELF, the 32-bit entry, long mode, the higher-half kernel;
//! * [`smp`]: per-CPU data by page-table aliasing (the `.percpu` region),
//!   the CPU list from the ACPI MADT ([`acpi`]), start-up of the other CPUs
//!   through the local APIC ([`apic`]), parking them;
//! * [`cpu`]: GDT, TSS, IDT, the `syscall` MSRs, CR4 features (PCID, SMEP,
//!   SMAP, user RDPMC), the per-CPU block;
//! * [`entry`]: `syscall` entry, exception stubs, the exit to user mode and
//!   the context switch (swap of the preserved registers);
//! * [`memmap`]: usable RAM from the firmware's map, and where the
//!   kernel's allocations go;
//! * [`fbcon`]: a text console on the boot loader's framebuffer;
//! * [`paging`]: user address spaces with PCID, the kernel half W^X;
//! * [`wx`]: the kernel's W^X self-test (`selftest=wx`);
//! * [`watchdog`]: the local APIC timer that kills a task running past
//!   its budget outside the timed runs;
//! * [`pmu`]: Intel fixed counters, AMD core counters, TSC;
//! * [`serial`], the 16550 UARTs (COM1..COM4 or any I/O port) and
//!   `console=` / `defmt=`;
//! * [`kernel`] (bare metal only): the Rust halves of the entries for any
//!   `runtime::Board`, and [`kernel_entries!`], their symbols for one
//!   board.
//!
//! The assembly exists only for `target_os = "none"`; on the host the crate
//! builds (so `cargo test`, `doc` and `clippy` run) and the few functions
//! that would run it are `unimplemented!()`.

#![no_std]

pub mod acpi;
pub mod apic;
pub mod boot;
pub mod context;
pub mod cpu;
pub mod entry;
pub mod fbcon;
// The example kernel's glue (the entries' Rust halves): bare metal only.
#[cfg(any(doc, target_os = "none"))]
pub mod kernel;
pub mod kpti;
pub mod layout;
pub mod memmap;
pub mod paging;
pub mod percpu;
pub mod pmu;
pub mod serial;
pub mod smp;
pub mod tsc;
pub mod watchdog;
pub mod wx;

pub use context::Context;

/// For [`kernel_entries!`]'s expansion in a board crate.
#[doc(hidden)]
pub use runtime as __runtime;
pub use cpu::mcg_status;
pub use entry::{FastPair, ResumePair, TrapFrame};

use ipc_core::Arch;
use runtime::mem::FrameAlloc;
use runtime::{CounterSelector, Machine, MemError, Perm};

/// The x86_64 architecture (a zero-sized type: all methods are associated).
pub struct X86_64;

impl Arch for X86_64 {
    type Context = Context;
    /// The CR3 value: PML4 frame, PCID and the no-flush bit.
    type Space = u64;
    /// CR3 = 0 never names a page table of ours.
    const NO_SPACE: u64 = 0;
    const MR_IN_REGS: usize = 4;

    #[inline(always)]
    fn switch_space(space: u64) {
        paging::switch_to(space);
    }

    /// `rep movsq`: one instruction per word (under QEMU's icount too, which
    /// counts each iteration). The direction flag is clear in the kernel:
    /// `SFMASK` clears it at `syscall` (`cpu.rs`), every trap stub runs
    /// with the CPU's own, and the SysV ABI keeps it clear.
    #[inline(always)]
    fn copy_words(dst: &ipc_core::Utcb, src: &ipc_core::Utcb, words: ipc_core::WordRange) {
        let (from, to) = (words.from(), words.to());
        // SAFETY: `from < to <= mr.len()` (a `WordRange`'s invariant): the
        // words lie within both UTCBs; `dst` and `src` are distinct objects
        // or the same words copied onto themselves, and the words are
        // atomics: written through a shared reference by design. `rep
        // movsq` touches only rcx, rsi, rdi (declared) and the destination.
        unsafe {
            core::arch::asm!(
                "rep movsq",
                inout("rcx") to - from => _,
                inout("rsi") src.mr.as_ptr().add(from) => _,
                inout("rdi") dst.mr.as_ptr().add(from) => _,
                options(nostack, preserves_flags),
            );
        }
    }
}

impl Machine for X86_64 {
    const NAME: &'static str = "x86_64";

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
        paging::switch_to(paging::kernel_pml4_phys());
    }

    fn counters() -> (::pmu::CounterSet, [CounterSelector; ::pmu::MAX_COUNTERS]) {
        pmu::init()
    }

    fn cpu_identity(vendor: &mut [u8; 16], model: &mut [u8; 48]) -> (usize, usize) {
        pmu::identity(vendor, model)
    }

    fn fault_class(f: &runtime::Fault) -> runtime::FaultClass {
        match f.vector {
            14 => runtime::FaultClass::Page,
            13 => runtime::FaultClass::Protection,
            6 => runtime::FaultClass::Undefined,
            _ => runtime::FaultClass::Other,
        }
    }

    fn hypervisor() -> bool {
        cpu::cpuid(1, 0).2 & (1 << 31) != 0
    }

    fn calibrate(iters: u64) -> (&'static str, u64) {
        ("tsc", pmu::calibrate(iters))
    }

    fn nmis() -> u64 {
        cpu::nmis()
    }

    fn wx_probe(i: usize) -> Option<runtime::WxProbe> {
        wx::probe(i)
    }

    fn clock() -> Option<runtime::ClockInfo> {
        #[cfg(all(target_arch = "x86_64", target_os = "none"))]
        {
            let r = tsc::rate();
            Some(runtime::ClockInfo { counter: "tsc", hz: r.hz, source: r.source.name(), invariant: tsc::is_invariant() })
        }
        #[cfg(not(all(target_arch = "x86_64", target_os = "none")))]
        None
    }

    fn watchdog(budget: Option<u64>) -> bool {
        #[cfg(target_os = "none")]
        watchdog::arm(budget);
        #[cfg(not(target_os = "none"))]
        let _ = budget;
        true
    }

    fn interrupts() -> u64 {
        watchdog::interrupts()
    }

    fn kernel_isolation() -> Result<&'static str, &'static str> {
        #[cfg(target_os = "none")]
        {
            // SAFETY: the runtime calls this once per CPU, interrupts off,
            // before the CPU's first space.
            match unsafe { kpti::enable() }? {
                cpu::KPTI_PCID => Ok("pcid"),
                _ => Ok("on"),
            }
        }
        #[cfg(not(target_os = "none"))]
        Err("kernel isolation needs the bare-metal build")
    }

    fn isolation_check(space: u64) -> Result<u64, &'static str> {
        #[cfg(target_os = "none")]
        return kpti::check(space);
        #[cfg(not(target_os = "none"))]
        {
            let _ = space;
            Err("kernel isolation needs the bare-metal build")
        }
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
        #[cfg(target_os = "none")]
        // SAFETY: forwarded from the caller's contract.
        unsafe {
            entry::ipcb_run_user(thread, regs_from)
        }
        #[cfg(not(target_os = "none"))]
        {
            let _ = (thread, regs_from);
            unimplemented!("user mode exists on the target only")
        }
    }
}

/// Read CR2 (the faulting address of a page fault).
pub fn cr2() -> u64 {
    x86_64::registers::control::Cr2::read_raw()
}

/// Stop this CPU for good.
pub fn halt() -> ! {
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}
