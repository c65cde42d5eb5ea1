// SPDX-License-Identifier: MIT OR Apache-2.0
//! The message-size sweep as a line plot: `sweep.svg` in the run's output
//! directory, hand-written SVG (no plotting dependency), and `sweep.png` next
//! to it when `/usr/bin/convert` is a real ImageMagick.
//!
//! x is the message length in words on a linear axis with a tick at each
//! measured size; y is the median per one-way IPC in the counter's unit
//! (instructions under icount), from 0. One polyline with a point per size,
//! for one counter: the first in table order (instructions first). A dashed
//! line separates the sizes that travel in registers from those that use the
//! UTCB.

use std::fmt::Write;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::protocol::{REGISTER_WORDS, SWEEP_BENCH};
use crate::report::{Label, Report, counter_rank, relabel};

/// File name of the plot in the run's output directory.
pub const SVG_NAME: &str = "sweep.svg";
/// File name of the optional PNG.
pub const PNG_NAME: &str = "sweep.png";
/// The ImageMagick that may turn the SVG into a PNG.
const CONVERT: &str = "/usr/bin/convert";

/// Canvas size and the plot area's margins, in pixels.
const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 480.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 80.0;
const BOTTOM: f64 = 70.0;

/// The series to plot: the counter's label and (words, median) by size.
fn series(r: &Report) -> Option<(Label, Vec<(u64, f64)>)> {
    let recs = || {
        r.results
            .iter()
            .filter(|x| x.bench == SWEEP_BENCH && x.verified && x.words.is_some())
    };
    let kernel_counter = recs()
        .map(|x| x.kernel_counter.as_str())
        .min_by_key(|c| counter_rank(&relabel(c, r.accel_kind).counter))?;
    let mut points: Vec<(u64, f64)> = recs()
        .filter(|x| x.kernel_counter == kernel_counter)
        .filter_map(|x| x.words.map(|w| (w, x.median)))
        .collect();
    points.sort_by_key(|(w, _)| *w);
    points.dedup_by_key(|(w, _)| *w);
    Some((relabel(kernel_counter, r.accel_kind), points))
}

/// Escapes text for SVG content and attribute values.
pub(crate) fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A "nice" tick step (1, 2 or 5 times a power of ten) giving about five
/// ticks up to `max`, and the axis top (a multiple of the step >= `max`).
pub(crate) fn y_axis(max: f64) -> (f64, f64) {
    if !(max.is_finite() && max > 0.0) {
        return (0.2, 1.0);
    }
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    (step, (max / step).ceil() * step)
}

/// The tick label of `v` on an axis with step `step`.
pub(crate) fn tick_label(v: f64, step: f64) -> String {
    let decimals = (-step.log10().floor()).clamp(0.0, 3.0) as usize;
    format!("{v:.decimals$}")
}

/// An SVG document `width` x `height` on a white background, with `title`
/// and the run's board, accelerator and `counter` under it (the caller
/// adds the plot and the closing tag).
pub(crate) fn svg_start(width: f64, height: f64, title: &str, r: &Report, counter: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\">"
    );
    let _ = writeln!(
        s,
        "<rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"white\"/>"
    );
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"28\" text-anchor=\"middle\" font-size=\"17\" font-weight=\"bold\">{}</text>",
        width / 2.0,
        xml(title)
    );
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"50\" text-anchor=\"middle\" font-size=\"13\">board {}, accel {}, counter {}</text>",
        width / 2.0,
        xml(&r.board),
        xml(r.accel),
        xml(counter)
    );
    s
}

/// Horizontal grid lines and y tick labels from 0 to `y_max` every `step`,
/// for a plot area `pw` wide starting at `left`; `y` maps a value to its
/// pixel row.
pub(crate) fn y_grid(
    s: &mut String,
    left: f64,
    pw: f64,
    y_max: f64,
    step: f64,
    y: impl Fn(f64) -> f64,
) {
    let mut v = 0.0;
    while v <= y_max + step / 2.0 {
        let yy = y(v);
        let _ = writeln!(
            s,
            "<line x1=\"{left}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#e0e0e0\"/>",
            left + pw
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"11\">{}</text>",
            left - 6.0,
            yy + 4.0,
            tick_label(v, step)
        );
        v += step;
    }
}

/// The x and y axes of a plot area `pw` x `ph` at (`left`, `top`).
pub(crate) fn axes(s: &mut String, left: f64, top: f64, pw: f64, ph: f64) {
    let _ = writeln!(
        s,
        "<line x1=\"{left}\" y1=\"{0:.1}\" x2=\"{1:.1}\" y2=\"{0:.1}\" stroke=\"black\"/>",
        top + ph,
        left + pw
    );
    let _ = writeln!(
        s,
        "<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{:.1}\" stroke=\"black\"/>",
        top + ph
    );
}

/// The sweep plot as an SVG document, or `None` when the report has no
/// verified sweep figure.
pub fn sweep_svg(r: &Report) -> Option<String> {
    let (label, points) = series(r)?;
    let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let x_max = points.iter().map(|(w, _)| *w).max().unwrap_or(0).max(1) as f64;
    let y_max_data = points.iter().map(|(_, m)| *m).fold(0.0, f64::max);
    let (step, y_max) = y_axis(y_max_data);
    let x = |w: f64| LEFT + w / x_max * pw;
    let y = |v: f64| TOP + ph - v / y_max * ph;

    let mut s = svg_start(
        WIDTH,
        HEIGHT,
        "Message-size sweep (ipc-inter, one-way IPC)",
        r,
        &label.row,
    );
    // Grid and y ticks.
    y_grid(&mut s, LEFT, pw, y_max, step, y);
    // Registers | UTCB boundary, when the sweep crosses it.
    let regs = points.iter().any(|(w, _)| *w <= REGISTER_WORDS);
    let utcb = points.iter().any(|(w, _)| *w > REGISTER_WORDS);
    if regs && utcb {
        let bx = x(REGISTER_WORDS as f64 + 0.5);
        let _ = writeln!(
            s,
            "<line x1=\"{bx:.1}\" y1=\"{TOP}\" x2=\"{bx:.1}\" y2=\"{:.1}\" stroke=\"#888888\" stroke-dasharray=\"4 3\"/>",
            TOP + ph
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"start\" font-size=\"11\" fill=\"#555555\">&#8592; registers (&lt;= {REGISTER_WORDS} words) | UTCB &#8594;</text>",
            bx + 4.0,
            TOP + 14.0
        );
    }
    // Axes.
    axes(&mut s, LEFT, TOP, pw, ph);
    // x ticks at the measured sizes.
    for (w, _) in &points {
        let xx = x(*w as f64);
        let _ = writeln!(
            s,
            "<line x1=\"{xx:.1}\" y1=\"{0:.1}\" x2=\"{xx:.1}\" y2=\"{1:.1}\" stroke=\"black\"/>",
            TOP + ph,
            TOP + ph + 5.0
        );
        let _ = writeln!(
            s,
            "<text x=\"{xx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"11\">{w}</text>",
            TOP + ph + 18.0
        );
    }
    // Axis labels.
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"13\">message length (words)</text>",
        LEFT + pw / 2.0,
        HEIGHT - 22.0
    );
    let (ly_x, ly_y) = (24.0, TOP + ph / 2.0);
    let _ = writeln!(
        s,
        "<text x=\"{ly_x}\" y=\"{ly_y:.1}\" text-anchor=\"middle\" font-size=\"13\" transform=\"rotate(-90 {ly_x} {ly_y:.1})\">{} per one-way IPC (median)</text>",
        xml(&label.counter)
    );
    // The series.
    let coords: Vec<String> = points
        .iter()
        .map(|(w, m)| format!("{:.1},{:.1}", x(*w as f64), y(*m)))
        .collect();
    let _ = writeln!(
        s,
        "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"{}\"/>",
        coords.join(" ")
    );
    for (w, m) in &points {
        let _ = writeln!(
            s,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"#1f77b4\"><title>{w} words: {m:.2} {}</title></circle>",
            x(*w as f64),
            y(*m),
            xml(&label.counter)
        );
    }
    s.push_str("</svg>\n");
    Some(s)
}

/// The files [`write_sweep`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlotFiles {
    /// The SVG.
    pub svg: PathBuf,
    /// The PNG, when ImageMagick made one.
    pub png: Option<PathBuf>,
}

/// Writes `sweep.svg` (and, if ImageMagick is installed, `sweep.png`) into
/// `dir`; `None` when the report has no sweep figures.
pub fn write_sweep(r: &Report, dir: &Path) -> Result<Option<PlotFiles>> {
    let Some(svg) = sweep_svg(r) else {
        return Ok(None);
    };
    let svg_path = dir.join(SVG_NAME);
    fs::write(&svg_path, svg).with_context(|| format!("cannot write {}", svg_path.display()))?;
    let png = to_png(&svg_path, &dir.join(PNG_NAME));
    Ok(Some(PlotFiles { svg: svg_path, png }))
}

/// Whether `/usr/bin/convert` is ImageMagick (not a stand-in of that name).
fn have_imagemagick() -> bool {
    Path::new(CONVERT).is_file()
        && crate::util::output_timeout(
            {
                let mut c = Command::new(CONVERT);
                c.arg("-version");
                c
            },
            crate::util::QUICK_TIMEOUT,
        )
        .is_ok_and(|o| {
                o.status.success()
                    && String::from_utf8_lossy(&o.stdout).starts_with("Version: ImageMagick")
            })
}

/// Converts the SVG to a PNG with ImageMagick; `None`, silently, when there
/// is no ImageMagick or it fails.
pub(crate) fn to_png(svg: &Path, png: &Path) -> Option<PathBuf> {
    if !have_imagemagick() {
        return None;
    }
    let mut c = Command::new(CONVERT);
    c.arg(svg).arg(png);
    let ok = crate::util::output_timeout(c, crate::util::QUICK_TIMEOUT).is_ok_and(|o| o.status.success());
    (ok && png.is_file()).then(|| png.to_path_buf())
}

/// File name of the `--latency` histogram of `bench`.
pub fn latency_svg_name(bench: &str) -> String {
    format!("latency-{bench}.svg")
}

/// The latency histogram of one record as an SVG document: a bar per bin
/// (rounds per bin, from the cheapest round to p99's bin), dashed lines at
/// p50, p90 and p99, and the figures (and the rounds above the last bin)
/// under the title. `None` without latency figures.
pub fn latency_svg(r: &Report, rec: &crate::report::Record) -> Option<String> {
    let l = rec.latency.as_ref()?;
    let label = relabel(&rec.kernel_counter, r.accel_kind);
    let bins = &l.histogram;
    let (first, last) = (bins.first()?, bins.last()?);
    // A bin's width of room on either side, so that one bar (icount:
    // every round the same) does not fill the plot.
    let w = (first.hi - first.lo) as f64;
    let (x_lo, x_hi) = (first.lo as f64 - w, last.hi as f64 + w);
    let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let (step, y_max) = y_axis(bins.iter().map(|b| b.count).max().unwrap_or(0) as f64);
    let x = |v: f64| LEFT + (v - x_lo) / (x_hi - x_lo).max(1.0) * pw;
    let y = |v: f64| TOP + ph - v / y_max * ph;
    let title = format!("{} latency: {} per {}, each round timed", rec.bench, label.counter, l.unit);
    let mut s = svg_start(WIDTH, HEIGHT, &title, r, &label.row);
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"68\" text-anchor=\"middle\" font-size=\"12\">{} rounds: min {} p50 {} p90 {} p99 {} max {}; counter read {} subtracted{}</text>",
        WIDTH / 2.0,
        l.samples,
        l.min,
        l.p50,
        l.p90,
        l.p99,
        l.max,
        l.counter_overhead,
        if l.above_histogram > 0 { format!("; {} above the last bin", l.above_histogram) } else { String::new() }
    );
    y_grid(&mut s, LEFT, pw, y_max, step, y);
    for b in bins {
        let (x0, x1) = (x(b.lo as f64), x(b.hi as f64));
        let _ = writeln!(
            s,
            "<rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#1f77b4\" stroke=\"white\"><title>{}..{}: {} rounds</title></rect>",
            y(b.count as f64),
            (x1 - x0).max(1.0),
            TOP + ph - y(b.count as f64),
            b.lo,
            b.hi,
            b.count
        );
    }
    for (name, v) in [("p50", l.p50), ("p90", l.p90), ("p99", l.p99)] {
        // A percentile falls in its bin: mark the bin's middle of its value.
        let xx = x(v as f64 + 0.5);
        let _ = writeln!(
            s,
            "<line x1=\"{xx:.1}\" y1=\"{TOP}\" x2=\"{xx:.1}\" y2=\"{:.1}\" stroke=\"#d62728\" stroke-dasharray=\"4 3\"><title>{name} {v}</title></line>",
            TOP + ph
        );
    }
    axes(&mut s, LEFT, TOP, pw, ph);
    // x ticks: the bins' bounds, at most about ten labels.
    let every = bins.len().div_ceil(10).max(1);
    for b in bins.iter().step_by(every) {
        let xx = x(b.lo as f64);
        let _ = writeln!(
            s,
            "<line x1=\"{xx:.1}\" y1=\"{0:.1}\" x2=\"{xx:.1}\" y2=\"{1:.1}\" stroke=\"black\"/>\n<text x=\"{xx:.1}\" y=\"{2:.1}\" text-anchor=\"middle\" font-size=\"11\">{3}</text>",
            TOP + ph,
            TOP + ph + 5.0,
            TOP + ph + 18.0,
            b.lo
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"13\">{} per {} (read overhead subtracted)</text>",
        LEFT + pw / 2.0,
        HEIGHT - 22.0,
        xml(&label.counter),
        xml(&l.unit)
    );
    let (ly_x, ly_y) = (24.0, TOP + ph / 2.0);
    let _ = writeln!(
        s,
        "<text x=\"{ly_x}\" y=\"{ly_y:.1}\" text-anchor=\"middle\" font-size=\"13\" transform=\"rotate(-90 {ly_x} {ly_y:.1})\">rounds</text>"
    );
    s.push_str("</svg>\n");
    Some(s)
}

/// Writes `latency-<bench>.svg` into `dir` for every record with latency
/// figures; returns the files written.
pub fn write_latency(r: &Report, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for rec in r.results.iter().filter(|x| x.latency.is_some()) {
        if let Some(svg) = latency_svg(r, rec) {
            let path = dir.join(latency_svg_name(&rec.bench));
            fs::write(&path, svg).with_context(|| format!("cannot write {}", path.display()))?;
            files.push(path);
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::Accel;
    use crate::protocol::tests::{PASS, pass_with_sweep};
    use crate::report::tests::report;

    /// The `points` attribute of the first polyline.
    fn polyline_points(svg: &str) -> Vec<(f64, f64)> {
        let start = svg.find("<polyline").expect("a polyline");
        let rest = &svg[start..];
        let p = rest.find("points=\"").expect("points") + "points=\"".len();
        let end = rest[p..].find('"').unwrap();
        rest[p..p + end]
            .split(' ')
            .map(|xy| {
                let (x, y) = xy.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn svg_of_a_sweep_is_produced_and_well_formed() {
        let r = report(&pass_with_sweep(), 33, Accel::Icount);
        let svg = sweep_svg(&r).unwrap();
        assert!(
            svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{svg}"
        );
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<svg").count(), 1);
        assert_eq!(svg.matches("<polyline").count(), 1);
        // Every element is closed: self-closing, or opened and closed as often.
        for tag in ["text", "circle", "title"] {
            assert_eq!(
                svg.matches(&format!("<{tag}")).count(),
                svg.matches(&format!("</{tag}>")).count(),
                "{tag}"
            );
        }
        for line in svg.lines().filter(|l| {
            l.starts_with("<line") || l.starts_with("<rect") || l.starts_with("<polyline")
        }) {
            assert!(line.ends_with("/>"), "{line}");
        }
        assert_eq!(svg.matches('<').count(), svg.matches('>').count());
        // 8 points, left to right, rising with the message length.
        let pts = polyline_points(&svg);
        assert_eq!(pts.len(), 8, "{svg}");
        assert!(
            pts.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 > w[1].1),
            "{pts:?}"
        );
        assert_eq!(svg.matches("<circle").count(), 8);
        assert!(
            (pts[0].0 - LEFT).abs() < 0.1 && (pts[7].0 - (WIDTH - RIGHT)).abs() < 0.1,
            "{pts:?}"
        );
        // Ticks at the measured sizes, labels, title naming board, accel, counter.
        for w in [0, 1, 2, 4, 8, 16, 32, 63] {
            assert!(
                svg.contains(&format!(
                    "text-anchor=\"middle\" font-size=\"11\">{w}</text>"
                )),
                "{w}"
            );
        }
        assert!(svg.contains(">message length (words)</text>"));
        assert!(svg.contains(">instructions per one-way IPC (median)</text>"));
        assert!(svg.contains(
            ">board pc-x86_64, accel tcg-icount, counter instructions (QEMU icount, TSC)</text>"
        ));
        assert!(svg.contains("registers (&lt;= 4 words) | UTCB"));
        assert!(svg.contains("<title>63 words: 823.00 instructions</title>"));
    }

    #[test]
    fn no_svg_without_a_sweep_and_the_best_counter_is_plotted() {
        assert_eq!(sweep_svg(&report(PASS, 33, Accel::Icount)), None);
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
        let svg = sweep_svg(&r).unwrap();
        assert!(svg.contains(", counter instructions</text>"), "{svg}");
        assert!(
            svg.contains(">instructions per one-way IPC (median)</text>"),
            "{svg}"
        );
        assert_eq!(polyline_points(&svg).len(), 7);
        assert!(!svg.contains("<title>16 words"), "{svg}");
    }

    #[test]
    fn axis_steps_are_nice() {
        assert_eq!(y_axis(823.0), (200.0, 1000.0));
        assert_eq!(y_axis(1637.02), (500.0, 2000.0));
        assert_eq!(y_axis(95.0), (20.0, 100.0));
        assert_eq!(y_axis(0.0), (0.2, 1.0));
        assert_eq!(tick_label(400.0, 200.0), "400");
        assert_eq!(tick_label(0.4, 0.2), "0.4");
        assert_eq!(xml("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }

    #[test]
    fn files_are_written() {
        let dir = std::env::temp_dir().join(format!("xtask-plot-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let r = report(&pass_with_sweep(), 33, Accel::Icount);
        let files = write_sweep(&r, &dir).unwrap().unwrap();
        assert_eq!(files.svg, dir.join(SVG_NAME));
        assert!(fs::read_to_string(&files.svg).unwrap().starts_with("<svg"));
        if let Some(png) = &files.png {
            assert!(fs::read(png).unwrap().starts_with(b"\x89PNG"));
        }
        assert_eq!(
            write_sweep(&report(PASS, 33, Accel::Icount), &dir).unwrap(),
            None
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
