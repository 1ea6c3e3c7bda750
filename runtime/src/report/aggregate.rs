//! Best attempt and last submission, per run and per model (best over runs), with MLGym's
//! rules:
//!
//! * per run, the *best attempt* is the best primary-metric value over all recorded
//!   evaluations (entries without the metric are ignored); the *last submission* is the
//!   value of the last recorded evaluation;
//! * a run with no evaluation carrying the metric is ignored;
//! * per model, both are the best over its runs (so both are "best of N runs");
//! * a task's baseline value is taken from the first `results.json` (in path order) whose
//!   `baseline` has the metric.

use std::collections::BTreeMap;

use serde::Serialize;

use super::collect::{Issue, Metrics, RunRecord};
use super::tasks::{lookup_task, task_order, Direction, TaskMeta};

/// Best attempt and last submission of one run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RunScore {
    /// Best value of the primary metric over the run's evaluations.
    pub best: f64,
    /// Primary metric of the run's last evaluation that has it.
    pub last: f64,
}

/// Best attempt and last submission of one run, or `None` when no evaluation has `metric`.
///
/// The best value is the first occurrence of a strict improvement; the last value is the
/// final evaluation's (when the final entry lacks the metric, the last entry that has it).
pub fn run_score(agent: &[Metrics], metric: &str, direction: Direction) -> Option<RunScore> {
    let values: Vec<f64> = agent
        .iter()
        .filter_map(|m| m.get(metric).copied())
        .collect();
    let first = *values.first()?;
    let best = values
        .iter()
        .copied()
        .fold(first, |b, v| if direction.better(v, b) { v } else { b });
    let last = *values.last()?;
    Some(RunScore { best, last })
}

/// Scores of all models on one task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskScores {
    /// The task.
    pub task: TaskMeta,
    /// The baseline's primary metric, when some `results.json` recorded it.
    pub baseline: Option<f64>,
    /// Model → best attempt (best over runs). Models without a usable run are absent.
    pub best: BTreeMap<String, f64>,
    /// Model → last submission (best over runs).
    pub last: BTreeMap<String, f64>,
    /// Model → number of runs that contributed a score.
    pub scored_runs: BTreeMap<String, usize>,
    /// Model → number of runs found (scored or not).
    pub runs: BTreeMap<String, usize>,
}

impl TaskScores {
    /// Best-attempt score of `solver` (`"baseline"` gives the baseline value).
    pub fn best_of(&self, solver: &str) -> Option<f64> {
        if solver == super::BASELINE {
            self.baseline
        } else {
            self.best.get(solver).copied()
        }
    }

    /// Last-submission score of `solver` (`"baseline"` gives the baseline value).
    pub fn last_of(&self, solver: &str) -> Option<f64> {
        if solver == super::BASELINE {
            self.baseline
        } else {
            self.last.get(solver).copied()
        }
    }
}

/// Per-task scores for `runs`, in the published task order, plus one [`Issue`] per run
/// that produced no usable score.
pub fn aggregate(runs: &[RunRecord]) -> (Vec<TaskScores>, Vec<Issue>) {
    let mut by_task: BTreeMap<String, TaskScores> = BTreeMap::new();
    let mut issues = Vec::new();
    for run in runs {
        let Some(meta) = lookup_task(&run.task) else {
            continue;
        };
        let entry = by_task
            .entry(run.task.clone())
            .or_insert_with(|| TaskScores {
                task: meta,
                baseline: None,
                best: BTreeMap::new(),
                last: BTreeMap::new(),
                scored_runs: BTreeMap::new(),
                runs: BTreeMap::new(),
            });
        *entry.runs.entry(run.model.clone()).or_default() += 1;
        let Some(results) = &run.results else {
            issues.push(Issue {
                path: run.dir.clone(),
                reason: "no results.json (and no scores in run.json): counted as a failed run"
                    .into(),
            });
            continue;
        };
        if entry.baseline.is_none() {
            entry.baseline = results.baseline.get(meta.metric).copied();
        }
        let Some(score) = run_score(&results.agent, meta.metric, meta.direction) else {
            let why = if results.agent.is_empty() {
                "the run recorded no score".to_string()
            } else {
                format!("no recorded evaluation has the metric {:?}", meta.metric)
            };
            issues.push(Issue {
                path: run.dir.clone(),
                reason: format!("{why}: counted as a failed run, no score"),
            });
            continue;
        };
        *entry.scored_runs.entry(run.model.clone()).or_default() += 1;
        keep_better(&mut entry.best, &run.model, score.best, meta.direction);
        keep_better(&mut entry.last, &run.model, score.last, meta.direction);
    }
    let mut tasks: Vec<TaskScores> = by_task.into_values().collect();
    tasks.sort_by_key(|t| task_order(t.task.id));
    (tasks, issues)
}

fn keep_better(map: &mut BTreeMap<String, f64>, model: &str, value: f64, d: Direction) {
    match map.get_mut(model) {
        Some(v) => {
            if d.better(value, *v) {
                *v = value;
            }
        }
        None => {
            map.insert(model.to_string(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pairs: &[(&str, f64)]) -> Metrics {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn best_and_last_of_one_run() {
        let agent = vec![
            m(&[("Time", 16.1)]),
            m(&[("Other", 1.0)]),
            m(&[("Time", 15.0)]),
            m(&[("Time", 17.0)]),
        ];
        let s = run_score(&agent, "Time", Direction::Minimize).unwrap();
        assert_eq!(
            s,
            RunScore {
                best: 15.0,
                last: 17.0
            }
        );
        let s = run_score(&agent, "Time", Direction::Maximize).unwrap();
        assert_eq!(
            s,
            RunScore {
                best: 17.0,
                last: 17.0
            }
        );
        assert!(run_score(&[], "Time", Direction::Minimize).is_none());
        assert!(run_score(&[m(&[("x", 1.0)])], "Time", Direction::Minimize).is_none());
    }
}
