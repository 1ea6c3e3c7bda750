//! `mlgym export`: trajectories into fine-tuning data.
//!
//! Inputs are our run directories (`run.json` + `<task>.traj`, or `trajectory.jsonl`),
//! MLGym `.traj` / `.traj.gz` files, and folders holding either (searched recursively).
//! Each episode becomes one JSON line `{"messages": [...], "metadata": {...}}` in the
//! chat format fine-tuning tools read: the system prompt, the task prompt, then the
//! assistant's raw responses and the observations (with footers) that answered them;
//! demonstrations are left out. `metadata` names the task, model, agent, seed, exit
//! status and the score (the primary metric of the last successful evaluation, MLGym's
//! "last attempt"). With `per_step` every assistant turn becomes its own line holding
//! the conversation up to and including it. The schema is `docs/export-schema.json`.

mod load;

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

pub use load::{find_sources, load, Source};

/// One chat message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

/// What is known about an exported episode.
#[derive(Clone, Debug, Serialize)]
pub struct Metadata {
    /// Where it came from.
    pub source: PathBuf,
    /// `mlgym-run` (our run directory) or `mlgym-traj` (an MLGym `.traj`).
    pub format: String,
    /// Task id.
    pub task: String,
    /// Model name, when known.
    pub model: Option<String>,
    /// Agent spec, when known.
    pub agent: Option<String>,
    /// Seed of the evaluations, when known.
    pub seed: Option<u64>,
    /// MLGym's exit status (`""` when the run never recorded one).
    pub exit_status: String,
    /// The primary metric of the last successful evaluation.
    pub score: Option<f64>,
    /// The best primary-metric value of the episode.
    pub best_score: Option<f64>,
    /// The primary metric, when known.
    pub primary_metric: Option<String>,
    /// `max` or `min`, when known.
    pub direction: Option<String>,
    /// The baseline's value of the primary metric, when known.
    pub baseline: Option<f64>,
    /// Every successful evaluation's metrics, in order.
    pub scores: Vec<serde_json::Map<String, Value>>,
    /// Agent steps in the episode.
    pub steps: usize,
    /// With per-step export: the step (1-based) this line ends with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
}

/// One line of the output.
#[derive(Clone, Debug, Serialize)]
pub struct Record {
    /// The conversation.
    pub messages: Vec<Message>,
    /// The episode's facts.
    pub metadata: Metadata,
}

/// Which episodes and how.
#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// Keep episodes whose score is at least as good as this (≥ for `max` metrics, ≤ for
    /// `min` metrics); episodes without a score are dropped.
    pub min_score: Option<f64>,
    /// Keep episodes whose exit status is one of these (`PREFIX*` matches a prefix).
    pub exit_status: Vec<String>,
    /// One line per assistant turn instead of one per episode.
    pub per_step: bool,
}

/// What an export did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// Episodes found.
    pub episodes: usize,
    /// Episodes written.
    pub exported: usize,
    /// Lines written.
    pub lines: usize,
    /// Episodes left out by the filters.
    pub filtered: usize,
    /// Inputs that could not be read, with the reason.
    pub unreadable: Vec<(PathBuf, String)>,
}

/// Errors of an export.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// An input path does not exist.
    #[error("{0}: no such file or directory (give run directories, .traj files or folders holding them)")]
    Missing(PathBuf),
    /// Reading an input or writing the output failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// An input is not a trajectory.
    #[error("{path}: {message}")]
    Parse {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

pub(super) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub(super) fn parse_err(path: &Path, message: impl Into<String>) -> ExportError {
    ExportError::Parse {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Whether the record passes the filters.
pub fn keep(r: &Record, opts: &ExportOptions) -> bool {
    let status = &r.metadata.exit_status;
    let status_ok = opts.exit_status.is_empty()
        || opts.exit_status.iter().any(|s| match s.strip_suffix('*') {
            Some(prefix) => status.starts_with(prefix),
            None => status == s,
        });
    let score_ok = match opts.min_score {
        None => true,
        Some(x) => match (r.metadata.score, r.metadata.direction.as_deref()) {
            (Some(s), Some("min")) => s <= x,
            (Some(s), _) => s >= x,
            (None, _) => false,
        },
    };
    status_ok && score_ok
}

/// The lines of one record: itself, or one per assistant turn.
pub fn lines(r: &Record, per_step: bool) -> Vec<Record> {
    if !per_step {
        return vec![r.clone()];
    }
    let mut out = Vec::new();
    let mut step = 0;
    for (i, m) in r.messages.iter().enumerate() {
        if m.role == "assistant" {
            step += 1;
            let mut meta = r.metadata.clone();
            meta.step = Some(step);
            out.push(Record {
                messages: r.messages[..=i].to_vec(),
                metadata: meta,
            });
        }
    }
    out
}

/// Exports the episodes under `paths` into `w` as JSON lines.
pub fn export(
    paths: &[PathBuf],
    opts: &ExportOptions,
    w: &mut dyn Write,
) -> Result<Summary, ExportError> {
    let mut summary = Summary::default();
    for source in find_sources(paths)? {
        summary.episodes += 1;
        let record = match load(&source) {
            Ok(r) => r,
            Err(e) => {
                let p = match &source {
                    Source::Run(p) | Source::Traj(p) => p.clone(),
                };
                summary.unreadable.push((p, e.to_string()));
                continue;
            }
        };
        if !keep(&record, opts) {
            summary.filtered += 1;
            continue;
        }
        summary.exported += 1;
        for line in lines(&record, opts.per_step) {
            let mut bytes = serde_json::to_vec(&line)
                .map_err(|e| parse_err(&line.metadata.source, e.to_string()))?;
            bytes.push(b'\n');
            w.write_all(&bytes).map_err(io(Path::new("<output>")))?;
            summary.lines += 1;
        }
    }
    Ok(summary)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn record(status: &str, score: Option<f64>, direction: &str) -> Record {
        Record {
            messages: vec![
                Message {
                    role: "system".into(),
                    content: "s".into(),
                },
                Message {
                    role: "user".into(),
                    content: "task".into(),
                },
                Message {
                    role: "assistant".into(),
                    content: "a1".into(),
                },
                Message {
                    role: "user".into(),
                    content: "o1".into(),
                },
                Message {
                    role: "assistant".into(),
                    content: "a2".into(),
                },
                Message {
                    role: "user".into(),
                    content: "o2".into(),
                },
            ],
            metadata: Metadata {
                source: PathBuf::from("x"),
                format: "mlgym-run".into(),
                task: "t".into(),
                model: None,
                agent: None,
                seed: None,
                exit_status: status.into(),
                score,
                best_score: score,
                primary_metric: Some("Score".into()),
                direction: Some(direction.into()),
                baseline: None,
                scores: Vec::new(),
                steps: 2,
                step: None,
            },
        }
    }

    #[test]
    fn filters_follow_the_metric_direction_and_status_patterns() {
        let o = |min: Option<f64>, st: &[&str]| ExportOptions {
            min_score: min,
            exit_status: st.iter().map(|s| s.to_string()).collect(),
            per_step: false,
        };
        assert!(keep(
            &record("submitted", Some(1.2), "max"),
            &o(Some(1.0), &[])
        ));
        assert!(!keep(
            &record("submitted", Some(0.8), "max"),
            &o(Some(1.0), &[])
        ));
        assert!(keep(
            &record("submitted", Some(10.0), "min"),
            &o(Some(12.0), &[])
        ));
        assert!(!keep(
            &record("submitted", None, "max"),
            &o(Some(-1e9), &[])
        ));
        assert!(keep(
            &record("autosubmission (max_steps)", None, "max"),
            &o(None, &["autosubmission*"])
        ));
        assert!(!keep(
            &record("submitted", None, "max"),
            &o(None, &["autosubmission*", "exit_forfeit"])
        ));
    }

    #[test]
    fn per_step_lines_end_with_each_assistant_turn() {
        let l = lines(&record("submitted", None, "max"), true);
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].messages.last().unwrap().content, "a1");
        assert_eq!(l[1].messages.len(), 5);
        assert_eq!(l[1].metadata.step, Some(2));
    }
}
