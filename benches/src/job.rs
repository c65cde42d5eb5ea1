// SPDX-License-Identifier: MIT OR Apache-2.0
//! The job the runtime writes into a thread's UTCB before it starts
//! (docs/abi.md "Start-up words"), and the arithmetic of counter deltas.

use crate::abi::{MAX_COUNTERS, PMCCNTR_SELECTOR, TSC_SELECTOR, word};

/// Longest message a job may ask for: the kernel carries words beyond
/// [`crate::abi::MR_IN_REGS`] in the UTCB, up to [`crate::abi::MSG_MAX_WORDS`].
pub const LENGTH_LIMIT: usize = crate::abi::MSG_MAX_WORDS;

/// `rdpmc` counters are at most 48 bits wide on every CPU we read (Intel
/// fixed and general counters, AMD core counters); a delta is taken modulo
/// that, so a counter that wraps within a run still gives the right count.
pub const PMC_MASK: u64 = (1 << 48) - 1;

/// Arm PMUv3 event counters are 32 bits wide (the cycle counter is 64);
/// their deltas are taken modulo 2^32.
pub const PMEVCNTR_MASK: u64 = (1 << 32) - 1;

/// A thread's job, decoded from its UTCB start-up words.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Job {
    /// What to do ([`crate::abi::role`]).
    pub role: u64,
    /// Rounds per run.
    pub rounds: u64,
    /// Measured runs.
    pub runs: u64,
    /// Warm-up runs before them.
    pub warmup: u64,
    /// Bench (or scenario) id, echoed in reports.
    pub bench: u64,
    /// Number of counters (at most [`MAX_COUNTERS`]).
    pub n: usize,
    /// How to read counter `i` ([`TSC_SELECTOR`] or an `rdpmc` index).
    pub counters: [u64; MAX_COUNTERS],
    /// Capability slot of the endpoint.
    pub cap: u64,
    /// Badge the server must see.
    pub badge: u64,
    /// Message length in words (at most [`LENGTH_LIMIT`]).
    pub len: usize,
}

impl Job {
    /// Decodes the start-up words, reading UTCB word `i` with `utcb(i)`.
    /// Out-of-range counts are clamped: at most four counters, messages of
    /// at most [`LENGTH_LIMIT`] words.
    pub fn from_utcb(utcb: impl Fn(usize) -> u64) -> Job {
        let n = utcb(word::COUNTERS).min(MAX_COUNTERS as u64) as usize;
        let counters = core::array::from_fn(|i| {
            if i < n {
                utcb(word::COUNTER_SEL + i)
            } else {
                0
            }
        });
        Job {
            role: utcb(word::ROLE),
            rounds: utcb(word::ROUNDS),
            runs: utcb(word::RUNS),
            warmup: utcb(word::WARMUP),
            bench: utcb(word::BENCH),
            n,
            counters,
            cap: utcb(word::CAP),
            badge: utcb(word::BADGE),
            len: utcb(word::LENGTH).min(LENGTH_LIMIT as u64) as usize,
        }
    }

    /// The selectors of the counters in use.
    pub fn selectors(&self) -> &[u64] {
        &self.counters[..self.n]
    }
}

/// The extra start-up words of a latency role (`--latency`; docs/abi.md
/// words 17..19). Apart from [`Job`], which the throughput roles use as
/// it always was.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LatencyJob {
    /// The selector of the counter that times each round.
    pub counter: u64,
    /// User address of the sample buffer (0: none).
    pub samples: u64,
    /// Its length in 32-bit words.
    pub samples_len: u64,
}

impl LatencyJob {
    /// Decodes words 17..19, reading UTCB word `i` with `utcb(i)`.
    pub fn from_utcb(utcb: impl Fn(usize) -> u64) -> LatencyJob {
        LatencyJob {
            counter: utcb(word::LAT_COUNTER),
            samples: utcb(word::SAMPLES),
            samples_len: utcb(word::SAMPLES_LEN),
        }
    }
}

/// The count between two reads `before` and `after` of the counter chosen
/// by `selector`, on this target's instruction set (the x86_64 rules on the
/// host).
#[inline(always)]
pub const fn counter_delta(selector: u64, before: u64, after: u64) -> u64 {
    #[cfg(target_arch = "aarch64")]
    {
        counter_delta_aarch64(selector, before, after)
    }
    #[cfg(not(target_arch = "aarch64"))]
    {
        counter_delta_x86_64(selector, before, after)
    }
}

/// x86_64: modulo 2^64 for the TSC, modulo 2^48 for `rdpmc`.
#[inline(always)]
pub const fn counter_delta_x86_64(selector: u64, before: u64, after: u64) -> u64 {
    let d = after.wrapping_sub(before);
    if selector == TSC_SELECTOR {
        d
    } else {
        d & PMC_MASK
    }
}

/// AArch64: modulo 2^64 for PMCCNTR_EL0 (64 bits with `PMCR_EL0.LC`),
/// modulo 2^32 for the event counters.
#[inline(always)]
pub const fn counter_delta_aarch64(selector: u64, before: u64, after: u64) -> u64 {
    let d = after.wrapping_sub(before);
    if selector == PMCCNTR_SELECTOR {
        d
    } else {
        d & PMEVCNTR_MASK
    }
}

#[cfg(test)]
mod tests {
    use super::{Job, LENGTH_LIMIT, PMC_MASK, PMEVCNTR_MASK, counter_delta, counter_delta_aarch64};
    use crate::abi::{TSC_SELECTOR, UTCB_WORDS, role};

    fn utcb(words: &[(usize, u64)]) -> [u64; UTCB_WORDS] {
        let mut u = [0; UTCB_WORDS];
        for &(i, v) in words {
            u[i] = v;
        }
        u
    }

    #[test]
    fn decodes_the_start_up_words() {
        // As the runtime writes them for an ipc-intra client.
        let u = utcb(&[
            (4, role::CLIENT),
            (5, 20_000),
            (6, 5),
            (7, 1),
            (8, 1),
            (9, 2),
            (10, TSC_SELECTOR),
            (11, 1 << 30),
            (12, 99), // beyond n: ignored
            (14, 2),
            (15, 0),
            (16, 4),
        ]);
        let j = Job::from_utcb(|i| u[i]);
        assert_eq!(
            j,
            Job {
                role: role::CLIENT,
                rounds: 20_000,
                runs: 5,
                warmup: 1,
                bench: 1,
                n: 2,
                counters: [TSC_SELECTOR, 1 << 30, 0, 0],
                cap: 2,
                badge: 0,
                len: 4,
            }
        );
        assert_eq!(j.selectors(), &[TSC_SELECTOR, 1 << 30]);
    }

    #[test]
    fn decodes_the_latency_words() {
        let u = utcb(&[(17, TSC_SELECTOR), (18, 0x30_0000_0000), (19, 4096)]);
        assert_eq!(
            super::LatencyJob::from_utcb(|i| u[i]),
            super::LatencyJob { counter: TSC_SELECTOR, samples: 0x30_0000_0000, samples_len: 4096 }
        );
    }

    #[test]
    fn clamps_counts() {
        let u = utcb(&[(9, 17), (16, 63)]);
        let j = Job::from_utcb(|i| u[i]);
        assert_eq!(j.n, 4);
        assert_eq!(j.len, LENGTH_LIMIT);
        let u = utcb(&[(9, u64::MAX), (16, u64::MAX)]);
        assert_eq!(Job::from_utcb(|i| u[i]).n, 4);
    }

    #[test]
    fn deltas_wrap_at_the_counter_width() {
        assert_eq!(counter_delta(TSC_SELECTOR, 100, 350), 250);
        assert_eq!(counter_delta(TSC_SELECTOR, u64::MAX - 9, 10), 20);
        assert_eq!(counter_delta(1 << 30, 100, 350), 250);
        // A 48-bit counter that wrapped during the run.
        assert_eq!(counter_delta(0, PMC_MASK - 9, 10), 20);
    }

    #[test]
    fn arm_deltas_wrap_at_the_counter_width() {
        // PMCCNTR_EL0 (selector 0): 64 bits.
        assert_eq!(counter_delta_aarch64(0, u64::MAX - 9, 10), 20);
        assert_eq!(counter_delta_aarch64(0, 100, 350), 250);
        // Event counter 0 (selector 1): 32 bits, wrapped during the run.
        assert_eq!(counter_delta_aarch64(1, PMEVCNTR_MASK - 9, 10), 20);
        assert_eq!(counter_delta_aarch64(1, 100, 350), 250);
    }
}
