// SPDX-License-Identifier: MIT OR Apache-2.0
//! Building kernel images: the user programs, then the kernel that embeds
//! them, and a GRUB2 rescue ISO for booting the same ELF on a PC.
//!
//! User programs are built first for the board's target; the kernel build
//! finds each through an environment variable holding its absolute path
//! (`IPCB_USER_ELF` for `bench-user`).
//!
//! Boards whose loader takes a raw image (the Raspberry Pis' `kernel8.img`,
//! `kernel_2712.img`) get one made from the ELF here, the way
//! `objcopy -O binary` makes it: the bytes of the loadable segments from
//! the lowest physical address on, nothing for `.bss`. Every AArch64
//! kernel also gets an `Image` ([`LINUX_IMAGE`]): the same raw binary,
//! which starts with the Linux arm64 Image header (`arch-aarch64`'s
//! `boot.rs`), for U-Boot's `booti`; [`check_linux_image`] checks the
//! header against the ELF.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::board::{Board, RawImage, UBoot};
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
    let features: Vec<&str> = board.build_features.iter().chain(features).copied().collect();
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
    // The name the kernel prints in `IPCB hello`: the package's unless
    // the metadata names the board otherwise (the build script's default).
    if board.name != board.kernel_package {
        cmd.env("IPCB_BOARD", board.name);
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

/// A raw image made from a kernel ELF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raw {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// Physical address of the first byte.
    pub load: u64,
    /// The ELF's entry point (physical).
    pub entry: u64,
    /// Physical end of everything the kernel occupies, `.bss` included.
    pub mem_end: u64,
}

/// `objcopy -O binary`: the file-backed bytes of the ELF64's `PT_LOAD`
/// segments at their physical addresses (`p_paddr`), from the lowest one
/// on; gaps are zero, `.bss` (beyond `p_filesz`) is left out.
pub fn elf_to_raw(elf: &[u8]) -> Result<Raw> {
    let bad = || anyhow::anyhow!("not a little-endian ELF64 file, or a truncated one");
    let u16_at = |o: usize| -> Result<u16> {
        Ok(u16::from_le_bytes(elf.get(o..o + 2).ok_or_else(bad)?.try_into()?))
    };
    let u32_at = |o: usize| -> Result<u32> {
        Ok(u32::from_le_bytes(elf.get(o..o + 4).ok_or_else(bad)?.try_into()?))
    };
    let u64_at = |o: usize| -> Result<u64> {
        Ok(u64::from_le_bytes(elf.get(o..o + 8).ok_or_else(bad)?.try_into()?))
    };
    if elf.get(0..6) != Some(b"\x7fELF\x02\x01".as_slice()) {
        return Err(bad());
    }
    let entry = u64_at(0x18)?;
    let phoff = usize::try_from(u64_at(0x20)?)?;
    let phentsize = usize::from(u16_at(0x36)?);
    const PT_LOAD: u32 = 1;
    // (physical address, file offset, bytes in the file, bytes in memory)
    let mut segs = Vec::new();
    for i in 0..usize::from(u16_at(0x38)?) {
        let ph = phoff + i * phentsize;
        if u32_at(ph)? != PT_LOAD {
            continue;
        }
        let (off, paddr) = (u64_at(ph + 8)?, u64_at(ph + 0x18)?);
        let (filesz, memsz) = (u64_at(ph + 0x20)?, u64_at(ph + 0x28)?);
        segs.push((paddr, off, filesz, memsz));
    }
    let files = || segs.iter().filter(|s| s.2 > 0);
    let Some(load) = files().map(|s| s.0).min() else {
        bail!("the ELF has no loadable bytes");
    };
    let end = files().map(|s| s.0 + s.2).max().unwrap_or(load);
    let mem_end = segs.iter().map(|s| s.0 + s.3).max().unwrap_or(end);
    let size = usize::try_from(end - load)?;
    if size > 1 << 30 {
        bail!("the loadable segments span {size} bytes: not one image");
    }
    let mut bytes = vec![0u8; size];
    for &(paddr, off, filesz, _) in files() {
        let (off, n) = (usize::try_from(off)?, usize::try_from(filesz)?);
        let at = usize::try_from(paddr - load)?;
        let src = elf.get(off..off.checked_add(n).ok_or_else(bad)?).ok_or_else(bad)?;
        bytes[at..at + n].copy_from_slice(src);
    }
    Ok(Raw { bytes, load, entry, mem_end })
}

/// Checks a raw image against what the board's loader does: it loads the
/// first byte at `raw.load` and jumps there (so the ELF entry point must
/// be that address); and the kernel's footprint, `.bss` included, must
/// stay within `raw.max_footprint`.
pub fn check_raw(image: &Raw, raw: &RawImage) -> Result<()> {
    if image.load != raw.load {
        bail!(
            "{} would start at {:#x}, but the loader puts it at {:#x}: fix LOAD_PA in the board's link.ld",
            raw.file,
            image.load,
            raw.load
        );
    }
    if image.entry != raw.load {
        bail!(
            "the kernel's entry point is {:#x}, but the loader jumps to the first byte ({:#x}): `ipcb_start` must come first",
            image.entry,
            raw.load
        );
    }
    let footprint = image.mem_end.saturating_sub(image.load);
    if footprint > raw.max_footprint {
        bail!(
            "the kernel occupies {footprint} bytes from {:#x} (image and .bss), over the limit of {} ({})",
            raw.load,
            raw.max_footprint,
            raw.max_footprint_why
        );
    }
    Ok(())
}

/// Makes the board's raw image from `kernel` (an ELF) at `out`, checked
/// with [`check_raw`].
pub fn write_raw(board: &Board, kernel: &Path, out: &Path) -> Result<Raw> {
    let Some(raw) = board.raw_image else {
        bail!("board {} boots the ELF, not a raw image", board.name);
    };
    let elf = fs::read(kernel).with_context(|| format!("cannot read {}", kernel.display()))?;
    let mut image = elf_to_raw(&elf).with_context(|| format!("{}", kernel.display()))?;
    check_raw(&image, &raw)?;
    if raw.pad_bss {
        let footprint = usize::try_from(image.mem_end - image.load)?;
        image.bytes.resize(footprint.max(image.bytes.len()), 0);
    }
    fs::write(out, &image.bytes).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(image)
}

/// The Linux arm64 Image every AArch64 kernel gets (U-Boot `booti`).
pub const LINUX_IMAGE: &str = "Image";
/// The Image header's magic, at offset 0x38.
const ARM64_MAGIC: &[u8; 4] = b"ARM\x64";
/// The header's flags the kernels set: little-endian, 4 KiB pages,
/// placed anywhere (bit 3).
const ARM64_FLAGS: u64 = 0xA;

/// The fields of a Linux arm64 Image header that a loader reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arm64Header {
    /// Where the image goes in a 2 MiB block.
    pub text_offset: u64,
    /// Its whole footprint, `.bss` included.
    pub image_size: u64,
    /// Endianness, page size, placement.
    pub flags: u64,
}

/// Checks that the raw binary `image` starts with a Linux arm64 Image
/// header (Linux `Documentation/arch/arm64/booting.rst`) that describes it:
/// `code0` a branch into the image, `text_offset` its load address modulo
/// 2 MiB, `image_size` its footprint (`.bss` included, to the next 4 KiB,
/// no less than the file), the kernels' flags and the magic `ARM\x64`.
pub fn check_linux_image(image: &Raw) -> Result<Arm64Header> {
    let b = &image.bytes;
    if b.len() < 64 || &b[0x38..0x3C] != ARM64_MAGIC {
        bail!("no Linux arm64 Image header (magic \"ARM\\x64\" at offset 0x38): is the image header the first thing in .text?");
    }
    let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"));
    let h = Arm64Header { text_offset: u64_at(8), image_size: u64_at(16), flags: u64_at(24) };
    let code0 = u32::from_le_bytes(b[0..4].try_into().expect("4 bytes"));
    // B imm26: 0b000101 in bits 31..26, a forward offset in words.
    let target = u64::from(code0 & 0x03FF_FFFF) * 4;
    if code0 >> 26 != 0b000101 || target == 0 || target >= b.len() as u64 {
        bail!("the Image header's code0 ({code0:#010x}) is not a branch into the image");
    }
    let footprint = image.mem_end - image.load;
    if h.text_offset != image.load % (2 << 20) {
        bail!(
            "the Image header's text_offset is {:#x}, but the image is linked at {:#x} (offset {:#x} in its 2 MiB)",
            h.text_offset,
            image.load,
            image.load % (2 << 20)
        );
    }
    if h.image_size < footprint
        || h.image_size > footprint.next_multiple_of(4096)
        || (b.len() as u64) > h.image_size
    {
        bail!(
            "the Image header's image_size is {:#x}, but the kernel occupies {footprint:#x} bytes (.bss included) and the file has {:#x}",
            h.image_size,
            b.len()
        );
    }
    if h.flags != ARM64_FLAGS {
        bail!("the Image header's flags are {:#x}, not {ARM64_FLAGS:#x} (little-endian, 4 KiB pages, anywhere)", h.flags);
    }
    Ok(h)
}

/// Makes the Linux arm64 `Image` of the AArch64 kernel ELF `kernel` at
/// `out` (the raw binary, checked with [`check_linux_image`]).
pub fn write_linux_image(kernel: &Path, out: &Path) -> Result<(Raw, Arm64Header)> {
    let elf = fs::read(kernel).with_context(|| format!("cannot read {}", kernel.display()))?;
    let image = elf_to_raw(&elf).with_context(|| format!("{}", kernel.display()))?;
    let h = check_linux_image(&image).with_context(|| format!("{}", kernel.display()))?;
    fs::write(out, &image.bytes).with_context(|| format!("cannot write {}", out.display()))?;
    Ok((image, h))
}

/// `cmdline.txt` when `cargo xtask image` is given no command line: the
/// kernel's defaults, spelled out so they are easy to edit on the card.
pub const DEFAULT_IMAGE_CMDLINE: &str = "rounds=20000 runs=5";

/// `config.txt` for the Raspberry Pi 5 (its firmware reads it from the
/// SD card's FAT boot partition): the raw image `raw` at its load address,
/// the device tree at `dtb_address`.
pub fn rpi5_config_txt(raw: &RawImage, dtb_address: u64) -> String {
    let (file, load) = (raw.file, raw.load);
    format!(
        "# ipcbench-rs on the Raspberry Pi 5, made by `cargo xtask image --board rpi5`.\n\
         # Goes on the FAT32 boot partition with {file} and cmdline.txt\n\
         # (docs/raspberry-pi.md).\n\
         arm_64bit=1\n\
         kernel={file}\n\
         # The image is linked to run at {load:#x}; the device tree goes above the\n\
         # kernel's footprint, which `cargo xtask image` checks.\n\
         kernel_address={load:#x}\n\
         device_tree_address={dtb_address:#x}\n\
         # The console: the debug UART (3-pin JST), 115200 8N1, set up by the firmware.\n\
         enable_uart=1\n\
         uart_2ndstage=1\n\
         # Not a Linux kernel: boot it anyway.\n\
         os_check=0\n"
    )
}

/// The U-Boot script (`boot.cmd`) that boots the s32g2 `Image` with
/// `cmdline` as `bootargs`, from the first partition of MMC 0 (the SD
/// card on NXP's boards), with the board's Linux device tree beside it.
pub fn s32g2_boot_cmd(cmdline: &str) -> String {
    format!(
        "# ipcbench-rs on the NXP S32G2, made by `cargo xtask image --board s32g2`.\n\
         # U-Boot runs it as boot.scr (mkimage -T script) from the FAT partition,\n\
         # or type the lines at the => prompt (docs/s32g2.md).\n\
         setenv bootargs \"{cmdline}\"\n\
         # NXP's U-Boot calls the load address loadaddr (the start of DRAM).\n\
         if test -z \"${{kernel_addr_r}}\"; then setenv kernel_addr_r ${{loadaddr}}; fi\n\
         load mmc 0:1 ${{kernel_addr_r}} Image\n\
         # The board's Linux device tree (fdt_file) from the same partition, else U-Boot's own.\n\
         if load mmc 0:1 ${{fdt_addr}} ${{fdt_file}}; then echo \"device tree ${{fdt_file}}\"; else setenv fdt_addr ${{fdtcontroladdr}}; fi\n\
         booti ${{kernel_addr_r}} - ${{fdt_addr}}\n"
    )
}

/// The kernel's `footprint` (image and `.bss`), loaded at U-Boot's
/// `load_address` (s32g2: NXP's `loadaddr`, the start of DRAM), ends below
/// U-Boot's device tree (`fdt_address`; 0x8300_0000 in NXP's recent BSPs,
/// 0x83E0_0000 in older ones).
pub fn s32g2_fits(u: &UBoot, footprint: u64) -> Result<()> {
    let (load, fdt) = (u.load_address, u.fdt_address);
    let limit = fdt - load;
    if footprint > limit {
        bail!(
            "the kernel occupies {footprint} bytes from {load:#x} (image and .bss), over the limit of {limit} (U-Boot puts the device tree at {fdt:#x})"
        );
    }
    Ok(())
}

/// The `mkimage` arguments that wrap `boot.cmd` into `boot.scr`.
pub const S32G2_MKIMAGE_ARGS: &[&str] =
    &["-A", "arm64", "-O", "linux", "-T", "script", "-C", "none", "-n", "ipcbench-rs s32g2"];

/// Writes `boot.cmd` for `cmdline` into `dir`, and `boot.scr` when
/// `mkimage` (Debian `u-boot-tools`) is on `PATH`; says how to make it
/// otherwise. Returns the path of `boot.cmd`.
fn s32g2_script(dir: &Path, cmdline: &str) -> Result<PathBuf> {
    let cmd = dir.join("boot.cmd");
    fs::write(&cmd, s32g2_boot_cmd(cmdline)).with_context(|| format!("cannot write {}", cmd.display()))?;
    let scr = dir.join("boot.scr");
    let _ = fs::remove_file(&scr);
    let args = S32G2_MKIMAGE_ARGS.join(" ");
    match crate::util::which("mkimage") {
        Some(mkimage) => {
            let out = std::process::Command::new(mkimage)
                .args(S32G2_MKIMAGE_ARGS)
                .arg("-d")
                .arg(&cmd)
                .arg(&scr)
                .output()
                .context("cannot run mkimage")?;
            if !out.status.success() {
                bail!("mkimage {args} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
            }
            eprintln!("[ipcb] {} (mkimage -T script)", scr.display());
        }
        None => eprintln!(
            "[ipcb] no mkimage here (Debian u-boot-tools): make boot.scr with `mkimage {args} -d boot.cmd boot.scr`, or type boot.cmd's lines at U-Boot's prompt"
        ),
    }
    Ok(cmd)
}

/// The files a board boots from, made by [`sd_files`].
#[derive(Debug)]
pub struct SdFiles {
    /// The raw kernel image (the board's loader's name for it, or the
    /// Linux `Image`).
    pub image: PathBuf,
    /// The Linux arm64 `Image` (AArch64 kernels; the same bytes as
    /// `image` but for the Pi 5's padding).
    pub linux_image: Option<PathBuf>,
    /// Physical address the image is linked to run at.
    pub load: u64,
    /// Its size in bytes.
    pub image_size: u64,
    /// The kernel's footprint from its load address, `.bss` included.
    pub footprint: u64,
    /// `config.txt` (the Pi 5) or `boot.cmd` (the S32G2's U-Boot script),
    /// for boards that need one.
    pub config: Option<PathBuf>,
    /// `cmdline.txt`.
    pub cmdline: PathBuf,
}

/// Writes the boot files of `board` into `dir`: the raw image made from
/// `kernel` (checked against the loader and the footprint limit), the
/// Linux `Image` (AArch64), `config.txt` (the Pi 5) and `cmdline.txt`
/// holding `cmdline`.
pub fn sd_files(board: &Board, kernel: &Path, dir: &Path, cmdline: &str) -> Result<SdFiles> {
    if board.raw_image.is_none() && !board.linux_image {
        bail!("board {} boots the ELF: there is no image to make", board.name);
    }
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let linux_image = board.linux_image.then(|| dir.join(LINUX_IMAGE));
    let linux = match &linux_image {
        Some(p) => Some(write_linux_image(kernel, p)?.0),
        None => None,
    };
    let (image, r) = match board.raw_image {
        Some(raw) => {
            let image = dir.join(raw.file);
            let r = write_raw(board, kernel, &image)?;
            (image, r)
        }
        None => (
            linux_image.clone().expect("a board with a linux-image"),
            linux.expect("a board with a linux-image"),
        ),
    };
    let config = if let (Some(c), Some(raw)) = (board.config_txt, &board.raw_image) {
        let path = dir.join("config.txt");
        fs::write(&path, rpi5_config_txt(raw, c.device_tree_address))
            .with_context(|| format!("cannot write {}", path.display()))?;
        Some(path)
    } else if board.u_boot.is_some() {
        Some(s32g2_script(dir, cmdline)?)
    } else {
        None
    };
    if let Some(u) = &board.u_boot {
        s32g2_fits(u, r.mem_end - r.load)?;
    }
    let cmdline_path = dir.join("cmdline.txt");
    fs::write(&cmdline_path, format!("{cmdline}\n"))
        .with_context(|| format!("cannot write {}", cmdline_path.display()))?;
    Ok(SdFiles {
        image_size: fs::metadata(&image)?.len(),
        image,
        linux_image,
        load: r.load,
        footprint: r.mem_end - r.load,
        config,
        cmdline: cmdline_path,
    })
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

/// GRUB configuration booting `/boot/kernel.elf` with `cmdline`. The
/// video drivers are loaded so that GRUB (EFI: GOP; BIOS: VBE) can set
/// the framebuffer the kernel's multiboot2 header asks for.
pub fn grub_cfg(cmdline: &str) -> String {
    let args = if cmdline.is_empty() {
        String::new()
    } else {
        format!(" {cmdline}")
    };
    format!(
        "set timeout=0\n\
         insmod all_video\n\
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

/// Makes a GRUB2 rescue ISO holding `kernel` as `/boot/kernel.elf`: a
/// hybrid one, booting from BIOS (`i386-pc`) and UEFI (`x86_64-efi`);
/// fails when it is not.
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
    crate::uefi_pc::check_hybrid(ws, out)?;
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

    /// A minimal ELF64 with the given entry point and `PT_LOAD` segments
    /// (physical address, file bytes, size in memory), plus one `PT_NOTE`.
    fn elf_with(entry: u64, segs: &[(u64, &[u8], u64)]) -> Vec<u8> {
        let phoff = 0x40usize;
        let n = segs.len() + 1;
        let mut e = vec![0u8; phoff + 56 * n];
        e[..6].copy_from_slice(b"\x7fELF\x02\x01");
        e[0x18..0x20].copy_from_slice(&entry.to_le_bytes());
        e[0x20..0x28].copy_from_slice(&(phoff as u64).to_le_bytes());
        e[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        e[0x38..0x3A].copy_from_slice(&(n as u16).to_le_bytes());
        // The note comes first, and must be ignored.
        e[phoff..phoff + 4].copy_from_slice(&4u32.to_le_bytes());
        for (i, (paddr, bytes, memsz)) in segs.iter().enumerate() {
            let off = e.len() as u64;
            e.extend_from_slice(bytes);
            let ph = phoff + 56 * (i + 1);
            e[ph..ph + 4].copy_from_slice(&1u32.to_le_bytes());
            e[ph + 8..ph + 16].copy_from_slice(&off.to_le_bytes());
            e[ph + 0x10..ph + 0x18].copy_from_slice(&(paddr | 0xFFFF_0000_0000_0000).to_le_bytes());
            e[ph + 0x18..ph + 0x20].copy_from_slice(&paddr.to_le_bytes());
            e[ph + 0x20..ph + 0x28].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
            e[ph + 0x28..ph + 0x30].copy_from_slice(&memsz.to_le_bytes());
        }
        e
    }

    #[test]
    fn raw_image_is_objcopy_binary_at_physical_addresses() {
        // Text at 0x80000, data at 0x80010 with .bss after it, given out of
        // order: 16 + 4 bytes, the gap zero-filled, no .bss bytes.
        let elf = elf_with(0x8_0000, &[(0x8_0010, &[9, 8, 7, 6], 0x1000), (0x8_0000, &[1, 2, 3], 3)]);
        let raw = elf_to_raw(&elf).unwrap();
        assert_eq!(raw.load, 0x8_0000);
        assert_eq!(raw.entry, 0x8_0000);
        assert_eq!(raw.mem_end, 0x8_1010);
        let mut want = vec![1, 2, 3];
        want.resize(16, 0);
        want.extend_from_slice(&[9, 8, 7, 6]);
        assert_eq!(raw.bytes, want);
        assert!(elf_to_raw(b"\x7fELF\x01\x01 32-bit").is_err());
        assert!(elf_to_raw(&elf_with(0, &[(0x8_0000, &[], 64)])).is_err());
        assert!(elf_to_raw(&elf[..0x60]).is_err(), "truncated program headers");
    }

    #[test]
    fn raw_image_must_match_the_loader() {
        let pi = RawImage {
            file: "kernel8.img",
            load: 0x8_0000,
            pad_bss: false,
            max_footprint: 0x100,
            max_footprint_why: "test",
        };
        let raw = |load, entry, mem_end| Raw { bytes: vec![0; 8], load, entry, mem_end };
        assert!(check_raw(&raw(0x8_0000, 0x8_0000, 0x8_0100), &pi).is_ok());
        let e = check_raw(&raw(0x20_0000, 0x20_0000, 0x20_0008), &pi).unwrap_err().to_string();
        assert!(e.contains("LOAD_PA"), "{e}");
        let e = check_raw(&raw(0x8_0000, 0x8_0040, 0x8_0008), &pi).unwrap_err().to_string();
        assert!(e.contains("entry point is 0x80040"), "{e}");
        let e = check_raw(&raw(0x8_0000, 0x8_0000, 0x8_0101), &pi).unwrap_err().to_string();
        assert_eq!(
            e,
            "the kernel occupies 257 bytes from 0x80000 (image and .bss), over the limit of 256 (test)"
        );
    }

    #[test]
    fn rpi5_config_boots_the_image_at_its_link_address() {
        let rpi5 = crate::board::find_base("rpi5").unwrap();
        let c = rpi5_config_txt(&rpi5.raw_image.unwrap(), 0x400_0000);
        for line in [
            "arm_64bit=1",
            "kernel=kernel_2712.img",
            "kernel_address=0x80000",
            "device_tree_address=0x4000000",
            "enable_uart=1",
            "os_check=0",
        ] {
            assert!(c.lines().any(|l| l == line), "{line} missing in\n{c}");
        }
        let raw = rpi5.raw_image.unwrap();
        assert_eq!(raw.load, 0x8_0000);
        assert_eq!(raw.load + raw.max_footprint, rpi5.config_txt.unwrap().device_tree_address);
    }

    #[test]
    fn s32g2_script_loads_and_boots_the_image_with_its_bootargs() {
        let c = s32g2_boot_cmd("rounds=100 runs=2");
        let cmds: Vec<&str> = c.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            cmds,
            [
                "setenv bootargs \"rounds=100 runs=2\"",
                "if test -z \"${kernel_addr_r}\"; then setenv kernel_addr_r ${loadaddr}; fi",
                "load mmc 0:1 ${kernel_addr_r} Image",
                "if load mmc 0:1 ${fdt_addr} ${fdt_file}; then echo \"device tree ${fdt_file}\"; else setenv fdt_addr ${fdtcontroladdr}; fi",
                "booti ${kernel_addr_r} - ${fdt_addr}",
            ]
        );
        assert!(S32G2_MKIMAGE_ARGS.windows(2).any(|w| w == ["-T", "script"]));
        let u = crate::board::find_base("s32g2").unwrap().u_boot.unwrap();
        let limit = u.fdt_address - u.load_address;
        assert!(s32g2_fits(&u, limit).is_ok());
        let e = s32g2_fits(&u, limit + 1).unwrap_err().to_string();
        assert!(e.contains("over the limit") && e.contains("0x83000000"), "{e}");
    }

    #[test]
    fn grub_cfg_boots_the_kernel_with_its_command_line() {
        assert_eq!(
            grub_cfg("rounds=20000"),
            "set timeout=0\ninsmod all_video\nmenuentry \"ipcbench\" {\n    multiboot2 /boot/kernel.elf rounds=20000\n    boot\n}\n"
        );
        assert!(grub_cfg("").contains("multiboot2 /boot/kernel.elf\n"));
    }
}
