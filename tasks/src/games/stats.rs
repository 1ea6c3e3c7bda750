//! Score and standard error over simulations.

/// The result of one evaluation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// Mean over simulations of the row's mean payoff per round (MLGym's `Score`).
    pub score: f64,
    /// Standard error of `score`: the sample standard deviation of the per-simulation
    /// scores over √simulations (0 with fewer than two simulations).
    pub standard_error: f64,
    /// Number of simulations.
    pub simulations: usize,
}

impl Summary {
    /// Summarises per-simulation scores (sequential sums: the same inputs give the same
    /// bits on every machine).
    pub fn from_scores(scores: &[f64]) -> Summary {
        let n = scores.len();
        if n == 0 {
            return Summary {
                score: 0.0,
                standard_error: 0.0,
                simulations: 0,
            };
        }
        let mean = scores.iter().sum::<f64>() / n as f64;
        let standard_error = if n > 1 {
            let ss: f64 = scores.iter().map(|x| (x - mean) * (x - mean)).sum();
            (ss / (n - 1) as f64 / n as f64).sqrt()
        } else {
            0.0
        };
        Summary {
            score: mean,
            standard_error,
            simulations: n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_standard_error() {
        let s = Summary::from_scores(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(s.score, 2.5);
        // Sample variance 5/3; SE = sqrt(5/3 / 4).
        assert!((s.standard_error - (5.0f64 / 12.0).sqrt()).abs() < 1e-15);
        assert_eq!(Summary::from_scores(&[7.0]).standard_error, 0.0);
        assert_eq!(Summary::from_scores(&[]).simulations, 0);
    }
}
