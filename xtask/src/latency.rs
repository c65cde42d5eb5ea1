// SPDX-License-Identifier: MIT OR Apache-2.0
//! `cargo xtask bench --latency [--counter NAME]`: which counter may time
//! single rounds, checked before anything boots.
//!
//! A counter can time a single round when one read of it is a few
//! instructions and it advances with the guest's work. Refused, each with
//! one line saying what to do instead:
//!
//! * `--accel tcg`: under plain QEMU TCG every counter follows QEMU's
//!   virtual clock (host time, advanced between translated blocks, not
//!   per guest instruction), so a round of a hundred instructions reads as
//!   noise; totals over tens of thousands of rounds are what TCG can give;
//! * a counter the board's architecture does not have (`pmccntr` on
//!   x86_64, `tsc` on Arm), or an unknown name;
//! * on x86_64 under QEMU icount, a PMU counter: TCG gives the x86 guest
//!   no PMU (they are `absent`), only the TSC, which under icount counts
//!   instructions exactly;
//! * `--counter` without `--latency` (the throughput figures read every
//!   counter the CPU has), and runs whose rounds do not fit the guest's
//!   sample buffer.

use anyhow::{Result, bail};

use crate::accel::AccelChoice;
use crate::board::{Accel, Board};

/// Rounds over all measured runs the guest's sample buffer holds
/// (`benches::abi::latency::MAX_ROUNDS`).
pub const MAX_ROUNDS: u64 = 128_000;

/// The kernel's defaults, for the buffer check.
const DEFAULT_ROUNDS: u64 = 20_000;
const DEFAULT_RUNS: u64 = 5;

/// The counters `--latency` can time rounds with on `arch`, the default
/// first.
pub fn counters(arch: &str) -> &'static [&'static str] {
    match arch {
        "aarch64" => &["pmccntr", "instructions"],
        _ => &["tsc", "instructions", "core-cycles", "ref-cycles"],
    }
}

/// Checks `--latency` and `--counter` against the board, the accelerator
/// asked for and the run's size; returns the kernel counter to time rounds
/// with (`None` without `--latency`).
pub fn check(
    board: &Board,
    accel: AccelChoice,
    latency: bool,
    counter: Option<&str>,
    rounds: Option<u64>,
    runs: Option<u32>,
) -> Result<Option<String>> {
    if !latency {
        if let Some(c) = counter {
            bail!(
                "--counter {c} only chooses the counter of --latency (the throughput figures read every counter the CPU has); add --latency or drop --counter"
            );
        }
        return Ok(None);
    }
    if accel == AccelChoice::Tcg {
        bail!(
            "--latency cannot time single rounds under --accel tcg: plain TCG's counters follow QEMU's virtual clock (host time, advanced between translated blocks), not the guest's instructions; use --accel icount (exact instruction counts) or kvm"
        );
    }
    let known = counters(board.arch);
    let c = counter.unwrap_or(known[0]);
    if !known.contains(&c) {
        bail!(
            "--counter {c}: {} ({}) has no such counter to time single rounds with; use one of {}",
            board.name,
            board.arch,
            known.join(", ")
        );
    }
    if accel == AccelChoice::Icount {
        check_resolved(board, Accel::Icount, c)?;
    }
    let (r, n) = (rounds.unwrap_or(DEFAULT_ROUNDS), runs.map_or(DEFAULT_RUNS, u64::from));
    if r.saturating_mul(n) > MAX_ROUNDS {
        bail!(
            "--latency keeps every round's time stamp in the guest, at most {MAX_ROUNDS} rounds: --rounds {r} x --runs {n} = {} is too many; lower --rounds or --runs",
            r.saturating_mul(n)
        );
    }
    Ok(Some(c.to_string()))
}

/// The check that needs the accelerator `--accel auto` resolved to: on
/// x86_64 under QEMU TCG (icount) only the TSC exists.
pub fn check_resolved(board: &Board, accel: Accel, counter: &str) -> Result<()> {
    if board.arch == "x86_64" && accel == Accel::Icount && counter != "tsc" {
        bail!(
            "--counter {counter} cannot time single rounds under QEMU icount: TCG gives the x86 guest no PMU, so {counter} is absent; use --counter tsc (under icount it counts instructions exactly) or --accel kvm"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::find;

    #[test]
    fn what_latency_accepts_and_refuses() {
        let pc = find("pc-x86_64").unwrap();
        let arm = find("qemu-virt-aarch64").unwrap();
        let ok = |b, a, c: Option<&str>| check(b, a, true, c, Some(1000), Some(3)).map_err(|e| e.to_string());
        assert_eq!(ok(pc, AccelChoice::Icount, None).unwrap().as_deref(), Some("tsc"));
        assert_eq!(ok(arm, AccelChoice::Icount, None).unwrap().as_deref(), Some("pmccntr"));
        assert_eq!(ok(arm, AccelChoice::Icount, Some("instructions")).unwrap().as_deref(), Some("instructions"));
        assert_eq!(ok(pc, AccelChoice::Kvm, Some("core-cycles")).unwrap().as_deref(), Some("core-cycles"));
        for (b, a, c, says) in [
            (pc, AccelChoice::Tcg, None, "--accel tcg"),
            (pc, AccelChoice::Icount, Some("instructions"), "no PMU"),
            (pc, AccelChoice::Kvm, Some("pmccntr"), "no such counter"),
            (arm, AccelChoice::Auto, Some("tsc"), "no such counter"),
        ] {
            let e = ok(b, a, c).unwrap_err();
            assert!(e.contains(says) && !e.contains('\n'), "{e}");
        }
        let e = check(pc, AccelChoice::Icount, true, None, Some(30_000), None).unwrap_err().to_string();
        assert!(e.contains("30000 x --runs 5"), "{e}");
        assert!(check(pc, AccelChoice::Icount, true, None, None, None).is_ok());
        let e = check(pc, AccelChoice::Icount, false, Some("tsc"), None, None).unwrap_err().to_string();
        assert!(e.contains("add --latency"), "{e}");
        assert_eq!(check(pc, AccelChoice::Tcg, false, None, None, None).unwrap(), None);
    }
}
