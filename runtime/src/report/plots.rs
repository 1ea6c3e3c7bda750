//! The report's plots, as SVG and PNG: performance profiles (best attempt and last
//! submission), AUP against cost, and scores per task.
//!
//! Text is drawn with DejaVu Sans embedded in the binary (`runtime/assets/`, Bitstream Vera
//! licence), so no system font, fontconfig or network is needed.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use super::{Report, ReportError, BASELINE};

/// DejaVu Sans 2.37 (see `runtime/assets/DejaVuSans.LICENSE.txt`).
const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
/// Font family name the plots use.
const FAMILY: &str = "sans-serif";

/// Distinct colours for models; the baseline is black.
const PALETTE: [(u8, u8, u8); 16] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
    (57, 59, 121),
    (173, 73, 74),
    (99, 121, 57),
    (140, 109, 49),
    (123, 65, 115),
    (82, 84, 163),
];

/// A plot written as SVG and PNG.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotFile {
    /// Human title.
    pub title: String,
    /// The SVG file.
    pub svg: PathBuf,
    /// The PNG file.
    pub png: PathBuf,
    /// The SVG text (for inlining into HTML).
    pub svg_text: String,
}

/// Registers the embedded font once; the error says why it could not be.
fn ensure_font() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        register_font(FAMILY, FontStyle::Normal, FONT)
            .map_err(|_| "the embedded DejaVu Sans font could not be loaded".to_string())
    })
    .clone()
}

/// Colour of solver `i` of `solvers`.
pub fn solver_color(solvers: &[String], i: usize) -> RGBColor {
    if solvers.get(i).is_some_and(|s| s == BASELINE) {
        return BLACK;
    }
    let models_before = solvers[..i.min(solvers.len())]
        .iter()
        .filter(|s| *s != BASELINE)
        .count();
    let (r, g, b) = PALETTE[models_before % PALETTE.len()];
    RGBColor(r, g, b)
}

type DrawResult = Result<(), String>;

fn e2s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn draw_profile<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    report: &Report,
    best: bool,
) -> DrawResult {
    root.fill(&WHITE).map_err(e2s)?;
    let set = if best {
        &report.profiles.best
    } else {
        &report.profiles.last
    };
    let tau = &report.profiles.tau;
    let tmax = tau.last().copied().unwrap_or(1.0).max(1e-9);
    let title = if best {
        "Performance profile: best attempt"
    } else {
        "Performance profile: last submission"
    };
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FAMILY, 24))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0..tmax, 0.0..1.05)
        .map_err(e2s)?;
    chart
        .configure_mesh()
        .x_desc("τ (log10 of performance ratio)")
        .y_desc("fraction of tasks ρ(τ)")
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 16))
        .light_line_style(RGBColor(240, 240, 240))
        .draw()
        .map_err(e2s)?;
    for (i, solver) in report.solvers.iter().enumerate() {
        let Some(rho) = set.rho.get(i) else { continue };
        let color = solver_color(&report.solvers, i);
        let width = if solver == BASELINE { 3 } else { 2 };
        let mut pts = Vec::with_capacity(rho.len() * 2);
        for (k, (t, r)) in tau.iter().zip(rho).enumerate() {
            pts.push((*t, *r));
            if let Some(next) = tau.get(k + 1) {
                pts.push((*next, *r));
            }
        }
        let aup = set.aup.get(i).copied().unwrap_or(0.0);
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(width)))
            .map_err(e2s)?
            .label(format!("{solver} (AUP {aup:.3})"))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(3))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font((FAMILY, 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(e2s)?;
    Ok(())
}

fn draw_aup_vs_cost<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    report: &Report,
) -> DrawResult {
    root.fill(&WHITE).map_err(e2s)?;
    let points: Vec<(usize, f64, f64, f64)> = report
        .solvers
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let cost = report.diagnostics.models.get(s)?.mean_cost?;
            let (b, l) = report.aup_of(s)?;
            Some((i, cost, b, l))
        })
        .collect();
    if points.is_empty() {
        let (w, h) = root.dim_in_pixel();
        root.draw(&Text::new(
            "AUP vs cost: no run recorded a cost (no run.json or .traj with model_stats)",
            (20, (h / 2) as i32),
            (FAMILY, 18).into_font(),
        ))
        .map_err(e2s)?;
        let _ = w;
        return Ok(());
    }
    let max_cost = points.iter().map(|p| p.1).fold(0.0, f64::max).max(1e-6) * 1.2;
    let lo = points
        .iter()
        .map(|p| p.2.min(p.3))
        .fold(f64::INFINITY, f64::min)
        - 0.05;
    let hi = points
        .iter()
        .map(|p| p.2.max(p.3))
        .fold(f64::NEG_INFINITY, f64::max)
        + 0.05;
    let mut chart = ChartBuilder::on(root)
        .caption("AUP vs mean cost per run", (FAMILY, 24))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0..max_cost, lo.max(0.0)..hi)
        .map_err(e2s)?;
    chart
        .configure_mesh()
        .x_desc("mean recorded cost per run ($), over runs that recorded a cost")
        .y_desc("AUP")
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 16))
        .light_line_style(RGBColor(240, 240, 240))
        .draw()
        .map_err(e2s)?;
    chart
        .draw_series(points.iter().map(|&(i, c, b, _)| {
            let color = solver_color(&report.solvers, i);
            EmptyElement::at((c, b))
                + Circle::new((0, 0), 6, color.filled())
                + Text::new(
                    report.solvers[i].clone(),
                    (8, -14),
                    (FAMILY, 13).into_font(),
                )
        }))
        .map_err(e2s)?
        .label("best AUP")
        .legend(|(x, y)| Circle::new((x + 8, y), 5, BLACK.filled()));
    chart
        .draw_series(points.iter().map(|&(i, c, _, l)| {
            Circle::new((c, l), 6, solver_color(&report.solvers, i).stroke_width(2))
        }))
        .map_err(e2s)?
        .label("last AUP")
        .legend(|(x, y)| Circle::new((x + 8, y), 5, BLACK.stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font((FAMILY, 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(e2s)?;
    Ok(())
}

/// Range shown for one task's scores: values far outside the bulk (like −3e13 on Mountain
/// Car) are left out of the range and drawn clipped at its edge.
pub fn robust_range(values: &[f64]) -> (f64, f64) {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return (0.0, 1.0);
    }
    v.sort_by(f64::total_cmp);
    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    let (q1, q3) = (q(0.25), q(0.75));
    let spread = (q3 - q1).max(q3.abs().max(q1.abs()) * 0.05).max(1e-9);
    let (lo_lim, hi_lim) = (q1 - 4.0 * spread, q3 + 4.0 * spread);
    let inside: Vec<f64> = v
        .iter()
        .copied()
        .filter(|x| *x >= lo_lim && *x <= hi_lim)
        .collect();
    let lo = inside.first().copied().unwrap_or(q1);
    let hi = inside.last().copied().unwrap_or(q3);
    let pad = ((hi - lo) * 0.1)
        .max(hi.abs().max(lo.abs()) * 0.02)
        .max(1e-6);
    (lo - pad, hi + pad)
}

fn draw_scores<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, report: &Report) -> DrawResult {
    root.fill(&WHITE).map_err(e2s)?;
    let root = root
        .titled(
            "Best-attempt score per task (dots; baseline = dashed line)",
            (FAMILY, 22),
        )
        .map_err(e2s)?;
    let n = report.tasks.len() + 1;
    let cols = 4;
    let rows = n.div_ceil(cols);
    let cells = root.split_evenly((rows, cols));
    let ns = report.solvers.len().max(1);
    for (t, cell) in report.tasks.iter().zip(&cells) {
        let values: Vec<(usize, f64)> = report
            .solvers
            .iter()
            .enumerate()
            .filter_map(|(i, s)| t.best_of(s).map(|v| (i, v)))
            .collect();
        let all: Vec<f64> = values.iter().map(|v| v.1).collect();
        let (lo, hi) = robust_range(&all);
        let arrow = match t.task.direction {
            super::tasks::Direction::Maximize => "↑",
            super::tasks::Direction::Minimize => "↓",
        };
        let mut chart = ChartBuilder::on(cell)
            .caption(
                format!("{} ({} {arrow})", t.task.display, t.task.metric),
                (FAMILY, 15),
            )
            .margin(8)
            .x_label_area_size(8)
            .y_label_area_size(55)
            .build_cartesian_2d(-0.5..(ns as f64 - 0.5), lo..hi)
            .map_err(e2s)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_labels(5)
            .label_style((FAMILY, 11))
            .light_line_style(RGBColor(245, 245, 245))
            .y_label_formatter(&|v| format_tick(*v))
            .draw()
            .map_err(e2s)?;
        if let Some(b) = t.baseline.filter(|b| *b >= lo && *b <= hi) {
            let segs: Vec<PathElement<(f64, f64)>> = (0..(ns * 2))
                .map(|k| {
                    let x0 = -0.5 + k as f64 * 0.5;
                    PathElement::new(vec![(x0, b), (x0 + 0.3, b)], BLACK.stroke_width(1))
                })
                .collect();
            chart.draw_series(segs).map_err(e2s)?;
        }
        // Values outside the shown range: a triangle at the edge, labelled with the value.
        chart
            .draw_series(
                values
                    .iter()
                    .filter(|(_, v)| *v < lo || *v > hi)
                    .map(|&(i, v)| {
                        let color = solver_color(&report.solvers, i);
                        let (y, dy) = if v < lo { (lo, -16) } else { (hi, 8) };
                        EmptyElement::at((i as f64, y))
                            + TriangleMarker::new(
                                (0, if v < lo { -5 } else { 5 }),
                                6,
                                color.filled(),
                            )
                            + Text::new(format_tick(v), (-10, dy), (FAMILY, 9).into_font())
                    }),
            )
            .map_err(e2s)?;
        chart
            .draw_series(
                values
                    .iter()
                    .filter(|(_, v)| *v >= lo && *v <= hi)
                    .map(|&(i, v)| {
                        Circle::new((i as f64, v), 5, solver_color(&report.solvers, i).filled())
                    }),
            )
            .map_err(e2s)?;
    }
    if let Some(legend) = cells.get(report.tasks.len()) {
        for (i, s) in report.solvers.iter().enumerate() {
            let y = 10 + 16 * i as i32;
            let color = solver_color(&report.solvers, i);
            legend
                .draw(&Circle::new((20, y + 6), 5, color.filled()))
                .map_err(e2s)?;
            legend
                .draw(&Text::new(s.clone(), (32, y), (FAMILY, 13).into_font()))
                .map_err(e2s)?;
        }
    }
    Ok(())
}

/// A compact tick label: plain for ordinary magnitudes, scientific for huge or tiny ones.
pub fn format_tick(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// Which plot to draw.
#[derive(Debug, Clone, Copy)]
enum Kind {
    ProfileBest,
    ProfileLast,
    AupVsCost,
    Scores,
}

impl Kind {
    fn stem(self) -> &'static str {
        match self {
            Kind::ProfileBest => "profile_best",
            Kind::ProfileLast => "profile_last",
            Kind::AupVsCost => "aup_vs_cost",
            Kind::Scores => "scores_per_task",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Kind::ProfileBest => "Performance profile (best attempt)",
            Kind::ProfileLast => "Performance profile (last submission)",
            Kind::AupVsCost => "AUP vs cost",
            Kind::Scores => "Scores per task",
        }
    }

    fn size(self, report: &Report) -> (u32, u32) {
        match self {
            Kind::Scores => {
                let rows = (report.tasks.len() + 1).div_ceil(4) as u32;
                (1280, 40 + rows * 250)
            }
            _ => (960, 620),
        }
    }

    fn draw<DB: DrawingBackend>(
        self,
        root: &DrawingArea<DB, Shift>,
        report: &Report,
    ) -> DrawResult {
        match self {
            Kind::ProfileBest => draw_profile(root, report, true),
            Kind::ProfileLast => draw_profile(root, report, false),
            Kind::AupVsCost => draw_aup_vs_cost(root, report),
            Kind::Scores => draw_scores(root, report),
        }
    }
}

fn render(kind: Kind, report: &Report, out: &Path) -> Result<PlotFile, ReportError> {
    let svg = out.join(format!("{}.svg", kind.stem()));
    let png = out.join(format!("{}.png", kind.stem()));
    let plot_err = |path: &Path, message: String| ReportError::Plot {
        path: path.to_path_buf(),
        message,
    };
    ensure_font().map_err(|m| plot_err(&svg, m))?;
    let size = kind.size(report);
    let mut svg_text = String::new();
    {
        let root = SVGBackend::with_string(&mut svg_text, size).into_drawing_area();
        kind.draw(&root, report).map_err(|m| plot_err(&svg, m))?;
        root.present().map_err(|e| plot_err(&svg, e.to_string()))?;
    }
    std::fs::write(&svg, &svg_text).map_err(|source| ReportError::Io {
        path: svg.clone(),
        source,
    })?;
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        kind.draw(&root, report).map_err(|m| plot_err(&png, m))?;
        root.present().map_err(|e| plot_err(&png, e.to_string()))?;
    }
    Ok(PlotFile {
        title: kind.title().to_string(),
        svg,
        png,
        svg_text,
    })
}

/// Draws every plot of `report` into `out` as `<name>.svg` and `<name>.png`.
pub fn write_plots(report: &Report, out: &Path) -> Result<Vec<PlotFile>, ReportError> {
    [
        Kind::ProfileBest,
        Kind::ProfileLast,
        Kind::AupVsCost,
        Kind::Scores,
    ]
    .into_iter()
    .map(|k| render(k, report, out))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robust_range_leaves_out_huge_outliers() {
        let (lo, hi) = robust_range(&[33.8, 9.1, 61.3, -3.1e13, 71.7, 74.7, 36.8, 70.0]);
        assert!(lo > -100.0 && lo < 9.1, "lo {lo}");
        assert!(hi > 74.7 && hi < 100.0, "hi {hi}");
        let (lo, hi) = robust_range(&[1.0]);
        assert!(lo < 1.0 && hi > 1.0);
    }

    #[test]
    fn ticks_are_compact() {
        assert_eq!(format_tick(0.5), "0.500");
        assert_eq!(format_tick(250.0), "250");
        assert_eq!(format_tick(-3.1e13), "-3.1e13");
    }

    #[test]
    fn baseline_is_black_and_models_differ() {
        let s: Vec<String> = ["baseline", "a", "b"].map(String::from).to_vec();
        assert_eq!(solver_color(&s, 0), BLACK);
        assert_ne!(solver_color(&s, 1), solver_color(&s, 2));
    }
}
