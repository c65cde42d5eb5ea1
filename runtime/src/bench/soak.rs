// SPDX-License-Identifier: MIT OR Apache-2.0
//! The SMP soak (`soak=1` on the kernel command line, `cargo xtask soak`):
//! after the benchmarks, IPC on every core at once for as long as the
//! configured rounds say, with every message checked.
//!
//! Passes, each a parallel job (every core its own kernel, tasks and
//! endpoint, one start barrier, as `ipc-intra-parallel`):
//!
//! * `soak-intra` and `soak-inter` (two threads of one task; client and
//!   server tasks) with messages of [`WORDS`] words: none, the registers
//!   full, and the UTCB with 4 and 59 words, so the register-only and the
//!   long-message fastpaths, the address-space switch and the UTCB copy
//!   all run on every core at once;
//! * `soak-cross` (two CPUs or more): CPU 0 calls a server on CPU 1
//!   through a remote capability, with [`CROSS_WORDS`] words (messages
//!   between CPUs carry at most the register words).
//!
//! Each pass runs `warmup + runs` runs of `rounds` rounds, every message
//! checked by the user loops (`benches::run`: status, label, length,
//! badge, every word). A pass that fails its check on a core is a
//! corrupted message, reported with an `IPCB fail` line; one that fails
//! otherwise (a fault, a wrong report, no setup) too. The last line:
//! `IPCB soak ipcs=N cores=C passes=P corrupted=K failed=F`, `N` the
//! one-way IPCs of the passes that verified.

use super::{bench_failure, smp, Config, Env, Scenario, SetupError, Snapshot, BENCHES};
use crate::{kprintln, Board, Machine};

/// The parallel job numbers of the soak passes: `SOAK_JOB + pass`.
pub(super) const SOAK_JOB: usize = 1 << 16;
/// Message sizes of the soak's same-CPU passes.
pub(super) const WORDS: [u64; 4] = [0, 4, 8, 63];
/// Message sizes of its cross-core passes (at most the register words).
pub(super) const CROSS_WORDS: [u64; 2] = [0, 4];
/// Same-CPU passes: intra, then inter, at each size.
pub(super) const PASSES: usize = 2 * WORDS.len();

/// Pass `pass` (below [`PASSES`]).
pub(super) fn scenario(pass: usize) -> Scenario {
    let words = WORDS[pass % WORDS.len()];
    if pass < WORDS.len() {
        Scenario { name: "soak-intra", words, ..BENCHES[0] }
    } else {
        Scenario { name: "soak-inter", words, ..BENCHES[1] }
    }
}

/// Why a core's pass failed: `(corrupted, what, index, got, expected)`,
/// `corrupted` when a message check failed; `None` when it verified (the
/// checks of a benchmark's run, [`bench_failure`]; a round is two IPCs).
fn verdict(cfg: &Config, snap: Result<Snapshot, SetupError>) -> Option<(bool, &'static str, u64, u64, u64)> {
    let s = match snap {
        Ok(s) => s,
        Err(_) => return Some((false, "setup failed", 0, 0, 0)),
    };
    let (w, i, got, exp) = bench_failure(cfg, 2, &s.reports, s.fault)?;
    Some((s.reports.fail.is_some(), w, i, got, exp))
}

/// Counts of the soak so far.
#[derive(Default)]
struct Tally {
    ipcs: u64,
    passes: u64,
    corrupted: u64,
    failed: u64,
}

impl Tally {
    /// Judge core `core`'s `snap` of a pass of `name` with `words`-word
    /// messages; an `IPCB fail` line when it failed.
    fn judge<B: Board>(&mut self, cfg: &Config, name: &str, words: u64, core: usize, snap: Result<Snapshot, SetupError>) {
        self.passes += 1;
        match verdict(cfg, snap) {
            None => self.ipcs += 2 * cfg.rounds * (cfg.warmup + cfg.runs),
            Some((corrupted, w, i, got, exp)) => {
                if corrupted {
                    self.corrupted += 1;
                } else {
                    self.failed += 1;
                }
                kprintln!(B, "IPCB fail bench={} words={} core={} reason=\"{} {} got {:#x} expected {:#x}\"", name, words, core, w, i, got, exp);
            }
        }
    }
}

/// Run the soak on `cores` CPUs; `true` if every pass verified.
pub(super) fn run<M: Machine, B: Board>(env: &Env<'_, M, B>, cores: usize) -> bool {
    let cfg = env.config;
    let mut t = Tally::default();
    for pass in 0..PASSES {
        let sc = scenario(pass);
        smp::run_parallel(env, SOAK_JOB + pass, cores, |core, snap| t.judge::<B>(&cfg, sc.name, sc.words, core, snap));
    }
    if cores >= 2 {
        for words in CROSS_WORDS {
            let (client, server) = smp::run_cross_with(env, words);
            // The server's own failure, when it found one, is the verdict
            // (the client then saw PartnerDied or a wrong message).
            if matches!(&server, Ok(Snapshot { reports, .. }) if reports.fail.is_some()) {
                t.judge::<B>(&cfg, "soak-cross", words, 1, server);
            } else {
                t.judge::<B>(&cfg, "soak-cross", words, 0, client);
            }
        }
    }
    kprintln!(B, "IPCB soak ipcs={} cores={} passes={} corrupted={} failed={}", t.ipcs, cores, t.passes, t.corrupted, t.failed);
    t.corrupted == 0 && t.failed == 0
}
