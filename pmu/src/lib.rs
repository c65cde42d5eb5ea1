// SPDX-License-Identifier: MIT OR Apache-2.0
//! `pmu`: counter kinds, per-run samples and the statistics the benchmarks
//! report.
//!
//! The architecture crates know *how* to read a counter (RDTSC, RDPMC,
//! `mrs PMCCNTR_EL0`); this crate knows *what* was read and how to turn run
//! totals into the figures of the results table. It is `no_std`, has no
//! `unsafe`, and does no floating point (kernels are built soft-float): all
//! figures are fixed-point with two decimals ([`Fixed2`]).
//!
//! Rules it encodes (see `docs/methodology.md`):
//! * every figure names its counter ([`CounterKind::name`]);
//! * a counter the CPU lacks is absent from the [`CounterSet`], never
//!   replaced by another or faked;
//! * a figure is a statistic over whole runs: min, median, mean and max of
//!   the per-operation cost of each run.

#![no_std]
#![forbid(unsafe_code)]

use core::fmt;

pub mod latency;

/// A hardware counter a benchmark can be timed with.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CounterKind {
    /// x86 time-stamp counter (constant rate on modern CPUs; under QEMU
    /// icount: one tick per instruction).
    Tsc,
    /// Retired instructions (Intel fixed counter 0, AMD event 0xC0, Arm event
    /// 0x08).
    Instructions,
    /// Unhalted core cycles (Intel fixed counter 1, AMD event 0x76).
    CoreCycles,
    /// Unhalted reference cycles (Intel fixed counter 2).
    RefCycles,
    /// Arm PMCCNTR_EL0 cycle counter (under QEMU icount: one tick per
    /// instruction).
    Pmccntr,
}

impl CounterKind {
    /// Every kind, in table order.
    pub const ALL: [CounterKind; 5] = [
        CounterKind::Instructions,
        CounterKind::CoreCycles,
        CounterKind::RefCycles,
        CounterKind::Tsc,
        CounterKind::Pmccntr,
    ];

    /// The name used in the output protocol and the JSON.
    pub const fn name(self) -> &'static str {
        match self {
            CounterKind::Tsc => "tsc",
            CounterKind::Instructions => "instructions",
            CounterKind::CoreCycles => "core-cycles",
            CounterKind::RefCycles => "ref-cycles",
            CounterKind::Pmccntr => "pmccntr",
        }
    }
}

/// Most counters read per sample.
pub const MAX_COUNTERS: usize = 4;

/// The counters a CPU has, in the order a sample holds them.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct CounterSet {
    kinds: [Option<CounterKind>; MAX_COUNTERS],
    len: usize,
}

impl CounterSet {
    /// No counters.
    pub const fn new() -> Self {
        CounterSet { kinds: [None; MAX_COUNTERS], len: 0 }
    }

    /// Add `kind` (ignored when full or already present).
    pub fn push(&mut self, kind: CounterKind) {
        if self.len < MAX_COUNTERS && !self.contains(kind) {
            self.kinds[self.len] = Some(kind);
            self.len += 1;
        }
    }

    /// Is `kind` present?
    pub fn contains(&self, kind: CounterKind) -> bool {
        self.iter().any(|k| k == kind)
    }

    /// Number of counters.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// No counter at all?
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The counters in sample order.
    pub fn iter(&self) -> impl Iterator<Item = CounterKind> + '_ {
        self.kinds[..self.len].iter().flatten().copied()
    }

    /// Bit mask: bit `i` set for each [`CounterKind`] `ALL[i]` present (a
    /// compact form for passing the set to user programs).
    pub fn mask(&self) -> u64 {
        let mut m = 0;
        for (i, k) in CounterKind::ALL.iter().enumerate() {
            if self.contains(*k) {
                m |= 1 << i;
            }
        }
        m
    }
}

/// The interface an architecture's PMU driver offers the runtime.
pub trait CycleCounter {
    /// Find out which counters this CPU has and program them (kernel mode,
    /// once per CPU). Counters that cannot be used are left out.
    fn init() -> CounterSet;
}

/// A fixed-point number with two decimals (value × 100).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Default)]
pub struct Fixed2(pub u64);

impl Fixed2 {
    /// `num / den`, rounded to the nearest hundredth (`den` > 0).
    pub const fn ratio(num: u64, den: u64) -> Fixed2 {
        let scaled = num as u128 * 100;
        let den = den as u128;
        Fixed2(((scaled + den / 2) / den) as u64)
    }
}

impl fmt::Display for Fixed2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Format into a buffer first so width and alignment apply to the
        // whole number.
        struct Buf {
            b: [u8; 32],
            n: usize,
        }
        impl fmt::Write for Buf {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                let end = self.n + s.len();
                self.b.get_mut(self.n..end).ok_or(fmt::Error)?.copy_from_slice(s.as_bytes());
                self.n = end;
                Ok(())
            }
        }
        let mut buf = Buf { b: [0; 32], n: 0 };
        fmt::write(&mut buf, format_args!("{}.{:02}", self.0 / 100, self.0 % 100))?;
        f.pad(core::str::from_utf8(&buf.b[..buf.n]).map_err(|_| fmt::Error)?)
    }
}

/// Most runs one statistic covers.
pub const MAX_RUNS: usize = 64;

/// Statistics of the per-operation cost over several runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Stats {
    /// Cheapest run.
    pub min: Fixed2,
    /// Median run (mean of the middle two for an even count).
    pub median: Fixed2,
    /// Mean over runs.
    pub mean: Fixed2,
    /// Dearest run.
    pub max: Fixed2,
    /// Number of runs.
    pub runs: usize,
}

impl Stats {
    /// Spread: max − min.
    pub fn spread(&self) -> Fixed2 {
        Fixed2(self.max.0 - self.min.0)
    }
}

/// Collects the counter totals of each run of one benchmark.
#[derive(Clone, Copy, Debug)]
pub struct RunLog {
    totals: [[u64; MAX_RUNS]; MAX_COUNTERS],
    runs: usize,
}

impl Default for RunLog {
    fn default() -> Self {
        Self::new()
    }
}

impl RunLog {
    /// No runs yet.
    pub const fn new() -> Self {
        RunLog { totals: [[0; MAX_RUNS]; MAX_COUNTERS], runs: 0 }
    }

    /// Record one run: `deltas[i]` is counter `i`'s total over the run.
    /// Returns `false` (and records nothing) when the log is full.
    pub fn push(&mut self, deltas: &[u64]) -> bool {
        if self.runs == MAX_RUNS {
            return false;
        }
        for (i, d) in deltas.iter().take(MAX_COUNTERS).enumerate() {
            self.totals[i][self.runs] = *d;
        }
        self.runs += 1;
        true
    }

    /// Number of runs recorded.
    pub const fn runs(&self) -> usize {
        self.runs
    }

    /// Counter `i`'s total of each run, in the order they ran (empty for a
    /// counter out of range): the raw samples behind [`RunLog::stats`].
    pub fn totals(&self, i: usize) -> &[u64] {
        match self.totals.get(i) {
            Some(t) => &t[..self.runs],
            None => &[],
        }
    }

    /// Statistics of counter `i` with `ops` operations per run; `None` with
    /// no runs or no operations.
    pub fn stats(&self, i: usize, ops: u64) -> Option<Stats> {
        if i >= MAX_COUNTERS {
            return None;
        }
        let mut v = self.totals[i];
        summarize(&mut v[..self.runs], ops)
    }
}

/// Statistics of per-operation cost from run totals (sorted in place).
pub fn summarize(totals: &mut [u64], ops: u64) -> Option<Stats> {
    if totals.is_empty() || ops == 0 {
        return None;
    }
    totals.sort_unstable();
    let n = totals.len();
    let per = |t: u64| Fixed2::ratio(t, ops);
    let median = if n % 2 == 1 {
        per(totals[n / 2])
    } else {
        Fixed2::ratio(totals[n / 2 - 1] + totals[n / 2], 2 * ops)
    };
    let sum: u128 = totals.iter().map(|&t| t as u128).sum();
    // Rounded like the other figures, so min <= mean <= max holds in print.
    let den = n as u128 * ops as u128;
    let mean = Fixed2(((sum * 100 + den / 2) / den) as u64);
    Some(Stats { min: per(totals[0]), median, mean, max: per(totals[n - 1]), runs: n })
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

    #[test]
    fn fixed2_rounds_and_prints() {
        assert_eq!(format!("{}", Fixed2::ratio(171, 2)), "85.50");
        assert_eq!(format!("{}", Fixed2::ratio(1, 3)), "0.33");
        assert_eq!(format!("{}", Fixed2::ratio(2, 3)), "0.67");
        assert_eq!(format!("{}", Fixed2(5)), "0.05");
        assert_eq!(format!("{:>8}|{:<7}|", Fixed2(12345), Fixed2(5)), "  123.45|0.05   |");
    }

    #[test]
    fn stats_odd_even() {
        let mut v = [300, 100, 200];
        let s = summarize(&mut v, 10).unwrap();
        assert_eq!((s.min, s.median, s.mean, s.max), (Fixed2(1000), Fixed2(2000), Fixed2(2000), Fixed2(3000)));
        let mut v = [40, 10, 20, 30];
        let s = summarize(&mut v, 10).unwrap();
        assert_eq!((s.median, s.mean, s.spread()), (Fixed2(250), Fixed2(250), Fixed2(300)));
        assert!(summarize(&mut [], 1).is_none());
        // Rounding: a single run gives mean == median == min == max.
        let s = summarize(&mut [704_021], 4000).unwrap();
        assert_eq!((s.min, s.mean, s.max), (Fixed2(17601), Fixed2(17601), Fixed2(17601)));
        assert!(summarize(&mut [1], 0).is_none());
    }

    #[test]
    fn counter_set_and_runlog() {
        let mut c = CounterSet::new();
        c.push(CounterKind::Tsc);
        c.push(CounterKind::Tsc);
        c.push(CounterKind::Instructions);
        assert_eq!(c.len(), 2);
        assert_eq!(c.mask(), 0b1001);
        let mut log = RunLog::new();
        for r in 0..3u64 {
            assert!(log.push(&[100 + r, 50]));
        }
        assert_eq!(log.stats(0, 10).unwrap().median, Fixed2(1010));
        assert_eq!(log.stats(1, 10).unwrap().max, Fixed2(500));
        let mut full = RunLog::new();
        for _ in 0..MAX_RUNS {
            assert!(full.push(&[1]));
        }
        assert!(!full.push(&[1]));
    }
}
