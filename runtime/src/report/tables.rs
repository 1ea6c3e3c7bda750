//! The report's tables, rendered as Markdown and CSV. Score and AUP cells are rounded to 3
//! decimals as in MLGym's published tables; an empty cell means no usable run.

use std::collections::BTreeSet;

use super::diagnostics::UNKNOWN_STATUS;
use super::{Rankings, Report, BASELINE};

/// Rows of a table shown in Markdown before the rest is summarised.
const MARKDOWN_ROW_LIMIT: usize = 40;

/// One table of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Heading.
    pub title: String,
    /// File name (without `.csv`) in the output folder.
    pub file_stem: String,
    /// Column names.
    pub header: Vec<String>,
    /// Cells, row by row.
    pub rows: Vec<Vec<String>>,
    /// Whether the Markdown and HTML reports show it (per-run tables are CSV only).
    pub in_summary: bool,
}

/// `x` rounded to 3 decimals the way MLGym's tables round model scores (numpy/pandas
/// `round`: scale by 1000, round half to even, scale back), so 0.8855 becomes 0.886.
pub fn round3(x: f64) -> f64 {
    let r = (x * 1000.0).round_ties_even() / 1000.0;
    if r == 0.0 {
        0.0 // no "-0"
    } else {
        r
    }
}

/// `x` correctly rounded to 3 decimals (Python's `round(x, 3)`: the exact binary value is
/// rounded, so 0.7835, stored as 0.78349999…, becomes 0.783). MLGym's tables round the
/// baseline column this way.
pub fn round3_exact(x: f64) -> f64 {
    let r = format!("{x:.3}").parse::<f64>().unwrap_or(x);
    if r == 0.0 {
        0.0
    } else {
        r
    }
}

/// Rounds a score of `solver` as MLGym's published tables do: [`round3_exact`] for the
/// baseline, [`round3`] for models.
pub fn round3_for(solver: &str, x: f64) -> f64 {
    if solver == BASELINE {
        round3_exact(x)
    } else {
        round3(x)
    }
}

/// `x` rounded with [`round3`] and printed without trailing zeros; `""` for `None` or
/// non-finite values.
pub fn fmt3(x: Option<f64>) -> String {
    match x.filter(|v| v.is_finite()) {
        Some(v) => format!("{}", round3(v)),
        None => String::new(),
    }
}

/// A score of `solver` rounded with [`round3_for`] and printed; `""` when missing.
pub fn fmt_score(solver: &str, x: Option<f64>) -> String {
    match x.filter(|v| v.is_finite()) {
        Some(v) => format!("{}", round3_for(solver, v)),
        None => String::new(),
    }
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

impl Table {
    /// The table as CSV (RFC 4180 quoting).
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let cells: Vec<String> = row.iter().map(|c| csv_cell(c)).collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }

    /// The table as Markdown under a `###` heading; long tables are cut after
    /// `MARKDOWN_ROW_LIMIT` rows with a pointer to the CSV file.
    pub fn to_markdown(&self) -> String {
        let mut out = format!("### {}\n\n", self.title);
        if self.rows.is_empty() {
            out.push_str("(none)\n");
            return out;
        }
        let line = |cells: &[String]| {
            let c: Vec<String> = cells.iter().map(|c| md_cell(c)).collect();
            format!("| {} |\n", c.join(" | "))
        };
        out.push_str(&line(&self.header));
        out.push_str(&format!("|{}\n", "---|".repeat(self.header.len())));
        for row in self.rows.iter().take(MARKDOWN_ROW_LIMIT) {
            out.push_str(&line(row));
        }
        if self.rows.len() > MARKDOWN_ROW_LIMIT {
            out.push_str(&format!(
                "\n… and {} more rows (see {}.csv with --out, or --json).\n",
                self.rows.len() - MARKDOWN_ROW_LIMIT,
                self.file_stem
            ));
        }
        out
    }
}

fn table(title: &str, stem: &str, header: Vec<String>, rows: Vec<Vec<String>>) -> Table {
    Table {
        title: title.to_string(),
        file_stem: stem.to_string(),
        header,
        rows,
        in_summary: true,
    }
}

fn scores_table(report: &Report, best: bool) -> Table {
    let mut header = vec!["Task".to_string()];
    header.extend(report.solvers.iter().cloned());
    let rows = report
        .tasks
        .iter()
        .map(|t| {
            let mut row = vec![t.task.display.to_string()];
            row.extend(
                report
                    .solvers
                    .iter()
                    .map(|s| fmt_score(s, if best { t.best_of(s) } else { t.last_of(s) })),
            );
            row
        })
        .collect();
    let (title, stem) = if best {
        ("Best attempt scores (best over runs)", "best_scores")
    } else {
        ("Last submission scores (best over runs)", "last_scores")
    };
    table(title, stem, header, rows)
}

/// Solvers in MLGym's AUP-table order: the models, then the baseline.
fn models_then_baseline(report: &Report) -> Vec<&String> {
    let mut v: Vec<&String> = report.models().collect();
    v.extend(report.solvers.iter().filter(|s| *s == BASELINE));
    v
}

fn aup_table(report: &Report) -> Table {
    let rows = models_then_baseline(report)
        .into_iter()
        .map(|s| {
            let a = report.aup_of(s);
            vec![s.clone(), fmt3(a.map(|a| a.0)), fmt3(a.map(|a| a.1))]
        })
        .collect();
    table(
        "AUP (area under the performance profile)",
        "aup_scores",
        vec!["Model".into(), "Best AUP".into(), "Last AUP".into()],
        rows,
    )
}

fn ranks_table(report: &Report, r: &Rankings, best: bool) -> Table {
    let mut header = vec!["Rank".to_string()];
    header.extend((1..=report.solvers.len()).map(|i| i.to_string()));
    let mut rows: Vec<Vec<String>> = report
        .tasks
        .iter()
        .zip(&r.tasks)
        .map(|(t, order)| {
            let mut row = vec![t.task.display.to_string()];
            row.extend(order.iter().cloned());
            row
        })
        .collect();
    let mut agg = |label: &str, v: &[(String, f64)]| {
        let mut row = vec![label.to_string()];
        row.extend(v.iter().map(|(m, _)| m.clone()));
        rows.push(row);
    };
    agg("Mean rank", &r.mean_rank);
    agg("Borda", &r.borda);
    let (title, stem) = if best {
        ("Ranks of best attempts", "best_ranks")
    } else {
        ("Ranks of last submissions", "last_ranks")
    };
    table(title, stem, header, rows)
}

fn summary_table(report: &Report) -> Table {
    let lookup = |v: &[(String, f64)], s: &str| v.iter().find(|(m, _)| m == s).map(|x| x.1);
    let rows = models_then_baseline(report)
        .into_iter()
        .map(|s| {
            let a = report.aup_of(s);
            vec![
                s.clone(),
                fmt3(a.map(|a| a.0)),
                fmt3(a.map(|a| a.1)),
                fmt3(lookup(&report.best_ranks.mean_rank, s)),
                fmt3(lookup(&report.best_ranks.borda, s)),
                fmt3(lookup(&report.last_ranks.mean_rank, s)),
                fmt3(lookup(&report.last_ranks.borda, s)),
            ]
        })
        .collect();
    table(
        "Summary per model",
        "summary",
        [
            "Model",
            "Best AUP",
            "Last AUP",
            "Best mean rank",
            "Best Borda",
            "Last mean rank",
            "Last Borda",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    )
}

fn opt<T: ToString>(x: Option<T>) -> String {
    x.map(|v| v.to_string()).unwrap_or_default()
}

fn diagnostics_table(report: &Report) -> Table {
    let rows = report
        .diagnostics
        .models
        .iter()
        .map(|(m, d)| {
            vec![
                m.clone(),
                d.runs.to_string(),
                d.scored.to_string(),
                d.failed.to_string(),
                d.incomplete.to_string(),
                d.mean_steps.map(|s| format!("{s:.1}")).unwrap_or_default(),
                d.tokens_sent.to_string(),
                d.tokens_received.to_string(),
                d.mean_cost.map(|c| format!("{c:.4}")).unwrap_or_default(),
                format!("{:.4}", d.total_cost),
                d.runs_with_cost.to_string(),
            ]
        })
        .collect();
    table(
        "Run diagnostics per model",
        "diagnostics",
        [
            "Model",
            "Runs",
            "Scored",
            "Failed",
            "Incomplete",
            "Mean steps",
            "Tokens sent",
            "Tokens received",
            "Mean cost ($/run)",
            "Total cost ($)",
            "Runs with cost",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    )
}

fn status_label(s: &str) -> String {
    if s.is_empty() {
        "(empty)".to_string()
    } else {
        s.to_string()
    }
}

fn exit_status_table(report: &Report) -> Table {
    let statuses: BTreeSet<&String> = report
        .diagnostics
        .models
        .values()
        .flat_map(|d| d.exit_status.keys())
        .collect();
    let mut header = vec!["Model".to_string()];
    header.extend(statuses.iter().map(|s| status_label(s)));
    let rows = report
        .diagnostics
        .models
        .iter()
        .map(|(m, d)| {
            let mut row = vec![m.clone()];
            row.extend(
                statuses
                    .iter()
                    .map(|s| d.exit_status.get(*s).copied().unwrap_or(0).to_string()),
            );
            row
        })
        .collect();
    let mut t = table("Exit statuses per model", "exit_status", header, rows);
    if statuses.len() == 1 && statuses.contains(&UNKNOWN_STATUS.to_string()) {
        t.title.push_str(" (unknown: no run.json or .traj found)");
    }
    t
}

fn runs_table(report: &Report) -> Table {
    let rows = report
        .diagnostics
        .runs
        .iter()
        .map(|r| {
            vec![
                r.dir.clone(),
                r.model.clone(),
                r.task.clone(),
                opt(r.run_index),
                r.exit_status
                    .as_deref()
                    .map(status_label)
                    .unwrap_or_default(),
                r.failed.to_string(),
                opt(r.incomplete),
                fmt3(r.best),
                fmt3(r.last),
                opt(r.steps),
                opt(r.tokens_sent),
                opt(r.tokens_received),
                r.cost.map(|c| format!("{c:.6}")).unwrap_or_default(),
            ]
        })
        .collect();
    let mut t = table(
        "Runs",
        "runs",
        [
            "Run",
            "Model",
            "Task",
            "Index",
            "Exit status",
            "Failed",
            "Incomplete",
            "Best",
            "Last",
            "Steps",
            "Tokens sent",
            "Tokens received",
            "Cost ($)",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    );
    t.in_summary = false;
    t
}

fn issues_table(title: &str, stem: &str, issues: &[super::collect::Issue]) -> Table {
    table(
        title,
        stem,
        vec!["Path".into(), "Reason".into()],
        issues
            .iter()
            .map(|i| vec![i.path.display().to_string(), i.reason.clone()])
            .collect(),
    )
}

/// Every table of the report, in display order.
pub fn all_tables(report: &Report) -> Vec<Table> {
    vec![
        aup_table(report),
        scores_table(report, true),
        scores_table(report, false),
        ranks_table(report, &report.best_ranks, true),
        ranks_table(report, &report.last_ranks, false),
        summary_table(report),
        diagnostics_table(report),
        exit_status_table(report),
        runs_table(report),
        issues_table("Skipped", "skipped", &report.skipped),
        issues_table("Warnings", "warnings", &report.warnings),
    ]
}

/// One-paragraph overview: counts of tasks, models, runs and skipped inputs.
pub fn overview(report: &Report) -> String {
    format!(
        "{} tasks, {} models (+ baseline: {}), {} runs used, {} inputs skipped, {} warnings. \
         τ_max = {}.",
        report.tasks.len(),
        report.models().count(),
        if report.solvers.iter().any(|s| s == BASELINE) {
            "yes"
        } else {
            "no"
        },
        report.diagnostics.runs.len(),
        report.skipped.len(),
        report.warnings.len(),
        fmt3(report.profiles.tau.last().copied()),
    )
}

/// The whole report as Markdown (summary tables only; per-run rows are in `runs.csv`).
pub fn render_markdown(report: &Report) -> String {
    let mut out = format!("# MLGym report\n\n{}\n\n", overview(report));
    for t in all_tables(report).iter().filter(|t| t.in_summary) {
        out.push_str(&t.to_markdown());
        out.push('\n');
    }
    out
}

/// The summary tables as CSV, each preceded by a `# <title>` line and separated by blank
/// lines.
pub fn render_csv(report: &Report) -> String {
    let mut out = String::new();
    for t in all_tables(report).iter().filter(|t| t.in_summary) {
        out.push_str(&format!("# {}\n", t.title));
        out.push_str(&t.to_csv());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_like_the_published_tables() {
        assert_eq!(fmt3(Some(0.88)), "0.88");
        assert_eq!(fmt3(Some(0.8799891474739243)), "0.88");
        assert_eq!(fmt3(Some(-31167493439488.0)), "-31167493439488");
        assert_eq!(fmt3(Some(16.158)), "16.158");
        assert_eq!(fmt3(Some(-0.0001)), "0");
        assert_eq!(fmt3(Some(0.0)), "0");
        assert_eq!(fmt3(Some(0.8855)), "0.886");
        assert_eq!(fmt3(Some(1.4425)), "1.442");
        assert_eq!(fmt_score("baseline", Some(0.7835)), "0.783");
        assert_eq!(fmt_score("gpt-o1", Some(0.7835)), "0.784");
        assert_eq!(round3_exact(0.8855), 0.885);
        assert_eq!(fmt3(None), "");
        assert_eq!(fmt3(Some(f64::INFINITY)), "");
    }

    #[test]
    fn csv_and_markdown_escape_cells() {
        let t = table(
            "T",
            "t",
            vec!["a".into(), "b".into()],
            vec![vec!["x,y".into(), "say \"hi\"|".into()]],
        );
        assert_eq!(t.to_csv(), "a,b\n\"x,y\",\"say \"\"hi\"\"|\"\n");
        assert!(t.to_markdown().contains("| x,y | say \"hi\"\\| |"));
    }
}
