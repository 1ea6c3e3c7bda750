//! What the report needs to know about a task: the name used in published tables, the
//! primary ("priority") metric and whether larger or smaller is better.
//!
//! The table holds MLGym-Bench's 13 tasks with the metric and direction MLGym's analysis
//! used for its published tables. Lookup goes through [`lookup_task`] so that it can later
//! be backed by the task registry without changing callers.

use serde::Serialize;

/// Whether a larger or a smaller value of the primary metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Larger is better (accuracy, reward, score).
    Maximize,
    /// Smaller is better (loss, time).
    Minimize,
}

impl Direction {
    /// True when `a` is strictly better than `b` in this direction (false if either is NaN).
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            Direction::Maximize => a > b,
            Direction::Minimize => a < b,
        }
    }

    /// True when `a` is strictly worse than `b` in this direction (false if either is NaN).
    pub fn worse(self, a: f64, b: f64) -> bool {
        self.better(b, a)
    }
}

/// Report metadata of one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TaskMeta {
    /// Task id as it appears in run directory names and `run.json` (`battleOfSexes`).
    pub id: &'static str,
    /// Name used in the rows of the published tables (`Battle of Sexes`).
    pub display: &'static str,
    /// Primary metric, a key of each `results.json` `agent` entry (`Score`).
    pub metric: &'static str,
    /// Whether a larger or smaller metric is better.
    pub direction: Direction,
}

const fn task(
    id: &'static str,
    display: &'static str,
    metric: &'static str,
    direction: Direction,
) -> TaskMeta {
    TaskMeta {
        id,
        display,
        metric,
        direction,
    }
}

/// MLGym-Bench's 13 tasks, in the row order of the published tables.
pub const MLGYM_TASKS: [TaskMeta; 13] = [
    task(
        "regressionKaggleHousePrice",
        "House Price",
        "r2",
        Direction::Maximize,
    ),
    task("3SATTime", "3-SAT", "Time", Direction::Minimize),
    task(
        "imageClassificationCifar10",
        "CIFAR-10",
        "accuracy",
        Direction::Maximize,
    ),
    task(
        "imageClassificationFMnist",
        "Fashion MNIST",
        "accuracy",
        Direction::Maximize,
    ),
    task(
        "imageCaptioningCOCO",
        "MS-COCO",
        "BLEU Score",
        Direction::Maximize,
    ),
    task(
        "languageModelingFineWeb",
        "Language Modeling",
        "val_loss",
        Direction::Minimize,
    ),
    task(
        "naturalLanguageInferenceMNLI",
        "MNLI",
        "validation_accuracy",
        Direction::Maximize,
    ),
    task(
        "battleOfSexes",
        "Battle of Sexes",
        "Score",
        Direction::Maximize,
    ),
    task(
        "prisonersDilemma",
        "Prisoners Dilemma",
        "Score",
        Direction::Maximize,
    ),
    task("blotto", "Blotto", "Score", Direction::Maximize),
    task(
        "rlBreakoutMinAtar",
        "Breakout",
        "Reward Mean",
        Direction::Maximize,
    ),
    task(
        "rlMetaMazeMisc",
        "Meta Maze",
        "Reward Mean",
        Direction::Maximize,
    ),
    task(
        "rlMountainCarContinuous",
        "Mountain Car Continuous",
        "Reward Mean",
        Direction::Maximize,
    ),
];

/// The report metadata of task `id`, or `None` when the task is unknown.
pub fn lookup_task(id: &str) -> Option<TaskMeta> {
    MLGYM_TASKS.iter().find(|t| t.id == id).copied()
}

/// Position of task `id` in the published row order (unknown tasks sort last).
pub fn task_order(id: &str) -> usize {
    MLGYM_TASKS
        .iter()
        .position(|t| t.id == id)
        .unwrap_or(MLGYM_TASKS.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_known_and_rejects_unknown() {
        let t = lookup_task("3SATTime");
        assert_eq!(t.map(|t| t.direction), Some(Direction::Minimize));
        assert_eq!(t.map(|t| t.metric), Some("Time"));
        assert!(lookup_task("titanicSurvivalX").is_none());
        assert_eq!(task_order("regressionKaggleHousePrice"), 0);
        assert_eq!(task_order("nope"), 13);
    }

    #[test]
    fn direction_comparisons_ignore_nan() {
        assert!(Direction::Maximize.better(2.0, 1.0));
        assert!(Direction::Minimize.better(1.0, 2.0));
        assert!(!Direction::Maximize.better(f64::NAN, 1.0));
        assert!(!Direction::Maximize.worse(f64::NAN, 1.0));
        assert!(Direction::Minimize.worse(3.0, 1.0));
    }
}
