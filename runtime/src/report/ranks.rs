//! Per-task rankings and the two aggregate rankings MLGym publishes.
//!
//! A task's ranking sorts the solvers that have a score (baseline included) from best to
//! worst; solvers without a score follow in their input order. Ties keep input order.
//! The aggregate *mean rank* row (MLGym labels it "Plackett-Luce") sorts solvers by their
//! mean 1-based position over the task rankings, ascending; the *Borda* row gives each
//! solver `n − index` points per task (index 0-based, `n` solvers) and sorts descending.

use serde::Serialize;

use super::tasks::Direction;

/// Solver indices ordered best first: scored solvers sorted by score (stable), then the
/// solvers without a score in input order.
pub fn rank_task(scores: &[Option<f64>], direction: Direction) -> Vec<usize> {
    let mut scored: Vec<(usize, f64)> = scores
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.filter(|v| !v.is_nan()).map(|v| (i, v)))
        .collect();
    scored.sort_by(|a, b| {
        let ord = a.1.total_cmp(&b.1);
        match direction {
            Direction::Maximize => ord.reverse(),
            Direction::Minimize => ord,
        }
    });
    let mut order: Vec<usize> = scored.into_iter().map(|(i, _)| i).collect();
    let missing: Vec<usize> = (0..scores.len()).filter(|i| !order.contains(i)).collect();
    order.extend(missing);
    order
}

/// One entry of an aggregate ranking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AggregateEntry {
    /// Solver index.
    pub solver: usize,
    /// Mean 1-based position (mean rank) or Borda points.
    pub value: f64,
}

/// Solvers sorted by mean 1-based position over `rankings`, best (lowest) first.
pub fn mean_rank(rankings: &[Vec<usize>], n_solvers: usize) -> Vec<AggregateEntry> {
    let mut sums = vec![0.0; n_solvers];
    for ranking in rankings {
        for (pos, &s) in ranking.iter().enumerate() {
            if let Some(x) = sums.get_mut(s) {
                *x += (pos + 1) as f64;
            }
        }
    }
    let n = rankings.len().max(1) as f64;
    let mut v: Vec<AggregateEntry> = sums
        .into_iter()
        .enumerate()
        .map(|(solver, s)| AggregateEntry {
            solver,
            value: s / n,
        })
        .collect();
    v.sort_by(|a, b| a.value.total_cmp(&b.value));
    v
}

/// Solvers sorted by Borda points over `rankings` (each task gives `n − index`), most
/// points first.
pub fn borda(rankings: &[Vec<usize>], n_solvers: usize) -> Vec<AggregateEntry> {
    let mut points = vec![0.0; n_solvers];
    for ranking in rankings {
        for (idx, &s) in ranking.iter().enumerate() {
            if let Some(x) = points.get_mut(s) {
                *x += (n_solvers - idx) as f64;
            }
        }
    }
    let mut v: Vec<AggregateEntry> = points
        .into_iter()
        .enumerate()
        .map(|(solver, value)| AggregateEntry { solver, value })
        .collect();
    v.sort_by(|a, b| b.value.total_cmp(&a.value));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ranking_puts_missing_last_and_keeps_ties_stable() {
        let s = [Some(1.0), None, Some(3.0), Some(1.0), Some(f64::NAN)];
        assert_eq!(rank_task(&s, Direction::Maximize), vec![2, 0, 3, 1, 4]);
        assert_eq!(rank_task(&s, Direction::Minimize), vec![0, 3, 2, 1, 4]);
    }

    #[test]
    fn mean_rank_and_borda_on_a_small_case() {
        // Three solvers, two tasks.
        let rankings = vec![vec![0, 1, 2], vec![1, 2, 0]];
        let m = mean_rank(&rankings, 3);
        // Means: s0 (1+3)/2 = 2, s1 (2+1)/2 = 1.5, s2 (3+2)/2 = 2.5.
        assert_eq!(
            m.iter().map(|e| e.solver).collect::<Vec<_>>(),
            vec![1, 0, 2]
        );
        assert_eq!(m[0].value, 1.5);
        let b = borda(&rankings, 3);
        // Points: s0 3+1 = 4, s1 2+3 = 5, s2 1+2 = 3.
        assert_eq!(
            b.iter().map(|e| (e.solver, e.value)).collect::<Vec<_>>(),
            vec![(1, 5.0), (0, 4.0), (2, 3.0)]
        );
    }
}
