// SPDX-License-Identifier: MIT OR Apache-2.0
//! The boards: what to build for each example kernel and how to boot it.
//!
//! Each board is a crate in `examples/` that describes itself in
//! `[package.metadata.ipcbench]` ([`metadata`] reads and checks it through
//! `cargo metadata`); there is no list of boards in xtask. A copy of a
//! board crate under a new package name is a new `--board`.

pub mod copy;
mod metadata;

use std::cell::Cell;
use std::ffi::OsString;
use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Result, bail};

/// A user program embedded into the kernel image.
#[derive(Debug)]
pub struct UserProgram {
    /// Cargo package that holds the binary.
    pub package: &'static str,
    /// Binary target name.
    pub bin: &'static str,
    /// Environment variable through which the kernel build finds the ELF.
    pub env: &'static str,
}

/// A firmware-style raw image (`objcopy -O binary` of the kernel ELF), as
/// the Raspberry Pi firmware loads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawImage {
    /// File name (`kernel8.img`, `kernel_2712.img`).
    pub file: &'static str,
    /// Physical address the loader puts the first byte at, and jumps to.
    pub load: u64,
    /// Pad the file with the zeros of `.bss`: the loader knows only the
    /// file's size, and puts its own data (the Pi 5 firmware: the device
    /// tree) wherever it likes above it; padded, that is past the kernel's
    /// whole footprint, not in the `.bss` the boot code clears.
    pub pad_bss: bool,
    /// The most memory the kernel may occupy from `load` on, `.bss`
    /// included (checked whenever the image is made).
    pub max_footprint: u64,
    /// Why `max_footprint`.
    pub max_footprint_why: &'static str,
}

/// The UEFI application that carries the kernel (`images = ["efi"]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Efi {
    /// The application's target (the kernel's is [`Board::target`]).
    pub loader_target: &'static str,
    /// Its path in the EFI system partition (the firmware's default).
    pub boot_file: &'static str,
}

/// The Raspberry Pi 5's `config.txt` (`[config-txt]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigTxt {
    /// Where the firmware puts the device tree (`device_tree_address`),
    /// above the kernel's footprint (checked when the board is read).
    pub device_tree_address: u64,
}

/// A U-Boot script that boots the Linux arm64 `Image` with `booti`
/// (`[u-boot]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UBoot {
    /// Where U-Boot loads `Image` (`loadaddr`), where the kernel is linked.
    pub load_address: u64,
    /// Where U-Boot puts the device tree (`fdt_addr`): the kernel's
    /// footprint from `load_address` must end below it.
    pub fdt_address: u64,
}

/// What `--el N` does on a board (`el = [...]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElChoice {
    /// `N`.
    pub el: u8,
    /// QEMU's machine arguments instead of [`Board::machine_args`].
    pub machine: Option<&'static [&'static str]>,
    /// Cargo features of the kernel added to [`Board::build_features`].
    pub features: &'static [&'static str],
    /// The exception level the kernel then runs at, when fixed.
    pub runs_at: Option<u8>,
}

/// How the kernel ends a run (`exit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// QEMU's `isa-debug-exit` device (`isa-debug-exit`; x86_64, exit codes 33/35/37).
    IsaDebug,
    /// Semihosting `SYS_EXIT` under QEMU (`-semihosting`), PSCI
    /// `SYSTEM_OFF` without it.
    Semihosting,
    /// PSCI `SYSTEM_OFF`: QEMU exits with status 0 and the `IPCB end`
    /// line is the verdict.
    PsciOff,
    /// The kernel parks its CPUs (hardware only).
    Park,
}

/// One example kernel and its QEMU machine, as its crate's
/// `[package.metadata.ipcbench]` describes it ([`metadata`]).
#[derive(Debug, Clone)]
pub struct Board {
    /// Board name (`--board`), also the name the kernel prints in `IPCB
    /// hello`: `name`, or the package name.
    pub name: &'static str,
    /// Architecture, as the kernel prints it (the first part of `target`).
    pub arch: &'static str,
    /// Rust target triple of the kernel and its user programs (`target`).
    pub target: &'static str,
    /// Cargo package of the kernel (its binary has the same name).
    pub kernel_package: &'static str,
    /// User programs to build first, in order (`user`).
    pub user_programs: &'static [UserProgram],
    /// QEMU system emulator (`qemu.system`; empty when not emulated).
    pub qemu: &'static str,
    /// Debian packages that provide the emulators (`qemu.packages`).
    pub qemu_packages: &'static [&'static str],
    /// Machine, memory and exit-device arguments (`qemu.machine`).
    pub machine_args: &'static [&'static str],
    /// What `--el` may pick (`el`); empty where it picks nothing.
    pub el_choices: &'static [ElChoice],
    /// The `-cpu` models `--cpu` may pick under TCG (`qemu.cpus`; the
    /// first is [`Board::tcg_cpu`]).
    pub cpus: &'static [&'static str],
    /// `-cpu` under TCG.
    pub tcg_cpu: &'static str,
    /// `-cpu` under KVM (`qemu.kvm.cpu`).
    pub kvm_cpu: &'static str,
    /// Host architecture on which KVM can run this board (`qemu.kvm.host`;
    /// `none`: TCG only).
    pub kvm_host_arch: &'static str,
    /// True when the kernel ELF also boots from GRUB2 (multiboot2):
    /// `images` lists `iso`.
    pub grub: bool,
    /// `cargo xtask image` makes a Linux arm64 `Image` (`linux-image`).
    pub linux_image: bool,
    /// Cargo feature of the kernel that honours `inject=` (test builds only).
    pub inject_feature: &'static str,
    /// Benchmarks every full run must report.
    pub expected_benches: &'static [&'static str],
    /// The loader takes a raw image instead of the ELF (`raw`): QEMU
    /// `-kernel` gets that (written into the run's directory), and `cargo
    /// xtask image` makes it.
    pub raw_image: Option<RawImage>,
    /// Booted as a UEFI application from an ESP (`efi`).
    pub efi: Option<Efi>,
    /// `cargo xtask image` writes the Pi 5's `config.txt` (`config-txt`).
    pub config_txt: Option<ConfigTxt>,
    /// `cargo xtask image` writes a U-Boot script (`u-boot`).
    pub u_boot: Option<UBoot>,
    /// How the kernel ends a run.
    pub exit: Exit,
    /// The kernel's defmt frames reach the host through QEMU's
    /// semihosting console (`defmt = "semihosting"`, or implied by
    /// `exit = "semihosting"`): xtask sends that console to `defmt.bin`.
    pub defmt_semihosting: bool,
    /// The document that says how to run a board QEMU does not emulate.
    pub hardware_doc: Option<&'static str>,
    /// False for hardware QEMU does not emulate (no `[qemu]`): image only.
    pub emulated: bool,
    /// The exception level the kernel runs at, when the board fixes it
    /// (`runs-at-el`; raspi3b: entered at EL2, no VHE, so EL1); what
    /// `cargo xtask test` expects.
    pub expected_el: Option<u8>,
    /// Cargo features every build of the kernel gets (`features`, and the
    /// `--el` choice's: `--el 1` on the Pi 5, `el1`).
    pub build_features: &'static [&'static str],
    /// The CPUs the machine has whatever QEMU is told (`fixed-cpus`;
    /// raspi3b: 4), or 0 where `-smp` chooses.
    pub fixed_cpus: u32,
    /// `-smp` for QEMU (0: not passed, the machine's default or fixed
    /// count). Set from `--smp` or the host's CPU count by [`apply`].
    pub smp: u32,
}

/// The most CPUs `--smp` may ask for (the kernels drive up to 256).
pub const MAX_SMP: u32 = 256;
/// CPUs the boards' default memory (`-m 256M`) is sized for; above it
/// [`scale_machine`] gives QEMU more.
const SMP_IN_DEFAULT_RAM: u32 = 8;
/// Memory per CPU above [`SMP_IN_DEFAULT_RAM`]: a 2 MiB per-CPU region and
/// a share of frames big enough for a parallel scenario's tasks.
const RAM_PER_EXTRA_CPU_MIB: u32 = 8;

/// The machine arguments for `smp` CPUs: more memory above
/// [`SMP_IN_DEFAULT_RAM`] CPUs, and on Arm virt GICv3 (GICv2 stops at 8
/// CPUs). Arguments that need no change are returned as they are.
pub fn scale_machine(args: &'static [&'static str], smp: u32) -> &'static [&'static str] {
    if smp <= SMP_IN_DEFAULT_RAM {
        return args;
    }
    let mut out: Vec<&'static str> = Vec::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        let a = args[i];
        match (a, args.get(i + 1)) {
            ("-m", Some(size)) => {
                let base = size.strip_suffix('M').and_then(|m| m.parse::<u32>().ok()).unwrap_or(256);
                let mib = base + (smp - SMP_IN_DEFAULT_RAM) * RAM_PER_EXTRA_CPU_MIB;
                out.push("-m");
                out.push(Box::leak(format!("{mib}M").into_boxed_str()));
                i += 2;
                continue;
            }
            ("-M", Some(m)) if m.starts_with("virt") && !m.contains("gic-version") => {
                out.push("-M");
                out.push(Box::leak(format!("{m},gic-version=3").into_boxed_str()));
                i += 2;
                continue;
            }
            _ => out.push(a),
        }
        i += 1;
    }
    Box::leak(out.into_boxed_slice())
}
/// The most CPUs the default `-smp` takes from the host.
pub const DEFAULT_SMP_CAP: u32 = 4;

/// The default `-smp`: every CPU of the host (QEMU's TCG runs a vCPU per
/// host thread, and icount runs them in turn), at most
/// [`DEFAULT_SMP_CAP`].
pub fn host_smp() -> u32 {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get() as u32)
        .clamp(1, DEFAULT_SMP_CAP)
}

/// The benchmarks every board runs: `syscall` is a call the kernel answers
/// through a capability (L4Re's syscall benchmark), `null` the null
/// syscall answered at the entry.
pub const STANDARD_BENCHES: &[&str] = &["ipc-intra", "ipc-inter", "syscall", "null"];

/// Every board, read once from the board crates ([`metadata`]).
static BOARDS: OnceLock<std::result::Result<&'static [Board], String>> = OnceLock::new();

/// Every board (sorted by name), or the one-line error of the first bad
/// board crate.
pub fn all() -> Result<&'static [Board]> {
    let boards = BOARDS.get_or_init(|| {
        crate::util::Workspace::locate()
            .and_then(|ws| metadata::load(&ws))
            .map(|b| &*Box::leak(b.into_boxed_slice()))
            .map_err(|e| crate::util::one_line(&format!("{e:#}")))
    });
    boards.as_ref().copied().map_err(|e| anyhow::anyhow!("{e}"))
}

/// A variant of a board picked on the command line: the exception level
/// to start at (`--el`) and the CPU model (`--cpu`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Variant {
    /// `--el 1|2` (Arm boards).
    pub el: Option<u8>,
    /// `--cpu MODEL`.
    pub cpu: Option<String>,
    /// `--smp N`, or (when `None`) the default [`host_smp`] if
    /// `default_smp` is set.
    pub smp: Option<u32>,
    /// Give QEMU the default `-smp` when `--smp` is absent (the commands
    /// set it; a bare `Variant::default()` leaves boards as they are).
    pub default_smp: bool,
}

/// The variant [`find`] applies, set once by `main`.
static VARIANT: OnceLock<Variant> = OnceLock::new();

/// Makes [`find`] return boards adjusted to `v` from now on (first call
/// wins).
/// The names of the boards QEMU emulates, for an error line that sends a
/// user from an image-only board to one that boots here.
pub fn emulated_names() -> String {
    all().map_or_else(|_| String::new(), |bs| bs.iter().filter(|b| b.emulated).map(|b| b.name).collect::<Vec<_>>().join(", "))
}

pub fn set_variant(v: Variant) {
    let _ = VARIANT.set(v);
}

/// `base` adjusted to `v`: the EL2 machine for `--el 2`, the CPU model for
/// `--cpu`. The adjusted board lives for the rest of the program.
pub fn apply(base: &'static Board, v: &Variant) -> Result<&'static Board> {
    if *v == Variant::default() {
        return Ok(base);
    }
    let mut b = base.clone();
    if let Some(el) = v.el {
        if base.el_choices.is_empty() {
            bail!("--el: board {} has no exception levels to choose", base.name);
        }
        let Some(choice) = base.el_choices.iter().find(|c| c.el == el) else {
            let mut els: Vec<String> = base.el_choices.iter().map(|c| format!("EL{}", c.el)).collect();
            els.sort();
            bail!("--el {el}: {} starts at {}", base.name, els.join(" or "));
        };
        if let Some(machine) = choice.machine {
            b.machine_args = machine;
        }
        if !choice.features.is_empty() {
            let features: Vec<&'static str> = base.build_features.iter().chain(choice.features).copied().collect();
            b.build_features = Box::leak(features.into_boxed_slice());
        }
        if choice.runs_at.is_some() {
            b.expected_el = choice.runs_at;
        }
    }
    match (v.smp, base.fixed_cpus) {
        (Some(n), 0) => b.smp = n,
        (None, 0) => b.smp = if v.default_smp { host_smp() } else { 0 },
        (Some(n), fixed) if n != fixed => bail!(
            "--smp {n}: the {} machine has {fixed} cores, fixed by QEMU",
            base.name
        ),
        (_, _) => {}
    }
    b.machine_args = scale_machine(b.machine_args, b.smp);
    if let Some(cpu) = &v.cpu {
        match base.cpus.iter().find(|c| **c == cpu.as_str()) {
            Some(c) => b.tcg_cpu = c,
            None if base.cpus.is_empty() => {
                bail!("--cpu {cpu}: board {} is not emulated, there is no -cpu to pick", base.name)
            }
            None => bail!(
                "--cpu {cpu}: board {} runs on {}",
                base.name,
                base.cpus.join(", ")
            ),
        }
    }
    Ok(Box::leak(Box::new(b)))
}

/// Arguments for the board's exit device (QEMU exit codes 33/35/37).
fn exit_device_args(board: &Board) -> &'static [&'static str] {
    match board.exit {
        Exit::IsaDebug => &["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"],
        Exit::Semihosting => &["-semihosting"],
        Exit::PsciOff | Exit::Park => &[],
    }
}

/// The command-line word by which an Arm kernel knows that QEMU runs with
/// `-semihosting` ([`exit_device_args`]); without it the kernel ends with
/// PSCI `SYSTEM_OFF` (`arch_aarch64::kernel::exit`).
pub const SEMIHOSTING_WORD: &str = "exit=semihosting";

/// The command-line word by which a kernel that ends otherwise (PSCI)
/// knows that QEMU takes its defmt frames on the semihosting console
/// (`defmt = "semihosting"`: uefi-aarch64).
pub const DEFMT_SEMIHOSTING_WORD: &str = "defmt=semihosting";

/// The kernel command line QEMU (or the ESP's `cmdline.txt`) passes:
/// `cmdline`, after [`SEMIHOSTING_WORD`] when [`exit_device_args`] turn
/// semihosting on, or [`DEFMT_SEMIHOSTING_WORD`] when only defmt takes it.
pub fn kernel_cmdline(board: &Board, cmdline: &str) -> String {
    let word = if exit_device_args(board).contains(&"-semihosting") {
        Some(SEMIHOSTING_WORD)
    } else {
        board.defmt_semihosting.then_some(DEFMT_SEMIHOSTING_WORD)
    };
    match (word, cmdline.is_empty()) {
        (None, _) => cmdline.to_string(),
        (Some(w), true) => w.to_string(),
        (Some(w), false) => format!("{w} {cmdline}"),
    }
}

/// Looks a board up by name, adjusted to the command line's [`Variant`].
pub fn find(name: &str) -> Result<&'static Board> {
    let base = find_base(name)?;
    match VARIANT.get() {
        Some(v) => apply(base, v),
        None => Ok(base),
    }
}

/// Looks a board up by name, as its crate describes it.
pub fn find_base(name: &str) -> Result<&'static Board> {
    find_in(all()?, name)
}

/// `name` in `boards`, or an error that lists them.
fn find_in(boards: &'static [Board], name: &str) -> Result<&'static Board> {
    if let Some(b) = boards.iter().find(|b| b.name == name) {
        return Ok(b);
    }
    let names: Vec<&str> = boards.iter().map(|b| b.name).collect();
    bail!(
        "unknown board {name}: no crate in {}/ has that name; boards: {}",
        metadata::BOARDS_DIR,
        names.join(", ")
    );
}

/// The virtualisation mode a guest runs under, or real hardware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    /// No guest: a real machine, its figures read from a serial capture
    /// (`cargo xtask report`); never booted in QEMU.
    Hardware,
    /// Hardware virtualisation.
    Kvm,
    /// QEMU's software emulator, real-time clock.
    Tcg,
    /// QEMU's software emulator with `-icount shift=0,sleep=off`: the cycle
    /// counters advance exactly once per instruction.
    Icount,
}

impl Accel {
    /// Name used in JSON, the table and directory names.
    pub fn name(self) -> &'static str {
        match self {
            Accel::Hardware => "hardware",
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
            Accel::Icount => "tcg-icount",
        }
    }

    /// QEMU arguments selecting this accelerator (none for hardware).
    pub fn qemu_args(self, board: &Board) -> Vec<String> {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        match self {
            Accel::Hardware => Vec::new(),
            Accel::Kvm => v(&["-accel", "kvm", "-cpu", KVM_CPU.get().copied().unwrap_or(board.kvm_cpu)]),
            Accel::Tcg => v(&["-accel", "tcg", "-cpu", board.tcg_cpu]),
            Accel::Icount => v(&[
                "-accel",
                "tcg",
                "-cpu",
                board.tcg_cpu,
                "-icount",
                "shift=0,sleep=off",
            ]),
        }
    }
}

/// The `-cpu` under KVM for the rest of the program, when the board's
/// cannot start (`accel`: `host,-arch-capabilities` on hosts whose KVM
/// refuses IA32_ARCH_CAPABILITIES).
static KVM_CPU: OnceLock<&'static str> = OnceLock::new();

/// Makes every later KVM boot use `-cpu cpu` (first call wins).
pub fn set_kvm_cpu(cpu: &'static str) {
    let _ = KVM_CPU.set(cpu);
}

/// What QEMU boots.
#[derive(Debug, Clone)]
pub enum Medium<'a> {
    /// The kernel ELF through `-kernel`, with a command line.
    Kernel {
        /// The kernel ELF.
        elf: &'a Path,
        /// Kernel command line (`-append`).
        cmdline: &'a str,
    },
    /// A bootable CD image through `-cdrom` (GRUB passes the command line).
    Cdrom {
        /// The ISO.
        iso: &'a Path,
        /// The kernel ELF inside it (for decoding its defmt output).
        elf: &'a Path,
    },
    /// A directory QEMU presents as a FAT disk (`-drive
    /// file=fat:rw:DIR`): an EFI system partition the firmware boots.
    FatDisk {
        /// The directory.
        dir: &'a Path,
        /// The kernel ELF in it (for decoding its defmt output).
        elf: &'a Path,
    },
}

impl Medium<'_> {
    /// The kernel ELF that boots, whose `.defmt` section decodes `defmt.bin`.
    pub fn elf(&self) -> &Path {
        match self {
            Medium::Kernel { elf, .. }
            | Medium::Cdrom { elf, .. }
            | Medium::FatDisk { elf, .. } => elf,
        }
    }
}

thread_local! {
    /// Set inside [`with_console_on_com2`]: [`qemu_args`] swaps the two
    /// serial ports.
    static CONSOLE_ON_COM2: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with QEMU's serial ports swapped in the boots it makes: COM1
/// goes to the file (`defmt.bin`), COM2 to stdio, which xtask reads as
/// the console. For a PC kernel booted with `console=COM2`.
pub fn with_console_on_com2<R>(f: impl FnOnce() -> R) -> R {
    CONSOLE_ON_COM2.with(|c| c.set(true));
    let r = f();
    CONSOLE_ON_COM2.with(|c| c.set(false));
    r
}

/// The complete QEMU argument list (without the program name).
pub fn qemu_args(
    board: &Board,
    accel: Accel,
    medium: &Medium<'_>,
    out_dir: &Path,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = board.machine_args.iter().map(OsString::from).collect();
    for a in ["-display", "none", "-monitor", "none", "-no-reboot"] {
        args.push(a.into());
    }
    if board.defmt_semihosting {
        // The console on the first UART; the kernel's defmt frames on the
        // semihosting console (`:tt`), which this sends to defmt.bin (the
        // Arm boards have no second UART the kernel drives).
        let mut chardev = OsString::from("file,id=ipcb-defmt,path=");
        // QEMU option values double their commas.
        chardev.push(out_dir.join("defmt.bin").to_string_lossy().replace(',', ",,"));
        for a in [OsString::from("-serial"), "stdio".into(), "-chardev".into(), chardev] {
            args.push(a);
        }
        args.push("-semihosting-config".into());
        args.push("enable=on,target=native,chardev=ipcb-defmt".into());
    } else {
        let mut defmt = OsString::from("file:");
        defmt.push(out_dir.join("defmt.bin"));
        let mut serial = [OsString::from("stdio"), defmt];
        if CONSOLE_ON_COM2.with(Cell::get) {
            serial.reverse();
        }
        for s in serial {
            args.push("-serial".into());
            args.push(s);
        }
        args.extend(exit_device_args(board).iter().map(OsString::from));
    }
    match medium {
        // `boot` writes the ESP (the UEFI application and cmdline.txt) there.
        Medium::Kernel { .. } if board.efi.is_some() => {
            args.extend(crate::uefi_arm::qemu_medium_args(&out_dir.join(crate::uefi_arm::ESP_DIR)));
        }
        Medium::Kernel { elf, cmdline } => {
            args.push("-kernel".into());
            match board.raw_image {
                // `boot` writes the raw image there first.
                Some(raw) => args.push(out_dir.join(raw.file).into_os_string()),
                None => args.push(elf.as_os_str().to_owned()),
            }
            let cmdline = kernel_cmdline(board, cmdline);
            if !cmdline.is_empty() {
                args.push("-append".into());
                args.push(OsString::from(cmdline));
            }
        }
        Medium::Cdrom { iso, .. } => {
            args.push("-cdrom".into());
            args.push(iso.as_os_str().to_owned());
        }
        Medium::FatDisk { dir, .. } => {
            let mut drive = OsString::from("file=fat:rw:");
            drive.push(dir);
            drive.push(",format=raw");
            args.push("-drive".into());
            args.push(drive);
        }
    }
    args.extend(accel.qemu_args(board).into_iter().map(OsString::from));
    if board.smp > 0 {
        args.push("-smp".into());
        args.push(board.smp.to_string().into());
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: Vec<OsString>) -> Vec<String> {
        v.into_iter().map(|s| s.into_string().unwrap()).collect()
    }

    #[test]
    fn console_on_com2_swaps_the_serial_ports() {
        let b = find_base("pc-x86_64").unwrap();
        let medium = Medium::Kernel { elf: Path::new("/t/k"), cmdline: "console=COM2 defmt=none" };
        let args = || strings(qemu_args(b, Accel::Icount, &medium, Path::new("/o"))).join(" ");
        assert!(args().contains("-serial stdio -serial file:/o/defmt.bin"));
        let swapped = with_console_on_com2(args);
        assert!(swapped.contains("-serial file:/o/defmt.bin -serial stdio"), "{swapped}");
        assert!(args().contains("-serial stdio -serial file:/o/defmt.bin"));
    }

    #[test]
    fn many_cpus_get_memory_and_gicv3() {
        let virt: &'static [&'static str] = &["-M", "virt,virtualization=on", "-m", "256M"];
        assert_eq!(scale_machine(virt, 8), virt);
        assert_eq!(
            scale_machine(virt, 80),
            ["-M", "virt,virtualization=on,gic-version=3", "-m", "832M"]
        );
        assert_eq!(scale_machine(&["-M", "q35", "-m", "256M"], 96), ["-M", "q35", "-m", "960M"]);
    }

    #[test]
    fn finds_boards_and_explains_missing_ones() {
        assert_eq!(find("pc-x86_64").unwrap().target, "x86_64-unknown-none");
        assert_eq!(
            find_base("qemu-virt-aarch64").unwrap().target,
            "aarch64-unknown-none"
        );
        assert_eq!(find("raspi3b").unwrap().raw_image.unwrap().file, "kernel8.img");
        assert!(!find("rpi5").unwrap().emulated);
        assert_eq!(
            find("vax").unwrap_err().to_string(),
            "unknown board vax: no crate in examples/ has that name; boards: pc-x86_64, qemu-virt-aarch64, raspi3b, rpi5, s32g2, uefi-aarch64, zcu102"
        );
    }

    /// The board crates' metadata says what the static table of xtask
    /// 0.1 said, field by field.
    #[test]
    fn the_board_crates_describe_the_boards_as_before() {
        let row = |name: &str| {
            let b = find_base(name).unwrap();
            let els: Vec<String> = b
                .el_choices
                .iter()
                .map(|c| format!("{}:{:?}:{:?}:{:?}", c.el, c.machine.map(|m| m.join(" ")), c.features, c.runs_at))
                .collect();
            let els = els.join("; ");
            format!(
                "{} {} {} {} {:?} {} {:?} [{}] [{els}] {} {} {} {} {} {} {:?} {:?} {:?} {:?} {:?} {:?} {} {:?} {:?} {}",
                b.name,
                b.arch,
                b.target,
                b.kernel_package,
                b.user_programs.iter().map(|u| (u.package, u.bin, u.env)).collect::<Vec<_>>(),
                b.qemu,
                b.qemu_packages,
                b.machine_args.join(" "),
                b.cpus.join(","),
                b.tcg_cpu,
                b.kvm_cpu,
                b.kvm_host_arch,
                b.grub,
                b.linux_image,
                b.raw_image.map(|r| (r.file, r.load, r.pad_bss, r.max_footprint)),
                b.efi.map(|e| (e.loader_target, e.boot_file)),
                b.config_txt.map(|c| c.device_tree_address),
                b.u_boot.map(|u| (u.load_address, u.fdt_address)),
                b.exit,
                b.hardware_doc,
                b.emulated,
                b.expected_el,
                b.build_features,
                b.fixed_cpus,
            )
        };
        let user = r#"[("benches", "bench-user", "IPCB_USER_ELF")]"#;
        let rows = [
            format!(r#"pc-x86_64 x86_64 x86_64-unknown-none pc-x86_64 {user} qemu-system-x86_64 ["qemu-system-x86", "qemu-system-arm"] [-M q35 -m 256M] [] max max host x86_64 true false None None None None IsaDebug None true None [] 0"#),
            format!(r#"qemu-virt-aarch64 aarch64 aarch64-unknown-none qemu-virt-aarch64 {user} qemu-system-aarch64 ["qemu-system-arm"] [-M virt -m 256M] [1:None:[]:None; 2:Some("-M virt,virtualization=on -m 256M"):[]:None] max,cortex-a53,cortex-a57,cortex-a72,cortex-a76,neoverse-n1 max host aarch64 false true None None None None Semihosting None true None [] 0"#),
            format!(r#"raspi3b aarch64 aarch64-unknown-none raspi3b {user} qemu-system-aarch64 ["qemu-system-arm"] [-M raspi3b] [] cortex-a53 cortex-a53 host none false true Some(("kernel8.img", 524288, false, 67108864)) None None None Semihosting None true Some(1) [] 4"#),
            format!(r#"rpi5 aarch64 aarch64-unknown-none rpi5 {user}  [] [] [2:None:[]:None; 1:None:["el1"]:Some(1)]   host none false true Some(("kernel_2712.img", 524288, true, 66584576)) None Some(67108864) None Park Some("docs/raspberry-pi.md") false Some(2) [] 4"#),
            format!(r#"s32g2 aarch64 aarch64-unknown-none s32g2 {user}  [] [] []   host none false true None None None Some((2147483648, 2197815296)) PsciOff Some("docs/s32g2.md") false Some(1) [] 4"#),
            format!(r#"uefi-aarch64 aarch64 aarch64-unknown-none uefi-aarch64 {user} qemu-system-aarch64 ["qemu-system-arm"] [-M virt,gic-version=3 -m 1024M] [1:None:[]:None; 2:Some("-M virt,gic-version=3,virtualization=on -m 1024M"):[]:None] neoverse-n1,max,cortex-a57,cortex-a72,cortex-a76 neoverse-n1 host aarch64 false false None Some(("aarch64-unknown-uefi", "EFI/BOOT/BOOTAA64.EFI")) None None PsciOff None true None [] 0"#),
            format!(r#"zcu102 aarch64 aarch64-unknown-none zcu102 {user} qemu-system-aarch64 ["qemu-system-arm"] [-M xlnx-zcu102 -m 256M] [1:None:[]:None; 2:Some("-M xlnx-zcu102,virtualization=on -m 256M"):[]:Some(1)] cortex-a53 cortex-a53 host none false true Some(("Image", 524288, false, 67108864)) None None None Semihosting None true Some(1) [] 0"#),
        ];
        let names: Vec<&str> = all().unwrap().iter().map(|b| b.name).collect();
        assert_eq!(names, ["pc-x86_64", "qemu-virt-aarch64", "raspi3b", "rpi5", "s32g2", "uefi-aarch64", "zcu102"]);
        for (name, want) in names.iter().zip(rows) {
            assert_eq!(row(name), want);
        }
    }

    #[test]
    fn an_unknown_board_lists_the_boards() {
        let boards: &'static [Board] = Box::leak(vec![find_base("rpi5").unwrap().clone(), find_base("s32g2").unwrap().clone()].into_boxed_slice());
        assert_eq!(
            find_in(boards, "rpi4").unwrap_err().to_string(),
            "unknown board rpi4: no crate in examples/ has that name; boards: rpi5, s32g2"
        );
        assert_eq!(find_in(boards, "s32g2").unwrap().name, "s32g2");
    }

    #[test]
    fn raspi3b_boots_its_raw_image_from_the_run_directory() {
        let b = find_base("raspi3b").unwrap();
        let medium = Medium::Kernel {
            elf: Path::new("/t/raspi3b"),
            cmdline: "rounds=2000",
        };
        let args = strings(qemu_args(b, Accel::Icount, &medium, Path::new("/o"))).join(" ");
        assert_eq!(
            args,
            "-M raspi3b -display none -monitor none -no-reboot -serial stdio \
             -chardev file,id=ipcb-defmt,path=/o/defmt.bin -semihosting-config enable=on,target=native,chardev=ipcb-defmt -kernel /o/kernel8.img -append exit=semihosting rounds=2000 \
             -accel tcg -cpu cortex-a53 -icount shift=0,sleep=off"
        );
        assert_eq!(medium.elf(), Path::new("/t/raspi3b"), "defmt decodes with the ELF");
        assert_eq!(b.expected_el, Some(1));
        let v = |el| Variant { el: Some(el), ..Variant::default() };
        assert!(apply(b, &v(2)).unwrap_err().to_string().contains("no exception levels"));
        let cpu = Variant { cpu: Some("cortex-a72".into()), ..Variant::default() };
        assert!(apply(b, &cpu).unwrap_err().to_string().contains("runs on cortex-a53"));
    }

    #[test]
    fn rpi5_el_picks_a_build_feature() {
        let b = find_base("rpi5").unwrap();
        let v = |el| Variant { el: Some(el), ..Variant::default() };
        let el1 = apply(b, &v(1)).unwrap();
        assert_eq!(el1.build_features, &["el1"]);
        assert_eq!(el1.expected_el, Some(1));
        let el2 = apply(b, &v(2)).unwrap();
        assert!(el2.build_features.is_empty());
        assert_eq!(el2.expected_el, Some(2));
        assert_eq!(b.raw_image.unwrap().file, "kernel_2712.img");
        assert!(b.raw_image.unwrap().pad_bss);
    }

    #[test]
    fn virt_command_lines_for_el_and_cpu() {
        let base = find_base("qemu-virt-aarch64").unwrap();
        let elf = Path::new("/t/k");
        let medium = Medium::Kernel {
            elf,
            cmdline: "rounds=2000",
        };
        let args =
            |b: &Board| strings(qemu_args(b, Accel::Icount, &medium, Path::new("/o"))).join(" ");
        assert_eq!(
            args(base),
            "-M virt -m 256M -display none -monitor none -no-reboot -serial stdio \
             -chardev file,id=ipcb-defmt,path=/o/defmt.bin -semihosting-config enable=on,target=native,chardev=ipcb-defmt -kernel /t/k -append exit=semihosting rounds=2000 \
             -accel tcg -cpu max -icount shift=0,sleep=off"
        );
        let el2 = apply(
            base,
            &Variant {
                el: Some(2),
                cpu: Some("neoverse-n1".into()),
                ..Variant::default()
            },
        )
        .unwrap();
        assert!(args(el2).starts_with("-M virt,virtualization=on -m 256M "));
        assert!(args(el2).ends_with("-accel tcg -cpu neoverse-n1 -icount shift=0,sleep=off"));
        assert_eq!(el2.name, "qemu-virt-aarch64");
        let same = apply(
            base,
            &Variant {
                el: Some(1),
                ..Variant::default()
            },
        )
        .unwrap();
        assert_eq!(same.machine_args, base.machine_args);
        assert!(std::ptr::eq(
            apply(base, &Variant::default()).unwrap(),
            base
        ));
        let bad = |el, cpu: Option<&str>, b| {
            apply(
                find_base(b).unwrap(),
                &Variant {
                    el,
                    cpu: cpu.map(String::from),
                    ..Variant::default()
                },
            )
            .unwrap_err()
            .to_string()
        };
        assert!(bad(Some(3), None, "qemu-virt-aarch64").contains("EL1 or EL2"));
        // -smp: chosen where the machine lets it choose, checked where not.
        let smp = |board, smp, default_smp| {
            apply(find_base(board).unwrap(), &Variant { smp, default_smp, ..Variant::default() })
        };
        let four = smp("qemu-virt-aarch64", Some(4), true).unwrap();
        assert!(args(four).ends_with("-icount shift=0,sleep=off -smp 4"));
        assert_eq!(smp("pc-x86_64", None, true).unwrap().smp, host_smp());
        assert_eq!(smp("pc-x86_64", None, false).unwrap().smp, 0);
        assert_eq!(smp("raspi3b", None, true).unwrap().smp, 0);
        assert_eq!(smp("raspi3b", Some(4), true).unwrap().smp, 0);
        assert!(smp("raspi3b", Some(2), true).unwrap_err().to_string().contains("4 cores, fixed"));
        assert!(bad(Some(2), None, "pc-x86_64").contains("no exception levels"));
        assert!(bad(None, Some("pentium"), "qemu-virt-aarch64").contains("cortex-a53"));
    }

    #[test]
    fn pc_icount_command_line() {
        let b = find("pc-x86_64").unwrap();
        let elf = Path::new("/t/pc-x86_64");
        let args = qemu_args(
            b,
            Accel::Icount,
            &Medium::Kernel {
                elf,
                cmdline: "rounds=2000 runs=3",
            },
            Path::new("/o"),
        );
        assert_eq!(
            strings(args).join(" "),
            "-M q35 -m 256M -display none -monitor none -no-reboot -serial stdio \
             -serial file:/o/defmt.bin -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
             -kernel /t/pc-x86_64 -append rounds=2000 runs=3 \
             -accel tcg -cpu max -icount shift=0,sleep=off"
        );
    }

    #[test]
    fn accel_args_and_cdrom() {
        let b = find("pc-x86_64").unwrap();
        let args = strings(qemu_args(
            b,
            Accel::Kvm,
            &Medium::Cdrom {
                iso: Path::new("x.iso"),
                elf: Path::new("k.elf"),
            },
            Path::new("o"),
        ));
        let tail = args[args.len() - 6..].join(" ");
        assert_eq!(tail, "-cdrom x.iso -accel kvm -cpu host");
        assert!(
            !args
                .iter()
                .any(|a| a == "-kernel" || a == "-append" || a == "k.elf")
        );
        assert_eq!(Accel::Tcg.qemu_args(b).join(" "), "-accel tcg -cpu max");
        assert_eq!(Accel::Icount.name(), "tcg-icount");
        let no_cmdline = strings(qemu_args(
            b,
            Accel::Tcg,
            &Medium::Kernel {
                elf: Path::new("k"),
                cmdline: "",
            },
            Path::new("o"),
        ));
        assert!(!no_cmdline.iter().any(|a| a == "-append"));
    }
}
