// SPDX-License-Identifier: MIT OR Apache-2.0
//! Board glue of the kernel: the console the SPCR named (PL011 or 16550),
//! the end of a run (PSCI `SYSTEM_OFF`), the boot from the UEFI
//! application's [`Handoff`]. The rest of the kernel glue is shared by the
//! AArch64 examples: `arch_aarch64::kernel`.

use core::ptr::addr_of_mut;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use arch_aarch64::ns16550::Ns16550;
use arch_aarch64::pl011::Pl011;
use arch_aarch64::smp::{self, CpuDesc, Start};
use arch_aarch64::{cpu, kernel, paging};
use runtime::{Board, kprintln};

use crate::handoff::{self, Handoff};

/// The console: `handoff::CONSOLE_*` (none until the hand-off is read).
static CONSOLE_KIND: AtomicU32 = AtomicU32::new(handoff::CONSOLE_NONE);
/// Its registers' kernel virtual address.
static CONSOLE_VA: AtomicUsize = AtomicUsize::new(0);
/// Register width of a 16550.
static CONSOLE_WIDTH: AtomicU32 = AtomicU32::new(1);
/// The PSCI conduit: `handoff::PSCI_*`.
static PSCI: AtomicU32 = AtomicU32::new(handoff::PSCI_NONE);

/// An SBBR machine booted through UEFI.
pub struct Uefi;

// The entry points, the kernel-state static and the panic handler
// (`arch_aarch64::kernel`).
arch_aarch64::kernel_entries!(Uefi);

fn pl011() -> Pl011 {
    // SAFETY: CONSOLE_VA is the device-window address of the PL011 the
    // SPCR names (set once in `ipcb_kernel_main`, only with this kind),
    // mapped as Device-nGnRE for the life of the kernel.
    unsafe { Pl011::new(CONSOLE_VA.load(Ordering::Relaxed)) }
}

fn ns16550() -> Ns16550 {
    let width = CONSOLE_WIDTH.load(Ordering::Relaxed) as u8;
    // SAFETY: as in `pl011`, for the 16550 the SPCR names.
    unsafe { Ns16550::new(CONSOLE_VA.load(Ordering::Relaxed), width) }
}

impl Board for Uefi {
    const NAME: &'static str = env!("IPCB_BOARD");

    fn putc(b: u8) {
        match CONSOLE_KIND.load(Ordering::Relaxed) {
            handoff::CONSOLE_PL011 => pl011().putc(b),
            handoff::CONSOLE_16550 => ns16550().putc(b),
            _ => {}
        }
    }

    /// The status is in the `IPCB end` line already printed: let the
    /// console drain, then PSCI `SYSTEM_OFF` through the FADT's conduit
    /// (QEMU exits with status 0). Without PSCI, or should it return, the
    /// shared glue's way: semihosting only if the command line asked for
    /// it, else park for good.
    fn exit(status: u8) -> ! {
        match CONSOLE_KIND.load(Ordering::Relaxed) {
            handoff::CONSOLE_PL011 => pl011().flush(),
            handoff::CONSOLE_16550 => ns16550().flush(),
            _ => {}
        }
        match PSCI.load(Ordering::Relaxed) {
            handoff::PSCI_HVC => arch_aarch64::psci::system_off(false),
            handoff::PSCI_SMC => arch_aarch64::psci::system_off(true),
            _ => {}
        }
        kernel::exit(status)
    }
}

unsafe extern "C" {
    /// The kernel's level-1 table (`arch_aarch64::boot`): entry 511 maps
    /// the device window at `paging::DEVICE_VA`.
    static mut ipcb_kernel_l1: [u64; 512];
}

/// The 1 GiB-aligned base of the device window that holds `pa`.
const fn window_of(pa: u64) -> u64 {
    pa & !(paging::DIRECT_MAP_SIZE - 1)
}

/// Move the device window onto the GiB that holds `pa` (the SPCR's UART,
/// when the link-time window, physical 0..1 GiB, does not: an Altra's
/// PL011 lies far above 4 GiB). Break before make: the old block is
/// removed and its translations flushed before the new one goes in. Run
/// on the boot CPU before the others start (they copy this table), when
/// nothing else uses the window: the kernel touches no device but the
/// console. Not exercised under QEMU, whose PL011 is in the default
/// window.
fn move_device_window(pa: u64) {
    let base = window_of(pa);
    // SAFETY: the boot CPU alone runs, interrupts masked; entry 511 is
    // the device window, which nothing is using (the console is not set
    // yet); the barriers order the table writes with the walker and the
    // TLB flush.
    unsafe {
        let l1 = &mut *addr_of_mut!(ipcb_kernel_l1);
        core::ptr::write_volatile(&mut l1[511], 0);
        core::arch::asm!("dsb ishst", "tlbi vmalle1", "dsb ish", "isb", options(nostack, preserves_flags));
        core::ptr::write_volatile(&mut l1[511], base | arch_aarch64::boot::BLOCK_DEVICE);
        core::arch::asm!("dsb ishst", "isb", options(nostack, preserves_flags));
    }
    paging::IPCB_DEVICE_WINDOW_PA.store(base, Ordering::Relaxed);
}

/// The kernel's copy of the command line.
static mut CMDLINE: [u8; handoff::CMDLINE_MAX] = [0; handoff::CMDLINE_MAX];

/// The hand-off block at physical `pa`, if one is there.
fn handoff_at(pa: u64) -> Option<&'static Handoff> {
    let size = core::mem::size_of::<Handoff>() as u64;
    if !pa.is_multiple_of(8) || !paging::in_direct_map(pa) || !paging::in_direct_map(pa + size - 1) {
        return None;
    }
    // SAFETY: the block lies in the direct map (checked), below the kernel
    // image, where nothing writes; a `Handoff` is plain integers, valid for
    // any bits, and the magic and size are checked before any other field
    // is trusted.
    let h = unsafe { &*(paging::phys_to_virt(pa) as *const Handoff) };
    (h.magic == handoff::MAGIC && h.size == size).then_some(h)
}

/// Called by the boot code on the boot stack, in the higher half: `el` is
/// the exception level the kernel runs at, `x0` the physical address of
/// the UEFI application's [`Handoff`].
#[unsafe(no_mangle)]
extern "C" fn ipcb_kernel_main(el: u64, x0: u64) -> ! {
    let Some(h) = handoff_at(x0) else {
        // No way to say it (the console comes from the block): stop.
        arch_aarch64::halt()
    };
    let console = match h.console_kind {
        handoff::CONSOLE_PL011 | handoff::CONSOLE_16550 => {
            if paging::device_va(h.console_base).is_none() {
                move_device_window(h.console_base);
            }
            paging::device_va(h.console_base)
        }
        _ => None,
    };
    if let Some(va) = console {
        CONSOLE_VA.store(va as usize, Ordering::Relaxed);
        CONSOLE_WIDTH.store(h.console_width, Ordering::Relaxed);
        CONSOLE_KIND.store(h.console_kind, Ordering::Relaxed);
    }
    PSCI.store(h.psci, Ordering::Relaxed);
    // SAFETY: once, on the boot CPU, before anything else reads CMDLINE;
    // never written again.
    let cmdline = unsafe {
        let buf = &mut *addr_of_mut!(CMDLINE);
        let n = (h.cmdline_len as usize).min(buf.len());
        buf[..n].copy_from_slice(&h.cmdline[..n]);
        core::str::from_utf8(&buf[..n]).unwrap_or("")
    };

    // The CPUs from the MADT, started by PSCI CPU_ON through the FADT's
    // conduit (none: the boot CPU alone).
    let mut cfg = smp::Config::single();
    if h.psci != handoff::PSCI_NONE {
        let n = (h.n_cpus as usize).min(smp::MAX_CPUS);
        for &mpidr in &h.mpidr[..n] {
            cfg.push(CpuDesc { mpidr, release: 0 });
        }
        cfg.dropped = h.dropped_cpus as usize;
        cfg.start = Start::Psci { smc: h.psci == handoff::PSCI_SMC };
    }
    if h.dropped_cpus > 0 {
        kprintln!(
            Uefi,
            "IPCB warn reason=\"the MADT lists {} CPUs, more than the {} the kernel drives: using the first {}\"",
            h.n_cpus as usize + h.dropped_cpus as usize,
            smp::MAX_CPUS,
            smp::MAX_CPUS
        );
    }
    let frames = kernel::percpu_and_frames::<Uefi>(cfg, h.ram_end);
    // SAFETY: once, on the boot CPU, interrupts masked, before user mode,
    // with the per-CPU region mapped.
    unsafe { cpu::init(el as u8) };
    watchdog_from_acpi(h, el as u8);
    kernel::start::<Uefi>(el, cmdline, frames, None)
}

/// The watchdog's GIC and timer interrupts, as the loader read them from
/// the MADT and the GTDT (no device tree here).
fn watchdog_from_acpi(h: &Handoff, el: u8) {
    use arch_aarch64::watchdog::{self, Intc, TimerIrqs};
    let intc = match h.gic {
        handoff::GIC_V2 => Intc::V2 { gicd: h.gicd, gicc: h.gicc },
        handoff::GIC_V3 => Intc::V3 { gicd: h.gicd, gicr: h.gicr },
        _ => return,
    };
    let timer = match (h.timer_virt, h.timer_hyp) {
        (0, _) | (_, 0) => TimerIrqs::default(),
        (virt, hyp) => TimerIrqs { virt, hyp },
    };
    watchdog::init(intc, timer, el);
}
