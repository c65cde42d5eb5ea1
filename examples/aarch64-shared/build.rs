// SPDX-License-Identifier: MIT OR Apache-2.0
//! The build script of every AArch64 example kernel (each `Cargo.toml`
//! says `build = "../aarch64-shared/build.rs"`): link with the board's
//! `link.ld`, which sets the board's addresses and includes the shared
//! layout `kernel.ld` from this directory, and with defmt's `defmt.x`;
//! choose the exception level; embed the user program; name the board.
//! Every path comes from Cargo's environment (`CARGO_MANIFEST_DIR`,
//! `OUT_DIR`; the shared files are beside the crate, as its `build` key
//! says) or from xtask's (`IPCB_USER_ELF`).
//!
//! The exception level: `arch-aarch64`'s boot code keeps EL2 (with VHE)
//! when the loader enters there and the CPU has VHE, unless the symbol
//! `__ipcb_stay_el2` is 0, which the board's `el1` feature asks for (the
//! Pi 5 image: its firmware always enters at EL2).

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let shared = dir.join("../aarch64-shared");
    let package = std::env::var("CARGO_PKG_NAME").unwrap();
    println!("cargo:rerun-if-changed=link.ld");
    println!("cargo:rerun-if-changed={}", shared.join("kernel.ld").display());
    println!("cargo:rerun-if-env-changed=IPCB_USER_ELF");
    // The board's name, printed in `IPCB hello`: what xtask passes (the
    // crate's [package.metadata.ipcbench] name), else the package's.
    println!("cargo:rerun-if-env-changed=IPCB_BOARD");
    let board = std::env::var("IPCB_BOARD").unwrap_or_else(|_| std::env::var("CARGO_PKG_NAME").unwrap());
    println!("cargo:rustc-env=IPCB_BOARD={board}");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none") {
        return; // host builds (clippy, doc) compile a stub
    }
    println!("cargo:rustc-link-arg-bins=-L{}", shared.display());
    println!("cargo:rustc-link-arg-bins=-T{}", dir.join("link.ld").display());
    println!("cargo:rustc-link-arg-bins=-Tdefmt.x");
    println!("cargo:rustc-link-arg-bins=-zmax-page-size=4096");
    let stay_el2 = u8::from(std::env::var_os("CARGO_FEATURE_EL1").is_none());
    println!("cargo:rustc-link-arg-bins=--defsym=__ipcb_stay_el2={stay_el2}");
    // The user program: where xtask says, else beside this build's own
    // output (OUT_DIR is <target dir>/<target>/<profile>/build/<pkg>-<hash>/out).
    let elf = match std::env::var("IPCB_USER_ELF") {
        Ok(p) => PathBuf::from(p),
        Err(_) => {
            let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
            out.ancestors().nth(3).expect("OUT_DIR is under the target directory").join("bench-user")
        }
    };
    if !elf.exists() {
        panic!(
            "user program {} not found: build everything with `cargo xtask build --board {package}` \
             (it builds `bench-user` first and sets IPCB_USER_ELF)",
            elf.display()
        );
    }
    println!("cargo:rerun-if-changed={}", elf.display());
    println!("cargo:rustc-env=IPCB_USER_ELF={}", elf.canonicalize().unwrap().display());
}
