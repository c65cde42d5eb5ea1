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
//! cores: every core's instructions advance the one clock), the subtitle
//! says the bars are not per-core costs.

use std::fmt::Write;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::plot::{axes, svg_start, to_png, xml, y_axis, y_grid};
use crate::report::{Record, Report, counter_rank, relabel};

/// Width of the chart while its plot area gives every core at least
/// [`MIN_SLOT`]; wider beyond.
const WIDTH: f64 = 720.0;
/// The narrowest slot a core gets; more cores make the chart wider.
const MIN_SLOT: f64 = 9.0;
/// Narrowest slot that still carries the bar's value above it (a label
/// such as `1620.50` at font size 11); below it the chart prints a
/// min / median / max line instead.
const VALUE_LABEL_SLOT: f64 = 40.0;
/// Least distance between two core numbers on the x axis.
const CORE_LABEL_GAP: f64 = 28.0;
const HEIGHT: f64 = 440.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 86.0;
const BOTTOM: f64 = 64.0;

/// The benchmarks drawn per core, in the order they are written.
pub const PER_CORE: [&str; 3] = ["ipc-intra-parallel", "syscall-parallel", "ipc-cross-core"];

/// `bench`'s verified records for its first counter in table order, by core.
fn bars<'a>(r: &'a Report, bench: &str) -> Vec<&'a Record> {
    let recs = || {
        r.results
            .iter()
            .filter(move |x| x.bench == bench && x.verified)
    };
    let Some(counter) = recs()
        .map(|x| x.kernel_counter.as_str())
        .min_by_key(|c| counter_rank(&relabel(c, r.accel_kind).counter))
    else {
        return Vec::new();
    };
    let mut v: Vec<&Record> = recs().filter(|x| x.kernel_counter == counter).collect();
    v.sort_by_key(|x| x.core);
    v.dedup_by_key(|x| x.core);
    v
}

/// The per-core bar chart of `bench`, or `None` without a verified record.
pub fn cores_svg(r: &Report, bench: &str) -> Option<String> {
    let recs = bars(r, bench);
    let first = recs.first()?;
    let label = relabel(&first.kernel_counter, r.accel_kind);
    let unit = first.unit.replace('-', " ");
    let shared = recs.iter().any(|x| x.shared_clock);
    let n = recs.len() as f64;
    // 96 or 256 cores: a wider chart, every k-th core numbered, and the
    // values summed up in one line instead of one label per bar.
    let pw = (WIDTH - LEFT - RIGHT).max(n * MIN_SLOT);
    let width = pw + LEFT + RIGHT;
    let ph = HEIGHT - TOP - BOTTOM;
    let y_top = recs.iter().map(|x| x.max.max(x.median)).fold(0.0, f64::max);
    let (step, y_max) = y_axis(y_top);
    let slot = pw / n;
    let every = [1usize, 2, 4, 8, 16, 32, 64]
        .into_iter()
        .find(|k| slot * *k as f64 >= CORE_LABEL_GAP)
        .unwrap_or(64);
    let bar = (slot * 0.6).min(80.0);
    let y = |v: f64| TOP + ph - v / y_max * ph;

    let title = format!("{bench} on {} cores at once", recs.len());
    let mut s = svg_start(width, HEIGHT, &title, r, &label.row);
    if shared {
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"70\" text-anchor=\"middle\" font-size=\"12\" fill=\"#b00000\">shared clock: every core's instructions advance it, so a bar is not that core's cost</text>",
            width / 2.0
        );
    }
    y_grid(&mut s, LEFT, pw, y_max, step, y);
    axes(&mut s, LEFT, TOP, pw, ph);
    let fill = if shared { "#9e9e9e" } else { "#1f77b4" };
    for (i, rec) in recs.iter().enumerate() {
        let cx = LEFT + slot * (i as f64 + 0.5);
        let (top, base) = (y(rec.median), y(0.0));
        let _ = writeln!(
            s,
            "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{bar:.1}\" height=\"{:.1}\" fill=\"{fill}\"><title>core {}: {:.2} {}</title></rect>",
            cx - bar / 2.0,
            base - top,
            rec.core,
            rec.median,
            xml(&label.counter)
        );
        if rec.max > rec.min {
            let _ = writeln!(
                s,
                "<line x1=\"{cx:.1}\" y1=\"{:.1}\" x2=\"{cx:.1}\" y2=\"{:.1}\" stroke=\"black\"/>",
                y(rec.min),
                y(rec.max)
            );
        }
        if slot >= VALUE_LABEL_SLOT {
            let _ = writeln!(
                s,
                "<text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"11\">{:.2}</text>",
                top - 6.0,
                rec.median
            );
        }
        if i % every == 0 {
            let _ = writeln!(
                s,
                "<text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"12\">{}</text>",
                TOP + ph + 18.0,
                rec.core
            );
        }
    }
    if slot < VALUE_LABEL_SLOT {
        summary(&mut s, &recs, LEFT + pw / 2.0, TOP - 4.0);
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"13\">core</text>",
        LEFT + pw / 2.0,
        HEIGHT - 20.0
    );
    let (ly_x, ly_y) = (24.0, TOP + ph / 2.0);
    let _ = writeln!(
        s,
        "<text x=\"{ly_x}\" y=\"{ly_y:.1}\" text-anchor=\"middle\" font-size=\"13\" transform=\"rotate(-90 {ly_x} {ly_y:.1})\">{} per {} (median)</text>",
        xml(&label.counter),
        xml(&unit)
    );
    s.push_str("</svg>\n");
    Some(s)
}

/// One line above the bars of a many-core chart: the lowest and highest
/// median (with their cores) and the median of the medians.
fn summary(s: &mut String, recs: &[&Record], cx: f64, y: f64) {
    let lo = recs.iter().min_by(|a, b| a.median.total_cmp(&b.median));
    let hi = recs.iter().max_by(|a, b| a.median.total_cmp(&b.median));
    let (Some(lo), Some(hi)) = (lo, hi) else { return };
    let mut medians: Vec<f64> = recs.iter().map(|r| r.median).collect();
    medians.sort_by(f64::total_cmp);
    let mid = medians[medians.len() / 2];
    let _ = writeln!(
        s,
        "<text x=\"{cx:.1}\" y=\"{y:.1}\" text-anchor=\"middle\" font-size=\"12\">lowest {:.2} (core {}), median {mid:.2}, highest {:.2} (core {})</text>",
        lo.median, lo.core, hi.median, hi.core
    );
}

/// Writes `<bench>.svg` (and `.png` where ImageMagick is) for every
/// per-core benchmark in the report; returns the SVG paths.
pub fn write_cores(r: &Report, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for bench in PER_CORE {
        let Some(svg) = cores_svg(r, bench) else {
            continue;
        };
        let path = dir.join(format!("{bench}.svg"));
        fs::write(&path, svg).with_context(|| format!("cannot write {}", path.display()))?;
        let _ = to_png(&path, &dir.join(format!("{bench}.png")));
        out.push(path);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::Accel;
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
        let svg = cores_svg(&with_cores(4, Accel::Tcg), "ipc-intra-parallel").unwrap();
        assert_eq!(svg.matches("<rect x=").count(), 1 + 4, "background + bars");
        for core in 0..4 {
            assert!(
                svg.contains(&format!("<title>core {core}: 9{core}.00 ")),
                "{svg}"
            );
        }
        assert!(!svg.contains("shared clock"));
        assert!(svg.contains("on 4 cores at once"));
        assert!(cores_svg(&with_cores(4, Accel::Tcg), "syscall-parallel").is_none());
    }

    #[test]
    fn many_cores_stay_readable() {
        let svg = cores_svg(&with_cores(96, Accel::Tcg), "ipc-intra-parallel").unwrap();
        assert_eq!(svg.matches("<rect x=").count(), 1 + 96, "background + bars");
        // Wider than the default, no per-bar values, every 4th core named.
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"984\""), "{svg}");
        assert!(!svg.contains(">90.00</text>"), "{svg}");
        assert!(svg.contains(">92</text>") && !svg.contains(">93</text>"), "{svg}");
        assert!(svg.contains("lowest 90.00 (core 0)"), "{svg}");
    }

    #[test]
    fn shared_clock_is_said_on_the_plot() {
        let svg = cores_svg(&with_cores(2, Accel::Icount), "ipc-intra-parallel").unwrap();
        assert!(svg.contains("shared clock"), "{svg}");
        // One core under icount: exact, nothing to say.
        let svg = cores_svg(&with_cores(1, Accel::Icount), "ipc-intra-parallel").unwrap();
        assert!(!svg.contains("shared clock"), "{svg}");
    }

    #[test]
    fn files_are_written_per_bench() {
        let dir = std::env::temp_dir().join(format!("ipcb-cores-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let files = write_cores(&with_cores(2, Accel::Tcg), &dir).unwrap();
        assert_eq!(files, vec![dir.join("ipc-intra-parallel.svg")]);
        assert!(fs::read_to_string(&files[0]).unwrap().starts_with("<svg"));
        let _ = fs::remove_dir_all(&dir);
    }
}
