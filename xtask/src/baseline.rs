// SPDX-License-Identifier: MIT OR Apache-2.0
//! The committed icount baselines: `xtask/baselines/<name>.json`, each a
//! `results.json` of one suite boot under QEMU icount (exact instruction
//! counts). `cargo xtask test` compares its own boot with it
//! ([`crate::compare`], threshold 0 %): a figure that grew fails the
//! step; one that shrank passes, with a note to update the baseline.
//!
//! A baseline is updated on purpose: `IPCB_UPDATE_BASELINE=1 cargo xtask
//! test` writes the suite's boots as the new baselines, to be committed
//! with a CHANGELOG line that gives the new figures.
//!
//! Instruction counts depend on the guest code and on what the emulated CPU
//! offers (`-cpu max` differs between QEMU versions: PCID, SMAP, ...), so a
//! baseline is only compared under the QEMU version (major.minor) that made
//! it; under another, the step says so and passes.

use std::path::{Path, PathBuf};

use crate::compare::{compare, parse_run};
use crate::report::Report;
use crate::util::Workspace;

/// Set to write the baselines instead of checking them.
pub const UPDATE_ENV: &str = "IPCB_UPDATE_BASELINE";

/// `xtask/baselines/<name>.json`.
pub fn path(ws: &Workspace, name: &str) -> PathBuf {
    ws.root.join("xtask").join("baselines").join(format!("{name}.json"))
}

/// Whether `bench` runs on one core (the others parked, adding nothing to
/// the icount clock).
pub fn single_core(bench: &str) -> bool {
    !bench.ends_with("-parallel") && bench != crate::report::CROSS_CORE_BENCH
}

/// `7.2` from `QEMU emulator version 7.2.22 (Debian ...)`.
fn qemu_minor(v: Option<&str>) -> Option<(u32, u32)> {
    v.and_then(crate::prereq::parse_qemu_version)
}

/// Checks `report` against the baseline at `file` (or writes it, with
/// [`UPDATE_ENV`] set). `Ok` carries a note for the log.
pub fn check(file: &Path, report: &Report) -> Result<String, String> {
    let json = report.to_json();
    if std::env::var_os(UPDATE_ENV).is_some() {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        std::fs::write(file, &json).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        return Ok(format!("baseline written: {} (commit it with a CHANGELOG line)", file.display()));
    }
    let text = std::fs::read_to_string(file).map_err(|_| {
        format!(
            "no committed baseline {}: make it with {UPDATE_ENV}=1 cargo xtask test, and commit it",
            file.display()
        )
    })?;
    let old_qemu: Option<String> = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("qemu").and_then(|q| q.as_str()).map(str::to_string));
    let (then, now) = (qemu_minor(old_qemu.as_deref()), qemu_minor(report.qemu.as_deref()));
    if then != now {
        return Ok(format!(
            "not compared: the baseline {} is from QEMU {}, this run from QEMU {} (instruction counts follow the emulated CPU's features)",
            file.display(),
            then.map_or("?".into(), |(a, b)| format!("{a}.{b}")),
            now.map_or("?".into(), |(a, b)| format!("{a}.{b}"))
        ));
    }
    let mut old = parse_run(&text).map_err(|e| format!("{}: {e:#}", file.display()))?;
    let mut new = parse_run(&json).map_err(|e| format!("this run's results: {e:#}"))?;
    // The single-core figures only: the multi-core ones are measured on the
    // clock all cores share under icount, and the suite's -smp follows the
    // host's CPU count.
    for r in [&mut old, &mut new] {
        r.figures.retain(|k, _| single_core(&k.bench));
    }
    let c = compare(&old, &new, None, false).map_err(|e| format!("{e:#} (baseline {})", file.display()))?;
    if c.regressions > 0 {
        let rows: Vec<&str> = c.table.lines().filter(|l| l.contains("REGRESSED")).take(3).collect();
        return Err(format!(
            "{} figure(s) grew past the baseline {} (first: {}); if that is meant, update it with {UPDATE_ENV}=1 and say so in CHANGELOG.md",
            c.regressions,
            file.display(),
            rows.iter().map(|r| r.split_whitespace().collect::<Vec<_>>().join(" ")).collect::<Vec<_>>().join("; ")
        ));
    }
    Ok(if c.changed > 0 {
        format!("{} figure(s) better than the baseline {}: update it ({UPDATE_ENV}=1)", c.changed, file.display())
    } else {
        format!("every figure equals the baseline {}", file.display())
    })
}
