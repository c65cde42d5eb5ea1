// SPDX-License-Identifier: MIT OR Apache-2.0
//! Prerequisites: QEMU, the bare-metal Rust targets, the GRUB tools.
//!
//! When something is missing and we run as root (CI containers), it is
//! installed with `apt-get` / `rustup`; otherwise the error is one line with
//! the command that fixes it.

use std::process::Command;

use anyhow::{Result, bail};

use crate::board::Board;
use crate::util::{Workspace, capture, is_root, run_streamed, which};

/// The bare-metal targets every board needs.
pub const TARGETS: &[&str] = &["x86_64-unknown-none", "aarch64-unknown-none"];

/// GRUB ISO tools and the Debian packages providing them.
pub const GRUB_TOOLS: &[&str] = &["grub-mkrescue", "grub-file", "xorriso", "mformat"];
/// Debian packages for [`GRUB_TOOLS`].
pub const GRUB_PACKAGES: &[&str] = &["grub-pc-bin", "grub-common", "xorriso", "mtools"];

/// The one-line fix for missing Debian packages.
fn apt_hint(packages: &[&str]) -> String {
    format!(
        "sudo apt-get install --no-install-recommends {}",
        packages.join(" ")
    )
}

/// Installs Debian packages (root only), streaming apt's output to stderr.
fn apt_install(packages: &[&str]) -> Result<()> {
    eprintln!("[ipcb] installing {} with apt-get ...", packages.join(" "));
    let mut update = Command::new("apt-get");
    update
        .arg("update")
        .env("DEBIAN_FRONTEND", "noninteractive");
    run_streamed(update, "apt-get update")?;
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive");
    run_streamed(install, "apt-get install")
}

/// Makes sure `tools` are on PATH, installing `packages` when root.
fn ensure_tools(tools: &[&str], packages: &[&str]) -> Result<()> {
    let missing = |tools: &[&str]| -> Vec<String> {
        tools
            .iter()
            .filter(|t| which(t).is_none())
            .map(|t| t.to_string())
            .collect()
    };
    let first = missing(tools);
    if first.is_empty() {
        return Ok(());
    }
    if !is_root() {
        bail!(
            "{} not found; install it with: {}",
            first.join(", "),
            apt_hint(packages)
        );
    }
    apt_install(packages)?;
    let still = missing(tools);
    if !still.is_empty() {
        bail!(
            "{} still not found after installing {}; install it with: {}",
            still.join(", "),
            packages.join(" "),
            apt_hint(packages)
        );
    }
    Ok(())
}

/// QEMU for `board`.
pub fn ensure_qemu(board: &Board) -> Result<()> {
    ensure_emulated(board)?;
    ensure_tools(&[board.qemu], board.qemu_packages)
}

/// QEMU can boot the board (the Pi 5: it cannot).
pub fn ensure_emulated(board: &Board) -> Result<()> {
    if !board.emulated {
        bail!(
            "board {} is not emulated by QEMU: make its boot files with `cargo xtask image --board {}` and run them on the board (docs/raspberry-pi.md)",
            board.name,
            board.name
        );
    }
    Ok(())
}

/// The GRUB ISO tools.
pub fn ensure_grub() -> Result<()> {
    ensure_tools(GRUB_TOOLS, GRUB_PACKAGES)
}

/// Which of `wanted` are not in `rustup target list --installed` output.
pub fn missing_targets<'a>(installed: &str, wanted: &[&'a str]) -> Vec<&'a str> {
    wanted
        .iter()
        .copied()
        .filter(|w| !installed.lines().any(|l| l.trim() == *w))
        .collect()
}

/// The bare-metal Rust targets of the pinned toolchain.
pub fn ensure_targets(ws: &Workspace) -> Result<()> {
    if which("rustup").is_none() {
        bail!(
            "rustup not found; install Rust with rustup (https://rustup.rs) so rust-toolchain.toml can pin the toolchain and its targets"
        );
    }
    let mut list = ws.command("rustup");
    list.args(["target", "list", "--installed"]);
    let installed = capture(list)?;
    let missing = missing_targets(&installed, TARGETS);
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("[ipcb] adding Rust targets {} ...", missing.join(" "));
    let mut add = ws.command("rustup");
    add.args(["target", "add"]).args(&missing);
    run_streamed(add, "rustup target add").map_err(|e| {
        e.context(format!(
            "cannot add the Rust targets; run: rustup target add {}",
            missing.join(" ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_missing_targets() {
        let out = "x86_64-unknown-linux-gnu\nx86_64-unknown-none\n";
        assert_eq!(missing_targets(out, TARGETS), vec!["aarch64-unknown-none"]);
        assert!(missing_targets("aarch64-unknown-none\nx86_64-unknown-none\n", TARGETS).is_empty());
    }

    #[test]
    fn hint_is_the_documented_command() {
        assert_eq!(
            apt_hint(&["qemu-system-x86", "qemu-system-arm"]),
            "sudo apt-get install --no-install-recommends qemu-system-x86 qemu-system-arm"
        );
    }
}
