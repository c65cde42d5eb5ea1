// SPDX-License-Identifier: MIT OR Apache-2.0
//! The qemu-virt-aarch64 example kernel: QEMU's `virt` machine, booted by
//! QEMU `-kernel` (ELF) at EL1, or at EL2 with `-M virt,virtualization=on`
//! (the kernel then keeps EL2 and runs user tasks under the EL2&0 regime
//! with VHE). It links `arch-aarch64`, `runtime` and `ipc-core`, embeds the
//! user program `bench-user`, runs the correctness scenarios and the
//! benchmarks, prints the results on the PL011 at `0x0900_0000` and exits
//! through semihosting (QEMU `-semihosting`) with the same status codes as
//! the PC's `isa-debug-exit`: 33 pass, 35 a check failed, 37 panic.
//!
//! The kernel command line comes from the DTB's `/chosen/bootargs` (QEMU
//! `-append`), which QEMU puts at the start of RAM for an ELF kernel that
//! leaves the first MiB free, as this one does.
//!
//! **defmt**: `virt` has a single non-secure UART, and the console must stay
//! plain text, so this board's defmt logger writes nowhere for now: the
//! diagnostics are compiled in (the ELF has its `.defmt` table, and the
//! host's `defmt.log` is simply empty).

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod kernel;
#[cfg(target_os = "none")]
#[path = "../../aarch64-shared/glue.rs"]
mod glue;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("qemu-virt-aarch64 is a kernel: build it with `cargo xtask build --board qemu-virt-aarch64` (target aarch64-unknown-none)");
}
