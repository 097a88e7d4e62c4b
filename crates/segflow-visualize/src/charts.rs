//! SVG charts drawn with plotters: a few general shapes (bars, lines, histogram, box plot,
//! scatter, silhouette, heat map) that the stage fills with its artifacts' numbers.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use segflow_core::stats::quantile_sorted;
use segflow_core::{Error, Result};

use crate::binning::{Cell, Histogram, Scale};

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Drawn = std::result::Result<(), DrawingAreaErrorKind<std::io::Error>>;

const WIDTH: u32 = 720;
const HEIGHT: u32 = 380;
const FONT: &str = "sans-serif";

/// Segment colours (a colour-blind-safe qualitative palette), by canonical cluster id.
const PALETTE: [RGBColor; 10] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(240, 228, 66),
    RGBColor(0, 0, 0),
    RGBColor(136, 34, 85),
    RGBColor(68, 170, 153),
];
const ACCENT: RGBColor = RGBColor(0, 114, 178);
const MARK: RGBColor = RGBColor(213, 94, 0);
pub const GOOD: RGBColor = RGBColor(0, 158, 115);
pub const WARN: RGBColor = RGBColor(230, 159, 0);
pub const BAD: RGBColor = RGBColor(213, 94, 0);

/// The cluster id charts use for DBSCAN noise.
pub const NOISE_ID: usize = usize::MAX;

pub fn segment_color(cluster: usize) -> RGBColor {
    if cluster == NOISE_ID {
        return RGBColor(160, 160, 160);
    }
    PALETTE[cluster % PALETTE.len()]
}

/// Axis ticks: whole numbers without decimals, others as plotters would print them.
fn tick(v: &f64) -> String {
    if *v == v.round() && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The label of the category bar at integer position `x`, every `step`-th one shown.
fn category(labels: &[String], step: usize, x: &f64) -> String {
    let i = x.round() as usize;
    if (x - x.round()).abs() < 1e-9 && i < labels.len() && i.is_multiple_of(step) {
        labels[i].clone()
    } else {
        String::new()
    }
}

fn svg(size: (u32, u32), draw: impl FnOnce(&Area<'_>) -> Drawn) -> Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE)
            .and_then(|_| draw(&root))
            .and_then(|_| root.present())
            .map_err(|e| Error::Internal(format!("drawing a chart: {e}")))?;
    }
    Ok(out)
}

/// A padded value range that always has some width.
fn range(values: impl Iterator<Item = f64>, from_zero: bool) -> std::ops::Range<f64> {
    let (mut lo, mut hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if from_zero {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    let pad = ((hi - lo) * 0.06).max(1e-9);
    (if from_zero && lo == 0.0 {
        0.0
    } else {
        lo - pad
    })..(hi + pad)
}

/// Vertical bars with category labels; `highlight` draws one bar in the accent colour.
pub fn bars(
    title: &str,
    y_desc: &str,
    labels: &[String],
    values: &[f64],
    colors: Option<&[RGBColor]>,
) -> Result<String> {
    let n = labels.len();
    let step = (n / 12).max(1);
    svg((WIDTH, HEIGHT), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 18))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(-0.5f64..n as f64 - 0.5, range(values.iter().copied(), true))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n.min(12))
            .x_label_formatter(&|x| category(labels, step, x))
            .y_desc(y_desc)
            .y_label_formatter(&tick)
            .draw()?;
        chart.draw_series(values.iter().enumerate().map(|(i, &v)| {
            let color = colors.map_or(ACCENT, |c| c[i % c.len()]);
            Rectangle::new([(i as f64 - 0.4, 0.0), (i as f64 + 0.4, v)], color.filled())
        }))?;
        Ok(())
    })
}

/// A line with points over numeric x; `mark` draws a vertical line at that x (the chosen K).
pub fn line(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    points: &[(f64, f64)],
    mark: Option<(f64, String)>,
) -> Result<String> {
    svg((WIDTH, HEIGHT), |root| {
        let xr = range(points.iter().map(|p| p.0), false);
        let yr = range(points.iter().map(|p| p.1), false);
        let (ylo, yhi) = (yr.start, yr.end);
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(72)
            .build_cartesian_2d(xr, yr)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .draw()?;
        if let Some((x, label)) = &mark {
            chart
                .draw_series(LineSeries::new(
                    [(*x, ylo), (*x, yhi)],
                    MARK.stroke_width(2),
                ))?
                .label(label.clone())
                .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], MARK.stroke_width(2)));
        }
        chart.draw_series(LineSeries::new(
            points.iter().copied(),
            ACCENT.stroke_width(2),
        ))?;
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, ACCENT.filled())))?;
        if mark.is_some() {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()?;
        }
        Ok(())
    })
}

/// A histogram of counted bins; on a logarithmic scale the x axis is labelled in the
/// values' own units at 0, 1, 2, 5, 10, 20, 50, … .
pub fn histogram(title: &str, x_desc: &str, h: &Histogram) -> Result<String> {
    let bins = h.counts.len();
    let (lo, hi) = (h.edges[0], h.edges[bins]);
    let max = *h.counts.iter().max().unwrap_or(&1) as f64 * 1.05;
    svg((WIDTH, HEIGHT), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(lo..hi, 0f64..max)?;
        let mut mesh = chart.configure_mesh();
        mesh.disable_x_mesh()
            .y_desc("count")
            .x_label_formatter(&tick)
            .y_label_formatter(&tick);
        match h.scale {
            Scale::Linear => mesh.x_desc(x_desc).draw()?,
            // plotters' own ticks would fall at even steps of log10(1 + value); the axis is
            // labelled at round values instead, drawn below it by hand.
            Scale::Log => mesh
                .x_desc(format!("{x_desc}, logarithmic scale"))
                .x_labels(0)
                .draw()?,
        }
        chart.draw_series(bin_bars(h))?;
        if h.scale == Scale::Log {
            let style = TextStyle::from((FONT, 12).into_font())
                .pos(Pos::new(HPos::Center, VPos::Top))
                .color(&BLACK);
            for t in log_ticks(lo, hi) {
                let (x, y) = chart.backend_coord(&(t, 0.0));
                root.draw(&PathElement::new([(x, y), (x, y + 5)], BLACK))?;
                root.draw(&Text::new(
                    tick(&Scale::Log.from_axis(t).round()),
                    (x, y + 7),
                    style.clone(),
                ))?;
            }
        }
        Ok(())
    })
}

fn bin_bars(h: &Histogram) -> impl Iterator<Item = Rectangle<(f64, f64)>> + '_ {
    h.counts.iter().enumerate().map(|(b, &c)| {
        Rectangle::new(
            [(h.edges[b], 0.0), (h.edges[b + 1], c as f64)],
            ACCENT.filled(),
        )
    })
}

/// Positions on the log10(1 + value) axis of the values 0, 1, 2, 5, 10, 20, 50, … that lie
/// within `lo..=hi`.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut values = vec![0.0];
    let mut decade = 1.0;
    while decade <= 1e15 {
        values.extend([decade, 2.0 * decade, 5.0 * decade]);
        decade *= 10.0;
    }
    values
        .into_iter()
        .map(|v| Scale::Log.to_axis(v))
        .filter(|t| (lo..=hi).contains(t))
        .collect()
}

/// A horizontal box plot: quartiles, whiskers at 1.5 IQR, outliers as dots.
pub fn boxplot(title: &str, x_desc: &str, values: &[f64]) -> Result<String> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let q = |p: f64| quantile_sorted(&sorted, p);
    let (q1, med, q3) = (q(0.25), q(0.5), q(0.75));
    let iqr = q3 - q1;
    let lo_w = sorted
        .iter()
        .copied()
        .find(|&v| v >= q1 - 1.5 * iqr)
        .unwrap_or(q1);
    let hi_w = sorted
        .iter()
        .rev()
        .copied()
        .find(|&v| v <= q3 + 1.5 * iqr)
        .unwrap_or(q3);
    let mut outliers: Vec<f64> = sorted
        .iter()
        .copied()
        .filter(|&v| v < lo_w || v > hi_w)
        .collect();
    outliers.dedup();
    svg((WIDTH, 220), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(20)
            .build_cartesian_2d(range(sorted.iter().copied(), true), 0f64..2f64)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc(x_desc)
            .x_label_formatter(&tick)
            .draw()?;
        chart.draw_series([
            Rectangle::new([(q1, 0.6), (q3, 1.4)], ACCENT.mix(0.35).filled()),
            Rectangle::new([(q1, 0.6), (q3, 1.4)], ACCENT.stroke_width(2)),
        ])?;
        chart.draw_series(
            [
                [(med, 0.6), (med, 1.4)],
                [(lo_w, 1.0), (q1, 1.0)],
                [(q3, 1.0), (hi_w, 1.0)],
                [(lo_w, 0.8), (lo_w, 1.2)],
                [(hi_w, 0.8), (hi_w, 1.2)],
            ]
            .into_iter()
            .map(|seg| PathElement::new(seg, BLACK.stroke_width(2))),
        )?;
        // Outliers that land on the same pixel column would be identical SVG elements: one is
        // drawn, which bounds the chart's size by its width whatever the number of values.
        let mut pixels = std::collections::BTreeSet::new();
        outliers.retain(|v| pixels.insert(chart.backend_coord(&(*v, 1.0)).0));
        chart.draw_series(
            outliers
                .iter()
                .map(|&v| Circle::new((v, 1.0), 2, MARK.mix(0.6).filled())),
        )?;
        Ok(())
    })
}

/// Points coloured by segment, with each segment's centroid as a labelled cross.
pub fn scatter(
    title: &str,
    axes: (&str, &str),
    points: &[(f64, f64, usize)],
    centroids: &[(f64, f64, String)],
) -> Result<String> {
    svg((WIDTH, 480), |root| {
        let xr = range(
            points
                .iter()
                .map(|p| p.0)
                .chain(centroids.iter().map(|c| c.0)),
            false,
        );
        let yr = range(
            points
                .iter()
                .map(|p| p.1)
                .chain(centroids.iter().map(|c| c.1)),
            false,
        );
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(xr, yr)?;
        chart
            .configure_mesh()
            .x_desc(axes.0)
            .y_desc(axes.1)
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .draw()?;
        chart.draw_series(
            points
                .iter()
                .map(|&(x, y, c)| Circle::new((x, y), 2, segment_color(c).mix(0.55).filled())),
        )?;
        centroid_crosses(&mut chart, centroids)
    })
}

type Plane<'a> = ChartContext<
    'a,
    SVGBackend<'a>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Each segment's centroid as a black cross, named in the legend beside its colour.
fn centroid_crosses(chart: &mut Plane<'_>, centroids: &[(f64, f64, String)]) -> Drawn {
    for (c, (x, y, name)) in centroids.iter().enumerate() {
        chart
            .draw_series([Cross::new((*x, *y), 7, BLACK.stroke_width(3))])?
            .label(name.clone())
            .legend(move |(x, y)| Circle::new((x + 8, y), 5, segment_color(c).filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// The density of many points: each occupied cell of a `grid` over the plane in the colour
/// of its most common segment, more opaque where it holds more points (logarithmically, in
/// steps of 0.1), with each segment's centroid as a labelled cross on top.
pub fn density(
    title: &str,
    axes: (&str, &str),
    points: &[(f64, f64, usize)],
    centroids: &[(f64, f64, String)],
    grid: (usize, usize),
) -> Result<(String, usize)> {
    let xr = range(
        points
            .iter()
            .map(|p| p.0)
            .chain(centroids.iter().map(|c| c.0)),
        false,
    );
    let yr = range(
        points
            .iter()
            .map(|p| p.1)
            .chain(centroids.iter().map(|c| c.1)),
        false,
    );
    let cells = crate::binning::density(points, &xr, &yr, grid);
    let most = cells.iter().map(|c| c.count).max().unwrap_or(1);
    let (w, h) = (
        (xr.end - xr.start) / grid.0 as f64,
        (yr.end - yr.start) / grid.1 as f64,
    );
    let opacity = |c: &Cell| {
        let share = (1.0 + c.count as f64).ln() / (1.0 + most as f64).ln();
        (2.0 + 8.0 * share).round() / 10.0
    };
    let drawn = svg((WIDTH, 480), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(xr.clone(), yr.clone())?;
        chart
            .configure_mesh()
            .x_desc(axes.0)
            .y_desc(axes.1)
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .draw()?;
        chart.draw_series(cells.iter().map(|c| {
            let (x0, y0) = (xr.start + c.at.0 as f64 * w, yr.start + c.at.1 as f64 * h);
            Rectangle::new(
                [(x0, y0), (x0 + w, y0 + h)],
                segment_color(c.segment).mix(opacity(c)).filled(),
            )
        }))?;
        centroid_crosses(&mut chart, centroids)
    })?;
    Ok((drawn, cells.len()))
}

/// The per-sample silhouette plot: each segment's values sorted, as a filled band.
/// Above [`crate::binning::POINTS_DRAWN_ONE_BY_ONE`] values, each outline keeps every
/// `step`-th rank (and the last): the bands are monotone, so the shape is kept.
pub fn silhouette(
    title: &str,
    values: &[(usize, f64)],
    names: &[String],
    mean: f64,
    step: usize,
) -> Result<String> {
    let k = names.len();
    let mut by_cluster: Vec<Vec<f64>> = vec![Vec::new(); k];
    for &(c, v) in values {
        by_cluster[c].push(v);
    }
    by_cluster
        .iter_mut()
        .for_each(|v| v.sort_by(|a, b| b.total_cmp(a)));
    let gap = (values.len() as f64 * 0.02).max(2.0);
    let total = values.len() as f64 + gap * (k as f64 + 1.0);
    svg((WIDTH, 480), |root| {
        let lo = values.iter().map(|v| v.1).fold(0.0f64, f64::min).min(-0.1);
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(110)
            .build_cartesian_2d(lo..1.0, 0.0..total)?;
        let mut starts = Vec::new();
        let mut y = gap;
        for v in &by_cluster {
            starts.push(y);
            y += v.len() as f64 + gap;
        }
        let label_at: Vec<(f64, String)> = starts
            .iter()
            .zip(&by_cluster)
            .zip(names)
            .map(|((s, v), n)| (s + v.len() as f64 / 2.0, n.clone()))
            .collect();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc("silhouette")
            .x_label_formatter(&tick)
            .draw()?;
        for (c, (v, &start)) in by_cluster.iter().zip(&starts).enumerate() {
            let mut outline: Vec<(f64, f64)> = vec![(0.0, start)];
            outline.extend(
                crate::binning::thinned_ranks(v.len(), step)
                    .into_iter()
                    .map(|i| (v[i], start + i as f64)),
            );
            outline.push((0.0, start + v.len() as f64));
            chart.draw_series([Polygon::new(outline, segment_color(c).mix(0.8).filled())])?;
        }
        chart.draw_series(label_at.iter().map(|(y, name)| {
            Text::new(name.clone(), (lo, *y), (FONT, 13).into_font().color(&BLACK))
        }))?;
        chart
            .draw_series(LineSeries::new(
                [(mean, 0.0), (mean, total)],
                MARK.stroke_width(2),
            ))?
            .label(format!("mean {mean:.3}"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], MARK.stroke_width(2)));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        Ok(())
    })
}

/// Rows (features) × columns (segments) coloured by a signed value, clamped at ±`limit`.
pub fn heatmap(
    title: &str,
    rows: &[String],
    columns: &[String],
    value: &dyn Fn(usize, usize) -> f64,
    limit: f64,
) -> Result<String> {
    let (nr, nc) = (rows.len(), columns.len());
    let cell_h = 22u32;
    let height = 90 + cell_h * nr as u32;
    svg((WIDTH, height), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 18))
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(170)
            .build_cartesian_2d(0f64..nc as f64, 0f64..nr as f64)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(nc * 2 + 1)
            .y_labels(nr * 2 + 1)
            .x_label_formatter(&|x| {
                let i = (x - 0.5).round();
                if (x - 0.5 - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < nc {
                    columns[i as usize].clone()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| {
                let i = (y - 0.5).round();
                if (y - 0.5 - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < nr {
                    rows[nr - 1 - i as usize].clone()
                } else {
                    String::new()
                }
            })
            .draw()?;
        for r in 0..nr {
            for c in 0..nc {
                let v = value(r, c);
                let t = (v / limit).clamp(-1.0, 1.0);
                let color = if t >= 0.0 {
                    RGBColor(255, (255.0 * (1.0 - t)) as u8, (255.0 * (1.0 - t)) as u8)
                } else {
                    RGBColor((255.0 * (1.0 + t)) as u8, (255.0 * (1.0 + t)) as u8, 255)
                };
                let y = (nr - 1 - r) as f64;
                chart.draw_series([
                    Rectangle::new([(c as f64, y), (c as f64 + 1.0, y + 1.0)], color.filled()),
                    Rectangle::new(
                        [(c as f64, y), (c as f64 + 1.0, y + 1.0)],
                        WHITE.stroke_width(1),
                    ),
                ])?;
                chart.draw_series([Text::new(
                    format!("{v:+.2}"),
                    (c as f64 + 0.42, y + 0.7),
                    (FONT, 11).into_font().color(&BLACK),
                )])?;
            }
        }
        Ok(())
    })
}

/// Bars (a mean per segment) with whiskers from a low to a high value, and reference lines.
pub fn bars_with_range(
    title: &str,
    y_desc: &str,
    labels: &[String],
    stats: &[(f64, f64, f64)],
    references: &[(f64, &str, RGBColor)],
) -> Result<String> {
    let n = labels.len();
    svg((WIDTH, HEIGHT), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.5f64..n as f64 - 0.5, 0f64..1.05f64)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| category(labels, 1, x))
            .y_desc(y_desc)
            .y_label_formatter(&tick)
            .draw()?;
        chart.draw_series(stats.iter().enumerate().map(|(i, &(mean, _, _))| {
            Rectangle::new(
                [(i as f64 - 0.35, 0.0), (i as f64 + 0.35, mean)],
                segment_color(i).mix(0.85).filled(),
            )
        }))?;
        chart.draw_series(stats.iter().enumerate().map(|(i, &(_, lo, hi))| {
            PathElement::new([(i as f64, lo), (i as f64, hi)], BLACK.stroke_width(2))
        }))?;
        for &(y, label, color) in references {
            chart
                .draw_series(LineSeries::new(
                    [(-0.5, y), (n as f64 - 0.5, y)],
                    color.stroke_width(2),
                ))?
                .label(format!("{label} ({y})"))
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2))
                });
        }
        if !references.is_empty() {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()?;
        }
        Ok(())
    })
}
