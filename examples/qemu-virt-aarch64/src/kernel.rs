// SPDX-License-Identifier: MIT OR Apache-2.0
//! Board glue: the console and exit, and the boot (device tree). The rest
//! of the kernel glue (the entries' Rust halves, panics, defmt) is shared
//! by the AArch64 examples: `arch_aarch64::kernel`.

use arch_aarch64::{boot, kernel};
use arch_aarch64::pl011::Pl011;
use arch_aarch64::{cpu, paging::DEVICE_VA, smp};


/// Start of RAM on `virt`: where QEMU puts the DTB for an ELF kernel.
const RAM_BASE: u64 = 0x4000_0000;
/// The PL011 (UART0), physical.
const UART0: u64 = 0x0900_0000;
/// RAM when the DTB does not say (QEMU's default `-m` is 128 MiB).
const DEFAULT_RAM: u64 = 128 << 20;

/// The console: UART0 through the device window (`link.ld` maps physical
/// 0..1 GiB there).
// SAFETY: the boot code maps the device window as Device-nGnRE for the
// life of the kernel, and UART0 lies in it.
const CONSOLE: Pl011 = unsafe { Pl011::new((DEVICE_VA + UART0) as usize) };

/// The `virt` board.
pub struct Virt;

// The entry points, the kernel-state static, the panic handler and the
// `Board` impl: the console is `CONSOLE`; the end drains it, then
// `arch_aarch64::kernel::exit` (semihosting when `cargo xtask` asked for it,
// else PSCI `SYSTEM_OFF`).
arch_aarch64::kernel_entries!(Virt, console = CONSOLE);

/// Called by the boot code on the boot stack, in the higher half: `el` is
/// the exception level the kernel runs at, `x0` what the loader passed in
/// `x0` (a DTB address for a raw image, 0 for an ELF).
#[unsafe(no_mangle)]
extern "C" fn ipcb_kernel_main(el: u64, x0: u64) -> ! {
    let bi = boot::parse(&[x0, RAM_BASE]);
    let (ram_start, ram_size) = bi.memory.unwrap_or((RAM_BASE, DEFAULT_RAM));
    // The CPUs and the PSCI conduit (hvc at EL1, smc with
    // virtualization=on) from the device tree.
    let cfg = bi.dtb.and_then(smp::from_dt).unwrap_or(smp::Config::single());
    let frames = kernel::percpu_and_frames::<Virt>(cfg, ram_start + ram_size);
    // SAFETY: once, on the boot CPU, interrupts masked, before user mode,
    // with the per-CPU region mapped.
    unsafe { cpu::init(el as u8) };
    kernel::start::<Virt>(el, bi.cmdline, frames, bi.dtb)
}
