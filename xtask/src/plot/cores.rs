// SPDX-License-Identifier: MIT OR Apache-2.0
//! Per-core results of the benchmarks that run on every core at once
//! (`ipc-intra-parallel`, `syscall-parallel`, `ipc-cross-core`): one bar
//! chart per benchmark, `<bench>.svg` in the run's output directory (and a
//! PNG next to it when ImageMagick is installed), in the spirit of L4Re's
//! per-core plots.
//!
//! x is the core, y the median per operation in the first counter in table
//! order (instructions first), from 0; a whisker spans min..max over the
//! runs. When the record says `shared_clock` (QEMU icount with several
//! cores: every core's instructions advance the one clock), the bars are
//! grey and a note under the title says they are not per-core costs.

use std::path::{Path, PathBuf};

use anyhow::Result;
use plotters::element::{EmptyElement, PathElement, Rectangle, Text};
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{BLACK, Color, RGBColor};

use super::{BLUE, RED, font};
use crate::report::{Record, Report, relabel};

/// Width of the chart while its plot area gives every core at least
/// [`MIN_SLOT`]; wider beyond.
const WIDTH: u32 = 720;
/// The narrowest slot a core gets; more cores make the chart wider.
const MIN_SLOT: f64 = 9.0;
/// Narrowest slot that still carries the bar's value above it (a label
/// such as `1620.50` at font size 11); below it the chart prints a
/// min / median / max line instead.
const VALUE_LABEL_SLOT: f64 = 40.0;
/// Least distance between two core numbers on the x axis.
const CORE_LABEL_GAP: f64 = 28.0;
const HEIGHT: u32 = 440;
/// The plot area's margins left and right ([`super::chart`]).
const SIDES: u32 = 120;
/// The bars under a shared clock.
const SHARED_GREY: RGBColor = RGBColor(0x9e, 0x9e, 0x9e);

/// The benchmarks drawn per core, in the order they are written.
pub const PER_CORE: [&str; 3] = ["ipc-intra-parallel", "syscall-parallel", "ipc-cross-core"];

/// The per-core bar chart of `bench`, or `None` without a verified record.
pub fn svg(r: &Report, bench: &str) -> Result<Option<String>> {
    let recs = super::first_counter(r, |x| x.bench == bench, |x| x.core);
    let Some(first) = recs.first() else {
        return Ok(None);
    };
    let label = relabel(&first.kernel_counter, r.accel_kind);
    let unit = first.unit.replace('-', " ");
    let shared = recs.iter().any(|x| x.shared_clock);
    let n = recs.len() as f64;
    // 96 or 256 cores: a wider chart, every k-th core numbered, and the
    // values summed up in one line instead of one label per bar.
    let pw = f64::from(WIDTH - SIDES).max(n * MIN_SLOT);
    let width = pw as u32 + SIDES;
    let slot = pw / n;
    let every = [1usize, 2, 4, 8, 16, 32, 64]
        .into_iter()
        .find(|k| slot * *k as f64 >= CORE_LABEL_GAP)
        .unwrap_or(64);
    // A bar is 60% of its slot, at most 80 pixels wide.
    let half = (0.3f64).min(40.0 / slot);
    let y_max = recs.iter().map(|x| x.max.max(x.median)).fold(0.0, f64::max);

    let mut notes = Vec::new();
    if shared {
        let note = "shared clock: every core's instructions advance it, so a bar is not that core's cost";
        notes.push((note.to_string(), RED));
    }
    if slot < VALUE_LABEL_SLOT {
        notes.push((summary(&recs), BLACK));
    }
    let title = format!("{bench} on {} cores at once", recs.len());
    let top = 68 + 18 * notes.len() as u32;
    let doc = super::svg((width, HEIGHT), &title, r, &label.row, &notes, |area| {
        let xs = (0..recs.len()).step_by(every).map(|i| i as f64 + 0.5).collect();
        let core = |x: &f64| recs.get(x.floor() as usize).map(|r| r.core.to_string()).unwrap_or_default();
        let desc = ["core", &format!("{} per {unit} (median)", label.counter)];
        let mut chart = super::chart(area, top, 0.0..n, xs, &core, y_max, desc)?;
        let fill = if shared { SHARED_GREY } else { BLUE };
        let value = font(11).pos(Pos::new(HPos::Center, VPos::Bottom));
        for (i, rec) in recs.iter().enumerate() {
            let cx = i as f64 + 0.5;
            chart.draw_series([Rectangle::new([(cx - half, 0.0), (cx + half, rec.median)], fill.filled())])?;
            if rec.max > rec.min {
                chart.draw_series([PathElement::new([(cx, rec.min), (cx, rec.max)], BLACK)])?;
            }
            if slot >= VALUE_LABEL_SLOT {
                let text = Text::new(format!("{:.2}", rec.median), (0, -6), value.clone());
                chart.draw_series([EmptyElement::at((cx, rec.median)) + text])?;
            }
        }
        Ok(())
    })?;
    Ok(Some(doc))
}

/// The line over a many-core chart: the lowest and highest median (with
/// their cores) and the median of the medians.
fn summary(recs: &[&Record]) -> String {
    let lo = recs.iter().min_by(|a, b| a.median.total_cmp(&b.median));
    let hi = recs.iter().max_by(|a, b| a.median.total_cmp(&b.median));
    let (Some(lo), Some(hi)) = (lo, hi) else { return String::new() };
    let mut medians: Vec<f64> = recs.iter().map(|r| r.median).collect();
    medians.sort_by(f64::total_cmp);
    let mid = medians[medians.len() / 2];
    format!("lowest {:.2} (core {}), median {mid:.2}, highest {:.2} (core {})", lo.median, lo.core, hi.median, hi.core)
}

/// Writes `<bench>.svg` (and `.png` where ImageMagick is) for every
/// per-core benchmark in the report; returns the SVG paths.
pub fn write(r: &Report, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for bench in PER_CORE {
        if let Some(doc) = svg(r, bench)? {
            out.push(super::write(dir, bench, &doc)?.svg);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::fmt::Write;
    use std::fs;

    use super::*;
    use crate::board::Accel;
    use crate::plot::tests::{texts, well_formed};
    use crate::protocol::tests::PASS;
    use crate::report::tests::report;

    fn with_cores(n: u32, accel: Accel) -> Report {
        let mut text = PASS.replace("IPCB end status=pass\r\n", "");
        for core in 0..n {
            let _ = writeln!(
                text,
                "IPCB result bench=ipc-intra-parallel words=0 core={core} counter=tsc unit=one-way-ipc ops=40000 runs=5 min=9{core}.00 median=9{core}.00 mean=9{core}.00 max=9{core}.50 verified=1"
            );
        }
        text.push_str("IPCB end status=pass\n");
        report(&text, 33, accel)
    }

    #[test]
    fn one_bar_per_core_with_its_median() {
        let doc = svg(&with_cores(4, Accel::Tcg), "ipc-intra-parallel").unwrap().unwrap();
        well_formed(&doc);
        assert_eq!(doc.matches("<rect x=").count(), 1 + 4, "background + bars");
        let t = texts(&doc);
        for core in 0..4 {
            assert!(t.contains(&format!("9{core}.00")) && t.contains(&core.to_string()), "{t:?}");
        }
        assert!(!doc.contains("shared clock"));
        assert!(t.contains(&"ipc-intra-parallel on 4 cores at once".to_string()), "{t:?}");
        assert!(t.iter().any(|x| x.ends_with(" per one way ipc (median)")), "{t:?}");
        assert!(svg(&with_cores(4, Accel::Tcg), "syscall-parallel").unwrap().is_none());
    }

    #[test]
    fn many_cores_stay_readable() {
        let doc = svg(&with_cores(96, Accel::Tcg), "ipc-intra-parallel").unwrap().unwrap();
        assert_eq!(doc.matches("<rect x=").count(), 1 + 96, "background + bars");
        // Wider than the default, no per-bar values, every 4th core named.
        assert!(doc.starts_with("<svg width=\"984\""), "{doc}");
        let t = texts(&doc);
        assert!(!t.contains(&"90.00".to_string()), "{t:?}");
        assert!(t.contains(&"92".to_string()) && !t.contains(&"93".to_string()), "{t:?}");
        assert!(t.iter().any(|x| x.starts_with("lowest 90.00 (core 0)")), "{t:?}");
    }

    #[test]
    fn shared_clock_is_said_on_the_plot() {
        let doc = svg(&with_cores(2, Accel::Icount), "ipc-intra-parallel").unwrap().unwrap();
        assert!(doc.contains("shared clock") && doc.contains("fill=\"#9E9E9E\""), "{doc}");
        // One core under icount: exact, nothing to say.
        let doc = svg(&with_cores(1, Accel::Icount), "ipc-intra-parallel").unwrap().unwrap();
        assert!(!doc.contains("shared clock") && !doc.contains("#9E9E9E"), "{doc}");
    }

    #[test]
    fn files_are_written_per_bench() {
        let dir = std::env::temp_dir().join(format!("ipcb-cores-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let files = write(&with_cores(2, Accel::Tcg), &dir).unwrap();
        assert_eq!(files, vec![dir.join("ipc-intra-parallel.svg")]);
        assert!(fs::read_to_string(&files[0]).unwrap().starts_with("<svg"));
        let _ = fs::remove_dir_all(&dir);
    }
}
