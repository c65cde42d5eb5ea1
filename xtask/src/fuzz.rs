// SPDX-License-Identifier: MIT OR Apache-2.0
//! `cargo xtask fuzz`: seeded syscall fuzzing in the guest, then the
//! benchmarks, in one boot.
//!
//! The kernel gets `fuzz=N seed=S` (docs/protocol.md): user tasks make `N`
//! random syscalls, each return checked in the guest (`benches::fuzz`,
//! `runtime/src/bench/fuzz.rs`), and then the normal correctness scenarios
//! and benchmarks run and verify. This command prints the seed first (and
//! how to replay it) and, when everything passed, exactly
//! `fuzz: N syscalls, K task kills, 0 kernel faults, benchmarks verified`
//! as its last line, exit 0; otherwise one `error:` line naming the
//! reason, exit 1.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail};

use crate::accel::AccelChoice;
use crate::board;
use crate::boot::{BootOutcome, Subject};
use crate::util::{Workspace, one_line};
use crate::bench;

/// The benchmark part of the fuzzing boot's command line: short runs (the
/// figures under TCG are not the point; that they verify is).
pub const BENCH_CMDLINE: &str = "rounds=1000 runs=2";

/// Syscalls when `--count` is not given.
pub const DEFAULT_COUNT: u64 = 100_000;

/// Options of `cargo xtask fuzz`.
#[derive(Debug, Clone, PartialEq)]
pub struct FuzzOpts {
    /// Board.
    pub board: String,
    /// `--count`, as given.
    pub count: Option<String>,
    /// `--seed`, as given.
    pub seed: Option<String>,
    /// Accelerator (default TCG).
    pub accel: AccelChoice,
    /// Seconds before the guest counts as hung (default: from the count).
    pub timeout: Option<u64>,
    /// Echo the console.
    pub verbose: bool,
    /// `--el`, for the replay line.
    pub el: Option<u8>,
    /// `--smp`, for the replay line.
    pub smp: Option<u32>,
    /// `--kpti`: kernel isolation on (x86_64).
    pub kpti: bool,
}

/// `--count`: a whole number of at least 1.
pub fn parse_count(s: &str) -> Result<u64> {
    match s.trim().replace('_', "").parse::<u64>() {
        Ok(0) => bail!("--count 0: fuzz at least one syscall"),
        Ok(n) => Ok(n),
        Err(_) => bail!("--count {s}: not a whole number"),
    }
}

/// `--seed`: decimal or `0x` hex, 64 bits.
pub fn parse_seed(s: &str) -> Result<u64> {
    let t = s.trim();
    let v = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => t.parse::<u64>(),
    };
    v.map_err(|_| anyhow::anyhow!("--seed {s}: not a 64-bit number (decimal, or hex with 0x)"))
}

/// A seed from the clock and the process id, when none is given.
fn fresh_seed() -> u64 {
    let t = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    let mut z = t ^ u64::from(std::process::id()).rotate_left(32);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The kernel command line.
pub fn cmdline(count: u64, seed: u64) -> String {
    format!("fuzz={count} seed={seed:#x} {BENCH_CMDLINE}")
}

/// The last line of a passing run.
pub fn final_line(syscalls: u64, kills: u64) -> String {
    format!("fuzz: {syscalls} syscalls, {kills} task kills, 0 kernel faults, benchmarks verified")
}

/// Why a fuzzing boot failed, in one line (`None`: it passed, and then
/// the fuzz line's kills).
pub fn verdict(o: &BootOutcome, expected: &[&str], count: u64) -> std::result::Result<u64, String> {
    let problems = o.problems(expected);
    if let Some(p) = problems.iter().find(|p| matches!(&p.subject, Subject::Test(t) if t == "fuzz")) {
        return Err(format!("fuzzing failed: {}", one_line(&p.reason)));
    }
    if let Some(p) = problems.first() {
        let what = match &p.subject {
            Subject::Run => String::new(),
            Subject::Bench(b) => format!("benchmark {b}: "),
            Subject::Test(t) => format!("test {t}: "),
        };
        return Err(format!("{what}{}", one_line(&p.reason)));
    }
    let Some(z) = &o.transcript.fuzz else {
        return Err("the kernel printed no \"IPCB fuzz\" line: did it get fuzz= on its command line?".to_string());
    };
    if z.syscalls != count || z.kernel_faults != 0 {
        return Err(format!("the kernel fuzzed {} syscalls with {} kernel faults, asked for {count}", z.syscalls, z.kernel_faults));
    }
    if !o.transcript.tests.iter().any(|t| t == "fuzz") {
        return Err("no \"IPCB ok test=fuzz\" line".to_string());
    }
    Ok(z.kills)
}

/// `cargo xtask fuzz`.
pub fn cmd_fuzz(ws: &Workspace, opts: &FuzzOpts) -> Result<ExitCode> {
    let count = match &opts.count {
        Some(c) => parse_count(c)?,
        None => DEFAULT_COUNT,
    };
    let seed = match &opts.seed {
        Some(s) => parse_seed(s)?,
        None => fresh_seed(),
    };
    let board = board::find(&opts.board)?;
    let kpti = bench::kpti_word(board, opts.kpti)?;
    if !board.emulated {
        bail!("board {} is not emulated: fuzzing boots it in QEMU (boards: {})", board.name, board::emulated_names());
    }
    let el = opts.el.map(|e| format!(" --el {e}")).unwrap_or_default()
        + &opts.smp.map(|n| format!(" --smp {n}")).unwrap_or_default()
        + if opts.kpti { " --kpti" } else { "" };
    println!("fuzz: seed {seed:#x} (replay: cargo xtask fuzz --board {}{el} --count {count} --seed {seed:#x})", board.name);
    let mut cmdline = cmdline(count, seed);
    bench::push_word(&mut cmdline, kpti);
    // About 50 000 syscalls a second under TCG, and the benchmarks.
    let timeout = opts.timeout.unwrap_or(300 + count / 5_000);
    let o = bench::long_run_boot(ws, board, opts.accel, &cmdline, timeout, "fuzz", opts.verbose)?;
    match verdict(&o, board.expected_benches, count) {
        Ok(kills) => {
            println!("{}", final_line(count, kills));
            Ok(ExitCode::SUCCESS)
        }
        Err(why) => {
            eprintln!("error: seed {seed:#x}: {why} (console: {})", o.console.display());
            Ok(ExitCode::FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_seeds_parse() {
        assert_eq!(parse_count("100000").unwrap(), 100_000);
        assert_eq!(parse_count("1_000_000").unwrap(), 1_000_000);
        assert!(parse_count("0").unwrap_err().to_string().starts_with("--count 0"));
        assert!(parse_count("-5").is_err() && parse_count("many").is_err());
        assert_eq!(parse_seed("42").unwrap(), 42);
        assert_eq!(parse_seed("0x2A").unwrap(), 42);
        assert_eq!(parse_seed("0xffffffffffffffff").unwrap(), u64::MAX);
        assert!(parse_seed("0x1ffffffffffffffff").is_err());
        assert!(parse_seed("zz").unwrap_err().to_string().contains("not a 64-bit number"));
        assert_eq!(cmdline(5, 42), "fuzz=5 seed=0x2a rounds=1000 runs=2");
        assert_eq!(final_line(100, 3), "fuzz: 100 syscalls, 3 task kills, 0 kernel faults, benchmarks verified");
    }

    #[test]
    fn the_verdict_needs_the_fuzz_line_and_a_pass() {
        let pass = format!(
            "IPCB fuzz syscalls=100 kills=3 episodes=2 seed=0x2a kernel_faults=0\nIPCB ok test=fuzz\n{}",
            crate::protocol::tests::PASS
        );
        let o = crate::boot::tests::outcome(&pass, Some(33));
        assert_eq!(verdict(&o, &[], 100), Ok(3));
        assert!(verdict(&o, &[], 200).unwrap_err().contains("asked for 200"));
        let o = crate::boot::tests::outcome(crate::protocol::tests::PASS, Some(33));
        assert!(verdict(&o, &[], 100).unwrap_err().contains("no \"IPCB fuzz\" line"));
        let fail = "IPCB fail test=fuzz reason=\"episode 3 (seed 0x2a): thread 6 (fuzz): check 0x300\"\nIPCB end status=fail\n";
        let o = crate::boot::tests::outcome(fail, Some(35));
        assert!(verdict(&o, &[], 100).unwrap_err().starts_with("fuzzing failed: episode 3"));
    }
}
