// SPDX-License-Identifier: MIT OR Apache-2.0
//! Link with `link.ld` (and defmt's `defmt.x`), embed the user program and
//! name the board. Every path comes from Cargo's environment
//! (`CARGO_MANIFEST_DIR`, `OUT_DIR`) or from xtask's (`IPCB_USER_ELF`).

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    println!("cargo:rerun-if-changed=link.ld");
    println!("cargo:rerun-if-env-changed=IPCB_USER_ELF");
    // The board's name, printed in `IPCB hello`: what xtask passes (the
    // crate's [package.metadata.ipcbench] name), else the package's.
    println!("cargo:rerun-if-env-changed=IPCB_BOARD");
    let board = std::env::var("IPCB_BOARD").unwrap_or_else(|_| std::env::var("CARGO_PKG_NAME").unwrap());
    println!("cargo:rustc-env=IPCB_BOARD={board}");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none") {
        return; // host builds (clippy, doc) compile a stub
    }
    println!("cargo:rustc-link-arg-bins=-T{}", dir.join("link.ld").display());
    println!("cargo:rustc-link-arg-bins=-Tdefmt.x");
    println!("cargo:rustc-link-arg-bins=-zmax-page-size=4096");
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
            "user program {} not found: build everything with `cargo xtask build` \
             (it builds `bench-user` first and sets IPCB_USER_ELF)",
            elf.display()
        );
    }
    println!("cargo:rerun-if-changed={}", elf.display());
    println!("cargo:rustc-env=IPCB_USER_ELF={}", elf.canonicalize().unwrap().display());
}
