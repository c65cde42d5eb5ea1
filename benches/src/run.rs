// SPDX-License-Identifier: MIT OR Apache-2.0
//! The roles: what the program does with its job.
//!
//! * **Client** (role 1): `warmup + runs` runs; each reads the counters,
//!   makes `rounds` `call`s, reads the counters again, and (after the
//!   warm-up) reports the deltas for `2 * rounds` one-way IPCs.
//! * **Server** (role 2): `recv` once, then check each message and answer
//!   it with `reply_recv`, forever.
//! * **Null loop** (role 3): like the client, with one `null` per round.
//! * **Invoke loop** (role 4): like the client, with one `invoke` per
//!   round: `ping` on the thread's own capability, status and badge checked.
//! * **Latency loops** (roles 5, 6, 7: `--latency`): the client, the
//!   `null` loop and the `invoke` loop again, each round timed on its own
//!   ([`client_lap`], [`null_lap`], [`invoke_lap`]): the counter is read
//!   once at the start of every round (and once after the last), each
//!   reading stored in the sample buffer; before the measured runs,
//!   [`overhead_pairs`] measures what a read costs. The kernel turns the
//!   buffer into percentiles (`pmu::latency`). Separate functions, so the
//!   throughput loops above are untouched.
//! * **Scenarios** (16 and up): see [`crate::scenario`].
//!
//! Round numbers run on across runs and are counted separately but
//! identically by client and server, so each knows what the other must
//! send (the patterns of [`crate::msg`]). On the first failed check a role
//! reports it (`fail`) and returns; the program then exits. A dead server
//! wakes its blocked client with `PartnerDied`, which the client reports as
//! a status failure; a dead client leaves the server blocked, harmlessly.
//!
//! The measured loops ([`client_rounds`], [`server_loop`], [`null_rounds`],
//! [`invoke_rounds`])
//! are `#[inline(never)]` so that they stand alone in the disassembly, and
//! are specialised by message length (const generics) so that they hold no
//! length tests. They take their loop-invariant values as scalars rather
//! than through the `Job`, which the compiler would have to re-read after
//! every `syscall` (the asm may write memory). Across a `syscall` only
//! `rbx` and `rbp` survive besides the message registers (docs/abi.md), so
//! some loop state lives in stack slots all the same.

use crate::abi::{MR_IN_REGS, latency, role, status, tag, thread_op, what};
use crate::job::{Job, LatencyJob, counter_delta};
use crate::kernel::{Kernel, PRIMARY_SELECTOR};
use crate::msg::{
    CLIENT_TURN, Expected, Failure, SEED_MUL, SERVER_TURN, Side, diagnose, mismatch, opaque,
    outgoing_at, seed, tag_at, word_at,
};
use crate::scenario::{Fault, Slot, check_probe, steps};

/// Runs the role of `job`; reports a failure (`fail`) if a check fails.
/// Returns when the role is done (the server only on a failure); the
/// caller then exits. The latency roles are [`run_latency`]'s: this
/// function, and with it every throughput loop, is as it was before they
/// existed (out of line, as it always compiled: `#[inline(never)]` keeps
/// it so now that `_start` calls [`run_latency`] too).
#[inline(never)]
pub fn run<K: Kernel>(k: &mut K, job: &Job) {
    let result = match job.role {
        role::CLIENT => client(k, job),
        role::SERVER => server(k, job),
        role::NULL => null_loop(k, job),
        role::INVOKE => invoke_loop(k, job),
        id => scenario(k, job, id),
    };
    if let Err(f) = result {
        k.fail(job.bench, f);
    }
}

/// Is `role` one of [`run_latency`]'s (5, 6, 7)?
pub const fn is_latency(role: u64) -> bool {
    matches!(role, role::CLIENT_LAT | role::NULL_LAT | role::INVOKE_LAT)
}

/// Runs a latency role (`--latency`: [`is_latency`]) with its sample
/// buffer `samples`; reports a failure (`fail`) if a check fails. Any
/// other role is reported as unknown.
#[inline(never)]
pub fn run_latency<K: Kernel>(k: &mut K, job: &Job, lat: &LatencyJob, samples: &mut [u32]) {
    let result = if !is_latency(job.role) {
        Err(Failure { what: what::UNKNOWN_ROLE, got: job.role, expected: 0 })
    } else if lat.counter == PRIMARY_SELECTOR {
        latency_role::<K, Primary>(k, job, lat.counter, samples)
    } else {
        latency_role::<K, Selected>(k, job, lat.counter, samples)
    };
    if let Err(f) = result {
        k.fail(job.bench, f);
    }
}

/// Reads the job's counters, in order.
#[inline(always)]
fn read_counters<K: Kernel>(k: &mut K, job: &Job) -> [u64; 4] {
    let mut v = [0; 4];
    for (i, sel) in job.selectors().iter().enumerate() {
        v[i] = k.read_counter(*sel);
    }
    v
}

/// `warmup + runs` runs of `rounds` rounds of `body(k, first_round,
/// rounds)`, each timed with the counters; the measured ones are reported
/// with `ops_per_round * rounds` operations.
fn measure<K: Kernel>(
    k: &mut K,
    job: &Job,
    ops_per_round: u64,
    mut prepare: impl FnMut(&mut K, u64),
    mut body: impl FnMut(&mut K, u64, u64) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let mut first = 0u64;
    for run in 0..job.warmup + job.runs {
        prepare(k, first);
        let before = read_counters(k, job);
        body(k, first, job.rounds)?;
        let after = read_counters(k, job);
        first = first.wrapping_add(job.rounds);
        if run >= job.warmup {
            let mut deltas = [0; 4];
            for (i, sel) in job.selectors().iter().enumerate() {
                deltas[i] = counter_delta(*sel, before[i], after[i]);
            }
            let st = k.report(
                job.bench,
                run - job.warmup,
                ops_per_round * job.rounds,
                &deltas[..job.n],
            );
            if st != 0 {
                return Err(Failure::status(st));
            }
        }
    }
    Ok(())
}

/// Role 1: the measured `call` loop; a round is two one-way IPCs.
fn client<K: Kernel>(k: &mut K, job: &Job) -> Result<(), Failure> {
    let (cap, len) = (job.cap, job.len);
    // One specialised loop per register-message length, so the loop has
    // no length tests; longer messages add the UTCB words.
    match len {
        0 => measure(k, job, 2, |_, _| {}, |k, i, n| {
            client_rounds::<K, 0, false>(k, cap, len, i, n)
        }),
        1 => measure(k, job, 2, |_, _| {}, |k, i, n| {
            client_rounds::<K, 1, false>(k, cap, len, i, n)
        }),
        2 => measure(k, job, 2, |_, _| {}, |k, i, n| {
            client_rounds::<K, 2, false>(k, cap, len, i, n)
        }),
        3 => measure(k, job, 2, |_, _| {}, |k, i, n| {
            client_rounds::<K, 3, false>(k, cap, len, i, n)
        }),
        4 => measure(k, job, 2, |_, _| {}, |k, i, n| {
            client_rounds::<K, 4, false>(k, cap, len, i, n)
        }),
        _ => measure(k, job, 2, |k, i| request_words(k, len, seed(i)), |k, i, n| {
            client_rounds::<K, 4, true>(k, cap, len, i, n)
        }),
    }
}

/// Rounds `first..first + rounds` of the client: `call` with the client's
/// pattern of `len` words (`R` in registers; the rest in the UTCB when
/// `LONG`), check the reply against the server's pattern, badge 0.
///
/// The loop carries the round's seed alone (everything a round sends and
/// expects is the seed plus a constant, [`crate::msg`]), and ends when the
/// seed reaches that of round `first + rounds`.
#[inline(never)]
pub fn client_rounds<K: Kernel, const R: usize, const LONG: bool>(
    k: &mut K,
    cap: u64,
    len: usize,
    first: u64,
    rounds: u64,
) -> Result<(), Failure> {
    let end = seed(first.wrapping_add(rounds));
    let mut s = seed(first);
    let mut held = [0; MR_IN_REGS];
    while s != end {
        s = opaque(s);
        client_round::<K, R, LONG>(k, cap, len, s, &mut held)?;
        s = s.wrapping_add(SEED_MUL);
    }
    Ok(())
}

/// One client round, seed `s`: its UTCB words when `LONG`, the `call`,
/// the check of the reply (`held`: the reply's register words, which the
/// next round's outgoing words are made from). Shared by
/// [`client_rounds`] and [`client_lap`], inlined into each.
#[inline(always)]
fn client_round<K: Kernel, const R: usize, const LONG: bool>(
    k: &mut K,
    cap: u64,
    len: usize,
    s: u64,
    held: &mut [u64; MR_IN_REGS],
) -> Result<(), Failure> {
    // With `LONG`, the UTCB holds this round's words already: the
    // previous round's turn made them (or `request_words`, before a run).
    let reply = k.call(
        cap,
        tag_at(Side::Client, s, len),
        outgoing_at::<R>(Side::Client, s, held),
    );
    *held = reply.mr;
    let e = Expected {
        side: Side::Server,
        seed: s,
        len,
        badge: 0,
    };
    let mut bad = mismatch::<R>(&reply, &e);
    if LONG {
        // Checked, and turned into the next round's request.
        bad |= k.utcb_check_turn(MR_IN_REGS, len, word_at(Side::Server, s, MR_IN_REGS), CLIENT_TURN);
    }
    if bad != 0 {
        // The UTCB words as they came (less the turn).
        let got = |w| if LONG { k.utcb(w).wrapping_sub(CLIENT_TURN) } else { k.utcb(w) };
        return Err(diagnose(reply, e, got).unwrap_or(Failure::status(reply.status)));
    }
    Ok(())
}

/// The client's UTCB words of a `len`-word request in the round of seed
/// `s` (before the first round of a run: later rounds make theirs from
/// the reply, [`crate::msg`] "Long messages").
fn request_words<K: Kernel>(k: &mut K, len: usize, s: u64) {
    for w in MR_IN_REGS..len {
        k.set_utcb(w, word_at(Side::Client, s, w));
    }
}

/// Role 2: serve until a check fails.
fn server<K: Kernel>(k: &mut K, job: &Job) -> Result<(), Failure> {
    let (cap, badge, len) = (job.cap, job.badge, job.len);
    Err(match len {
        0 => server_loop::<K, 0, false>(k, cap, badge, len),
        1 => server_loop::<K, 1, false>(k, cap, badge, len),
        2 => server_loop::<K, 2, false>(k, cap, badge, len),
        3 => server_loop::<K, 3, false>(k, cap, badge, len),
        4 => server_loop::<K, 4, false>(k, cap, badge, len),
        _ => server_loop::<K, 4, true>(k, cap, badge, len),
    })
}

/// The server: `recv`, then for each round (its seed `s`) check the message against
/// the client's pattern and `badge`, and answer with the server's pattern
/// through `reply_recv`. Returns only the failure that ends it.
#[inline(never)]
pub fn server_loop<K: Kernel, const R: usize, const LONG: bool>(
    k: &mut K,
    cap: u64,
    badge: u64,
    len: usize,
) -> Failure {
    let mut m = k.recv(cap);
    let mut s = seed(0);
    loop {
        s = opaque(s);
        let e = Expected {
            side: Side::Client,
            seed: s,
            len,
            badge,
        };
        if mismatch::<R>(&m, &e) != 0 {
            return diagnose(m, e, |w| k.utcb(w)).unwrap_or(Failure::status(m.status));
        }
        if LONG {
            // The reply's UTCB words are the request's, turned: the client
            // checks them, and so every word of both directions.
            k.utcb_add(MR_IN_REGS, len, SERVER_TURN);
        }
        m = k.reply_recv(
            cap,
            tag_at(Side::Server, s, len),
            outgoing_at::<R>(Side::Server, s, &m.mr),
        );
        s = s.wrapping_add(SEED_MUL);
    }
}

/// Role 3: the measured `null` loop; a round is one syscall.
fn null_loop<K: Kernel>(k: &mut K, job: &Job) -> Result<(), Failure> {
    measure(k, job, 1, |_, _| {}, null_rounds::<K>)
}

/// Role 4: the measured `invoke` loop; a round is one syscall.
fn invoke_loop<K: Kernel>(k: &mut K, job: &Job) -> Result<(), Failure> {
    let (cap, badge) = (job.cap, job.badge);
    measure(k, job, 1, |_, _| {}, |k, _, n| invoke_rounds(k, cap, badge, n))
}

/// `rounds` rounds of the invoke loop: `ping` on the thread capability in
/// `cap`; status 0 and the capability's `badge` as the result, every time.
#[inline(never)]
pub fn invoke_rounds<K: Kernel>(k: &mut K, cap: u64, badge: u64, rounds: u64) -> Result<(), Failure> {
    let ping = tag(thread_op::PING, 0);
    for _ in 0..rounds {
        let (st, v) = k.invoke(cap, ping);
        // One test for both: `any` is the result's difference from the
        // badge when the status is 0 (so the result is `any ^ badge`; the
        // cold path recomputes it from `any` alone, so that the loop need
        // not keep a copy of the result).
        let any = (v ^ badge) | st;
        if any != 0 {
            return Err(if st != 0 {
                Failure::status(st)
            } else {
                Failure {
                    what: what::BADGE,
                    got: core::hint::black_box(any) ^ badge,
                    expected: badge,
                }
            });
        }
    }
    Ok(())
}

/// Rounds `first..first + rounds` of the syscall loop: `null` with the round
/// number in MR0; status 0 and MR0 unchanged.
#[inline(never)]
pub fn null_rounds<K: Kernel>(k: &mut K, first: u64, rounds: u64) -> Result<(), Failure> {
    for i in first..first.wrapping_add(rounds) {
        null_round(k, i)?;
    }
    Ok(())
}

/// One `null` round: `i` in MR0 comes back with status 0. Shared by
/// [`null_rounds`] and [`null_lap`], inlined into each.
#[inline(always)]
fn null_round<K: Kernel>(k: &mut K, i: u64) -> Result<(), Failure> {
    let (st, mr0) = k.null(i);
    if st | (mr0 ^ i) != 0 {
        return Err(if st != 0 {
            Failure::status(st)
        } else {
            Failure {
                what: what::WORD_BASE,
                got: mr0,
                expected: i,
            }
        });
    }
    Ok(())
}

/// How a latency loop takes a time stamp.
pub trait Stamp {
    /// Reads the counter (`sel`: its selector).
    fn read<K: Kernel>(k: &mut K, sel: u64) -> u64;
}

/// The arch's first counter (TSC, PMCCNTR_EL0), read without a test.
pub struct Primary;

impl Stamp for Primary {
    #[inline(always)]
    fn read<K: Kernel>(k: &mut K, _: u64) -> u64 {
        k.read_primary()
    }
}

/// Any counter, by its selector.
pub struct Selected;

impl Stamp for Selected {
    #[inline(always)]
    fn read<K: Kernel>(k: &mut K, sel: u64) -> u64 {
        k.read_counter(sel)
    }
}

/// Roles 5, 6, 7: the latency loops.
fn latency_role<K: Kernel, T: Stamp>(k: &mut K, job: &Job, sel: u64, samples: &mut [u32]) -> Result<(), Failure> {
    let (cap, badge, len) = (job.cap, job.badge, job.len);
    match job.role {
        role::CLIENT_LAT => match len {
            0 => laps::<K, T>(k, job, sel, samples, |k, i, st| client_lap::<K, T, 0, false>(k, sel, cap, len, i, st)),
            1 => laps::<K, T>(k, job, sel, samples, |k, i, st| client_lap::<K, T, 1, false>(k, sel, cap, len, i, st)),
            2 => laps::<K, T>(k, job, sel, samples, |k, i, st| client_lap::<K, T, 2, false>(k, sel, cap, len, i, st)),
            3 => laps::<K, T>(k, job, sel, samples, |k, i, st| client_lap::<K, T, 3, false>(k, sel, cap, len, i, st)),
            4 => laps::<K, T>(k, job, sel, samples, |k, i, st| client_lap::<K, T, 4, false>(k, sel, cap, len, i, st)),
            _ => laps::<K, T>(k, job, sel, samples, |k, i, st| client_lap::<K, T, 4, true>(k, sel, cap, len, i, st)),
        },
        role::NULL_LAT => laps::<K, T>(k, job, sel, samples, |k, i, st| null_lap::<K, T>(k, sel, i, st)),
        _ => laps::<K, T>(k, job, sel, samples, |k, _, st| invoke_lap::<K, T>(k, sel, cap, badge, st)),
    }
}

/// The runs of a latency role: the warm-up runs, then the read overhead
/// ([`overhead_pairs`], twice: the first pass warms it up), then the
/// measured runs, each into its own `rounds + 1` words of `samples` (the
/// warm-up runs into the first run's); then the `latency` service call.
fn laps<K: Kernel, T: Stamp>(
    k: &mut K,
    job: &Job,
    sel: u64,
    samples: &mut [u32],
    mut body: impl FnMut(&mut K, u64, &mut [u32]) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let need = latency::words_needed(job.rounds, job.runs);
    if (samples.len() as u64) < need || job.runs == 0 {
        return Err(Failure { what: what::SAMPLE_BUFFER, got: samples.len() as u64, expected: need });
    }
    // No indexing that could panic: the throughput loops' one call of
    // the slice-index panic keeps its constant arguments (and so their
    // code stays as it was).
    let short = Failure { what: what::SAMPLE_BUFFER, got: samples.len() as u64, expected: need };
    let per_run = job.rounds as usize + 1;
    let (pairs, stamps) = samples.split_at_mut_checked(latency::OVERHEAD_PAIRS).ok_or(short)?;
    let mut first = 0u64;
    for run in 0..job.warmup + job.runs {
        if run == job.warmup {
            overhead_pairs::<K, T>(k, sel, pairs);
            overhead_pairs::<K, T>(k, sel, pairs);
        }
        let r = run.saturating_sub(job.warmup) as usize;
        body(k, first, stamps.get_mut(r * per_run..(r + 1) * per_run).ok_or(short)?)?;
        first = first.wrapping_add(job.rounds);
    }
    match k.latency(job.bench, latency::OVERHEAD_PAIRS as u64, job.rounds, job.runs) {
        0 => Ok(()),
        st => Err(Failure::status(st)),
    }
}

/// The read overhead: each word of `out` is the delta of two back-to-back
/// reads of the counter (their low 32 bits, as the time stamps).
#[inline(never)]
pub fn overhead_pairs<K: Kernel, T: Stamp>(k: &mut K, sel: u64, out: &mut [u32]) {
    for o in out.iter_mut() {
        let a = T::read(k, sel) as u32;
        let b = T::read(k, sel) as u32;
        // Through `black_box` (after the pair, so not timed): a selector
        // that reads as 0 must not turn the loop into a `memset` or vector
        // stores (FP/SIMD on AArch64, which EL0 may not use).
        *o = core::hint::black_box(b.wrapping_sub(a));
    }
}

/// [`client_rounds`], each round timed: `stamps` (`rounds + 1` words)
/// gets the counter's low 32 bits at the start of each round and after
/// the last.
#[inline(never)]
pub fn client_lap<K: Kernel, T: Stamp, const R: usize, const LONG: bool>(
    k: &mut K,
    sel: u64,
    cap: u64,
    len: usize,
    first: u64,
    stamps: &mut [u32],
) -> Result<(), Failure> {
    let Some((last, laps)) = stamps.split_last_mut() else {
        return Ok(());
    };
    let mut s = seed(first);
    let mut held = [0; MR_IN_REGS];
    if LONG {
        request_words(k, len, s);
    }
    for slot in laps.iter_mut() {
        *slot = T::read(k, sel) as u32;
        s = opaque(s);
        client_round::<K, R, LONG>(k, cap, len, s, &mut held)?;
        s = s.wrapping_add(SEED_MUL);
    }
    *last = T::read(k, sel) as u32;
    Ok(())
}

/// [`null_rounds`], each round timed (see [`client_lap`]).
#[inline(never)]
pub fn null_lap<K: Kernel, T: Stamp>(k: &mut K, sel: u64, first: u64, stamps: &mut [u32]) -> Result<(), Failure> {
    let Some((last, laps)) = stamps.split_last_mut() else {
        return Ok(());
    };
    let mut i = first;
    for slot in laps.iter_mut() {
        *slot = T::read(k, sel) as u32;
        null_round(k, i)?;
        i = i.wrapping_add(1);
    }
    *last = T::read(k, sel) as u32;
    Ok(())
}

/// [`invoke_rounds`], each round timed (see [`client_lap`]).
#[inline(never)]
pub fn invoke_lap<K: Kernel, T: Stamp>(
    k: &mut K,
    sel: u64,
    cap: u64,
    badge: u64,
    stamps: &mut [u32],
) -> Result<(), Failure> {
    let Some((last, laps)) = stamps.split_last_mut() else {
        return Ok(());
    };
    let ping = tag(thread_op::PING, 0);
    for slot in laps.iter_mut() {
        *slot = T::read(k, sel) as u32;
        let (st, v) = k.invoke(cap, ping);
        let any = (v ^ badge) | st;
        if any != 0 {
            return Err(if st != 0 {
                Failure::status(st)
            } else {
                Failure { what: what::BADGE, got: core::hint::black_box(any) ^ badge, expected: badge }
            });
        }
    }
    *last = T::read(k, sel) as u32;
    Ok(())
}

/// Roles 16 and up: the scenarios. `Ok` after `test_ok`.
fn scenario<K: Kernel>(k: &mut K, job: &Job, id: u64) -> Result<(), Failure> {
    if let Some(steps) = steps(id) {
        for s in steps {
            let cap = match s.slot {
                Slot::Fixed(c) => c,
                Slot::Job => job.cap,
            };
            let got = k.syscall(s.nr, cap, s.tag, [0; MR_IN_REGS]).status;
            if got != s.expect {
                return Err(Failure {
                    what: what::STATUS,
                    got,
                    expected: s.expect,
                });
            }
        }
    } else if id == role::NULL_PRESERVES {
        check_probe(&k.null_probe())?;
    } else if let Some(f) = Fault::from_role(id) {
        k.fault(f);
        return Err(Failure {
            what: what::SURVIVED,
            got: id,
            expected: 0,
        });
    } else {
        return Err(Failure {
            what: what::UNKNOWN_ROLE,
            got: id,
            expected: 0,
        });
    }
    k.test_ok(id);
    Ok(())
}

/// Is `role` one of [`run_watchdog`]'s (38, 39)?
pub const fn is_watchdog(role: u64) -> bool {
    matches!(role, role::SPIN | role::SPIN_CALLER)
}

/// Roles 38 and 39 (`selftest=watchdog`): the spinner and its caller. Apart
/// from [`run`] (`_start` picks it), so that [`run`] and the benchmark
/// loops in it compile as they did before these roles existed.
#[inline(never)]
#[cold]
pub fn run_watchdog<K: Kernel>(k: &mut K, job: &Job) {
    if let Err(f) = watchdog_role(k, job) {
        k.fail(job.bench, f);
    }
}

fn watchdog_role<K: Kernel>(k: &mut K, job: &Job) -> Result<(), Failure> {
    if job.role == role::SPIN {
        // Take the caller's message (so that it waits for a reply from
        // this task), then spin: only the watchdog ends this.
        k.recv(job.cap);
        spin();
    }
    let got = k.call(job.cap, 0, [0; MR_IN_REGS]).status;
    if got != status::PARTNER_DIED {
        return Err(Failure { what: what::STATUS, got, expected: status::PARTNER_DIED });
    }
    k.test_ok(job.bench);
    Ok(())
}

/// Spin in user mode for ever (`selftest=watchdog`; on the host, where
/// the tests run the roles on threads, a panic instead). Every few hundred
/// instructions a spin hint (x86 `pause`, Arm `isb`): still never a
/// kernel entry, but under QEMU icount, where the vCPUs take turns on one
/// thread, an x86 `pause` hands the turn on, so that with every core
/// spinning at once (`watchdog-parallel`) no core's threads wait past
/// its budget for a turn before they have started.
#[cfg(target_os = "none")]
pub(crate) fn spin() -> ! {
    loop {
        for i in 0..64u32 {
            core::hint::black_box(i);
        }
        core::hint::spin_loop();
    }
}

#[cfg(not(target_os = "none"))]
pub(crate) fn spin() -> ! {
    panic!("role 38 spins for ever")
}

#[cfg(test)]
mod tests;
