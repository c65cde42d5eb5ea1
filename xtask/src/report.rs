// SPDX-License-Identifier: MIT OR Apache-2.0
//! Results of one run, relabelled for what the counters really measured, and
//! their JSON form (DESIGN.md §6).
//!
//! The kernel names the hardware counter it read (`tsc`, `pmccntr`, ...).
//! What that counter *means* depends on how the guest ran, which only the
//! host knows:
//!
//! * under QEMU TCG with `-icount shift=0,sleep=off` the x86 TSC and the Arm
//!   cycle counter advance exactly once per instruction, so their figures are
//!   reported as counter `instructions`, with `source` saying where they came
//!   from;
//! * under plain TCG they follow virtual time: they keep their name and carry
//!   the note "virtual time, not cycles";
//! * under KVM, and on hardware (a serial capture given to `cargo xtask
//!   report`), they are what the hardware says: `pmccntr` CPU cycles,
//!   `instructions` retired instructions, and so on.
//!
//! No number is ever computed here beyond copying the kernel's figures:
//! `per_op` is the kernel's median.

use serde::Serialize;

use crate::board::Accel;
use crate::boot::{Problem, Subject};
use crate::protocol::{CounterPresence, Transcript};

/// Tool name in the JSON.
pub const TOOL: &str = "ipcbench-rs";

/// What a kernel counter is reported as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Counter name in the results (`instructions` for the icount TSC).
    pub counter: String,
    /// Where the figure came from.
    pub source: String,
    /// A caveat, when the figure is not what the name suggests on hardware.
    pub note: Option<&'static str>,
    /// Row label in the table.
    pub row: String,
    /// One-line explanation for the table's footnotes.
    pub explain: String,
}

/// The note on counters that follow TCG's virtual clock.
pub const TCG_NOTE: &str = "virtual time, not cycles";

/// What a counter measures on hardware.
fn hardware_meaning(counter: &str) -> String {
    match counter {
        "tsc" => "time-stamp counter ticks (constant rate, not core cycles)".to_string(),
        "instructions" => {
            "instructions retired (Intel fixed counter 0, AMD event 0xC0, Arm event 0x08)"
                .to_string()
        }
        "core-cycles" => "unhalted core cycles (Intel fixed counter 1, AMD event 0x76)".to_string(),
        "ref-cycles" => {
            "unhalted reference cycles at the TSC rate (Intel fixed counter 2)".to_string()
        }
        "pmccntr" => "CPU cycles (Arm PMCCNTR_EL0 cycle counter)".to_string(),
        other => format!("kernel counter `{other}`"),
    }
}

/// Relabels a kernel counter for the accelerator the guest ran under.
pub fn relabel(kernel_counter: &str, accel: Accel) -> Label {
    let k = kernel_counter;
    match (accel, k) {
        (Accel::Icount, "tsc" | "pmccntr") => {
            let short = if k == "tsc" { "TSC" } else { "PMCCNTR" };
            Label {
                counter: "instructions".to_string(),
                source: format!("{k} (QEMU icount: 1 tick = 1 instruction)"),
                note: None,
                row: format!("instructions (QEMU icount, {short})"),
                explain: format!(
                    "the {short} under QEMU TCG with -icount shift=0,sleep=off advances exactly once per instruction: exact, deterministic instruction counts"
                ),
            }
        }
        (Accel::Icount, _) => Label {
            counter: k.to_string(),
            source: k.to_string(),
            note: None,
            row: format!("{k} (QEMU icount)"),
            explain: format!(
                "{}, as emulated by QEMU TCG under icount",
                hardware_meaning(k)
            ),
        },
        (Accel::Tcg, "tsc" | "pmccntr") => Label {
            counter: k.to_string(),
            source: k.to_string(),
            note: Some(TCG_NOTE),
            row: format!("{k} (TCG virtual time)"),
            explain: format!("the {k} under plain QEMU TCG follows virtual time: {TCG_NOTE}"),
        },
        (Accel::Tcg, _) => Label {
            counter: k.to_string(),
            source: k.to_string(),
            note: Some("emulated by QEMU TCG, not hardware"),
            row: format!("{k} (TCG)"),
            explain: format!(
                "{}, as emulated by QEMU TCG: not hardware",
                hardware_meaning(k)
            ),
        },
        (Accel::Hardware, _) => Label {
            counter: k.to_string(),
            source: k.to_string(),
            note: None,
            row: k.to_string(),
            explain: format!("{}: a hardware counter, from a serial log", hardware_meaning(k)),
        },
        (Accel::Kvm, _) => Label {
            counter: k.to_string(),
            source: k.to_string(),
            note: None,
            row: k.to_string(),
            explain: hardware_meaning(k),
        },
    }
}

/// Order of counters in the table: instructions first, as L4Re's x86 triple.
pub fn counter_rank(counter: &str) -> usize {
    [
        "instructions",
        "core-cycles",
        "ref-cycles",
        "pmccntr",
        "tsc",
    ]
    .iter()
    .position(|c| *c == counter)
    .unwrap_or(usize::MAX)
}

/// The benchmark whose one record (the client's core) two cores make.
pub const CROSS_CORE_BENCH: &str = "ipc-cross-core";

/// One benchmark figure in the JSON.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Record {
    /// Benchmark name.
    pub bench: String,
    /// Core.
    pub core: u32,
    /// Message length in words (the message-size sweep); omitted elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub words: Option<u64>,
    /// Counter, after relabelling.
    pub counter: String,
    /// Where the figure came from.
    pub source: String,
    /// The counter name the kernel printed.
    pub kernel_counter: String,
    /// Operation the figures are per.
    pub unit: String,
    /// The median per operation (the headline figure).
    pub per_op: f64,
    /// Smallest run.
    pub min: f64,
    /// Largest run.
    pub max: f64,
    /// Mean over runs.
    pub mean: f64,
    /// Median over runs.
    pub median: f64,
    /// Measured runs.
    pub runs: u32,
    /// Operations per run.
    pub ops_per_run: u64,
    /// The per-operation figure of each run, in the order they ran (each
    /// run's counter total divided by `ops_per_run`).
    pub samples: Vec<f64>,
    /// Standard deviation of `samples` (n - 1); `None` with fewer than two.
    pub stddev: Option<f64>,
    /// Every message was checked and correct, and no interrupt arrived
    /// during the runs.
    pub verified: bool,
    /// Maskable interrupts the core took during the runs (0; omitted for
    /// kernels that do not report it). More fail the record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupts: Option<u64>,
    /// Measured while several cores ran, on a clock they all advance: under
    /// QEMU icount the vCPUs take turns on one thread and the TSC / Arm
    /// counters count every core's instructions, so the figure is not this
    /// core's cost (issue 4; DESIGN.md §5).
    pub shared_clock: bool,
    /// Caveat (plain TCG).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
    /// `--latency`: the same benchmark with every round timed on its own
    /// (only in latency runs; attached to the record of the counter that
    /// timed the rounds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencyJson>,
}

/// A task the kernel's watchdog killed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WatchdogJson {
    /// The CPU.
    pub core: u32,
    /// The task (`null`: the kernel did not name one).
    pub task: Option<u32>,
    /// The kernel's reason.
    pub reason: String,
}

/// One bin of a latency histogram: rounds whose figure is in `lo..hi`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BinJson {
    /// Lower bound (inclusive), counter ticks.
    pub lo: u64,
    /// Upper bound (exclusive).
    pub hi: u64,
    /// Rounds in the bin.
    pub count: u64,
}

/// What reading the counter costs: back-to-back read pairs.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OverheadJson {
    /// Pairs measured.
    pub pairs: u64,
    /// Cheapest pair.
    pub min: u64,
    /// Median pair.
    pub median: u64,
}

/// The latency figures of a benchmark (`IPCB latency`): per round, in
/// counter ticks (instructions under icount), the counter's read overhead
/// subtracted.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LatencyJson {
    /// What a round is: `round-trip` (call + reply_recv, 2 one-way IPCs) or
    /// `syscall`.
    pub unit: String,
    /// Operations per round (the record's `unit`s).
    pub ops_per_round: u64,
    /// Rounds timed (rounds x runs).
    pub samples: u64,
    /// What was subtracted from every round: the median read pair.
    pub counter_overhead: u64,
    /// The read pairs it came from.
    pub overhead: OverheadJson,
    /// Cheapest round.
    pub min: u64,
    /// Median round (nearest rank).
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Dearest round.
    pub max: u64,
    /// `p50 / ops_per_round`: beside `per_op`.
    pub p50_per_op: f64,
    /// From `min` to p99's bin.
    pub histogram: Vec<BinJson>,
    /// Rounds above the last bin.
    pub above_histogram: u64,
}

impl LatencyJson {
    fn from_line(l: &crate::protocol::Latency) -> LatencyJson {
        LatencyJson {
            unit: l.unit.clone(),
            ops_per_round: l.ops_per_round,
            samples: l.samples,
            counter_overhead: l.subtracted,
            overhead: OverheadJson { pairs: l.overhead_pairs, min: l.overhead_min, median: l.overhead_median },
            min: l.min,
            p50: l.p50,
            p90: l.p90,
            p99: l.p99,
            max: l.max,
            p50_per_op: l.p50 as f64 / l.ops_per_round.max(1) as f64,
            histogram: l
                .hist
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let lo = l.hist_lo + i as u64 * l.hist_width;
                    BinJson { lo, hi: lo + l.hist_width, count: *c }
                })
                .collect(),
            above_histogram: l.hist_over,
        }
    }
}

/// A counter kind and whether the CPU has it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CounterJson {
    /// Kernel counter name.
    pub name: String,
    /// `present` or `absent`.
    pub state: &'static str,
}

/// A built-in correctness test.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TestJson {
    /// Test name.
    pub name: String,
    /// Passed.
    pub ok: bool,
}

/// A failure: a bench, a test, or the run itself (both names null).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FailureJson {
    /// Benchmark, when a benchmark failed.
    pub bench: Option<String>,
    /// Test, when a correctness test failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
    /// Core, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub core: Option<u32>,
    /// Message length in words, for a size of the message-size sweep.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub words: Option<u64>,
    /// Why.
    pub reason: String,
}

/// The sample standard deviation (n - 1) of `v`; `None` below two values.
pub fn stddev(v: &[f64]) -> Option<f64> {
    if v.len() < 2 {
        return None;
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (v.len() - 1) as f64;
    Some(var.sqrt())
}

/// The calibration loop as the kernel reported it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CalibJson {
    /// Loop iterations (2 instructions each).
    pub iters: u64,
    /// Counter used.
    pub counter: String,
    /// Counter delta.
    pub delta: u64,
    /// delta / (2 * iters).
    pub ticks_per_instruction: Option<f64>,
}

/// The time counter's rate as the kernel reported it (`IPCB clock`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClockJson {
    /// The counter (`tsc`).
    pub counter: String,
    /// Ticks per second.
    pub hz: u64,
    /// Where the rate came from (`cpuid-15h`, `cpuid-16h`,
    /// `cpuid-40000010h`, `pit`, `assumed`).
    pub source: String,
    /// Invariant (one rate in every power state).
    pub invariant: bool,
}

/// The RAM the kernel found and what it used of it (`IPCB mem`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MemJson {
    /// Which map the firmware gave (`efi`, `e820`, `basic`, `assumed`).
    pub map: String,
    /// Usable RAM in that map, all of it, in MiB.
    pub ram_mib: u64,
    /// MiB of physical memory the kernel can place allocations in.
    pub reach_mib: u64,
    /// Per-CPU regions placed.
    pub percpu_regions: u32,
    /// MiB given to the frame allocator.
    pub frames_mib: u64,
}

/// Host-side facts about a run.
#[derive(Debug, Clone)]
pub struct RunMeta {
    /// Board (as the kernel's hello line names it, for a serial log).
    pub board: String,
    /// Its architecture, when the console has no hello line.
    pub arch: String,
    /// Accelerator.
    pub accel: Accel,
    /// Kernel command line.
    pub kernel_cmdline: String,
    /// `qemu-system-* --version`.
    pub qemu: Option<String>,
    /// Git commit.
    pub git_commit: Option<String>,
    /// `rustc --version`.
    pub rustc: Option<String>,
    /// QEMU's exit code.
    pub exit_code: Option<i32>,
}

/// A complete run: the table's input and `results.json`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    /// Always [`TOOL`].
    pub tool: &'static str,
    /// xtask version.
    pub version: &'static str,
    /// Board.
    pub board: String,
    /// Architecture.
    pub arch: String,
    /// Exception level (Arm only).
    pub el: Option<u8>,
    /// CPU model string.
    pub cpu_model: Option<String>,
    /// CPU vendor.
    pub cpu_vendor: Option<String>,
    /// Cores.
    pub cores: Option<u32>,
    /// `kvm`, `tcg`, `tcg-icount` or `hardware`.
    pub accel: &'static str,
    /// Rounds per run.
    pub rounds: Option<u64>,
    /// Measured runs per benchmark.
    pub runs_per_bench: Option<u32>,
    /// Warm-up runs.
    pub warmup: Option<u32>,
    /// Fault injection in force.
    pub inject: Option<String>,
    /// `--latency`: the kernel counter that timed single rounds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_counter: Option<String>,
    /// Kernel isolation (`off`, `on`, `pcid`: on, with PCID), as the
    /// kernel's config line says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kpti: Option<String>,
    /// Git commit of the checkout.
    pub git_commit: Option<String>,
    /// Compiler.
    pub rustc: Option<String>,
    /// Emulator.
    pub qemu: Option<String>,
    /// Kernel command line.
    pub kernel_cmdline: String,
    /// QEMU exit code (33 pass, 35 check failed, 37 panic).
    pub exit_code: Option<i32>,
    /// Calibration loop.
    pub calibration: Option<CalibJson>,
    /// The time counter's rate, where the kernel knows it.
    pub clock: Option<ClockJson>,
    /// Problems the kernel carried on past (`IPCB warn`).
    pub kernel_warnings: Vec<String>,
    /// Tasks the kernel's watchdog killed (`IPCB watchdog`): `core`,
    /// `task`, `reason`; omitted when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub watchdog: Vec<WatchdogJson>,
    /// RAM found and used, where the kernel says (the PC).
    pub memory: Option<MemJson>,
    /// Counter kinds.
    pub counters: Vec<CounterJson>,
    /// Correctness tests.
    pub tests: Vec<TestJson>,
    /// Benchmark figures.
    pub results: Vec<Record>,
    /// Everything that failed.
    pub failures: Vec<FailureJson>,
    /// `pass` or `fail`.
    pub status: &'static str,
    /// Accelerator (typed), for rendering.
    #[serde(skip)]
    pub accel_kind: Accel,
}

impl Report {
    /// Combines host facts, the decoded console and the verdict.
    pub fn new(meta: &RunMeta, t: &Transcript, problems: &[Problem]) -> Report {
        let hello = t.hello.as_ref();
        let cpu = t.cpu.as_ref();
        let config = t.config.as_ref();
        let cores_of = |bench: &str| {
            let mut cores: Vec<u32> =
                t.results.iter().filter(|x| x.bench == bench).map(|x| x.core).collect();
            cores.sort_unstable();
            cores.dedup();
            cores.len()
        };
        let results = t
            .results
            .iter()
            .map(|r| {
                let l = relabel(&r.counter, meta.accel);
                Record {
                    // ipc-cross-core: one record, two cores at work.
                    shared_clock: meta.accel == Accel::Icount
                        && (cores_of(&r.bench) > 1 || r.bench == CROSS_CORE_BENCH),
                    bench: r.bench.clone(),
                    core: r.core,
                    words: r.words,
                    counter: l.counter,
                    source: l.source,
                    kernel_counter: r.counter.clone(),
                    unit: r.unit.clone(),
                    per_op: r.median,
                    min: r.min,
                    max: r.max,
                    mean: r.mean,
                    median: r.median,
                    runs: r.runs,
                    ops_per_run: r.ops,
                    samples: r.totals.iter().map(|t| *t as f64 / r.ops as f64).collect(),
                    // On the integer totals, then scaled: equal runs give exactly 0.
                    stddev: stddev(&r.totals.iter().map(|t| *t as f64).collect::<Vec<_>>()).map(|d| d / r.ops as f64),
                    verified: r.verified && r.interrupts.is_none_or(|n| n == 0),
                    interrupts: r.interrupts,
                    note: l.note,
                    latency: t
                        .latencies
                        .iter()
                        .find(|x| x.bench == r.bench && x.core == r.core && x.words == r.words && x.counter == r.counter)
                        .map(LatencyJson::from_line),
                }
            })
            .collect();
        let mut tests: Vec<TestJson> = t
            .tests
            .iter()
            .map(|n| TestJson {
                name: n.clone(),
                ok: true,
            })
            .collect();
        tests.extend(t.failures.iter().filter(|f| f.is_test).map(|f| TestJson {
            name: f.bench.clone(),
            ok: false,
        }));
        let failures = problems
            .iter()
            .map(|p| {
                let (bench, test) = match &p.subject {
                    Subject::Run => (None, None),
                    Subject::Bench(b) => (Some(b.clone()), None),
                    Subject::Test(n) => (None, Some(n.clone())),
                };
                FailureJson {
                    bench,
                    test,
                    core: p.core,
                    words: p.words,
                    reason: p.reason.clone(),
                }
            })
            .collect();
        Report {
            tool: TOOL,
            version: env!("CARGO_PKG_VERSION"),
            board: meta.board.clone(),
            arch: hello.map_or(&meta.arch, |h| &h.arch).clone(),
            el: hello.and_then(|h| h.el),
            cpu_model: cpu.and_then(|c| c.model.clone()),
            cpu_vendor: cpu.and_then(|c| c.vendor.clone()),
            cores: hello.map(|h| h.cores),
            accel: meta.accel.name(),
            rounds: config.map(|c| c.rounds),
            runs_per_bench: config.map(|c| c.runs),
            warmup: config.map(|c| c.warmup),
            inject: config.map(|c| c.inject.clone()),
            latency_counter: config.and_then(|c| c.latency.clone()),
            kpti: config.and_then(|c| c.kpti.clone()),
            git_commit: meta.git_commit.clone(),
            rustc: meta.rustc.clone(),
            qemu: meta.qemu.clone(),
            kernel_cmdline: meta.kernel_cmdline.clone(),
            exit_code: meta.exit_code,
            calibration: t.calib.as_ref().map(|c| CalibJson {
                iters: c.iters,
                counter: c.counter.clone(),
                delta: c.delta,
                ticks_per_instruction: c.ticks_per_instruction(),
            }),
            clock: t.clock.as_ref().map(|c| ClockJson {
                counter: c.counter.clone(),
                hz: c.hz,
                source: c.source.clone(),
                invariant: c.invariant,
            }),
            kernel_warnings: t.warnings.clone(),
            watchdog: t
                .watchdogs
                .iter()
                .map(|w| WatchdogJson { core: w.core, task: w.task, reason: w.reason.clone() })
                .collect(),
            memory: t.mem.as_ref().map(|m| MemJson {
                map: m.map.clone(),
                ram_mib: m.ram_mib,
                reach_mib: m.reach_mib,
                percpu_regions: m.percpu,
                frames_mib: m.frames_mib,
            }),
            counters: t
                .counters
                .iter()
                .map(|c| CounterJson {
                    name: c.name.clone(),
                    state: match c.state {
                        CounterPresence::Present => "present",
                        CounterPresence::Absent => "absent",
                    },
                })
                .collect(),
            tests,
            results,
            failures,
            status: if problems.is_empty() { "pass" } else { "fail" },
            accel_kind: meta.accel,
        }
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a report always serialises");
        s.push('\n');
        s
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::boot::tests::outcome;
    use crate::protocol::tests::{FAILED, PASS};

    pub(crate) fn meta(accel: Accel) -> RunMeta {
        RunMeta {
            board: "pc-x86_64".into(),
            arch: "x86_64".into(),
            accel,
            kernel_cmdline: "rounds=20000 runs=5".into(),
            qemu: Some("QEMU emulator version 7.2.22".into()),
            git_commit: Some("abc123".into()),
            rustc: Some("rustc 1.95.0".into()),
            exit_code: Some(33),
        }
    }

    pub(crate) fn report(console: &str, code: i32, accel: Accel) -> Report {
        let o = outcome(console, Some(code));
        let mut m = meta(accel);
        m.exit_code = Some(code);
        Report::new(
            &m,
            &o.transcript,
            &o.problems(&["ipc-intra", "ipc-inter", "syscall"]),
        )
    }

    #[test]
    fn stddev_is_the_sample_deviation() {
        assert_eq!(stddev(&[]), None);
        assert_eq!(stddev(&[42.0]), None);
        assert_eq!(stddev(&[42.0, 42.0, 42.0]), Some(0.0));
        let s = stddev(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
        assert!((s - 2.138_089_935).abs() < 1e-6, "{s}");
    }

    #[test]
    fn icount_relabels_tsc_and_pmccntr_as_instructions() {
        let l = relabel("tsc", Accel::Icount);
        assert_eq!(l.counter, "instructions");
        assert_eq!(l.source, "tsc (QEMU icount: 1 tick = 1 instruction)");
        assert_eq!(l.row, "instructions (QEMU icount, TSC)");
        assert_eq!(l.note, None);
        let l = relabel("pmccntr", Accel::Icount);
        assert_eq!(l.counter, "instructions");
        assert_eq!(l.source, "pmccntr (QEMU icount: 1 tick = 1 instruction)");
        let l = relabel("core-cycles", Accel::Icount);
        assert_eq!(
            (l.counter.as_str(), l.source.as_str()),
            ("core-cycles", "core-cycles")
        );
    }

    #[test]
    fn tcg_keeps_names_and_warns() {
        let l = relabel("tsc", Accel::Tcg);
        assert_eq!((l.counter.as_str(), l.note), ("tsc", Some(TCG_NOTE)));
        assert_eq!(l.row, "tsc (TCG virtual time)");
        let l = relabel("instructions", Accel::Tcg);
        assert!(l.note.is_some());
    }

    #[test]
    fn kvm_reports_counters_as_they_are() {
        for c in ["tsc", "instructions", "core-cycles", "ref-cycles"] {
            let l = relabel(c, Accel::Kvm);
            assert_eq!(
                (
                    l.counter.as_str(),
                    l.source.as_str(),
                    l.row.as_str(),
                    l.note
                ),
                (c, c, c, None)
            );
        }
        assert!(counter_rank("instructions") < counter_rank("core-cycles"));
        assert!(counter_rank("ref-cycles") < counter_rank("tsc"));
    }

    #[test]
    fn hardware_counters_are_what_they_say() {
        for (c, says) in [
            ("pmccntr", "CPU cycles"),
            ("core-cycles", "unhalted core cycles"),
            ("ref-cycles", "unhalted reference cycles"),
            ("tsc", "time-stamp counter ticks"),
            ("instructions", "instructions retired"),
        ] {
            let l = relabel(c, Accel::Hardware);
            assert_eq!((l.counter.as_str(), l.source.as_str(), l.row.as_str(), l.note), (c, c, c, None));
            assert!(l.explain.starts_with(says) && l.explain.ends_with("a hardware counter, from a serial log"), "{}", l.explain);
            assert!(!l.explain.contains("icount") && !l.explain.contains("QEMU"), "{}", l.explain);
        }
        assert_eq!(Accel::Hardware.name(), "hardware");
    }

    #[test]
    fn json_has_the_design_shape() {
        let r = report(PASS, 33, Accel::Icount);
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        for key in [
            "tool",
            "version",
            "board",
            "arch",
            "el",
            "cpu_model",
            "cpu_vendor",
            "cores",
            "accel",
            "rounds",
            "runs_per_bench",
            "git_commit",
            "rustc",
            "qemu",
            "kernel_cmdline",
            "counters",
            "tests",
            "results",
            "failures",
            "status",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["tool"], "ipcbench-rs");
        assert_eq!(v["board"], "pc-x86_64");
        assert_eq!(v["arch"], "x86_64");
        assert!(v["el"].is_null());
        assert_eq!(v["accel"], "tcg-icount");
        assert_eq!(v["cpu_model"], "QEMU TCG CPU version 2.5+");
        assert_eq!(v["cores"], 1);
        assert_eq!(v["rounds"], 20000);
        assert_eq!(v["runs_per_bench"], 5);
        assert_eq!(v["status"], "pass");
        assert_eq!(
            v["counters"][0],
            serde_json::json!({"name": "tsc", "state": "present"})
        );
        assert_eq!(v["counters"][1]["state"], "absent");
        assert_eq!(
            v["tests"][0],
            serde_json::json!({"name": "bad-syscall", "ok": true})
        );
        assert_eq!(v["failures"], serde_json::json!([]));
        let r0 = &v["results"][0];
        assert_eq!(
            *r0,
            serde_json::json!({
                "bench": "ipc-intra", "core": 0, "counter": "instructions",
                "source": "tsc (QEMU icount: 1 tick = 1 instruction)", "kernel_counter": "tsc",
                "unit": "one-way-ipc", "per_op": 85.0, "min": 85.0, "max": 85.0, "mean": 85.0,
                "median": 85.0, "runs": 5, "ops_per_run": 40000, "verified": true,
                "samples": [], "stddev": null, "shared_clock": false
            })
        );
        assert_eq!(v["calibration"]["ticks_per_instruction"], 1.000002);
    }

    #[test]
    fn json_of_a_failed_tcg_run() {
        let r = report(FAILED, 35, Accel::Tcg);
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["status"], "fail");
        assert_eq!(v["exit_code"], 35);
        assert_eq!(v["inject"], "mr");
        assert_eq!(
            v["failures"],
            serde_json::json!([{"bench": "ipc-inter", "core": 0, "reason": "mr2 mismatch"}])
        );
        assert_eq!(v["results"][0]["counter"], "tsc");
        assert_eq!(v["results"][0]["note"], TCG_NOTE);
        assert_eq!(v["results"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn sweep_records_carry_words() {
        let text = crate::protocol::tests::pass_with_sweep().replace(
            "IPCB end status=pass",
            "IPCB fail bench=ipc-sweep words=63 core=0 reason=\"mr 40 got 0x0 expected 0x1\"\r\nIPCB end status=fail",
        );
        let r = report(&text, 35, Accel::Icount);
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        let results = v["results"].as_array().unwrap();
        assert_eq!(results.len(), 11);
        assert!(results[..3].iter().all(|x| x.get("words").is_none()));
        assert_eq!(
            results[10],
            serde_json::json!({
                "bench": "ipc-sweep", "core": 0, "words": 63, "counter": "instructions",
                "source": "tsc (QEMU icount: 1 tick = 1 instruction)", "kernel_counter": "tsc",
                "unit": "one-way-ipc", "per_op": 823.0, "min": 823.0, "max": 823.0, "mean": 823.0,
                "median": 823.0, "runs": 5, "ops_per_run": 40000, "verified": true,
                "samples": [], "stddev": null, "shared_clock": false
            })
        );
        let words: Vec<u64> = results[3..]
            .iter()
            .map(|x| x["words"].as_u64().unwrap())
            .collect();
        assert_eq!(words, vec![0, 1, 2, 4, 8, 16, 32, 63]);
        assert_eq!(
            v["failures"],
            serde_json::json!([{"bench": "ipc-sweep", "core": 0, "words": 63, "reason": "mr 40 got 0x0 expected 0x1"}])
        );
    }

    #[test]
    fn latency_figures_join_their_records() {
        let text = PASS
            .replace("inject=none", "inject=none latency=tsc")
            .replace("bench=ipc-intra core=0", "bench=ipc-intra words=0 core=0")
            .replace("bench=ipc-inter core=0", "bench=ipc-inter words=0 core=0")
            .replace("IPCB end", &format!("{}IPCB end", crate::protocol::tests::latency_lines()));
        let r = report(&text, 33, Accel::Icount);
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["latency_counter"], "tsc");
        let l = &v["results"][0]["latency"];
        assert_eq!(l["p50"], 172);
        assert_eq!(l["p50_per_op"], 86.0);
        assert_eq!(l["counter_overhead"], 2);
        assert_eq!(l["overhead"], serde_json::json!({"pairs": 1024, "min": 2, "median": 2}));
        assert_eq!(l["histogram"][2], serde_json::json!({"lo": 174, "hi": 175, "count": 90}));
        assert_eq!(l["above_histogram"], 5);
        assert_eq!(v["results"][2]["latency"]["p99"], 29);
        // Without latency= no record has the key.
        let v: serde_json::Value = serde_json::from_str(&report(PASS, 33, Accel::Icount).to_json()).unwrap();
        assert!(v["results"][0].get("latency").is_none() && v.get("latency_counter").is_none());
        // The table's block and a plot per bench (plot::latency tests it).
        let table = crate::table::render(&r);
        assert!(table.contains("Latency: each round timed on its own with instructions (QEMU icount, TSC)"), "{table}");
        assert!(table.lines().any(|l| l.split_whitespace().collect::<Vec<_>>()
            == ["Intra", "(IPC)", "round-trip", "1000", "2", "172", "172", "174", "180", "400", "170.00"]), "{table}");
        assert!(crate::plot::latency::svg(&r, &r.results[1]).unwrap().is_some());
        assert!(crate::table::latency_block(&report(PASS, 33, Accel::Icount)).is_empty());
    }

    #[test]
    fn per_op_is_the_median() {
        let text = PASS.replace(
            "min=85.00 median=85.00 mean=85.00 max=85.00",
            "min=84.00 median=85.50 mean=86.25 max=90.00",
        );
        let r = report(&text, 33, Accel::Kvm);
        let rec = &r.results[0];
        assert_eq!(
            (rec.per_op, rec.median, rec.min, rec.mean, rec.max),
            (85.5, 85.5, 84.0, 86.25, 90.0)
        );
        assert_eq!(rec.counter, "tsc");
    }
}
