// SPDX-License-Identifier: MIT OR Apache-2.0
//! Link with `link.ld` (and defmt's `defmt.x`) and embed the user program.

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    println!("cargo:rerun-if-changed=link.ld");
    println!("cargo:rerun-if-env-changed=IPCB_USER_ELF");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none") {
        return; // host builds (clippy, doc) compile a stub
    }
    println!("cargo:rustc-link-arg-bins=-T{}", dir.join("link.ld").display());
    println!("cargo:rustc-link-arg-bins=-Tdefmt.x");
    println!("cargo:rustc-link-arg-bins=-zmax-page-size=4096");
    let elf = match std::env::var("IPCB_USER_ELF") {
        Ok(p) => PathBuf::from(p),
        Err(_) => dir.join("../../target/aarch64-unknown-none/release/bench-user"),
    };
    if !elf.exists() {
        panic!(
            "user program {} not found: build everything with `cargo xtask build --board qemu-virt-aarch64` \
             (it builds `bench-user` first and sets IPCB_USER_ELF)",
            elf.display()
        );
    }
    println!("cargo:rerun-if-changed={}", elf.display());
    println!("cargo:rustc-env=IPCB_USER_ELF={}", elf.canonicalize().unwrap().display());
}
