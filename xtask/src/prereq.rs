// SPDX-License-Identifier: MIT OR Apache-2.0
//! Prerequisites: QEMU, the bare-metal Rust targets, the GRUB tools.
//!
//! When something is missing and we run as root (CI containers), it is
//! installed with `apt-get` / `rustup`; otherwise the error is one line with
//! the command that fixes it.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::board::Board;
use crate::util::{Workspace, capture, first_line, is_root, run_streamed, which};

/// The bare-metal targets every board needs.
pub const TARGETS: &[&str] = &["x86_64-unknown-none", "aarch64-unknown-none", "aarch64-unknown-uefi"];

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

/// What `apt-get install` would do, read from its simulation (`-s`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct AptPlan {
    /// Packages it would install or upgrade.
    pub install: Vec<String>,
    /// Packages it would remove: we never go on when this is not empty.
    pub remove: Vec<String>,
}

/// Parses `apt-get install -s` output (`Inst pkg (...)`, `Remv pkg [...]`).
pub fn parse_apt_plan(out: &str) -> AptPlan {
    let mut plan = AptPlan::default();
    for line in out.lines() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("Inst"), Some(p)) => plan.install.push(p.to_string()),
            (Some("Remv"), Some(p)) => plan.remove.push(p.to_string()),
            _ => {}
        }
    }
    plan
}

fn apt_update() -> Result<()> {
    let mut update = Command::new("apt-get");
    update
        .arg("update")
        .env("DEBIAN_FRONTEND", "noninteractive");
    run_streamed(update, "apt-get update")
}

/// Simulates installing `packages` (no root needed).
fn apt_simulate(packages: &[&str]) -> Result<AptPlan> {
    let mut sim = Command::new("apt-get");
    sim.args(["install", "-s", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive");
    Ok(parse_apt_plan(&capture(sim)?))
}

/// Installs Debian packages (root only), streaming apt's output to stderr,
/// after checking with a simulation that apt removes nothing.
fn apt_install(packages: &[&str]) -> Result<()> {
    eprintln!("[ipcb] installing {} with apt-get ...", packages.join(" "));
    apt_update()?;
    let plan = apt_simulate(packages)?;
    if !plan.remove.is_empty() {
        bail!(
            "installing {} would remove {}, and we never remove a host package; install what is missing yourself without removing anything",
            packages.join(" "),
            plan.remove.join(" ")
        );
    }
    apt_install_now(packages)
}

fn apt_install_now(packages: &[&str]) -> Result<()> {
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive");
    run_streamed(install, "apt-get install")
}

/// Makes sure every one of `items` is `present`, installing `packages`
/// when root (else a one-line error with the command that fixes it).
fn ensure_present(items: &[&str], present: fn(&str) -> bool, packages: &[&str]) -> Result<()> {
    let missing = || -> Vec<&str> { items.iter().copied().filter(|i| !present(i)).collect() };
    let first = missing();
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
    let still = missing();
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

/// Makes sure `tools` are on PATH, installing `packages` when root.
fn ensure_tools(tools: &[&str], packages: &[&str]) -> Result<()> {
    ensure_present(tools, |t| which(t).is_some(), packages)
}

/// Makes sure the files `paths` exist, installing `packages` when root.
pub fn ensure_files(paths: &[&str], packages: &[&str]) -> Result<()> {
    ensure_present(paths, |p| Path::new(p).exists(), packages)
}

/// Firmware (or boot-loader files) from a Debian package.
#[derive(Debug, Clone, Copy)]
pub struct Firmware {
    /// What it is, for messages.
    pub what: &'static str,
    /// Files that must exist (the first is the one QEMU loads).
    pub files: &'static [&'static str],
    /// Debian package(s) that provide them.
    pub packages: &'static [&'static str],
}

/// OVMF, QEMU's x86_64 UEFI firmware (q35; code + a copy of the vars).
pub const OVMF: Firmware = Firmware {
    what: "OVMF (x86_64 UEFI)",
    files: &["/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"],
    packages: &["ovmf"],
};

/// AAVMF, QEMU's AArch64 UEFI firmware (virt): boots `uefi-aarch64`.
pub const AAVMF: Firmware = Firmware {
    what: "AAVMF (AArch64 UEFI)",
    files: &["/usr/share/qemu-efi-aarch64/QEMU_EFI.fd"],
    packages: &["qemu-efi-aarch64"],
};

/// U-Boot for QEMU virt (AArch64).
pub const UBOOT_ARM64: Firmware = Firmware {
    what: "U-Boot (qemu_arm64)",
    files: &["/usr/lib/u-boot/qemu_arm64/u-boot.bin"],
    packages: &["u-boot-qemu"],
};

/// GRUB's x86_64-efi modules (for the UEFI half of the hybrid ISO).
pub const GRUB_EFI: Firmware = Firmware {
    what: "GRUB x86_64-efi modules",
    files: &["/usr/lib/grub/x86_64-efi/modinfo.sh"],
    packages: &["grub-efi-amd64-bin"],
};

/// Makes sure `fw` is installed (root: with apt; else a one-line error).
pub fn ensure_firmware(fw: &Firmware) -> Result<()> {
    ensure_files(fw.files, fw.packages).with_context(|| format!("{} is needed", fw.what))
}

/// The oldest QEMU we support.
pub const MIN_QEMU: (u32, u32) = (7, 2);

/// `(major, minor)` from `QEMU emulator version 7.2.19 (Debian ...)`.
pub fn parse_qemu_version(line: &str) -> Option<(u32, u32)> {
    let rest = &line[line.find("version ")? + "version ".len()..];
    let mut nums = rest.split(|c: char| !c.is_ascii_digit());
    let major = nums.next()?.parse().ok()?;
    let minor = nums.next()?.parse().ok()?;
    Some((major, minor))
}

/// Where QEMU is unpacked when the distribution's packages cannot be
/// installed without removing a package (Debian 12 with a newer
/// `qemu-utils` from backports: its `Breaks:` forbids qemu-system 7.2).
/// `IPCB_QEMU_PREFIX`, else `~/.cache/ipcbench/host-qemu`.
pub fn private_prefix() -> PathBuf {
    if let Some(p) = env::var_os("IPCB_QEMU_PREFIX") {
        return PathBuf::from(p);
    }
    let cache = env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    cache.join("ipcbench").join("host-qemu")
}

/// A QEMU system emulator we can run.
#[derive(Debug, Clone)]
pub struct Qemu {
    /// The executable.
    pub program: PathBuf,
    /// `-L` directories (firmware ROMs) for an unpacked QEMU.
    pub data_dirs: Vec<PathBuf>,
}

fn qemu_version(program: &Path) -> Option<(u32, u32)> {
    let mut v = Command::new(program);
    v.arg("--version");
    parse_qemu_version(&first_line(v)?)
}

/// Finds `name` (`qemu-system-x86_64`): on PATH when it is at least
/// [`MIN_QEMU`], else in [`private_prefix`].
pub fn find_qemu(name: &str) -> Option<Qemu> {
    if let Some(program) = which(name)
        && let Some(version) = qemu_version(&program)
        && version >= MIN_QEMU
    {
        return Some(Qemu { program, data_dirs: Vec::new() });
    }
    let prefix = private_prefix();
    let program = prefix.join("usr/bin").join(name);
    let version = qemu_version(&program)?;
    (version >= MIN_QEMU).then(|| Qemu {
        program,
        // An unpacked QEMU relocates its built-in firmware path next to
        // itself, where SeaBIOS and iPXE (installed by apt) are not.
        data_dirs: vec![
            prefix.join("usr/share/qemu"),
            PathBuf::from("/usr/share/seabios"),
            PathBuf::from("/usr/lib/ipxe/qemu"),
        ],
    })
}

/// A command that runs the board's QEMU (with `-L` for an unpacked one).
pub fn qemu_command(board: &Board) -> Command {
    match find_qemu(board.qemu) {
        Some(q) => {
            let mut cmd = Command::new(&q.program);
            for d in q.data_dirs.iter().filter(|d| d.is_dir()) {
                cmd.arg("-L").arg(d);
            }
            cmd
        }
        None => Command::new(board.qemu),
    }
}

/// Installs QEMU from `packages` (root only). When apt would have to remove
/// a package for it, the libraries QEMU needs are installed and the
/// `qemu-system-*` packages themselves are unpacked into [`private_prefix`].
fn install_qemu(packages: &[&str]) -> Result<()> {
    apt_update()?;
    let plan = apt_simulate(packages)?;
    if plan.remove.is_empty() {
        eprintln!("[ipcb] installing {} with apt-get ...", packages.join(" "));
        return apt_install_now(packages);
    }
    let prefix = private_prefix();
    eprintln!(
        "[ipcb] installing {} would remove {}; we never remove a host package, so QEMU is unpacked into {} instead",
        packages.join(" "),
        plan.remove.join(" "),
        prefix.display()
    );
    let (unpack, libs): (Vec<&str>, Vec<&str>) = plan
        .install
        .iter()
        .map(String::as_str)
        .partition(|p| p.starts_with("qemu-system-"));
    if !libs.is_empty() {
        let lib_plan = apt_simulate(&libs)?;
        if !lib_plan.remove.is_empty() {
            bail!(
                "even QEMU's libraries ({}) would remove {}; install QEMU 7.2 or newer yourself",
                libs.join(" "),
                lib_plan.remove.join(" ")
            );
        }
        apt_install_now(&libs)?;
    }
    let debs = prefix.join("debs");
    fs::create_dir_all(&debs)
        .with_context(|| format!("cannot create {}", debs.display()))?;
    let mut download = Command::new("apt-get");
    download.arg("download").args(&unpack).current_dir(&debs);
    run_streamed(download, "apt-get download")?;
    for entry in fs::read_dir(&debs)? {
        let deb = entry?.path();
        if deb.extension().is_some_and(|e| e == "deb") {
            let mut x = Command::new("dpkg-deb");
            x.arg("-x").arg(&deb).arg(&prefix);
            run_streamed(x, "dpkg-deb -x")?;
        }
    }
    Ok(())
}

/// QEMU for `board`: one of at least 7.2 already installed, else installed
/// (root), else a one-line error with the command to run.
pub fn ensure_qemu(board: &Board) -> Result<()> {
    ensure_emulated(board)?;
    if find_qemu(board.qemu).is_some() {
        return Ok(());
    }
    let old = which(board.qemu).and_then(|p| qemu_version(&p));
    if !is_root() {
        let what = match old {
            Some((a, b)) => format!("{} is QEMU {a}.{b}, older than 7.2", board.qemu),
            None => format!("{} not found", board.qemu),
        };
        bail!("{what}; install it with: {}", apt_hint(board.qemu_packages));
    }
    install_qemu(board.qemu_packages)?;
    if find_qemu(board.qemu).is_none() {
        bail!(
            "{} (QEMU 7.2 or newer) still not found after installing {}; install it with: {}",
            board.qemu,
            board.qemu_packages.join(" "),
            apt_hint(board.qemu_packages)
        );
    }
    Ok(())
}

/// QEMU can boot the board (the Pi 5 and the S32G2: it cannot).
pub fn ensure_emulated(board: &Board) -> Result<()> {
    if !board.emulated {
        bail!(
            "board {} is not emulated by QEMU: make its boot files with `cargo xtask image --board {}` and run them on the board ({})",
            board.name,
            board.name,
            board.hardware_doc.unwrap_or_default()
        );
    }
    Ok(())
}

/// The GRUB ISO tools.
pub fn ensure_grub() -> Result<()> {
    ensure_tools(GRUB_TOOLS, GRUB_PACKAGES)?;
    ensure_firmware(&GRUB_EFI)
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
        assert_eq!(missing_targets(out, TARGETS), vec!["aarch64-unknown-none", "aarch64-unknown-uefi"]);
        assert!(
            missing_targets("aarch64-unknown-none\naarch64-unknown-uefi\nx86_64-unknown-none\n", TARGETS)
                .is_empty()
        );
    }

    #[test]
    fn reads_the_apt_simulation() {
        let out = "Remv qemu-utils [1:10.0.2+ds-2]\nInst libfdt1 (1.6.1-4 Debian:12)\nConf libfdt1 (1.6.1-4)\nInst qemu-system-x86 (1:7.2)\n";
        let plan = parse_apt_plan(out);
        assert_eq!(plan.remove, vec!["qemu-utils"]);
        assert_eq!(plan.install, vec!["libfdt1", "qemu-system-x86"]);
        assert_eq!(parse_apt_plan("Reading package lists...\n"), AptPlan::default());
    }

    #[test]
    fn reads_qemu_versions() {
        assert_eq!(
            parse_qemu_version("QEMU emulator version 7.2.19 (Debian 1:7.2+dfsg-7+deb12u18)"),
            Some((7, 2))
        );
        assert_eq!(parse_qemu_version("QEMU emulator version 10.0.2"), Some((10, 0)));
        assert_eq!(parse_qemu_version("qemu 5"), None);
        assert!(parse_qemu_version("QEMU emulator version 6.2.0").unwrap() < MIN_QEMU);
    }

    #[test]
    fn hint_is_the_documented_command() {
        assert_eq!(
            apt_hint(&["qemu-system-x86", "qemu-system-arm"]),
            "sudo apt-get install --no-install-recommends qemu-system-x86 qemu-system-arm"
        );
    }
}
