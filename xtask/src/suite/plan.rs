// SPDX-License-Identifier: MIT OR Apache-2.0
//! What the suite's steps boot and ask for: command lines, counts, CPUs,
//! boards, and the bad input each command must refuse.

/// Command line of the icount boots (steps 4 and 5).
pub const ICOUNT_CMDLINE: &str = "rounds=2000 runs=3 warmup=1";
/// Fault injections of step 6.
pub const INJECTIONS: &[&str] = &["mr", "badge", "label"];
/// Command line of the fault-injection boots (plus `inject=...`).
/// Four-word messages, so that `inject=mr` has a message register to
/// corrupt (the default message is empty, as in L4Re's ipcbench).
pub const INJECT_CMDLINE: &str = "rounds=500 runs=1 words=4";
/// Command line of the W^X boots: the kernel's self-test first (a write
/// to its own text must fault, `IPCB ok test=kernel-wx`), then short runs.
pub const WX_CMDLINE: &str = "selftest=wx rounds=200 runs=1 sweep=0";
/// Syscalls per board of the fuzzing step.
pub const FUZZ_COUNT: u64 = 100_000;
/// Its seed (a replay is `cargo xtask fuzz --board B --count 100000 --seed 0x13`).
pub const FUZZ_SEED: &str = "0x13";
/// The boards (and `--el`) the fuzzing step runs on.
pub const FUZZ_BOARDS: &[&[&str]] = &[
    &["--board", "pc-x86_64"],
    &["--board", "qemu-virt-aarch64", "--el", "1"],
    &["--board", "qemu-virt-aarch64", "--el", "2"],
    &["--board", "raspi3b"],
    &["--board", "uefi-aarch64"],
    &["--board", "zcu102"],
];
/// Bad `cargo xtask fuzz` input: each one `error:` line, no boot.
pub const FUZZ_BAD: &[&[&str]] = &[
    &["fuzz", "--count", "0"],
    &["fuzz", "--count", "lots"],
    &["fuzz", "--seed", "0xnot-hex"],
    &["fuzz", "--board", "no-such-board"],
    &["fuzz", "--board", "rpi5"],
];
/// What xtask says of the fuzz boot's hang episode (its faulter, task 4,
/// spins for ever; the watchdog kills it with a budget of 2 * 10^7 ticks).
pub const FUZZ_HANG_KILL: &str = "watchdog: core 0 killed task 4: ran past its budget of 20000000 ticks";
/// The correctness test the W^X boots must report.
pub const WX_TEST: &str = "kernel-wx";
/// Command line of the watchdog boots: the `watchdog` scenario first (a
/// thread that spins for ever outside the timed runs) with a budget of
/// 2 * 10^7 ticks (20 ms of QEMU's virtual time), then short runs.
pub const WATCHDOG_CMDLINE: &str = "selftest=watchdog watchdog=20000000 rounds=200 runs=1 sweep=0";
/// CPUs of the watchdog's GICv3 boot of virt (xtask gives virt a GICv3
/// above 8).
pub const WATCHDOG_GICV3_SMP: u32 = 9;
/// One boot of the watchdog step.
pub struct WatchdogBoot {
    /// The board crate.
    pub board: &'static str,
    /// `--el`, `--smp`.
    pub el: Option<u8>,
    pub smp: Option<u32>,
    /// QEMU's machine arguments instead of the board's.
    pub machine: Option<&'static [&'static str]>,
    /// The run's label (its output directory).
    pub label: &'static str,
    /// What it tries, for the failure message.
    pub what: &'static str,
}

/// The watchdog step's boots: every board QEMU runs, every interrupt
/// controller the watchdog drives, several CPUs each (a kill per core).
pub const WATCHDOG_BOOTS: &[WatchdogBoot] = &[
    WatchdogBoot { board: "pc-x86_64", el: None, smp: Some(2), machine: None, label: "watchdog", what: "local APIC timer, 2 CPUs" },
    WatchdogBoot { board: ARM_BOARD, el: Some(1), smp: Some(2), machine: None, label: "watchdog-el1", what: "EL1, GICv2 from the device tree, 2 CPUs" },
    WatchdogBoot { board: ARM_BOARD, el: Some(2), smp: Some(2), machine: None, label: "watchdog-el2", what: "EL2, GICv2 from the device tree, 2 CPUs" },
    WatchdogBoot { board: ARM_BOARD, el: Some(1), smp: Some(WATCHDOG_GICV3_SMP), machine: None, label: "watchdog-el1-smp9", what: "EL1, GICv3 from the device tree, 9 CPUs" },
    WatchdogBoot { board: "uefi-aarch64", el: Some(1), smp: Some(2), machine: None, label: "watchdog-uefi-el1", what: "EL1, GICv3 from the ACPI MADT and GTDT, 2 CPUs" },
    WatchdogBoot { board: "uefi-aarch64", el: Some(2), smp: Some(2), machine: None, label: "watchdog-uefi-el2", what: "EL2, GICv3 from the ACPI MADT and GTDT, 2 CPUs" },
    WatchdogBoot { board: "uefi-aarch64", el: Some(1), smp: Some(2), machine: Some(&["-M", "virt,gic-version=2", "-m", "1024M"]), label: "watchdog-uefi-gicv2", what: "EL1, GICv2 from the ACPI MADT and GTDT, 2 CPUs" },
    WatchdogBoot { board: "raspi3b", el: None, smp: None, machine: None, label: "watchdog-raspi3b", what: "BCM2836 local interrupt controller, 4 CPUs" },
    WatchdogBoot { board: "zcu102", el: None, smp: Some(2), machine: None, label: "watchdog-zcu102", what: "GIC-400 at its known address, 2 CPUs" },
];

/// The reason the watchdog line of those boots must give.
pub const WATCHDOG_REASON: &str = "ran past its budget of 20000000 ticks";
/// Command line of the `--latency` step: every round of the single-core
/// benchmarks timed with the TSC, short runs, no sweep.
pub const LATENCY_CMDLINE: &str = "rounds=400 runs=2 warmup=1 sweep=0 latency=tsc";
/// One-way IPCs of the suite's soak, per board (on 4 cores).
pub const SOAK_IPCS: u64 = 1_000_000;
/// Bad `cargo xtask soak` input: one `error:` line each, nothing booted.
/// Command line of the kernel isolation boot: the isolation check, W^X,
/// the watchdog's spinner (an interrupt from user mode under the user
/// tables), seeded fuzzing (hostile syscalls through the isolated entry),
/// the fault tests and every benchmark, with `kpti=on`.
pub const KPTI_CMDLINE: &str = "kpti=on selftest=wx,watchdog watchdog=20000000 fuzz=20000 seed=0x13 rounds=200 runs=1 sweep=0";
/// Syscalls the kernel isolation boot fuzzes.
pub const KPTI_FUZZ: u64 = 20_000;
/// `--kpti` where the arch has no isolation mode: one error line.
pub const KPTI_BAD: &[&[&str]] = &[&["bench", "--kpti", "--board", "qemu-virt-aarch64"]];

pub const SOAK_BAD: &[&[&str]] = &[
    &["soak", "--ipcs", "0"],
    &["soak", "--ipcs", "many"],
    &["soak", "--board", "rpi5"],
];

/// The same on the Arm board, timed with PMCCNTR_EL0.
pub const ARM_LATENCY_CMDLINE: &str = "rounds=400 runs=2 warmup=1 sweep=0 latency=pmccntr";
/// How far (in instructions) the p50 of a round may lie above the
/// throughput figure of a round under icount: the time stamp's read and
/// store and the buffer pointer are in the round, one read is subtracted
/// (x86: IPC +5, syscall and null +1; docs/methodology.md "Latency").
pub const LATENCY_SLACK: f64 = 6.0;
/// Bad `--latency` input: each must end in one `error:` line, before any
/// boot.
pub const LATENCY_BAD: &[&[&str]] = &[
    &["bench", "--latency", "--accel", "tcg"],
    &["bench", "--latency", "--accel", "icount", "--counter", "instructions"],
    &["bench", "--latency", "--counter", "pmccntr"],
    &["bench", "--latency", "--accel", "icount", "--rounds", "100000", "--runs", "2"],
    &["bench", "--counter", "tsc"],
];
/// Command line of the console-on-COM2 boot.
pub const CONSOLE_COM2_CMDLINE: &str = "console=COM2 defmt=none rounds=500 runs=1";
/// Command line GRUB passes in step 7 (and the OVMF steps: the same ISO).
pub const GRUB_CMDLINE: &str = "rounds=500 runs=1";
/// CPUs of the SeaBIOS boot of the ISO.
pub const GRUB_SMP: u32 = 2;
/// Command line of the multi-core boots: short runs, no sweep.
pub const SMP_CMDLINE: &str = "rounds=1000 runs=2 warmup=1 sweep=0";
/// The benchmarks of all cores at once; each core must report each.
pub const PARALLEL_BENCHES: &[&str] = &["ipc-intra-parallel", "syscall-parallel"];
/// Boards whose kernels start their other CPUs (the multi-core steps).
pub const SMP_BOARDS: &[&str] = &["pc-x86_64", "qemu-virt-aarch64", "raspi3b"];
/// CPUs of the Arm `virt` boots that the suite of every other board runs
/// (EL1 and EL2, under icount).
pub const ARM_SMP: u32 = 2;
/// CPUs of the uefi-aarch64 boots (AAVMF on virt with GICv3).
pub const UEFI_SMP: u32 = 8;
/// U-Boot's `bootargs` in the U-Boot step: rounds and runs that are not
/// the kernel's defaults, so that its `IPCB config` line shows they
/// arrived.
pub const UBOOT_ROUNDS: u64 = 700;
/// See [`UBOOT_ROUNDS`].
pub const UBOOT_RUNS: u32 = 2;
/// CPUs of the U-Boot step.
pub const UBOOT_SMP: u32 = 4;
/// The many-core boots: a 96-thread Xeon server on q35 and an 80-core
/// Ampere Altra on virt (GICv3), under icount with few rounds.
pub const MANY_CORES_X86: u32 = 96;
/// See [`MANY_CORES_X86`].
pub const MANY_CORES_ARM: u32 = 80;
/// Command line of the many-core boots: every core still runs and checks
/// every parallel benchmark, with few rounds (under icount the vCPUs take
/// turns on one host thread).
pub const MANY_CMDLINE: &str = "rounds=100 runs=2 warmup=1 sweep=0";

/// The Arm board that the suite of every other board also boots (its last
/// two steps).
pub const ARM_BOARD: &str = "qemu-virt-aarch64";
/// The Raspberry Pi 3 board that the suite of every other board boots.
pub const RASPI3_BOARD: &str = "raspi3b";
/// The ZynqMP board (QEMU's `xlnx-zcu102`) that the suite of every other
/// board boots, and its CPUs there (the machine's four Cortex-A53).
pub const ZCU102_BOARD: &str = "zcu102";
/// See [`ZCU102_BOARD`].
pub const ZCU102_SMP: u32 = 4;
/// The Raspberry Pi 5 board whose image the suite of every other board
/// makes and checks.
pub const RPI5_BOARD: &str = "rpi5";
/// The NXP S32G2 board (image only).
pub const S32G2_BOARD: &str = "s32g2";
/// The first instruction of `ipcb_start`, `msr daifset, #0xf`: where a
/// raw image's first instruction (the Linux arm64 Image header's `code0`,
/// a branch over the header) must lead (the loader jumps to its first
/// byte).
pub const BOOT_FIRST_INSN: u32 = 0xd503_4fdf;
