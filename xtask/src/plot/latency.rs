// SPDX-License-Identifier: MIT OR Apache-2.0
//! The `--latency` histograms: `latency-<bench>.svg` (and `.png` where
//! ImageMagick is) in the run's output directory, one per record with
//! latency figures.
//!
//! A bar per bin (rounds per bin, from the cheapest round to p99's bin),
//! dashed lines at p50, p90 and p99, and the figures (and the rounds above
//! the last bin) under the title.

use std::path::{Path, PathBuf};

use anyhow::Result;
use plotters::element::{EmptyElement, Rectangle, Text};
use plotters::series::DashedLineSeries;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{BLACK, Color, ShapeStyle, WHITE};

use super::{BLUE, font};
use crate::report::{Record, Report, relabel};

/// Canvas size in pixels.
const SIZE: (u32, u32) = (800, 480);
/// Where the plot area starts, pixels from the top.
const TOP: u32 = 86;
/// The percentile lines' colour.
const MARK: plotters::style::RGBColor = plotters::style::RGBColor(0xd6, 0x27, 0x28);

/// File name (without `.svg`) of the histogram of `bench`.
pub fn name(bench: &str) -> String {
    format!("latency-{bench}")
}

/// The latency histogram of one record as an SVG document; `None` without
/// latency figures.
pub fn svg(r: &Report, rec: &Record) -> Result<Option<String>> {
    let Some(l) = rec.latency.as_ref() else {
        return Ok(None);
    };
    let bins = &l.histogram;
    let (Some(first), Some(last)) = (bins.first(), bins.last()) else {
        return Ok(None);
    };
    let label = relabel(&rec.kernel_counter, r.accel_kind);
    // A bin's width of room on either side, so that one bar (icount:
    // every round the same) does not fill the plot.
    let w = (first.hi - first.lo) as f64;
    let (x_lo, x_hi) = (first.lo as f64 - w, (last.hi as f64 + w).max(first.lo as f64 + 1.0));
    let y_max = bins.iter().map(|b| b.count).max().unwrap_or(0) as f64;
    let title = format!("{} latency: {} per {}, each round timed", rec.bench, label.counter, l.unit);
    let above = if l.above_histogram > 0 { format!("; {} above the last bin", l.above_histogram) } else { String::new() };
    let figures = format!(
        "{} rounds: min {} p50 {} p90 {} p99 {} max {}; counter read {} subtracted{above}",
        l.samples, l.min, l.p50, l.p90, l.p99, l.max, l.counter_overhead
    );
    let doc = super::svg(SIZE, &title, r, &label.row, &[(figures, BLACK)], |area| {
        // x ticks: the bins' bounds, at most about ten labels.
        let every = bins.len().div_ceil(10).max(1);
        let xs = bins.iter().step_by(every).map(|b| b.lo as f64).collect();
        let x_desc = format!("{} per {} (read overhead subtracted)", label.counter, l.unit);
        let mut chart = super::chart(area, TOP, x_lo..x_hi, xs, &|v| format!("{v}"), y_max, [&x_desc, "rounds"])?;
        let top = chart.y_range().end;
        chart.draw_series(bins.iter().map(|b| {
            let mut bar = Rectangle::new([(b.lo as f64, 0.0), (b.hi as f64, b.count as f64)], BLUE.filled());
            bar.set_margin(0, 0, 0, 1);
            bar
        }))?;
        // A percentile falls in its bin: mark the middle of its value. Equal
        // ones share a line; the labels stand one under the other.
        let mut marks: Vec<(u64, String)> = Vec::new();
        for (name, v) in [("p50", l.p50), ("p90", l.p90), ("p99", l.p99)] {
            match marks.iter_mut().find(|(m, _)| *m == v) {
                Some((_, names)) => *names = format!("{names} = {name}"),
                None => marks.push((v, name.to_string())),
            }
        }
        let style = font(11).color(&MARK).pos(Pos::new(HPos::Left, VPos::Top));
        for (i, (v, names)) in marks.iter().enumerate() {
            let x = *v as f64 + 0.5;
            chart.draw_series(DashedLineSeries::new([(x, 0.0), (x, top)], 4, 3, ShapeStyle::from(&MARK)))?;
            // On white, over a bar as high as the plot.
            let (label, y) = (format!("{names} {v}"), 4 + 14 * i as i32);
            let back = Rectangle::new([(2, y - 1), (6 + 6 * label.len() as i32, y + 12)], WHITE.mix(0.85).filled());
            chart.draw_series([EmptyElement::at((x, top)) + back + Text::new(label, (4, y), style.clone())])?;
        }
        Ok(())
    })?;
    Ok(Some(doc))
}

/// Writes `latency-<bench>.svg` (and `.png` where ImageMagick is) into
/// `dir` for every record with latency figures; returns the SVGs written.
pub fn write(r: &Report, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for rec in &r.results {
        if let Some(doc) = svg(r, rec)? {
            files.push(super::write(dir, &name(&rec.bench), &doc)?.svg);
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::Accel;
    use crate::plot::tests::{texts, well_formed};
    use crate::protocol::tests::{PASS, latency_lines};
    use crate::report::tests::report;

    #[test]
    fn a_bar_per_bin_and_the_percentiles_marked() {
        let text = PASS
            .replace("inject=none", "inject=none latency=tsc")
            .replace("bench=ipc-intra core=0", "bench=ipc-intra words=0 core=0")
            .replace("bench=ipc-inter core=0", "bench=ipc-inter words=0 core=0")
            .replace("IPCB end", &format!("{}IPCB end", latency_lines()));
        let r = report(&text, 33, Accel::Icount);
        let doc = svg(&r, &r.results[0]).unwrap().unwrap();
        well_formed(&doc);
        assert_eq!(doc.matches("fill=\"#1F77B4\"").count(), 9, "a bar per bin");
        let t = texts(&doc);
        let has = |s: &str| t.iter().any(|x| x == s);
        assert!(has("ipc-intra latency: instructions per round-trip, each round timed"), "{t:?}");
        assert!(has("1000 rounds: min 172 p50 172 p90 174 p99 180 max 400; counter read 2 subtracted; 5 above the last bin"), "{t:?}");
        assert!(has("p50 172") && has("p90 174") && has("p99 180") && has("rounds"), "{t:?}");
        assert!(has("instructions per round-trip (read overhead subtracted)"), "{t:?}");
        // Every round the same: one line, one label.
        let doc = svg(&r, &r.results[1]).unwrap().unwrap();
        assert!(texts(&doc).iter().any(|x| x == "p50 = p90 = p99 190"), "{doc}");
        let plain = report(PASS, 33, Accel::Icount);
        assert_eq!(svg(&plain, &plain.results[0]).unwrap(), None);
    }
}
