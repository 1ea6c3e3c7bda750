//! Per-run and per-model diagnostics: exit statuses, failed and incomplete runs, steps,
//! tokens and cost.
//!
//! A run is *failed* when it has no usable score (no `results.json`, an empty `agent` list,
//! or no evaluation with the primary metric). It is *incomplete* when it has a score but
//! its exit status is known and is neither `submitted` nor `autosubmission (max_steps)`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::aggregate::run_score;
use super::collect::RunRecord;
use super::tasks::lookup_task;

/// Exit statuses that count as a complete run.
pub const COMPLETE_STATUSES: [&str; 2] = ["submitted", "autosubmission (max_steps)"];

/// Label used for runs whose exit status is not known (no `run.json` and no `.traj`).
pub const UNKNOWN_STATUS: &str = "(unknown)";

/// Diagnostics of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunDiagnostics {
    /// Run directory.
    pub dir: String,
    /// Model.
    pub model: String,
    /// Task id.
    pub task: String,
    /// Run index from the directory name.
    pub run_index: Option<u32>,
    /// Exit status, if known (`""` is kept as recorded).
    pub exit_status: Option<String>,
    /// No usable score.
    pub failed: bool,
    /// Has a score but did not end by submitting or reaching the step limit; `None` when
    /// the exit status is unknown.
    pub incomplete: Option<bool>,
    /// Best attempt of this run.
    pub best: Option<f64>,
    /// Last submission of this run.
    pub last: Option<f64>,
    /// Number of steps.
    pub steps: Option<u64>,
    /// Tokens sent.
    pub tokens_sent: Option<u64>,
    /// Tokens received.
    pub tokens_received: Option<u64>,
    /// Cost in dollars.
    pub cost: Option<f64>,
}

/// Diagnostics summed over one model's runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ModelDiagnostics {
    /// Runs found.
    pub runs: usize,
    /// Runs with a usable score.
    pub scored: usize,
    /// Failed runs.
    pub failed: usize,
    /// Incomplete runs.
    pub incomplete: usize,
    /// Exit status → count ([`UNKNOWN_STATUS`] when not known).
    pub exit_status: BTreeMap<String, usize>,
    /// Mean steps over runs whose steps are known.
    pub mean_steps: Option<f64>,
    /// Total tokens sent (runs where known).
    pub tokens_sent: u64,
    /// Total tokens received (runs where known).
    pub tokens_received: u64,
    /// Total cost in dollars over runs with a recorded cost.
    pub total_cost: f64,
    /// Runs with a recorded cost.
    pub runs_with_cost: usize,
    /// Mean cost per run over runs with a recorded cost.
    pub mean_cost: Option<f64>,
}

/// Diagnostics of every run and of every model.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Diagnostics {
    /// One entry per run, in collection order.
    pub runs: Vec<RunDiagnostics>,
    /// Model → summed diagnostics.
    pub models: BTreeMap<String, ModelDiagnostics>,
}

/// Diagnostics of `runs`.
pub fn diagnose(runs: &[RunRecord]) -> Diagnostics {
    let mut out = Diagnostics::default();
    let mut steps: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for run in runs {
        let score = lookup_task(&run.task).and_then(|meta| {
            run.results
                .as_ref()
                .and_then(|r| run_score(&r.agent, meta.metric, meta.direction))
        });
        let failed = score.is_none();
        let incomplete = run
            .exit_status
            .as_ref()
            .map(|s| !failed && !COMPLETE_STATUSES.contains(&s.as_str()));
        let d = RunDiagnostics {
            dir: run.dir.display().to_string(),
            model: run.model.clone(),
            task: run.task.clone(),
            run_index: run.run_index,
            exit_status: run.exit_status.clone(),
            failed,
            incomplete,
            best: score.map(|s| s.best),
            last: score.map(|s| s.last),
            steps: run.steps,
            tokens_sent: run.tokens_sent,
            tokens_received: run.tokens_received,
            cost: run.cost,
        };
        let m = out.models.entry(run.model.clone()).or_default();
        m.runs += 1;
        m.scored += usize::from(!failed);
        m.failed += usize::from(failed);
        m.incomplete += usize::from(incomplete == Some(true));
        let status = run
            .exit_status
            .clone()
            .unwrap_or_else(|| UNKNOWN_STATUS.to_string());
        *m.exit_status.entry(status).or_default() += 1;
        m.tokens_sent += run.tokens_sent.unwrap_or(0);
        m.tokens_received += run.tokens_received.unwrap_or(0);
        if let Some(c) = run.cost {
            m.total_cost += c;
            m.runs_with_cost += 1;
        }
        if let Some(s) = run.steps {
            let e = steps.entry(run.model.clone()).or_default();
            e.0 += s as f64;
            e.1 += 1;
        }
        out.runs.push(d);
    }
    for (model, m) in out.models.iter_mut() {
        m.mean_cost = (m.runs_with_cost > 0).then(|| m.total_cost / m.runs_with_cost as f64);
        m.mean_steps = steps
            .get(model)
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| s / *n as f64);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::collect::RunResults;

    fn record(
        model: &str,
        agent: Vec<(&str, f64)>,
        status: Option<&str>,
        cost: Option<f64>,
    ) -> RunRecord {
        RunRecord {
            dir: format!("/runs/{model}").into(),
            model: model.into(),
            task: "blotto".into(),
            run_index: Some(0),
            results: Some(RunResults {
                agent: agent
                    .into_iter()
                    .map(|(k, v)| [(k.to_string(), v)].into_iter().collect())
                    .collect(),
                baseline: Default::default(),
            }),
            exit_status: status.map(str::to_string),
            steps: Some(10),
            tokens_sent: Some(100),
            tokens_received: Some(5),
            api_calls: None,
            cost,
            stats_source: None,
        }
    }

    #[test]
    fn failed_incomplete_and_costs() {
        let runs = vec![
            record("a", vec![("Score", 0.1)], Some("submitted"), Some(1.0)),
            record(
                "a",
                vec![("Score", 0.2)],
                Some("autosubmission (exit_context)"),
                Some(3.0),
            ),
            record("a", vec![], Some("submission_not_found (submit)"), None),
            record("a", vec![("Other", 1.0)], None, None),
        ];
        let d = diagnose(&runs);
        let a = &d.models["a"];
        assert_eq!((a.runs, a.scored, a.failed, a.incomplete), (4, 2, 2, 1));
        assert_eq!(a.exit_status[UNKNOWN_STATUS], 1);
        assert_eq!(a.mean_cost, Some(2.0));
        assert_eq!(a.tokens_sent, 400);
        assert_eq!(d.runs[1].incomplete, Some(true));
        assert_eq!(d.runs[2].incomplete, Some(false));
        assert_eq!(d.runs[3].incomplete, None);
        assert!(d.runs[3].failed);
    }
}
