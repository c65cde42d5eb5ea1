// SPDX-License-Identifier: MIT OR Apache-2.0
//! The board's own code: the Cadence console and exit, the cores (PSCI),
//! the boot (ATAGs or a device tree). The rest of the kernel is library
//! code every AArch64 board shares: `arch_aarch64::kernel`.

use arch_aarch64::cadence::{Cadence, Mmio};
use arch_aarch64::{boot, cpu, kernel, paging, psci, smp, watchdog};
use runtime::Board;

/// The GIC-400's distributor and CPU interface, physical (ZynqMP), in
/// the device window (GiB 3).
const GICD: u64 = 0xF901_0000;
const GICC: u64 = 0xF902_0000;

/// UART0 (Cadence), physical: QEMU's first `-serial`.
const UART0: u64 = 0xFF00_0000;
/// The physical base of the device window (`__device_window_pa` in
/// `link.ld`).
const DEVICE_WINDOW: u64 = 0xC000_0000;
/// Where QEMU puts the ATAG list of a Linux image (and what it passes in
/// `x0`).
const ATAGS: u64 = 0x100;
/// Longest ATAG list we read, in words: QEMU's core, memory, initrd and
/// command-line tags, with a command line of up to 1 KiB.
const ATAGS_MAX_WORDS: usize = 300;
/// RAM from 0 when neither ATAGs nor a device tree say: QEMU's default
/// 128 MiB (every ZCU102 has more).
const DEFAULT_RAM_END: u64 = 128 << 20;

const _: () = assert!(UART0 - DEVICE_WINDOW < paging::DIRECT_MAP_SIZE, "UART0 outside the window");

/// The console: UART0 through the device window.
// SAFETY: the boot code maps the device window (physical GiB 3) as
// Device-nGnRE for the life of the kernel, and UART0 lies in it (checked
// above).
const CONSOLE: Cadence<Mmio> = Cadence::new(unsafe { Mmio::new((paging::DEVICE_VA + (UART0 - DEVICE_WINDOW)) as usize) });

/// QEMU's `xlnx-zcu102`.
pub struct Zcu102;

// The entry points, the kernel-state static and the panic handler
// (`arch_aarch64::kernel`).
arch_aarch64::kernel_entries!(Zcu102);

impl Board for Zcu102 {
    const NAME: &'static str = env!("IPCB_BOARD");

    /// Enable UART0 before the first byte: out of reset its transmitter
    /// is off (QEMU drops what is written then; on the board the FSBL or
    /// U-Boot has enabled it, and its baud rate stays).
    fn init() {
        CONSOLE.init(None);
    }

    fn putc(b: u8) {
        CONSOLE.putc(b);
    }

    /// Semihosting when `cargo xtask` asked for it, else PSCI
    /// `SYSTEM_OFF` if a device tree names PSCI, else park
    /// (`kernel::exit`), once the UART has drained.
    fn exit(status: u8) -> ! {
        CONSOLE.flush();
        kernel::exit(status)
    }
}

/// APU cores `-smp` can make (5 and 6 add the Cortex-R5Fs, another
/// cluster the kernel leaves alone).
const APU_CORES: u64 = 4;

/// The APU cores QEMU made, started by PSCI `CPU_ON` through `smc`: QEMU
/// answers PSCI itself for an `-kernel` boot of this machine (conduit
/// `smc`, at EL1 as at EL2), though no device tree says so. Each core's
/// MPIDR affinity is its number (one cluster, Aff0 = 0..3); PSCI
/// `AFFINITY_INFO` tells which of them exist (a core `-smp` did not make
/// is `INVALID_PARAMETERS`). Only for this path: on the board the
/// firmware's device tree lists the cores and its PSCI (TF-A's).
fn qemu_cpus() -> smp::Config {
    let mut cfg = smp::Config::single();
    for core in 0..APU_CORES {
        let state = psci::affinity_info(true, core);
        if state == psci::AFFINITY_ON || state == psci::AFFINITY_OFF {
            cfg.push(smp::CpuDesc { mpidr: core, release: 0 });
        }
    }
    cfg.start = smp::Start::Psci { smc: true };
    cfg
}

/// Called by the boot code on the boot stack, in the higher half: `el` is
/// the exception level the kernel runs at, `x0` what the loader passed (the
/// ATAG list at 0x100, or a device tree).
#[unsafe(no_mangle)]
extern "C" fn ipcb_kernel_main(el: u64, x0: u64) -> ! {
    let bi = boot::parse(&[x0]);
    let (cmdline, ram_end) = if bi.dtb.is_some() {
        let end = bi.memory.map(|(start, size)| start + size).unwrap_or(DEFAULT_RAM_END);
        (bi.cmdline, boot::usable_end(x0, kernel::kernel_end(), end))
    } else {
        let atags = if x0 == 0 { ATAGS } else { x0 };
        match boot::atags_at(atags, ATAGS_MAX_WORDS) {
            Some(a) => (a.cmdline.unwrap_or(""), a.memory.map_or(DEFAULT_RAM_END, |(start, size)| start + size)),
            None => ("", DEFAULT_RAM_END),
        }
    };
    // The CPUs and the PSCI conduit from a device tree (TF-A's, through
    // U-Boot), else QEMU's cores and PSCI.
    let cfg = match bi.dtb {
        Some(dtb) => smp::from_dt(dtb).unwrap_or(smp::Config::single()),
        None => qemu_cpus(),
    };
    let frames = kernel::percpu_and_frames::<Zcu102>(cfg, ram_end);
    // SAFETY: once, on the boot CPU, interrupts masked, before user mode,
    // with the per-CPU region mapped.
    unsafe { cpu::init(el as u8) };
    // The watchdog's GIC-400 (GICv2) at its known address (QEMU gives no
    // device tree; one from U-Boot names the same).
    watchdog::init(watchdog::Intc::V2 { gicd: GICD, gicc: GICC }, watchdog::TimerIrqs::default(), el as u8);
    kernel::start::<Zcu102>(el, cmdline, frames, bi.dtb)
}
