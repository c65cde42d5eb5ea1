// SPDX-License-Identifier: MIT OR Apache-2.0
//! Link `bench-user` with `user-<arch>.ld` when building for a bare-metal
//! target (x86_64 or AArch64); host builds (tests, clippy) link the host
//! stub normally.

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let script = match arch.as_str() {
        "x86_64" => dir.join("user-x86_64.ld"),
        "aarch64" => dir.join("user-aarch64.ld"),
        _ => return,
    };
    println!("cargo:rerun-if-changed={}", script.display());
    if os == "none" {
        println!("cargo:rustc-link-arg-bins=-T{}", script.display());
        // Segments start on 4 KiB boundaries; keep the file offsets in step
        // so no padding up to a larger default page size creeps in.
        println!("cargo:rustc-link-arg-bins=-zmax-page-size=4096");
    }
}
