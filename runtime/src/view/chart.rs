//! The viewer's "scores over steps" chart, as inline SVG (no fonts or scripts needed).

use super::{format_score, ViewData};
use crate::report::html::escape;
use crate::report::plots::robust_range;

const W: f64 = 820.0;
const H: f64 = 240.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 36.0;

fn kind_color(kind: &str) -> &'static str {
    match kind {
        "validate" => "#1f6feb",
        "submit" => "#2da44e",
        "autosubmission" => "#bf8700",
        _ => "#6e7781",
    }
}

/// A y tick label with as many decimals as the axis span needs.
pub fn tick_label(v: f64, span: f64) -> String {
    if span.is_nan() || span <= 0.0 || !v.is_finite() {
        return format_score(v);
    }
    if v.abs() >= 1e6 {
        return format!("{v:.2e}");
    }
    let decimals = (2.0 - span.log10().floor()).clamp(0.0, 8.0) as usize;
    let s = format!("{v:.decimals$}");
    match s.strip_prefix('-') {
        Some(rest) if rest.trim_matches(|c| c == '0' || c == '.').is_empty() => rest.to_string(),
        _ => s,
    }
}

/// The chart as an `<svg>` element, or a short note when there is nothing to draw.
pub fn score_chart(data: &ViewData) -> String {
    let Some((metric, _)) = &data.primary else {
        return "<p class=\"muted\">No scores were recorded.</p>".to_string();
    };
    let by_step = data.scores.iter().all(|s| s.step.is_some());
    let points: Vec<(f64, f64, &str, usize)> = data
        .scores
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let v = data.primary_of(&s.metrics)?;
            let x = if by_step {
                s.step.unwrap_or(i + 1)
            } else {
                i + 1
            };
            Some((x as f64, v, s.kind.as_str(), x))
        })
        .collect();
    if points.is_empty() {
        return format!(
            "<p class=\"muted\">No evaluation recorded the metric {}.</p>",
            escape(metric)
        );
    }
    let baseline = data.baseline.get(metric).copied();
    let mut values: Vec<f64> = points.iter().map(|p| p.1).collect();
    values.extend(baseline);
    let (lo, hi) = robust_range(&values);
    let x_max = if by_step {
        data.steps.len().max(1) as f64
    } else {
        points.len() as f64
    };
    let sx = |x: f64| LEFT + (x - 0.5) / x_max.max(1.0) * (W - LEFT - RIGHT);
    let sy = |y: f64| {
        let y = y.clamp(lo, hi);
        TOP + (hi - y) / (hi - lo) * (H - TOP - BOTTOM)
    };
    let mut svg = format!(
        "<svg id=\"score-chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" \
         width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"{} over {}\">",
        escape(metric),
        if by_step { "steps" } else { "evaluations" }
    );
    svg.push_str(&format!(
        "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{}\" height=\"{}\" fill=\"#fafbfc\" stroke=\"#d8dde6\"/>",
        W - LEFT - RIGHT,
        H - TOP - BOTTOM
    ));
    for k in 0..=4 {
        let y = lo + (hi - lo) * k as f64 / 4.0;
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"#5b6577\">{}</text>",
            LEFT - 6.0,
            sy(y) + 4.0,
            escape(&tick_label(y, hi - lo))
        ));
    }
    let n_ticks = (x_max as usize).min(8);
    for k in 0..n_ticks {
        let x = if n_ticks == 1 {
            1
        } else {
            1 + (k * (x_max as usize - 1)) / (n_ticks - 1)
        };
        svg.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#5b6577\">{x}</text>",
            sx(x as f64),
            H - BOTTOM + 14.0
        ));
    }
    svg.push_str(&format!(
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\" fill=\"#5b6577\">{}</text>",
        LEFT + (W - LEFT - RIGHT) / 2.0,
        H - 4.0,
        if by_step { "step" } else { "evaluation #" }
    ));
    if let Some(b) = baseline.filter(|b| *b >= lo && *b <= hi) {
        svg.push_str(&format!(
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#444\" \
             stroke-dasharray=\"6 4\"><title>baseline {}</title></line>",
            W - RIGHT,
            escape(&format_score(b)),
            y = sy(b)
        ));
    }
    let path: Vec<String> = points
        .iter()
        .map(|p| format!("{:.1},{:.1}", sx(p.0), sy(p.1)))
        .collect();
    svg.push_str(&format!(
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#8c959f\" stroke-width=\"1.5\"/>",
        path.join(" ")
    ));
    for (x, v, kind, step) in &points {
        let clipped = *v < lo || *v > hi;
        let circle = format!(
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"5\" fill=\"{}\"{}><title>{} {}: {} = {}</title></circle>",
            sx(*x),
            sy(*v),
            kind_color(kind),
            if clipped { " stroke=\"#cf222e\" stroke-width=\"2\"" } else { "" },
            escape(kind),
            if by_step { format!("step {step}") } else { format!("#{step}") },
            escape(metric),
            escape(&format_score(*v)),
        );
        if by_step {
            svg.push_str(&format!("<a href=\"#step-{step}\">{circle}</a>"));
        } else {
            svg.push_str(&circle);
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::tick_label;

    #[test]
    fn tick_labels_follow_the_axis_span() {
        assert_eq!(tick_label(-0.00046, 0.6), "0.000");
        assert_eq!(tick_label(0.148, 0.6), "0.148");
        assert_eq!(tick_label(16.158, 4.0), "16.16");
        assert_eq!(tick_label(250.0, 300.0), "250");
    }
}
