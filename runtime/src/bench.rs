// SPDX-License-Identifier: MIT OR Apache-2.0
//! The benchmark driver.
//!
//! For each scenario (correctness test, fault test, benchmark) the driver
//! starts from an empty kernel: it frees every frame, builds the tasks
//! (loading the embedded user program into each), the endpoint, the
//! capabilities and the threads, writes each thread's job into its UTCB
//! (docs/abi.md "Start-up words"), and runs user mode until no thread is
//! ready. Then it checks what the threads reported and prints the result:
//! human-readable lines and the `IPCB` protocol lines (docs/protocol.md).
//!
//! The driver runs on the boot stack, outside any kernel entry; while user
//! code runs it holds no reference into the kernel state (the entry points
//! reach it through the board's static).

use ipc_core::{Badge, Cap, Next, Rights, TaskId, Word};
use pmu::{CounterKind, CounterSet, Stats, MAX_COUNTERS};

use crate::elf::{Elf, ElfError};
use crate::mem::FRAME;
use crate::state::Reports;
use crate::{kprint, kprintln, Board, CounterSelector, FaultClass, Machine, MemError, Perm, State};

mod fuzz;
mod smp;
mod soak;

/// User address of thread `k`'s UTCB.
pub const UTCB_BASE: u64 = 0x10_0000_0000;
/// User address of the stack area of thread `k`.
pub const STACK_BASE: u64 = 0x20_0000_0000;
/// Stack area per thread.
pub const STACK_AREA: u64 = 0x10_0000;
/// Mapped stack per thread.
pub const STACK_SIZE: u64 = 64 * 1024;

/// Roles of the user program (docs/abi.md).
pub mod role {
    /// IPC client.
    pub const CLIENT: u64 = 1;
    /// IPC server.
    pub const SERVER: u64 = 2;
    /// Null-syscall loop.
    pub const NULL: u64 = 3;
    /// `invoke` loop: `ping` on the thread's own capability.
    pub const INVOKE: u64 = 4;
    /// `latency=`: the IPC client, each round timed.
    pub const CLIENT_LAT: u64 = 5;
    /// `latency=`: the null loop, each round timed.
    pub const NULL_LAT: u64 = 6;
    /// `latency=`: the `invoke` loop, each round timed.
    pub const INVOKE_LAT: u64 = 7;

    /// `selftest=watchdog`: take one call, then spin for ever.
    pub const SPIN: u64 = 38;
    /// `selftest=watchdog`: call the spinner; expect `PartnerDied`.
    pub const SPIN_CALLER: u64 = 39;

    /// A role that times every round and needs a sample buffer?
    pub const fn is_latency(role: u64) -> bool {
        matches!(role, CLIENT_LAT | NULL_LAT | INVOKE_LAT)
    }
}

/// The sample buffer of the latency roles (docs/abi.md; the program's copy
/// is `benches::abi::latency`).
pub mod lat {
    /// Deltas of back-to-back counter reads at the buffer's start.
    pub const OVERHEAD_PAIRS: usize = 1024;
    /// 32-bit words in the buffer (512 KiB; each a counter's low 32 bits).
    pub const BUFFER_WORDS: usize = 128 * 1024;
    /// Its user address.
    pub const BUFFER_VA: u64 = 0x30_0000_0000;
    /// Most rounds over all measured runs (`rounds * runs`) it holds.
    pub const MAX_ROUNDS: u64 = 128_000;
}

/// Which message field the fault-injection build corrupts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Inject {
    /// Nothing (the normal build ignores anything else).
    None,
    /// Flip a bit of message register 2.
    Mr,
    /// Flip a bit of the badge.
    Badge,
    /// Flip a bit of the label.
    Label,
}

impl Inject {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Inject::None => "none",
            Inject::Mr => "mr",
            Inject::Badge => "badge",
            Inject::Label => "label",
        }
    }
}

/// The benchmark configuration from the kernel command line.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Config {
    /// Rounds per run.
    pub rounds: u64,
    /// Measured runs.
    pub runs: u64,
    /// Warm-up runs.
    pub warmup: u64,
    /// Fault injection.
    pub inject: Inject,
    /// Run the message-size sweep.
    pub sweep: bool,
    /// Message length of `ipc-intra` and `ipc-inter`, in words (0..=63).
    /// The default, 0, is the message of L4Re's ipcbench
    /// (`l4_msgtag(0, 0, 0, 0)`): a tag, a badge and no words; the sweep
    /// gives the cost of each word.
    pub words: u64,
    /// Run the kernel's W^X self-test first (`selftest=wx`).
    pub selftest_wx: bool,
    /// `latency=<counter>`: after the benchmarks, time every round of
    /// `ipc-intra`, `ipc-inter`, `syscall`, `null` and `floor` on its own
    /// with this counter (`None`: not asked for, the default).
    pub latency: Option<CounterKind>,
    /// `soak=1`: after the benchmarks, the SMP soak (`bench/soak.rs`).
    pub soak: bool,
    /// `fuzz=N`: first run seeded syscall fuzzing until `N` syscalls
    /// (0: none, the default).
    pub fuzz: u64,
    /// `seed=S` (decimal or `0x` hex): the fuzzing's seed.
    pub seed: u64,
    /// `watchdog=<ticks>`: the budget of user code outside the timed
    /// runs, in ticks of the arch's watchdog timer (x86_64: the local APIC
    /// timer at the bus clock, 1 GHz in QEMU; AArch64: the generic timer
    /// at `CNTFRQ`, 62.5 MHz in QEMU 7.2).
    pub watchdog: u64,
    /// `selftest=watchdog`: run the `watchdog` scenario (a thread that
    /// spins for ever; the watchdog must kill it) before the others.
    pub selftest_watchdog: bool,
    /// `kpti=on`: kernel isolation ([`Machine::kernel_isolation`]) on
    /// every CPU, and its check before the first scenario. Off by default
    /// (`kpti=off`), as the published figures are measured.
    pub kpti: bool,
}

/// The default watchdog budget: 10^9 ticks (1 s in QEMU; on hardware,
/// with a 25 to 200 MHz APIC bus clock, 5 to 40 s): far beyond what any
/// scenario needs.
pub const WATCHDOG_TICKS: u64 = 1_000_000_000;

impl Default for Config {
    fn default() -> Self {
        Config { rounds: 20_000, runs: 5, warmup: 1, inject: Inject::None, sweep: true, words: 0, selftest_wx: false, latency: None, soak: false, fuzz: 0, seed: 0, watchdog: WATCHDOG_TICKS, selftest_watchdog: false, kpti: false }
    }
}

/// Parse `key=value` words; unknown keys are an error (named in `Err`).
/// A first word without `=` is the kernel's path, which multiboot loaders
/// put in front, and is skipped.
pub fn parse_cmdline(s: &str) -> Result<Config, &str> {
    let mut c = Config::default();
    let mut latency_word = "latency";
    for (i, w) in s.split_ascii_whitespace().enumerate() {
        if i == 0 && !w.contains('=') {
            continue;
        }
        let (k, v) = w.split_once('=').ok_or(w)?;
        let num = || v.parse::<u64>().map_err(|_| w);
        match k {
            "rounds" => c.rounds = num()?.max(1),
            "runs" => c.runs = num()?.clamp(1, pmu::MAX_RUNS as u64),
            "warmup" => c.warmup = num()?,
            "sweep" => c.sweep = num()? != 0,
            "soak" => c.soak = num()? != 0,
            "words" => {
                c.words = num()?;
                if c.words > ipc_core::MSG_MAX_WORDS as u64 {
                    return Err(w);
                }
            }
            "inject" => {
                c.inject = match v {
                    "none" => Inject::None,
                    "mr" => Inject::Mr,
                    "badge" => Inject::Badge,
                    "label" => Inject::Label,
                    _ => return Err(w),
                }
            }
            "selftest" => {
                c.selftest_wx = false;
                c.selftest_watchdog = false;
                for t in v.split(',') {
                    match t {
                        "wx" => c.selftest_wx = true,
                        "watchdog" => c.selftest_watchdog = true,
                        "none" => {}
                        _ => return Err(w),
                    }
                }
            }
            "kpti" => {
                c.kpti = match v {
                    "on" | "1" => true,
                    "off" | "0" => false,
                    _ => return Err(w),
                }
            }
            "fuzz" => c.fuzz = num()?,
            "seed" => {
                c.seed = match v.strip_prefix("0x") {
                    Some(h) => u64::from_str_radix(h, 16).map_err(|_| w)?,
                    None => num()?,
                }
            }
            "watchdog" => {
                // 2^32 - 1 at most: the x86 APIC timer's 32-bit count.
                c.watchdog = num()?;
                if c.watchdog == 0 || c.watchdog > u64::from(u32::MAX) {
                    return Err(w);
                }
            }
            "latency" => {
                c.latency = match v {
                    "none" => None,
                    _ => Some(CounterKind::ALL.into_iter().find(|k| k.name() == v).ok_or(w)?),
                };
                latency_word = w;
            }
            _ => return Err(w),
        }
    }
    // Every round's time stamp must fit the sample buffer.
    if c.latency.is_some() && c.rounds.saturating_mul(c.runs) > lat::MAX_ROUNDS {
        return Err(latency_word);
    }
    Ok(c)
}

/// The kernel's W^X self-test (`selftest=wx`): every probe of the arch
/// ([`Machine::wx_probe`]), one human line each, then `IPCB ok
/// test=kernel-wx` or `IPCB fail test=kernel-wx reason="..."` naming the
/// first access that was not refused. `true` if all were.
/// With kernel isolation on: make a space with one user page, walk its
/// user tables ([`Machine::isolation_check`]) and report (`IPCB ok
/// test=kpti pages=N`: the kernel pages they keep, the entry trampoline).
fn kpti_selftest<M: Machine, B: Board>(env: &Env<'_, M, B>) -> bool {
    // SAFETY: the boot CPU's state, before any scenario; no entry runs.
    let st = unsafe { &mut *(env.state)() };
    fresh(st, env);
    let r = M::new_space(&mut st.frames, 1).map_err(|_| "no frames for a space").and_then(|space| {
        let page = st.frames.alloc().ok_or("no frame for a page")?;
        M::map_page(&mut st.frames, space, 0x40_0000, page, Perm { write: true, exec: false })
            .map_err(|_| "could not map a user page")?;
        M::isolation_check(space)
    });
    fresh(st, env);
    match r {
        Ok(pages) => {
            kprintln!(B, "IPCB ok test=kpti pages={}", pages);
            true
        }
        Err(why) => {
            kprintln!(B, "IPCB fail test=kpti reason=\"{}\"", why);
            false
        }
    }
}

fn wx_selftest<M: Machine, B: Board>() -> bool {
    let mut first_bad = None;
    let mut n = 0;
    while let Some(p) = M::wx_probe(n) {
        n += 1;
        match p.fault {
            Some(f) => kprintln!(B, "kernel W^X: {} at {:#x}: {} (vector/class {:#x} error {:#x} addr {:#x} pc {:#x})",
                p.what, p.addr, if p.refused { "refused" } else { "faulted, but not as expected" }, f.vector, f.error, f.addr, f.pc),
            None => kprintln!(B, "kernel W^X: {} at {:#x}: went through", p.what, p.addr),
        }
        if !p.refused && first_bad.is_none() {
            first_bad = Some(p);
        }
    }
    match (n, first_bad) {
        (0, _) => kprintln!(B, "IPCB fail test=kernel-wx reason=\"no W^X probes on {}\"", M::NAME),
        (_, Some(p)) => kprintln!(B, "IPCB fail test=kernel-wx reason=\"{} at {:#x} was not refused by a permission fault\"", p.what, p.addr),
        (_, None) => kprintln!(B, "IPCB ok test=kernel-wx"),
    }
    n > 0 && first_bad.is_none()
}

/// One thread of a scenario.
#[derive(Clone, Copy, Debug)]
struct ThreadSpec {
    task: usize,
    role: u64,
    cap: u64,
    badge: u64,
}

/// One capability of a scenario (every scenario has one endpoint).
#[derive(Clone, Copy, Debug)]
struct CapSpec {
    task: usize,
    slot: usize,
    rights: Rights,
    badge: u64,
    /// `Some(cpu)`: a [`Cap::Remote`] to endpoint 0 of that CPU's kernel
    /// (the first endpoint a scenario creates), instead of this kernel's.
    remote: Option<u8>,
    /// `Some(i)`: a [`Cap::Thread`] for the scenario's thread `i` (set
    /// once the threads exist), instead of an endpoint capability.
    thread: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A benchmark: unit name and operations per round.
    Bench { unit: &'static str, ops_per_round: u64 },
    /// A benchmark with every round timed (`latency=`): unit name and
    /// operations per round.
    Latency { unit: &'static str, ops_per_round: u64 },
    /// A correctness scenario that reports `test_ok(role)`.
    Test,
    /// A scenario whose task must be killed by a fault of this class, at
    /// this address.
    Fault(FaultClass, Where),
    /// `selftest=watchdog`: a thread spins for ever; the watchdog must
    /// kill its task (once), and its caller, woken with `PartnerDied`,
    /// reports `test_ok`.
    Watchdog,
}

/// Where a fault must have hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Where {
    /// Exactly this address.
    At(u64),
    /// In the user program's image.
    UserImage,
    /// In the first thread's stack.
    Stack,
    /// No address (not a memory fault).
    Nowhere,
}

impl Where {
    fn matches(self, addr: u64) -> bool {
        match self {
            Where::At(a) => addr == a,
            Where::UserImage => (0x40_0000..0x80_0000).contains(&addr),
            Where::Stack => (STACK_BASE..STACK_BASE + STACK_AREA).contains(&addr),
            Where::Nowhere => true,
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Scenario {
    name: &'static str,
    id: u64,
    /// Message length in words (UTCB word 16).
    words: u64,
    tasks: usize,
    caps: &'static [CapSpec],
    threads: &'static [ThreadSpec],
    kind: Kind,
}

impl Scenario {
    /// An IPC benchmark (its lines name the message length)?
    fn is_ipc(&self) -> bool {
        matches!(self.kind, Kind::Bench { ops_per_round: 2, .. })
    }

    /// A latency IPC benchmark (its line names the message length)?
    fn is_latency_ipc(&self) -> bool {
        matches!(self.kind, Kind::Latency { ops_per_round: 2, .. })
    }

    /// A column of the closing table (one figure, on one core)?
    fn tabled(&self) -> bool {
        self.name != "ipc-sweep" && !self.name.ends_with("-parallel") && self.name != "ipc-cross-core"
    }
}

const SEND_B1: CapSpec = CapSpec { task: 0, slot: 2, rights: Rights::SEND, badge: 0xB1, remote: None, thread: None };
const RECV: CapSpec = CapSpec { task: 0, slot: 1, rights: Rights::RECV, badge: 0, remote: None, thread: None };
/// The `syscall` bench's capability: its one thread's own, with the
/// control right, in slot 3 (badge: what `ping` returns).
const OWN_THREAD: CapSpec =
    CapSpec { task: 0, slot: 3, rights: Rights::CONTROL, badge: 0x7A11, remote: None, thread: Some(0) };

/// The single thread of a test scenario; role 0 means "the scenario id".
const TEST_THREAD: ThreadSpec = ThreadSpec { task: 0, role: 0, cap: 1, badge: 0 };

const fn test(name: &'static str, id: u64, kind: Kind) -> Scenario {
    Scenario {
        name,
        id,
        words: 4,
        tasks: 1,
        caps: &[CapSpec { task: 0, slot: 1, rights: Rights::SEND, badge: 0, remote: None, thread: None }],
        threads: &[TEST_THREAD],
        kind,
    }
}

/// Correctness and fault scenarios, run before the benchmarks.
const TESTS: &[Scenario] = &[
    test("bad-syscall", 16, Kind::Test),
    test("bad-cap", 17, Kind::Test),
    test("no-rights", 18, Kind::Test),
    test("bad-message", 19, Kind::Test),
    test("no-caller", 20, Kind::Test),
    test("null-preserves-registers", 21, Kind::Test),
    Scenario {
        caps: &[
            CapSpec { task: 0, slot: 1, rights: Rights::SEND, badge: 0, remote: None, thread: None },
            OWN_THREAD,
            CapSpec { task: 0, slot: 4, rights: Rights(0), badge: 0x7A12, remote: None, thread: Some(0) },
        ],
        ..test("bad-invoke", 22, Kind::Test)
    },
    test("fault-kernel-read", 32, Kind::Fault(FaultClass::Page, Where::At(0xFFFF_FFFF_8010_0000))),
    test("fault-write-code", 33, Kind::Fault(FaultClass::Page, Where::UserImage)),
    test("fault-privileged", 34, Kind::Fault(FaultClass::Protection, Where::Nowhere)),
    test("fault-undefined", 35, Kind::Fault(FaultClass::Undefined, Where::Nowhere)),
    test("fault-null-read", 36, Kind::Fault(FaultClass::Page, Where::At(0))),
    test("fault-nx-stack", 37, Kind::Fault(FaultClass::Page, Where::Stack)),
];

/// `selftest=watchdog`: task 0's thread takes the call of task 1's, then
/// spins in user mode (`loop {}`); the watchdog must kill task 0, and the
/// caller, woken with `PartnerDied`, reports `test_ok(38)`.
const WATCHDOG: Scenario = Scenario {
    name: "watchdog",
    id: 38,
    words: 0,
    tasks: 2,
    caps: &[RECV, CapSpec { task: 1, slot: 1, rights: Rights::SEND, badge: 0xE1, remote: None, thread: None }],
    threads: &[
        ThreadSpec { task: 0, role: role::SPIN, cap: 1, badge: 0 },
        ThreadSpec { task: 1, role: role::SPIN_CALLER, cap: 1, badge: 0 },
    ],
    kind: Kind::Watchdog,
};

/// [`WATCHDOG`] on every core at once (each core's own spinner, its own
/// timer: one kill per core), after the boot CPU's run alone.
const WATCHDOG_PARALLEL: Scenario = Scenario { name: "watchdog-parallel", ..WATCHDOG };

/// The parallel job number of [`WATCHDOG_PARALLEL`] (not an index of
/// [`PARALLEL`], below the soak's).
const WATCHDOG_JOB: usize = 1 << 15;

/// The benchmarks.
const BENCHES: &[Scenario] = &[
    Scenario {
        name: "ipc-intra",
        words: 4,
        id: 1,
        tasks: 1,
        caps: &[RECV, SEND_B1],
        threads: &[
            ThreadSpec { task: 0, role: role::SERVER, cap: 1, badge: 0xB1 },
            ThreadSpec { task: 0, role: role::CLIENT, cap: 2, badge: 0 },
        ],
        kind: Kind::Bench { unit: "one-way-ipc", ops_per_round: 2 },
    },
    Scenario {
        name: "ipc-inter",
        words: 4,
        id: 2,
        tasks: 2,
        caps: &[RECV, CapSpec { task: 1, slot: 1, rights: Rights::SEND, badge: 0xC2, remote: None, thread: None }],
        threads: &[
            ThreadSpec { task: 0, role: role::SERVER, cap: 1, badge: 0xC2 },
            ThreadSpec { task: 1, role: role::CLIENT, cap: 1, badge: 0 },
        ],
        kind: Kind::Bench { unit: "one-way-ipc", ops_per_round: 2 },
    },
    // L4Re's syscall benchmark: a call the kernel answers itself, through
    // a capability (lookup, rights, object dispatch, op decode, reply).
    Scenario {
        name: "syscall",
        words: 0,
        id: 3,
        tasks: 1,
        caps: &[OWN_THREAD],
        threads: &[ThreadSpec { task: 0, role: role::INVOKE, cap: 3, badge: 0x7A11 }],
        kind: Kind::Bench { unit: "syscall", ops_per_round: 1 },
    },
    // The null syscall, answered in the first instructions of the entry.
    Scenario {
        name: "null",
        words: 4,
        id: 6,
        tasks: 1,
        caps: &[],
        threads: &[ThreadSpec { task: 0, role: role::NULL, cap: 0, badge: 0 }],
        kind: Kind::Bench { unit: "syscall", ops_per_round: 1 },
    },
];

/// The benchmarks again with every round timed (`latency=`), in the
/// order of [`BENCHES`], then the floor.
const LAT_BENCHES: [Scenario; 5] = [
    Scenario {
        threads: &[
            ThreadSpec { task: 0, role: role::SERVER, cap: 1, badge: 0xB1 },
            ThreadSpec { task: 0, role: role::CLIENT_LAT, cap: 2, badge: 0 },
        ],
        kind: Kind::Latency { unit: "round-trip", ops_per_round: 2 },
        ..BENCHES[0]
    },
    Scenario {
        threads: &[
            ThreadSpec { task: 0, role: role::SERVER, cap: 1, badge: 0xC2 },
            ThreadSpec { task: 1, role: role::CLIENT_LAT, cap: 1, badge: 0 },
        ],
        kind: Kind::Latency { unit: "round-trip", ops_per_round: 2 },
        ..BENCHES[1]
    },
    Scenario {
        threads: &[ThreadSpec { task: 0, role: role::INVOKE_LAT, cap: 3, badge: 0x7A11 }],
        kind: Kind::Latency { unit: "syscall", ops_per_round: 1 },
        ..BENCHES[2]
    },
    LAT_NULL,
    Scenario { name: "floor", id: 4, ..LAT_NULL },
];

/// The latency `null` scenario (the floor's base).
const LAT_NULL: Scenario = Scenario {
    threads: &[ThreadSpec { task: 0, role: role::NULL_LAT, cap: 0, badge: 0 }],
    kind: Kind::Latency { unit: "syscall", ops_per_round: 1 },
    ..BENCHES[3]
};

/// The floor: the null-syscall loop with the arch's floor entry in place
/// (enter, return at once), beside `null` in the table.
const FLOOR: Scenario = Scenario { name: "floor", id: 4, ..BENCHES[3] };

/// The benchmarks that run on every core at once, each core with its own
/// tasks, threads and endpoint in its own kernel; one record per core.
const PARALLEL: [Scenario; 2] = [
    Scenario { name: "ipc-intra-parallel", ..BENCHES[0] },
    Scenario { name: "syscall-parallel", ..BENCHES[2] },
];

/// `ipc-cross-core`: the client on CPU 0 calls, through a remote
/// capability, a server on CPU 1 (its half: [`CROSS_SERVER`]); a round is
/// a call and its reply, two one-way IPCs between the cores.
pub(crate) const CROSS_CLIENT: Scenario = Scenario {
    name: "ipc-cross-core",
    words: 0,
    id: 5,
    tasks: 1,
    caps: &[CapSpec { task: 0, slot: 1, rights: Rights::SEND, badge: 0xD3, remote: Some(1), thread: None }],
    threads: &[ThreadSpec { task: 0, role: role::CLIENT, cap: 1, badge: 0 }],
    kind: Kind::Bench { unit: "one-way-ipc", ops_per_round: 2 },
};

/// The server half of `ipc-cross-core`, on CPU 1.
pub(crate) const CROSS_SERVER: Scenario = Scenario {
    name: "ipc-cross-core",
    words: 0,
    id: 5,
    tasks: 1,
    caps: &[RECV],
    threads: &[ThreadSpec { task: 0, role: role::SERVER, cap: 1, badge: 0xD3 }],
    kind: Kind::Bench { unit: "one-way-ipc", ops_per_round: 2 },
};

/// The message length of `ipc-cross-core`: the configured one, at most the
/// register words (messages between CPUs carry no UTCB words).
pub(crate) fn cross_words(cfg: &Config) -> u64 {
    cfg.words.min(ipc_core::REMOTE_WORDS as u64)
}

/// The scenario of parallel job `job`: a [`PARALLEL`] one as configured,
/// or a soak pass ([`soak::SOAK_JOB`] and up).
pub(crate) fn job_scenario(cfg: &Config, job: usize) -> Scenario {
    match job.checked_sub(soak::SOAK_JOB) {
        Some(pass) => soak::scenario(pass),
        None if job == WATCHDOG_JOB => WATCHDOG_PARALLEL,
        None => parallel(cfg, job),
    }
}

/// Parallel scenario `i` as configured (the message length of `ipc-intra`).
pub(crate) fn parallel(cfg: &Config, i: usize) -> Scenario {
    let sc = PARALLEL[i];
    if sc.is_ipc() { Scenario { words: cfg.words, ..sc } } else { sc }
}

/// Message sizes of the sweep (words; up to 4 travel in registers, the
/// rest in the UTCB).
pub const SWEEP_WORDS: [u64; 8] = [0, 1, 2, 4, 8, 16, 32, 63];

/// The sweep: `ipc-inter` with `words`-word messages.
const fn sweep(words: u64) -> Scenario {
    Scenario { name: "ipc-sweep", words, ..BENCHES[1] }
}

/// Why a scenario could not even be set up.
#[derive(Clone, Copy, Debug)]
pub enum SetupError {
    /// The user program is not a valid ELF for this machine.
    Elf(ElfError),
    /// Out of frames or a bad mapping.
    Mem(MemError),
    /// The IPC core refused an object.
    Kernel(ipc_core::Error),
    /// The CPU did not take part (a parallel run).
    NotRun,
    /// A scenario that needs the watchdog (a thread that spins for ever)
    /// on a CPU whose watchdog cannot be armed: not run, rather than hang.
    NoWatchdog,
}

impl From<ElfError> for SetupError {
    fn from(e: ElfError) -> Self {
        SetupError::Elf(e)
    }
}
impl From<MemError> for SetupError {
    fn from(e: MemError) -> Self {
        SetupError::Mem(e)
    }
}
impl From<ipc_core::Error> for SetupError {
    fn from(e: ipc_core::Error) -> Self {
        SetupError::Kernel(e)
    }
}

/// What the driver needs to know about the machine it runs on.
pub struct Env<'a, M: Machine, B: Board> {
    /// The kernel state, as the entry points reach it.
    pub state: fn() -> *mut State<M, B>,
    /// The embedded user program.
    pub user_elf: &'a [u8],
    /// Its ELF machine number.
    pub elf_machine: u16,
    /// The configuration.
    pub config: Config,
    /// Counters and how user code reads them.
    pub counters: (CounterSet, [CounterSelector; MAX_COUNTERS]),
}

/// Load `elf` into `space`; returns the entry point.
fn load_elf<M: Machine, B: Board>(
    st: &mut State<M, B>,
    space: M::Space,
    elf: &Elf<'_>,
) -> Result<u64, SetupError> {
    for seg in elf.segments() {
        let seg = seg?;
        let data = elf.data(&seg);
        let start = seg.vaddr & !(FRAME - 1);
        let end = (seg.vaddr + seg.memsz).div_ceil(FRAME) * FRAME;
        let mut va = start;
        while va < end {
            let pa = st.frames.alloc().ok_or(MemError::OutOfFrames)?;
            let dst = M::phys_to_virt(pa);
            // SAFETY: `pa` is a fresh frame in the direct map.
            unsafe { core::ptr::write_bytes(dst, 0, FRAME as usize) };
            // Copy the part of the file image that falls into this page.
            let lo = va.max(seg.vaddr);
            let hi = (va + FRAME).min(seg.vaddr + seg.filesz);
            if lo < hi {
                let src = &data[(lo - seg.vaddr) as usize..(hi - seg.vaddr) as usize];
                // SAFETY: the destination range lies inside the fresh frame.
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        src.as_ptr(),
                        dst.add((lo - va) as usize),
                        src.len(),
                    )
                };
            }
            M::map_page(&mut st.frames, space, va, pa, Perm { write: seg.write, exec: seg.exec })?;
            va += FRAME;
        }
    }
    Ok(elf.entry)
}

/// The sample buffer of a latency role: [`lat::BUFFER_WORDS`] words in
/// frames allocated in a row (so one range of physical memory, which the
/// driver reads through the direct map afterwards), zeroed, mapped
/// writable at [`lat::BUFFER_VA`] in `space`. Returns its physical address
/// and the selector of the `latency=` counter.
fn map_samples<M: Machine, B: Board>(
    st: &mut State<M, B>,
    env: &Env<'_, M, B>,
    space: M::Space,
) -> Result<(u64, CounterSelector), SetupError> {
    let (set, sel) = &env.counters;
    let kind = env.config.latency.ok_or(ipc_core::Error::InvalidArgument)?;
    let i = set.iter().position(|k| k == kind).ok_or(ipc_core::Error::InvalidArgument)?;
    let frames = (lat::BUFFER_WORDS as u64 * 4).div_ceil(FRAME);
    let base = st.frames.alloc().ok_or(MemError::OutOfFrames)?;
    for n in 1..frames {
        if st.frames.alloc() != Some(base + n * FRAME) {
            return Err(MemError::OutOfFrames.into());
        }
    }
    // SAFETY: the frames were just allocated, in a row, and lie in the
    // direct map; nothing else uses them.
    unsafe { core::ptr::write_bytes(M::phys_to_virt(base), 0, (frames * FRAME) as usize) };
    for n in 0..frames {
        M::map_page(&mut st.frames, space, lat::BUFFER_VA + n * FRAME, base + n * FRAME, Perm { write: true, exec: false })?;
    }
    Ok((base, sel[i]))
}

/// Empty the kernel and this CPU's frames, reports and fault record for a
/// new scenario (or fuzz episode), with the kernel's own space loaded.
pub(crate) fn fresh<M: Machine, B: Board>(st: &mut State<M, B>, env: &Env<'_, M, B>) {
    M::load_kernel_space();
    M::flush_user_tlb();
    st.frames.reset();
    st.kernel.reset();
    st.services.reports = Reports::new(env.counters.0.len());
    st.fault = None;
    st.watchdog_kills = 0;
}

/// Build `sc` in an empty kernel; returns the first thread to run.
fn setup<M: Machine, B: Board>(
    st: &mut State<M, B>,
    env: &Env<'_, M, B>,
    sc: &Scenario,
) -> Result<Next, SetupError> {
    fresh(st, env);

    let elf = Elf::parse(env.user_elf, env.elf_machine)?;
    let mut tasks = [TaskId(0); 2];
    let mut entry = 0;
    for (i, t) in tasks.iter_mut().enumerate().take(sc.tasks) {
        let space = M::new_space(&mut st.frames, i as u16 + 1)?;
        entry = load_elf(st, space, &elf)?;
        *t = st.kernel.create_task(space)?;
    }
    let ep = st.kernel.create_endpoint()?;
    for c in sc.caps.iter().filter(|c| c.thread.is_none()) {
        let cap = match c.remote {
            Some(cpu) => Cap::Remote { cpu, ep: ipc_core::EndpointId(0), badge: Badge(c.badge) },
            None => Cap::Endpoint { ep, rights: c.rights, badge: Badge(c.badge) },
        };
        st.kernel.set_cap(tasks[c.task], c.slot, cap)?;
    }
    let mut threads = [ipc_core::ThreadId(0); 4];
    let mut per_task = [0u64; 2];
    for (n, th) in sc.threads.iter().enumerate() {
        let k = per_task[th.task];
        per_task[th.task] += 1;
        let space = st.kernel.space(tasks[th.task]).ok_or(ipc_core::Error::InvalidArgument)?;
        // UTCB: one page, user-writable, also reached by the kernel through
        // the direct map.
        let upa = st.frames.alloc().ok_or(MemError::OutOfFrames)?;
        // SAFETY: fresh frame in the direct map.
        unsafe { core::ptr::write_bytes(M::phys_to_virt(upa), 0, FRAME as usize) };
        let uva = UTCB_BASE + k * FRAME;
        M::map_page(&mut st.frames, space, uva, upa, Perm { write: true, exec: false })?;
        // SAFETY: the frame is page-aligned, zeroed, sized for a `Utcb`
        // (all atomics, valid when zero) and never freed while the kernel
        // object referencing it lives (frames are reclaimed only by the next
        // `setup`, after `kernel.reset()`).
        let utcb: &'static ipc_core::Utcb =
            unsafe { &*(M::phys_to_virt(upa) as *const ipc_core::Utcb) };
        let stack_top = STACK_BASE + k * STACK_AREA + STACK_AREA;
        let mut va = stack_top - STACK_SIZE;
        while va < stack_top {
            let pa = st.frames.alloc().ok_or(MemError::OutOfFrames)?;
            // SAFETY: fresh frame in the direct map.
            unsafe { core::ptr::write_bytes(M::phys_to_virt(pa), 0, FRAME as usize) };
            M::map_page(&mut st.frames, space, va, pa, Perm { write: true, exec: false })?;
            va += FRAME;
        }
        let cfg = &env.config;
        let (set, sel) = &env.counters;
        if role::is_latency(th.role) {
            let (pa, counter) = map_samples(st, env, space)?;
            st.services.reports.samples = Some(pa);
            utcb.set(17, counter);
            utcb.set(18, lat::BUFFER_VA);
            utcb.set(19, lat::BUFFER_WORDS as u64);
        }
        let words: [(usize, Word); 9] = [
            (4, if th.role == 0 { sc.id } else { th.role }),
            (5, cfg.rounds),
            (6, cfg.runs),
            (7, cfg.warmup),
            (8, sc.id),
            (9, set.len() as u64),
            (14, th.cap),
            (15, th.badge),
            (16, sc.words),
        ];
        for (i, v) in words {
            utcb.set(i, v);
        }
        for (i, s) in sel.iter().enumerate().take(set.len()) {
            utcb.set(10 + i, *s);
        }
        let t = st.kernel.create_thread(tasks[th.task], entry, stack_top - 8, uva, Some(utcb))?;
        if let Some(slot) = threads.get_mut(n) {
            *slot = t;
        }
    }
    for c in sc.caps {
        if let Some(i) = c.thread {
            let thread = *threads.get(i).ok_or(ipc_core::Error::InvalidArgument)?;
            let cap = Cap::Thread { thread, rights: c.rights, badge: Badge(c.badge) };
            st.kernel.set_cap(tasks[c.task], c.slot, cap)?;
        }
    }
    Ok(st.kernel.schedule())
}

/// Run user mode from `next` until idle.
pub(crate) fn run<M: Machine, B: Board>(env: &Env<'_, M, B>, next: Next) {
    if let Next::Resume { thread, regs_from } = next {
        let st = env.state;
        // SAFETY: the contexts live in the kernel state, a static that does
        // not move; no reference into it is held across the call.
        unsafe {
            let k = &mut (*st()).kernel;
            let t = k.context_mut(thread) as *mut M::Context;
            let r = k.context(regs_from) as *const M::Context;
            M::run_user(t, r);
        }
    }
}

/// [`run`] for user code that is not a timed run (the correctness and
/// fault scenarios): under the watchdog, armed with the configured budget
/// before and stopped after (user mode then has interrupts on where the
/// arch needs that for its timer; see [`Machine::watchdog`]).
pub(crate) fn run_guarded<M: Machine, B: Board>(env: &Env<'_, M, B>, next: Next) {
    M::watchdog(Some(env.config.watchdog));
    run(env, next);
    M::watchdog(None);
}

/// Outcome of one scenario.
struct Outcome {
    ok: bool,
}

fn what_name(what: u64) -> (&'static str, u64) {
    match what {
        1 => ("status", 0),
        2 => ("label", 0),
        3 => ("length", 0),
        4 => ("badge", 0),
        16..=79 => ("mr", what - 16),
        0xFFFF => ("panic", 0),
        _ => ("check", what),
    }
}

/// What a scenario left behind on one CPU: the reports and the last fault.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Snapshot {
    reports: Reports,
    fault: Option<crate::Fault>,
    /// Tasks the watchdog killed.
    watchdog_kills: u64,
    /// Maskable interrupts this CPU took while the scenario ran.
    interrupts: u64,
}

/// Build `sc` in this CPU's kernel, wait at `barrier` (the CPUs taking part
/// in a parallel run; `None` alone), run it until no thread is ready, and
/// take what it left. A CPU whose set-up failed still passes the barrier,
/// so that the others are not held.
pub(crate) fn exec<M: Machine, B: Board>(
    env: &Env<'_, M, B>,
    sc: &Scenario,
    barrier: Option<usize>,
) -> Result<Snapshot, SetupError> {
    exec_on(env, sc, barrier, false)
}

/// [`exec`]; `cross`: the scenario talks to another CPU's kernel, so an
/// idle kernel is not the end (see [`smp::run_cross_core`]).
pub(crate) fn exec_on<M: Machine, B: Board>(
    env: &Env<'_, M, B>,
    sc: &Scenario,
    barrier: Option<usize>,
    cross: bool,
) -> Result<Snapshot, SetupError> {
    let next = {
        // SAFETY: no other reference to this CPU's state is live in the
        // driver.
        let st = unsafe { &mut *(env.state)() };
        setup(st, env, sc)
    };
    let next = match sc.kind {
        Kind::Watchdog if !M::watchdog(None) => Err(SetupError::NoWatchdog),
        _ => next,
    };
    if let Some(n) = barrier {
        smp::barrier::<M>(n);
    }
    // User code outside the timed runs runs under the watchdog; the
    // benchmarks with it stopped and interrupts masked.
    let guarded = !matches!(sc.kind, Kind::Bench { .. } | Kind::Latency { .. });
    let irqs = M::interrupts();
    if cross {
        smp::run_cross_core(env, next?);
    } else if guarded {
        run_guarded(env, next?);
    } else {
        run(env, next?);
    }
    let interrupts = M::interrupts() - irqs;
    // SAFETY: user mode is over; the driver is the only user of the state.
    let st = unsafe { &*(env.state)() };
    Ok(Snapshot { reports: st.services.reports, fault: st.fault, watchdog_kills: st.watchdog_kills, interrupts })
}

fn run_scenario<M: Machine, B: Board>(env: &Env<'_, M, B>, sc: &Scenario, out: &mut Results) -> Outcome {
    let snap = exec(env, sc, None);
    judge(env, sc, 0, snap, out)
}

/// Check what `sc` left on `core` and print its verdict (and figures).
/// Why a benchmark's run failed, as `(what, index, got, expected)` for its
/// `IPCB fail` line, in the order of the checks: a failed message check,
/// a malformed report, the runs or the operations per run not as
/// configured (`ops_per_round` per round), a user fault; `None` when it
/// verified.
pub(crate) fn bench_failure(
    cfg: &Config,
    ops_per_round: u64,
    r: &Reports,
    fault: Option<crate::Fault>,
) -> Option<(&'static str, u64, u64, u64)> {
    let expect_ops = cfg.rounds * ops_per_round;
    if let Some(f) = r.fail {
        let (w, i) = what_name(f.what);
        Some((w, i, f.got, f.expected))
    } else if r.bad_report {
        Some(("malformed report", 0, 0, 0))
    } else if r.log.runs() as u64 != cfg.runs {
        Some(("runs reported", 0, r.log.runs() as u64, cfg.runs))
    } else if r.ops != expect_ops {
        Some(("operations per run", 0, r.ops, expect_ops))
    } else {
        fault.map(|f| ("user fault, vector", f.vector, f.pc, 0))
    }
}

fn judge<M: Machine, B: Board>(
    env: &Env<'_, M, B>,
    sc: &Scenario,
    core: usize,
    snap: Result<Snapshot, SetupError>,
    out: &mut Results,
) -> Outcome {
    let (r, fault, kills, interrupts) = match snap {
        Ok(s) => (s.reports, s.fault, s.watchdog_kills, s.interrupts),
        Err(e) => {
            match sc.kind {
                Kind::Bench { .. } => kprintln!(B, "IPCB fail bench={} core={} reason=\"setup failed: {:?}\"", sc.name, core, e),
                _ => kprintln!(B, "IPCB fail test={} reason=\"setup failed: {:?}\"", sc.name, e),
            }
            return Outcome { ok: false };
        }
    };
    match sc.kind {
        Kind::Test => {
            let ok = r.tests_ok & (1 << sc.id) != 0 && r.fail.is_none() && fault.is_none() && kills == 0;
            if ok {
                kprintln!(B, "IPCB ok test={}", sc.name);
            } else if kills > 0 {
                kprintln!(B, "IPCB fail test={} reason=\"killed by the watchdog\"", sc.name);
            } else if let Some(f) = r.fail {
                let (w, i) = what_name(f.what);
                kprintln!(B, "IPCB fail test={} reason=\"{} {} got {:#x} expected {:#x}\"", sc.name, w, i, f.got, f.expected);
            } else if let Some(f) = fault {
                kprintln!(B, "IPCB fail test={} reason=\"unexpected fault vector {} at pc {:#x}\"", sc.name, f.vector, f.pc);
            } else {
                kprintln!(B, "IPCB fail test={} reason=\"scenario did not report\"", sc.name);
            }
            Outcome { ok }
        }
        Kind::Fault(class, at) => {
            let ok = r.fail.is_none()
                && fault.is_some_and(|f| M::fault_class(&f) == class && at.matches(f.addr));
            match fault {
                Some(f) if ok => kprintln!(B, "IPCB ok test={} vector={} error={:#x} addr={:#x} pc={:#x}", sc.name, f.vector, f.error, f.addr, f.pc),
                Some(f) => kprintln!(B, "IPCB fail test={} reason=\"expected a {:?} fault at {:?}, got vector {} addr {:#x} pc {:#x}\"", sc.name, class, at, f.vector, f.addr, f.pc),
                None => kprintln!(B, "IPCB fail test={} reason=\"the task was not killed by a fault\"", sc.name),
            }
            Outcome { ok }
        }
        Kind::Watchdog => {
            let ok = kills == 1 && r.tests_ok & (1 << sc.id) != 0 && r.fail.is_none() && fault.is_none();
            if ok && sc.name == WATCHDOG_PARALLEL.name {
                kprintln!(B, "IPCB ok test={} core={} kills=1 budget={}", sc.name, core, env.config.watchdog);
            } else if ok {
                kprintln!(B, "IPCB ok test={} kills=1 budget={}", sc.name, env.config.watchdog);
            } else if let Some(f) = r.fail {
                let (w, i) = what_name(f.what);
                kprintln!(B, "IPCB fail test={} reason=\"{} {} got {:#x} expected {:#x}\"", sc.name, w, i, f.got, f.expected);
            } else {
                kprintln!(B, "IPCB fail test={} reason=\"{} watchdog kills (expected 1), caller {}\"", sc.name, kills,
                    if r.tests_ok & (1 << sc.id) != 0 { "reported" } else { "did not report" });
            }
            Outcome { ok }
        }
        Kind::Latency { unit, ops_per_round } => judge_latency(env, sc, core, &r, fault, interrupts, unit, ops_per_round),
        Kind::Bench { unit, ops_per_round } => {
            if let Some((w, i, got, exp)) = bench_failure(&env.config, ops_per_round, &r, fault) {
                if sc.is_ipc() {
                    kprintln!(B, "IPCB fail bench={} words={} core={} reason=\"{} {} got {:#x} expected {:#x}\"", sc.name, sc.words, core, w, i, got, exp);
                } else {
                    kprintln!(B, "IPCB fail bench={} core={} reason=\"{} {} got {:#x} expected {:#x}\"", sc.name, core, w, i, got, exp);
                }
                if sc.tabled() {
                    out.push(sc.name, None);
                }
                return Outcome { ok: false };
            }
            for (i, kind) in env.counters.0.iter().enumerate() {
                if let Some(s) = r.log.stats(i, r.ops) {
                    // The raw samples: each run's total, in order (the host
                    // derives the per-op samples and the deviation).
                    // `interrupts`: taken during its runs (0: they run with
                    // interrupts masked; the host fails a record with more).
                    let totals = || {
                        kprint!(B, " totals=");
                        for (j, t) in r.log.totals(i).iter().enumerate() {
                            kprint!(B, "{}{}", if j == 0 { "" } else { "," }, t);
                        }
                        kprintln!(B, " interrupts={} verified=1", interrupts);
                    };
                    if sc.is_ipc() {
                        kprint!(B, "IPCB result bench={} words={} core={} counter={} unit={} ops={} runs={} min={} median={} mean={} max={}",
                            sc.name, sc.words, core, kind.name(), unit, r.ops, s.runs, s.min, s.median, s.mean, s.max);
                        totals();
                        if i == 0 && sc.name == "ipc-sweep" {
                            kprintln!(B, "  sweep: {:>2} words: {} {} per one-way IPC", sc.words, s.median, kind.name());
                        }
                    } else {
                        kprint!(B, "IPCB result bench={} core={} counter={} unit={} ops={} runs={} min={} median={} mean={} max={}",
                            sc.name, core, kind.name(), unit, r.ops, s.runs, s.min, s.median, s.mean, s.max);
                        totals();
                    }
                    if sc.tabled() {
                        out.set(sc.name, i, s);
                    }
                }
            }
            if sc.tabled() {
                out.push(sc.name, Some(()));
            }
            Outcome { ok: true }
        }
    }
}

/// The verdict and figures of a latency scenario: the round deltas from
/// the sample buffer (its stamps, masked to the counter's width), the
/// statistics of `pmu::latency`, one `IPCB latency` line and one line for
/// a person.
#[allow(clippy::too_many_arguments)]
fn judge_latency<M: Machine, B: Board>(
    env: &Env<'_, M, B>,
    sc: &Scenario,
    core: usize,
    r: &Reports,
    fault: Option<crate::Fault>,
    interrupts: u64,
    unit: &str,
    ops_per_round: u64,
) -> Outcome {
    let cfg = &env.config;
    let words = if sc.is_latency_ipc() { Some(sc.words) } else { None };
    let fail = |w: &str, i: u64, got: u64, exp: u64| {
        kprint!(B, "IPCB fail bench={}", sc.name);
        if let Some(n) = words {
            kprint!(B, " words={}", n);
        }
        kprintln!(B, " core={} latency=1 reason=\"latency: {} {} got {:#x} expected {:#x}\"", core, w, i, got, exp);
        Outcome { ok: false }
    };
    if let Some(f) = r.fail {
        let (w, i) = what_name(f.what);
        return fail(w, i, f.got, f.expected);
    }
    if let Some(f) = fault {
        return fail("user fault, vector", f.vector, f.pc, 0);
    }
    let (Some(pa), Some([pairs, rounds, runs]), Some(kind)) = (r.samples, r.latency, cfg.latency) else {
        return fail("no latency report", 0, 0, 1);
    };
    if pairs != lat::OVERHEAD_PAIRS as u64 || rounds != cfg.rounds || runs != cfg.runs || r.bad_report {
        return fail("latency report (rounds)", 0, rounds, cfg.rounds);
    }
    // SAFETY: `pa` is the start of the scenario's sample buffer, frames in
    // a row in the direct map (`map_samples`); user mode is over, so only
    // the driver uses them, and the next `setup` reclaims them.
    let buf = unsafe { core::slice::from_raw_parts_mut(M::phys_to_virt(pa) as *mut u32, lat::BUFFER_WORDS) };
    // The stamps are the counter's low 32 bits (every counter here has at
    // least 32): a round's delta modulo 2^32.
    let per_run = rounds as usize + 1;
    let mut n = 0;
    for run in 0..runs as usize {
        let base = lat::OVERHEAD_PAIRS + run * per_run;
        for i in 0..rounds as usize {
            // Writes trail the reads: n <= run * per_run + i.
            buf[lat::OVERHEAD_PAIRS + n] = buf[base + i + 1].wrapping_sub(buf[base + i]);
            n += 1;
        }
    }
    let (ovh, rest) = buf.split_at_mut(lat::OVERHEAD_PAIRS);
    let Some(l) = pmu::latency::summarize(ovh, &mut rest[..n]) else {
        return fail("no rounds", 0, 0, 1);
    };
    kprint!(B, "IPCB latency bench={}", sc.name);
    if let Some(w) = words {
        kprint!(B, " words={}", w);
    }
    kprint!(B, " core={} counter={} unit={} ops_per_round={} rounds={} runs={} samples={} overhead_pairs={} overhead_min={} overhead_median={} subtracted={} min={} p50={} p90={} p99={} max={} hist_lo={} hist_width={} hist=",
        core, kind.name(), unit, ops_per_round, rounds, runs, l.samples, l.overhead_reads, l.overhead_min, l.overhead_median, l.overhead_median, l.min, l.p50, l.p90, l.p99, l.max, l.hist_lo, l.hist_width);
    for (b, c) in l.hist[..l.hist_bins].iter().enumerate() {
        kprint!(B, "{}{}", if b == 0 { "" } else { "," }, c);
    }
    kprintln!(B, " hist_over={} interrupts={} verified=1", l.hist_over, interrupts);
    kprintln!(B, "  latency {:<10} {} per {}, each round timed: min {} p50 {} p90 {} p99 {} max {} (counter read {} subtracted)",
        sc.name, kind.name(), unit, l.min, l.p50, l.p90, l.p99, l.max, l.overhead_median);
    Outcome { ok: true }
}

/// Figures for the closing table.
struct Results {
    names: [&'static str; 8],
    stats: [[Option<Stats>; MAX_COUNTERS]; 8],
    ok: [bool; 8],
    n: usize,
}

impl Results {
    fn push(&mut self, name: &'static str, ok: Option<()>) {
        if let Some(i) = self.names[..self.n].iter().position(|n| *n == name) {
            self.ok[i] = ok.is_some();
        } else if self.n < 8 {
            self.names[self.n] = name;
            self.ok[self.n] = ok.is_some();
            self.n += 1;
        }
    }
    fn set(&mut self, name: &'static str, counter: usize, s: Stats) {
        self.push(name, Some(()));
        if let Some(i) = self.names[..self.n].iter().position(|n| *n == name) {
            self.stats[i][counter] = Some(s);
        }
    }
}

fn print_str_field<B: Board>(b: &[u8]) {
    for &c in b {
        B::putc(if c == b'"' || !(0x20..0x7f).contains(&c) { b'\'' } else { c });
    }
}

/// Run every scenario, print the results, exit with the overall status.
pub fn main<M: Machine, B: Board>(env: Env<'_, M, B>) -> ! {
    let cfg = env.config;
    // Kernel isolation first: before the first space of this CPU (the
    // others turn it on as they start, `smp::secondary`).
    let kpti = if cfg.kpti {
        match M::kernel_isolation() {
            Ok(mode) => mode,
            Err(why) => {
                kprintln!(B, "IPCB fail bench=boot core=0 reason=\"kpti=on: {}\"", why);
                kprintln!(B, "IPCB end status=fail");
                B::exit(1)
            }
        }
    } else {
        "off"
    };
    // SAFETY: called once, on the boot CPU, before any scenario; `env`
    // lives until the end (this function does not return).
    let cores = unsafe { smp::start(&env) };
    kprintln!(B, "IPCB hello proto=1 board={} arch={} el={} cores={}", B::NAME, M::NAME,
        match M::el() { Some(1) => "1", Some(2) => "2", _ => "-" }, cores);
    let mut vendor = [0u8; 16];
    let mut model = [0u8; 48];
    let (vl, ml) = M::cpu_identity(&mut vendor, &mut model);
    kprint!(B, "IPCB cpu vendor=");
    print_str_field::<B>(&vendor[..vl]);
    kprint!(B, " model=\"");
    print_str_field::<B>(&model[..ml]);
    kprintln!(B, "\" hypervisor={}", u8::from(M::hypervisor()));
    for k in CounterKind::ALL {
        let applies = !matches!((M::NAME, k), ("x86_64", CounterKind::Pmccntr) | ("aarch64", CounterKind::Tsc | CounterKind::RefCycles));
        if applies {
            let state = if env.counters.0.contains(k) { "present" } else { "absent" };
            kprintln!(B, "IPCB counter name={} state={}", k.name(), state);
        }
    }
    let iters = 1_000_000;
    let (cname, delta) = M::calibrate(iters);
    kprintln!(B, "IPCB calib iters={} counter={} delta={}", iters, cname, delta);
    if let Some(c) = M::clock() {
        kprintln!(B, "IPCB clock counter={} hz={} source={} invariant={}", c.counter, c.hz, c.source, u8::from(c.invariant));
    }
    kprint!(B, "IPCB config rounds={} runs={} warmup={} inject={} sweep={} words={}", cfg.rounds, cfg.runs, cfg.warmup, cfg.inject.name(), u8::from(cfg.sweep), cfg.words);
    if let Some(k) = cfg.latency {
        kprint!(B, " latency={}", k.name());
    }
    if cfg.soak {
        kprint!(B, " soak=1");
    }
    if cfg.fuzz > 0 {
        kprint!(B, " fuzz={} seed={:#x}", cfg.fuzz, cfg.seed);
    }
    if M::watchdog(None) {
        kprint!(B, " watchdog={}", cfg.watchdog);
    }
    kprintln!(B, " kpti={}", kpti);
    kprintln!(B, "");
    kprintln!(B, "ipcbench-rs on {} ({}): rounds={} runs={} warm-up={}", B::NAME, M::NAME, cfg.rounds, cfg.runs, cfg.warmup);

    let mut all_ok = !cfg.selftest_wx || wx_selftest::<M, B>();
    if cfg.kpti {
        all_ok &= kpti_selftest(&env);
    }
    if cfg.fuzz > 0 {
        all_ok &= fuzz::fuzz(&env, cores);
    }
    let mut results = Results { names: [""; 8], stats: [[None; MAX_COUNTERS]; 8], ok: [false; 8], n: 0 };
    if cfg.selftest_watchdog {
        // The spinner would hang a kernel without a watchdog: refused.
        if M::watchdog(None) {
            all_ok &= run_scenario(&env, &WATCHDOG, &mut results).ok;
            // Then on every core at once: each arms its own timer.
            if cores > 1 {
                smp::run_parallel(&env, WATCHDOG_JOB, cores, |core, snap| {
                    all_ok &= judge(&env, &WATCHDOG_PARALLEL, core, snap, &mut results).ok;
                });
            }
        } else {
            kprintln!(B, "IPCB fail test=watchdog reason=\"no watchdog timer on {} yet: the scenario would spin for ever\"", M::NAME);
            all_ok = false;
        }
    }
    for sc in TESTS {
        all_ok &= run_scenario(&env, sc, &mut results).ok;
    }
    for sc in BENCHES {
        let sc = if sc.is_ipc() { Scenario { words: cfg.words, ..*sc } } else { *sc };
        all_ok &= run_scenario(&env, &sc, &mut results).ok;
    }
    if M::floor_entry(true) {
        all_ok &= run_scenario(&env, &FLOOR, &mut results).ok;
        M::floor_entry(false);
    }
    if let Some(kind) = cfg.latency {
        if env.counters.0.contains(kind) {
            for sc in &LAT_BENCHES[..4] {
                let sc = if sc.is_latency_ipc() { Scenario { words: cfg.words, ..*sc } } else { *sc };
                all_ok &= run_scenario(&env, &sc, &mut results).ok;
            }
            if M::floor_entry(true) {
                all_ok &= run_scenario(&env, &LAT_BENCHES[4], &mut results).ok;
                M::floor_entry(false);
            }
        } else {
            kprintln!(B, "IPCB fail bench=latency reason=\"latency={} asks for a counter this CPU does not have (see the IPCB counter lines)\"", kind.name());
            all_ok = false;
        }
    }
    if cfg.sweep {
        for w in SWEEP_WORDS {
            all_ok &= run_scenario(&env, &sweep(w), &mut results).ok;
        }
    }
    for i in 0..PARALLEL.len() {
        let sc = parallel(&cfg, i);
        smp::run_parallel(&env, i, cores, |core, snap| {
            all_ok &= judge(&env, &sc, core, snap, &mut results).ok;
        });
    }
    if cores >= 2 {
        let (client, server) = smp::run_cross(&env);
        let sc = Scenario { words: cross_words(&cfg), ..CROSS_CLIENT };
        let ok = judge(&env, &sc, 0, client, &mut results).ok;
        // The server's own failure, if it reported one (the client then
        // saw PartnerDied, or a wrong message).
        if let Ok(Snapshot { reports: Reports { fail: Some(f), .. }, .. }) = server {
            let (w, i) = what_name(f.what);
            kprintln!(B, "IPCB fail bench={} words={} core=1 reason=\"{} {} got {:#x} expected {:#x}\"", sc.name, sc.words, w, i, f.got, f.expected);
            all_ok = false;
        }
        all_ok &= ok;
    } else {
        kprintln!(B, "ipc-cross-core: skipped, one CPU");
    }
    if cfg.soak {
        all_ok &= soak::run(&env, cores);
    }

    // The table: one row per counter, one column per benchmark.
    kprintln!(B, "");
    kprint!(B, "{:<14}", "counter");
    for name in &results.names[..results.n] {
        kprint!(B, "{:>14}", name);
    }
    kprintln!(B, "");
    for (ci, kind) in env.counters.0.iter().enumerate() {
        kprint!(B, "{:<14}", kind.name());
        for bi in 0..results.n {
            match (results.ok[bi], results.stats[bi][ci]) {
                (true, Some(s)) => kprint!(B, "{:>14}", s.median),
                _ => kprint!(B, "{:>14}", "FAILED"),
            }
        }
        kprintln!(B, "");
    }
    kprintln!(B, "(median per operation over {} runs: IPC = one-way IPC, a round being call + reply_recv; syscall = one invoke of a control op on the thread's own capability, as L4Re's; null = one null syscall, answered at the entry; floor = null through an entry that returns at once)", cfg.runs);
    let stray = M::stray_interrupts();
    if stray > 0 {
        kprintln!(B, "IPCB warn reason=\"{} stray interrupt{} or SError{} from user mode: counted, masked for the thread they hit, returned from\"", stray, if stray == 1 { "" } else { "s" }, if stray == 1 { "" } else { "s" });
    }
    let nmis = M::nmis();
    if nmis > 0 {
        kprintln!(B, "IPCB warn reason=\"{} NMI{} arrived during the run: counted and returned from; the runs they hit include their cost\"", nmis, if nmis == 1 { "" } else { "s" });
    }
    kprintln!(B, "IPCB end status={}", if all_ok { "pass" } else { "fail" });
    B::exit(if all_ok { 0 } else { 1 })
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_word() {
        assert_eq!(parse_cmdline("rounds=5").unwrap().latency, None);
        assert_eq!(parse_cmdline("latency=tsc").unwrap().latency, Some(CounterKind::Tsc));
        assert_eq!(parse_cmdline("latency=pmccntr latency=none").unwrap().latency, None);
        assert_eq!(parse_cmdline("latency=cycles"), Err("latency=cycles"));
        assert!(parse_cmdline("latency=tsc rounds=64000 runs=2").is_ok());
        assert_eq!(parse_cmdline("latency=tsc rounds=64001 runs=2"), Err("latency=tsc"));
        // Without latency= the buffer's bound does not apply.
        assert!(parse_cmdline("rounds=1000000 runs=5").is_ok());
    }

    #[test]
    fn fuzz_words() {
        let c = parse_cmdline("fuzz=100000 seed=0x2a").unwrap();
        assert_eq!((c.fuzz, c.seed), (100_000, 42));
        assert_eq!(parse_cmdline("seed=42").unwrap().seed, 42);
        assert_eq!(parse_cmdline("rounds=5").unwrap().fuzz, 0);
        assert_eq!(parse_cmdline("seed=0xzz"), Err("seed=0xzz"));
        assert_eq!(parse_cmdline("fuzz=-1"), Err("fuzz=-1"));
    }

    #[test]
    fn selftest_word() {
        assert!(!parse_cmdline("rounds=5").unwrap().selftest_wx);
        assert!(parse_cmdline("/boot/kernel.elf selftest=wx rounds=5").unwrap().selftest_wx);
        assert!(!parse_cmdline("selftest=wx selftest=none").unwrap().selftest_wx);
        assert_eq!(parse_cmdline("selftest=all"), Err("selftest=all"));
    }

    #[test]
    fn watchdog_words() {
        let c = parse_cmdline("rounds=5").unwrap();
        assert_eq!((c.watchdog, c.selftest_watchdog), (WATCHDOG_TICKS, false));
        let c = parse_cmdline("selftest=watchdog watchdog=20000000").unwrap();
        assert_eq!((c.watchdog, c.selftest_watchdog, c.selftest_wx), (20_000_000, true, false));
        let c = parse_cmdline("selftest=wx,watchdog").unwrap();
        assert!(c.selftest_wx && c.selftest_watchdog);
        assert_eq!(parse_cmdline("watchdog=0"), Err("watchdog=0"));
        assert_eq!(parse_cmdline("watchdog=4294967296"), Err("watchdog=4294967296"));
        assert_eq!(parse_cmdline("selftest=wx,spin"), Err("selftest=wx,spin"));
    }
}
