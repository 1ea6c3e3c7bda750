//! `report.html`: one self-contained page (inline CSS, inline SVG plots) that shows every
//! summary table and plot and links the CSV, SVG and PNG files beside it.

use std::path::Path;

use super::plots::PlotFile;
use super::tables::{overview, Table};
use super::Report;

/// Escapes `s` for HTML text and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Shared page style of the report and the trajectory viewer.
pub const BASE_CSS: &str = r#"
:root { --fg:#1d2430; --muted:#5b6577; --line:#d8dde6; --bg:#fff; --accent:#1f6feb; --soft:#f4f6fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--fg); background: var(--bg); margin: 0; padding: 0 24px 48px; }
h1 { font-size: 24px; margin: 20px 0 6px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
a { color: var(--accent); }
.muted { color: var(--muted); }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: var(--soft); position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; max-width: 100%; }
nav a { margin-right: 12px; }
figure { margin: 12px 0; }
figure svg { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); }
pre { white-space: pre-wrap; word-break: break-word; background: var(--soft); padding: 8px;
      border-radius: 4px; margin: 4px 0; font: 12.5px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; }
details > summary { cursor: pointer; }
"#;

fn is_numeric(s: &str) -> bool {
    !s.is_empty() && s.parse::<f64>().is_ok()
}

/// An HTML `<table>` of `t`.
pub fn table_html(t: &Table) -> String {
    let mut out = String::from("<div class=\"scroll\"><table><thead><tr>");
    for h in &t.header {
        out.push_str(&format!("<th>{}</th>", escape(h)));
    }
    out.push_str("</tr></thead><tbody>");
    for row in &t.rows {
        out.push_str("<tr>");
        for c in row {
            let class = if is_numeric(c) { " class=\"num\"" } else { "" };
            out.push_str(&format!("<td{class}>{}</td>", escape(c)));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    out
}

fn file_link(path: &Path, out: &Path) -> String {
    let rel = path.strip_prefix(out).unwrap_or(path);
    let s = rel.display().to_string();
    format!("<a href=\"{}\">{}</a>", escape(&s), escape(&s))
}

/// Renders `report.html` for `report`, whose tables and plots were written to `out`.
pub fn render_report(report: &Report, tables: &[Table], plots: &[PlotFile], out: &Path) -> String {
    let mut body = String::new();
    body.push_str("<h1>MLGym report</h1>");
    body.push_str(&format!(
        "<p class=\"muted\">{}</p>",
        escape(&overview(report))
    ));
    body.push_str(
        "<p class=\"muted\">Scores: best attempt and last submission per model are the best \
         over its runs. AUP: area under the performance profile (ε = 0.05, infeasible = \
         negative or worse than baseline, 500-point log10 τ grid, left Riemann sum). \
         Ranks include the baseline; “Mean rank” is MLGym's “Plackett-Luce” row.</p>",
    );
    body.push_str("<nav>");
    body.push_str("<a href=\"#plots\">Plots</a>");
    for t in tables.iter().filter(|t| t.in_summary) {
        body.push_str(&format!(
            "<a href=\"#{}\">{}</a>",
            escape(&t.file_stem),
            escape(&t.title)
        ));
    }
    body.push_str("<a href=\"report.json\">report.json</a><a href=\"report.md\">report.md</a>");
    body.push_str("</nav>");

    body.push_str("<h2 id=\"plots\">Plots</h2>");
    for p in plots {
        body.push_str(&format!(
            "<figure>{}<figcaption>{} — {} · {}</figcaption></figure>",
            p.svg_text,
            escape(&p.title),
            file_link(&p.svg, out),
            file_link(&p.png, out),
        ));
    }
    for t in tables {
        let csv = format!("{}.csv", t.file_stem);
        let link = format!("<a href=\"{}\">{}</a>", escape(&csv), escape(&csv));
        if t.in_summary {
            body.push_str(&format!(
                "<h2 id=\"{}\">{}</h2><p class=\"muted\">{}</p>",
                escape(&t.file_stem),
                escape(&t.title),
                link
            ));
            if t.rows.is_empty() {
                body.push_str("<p>(none)</p>");
            } else if t.rows.len() > 30 {
                body.push_str(&format!(
                    "<details><summary>{} rows</summary>{}</details>",
                    t.rows.len(),
                    table_html(t)
                ));
            } else {
                body.push_str(&table_html(t));
            }
        } else {
            body.push_str(&format!(
                "<h2>{}</h2><p>{} rows: {}</p>",
                escape(&t.title),
                t.rows.len(),
                link
            ));
        }
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>MLGym report</title><style>{BASE_CSS}</style></head><body>{body}</body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
    }
}
