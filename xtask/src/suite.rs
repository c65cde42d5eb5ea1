// SPDX-License-Identifier: MIT OR Apache-2.0
//! `cargo xtask test`: the full test suite, the one command CI runs.
//!
//! Steps (each reported `ok` or `FAILED`; a failed step does not stop the
//! others):
//!
//! 1. prerequisites (QEMU, Rust targets, GRUB tools);
//! 2. `cargo test` on the host crates (the workspace's default members);
//! 3. `cargo clippy -- -D warnings` on the host crates (and, after the
//!    kernel is built, on the kernel and user programs for the target);
//!    rustdoc with `-D warnings` on every host crate; `cargo publish
//!    --dry-run` of `ipc-core` and `pmu` (nothing is uploaded);
//! 4. build the kernel and boot it under icount: it must pass, with a verified
//!    result for every expected benchmark;
//! 5. boot it again under icount: the per-op figures must be identical;
//!    then `cargo xtask report` on that boot's console dressed as a real
//!    machine's serial capture must give the same table and JSON, and
//!    refuse a missing, empty, garbled or cut capture;
//!    then the kernel's W^X self-test (`selftest=wx`: kernel writes to
//!    `.text` and `.rodata`, jumps into `.data` and the stack, each must
//!    fault and be reported) on x86_64 and on virt at EL1 and EL2;
//!    then the watchdog (`selftest=watchdog`: a user thread that spins
//!    for ever outside the timed runs must be killed with one `IPCB
//!    watchdog` line and the boot end by itself, every result with
//!    `interrupts=0`) on x86_64 and on virt at EL1, EL2 and with a GICv3;
//!    then (pc-x86_64) `--latency`: one icount boot with `latency=tsc`
//!    (and one of qemu-virt-aarch64 at EL1 with `latency=pmccntr`)
//!    must give consistent percentiles for every single-core bench, with
//!    the read overhead subtracted and p50 within a few instructions of
//!    the throughput round, and five bad `--latency` inputs must each end
//!    in one `error:` line before any boot; then the SMP soak
//!    (`cargo xtask soak --smp 4 --ipcs 1000000` on pc-x86_64 and
//!    qemu-virt-aarch64, every message verified, and its bad inputs);
//! 6. fault injection: the kernel is rebuilt with its fault-injection feature
//!    and booted with `inject=mr`, `badge`, `label`; each boot must fail a
//!    check on an IPC benchmark, exit with 35 and end with `status=fail`;
//!    then the normal kernel is rebuilt;
//! 7. GRUB: the ELF must be a valid multiboot2 kernel, and the hybrid
//!    (BIOS + UEFI) ISO built from it must boot under TCG from SeaBIOS
//!    with 2 CPUs, then from OVMF (UEFI) with 2 GiB and 4 CPUs; the ELF on
//!    an EFI system partition with GRUB EFI must boot from OVMF with 8 GiB
//!    and 8 CPUs (`crate::uefi_pc`); each must pass
//!    with every core verified; under OVMF the kernel must have read the
//!    EFI memory map and seen the RAM; then with too little RAM (QEMU
//!    `-kernel`): 20 MiB must fail naming the memory map, 30 MiB with 8
//!    CPUs must pass on fewer cores and say why;
//! 8. (when testing another board than `qemu-virt-aarch64`) the AArch64
//!    kernel is built and boots under icount with `-smp 2` at EL1, then at
//!    EL2 with VHE (`virtualization=on`), and passes each time, at the
//!    exception level asked for, with verified parallel results from both
//!    cores;
//! 9. (when testing another board) the raspi3b kernel, as a raw
//!    `kernel8.img` entered at EL2, boots under icount and passes, at EL1,
//!    with verified parallel results from each of its four cores;
//! 10. (when testing another board) the zcu102 kernel, as a Linux arm64
//!     `Image` on QEMU's `xlnx-zcu102` (entered at EL1, its cores started
//!     by QEMU's PSCI over `smc`), boots under icount with `-smp 4` and
//!     passes, with verified parallel results from each core;
//! 11. (when testing another board) the Raspberry Pi 5 boot files are made
//!     and checked: `kernel_2712.img` starts with the boot code, is padded
//!     to the kernel's whole footprint, which stays below the device tree
//!     `config.txt` places; `config.txt` is the one the docs describe;
//! 12. a copy of a board crate under a new package name is a new `--board`
//!     that boots, and bad board metadata is one error line
//!     (`crate::board::copy`).
//!
//! The last line printed is exactly `N passed, M failed`.
//!
//! Three modules, one job each: this one runs the steps (the list in
//! [`cmd_test`], each a method of `Suite` that builds and boots); [`plan`]
//! says what each step boots and asks for (command lines, counts, CPUs,
//! boards, the bad input to refuse); [`checks`] holds the verdicts, pure
//! functions of what a boot printed, with the one-line reason on failure.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;

use crate::board::{self, Accel, Board, Medium};
use crate::boot::{self, BootOutcome, BootSpec};
use crate::protocol::Transcript;
use crate::util::{Workspace, run_streamed};
use crate::{image, prereq};

pub use checks::*;
pub use plan::*;

pub mod checks;
pub mod plan;

pub(crate) fn err_string(e: anyhow::Error) -> String {
    crate::util::one_line(&format!("{e:#}"))
}

/// Runs the suite for `board` with a per-boot timeout.
pub fn cmd_test(ws: &Workspace, board_name: &str, timeout: Duration) -> Result<ExitCode> {
    let board = board::find(board_name)?;
    prereq::ensure_emulated(board)?;
    let mut suite = Suite {
        ws,
        board,
        timeout,
        kernel: None,
        first: None,
        results: Vec::new(),
    };
    suite.step("prerequisites", Suite::prerequisites);
    suite.step("cargo test (host crates)", Suite::cargo_test);
    suite.step("cargo clippy -D warnings (host crates)", Suite::clippy);
    suite.step(
        "rustdoc -D warnings (every host crate: ipc-core with its conformance suite and mock, pmu, runtime, arch crates, benches, xtask)",
        Suite::rustdoc,
    );
    suite.step(
        "cargo publish --dry-run of ipc-core and pmu (crates.io metadata, the package builds alone; nothing uploaded)",
        Suite::publish_dry_run,
    );
    suite.step("kernel boots under icount and passes", Suite::icount_boot);
    suite.step(
        "cargo clippy -D warnings (kernel and user program, target)",
        Suite::target_clippy,
    );
    suite.step("icount figures are deterministic", Suite::determinism);
    suite.step(
        "icount single-core figures equal the committed baselines (x86, virt EL1; cargo xtask compare at 0 %)",
        Suite::baselines,
    );
    suite.step(
        "cargo xtask report: the first icount boot's console as a real machine's serial capture (firmware text, a boot cut by a reset, CRLF) gives the same table and results.json; hardware labels by default; the same read live from a named pipe that stays open and from stdin; a board crate of the user's own reported as printed; a missing, empty, garbled or cut capture refused",
        Suite::report,
    );
    suite.step(
        "kernel W^X (selftest=wx): kernel writes to its .text and .rodata (x86_64: and the IDT) and jumps into .data and the stack fault and are reported, on x86_64 and qemu-virt-aarch64 at EL1 and EL2",
        Suite::kernel_wx,
    );
    suite.step(
        "seeded syscall fuzzing: cargo xtask fuzz --count 100000 --seed 0x13 on pc-x86_64, qemu-virt-aarch64 at EL1 and EL2, raspi3b, uefi-aarch64 and zcu102 (TCG) each ends `fuzz: 100000 syscalls, K task kills, 0 kernel faults, benchmarks verified`, the episodes under the watchdog (the last one's spinning faulter killed by it), then on every core at once (fuzz-parallel, each core its own seed); the x86 run replayed gives the same line; bad --count/--seed/--board: one error line",
        Suite::fuzz,
    );
    suite.step(
        "watchdog (selftest=watchdog): a user thread that spins for ever outside the timed runs is killed by the kernel's timer with one IPCB watchdog line, its caller gets PartnerDied, then the same on every core at once (each core's own timer: one kill per core), the benchmarks then pass with interrupts=0 on every result, and the boot ends by itself; on x86_64 (LAPIC timer, 2 CPUs), qemu-virt-aarch64 at EL1 and EL2 (GICv2 from the device tree, 2 CPUs) and at EL1 with 9 CPUs (GICv3), uefi-aarch64 at EL1 and EL2 (GICv3 from the ACPI MADT and GTDT) and with a GICv2, raspi3b (BCM2836 local interrupt controller, 4 CPUs), zcu102 (GIC-400 at its known address, 2 CPUs)",
        Suite::watchdog,
    );
    if board.name == "pc-x86_64" {
        suite.step(
            "kernel isolation (kpti=on, x86_64): the user tables of a space keep only the entry trampoline (IPCB ok test=kpti), and with it on W^X, the watchdog's kill, 20000 fuzzed syscalls, the fault tests and every benchmark pass, each IPC figure above the one with it off; --kpti on an Arm board is one error line",
            Suite::kpti,
        );
        suite.step(
            "--latency: an icount boot with latency=tsc, and one of qemu-virt-aarch64 at EL1 with latency=pmccntr: every single-core bench has p50 <= p90 <= p99 <= max, the read overhead, p50 within a few instructions of the throughput round; bad --latency input is one error line before any boot",
            Suite::latency,
        );
    }
    suite.step(
        "SMP soak: cargo xtask soak --smp 4 --ipcs 1000000 on pc-x86_64 and qemu-virt-aarch64 (intra and inter at 0-63 words on every core, cross-core), every message verified, corrupted 0; bad --ipcs and boards one error line",
        Suite::soak,
    );
    suite.step("fault injection is detected", Suite::fault_injection);
    suite.step(
        "hybrid GRUB ISO under SeaBIOS (BIOS, -smp 2) boots and passes, every core verified",
        Suite::grub,
    );
    if board.grub {
        suite.step(
            "the same ISO under OVMF (UEFI, q35, 2 GiB, -smp 4) boots and passes, every core verified",
            Suite::ovmf_iso,
        );
        suite.step(
            "the ELF on an EFI system partition, from GRUB EFI under OVMF with 8 GiB and 8 CPUs: all RAM seen, every core verified",
            Suite::ovmf_big,
        );
        suite.step(
            "too little RAM: 20 MiB fails naming the memory map; 30 MiB for 8 CPUs runs fewer cores and says why",
            Suite::small_ram,
        );
        suite.step(
            "the GRUB ISO with no serial port (-serial none, SeaBIOS): PASS and the table read back from a QMP screendump of the framebuffer console",
            Suite::screen,
        );
        suite.step(
            "the same with no serial port under OVMF (UEFI GOP framebuffer, 2 GiB, -smp 2): PASS and the table read back from the screen",
            Suite::screen_ovmf,
        );
    }
    if SMP_BOARDS.contains(&board.name) {
        suite.step(
            "-smp 4 under plain TCG (cores really in parallel): every core verified",
            Suite::smp_tcg,
        );
        suite.step(
            "-smp 2 under icount (one shared clock): every core verified",
            Suite::smp_icount,
        );
    }
    if board.name == "pc-x86_64" {
        suite.step(
            "an NMI to every CPU in mid-run (QMP inject-nmi) is counted and reported, and the run passes",
            Suite::nmi,
        );
    }
    if board.name == "pc-x86_64" {
        suite.step(
            "console=COM2 defmt=none (serial-over-LAN on COM2): the run passes on COM2, COM1 stays silent",
            Suite::console_com2,
        );
    }
    if board.name == "pc-x86_64" {
        suite.step(
            "NUMA: q35 with two nodes (SRAT): every CPU's per-CPU region on its own node, every core verified",
            Suite::numa,
        );
        suite.step(
            "-smp 96 on q35 under icount: every core started and verified",
            Suite::many_x86,
        );
    }
    suite.step(
        "qemu-virt-aarch64 -smp 80 (GICv3) under icount: every core started and verified",
        Suite::many_arm,
    );
    suite.step(
        "qemu-virt-aarch64 Image through U-Boot booti at EL1 and EL2 (-smp 4, bootargs from U-Boot, PSCI SYSTEM_OFF): passes, every core verified",
        Suite::uboot,
    );
    suite.step(
        "a copy of the qemu-virt-aarch64 crate under a new package name is a new --board: cargo xtask run boots it (TCG) and passes; bad metadata (missing, malformed field, a second board of one name) and an unknown --board are one error line each",
        |s| board::copy::check_copy(s.ws, s.timeout),
    );
    if board.name != ARM_BOARD {
        suite.step(
            "qemu-virt-aarch64 EL1 -smp 2 boots under icount and passes, every core verified",
            Suite::arm_el1,
        );
        suite.step(
            "qemu-virt-aarch64 EL2 (VHE) -smp 2 boots under icount and passes, every core verified",
            Suite::arm_el2,
        );
        suite.step(
            "qemu-virt-aarch64 on cortex-a53 from EL2 firmware (no VHE: the kernel drops to EL1, PSCI over smc) -smp 4: every core verified",
            Suite::arm_smc_el1,
        );
    }
    if board.name != RASPI3_BOARD {
        suite.step(
            "raspi3b kernel8.img (entered at EL2) boots under icount and passes at EL1, all 4 cores verified",
            Suite::raspi3b,
        );
    }
    if board.name != ZCU102_BOARD {
        suite.step(
            "zcu102 Image on xlnx-zcu102 (entered at EL1, Cadence UART, cores by QEMU's PSCI over smc) -smp 4 boots under icount and passes, every core verified",
            Suite::zcu102,
        );
    }
    if board.name != RPI5_BOARD {
        suite.step(
            "rpi5 kernel_2712.img and config.txt are made and fit",
            Suite::rpi5_image,
        );
    }
    if board.name != S32G2_BOARD {
        suite.step(
            "s32g2 Image (header, entry, footprint below U-Boot's device tree) and U-Boot boot.cmd are made and check",
            Suite::s32g2_image,
        );
    }
    if board.name != crate::uefi_arm::BOARD {
        suite.step(
            "uefi-aarch64 BOOTAA64.EFI under AAVMF (virt GICv3, neoverse-n1, ACPI only, icount): -smp 8 at EL1 and EL2 and -smp 80, every core verified; load options from the UEFI shell; without ACPI: one IPCB fail line, powered off",
            Suite::uefi_aarch64,
        );
    }

    println!();
    println!("summary:");
    for (i, (name, r)) in suite.results.iter().enumerate() {
        match r {
            Ok(()) => println!("  ok      {}. {name}", i + 1),
            Err(e) => println!("  FAILED  {}. {name}: {e}", i + 1),
        }
    }
    let failed = suite.results.iter().filter(|(_, r)| r.is_err()).count();
    let passed = suite.results.len() - failed;
    println!("{}", summary_line(passed, failed));
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The crates published to crates.io, so that a kernel can depend on them
/// by version.
const PUBLISHED: [&str; 2] = ["ipc-core", "pmu"];

/// The suite's very last line.
pub fn summary_line(passed: usize, failed: usize) -> String {
    format!("{passed} passed, {failed} failed")
}

struct Suite<'a> {
    ws: &'a Workspace,
    board: &'static Board,
    timeout: Duration,
    /// The kernel ELF, once step 4 built it.
    kernel: Option<PathBuf>,
    /// The first icount boot, for the determinism check.
    first: Option<BootOutcome>,
    results: Vec<(&'static str, StepResult)>,
}

impl Suite<'_> {
    fn step(&mut self, name: &'static str, f: fn(&mut Self) -> StepResult) {
        // `IPCB_TEST_ONLY=text`: only the steps whose name contains it
        // (for developers; the prerequisites and the first kernel boot,
        // which builds the kernel, always run). Not for CI.
        if let Ok(only) = std::env::var("IPCB_TEST_ONLY")
            && !name.contains(only.as_str())
            && name != "prerequisites"
            && name != "kernel boots under icount and passes"
        {
            return;
        }
        let n = self.results.len() + 1;
        eprintln!("\n[ipcb] === step {n}: {name} ===");
        let r = f(self);
        match &r {
            Ok(()) => eprintln!("[ipcb] step {n} ok: {name}"),
            Err(e) => eprintln!("[ipcb] step {n} FAILED: {name}: {e}"),
        }
        self.results.push((name, r));
    }

    fn prerequisites(&mut self) -> StepResult {
        let checks = [
            prereq::ensure_qemu(self.board),
            prereq::ensure_targets(self.ws),
            prereq::ensure_grub(),
        ];
        let errors: Vec<String> = checks
            .into_iter()
            .filter_map(|r| r.err().map(err_string))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    fn cargo_test(&mut self) -> StepResult {
        let mut cmd = self.ws.cargo();
        cmd.arg("test");
        run_streamed(cmd, "cargo test").map_err(err_string)
    }

    fn clippy(&mut self) -> StepResult {
        let mut cmd = self.ws.cargo();
        // ipc-core's conformance suite and mock are host code too.
        cmd.args(["clippy", "--features", "ipc-core/mock", "--", "-D", "warnings"]);
        run_streamed(cmd, "cargo clippy").map_err(err_string)
    }

    /// Rustdoc with warnings as errors (broken intra-doc links) on every
    /// host crate (the workspace's default members), ipc-core with the
    /// features that add modules.
    fn rustdoc(&mut self) -> StepResult {
        let mut cmd = self.ws.cargo();
        cmd.args(["doc", "--no-deps", "--features", "ipc-core/mock"]);
        cmd.env("RUSTDOCFLAGS", "-D warnings");
        run_streamed(cmd, "cargo doc").map_err(err_string)
    }

    /// `cargo publish --dry-run` of the crates others depend on by
    /// version: the manifest's metadata, the files packaged, and a build of
    /// the package alone, as crates.io would get it. Nothing is uploaded.
    /// Where crates.io cannot be reached, `cargo package --offline` checks
    /// the package without the registry, and the step says so.
    fn publish_dry_run(&mut self) -> StepResult {
        let mut meta = self.ws.cargo();
        meta.args(["metadata", "--no-deps", "--format-version", "1"]);
        let out = meta.output().map_err(|e| format!("cargo metadata: {e}"))?;
        let meta: serde_json::Value =
            serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
        for p in PUBLISHED {
            let pkg = meta["packages"]
                .as_array()
                .and_then(|a| a.iter().find(|x| x["name"] == *p))
                .ok_or_else(|| format!("cargo metadata lists no package {p}"))?;
            check_publish_fields(pkg).map_err(|e| format!("{p}: {e}"))?;
            let mut cmd = self.ws.cargo();
            // Every feature: the verifying build compiles ipc-core's
            // conformance suite and mock too.
            cmd.args(["publish", "--dry-run", "--allow-dirty", "--all-features", "-p", p]);
            cmd.env("CARGO_NET_RETRY", "1").env("CARGO_HTTP_TIMEOUT", "30");
            eprintln!("[ipcb] cargo publish --dry-run --allow-dirty --all-features -p {p}");
            let out = cmd.output().map_err(|e| format!("cargo publish: {e}"))?;
            let err = String::from_utf8_lossy(&out.stderr);
            eprint!("{err}");
            if out.status.success() {
                continue;
            }
            if !registry_unreachable(&err) {
                return Err(format!("cargo publish --dry-run -p {p} failed; see its output above"));
            }
            eprintln!(
                "[ipcb] crates.io is unreachable from here: checking {p} with `cargo package --offline` instead (the registry's own view of the dependencies is not checked)"
            );
            let mut cmd = self.ws.cargo();
            cmd.args(["package", "--offline", "--allow-dirty", "--all-features", "-p", p]);
            run_streamed(cmd, "cargo package --offline").map_err(err_string)?;
        }
        Ok(())
    }

    /// `cargo xtask fuzz` itself, as a user runs it, on every board of
    /// [`FUZZ_BOARDS`] with [`FUZZ_SEED`]; the first again (the replay must
    /// end in the same line); then [`FUZZ_BAD`].
    fn fuzz(&mut self) -> StepResult {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find the xtask binary: {e}"))?;
        let run = |args: &[&str]| -> std::result::Result<String, String> {
            let mut cmd = std::process::Command::new(&exe);
            cmd.arg("fuzz").args(args).args(["--count", &FUZZ_COUNT.to_string(), "--seed", FUZZ_SEED]);
            cmd.current_dir(&self.ws.root);
            let shown = args.join(" ");
            let out = cmd.output().map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
            let stderr = String::from_utf8_lossy(&out.stderr);
            eprint!("{stderr}");
            let stdout = String::from_utf8_lossy(&out.stdout);
            let last = stdout.lines().last().unwrap_or("").to_string();
            check_fuzz_line(&last, FUZZ_COUNT).map_err(|e| format!("fuzz {shown}: {e}"))?;
            if !out.status.success() {
                return Err(format!("fuzz {shown}: exit status {}", out.status));
            }
            // The episodes ran under the watchdog: the last one's faulter
            // (task 4), which spins for ever, was killed by it.
            if !stderr.contains(FUZZ_HANG_KILL) {
                return Err(format!("fuzz {shown}: no \"{FUZZ_HANG_KILL}\" (the hang episode's faulter, killed by the watchdog)"));
            }
            check_fuzz_parallel(&stderr).map_err(|e| format!("fuzz {shown}: {e}"))?;
            eprintln!("[ipcb] fuzz {shown}: {last}");
            Ok(last)
        };
        let mut first = None;
        for args in FUZZ_BOARDS {
            let last = run(args)?;
            first.get_or_insert(last);
        }
        let again = run(FUZZ_BOARDS[0])?;
        if first.as_deref() != Some(again.as_str()) {
            return Err(format!("the replay of seed {FUZZ_SEED} ended \"{again}\", the first run \"{}\"", first.unwrap_or_default()));
        }
        self.refuses(FUZZ_BAD)?;
        eprintln!("[ipcb] {} boards fuzzed, the replay identical, {} bad inputs refused", FUZZ_BOARDS.len(), FUZZ_BAD.len());
        Ok(())
    }

    /// Clippy on the bare-metal target: the kernel package (with the arch
    /// and runtime crates) and the user programs, as built for the board.
    fn target_clippy(&mut self) -> StepResult {
        self.kernel()?;
        let mut cmd = self.ws.cargo();
        cmd.args(["clippy", "--release", "--target", self.board.target]);
        cmd.args(["-p", self.board.kernel_package]);
        for prog in self.board.user_programs {
            cmd.args(["-p", prog.package]);
            cmd.env(
                prog.env,
                self.ws.release_artifact(self.board.target, prog.bin),
            );
        }
        cmd.args(["--", "-D", "warnings"]);
        run_streamed(cmd, "cargo clippy (target)").map_err(err_string)
    }

    fn arm_el1(&mut self) -> StepResult {
        self.arm_boot(1)
    }

    fn arm_el2(&mut self) -> StepResult {
        self.arm_boot(2)
    }

    /// Build the Arm kernel (a no-op the second time) and boot it under
    /// icount at exception level `el`: it must pass, and say it ran there.
    /// With [`ARM_SMP`] CPUs: every core must report verified parallel
    /// results (PSCI start-up through the EL's conduit, parking).
    /// A CPU without VHE entered at EL2: the kernel runs at EL1 and starts
    /// the other CPUs through PSCI over `smc` (the DT's method with EL2
    /// present), as on boards whose TF-A answers PSCI at EL3.
    fn arm_smc_el1(&mut self) -> StepResult {
        const N: u32 = 4;
        let variant = board::Variant {
            el: Some(2),
            cpu: Some("cortex-a53".to_string()),
            smp: Some(N),
            ..board::Variant::default()
        };
        let b = board::find_base(ARM_BOARD)
            .and_then(|base| board::apply(base, &variant))
            .map_err(err_string)?;
        let t = self.other_board_boots(b, &format!("a53-el2-smc-smp{N}"), Some(1))?;
        check_cores(&t, N, PARALLEL_BENCHES)?;
        // The defect this guards against also hung ipc-cross-core.
        if t.results.iter().any(|r| r.bench == crate::report::CROSS_CORE_BENCH && r.verified) {
            Ok(())
        } else {
            Err("ipc-cross-core: no verified result".to_string())
        }
    }

    fn arm_boot(&mut self, el: u8) -> StepResult {
        let variant = board::Variant {
            el: Some(el),
            smp: Some(ARM_SMP),
            ..board::Variant::default()
        };
        let b = board::find_base(ARM_BOARD)
            .and_then(|base| board::apply(base, &variant))
            .map_err(err_string)?;
        let t = self.other_board_boots(b, &format!("el{el}-smp{ARM_SMP}"), Some(el))?;
        check_cores(&t, ARM_SMP, PARALLEL_BENCHES)
    }

    /// The kernel's W^X self-test on x86_64 and on virt at EL1 and EL2:
    /// one short icount boot each with [`WX_CMDLINE`]; each must pass, at
    /// the exception level asked for, and report [`WX_TEST`] passed.
    fn kernel_wx(&mut self) -> StepResult {
        let mut boards = vec![(board::find_base("pc-x86_64").map_err(err_string)?, None)];
        for el in [1, 2] {
            let variant = board::Variant { el: Some(el), ..board::Variant::default() };
            let b = board::find_base(ARM_BOARD)
                .and_then(|base| board::apply(base, &variant))
                .map_err(err_string)?;
            boards.push((b, Some(el)));
        }
        for (b, el) in boards {
            let label = match el {
                Some(el) => format!("wx-el{el}"),
                None => "wx".to_string(),
            };
            let what = |e: String| format!("{} {}: {e}", b.name, el.map(|el| format!("EL{el}")).unwrap_or_default());
            let o = self.board_boots(b, WX_CMDLINE, &label).map_err(what)?;
            check_el(el, o.transcript.hello.as_ref().and_then(|h| h.el)).map_err(what)?;
            check_wx(&o.transcript).map_err(what)?;
        }
        Ok(())
    }

    /// The watchdog: one icount boot with [`WATCHDOG_CMDLINE`] per board
    /// and interrupt controller, with several CPUs so that every core's
    /// own timer is tried ([`WATCHDOG_BOOTS`]); each must pass by itself
    /// (not end by the host's timeout), at the exception level asked for,
    /// and [`check_watchdog`].
    fn watchdog(&mut self) -> StepResult {
        for w in WATCHDOG_BOOTS {
            let variant = board::Variant { el: w.el, smp: w.smp, ..board::Variant::default() };
            let mut b = board::find_base(w.board)
                .and_then(|base| board::apply(base, &variant))
                .map_err(err_string)?;
            if let Some(m) = w.machine {
                let mut c = b.clone();
                c.machine_args = m;
                b = Box::leak(Box::new(c));
            }
            let what = |e: String| format!("{} ({}): {e}", b.name, w.what);
            let o = self.board_boots(b, WATCHDOG_CMDLINE, w.label).map_err(what)?;
            check_el(w.el, o.transcript.hello.as_ref().and_then(|h| h.el)).map_err(what)?;
            check_watchdog(&o.transcript).map_err(what)?;
        }
        Ok(())
    }

    /// Kernel isolation: one icount boot of the PC with [`KPTI_CMDLINE`];
    /// the isolation check passed and the config says it was on; W^X, the
    /// watchdog and the fuzzing as in their own steps; the IPC and syscall
    /// figures above the first boot's (isolation off: the switches are
    /// instructions, counted exactly); [`KPTI_BAD`] refused.
    fn kpti(&mut self) -> StepResult {
        let b = board::find_base("pc-x86_64").map_err(err_string)?;
        let o = self.board_boots(b, KPTI_CMDLINE, "kpti")?;
        let t = &o.transcript;
        match t.config.as_ref().and_then(|c| c.kpti.as_deref()) {
            Some("on" | "pcid") => {}
            k => return Err(format!("the config line says kpti={}, expected on or pcid", k.unwrap_or("(missing)"))),
        }
        if !t.tests.iter().any(|n| n == "kpti") {
            return Err("no \"IPCB ok test=kpti\" line: the user tables were not checked".to_string());
        }
        check_wx(t)?;
        check_watchdog(t)?;
        crate::fuzz::verdict(&o, b.expected_benches, KPTI_FUZZ)?;
        // The CPU's own word that user code ran on tables without the
        // kernel: its read of the kernel image faults as not present
        // (#PF error bit 0 clear), where with isolation off the page is
        // present and the fault is a protection one (bit 0 set).
        let console = std::fs::read_to_string(o.out_dir.join("console.log")).map_err(|e| format!("cannot read the console log: {e}"))?;
        let error = console
            .lines()
            .find(|l| l.starts_with("IPCB ok test=fault-kernel-read "))
            .and_then(|l| l.split_whitespace().find_map(|w| w.strip_prefix("error=0x")))
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .ok_or("no fault-kernel-read line with an error code")?;
        if error & 1 != 0 {
            return Err(format!("fault-kernel-read: #PF error {error:#x} says the kernel page was present in the user tables"));
        }
        let Some(first) = &self.first else {
            return Err("skipped the on/off comparison: the first icount boot did not pass (see step 4)".to_string());
        };
        for bench in ["ipc-intra", "ipc-inter", "syscall"] {
            let fig = |t: &Transcript| t.results.iter().find(|r| r.bench == bench && r.core == 0).map(|r| r.median);
            match (fig(&first.transcript), fig(t)) {
                (Some(off), Some(on)) if on > off => eprintln!("[ipcb] {bench}: {off:.2} with isolation off, {on:.2} on (instructions)"),
                (Some(off), Some(on)) => return Err(format!("{bench}: {on:.2} instructions with isolation on, not above {off:.2} with it off: the isolated entry did not run")),
                _ => return Err(format!("{bench}: no figure in one of the boots")),
            }
        }
        self.refuses(KPTI_BAD)
    }

    /// Build another board's kernel (a no-op when it is built) and boot
    /// it under icount: it must pass, at exception level `el` if given.
    /// Returns what it printed.
    fn other_board_boots(
        &self,
        b: &'static Board,
        label: &str,
        el: Option<u8>,
    ) -> std::result::Result<Transcript, String> {
        let o = self.board_boots(b, ICOUNT_CMDLINE, label)?;
        check_el(el, o.transcript.hello.as_ref().and_then(|h| h.el))?;
        Ok(o.transcript)
    }

    /// Build `b`'s kernel (a no-op when it is built) and boot it under
    /// icount with `cmdline`: it must pass. Returns the outcome.
    fn board_boots(
        &self,
        b: &'static Board,
        cmdline: &str,
        label: &str,
    ) -> std::result::Result<BootOutcome, String> {
        prereq::ensure_qemu(b).map_err(err_string)?;
        let kernel = image::build(self.ws, b, &[]).map_err(err_string)?;
        let spec = BootSpec::checked(b, Accel::Icount, Medium::Kernel { elf: &kernel, cmdline }, cmdline, self.timeout, label);
        let o = boot::boot(self.ws, &spec).map_err(err_string)?;
        check_pass(&o, b.expected_benches)?;
        if b.defmt_semihosting {
            check_defmt_boot_line(&o.out_dir)?;
        }
        Ok(o)
    }

    fn nmi(&mut self) -> StepResult {
        let kernel = self.kernel()?.to_path_buf();
        let b = board::find_base(self.board.name)
            .and_then(|base| board::apply(base, &board::Variant { smp: Some(2), ..board::Variant::default() }))
            .map_err(err_string)?;
        crate::nmi::check(self.ws, b, Accel::Icount, &kernel, ICOUNT_CMDLINE, self.timeout).map_err(err_string)
    }

    /// Two NUMA nodes of 128 MiB with two CPUs each: the kernel must read
    /// the SRAT and put each CPU's region on its node, and say that the
    /// frame pool is not placed by node.
    fn numa(&mut self) -> StepResult {
        const ARGS: &[&str] = &[
            "-M", "q35", "-m", "256M",
            "-object", "memory-backend-ram,id=m0,size=128M",
            "-object", "memory-backend-ram,id=m1,size=128M",
            "-numa", "node,nodeid=0,cpus=0-1,memdev=m0",
            "-numa", "node,nodeid=1,cpus=2-3,memdev=m1",
        ];
        let mut b = board::find_base("pc-x86_64").map_err(err_string)?.clone();
        b.machine_args = ARGS;
        b.smp = 4;
        let b: &'static Board = Box::leak(Box::new(b));
        let o = self.board_boots(b, MANY_CMDLINE, "numa")?;
        check_cores(&o.transcript, 4, PARALLEL_BENCHES)?;
        let console = std::fs::read_to_string(&o.console).unwrap_or_default();
        let want = "numa: 2 nodes; the per-CPU regions of 4 of 4 CPUs are on their own node";
        if !console.contains(want) {
            return Err(format!("the console does not say \"{want}\"; see {}", o.console.display()));
        }
        if !o.transcript.warnings.iter().any(|w| w.contains("frame pool")) {
            return Err("no IPCB warn line says the frame pool is not placed by node".to_string());
        }
        Ok(())
    }

    fn many_x86(&mut self) -> StepResult {
        self.many_cores("pc-x86_64", MANY_CORES_X86)
    }

    fn many_arm(&mut self) -> StepResult {
        self.many_cores(ARM_BOARD, MANY_CORES_ARM)
    }

    /// `board` with `n` CPUs (xtask gives QEMU the memory and, on virt,
    /// the GICv3 they need) under icount with [`MANY_CMDLINE`]: it must
    /// pass with a verified record of every parallel benchmark from each of
    /// the `n` cores.
    fn many_cores(&mut self, board: &str, n: u32) -> StepResult {
        let variant = board::Variant { smp: Some(n), ..board::Variant::default() };
        let b = board::find_base(board)
            .and_then(|base| board::apply(base, &variant))
            .map_err(err_string)?;
        let o = self.board_boots(b, MANY_CMDLINE, &format!("smp{n}"))?;
        check_cores(&o.transcript, n, PARALLEL_BENCHES)
    }

    /// The Arm `virt` kernel's Linux `Image` through U-Boot (`uboot`), with
    /// [`UBOOT_SMP`] CPUs under TCG, at EL1 (PSCI over `hvc`), then at EL2
    /// (`virtualization=on`: U-Boot and the kernel at EL2, PSCI over
    /// `smc`): it must pass with every core verified, at that EL, having
    /// got U-Boot's `bootargs`, and end with PSCI `SYSTEM_OFF` (no
    /// semihosting).
    fn uboot(&mut self) -> StepResult {
        for el in [1, 2] {
            let variant = board::Variant {
                el: Some(el),
                smp: Some(UBOOT_SMP),
                ..board::Variant::default()
            };
            let b = board::find_base(ARM_BOARD)
                .and_then(|base| board::apply(base, &variant))
                .map_err(err_string)?;
            prereq::ensure_qemu(b).map_err(err_string)?;
            let kernel = image::build(self.ws, b, &[]).map_err(err_string)?;
            let cmdline = format!("rounds={UBOOT_ROUNDS} runs={UBOOT_RUNS} warmup=1 sweep=0");
            let o = crate::uboot::boot_image(self.ws, b, &kernel, &cmdline, self.timeout)
                .map_err(err_string)?;
            let at = |e: String| format!("EL{el}: {e}");
            check_pass(&o, b.expected_benches).map_err(at)?;
            crate::uboot::check_bootargs(&o.transcript, UBOOT_ROUNDS, UBOOT_RUNS).map_err(at)?;
            check_cores(&o.transcript, UBOOT_SMP, PARALLEL_BENCHES).map_err(at)?;
            match o.transcript.hello.as_ref().and_then(|h| h.el) {
                Some(e) if e == el => {}
                other => return Err(at(format!("the kernel ran at EL {other:?}"))),
            }
        }
        Ok(())
    }

    /// The board with `n` CPUs under plain TCG: every core must report
    /// verified parallel results.
    fn smp_tcg(&mut self) -> StepResult {
        self.smp_boot(4, Accel::Tcg)
    }

    /// The same with 2 CPUs under icount, where the vCPUs take turns on one
    /// thread: the start barrier and the parking must not livelock.
    fn smp_icount(&mut self) -> StepResult {
        self.smp_boot(2, Accel::Icount)
    }

    /// (A machine whose CPU count QEMU fixes boots with that count.)
    fn smp_boot(&self, n: u32, accel: Accel) -> StepResult {
        let base = board::find_base(self.board.name).map_err(err_string)?;
        let n = if base.fixed_cpus > 0 { base.fixed_cpus } else { n };
        let variant = board::Variant {
            smp: Some(n),
            ..board::Variant::default()
        };
        let b = board::apply(base, &variant).map_err(err_string)?;
        let kernel = self.kernel()?;
        let label = format!("smp{n}-{}", accel.name());
        let spec = BootSpec::checked(b, accel, Medium::Kernel { elf: kernel, cmdline: SMP_CMDLINE }, SMP_CMDLINE, self.timeout, &label);
        let o = boot::boot(self.ws, &spec).map_err(err_string)?;
        check_pass(&o, b.expected_benches)?;
        check_cores(&o.transcript, n, PARALLEL_BENCHES)?;
        // Caller on core 0, receiver on core 1: the client's record.
        check_pass(&o, &[crate::report::CROSS_CORE_BENCH])
    }

    /// Build the raspi3b kernel and boot its raw image under icount: it
    /// must pass, at the exception level the board fixes (EL1: no VHE).
    /// Its four cores (fixed by QEMU) must each report verified parallel
    /// results (spin-table start-up, mailbox parking).
    fn raspi3b(&mut self) -> StepResult {
        let b = board::find_base(RASPI3_BOARD).map_err(err_string)?;
        let t = self.other_board_boots(b, "raspi3b", b.expected_el)?;
        check_cores(&t, b.fixed_cpus, PARALLEL_BENCHES)
    }

    /// Build the zcu102 kernel and boot its Linux arm64 `Image` on
    /// `xlnx-zcu102` with [`ZCU102_SMP`] cores under icount: it must pass at
    /// EL1 (QEMU's default there), every benchmark verified, and each core
    /// must report verified parallel results (the cores found by PSCI
    /// `AFFINITY_INFO` and started by `CPU_ON` over `smc`).
    fn zcu102(&mut self) -> StepResult {
        let base = board::find_base(ZCU102_BOARD).map_err(err_string)?;
        let variant = board::Variant { smp: Some(ZCU102_SMP), ..board::Variant::default() };
        let b = board::apply(base, &variant).map_err(err_string)?;
        let t = self.other_board_boots(b, &format!("zcu102-smp{ZCU102_SMP}"), b.expected_el)?;
        check_cores(&t, ZCU102_SMP, PARALLEL_BENCHES)
    }

    /// The UEFI application under AAVMF (`uefi_arm`): the CPUs from the
    /// MADT, started by PSCI through the FADT's conduit (hvc at EL1; smc
    /// at EL2, where AAVMF runs with `virtualization=on`), the console from
    /// the SPCR; every core must report verified parallel results. Then an
    /// Altra's 80 cores (GICv3, MPIDR Aff1 clusters) with few rounds, the
    /// command line from the load options (started from the UEFI shell),
    /// and the bad input of no ACPI tables.
    fn uefi_aarch64(&mut self) -> StepResult {
        prereq::ensure_firmware(&prereq::AAVMF).map_err(err_string)?;
        let base = board::find_base(crate::uefi_arm::BOARD).map_err(err_string)?;
        for el in [1, 2] {
            let variant = board::Variant {
                el: Some(el),
                smp: Some(UEFI_SMP),
                ..board::Variant::default()
            };
            let b = board::apply(base, &variant).map_err(err_string)?;
            let t = self.other_board_boots(b, &format!("el{el}-smp{UEFI_SMP}"), Some(el))?;
            check_cores(&t, UEFI_SMP, PARALLEL_BENCHES).map_err(|e| format!("EL{el}: {e}"))?;
        }
        let variant = board::Variant { smp: Some(MANY_CORES_ARM), ..board::Variant::default() };
        let b = board::apply(base, &variant).map_err(err_string)?;
        let o = self.uefi_boot(b, MANY_CMDLINE, &format!("smp{MANY_CORES_ARM}"))?;
        check_pass(&o, b.expected_benches).map_err(|e| format!("-smp {MANY_CORES_ARM}: {e}"))?;
        // defmt over the semihosting console (`defmt = "semihosting"`).
        check_defmt_boot_line(&o.out_dir).map_err(|e| format!("-smp {MANY_CORES_ARM}: {e}"))?;
        check_cores(&o.transcript, MANY_CORES_ARM, PARALLEL_BENCHES)
            .map_err(|e| format!("-smp {MANY_CORES_ARM}: {e}"))?;
        // The command line from the load options (the UEFI shell's).
        let kernel = image::build(self.ws, base, &[]).map_err(err_string)?;
        crate::uefi_arm::check_load_options(self.ws, base, &kernel, self.timeout)?;
        // Bad input: no ACPI tables (AAVMF then gives a device tree only).
        let mut no_acpi = base.clone();
        no_acpi.machine_args = crate::uefi_arm::NO_ACPI_MACHINE;
        let b: &'static Board = Box::leak(Box::new(no_acpi));
        let o = self.uefi_boot(b, ICOUNT_CMDLINE, "no-acpi")?;
        crate::uefi_arm::check_no_acpi(&o).map_err(|e| format!("acpi=off: {e}"))
    }

    /// One uefi-aarch64 boot of `b` under icount with `cmdline`.
    fn uefi_boot(&self, b: &'static Board, cmdline: &str, label: &str) -> std::result::Result<BootOutcome, String> {
        let kernel = image::build(self.ws, b, &[]).map_err(err_string)?;
        let spec = BootSpec::checked(b, Accel::Icount, Medium::Kernel { elf: &kernel, cmdline }, cmdline, self.timeout, label);
        boot::boot(self.ws, &spec).map_err(err_string)
    }

    /// Make the Pi 5's boot files and check them.
    fn rpi5_image(&mut self) -> StepResult {
        let b = board::find_base(RPI5_BOARD).map_err(err_string)?;
        let kernel = image::build(self.ws, b, &[]).map_err(err_string)?;
        let dir = self.ws.ipcb_dir().join("test-image-rpi5");
        let f = image::sd_files(b, &kernel, &dir, image::DEFAULT_IMAGE_CMDLINE)
            .map_err(err_string)?;
        let bytes = std::fs::read(&f.image).map_err(|e| format!("{}: {e}", f.image.display()))?;
        let config = std::fs::read_to_string(f.config.as_deref().ok_or("no config.txt")?)
            .map_err(|e| e.to_string())?;
        let raw = b.raw_image.ok_or("rpi5 has no raw image")?;
        check_rpi5_files(&bytes, f.footprint, &config, raw.max_footprint)?;
        eprintln!(
            "[ipcb] {}: {} bytes (the kernel's footprint, .bss included; limit {})",
            f.image.display(),
            f.image_size,
            raw.max_footprint
        );
        Ok(())
    }

    /// Make the S32G2's `Image` and U-Boot script and check them.
    fn s32g2_image(&mut self) -> StepResult {
        let b = board::find_base(S32G2_BOARD).map_err(err_string)?;
        let kernel = image::build(self.ws, b, &[]).map_err(err_string)?;
        let dir = self.ws.ipcb_dir().join("test-image-s32g2");
        let f = image::sd_files(b, &kernel, &dir, image::DEFAULT_IMAGE_CMDLINE)
            .map_err(err_string)?;
        let bytes = std::fs::read(&f.image).map_err(|e| format!("{}: {e}", f.image.display()))?;
        let script = std::fs::read_to_string(f.config.as_deref().ok_or("no boot.cmd")?)
            .map_err(|e| e.to_string())?;
        check_s32g2_files(&bytes, f.load, f.footprint, &script, image::DEFAULT_IMAGE_CMDLINE)?;
        eprintln!(
            "[ipcb] {}: {} bytes; the kernel occupies {} bytes from {:#x} with .bss",
            f.image.display(),
            f.image_size,
            f.footprint,
            f.load
        );
        Ok(())
    }

    fn kernel(&self) -> std::result::Result<&Path, String> {
        self.kernel
            .as_deref()
            .ok_or_else(|| "skipped: the kernel did not build (see step 4)".to_string())
    }

    fn boot(
        &self,
        accel: Accel,
        medium: Medium<'_>,
        cmdline: &str,
        label: &str,
    ) -> std::result::Result<BootOutcome, String> {
        let spec = BootSpec::checked(self.board, accel, medium, cmdline, self.timeout, label);
        boot::boot(self.ws, &spec).map_err(err_string)
    }

    /// The console moved to COM2 and defmt off, as on a server whose
    /// serial-over-LAN is COM2: QEMU's serial ports swapped, so that xtask
    /// reads COM2 and COM1 goes to a file, which must stay empty.
    fn console_com2(&mut self) -> StepResult {
        let kernel = self.kernel()?.to_path_buf();
        let medium = Medium::Kernel { elf: &kernel, cmdline: CONSOLE_COM2_CMDLINE };
        let o = board::with_console_on_com2(|| {
            self.boot(Accel::Icount, medium, CONSOLE_COM2_CMDLINE, "console-com2")
        })?;
        check_pass(&o, self.board.expected_benches)?;
        let com1 = o.out_dir.join("defmt.bin");
        match std::fs::metadata(&com1).map(|m| m.len()) {
            Ok(0) => Ok(()),
            Ok(n) => Err(format!("COM1 ({}) got {n} bytes; with console=COM2 defmt=none it must get none", com1.display())),
            Err(e) => Err(format!("COM1's file {}: {e}", com1.display())),
        }
    }

    fn icount_boot(&mut self) -> StepResult {
        let kernel = image::build(self.ws, self.board, &[]).map_err(err_string)?;
        self.kernel = Some(kernel.clone());
        let o = self.boot(
            Accel::Icount,
            Medium::Kernel {
                elf: &kernel,
                cmdline: ICOUNT_CMDLINE,
            },
            ICOUNT_CMDLINE,
            "icount-1",
        )?;
        let r = check_pass(&o, self.board.expected_benches);
        list_tests(&o.transcript);
        r?;
        self.first = Some(o);
        Ok(())
    }

    /// The first icount boot's single-core figures (x86), and a virt EL1
    /// boot's, against `xtask/baselines/` ([`crate::baseline`]).
    fn baselines(&mut self) -> StepResult {
        let Some(first) = &self.first else {
            return Err("skipped: the first icount boot did not pass (see step 4)".to_string());
        };
        let mut notes = Vec::new();
        if self.board.name == "pc-x86_64" {
            let problems = first.problems(self.board.expected_benches);
            let r = crate::bench::make_report(self.ws, self.board, Accel::Icount, ICOUNT_CMDLINE, first, &problems);
            notes.push(crate::baseline::check(&crate::baseline::path(self.ws, "pc-x86_64-icount"), &r)?);
        }
        let variant = board::Variant { el: Some(1), smp: Some(1), ..board::Variant::default() };
        let b = board::find_base(ARM_BOARD)
            .and_then(|base| board::apply(base, &variant))
            .map_err(err_string)?;
        let o = self.board_boots(b, ICOUNT_CMDLINE, "baseline-el1")?;
        let problems = o.problems(b.expected_benches);
        let r = crate::bench::make_report(self.ws, b, Accel::Icount, ICOUNT_CMDLINE, &o, &problems);
        notes.push(crate::baseline::check(&crate::baseline::path(self.ws, "qemu-virt-aarch64-el1-icount"), &r)?);
        for n in notes {
            eprintln!("[ipcb] {n}");
        }
        Ok(())
    }

    /// `--latency`: a boot with [`LATENCY_CMDLINE`] must pass with a
    /// consistent latency line for every single-core benchmark
    /// ([`check_latency`]), the table's block and a plot each; and each of
    /// [`LATENCY_BAD`] must fail with one `error:` line, without booting.
    fn latency(&mut self) -> StepResult {
        let kernel = self.kernel()?.to_path_buf();
        let medium = Medium::Kernel { elf: &kernel, cmdline: LATENCY_CMDLINE };
        let o = self.boot(Accel::Icount, medium, LATENCY_CMDLINE, "latency")?;
        check_pass(&o, self.board.expected_benches)?;
        let n = check_latency(&o.transcript, self.board.expected_benches)?;
        let problems = o.problems(self.board.expected_benches);
        let r = crate::bench::make_report(self.ws, self.board, Accel::Icount, LATENCY_CMDLINE, &o, &problems);
        if crate::table::latency_block(&r).is_empty() {
            return Err("the table has no latency block".to_string());
        }
        let plots = crate::plot::latency::write(&r, &o.out_dir).map_err(err_string)?;
        if plots.len() != n {
            return Err(format!("{} latency plots for {n} benches", plots.len()));
        }
        self.refuses(LATENCY_BAD)?;
        // The Arm board at EL1, timed with its cycle counter.
        let arm = board::find_base(ARM_BOARD)
            .and_then(|base| board::apply(base, &board::Variant { el: Some(1), ..board::Variant::default() }))
            .map_err(err_string)?;
        let what = |e: String| format!("{} EL1: {e}", arm.name);
        let a = self.board_boots(arm, ARM_LATENCY_CMDLINE, "latency-el1").map_err(what)?;
        let m = check_latency(&a.transcript, arm.expected_benches).map_err(what)?;
        eprintln!(
            "[ipcb] {n} latency figures consistent on {} (TSC), {m} on {} EL1 (PMCCNTR); {} bad inputs refused",
            self.board.name,
            arm.name,
            LATENCY_BAD.len()
        );
        Ok(())
    }

    /// `cargo xtask soak` with [`SOAK_IPCS`] one-way IPCs on 4 cores on
    /// the x86 and the Arm board: it must end with its `soak: ...,
    /// corrupted 0` line and exit 0; each of [`SOAK_BAD`] with one
    /// `error:` line, without booting.
    fn soak(&mut self) -> StepResult {
        let ipcs = SOAK_IPCS.to_string();
        for b in ["pc-x86_64", ARM_BOARD] {
            let args = ["soak", "--board", b, "--smp", "4", "--ipcs", ipcs.as_str()];
            let out = self.xtask(&args)?;
            let stdout = String::from_utf8_lossy(&out.stdout);
            let last = stdout.lines().last().unwrap_or("");
            if !out.status.success() || !last.starts_with("soak: ") || !last.ends_with("corrupted 0") {
                let err = String::from_utf8_lossy(&out.stderr);
                let why = err.lines().rev().find(|l| l.starts_with("error:")).unwrap_or(last);
                return Err(format!("`cargo xtask {}`: {why}", args.join(" ")));
            }
            eprintln!("[ipcb] {b}: {last}");
        }
        self.refuses(SOAK_BAD)
    }

    /// `cargo xtask report` on the first icount boot's console, dressed as
    /// the serial capture of a real machine: firmware text and a boot cut
    /// short by a reset before it, CRLF line ends, a NUL and escape codes.
    /// With `--accel icount` its table and `results.json` equal the boot's
    /// own ([`check_report_json`]); by default its counters are labelled as
    /// the hardware's; read live from a named pipe that stays open after the
    /// end line, and from stdin, the same; a board of the user's own is
    /// reported as printed. A
    /// missing, empty or garbled capture is one error line; one cut before
    /// `IPCB end` fails saying so.
    fn report(&mut self) -> StepResult {
        let Some(first) = &self.first else {
            return Err("skipped: the first icount boot did not pass (see step 4)".to_string());
        };
        let console = std::fs::read_to_string(&first.console).map_err(|e| format!("cannot read {}: {e}", first.console.display()))?;
        let crlf = console.replace("\r\n", "\n").replace('\n', "\r\n");
        let cut: String = crlf.split_inclusive('\n').take_while(|l| !l.starts_with("IPCB result ")).collect();
        let firmware = "U-Boot 2026.01 (Dec 04 2026)\r\nHit any key to stop autoboot:  0 \r\n\0\x1b[0m";
        let dir = self.ws.ipcb_dir().join("report-check");
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let write = |name: &str, text: &str| {
            let p = dir.join(name);
            std::fs::write(&p, text).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
            Ok::<String, String>(p.display().to_string())
        };
        let capture = write("capture.log", &format!("{firmware}{cut}NOTICE:  BL31: reset\r\n{firmware}{crlf}"))?;
        let json = dir.join("results.json").display().to_string();
        let _ = std::fs::remove_file(&json);
        let out = self.xtask(&["report", &capture, "--accel", "icount", "--json", &json])?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            let why = stderr.lines().find(|l| l.starts_with("error:")).unwrap_or("no error line");
            return Err(format!("`cargo xtask report {capture} --accel icount` failed: {why}"));
        }
        let problems = first.problems(self.board.expected_benches);
        let want = crate::bench::make_report(self.ws, self.board, Accel::Icount, ICOUNT_CMDLINE, first, &problems);
        let got = std::fs::read_to_string(&json).map_err(|e| format!("cannot read {json}: {e}"))?;
        check_report_json(&want.to_json(), &got)?;
        if !String::from_utf8_lossy(&out.stdout).contains(&crate::table::render(&want)) {
            return Err("the report's table differs from the boot's".to_string());
        }
        let out = self.xtask(&["report", &capture])?;
        if !out.status.success() || !String::from_utf8_lossy(&out.stdout).contains("accel=hardware") {
            return Err(format!("`cargo xtask report {capture}` did not pass with accel=hardware"));
        }
        // A kernel of the user's own board crate, which this workspace
        // does not have: reported as printed.
        let own = console.replace(&format!("board={} ", self.board.name), "board=my-own-soc ");
        let own = write("own-board.log", &own)?;
        let out = self.xtask(&["report", &own])?;
        if !out.status.success() || !String::from_utf8_lossy(&out.stdout).contains("board=my-own-soc ") {
            return Err(format!("`cargo xtask report {own}` (a board of the user's own) did not pass naming it"));
        }
        // The live console: a named pipe that stays open after the end
        // line (a serial port does), and stdin.
        let pipe = dir.join("console.fifo");
        let _ = std::fs::remove_file(&pipe);
        let made = std::process::Command::new("mkfifo").arg(&pipe).status().map_err(|e| format!("cannot run mkfifo: {e}"))?;
        if !made.success() {
            return Err(format!("mkfifo {} failed", pipe.display()));
        }
        let (w, text) = (pipe.clone(), std::fs::read(&capture).map_err(|e| e.to_string())?);
        let closed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let closing = closed.clone();
        std::thread::spawn(move || {
            if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&w) {
                let _ = std::io::Write::write_all(&mut f, &text);
                std::thread::sleep(Duration::from_secs(60));
            }
            closing.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let shown = pipe.display().to_string();
        let out = self.xtask(&["report", &shown, "--accel", "icount", "--timeout", "100"])?;
        if closed.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(format!("`cargo xtask report {shown}` read the pipe until it closed, not until IPCB end"));
        }
        if !out.status.success() || !String::from_utf8_lossy(&out.stdout).contains(&crate::table::render(&want)) {
            return Err(format!("`cargo xtask report {shown}` (a live console that stays open) did not pass with the boot's table"));
        }
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let input = std::fs::File::open(&capture).map_err(|e| e.to_string())?;
        let out = std::process::Command::new(exe)
            .args(["report", "-", "--accel", "icount"])
            .current_dir(&self.ws.root)
            .stdin(input)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() || !String::from_utf8_lossy(&out.stdout).contains(&crate::table::render(&want)) {
            return Err("`cargo xtask report - < capture.log` did not pass with the boot's table".to_string());
        }
        let missing = dir.join("missing.log").display().to_string();
        let empty = write("empty.log", "")?;
        let garbled = write("garbled.log", &format!("{firmware}{}", crlf.replacen(" median=", " median=8#", 1)))?;
        for bad in [&missing, &empty, &garbled] {
            let out = self.xtask(&["report", bad])?;
            check_bad_input(&["report", bad], out.status.success(), &String::from_utf8_lossy(&out.stderr))?;
        }
        let cut = write("cut.log", &format!("{firmware}{cut}"))?;
        let out = self.xtask(&["report", &cut])?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() || !stderr.lines().any(|l| l.starts_with("error: no \"IPCB end\" line")) {
            return Err(format!("`cargo xtask report {cut}` (cut before IPCB end) must fail saying so; printed: {}", crate::util::one_line(&stderr)));
        }
        eprintln!("[ipcb] report of a dressed-up capture equals the boot's; missing, empty, garbled and cut captures refused");
        Ok(())
    }

    /// Runs this xtask binary with `args` in the workspace; its output.
    fn xtask(&self, args: &[&str]) -> std::result::Result<std::process::Output, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find the xtask binary: {e}"))?;
        std::process::Command::new(&exe)
            .args(args)
            .current_dir(&self.ws.root)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", exe.display()))
    }

    /// Each command line of `bad` must be refused with one `error:` line
    /// ([`check_bad_input`]).
    fn refuses(&self, bad: &[&[&str]]) -> StepResult {
        for args in bad {
            let out = self.xtask(args)?;
            check_bad_input(args, out.status.success(), &String::from_utf8_lossy(&out.stderr))?;
        }
        Ok(())
    }

    fn determinism(&mut self) -> StepResult {
        let kernel = self.kernel()?.to_path_buf();
        let Some(first) = &self.first else {
            return Err("skipped: the first icount boot did not pass (see step 4)".to_string());
        };
        let first = first.transcript.clone();
        let o = self.boot(
            Accel::Icount,
            Medium::Kernel {
                elf: &kernel,
                cmdline: ICOUNT_CMDLINE,
            },
            ICOUNT_CMDLINE,
            "icount-2",
        )?;
        check_pass(&o, self.board.expected_benches)?;
        let n = compare_figures(&first, &o.transcript)?;
        eprintln!("[ipcb] {n} per-op figures identical in both boots");
        Ok(())
    }

    fn fault_injection(&mut self) -> StepResult {
        self.kernel()?;
        // The fault-injection kernel is a separate build (a feature); it
        // replaces the normal ELF at the same path until we rebuild that.
        let inject_build =
            image::build(self.ws, self.board, &[self.board.inject_feature]).map_err(err_string);
        let result = inject_build.and_then(|kernel| self.injections(&kernel));
        let restored = image::build(self.ws, self.board, &[]).map_err(err_string);
        match (result, restored) {
            (Err(e), _) => Err(e),
            (Ok(()), Err(e)) => Err(format!("rebuilding the normal kernel: {e}")),
            (Ok(()), Ok(_)) => Ok(()),
        }
    }

    fn injections(&self, kernel: &Path) -> StepResult {
        let mut errors = Vec::new();
        for inject in INJECTIONS {
            let cmdline = format!("{INJECT_CMDLINE} inject={inject}");
            let label = format!("inject-{inject}");
            let r = self
                .boot(
                    Accel::Icount,
                    Medium::Kernel {
                        elf: kernel,
                        cmdline: &cmdline,
                    },
                    &cmdline,
                    &label,
                )
                .and_then(|o| injection_detected(&o));
            match r {
                Ok(what) => eprintln!("[ipcb] inject={inject}: detected ({what})"),
                Err(e) => {
                    eprintln!("[ipcb] inject={inject}: NOT detected: {e}");
                    errors.push(format!("inject={inject}: {e}"));
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    /// A PC without a UART: the ISO (step 7's) boots with `-serial none`
    /// and the run is read from the screen (`screen.rs`).
    fn screen(&mut self) -> StepResult {
        let kernel = self.kernel()?.to_path_buf();
        let iso = self.ws.ipcb_dir().join(format!("test-{}-screen.iso", self.board.name));
        image::make_iso(self.ws, self.board, &kernel, GRUB_CMDLINE, &iso).map_err(err_string)?;
        let variant = board::Variant { smp: Some(GRUB_SMP), ..board::Variant::default() };
        let b = board::find_base(self.board.name)
            .and_then(|base| board::apply(base, &variant))
            .map_err(err_string)?;
        crate::screen::check(self.ws, b, &iso, &kernel, "screen", self.timeout).map_err(err_string)
    }

    /// The same ISO under OVMF, where GRUB EFI passes the GOP framebuffer.
    fn screen_ovmf(&mut self) -> StepResult {
        let kernel = self.kernel()?.to_path_buf();
        let iso = self.ws.ipcb_dir().join(format!("test-{}-screen.iso", self.board.name));
        image::make_iso(self.ws, self.board, &kernel, GRUB_CMDLINE, &iso).map_err(err_string)?;
        let base = board::find_base(self.board.name).map_err(err_string)?;
        let (b, vars) = crate::uefi_pc::ovmf_board_fresh(self.ws, base, "2G", GRUB_SMP, "screen").map_err(err_string)?;
        let r = crate::screen::check(self.ws, b, &iso, &kernel, "screen-ovmf", self.timeout).map_err(err_string);
        let _ = std::fs::remove_file(vars);
        r
    }

    fn grub(&mut self) -> StepResult {
        let kernel = self.kernel()?.to_path_buf();
        if !self.board.grub {
            return Err(format!("board {} does not boot from GRUB", self.board.name));
        }
        image::check_multiboot2(self.ws, &kernel).map_err(err_string)?;
        let iso = self
            .ws
            .ipcb_dir()
            .join(format!("test-{}.iso", self.board.name));
        image::make_iso(self.ws, self.board, &kernel, GRUB_CMDLINE, &iso).map_err(err_string)?;
        let variant = board::Variant {
            smp: Some(GRUB_SMP),
            ..board::Variant::default()
        };
        let b = board::find_base(self.board.name)
            .and_then(|base| board::apply(base, &variant))
            .map_err(err_string)?;
        let spec = BootSpec::checked(b, Accel::Tcg, Medium::Cdrom { iso: &iso, elf: &kernel }, GRUB_CMDLINE, self.timeout, "grub");
        let o = boot::boot(self.ws, &spec).map_err(err_string)?;
        check_pass(&o, self.board.expected_benches)?;
        check_cores(&o.transcript, GRUB_SMP, PARALLEL_BENCHES)
    }

    /// The memory map's bad input (`crate::uefi_pc`): no room for the
    /// kernel at all, then room for fewer CPUs than the machine has.
    fn small_ram(&mut self) -> StepResult {
        let kernel = self.kernel()?.to_path_buf();
        let base = board::find_base(self.board.name).map_err(err_string)?;
        let boot = |mem, smp| {
            crate::uefi_pc::boot_small(
                self.ws,
                base,
                &kernel,
                SMP_CMDLINE,
                mem,
                smp,
                self.timeout,
            )
            .map_err(err_string)
        };
        crate::uefi_pc::check_no_room(&boot("20M", 1)?)?;
        let o = boot("30M", 8)?;
        check_pass(&o, self.board.expected_benches)?;
        let cores = crate::uefi_pc::check_fewer_cores(&o, 8)?;
        check_cores(&o.transcript, cores, PARALLEL_BENCHES)
    }

    fn ovmf_iso(&mut self) -> StepResult {
        self.ovmf_boot("2G", 4, 1280)
    }

    /// The kernel ELF on an EFI system partition with GRUB EFI
    /// (`uefi_pc::boot_esp`) under OVMF with 8 GiB and 8 CPUs: it must
    /// pass with every core verified, having read the EFI memory map and
    /// seen the RAM.
    fn ovmf_big(&mut self) -> StepResult {
        let kernel = self.kernel()?.to_path_buf();
        let base = board::find_base(self.board.name).map_err(err_string)?;
        let (mem, smp) = ("8G", 8);
        let o = crate::uefi_pc::boot_esp(
            self.ws,
            base,
            &kernel,
            GRUB_CMDLINE,
            mem,
            smp,
            self.timeout,
        )
        .map_err(err_string)?;
        check_pass(&o, self.board.expected_benches)?;
        check_cores(&o.transcript, smp, PARALLEL_BENCHES)?;
        crate::uefi_pc::check_efi_map(&o, 7 * 1024)
    }

    /// The ISO of the GRUB step (made again if that step did not) under
    /// OVMF with `mem` and `smp` CPUs: it must pass with every core
    /// verified, the kernel must have read the EFI memory map and seen at
    /// least `min_mib` of RAM in it.
    fn ovmf_boot(&mut self, mem: &str, smp: u32, min_mib: u64) -> StepResult {
        let kernel = self.kernel()?.to_path_buf();
        let iso = self
            .ws
            .ipcb_dir()
            .join(format!("test-{}.iso", self.board.name));
        let iso = crate::uefi_pc::iso_for(self.ws, self.board, &kernel, GRUB_CMDLINE, &iso)
            .map_err(err_string)?;
        let base = board::find_base(self.board.name).map_err(err_string)?;
        let o = crate::uefi_pc::boot_iso(
            self.ws,
            base,
            &iso,
            &kernel,
            GRUB_CMDLINE,
            mem,
            smp,
            self.timeout,
        )
        .map_err(err_string)?;
        check_pass(&o, self.board.expected_benches)?;
        check_cores(&o.transcript, smp, PARALLEL_BENCHES)?;
        crate::uefi_pc::check_efi_map(&o, min_mib)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boot::tests::outcome;
    use crate::protocol::tests::{FAILED, PASS};

    const EXPECTED: &[&str] = &["ipc-intra", "ipc-inter", "syscall"];

    #[test]
    fn exception_level_checks() {
        assert_eq!(check_el(None, None), Ok(()));
        assert_eq!(check_el(Some(1), Some(1)), Ok(()));
        assert_eq!(
            check_el(Some(2), Some(1)).unwrap_err(),
            "expected EL2, the kernel says it ran at EL1"
        );
        assert!(check_el(Some(1), None).unwrap_err().ends_with("an unknown level"));
    }

    #[test]
    fn rpi5_files_check() {
        let config = rpi5_config().unwrap();
        // The Image header: code0 = b +0x40 (over the header), magic at 0x38.
        let mut img = 0x1400_0010u32.to_le_bytes().to_vec();
        img.resize(0x38, 0);
        img.extend_from_slice(b"ARM\x64");
        img.resize(0x40, 0);
        img.extend_from_slice(&BOOT_FIRST_INSN.to_le_bytes());
        img.resize(128, 0);
        assert_eq!(entry_insn(&img), Some(BOOT_FIRST_INSN));
        assert_eq!(check_rpi5_files(&img, 128, &config, 256), Ok(()));
        assert!(check_rpi5_files(&img, 128, &config, 64).unwrap_err().contains("over 64"));
        assert!(check_rpi5_files(&img, 192, &config, 256).unwrap_err().contains("not padded"));
        assert!(check_rpi5_files(&img, 128, "arm_64bit=1\n", 256).unwrap_err().contains("config.txt"));
        let mut bad = img.clone();
        bad[0x40] = 0;
        assert!(check_rpi5_files(&bad, 128, &config, 256).unwrap_err().contains("does not lead to ipcb_start"));
        let mut headless = img.clone();
        headless[0x38] = 0;
        assert!(check_rpi5_files(&headless, 128, &config, 256).unwrap_err().contains("no Linux arm64 Image header"));
    }

    #[test]
    fn s32g2_files_check() {
        let cmd = image::s32g2_boot_cmd("rounds=1");
        let u = board::find_base(S32G2_BOARD).unwrap().u_boot.unwrap();
        let load = u.load_address;
        // A header: b +64 (to the boot code), text_offset 0, image_size 256.
        let mut img = vec![0u8; 128];
        img[0..4].copy_from_slice(&(0x1400_0000u32 | 16).to_le_bytes());
        img[16..24].copy_from_slice(&256u64.to_le_bytes());
        img[0x38..0x3C].copy_from_slice(b"ARM\x64");
        img[64..68].copy_from_slice(&BOOT_FIRST_INSN.to_le_bytes());
        assert_eq!(check_s32g2_files(&img, load, 200, &cmd, "rounds=1"), Ok(()));
        assert!(check_s32g2_files(&img, load, 300, &cmd, "rounds=1").unwrap_err().contains("below the kernel's footprint"));
        assert!(check_s32g2_files(&img, load + 0x8_0000, 200, &cmd, "rounds=1").unwrap_err().contains("text_offset"));
        assert!(check_s32g2_files(&img, load, 200, &cmd, "rounds=2").unwrap_err().contains("boot.cmd"));
        let far = u.fdt_address - load + 1;
        let mut big = img.clone();
        big[16..24].copy_from_slice(&far.to_le_bytes());
        assert!(check_s32g2_files(&big, load, far, &cmd, "rounds=1").unwrap_err().contains("over the limit"));
        let mut bad = img.clone();
        bad[64..68].copy_from_slice(&0xd503_201fu32.to_le_bytes()); // nop
        assert!(check_s32g2_files(&bad, load, 200, &cmd, "rounds=1").unwrap_err().contains("does not lead to ipcb_start"));
        let mut headless = img.clone();
        headless[0x38] = 0;
        assert!(check_s32g2_files(&headless, load, 200, &cmd, "rounds=1").unwrap_err().contains("no Linux arm64 Image header"));
    }

    #[test]
    fn every_core_must_report() {
        let mut text = crate::protocol::tests::PASS.replace("cores=1", "cores=2");
        text = text.replace("IPCB end status=pass\r\n", "");
        text.push_str("IPCB result bench=ipc-intra-parallel words=0 core=0 counter=tsc unit=one-way-ipc ops=2000 runs=2 min=1 median=1 mean=1 max=1 verified=1\n");
        let t = Transcript::parse_str(&(text.clone() + "IPCB end status=pass\n")).unwrap();
        assert_eq!(
            check_cores(&t, 2, &["ipc-intra-parallel"]).unwrap_err(),
            "ipc-intra-parallel: no verified result from core 1"
        );
        assert_eq!(check_cores(&t, 4, &[]).unwrap_err(), "2 of 4 CPUs online");
        text.push_str("IPCB result bench=ipc-intra-parallel words=0 core=1 counter=tsc unit=one-way-ipc ops=2000 runs=2 min=1 median=1 mean=1 max=1 verified=1\n");
        let t = Transcript::parse_str(&(text + "IPCB end status=pass\n")).unwrap();
        assert_eq!(check_cores(&t, 2, &["ipc-intra-parallel"]), Ok(()));
    }

    #[test]
    fn fuzz_line_check() {
        assert_eq!(check_fuzz_line("fuzz: 100000 syscalls, 48 task kills, 0 kernel faults, benchmarks verified", 100_000), Ok(()));
        assert!(check_fuzz_line("fuzz: 99999 syscalls, 48 task kills, 0 kernel faults, benchmarks verified", 100_000).is_err());
        assert!(check_fuzz_line("fuzz: 100000 syscalls, 48 task kills, 1 kernel faults, benchmarks verified", 100_000).is_err());
        assert!(check_fuzz_line("fuzz: 100000 syscalls,  task kills, 0 kernel faults, benchmarks verified", 100_000).is_err());
        assert!(check_fuzz_line("", 100_000).is_err());
        assert_eq!(FUZZ_COUNT.to_string(), "100000", "the step's name says 100000");
    }

    #[test]
    fn latency_check_and_bad_input_check() {
        let lines = crate::protocol::tests::latency_lines();
        let text = crate::protocol::tests::PASS.replace("IPCB end", &format!("{lines}IPCB end"));
        let t = Transcript::parse_str(&text).unwrap();
        // ipc-intra's p50 172 is +2 from 85 x 2, ipc-inter's 190 (95 x 2) 0; syscall 29 is 28 + 1.
        assert_eq!(check_latency(&t, &["ipc-intra", "ipc-inter", "syscall"]), Ok(3));
        let far = Transcript::parse_str(&text.replace("min=29 p50=29 p90=29 p99=29 max=29 hist_lo=29", "min=40 p50=40 p90=40 p99=40 max=40 hist_lo=40")).unwrap();
        assert!(check_latency(&far, &["syscall"]).unwrap_err().contains("+12.00"));
        assert_eq!(check_latency(&t, &[]), Ok(3));
        assert_eq!(check_latency(&t, &["null"]), Err("no latency line for null".to_string()));
        let none = Transcript::parse_str(crate::protocol::tests::PASS).unwrap();
        assert_eq!(check_latency(&none, &["syscall"]), Err("no latency line for syscall".to_string()));
        assert!(check_bad_input(&["bench"], false, "error: --counter x\n").is_ok());
        assert!(check_bad_input(&["bench"], true, "").is_err());
        assert!(check_bad_input(&["bench"], false, "error: a\nerror: b\n").is_err());
        assert!(check_bad_input(&["bench"], false, "[ipcb] booting\nerror: a\n").is_err());
    }

    #[test]
    fn publish_checks() {
        let good = serde_json::json!({
            "description": "d", "license": "MIT", "readme": "README.md",
            "keywords": ["a"], "categories": ["os"], "repository": null
        });
        assert_eq!(check_publish_fields(&good), Ok(()));
        let mut no_kw = good.clone();
        no_kw["keywords"] = serde_json::json!([]);
        assert_eq!(check_publish_fields(&no_kw), Err("Cargo.toml has no keywords".to_string()));
        let mut fake = good.clone();
        fake["repository"] = "https://github.com/example/ipcbench-rs".into();
        assert!(check_publish_fields(&fake).unwrap_err().contains("placeholder"));
        assert!(registry_unreachable("error: failed to query replaced source registry `crates-io`\n  [6] Could not resolve host: index.crates.io"));
        assert!(registry_unreachable("error: download of config.json failed\n  [7] Could not connect to server"));
        assert!(!registry_unreachable("error: failed to verify package tarball\n  error[E0425]: cannot find value"));
    }

    #[test]
    fn summary_line_is_exact() {
        assert_eq!(summary_line(7, 0), "7 passed, 0 failed");
        assert_eq!(summary_line(4, 3), "4 passed, 3 failed");
    }

    #[test]
    fn pass_check() {
        assert_eq!(check_pass(&outcome(PASS, Some(33)), EXPECTED), Ok(()));
        let e = check_pass(&outcome(FAILED, Some(35)), EXPECTED).unwrap_err();
        assert_eq!(e, "ipc-inter: mr2 mismatch");
        let e = check_pass(&outcome(PASS, Some(37)), EXPECTED).unwrap_err();
        assert!(e.starts_with("kernel panic"), "{e}");
    }

    #[test]
    fn wx_test_must_be_reported() {
        let t = Transcript::parse_str(PASS).unwrap();
        assert!(check_wx(&t).is_err());
        let t = Transcript::parse_str(&format!("IPCB ok test={WX_TEST}\n{PASS}")).unwrap();
        assert_eq!(check_wx(&t), Ok(()));
    }

    #[test]
    fn report_json_ignores_host_fields_only() {
        let want = r#"{"board":"pc-x86_64","results":[1],"git_commit":"abc","qemu":"7.2","exit_code":33}"#;
        assert_eq!(check_report_json(want, r#"{"board":"pc-x86_64","results":[1],"git_commit":null}"#), Ok(()));
        let e = check_report_json(want, r#"{"board":"pc-x86_64","results":[2],"extra":0}"#).unwrap_err();
        assert_eq!(e, "the report's results.json differs from the boot's in: extra, results");
        assert!(check_report_json(want, "[]").is_err());
    }

    #[test]
    fn determinism_compares_medians() {
        let a = Transcript::parse_str(PASS).unwrap();
        assert_eq!(compare_figures(&a, &a.clone()), Ok(3));
        let b = Transcript::parse_str(&PASS.replace(
            "median=95.00 mean=95.00 max=95.00",
            "median=95.00 mean=95.01 max=95.02",
        ))
        .unwrap();
        assert_eq!(
            compare_figures(&a, &b),
            Ok(3),
            "mean is not the per-op figure"
        );
        let c = Transcript::parse_str(&PASS.replace(
            "min=28.00 median=28.00 mean=28.00 max=28.00",
            "min=28.00 median=28.50 mean=28.50 max=29.00",
        ))
        .unwrap();
        let e = compare_figures(&a, &c).unwrap_err();
        assert!(e.ends_with("syscall core 0 tsc: 28.00 then 28.50"), "{e}");
        let d = Transcript::parse_str(&PASS.replace("bench=ipc-inter", "bench=ipc-other")).unwrap();
        let e = compare_figures(&a, &d).unwrap_err();
        assert!(
            e.contains("ipc-inter core 0 tsc: missing in the second boot"),
            "{e}"
        );
        assert!(
            e.contains("ipc-other core 0 tsc: missing in the first boot"),
            "{e}"
        );
        assert!(compare_figures(&Transcript::default(), &a).is_err());
    }

    #[test]
    fn determinism_and_pass_check_cover_the_sweep() {
        let text = crate::protocol::tests::pass_with_sweep();
        assert_eq!(check_pass(&outcome(&text, Some(33)), EXPECTED), Ok(()));
        let a = Transcript::parse_str(&text).unwrap();
        assert_eq!(compare_figures(&a, &a.clone()), Ok(3 + 8));
        let b = Transcript::parse_str(&text.replace(
            "words=32 core=0 counter=tsc unit=one-way-ipc ops=40000 runs=5 min=482.00 median=482.00",
            "words=32 core=0 counter=tsc unit=one-way-ipc ops=40000 runs=5 min=482.00 median=483.00",
        ).replace("mean=482.00 max=482.00", "mean=483.00 max=483.00"))
        .unwrap();
        let e = compare_figures(&a, &b).unwrap_err();
        assert!(
            e.ends_with("ipc-sweep words 32 core 0 tsc: 482.00 then 483.00"),
            "{e}"
        );
        let e = compare_figures(&a, &Transcript::parse_str(PASS).unwrap()).unwrap_err();
        assert!(
            e.contains("ipc-sweep words 0 core 0 tsc: missing in the second boot"),
            "{e}"
        );
    }

    #[test]
    fn injection_must_fail_an_ipc_bench_with_code_35() {
        assert_eq!(
            injection_detected(&outcome(FAILED, Some(35))),
            Ok("ipc-inter: mr2 mismatch".to_string())
        );
        let e = injection_detected(&outcome(FAILED, Some(33))).unwrap_err();
        assert!(e.contains("expected exit code 35"), "{e}");
        let e = injection_detected(&outcome(PASS, Some(33))).unwrap_err();
        assert!(e.contains("no \"IPCB fail\" line"), "{e}");
        let syscall_only = FAILED.replace(
            "bench=ipc-inter core=0 reason",
            "bench=syscall core=0 reason",
        );
        assert!(injection_detected(&outcome(&syscall_only, Some(35))).is_err());
        let no_end = FAILED.replace("IPCB end status=fail\n", "");
        let e = injection_detected(&outcome(&no_end, Some(35))).unwrap_err();
        assert!(e.contains("no \"IPCB end status=fail\""), "{e}");
        let mut hung = outcome(&no_end, None);
        hung.hung = true;
        assert!(
            injection_detected(&hung)
                .unwrap_err()
                .starts_with("guest hung")
        );
    }

    #[test]
    fn watchdog_boot_needs_one_kill_the_test_and_no_interrupts() {
        let good = concat!(
            "IPCB watchdog core=0 task=0 reason=\"ran past its budget of 20000000 ticks\"\n",
            "IPCB ok test=watchdog kills=1 budget=20000000\n",
            "IPCB result bench=null core=0 counter=tsc unit=syscall ops=10 runs=1 min=13 median=13 mean=13 max=13 interrupts=0 verified=1\n",
        );
        assert_eq!(check_watchdog(&Transcript::parse_str(good).unwrap()), Ok(()));
        let none = good.lines().skip(1).collect::<Vec<_>>().join("\n") + "\n";
        assert!(check_watchdog(&Transcript::parse_str(&none).unwrap()).unwrap_err().contains("0 \"IPCB watchdog\""));
        let other = good.replace("20000000 ticks", "5 ticks");
        assert!(check_watchdog(&Transcript::parse_str(&other).unwrap()).is_err());
        let no_ok = good.replace("IPCB ok test=watchdog", "IPCB ok test=bad-cap");
        assert!(check_watchdog(&Transcript::parse_str(&no_ok).unwrap()).is_err());
        let irq = good.replace("interrupts=0", "interrupts=2");
        assert!(check_watchdog(&Transcript::parse_str(&irq).unwrap()).unwrap_err().contains("interrupts=Some(2)"));
        let old = good.replace(" interrupts=0", "");
        assert!(check_watchdog(&Transcript::parse_str(&old).unwrap()).is_err());
    }

    #[test]
    fn fuzz_boot_fuzzes_on_every_core() {
        let two = "[ipcb] kernel up: board=pc-x86_64 arch=x86_64 cores=2\n[ipcb] ok     fuzz-parallel\n[ipcb] ok     fuzz-parallel\n";
        assert_eq!(check_fuzz_parallel(two), Ok(()));
        let one_missing = two.replacen("[ipcb] ok     fuzz-parallel\n", "", 1);
        assert!(check_fuzz_parallel(&one_missing).unwrap_err().contains("1 cores passed"));
        assert_eq!(check_fuzz_parallel("[ipcb] kernel up: board=x arch=y cores=1\n"), Ok(()));
        assert!(check_fuzz_parallel("nothing\n").is_err());
    }

    #[test]
    fn watchdog_boot_on_two_cores_needs_a_kill_on_each() {
        let good = concat!(
            "IPCB hello proto=1 board=qemu-virt-aarch64 arch=aarch64 el=1 cores=2\n",
            "IPCB watchdog core=0 task=0 reason=\"ran past its budget of 20000000 ticks\"\n",
            "IPCB ok test=watchdog kills=1 budget=20000000\n",
            "IPCB watchdog core=1 task=0 reason=\"ran past its budget of 20000000 ticks\"\n",
            "IPCB watchdog core=0 task=0 reason=\"ran past its budget of 20000000 ticks\"\n",
            "IPCB ok test=watchdog-parallel core=0 kills=1 budget=20000000\n",
            "IPCB ok test=watchdog-parallel core=1 kills=1 budget=20000000\n",
            "IPCB result bench=null core=0 counter=pmccntr unit=syscall ops=10 runs=1 min=16 median=16 mean=16 max=16 interrupts=0 verified=1\n",
        );
        assert_eq!(check_watchdog(&Transcript::parse_str(good).unwrap()), Ok(()));
        // Core 1's timer never fired (armed on the boot CPU only).
        let no_core1: String = good.lines().filter(|l| !l.starts_with("IPCB watchdog core=1")).map(|l| format!("{l}\n")).collect();
        let e = check_watchdog(&Transcript::parse_str(&no_core1).unwrap()).unwrap_err();
        assert!(e.contains("0 \"IPCB watchdog\" lines for core 1"), "{e}");
        // Or its scenario did not pass.
        let failed = good.replace("watchdog-parallel core=1", "watchdog-parallel-x core=1");
        assert!(check_watchdog(&Transcript::parse_str(&failed).unwrap()).unwrap_err().contains("1 \"IPCB ok test=watchdog-parallel\""));
        // A core the hello line does not have.
        let extra = good.replace("cores=2", "cores=1");
        assert!(check_watchdog(&Transcript::parse_str(&extra).unwrap()).is_err());
    }
}
