// SPDX-License-Identifier: MIT OR Apache-2.0
//! `cargo xtask compare OLD.json NEW.json [--threshold PCT] [--force]`:
//! two runs' `results.json`, figure by figure.
//!
//! One row per verified record of NEW, keyed by bench, core, message words
//! and counter: old, new, delta and percent. A figure *regresses* when it
//! grew by more than the threshold (every figure is a cost: more is worse).
//! The exit status is 1 when any figure regressed, else 0.
//!
//! **Threshold.** Under QEMU icount (both files `tcg-icount`) the figures
//! are exact instruction counts and the default threshold is 0 %: any
//! growth is a regression, and every change is listed. Elsewhere (KVM,
//! hardware) the default is [`DEFAULT_THRESHOLD_PCT`] %, above run-to-run
//! noise; changes within it are listed as such.
//!
//! Files of different boards, accelerators or counters measure different
//! things: they are refused with a one-line reason unless `--force`. Shared-
//! clock records (several cores under icount) are compared too, but marked.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Default threshold off icount, in percent.
pub const DEFAULT_THRESHOLD_PCT: f64 = 5.0;

/// What a record is keyed by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    /// Benchmark.
    pub bench: String,
    /// Core.
    pub core: u64,
    /// Message words (the sweep), if any.
    pub words: Option<u64>,
    /// Counter (after relabelling).
    pub counter: String,
}

/// One run's results, as far as the comparison needs them.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Board.
    pub board: String,
    /// Accelerator (`kvm`, `tcg`, `tcg-icount`, `hardware`).
    pub accel: String,
    /// Rounds per run (the loop's fixed cost is spread over them).
    pub rounds: Option<u64>,
    /// Verified figures (median per operation).
    pub figures: BTreeMap<Key, f64>,
}

fn field<'a>(v: &'a Value, key: &str, what: &str) -> Result<&'a Value> {
    v.get(key).with_context(|| format!("{what}: no `{key}`"))
}

/// Reads a `results.json`.
pub fn read_run(path: &Path) -> Result<Run> {
    let text = fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_run(&text).with_context(|| format!("{} is not a results.json of cargo xtask bench", path.display()))
}

/// Parses the text of a `results.json`.
pub fn parse_run(text: &str) -> Result<Run> {
    let v: Value = serde_json::from_str(text).context("not JSON")?;
    let s = |key: &str| -> Result<String> {
        field(&v, key, "the file")?
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("`{key}` is not a string"))
    };
    let (board, accel) = (s("board")?, s("accel")?);
    let results = field(&v, "results", "the file")?.as_array().context("`results` is not a list")?;
    let mut figures = BTreeMap::new();
    for (i, r) in results.iter().enumerate() {
        let what = format!("result {i}");
        if !field(r, "verified", &what)?.as_bool().unwrap_or(false) {
            continue;
        }
        let text = |k: &str| -> Result<String> {
            field(r, k, &what)?.as_str().map(str::to_string).with_context(|| format!("{what}: `{k}` is not a string"))
        };
        let key = Key {
            bench: text("bench")?,
            core: field(r, "core", &what)?.as_u64().with_context(|| format!("{what}: `core` is not a number"))?,
            words: r.get("words").and_then(Value::as_u64),
            counter: text("counter")?,
        };
        let per_op = field(r, "per_op", &what)?.as_f64().with_context(|| format!("{what}: `per_op` is not a number"))?;
        figures.insert(key, per_op);
    }
    let rounds = v.get("rounds").and_then(Value::as_u64);
    Ok(Run { board, accel, rounds, figures })
}

/// The outcome of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The table, ready to print.
    pub table: String,
    /// Figures that grew past the threshold.
    pub regressions: usize,
    /// Figures that changed at all.
    pub changed: usize,
    /// The threshold used, in percent.
    pub threshold: f64,
}

/// Compares `old` with `new`. `threshold`: percent, `None` for the default
/// ([module docs](self)). Refuses unlike runs unless `force`.
pub fn compare(old: &Run, new: &Run, threshold: Option<f64>, force: bool) -> Result<Comparison> {
    if let Some(t) = threshold
        && !(t >= 0.0 && t.is_finite())
    {
        bail!("--threshold {t}: give a percentage of 0 or more");
    }
    if !force {
        if old.board != new.board {
            bail!("the files are of different boards ({} and {}); --force compares them anyway", old.board, new.board);
        }
        if old.accel != new.accel {
            bail!(
                "the files are of different accelerators ({} and {}): their figures count different things; --force compares them anyway",
                old.accel,
                new.accel
            );
        }
        if old.rounds != new.rounds {
            bail!(
                "the files were measured with different rounds per run ({} and {}): the loop's fixed cost is spread differently; --force compares them anyway",
                old.rounds.map_or("?".into(), |r| r.to_string()),
                new.rounds.map_or("?".into(), |r| r.to_string())
            );
        }
        let counters = |r: &Run| r.figures.keys().map(|k| k.counter.clone()).collect::<std::collections::BTreeSet<_>>();
        if counters(old) != counters(new) {
            bail!(
                "the files have different counters ({:?} and {:?}); --force compares them anyway",
                counters(old),
                counters(new)
            );
        }
        let benches = |r: &Run| r.figures.keys().map(|k| k.bench.clone()).collect::<std::collections::BTreeSet<_>>();
        if benches(old) != benches(new) {
            bail!(
                "the files' benches do not match ({:?} and {:?}); --force compares the common ones",
                benches(old),
                benches(new)
            );
        }
    }
    let exact = old.accel == "tcg-icount" && new.accel == "tcg-icount";
    let threshold = threshold.unwrap_or(if exact { 0.0 } else { DEFAULT_THRESHOLD_PCT });
    let mut table = String::new();
    let _ = writeln!(
        table,
        "{:<20} {:>4} {:>5} {:<26} {:>12} {:>12} {:>10} {:>8}",
        "bench", "core", "words", "counter", "old", "new", "delta", "%"
    );
    let (mut regressions, mut changed) = (0, 0);
    for (k, &n) in &new.figures {
        let Some(&o) = old.figures.get(k) else { continue };
        let delta = n - o;
        let pct = if o == 0.0 { 0.0 } else { delta / o * 100.0 };
        let verdict = if delta != 0.0 {
            changed += 1;
            if pct > threshold {
                regressions += 1;
                "  REGRESSED"
            } else if delta > 0.0 {
                "  within threshold"
            } else {
                "  better"
            }
        } else {
            ""
        };
        let _ = writeln!(
            table,
            "{:<20} {:>4} {:>5} {:<26} {o:>12.2} {n:>12.2} {delta:>+10.2} {pct:>+7.2}%{verdict}",
            k.bench,
            k.core,
            k.words.map(|w| w.to_string()).unwrap_or_else(|| "-".into()),
            k.counter
        );
    }
    Ok(Comparison { table, regressions, changed, threshold })
}

/// `cargo xtask compare`: prints the table; `Ok(true)` when nothing
/// regressed.
pub fn cmd_compare(old: &Path, new: &Path, threshold: Option<f64>, force: bool) -> Result<bool> {
    if let Some(t) = threshold
        && !(t >= 0.0 && t.is_finite())
    {
        bail!("--threshold {t}: give a percentage of 0 or more");
    }
    let (o, n) = (read_run(old)?, read_run(new)?);
    let c = compare(&o, &n, threshold, force)?;
    print!("{}", c.table);
    println!(
        "{} figure{} compared, {} changed, {} regressed past {}% ({} vs {}, {})",
        n.figures.keys().filter(|k| o.figures.contains_key(*k)).count(),
        if n.figures.len() == 1 { "" } else { "s" },
        c.changed,
        c.regressions,
        c.threshold,
        old.display(),
        new.display(),
        n.accel
    );
    Ok(c.regressions == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(accel: &str, figs: &[(&str, u64, &str, f64)]) -> String {
        let results: Vec<String> = figs
            .iter()
            .map(|(b, core, c, v)| {
                format!(r#"{{"bench":"{b}","core":{core},"counter":"{c}","per_op":{v},"verified":true}}"#)
            })
            .collect();
        format!(r#"{{"board":"pc-x86_64","accel":"{accel}","rounds":2000,"results":[{}]}}"#, results.join(","))
    }

    #[test]
    fn icount_flags_any_growth() {
        let old = parse_run(&run("tcg-icount", &[("ipc-intra", 0, "instructions", 85.5), ("null", 0, "instructions", 13.0)])).unwrap();
        let same = compare(&old, &old, None, false).unwrap();
        assert_eq!((same.regressions, same.changed, same.threshold), (0, 0, 0.0));
        let new = parse_run(&run("tcg-icount", &[("ipc-intra", 0, "instructions", 86.0), ("null", 0, "instructions", 12.0)])).unwrap();
        let c = compare(&old, &new, None, false).unwrap();
        assert_eq!((c.regressions, c.changed), (1, 2));
        assert!(c.table.contains("REGRESSED") && c.table.contains("better"), "{}", c.table);
        assert_eq!(compare(&old, &new, Some(1.0), false).unwrap().regressions, 0);
    }

    #[test]
    fn unlike_runs_are_refused_unless_forced() {
        let a = parse_run(&run("tcg-icount", &[("ipc-intra", 0, "instructions", 85.5)])).unwrap();
        let k = parse_run(&run("kvm", &[("ipc-intra", 0, "instructions", 300.0)])).unwrap();
        assert!(compare(&a, &k, None, false).unwrap_err().to_string().contains("different accelerators"));
        assert_eq!(compare(&a, &k, None, true).unwrap().threshold, DEFAULT_THRESHOLD_PCT);
        let other = parse_run(&run("tcg-icount", &[("syscall", 0, "instructions", 13.0)])).unwrap();
        assert!(compare(&a, &other, None, false).unwrap_err().to_string().contains("benches do not match"));
        let cyc = parse_run(&run("tcg-icount", &[("ipc-intra", 0, "core-cycles", 85.5)])).unwrap();
        assert!(compare(&a, &cyc, None, false).unwrap_err().to_string().contains("different counters"));
        assert!(compare(&a, &a, Some(-1.0), false).unwrap_err().to_string().contains("--threshold -1"));
        let mut longer = a.clone();
        longer.rounds = Some(20000);
        assert!(compare(&a, &longer, None, false).unwrap_err().to_string().contains("different rounds"));
    }

    #[test]
    fn garbled_files_are_named() {
        assert!(parse_run("{").is_err());
        assert!(parse_run(r#"{"board":"x","accel":"kvm"}"#).unwrap_err().to_string().contains("no `results`"));
        let e = read_run(Path::new("/no/such/results.json")).unwrap_err();
        assert!(e.to_string().contains("cannot read /no/such/results.json"), "{e}");
        // Unverified records are not compared.
        let r = parse_run(r#"{"board":"b","accel":"kvm","results":[{"bench":"x","core":0,"counter":"c","per_op":1,"verified":false}]}"#).unwrap();
        assert!(r.figures.is_empty());
    }
}
