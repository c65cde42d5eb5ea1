// SPDX-License-Identifier: MIT OR Apache-2.0
//! Board glue: the console and exit, the cores (spin table), the
//! boot (ATAGs or a device tree). The rest of the kernel glue is shared by the AArch64
//! examples: `arch_aarch64::kernel`.

use arch_aarch64::{boot, kernel};
use arch_aarch64::pl011::Pl011;
use arch_aarch64::{cpu, paging, smp, watchdog};


/// The PL011 (UART0), physical.
const UART0: u64 = 0x3F20_1000;
/// Where QEMU puts the ATAG list (and what it passes in `x0`).
const ATAGS: u64 = 0x100;
/// Longest ATAG list we read, in words: QEMU's core, memory, initrd and
/// command-line tags, with a command line of up to 1 KiB.
const ATAGS_MAX_WORDS: usize = 300;
/// RAM when neither ATAGs nor a DTB say: QEMU's 1 GiB less the 64 MiB it
/// gives the VideoCore.
const DEFAULT_RAM_END: u64 = 0x3C00_0000;
/// The spin-table release words of cores 0-3 (physical): QEMU's stub on
/// cores 1-3 waits (`wfe`) until its word is non-zero, then jumps there
/// with the MMU off, at EL2 (core 0's is never used).
const RELEASE: [u64; 4] = [0xD8, 0xE0, 0xE8, 0xF0];

/// The console: the PL011 through the device window (physical GiB 0).
// SAFETY: the boot code maps the device window as Device-nGnRE for the
// life of the kernel, and UART0 lies in it.
const CONSOLE: Pl011 = unsafe { Pl011::new((paging::DEVICE_VA + UART0) as usize) };

/// QEMU's `raspi3b`.
pub struct Raspi3b;

// The entry points, the kernel-state static, the panic handler and the
// `Board` impl: the console is `CONSOLE`; the end drains it, then
// `arch_aarch64::kernel::exit` (semihosting when `cargo xtask` asked for it,
// else park: the Pi 3 has no PSCI).
arch_aarch64::kernel_entries!(Raspi3b, console = CONSOLE);

/// The four A53 cores (MPIDR Aff0 = 0..3) and their spin-table words.
fn smp_config() -> smp::Config {
    let mut cfg = smp::Config::single();
    for (core, &release) in RELEASE.iter().enumerate() {
        cfg.push(smp::CpuDesc { mpidr: core as u64, release });
    }
    cfg.start = smp::Start::SpinTable;
    cfg
}

/// Called by the boot code on the boot stack, in the higher half: `el` is
/// the exception level the kernel runs at, `x0` what the loader passed (the
/// ATAG list at 0x100, or a DTB with QEMU `-dtb`).
#[unsafe(no_mangle)]
extern "C" fn ipcb_kernel_main(el: u64, x0: u64) -> ! {
    let bi = boot::parse(&[x0]);
    let (cmdline, ram_end) = if bi.dtb.is_some() {
        (bi.cmdline, bi.memory.map(|(start, size)| start + size))
    } else {
        let atags = if x0 == 0 { ATAGS } else { x0 };
        match boot::atags_at(atags, ATAGS_MAX_WORDS) {
            Some(a) => (a.cmdline.unwrap_or(""), a.memory.map(|(start, size)| start + size)),
            None => ("", None),
        }
    };
    let frames = kernel::percpu_and_frames::<Raspi3b>(smp_config(), ram_end.unwrap_or(DEFAULT_RAM_END));
    // SAFETY: once, on the boot CPU, interrupts masked, before user mode,
    // with the per-CPU region mapped.
    unsafe { cpu::init(el as u8) };
    // The watchdog: the generic timer through the BCM2836 local interrupt
    // controller (no GIC on the Pi 3; its block is not in the device tree
    // QEMU's raspi3b runs without).
    let local = watchdog::Intc::Bcm2836 { base: arch_aarch64::bcm2836::BASE };
    watchdog::init(local, watchdog::TimerIrqs::default(), el as u8);
    kernel::start::<Raspi3b>(el, cmdline, frames, bi.dtb)
}
