// SPDX-License-Identifier: MIT OR Apache-2.0
//! The raspi3b example kernel: QEMU's `raspi3b` machine (Raspberry Pi 3
//! Model B: BCM2837, four Cortex-A53, 1 GiB of RAM, peripherals at
//! `0x3F00_0000`), booted like the Pi's firmware boots `kernel8.img`: a raw
//! image (`objcopy -O binary` of the ELF, which `cargo xtask` makes) loaded
//! at `0x80000` and entered at EL2 on core 0. The A53 has no VHE, so
//! `arch-aarch64`'s boot code drops to EL1 and the kernel runs there (its
//! `IPCB hello` says `el=1`).
//!
//! * **Command line and RAM**: QEMU passes no device tree unless given
//!   `-dtb`; `x0` points at an ATAG list (at `0x100`) with the RAM size and
//!   the `-append` command line. A DTB in `x0` is read when there is one.
//! * **Cores 1-3** sit in QEMU's spin stub (`wfe`, then a load of their
//!   release word at `0xE0`/`0xE8`/`0xF0`). The kernel starts them one by
//!   one through that spin table (`arch_aarch64::smp`): each runs the boot
//!   CPU's EL set-up and a kernel of its own, and waits for work in
//!   `wfe` (woken by `sev`).
//! * **Console**: the PL011 at `0x3F20_1000` (QEMU's first `-serial`),
//!   which needs no set-up in QEMU.
//! * **Exit**: Arm semihosting (`-semihosting`) works on this machine as on
//!   `virt` (it is a CPU feature, not a board device): 33 pass, 35 a check
//!   failed, 37 panic. The kernel uses it only when the command line says
//!   `exit=semihosting` (`cargo xtask` adds it): on a real Pi 3 it would be
//!   an undefined instruction, so without the word the kernel parks the
//!   core after `IPCB end` (no PSCI on the Pi 3).
//!
//! **defmt**: compiled in and written nowhere, as on `virt` (the second
//! `-serial` is the mini-UART, left unused).

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod kernel;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("raspi3b is a kernel: build and boot it with `cargo xtask bench --board raspi3b` (target aarch64-unknown-none)");
}
