//! The Gym API's reward: MLGym's `env.step` always returns 0 and carries the score in
//! `info`; ours turns the score into a number a training loop can use.
//!
//! A step that produces no score (every ordinary command, a failed evaluation) is worth
//! 0. A step whose evaluation succeeded (`validate`, `submit`, an autosubmission) is
//! worth, by [`RewardKind`]:
//!
//! * `improvement` (default): the primary metric's improvement over the task's baseline,
//!   sign-corrected so that better is always positive: `score − baseline` for `max`
//!   metrics, `baseline − score` for `min` metrics;
//! * `raw`: the primary metric's value as the evaluator reported it (not sign-corrected);
//! * `ratio`: the normalised performance ratio against the baseline, `score / baseline`
//!   for `max` metrics and `baseline / score` for `min` metrics (1 = as good as the
//!   baseline, above 1 = better). Like MLGym's performance ratios it is defined only when
//!   both numbers are positive.
//!
//! Every evaluation is rewarded, so an episode's return adds up its validations and its
//! final submission. When a reward cannot be computed (the metric is missing, the task
//! has no baseline, a ratio with a non-positive number) it is 0 and the reason is given.

use std::str::FromStr;

use mlgym_tasks::{Direction, Metrics, Task};
use serde::{Deserialize, Serialize};

use crate::episode::{scoring, ScoreRecord};

/// How a score becomes a reward.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RewardKind {
    /// Sign-corrected improvement of the primary metric over the baseline.
    #[default]
    Improvement,
    /// The primary metric itself.
    Raw,
    /// The performance ratio against the baseline (1 = baseline, higher is better).
    Ratio,
}

impl RewardKind {
    /// The name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            RewardKind::Improvement => "improvement",
            RewardKind::Raw => "raw",
            RewardKind::Ratio => "ratio",
        }
    }
}

/// An unknown reward name.
#[derive(Debug, thiserror::Error)]
#[error("unknown reward `{0}`: use improvement (default), raw or ratio")]
pub struct UnknownReward(pub String);

impl FromStr for RewardKind {
    type Err = UnknownReward;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "improvement" => Ok(RewardKind::Improvement),
            "raw" => Ok(RewardKind::Raw),
            "ratio" => Ok(RewardKind::Ratio),
            other => Err(UnknownReward(other.to_string())),
        }
    }
}

/// A reward and, when it had to be 0 for want of a number, why.
#[derive(Clone, Debug, PartialEq)]
pub struct Reward {
    /// The reward.
    pub value: f64,
    /// Why the reward is 0 although the step was scored.
    pub note: Option<String>,
}

impl Reward {
    fn zero(note: Option<String>) -> Reward {
        Reward { value: 0.0, note }
    }
}

/// What the reward of one task is computed from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RewardSpec {
    /// The kind.
    pub kind: RewardKind,
    /// The primary metric's name.
    pub metric: String,
    /// Its direction.
    pub direction: Direction,
    /// The baseline's value of the primary metric, when the task has one.
    pub baseline: Option<f64>,
}

impl RewardSpec {
    /// The reward of `task` (its primary metric and the baseline the runtime shows).
    pub fn for_task(task: &Task, kind: RewardKind) -> RewardSpec {
        let primary = task.def.primary_metric();
        let baseline: Metrics = scoring::baseline_scores(task);
        RewardSpec {
            kind,
            metric: primary.name.clone(),
            direction: primary.direction,
            baseline: baseline
                .get(&primary.name)
                .copied()
                .filter(|v| v.is_finite()),
        }
    }

    /// The primary metric of a score, when present and finite.
    pub fn primary(&self, metrics: &Metrics) -> Option<f64> {
        metrics.get(&self.metric).copied().filter(|v| v.is_finite())
    }

    /// The reward of a step that produced `score` (`None`: no successful evaluation).
    pub fn reward(&self, score: Option<&ScoreRecord>) -> Reward {
        let Some(score) = score else {
            return Reward::zero(None);
        };
        let Some(value) = self.primary(&score.metrics) else {
            return Reward::zero(Some(format!(
                "the evaluation reported no finite `{}`",
                self.metric
            )));
        };
        match self.kind {
            RewardKind::Raw => Reward { value, note: None },
            RewardKind::Improvement => match self.baseline {
                None => Reward::zero(Some(format!("the task has no baseline `{}` to improve on", self.metric))),
                Some(b) => Reward {
                    value: match self.direction {
                        Direction::Max => value - b,
                        Direction::Min => b - value,
                    },
                    note: None,
                },
            },
            RewardKind::Ratio => match self.baseline {
                None => Reward::zero(Some(format!("the task has no baseline `{}` to compare with", self.metric))),
                Some(b) if b <= 0.0 || value <= 0.0 => Reward::zero(Some(format!(
                    "the ratio needs a positive score and baseline (score {value}, baseline {b}); use reward `improvement`"
                ))),
                Some(b) => Reward {
                    value: match self.direction {
                        Direction::Max => value / b,
                        Direction::Min => b / value,
                    },
                    note: None,
                },
            },
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn spec(kind: RewardKind, direction: Direction, baseline: Option<f64>) -> RewardSpec {
        RewardSpec {
            kind,
            metric: "Score".into(),
            direction,
            baseline,
        }
    }

    fn score(v: f64) -> ScoreRecord {
        ScoreRecord {
            step: 3,
            kind: "validate".into(),
            metrics: [("Score".to_string(), v)].into_iter().collect(),
            compute: None,
        }
    }

    #[test]
    fn no_score_is_worth_nothing() {
        let s = spec(RewardKind::Improvement, Direction::Max, Some(1.0));
        assert_eq!(
            s.reward(None),
            Reward {
                value: 0.0,
                note: None
            }
        );
    }

    #[test]
    fn improvement_is_sign_corrected() {
        let max = spec(RewardKind::Improvement, Direction::Max, Some(1.0));
        assert!((max.reward(Some(&score(1.5))).value - 0.5).abs() < 1e-12);
        assert!((max.reward(Some(&score(0.5))).value + 0.5).abs() < 1e-12);
        let min = spec(RewardKind::Improvement, Direction::Min, Some(16.0));
        assert!((min.reward(Some(&score(12.0))).value - 4.0).abs() < 1e-12);
        assert!((min.reward(Some(&score(20.0))).value + 4.0).abs() < 1e-12);
    }

    #[test]
    fn raw_and_ratio() {
        let raw = spec(RewardKind::Raw, Direction::Min, Some(16.0));
        assert_eq!(raw.reward(Some(&score(12.0))).value, 12.0);
        let ratio_max = spec(RewardKind::Ratio, Direction::Max, Some(2.0));
        assert_eq!(ratio_max.reward(Some(&score(3.0))).value, 1.5);
        let ratio_min = spec(RewardKind::Ratio, Direction::Min, Some(16.0));
        assert_eq!(ratio_min.reward(Some(&score(8.0))).value, 2.0);
    }

    #[test]
    fn undefined_rewards_are_zero_with_a_reason() {
        let negative = spec(RewardKind::Ratio, Direction::Max, Some(-0.25));
        let r = negative.reward(Some(&score(0.5)));
        assert_eq!(r.value, 0.0);
        assert!(r.note.unwrap().contains("positive"));
        let none = spec(RewardKind::Improvement, Direction::Max, None);
        assert!(none
            .reward(Some(&score(0.5)))
            .note
            .unwrap()
            .contains("baseline"));
        let missing = spec(RewardKind::Raw, Direction::Max, None);
        let empty = ScoreRecord {
            step: 1,
            kind: "submit".into(),
            metrics: Metrics::new(),
            compute: None,
        };
        assert!(missing.reward(Some(&empty)).note.unwrap().contains("Score"));
    }

    #[test]
    fn names_round_trip() {
        for k in [RewardKind::Improvement, RewardKind::Raw, RewardKind::Ratio] {
            assert_eq!(k.as_str().parse::<RewardKind>().unwrap(), k);
        }
        assert!("best"
            .parse::<RewardKind>()
            .unwrap_err()
            .to_string()
            .contains("improvement"));
    }
}
