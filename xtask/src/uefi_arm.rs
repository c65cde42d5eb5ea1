// SPDX-License-Identifier: MIT OR Apache-2.0
//! Board `uefi-aarch64`: the EFI system partition (ESP) tree and booting
//! it under AAVMF, QEMU's AArch64 UEFI firmware.
//!
//! The board's crate builds twice: the kernel for `aarch64-unknown-none`
//! (the ELF every command handles, which decodes its defmt output), then
//! the UEFI application for `aarch64-unknown-uefi` that carries that ELF
//! (`IPCB_KERNEL_ELF`). The ESP holds the application as
//! `EFI/BOOT/BOOTAA64.EFI`, the removable-media path the firmware boots by
//! default, and `EFI/BOOT/cmdline.txt` beside it (the application reads
//! its load options first, then that file).
//!
//! QEMU boots it with `-bios QEMU_EFI.fd` and the ESP as a FAT directory
//! (`-drive file=fat:rw:DIR,format=raw,if=virtio`); with ACPI on (the
//! default) AAVMF gives the application ACPI tables and no device tree.
//! The kernel ends with PSCI `SYSTEM_OFF`, so QEMU exits with status 0
//! and the `IPCB end` line is the verdict ([`power_off_exit`]).

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::board::{Board, Efi, Exit};
use crate::protocol::{EndStatus, Transcript};
use crate::qemu::GuestExit;
use crate::util::{Workspace, run_streamed};

/// The board's name (and its kernel package), which `cargo xtask test`
/// boots. Its crate's `[efi]` names the UEFI application's target and its
/// path in the ESP (`EFI/BOOT/BOOTAA64.EFI`, where the firmware looks on
/// removable media).
pub const BOARD: &str = "uefi-aarch64";
/// The command line file, beside the application.
pub const CMDLINE_FILE: &str = "EFI/BOOT/cmdline.txt";
/// The ESP's directory inside a run's output directory.
pub const ESP_DIR: &str = "esp";

/// Is `board` booted through UEFI as an ESP (`images = ["efi"]`)?
pub fn is_uefi(board: &Board) -> bool {
    board.efi.is_some()
}

/// The board's UEFI application.
fn efi_of(board: &Board) -> Result<Efi> {
    board.efi.with_context(|| format!("board {} is not booted through UEFI", board.name))
}

/// Does the kernel end the run with PSCI `SYSTEM_OFF` (QEMU exits 0)
/// instead of a semihosting or debug-exit status (`exit = "psci-off"`)?
pub fn powers_off(board: &Board) -> bool {
    board.exit == Exit::PsciOff
}

/// What QEMU's exit means for a board that [`powers_off`]: status 0
/// after an `IPCB end` line is that line's verdict (a panic line makes it
/// a panic); anything else is left as [`crate::qemu::classify`] said.
pub fn power_off_exit(board: &Board, exit: GuestExit, t: &Transcript) -> GuestExit {
    match (powers_off(board), exit, t.end) {
        (true, GuestExit::Other(0), Some(_)) if t.panic.is_some() => GuestExit::Panic,
        (true, GuestExit::Other(0), Some(EndStatus::Pass)) => GuestExit::Pass,
        (true, GuestExit::Other(0), Some(EndStatus::Fail)) => GuestExit::CheckFailed,
        _ => exit,
    }
}

/// The progress line's words for `exit` (QEMU's status `code`): for a
/// board that [`powers_off`], status 0 is named as such, with the verdict
/// taken from the end line.
pub fn describe_exit(board: &Board, exit: GuestExit, code: Option<i32>) -> String {
    match (powers_off(board), code, exit) {
        (true, Some(0), GuestExit::Pass | GuestExit::CheckFailed | GuestExit::Panic) => {
            let verdict = match exit {
                GuestExit::Pass => "pass",
                GuestExit::CheckFailed => "a check failed",
                _ => "kernel panic",
            };
            format!("powered off (PSCI SYSTEM_OFF, status 0); the IPCB end line says {verdict}")
        }
        _ => exit.describe(),
    }
}

/// Builds the UEFI application carrying `kernel`; returns the `.efi`.
pub fn build_loader(ws: &Workspace, board: &Board, kernel: &Path) -> Result<PathBuf> {
    let loader_target = efi_of(board)?.loader_target;
    eprintln!(
        "[ipcb] building the UEFI application {} for {loader_target} (carrying {}) ...",
        board.kernel_package,
        kernel.display()
    );
    let kernel = kernel
        .canonicalize()
        .with_context(|| format!("kernel {} not found", kernel.display()))?;
    let mut cmd = ws.cargo();
    cmd.args([
        "build",
        "--release",
        "-p",
        board.kernel_package,
        "--target",
        loader_target,
    ]);
    cmd.env("IPCB_KERNEL_ELF", &kernel);
    run_streamed(cmd, "building the UEFI application")?;
    let efi = ws.release_artifact(loader_target, &format!("{}.efi", board.kernel_package));
    if !efi.is_file() {
        bail!("cargo built the UEFI application but {} does not exist", efi.display());
    }
    Ok(efi)
}

/// The ESP tree made by [`write_esp`].
#[derive(Debug)]
pub struct Esp {
    /// Its root directory.
    pub dir: PathBuf,
    /// `EFI/BOOT/BOOTAA64.EFI`.
    pub boot_file: PathBuf,
    /// `EFI/BOOT/cmdline.txt`.
    pub cmdline: PathBuf,
}

/// Checks that `bytes` is a PE32+ image for AArch64 with the EFI
/// application subsystem, as the firmware's loader wants it.
pub fn check_pe(bytes: &[u8]) -> Result<()> {
    let u16_at = |o: usize| bytes.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    if bytes.get(0..2) != Some(b"MZ".as_slice()) {
        bail!("not a PE image (no MZ header)");
    }
    let pe = bytes
        .get(0x3C..0x40)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .unwrap_or(0);
    if bytes.get(pe..pe + 4) != Some(b"PE\0\0".as_slice()) {
        bail!("no PE signature");
    }
    // COFF header: machine 0xAA64 (ARM64); optional header magic 0x20B
    // (PE32+); subsystem 10 (EFI application) at offset 68 in it.
    let opt = pe + 24;
    match (u16_at(pe + 4), u16_at(opt), u16_at(opt + 68)) {
        (Some(0xAA64), Some(0x20B), Some(10)) => Ok(()),
        (m, magic, sub) => bail!(
            "not a PE32+ AArch64 EFI application (machine {m:x?}, magic {magic:x?}, subsystem {sub:?})"
        ),
    }
}

/// Writes the ESP for `kernel` into `dir`: the UEFI application carrying
/// it (built here; a no-op when it is up to date) and `cmdline.txt`.
pub fn write_esp(ws: &Workspace, board: &Board, kernel: &Path, dir: &Path, cmdline: &str) -> Result<Esp> {
    let efi = build_loader(ws, board, kernel)?;
    let bytes = fs::read(&efi).with_context(|| format!("cannot read {}", efi.display()))?;
    check_pe(&bytes).with_context(|| format!("{}", efi.display()))?;
    let boot_file = dir.join(efi_of(board)?.boot_file);
    let boot_dir = boot_file.parent().expect("a path under the ESP has a directory");
    fs::create_dir_all(boot_dir).with_context(|| format!("cannot create {}", boot_dir.display()))?;
    fs::write(&boot_file, &bytes).with_context(|| format!("cannot write {}", boot_file.display()))?;
    let cmdline_path = dir.join(CMDLINE_FILE);
    fs::write(&cmdline_path, format!("{cmdline}\n"))
        .with_context(|| format!("cannot write {}", cmdline_path.display()))?;
    Ok(Esp { dir: dir.to_path_buf(), boot_file, cmdline: cmdline_path })
}

/// Before a QEMU boot of `board`: AAVMF installed (root: with apt; else a
/// one-line error naming the package), and the run's ESP at `esp` for
/// `kernel` with `cmdline`.
pub fn prepare_boot(ws: &Workspace, board: &Board, kernel: &Path, esp: &Path, cmdline: &str) -> Result<Esp> {
    crate::prereq::ensure_firmware(&crate::prereq::AAVMF)?;
    write_esp(ws, board, kernel, esp, cmdline)
}

/// QEMU's boot medium for the ESP at `esp`: AAVMF and the FAT directory;
/// no network card, so that a boot that misses the ESP stops at the
/// firmware instead of waiting on PXE.
pub fn qemu_medium_args(esp: &Path) -> Vec<OsString> {
    let mut drive = OsString::from("file=fat:rw:");
    drive.push(esp);
    drive.push(",format=raw,if=virtio");
    vec![
        "-bios".into(),
        crate::prereq::AAVMF.files[0].into(),
        "-drive".into(),
        drive,
        "-nic".into(),
        "none".into(),
    ]
}

/// The machine arguments of the bad-input boot: ACPI off, so that AAVMF
/// hands over a device tree only.
pub const NO_ACPI_MACHINE: &[&str] = &["-M", "virt,gic-version=3,acpi=off", "-m", "1024M"];

/// The bad-input boot without ACPI tables passed: the application said
/// so in one `IPCB fail bench=boot` line naming it, ended with `IPCB end
/// status=fail` and powered the machine off (no hang, no panic).
pub fn check_no_acpi(o: &crate::boot::BootOutcome) -> std::result::Result<(), String> {
    let t = &o.transcript;
    let named = t
        .failures
        .iter()
        .any(|f| f.bench == "boot" && f.reason.contains("no ACPI tables"));
    if !named {
        return Err(format!(
            "no \"IPCB fail bench=boot\" line naming the missing ACPI tables (last line: \"{}\")",
            t.last_line
        ));
    }
    if t.end != Some(EndStatus::Fail) {
        return Err("no \"IPCB end status=fail\" after it".to_string());
    }
    match o.exit {
        Some(GuestExit::CheckFailed) if t.panic.is_none() => Ok(()),
        other => Err(format!(
            "the machine did not power off cleanly: {}",
            other.map_or("QEMU killed (hang)".to_string(), |e| e.describe())
        )),
    }
}

/// `rounds=` of the UEFI shell boot ([`check_load_options`]).
pub const SHELL_ROUNDS: u64 = 300;
/// `runs=` of the UEFI shell boot.
pub const SHELL_RUNS: u32 = 1;

/// The load options win over `cmdline.txt`: an ESP without the
/// removable-media file, so that AAVMF falls back to its UEFI shell, whose
/// `startup.nsh` starts the application (`\ipcb.efi`) with
/// `rounds=SHELL_ROUNDS runs=SHELL_RUNS`; a `cmdline.txt` beside it says
/// otherwise. Plain TCG with 2 CPUs (the shell's 5 s countdown is wall
/// time there): the kernel's `IPCB config` must show the shell's words
/// and the run pass.
pub fn check_load_options(
    ws: &Workspace,
    board: &Board,
    kernel: &Path,
    timeout: Duration,
) -> std::result::Result<(), String> {
    let fail = |e: anyhow::Error| format!("{e:#}");
    crate::prereq::ensure_firmware(&crate::prereq::AAVMF).map_err(fail)?;
    let out_dir = ws.new_out_dir(board.name, "tcg", Some("shell")).map_err(fail)?;
    let esp = out_dir.join(ESP_DIR);
    let efi = build_loader(ws, board, kernel).map_err(fail)?;
    let words = format!("rounds={SHELL_ROUNDS} runs={SHELL_RUNS} warmup=0 sweep=0");
    let write = |name: &str, bytes: &[u8]| {
        fs::create_dir_all(&esp)
            .and_then(|()| fs::write(esp.join(name), bytes))
            .map_err(|e| format!("{}: {e}", esp.join(name).display()))
    };
    write("ipcb.efi", &fs::read(&efi).map_err(|e| format!("{}: {e}", efi.display()))?)?;
    write("startup.nsh", format!("fs0:\\ipcb.efi {words}\r\n").as_bytes())?;
    write("cmdline.txt", b"rounds=7 runs=7\n")?;
    let mut cmd = crate::prereq::qemu_command(board);
    cmd.current_dir(&ws.root);
    cmd.args(board.machine_args);
    cmd.args(["-display", "none", "-monitor", "none", "-no-reboot", "-serial", "stdio"]);
    cmd.args(qemu_medium_args(&esp));
    cmd.args(["-accel", "tcg", "-cpu", board.tcg_cpu, "-smp", "2"]);
    eprintln!(
        "[ipcb] booting {} from the UEFI shell (startup.nsh: ipcb.efi {words}) under tcg ...; output in {}",
        board.name,
        out_dir.display()
    );
    let mut t = Transcript::default();
    let mut from_options = false;
    let raw = crate::qemu::run_streaming(cmd, Some(&out_dir.join("console.log")), Some(timeout), |n, text, complete| {
        from_options |= text.contains("command line from load options");
        match t.feed(n, text, complete) {
            Ok(Some(crate::protocol::Line::End(_))) => crate::qemu::Flow::ExpectExit,
            Ok(_) => crate::qemu::Flow::Continue,
            Err(_) => crate::qemu::Flow::Stop,
        }
    })
    .map_err(fail)?;
    let seen = t.config.as_ref().map(|c| (c.rounds, c.runs));
    if seen != Some((SHELL_ROUNDS, SHELL_RUNS)) || !from_options {
        return Err(format!(
            "from the UEFI shell: IPCB config rounds/runs {seen:?}, expected the shell's ({SHELL_ROUNDS}, {SHELL_RUNS}) from the load options (last line: \"{}\")",
            t.last_line
        ));
    }
    match (t.end, raw.code, raw.killed()) {
        (Some(EndStatus::Pass), Some(0), false) => Ok(()),
        (end, code, killed) => Err(format!(
            "from the UEFI shell: end {end:?}, QEMU status {code:?}{}",
            if killed { " (killed)" } else { "" }
        )),
    }
}

/// `cargo xtask image --board uefi-aarch64`: the ESP tree in `dir`.
pub fn cmd_image(ws: &Workspace, board: &Board, kernel: &Path, dir: &Path, cmdline: &str) -> Result<()> {
    let esp = write_esp(ws, board, kernel, dir, cmdline)?;
    eprintln!(
        "[ipcb] {} ({} bytes): the UEFI application, carrying {}",
        esp.boot_file.display(),
        fs::metadata(&esp.boot_file)?.len(),
        kernel.display()
    );
    eprintln!("[ipcb] {} ({cmdline})", esp.cmdline.display());
    eprintln!(
        "[ipcb] copy the EFI directory to a FAT-formatted ESP (a USB stick, or the server's boot disk) and boot it; QEMU boots it with `cargo xtask bench --board {}`",
        board.name
    );
    println!("{}", esp.dir.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pe(machine: u16, magic: u16, subsystem: u16) -> Vec<u8> {
        let mut b = vec![0u8; 0x200];
        b[0..2].copy_from_slice(b"MZ");
        b[0x3C..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        b[0x80..0x84].copy_from_slice(b"PE\0\0");
        b[0x84..0x86].copy_from_slice(&machine.to_le_bytes());
        b[0x98..0x9A].copy_from_slice(&magic.to_le_bytes());
        b[0x98 + 68..0x98 + 70].copy_from_slice(&subsystem.to_le_bytes());
        b
    }

    #[test]
    fn only_aarch64_efi_applications_pass() {
        assert!(check_pe(&pe(0xAA64, 0x20B, 10)).is_ok());
        assert!(check_pe(&pe(0x8664, 0x20B, 10)).unwrap_err().to_string().contains("machine"));
        assert!(check_pe(&pe(0xAA64, 0x10B, 10)).is_err());
        assert!(check_pe(&pe(0xAA64, 0x20B, 11)).is_err(), "a boot-services driver");
        assert!(check_pe(b"\x7fELF").is_err());
    }

    #[test]
    fn esp_medium_is_aavmf_and_a_fat_directory() {
        let args: Vec<String> = qemu_medium_args(Path::new("/o/esp"))
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect();
        assert_eq!(
            args.join(" "),
            "-bios /usr/share/qemu-efi-aarch64/QEMU_EFI.fd -drive file=fat:rw:/o/esp,format=raw,if=virtio -nic none"
        );
    }

    #[test]
    fn no_acpi_boot_must_name_it_and_power_off() {
        let mut o = crate::boot::tests::outcome(
            "uefi-aarch64: UEFI application, 1 bytes of kernel\n\
             IPCB fail bench=boot core=0 reason=\"UEFI gave no ACPI tables, only a device tree\"\n\
             IPCB end status=fail\n",
            Some(0),
        );
        o.board = BOARD;
        let b = crate::board::find_base(BOARD).unwrap();
        o.exit = o.exit.map(|e| power_off_exit(b, e, &o.transcript));
        assert_eq!(check_no_acpi(&o), Ok(()));
        let mut hung = o.clone();
        hung.exit = None;
        assert!(check_no_acpi(&hung).unwrap_err().contains("hang"));
        let other = crate::boot::tests::outcome("IPCB fail bench=boot core=0 reason=\"x\"\nIPCB end status=fail\n", Some(0));
        assert!(check_no_acpi(&other).unwrap_err().contains("naming"));
    }

    /// The bad-input lines the UEFI application and the kernel print
    /// (`examples/uefi-aarch64`), as the host decodes them.
    #[test]
    fn bad_input_lines_decode() {
        use crate::protocol::{Line, parse_line};
        let spcr = "IPCB warn reason=\"no SPCR table: no console after ExitBootServices (only UEFI's until now); the run goes on unseen and powers off\"";
        let madt = "IPCB warn reason=\"the MADT lists 300 CPUs, more than the 256 the kernel drives: using the first 256\"";
        for l in [spcr, madt] {
            assert!(matches!(parse_line(l), Ok(Line::Warn(_))), "{l}");
        }
        let none = "IPCB fail bench=boot core=0 reason=\"UEFI gave neither ACPI tables nor a device tree: no CPUs, console or PSCI to find\"";
        match parse_line(none) {
            Ok(Line::Fail(f)) => assert_eq!((f.bench.as_str(), f.core), ("boot", Some(0))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn power_off_takes_the_end_line_as_the_verdict() {
        let b = crate::board::find_base(BOARD).unwrap();
        let pass = Transcript::parse_str("IPCB end status=pass\n").unwrap();
        let fail = Transcript::parse_str("IPCB end status=fail\n").unwrap();
        let panic = Transcript::parse_str("IPCB panic reason=\"x\"\nIPCB end status=fail\n").unwrap();
        let none = Transcript::parse_str("uefi-aarch64: ...\n").unwrap();
        let off = GuestExit::Other(0);
        assert_eq!(power_off_exit(b, off, &pass), GuestExit::Pass);
        assert_eq!(power_off_exit(b, off, &fail), GuestExit::CheckFailed);
        assert_eq!(power_off_exit(b, off, &panic), GuestExit::Panic);
        assert_eq!(power_off_exit(b, off, &none), off, "powered off without an end line");
        assert_eq!(power_off_exit(b, GuestExit::Other(1), &pass), GuestExit::Other(1));
        assert!(describe_exit(b, GuestExit::Pass, Some(0)).starts_with("powered off"));
        assert_eq!(describe_exit(b, off, Some(0)), off.describe());
        let virt = crate::board::find_base("qemu-virt-aarch64").unwrap();
        assert_eq!(power_off_exit(virt, off, &pass), off, "semihosting boards keep their codes");
    }
}
