// SPDX-License-Identifier: MIT OR Apache-2.0
//! The message-size sweep as a line plot, `sweep.svg` (and `sweep.png`
//! where ImageMagick is) in the run's output directory.
//!
//! x is the message length in words on a linear axis with a tick at each
//! measured size; y is the median per one-way IPC in the counter's unit
//! (instructions under icount), from 0. One line with a point per size
//! (its value above it where there is room), for one counter: the first in
//! table order (instructions first). A dashed line separates the sizes that
//! travel in registers from those that use the UTCB.

use std::path::Path;

use anyhow::Result;
use plotters::element::{Circle, EmptyElement, Text};
use plotters::series::{DashedLineSeries, LineSeries};
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{Color, ShapeStyle};

use super::{BLUE, GREY, PlotFiles, font, short};
use crate::protocol::{REGISTER_WORDS, SWEEP_BENCH};
use crate::report::{Label, Report, relabel};

/// The plot's file name without `.svg` / `.png`.
pub const NAME: &str = "sweep";

/// Canvas size in pixels.
const SIZE: (u32, u32) = (800, 480);
/// Where the plot area starts, pixels from the top.
const TOP: u32 = 80;
/// A digit's width at the values' font size, in pixels (about).
const DIGIT: i32 = 7;

/// The series to plot: the counter's label and (words, median) by size.
fn series(r: &Report) -> Option<(Label, Vec<(f64, f64)>)> {
    let recs = super::first_counter(r, |x| x.bench == SWEEP_BENCH && x.words.is_some(), |x| x.words);
    let points = recs.iter().map(|x| (x.words.unwrap_or(0) as f64, x.median)).collect();
    Some((relabel(&recs.first()?.kernel_counter, r.accel_kind), points))
}

/// The sweep plot as an SVG document, or `None` when the report has no
/// verified sweep figure.
pub fn svg(r: &Report) -> Result<Option<String>> {
    let Some((label, points)) = series(r) else {
        return Ok(None);
    };
    let x_max = points.iter().map(|(w, _)| *w).fold(1.0, f64::max);
    let y_max = points.iter().map(|(_, m)| *m).fold(0.0, f64::max);
    let title = "Message-size sweep (ipc-inter, one-way IPC)";
    let doc = super::svg(SIZE, title, r, &label.row, &[], |area| {
        let xs = points.iter().map(|(w, _)| *w).collect();
        let y_desc = format!("{} per one-way IPC (median)", label.counter);
        let desc = ["message length (words)", &y_desc];
        let mut chart = super::chart(area, TOP, 0.0..x_max, xs, &|w| format!("{w}"), y_max, desc)?;
        // Registers | UTCB boundary, when the sweep crosses it.
        let regs = REGISTER_WORDS as f64;
        if points.iter().any(|(w, _)| *w <= regs) && points.iter().any(|(w, _)| *w > regs) {
            let bx = regs + 0.5;
            let top = chart.y_range().end;
            chart.draw_series(DashedLineSeries::new([(bx, 0.0), (bx, top)], 4, 3, ShapeStyle::from(&GREY)))?;
            let note = format!("\u{2190} registers (<= {REGISTER_WORDS} words) | UTCB \u{2192}");
            let style = font(11).color(&GREY).pos(Pos::new(HPos::Left, VPos::Top));
            chart.draw_series([EmptyElement::at((bx, top)) + Text::new(note, (4, 6), style)])?;
        }
        chart.draw_series(LineSeries::new(points.iter().copied(), BLUE.stroke_width(2)))?;
        chart.draw_series(points.iter().map(|p| Circle::new(*p, 3, BLUE.filled())))?;
        // The values, left to right, where one does not run into the last;
        // the first one clear of the y axis.
        let mut free = i32::MIN;
        for (i, p) in points.iter().enumerate() {
            let (value, px) = (short(p.1), chart.backend_coord(p).0);
            let w = DIGIT * value.len() as i32;
            let (h, dx) = if i == 0 { (HPos::Left, 4) } else { (HPos::Center, -w / 2) };
            if px + dx >= free {
                free = px + dx + w + 6;
                let text = Text::new(value, (dx.max(0), -7), font(11).pos(Pos::new(h, VPos::Bottom)));
                chart.draw_series([EmptyElement::at(*p) + text])?;
            }
        }
        Ok(())
    })?;
    Ok(Some(doc))
}

/// Writes `sweep.svg` (and, if ImageMagick is installed, `sweep.png`) into
/// `dir`; `None` when the report has no sweep figures.
pub fn write(r: &Report, dir: &Path) -> Result<Option<PlotFiles>> {
    svg(r)?.map(|doc| super::write(dir, NAME, &doc)).transpose()
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::board::Accel;
    use crate::plot::tests::{texts, well_formed};
    use crate::protocol::tests::{PASS, pass_with_sweep};
    use crate::report::tests::report;

    /// The `points` of the polyline: the line, not a dash.
    fn polyline_points(svg: &str) -> Vec<(f64, f64)> {
        let line = svg.lines().find(|l| l.starts_with("<polyline") && l.contains("stroke-width=\"2\"")).expect("the line");
        let p = line.find("points=\"").expect("points") + "points=\"".len();
        let end = line[p..].find('"').unwrap();
        line[p..p + end]
            .split_whitespace()
            .map(|xy| {
                let (x, y) = xy.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn svg_of_a_sweep_is_produced_and_well_formed() {
        let r = report(&pass_with_sweep(), 33, Accel::Icount);
        let svg = svg(&r).unwrap().unwrap();
        well_formed(&svg);
        // 8 points, left to right, rising with the message length, filling
        // the plot area (90 .. 800 - 30 pixels).
        let pts = polyline_points(&svg);
        assert_eq!(pts.len(), 8, "{svg}");
        assert!(pts.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 >= w[1].1), "{pts:?}");
        assert!(pts[0].1 > pts[7].1 + 200.0, "{pts:?}");
        assert_eq!(svg.matches("<circle").count(), 8);
        assert!((pts[0].0 - 90.0).abs() <= 1.0 && (pts[7].0 - 770.0).abs() <= 1.0, "{pts:?}");
        // Ticks at the measured sizes, labels, title naming board, accel,
        // counter, the registers | UTCB line, the values where there is room.
        let t = texts(&svg);
        let has = |s: &str| t.iter().any(|x| x == s);
        for w in ["0", "1", "2", "4", "8", "16", "32", "63", "message length (words)"] {
            assert!(has(w), "{w}: {t:?}");
        }
        assert!(has("instructions per one-way IPC (median)"), "{t:?}");
        assert!(has("Message-size sweep (ipc-inter, one-way IPC)"), "{t:?}");
        assert!(has("board pc-x86_64, accel tcg-icount, counter instructions (QEMU icount, TSC)"), "{t:?}");
        assert!(has("\u{2190} registers (<= 4 words) | UTCB \u{2192}"), "{t:?}");
        assert!(svg.contains("registers (&lt;= 4 words)"));
        assert!(has("823") && has("130") && !has("131"), "{t:?}");
    }

    #[test]
    fn no_svg_without_a_sweep_and_the_best_counter_is_plotted() {
        assert_eq!(svg(&report(PASS, 33, Accel::Icount)).unwrap(), None);
        // With two counters, instructions win; unverified sizes are left out.
        let text = pass_with_sweep();
        let mut more = String::new();
        for line in text.lines().filter(|l| l.contains("bench=ipc-sweep")) {
            let mut l = line.replace("counter=tsc", "counter=instructions");
            if l.contains("words=16 ") {
                l = l.replace("verified=1", "verified=0");
            }
            more.push_str(&l);
            more.push('\n');
        }
        let text = text.replace("IPCB end", &format!("{more}IPCB end"));
        let r = report(&text, 35, Accel::Kvm);
        let svg = svg(&r).unwrap().unwrap();
        let t = texts(&svg);
        assert!(t.iter().any(|x| x.ends_with(", counter instructions")), "{t:?}");
        assert!(t.iter().any(|x| x == "instructions per one-way IPC (median)"), "{t:?}");
        assert_eq!(polyline_points(&svg).len(), 7);
        assert!(!t.iter().any(|x| x == "16" || x == "306"), "{t:?}");
    }

    #[test]
    fn files_are_written() {
        let dir = std::env::temp_dir().join(format!("xtask-plot-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let r = report(&pass_with_sweep(), 33, Accel::Icount);
        let files = write(&r, &dir).unwrap().unwrap();
        assert_eq!(files.svg, dir.join("sweep.svg"));
        assert!(fs::read_to_string(&files.svg).unwrap().starts_with("<svg"));
        if let Some(png) = &files.png {
            assert!(fs::read(png).unwrap().starts_with(b"\x89PNG"));
        }
        assert_eq!(write(&report(PASS, 33, Accel::Icount), &dir).unwrap(), None);
        fs::remove_dir_all(&dir).unwrap();
    }
}
