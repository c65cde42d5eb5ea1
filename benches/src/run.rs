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

use crate::abi::{MR_IN_REGS, role, tag, thread_op, what};
use crate::job::{Job, counter_delta};
use crate::kernel::Kernel;
use crate::msg::{
    Expected, Failure, SEED_MUL, Side, diagnose, mismatch, mismatch_utcb, opaque, outgoing_at,
    seed, tag_at, word_at,
};
use crate::scenario::{Fault, Slot, check_probe, steps};

/// Runs the role of `job`; reports a failure (`fail`) if a check fails.
/// Returns when the role is done (the server only on a failure); the
/// caller then exits.
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
    mut body: impl FnMut(&mut K, u64, u64) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let mut first = 0u64;
    for run in 0..job.warmup + job.runs {
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
        0 => measure(k, job, 2, |k, i, n| {
            client_rounds::<K, 0, false>(k, cap, len, i, n)
        }),
        1 => measure(k, job, 2, |k, i, n| {
            client_rounds::<K, 1, false>(k, cap, len, i, n)
        }),
        2 => measure(k, job, 2, |k, i, n| {
            client_rounds::<K, 2, false>(k, cap, len, i, n)
        }),
        3 => measure(k, job, 2, |k, i, n| {
            client_rounds::<K, 3, false>(k, cap, len, i, n)
        }),
        4 => measure(k, job, 2, |k, i, n| {
            client_rounds::<K, 4, false>(k, cap, len, i, n)
        }),
        _ => measure(k, job, 2, |k, i, n| {
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
        if LONG {
            for w in MR_IN_REGS..len {
                k.set_utcb(w, word_at(Side::Client, s, w));
            }
        }
        let reply = k.call(
            cap,
            tag_at(Side::Client, s, len),
            outgoing_at::<R>(Side::Client, s, &held),
        );
        held = reply.mr;
        let e = Expected {
            side: Side::Server,
            seed: s,
            len,
            badge: 0,
        };
        let mut bad = mismatch::<R>(&reply, &e);
        if LONG {
            bad |= mismatch_utcb(&e, |w| k.utcb(w));
        }
        if bad != 0 {
            return Err(diagnose(reply, e, |w| k.utcb(w)).unwrap_or(Failure::status(reply.status)));
        }
        s = s.wrapping_add(SEED_MUL);
    }
    Ok(())
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
        let mut bad = mismatch::<R>(&m, &e);
        if LONG {
            bad |= mismatch_utcb(&e, |w| k.utcb(w));
        }
        if bad != 0 {
            return diagnose(m, e, |w| k.utcb(w)).unwrap_or(Failure::status(m.status));
        }
        if LONG {
            for w in MR_IN_REGS..len {
                k.set_utcb(w, word_at(Side::Server, s, w));
            }
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
    measure(k, job, 1, null_rounds::<K>)
}

/// Role 4: the measured `invoke` loop; a round is one syscall.
fn invoke_loop<K: Kernel>(k: &mut K, job: &Job) -> Result<(), Failure> {
    let (cap, badge) = (job.cap, job.badge);
    measure(k, job, 1, |k, _, n| invoke_rounds(k, cap, badge, n))
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
    }
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

#[cfg(test)]
mod tests;
