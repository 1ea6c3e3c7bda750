//! Performance ratios, performance profiles and AUP, with MLGym's rules.
//!
//! Per task, a solver is *feasible* when its score is non-negative and not worse than the
//! baseline. With `best` the best feasible score, the ratio of a feasible solver is
//! `best / score` (maximize) or `score / best` (minimize), so 1 means best on the task.
//! Infeasible and scoreless solvers get the penalty ratio `worst_ratio · (1 + ε)`, where
//! `worst_ratio` is the largest feasible ratio and ε = [`EPSILON`]. The task's `max_tau` is
//! `ceil(worst_ratio · (1 + ε))`.
//!
//! The profile of a solver is `ρ(τ)` = fraction of tasks whose `log10(ratio) ≤ τ`, on a grid
//! of [`TAU_POINTS`] evenly spaced τ from 0 to `τ_max = ceil(10 · log10(max max_tau)) / 10`
//! (one grid shared by best-attempt and last-submission profiles). AUP is the left Riemann
//! sum of `ρ` over that grid.
//!
//! Two degenerate cases MLGym does not meet are handled explicitly: a score whose ratio
//! would be infinite (a 0 when maximizing, or any non-zero score when the best is 0 while
//! minimizing) is treated as infeasible; a task where no solver is feasible gives every
//! solver an infinite ratio (no credit) and no `max_tau`.

use serde::Serialize;

use super::tasks::Direction;

/// Penalty margin beyond the worst feasible ratio.
pub const EPSILON: f64 = 0.05;
/// Number of τ grid points.
pub const TAU_POINTS: usize = 500;
/// τ_max used when no task has a feasible solver.
const FALLBACK_TAU_MAX: f64 = 1.0;

/// Performance ratios of all solvers on one task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskRatios {
    /// Ratio per solver (same order as the scores given); ≥ 1, infinite when no solver is
    /// feasible on the task.
    pub ratios: Vec<f64>,
    /// Whether each solver was feasible.
    pub feasible: Vec<bool>,
    /// `ceil(worst_ratio · (1 + ε))`, or `None` when no solver is feasible.
    pub max_tau: Option<f64>,
}

/// Performance ratios of one task from each solver's score (`None` = no score).
pub fn performance_ratios(
    scores: &[Option<f64>],
    baseline: Option<f64>,
    direction: Direction,
) -> TaskRatios {
    let mut feasible: Vec<bool> = scores
        .iter()
        .map(|s| match s {
            Some(s) => {
                s.is_finite() && *s >= 0.0 && !baseline.is_some_and(|b| direction.worse(*s, b))
            }
            None => false,
        })
        .collect();
    let best = scores
        .iter()
        .zip(&feasible)
        .filter(|(_, f)| **f)
        .filter_map(|(s, _)| *s)
        .reduce(|a, b| if direction.better(b, a) { b } else { a });
    let Some(best) = best else {
        return TaskRatios {
            ratios: vec![f64::INFINITY; scores.len()],
            feasible,
            max_tau: None,
        };
    };
    let raw = |s: f64| {
        if s == best {
            1.0
        } else {
            match direction {
                Direction::Maximize => best / s,
                Direction::Minimize => s / best,
            }
        }
    };
    let mut worst_ratio: f64 = 1.0;
    for (s, f) in scores.iter().zip(feasible.iter_mut()) {
        if let (Some(s), true) = (s, *f) {
            let r = raw(*s);
            if r.is_finite() {
                worst_ratio = worst_ratio.max(r);
            } else {
                *f = false;
            }
        }
    }
    let penalty = worst_ratio * (1.0 + EPSILON);
    let ratios = scores
        .iter()
        .zip(&feasible)
        .map(|(s, f)| match (s, f) {
            (Some(s), true) => raw(*s),
            _ => penalty,
        })
        .collect();
    TaskRatios {
        ratios,
        feasible,
        max_tau: Some(penalty.ceil()),
    }
}

/// `τ_max = ceil(10 · log10(max of max_taus)) / 10` (1.0 when there is none).
pub fn tau_max(max_taus: impl IntoIterator<Item = f64>) -> f64 {
    let m = max_taus
        .into_iter()
        .filter(|x| x.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    if m.is_finite() && m > 1.0 {
        (10.0 * m.log10()).ceil() / 10.0
    } else {
        FALLBACK_TAU_MAX
    }
}

/// `points` evenly spaced values from 0 to `stop` inclusive (as numpy's `linspace`).
pub fn linspace(stop: f64, points: usize) -> Vec<f64> {
    if points == 0 {
        return Vec::new();
    }
    if points == 1 {
        return vec![0.0];
    }
    let step = stop / (points - 1) as f64;
    let mut v: Vec<f64> = (0..points).map(|i| i as f64 * step).collect();
    v[points - 1] = stop;
    v
}

/// Profile of one solver: for each τ, the fraction of `ratios` (one per task) with
/// `log10(ratio) ≤ τ`.
pub fn profile(ratios: &[f64], tau: &[f64]) -> Vec<f64> {
    if ratios.is_empty() {
        return vec![0.0; tau.len()];
    }
    let logs: Vec<f64> = ratios.iter().map(|r| r.log10()).collect();
    let n = ratios.len() as f64;
    tau.iter()
        .map(|t| logs.iter().filter(|l| **l <= *t).count() as f64 / n)
        .collect()
}

/// Area under a profile: the left Riemann sum `Σ (τ[i+1] − τ[i]) · ρ(τ[i])`.
pub fn aup(rho: &[f64], tau: &[f64]) -> f64 {
    tau.windows(2)
        .zip(rho)
        .map(|(w, r)| (w[1] - w[0]) * r)
        .sum()
}

/// Ratios, profiles and AUPs of all solvers for one kind of score (best or last).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfileSet {
    /// Ratios per task (outer, in task order), per solver (inner).
    pub ratios: Vec<TaskRatios>,
    /// Profile per solver, over the shared τ grid.
    pub rho: Vec<Vec<f64>>,
    /// AUP per solver.
    pub aup: Vec<f64>,
}

/// Best-attempt and last-submission profiles on one shared τ grid.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profiles {
    /// The τ grid (log10 space).
    pub tau: Vec<f64>,
    /// Profiles of best attempts.
    pub best: ProfileSet,
    /// Profiles of last submissions.
    pub last: ProfileSet,
}

/// One task's input to [`compute_profiles`]: the baseline value, the direction, and the
/// best/last score of each solver.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskInput {
    /// Baseline value (for feasibility).
    pub baseline: Option<f64>,
    /// Direction of the primary metric.
    pub direction: Direction,
    /// Best-attempt score per solver.
    pub best: Vec<Option<f64>>,
    /// Last-submission score per solver.
    pub last: Vec<Option<f64>>,
}

/// Computes ratios for every task (best and last), the shared τ grid, each solver's
/// profiles and AUP. `n_solvers` is the length of each score vector.
pub fn compute_profiles(tasks: &[TaskInput], n_solvers: usize) -> Profiles {
    let best: Vec<TaskRatios> = tasks
        .iter()
        .map(|t| performance_ratios(&t.best, t.baseline, t.direction))
        .collect();
    let last: Vec<TaskRatios> = tasks
        .iter()
        .map(|t| performance_ratios(&t.last, t.baseline, t.direction))
        .collect();
    let tmax = tau_max(best.iter().chain(&last).filter_map(|r| r.max_tau));
    let tau = linspace(tmax, TAU_POINTS);
    let set = |ratios: Vec<TaskRatios>| {
        let rho: Vec<Vec<f64>> = (0..n_solvers)
            .map(|s| {
                let per_task: Vec<f64> = ratios
                    .iter()
                    .map(|r| r.ratios.get(s).copied().unwrap_or(f64::INFINITY))
                    .collect();
                profile(&per_task, &tau)
            })
            .collect();
        let aup = rho.iter().map(|r| aup(r, &tau)).collect();
        ProfileSet { ratios, rho, aup }
    };
    Profiles {
        best: set(best),
        last: set(last),
        tau,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn ratios_maximize_with_infeasible_and_missing() {
        // baseline 1.0; solvers: baseline, 2.0 (best), 1.6, 0.5 (worse than baseline),
        // missing, -3 (negative).
        let scores = [Some(1.0), Some(2.0), Some(1.6), Some(0.5), None, Some(-3.0)];
        let r = performance_ratios(&scores, Some(1.0), Direction::Maximize);
        assert_eq!(r.feasible, vec![true, true, true, false, false, false]);
        assert!(close(r.ratios[0], 2.0));
        assert!(close(r.ratios[1], 1.0));
        assert!(close(r.ratios[2], 1.25));
        let penalty = 2.0 * 1.05;
        for i in 3..6 {
            assert!(close(r.ratios[i], penalty));
        }
        assert_eq!(r.max_tau, Some(3.0));
    }

    #[test]
    fn ratios_minimize_and_negative_baseline() {
        let r = performance_ratios(
            &[Some(10.0), Some(5.0), Some(8.0)],
            Some(10.0),
            Direction::Minimize,
        );
        assert!(close(r.ratios[0], 2.0));
        assert!(close(r.ratios[1], 1.0));
        assert!(close(r.ratios[2], 1.6));
        assert_eq!(r.max_tau, Some(3.0));
        // Blotto-like: the negative baseline itself is infeasible.
        let r = performance_ratios(
            &[Some(-0.25), Some(0.5), Some(0.05)],
            Some(-0.25),
            Direction::Maximize,
        );
        assert_eq!(r.feasible, vec![false, true, true]);
        assert!(close(r.ratios[2], 10.0));
        assert!(close(r.ratios[0], 10.5));
        assert_eq!(r.max_tau, Some(11.0));
    }

    #[test]
    fn degenerate_tasks_do_not_produce_nan() {
        let r = performance_ratios(&[Some(-1.0), None], Some(-0.5), Direction::Maximize);
        assert!(r.ratios.iter().all(|x| x.is_infinite()));
        assert_eq!(r.max_tau, None);
        // A zero score when maximizing cannot have a finite ratio: infeasible.
        let r = performance_ratios(&[Some(0.0), Some(1.0)], Some(0.0), Direction::Maximize);
        assert_eq!(r.feasible, vec![false, true]);
        assert!(close(r.ratios[0], 1.05));
        // Everyone at zero: all tied best.
        let r = performance_ratios(&[Some(0.0), Some(0.0)], None, Direction::Minimize);
        assert_eq!(r.ratios, vec![1.0, 1.0]);
    }

    #[test]
    fn tau_grid_and_linspace() {
        assert!(close(tau_max([27.0, 3.0]), 1.5));
        assert!(close(tau_max([2.0]), 0.4)); // 10·log10 2 = 3.01 → 4
        assert!(close(tau_max(Vec::<f64>::new()), 1.0));
        let t = linspace(1.5, 500);
        assert_eq!(t.len(), 500);
        assert_eq!(t[0], 0.0);
        assert_eq!(t[499], 1.5);
        assert!(close(t[1], 1.5 / 499.0));
    }

    #[test]
    fn profile_and_aup_on_a_hand_made_case() {
        // Grid 0, 0.5, 1.0 (3 points); two tasks.
        let tau = linspace(1.0, 3);
        // Solver A: best on task 1 (ratio 1, log 0), ratio 10^0.75 on task 2.
        let a = profile(&[1.0, 10f64.powf(0.75)], &tau);
        assert_eq!(a, vec![0.5, 0.5, 1.0]);
        // Left Riemann sum: 0.5·0.5 + 0.5·0.5 = 0.5 (the last point adds nothing).
        assert!(close(aup(&a, &tau), 0.5));
        let b = profile(&[1.0, 1.0], &tau);
        assert!(close(aup(&b, &tau), 1.0)); // maximum AUP = τ_max
        let c = profile(&[f64::INFINITY, 100.0], &tau);
        assert!(close(aup(&c, &tau), 0.0));
    }

    #[test]
    fn compute_profiles_end_to_end() {
        // Two tasks, solvers [baseline, m1, m2].
        let tasks = vec![
            TaskInput {
                baseline: Some(1.0),
                direction: Direction::Maximize,
                best: vec![Some(1.0), Some(2.0), None],
                last: vec![Some(1.0), Some(1.5), None],
            },
            TaskInput {
                baseline: Some(10.0),
                direction: Direction::Minimize,
                best: vec![Some(10.0), Some(5.0), Some(4.0)],
                last: vec![Some(10.0), Some(5.0), Some(12.0)],
            },
        ];
        let p = compute_profiles(&tasks, 3);
        // max_taus: best t1 ceil(2·1.05)=3, t2 ceil(2.5·1.05)=3; last t1 ceil(1.5·1.05)=2,
        // t2 ceil(2·1.05)=3 → τ_max = ceil(10·log10 3)/10 = 0.5.
        assert!(close(*p.tau.last().unwrap(), 0.5));
        // m2 is best on task 2 (best) and missing on task 1.
        assert!(close(p.best.ratios[1].ratios[2], 1.0));
        assert!(close(p.best.ratios[0].ratios[2], 2.1));
        // Every AUP lies in [0, τ_max]; the solver best everywhere (m1 on last) has the
        // maximum.
        for set in [&p.best, &p.last] {
            for a in &set.aup {
                assert!(*a >= 0.0 && *a <= 0.5 + 1e-12);
            }
        }
        assert!(close(p.last.aup[1], 0.5));
        assert!(p.best.aup[1] > p.best.aup[0]);
    }
}
