// SPDX-License-Identifier: MIT OR Apache-2.0
//! Building kernel images: the user programs, then the kernel that embeds
//! them, and a GRUB2 rescue ISO for booting the same ELF on a PC.
//!
//! User programs are built first for the board's target; the kernel build
//! finds each through an environment variable holding its absolute path
//! (`IPCB_USER_ELF` for `bench-user`).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::board::Board;
use crate::util::{Workspace, capture, run_streamed};

/// Builds the user programs and the kernel with `features`; returns the
/// kernel ELF (`target/<triple>/release/<kernel package>`).
pub fn build(ws: &Workspace, board: &Board, features: &[&str]) -> Result<PathBuf> {
    let mut envs: Vec<(&str, PathBuf)> = Vec::new();
    for prog in board.user_programs {
        eprintln!(
            "[ipcb] building user program {} ({}) for {} ...",
            prog.bin, prog.package, board.target
        );
        let mut cmd = ws.cargo();
        cmd.args([
            "build",
            "--release",
            "-p",
            prog.package,
            "--bin",
            prog.bin,
            "--target",
            board.target,
        ]);
        run_streamed(cmd, &format!("building the user program {}", prog.bin))?;
        let elf = ws.release_artifact(board.target, prog.bin);
        if !elf.is_file() {
            bail!(
                "cargo built {} but {} does not exist",
                prog.bin,
                elf.display()
            );
        }
        envs.push((prog.env, elf));
    }
    let with = if features.is_empty() {
        String::new()
    } else {
        format!(" with features {}", features.join(","))
    };
    eprintln!(
        "[ipcb] building kernel {} for {}{with} ...",
        board.kernel_package, board.target
    );
    let mut cmd = ws.cargo();
    cmd.args([
        "build",
        "--release",
        "-p",
        board.kernel_package,
        "--target",
        board.target,
    ]);
    if !features.is_empty() {
        cmd.arg("--features").arg(features.join(","));
    }
    for (k, v) in &envs {
        cmd.env(k, v);
    }
    run_streamed(
        cmd,
        &format!("building the kernel {}", board.kernel_package),
    )?;
    let kernel = ws.release_artifact(board.target, board.kernel_package);
    if !kernel.is_file() {
        bail!(
            "cargo built {} but {} does not exist",
            board.kernel_package,
            kernel.display()
        );
    }
    Ok(kernel)
}

/// GRUB configuration booting `/boot/kernel.elf` with `cmdline`.
pub fn grub_cfg(cmdline: &str) -> String {
    let args = if cmdline.is_empty() {
        String::new()
    } else {
        format!(" {cmdline}")
    };
    format!(
        "set timeout=0\n\
         menuentry \"ipcbench\" {{\n    multiboot2 /boot/kernel.elf{args}\n    boot\n}}\n"
    )
}

/// Checks that GRUB accepts the ELF as a multiboot2 kernel.
pub fn check_multiboot2(ws: &Workspace, kernel: &Path) -> Result<()> {
    let mut cmd = ws.command("grub-file");
    cmd.arg("--is-x86-multiboot2").arg(kernel);
    capture(cmd).with_context(|| {
        format!(
            "{} has no valid multiboot2 header (grub-file --is-x86-multiboot2 failed): GRUB cannot boot it",
            kernel.display()
        )
    })?;
    Ok(())
}

/// Makes a GRUB2 rescue ISO holding `kernel` as `/boot/kernel.elf`.
pub fn make_iso(
    ws: &Workspace,
    board: &Board,
    kernel: &Path,
    cmdline: &str,
    out: &Path,
) -> Result<PathBuf> {
    if !board.grub {
        bail!("board {} does not boot from GRUB", board.name);
    }
    // Child processes run in the workspace root: make paths absolute first.
    let out = &std::path::absolute(out).with_context(|| format!("bad path {}", out.display()))?;
    let root = ws
        .ipcb_dir()
        .join(format!("iso-root-{}-{}", board.name, std::process::id()));
    if root.exists() {
        fs::remove_dir_all(&root).with_context(|| format!("cannot clear {}", root.display()))?;
    }
    let grub_dir = root.join("boot").join("grub");
    fs::create_dir_all(&grub_dir)
        .with_context(|| format!("cannot create {}", grub_dir.display()))?;
    fs::copy(kernel, root.join("boot").join("kernel.elf"))
        .with_context(|| format!("cannot copy {}", kernel.display()))?;
    fs::write(grub_dir.join("grub.cfg"), grub_cfg(cmdline))?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut cmd = ws.command("grub-mkrescue");
    cmd.arg("-o").arg(out).arg(&root);
    let result =
        capture(cmd).context("grub-mkrescue failed (it needs grub-pc-bin, xorriso and mtools)");
    let _ = fs::remove_dir_all(&root);
    result?;
    Ok(out.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grub_cfg_boots_the_kernel_with_its_command_line() {
        assert_eq!(
            grub_cfg("rounds=20000"),
            "set timeout=0\nmenuentry \"ipcbench\" {\n    multiboot2 /boot/kernel.elf rounds=20000\n    boot\n}\n"
        );
        assert!(grub_cfg("").contains("multiboot2 /boot/kernel.elf\n"));
    }
}
