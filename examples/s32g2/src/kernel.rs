// SPDX-License-Identifier: MIT OR Apache-2.0
//! Board glue: the LINFlexD console (from the device tree, else UART0),
//! the end of a run (PSCI), the boot (device tree). The rest of the kernel
//! glue is shared by the AArch64 examples: `arch_aarch64::kernel`.

use core::sync::atomic::{AtomicU64, Ordering};

use arch_aarch64::linflex::{self, Linflex, Mmio};
use arch_aarch64::{boot, cpu, kernel, paging, smp};
use runtime::kprintln;


/// LINFlexD UART0, physical: the console when the device tree names none.
const UART0: u64 = 0x401C_8000;
/// The physical base of the device window (`__device_window_pa` in
/// `link.ld`).
const DEVICE_WINDOW: u64 = 0x4000_0000;
/// The size of a LINFlexD register block (the DT's `reg` size): what must
/// lie in the device window.
const UART_BLOCK: u64 = 0x3000;
/// RAM when the device tree does not say: every S32G2 board has at least
/// 1 GiB from `0x8000_0000`, so the first 256 MiB are safe.
const DEFAULT_RAM_END: u64 = 0x8000_0000 + 0x1000_0000;

const _: () = assert!(
    UART0 - DEVICE_WINDOW + UART_BLOCK <= paging::DIRECT_MAP_SIZE,
    "UART0 outside the window"
);

/// The console's kernel virtual address: UART0 until the device tree has
/// been read ([`choose_console`]).
static CONSOLE_VA: AtomicU64 = AtomicU64::new(paging::DEVICE_VA + (UART0 - DEVICE_WINDOW));

/// The console UART.
fn console() -> Linflex<Mmio> {
    // SAFETY: CONSOLE_VA only ever holds the address of a LINFlexD register
    // block in the device window, which the boot code maps as Device-nGnRE
    // for the life of the kernel (UART0: checked above; one from the
    // device tree: checked by `choose_console`).
    Linflex::new(unsafe { Mmio::new(CONSOLE_VA.load(Ordering::Relaxed) as usize) })
}

/// The NXP S32G2.
pub struct S32g2;

// The entry points, the kernel-state static, the panic handler and the
// `Board` impl: the console is `console()`; the end drains it, then
// `arch_aarch64::kernel::exit` (no semihosting on hardware: the status is in
// the `IPCB end` line already printed; PSCI `SYSTEM_OFF` through TF-A,
// parking the core if the firmware declines).
arch_aarch64::kernel_entries!(S32g2, console = console());

/// What became of the console the device tree names.
enum DtConsole {
    /// None named (or no tree, or not a LINFlexD): UART0.
    Fallback,
    /// The named LINFlexD, in use.
    Used,
    /// The named LINFlexD lies outside the device window: UART0.
    OutOfReach(u64),
}

/// Take the console from the device tree at physical `dtb` when it names a
/// LINFlexD in the device window, then put it in UART mode (keeping
/// U-Boot's baud rate).
fn choose_console(dtb: Option<u64>) -> (DtConsole, Result<(), linflex::InitError>) {
    let named = dtb.and_then(linflex::console_from_dt);
    let how = match named {
        None => DtConsole::Fallback,
        Some(pa) => match (paging::device_va(pa), paging::device_va(pa + UART_BLOCK - 1)) {
            (Some(va), Some(_)) => {
                CONSOLE_VA.store(va, Ordering::Relaxed);
                DtConsole::Used
            }
            _ => DtConsole::OutOfReach(pa),
        },
    };
    (how, console().init(None))
}

/// Called by the boot code on the boot stack, in the higher half: `el` is
/// the exception level the kernel runs at, `x0` the device tree's physical
/// address (U-Boot's `booti`).
#[unsafe(no_mangle)]
extern "C" fn ipcb_kernel_main(el: u64, x0: u64) -> ! {
    let bi = boot::parse(&[x0]);
    let (how, init) = choose_console(bi.dtb);
    if let DtConsole::OutOfReach(pa) = how {
        kprintln!(
            S32g2,
            "IPCB warn reason=\"the device tree's stdout-path UART at {:#x} is outside the device window: console on UART0 at {:#x}\"",
            pa, UART0
        );
    }
    if init.is_err() {
        kprintln!(
            S32g2,
            "IPCB warn reason=\"the LINFlexD never entered initialisation mode: console left as U-Boot set it\""
        );
    }
    let ram_end = bi.memory.map_or(DEFAULT_RAM_END, |(start, size)| start + size);
    // Frames from the end of the image up to the first thing U-Boot put
    // above it (the device tree, reserved memory), if that comes first.
    let end = boot::usable_end(x0, kernel::kernel_end(), ram_end);
    // The cores and the PSCI conduit (smc, to TF-A) from the device tree.
    let cfg = bi.dtb.and_then(smp::from_dt).unwrap_or(smp::Config::single());
    let frames = kernel::percpu_and_frames::<S32g2>(cfg, end);
    // SAFETY: once, on the boot CPU, interrupts masked, before user mode,
    // with the per-CPU region mapped.
    unsafe { cpu::init(el as u8) };
    kernel::start::<S32g2>(el, bi.cmdline, frames, bi.dtb)
}
