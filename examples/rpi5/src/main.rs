// SPDX-License-Identifier: MIT OR Apache-2.0
//! The rpi5 example kernel: the Raspberry Pi 5 (BCM2712, four Cortex-A76).
//! Not emulated by QEMU: `cargo xtask image --board rpi5` builds
//! `kernel_2712.img` and the `config.txt` that boots it, and
//! `docs/raspberry-pi.md` says how to run it.
//!
//! * **Boot**: the firmware in the EEPROM loads the raw image (which
//!   starts with the Linux arm64 Image header, `text_offset` 0x80000) at
//!   `0x80000` and its TF-A (BL31) enters it at EL2 on core 0 with `x0` =
//!   the device tree. The A76 has VHE, so the kernel keeps EL2 (`HCR_EL2.E2H`, `TGE`)
//!   and runs the user tasks under the EL2&0 regime; built with the `el1`
//!   feature it drops to EL1 instead. `IPCB hello` names the level.
//! * **Cores 1-3** stay powered off in TF-A until the kernel starts them
//!   with PSCI `CPU_ON` through `smc` (the device tree's `/psci` method;
//!   the targets are the `/cpus` `reg` values: the A76 has its core number
//!   in `MPIDR` Aff1). Each runs a kernel of its own
//!   (`arch_aarch64::smp`); a core without work sleeps in `wfe` until a
//!   `sev`.
//! * **RAM and command line** come from the device tree: the first
//!   `/memory` region, less what the tree itself, `/memreserve/` and
//!   `/reserved-memory` occupy; `/chosen/bootargs`, which holds the
//!   firmware's own Linux options as well as `cmdline.txt`: words the
//!   kernel does not know are dropped.
//! * **Console**: the debug UART (`uart10`, a PL011 at `0x10_7D00_1000`,
//!   the 3-pin JST connector), which the firmware sets up at 115200 8N1
//!   (`enable_uart=1`).
//! * **End**: no semihosting on hardware: after `IPCB end` the kernel
//!   waits for the UART to drain and calls PSCI `SYSTEM_OFF` through `smc`
//!   (the device tree's `/psci` method); if TF-A declines, it parks the
//!   core. Power-cycle to run again.
//!
//! **defmt**: compiled in and written nowhere, as on the other Arm boards.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod kernel;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("rpi5 is a kernel for the Raspberry Pi 5: make its SD-card files with `cargo xtask image --board rpi5` (see docs/raspberry-pi.md)");
}
