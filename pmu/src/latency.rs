// SPDX-License-Identifier: MIT OR Apache-2.0
//! Latency statistics: percentiles and a histogram of single rounds, each
//! timed on its own (`cargo xtask bench --latency`, docs/methodology.md
//! "Latency").
//!
//! The benchmark program times every round with one counter read at the
//! start of each round (a lap timer: the time stamp that ends round `i`
//! starts round `i + 1`), and measures what reading the counter costs by
//! many pairs of back-to-back reads. [`summarize`] turns those into the
//! figures the kernel prints: the overhead (minimum and median of the
//! pairs), the per-round figures (counter deltas modulo 2^32: the program
//! keeps each time stamp's low 32 bits) with the overhead's median subtracted
//! (saturating at 0), their minimum, nearest-rank percentiles p50, p90,
//! p99 and maximum, and a histogram from the minimum to p99 (rounds above
//! p99's last bin are counted apart). Integer arithmetic only: the figures
//! are counter ticks (instructions under QEMU icount), exact.

/// Most bins of the histogram.
pub const HIST_BINS: usize = 32;

/// The latency figures of one benchmark.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Latency {
    /// Back-to-back read pairs measured.
    pub overhead_reads: u64,
    /// Cheapest pair: the least a counter read costs.
    pub overhead_min: u64,
    /// Median pair: what is subtracted from every round.
    pub overhead_median: u64,
    /// Rounds timed.
    pub samples: u64,
    /// Cheapest round, overhead subtracted.
    pub min: u64,
    /// Median round (nearest rank), overhead subtracted.
    pub p50: u64,
    /// 90th percentile (nearest rank).
    pub p90: u64,
    /// 99th percentile (nearest rank).
    pub p99: u64,
    /// Dearest round.
    pub max: u64,
    /// Lower bound of bin 0.
    pub hist_lo: u64,
    /// Width of each bin (at least 1).
    pub hist_width: u64,
    /// Bins in use (1..=[`HIST_BINS`]).
    pub hist_bins: usize,
    /// Rounds per bin: bin `b` holds `hist_lo + b * hist_width ..
    /// hist_lo + (b + 1) * hist_width`.
    pub hist: [u64; HIST_BINS],
    /// Rounds beyond the last bin.
    pub hist_over: u64,
}

/// The nearest-rank `pct`-th percentile of the sorted, non-empty `v`.
pub fn percentile(v: &[u32], pct: u64) -> u64 {
    let n = v.len() as u64;
    let rank = (pct * n).div_ceil(100).clamp(1, n);
    u64::from(v[(rank - 1) as usize])
}

/// The median (lower middle for an even count) of the sorted, non-empty `v`.
fn median(v: &[u32]) -> u32 {
    v[(v.len() - 1) / 2]
}

/// Figures from `overhead` (deltas of back-to-back read pairs) and
/// `samples` (one delta per round); both are sorted in place, and
/// `samples` has the overhead's median subtracted. `None` when either is
/// empty.
pub fn summarize(overhead: &mut [u32], samples: &mut [u32]) -> Option<Latency> {
    if overhead.is_empty() || samples.is_empty() {
        return None;
    }
    overhead.sort_unstable();
    let (overhead_min, overhead_median) = (overhead[0], median(overhead));
    for s in samples.iter_mut() {
        *s = s.saturating_sub(overhead_median);
    }
    samples.sort_unstable();
    let (min, max) = (u64::from(samples[0]), u64::from(samples[samples.len() - 1]));
    let p99 = percentile(samples, 99);
    let span = p99 - min + 1;
    let hist_bins = (span.min(HIST_BINS as u64)) as usize;
    let hist_width = span.div_ceil(hist_bins as u64);
    let mut hist = [0; HIST_BINS];
    let mut hist_over = 0;
    for &s in samples.iter() {
        let b = ((u64::from(s) - min) / hist_width) as usize;
        match hist.get_mut(b).filter(|_| b < hist_bins) {
            Some(c) => *c += 1,
            None => hist_over += 1,
        }
    }
    Some(Latency {
        overhead_reads: overhead.len() as u64,
        overhead_min: u64::from(overhead_min),
        overhead_median: u64::from(overhead_median),
        samples: samples.len() as u64,
        min,
        p50: percentile(samples, 50),
        p90: percentile(samples, 90),
        p99,
        max,
        hist_lo: min,
        hist_width,
        hist_bins,
        hist,
        hist_over,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: [u32; 10] = core::array::from_fn(|i| i as u32 + 1);
        assert_eq!((percentile(&v, 50), percentile(&v, 90), percentile(&v, 99)), (5, 9, 10));
        assert_eq!(percentile(&[7], 99), 7);
        let v: [u32; 200] = core::array::from_fn(|i| i as u32);
        assert_eq!((percentile(&v, 50), percentile(&v, 90), percentile(&v, 99)), (99, 179, 197));
    }

    #[test]
    fn overhead_is_subtracted_and_histogram_covers_min_to_p99() {
        let mut ovh = [3, 2, 2, 9];
        let mut s = [102u32; 100];
        s[0] = 500; // the round that entered the loop
        s[1] = 1; // below the overhead: saturates at 0
        let l = summarize(&mut ovh, &mut s).unwrap();
        assert_eq!((l.overhead_min, l.overhead_median, l.overhead_reads), (2, 2, 4));
        assert_eq!((l.min, l.p50, l.p90, l.p99, l.max, l.samples), (0, 100, 100, 100, 498, 100));
        assert_eq!((l.hist_lo, l.hist_bins, l.hist_width), (0, 32, 4));
        assert_eq!(l.hist[0], 1);
        assert_eq!(l.hist[25], 98);
        assert_eq!(l.hist_over, 1);
        assert_eq!(l.hist.iter().sum::<u64>() + l.hist_over, 100);
    }

    #[test]
    fn equal_rounds_make_one_bin() {
        let l = summarize(&mut [1; 8], &mut [85; 50]).unwrap();
        assert_eq!((l.min, l.p50, l.max, l.hist_bins, l.hist_width, l.hist[0], l.hist_over), (84, 84, 84, 1, 1, 50, 0));
        assert!(summarize(&mut [], &mut [1]).is_none());
        assert!(summarize(&mut [1], &mut []).is_none());
    }
}
