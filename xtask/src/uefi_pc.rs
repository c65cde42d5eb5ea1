// SPDX-License-Identifier: MIT OR Apache-2.0
//! The PC kernel through UEFI firmware: OVMF (QEMU's x86_64 UEFI, Debian
//! `ovmf`) on q35 boots the hybrid ISO's EFI image (GRUB `x86_64-efi`),
//! which loads the kernel ELF with multiboot2, as GRUB on a UEFI PC does.
//!
//! * [`check_hybrid`]: an ISO from `grub-mkrescue` boots from BIOS and from
//!   UEFI only when both GRUB platforms (`grub-pc-bin`,
//!   `grub-efi-amd64-bin`) are installed; the El Torito catalog says which
//!   it got.
//! * [`boot_iso`]: one boot of that ISO under OVMF with the memory and CPUs
//!   asked for. QEMU gets OVMF as two flash drives: the firmware code
//!   read-only, and a private copy of the variable store (OVMF writes its
//!   boot entries there), made for each boot and moved into the run's
//!   output directory afterwards.
//!
//! * [`boot_esp`]: the same with the kernel ELF on an EFI system
//!   partition (a directory QEMU presents as a FAT disk) that GRUB EFI
//!   boots from, as on a PC whose ESP holds GRUB ([`make_esp`]:
//!   `grub-mkstandalone`); made for the boot and removed after it.
//! * [`boot_small`]: the bad input of the memory map, on the BIOS path:
//!   too little RAM for the kernel ([`check_no_room`]), and RAM for fewer
//!   per-CPU regions than CPUs ([`check_fewer_cores`]).
//!
//! The test suite's OVMF steps call [`boot_iso`]; the boot itself is the
//! common one ([`crate::boot::boot`]) with a board whose machine arguments
//! carry the firmware.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::board::{self, Accel, Board, Medium};
use crate::boot::{self, BootOutcome, BootSpec};
use crate::protocol::EndStatus;
use crate::qemu::GuestExit;
use crate::util::{Workspace, capture};
use crate::{image, prereq};

/// OVMF's code, mapped read-only.
pub const OVMF_CODE: &str = prereq::OVMF.files[0];
/// OVMF's variable store template (each boot gets a copy).
pub const OVMF_VARS: &str = prereq::OVMF.files[1];

/// Which platforms the El Torito catalog of an ISO boots (from
/// `xorriso -report_el_torito plain`): `(bios, uefi)`.
pub fn el_torito_platforms(report: &str) -> (bool, bool) {
    let mut platforms = (false, false);
    for line in report.lines() {
        let Some(rest) = line.strip_prefix("El Torito boot img :") else {
            continue;
        };
        match rest.split_whitespace().nth(1) {
            Some("BIOS") => platforms.0 = true,
            Some("UEFI") => platforms.1 = true,
            _ => {}
        }
    }
    platforms
}

/// Fails unless `iso` boots from BIOS and from UEFI.
pub fn check_hybrid(ws: &Workspace, iso: &Path) -> Result<()> {
    let mut cmd = ws.command("xorriso");
    cmd.arg("-indev")
        .arg(iso)
        .args(["-report_el_torito", "plain"]);
    let report = capture(cmd).context("xorriso cannot read the ISO's boot catalog")?;
    match el_torito_platforms(&report) {
        (true, true) => Ok(()),
        (bios, uefi) => bail!(
            "{} is not a hybrid BIOS + UEFI ISO (El Torito images: BIOS {}, UEFI {}); grub-mkrescue needs grub-pc-bin, grub-efi-amd64-bin and mtools",
            iso.display(),
            if bios { "yes" } else { "no" },
            if uefi { "yes" } else { "no" }
        ),
    }
}

/// How to boot the ISO at `iso` by hand, under SeaBIOS and under OVMF
/// (`cargo xtask iso` prints these).
pub fn boot_hints(iso: &Path) -> Vec<String> {
    let common =
        "qemu-system-x86_64 -M q35 -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04";
    vec![
        format!("boot it from BIOS with: {common} -m 256M -cdrom {}", iso.display()),
        format!(
            "or from UEFI with: cp {OVMF_VARS} vars.fd; {common} -m 2G -drive if=pflash,format=raw,readonly=on,file={OVMF_CODE} -drive if=pflash,format=raw,file=vars.fd -cdrom {}",
            iso.display()
        ),
        "on a PC: write it to a USB stick (dd if=ISO of=/dev/sdX bs=4M) and boot it, BIOS or UEFI; results on COM1".to_string(),
    ]
}

/// `machine` (the board's `-M ... -m ...`) with `mem` of RAM instead of the
/// board's, plus OVMF's two flash drives (`vars`: the writable copy).
pub fn machine_args(machine: &[&str], mem: &str, vars: &Path) -> Vec<String> {
    let mut out = with_memory(machine, mem);
    out.extend([
        "-drive".to_string(),
        format!("if=pflash,format=raw,readonly=on,file={OVMF_CODE}"),
        "-drive".to_string(),
        format!("if=pflash,format=raw,file={}", vars.display()),
    ]);
    out
}

/// `machine` with `mem` of RAM instead of the board's.
fn with_memory(machine: &[&str], mem: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < machine.len() {
        if machine[i] == "-m" && i + 1 < machine.len() {
            i += 2;
            continue;
        }
        out.push(machine[i].to_string());
        i += 1;
    }
    out.extend(["-m".to_string(), mem.to_string()]);
    out
}

/// `args` as the `'static` machine arguments of a board.
fn leak_args(args: Vec<String>) -> &'static [&'static str] {
    let args: Vec<&'static str> = args
        .into_iter()
        .map(|a| &*Box::leak(a.into_boxed_str()))
        .collect();
    Box::leak(args.into_boxed_slice())
}

/// `base` with `smp` CPUs and `mem` of RAM, started by OVMF with its
/// variable store at `vars`.
fn ovmf_board(base: &'static Board, mem: &str, smp: u32, vars: &Path) -> Result<&'static Board> {
    let variant = board::Variant {
        smp: Some(smp),
        ..board::Variant::default()
    };
    let mut b = board::apply(base, &variant)?.clone();
    b.machine_args = leak_args(machine_args(b.machine_args, mem, vars));
    Ok(Box::leak(Box::new(b)))
}

/// The ISO at `iso`, made from `kernel` with `cmdline` unless it is already
/// there and newer than the kernel (the suite's GRUB step makes it first).
pub fn iso_for(
    ws: &Workspace,
    board: &Board,
    kernel: &Path,
    cmdline: &str,
    iso: &Path,
) -> Result<PathBuf> {
    let modified = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(iso), modified(kernel)) {
        (Some(i), Some(k)) if i >= k => Ok(iso.to_path_buf()),
        _ => image::make_iso(ws, board, kernel, cmdline, iso),
    }
}

/// Where GRUB EFI goes on the EFI system partition: the removable-media
/// path, which the firmware boots with no boot entry of its own.
pub const ESP_BOOT_FILE: &str = "EFI/BOOT/BOOTX64.EFI";
/// Where the kernel goes on it.
pub const ESP_KERNEL: &str = "boot/kernel.elf";

/// The configuration built into the standalone GRUB EFI image: find the
/// partition that holds the kernel, boot it with multiboot2.
pub fn esp_grub_cfg(cmdline: &str) -> String {
    format!(
        "search --no-floppy --file --set=root /{ESP_KERNEL}\n{}",
        image::grub_cfg(cmdline).replace("/boot/kernel.elf", &format!("/{ESP_KERNEL}"))
    )
}

/// Writes an EFI system partition for `kernel` into `dir` (emptied first):
/// GRUB EFI as [`ESP_BOOT_FILE`], one file made by `grub-mkstandalone`
/// with its configuration ([`esp_grub_cfg`]) inside, and the kernel ELF as
/// [`ESP_KERNEL`]: what a UEFI PC's ESP (or a FAT USB stick) holds.
pub fn make_esp(ws: &Workspace, kernel: &Path, cmdline: &str, dir: &Path) -> Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    let boot_file = dir.join(ESP_BOOT_FILE);
    let kernel_file = dir.join(ESP_KERNEL);
    for d in [boot_file.parent(), kernel_file.parent()]
        .into_iter()
        .flatten()
    {
        fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    fs::copy(kernel, &kernel_file).with_context(|| format!("cannot copy {}", kernel.display()))?;
    let cfg = dir.with_extension("grub.cfg");
    fs::write(&cfg, esp_grub_cfg(cmdline))?;
    let mut cmd = ws.command("grub-mkstandalone");
    cmd.args(["-O", "x86_64-efi", "-o"])
        .arg(&boot_file)
        .arg("--modules=part_gpt part_msdos fat search search_fs_file multiboot2 normal")
        .arg(format!("boot/grub/grub.cfg={}", cfg.display()));
    let r = capture(cmd)
        .context("grub-mkstandalone failed (it needs grub-common and grub-efi-amd64-bin)");
    let _ = fs::remove_file(&cfg);
    r.map(|_| ())
}

/// Boot `iso` (holding `kernel`, booted with `cmdline`) under OVMF with
/// `mem` of RAM and `smp` CPUs under plain TCG.
#[allow(clippy::too_many_arguments)]
pub fn boot_iso(
    ws: &Workspace,
    base: &'static Board,
    iso: &Path,
    kernel: &Path,
    cmdline: &str,
    mem: &str,
    smp: u32,
    timeout: Duration,
) -> Result<BootOutcome> {
    let medium = Medium::Cdrom { iso, elf: kernel };
    boot_ovmf(
        ws,
        base,
        medium,
        cmdline,
        mem,
        smp,
        timeout,
        &format!("ovmf-{mem}-smp{smp}"),
    )
}

/// Make an EFI system partition for `kernel` ([`make_esp`]) and boot it
/// under OVMF, like [`boot_iso`].
#[allow(clippy::too_many_arguments)]
pub fn boot_esp(
    ws: &Workspace,
    base: &'static Board,
    kernel: &Path,
    cmdline: &str,
    mem: &str,
    smp: u32,
    timeout: Duration,
) -> Result<BootOutcome> {
    let label = format!("esp-{mem}-smp{smp}");
    let dir = ws
        .ipcb_dir()
        .join(format!("{label}-{}", std::process::id()));
    make_esp(ws, kernel, cmdline, &dir)?;
    let medium = Medium::FatDisk {
        dir: &dir,
        elf: kernel,
    };
    let o = boot_ovmf(ws, base, medium, cmdline, mem, smp, timeout, &label);
    let _ = fs::remove_dir_all(&dir);
    o
}

/// One boot of `medium` under OVMF.
#[allow(clippy::too_many_arguments)]
fn boot_ovmf(
    ws: &Workspace,
    base: &'static Board,
    medium: Medium<'_>,
    cmdline: &str,
    mem: &str,
    smp: u32,
    timeout: Duration,
    label: &str,
) -> Result<BootOutcome> {
    prereq::ensure_firmware(&prereq::OVMF)?;
    let vars = ws
        .ipcb_dir()
        .join(format!("ovmf-vars-{label}-{}.fd", std::process::id()));
    fs::copy(OVMF_VARS, &vars)
        .with_context(|| format!("cannot copy {OVMF_VARS} to {}", vars.display()))?;
    let b = ovmf_board(base, mem, smp, &vars)?;
    let spec = BootSpec::checked(b, Accel::Tcg, medium, cmdline, timeout, label);
    let o = boot::boot(ws, &spec);
    if let Ok(o) = &o {
        let _ = fs::rename(&vars, o.out_dir.join("OVMF_VARS.fd"));
    } else {
        let _ = fs::remove_file(&vars);
    }
    o
}

/// `base` with `smp` CPUs and `mem` of RAM under OVMF, with a fresh copy
/// of the variable store (returned, for the caller to remove), for boots
/// that do not go through `boot::boot` (the screen test).
pub fn ovmf_board_fresh(ws: &Workspace, base: &'static Board, mem: &str, smp: u32, label: &str) -> Result<(&'static Board, PathBuf)> {
    prereq::ensure_firmware(&prereq::OVMF)?;
    let vars = ws.ipcb_dir().join(format!("ovmf-vars-{label}-{}.fd", std::process::id()));
    fs::copy(OVMF_VARS, &vars).with_context(|| format!("cannot copy {OVMF_VARS} to {}", vars.display()))?;
    Ok((ovmf_board(base, mem, smp, &vars)?, vars))
}

/// Boot `kernel` (QEMU `-kernel`, SeaBIOS) with only `mem` of RAM and
/// `smp` CPUs under plain TCG: the bad-input checks of the memory map.
pub fn boot_small(
    ws: &Workspace,
    base: &'static Board,
    kernel: &Path,
    cmdline: &str,
    mem: &str,
    smp: u32,
    timeout: Duration,
) -> Result<BootOutcome> {
    let variant = board::Variant {
        smp: Some(smp),
        ..board::Variant::default()
    };
    let mut b = board::apply(base, &variant)?.clone();
    b.machine_args = leak_args(with_memory(b.machine_args, mem));
    let label = format!("ram-{mem}-smp{smp}");
    let spec = BootSpec::checked(Box::leak(Box::new(b)), Accel::Tcg, Medium::Kernel { elf: kernel, cmdline }, cmdline, timeout, &label);
    boot::boot(ws, &spec)
}

/// Too little RAM for even the boot CPU's region and the frames: the
/// kernel must say so in one `IPCB fail bench=boot` line naming the cause,
/// end with `status=fail` and exit with 35 (not hang, not panic).
pub fn check_no_room(o: &BootOutcome) -> std::result::Result<(), String> {
    let t = &o.transcript;
    if o.hung || o.parse_error.is_some() {
        let p = o.problems(&[]);
        return Err(p
            .first()
            .map_or("guest hung".to_string(), |p| p.reason.clone()));
    }
    if !t
        .failures
        .iter()
        .any(|f| f.bench == "boot" && f.reason.contains("no room in the memory map"))
    {
        return Err(format!(
            "no \"IPCB fail bench=boot\" line naming the memory map (last line: \"{}\")",
            crate::protocol::excerpt(&t.last_line)
        ));
    }
    match (t.end, o.exit) {
        (Some(EndStatus::Fail), Some(GuestExit::CheckFailed)) => Ok(()),
        (end, exit) => Err(format!(
            "expected status=fail and exit code 35, got {end:?} and {}",
            exit.map_or("no exit (killed)".to_string(), |e| e.describe())
        )),
    }
}

/// RAM for fewer per-CPU regions than CPUs: the kernel must carry on with
/// fewer cores (at least 2, fewer than `asked`), say why in an `IPCB warn`
/// line, and report as many regions in `IPCB mem` as cores in `IPCB hello`.
pub fn check_fewer_cores(o: &BootOutcome, asked: u32) -> std::result::Result<u32, String> {
    let t = &o.transcript;
    let cores = t.hello.as_ref().map(|h| h.cores).ok_or("no IPCB hello")?;
    if !(2..asked).contains(&cores) {
        return Err(format!(
            "{cores} of {asked} CPUs online: expected fewer, but more than one"
        ));
    }
    if !t.warnings.iter().any(|w| w.contains("not enough RAM")) {
        return Err("no \"IPCB warn\" line saying there was not enough RAM".to_string());
    }
    match &t.mem {
        Some(m) if m.percpu == cores => Ok(cores),
        Some(m) => Err(format!(
            "IPCB mem says {} per-CPU regions, hello {cores} cores",
            m.percpu
        )),
        None => Err("no IPCB mem line".to_string()),
    }
}

/// The kernel read the EFI memory map and saw at least `min_mib` of RAM.
pub fn check_efi_map(o: &BootOutcome, min_mib: u64) -> std::result::Result<(), String> {
    let m = o
        .transcript
        .mem
        .as_ref()
        .ok_or("no IPCB mem line: the kernel did not say what RAM it found")?;
    if m.map != "efi" {
        return Err(format!(
            "the kernel used the {} map, not the EFI memory map (multiboot2 tag 17)",
            m.map
        ));
    }
    if m.ram_mib < min_mib {
        return Err(format!(
            "the kernel saw {} MiB of RAM in the EFI map, expected at least {min_mib}",
            m.ram_mib
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The suite's OVMF boots on their own (the ISO, then the ESP), from
    /// the kernel `cargo xtask build` made: `cargo test -p xtask --
    /// --ignored ovmf`.
    #[test]
    #[ignore = "boots QEMU under OVMF twice (about 30 s); needs a built kernel"]
    fn ovmf_boots_the_hybrid_iso() {
        use crate::suite::{GRUB_CMDLINE, PARALLEL_BENCHES, check_cores, check_pass};
        let ws = Workspace::locate().unwrap();
        let base = board::find_base("pc-x86_64").unwrap();
        let kernel = ws.release_artifact(base.target, base.kernel_package);
        let iso = ws.ipcb_dir().join("test-ovmf-pc-x86_64.iso");
        let iso = image::make_iso(&ws, base, &kernel, GRUB_CMDLINE, &iso).unwrap();
        let t = Duration::from_secs(300);
        let o = boot_iso(&ws, base, &iso, &kernel, GRUB_CMDLINE, "2G", 4, t).unwrap();
        check_pass(&o, base.expected_benches).unwrap();
        check_cores(&o.transcript, 4, PARALLEL_BENCHES).unwrap();
        check_efi_map(&o, 1280).unwrap();
        let o = boot_esp(&ws, base, &kernel, GRUB_CMDLINE, "8G", 8, t).unwrap();
        check_pass(&o, base.expected_benches).unwrap();
        check_cores(&o.transcript, 8, PARALLEL_BENCHES).unwrap();
        check_efi_map(&o, 7 * 1024).unwrap();
    }

    /// The suite's small-RAM boots on their own: `cargo test -p xtask --
    /// --ignored small_ram`.
    #[test]
    #[ignore = "boots QEMU twice; needs a built kernel"]
    fn small_ram_is_reported() {
        let ws = Workspace::locate().unwrap();
        let base = board::find_base("pc-x86_64").unwrap();
        let kernel = ws.release_artifact(base.target, base.kernel_package);
        let cmdline = crate::suite::SMP_CMDLINE;
        let t = Duration::from_secs(300);
        check_no_room(&boot_small(&ws, base, &kernel, cmdline, "20M", 1, t).unwrap()).unwrap();
        let o = boot_small(&ws, base, &kernel, cmdline, "30M", 8, t).unwrap();
        crate::suite::check_pass(&o, base.expected_benches).unwrap();
        assert_eq!(check_fewer_cores(&o, 8), Ok(4));
    }

    #[test]
    fn the_esp_boots_the_kernel_it_holds() {
        let cfg = esp_grub_cfg("rounds=5");
        assert!(cfg.starts_with("search --no-floppy --file --set=root /boot/kernel.elf\n"));
        assert!(cfg.contains("multiboot2 /boot/kernel.elf rounds=5\n"));
        let base = board::find_base("pc-x86_64").unwrap();
        let medium = Medium::FatDisk {
            dir: Path::new("/o/esp"),
            elf: Path::new("/k"),
        };
        let args: Vec<String> = board::qemu_args(base, Accel::Tcg, &medium, Path::new("/o"))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert!(
            args.join(" ")
                .contains("-drive file=fat:rw:/o/esp,format=raw")
        );
        assert_eq!(medium.elf(), Path::new("/k"));
    }

    #[test]
    fn reads_the_el_torito_report() {
        let report = "El Torito catalog  : 1627  1\n\
            El Torito images   :   N  Pltf  B   Emul  Ld_seg  Hdpt  Ldsiz         LBA\n\
            El Torito boot img :   1  BIOS  y   none  0x0000  0x00      4        2973\n\
            El Torito boot img :   2  UEFI  y   none  0x0000  0x00   5760          72\n\
            El Torito img path :   1  /boot/grub/i386-pc/eltorito.img\n";
        assert_eq!(el_torito_platforms(report), (true, true));
        let bios_only = report.replace("UEFI", "Pltf");
        assert_eq!(el_torito_platforms(&bios_only), (true, false));
    }

    #[test]
    fn machine_args_carry_the_firmware_and_the_memory() {
        let args = machine_args(&["-M", "q35", "-m", "256M"], "8G", Path::new("/o/vars.fd"));
        assert_eq!(
            args.join(" "),
            format!(
                "-M q35 -m 8G -drive if=pflash,format=raw,readonly=on,file={OVMF_CODE} -drive if=pflash,format=raw,file=/o/vars.fd"
            )
        );
    }
}
