// SPDX-License-Identifier: MIT OR Apache-2.0
//! The pc-x86_64 example kernel: an x86_64 PC (QEMU q35 or real hardware),
//! booted by QEMU `-kernel` or GRUB2. It links `arch-x86_64`, `runtime`
//! and `ipc-core`, embeds the user program `bench-user`, runs the
//! correctness scenarios and the benchmarks, prints the results on COM1
//! (defmt diagnostics on COM2; `console=` and `defmt=` on the command line
//! move either or turn it off) and exits through QEMU's `isa-debug-exit`
//! (on a real PC it halts).

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod kernel;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("pc-x86_64 is a kernel: build it with `cargo xtask build` (target x86_64-unknown-none)");
}
