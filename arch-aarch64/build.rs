// SPDX-License-Identifier: MIT OR Apache-2.0
//! Put `ld/` (the layout every AArch64 example kernel shares,
//! `aarch64-kernel.ld`) on the linker's search path of whatever links this
//! crate: a board's `link.ld` sets its addresses and includes it by name,
//! wherever the board crate sits.

fn main() {
    let dir = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("ld");
    println!("cargo:rerun-if-changed=ld");
    println!("cargo:rustc-link-search={}", dir.display());
}
