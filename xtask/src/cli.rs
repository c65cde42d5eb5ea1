// SPDX-License-Identifier: MIT OR Apache-2.0
//! The command line of `cargo xtask`: its subcommands and options (clap),
//! and their parse into a [`Cmd`]; `main` runs it.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Arg, ArgAction, ArgMatches, Command, value_parser};

use crate::accel::AccelChoice;
use crate::board::Accel;
use crate::capture::ReportOpts;
use crate::{board, fuzz, soak};

/// A parsed command line.
#[derive(Debug, PartialEq)]
pub enum Cmd {
    /// `compare`
    Compare {
        /// The older results.json.
        old: PathBuf,
        /// The newer results.json.
        new: PathBuf,
        /// Regression threshold in percent (`None`: the default).
        threshold: Option<f64>,
        /// Compare unlike runs anyway.
        force: bool,
    },
    /// `build`
    Build {
        /// Board.
        board: String,
    },
    /// `run`
    Run {
        /// Board.
        board: String,
        /// Accelerator.
        accel: AccelChoice,
        /// Seconds before QEMU is killed.
        timeout: Option<u64>,
        /// Kernel command line.
        cmdline: Vec<String>,
        /// Print the decoded defmt diagnostics.
        verbose: bool,
        /// Prebuilt kernel.
        kernel: Option<PathBuf>,
    },
    /// `bench`
    Bench {
        /// Board.
        board: String,
        /// Accelerator.
        accel: AccelChoice,
        /// Rounds per run.
        rounds: Option<u64>,
        /// Measured runs.
        runs: Option<u32>,
        /// Message words of ipc-intra and ipc-inter.
        words: Option<u64>,
        /// JSON output path.
        json: Option<PathBuf>,
        /// Seconds before the guest counts as hung.
        timeout: u64,
        /// Echo the console.
        verbose: bool,
        /// Prebuilt kernel.
        kernel: Option<PathBuf>,
        /// Time single rounds too.
        latency: bool,
        /// The counter that times them.
        counter: Option<String>,
        /// Kernel isolation.
        kpti: bool,
    },
    /// `fuzz`
    Fuzz(fuzz::FuzzOpts),
    /// `soak`
    Soak(soak::SoakOpts),
    /// `report`
    Report(ReportOpts),
    /// `test`
    Test {
        /// Board.
        board: String,
        /// Seconds per boot.
        timeout: u64,
    },
    /// `image`
    Image {
        /// Board.
        board: String,
        /// Output directory.
        out: Option<PathBuf>,
        /// Kernel command line (`cmdline.txt`).
        cmdline: Vec<String>,
        /// Prebuilt kernel.
        kernel: Option<PathBuf>,
    },
    /// `iso`
    Iso {
        /// Board.
        board: String,
        /// Output file.
        out: Option<PathBuf>,
        /// Kernel command line in grub.cfg.
        cmdline: Vec<String>,
        /// Prebuilt kernel.
        kernel: Option<PathBuf>,
    },
}

fn board_arg() -> Arg {
    Arg::new("board")
        .long("board")
        .value_name("BOARD")
        .default_value("pc-x86_64")
        .help("Board: a crate in examples/ (pc-x86_64, qemu-virt-aarch64, raspi3b, uefi-aarch64, zcu102 boot in QEMU; rpi5, s32g2 image only); a wrong name lists them")
}

/// `--kpti`, of `bench`, `fuzz` and `soak`.
fn kpti_arg() -> Arg {
    Arg::new("kpti")
        .long("kpti")
        .action(ArgAction::SetTrue)
        .help("x86_64: kernel isolation (KPTI-style: user page tables map only the kernel's entry trampoline; CR3 switched on every entry and exit). Default off, as the published figures are measured")
}

fn el_arg() -> Arg {
    Arg::new("el")
        .long("el")
        .value_name("EL")
        .value_parser(value_parser!(u8).range(1..=2))
        .help("Arm: qemu-virt-aarch64: start at EL1 (default) or EL2 (virtualization=on; the kernel keeps EL2 with VHE); zcu102: enter at EL1 (default) or EL2 (virtualization=on; the A53 drops to EL1); rpi5: run at EL2 (default) or drop to EL1")
}

fn cpu_arg() -> Arg {
    Arg::new("cpu")
        .long("cpu")
        .value_name("MODEL")
        .help("QEMU -cpu model under TCG (qemu-virt-aarch64: max, cortex-a53, cortex-a57, cortex-a72, cortex-a76, neoverse-n1)")
}

/// The board variant (`--el`, `--cpu`, `--smp`) of a parsed command line.
/// Commands that boot (`run`, `bench`, `test`) take `--smp`; with it absent
/// they give QEMU the default CPU count.
pub fn variant(m: &ArgMatches) -> board::Variant {
    let Some((_, sub)) = m.subcommand() else {
        return board::Variant::default();
    };
    let has = |id: &str| sub.try_contains_id(id).unwrap_or(false);
    board::Variant {
        el: if has("el") {
            sub.get_one::<u8>("el").copied()
        } else {
            None
        },
        cpu: if has("cpu") {
            sub.get_one::<String>("cpu").cloned()
        } else {
            None
        },
        smp: if has("smp") {
            sub.get_one::<u32>("smp").copied()
        } else {
            None
        },
        // Defined for this subcommand (present or not): it boots.
        default_smp: sub.try_get_one::<u32>("smp").is_ok(),
    }
}

/// `--timeout` of the long-run commands (`fuzz`, `soak`), with `help`.
fn long_run_timeout_arg(help: &'static str) -> Arg {
    Arg::new("timeout").long("timeout").value_name("SECS").value_parser(value_parser!(u64).range(1..)).help(help)
}

/// `--verbose` of the long-run commands.
fn long_run_verbose_arg() -> Arg {
    Arg::new("verbose")
        .long("verbose")
        .short('v')
        .action(ArgAction::SetTrue)
        .help("Echo every console line and the decoded defmt diagnostics to stderr")
}

fn smp_arg() -> Arg {
    Arg::new("smp")
        .long("smp")
        .value_name("N")
        .value_parser(value_parser!(u32).range(1..=board::MAX_SMP as i64))
        .help("CPUs for QEMU (-smp; default: the host's CPUs, at most 4; raspi3b has 4, fixed; zcu102: 1 to 4 Cortex-A53)")
}

fn accel_arg() -> Arg {
    Arg::new("accel")
        .long("accel")
        .value_name("ACCEL")
        .value_parser(AccelChoice::NAMES)
        .default_value("auto")
        .help("auto: KVM if it runs at hardware speed, else TCG; icount: exact instruction counts; tcg: virtual time")
}

fn kernel_arg() -> Arg {
    Arg::new("kernel")
        .long("kernel")
        .value_name("ELF")
        .value_parser(value_parser!(PathBuf))
        .help("Boot this prebuilt kernel ELF instead of building one")
}

fn cmdline_arg(help: &'static str) -> Arg {
    Arg::new("cmdline")
        .value_name("KERNEL_ARGS")
        .num_args(0..)
        .last(true)
        .help(help)
}

/// The command-line interface.
pub fn cli() -> Command {
    Command::new("cargo xtask")
        .bin_name("cargo xtask")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Build, boot and benchmark the ipcbench-rs kernels")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(
            Command::new("build")
                .about("Build the user program, then the kernel that embeds it; prints the kernel ELF path")
                .arg(board_arg()),
        )
        .subcommand(
            Command::new("run")
                .about("Boot the kernel in QEMU and stream its console to stdout")
                .arg(board_arg())
                .arg(accel_arg())
                .arg(
                    Arg::new("timeout")
                        .long("timeout")
                        .value_name("SECS")
                        .value_parser(value_parser!(u64))
                        .help("Kill QEMU after this many seconds (default: never)"),
                )
                .arg(
                    Arg::new("verbose")
                        .long("verbose")
                        .short('v')
                        .action(ArgAction::SetTrue)
                        .help("Also print the decoded defmt diagnostics to stderr, prefixed `[defmt] `"),
                )
                .arg(el_arg())
                .arg(smp_arg())
                .arg(cpu_arg())
                .arg(kernel_arg())
                .arg(cmdline_arg("Kernel command line, e.g. `-- rounds=1000 runs=3`")),
        )
        .subcommand(
            Command::new("bench")
                .about("Build, boot and decode: print the results table, optionally write JSON")
                .arg(board_arg())
                .arg(accel_arg())
                .arg(
                    Arg::new("rounds")
                        .long("rounds")
                        .value_name("N")
                        .value_parser(value_parser!(u64).range(1..))
                        .help("Rounds per run (kernel default 20000)"),
                )
                .arg(
                    Arg::new("runs")
                        .long("runs")
                        .value_name("N")
                        // The kernel keeps at most pmu::MAX_RUNS runs' totals:
                        // more is refused here, not silently capped there.
                        .value_parser(value_parser!(u32).range(1..=pmu::MAX_RUNS as i64))
                        .help("Measured runs per benchmark (kernel default 5, at most 64)"),
                )
                .arg(
                    Arg::new("words")
                        .long("words")
                        .value_name("N")
                        .value_parser(value_parser!(u64).range(0..=63))
                        .help("Message words of ipc-intra and ipc-inter (default 0, the empty message of L4Re's ipcbench; the sweep covers 0..63)"),
                )
                .arg(
                    Arg::new("json")
                        .long("json")
                        .value_name("PATH")
                        .num_args(0..=1)
                        .default_missing_value("results.json")
                        .value_parser(value_parser!(PathBuf))
                        .help("Write JSON to PATH (default results.json); a copy always goes to the run's output directory"),
                )
                .arg(
                    Arg::new("timeout")
                        .long("timeout")
                        .value_name("SECS")
                        .value_parser(value_parser!(u64).range(1..))
                        .default_value("600")
                        .help("Seconds before the guest counts as hung"),
                )
                .arg(
                    Arg::new("verbose")
                        .long("verbose")
                        .short('v')
                        .action(ArgAction::SetTrue)
                        .help("Echo every console line and the decoded defmt diagnostics to stderr"),
                )
                .arg(
                    Arg::new("latency")
                        .long("latency")
                        .action(ArgAction::SetTrue)
                        .help("Also time every round of ipc-intra, ipc-inter, syscall, null and floor on its own: counter read overhead, p50/p90/p99/max, histogram plots"),
                )
                .arg(
                    Arg::new("counter")
                        .long("counter")
                        .value_name("NAME")
                        .help("The counter --latency times rounds with: x86_64 tsc (default), instructions, core-cycles, ref-cycles; Arm pmccntr (default), instructions"),
                )
                .arg(kpti_arg())
                .arg(el_arg())
                .arg(smp_arg())
                .arg(cpu_arg())
                .arg(kernel_arg()),
        )
        .subcommand(
            Command::new("test")
                .about("Run the full test suite (host tests, clippy, QEMU boots, fault injection, GRUB); the last line is `N passed, M failed`")
                .arg(board_arg())
                .arg(
                    Arg::new("timeout")
                        .long("timeout")
                        .value_name("SECS")
                        .value_parser(value_parser!(u64).range(1..))
                        .default_value("600")
                        .help("Seconds before a guest counts as hung, per boot"),
                ),
        )
        .subcommand(
            Command::new("fuzz")
                .about("Seeded syscall fuzzing in the guest, then the benchmarks in the same boot; prints the seed first and, when all passed, `fuzz: N syscalls, K task kills, 0 kernel faults, benchmarks verified` last")
                .arg(board_arg())
                .arg(
                    Arg::new("count")
                        .long("count")
                        .value_name("N")
                        .allow_hyphen_values(true)
                        .help("Syscalls to make (default 100000)"),
                )
                .arg(
                    Arg::new("seed")
                        .long("seed")
                        .value_name("S")
                        .allow_hyphen_values(true)
                        .help("The seed, decimal or 0x hex (default: a fresh one, printed); the same seed replays the same run"),
                )
                .arg(accel_arg().default_value("tcg"))
                .arg(long_run_timeout_arg("Seconds before the guest counts as hung (default 300 + N / 5000)"))
                .arg(long_run_verbose_arg())
                .arg(kpti_arg())
                .arg(el_arg())
                .arg(smp_arg())
                .arg(cpu_arg()),
        )
        .subcommand(
            Command::new("soak")
                .about("SMP soak: intra, inter (0-63 words) and cross-core IPC on every core at once, every message verified; ends with `soak: N one-way IPCs on C cores ..., corrupted 0`")
                .arg(board_arg())
                .arg(
                    Arg::new("ipcs")
                        .long("ipcs")
                        .value_name("M")
                        .allow_hyphen_values(true)
                        .help("One-way IPCs in all, at least (default 1000000)"),
                )
                .arg(accel_arg().default_value("tcg"))
                .arg(long_run_timeout_arg("Seconds before the guest counts as hung (default 300 + M / 10000)"))
                .arg(long_run_verbose_arg())
                .arg(kpti_arg())
                .arg(el_arg())
                .arg(smp_arg())
                .arg(cpu_arg()),
        )
        .subcommand(
            Command::new("image")
                .about("Make a board's boot files (raw kernel image, config.txt, cmdline.txt) in a directory, checked against the loader; prints the directory")
                .arg(board_arg().default_value("rpi5"))
                .arg(
                    Arg::new("out")
                        .long("out")
                        .value_name("DIR")
                        .value_parser(value_parser!(PathBuf))
                        .help("Output directory (default target/ipcb/image-<board>)"),
                )
                .arg(el_arg())
                .arg(kernel_arg())
                .arg(cmdline_arg("Kernel command line in cmdline.txt (default rounds=20000 runs=5)")),
        )
        .subcommand(
            Command::new("compare")
                .about("Compare two results.json figure by figure; exit 1 when a figure regressed past the threshold")
                .arg(Arg::new("old").value_name("OLD.json").required(true).value_parser(value_parser!(PathBuf)))
                .arg(Arg::new("new").value_name("NEW.json").required(true).value_parser(value_parser!(PathBuf)))
                .arg(
                    Arg::new("threshold")
                        .long("threshold")
                        .value_name("PCT")
                        .allow_negative_numbers(true)
                        .value_parser(value_parser!(f64))
                        .help("Growth in percent that counts as a regression (default 0 under icount, where every change is exact; 5 otherwise)"),
                )
                .arg(
                    Arg::new("force")
                        .long("force")
                        .action(ArgAction::SetTrue)
                        .help("Compare files of different boards, accelerators, counters or benches"),
                ),
        )
        .subcommand(
            Command::new("report")
                .about("Turn a serial capture of a real machine's console into the table, results.json and plots of bench; exit 1 when a check failed or the capture is cut short")
                .arg(Arg::new("log").value_name("LOG").required(true).value_parser(value_parser!(PathBuf)).help("The console capture (picocom --logfile, screen -L, ...), or the live console: a serial device such as /dev/ttyACM0, a pipe, - for stdin"))
                .arg(
                    Arg::new("board")
                        .long("board")
                        .value_name("BOARD")
                        .help("The board (default: the one the kernel's hello line names; given, it must match)"),
                )
                .arg(
                    Arg::new("accel")
                        .long("accel")
                        .value_name("ACCEL")
                        .value_parser(["hardware", "kvm", "tcg", "icount"])
                        .default_value("hardware")
                        .help("What the kernel ran on: hardware (a real machine: its own counters), or kvm, tcg, icount for a saved QEMU console"),
                )
                .arg(
                    Arg::new("json")
                        .long("json")
                        .value_name("PATH")
                        .value_parser(value_parser!(PathBuf))
                        .help("Also write the JSON to PATH; a copy always goes to the report's output directory"),
                )
                .arg(
                    Arg::new("timeout")
                        .long("timeout")
                        .value_name("SECS")
                        .value_parser(value_parser!(u64).range(1..))
                        .default_value("600")
                        .help("When LOG is a live console (a serial device, a pipe, - for stdin): seconds to wait for IPCB end"),
                ),
        )
        .subcommand(
            Command::new("iso")
                .about("Make a hybrid (BIOS + UEFI) GRUB2 ISO that boots the kernel with multiboot2")
                .arg(board_arg())
                .arg(
                    Arg::new("out")
                        .long("out")
                        .value_name("PATH")
                        .value_parser(value_parser!(PathBuf))
                        .help("Output file (default target/ipcb/ipcbench-<board>.iso)"),
                )
                .arg(kernel_arg())
                .arg(cmdline_arg("Kernel command line in grub.cfg (default rounds=20000)")),
        )
}

/// Turns clap's matches into a [`Cmd`].
pub fn parse(m: &ArgMatches) -> Cmd {
    let (name, sub) = m.subcommand().expect("a subcommand is required");
    let board = sub.get_one::<String>("board").cloned().unwrap_or_default();
    let accel = || {
        sub.get_one::<String>("accel")
            .and_then(|a| AccelChoice::parse(a))
            .unwrap_or(AccelChoice::Auto)
    };
    let cmdline = || {
        sub.get_many::<String>("cmdline")
            .map(|v| v.cloned().collect())
            .unwrap_or_default()
    };
    match name {
        "compare" => Cmd::Compare {
            old: sub.get_one::<PathBuf>("old").cloned().unwrap_or_default(),
            new: sub.get_one::<PathBuf>("new").cloned().unwrap_or_default(),
            threshold: sub.get_one::<f64>("threshold").copied(),
            force: sub.get_flag("force"),
        },
        "build" => Cmd::Build { board },
        "run" => Cmd::Run {
            board,
            accel: accel(),
            timeout: sub.get_one::<u64>("timeout").copied(),
            cmdline: cmdline(),
            verbose: sub.get_flag("verbose"),
            kernel: sub.get_one::<PathBuf>("kernel").cloned(),
        },
        "bench" => Cmd::Bench {
            board,
            accel: accel(),
            rounds: sub.get_one::<u64>("rounds").copied(),
            runs: sub.get_one::<u32>("runs").copied(),
            words: sub.get_one::<u64>("words").copied(),
            json: sub.get_one::<PathBuf>("json").cloned(),
            timeout: sub.get_one::<u64>("timeout").copied().unwrap_or(600),
            verbose: sub.get_flag("verbose"),
            kernel: sub.get_one::<PathBuf>("kernel").cloned(),
            latency: sub.get_flag("latency"),
            counter: sub.get_one::<String>("counter").cloned(),
            kpti: sub.get_flag("kpti"),
        },
        "fuzz" => Cmd::Fuzz(fuzz::FuzzOpts {
            board,
            count: sub.get_one::<String>("count").cloned(),
            seed: sub.get_one::<String>("seed").cloned(),
            accel: accel(),
            timeout: sub.get_one::<u64>("timeout").copied(),
            verbose: sub.get_flag("verbose"),
            el: sub.get_one::<u8>("el").copied(),
            smp: sub.get_one::<u32>("smp").copied(),
            kpti: sub.get_flag("kpti"),
        }),
        "soak" => Cmd::Soak(soak::SoakOpts {
            board,
            ipcs: sub.get_one::<String>("ipcs").cloned(),
            accel: accel(),
            timeout: sub.get_one::<u64>("timeout").copied(),
            verbose: sub.get_flag("verbose"),
            kpti: sub.get_flag("kpti"),
        }),
        "report" => Cmd::Report(ReportOpts {
            log: sub.get_one::<PathBuf>("log").cloned().unwrap_or_default(),
            board: sub.get_one::<String>("board").cloned(),
            accel: match sub.get_one::<String>("accel").map(String::as_str) {
                Some("kvm") => Accel::Kvm,
                Some("tcg") => Accel::Tcg,
                Some("icount") => Accel::Icount,
                _ => Accel::Hardware,
            },
            json: sub.get_one::<PathBuf>("json").cloned(),
            timeout: std::time::Duration::from_secs(sub.get_one::<u64>("timeout").copied().unwrap_or(600)),
        }),
        "test" => Cmd::Test {
            board,
            timeout: sub.get_one::<u64>("timeout").copied().unwrap_or(600),
        },
        "image" => Cmd::Image {
            board,
            out: sub.get_one::<PathBuf>("out").cloned(),
            cmdline: cmdline(),
            kernel: sub.get_one::<PathBuf>("kernel").cloned(),
        },
        "iso" => Cmd::Iso {
            board,
            out: sub.get_one::<PathBuf>("out").cloned(),
            cmdline: cmdline(),
            kernel: sub.get_one::<PathBuf>("kernel").cloned(),
        },
        other => unreachable!("unknown subcommand {other}"),
    }
}

/// Makes a path option absolute (child processes run in the workspace root).
pub fn absolute(p: Option<PathBuf>, what: &str) -> Result<Option<PathBuf>> {
    p.map(std::path::absolute)
        .transpose()
        .with_context(|| format!("bad {what} path"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_args(args: &[&str]) -> Result<Cmd, clap::Error> {
        let mut full = vec!["xtask"];
        full.extend_from_slice(args);
        cli().try_get_matches_from(full).map(|m| parse(&m))
    }

    #[test]
    fn cli_is_consistent() {
        cli().debug_assert();
    }

    #[test]
    fn runs_beyond_what_the_kernel_keeps_are_refused() {
        assert_eq!(pmu::MAX_RUNS, 64, "the --runs help text says 64");
        assert!(parse_args(&["bench", "--runs", "64"]).is_ok());
        assert!(parse_args(&["bench", "--runs", "65"]).is_err());
    }

    #[test]
    fn bench_options_parse() {
        let cmd = parse_args(&[
            "bench",
            "--accel",
            "icount",
            "--rounds",
            "100",
            "--runs",
            "2",
            "--json",
            "--timeout",
            "5",
        ])
        .unwrap();
        assert_eq!(
            cmd,
            Cmd::Bench {
                board: "pc-x86_64".into(),
                accel: AccelChoice::Icount,
                rounds: Some(100),
                runs: Some(2),
                words: None,
                json: Some(PathBuf::from("results.json")),
                timeout: 5,
                verbose: false,
                kernel: None,
                latency: false,
                counter: None,
                kpti: false,
            }
        );
        assert!(matches!(parse_args(&["bench", "--kpti"]).unwrap(), Cmd::Bench { kpti: true, .. }));
        assert!(matches!(
            parse_args(&["bench", "--latency", "--counter", "instructions"]).unwrap(),
            Cmd::Bench { latency: true, counter: Some(ref c), .. } if c == "instructions"
        ));
        let cmd = parse_args(&["bench", "--json", "out/r.json", "-v"]).unwrap();
        assert!(
            matches!(cmd, Cmd::Bench { json: Some(ref p), accel: AccelChoice::Auto, timeout: 600, verbose: true, .. } if p == &PathBuf::from("out/r.json"))
        );
        assert!(matches!(
            parse_args(&["bench"]).unwrap(),
            Cmd::Bench {
                json: None,
                rounds: None,
                ..
            }
        ));
        assert!(parse_args(&["bench", "--accel", "fast"]).is_err());
        assert!(parse_args(&["bench", "--rounds", "0"]).is_err());
        assert!(parse_args(&[]).is_err());
    }

    #[test]
    fn el_and_cpu_parse_into_a_variant() {
        let v = |args: &[&str]| {
            let mut full = vec!["xtask"];
            full.extend_from_slice(args);
            variant(&cli().try_get_matches_from(full).unwrap())
        };
        // Booting commands get the default -smp; `build` boots nothing.
        assert_eq!(
            v(&["bench"]),
            board::Variant {
                default_smp: true,
                ..board::Variant::default()
            }
        );
        assert_eq!(v(&["build"]), board::Variant::default());
        assert_eq!(v(&["run", "--smp", "4"]).smp, Some(4));
        assert!(
            cli()
                .try_get_matches_from(["xtask", "bench", "--smp", "0"])
                .is_err()
        );
        assert_eq!(
            v(&[
                "bench",
                "--board",
                "qemu-virt-aarch64",
                "--el",
                "2",
                "--cpu",
                "cortex-a76"
            ]),
            board::Variant {
                el: Some(2),
                cpu: Some("cortex-a76".into()),
                smp: None,
                default_smp: true,
            }
        );
        assert_eq!(v(&["run", "--el", "1"]).el, Some(1));
        assert!(
            cli()
                .try_get_matches_from(["xtask", "bench", "--el", "3"])
                .is_err()
        );
    }

    #[test]
    fn fuzz_parses() {
        assert_eq!(
            parse_args(&["report", "pi5.log"]).unwrap(),
            Cmd::Report(ReportOpts { log: "pi5.log".into(), board: None, accel: Accel::Hardware, json: None, timeout: std::time::Duration::from_secs(600) })
        );
        assert_eq!(
            parse_args(&["report", "q.log", "--board", "raspi3b", "--accel", "icount", "--json", "r.json", "--timeout", "5"]).unwrap(),
            Cmd::Report(ReportOpts {
                log: "q.log".into(),
                board: Some("raspi3b".into()),
                accel: Accel::Icount,
                json: Some("r.json".into()),
                timeout: std::time::Duration::from_secs(5),
            })
        );
        assert!(parse_args(&["report"]).is_err());
        assert!(parse_args(&["report", "x.log", "--accel", "auto"]).is_err());
        assert!(parse_args(&["report", "/dev/ttyACM0", "--timeout", "0"]).is_err());
        let cmd = parse_args(&["fuzz", "--board", "qemu-virt-aarch64", "--count", "1000", "--seed", "0x2a", "--el", "2"]).unwrap();
        assert_eq!(
            cmd,
            Cmd::Fuzz(fuzz::FuzzOpts {
                board: "qemu-virt-aarch64".into(),
                count: Some("1000".into()),
                seed: Some("0x2a".into()),
                accel: AccelChoice::Tcg,
                timeout: None,
                verbose: false,
                el: Some(2),
                smp: None,
                kpti: false,
            })
        );
        // Bad values reach the command (one error line there, not clap's usage).
        assert!(matches!(parse_args(&["fuzz", "--count", "-3"]).unwrap(), Cmd::Fuzz(ref o) if o.count.as_deref() == Some("-3")));
    }

    #[test]
    fn run_test_and_iso_parse() {
        let cmd = parse_args(&[
            "run",
            "--accel",
            "tcg",
            "--board",
            "pc-x86_64",
            "--",
            "rounds=10",
            "runs=1",
        ])
        .unwrap();
        assert_eq!(
            cmd,
            Cmd::Run {
                board: "pc-x86_64".into(),
                accel: AccelChoice::Tcg,
                timeout: None,
                cmdline: vec!["rounds=10".into(), "runs=1".into()],
                verbose: false,
                kernel: None,
            }
        );
        assert!(matches!(
            parse_args(&["run", "--verbose"]).unwrap(),
            Cmd::Run { verbose: true, .. }
        ));
        let cmd = parse_args(&["iso", "--out", "x.iso"]).unwrap();
        assert_eq!(
            cmd,
            Cmd::Iso {
                board: "pc-x86_64".into(),
                out: Some("x.iso".into()),
                cmdline: vec![],
                kernel: None,
            }
        );
        assert_eq!(
            parse_args(&["test"]).unwrap(),
            Cmd::Test {
                board: "pc-x86_64".into(),
                timeout: 600
            }
        );
        assert_eq!(
            parse_args(&["build", "--board", "rpi5"]).unwrap(),
            Cmd::Build {
                board: "rpi5".into()
            }
        );
        assert_eq!(
            parse_args(&["image", "--out", "sd", "--", "rounds=100"]).unwrap(),
            Cmd::Image {
                board: "rpi5".into(),
                out: Some("sd".into()),
                cmdline: vec!["rounds=100".into()],
                kernel: None,
            }
        );
        let m = cli()
            .try_get_matches_from(["xtask", "image", "--board", "rpi5", "--el", "1"])
            .unwrap();
        assert_eq!(variant(&m).el, Some(1));
    }
}
