// SPDX-License-Identifier: MIT OR Apache-2.0
//! Board glue: the debug UART, the end of a run (park), the boot (device
//! tree). The rest of the kernel glue is shared by the AArch64 examples:
//! `arch_aarch64::kernel`.

use core::ptr::addr_of_mut;

use arch_aarch64::{boot, kernel};
use arch_aarch64::pl011::Pl011;
use arch_aarch64::{cpu, paging, smp, watchdog};
use runtime::cmdline::WordBuf;


/// The debug UART (`uart10`), physical: above 4 GiB, so every address
/// computation here is 64-bit (truncated to 32 bits it would be DRAM).
const UART10: u64 = 0x10_7D00_1000;
/// The physical base of the device window (`__device_window_pa` in
/// `link.ld`).
const DEVICE_WINDOW: u64 = 0x10_4000_0000;
/// The GIC-400's distributor and CPU interface, physical (BCM2712).
const GICD: u64 = 0x10_7FFF_9000;
const GICC: u64 = 0x10_7FFF_A000;
const _: () = assert!(GICC + 0x2000 - DEVICE_WINDOW <= paging::DIRECT_MAP_SIZE, "GIC outside the window");
/// RAM when the device tree does not say: every Pi 5 has at least 2 GiB,
/// so the first 256 MiB are safe.
const DEFAULT_RAM_END: u64 = 0x1000_0000;

const _: () = assert!(UART10 - DEVICE_WINDOW < paging::DIRECT_MAP_SIZE, "UART outside the window");

/// The console: the debug UART through the device window.
// SAFETY: the boot code maps the device window as Device-nGnRE for the
// life of the kernel, and the UART lies in it (checked above).
const CONSOLE: Pl011 =
    unsafe { Pl011::new((paging::DEVICE_VA + (UART10 - DEVICE_WINDOW)) as usize) };

/// The Raspberry Pi 5.
pub struct Rpi5;

// The entry points, the kernel-state static, the panic handler and the
// `Board` impl: the console is `CONSOLE`; the end drains it, then
// `arch_aarch64::kernel::exit` (no semihosting on hardware: the status is in
// the `IPCB end` line already printed; PSCI `SYSTEM_OFF` through TF-A,
// parking the core if the firmware declines).
arch_aarch64::kernel_entries!(Rpi5, console = CONSOLE);

/// The kernel's copy of the command line: the words it knows.
static mut CMDLINE: [u8; 1024] = [0; 1024];

/// The words of `bootargs` the kernel understands (`rounds=`, `runs=`,
/// ...), copied into [`CMDLINE`]. The firmware puts its own Linux options
/// (`coherent_pool=`, `8250.nr_uarts=`, `video=`, ...) in front of
/// `cmdline.txt`'s; they are dropped, not errors. Returns the words kept
/// and how many were dropped.
fn known_words(bootargs: &'static str) -> (&'static str, usize) {
    // SAFETY: called once, on the boot CPU, before anything else reads
    // CMDLINE; the slice handed out is never written again.
    let mut kept = WordBuf::new(unsafe { &mut *addr_of_mut!(CMDLINE) });
    let mut dropped = 0;
    for w in bootargs.split_ascii_whitespace() {
        let known = w.contains('=') && runtime::bench::parse_cmdline(w).is_ok();
        if !known || !kept.push(w) {
            dropped += 1;
        }
    }
    (kept.into_str(), dropped)
}

/// Called by the boot code on the boot stack, in the higher half: `el` is
/// the exception level the kernel runs at, `x0` the device tree's physical
/// address (TF-A passes it on from the firmware).
#[unsafe(no_mangle)]
extern "C" fn ipcb_kernel_main(el: u64, x0: u64) -> ! {
    let bi = boot::parse(&[x0]);
    let (cmdline, dropped) = known_words(bi.cmdline);
    defmt::println!("bootargs: {=usize} unknown words dropped", dropped);
    let ram_end = bi.memory.map_or(DEFAULT_RAM_END, |(start, size)| start + size);
    // Frames from the end of the image up to the first thing the firmware
    // put above it (the device tree, reserved memory), if that comes first.
    let end = boot::usable_end(x0, kernel::kernel_end(), ram_end);
    // The cores and the PSCI conduit (smc, to TF-A) from the device tree.
    let cfg = bi.dtb.and_then(smp::from_dt).unwrap_or(smp::Config::single());
    let frames = kernel::percpu_and_frames::<Rpi5>(cfg, end);
    // SAFETY: once, on the boot CPU, interrupts masked, before user mode,
    // with the per-CPU region mapped.
    unsafe { cpu::init(el as u8) };
    // The watchdog's GIC-400 (GICv2) at its known address: the device
    // tree names it on the SoC bus (0x7fff9000, translated by the bus's
    // `ranges`, which the kernel does not follow).
    watchdog::init(watchdog::Intc::V2 { gicd: GICD, gicc: GICC }, watchdog::TimerIrqs::default(), el as u8);
    kernel::start::<Rpi5>(el, cmdline, frames, bi.dtb)
}
