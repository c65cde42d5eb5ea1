// SPDX-License-Identifier: MIT OR Apache-2.0
//! The run's SVG plots, drawn with plotters' SVG backend (text stays SVG
//! `<text>`, no font files): [`sweep`] (`sweep.svg`), [`cores`]
//! (`<bench>.svg` per core) and [`latency`] (`latency-<bench>.svg`). This
//! module is what they share: the frame (a title, the run's board,
//! accelerator and counter under it, notes), the axes' style, and writing a
//! plot with a PNG next to it when `/usr/bin/convert` is a real ImageMagick.

pub mod cores;
pub mod latency;
pub mod sweep;

use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use plotters::chart::{ChartBuilder, ChartContext};
use plotters::coord::Shift;
use plotters::coord::cartesian::Cartesian2d;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::drawing::{DrawingArea, DrawingAreaErrorKind, IntoDrawingArea};
use plotters::element::Text;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::backend::SVGBackend;
use plotters::style::{Color, FontStyle, IntoFont, RGBColor, TextStyle, WHITE};

use crate::report::{Record, Report, counter_rank, relabel};

/// The ImageMagick that may turn an SVG into a PNG.
const CONVERT: &str = "/usr/bin/convert";

/// A plot's drawing area.
pub(crate) type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
/// What drawing into it may fail with.
pub(crate) type DrawError = DrawingAreaErrorKind<std::io::Error>;
/// A chart on an area.
pub(crate) type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<XAxis, RangedCoordf64>>;

/// The bars' and the line's colour.
pub(crate) const BLUE: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
/// Notes and marks that are not the data.
pub(crate) const GREY: RGBColor = RGBColor(0x55, 0x55, 0x55);
/// A warning on the plot.
pub(crate) const RED: RGBColor = RGBColor(0xb0, 0x00, 0x00);

/// Sans-serif text `px` pixels high in `style` (plotters writes a size s
/// as `font-size` s / 1.24).
fn styled(px: u32, style: FontStyle) -> TextStyle<'static> {
    TextStyle::from(("sans-serif", f64::from(px) * 1.24, style).into_font())
}

/// [`styled`], normal.
pub(crate) fn font(px: u32) -> TextStyle<'static> {
    styled(px, FontStyle::Normal)
}

/// The verified records `keep` takes that have the first counter in table
/// order (instructions first), one per `key`, by `key`.
pub(crate) fn first_counter<K: Ord>(
    r: &Report,
    keep: impl Fn(&Record) -> bool,
    key: impl Fn(&Record) -> K,
) -> Vec<&Record> {
    let recs = || r.results.iter().filter(|x| x.verified && keep(x));
    let rank = |c: &&str| counter_rank(&relabel(c, r.accel_kind).counter);
    let Some(counter) = recs().map(|x| x.kernel_counter.as_str()).min_by_key(rank) else {
        return Vec::new();
    };
    let mut v: Vec<&Record> = recs().filter(|x| x.kernel_counter == counter).collect();
    v.sort_by_key(|x| key(x));
    v.dedup_by_key(|x| key(x));
    v
}

/// A value as short as it can be said, to two decimals: `85.5`, `147`.
pub(crate) fn short(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// An SVG document `size` pixels on white: `title` in bold, the run's board,
/// accelerator and `counter` under it, then each of `notes` (text, colour)
/// on a line of its own; `draw` draws the rest.
pub(crate) fn svg(
    size: (u32, u32),
    title: &str,
    r: &Report,
    counter: &str,
    notes: &[(String, RGBColor)],
    draw: impl FnOnce(&Area) -> Result<(), DrawError>,
) -> Result<String> {
    let mut doc = String::new();
    {
        let area = SVGBackend::with_string(&mut doc, size).into_drawing_area();
        area.fill(&WHITE)?;
        let x = (size.0 / 2) as i32;
        let centred = |px, style| styled(px, style).pos(Pos::new(HPos::Center, VPos::Bottom));
        area.draw(&Text::new(title, (x, 34), centred(17, FontStyle::Bold)))?;
        let run = format!("board {}, accel {}, counter {counter}", r.board, r.accel);
        area.draw(&Text::new(run, (x, 54), centred(13, FontStyle::Normal)))?;
        for (i, (note, colour)) in notes.iter().enumerate() {
            let style = centred(12, FontStyle::Normal).color(colour);
            area.draw(&Text::new(note.as_str(), (x, 72 + 18 * i as i32), style))?;
        }
        draw(&area)?;
        area.present()?;
    }
    Ok(doc)
}

/// The chart under the frame: the plot area from `top` pixels down to 64
/// above the bottom, from 90 pixels in to 30 from the right; x over `x`
/// with a tick at each of `ticks` named by `x_label`, y from 0 with a tenth
/// of room above `y_max`; grey grid lines at the y ticks; `desc` names the
/// axes.
pub(crate) fn chart<'a, 'b>(
    area: &'a Area<'b>,
    top: u32,
    x: Range<f64>,
    ticks: Vec<f64>,
    x_label: &dyn Fn(&f64) -> String,
    y_max: f64,
    desc: [&str; 2],
) -> Result<Chart<'a, 'b>, DrawError> {
    let mut chart = ChartBuilder::on(area)
        .margin_top(top).margin_left(20).margin_right(30).margin_bottom(14)
        .y_label_area_size(70).x_label_area_size(50)
        .build_cartesian_2d(XAxis { range: x, ticks }, 0.0..(y_max * 1.1).max(1.0))?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .bold_line_style(RGBColor(0xe0, 0xe0, 0xe0))
        .light_line_style(WHITE.mix(0.0))
        .y_labels(8)
        .y_label_formatter(&|v| short(*v))
        .label_style(font(11))
        .axis_desc_style(font(13))
        .x_label_formatter(x_label)
        .x_desc(desc[0])
        .y_desc(desc[1])
        .draw()?;
    Ok(chart)
}

/// An x axis with its ticks where the plot says (plotters' `WithKeyPoints`
/// has no label formatter for f64).
pub(crate) struct XAxis {
    range: Range<f64>,
    ticks: Vec<f64>,
}

impl Ranged for XAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        RangedCoordf64::from(self.range.clone()).map(value, limit)
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() { Vec::new() } else { self.ticks.clone() }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// The files a plot was written to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlotFiles {
    /// The SVG.
    pub svg: PathBuf,
    /// The PNG, when ImageMagick made one.
    pub png: Option<PathBuf>,
}

/// Writes `svg` to `<name>.svg` in `dir` and, where ImageMagick is,
/// `<name>.png` next to it.
pub(crate) fn write(dir: &Path, name: &str, svg: &str) -> Result<PlotFiles> {
    let path = dir.join(format!("{name}.svg"));
    fs::write(&path, svg).with_context(|| format!("cannot write {}", path.display()))?;
    let png = to_png(&path, &dir.join(format!("{name}.png")));
    Ok(PlotFiles { svg: path, png })
}

/// Whether `/usr/bin/convert` is ImageMagick (not a stand-in of that name).
fn have_imagemagick() -> bool {
    let mut c = Command::new(CONVERT);
    c.arg("-version");
    Path::new(CONVERT).is_file()
        && crate::util::output_timeout(c, crate::util::QUICK_TIMEOUT).is_ok_and(|o| {
            o.status.success() && String::from_utf8_lossy(&o.stdout).starts_with("Version: ImageMagick")
        })
}

/// Converts the SVG to a PNG with ImageMagick; `None`, silently, when there
/// is no ImageMagick or it fails.
fn to_png(svg: &Path, png: &Path) -> Option<PathBuf> {
    if !have_imagemagick() {
        return None;
    }
    let mut c = Command::new(CONVERT);
    c.arg(svg).arg(png);
    let ok = crate::util::output_timeout(c, crate::util::QUICK_TIMEOUT).is_ok_and(|o| o.status.success());
    (ok && png.is_file()).then(|| png.to_path_buf())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn values_are_short() {
        assert_eq!([short(800.0), short(0.6000000000000001), short(85.5), short(1.255)], ["800", "0.6", "85.5", "1.25"]);
    }

    /// The text of every `<text>` element, in order.
    pub(crate) fn texts(svg: &str) -> Vec<String> {
        svg.split("<text").skip(1).filter_map(|t| {
            let body = &t[t.find('>')? + 1..t.find("</text>")?];
            Some(body.trim().replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
        }).collect()
    }

    /// Every element is closed and there is one document.
    pub(crate) fn well_formed(svg: &str) {
        assert!(svg.starts_with("<svg "), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<svg").count(), 1);
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
        assert_eq!(svg.matches('<').count(), svg.matches('>').count());
    }
}
