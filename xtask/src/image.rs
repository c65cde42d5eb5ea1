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
        if board.arch == "aarch64" {
            let bytes = fs::read(&elf).with_context(|| format!("cannot read {}", elf.display()))?;
            if let Some(at) = first_a64_fp_simd(&bytes) {
                bail!(
                    "{} has an FP/SIMD instruction at {at:#x}: AArch64 user programs have no \
                     FP/SIMD registers (docs/abi.md \"AArch64 registers\"); find it with \
                     `llvm-objdump -d {}`",
                    prog.bin,
                    elf.display()
                );
            }
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

/// Is the A64 instruction `w` an FP/SIMD one: a load or store of an FP/SIMD
/// register (op0 = x1x0 with V set) or a scalar FP / Advanced SIMD data
/// processing instruction (op0 = x111)?
pub fn is_a64_fp_simd(w: u32) -> bool {
    let load_store_v = (w >> 25) & 0b0111 == 0b0110; // bits 27..25 = 1, V, 0 with V = 1
    let fp_data = (w >> 25) & 0b0111 == 0b0111;
    load_store_v || fp_data
}

/// The address of the first FP/SIMD instruction in the executable sections
/// of the little-endian ELF64 image `elf`, if any (`None` also when the
/// image cannot be read as one).
pub fn first_a64_fp_simd(elf: &[u8]) -> Option<u64> {
    let u16_at = |o: usize| Some(u16::from_le_bytes(elf.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(elf.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(elf.get(o..o + 8)?.try_into().ok()?));
    if elf.get(0..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let shoff = usize::try_from(u64_at(0x28)?).ok()?;
    let shentsize = usize::from(u16_at(0x3A)?);
    for i in 0..usize::from(u16_at(0x3C)?) {
        let sh = shoff + i * shentsize;
        const SHT_PROGBITS: u32 = 1;
        const SHF_EXECINSTR: u64 = 4;
        if u32_at(sh + 4)? != SHT_PROGBITS || u64_at(sh + 8)? & SHF_EXECINSTR == 0 {
            continue;
        }
        let addr = u64_at(sh + 0x10)?;
        let off = usize::try_from(u64_at(sh + 0x18)?).ok()?;
        let size = usize::try_from(u64_at(sh + 0x20)?).ok()?;
        let code = elf.get(off..off.checked_add(size)?)?;
        for (k, w) in code.chunks_exact(4).enumerate() {
            if is_a64_fp_simd(u32::from_le_bytes(w.try_into().ok()?)) {
                return Some(addr + 4 * k as u64);
            }
        }
    }
    None
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
    fn a64_fp_simd_instructions_are_recognised() {
        for fp in [
            0x3dc0_0120u32, // ldr q0, [x9]
            0x3d80_0be0,    // str q0, [sp, #32]
            0x6d01_3bef,    // stp d15, d14, [sp, #16]
            0x4e04_0d00,    // dup v0.4s, w8
            0x9e67_0100,    // fmov d0, x8
            0x6f00_e400,    // movi v0.2d, #0
        ] {
            assert!(is_a64_fp_simd(fp), "{fp:#x}");
        }
        for int in [
            0xa9bf_7bfd_u32, // stp x29, x30, [sp, #-16]!
            0xf940_0120,     // ldr x0, [x9]
            0xd400_0001,     // svc #0
            0xd53b_9d00,     // mrs x0, pmccntr_el0
            0x8b02_0020,     // add x0, x1, x2
            0xd65f_03c0,     // ret
            0x3940_0120,     // ldrb w0, [x9]
            0xd69f_03e0,     // eret
        ] {
            assert!(!is_a64_fp_simd(int), "{int:#x}");
        }
    }

    #[test]
    fn finds_fp_simd_in_executable_sections_only() {
        // A minimal ELF64: header, one text section at 0x400000 and a data
        // section holding an FP-looking word, then the section headers.
        let text: [u32; 3] = [0xd400_0001, 0x3dc0_0120, 0xd65f_03c0];
        let mut e = vec![0u8; 0x40];
        e[..6].copy_from_slice(b"\x7fELF\x02\x01");
        let text_off = e.len();
        for w in text {
            e.extend_from_slice(&w.to_le_bytes());
        }
        let data_off = e.len();
        e.extend_from_slice(&0x3dc0_0120u32.to_le_bytes());
        let shoff = e.len();
        let mut sh = |ty: u32, flags: u64, addr: u64, off: usize, size: usize| {
            let mut h = [0u8; 64];
            h[4..8].copy_from_slice(&ty.to_le_bytes());
            h[8..16].copy_from_slice(&flags.to_le_bytes());
            h[0x10..0x18].copy_from_slice(&addr.to_le_bytes());
            h[0x18..0x20].copy_from_slice(&(off as u64).to_le_bytes());
            h[0x20..0x28].copy_from_slice(&(size as u64).to_le_bytes());
            e.extend_from_slice(&h);
        };
        sh(1, 2, 0x50_0000, data_off, 4); // .data: alloc, not executable
        sh(1, 6, 0x40_0000, text_off, 12); // .text: alloc + exec
        e[0x28..0x30].copy_from_slice(&(shoff as u64).to_le_bytes());
        e[0x3A..0x3C].copy_from_slice(&64u16.to_le_bytes());
        e[0x3C..0x3E].copy_from_slice(&2u16.to_le_bytes());
        assert_eq!(first_a64_fp_simd(&e), Some(0x40_0004));
        let mut clean = e.clone();
        clean[text_off + 4..text_off + 8].copy_from_slice(&0xd503_201fu32.to_le_bytes()); // nop
        assert_eq!(first_a64_fp_simd(&clean), None);
        assert_eq!(first_a64_fp_simd(b"not an elf"), None);
    }

    #[test]
    fn grub_cfg_boots_the_kernel_with_its_command_line() {
        assert_eq!(
            grub_cfg("rounds=20000"),
            "set timeout=0\nmenuentry \"ipcbench\" {\n    multiboot2 /boot/kernel.elf rounds=20000\n    boot\n}\n"
        );
        assert!(grub_cfg("").contains("multiboot2 /boot/kernel.elf\n"));
    }
}
