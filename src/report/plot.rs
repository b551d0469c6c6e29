//! SVG plots with plotters: miss-ratio curves and latency percentile curves.

use hdrhistogram::Histogram;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::prelude::*;
use std::io;
use std::path::Path;

/// Sixteen distinct colours (Tableau 10, then six darker ones), so that
/// the 16 exact policies each get their own; a group's colour cycles
/// through them while its marker cycles through six shapes, so the first
/// 48 groups differ in colour or marker.
const COLORS: [RGBColor; 16] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 0, 0),
    RGBColor(0, 0, 128),
    RGBColor(128, 128, 0),
    RGBColor(0, 110, 110),
    RGBColor(128, 0, 0),
    RGBColor(210, 160, 0),
];

/// Marker shapes, as polygons in pixel offsets: disc (an octagon),
/// triangle, square, diamond, inverted triangle, plus.
const MARKERS: [&[(i32, i32)]; 6] = [
    &[
        (-2, -4),
        (2, -4),
        (4, -2),
        (4, 2),
        (2, 4),
        (-2, 4),
        (-4, 2),
        (-4, -2),
    ],
    &[(0, -5), (5, 4), (-5, 4)],
    &[(-4, -4), (4, -4), (4, 4), (-4, 4)],
    &[(0, -5), (5, 0), (0, 5), (-5, 0)],
    &[(0, 5), (5, -4), (-5, -4)],
    &[
        (-2, -5),
        (2, -5),
        (2, -2),
        (5, -2),
        (5, 2),
        (2, 2),
        (2, 5),
        (-2, 5),
        (-2, 2),
        (-5, 2),
        (-5, -2),
        (-2, -2),
    ],
];

/// Marker `k`'s polygon, shifted by `dx`.
fn marker(k: usize, dx: i32, fill: ShapeStyle) -> Polygon<(i32, i32)> {
    let pts = MARKERS[k % MARKERS.len()].iter().map(|&(x, y)| (x + dx, y));
    Polygon::new(pts.collect::<Vec<_>>(), fill)
}

/// Dash patterns (dash, gap) in pixels, by a series' `line`: solid, dashed,
/// dotted, long-dashed.
const DASHES: [(u32, u32); 4] = [(0, 0), (8, 5), (2, 4), (16, 5)];

fn err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// A series of (x, y) points. Series of one `group` share a colour and a
/// marker (a policy, say), and `line` picks the dash pattern (0 solid, then
/// dashed, dotted, long-dashed): live or sampled against exact, or one
/// memory size against another.
#[derive(Clone, Debug)]
pub struct Series {
    /// The legend's label.
    pub name: String,
    /// Series of one group share colour and marker.
    pub group: String,
    /// Dash pattern index.
    pub line: usize,
    /// What the dash pattern stands for ("exact", "live", "16 MiB"): the
    /// compact legend's label for it.
    pub style: String,
    /// The points.
    pub points: Vec<(f64, f64)>,
}

/// Past this many series of more than one dash pattern, the legend lists
/// each group once and each dash pattern once, rather than every series:
/// 16 policies drawn exact and sampled would otherwise need 32 entries,
/// more than the plot's height holds.
const COMPACT_LEGEND: usize = 12;

/// A legend entry at `(x, y)`: three strokes of `line`'s dash pattern
/// across 20 pixels (solid: one stroke thrice) and marker `k` in the
/// middle, filled with `fill`.
fn legend_entry<'b>(
    (x, y): (i32, i32),
    line: usize,
    style: ShapeStyle,
    (k, fill): (usize, ShapeStyle),
) -> impl IntoDynElement<'b, SVGBackend<'b>, (i32, i32)> {
    let (dash, gap) = DASHES[line % DASHES.len()];
    let segs: Vec<(i32, i32)> = if dash == 0 {
        vec![(0, 20); 3]
    } else {
        let step = (dash + gap) as i32;
        (0..3)
            .map(|i| (i * step, (i * step + dash as i32).min(20)))
            .collect()
    };
    let seg = |i: usize| PathElement::new(vec![(segs[i].0, 0), (segs[i].1, 0)], style);
    EmptyElement::at((x, y)) + seg(0) + seg(1) + seg(2) + marker(k, 10, fill)
}

/// Draws the series on `chart`, each in its group's colour and marker and
/// its line's dash pattern, with legend entries showing both: one per
/// series, or past [`COMPACT_LEGEND`] one per group and one per dash
/// pattern.
fn draw<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    series: &[Series],
    markers: bool,
) -> io::Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let mut lines: Vec<(usize, &str)> = series.iter().map(|s| (s.line, &s.style[..])).collect();
    lines.sort_unstable();
    lines.dedup_by_key(|l| l.0);
    let compact = series.len() > COMPACT_LEGEND && lines.len() > 1;
    let mut groups: Vec<&str> = Vec::new();
    for s in series {
        let (g, first) = match groups.iter().position(|&g| g == s.group) {
            Some(g) => (g, false),
            None => {
                groups.push(&s.group);
                (groups.len() - 1, true)
            }
        };
        let c = COLORS[g % COLORS.len()];
        let style = c.stroke_width(2);
        let (dash, gap) = DASHES[s.line % DASHES.len()];
        let mut pts = s.points.clone();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let anno = if dash == 0 {
            chart.draw_series(LineSeries::new(pts.clone(), style))
        } else {
            chart.draw_series(DashedLineSeries::new(pts.clone(), dash, gap, style))
        }
        .map_err(err)?;
        // The legend shows the marker only where the plot does.
        let shown = if markers {
            c.filled()
        } else {
            TRANSPARENT.filled()
        };
        if !compact {
            let line = s.line;
            anno.label(s.name.clone())
                .legend(move |p| legend_entry(p, line, style, (g, shown)));
        } else if first {
            anno.label(s.group.clone())
                .legend(move |p| legend_entry(p, 0, style, (g, shown)));
        }
        if markers {
            chart
                .draw_series(
                    pts.iter()
                        .map(|&p| EmptyElement::at(p) + marker(g, 0, c.filled())),
                )
                .map_err(err)?;
        }
    }
    if compact {
        // One grey entry per dash pattern, drawn as an empty series.
        let grey = RGBColor(90, 90, 90).stroke_width(2);
        for &(line, label) in &lines {
            chart
                .draw_series(LineSeries::new(Vec::<(f64, f64)>::new(), grey))
                .map_err(err)?
                .label(label.to_string())
                .legend(move |p| legend_entry(p, line, grey, (0, TRANSPARENT.filled())));
        }
    }
    Ok(())
}

/// The mesh, the series and the legend.
fn finish<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    x_label: &str,
    series: &[Series],
) -> io::Result<()>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc("miss ratio")
        .draw()
        .map_err(err)?;
    // Markers where points are few enough to tell apart.
    let markers = series.iter().map(|s| s.points.len()).max().unwrap_or(0) <= 40;
    draw(chart, series, markers)?;
    // Miss-ratio curves fall from upper left to lower right.
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)
}

/// Miss ratio (y, 0..1) against cache size (x), one line per series; x on
/// a log scale where the sizes span more than 50×.
pub fn miss_ratio_curves(
    path: &Path,
    title: &str,
    x_label: &str,
    series: &[Series],
) -> io::Result<()> {
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let (lo, hi) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let (lo, hi) = if lo <= hi {
        (lo * 0.9, hi * 1.1)
    } else {
        (0.0, 1.0)
    };
    // The y range the curves use, with a margin, inside [0, 1].
    let ys = series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let (y0, y1) = ys.fold((1f64, 0f64), |(a, b), y| (a.min(y), b.max(y)));
    let (y0, y1) = if y0 <= y1 {
        (
            ((y0 - 0.05) * 20.0).floor().max(0.0) / 20.0,
            ((y1 + 0.05) * 20.0).ceil().min(20.0) / 20.0,
        )
    } else {
        (0.0, 1.0)
    };
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(56);
    if lo > 0.0 && hi / lo > 50.0 {
        let mut chart = builder
            .build_cartesian_2d((lo..hi).log_scale(), y0..y1)
            .map_err(err)?;
        finish(&mut chart, &format!("{x_label}, log scale"), series)?;
    } else {
        let mut chart = builder.build_cartesian_2d(lo..hi, y0..y1).map_err(err)?;
        finish(&mut chart, x_label, series)?;
    }
    root.present().map_err(err)
}

/// Latency (µs) against percentile, with x on a log scale of 1/(1-p), as
/// HdrHistogram's plotter draws it. Each curve is a [`Series`] without
/// points, styled as they are, and the histogram its points come from.
pub fn latency_curves(
    path: &Path,
    title: &str,
    curves: &[(Series, &Histogram<u64>)],
) -> io::Result<()> {
    let max_us = curves
        .iter()
        .map(|(_, h)| h.max() as f64 / 1e3)
        .fold(1.0, f64::max);
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(
            (1f64..1e6f64).log_scale(),
            (0.01f64..max_us * 1.5).log_scale(),
        )
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("1/(1-percentile): 10 = p90, 100 = p99, 1000 = p99.9, …")
        .y_desc("latency (µs)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .draw()
        .map_err(err)?;
    let series: Vec<Series> = curves
        .iter()
        .map(|(s, h)| Series {
            points: h
                .iter_quantiles(5)
                .filter(|v| v.quantile_iterated_to() < 1.0)
                .map(|v| {
                    (
                        1.0 / (1.0 - v.quantile_iterated_to()),
                        (v.value_iterated_to() as f64 / 1e3).max(0.01),
                    )
                })
                .filter(|p| p.0 <= 1e6)
                .collect(),
            ..s.clone()
        })
        .collect();
    draw(&mut chart, &series, false)?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}
