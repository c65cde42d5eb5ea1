// SPDX-License-Identifier: MIT OR Apache-2.0
//! The qemu-virt-aarch64 example kernel: QEMU's `virt` machine, booted by
//! QEMU `-kernel` (ELF) at EL1, or at EL2 with `-M virt,virtualization=on`
//! (the kernel then keeps EL2 and runs user tasks under the EL2&0 regime
//! with VHE), or as a Linux arm64 `Image` by U-Boot's `booti` from any
//! 2 MiB boundary in RAM (`cargo xtask image` writes it; `cargo xtask test`
//! boots it so). It links `arch-aarch64`, `runtime` and `ipc-core`, embeds
//! the user program `bench-user`, runs the correctness scenarios and the
//! benchmarks and prints the results on the PL011 at `0x0900_0000`.
//!
//! **The end**: with `exit=semihosting` on the command line (which
//! `cargo xtask` adds, with QEMU `-semihosting`) it exits through
//! semihosting with the same status codes as the PC's `isa-debug-exit`: 33
//! pass, 35 a check failed, 37 panic. Otherwise (started by firmware) it
//! powers off with PSCI `SYSTEM_OFF` through the device tree's conduit
//! (`hvc` at EL1, `smc` with `virtualization=on`); QEMU then exits with
//! status 0 and the `IPCB end` line is the verdict.
//!
//! The kernel command line comes from the DTB's `/chosen/bootargs` (QEMU
//! `-append`, U-Boot's `bootargs`); QEMU puts the DTB at the start of RAM
//! for an ELF kernel that leaves the first MiB free, as this one does
//! (linked 2 MiB into RAM), and passes it in `x0` to a raw image, as U-Boot
//! does.
//!
//! **defmt**: `virt` has a single non-secure UART, and the console must stay
//! plain text, so this board's defmt logger writes nowhere for now: the
//! diagnostics are compiled in (the ELF has its `.defmt` table, and the
//! host's `defmt.log` is simply empty).

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod kernel;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("qemu-virt-aarch64 is a kernel: build it with `cargo xtask build --board qemu-virt-aarch64` (target aarch64-unknown-none)");
}
