//! L2-regularised logistic regression fitted by Newton's method (the loss is strictly
//! convex, so the fit is unique and independent of any seed). The intercept is not
//! penalised.
//!
//! Loss: `Σᵢ log(1 + exp(−(2yᵢ−1)(b + xᵢ·w))) + λ/2 ‖w‖²`.

use super::linalg::{dot, solve_spd, LinalgError, Matrix};

/// A fitted classifier.
#[derive(Clone, Debug, PartialEq)]
pub struct Logistic {
    /// Feature weights.
    pub coef: Vec<f64>,
    /// Intercept.
    pub intercept: f64,
    /// Newton iterations used.
    pub iterations: usize,
}

const MAX_ITERATIONS: usize = 100;
const TOLERANCE: f64 = 1e-12;

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

impl Logistic {
    /// Fits on `x` and labels `y` ∈ {0, 1} with penalty `lambda ≥ 0`.
    pub fn fit(x: &Matrix, y: &[f64], lambda: f64) -> Result<Logistic, LinalgError> {
        if y.len() != x.rows || x.rows == 0 {
            return Err(LinalgError::Shape(format!(
                "{} labels for {} rows",
                y.len(),
                x.rows
            )));
        }
        let p = x.cols + 1; // θ = [b, w]
        let mut theta = vec![0.0; p];
        let mut iterations = 0;
        let mut xi = vec![0.0; p];
        while iterations < MAX_ITERATIONS {
            iterations += 1;
            let mut grad = vec![0.0; p];
            let mut hess = Matrix::zeros(p, p);
            for (i, yi) in y.iter().enumerate() {
                xi[0] = 1.0;
                xi[1..].copy_from_slice(x.row(i));
                let prob = sigmoid(dot(&xi, &theta));
                let w = prob * (1.0 - prob);
                for a in 0..p {
                    grad[a] += xi[a] * (prob - yi);
                    let wa = w * xi[a];
                    for (b, xb) in xi.iter().enumerate().skip(a) {
                        hess.data[a * p + b] += wa * xb;
                    }
                }
            }
            for a in 0..p {
                for b in 0..a {
                    hess.data[a * p + b] = hess.data[b * p + a];
                }
            }
            for a in 1..p {
                grad[a] += lambda * theta[a];
                hess.data[a * p + a] += lambda;
            }
            let step = solve_spd(&hess, &grad)?;
            theta.iter_mut().zip(&step).for_each(|(t, s)| *t -= s);
            if step.iter().fold(0.0f64, |m, s| m.max(s.abs())) < TOLERANCE {
                break;
            }
        }
        Ok(Logistic {
            intercept: theta[0],
            coef: theta[1..].to_vec(),
            iterations,
        })
    }

    /// P(y = 1) for each row.
    pub fn predict_proba(&self, x: &Matrix) -> Vec<f64> {
        (0..x.rows)
            .map(|i| sigmoid(self.intercept + dot(x.row(i), &self.coef)))
            .collect()
    }

    /// Labels (1 where P ≥ 0.5).
    pub fn predict(&self, x: &Matrix) -> Vec<u8> {
        self.predict_proba(x)
            .into_iter()
            .map(|p| u8::from(p >= 0.5))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_the_stationarity_condition() {
        let x = Matrix {
            rows: 6,
            cols: 1,
            data: vec![-2., -1., 0., 0.5, 1., 2.],
        };
        let y = [0., 0., 1., 0., 1., 1.];
        let m = Logistic::fit(&x, &y, 0.5).unwrap();
        assert!(m.iterations < 20);
        // At the optimum: Σ(p − y) = 0 and Σ(p − y)x + λw = 0.
        let p = m.predict_proba(&x);
        let g0: f64 = p.iter().zip(&y).map(|(p, y)| p - y).sum();
        let g1: f64 = p
            .iter()
            .zip(&y)
            .zip(&x.data)
            .map(|((p, y), x)| (p - y) * x)
            .sum::<f64>()
            + 0.5 * m.coef[0];
        assert!(g0.abs() < 1e-12 && g1.abs() < 1e-12, "{g0} {g1}");
        assert_eq!(m.predict(&x), vec![0, 0, 0, 1, 1, 1]);
        // scikit-learn: LogisticRegression(C=1/λ=2, tol=1e-12) gives these.
        assert!(
            (m.coef[0] - 1.1315524814648135).abs() < 1e-8,
            "{}",
            m.coef[0]
        );
        assert!(
            (m.intercept + 0.13452375814582887).abs() < 1e-8,
            "{}",
            m.intercept
        );
    }

    #[test]
    fn separable_data_stays_finite_with_a_penalty() {
        let x = Matrix {
            rows: 4,
            cols: 1,
            data: vec![-2., -1., 1., 2.],
        };
        let m = Logistic::fit(&x, &[0., 0., 1., 1.], 1.0).unwrap();
        assert!(m.coef[0].is_finite() && m.coef[0] > 0.0);
        assert!(Logistic::fit(&x, &[0.], 1.0).is_err());
    }
}
