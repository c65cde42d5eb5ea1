// SPDX-License-Identifier: MIT OR Apache-2.0
//! The zcu102 example kernel: QEMU's `xlnx-zcu102` machine (Xilinx Zynq
//! UltraScale+ MPSoC ZCU102: four Cortex-A53, a GIC-400, DDR from 0, two
//! Cadence UARTs at `0xFF00_0000` and `0xFF01_0000`), booted as a Linux
//! arm64 `Image` (the raw image `cargo xtask` makes) loaded at `0x80000`
//! and entered at EL1, or at EL2 with `-M xlnx-zcu102,virtualization=on`
//! (the A53 has no VHE: `arch-aarch64`'s boot code drops to EL1). The
//! porting guide, `docs/porting.md`, walks through this port.
//!
//! * **Command line and RAM**: QEMU makes no device tree for this machine;
//!   a Linux image without `-dtb` gets an ATAG list at `0x100` (in `x0`)
//!   with the RAM size and the `-append` command line. A device tree in
//!   `x0` (U-Boot's `booti`, or QEMU `-dtb`) is read instead when there is
//!   one.
//! * **One core**: QEMU gives an `-kernel` boot of this machine no PSCI
//!   (its secondaries start powered off, `hvc` and `smc` are undefined
//!   without EL2/EL3): the kernel runs on the boot CPU. A device tree that
//!   names the CPUs and PSCI (TF-A's, on the board) starts the others.
//! * **Console**: UART0, a Cadence UART (`arch_aarch64::cadence`), QEMU's
//!   first `-serial`. Out of reset its transmitter is disabled and QEMU
//!   drops every byte: the kernel enables it before its first line.
//! * **Exit**: Arm semihosting (`-semihosting`, which `cargo xtask` adds
//!   with `exit=semihosting` on the command line): 33 pass, 35 a check
//!   failed, 37 panic. Without the word, PSCI `SYSTEM_OFF` when a device
//!   tree names PSCI, else the core parks after `IPCB end`.
//!
//! **defmt**: to the semihosting console with `exit=semihosting` (the
//! run's `defmt.log`), else nowhere.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod kernel;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("zcu102 is a kernel: build and boot it with `cargo xtask bench --board zcu102` (target aarch64-unknown-none)");
}
