// SPDX-License-Identifier: MIT OR Apache-2.0
//! The s32g2 example kernel: the NXP S32G2 (four Cortex-A53, DRAM from
//! `0x8000_0000`). Not emulated by QEMU: `cargo xtask image --board s32g2`
//! builds the Linux arm64 `Image` and the U-Boot script that boots it, and
//! `docs/s32g2.md` says how to run it.
//!
//! * **Boot**: U-Boot loads `Image` (which starts with the Linux arm64
//!   Image header, `text_offset` 0) at a 2 MiB boundary of DRAM and
//!   `booti` enters it at EL2 on core 0 with `x0` = the device tree. The
//!   A53 has no VHE, so the kernel drops to EL1; `IPCB hello` says `el=1`.
//! * **Cores 1-3** stay powered off in TF-A until the kernel starts them
//!   with PSCI `CPU_ON` through `smc` (the device tree's `/psci` method and
//!   `/cpus` `reg` values); each runs a kernel of its own
//!   (`arch_aarch64::smp`).
//! * **RAM and command line** come from the device tree: the first
//!   `/memory` region, less what the tree itself, `/memreserve/` and
//!   `/reserved-memory` occupy; `/chosen/bootargs`, which the script's
//!   `setenv bootargs` fills.
//! * **Console**: the LINFlexD UART `/chosen/stdout-path` names (an alias
//!   such as `serial0:115200n8` is resolved), when it is one
//!   (`nxp,s32g2-linflexuart` or `fsl,s32v234-linflexuart`) in the device
//!   window; else UART0 at `0x401C_8000`. Put in UART mode, 8N1, buffer
//!   mode, at the baud rate U-Boot left (`arch_aarch64::linflex`).
//! * **End**: no semihosting on hardware: after `IPCB end` the kernel
//!   calls PSCI `SYSTEM_OFF` through `smc` (the shared glue); if TF-A
//!   declines, it parks the core.
//!
//! **defmt**: compiled in and written nowhere, as on the other Arm boards.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod kernel;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("s32g2 is a kernel for the NXP S32G2: make its Image and U-Boot script with `cargo xtask image --board s32g2` (see docs/s32g2.md)");
}
