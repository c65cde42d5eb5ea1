// SPDX-License-Identifier: MIT OR Apache-2.0
//! Board glue: the console and exit, parking cores 1-3, the boot (ATAGs or
//! a device tree). The rest of the kernel glue is shared by the AArch64
//! examples: `examples/aarch64-shared/glue.rs`.

use arch_aarch64::boot;
use arch_aarch64::pl011::Pl011;
use arch_aarch64::{cpu, paging, semihosting};
use runtime::Board;

use crate::glue;

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
/// The spin-table mailboxes of cores 1, 2, 3 (physical): QEMU's stub on
/// each of those cores waits until its word is non-zero, then jumps there.
const MAILBOXES: [u64; 3] = [0xE0, 0xE8, 0xF0];

/// The console: the PL011 through the device window (physical GiB 0).
// SAFETY: the boot code maps the device window as Device-nGnRE for the
// life of the kernel, and UART0 lies in it.
const CONSOLE: Pl011 = unsafe { Pl011::new((paging::DEVICE_VA + UART0) as usize) };

/// QEMU's `raspi3b`.
pub struct Raspi3b;

/// The board the shared glue runs the kernel on.
pub type ThisBoard = Raspi3b;

impl Board for Raspi3b {
    const NAME: &'static str = "raspi3b";

    fn putc(b: u8) {
        CONSOLE.putc(b);
    }

    /// QEMU `-semihosting`: 33 pass, 35 a check failed, 37 panic.
    fn exit(status: u8) -> ! {
        semihosting::exit_status(status)
    }

    fn el() -> Option<u8> {
        Some(cpu::el())
    }
}

// Where cores 1-3 go: entered from QEMU's spin stub at the physical address
// (MMU off), so position-independent; it masks interrupts and waits for
// one forever (none is ever routed to these cores), so QEMU halts the core.
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
core::arch::global_asm!(
    r#"
    .section .text.ipcb_park, "ax"
    .global ipcb_raspi_park
    .type ipcb_raspi_park, %function
ipcb_raspi_park:
    msr daifset, #0xf                       /* no interrupts                  */
1:  wfi                                     /* sleep (QEMU: halt the vCPU)    */
    b 1b
    .size ipcb_raspi_park, . - ipcb_raspi_park
"#
);

unsafe extern "C" {
    /// The parking loop above (never returns; never called from Rust).
    fn ipcb_raspi_park() -> !;
}

/// Release cores 1-3 from QEMU's spin stub into [`ipcb_raspi_park`].
fn park_secondaries() {
    let entry = paging::virt_to_phys(ipcb_raspi_park as *const () as u64);
    for mailbox in MAILBOXES {
        let p = paging::phys_to_virt(mailbox) as *mut u64;
        // SAFETY: the mailboxes lie in the first page of RAM, in the direct
        // map, which the kernel never hands out (frames start above the
        // image); only the stub on the secondary cores reads them. The
        // secondaries read with their MMU (and so their caches) off: clean
        // the line to the point of coherency before waking them.
        unsafe {
            p.write_volatile(entry);
            core::arch::asm!(
                "dc civac, {p}", // our write reaches memory
                "dsb sy",        // before the event
                "sev",           // wake the stub's wfe
                p = in(reg) p,
                options(nostack, preserves_flags)
            );
        }
    }
}

/// Called by the boot code on the boot stack, in the higher half: `el` is
/// the exception level the kernel runs at, `x0` what the loader passed (the
/// ATAG list at 0x100, or a DTB with QEMU `-dtb`).
#[unsafe(no_mangle)]
extern "C" fn ipcb_kernel_main(el: u64, x0: u64) -> ! {
    // SAFETY: once, on the boot CPU, interrupts masked, before user mode.
    unsafe { cpu::init(el as u8) };
    park_secondaries();
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
    glue::start(el, cmdline, glue::frames(ram_end.unwrap_or(DEFAULT_RAM_END)), bi.dtb)
}
