// SPDX-License-Identifier: MIT OR Apache-2.0
//! The uefi-aarch64 example kernel, for Arm SBBR servers (Ampere Altra
//! and the like): UEFI firmware, ACPI only, no device tree. Tried under
//! QEMU `virt` with AAVMF (Debian's `qemu-efi-aarch64`).
//!
//! One binary, two builds:
//!
//! * for `aarch64-unknown-none` it is the **kernel** (`kernel.rs` and the
//!   shared AArch64 glue): an ELF linked like the other AArch64 examples,
//!   entered at its physical `ipcb_start` with the MMU off and `x0` = the
//!   [`handoff::Handoff`] block;
//! * for `aarch64-unknown-uefi` it is the **UEFI application**
//!   (`loader.rs`, `\EFI\BOOT\BOOTAA64.EFI`), which carries that ELF
//!   (`IPCB_KERNEL_ELF` at build time). It reads the command line from its
//!   load options, else from `cmdline.txt` beside it; finds the ACPI RSDP
//!   in the EFI configuration table and reads the CPUs (MADT GICC MPIDRs),
//!   the PSCI conduit (FADT Arm boot flags) and the console (SPCR: PL011,
//!   SBSA or 16550) with `arch_aarch64::acpi`; puts the kernel at its
//!   physical address; exits boot services; turns its MMU off and jumps.
//!
//! The kernel then boots as on `qemu-virt-aarch64` (same runtime, same
//! `IPCB` lines, same self-verification), starts the CPUs with PSCI
//! `CPU_ON` through the FADT's conduit and ends with PSCI `SYSTEM_OFF`
//! (never semihosting, which faults on real machines).

#![cfg_attr(any(target_os = "none", target_os = "uefi"), no_std, no_main)]

#[cfg(any(target_os = "none", target_os = "uefi"))]
mod handoff;

#[cfg(target_os = "none")]
mod kernel;

#[cfg(target_os = "uefi")]
mod loader;

#[cfg(not(any(target_os = "none", target_os = "uefi")))]
fn main() {
    eprintln!("uefi-aarch64 is a kernel and a UEFI application: build it with `cargo xtask image --board uefi-aarch64`");
}
