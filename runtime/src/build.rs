// SPDX-License-Identifier: MIT OR Apache-2.0
//! The build script of a board crate, as a library (feature `build`):
//! a board's `build.rs` is
//!
//! ```ignore
//! fn main() {
//!     runtime::build::kernel();
//! }
//! ```
//!
//! with `runtime = { path = "../../runtime", features = ["build"] }` (or
//! the version) in its `[build-dependencies]`. Every path comes from
//! Cargo's environment (`CARGO_MANIFEST_DIR`, `OUT_DIR`) or from xtask's
//! (`IPCB_USER_ELF`), never from the crate's place in the tree, so a
//! copied board crate builds wherever it sits. Layouts shared by the boards
//! of one arch come with the arch crate, whose build script puts its `ld/`
//! directory on the linker's search path (`arch-aarch64`: the board's
//! `link.ld` ends with `INCLUDE aarch64-kernel.ld`).

use std::path::PathBuf;
use std::println;
use std::format;
use std::string::String;

/// Link the kernel with the crate's `link.ld` (and defmt's `defmt.x`),
/// embed the user program (`IPCB_USER_ELF`, which the runtime's
/// `board_kernel!` includes) and name the board (`IPCB_BOARD`, printed in
/// `IPCB hello`: what xtask passes, the crate's
/// `[package.metadata.ipcbench]` name, else the package's). A host build
/// (clippy, doc) only gets the name: it compiles the crate's stub.
pub fn kernel() {
    let env = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set: run from a build script"));
    let dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let package = env("CARGO_PKG_NAME");
    println!("cargo:rerun-if-changed=link.ld");
    println!("cargo:rerun-if-env-changed=IPCB_USER_ELF");
    println!("cargo:rerun-if-env-changed=IPCB_BOARD");
    let board = std::env::var("IPCB_BOARD").unwrap_or_else(|_| package.clone());
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
            let out = PathBuf::from(env("OUT_DIR"));
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

/// Pass `arg` to the kernel's linker (after [`kernel`]'s): a board's own
/// `--defsym`, for example.
pub fn link_arg(arg: &str) {
    println!("cargo:rustc-link-arg-bins={arg}");
}

/// Is the crate's feature `name` on (`CARGO_FEATURE_<NAME>`)?
pub fn feature(name: &str) -> bool {
    let var: String = name.chars().map(|c| if c == '-' { '_' } else { c.to_ascii_uppercase() }).collect();
    std::env::var_os(format!("CARGO_FEATURE_{var}")).is_some()
}
