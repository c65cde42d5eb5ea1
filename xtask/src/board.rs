// SPDX-License-Identifier: MIT OR Apache-2.0
//! The board table: what to build for each example kernel and how to boot it.
//!
//! Adding a board means adding one [`Board`] entry here (and its kernel crate
//! under `examples/`). Boards that are planned but not yet written are listed
//! in [`PLANNED`] so the user gets a clear "not implemented yet" message
//! instead of "unknown board".

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

/// One example kernel and its QEMU machine.
#[derive(Debug, Clone)]
pub struct Board {
    /// Board name (`--board`), also the name the kernel prints in `IPCB hello`.
    pub name: &'static str,
    /// Architecture, as the kernel prints it.
    pub arch: &'static str,
    /// Rust target triple of the kernel and its user programs.
    pub target: &'static str,
    /// Cargo package of the kernel (its binary has the same name).
    pub kernel_package: &'static str,
    /// User programs to build first, in order.
    pub user_programs: &'static [UserProgram],
    /// QEMU system emulator.
    pub qemu: &'static str,
    /// Debian packages that provide the emulators.
    pub qemu_packages: &'static [&'static str],
    /// Machine, memory and exit-device arguments.
    pub machine_args: &'static [&'static str],
    /// Arm: the machine arguments that start the kernel at EL2 (`--el 2`);
    /// `None` where the board has no such mode.
    pub el2_machine_args: Option<&'static [&'static str]>,
    /// The `-cpu` models `--cpu` may pick under TCG (the first is
    /// [`Board::tcg_cpu`]).
    pub cpus: &'static [&'static str],
    /// `-cpu` under TCG.
    pub tcg_cpu: &'static str,
    /// `-cpu` under KVM.
    pub kvm_cpu: &'static str,
    /// Host architecture on which KVM can run this board.
    pub kvm_host_arch: &'static str,
    /// True when the kernel ELF also boots from GRUB2 (multiboot2).
    pub grub: bool,
    /// Cargo feature of the kernel that honours `inject=` (test builds only).
    pub inject_feature: &'static str,
    /// Benchmarks every full run must report.
    pub expected_benches: &'static [&'static str],
    /// The loader takes a raw image instead of the ELF: QEMU `-kernel`
    /// gets that (written into the run's directory), and `cargo xtask
    /// image` makes it.
    pub raw_image: Option<RawImage>,
    /// False for hardware QEMU does not emulate: image only.
    pub emulated: bool,
    /// The exception level the kernel runs at when started as the table
    /// says, when the board fixes it (raspi3b: entered at EL2, no VHE, so
    /// EL1); what `cargo xtask test` expects.
    pub expected_el: Option<u8>,
    /// Cargo features every build of the kernel gets (`--el 1` on the
    /// Pi 5: `el1`).
    pub build_features: &'static [&'static str],
    /// The CPUs the machine has whatever QEMU is told (raspi3b: 4), or 0
    /// where `-smp` chooses.
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

/// The user program every board embeds.
const BENCH_USER: &[UserProgram] = &[UserProgram {
    package: "benches",
    bin: "bench-user",
    env: "IPCB_USER_ELF",
}];

/// Boards that exist.
pub static BOARDS: &[Board] = &[
    Board {
        name: "pc-x86_64",
        arch: "x86_64",
        target: "x86_64-unknown-none",
        kernel_package: "pc-x86_64",
        user_programs: BENCH_USER,
        qemu: "qemu-system-x86_64",
        qemu_packages: &["qemu-system-x86", "qemu-system-arm"],
        machine_args: &["-M", "q35", "-m", "256M"],
        el2_machine_args: None,
        cpus: &["max"],
        tcg_cpu: "max",
        kvm_cpu: "host",
        kvm_host_arch: "x86_64",
        grub: true,
        inject_feature: "inject",
        expected_benches: STANDARD_BENCHES,
        raw_image: None,
        emulated: true,
        expected_el: None,
        build_features: &[],
        fixed_cpus: 0,
        smp: 0,
    },
    Board {
        name: "qemu-virt-aarch64",
        arch: "aarch64",
        target: "aarch64-unknown-none",
        kernel_package: "qemu-virt-aarch64",
        user_programs: BENCH_USER,
        qemu: "qemu-system-aarch64",
        qemu_packages: &["qemu-system-arm"],
        machine_args: &["-M", "virt", "-m", "256M"],
        // QEMU then emulates EL3 firmware and enters the kernel at EL2; the
        // kernel keeps EL2 with VHE, or drops to EL1 on a CPU without it
        // (cortex-a53, cortex-a57): its `IPCB hello` says which.
        el2_machine_args: Some(&["-M", "virt,virtualization=on", "-m", "256M"]),
        cpus: &[
            "max",
            "cortex-a53",
            "cortex-a57",
            "cortex-a72",
            "cortex-a76",
            "neoverse-n1",
        ],
        tcg_cpu: "max",
        kvm_cpu: "host",
        kvm_host_arch: "aarch64",
        grub: false,
        inject_feature: "inject",
        expected_benches: STANDARD_BENCHES,
        raw_image: None,
        emulated: true,
        // --el 2 keeps EL2 only where the CPU has VHE: not fixed.
        expected_el: None,
        build_features: &[],
        fixed_cpus: 0,
        smp: 0,
    },
    Board {
        name: "raspi3b",
        arch: "aarch64",
        target: "aarch64-unknown-none",
        kernel_package: "raspi3b",
        user_programs: BENCH_USER,
        qemu: "qemu-system-aarch64",
        qemu_packages: &["qemu-system-arm"],
        // The machine fixes CPU (4 x Cortex-A53) and RAM (1 GiB). A raw
        // image goes in at 0x80000 and is entered at EL2, the way the Pi's
        // firmware starts kernel8.img; the A53 has no VHE, so the kernel
        // drops to EL1.
        machine_args: &["-M", "raspi3b"],
        el2_machine_args: None,
        cpus: &["cortex-a53"],
        tcg_cpu: "cortex-a53",
        kvm_cpu: "host",
        // QEMU runs raspi3b under TCG only.
        kvm_host_arch: "none",
        grub: false,
        inject_feature: "inject",
        expected_benches: STANDARD_BENCHES,
        raw_image: Some(RawImage {
            file: "kernel8.img",
            load: 0x8_0000,
            pad_bss: false,
            // The kernel's frames come from the RAM between its end and
            // the VideoCore's 64 MiB at 0x3C00_0000; keep most of it free.
            max_footprint: 64 << 20,
            max_footprint_why: "raspi3b: at most 64 MiB of the 960 MiB of ARM RAM, the rest is for frames",
        }),
        emulated: true,
        expected_el: Some(1),
        build_features: &[],
        fixed_cpus: 4,
        smp: 0,
    },
    Board {
        name: "rpi5",
        arch: "aarch64",
        target: "aarch64-unknown-none",
        kernel_package: "rpi5",
        user_programs: BENCH_USER,
        // Not emulated (QEMU 7.2 has no BCM2712): image only.
        qemu: "qemu-system-aarch64",
        qemu_packages: &["qemu-system-arm"],
        machine_args: &[],
        el2_machine_args: None,
        cpus: &["cortex-a76"],
        tcg_cpu: "cortex-a76",
        kvm_cpu: "host",
        kvm_host_arch: "none",
        grub: false,
        inject_feature: "inject",
        expected_benches: STANDARD_BENCHES,
        raw_image: Some(RawImage {
            file: "kernel_2712.img",
            load: 0x8_0000,
            pad_bss: true,
            max_footprint: RPI5_DTB_ADDRESS - 0x8_0000,
            max_footprint_why: "rpi5: config.txt puts the device tree at 0x4000000 (device_tree_address), right above the kernel",
        }),
        emulated: false,
        // The firmware enters at EL2 and the A76 has VHE.
        expected_el: Some(2),
        build_features: &[],
        fixed_cpus: 4,
        smp: 0,
    },
    Board {
        name: "s32g2",
        arch: "aarch64",
        target: "aarch64-unknown-none",
        kernel_package: "s32g2",
        user_programs: BENCH_USER,
        // Not emulated (QEMU 7.2 has no S32G2): image only. U-Boot's
        // booti loads the Linux arm64 Image (no raw image of its own).
        qemu: "qemu-system-aarch64",
        qemu_packages: &["qemu-system-arm"],
        machine_args: &[],
        el2_machine_args: None,
        cpus: &["cortex-a53"],
        tcg_cpu: "cortex-a53",
        kvm_cpu: "host",
        kvm_host_arch: "none",
        grub: false,
        inject_feature: "inject",
        expected_benches: STANDARD_BENCHES,
        raw_image: None,
        emulated: false,
        // booti enters at EL2; the A53 has no VHE, so the kernel drops to EL1.
        expected_el: Some(1),
        build_features: &[],
        fixed_cpus: 4,
        smp: 0,
    },
    Board {
        name: "uefi-aarch64",
        arch: "aarch64",
        // The kernel's target; the UEFI application that carries it is
        // built for aarch64-unknown-uefi (`uefi_arm`).
        target: "aarch64-unknown-none",
        kernel_package: "uefi-aarch64",
        user_programs: BENCH_USER,
        qemu: "qemu-system-aarch64",
        qemu_packages: &["qemu-system-arm"],
        // AAVMF (`-bios`) boots BOOTAA64.EFI from the run's ESP directory
        // (`uefi_arm`); GICv3, as on SBBR servers; ACPI on (the default),
        // so the firmware gives no device tree. The kernel ends with PSCI
        // SYSTEM_OFF: no exit device.
        machine_args: &["-M", "virt,gic-version=3", "-m", "1024M"],
        // AAVMF then runs at EL2, PSCI through QEMU's emulated EL3 (smc).
        el2_machine_args: Some(&["-M", "virt,gic-version=3,virtualization=on", "-m", "1024M"]),
        cpus: &["neoverse-n1", "max", "cortex-a57", "cortex-a72", "cortex-a76"],
        tcg_cpu: "neoverse-n1",
        kvm_cpu: "host",
        kvm_host_arch: "aarch64",
        grub: false,
        inject_feature: "inject",
        expected_benches: STANDARD_BENCHES,
        raw_image: None,
        emulated: true,
        expected_el: None,
        build_features: &[],
        fixed_cpus: 0,
        smp: 0,
    },
];

/// Where the Pi 5's `config.txt` has the firmware put the device tree
/// (`device_tree_address`): 64 MiB, above the kernel's footprint (checked)
/// and low in the first GiB, which the kernel maps.
pub const RPI5_DTB_ADDRESS: u64 = 0x400_0000;

/// Where NXP's U-Boot on the S32G2 loads `Image` (`loadaddr`,
/// CONFIG_SYS_LOAD_ADDR: the start of DRAM), and where the s32g2 kernel is
/// linked.
pub const S32G2_LOAD_ADDR: u64 = 0x8000_0000;
/// Where NXP's U-Boot puts the device tree (`fdt_addr`; 0x8300_0000 in the
/// recent BSPs, 0x83E0_0000 in older ones): the kernel's footprint from
/// [`S32G2_LOAD_ADDR`] must end below the lower.
pub const S32G2_FDT_ADDR: u64 = 0x8300_0000;

/// The document that says how to run a board QEMU does not emulate.
pub fn hardware_doc(name: &str) -> &'static str {
    match name {
        "s32g2" => "docs/s32g2.md",
        _ => "docs/raspberry-pi.md",
    }
}

/// Boards that are planned but not written yet.
pub const PLANNED: &[&str] = &[];

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
    match (v.el, base.el2_machine_args) {
        (None, _) => {}
        (Some(1), Some(_)) => {}
        (Some(2), Some(args)) => b.machine_args = args,
        (Some(el), Some(_)) => bail!("--el {el}: {} starts at EL1 or EL2", base.name),
        // The Pi 5's firmware always enters at EL2: the kernel keeps it or,
        // built with `el1`, drops to EL1.
        (Some(2), None) if base.name == "rpi5" => {}
        (Some(1), None) if base.name == "rpi5" => {
            b.build_features = &["el1"];
            b.expected_el = Some(1);
        }
        (Some(_), None) => bail!(
            "--el: board {} has no exception levels to choose",
            base.name
        ),
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
    match board.arch {
        _ if crate::uefi_arm::powers_off(board) => &[],
        "x86_64" => &["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"],
        _ => &["-semihosting"],
    }
}

/// The command-line word by which an Arm kernel knows that QEMU runs with
/// `-semihosting` ([`exit_device_args`]); without it the kernel ends with
/// PSCI `SYSTEM_OFF` (`examples/aarch64-shared/glue.rs`).
pub const SEMIHOSTING_WORD: &str = "exit=semihosting";

/// The kernel command line QEMU passes: `cmdline`, after
/// [`SEMIHOSTING_WORD`] when [`exit_device_args`] turn semihosting on.
fn kernel_cmdline(board: &Board, cmdline: &str) -> String {
    match (exit_device_args(board).contains(&"-semihosting"), cmdline.is_empty()) {
        (false, _) => cmdline.to_string(),
        (true, true) => SEMIHOSTING_WORD.to_string(),
        (true, false) => format!("{SEMIHOSTING_WORD} {cmdline}"),
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

/// Looks a board up by name, as the table has it.
pub fn find_base(name: &str) -> Result<&'static Board> {
    if let Some(b) = BOARDS.iter().find(|b| b.name == name) {
        return Ok(b);
    }
    let names: Vec<&str> = BOARDS.iter().map(|b| b.name).collect();
    if PLANNED.contains(&name) {
        bail!(
            "board {name} is not implemented yet; boards: {}",
            names.join(", ")
        );
    }
    bail!("unknown board {name}; boards: {}", names.join(", "));
}

/// The virtualisation mode a guest runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
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
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
            Accel::Icount => "tcg-icount",
        }
    }

    /// QEMU arguments selecting this accelerator.
    pub fn qemu_args(self, board: &Board) -> Vec<String> {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        match self {
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
    match medium {
        // `boot` writes the ESP (the UEFI application and cmdline.txt) there.
        Medium::Kernel { .. } if crate::uefi_arm::is_uefi(board) => {
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
            "unknown board vax; boards: pc-x86_64, qemu-virt-aarch64, raspi3b, rpi5, s32g2, uefi-aarch64"
        );
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
             -serial file:/o/defmt.bin -semihosting -kernel /o/kernel8.img -append exit=semihosting rounds=2000 \
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
             -serial file:/o/defmt.bin -semihosting -kernel /t/k -append exit=semihosting rounds=2000 \
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
