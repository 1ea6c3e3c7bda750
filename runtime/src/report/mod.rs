//! Score aggregation over runs: performance profiles, AUP, ranks, tables.
//!
//! [`build_report`] collects run directories ([`collect`]), reduces each model's runs to a
//! best attempt and a last submission per task ([`aggregate`]), computes performance
//! ratios, profiles and AUP ([`profile`]), per-task and aggregate ranks ([`ranks`]) and
//! per-run diagnostics ([`diagnostics`]), all with MLGym's rules. [`Report::to_json`],
//! [`tables`], [`plots`] and [`html`] render the result; [`write_outputs`] writes them all
//! to a folder. Bad input never fails the build: it is listed in [`Report::skipped`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

pub mod aggregate;
pub mod collect;
pub mod diagnostics;
pub mod html;
pub mod plots;
pub mod profile;
pub mod ranks;
pub mod tables;
pub mod tasks;

use aggregate::TaskScores;
use collect::Issue;
use diagnostics::Diagnostics;
use profile::{Profiles, TaskInput};

/// Name of the solver that stands for each task's baseline.
pub const BASELINE: &str = "baseline";

/// Errors writing a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file or folder could not be written.
    #[error("cannot write {path}: {source}; check that the --out folder is writable")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A plot could not be drawn.
    #[error("cannot draw the plot {path}: {message}")]
    Plot {
        /// The plot file.
        path: PathBuf,
        /// What the plotting library said.
        message: String,
    },
}

/// Which runs and models go into a report.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// Keep only these models (`None` keeps all).
    pub models: Option<Vec<String>>,
    /// Drop these models (`baseline` drops the baseline row but keeps its values for the
    /// feasibility test).
    pub exclude_models: Vec<String>,
    /// Extra folders holding `<run dir name>.traj[.gz]` for diagnostics.
    pub traj_dirs: Vec<PathBuf>,
}

/// One ranking kind (best attempt or last submission).
#[derive(Debug, Clone, PartialEq)]
pub struct Rankings {
    /// Per task (in [`Report::tasks`] order): solvers best first.
    pub tasks: Vec<Vec<String>>,
    /// Solvers by mean position, with the mean (MLGym's "Plackett-Luce" row).
    pub mean_rank: Vec<(String, f64)>,
    /// Solvers by Borda points, with the points.
    pub borda: Vec<(String, f64)>,
}

/// Everything a report shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Per-task scores, in the published task order.
    pub tasks: Vec<TaskScores>,
    /// Solvers: `baseline` (unless excluded) then the models, sorted by name.
    pub solvers: Vec<String>,
    /// Ratios, profiles and AUP (solver index = position in `solvers`).
    pub profiles: Profiles,
    /// Rankings of best attempts.
    pub best_ranks: Rankings,
    /// Rankings of last submissions.
    pub last_ranks: Rankings,
    /// Per-run and per-model diagnostics.
    pub diagnostics: Diagnostics,
    /// Inputs left out, and why.
    pub skipped: Vec<Issue>,
    /// Inputs used with a problem, and filters that matched nothing.
    pub warnings: Vec<Issue>,
}

/// Builds a report from run directories or folders of them. Never fails: unusable input
/// is listed in [`Report::skipped`].
pub fn build_report(paths: &[PathBuf], opts: &ReportOptions) -> Report {
    let mut col = collect::collect_runs(paths, &opts.traj_dirs);
    let found: BTreeSet<String> = col.runs.iter().map(|r| r.model.clone()).collect();
    if let Some(keep) = &opts.models {
        for m in keep
            .iter()
            .filter(|m| !found.contains(*m) && *m != BASELINE)
        {
            col.warnings.push(Issue {
                path: PathBuf::from("--models"),
                reason: format!("no runs of model {m:?} were found"),
            });
        }
        col.runs.retain(|r| keep.contains(&r.model));
    }
    col.runs.retain(|r| !opts.exclude_models.contains(&r.model));

    let (tasks, no_score) = aggregate::aggregate(&col.runs);
    let mut skipped = col.skipped;
    skipped.extend(no_score);
    let diagnostics = diagnostics::diagnose(&col.runs);

    // The baseline row is kept under --models (it is the reference every model is compared
    // with) and dropped only when --exclude-models names it.
    let include_baseline = !opts.exclude_models.iter().any(|m| m == BASELINE);
    let mut solvers: Vec<String> = Vec::new();
    if include_baseline {
        solvers.push(BASELINE.to_string());
    }
    let models: BTreeSet<String> = col.runs.iter().map(|r| r.model.clone()).collect();
    solvers.extend(models);

    let inputs: Vec<TaskInput> = tasks
        .iter()
        .map(|t| TaskInput {
            baseline: t.baseline,
            direction: t.task.direction,
            best: solvers.iter().map(|s| t.best_of(s)).collect(),
            last: solvers.iter().map(|s| t.last_of(s)).collect(),
        })
        .collect();
    let profiles = profile::compute_profiles(&inputs, solvers.len());
    let best_ranks = rankings(&solvers, &tasks, &inputs, |i| &i.best);
    let last_ranks = rankings(&solvers, &tasks, &inputs, |i| &i.last);
    Report {
        tasks,
        solvers,
        profiles,
        best_ranks,
        last_ranks,
        diagnostics,
        skipped,
        warnings: col.warnings,
    }
}

fn rankings(
    solvers: &[String],
    tasks: &[TaskScores],
    inputs: &[TaskInput],
    pick: impl Fn(&TaskInput) -> &Vec<Option<f64>>,
) -> Rankings {
    let orders: Vec<Vec<usize>> = tasks
        .iter()
        .zip(inputs)
        .map(|(t, i)| ranks::rank_task(pick(i), t.task.direction))
        .collect();
    let name = |i: usize| solvers.get(i).cloned().unwrap_or_default();
    Rankings {
        tasks: orders
            .iter()
            .map(|o| o.iter().map(|&i| name(i)).collect())
            .collect(),
        mean_rank: ranks::mean_rank(&orders, solvers.len())
            .into_iter()
            .map(|e| (name(e.solver), e.value))
            .collect(),
        borda: ranks::borda(&orders, solvers.len())
            .into_iter()
            .map(|e| (name(e.solver), e.value))
            .collect(),
    }
}

/// A JSON number, or `null` for a missing or non-finite value.
fn num(x: Option<f64>) -> Value {
    x.filter(|v| v.is_finite()).map_or(Value::Null, Value::from)
}

impl Report {
    /// AUP (best, last) of `solver`.
    pub fn aup_of(&self, solver: &str) -> Option<(f64, f64)> {
        let i = self.solvers.iter().position(|s| s == solver)?;
        Some((
            *self.profiles.best.aup.get(i)?,
            *self.profiles.last.aup.get(i)?,
        ))
    }

    /// The models (solvers other than the baseline).
    pub fn models(&self) -> impl Iterator<Item = &String> {
        self.solvers.iter().filter(|s| *s != BASELINE)
    }

    /// The report as one JSON object: `aup` (solver → `{"best", "last"}`), `scores` (task
    /// id → solver → `{"best", "last"}`, `null` = no usable run), and also `tasks`,
    /// `solvers`, `tau_max`, `ratios`, `ranks`, `diagnostics`, `skipped` and `warnings`.
    /// Values are unrounded.
    pub fn to_json(&self) -> Value {
        let mut aup = Map::new();
        for (i, s) in self.solvers.iter().enumerate() {
            aup.insert(
                s.clone(),
                json!({
                    "best": num(self.profiles.best.aup.get(i).copied()),
                    "last": num(self.profiles.last.aup.get(i).copied()),
                }),
            );
        }
        let mut scores = Map::new();
        let mut ratios_best = Map::new();
        let mut ratios_last = Map::new();
        for (ti, t) in self.tasks.iter().enumerate() {
            let mut per = Map::new();
            let mut rb = Map::new();
            let mut rl = Map::new();
            for (si, s) in self.solvers.iter().enumerate() {
                per.insert(
                    s.clone(),
                    json!({"best": num(t.best_of(s)), "last": num(t.last_of(s))}),
                );
                let r = |set: &profile::ProfileSet| {
                    num(set.ratios.get(ti).and_then(|r| r.ratios.get(si)).copied())
                };
                rb.insert(s.clone(), r(&self.profiles.best));
                rl.insert(s.clone(), r(&self.profiles.last));
            }
            scores.insert(t.task.id.to_string(), Value::Object(per));
            ratios_best.insert(t.task.id.to_string(), Value::Object(rb));
            ratios_last.insert(t.task.id.to_string(), Value::Object(rl));
        }
        let tasks: Vec<Value> = self
            .tasks
            .iter()
            .map(|t| {
                json!({
                    "id": t.task.id,
                    "name": t.task.display,
                    "metric": t.task.metric,
                    "direction": t.task.direction,
                    "baseline": num(t.baseline),
                    "runs": t.runs,
                    "scored_runs": t.scored_runs,
                })
            })
            .collect();
        json!({
            "aup": aup,
            "scores": scores,
            "tasks": tasks,
            "solvers": self.solvers,
            "tau_max": self.profiles.tau.last().copied().unwrap_or(0.0),
            "ratios": {"best": ratios_best, "last": ratios_last},
            "ranks": {
                "best": self.rankings_json(&self.best_ranks),
                "last": self.rankings_json(&self.last_ranks),
            },
            "diagnostics": serde_json::to_value(&self.diagnostics).unwrap_or(Value::Null),
            "skipped": issues_json(&self.skipped),
            "warnings": issues_json(&self.warnings),
        })
    }

    fn rankings_json(&self, r: &Rankings) -> Value {
        let mut tasks = Map::new();
        for (t, order) in self.tasks.iter().zip(&r.tasks) {
            tasks.insert(t.task.id.to_string(), json!(order));
        }
        let agg = |v: &Vec<(String, f64)>, key: &str| -> Vec<Value> {
            v.iter().map(|(m, x)| json!({"model": m, key: x})).collect()
        };
        json!({
            "tasks": tasks,
            "mean_rank": agg(&r.mean_rank, "mean_rank"),
            "borda": agg(&r.borda, "points"),
        })
    }
}

fn issues_json(issues: &[Issue]) -> Value {
    Value::Array(
        issues
            .iter()
            .map(|i| json!({"path": i.path.display().to_string(), "reason": i.reason}))
            .collect(),
    )
}

/// Writes every output of `report` into `out` (created if missing): `report.json`,
/// `report.md`, the CSV tables, the plots (SVG and PNG) and `report.html`. Returns the
/// paths written.
pub fn write_outputs(report: &Report, out: &Path) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(out).map_err(|source| ReportError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    let mut write = |name: &str, text: &str| -> Result<(), ReportError> {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(|source| ReportError::Io {
            path: path.clone(),
            source,
        })?;
        written.push(path);
        Ok(())
    };
    let json_text = serde_json::to_string_pretty(&report.to_json()).unwrap_or_default();
    write("report.json", &json_text)?;
    write("report.md", &tables::render_markdown(report))?;
    let all_tables = tables::all_tables(report);
    for t in &all_tables {
        write(&format!("{}.csv", t.file_stem), &t.to_csv())?;
    }
    let plot_files = plots::write_plots(report, out)?;
    let html_text = html::render_report(report, &all_tables, &plot_files, out);
    write("report.html", &html_text)?;
    written.extend(plot_files.into_iter().flat_map(|p| [p.svg, p.png]));
    Ok(written)
}
