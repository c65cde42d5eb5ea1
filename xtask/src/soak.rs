// SPDX-License-Identifier: MIT OR Apache-2.0
//! `cargo xtask soak`: IPC on every core at once, every message verified,
//! for a given number of one-way IPCs (issue 13 item 6).
//!
//! The kernel gets `soak=1` (docs/protocol.md) with the rounds that make
//! at least `--ipcs` one-way IPCs in all: after the usual scenarios and
//! benchmarks (short runs: their figures are not the point), every core
//! runs `soak-intra` and `soak-inter` with 0, 4, 8 and 63-word messages
//! at once, and CPUs 0 and 1 run `soak-cross` with 0 and 4 words
//! (`runtime/src/bench/soak.rs`). Each message is checked in the guest.
//! The kernel ends with `IPCB soak ipcs=N cores=C passes=P corrupted=K
//! failed=F`; this command's last line is then
//! `soak: N one-way IPCs on C cores (...), every message verified, corrupted 0`
//! with exit 0, or one `error:` line, exit 1.

use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::accel::AccelChoice;
use crate::board::{self, Board};
use crate::boot::{BootOutcome, Subject};
use crate::util::{Workspace, one_line};
use crate::bench;

/// One-way IPCs when `--ipcs` is not given.
pub const DEFAULT_IPCS: u64 = 1_000_000;
/// Message sizes of the same-CPU passes (`soak.rs`'s `WORDS`).
pub const WORDS: [u64; 4] = [0, 4, 8, 63];
/// Runs of each pass: one warm-up, one measured (each checked alike).
const RUNS: (u64, u64) = (1, 1);

/// Options of `cargo xtask soak`.
#[derive(Debug, Clone, PartialEq)]
pub struct SoakOpts {
    /// Board.
    pub board: String,
    /// `--ipcs`, as given.
    pub ipcs: Option<String>,
    /// Accelerator (default TCG).
    pub accel: AccelChoice,
    /// Seconds before the guest counts as hung (default: from the count).
    pub timeout: Option<u64>,
    /// Echo the console.
    pub verbose: bool,
    /// `--kpti`: kernel isolation on (x86_64).
    pub kpti: bool,
}

/// `--ipcs`: a whole number of at least 1.
pub fn parse_ipcs(s: &str) -> Result<u64> {
    match s.trim().replace('_', "").parse::<u64>() {
        Ok(0) => bail!("--ipcs 0: soak at least one IPC"),
        Ok(n) => Ok(n),
        Err(_) => bail!("--ipcs {s}: not a whole number"),
    }
}

/// Passes on `cores` CPUs: intra and inter at each size on every core,
/// and the two cross-core passes with two CPUs or more.
pub fn passes(cores: u32) -> u64 {
    2 * WORDS.len() as u64 * u64::from(cores) + if cores >= 2 { 2 } else { 0 }
}

/// Rounds per run so that the passes make at least `ipcs` one-way IPCs
/// (a round is two, each pass runs warm-up + measured runs).
pub fn rounds_for(ipcs: u64, cores: u32) -> u64 {
    let per_round = 2 * (RUNS.0 + RUNS.1) * passes(cores);
    ipcs.div_ceil(per_round).max(1)
}

/// The kernel command line.
pub fn cmdline(rounds: u64) -> String {
    format!("soak=1 rounds={rounds} warmup={} runs={} sweep=0", RUNS.0, RUNS.1)
}

/// The CPUs a boot of `b` has.
fn cores_of(b: &Board) -> u32 {
    match (b.fixed_cpus, b.smp) {
        (0, 0) => 1,
        (0, n) => n,
        (n, _) => n,
    }
}

/// The last line of a passing run.
pub fn final_line(ipcs: u64, cores: u32) -> String {
    format!(
        "soak: {ipcs} one-way IPCs on {cores} cores (intra and inter at 0, 4, 8, 63 words on every core{}), every message verified, corrupted 0",
        if cores >= 2 { "; cross-core 0 <-> 1 at 0 and 4" } else { "" }
    )
}

/// Why a soak boot failed, in one line; or its IPC count.
pub fn verdict(o: &BootOutcome, expected: &[&str], ipcs: u64, cores: u32) -> std::result::Result<u64, String> {
    let t = &o.transcript;
    if let Some(z) = &t.soak
        && (z.corrupted != 0 || z.failed != 0)
    {
        let first = t.failures.iter().find(|f| f.bench.starts_with("soak-"));
        let why = first.map(|f| format!(": {}", one_line(&f.reason))).unwrap_or_default();
        return Err(format!("{} corrupted and {} failed of {} passes{why}", z.corrupted, z.failed, z.passes));
    }
    if let Some(p) = o.problems(expected).first() {
        let what = match &p.subject {
            Subject::Run => String::new(),
            Subject::Bench(b) => format!("benchmark {b}: "),
            Subject::Test(t) => format!("test {t}: "),
        };
        return Err(format!("{what}{}", one_line(&p.reason)));
    }
    let Some(z) = &t.soak else {
        return Err("the kernel printed no \"IPCB soak\" line: did it get soak=1 on its command line?".to_string());
    };
    if z.cores != cores {
        return Err(format!("the soak ran on {} cores, {cores} asked for", z.cores));
    }
    if z.ipcs < ipcs {
        return Err(format!("the soak made {} one-way IPCs, {ipcs} asked for", z.ipcs));
    }
    Ok(z.ipcs)
}

/// `cargo xtask soak`.
pub fn cmd_soak(ws: &Workspace, opts: &SoakOpts) -> Result<ExitCode> {
    let ipcs = match &opts.ipcs {
        Some(c) => parse_ipcs(c)?,
        None => DEFAULT_IPCS,
    };
    let board = board::find(&opts.board)?;
    let kpti = bench::kpti_word(board, opts.kpti)?;
    if !board.emulated {
        bail!("board {} is not emulated: the soak boots it in QEMU (boards: {})", board.name, board::emulated_names());
    }
    let cores = cores_of(board);
    let rounds = rounds_for(ipcs, cores);
    let mut cmdline = cmdline(rounds);
    bench::push_word(&mut cmdline, kpti);
    println!("soak: {ipcs} one-way IPCs on {cores} cores of {} ({} passes of {rounds} rounds x {} runs)", board.name, passes(cores), RUNS.0 + RUNS.1);
    // About a million one-way IPCs a minute per core under TCG on a slow
    // host, and the benchmarks.
    let timeout = opts.timeout.unwrap_or(300 + ipcs / 10_000);
    let o = bench::long_run_boot(ws, board, opts.accel, &cmdline, timeout, "soak", opts.verbose)?;
    match verdict(&o, board.expected_benches, ipcs, cores) {
        Ok(n) => {
            println!("{}", final_line(n, cores));
            Ok(ExitCode::SUCCESS)
        }
        Err(why) => {
            eprintln!("error: soak on {}: {why} (console: {})", board.name, o.console.display());
            Ok(ExitCode::FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_rounds_and_lines() {
        assert_eq!(parse_ipcs("1_000_000").unwrap(), 1_000_000);
        assert!(parse_ipcs("0").unwrap_err().to_string().starts_with("--ipcs 0"));
        assert!(parse_ipcs("lots").unwrap_err().to_string().contains("not a whole number"));
        // 4 cores: 8 passes each and 2 cross-core: 34 passes of 4 IPCs a round.
        assert_eq!(passes(4), 34);
        assert_eq!(passes(1), 8);
        assert_eq!(rounds_for(1_000_000, 4), 7353);
        assert!(2 * 2 * passes(4) * rounds_for(1_000_000, 4) >= 1_000_000);
        assert_eq!(rounds_for(1, 1), 1);
        assert_eq!(cmdline(7), "soak=1 rounds=7 warmup=1 runs=1 sweep=0");
    }

    #[test]
    fn the_verdict_needs_the_soak_line_and_no_corruption() {
        let line = "IPCB soak ipcs=408000 cores=4 passes=34 corrupted=0 failed=0\n";
        let pass = format!("{line}{}", crate::protocol::tests::PASS);
        let o = crate::boot::tests::outcome(&pass, Some(33));
        assert_eq!(verdict(&o, &[], 400_000, 4), Ok(408_000));
        assert!(verdict(&o, &[], 500_000, 4).unwrap_err().contains("500000 asked for"));
        assert!(verdict(&o, &[], 1, 2).unwrap_err().contains("on 4 cores, 2 asked for"));
        let o = crate::boot::tests::outcome(crate::protocol::tests::PASS, Some(33));
        assert!(verdict(&o, &[], 1, 1).unwrap_err().contains("no \"IPCB soak\" line"));
        let bad = "IPCB fail bench=soak-inter words=63 core=2 reason=\"word 40 got 0x0 expected 0x1\"\nIPCB soak ipcs=4 cores=4 passes=34 corrupted=1 failed=0\nIPCB end status=fail\n";
        let o = crate::boot::tests::outcome(bad, Some(35));
        let e = verdict(&o, &[], 1, 4).unwrap_err();
        assert!(e.starts_with("1 corrupted and 0 failed of 34 passes: word 40"), "{e}");
    }
}
