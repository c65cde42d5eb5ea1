// SPDX-License-Identifier: MIT OR Apache-2.0
//! Link the user program at its fixed address (bare-metal targets only).

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    println!("cargo:rerun-if-changed=user-x86_64.ld");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if os == "none" && arch == "x86_64" {
        println!("cargo:rustc-link-arg-bins=-T{dir}/user-x86_64.ld");
    }
}
