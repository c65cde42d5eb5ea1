// SPDX-License-Identifier: MIT OR Apache-2.0
//! Decoder for the kernel's serial line protocol (`docs/protocol.md`, version 1).
//!
//! The kernel's console mixes a human-readable table with machine lines that
//! start with `IPCB `. Everything after the line kind is `key=value` pairs
//! separated by spaces; a value containing spaces is double-quoted, with no
//! escapes inside.
//!
//! Rules this decoder enforces, so a garbled console never turns into a
//! plausible-looking number:
//!
//! * a line whose first word is `IPCB` must parse completely: unknown line
//!   kinds, missing or malformed required keys, duplicate keys, unterminated
//!   quotes and inconsistent statistics (`min <= median, mean <= max`) are
//!   errors carrying the 1-based console line number;
//! * the one exception is the last line of the console when it has no
//!   terminating newline (QEMU stopped mid-line): it is ignored;
//! * unknown *keys* on a known line kind are kept but not interpreted, so the
//!   kernel may add information without breaking the host;
//! * every other line is human-readable text and is ignored.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The protocol version this decoder understands (`IPCB hello proto=1`).
pub const PROTO_VERSION: u32 = 1;

/// The longest excerpt of a console line quoted in an error message.
const MAX_QUOTED: usize = 160;

/// The benchmark name of the message-size sweep: `ipc-inter` with messages of
/// `words` words (its result and fail lines carry a `words` key).
pub const SWEEP_BENCH: &str = "ipc-sweep";

/// Message words that travel in registers; longer messages go through the
/// UTCB.
pub const REGISTER_WORDS: u64 = 4;

/// `IPCB hello`: the first line after boot.
#[derive(Debug, Clone, PartialEq)]
pub struct Hello {
    /// Protocol version (must be [`PROTO_VERSION`]).
    pub proto: u32,
    /// Board name, e.g. `pc-x86_64`.
    pub board: String,
    /// Architecture, e.g. `x86_64` or `aarch64`.
    pub arch: String,
    /// Exception level on Arm (`el=-` elsewhere).
    pub el: Option<u8>,
    /// Number of cores the kernel runs on.
    pub cores: u32,
}

/// `IPCB cpu`: CPU identification.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cpu {
    /// CPU vendor (CPUID vendor string, or the Arm implementer).
    pub vendor: Option<String>,
    /// CPU model (CPUID brand string, or the Arm part).
    pub model: Option<String>,
    /// Every key the kernel printed, verbatim (family, model_id, midr, ...).
    pub fields: BTreeMap<String, String>,
}

/// Whether the CPU has a counter (`IPCB counter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterPresence {
    /// The counter exists and is measured.
    Present,
    /// The CPU lacks it; no figure is reported for it.
    Absent,
}

/// `IPCB counter`: one counter kind and whether it exists.
#[derive(Debug, Clone, PartialEq)]
pub struct CounterState {
    /// Kernel counter name (`tsc`, `instructions`, `core-cycles`, ...).
    pub name: String,
    /// Present or absent.
    pub state: CounterPresence,
}

/// `IPCB calib`: a loop of `iters` iterations of 2 instructions each.
#[derive(Debug, Clone, PartialEq)]
pub struct Calib {
    /// Loop iterations.
    pub iters: u64,
    /// Counter used to time the loop.
    pub counter: String,
    /// Counter delta over the loop.
    pub delta: u64,
}

/// `IPCB clock`: the rate of the arch's time counter, where it knows one.
#[derive(Debug, Clone, PartialEq)]
pub struct Clock {
    /// The counter (`tsc`).
    pub counter: String,
    /// Ticks per second.
    pub hz: u64,
    /// Where the rate came from (`cpuid-15h`, `pit`, ...).
    pub source: String,
    /// The counter keeps one rate in every power state (invariant TSC).
    pub invariant: bool,
}

impl Calib {
    /// Counter ticks per executed instruction (2 instructions per iteration).
    pub fn ticks_per_instruction(&self) -> Option<f64> {
        (self.iters > 0).then(|| self.delta as f64 / (2.0 * self.iters as f64))
    }
}

/// `IPCB config`: the benchmark configuration in force.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Rounds per run.
    pub rounds: u64,
    /// Measured runs per benchmark.
    pub runs: u32,
    /// Unmeasured warm-up runs.
    pub warmup: u32,
    /// Fault injection (`none`, `mr`, `badge`, `label`).
    pub inject: String,
    /// Whether the message-size sweep runs (`sweep=0|1`; `None` when the
    /// kernel does not print the key).
    pub sweep: Option<bool>,
    /// Message words of `ipc-intra` and `ipc-inter` (`None` when the kernel
    /// does not print the key).
    pub words: Option<u64>,
    /// `latency=<counter>`: the counter that times single rounds (`None`
    /// unless the command line asked for `latency=`).
    pub latency: Option<String>,
    /// `kpti=off|on|pcid`: kernel isolation (`None` when the kernel does
    /// not print the key).
    pub kpti: Option<String>,
}

/// `IPCB soak`: the SMP soak's counts (`soak=1`; docs/protocol.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Soak {
    /// One-way IPCs of the passes that verified.
    pub ipcs: u64,
    /// CPUs it ran on.
    pub cores: u32,
    /// Passes (a pass per core and message size, and the cross-core ones).
    pub passes: u64,
    /// Passes that failed a message check.
    pub corrupted: u64,
    /// Passes that failed otherwise.
    pub failed: u64,
}

/// `IPCB latency`: one benchmark with every round timed on its own
/// (`latency=` on the kernel command line; docs/protocol.md).
#[derive(Debug, Clone, PartialEq)]
pub struct Latency {
    /// Benchmark name (`ipc-intra`, `ipc-inter`, `syscall`, `null`, `floor`).
    pub bench: String,
    /// Core it ran on.
    pub core: u32,
    /// Message length in words (IPC benchmarks).
    pub words: Option<u64>,
    /// Kernel counter name.
    pub counter: String,
    /// What a round is (`round-trip`: call + reply_recv; `syscall`).
    pub unit: String,
    /// Operations per round (2 one-way IPCs, 1 syscall).
    pub ops_per_round: u64,
    /// Rounds per run.
    pub rounds: u64,
    /// Measured runs.
    pub runs: u32,
    /// Rounds timed.
    pub samples: u64,
    /// Back-to-back read pairs of the overhead measurement.
    pub overhead_pairs: u64,
    /// Cheapest pair.
    pub overhead_min: u64,
    /// Median pair.
    pub overhead_median: u64,
    /// What was subtracted from every round.
    pub subtracted: u64,
    /// Cheapest round.
    pub min: u64,
    /// Percentiles (nearest rank).
    pub p50: u64,
    /// 90th.
    pub p90: u64,
    /// 99th.
    pub p99: u64,
    /// Dearest round.
    pub max: u64,
    /// Lower bound of the first bin.
    pub hist_lo: u64,
    /// Bin width.
    pub hist_width: u64,
    /// Rounds per bin.
    pub hist: Vec<u64>,
    /// Rounds beyond the last bin.
    pub hist_over: u64,
    /// Maskable interrupts taken during the timed runs (`interrupts=`;
    /// `None` from kernels that do not print it); must be 0.
    pub interrupts: Option<u64>,
}

/// `IPCB result`: statistics of one benchmark on one core with one counter.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchResult {
    /// Benchmark name (`ipc-intra`, `ipc-inter`, `syscall`, ...).
    pub bench: String,
    /// Core it ran on.
    pub core: u32,
    /// Message length in words (the message-size sweep; `None` elsewhere).
    pub words: Option<u64>,
    /// Kernel counter name (before any host relabelling).
    pub counter: String,
    /// Operation the figures are per (`one-way-ipc`, `syscall`, `round-trip`).
    pub unit: String,
    /// Operations per run the totals were divided by.
    pub ops: u64,
    /// Number of measured runs.
    pub runs: u32,
    /// Smallest per-op figure over the runs.
    pub min: f64,
    /// Median per-op figure.
    pub median: f64,
    /// Mean per-op figure.
    pub mean: f64,
    /// Largest per-op figure.
    pub max: f64,
    /// Whether every message was checked and correct.
    pub verified: bool,
    /// Each run's counter total, in the order they ran (`totals=`; empty
    /// from kernels that do not print it).
    pub totals: Vec<u64>,
    /// Maskable interrupts the core took during the benchmark's runs
    /// (`interrupts=`; `None` from kernels that do not print it). Must be
    /// 0: the timed runs keep interrupts masked; any other count fails
    /// the record ([`crate::boot::BootOutcome::problems`]).
    pub interrupts: Option<u64>,
}

/// `IPCB watchdog`: the kernel's watchdog killed a task that ran past its
/// budget outside the timed runs (the kernel carried on).
#[derive(Debug, Clone, PartialEq)]
pub struct Watchdog {
    /// The CPU it happened on.
    pub core: u32,
    /// The task killed (`None`: the kernel printed `task=-`).
    pub task: Option<u32>,
    /// Why (`ran past its budget of N ticks`).
    pub reason: String,
}

/// `IPCB fail`: a benchmark or a test failed a check.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Benchmark (or test) name.
    pub bench: String,
    /// Core, when the kernel names one.
    pub core: Option<u32>,
    /// Message length in words, when the kernel names one (the sweep).
    pub words: Option<u64>,
    /// Why it failed.
    pub reason: String,
    /// True when the line named a test (`test=`) rather than a bench.
    pub is_test: bool,
}

/// `IPCB end`: the kernel's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndStatus {
    /// Every check passed.
    Pass,
    /// Something failed a check.
    Fail,
}

impl EndStatus {
    /// The protocol spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            EndStatus::Pass => "pass",
            EndStatus::Fail => "fail",
        }
    }
}

/// `IPCB mem`: the RAM the firmware's map reported and what the kernel
/// used of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Mem {
    /// Which map (`efi`, `e820`, `basic`, `assumed`).
    pub map: String,
    /// Usable RAM the map reported, all of it, in MiB.
    pub ram_mib: u64,
    /// MiB of physical memory the kernel can place its allocations in.
    pub reach_mib: u64,
    /// Per-CPU regions placed.
    pub percpu: u32,
    /// MiB given to the frame allocator.
    pub frames_mib: u64,
    /// Every key the kernel printed, verbatim.
    pub fields: BTreeMap<String, String>,
}

/// `IPCB fuzz`: the seeded syscall fuzzing's totals (`fuzz=N` on the
/// command line), printed once it passed.
#[derive(Debug, Clone, PartialEq)]
pub struct Fuzz {
    /// Syscalls the fuzz threads issued.
    pub syscalls: u64,
    /// Tasks killed (each by a fault on purpose).
    pub kills: u64,
    /// Episodes run.
    pub episodes: u64,
    /// The seed, as printed (`0x...`).
    pub seed: String,
    /// Kernel-mode faults (always 0 on a line the kernel got to print).
    pub kernel_faults: u64,
}

/// One decoded `IPCB` line.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// `IPCB hello ...`
    Hello(Hello),
    /// `IPCB cpu ...`
    Cpu(Cpu),
    /// `IPCB counter ...`
    Counter(CounterState),
    /// `IPCB calib ...`
    Calib(Calib),
    /// `IPCB clock ...`
    Clock(Clock),
    /// `IPCB config ...`
    Config(Config),
    /// `IPCB ok test=...`
    Ok(String),
    /// `IPCB result ...`
    Result(BenchResult),
    /// `IPCB latency ...`
    Latency(Latency),
    /// `IPCB soak ...`
    Soak(Soak),
    /// `IPCB fuzz ...`
    Fuzz(Fuzz),
    /// `IPCB fail ...`
    Fail(Failure),
    /// `IPCB end status=...`
    End(EndStatus),
    /// `IPCB mem ...`
    Mem(Mem),
    /// `IPCB warn reason="..."`: a problem the kernel carried on past
    /// (bad boot information, fewer CPUs than listed, ...).
    Warn(String),
    /// `IPCB watchdog core=N task=T reason="..."`
    Watchdog(Watchdog),
    /// `IPCB panic reason="..."`: the kernel panicked or took a kernel-mode
    /// exception (printed before `IPCB end status=fail` and exit code 37;
    /// not yet in `docs/protocol.md`).
    Panic(String),
}

/// A console line that starts with `IPCB` but cannot be decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// 1-based console line number.
    pub line_no: usize,
    /// The line as received (lossily decoded, `\r` stripped).
    pub text: String,
    /// What is wrong with it.
    pub msg: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unparseable kernel output line {}: \"{}\" ({})",
            self.line_no,
            excerpt(&self.text),
            excerpt(&self.msg)
        )
    }
}

impl std::error::Error for ParseError {}

/// Shortens `text` for quoting in a one-line message.
pub fn excerpt(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    if clean.chars().count() <= MAX_QUOTED {
        clean
    } else {
        let mut short: String = clean.chars().take(MAX_QUOTED).collect();
        short.push_str("...");
        short
    }
}

/// True when the line is meant to be a protocol line (first word `IPCB`).
pub fn is_protocol_line(text: &str) -> bool {
    text == "IPCB" || text.starts_with("IPCB ")
}

/// Splits `key=value key="quoted value" ...` into pairs.
fn tokenize(rest: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let bytes = rest.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b' ' {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i] != b'=' && bytes[i] != b' ' {
            i += 1;
        }
        let key = &rest[start..i];
        if i >= bytes.len() || bytes[i] != b'=' {
            return Err(format!("expected key=value, found `{key}`"));
        }
        if key.is_empty() {
            return Err("empty key before `=`".to_string());
        }
        if !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(format!("invalid key `{key}`"));
        }
        i += 1; // skip '='
        let value = if i < bytes.len() && bytes[i] == b'"' {
            let vstart = i + 1;
            let Some(len) = rest[vstart..].find('"') else {
                return Err(format!("unterminated quoted value for `{key}`"));
            };
            i = vstart + len + 1;
            if i < bytes.len() && bytes[i] != b' ' {
                return Err(format!("no space after the quoted value of `{key}`"));
            }
            &rest[vstart..vstart + len]
        } else {
            let vstart = i;
            while i < bytes.len() && bytes[i] != b' ' {
                i += 1;
            }
            let v = &rest[vstart..i];
            if v.contains('"') {
                return Err(format!("stray quote in the value of `{key}`"));
            }
            v
        };
        if pairs.iter().any(|(k, _)| k == key) {
            return Err(format!("duplicate key `{key}`"));
        }
        pairs.push((key.to_string(), value.to_string()));
    }
    Ok(pairs)
}

/// The key/value pairs of one line, with typed accessors.
struct Fields {
    pairs: Vec<(String, String)>,
}

impl Fields {
    fn opt(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn req(&self, key: &str) -> Result<&str, String> {
        self.opt(key).ok_or_else(|| format!("missing key `{key}`"))
    }

    fn req_name(&self, key: &str) -> Result<String, String> {
        let v = self.req(key)?;
        if v.is_empty() {
            return Err(format!("empty `{key}`"));
        }
        Ok(v.to_string())
    }

    fn num<T: FromStr>(&self, key: &str) -> Result<T, String> {
        let v = self.req(key)?;
        v.parse()
            .map_err(|_| format!("`{key}={v}` is not a valid number"))
    }

    fn opt_num<T: FromStr>(&self, key: &str) -> Result<Option<T>, String> {
        match self.opt(key) {
            None => Ok(None),
            Some(_) => self.num(key).map(Some),
        }
    }

    fn flag(&self, key: &str) -> Result<Option<bool>, String> {
        match self.opt(key) {
            None => Ok(None),
            Some("1") => Ok(Some(true)),
            Some("0") => Ok(Some(false)),
            Some(v) => Err(format!("`{key}={v}` is neither 0 nor 1")),
        }
    }

    fn float(&self, key: &str) -> Result<f64, String> {
        let x: f64 = self.num(key)?;
        if !x.is_finite() {
            return Err(format!("`{key}` is not finite"));
        }
        Ok(x)
    }
}

/// The line kinds of protocol version 1 (plus `panic`).
const KINDS: &[&str] = &[
    "hello", "cpu", "counter", "calib", "clock", "config", "ok", "result", "fail", "end", "panic", "mem",
    "warn", "latency", "soak", "fuzz", "watchdog",
];

/// Decodes one protocol line (the caller checked [`is_protocol_line`]).
pub fn parse_line(text: &str) -> Result<Line, String> {
    let rest = text
        .strip_prefix("IPCB")
        .ok_or_else(|| "not an IPCB line".to_string())?
        .trim_start();
    if rest.is_empty() {
        return Err("no line kind after `IPCB`".to_string());
    }
    let (kind, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    if !KINDS.contains(&kind) {
        return Err(format!("unknown line kind `{}`", excerpt(kind)));
    }
    let fields = Fields {
        pairs: tokenize(rest.trim_end())?,
    };
    let f = &fields;
    let line = match kind {
        "hello" => {
            let proto: u32 = f.num("proto")?;
            if proto != PROTO_VERSION {
                return Err(format!(
                    "protocol version {proto}, this xtask understands version {PROTO_VERSION}"
                ));
            }
            let el = match f.req("el")? {
                "-" => None,
                v => Some(
                    v.parse::<u8>()
                        .map_err(|_| format!("`el={v}` is not - or a number"))?,
                ),
            };
            Line::Hello(Hello {
                proto,
                board: f.req_name("board")?,
                arch: f.req_name("arch")?,
                el,
                cores: f.num("cores")?,
            })
        }
        "cpu" => {
            // CPUID brand strings are padded with spaces: trim, and treat an
            // empty value as unknown.
            let text = |k: &str| {
                f.opt(k)
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(str::to_string)
            };
            Line::Cpu(Cpu {
                vendor: text("vendor"),
                model: text("model"),
                fields: f.pairs.iter().cloned().collect(),
            })
        }
        "counter" => {
            let state = match f.req("state")? {
                "present" => CounterPresence::Present,
                "absent" => CounterPresence::Absent,
                v => return Err(format!("`state={v}` is neither present nor absent")),
            };
            Line::Counter(CounterState {
                name: f.req_name("name")?,
                state,
            })
        }
        "calib" => Line::Calib(Calib {
            iters: f.num("iters")?,
            counter: f.req_name("counter")?,
            delta: f.num("delta")?,
        }),
        "clock" => Line::Clock(Clock {
            counter: f.req_name("counter")?,
            hz: f.num("hz")?,
            source: f.req_name("source")?,
            invariant: f.num::<u8>("invariant")? != 0,
        }),
        "config" => Line::Config(Config {
            rounds: f.num("rounds")?,
            runs: f.num("runs")?,
            warmup: f.num("warmup")?,
            inject: f.req_name("inject")?,
            sweep: f.flag("sweep")?,
            words: f.opt_num("words")?,
            latency: f.opt("latency").map(str::to_string),
            kpti: f.opt("kpti").map(str::to_string),
        }),
        "latency" => {
            let l = Latency {
                bench: f.req_name("bench")?,
                core: f.num("core")?,
                words: f.opt_num("words")?,
                counter: f.req_name("counter")?,
                unit: f.req_name("unit")?,
                ops_per_round: f.num("ops_per_round")?,
                rounds: f.num("rounds")?,
                runs: f.num("runs")?,
                samples: f.num("samples")?,
                overhead_pairs: f.num("overhead_pairs")?,
                overhead_min: f.num("overhead_min")?,
                overhead_median: f.num("overhead_median")?,
                subtracted: f.num("subtracted")?,
                min: f.num("min")?,
                p50: f.num("p50")?,
                p90: f.num("p90")?,
                p99: f.num("p99")?,
                max: f.num("max")?,
                hist_lo: f.num("hist_lo")?,
                hist_width: f.num("hist_width")?,
                hist: f
                    .req("hist")?
                    .split(',')
                    .map(|c| c.parse::<u64>().map_err(|_| "`hist` is not a list of numbers".to_string()))
                    .collect::<Result<_, _>>()?,
                hist_over: f.num("hist_over")?,
                interrupts: f.opt_num("interrupts")?,
            };
            if !(l.min <= l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max) {
                return Err("inconsistent percentiles (need min <= p50 <= p90 <= p99 <= max)".to_string());
            }
            if l.overhead_min > l.overhead_median || l.overhead_pairs == 0 {
                return Err("inconsistent overhead (need overhead_min <= overhead_median, overhead_pairs >= 1)".to_string());
            }
            if l.samples == 0 || l.samples != l.rounds * u64::from(l.runs) {
                return Err(format!("`samples={}` is not rounds x runs", l.samples));
            }
            if l.hist_width == 0 || l.hist.iter().sum::<u64>() + l.hist_over != l.samples {
                return Err("the histogram does not add up to `samples`".to_string());
            }
            Line::Latency(l)
        }
        "soak" => Line::Soak(Soak {
            ipcs: f.num("ipcs")?,
            cores: f.num("cores")?,
            passes: f.num("passes")?,
            corrupted: f.num("corrupted")?,
            failed: f.num("failed")?,
        }),
        "ok" => Line::Ok(f.req_name("test")?),
        "fuzz" => Line::Fuzz(Fuzz {
            syscalls: f.num("syscalls")?,
            kills: f.num("kills")?,
            episodes: f.num("episodes")?,
            seed: f.req_name("seed")?,
            kernel_faults: f.num("kernel_faults")?,
        }),
        "result" => {
            let r = BenchResult {
                bench: f.req_name("bench")?,
                core: f.num("core")?,
                words: f.opt_num("words")?,
                counter: f.req_name("counter")?,
                unit: f.req_name("unit")?,
                ops: f.num("ops")?,
                runs: f.num("runs")?,
                min: f.float("min")?,
                median: f.float("median")?,
                mean: f.float("mean")?,
                max: f.float("max")?,
                verified: match f.req("verified")? {
                    "1" => true,
                    "0" => false,
                    v => return Err(format!("`verified={v}` is neither 0 nor 1")),
                },
                interrupts: f.opt_num("interrupts")?,
                totals: match f.opt("totals") {
                    None => Vec::new(),
                    Some(list) => list
                        .split(',')
                        .map(|t| t.parse::<u64>().map_err(|_| format!("`totals={list}` is not a list of numbers")))
                        .collect::<Result<_, _>>()?,
                },
            };
            if !r.totals.is_empty() && r.totals.len() != r.runs as usize {
                return Err(format!("`totals` has {} values for runs={}", r.totals.len(), r.runs));
            }
            if r.bench == SWEEP_BENCH && r.words.is_none() {
                return Err(format!(
                    "missing key `words` (required for bench={SWEEP_BENCH})"
                ));
            }
            if r.ops == 0 || r.runs == 0 {
                return Err("`ops` and `runs` must be at least 1".to_string());
            }
            if !(r.min <= r.median && r.median <= r.max && r.min <= r.mean && r.mean <= r.max) {
                return Err("inconsistent statistics (need min <= median, mean <= max)".to_string());
            }
            Line::Result(r)
        }
        "fail" => {
            let (bench, is_test) = match (f.opt("bench"), f.opt("test")) {
                (Some(b), _) => (b, false),
                (None, Some(t)) => (t, true),
                (None, None) => return Err("missing key `bench`".to_string()),
            };
            if bench.is_empty() {
                return Err("empty `bench`".to_string());
            }
            // A failure of a benchmark's latency run (`latency=1`) is not
            // one of its throughput figure: it gets a name of its own.
            let bench = match f.flag("latency")? {
                Some(true) => format!("latency {bench}"),
                _ => bench.to_string(),
            };
            Line::Fail(Failure {
                bench,
                core: f.opt_num("core")?,
                words: f.opt_num("words")?,
                reason: f.opt("reason").unwrap_or("(no reason given)").to_string(),
                is_test,
            })
        }
        "panic" => Line::Panic(f.opt("reason").unwrap_or("(no reason given)").to_string()),
        "end" => Line::End(match f.req("status")? {
            "pass" => EndStatus::Pass,
            "fail" => EndStatus::Fail,
            v => return Err(format!("`status={v}` is neither pass nor fail")),
        }),
        "mem" => Line::Mem(Mem {
            map: f.req_name("map")?,
            ram_mib: f.num("ram_mib")?,
            reach_mib: f.num("reach_mib")?,
            percpu: f.num("percpu")?,
            frames_mib: f.num("frames_mib")?,
            fields: f.pairs.iter().cloned().collect(),
        }),
        "warn" => Line::Warn(f.req_name("reason")?),
        "watchdog" => Line::Watchdog(Watchdog {
            core: f.num("core")?,
            task: match f.req("task")? {
                "-" => None,
                t => Some(t.parse().map_err(|_| format!("`task={t}` is neither a number nor -"))?),
            },
            reason: f.req_name("reason")?,
        }),
        other => return Err(format!("unknown line kind `{}`", excerpt(other))),
    };
    Ok(line)
}

/// Everything decoded from one boot's console, accumulated line by line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Transcript {
    /// The hello line.
    pub hello: Option<Hello>,
    /// CPU identification.
    pub cpu: Option<Cpu>,
    /// Counter kinds, in the order printed.
    pub counters: Vec<CounterState>,
    /// Calibration loop.
    pub calib: Option<Calib>,
    /// The time counter's rate.
    pub clock: Option<Clock>,
    /// Configuration in force.
    pub config: Option<Config>,
    /// Names of the correctness scenarios that passed.
    pub tests: Vec<String>,
    /// Benchmark figures, in the order printed.
    pub results: Vec<BenchResult>,
    /// Latency figures (`latency=`), in the order printed.
    pub latencies: Vec<Latency>,
    /// The SMP soak's counts (`soak=1`).
    pub soak: Option<Soak>,
    /// The fuzzing's totals (`fuzz=`).
    pub fuzz: Option<Fuzz>,
    /// Failed checks, in the order printed.
    pub failures: Vec<Failure>,
    /// The end line.
    pub end: Option<EndStatus>,
    /// The reason of a kernel panic line.
    pub panic: Option<String>,
    /// What RAM the kernel found and used.
    pub mem: Option<Mem>,
    /// Problems the kernel carried on past, in the order printed.
    pub warnings: Vec<String>,
    /// Tasks the watchdog killed, in the order printed.
    pub watchdogs: Vec<Watchdog>,
    /// The last non-empty console line (for error messages).
    pub last_line: String,
    /// Console lines seen.
    pub lines: usize,
}

impl Transcript {
    /// Feeds one console line (without its newline; `\r` is stripped here).
    ///
    /// `complete` is false only for a final line that had no newline: such a
    /// line is ignored when it does not parse. Returns the decoded line for
    /// `IPCB` lines, `None` for other text.
    pub fn feed(
        &mut self,
        line_no: usize,
        raw: &str,
        complete: bool,
    ) -> Result<Option<Line>, ParseError> {
        // A loader's output may end in a bare `\r` before the kernel's
        // first line: strip carriage returns at both ends.
        let text = raw.trim_matches(['\r', '\n']);
        self.lines = self.lines.max(line_no);
        if !text.trim().is_empty() {
            self.last_line = text.to_string();
        }
        if !is_protocol_line(text) {
            return Ok(None);
        }
        let err = |msg: String| ParseError {
            line_no,
            text: text.to_string(),
            msg,
        };
        let line = match parse_line(text) {
            Ok(line) => line,
            Err(_) if !complete => return Ok(None),
            Err(msg) => return Err(err(msg)),
        };
        match &line {
            Line::Hello(h) => {
                if self.hello.is_some() {
                    return Err(err("a second hello line: the kernel restarted".to_string()));
                }
                self.hello = Some(h.clone());
            }
            Line::Cpu(c) => self.cpu = Some(c.clone()),
            Line::Counter(c) => {
                if let Some(old) = self.counters.iter_mut().find(|o| o.name == c.name) {
                    *old = c.clone();
                } else {
                    self.counters.push(c.clone());
                }
            }
            Line::Calib(c) => self.calib = Some(c.clone()),
            Line::Clock(c) => self.clock = Some(c.clone()),
            Line::Config(c) => self.config = Some(c.clone()),
            Line::Ok(t) => self.tests.push(t.clone()),
            Line::Result(r) => {
                if self.results.iter().any(|o| {
                    o.bench == r.bench
                        && o.core == r.core
                        && o.counter == r.counter
                        && o.words == r.words
                }) {
                    let words = r.words.map(|w| format!(" words {w}")).unwrap_or_default();
                    return Err(err(format!(
                        "a second result for bench {}{words} core {} counter {}",
                        r.bench, r.core, r.counter
                    )));
                }
                self.results.push(r.clone());
            }
            Line::Latency(l) => {
                if self.latencies.iter().any(|o| o.bench == l.bench && o.core == l.core && o.words == l.words) {
                    return Err(err(format!("a second latency line for bench {} core {}", l.bench, l.core)));
                }
                self.latencies.push(l.clone());
            }
            Line::Soak(z) => {
                if self.soak.replace(z.clone()).is_some() {
                    return Err(err("a second soak line".to_string()));
                }
            }
            Line::Fuzz(z) => {
                if self.fuzz.is_some() {
                    return Err(err("a second fuzz line".to_string()));
                }
                self.fuzz = Some(z.clone());
            }
            Line::Fail(f) => self.failures.push(f.clone()),
            Line::Panic(r) => {
                self.panic.get_or_insert_with(|| r.clone());
            }
            Line::Mem(m) => self.mem = Some(m.clone()),
            Line::Warn(w) => self.warnings.push(w.clone()),
            Line::Watchdog(w) => self.watchdogs.push(w.clone()),
            Line::End(s) => {
                if self.end.is_some() {
                    return Err(err("a second end line".to_string()));
                }
                self.end = Some(*s);
            }
        }
        Ok(Some(line))
    }

    /// Decodes a whole console capture (a saved log: `cargo xtask report`,
    /// and tests); CRLF line ends are fine ([`Transcript::feed`]).
    ///
    /// The final segment counts as incomplete when `text` does not end with a
    /// newline, exactly as when streaming from QEMU.
    pub fn parse_str(text: &str) -> Result<Transcript, ParseError> {
        let mut t = Transcript::default();
        let mut segments: Vec<&str> = text.split('\n').collect();
        let complete_last = text.ends_with('\n');
        if complete_last {
            segments.pop();
        }
        let n = segments.len();
        for (i, seg) in segments.into_iter().enumerate() {
            t.feed(i + 1, seg, complete_last || i + 1 < n)?;
        }
        Ok(t)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A complete, passing transcript under icount, with human text around it.
    pub(crate) const PASS: &str = "\
SeaBIOS-less boot\r
ipcbench-rs kernel starting\r
IPCB hello proto=1 board=pc-x86_64 arch=x86_64 el=- cores=1\r
IPCB cpu vendor=AuthenticAMD model=\"QEMU TCG CPU version 2.5+\" family=6 model_id=6 hypervisor=1\r
IPCB counter name=tsc state=present\r
IPCB counter name=instructions state=absent\r
IPCB counter name=core-cycles state=absent\r
IPCB counter name=ref-cycles state=absent\r
IPCB calib iters=1000000 counter=tsc delta=2000004\r
IPCB config rounds=20000 runs=5 warmup=1 inject=none\r
IPCB ok test=bad-syscall\r
IPCB ok test=bad-cap\r
IPCB ok test=user-fault\r
bench       counter  median\r
ipc-intra   tsc      85.00\r
IPCB result bench=ipc-intra core=0 counter=tsc unit=one-way-ipc ops=40000 runs=5 min=85.00 median=85.00 mean=85.00 max=85.00 verified=1\r
IPCB result bench=ipc-inter core=0 counter=tsc unit=one-way-ipc ops=40000 runs=5 min=95.00 median=95.00 mean=95.00 max=95.00 verified=1\r
IPCB result bench=syscall core=0 counter=tsc unit=syscall ops=20000 runs=5 min=28.00 median=28.00 mean=28.00 max=28.00 verified=1\r
IPCB end status=pass\r
";

    /// A run where the inter-address-space IPC failed a check.
    pub(crate) const FAILED: &str = "\
IPCB hello proto=1 board=pc-x86_64 arch=x86_64 el=- cores=1
IPCB cpu vendor=GenuineIntel model=\"QEMU TCG CPU version 2.5+\"
IPCB counter name=tsc state=present
IPCB config rounds=500 runs=1 warmup=1 inject=mr
IPCB result bench=ipc-intra core=0 counter=tsc unit=one-way-ipc ops=1000 runs=1 min=85.00 median=85.00 mean=85.00 max=85.00 verified=1
IPCB fail bench=ipc-inter core=0 reason=\"mr2 mismatch\"
IPCB result bench=syscall core=0 counter=tsc unit=syscall ops=500 runs=1 min=28.00 median=28.00 mean=28.00 max=28.00 verified=1
IPCB end status=fail
";

    /// The latency lines of a `latency=tsc` run (rounds=500 runs=2).
    pub(crate) fn latency_lines() -> String {
        [
            "IPCB latency bench=ipc-intra words=0 core=0 counter=tsc unit=round-trip ops_per_round=2 rounds=500 runs=2 samples=1000 overhead_pairs=1024 overhead_min=2 overhead_median=2 subtracted=2 min=172 p50=172 p90=174 p99=180 max=400 hist_lo=172 hist_width=1 hist=900,0,90,0,0,0,0,0,5 hist_over=5 verified=1",
            "IPCB latency bench=ipc-inter words=0 core=0 counter=tsc unit=round-trip ops_per_round=2 rounds=500 runs=2 samples=1000 overhead_pairs=1024 overhead_min=2 overhead_median=2 subtracted=2 min=190 p50=190 p90=190 p99=190 max=190 hist_lo=190 hist_width=1 hist=1000 hist_over=0 verified=1",
            "IPCB latency bench=syscall core=0 counter=tsc unit=syscall ops_per_round=1 rounds=500 runs=2 samples=1000 overhead_pairs=1024 overhead_min=2 overhead_median=2 subtracted=2 min=29 p50=29 p90=29 p99=29 max=29 hist_lo=29 hist_width=1 hist=1000 hist_over=0 verified=1",
        ]
        .map(|l| format!("{l}\r\n"))
        .concat()
    }

    #[test]
    fn parses_latency_lines_and_refuses_inconsistent_ones() {
        let t = Transcript::parse_str(&latency_lines()).unwrap();
        assert_eq!(t.latencies.len(), 3);
        let l = &t.latencies[0];
        assert_eq!((l.bench.as_str(), l.words, l.p50, l.p99, l.max, l.subtracted), ("ipc-intra", Some(0), 172, 180, 400, 2));
        assert_eq!(l.hist.len(), 9);
        let one = latency_lines().lines().nth(1).unwrap().to_string() + "\n";
        for (from, to, says) in [
            ("p90=190", "p90=189", "percentiles"),
            ("hist=1000", "hist=999", "add up"),
            ("samples=1000", "samples=999", "rounds x runs"),
            ("overhead_min=2", "overhead_min=3", "overhead"),
            ("hist=1000", "hist=1x", "list of numbers"),
            (" p50=190", "", "missing key `p50`"),
        ] {
            let e = Transcript::parse_str(&one.replace(from, to)).unwrap_err();
            assert!(e.msg.contains(says), "{from}: {}", e.msg);
        }
        let twice = format!("{one}{one}");
        assert!(Transcript::parse_str(&twice).unwrap_err().msg.contains("second latency line"));
        let c = Transcript::parse_str("IPCB config rounds=5 runs=1 warmup=1 inject=none latency=pmccntr\n").unwrap();
        assert_eq!(c.config.unwrap().latency.as_deref(), Some("pmccntr"));
    }

    #[test]
    fn parses_the_fuzz_line() {
        let t = Transcript::parse_str("IPCB fuzz syscalls=100000 kills=31 episodes=210 seed=0x2a kernel_faults=0\n").unwrap();
        let z = t.fuzz.unwrap();
        assert_eq!((z.syscalls, z.kills, z.episodes, z.seed.as_str(), z.kernel_faults), (100_000, 31, 210, "0x2a", 0));
        assert!(Transcript::parse_str("IPCB fuzz syscalls=1 kills=0 episodes=1 seed=0x1\n").is_err());
        assert!(Transcript::parse_str("IPCB fuzz syscalls=1 kills=0 episodes=1 seed=1 kernel_faults=0\nIPCB fuzz syscalls=1 kills=0 episodes=1 seed=1 kernel_faults=0\n").is_err());
    }

    #[test]
    fn tokenizer_handles_quotes_and_spaces() {
        let p = tokenize("a=1 b=\"two words\" c= d=x").unwrap();
        assert_eq!(
            p,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "two words".into()),
                ("c".into(), "".into()),
                ("d".into(), "x".into())
            ]
        );
        assert!(tokenize("a=\"open").unwrap_err().contains("unterminated"));
        assert!(tokenize("a=\"x\"y").unwrap_err().contains("no space"));
        assert!(tokenize("junk").unwrap_err().contains("expected key=value"));
        assert!(tokenize("a=1 a=2").unwrap_err().contains("duplicate"));
        assert!(tokenize("=1").unwrap_err().contains("empty key"));
        assert!(tokenize("a=b\"c").unwrap_err().contains("stray quote"));
        assert!(tokenize("k\u{fffd}=1").unwrap_err().contains("invalid key"));
        assert_eq!(tokenize("").unwrap(), vec![]);
    }

    #[test]
    fn parses_the_raw_totals_of_a_result() {
        let line = "IPCB result bench=syscall core=0 counter=tsc unit=syscall ops=100 runs=3 min=42.00 median=42.00 mean=42.33 max=43.00 totals=4200,4300,4200 verified=1\n";
        let t = Transcript::parse_str(line).unwrap();
        assert_eq!(t.results[0].totals, vec![4200, 4300, 4200]);
        let without = Transcript::parse_str(&line.replace(" totals=4200,4300,4200", "")).unwrap();
        assert!(without.results[0].totals.is_empty());
        assert!(Transcript::parse_str(&line.replace("4200,4300,4200", "4200,4300")).is_err());
        assert!(Transcript::parse_str(&line.replace("4200,4300,4200", "4200,x,4200")).is_err());
    }

    #[test]
    fn parses_watchdog_lines_and_the_interrupt_count() {
        let t = Transcript::parse_str(concat!(
            "IPCB watchdog core=0 task=1 reason=\"ran past its budget of 20000000 ticks\"\n",
            "IPCB result bench=null core=0 counter=tsc unit=syscall ops=10 runs=1 min=13 median=13 mean=13 max=13 totals=130 interrupts=0 verified=1\n",
        ))
        .unwrap();
        assert_eq!(t.watchdogs, vec![Watchdog { core: 0, task: Some(1), reason: "ran past its budget of 20000000 ticks".into() }]);
        assert_eq!(t.results[0].interrupts, Some(0));
        assert_eq!(parse_line("IPCB watchdog core=1 task=- reason=\"x\"").unwrap(), Line::Watchdog(Watchdog { core: 1, task: None, reason: "x".into() }));
        assert!(parse_line("IPCB watchdog core=0 task=x reason=\"y\"").is_err());
        let lat = tests::latency_lines().lines().next().unwrap().replace(" verified=1", " interrupts=0 verified=1");
        assert!(matches!(parse_line(&lat).unwrap(), Line::Latency(Latency { interrupts: Some(0), .. })));
        assert!(parse_line("IPCB watchdog core=0 task=1").is_err());
        assert!(parse_line("IPCB result bench=null core=0 counter=tsc unit=syscall ops=1 runs=1 min=1 median=1 mean=1 max=1 interrupts=many verified=1").is_err());
    }

    #[test]
    fn parses_the_clock_line() {
        let t = Transcript::parse_str("IPCB clock counter=tsc hz=2256000000 source=cpuid-15h invariant=1\n").unwrap();
        assert_eq!(
            t.clock,
            Some(Clock { counter: "tsc".into(), hz: 2_256_000_000, source: "cpuid-15h".into(), invariant: true })
        );
        assert!(Transcript::parse_str("IPCB clock counter=tsc hz=fast source=pit invariant=0\n").is_err());
    }

    #[test]
    fn parses_mem_and_warn_lines_even_after_a_bare_carriage_return() {
        let text = "\rIPCB warn reason=\"no memory map from the boot loader\"\r\n\
                    IPCB mem map=efi ram_mib=8191 reach_mib=1024 percpu=8 percpu_mib=16 frames_mib=990 info=0x7e000000 trampoline=0x8000\r\n";
        let t = Transcript::parse_str(text).unwrap();
        assert_eq!(t.warnings, vec!["no memory map from the boot loader"]);
        let m = t.mem.unwrap();
        assert_eq!(
            (
                m.map.as_str(),
                m.ram_mib,
                m.reach_mib,
                m.percpu,
                m.frames_mib
            ),
            ("efi", 8191, 1024, 8, 990)
        );
        assert_eq!(
            m.fields.get("trampoline").map(String::as_str),
            Some("0x8000")
        );
        assert!(Transcript::parse_str("IPCB mem map=efi\n").is_err());
        assert!(Transcript::parse_str("IPCB warn\n").is_err());
    }

    #[test]
    fn parses_a_passing_transcript() {
        let t = Transcript::parse_str(PASS).unwrap();
        let h = t.hello.as_ref().unwrap();
        assert_eq!(
            (h.board.as_str(), h.arch.as_str(), h.el, h.cores),
            ("pc-x86_64", "x86_64", None, 1)
        );
        let cpu = t.cpu.as_ref().unwrap();
        assert_eq!(cpu.model.as_deref(), Some("QEMU TCG CPU version 2.5+"));
        assert_eq!(cpu.vendor.as_deref(), Some("AuthenticAMD"));
        assert_eq!(cpu.fields.get("model_id").map(String::as_str), Some("6"));
        assert_eq!(t.counters.len(), 4);
        assert_eq!(
            t.counters[0],
            CounterState {
                name: "tsc".into(),
                state: CounterPresence::Present
            }
        );
        let calib = t.calib.as_ref().unwrap();
        assert_eq!(calib.ticks_per_instruction(), Some(1.000002));
        assert_eq!(t.config.as_ref().unwrap().rounds, 20000);
        assert_eq!(t.tests, vec!["bad-syscall", "bad-cap", "user-fault"]);
        assert_eq!(t.results.len(), 3);
        assert_eq!(t.results[2].unit, "syscall");
        assert!(t.results.iter().all(|r| r.verified));
        assert!(t.failures.is_empty());
        assert_eq!(t.end, Some(EndStatus::Pass));
        assert_eq!(t.last_line, "IPCB end status=pass");
    }

    #[test]
    fn parses_a_failed_run() {
        let t = Transcript::parse_str(FAILED).unwrap();
        assert_eq!(t.end, Some(EndStatus::Fail));
        assert_eq!(
            t.failures,
            vec![Failure {
                bench: "ipc-inter".into(),
                core: Some(0),
                words: None,
                reason: "mr2 mismatch".into(),
                is_test: false
            }]
        );
        assert_eq!(t.config.as_ref().unwrap().inject, "mr");
    }

    #[test]
    fn missing_end_line_leaves_end_unset() {
        let text = PASS.replace("IPCB end status=pass\r\n", "kernel panicked at ...\r\n");
        let t = Transcript::parse_str(&text).unwrap();
        assert_eq!(t.end, None);
        assert_eq!(t.last_line, "kernel panicked at ...");
    }

    #[test]
    fn garbage_text_is_ignored_but_garbled_ipcb_lines_are_errors() {
        let text = "\u{fffd}\u{fffd}junk IPCB result nonsense\nIPCBX foo\nIPCB hello proto=1 board=pc-x86_64 arch=x86_64 el=- cores=1\nIPCB resul bench=x\n";
        let e = Transcript::parse_str(text).unwrap_err();
        assert_eq!(e.line_no, 4);
        assert!(
            e.to_string()
                .starts_with("unparseable kernel output line 4: \"IPCB resul bench=x\""),
            "{e}"
        );
        assert!(e.msg.contains("unknown line kind"));
    }

    #[test]
    fn incomplete_last_line_is_ignored_but_not_a_complete_one() {
        let cut = "IPCB hello proto=1 board=pc-x86_64 arch=x86_64 el=- cores=1\nIPCB result bench=ipc-intra core=0 counter=ts";
        let t = Transcript::parse_str(cut).unwrap();
        assert!(t.results.is_empty());
        assert_eq!(t.lines, 2);
        let e = Transcript::parse_str(&format!("{cut}\n")).unwrap_err();
        assert_eq!(e.line_no, 2);
        assert!(e.msg.contains("missing key"), "{}", e.msg);
    }

    #[test]
    fn rejects_bad_values() {
        let base = "IPCB result bench=ipc-intra core=0 counter=tsc unit=one-way-ipc ops=40000 runs=5 min=85.00 median=85.00 mean=85.10 max=86.00 verified=1";
        assert!(parse_line(base).is_ok());
        let cases = [
            (
                base.replace("median=85.00", "median=8x.00"),
                "not a valid number",
            ),
            (base.replace("median=85.00", "median=87.00"), "inconsistent"),
            (
                base.replace("verified=1", "verified=yes"),
                "neither 0 nor 1",
            ),
            (base.replace("ops=40000", "ops=0"), "at least 1"),
            (base.replace("min=85.00", "min=NaN"), "not finite"),
            (base.replace(" core=0", ""), "missing key `core`"),
            (base.replace("bench=ipc-intra", "bench="), "empty `bench`"),
            (
                "IPCB hello proto=2 board=b arch=a el=- cores=1".to_string(),
                "protocol version 2",
            ),
            (
                "IPCB hello proto=1 board=b arch=a el=x cores=1".to_string(),
                "el=x",
            ),
            (
                "IPCB counter name=tsc state=maybe".to_string(),
                "neither present nor absent",
            ),
            ("IPCB end status=ok".to_string(), "neither pass nor fail"),
            ("IPCB end".to_string(), "missing key `status`"),
            ("IPCB".to_string(), "no line kind"),
            ("IPCB fail reason=x".to_string(), "missing key `bench`"),
            (
                "IPCB fail bench=x core=zero".to_string(),
                "not a valid number",
            ),
        ];
        for (line, want) in cases {
            let err = parse_line(&line).unwrap_err();
            assert!(err.contains(want), "{line}: {err}");
        }
    }

    #[test]
    fn accepts_extra_keys_arm_hello_and_test_failures() {
        let l = parse_line(
            "IPCB hello proto=1 board=qemu-virt-aarch64 arch=aarch64 el=2 cores=4 smp=psci",
        )
        .unwrap();
        assert!(matches!(
            l,
            Line::Hello(Hello {
                el: Some(2),
                cores: 4,
                ..
            })
        ));
        let l = parse_line("IPCB fail test=user-fault reason=\"task survived\"").unwrap();
        assert_eq!(
            l,
            Line::Fail(Failure {
                bench: "user-fault".into(),
                core: None,
                words: None,
                reason: "task survived".into(),
                is_test: true
            })
        );
        let l = parse_line("IPCB fail bench=syscall").unwrap();
        assert!(
            matches!(l, Line::Fail(Failure { ref reason, .. }) if reason == "(no reason given)")
        );
    }

    #[test]
    fn panic_lines_and_padded_cpu_strings() {
        let t = Transcript::parse_str(
            "IPCB cpu vendor= model=\"      Intel(R) Xeon(R)  \" hypervisor=0\n\
             IPCB panic reason=\"kernel exception vector 14 error 0x2 rip 0xffffffff80001234 cr2 0x0\"\n\
             IPCB end status=fail\n",
        )
        .unwrap();
        let cpu = t.cpu.unwrap();
        assert_eq!(
            (cpu.vendor, cpu.model.as_deref()),
            (None, Some("Intel(R) Xeon(R)"))
        );
        assert_eq!(
            t.panic.as_deref(),
            Some("kernel exception vector 14 error 0x2 rip 0xffffffff80001234 cr2 0x0")
        );
        assert_eq!(t.end, Some(EndStatus::Fail));
    }

    #[test]
    fn second_hello_and_duplicate_results_are_errors() {
        let hello = "IPCB hello proto=1 board=pc-x86_64 arch=x86_64 el=- cores=1\n";
        let e = Transcript::parse_str(&format!("{hello}{hello}")).unwrap_err();
        assert!(e.msg.contains("restarted"));
        let r = "IPCB result bench=syscall core=0 counter=tsc unit=syscall ops=1 runs=1 min=1 median=1 mean=1 max=1 verified=1\n";
        let e = Transcript::parse_str(&format!("{hello}{r}{r}")).unwrap_err();
        assert_eq!(e.line_no, 3);
        assert!(e.msg.contains("second result"));
    }

    /// The sweep lines a kernel with `sweep=1` prints after the benchmarks:
    /// eight message sizes, counter `tsc`, 10 more instructions per UTCB word.
    pub(crate) fn sweep_lines() -> String {
        let mut s = String::new();
        for w in [0u64, 1, 2, 4, 8, 16, 32, 63] {
            let v = 130 + w + if w > REGISTER_WORDS { 10 * w } else { 0 };
            s.push_str(&format!(
                "IPCB result bench=ipc-sweep words={w} core=0 counter=tsc unit=one-way-ipc ops=40000 runs=5 min={v}.00 median={v}.00 mean={v}.00 max={v}.00 verified=1\r\n"
            ));
        }
        s
    }

    /// [`PASS`] with `sweep=1` in the config line and the sweep's results.
    pub(crate) fn pass_with_sweep() -> String {
        PASS.replace("inject=none\r\n", "inject=none sweep=1\r\n")
            .replace(
                "IPCB end status=pass\r\n",
                &format!("{}IPCB end status=pass\r\n", sweep_lines()),
            )
    }

    #[test]
    fn sweep_results_carry_words_and_config_its_flag() {
        let t = Transcript::parse_str(&pass_with_sweep()).unwrap();
        assert_eq!(t.config.as_ref().unwrap().sweep, Some(true));
        assert_eq!(t.results.len(), 3 + 8);
        assert!(t.results[..3].iter().all(|r| r.words.is_none()));
        let words: Vec<u64> = t.results[3..].iter().filter_map(|r| r.words).collect();
        assert_eq!(words, vec![0, 1, 2, 4, 8, 16, 32, 63]);
        assert!(t.results[3..].iter().all(|r| r.bench == SWEEP_BENCH));
        assert_eq!(t.results[10].median, 823.0);
        // `sweep` is optional, and 0 turns it off.
        assert_eq!(
            Transcript::parse_str(PASS).unwrap().config.unwrap().sweep,
            None
        );
        let off = parse_line("IPCB config rounds=1 runs=1 warmup=0 inject=none sweep=0").unwrap();
        assert!(matches!(
            off,
            Line::Config(Config {
                sweep: Some(false),
                ..
            })
        ));
        let e =
            parse_line("IPCB config rounds=1 runs=1 warmup=0 inject=none sweep=yes").unwrap_err();
        assert!(e.contains("`sweep=yes` is neither 0 nor 1"), "{e}");
        // `words` must be a number, and the sweep cannot go without it.
        let r = "IPCB result bench=ipc-sweep words=8 core=0 counter=tsc unit=one-way-ipc ops=4 runs=1 min=1 median=1 mean=1 max=1 verified=1";
        assert!(matches!(
            parse_line(r).unwrap(),
            Line::Result(BenchResult { words: Some(8), .. })
        ));
        let e = parse_line(&r.replace("words=8", "words=-1")).unwrap_err();
        assert!(e.contains("`words=-1` is not a valid number"), "{e}");
        let e = parse_line(&r.replace(" words=8", "")).unwrap_err();
        assert!(e.contains("missing key `words`"), "{e}");
        // Other benches may carry it too (kept, not required).
        let l = parse_line(&r.replace("ipc-sweep", "ipc-intra")).unwrap();
        assert!(matches!(
            l,
            Line::Result(BenchResult { words: Some(8), .. })
        ));
        // Sweep failures name the size.
        let l = parse_line(
            "IPCB fail bench=ipc-sweep words=63 core=0 reason=\"mr 40 got 0x0 expected 0x1\"",
        )
        .unwrap();
        assert!(matches!(
            l,
            Line::Fail(Failure {
                words: Some(63),
                core: Some(0),
                ..
            })
        ));
    }

    #[test]
    fn duplicate_rule_keys_on_words_too() {
        let hello = "IPCB hello proto=1 board=pc-x86_64 arch=x86_64 el=- cores=1\n";
        let r = |w: &str| {
            format!(
                "IPCB result bench=ipc-sweep words={w} core=0 counter=tsc unit=one-way-ipc ops=1 runs=1 min=1 median=1 mean=1 max=1 verified=1\n"
            )
        };
        // Same bench, core and counter, different sizes: fine.
        let t = Transcript::parse_str(&format!("{hello}{}{}", r("0"), r("63"))).unwrap();
        assert_eq!(t.results.len(), 2);
        // The same size twice: an error naming it.
        let e =
            Transcript::parse_str(&format!("{hello}{}{}{}", r("0"), r("8"), r("8"))).unwrap_err();
        assert_eq!(e.line_no, 4);
        assert!(
            e.msg
                .contains("a second result for bench ipc-sweep words 8 core 0 counter tsc"),
            "{}",
            e.msg
        );
        // Another counter at the same size: fine.
        let tsc8 = r("8");
        let instr8 = tsc8.replace("counter=tsc", "counter=instructions");
        assert!(Transcript::parse_str(&format!("{hello}{tsc8}{instr8}")).is_ok());
        // A sized and an unsized result of one bench are different figures.
        let plain = tsc8
            .replace(" words=8", "")
            .replace("ipc-sweep", "ipc-inter");
        let sized = tsc8.replace("ipc-sweep", "ipc-inter");
        assert!(Transcript::parse_str(&format!("{hello}{plain}{sized}")).is_ok());
    }

    #[test]
    fn error_excerpt_is_one_line_and_short() {
        let long = format!("IPCB bogus {}\u{7}", "x".repeat(400));
        let e = Transcript::parse_str(&format!("{long}\n")).unwrap_err();
        let s = e.to_string();
        assert!(!s.contains('\n') && !s.contains('\u{7}'));
        assert!(s.len() < 400, "{}", s.len());
    }
}
