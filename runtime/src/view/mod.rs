//! The trajectory viewer: one self-contained HTML page (inline CSS, JS and SVG) showing a
//! run's task, every step's thought, action and observation, the scores over steps and
//! the exit status.
//!
//! Input is a run directory of this runtime (`<task>.traj`, `run.json`, `results.json`) or
//! an MLGym `.traj` / `.traj.gz` file. Everything taken from the trajectory is HTML-escaped.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::report::collect::{
    metrics_of, parse_json_lenient, parse_results, parse_run_dir_name, parse_run_json,
    read_text_maybe_gz, Metrics, ModelStats,
};
use crate::report::tasks::{lookup_task, Direction};

mod chart;
mod render;

pub use render::render_html;

/// Errors loading a trajectory for viewing.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The path does not exist.
    #[error("{0} does not exist; give a run directory or a .traj / .traj.gz file")]
    NotFound(PathBuf),
    /// A directory without a trajectory.
    #[error("{0} holds no .traj or .traj.gz file; give a run directory written by `mlgym run` or a trajectory file")]
    NoTrajectory(PathBuf),
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A trajectory that is not MLGym's `.traj` JSON.
    #[error("{path} is not a trajectory: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
}

/// One agent step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Step {
    /// The model's reasoning before the action.
    pub thought: String,
    /// The command executed.
    pub action: String,
    /// What the environment returned.
    pub observation: String,
    /// `state` JSON before the action (open file, working directory).
    pub state: String,
    /// Seconds the step took.
    pub execution_time: Option<f64>,
}

/// One recorded evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct ScorePoint {
    /// 1-based step that produced it, when known.
    pub step: Option<usize>,
    /// `validate`, `submit` or `autosubmission` (or `evaluation` when unknown).
    pub kind: String,
    /// The metrics.
    pub metrics: Metrics,
}

/// Everything the viewer shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ViewData {
    /// Page title: the run directory or file name.
    pub title: String,
    /// The file the trajectory was read from.
    pub source: PathBuf,
    /// Task id.
    pub task: Option<String>,
    /// Model name.
    pub model: Option<String>,
    /// System prompt (first `system` history item).
    pub system_prompt: Option<String>,
    /// Task prompt (first `user` history item).
    pub task_prompt: Option<String>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// The evaluations, in order.
    pub scores: Vec<ScorePoint>,
    /// Exit status.
    pub exit_status: Option<String>,
    /// Submission path.
    pub submission: Option<String>,
    /// Baseline metrics (from `results.json`), empty when unknown.
    pub baseline: Metrics,
    /// Primary metric and its direction.
    pub primary: Option<(String, Direction)>,
    /// Tokens, calls and cost.
    pub stats: ModelStats,
}

impl ViewData {
    /// Value of the primary metric in `m`.
    pub fn primary_of(&self, m: &Metrics) -> Option<f64> {
        self.primary.as_ref().and_then(|(k, _)| m.get(k).copied())
    }

    /// The final score: the primary metric of the last evaluation.
    pub fn final_score(&self) -> Option<f64> {
        self.scores.last().and_then(|s| self.primary_of(&s.metrics))
    }

    /// The best score over all evaluations.
    pub fn best_score(&self) -> Option<f64> {
        let (_, dir) = self.primary.as_ref()?;
        self.scores
            .iter()
            .filter_map(|s| self.primary_of(&s.metrics))
            .reduce(|a, b| if dir.better(b, a) { b } else { a })
    }
}

/// A score as the viewer prints it: up to 4 decimals, scientific for huge or tiny values.
pub fn format_score(x: f64) -> String {
    let a = x.abs();
    if !x.is_finite() {
        return x.to_string();
    }
    if a >= 1e6 || (a != 0.0 && a < 1e-3) {
        return format!("{x:.4e}");
    }
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

fn is_traj_file(p: &Path) -> bool {
    p.is_file()
        && p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".traj") || n.ends_with(".traj.gz"))
}

/// Finds the trajectory file for `path` (a run directory or the file itself).
fn traj_path(path: &Path) -> Result<PathBuf, ViewError> {
    if !path.exists() {
        return Err(ViewError::NotFound(path.to_path_buf()));
    }
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|source| ViewError::Read {
            path: path.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| is_traj_file(p))
        .collect();
    found.sort();
    found
        .into_iter()
        .next()
        .ok_or_else(|| ViewError::NoTrajectory(path.to_path_buf()))
}

fn string_of(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Loads a run directory or a `.traj[.gz]` file.
pub fn load(path: &Path) -> Result<ViewData, ViewError> {
    let traj = traj_path(path)?;
    let text = read_text_maybe_gz(&traj).map_err(|source| ViewError::Read {
        path: traj.clone(),
        source,
    })?;
    let v = parse_json_lenient(&text).map_err(|e| ViewError::Parse {
        path: traj.clone(),
        message: format!("not valid JSON ({e})"),
    })?;
    let steps_json = v
        .get("trajectory")
        .and_then(Value::as_array)
        .ok_or_else(|| ViewError::Parse {
            path: traj.clone(),
            message: "no \"trajectory\" list".into(),
        })?;
    let steps: Vec<Step> = steps_json
        .iter()
        .map(|s| Step {
            thought: string_of(s.get("thought")),
            action: string_of(s.get("action")),
            observation: string_of(s.get("observation")),
            state: string_of(s.get("state")),
            execution_time: s.get("execution_time").and_then(Value::as_f64),
        })
        .collect();
    let history = v.get("history").and_then(Value::as_array);
    let first_of = |role: &str| {
        history.and_then(|h| {
            h.iter()
                .find(|i| i.get("role").and_then(Value::as_str) == Some(role))
                .map(|i| string_of(i.get("content")))
        })
    };
    let info = v.get("info");
    let info_scores: Vec<Metrics> = info
        .and_then(|i| i.get("score"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|m| metrics_of(m).unwrap_or_default())
                .collect()
        })
        .unwrap_or_default();

    // The run directory: the one given, or the trajectory's folder if it has run.json.
    let run_dir = if path.is_dir() {
        Some(path.to_path_buf())
    } else {
        traj.parent()
            .filter(|p| p.join("run.json").is_file())
            .map(Path::to_path_buf)
    };
    let run_json_text = run_dir
        .as_ref()
        .and_then(|d| std::fs::read_to_string(d.join("run.json")).ok());
    let run_json = run_json_text
        .as_deref()
        .and_then(|t| parse_run_json(t).ok());
    let raw_run_json = run_json_text
        .as_deref()
        .and_then(|t| parse_json_lenient(t).ok());
    let baseline = run_dir
        .as_ref()
        .and_then(|d| std::fs::read_to_string(d.join("results.json")).ok())
        .and_then(|t| parse_results(&t).ok())
        .map(|r| r.baseline)
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| baseline_from_observations(&steps));

    let name_of = |p: &Path| {
        p.file_name()
            .and_then(|n| n.to_str())
            .map(|n| {
                n.trim_end_matches(".gz")
                    .trim_end_matches(".traj")
                    .to_string()
            })
            .unwrap_or_default()
    };
    let title = name_of(run_dir.as_deref().unwrap_or(&traj));
    let parsed = parse_run_dir_name(&title);
    let file_task = Some(name_of(&traj)).filter(|n| lookup_task(n).is_some());
    let task = run_json
        .as_ref()
        .and_then(|r| r.task.clone())
        .or(file_task)
        .or_else(|| parsed.as_ref().map(|p| p.1.clone()));
    let model = run_json
        .as_ref()
        .and_then(|r| r.model.clone())
        .or_else(|| parsed.as_ref().map(|p| p.0.clone()))
        .map(|m| m.strip_prefix("metagen-").unwrap_or(&m).to_string());

    let scores = match raw_run_json
        .as_ref()
        .and_then(|r| r.get("scores"))
        .and_then(Value::as_array)
    {
        Some(list) => scores_from_run_json(list, steps.len()),
        None => scores_from_traj(
            &info_scores,
            &steps,
            info.and_then(|i| i.get("exit_status"))
                .and_then(Value::as_str),
        ),
    };
    let primary = task
        .as_deref()
        .and_then(lookup_task)
        .map(|t| (t.metric.to_string(), t.direction))
        .or_else(|| {
            scores
                .iter()
                .find_map(|s| s.metrics.keys().next().cloned())
                .map(|k| (k, Direction::Maximize))
        });
    let info_stats = info.and_then(|i| i.get("model_stats"));
    let stats = match &run_json {
        Some(r) if r.stats != ModelStats::default() => r.stats.clone(),
        _ => ModelStats {
            tokens_sent: info_stats
                .and_then(|s| s.get("tokens_sent"))
                .and_then(Value::as_u64),
            tokens_received: info_stats
                .and_then(|s| s.get("tokens_received"))
                .and_then(Value::as_u64),
            api_calls: info_stats
                .and_then(|s| s.get("api_calls"))
                .and_then(Value::as_u64),
            total_cost: info_stats
                .and_then(|s| s.get("total_cost"))
                .and_then(Value::as_f64),
        },
    };
    Ok(ViewData {
        title,
        source: traj.clone(),
        task,
        model,
        system_prompt: first_of("system"),
        task_prompt: first_of("user"),
        exit_status: run_json
            .as_ref()
            .and_then(|r| r.exit_status.clone())
            .or_else(|| {
                info.and_then(|i| i.get("exit_status"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            }),
        submission: info
            .and_then(|i| i.get("submission"))
            .and_then(Value::as_str)
            .map(str::to_string),
        steps,
        scores,
        baseline,
        primary,
        stats,
    })
}

/// The baseline metrics MLGym prints in a successful validation's observation
/// (`Baseline Score: {'Score': 1.02}`); empty when no observation has them.
pub fn baseline_from_observations(steps: &[Step]) -> Metrics {
    for s in steps {
        let Some(pos) = s.observation.find("Baseline Score: {") else {
            continue;
        };
        let rest = &s.observation[pos + "Baseline Score: {".len()..];
        let Some(end) = rest.find('}') else { continue };
        let metrics: Metrics = rest[..end]
            .split(',')
            .filter_map(|pair| {
                let (k, v) = pair.rsplit_once(':')?;
                let key = k.trim().trim_matches(|c| c == '\'' || c == '"').to_string();
                let v = v.trim();
                let v = v
                    .strip_prefix("np.float64(")
                    .and_then(|x| x.strip_suffix(')'))
                    .unwrap_or(v);
                let value = v.parse::<f64>().ok().filter(|x| x.is_finite())?;
                Some((key, value))
            })
            .collect();
        if !metrics.is_empty() {
            return metrics;
        }
    }
    Metrics::new()
}

/// Scores from `run.json` `scores` (`step` is the 1-based step; if any is 0 the list is
/// taken as 0-based).
fn scores_from_run_json(list: &[Value], n_steps: usize) -> Vec<ScorePoint> {
    let zero_based = list
        .iter()
        .any(|s| s.get("step").and_then(Value::as_u64) == Some(0));
    list.iter()
        .map(|s| ScorePoint {
            step: s
                .get("step")
                .and_then(Value::as_u64)
                .map(|x| x as usize + usize::from(zero_based))
                .filter(|x| *x >= 1 && *x <= n_steps.max(1)),
            kind: s
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("evaluation")
                .to_string(),
            metrics: s.get("metrics").and_then(metrics_of).unwrap_or_default(),
        })
        .collect()
}

/// Scores from an MLGym `info.score`, matched to steps: each successful `validate`
/// (observation with "Evaluation Score:") takes the next score, and a final successful
/// submission or autosubmission takes the last one. If the counts do not match, the steps
/// are left unknown.
fn scores_from_traj(scores: &[Metrics], steps: &[Step], exit: Option<&str>) -> Vec<ScorePoint> {
    let mut marks: Vec<(usize, &str)> = steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.observation.contains("Evaluation Score:"))
        .map(|(i, _)| (i + 1, "validate"))
        .collect();
    let final_ok = exit.is_some_and(|e| e == "submitted" || e.starts_with("autosubmission"));
    if final_ok && !steps.is_empty() {
        let kind = if exit == Some("submitted") {
            "submit"
        } else {
            "autosubmission"
        };
        marks.push((steps.len(), kind));
    }
    let matched = marks.len() == scores.len();
    scores
        .iter()
        .enumerate()
        .map(|(i, m)| ScorePoint {
            step: if matched {
                marks.get(i).map(|x| x.0)
            } else {
                None
            },
            kind: if matched {
                marks.get(i).map_or("evaluation", |x| x.1).to_string()
            } else {
                "evaluation".to_string()
            },
            metrics: m.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_formatting() {
        assert_eq!(format_score(1.2635798454284668), "1.2636");
        assert_eq!(format_score(2.0), "2");
        assert_eq!(format_score(-3.1167493439488e13), "-3.1167e13");
        assert_eq!(format_score(0.0), "0");
    }

    #[test]
    fn baseline_is_read_from_a_validation_observation() {
        let steps = vec![Step {
            observation: "Your code produced a valid submission artefact at x.\nBaseline Score: \
                          {'Reward Mean': 48.8, 'Reward Std': 30.3}\nEvaluation Score: {'Reward Mean': 50.0}"
                .into(),
            ..Default::default()
        }];
        let b = baseline_from_observations(&steps);
        assert_eq!(b.get("Reward Mean"), Some(&48.8));
        assert_eq!(b.get("Reward Std"), Some(&30.3));
        assert!(baseline_from_observations(&[]).is_empty());
    }

    #[test]
    fn traj_scores_are_matched_to_validate_and_submit_steps() {
        let step = |obs: &str| Step {
            observation: obs.into(),
            ..Default::default()
        };
        let steps = vec![
            step("ls"),
            step("Your code produced...\nEvaluation Score: {'Score': 1.0}"),
            step("Submission artefact not found."),
            step(""),
        ];
        let m = |v: f64| -> Metrics { [("Score".to_string(), v)].into_iter().collect() };
        let s = scores_from_traj(&[m(1.0), m(1.2)], &steps, Some("submitted"));
        assert_eq!(s[0].step, Some(2));
        assert_eq!(s[1].step, Some(4));
        assert_eq!(s[1].kind, "submit");
        // A failed final evaluation: counts differ, steps unknown.
        let s = scores_from_traj(
            &[m(1.0), m(1.2)],
            &steps,
            Some("evaluation_format_error (submit)"),
        );
        assert!(s.iter().all(|p| p.step.is_none()));
    }
}
