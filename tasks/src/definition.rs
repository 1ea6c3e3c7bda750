//! `task.toml`: what a task is (shown to the agent, copied into its workspace, declared
//! as its submission, scored by which metrics) — parsed into [`TaskDef`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Whether a metric is better high or low.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Higher is better.
    Max,
    /// Lower is better.
    Min,
}

impl Direction {
    /// `"max"` or `"min"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Max => "max",
            Direction::Min => "min",
        }
    }

    /// Whether `a` is strictly better than `b`.
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            Direction::Max => a > b,
            Direction::Min => a < b,
        }
    }
}

/// One metric the evaluator reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricDef {
    /// Name as it appears in `metrics` (MLGym's spelling, e.g. `Score`, `Reward Mean`).
    pub name: String,
    /// Better high or low.
    pub direction: Direction,
    /// The metric used for ranking (exactly one per task).
    #[serde(default)]
    pub primary: bool,
}

/// Reference scores of the task's baseline.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baselines {
    /// Our native baseline, measured with our evaluator.
    #[serde(default)]
    pub ours: BTreeMap<String, f64>,
    /// MLGym's published baseline (its `baseline_scores[0]`).
    #[serde(default)]
    pub mlgym: BTreeMap<String, f64>,
}

/// A task definition (`tasks/defs/<id>/task.toml`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskDef {
    /// MLGym's task id (`battleOfSexes`, `rlMetaMazeMisc`, ...).
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Domain, e.g. `game-theory`, `tabular`, `rl`, `vision`, `language`, `algorithms`.
    pub domain: String,
    /// The task description shown to the agent (Markdown), or empty when
    /// `description_file` is given.
    #[serde(default)]
    pub description: String,
    /// A file (relative to the task folder) holding the description instead.
    #[serde(default)]
    pub description_file: Option<String>,
    /// Starter files copied into the workspace, relative to the task's `starter/` folder.
    #[serde(default)]
    pub starter_files: Vec<String>,
    /// A starter folder shared with other tasks (`tasks/starters/<name>/`): all its files
    /// are copied into the workspace too, at the same relative paths, after
    /// `starter_files` (a path in both is an error).
    #[serde(default)]
    pub shared_starter: Option<String>,
    /// Starter files that are read-only in the workspace (a subset of `starter_files`).
    #[serde(default)]
    pub read_only: Vec<String>,
    /// Datasets the task needs (names in the dataset registry); empty for none.
    #[serde(default)]
    pub datasets: Vec<String>,
    /// Submission artefacts: paths or globs relative to the workspace. Only these are
    /// copied into the evaluation directory.
    pub submission: Vec<String>,
    /// Metrics, with direction; exactly one is `primary`.
    pub metrics: Vec<MetricDef>,
    /// Baseline scores.
    #[serde(default)]
    pub baseline: Baselines,
    /// Seconds allowed for a training command (MLGym's `training_timeout`).
    #[serde(default = "default_training_timeout")]
    pub training_timeout: u64,
    /// GPUs the task wants (0 = CPU).
    #[serde(default)]
    pub gpus: u32,
    /// Memory limit of the agent's sandbox, in MB.
    #[serde(default = "default_memory")]
    pub memory_mb: u64,
}

fn default_training_timeout() -> u64 {
    1800
}

fn default_memory() -> u64 {
    8192
}

/// A `task.toml` that cannot be used: names the file, the position and the problem.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {message}", file.display(), position.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
pub struct DefinitionError {
    /// The file.
    pub file: PathBuf,
    /// Line and column (1-based), when known.
    pub position: Option<(usize, usize)>,
    /// What is wrong (mentions the field).
    pub message: String,
}

impl TaskDef {
    /// Parses and checks a definition; `file` is used in error messages.
    pub fn parse(text: &str, file: &Path) -> Result<TaskDef, DefinitionError> {
        let def: TaskDef = toml::from_str(text).map_err(|e| {
            let position = e.span().map(|s| line_col(text, s.start));
            DefinitionError {
                file: file.to_path_buf(),
                position,
                message: e.message().trim().to_string(),
            }
        })?;
        def.check(file)?;
        Ok(def)
    }

    fn check(&self, file: &Path) -> Result<(), DefinitionError> {
        let fail = |message: String| {
            Err(DefinitionError {
                file: file.to_path_buf(),
                position: None,
                message,
            })
        };
        if self.id.is_empty()
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return fail(format!(
                "field `id`: `{}` must be a non-empty name of letters, digits, `_` or `-`",
                self.id
            ));
        }
        if let Some(name) = &self.shared_starter {
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return fail(format!(
                    "field `shared_starter`: `{name}` must be the name of a folder under \
                     tasks/starters/ (letters, digits, `_` or `-`)"
                ));
            }
        }
        let primaries = self.metrics.iter().filter(|m| m.primary).count();
        if primaries != 1 {
            return fail(format!("field `metrics`: exactly one metric must have `primary = true` (found {primaries})"));
        }
        if self.submission.is_empty() {
            return fail("field `submission`: list at least one artefact (a path or glob)".into());
        }
        for r in &self.read_only {
            if !self.starter_files.contains(r) {
                return fail(format!(
                    "field `read_only`: `{r}` is not one of `starter_files`"
                ));
            }
        }
        for p in self.starter_files.iter().chain(self.submission.iter()) {
            if p.starts_with('/') || p.split('/').any(|c| c == "..") {
                return fail(format!(
                    "path `{p}` must be relative and stay inside the workspace"
                ));
            }
        }
        if self.description.trim().is_empty() && self.description_file.is_none() {
            return fail("field `description`: give a description or a `description_file`".into());
        }
        Ok(())
    }

    /// The primary metric.
    pub fn primary_metric(&self) -> &MetricDef {
        // `check` guarantees exactly one; fall back to the first to stay total.
        self.metrics
            .iter()
            .find(|m| m.primary)
            .unwrap_or(&self.metrics[0])
    }

    /// The definition of metric `name`, if any.
    pub fn metric(&self, name: &str) -> Option<&MetricDef> {
        self.metrics.iter().find(|m| m.name == name)
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id = "demo"
name = "Demo"
domain = "test"
description = "Do it."
starter_files = ["a.py"]
submission = ["a.py"]
[[metrics]]
name = "Score"
direction = "max"
primary = true
"#;

    #[test]
    fn parses_a_good_definition() {
        let d = TaskDef::parse(GOOD, Path::new("demo/task.toml")).unwrap();
        assert_eq!(d.primary_metric().name, "Score");
        assert_eq!(d.training_timeout, 1800);
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let bad = GOOD.replace("direction = \"max\"", "direction = \"up\"");
        let e = TaskDef::parse(&bad, Path::new("demo/task.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("demo/task.toml:10:"), "{e}");
        assert!(e.contains("up"), "{e}");
        let missing = GOOD.replace("submission = [\"a.py\"]\n", "");
        let e = TaskDef::parse(&missing, Path::new("x/task.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("submission"), "{e}");
        let unknown = format!("{GOOD}\ncolour = 3\n");
        let e = TaskDef::parse(&unknown, Path::new("x/task.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("colour"), "{e}");
        let two = GOOD.replace("primary = true", "primary = false");
        let e = TaskDef::parse(&two, Path::new("x/task.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("primary"), "{e}");
        let shared = format!("shared_starter = \"../rl\"\n{GOOD}");
        let e = TaskDef::parse(&shared, Path::new("x/task.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("shared_starter") && e.contains("tasks/starters"),
            "{e}"
        );
    }
}
