// SPDX-License-Identifier: MIT OR Apache-2.0
//! The results table, in the layout of L4Re's IPC performance table.
//!
//! One row per counter, one column per benchmark (`ipc-intra`, `ipc-inter`,
//! `syscall`, then any others in the order the kernel reported them). A cell
//! is the median per operation with two decimals; a second block gives
//! `min..max` when any run differed. Benchmarks that ran on several cores get
//! a block per benchmark with one row per core. The message-size sweep
//! (`ipc-sweep`) gets no column: a block after the table has one row per
//! message size and one column per counter. Footnotes say what the unit and
//! each counter are; failures are listed below the table.

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::board::Accel;
use crate::protocol::{REGISTER_WORDS, SWEEP_BENCH};
use crate::report::{Label, Record, Report, counter_rank, relabel};

/// Counters of L4Re's x86 figures "a/b/c", in the order we print them.
pub const L4RE_TRIPLE: [&str; 3] = ["ref-cycles", "core-cycles", "instructions"];

/// Column heading of a benchmark.
fn heading(bench: &str) -> String {
    match bench {
        "ipc-intra" => "Intra (IPC)".to_string(),
        "ipc-inter" => "Inter (IPC)".to_string(),
        "syscall" => "Syscall".to_string(),
        "null" => "Null".to_string(),
        "floor" => "Floor".to_string(),
        other => other.to_string(),
    }
}

/// Known benchmarks first, in L4Re's column order, then our own rows.
fn bench_rank(bench: &str) -> usize {
    ["ipc-intra", "ipc-inter", "syscall", "null", "floor"]
        .iter()
        .position(|b| *b == bench)
        .unwrap_or(usize::MAX)
}

/// Whether a failed name gets a column: benchmarks do, except the sweep
/// (which has its own block); correctness tests and boot checks (which the
/// kernel also reports as `IPCB fail bench=<name>`) are only listed under the
/// table.
fn is_bench_name(name: &str) -> bool {
    (name.starts_with("ipc-") || name.starts_with("syscall") || name == "null" || name == "floor")
        && name != SWEEP_BENCH
}

/// How a message of `words` words travels: in registers or through the UTCB.
pub fn message_path(words: u64) -> &'static str {
    if words <= REGISTER_WORDS {
        "registers"
    } else {
        "UTCB"
    }
}

/// `0, 1, 2, 4`
fn word_list(words: &[u64]) -> String {
    let list: Vec<String> = words.iter().map(u64::to_string).collect();
    list.join(", ")
}

/// The message-size sweep block: one row per message size, a column saying
/// how the message travels, one column per counter (with a single counter:
/// its median, then `min..max` when runs differed), then a note on
/// registers versus UTCB. Empty when the kernel reported no sweep sizes.
fn sweep_block(r: &Report) -> String {
    let accel = r.accel_kind;
    let recs: Vec<&Record> = r
        .results
        .iter()
        .filter(|x| x.bench == SWEEP_BENCH && x.words.is_some())
        .collect();
    let sweep_failures: Vec<Option<u64>> = r
        .failures
        .iter()
        .filter(|f| f.bench.as_deref() == Some(SWEEP_BENCH))
        .map(|f| f.words)
        .collect();
    let sizes: BTreeSet<u64> = recs
        .iter()
        .filter_map(|x| x.words)
        .chain(sweep_failures.iter().flatten().copied())
        .collect();
    if sizes.is_empty() {
        return String::new();
    }
    // A failure without a size fails every size that has no figure.
    let failed = |w: u64| sweep_failures.iter().any(|f| f.is_none_or(|fw| fw == w));

    // Columns: counters, instructions first.
    let mut cols: Vec<(usize, String)> = Vec::new();
    let mut add = |l: Label| {
        if !cols.iter().any(|(_, c)| *c == l.row) {
            cols.push((counter_rank(&l.counter), l.row));
        }
    };
    for rec in &recs {
        add(relabel(&rec.kernel_counter, accel));
    }
    if recs.is_empty() {
        for c in r.counters.iter().filter(|c| c.state == "present") {
            add(relabel(&c.name, accel));
        }
    }
    cols.sort_by_key(|(rank, _)| *rank);
    let find = |w: u64, col: &str| {
        recs.iter()
            .copied()
            .find(|x| x.words == Some(w) && relabel(&x.kernel_counter, accel).row == col)
    };
    let single = cols.len() == 1;
    let spread = single && recs.iter().any(|x| x.verified && x.min != x.max);

    let mut headers = vec!["via".to_string()];
    if single {
        headers.push("median".to_string());
        if spread {
            headers.push("min..max".to_string());
        }
    } else {
        headers.extend(cols.iter().map(|(_, c)| c.clone()));
    }
    let rows: Rows = sizes
        .iter()
        .map(|&w| {
            let mut cells = vec![message_path(w).to_string()];
            for (_, col) in &cols {
                cells.push(median_cell(find(w, col), failed(w)));
            }
            if spread {
                cells.push(range_cell(find(w, &cols[0].1), failed(w)));
            }
            (w.to_string(), cells)
        })
        .collect();

    let labels: Vec<&str> = cols.iter().map(|(_, c)| c.as_str()).collect();
    let mut out = format!(
        "Message-size sweep (ipc-inter, one-way IPC, {})\n",
        labels.join(", ")
    );
    out.push_str(&grid(["words", "words"], &headers, &rows, &Vec::new()));
    let (regs, utcb): (Vec<u64>, Vec<u64>) = sizes.iter().partition(|&&w| w <= REGISTER_WORDS);
    if !regs.is_empty() {
        let _ = writeln!(
            out,
            "via registers: {} words (a message of up to {REGISTER_WORDS} words travels in registers)",
            word_list(&regs)
        );
    }
    if !utcb.is_empty() {
        let _ = writeln!(
            out,
            "via UTCB: {} words (words 0..{} in registers, the rest in the UTCB)",
            word_list(&utcb),
            REGISTER_WORDS - 1
        );
    }
    out
}

/// The `--latency` block: one row per benchmark whose rounds were timed
/// one by one: rounds, the counter's read overhead (subtracted), min, p50,
/// p90, p99, max per round, and the throughput figure per round beside
/// them. Empty without latency figures.
pub fn latency_block(r: &Report) -> String {
    let mut recs: Vec<&Record> = r.results.iter().filter(|x| x.latency.is_some()).collect();
    if recs.is_empty() {
        return String::new();
    }
    recs.sort_by_key(|x| bench_rank(&x.bench));
    let label = relabel(&recs[0].kernel_counter, r.accel_kind);
    let headers: Vec<String> = ["per", "rounds", "overhead", "min", "p50", "p90", "p99", "max", "throughput"]
        .iter()
        .map(|h| h.to_string())
        .collect();
    let rows: Rows = recs
        .iter()
        .filter_map(|x| {
            let l = x.latency.as_ref()?;
            let cells = vec![
                l.unit.clone(),
                l.samples.to_string(),
                l.counter_overhead.to_string(),
                l.min.to_string(),
                l.p50.to_string(),
                l.p90.to_string(),
                l.p99.to_string(),
                l.max.to_string(),
                format!("{:.2}", x.median * l.ops_per_round as f64),
            ];
            Some((heading(&x.bench), cells))
        })
        .collect();
    let mut out = format!(
        "Latency: each round timed on its own with {} (per round, the counter's read overhead subtracted)\n",
        label.row
    );
    out.push_str(&grid(["bench", "bench"], &headers, &rows, &Vec::new()));
    let o = &recs[0].latency.as_ref().map(|l| l.overhead.clone());
    if let Some(o) = o {
        let _ = writeln!(
            out,
            "overhead: a counter read, the median of {} back-to-back read pairs (min {}, median {}); throughput: the median per operation above x operations per round",
            o.pairs, o.min, o.median
        );
    }
    out
}

/// Is `bench` one of the benchmarks of all cores at once (a row per core)?
fn is_per_core(bench: &str) -> bool {
    bench.ends_with("-parallel") || bench == "ipc-cross-core"
}

/// What each syscall row measures, one line each.
pub const SYSCALL_NOTE: &str = "\
Syscall figures are per system call:
  Syscall: a call the kernel answers itself through a capability (invoke ping on the thread's own capability: lookup, rights check, object dispatch, op decode, reply with a status): the work of L4Re's syscall figure
  Null: the null syscall, answered in the entry's first instructions (no lookup): not comparable with L4Re's syscall
  Floor: the null loop through an entry that returns at once: the kernel's minimal round trip";

/// What a unit means, for the footnotes.
fn unit_note(unit: &str) -> String {
    match unit {
        "one-way-ipc" => "IPC figures are per one-way IPC: a round = call + reply_recv = 2 IPCs, so a round's cost is divided by 2 (L4Re's convention)".to_string(),
        "syscall" => SYSCALL_NOTE.to_string(),
        "round-trip" => "round-trip figures are per call + reply (2 one-way IPCs)".to_string(),
        other => format!("`{other}` figures are per {other}"),
    }
}

/// A table's rows: label and one cell per column.
type Rows = Vec<(String, Vec<String>)>;

/// Lays out `rows` under `headers`: the first column padded to the longest
/// label + 2, the other columns to their widest cell + 4, no trailing
/// spaces. Widths are computed over `rows` and `also` (a sibling block that
/// must line up with this one) and over the `corners` of both.
fn grid(corners: [&str; 2], headers: &[String], rows: &Rows, also: &Rows) -> String {
    let all = || rows.iter().chain(also.iter());
    let first = all()
        .map(|(l, _)| l.chars().count())
        .chain(corners.iter().map(|c| c.chars().count()))
        .max()
        .unwrap_or(0)
        + 2;
    let widths: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            all()
                .map(|(_, cells)| cells[i].chars().count())
                .chain([h.chars().count()])
                .max()
                .unwrap_or(0)
                + 4
        })
        .collect();
    let mut out = String::new();
    let mut line = |label: &str, cells: &[String]| {
        let mut s = format!("{label:<first$}");
        for (c, w) in cells.iter().zip(&widths) {
            let _ = write!(s, "{c:<w$}");
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(corners[0], headers);
    for (label, cells) in rows {
        line(label, cells);
    }
    out
}

fn median_cell(rec: Option<&Record>, failed: bool) -> String {
    match rec {
        Some(r) if r.verified => format!("{:.2}", r.median),
        Some(_) => "FAILED".to_string(),
        None if failed => "FAILED".to_string(),
        None => "-".to_string(),
    }
}

fn range_cell(rec: Option<&Record>, failed: bool) -> String {
    match rec {
        Some(r) if r.verified && r.min == r.max => format!("{:.2}", r.min),
        Some(r) if r.verified => format!("{:.2}..{:.2}", r.min, r.max),
        _ => median_cell(rec, failed),
    }
}

/// Renders the whole table with its footnotes.
pub fn render(r: &Report) -> String {
    let accel = r.accel_kind;
    let mut out = String::new();

    // Header.
    let mut head = format!("ipcbench-rs  board={}  arch={}", r.board, r.arch);
    if let Some(el) = r.el {
        let _ = write!(head, "  el={el}");
    }
    let _ = write!(head, "  accel={}", r.accel);
    if let Some(m) = &r.cpu_model {
        let _ = write!(head, "  cpu=\"{m}\"");
    }
    if let Some(c) = r.cores {
        let _ = write!(head, "  cores={c}");
    }
    let num = |v: Option<String>| v.unwrap_or_else(|| "?".to_string());
    let _ = writeln!(out, "{head}");
    let kpti = match r.kpti.as_deref() {
        Some("off") => "  kernel isolation (KPTI): off".to_string(),
        Some(m) => format!("  kernel isolation (KPTI): on{}", if m == "pcid" { ", PCID" } else { ", no PCID" }),
        None => String::new(),
    };
    let _ = writeln!(
        out,
        "rounds={} runs={}{kpti}  figures: median per operation (min..max) over runs",
        num(r.rounds.map(|v| v.to_string())),
        num(r.runs_per_bench.map(|v| v.to_string()))
    );
    out.push('\n');

    // Columns: benchmarks, known ones first, then in order of appearance.
    let mut benches: Vec<&str> = Vec::new();
    let failed_benches: Vec<&str> = r
        .failures
        .iter()
        .filter_map(|f| f.bench.as_deref())
        .collect();
    let failed_columns = failed_benches.iter().copied().filter(|b| is_bench_name(b));
    for b in r
        .results
        .iter()
        .map(|x| x.bench.as_str())
        .filter(|b| *b != SWEEP_BENCH)
        .chain(failed_columns)
    {
        if !benches.contains(&b) {
            benches.push(b);
        }
    }
    benches.sort_by_key(|b| bench_rank(b));
    let cores_of = |b: &str| -> BTreeSet<u32> {
        r.results
            .iter()
            .filter(|x| x.bench == b)
            .map(|x| x.core)
            .collect()
    };
    // Benchmarks of all cores at once get a block with a row per core, even
    // when only one core ran them.
    let (single, multi): (Vec<&str>, Vec<&str>) = benches
        .iter()
        .partition(|b| cores_of(b).len() <= 1 && !is_per_core(b));
    let failed = |b: &str| failed_benches.contains(&b);

    // Rows: counters (relabelled), instructions first.
    let row_of = |rec: &Record| relabel(&rec.kernel_counter, accel);
    let mut rows: Vec<(usize, String, String)> = Vec::new();
    let add_row = |rows: &mut Vec<(usize, String, String)>, l: Label| {
        if !rows.iter().any(|(_, row, _)| *row == l.row) {
            rows.push((counter_rank(&l.counter), l.row, l.explain));
        }
    };
    for rec in r
        .results
        .iter()
        .filter(|x| single.contains(&x.bench.as_str()))
    {
        add_row(&mut rows, row_of(rec));
    }
    if rows.is_empty() {
        for c in r.counters.iter().filter(|c| c.state == "present") {
            add_row(&mut rows, relabel(&c.name, accel));
        }
    }
    rows.sort_by_key(|(rank, _, _)| *rank);
    let find = |bench: &str, row: &str| {
        r.results
            .iter()
            .find(|x| x.bench == bench && row_of(x).row == row)
    };

    let headers: Vec<String> = single.iter().map(|b| heading(b)).collect();
    let mut spread = false;
    let median_rows: Rows = rows
        .iter()
        .map(|(_, row, _)| {
            let cells = single
                .iter()
                .map(|b| {
                    let rec = find(b, row);
                    spread |= rec.is_some_and(|x| x.min != x.max);
                    median_cell(rec, failed(b))
                })
                .collect();
            (row.clone(), cells)
        })
        .collect();
    if !single.is_empty() {
        let range_rows: Rows = if spread {
            rows.iter()
                .map(|(_, row, _)| {
                    let cells = single
                        .iter()
                        .map(|b| range_cell(find(b, row), failed(b)))
                        .collect();
                    (row.clone(), cells)
                })
                .collect()
        } else {
            Vec::new()
        };
        let corners = ["counter", "min..max"];
        out.push_str(&grid(corners, &headers, &median_rows, &range_rows));
        if spread {
            out.push('\n');
            out.push_str(&grid(
                ["min..max", "counter"],
                &headers,
                &range_rows,
                &median_rows,
            ));
        }
    }

    // The message-size sweep, with its counters explained in the footnotes.
    let sweep = sweep_block(r);
    if !sweep.is_empty() {
        if !out.ends_with("\n\n") {
            out.push('\n');
        }
        out.push_str(&sweep);
        for rec in r.results.iter().filter(|x| x.bench == SWEEP_BENCH) {
            add_row(&mut rows, row_of(rec));
        }
        rows.sort_by_key(|(rank, _, _)| *rank);
    }

    // --latency: the single-round figures.
    let latency = latency_block(r);
    if !latency.is_empty() {
        if !out.ends_with("\n\n") {
            out.push('\n');
        }
        out.push_str(&latency);
    }

    // Benchmarks that ran on several cores: one block each, a row per core.
    for b in &multi {
        let recs: Vec<&Record> = r.results.iter().filter(|x| x.bench == *b).collect();
        let mut cols: Vec<(usize, String)> = Vec::new();
        for rec in &recs {
            let l = row_of(rec);
            if !cols.iter().any(|(_, c)| *c == l.row) {
                cols.push((counter_rank(&l.counter), l.row));
            }
        }
        cols.sort_by_key(|(rank, _)| *rank);
        let unit = recs.first().map_or("", |x| x.unit.as_str());
        let rows: Rows = cores_of(b)
            .into_iter()
            .map(|core| {
                let cells = cols
                    .iter()
                    .map(|(_, col)| {
                        let rec = recs
                            .iter()
                            .copied()
                            .find(|x| x.core == core && row_of(x).row == *col);
                        range_cell(rec, false)
                    })
                    .collect();
                (core.to_string(), cells)
            })
            .collect();
        let _ = writeln!(
            out,
            "\n{} per core: median per {unit} (min..max when runs differ)",
            heading(b)
        );
        let headers: Vec<String> = cols.into_iter().map(|(_, c)| c).collect();
        out.push_str(&grid(["core", "core"], &headers, &rows, &Vec::new()));
        if accel == Accel::Icount && recs.iter().any(|x| x.shared_clock) {
            out.push_str("note: under QEMU icount all cores share one instruction clock: a multi-core figure is not a per-core cost (shared_clock in the JSON)\n");
        }
    }

    // Footnotes.
    let mut notes: Vec<String> = Vec::new();
    let mut units: Vec<&str> = Vec::new();
    for rec in &r.results {
        if !units.contains(&rec.unit.as_str()) {
            units.push(&rec.unit);
        }
    }
    notes.extend(units.iter().map(|u| unit_note(u)));
    if let Some(w) = r
        .results
        .iter()
        .find(|x| x.bench == "ipc-intra" || x.bench == "ipc-inter")
        .and_then(|x| x.words)
    {
        notes.push(format!(
            "Intra/Inter messages: {w} words besides the tag and the badge, every one checked (L4Re's ipcbench sends empty messages; --words N changes it, the sweep shows each size)"
        ));
    }
    for (_, row, explain) in &rows {
        notes.push(format!("{row}: {explain}"));
    }
    let absent: Vec<&str> = r
        .counters
        .iter()
        .filter(|c| c.state == "absent")
        .map(|c| c.name.as_str())
        .collect();
    if !absent.is_empty() {
        notes.push(format!(
            "absent on this CPU (not measured, never faked): {}",
            absent.join(", ")
        ));
    }
    if let Some(c) = &r.clock {
        let rate = format!("{} rate {:.3} MHz (from {})", c.counter, c.hz as f64 / 1e6, c.source);
        notes.push(if c.invariant {
            format!("{rate}, invariant")
        } else {
            format!("{rate}; NOT invariant (CPUID 0x80000007 EDX bit 8 clear): its rate may change with power states, so {} figures are not a fixed multiple of time", c.counter)
        });
    }
    for w in &r.kernel_warnings {
        notes.push(format!("kernel warning: {w}"));
    }
    if matches!(accel, Accel::Kvm | Accel::Hardware) && r.arch == "x86_64" {
        let triples: Vec<String> = single
            .iter()
            .filter_map(|b| {
                let vals: Option<Vec<String>> = L4RE_TRIPLE
                    .iter()
                    .map(|c| {
                        r.results
                            .iter()
                            .find(|x| x.bench == *b && x.counter == *c && x.verified)
                            .map(|x| format!("{:.0}", x.median))
                    })
                    .collect();
                vals.map(|v| format!("{} {}", heading(b), v.join("/")))
            })
            .collect();
        if !triples.is_empty() {
            notes.push(format!(
                "L4Re-style x86 figures ({}): {}",
                L4RE_TRIPLE.join("/"),
                triples.join(", ")
            ));
        }
    }
    match accel {
        Accel::Tcg => notes.push(
            "accel tcg: timings are QEMU virtual time, not CPU cycles; use --accel icount for exact instruction counts"
                .to_string(),
        ),
        Accel::Icount => notes.push(
            "accel tcg-icount: deterministic; figures count instructions, not cycles".to_string(),
        ),
        Accel::Hardware => notes.push(
            "accel hardware: the figures are the CPU's own hardware counters, read from a serial log of a real machine (cargo xtask report)".to_string(),
        ),
        Accel::Kvm => {}
    }
    let passed: Vec<&str> = r
        .tests
        .iter()
        .filter(|t| t.ok)
        .map(|t| t.name.as_str())
        .collect();
    if !passed.is_empty() {
        notes.push(format!("kernel tests passed: {}", passed.join(", ")));
    }
    if !notes.is_empty() {
        out.push('\n');
        for n in notes {
            let _ = writeln!(out, "{n}");
        }
    }

    // Failures of benches and tests (run-level errors are reported by the caller).
    let fails: Vec<String> = r
        .failures
        .iter()
        .filter_map(|f| {
            let core = match (f.core, f.words) {
                (Some(c), Some(w)) => format!(" (core {c}, {w} words)"),
                (Some(c), None) => format!(" (core {c})"),
                (None, Some(w)) => format!(" ({w} words)"),
                (None, None) => String::new(),
            };
            match (&f.bench, &f.test) {
                (Some(b), _) => Some(format!("FAILED {b}{core}: {}", f.reason)),
                (None, Some(t)) => Some(format!("FAILED test {t}{core}: {}", f.reason)),
                (None, None) => None,
            }
        })
        .collect();
    if !fails.is_empty() {
        out.push('\n');
        for f in fails {
            let _ = writeln!(out, "{f}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::tests::{FAILED, PASS};
    use crate::report::tests::report;

    #[test]
    fn icount_table_matches_the_l4re_layout() {
        let t = render(&report(PASS, 33, Accel::Icount));
        let expected = "\
ipcbench-rs  board=pc-x86_64  arch=x86_64  accel=tcg-icount  cpu=\"QEMU TCG CPU version 2.5+\"  cores=1
rounds=20000 runs=5  figures: median per operation (min..max) over runs

counter                          Intra (IPC)    Inter (IPC)    Syscall
instructions (QEMU icount, TSC)  85.00          95.00          28.00

IPC figures are per one-way IPC: a round = call + reply_recv = 2 IPCs, so a round's cost is divided by 2 (L4Re's convention)
Syscall figures are per system call:
  Syscall: a call the kernel answers itself through a capability (invoke ping on the thread's own capability: lookup, rights check, object dispatch, op decode, reply with a status): the work of L4Re's syscall figure
  Null: the null syscall, answered in the entry's first instructions (no lookup): not comparable with L4Re's syscall
  Floor: the null loop through an entry that returns at once: the kernel's minimal round trip
instructions (QEMU icount, TSC): the TSC under QEMU TCG with -icount shift=0,sleep=off advances exactly once per instruction: exact, deterministic instruction counts
absent on this CPU (not measured, never faked): instructions, core-cycles, ref-cycles
accel tcg-icount: deterministic; figures count instructions, not cycles
kernel tests passed: bad-syscall, bad-cap, user-fault
";
        assert_eq!(t, expected, "\n{t}");
    }

    #[test]
    fn null_and_floor_columns_follow_syscall_and_each_row_is_explained() {
        let mut text = PASS.replace("IPCB end status=pass\r\n", "");
        for (bench, v) in [("floor", 13.0), ("null", 13.0)] {
            let _ = writeln!(
                text,
                "IPCB result bench={bench} core=0 counter=tsc unit=syscall ops=20000 runs=5 min={v:.2} median={v:.2} mean={v:.2} max={v:.2} verified=1"
            );
        }
        text.push_str("IPCB end status=pass\n");
        let t = render(&report(&text, 33, Accel::Icount));
        assert!(
            t.contains(
                "counter                          Intra (IPC)    Inter (IPC)    Syscall    Null     Floor\n\
                 instructions (QEMU icount, TSC)  85.00          95.00          28.00      13.00    13.00\n"
            ),
            "\n{t}"
        );
        for row in ["Syscall", "Null", "Floor"] {
            assert_eq!(t.matches(&format!("\n  {row}: ")).count(), 1, "{row}\n{t}");
        }
        assert!(t.contains("the work of L4Re's syscall figure"), "\n{t}");
    }

    #[test]
    fn failed_bench_shows_failed_and_reason_below() {
        let t = render(&report(FAILED, 35, Accel::Tcg));
        assert!(
            t.contains("counter                 Intra (IPC)    Inter (IPC)    Syscall\n"),
            "\n{t}"
        );
        assert!(
            t.contains("tsc (TCG virtual time)  85.00          FAILED         28.00\n"),
            "\n{t}"
        );
        assert!(t.contains("virtual time, not cycles"));
        assert!(t.contains("use --accel icount"));
        assert!(
            t.ends_with("\nFAILED ipc-inter (core 0): mr2 mismatch\n"),
            "\n{t}"
        );
    }

    #[test]
    fn failed_tests_and_boot_checks_get_no_column() {
        let text = FAILED.replace(
            "IPCB end status=fail\n",
            "IPCB fail bench=user-fault core=0 reason=\"the task was not killed by a fault\"\nIPCB end status=fail\n",
        );
        let t = render(&report(&text, 35, Accel::Tcg));
        assert!(
            t.contains("counter                 Intra (IPC)    Inter (IPC)    Syscall\n"),
            "\n{t}"
        );
        assert!(
            t.contains("FAILED user-fault (core 0): the task was not killed by a fault\n"),
            "\n{t}"
        );
    }

    #[test]
    fn spread_block_appears_when_runs_differ() {
        let text = PASS.replace(
            "min=95.00 median=95.00 mean=95.00 max=95.00",
            "min=94.50 median=95.00 mean=95.10 max=96.25",
        );
        let t = render(&report(&text, 33, Accel::Icount));
        assert!(
            t.contains(
                "counter                          Intra (IPC)    Inter (IPC)     Syscall\n\
                 instructions (QEMU icount, TSC)  85.00          95.00           28.00\n\
                 \n\
                 min..max                         Intra (IPC)    Inter (IPC)     Syscall\n\
                 instructions (QEMU icount, TSC)  85.00          94.50..96.25    28.00\n"
            ),
            "\n{t}"
        );
    }

    #[test]
    fn kvm_with_all_counters_prints_the_l4re_triple() {
        let mut text = String::from(
            "IPCB hello proto=1 board=pc-x86_64 arch=x86_64 el=- cores=1\n\
             IPCB cpu vendor=GenuineIntel model=\"Intel(R) N100\"\n\
             IPCB config rounds=20000 runs=5 warmup=1 inject=none\n",
        );
        let figures = [
            ("ipc-intra", "one-way-ipc", [557.0, 173.0, 622.0, 600.0]),
            ("ipc-inter", "one-way-ipc", [613.0, 390.0, 1388.0, 1300.0]),
            ("syscall", "syscall", [147.0, 52.0, 188.0, 180.0]),
        ];
        for (bench, unit, vals) in figures {
            for (c, v) in ["instructions", "core-cycles", "ref-cycles", "tsc"]
                .iter()
                .zip(vals)
            {
                let _ = writeln!(
                    text,
                    "IPCB result bench={bench} core=0 counter={c} unit={unit} ops=40000 runs=5 min={v:.2} median={v:.2} mean={v:.2} max={v:.2} verified=1"
                );
            }
        }
        text.push_str("IPCB end status=pass\n");
        let t = render(&report(&text, 33, Accel::Kvm));
        assert!(
            t.contains(
                "counter       Intra (IPC)    Inter (IPC)    Syscall\n\
             instructions  557.00         613.00         147.00\n\
             core-cycles   173.00         390.00         52.00\n\
             ref-cycles    622.00         1388.00        188.00\n\
             tsc           600.00         1300.00        180.00\n"
            ),
            "\n{t}"
        );
        assert!(t.contains(
            "L4Re-style x86 figures (ref-cycles/core-cycles/instructions): Intra (IPC) 622/173/557, Inter (IPC) 1388/390/613, Syscall 188/52/147"
        ), "\n{t}");
        assert!(!t.contains("accel tcg"));
    }

    #[test]
    fn multi_core_bench_gets_a_per_core_block() {
        let mut text = PASS.replace("IPCB end status=pass\r\n", "");
        for core in 0..2 {
            let _ = writeln!(
                text,
                "IPCB result bench=ipc-intra-parallel core={core} counter=tsc unit=one-way-ipc ops=40000 runs=5 min=90.00 median=9{core}.00 mean=9{core}.00 max=9{core}.00 verified=1"
            );
        }
        text.push_str("IPCB end status=pass\n");
        let rep = report(&text, 33, Accel::Icount);
        // Two cores on icount's one clock: marked; the one-core ones not.
        for rec in &rep.results {
            assert_eq!(rec.shared_clock, rec.bench == "ipc-intra-parallel", "{}", rec.bench);
        }
        // ipc-cross-core has one record, but two cores make it.
        let cross = text.replace("IPCB end status=pass\n", "")
            + "IPCB result bench=ipc-cross-core words=0 core=0 counter=tsc unit=one-way-ipc ops=40000 runs=5 min=585.00 median=585.00 mean=585.00 max=585.00 verified=1\nIPCB end status=pass\n";
        let r = report(&cross, 33, Accel::Icount);
        assert!(r.results.iter().any(|x| x.bench == "ipc-cross-core" && x.shared_clock));
        let r = report(&cross, 33, Accel::Tcg);
        assert!(r.results.iter().all(|x| !x.shared_clock));
        let t = render(&rep);
        assert!(
            t.contains("counter                          Intra (IPC)    Inter (IPC)    Syscall\n"),
            "\n{t}"
        );
        assert!(
            t.contains(
                "ipc-intra-parallel per core: median per one-way-ipc (min..max when runs differ)\n\
             core  instructions (QEMU icount, TSC)\n\
             0     90.00\n\
             1     90.00..91.00\n\
             note: under QEMU icount all cores share one instruction clock"
            ),
            "\n{t}"
        );
    }

    #[test]
    fn sweep_gets_a_block_after_the_table_not_columns() {
        let text = crate::protocol::tests::pass_with_sweep();
        let t = render(&report(&text, 33, Accel::Icount));
        let expected = "\
counter                          Intra (IPC)    Inter (IPC)    Syscall
instructions (QEMU icount, TSC)  85.00          95.00          28.00

Message-size sweep (ipc-inter, one-way IPC, instructions (QEMU icount, TSC))
words  via          median
0      registers    130.00
1      registers    131.00
2      registers    132.00
4      registers    134.00
8      UTCB         218.00
16     UTCB         306.00
32     UTCB         482.00
63     UTCB         823.00
via registers: 0, 1, 2, 4 words (a message of up to 4 words travels in registers)
via UTCB: 8, 16, 32, 63 words (words 0..3 in registers, the rest in the UTCB)

IPC figures are per one-way IPC";
        assert!(t.contains(expected), "\n{t}");
        // The counter is explained once.
        assert_eq!(
            t.matches("instructions (QEMU icount, TSC): the TSC")
                .count(),
            1,
            "\n{t}"
        );
        assert!(!t.contains("ipc-sweep"), "\n{t}");
        // The block fits in 100 columns.
        let block = &t[t.find("Message-size sweep").unwrap()..];
        let block = &block[..block.find("\n\n").unwrap()];
        assert!(block.lines().all(|l| l.chars().count() <= 100), "\n{block}");
    }

    #[test]
    fn sweep_with_several_counters_spread_and_failures() {
        let mut text = String::from(
            "IPCB hello proto=1 board=pc-x86_64 arch=x86_64 el=- cores=1\n\
             IPCB config rounds=20000 runs=5 warmup=1 inject=none sweep=1\n",
        );
        for w in [0u64, 1, 2, 4, 8, 16, 32] {
            for (i, c) in ["instructions", "core-cycles", "ref-cycles", "tsc"]
                .iter()
                .enumerate()
            {
                let v = 1000 * (i as u64 + 1) + w;
                let _ = writeln!(
                    text,
                    "IPCB result bench=ipc-sweep words={w} core=0 counter={c} unit=one-way-ipc ops=40000 runs=5 min={v}.00 median={v}.50 mean={v}.50 max={v}.75 verified={}",
                    u8::from(w != 16 || i != 3)
                );
            }
        }
        text.push_str("IPCB fail bench=ipc-sweep words=63 core=0 reason=\"mr 40 got 0x0 expected 0x1\"\nIPCB end status=fail\n");
        let t = render(&report(&text, 35, Accel::Kvm));
        assert!(
            t.contains(
                "Message-size sweep (ipc-inter, one-way IPC, instructions, core-cycles, ref-cycles, tsc)\n\
                 words  via          instructions    core-cycles    ref-cycles    tsc\n\
                 0      registers    1000.50         2000.50        3000.50       4000.50\n"
            ),
            "\n{t}"
        );
        assert!(
            t.contains("16     UTCB         1016.50         2016.50        3016.50       FAILED\n"),
            "\n{t}"
        );
        assert!(
            t.contains("63     UTCB         FAILED          FAILED         FAILED        FAILED\n"),
            "\n{t}"
        );
        assert!(
            t.contains("\nFAILED ipc-sweep (core 0, 63 words): mr 40 got 0x0 expected 0x1\n"),
            "\n{t}"
        );
        assert!(
            t.contains("\nFAILED ipc-sweep (core 0, 16 words): figures not verified"),
            "\n{t}"
        );
        // No sweep column in the main table.
        assert!(
            t.contains("\ncounter   Intra (IPC)    Inter (IPC)    Syscall\n\n"),
            "\n{t}"
        );
        // Spread with one counter adds a min..max column.
        let one: String = text
            .lines()
            .filter(|l| !l.contains("counter=") || l.contains("counter=tsc"))
            .map(|l| format!("{l}\n"))
            .collect();
        let t = render(&report(&one, 35, Accel::Tcg));
        assert!(
            t.contains(
                "Message-size sweep (ipc-inter, one-way IPC, tsc (TCG virtual time))\n\
                 words  via          median     min..max\n\
                 0      registers    4000.50    4000.00..4000.75\n"
            ),
            "\n{t}"
        );
    }

    #[test]
    fn no_sweep_block_without_sweep_sizes() {
        let t = render(&report(PASS, 33, Accel::Icount));
        assert!(!t.contains("Message-size sweep"));
        assert_eq!(message_path(4), "registers");
        assert_eq!(message_path(5), "UTCB");
    }

    #[test]
    fn unverified_result_is_failed_and_missing_one_is_dash() {
        let text = PASS.replace("max=28.00 verified=1", "max=28.00 verified=0");
        let t = render(&report(&text, 35, Accel::Icount));
        assert!(
            t.contains("instructions (QEMU icount, TSC)  85.00          95.00          FAILED\n"),
            "\n{t}"
        );
        assert!(
            t.contains("FAILED syscall (core 0): figures not verified"),
            "\n{t}"
        );
        let (hello, _) = PASS.split_once("IPCB result").unwrap();
        let t = render(&report(hello, 37, Accel::Icount));
        assert!(!t.contains("counter  "), "no columns without benches:\n{t}");
    }
}
