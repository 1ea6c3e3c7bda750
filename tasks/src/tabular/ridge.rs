//! Ridge regression with scikit-learn's semantics (`Ridge(alpha, fit_intercept=True)`):
//! `X` and `y` are centred, `(Xcᵀ Xc + αI) w = Xcᵀ yc` is solved, and the intercept is
//! `ȳ − x̄·w`, so the penalty never touches the intercept.

use super::linalg::{centred_normal_equations, dot, solve_spd, LinalgError, Matrix};

/// A fitted ridge model.
#[derive(Clone, Debug, PartialEq)]
pub struct Ridge {
    /// One weight per feature.
    pub coef: Vec<f64>,
    /// The unpenalised intercept.
    pub intercept: f64,
}

impl Ridge {
    /// Fits on `x` (rows = samples) and targets `y` with penalty `alpha > 0`.
    pub fn fit(x: &Matrix, y: &[f64], alpha: f64) -> Result<Ridge, LinalgError> {
        if y.len() != x.rows || x.rows == 0 {
            return Err(LinalgError::Shape(format!(
                "{} targets for {} rows",
                y.len(),
                x.rows
            )));
        }
        let x_mean = x.column_means();
        let y_mean = y.iter().sum::<f64>() / y.len() as f64;
        let (mut gram, rhs) = centred_normal_equations(x, y, &x_mean, y_mean);
        for j in 0..gram.cols {
            gram.data[j * gram.cols + j] += alpha;
        }
        let coef = solve_spd(&gram, &rhs)?;
        let intercept = y_mean - dot(&x_mean, &coef);
        Ok(Ridge { coef, intercept })
    }

    /// Predictions for the rows of `x`.
    pub fn predict(&self, x: &Matrix) -> Vec<f64> {
        (0..x.rows)
            .map(|i| dot(x.row(i), &self.coef) + self.intercept)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_closed_form_on_a_small_problem() {
        // One feature x = [0,1,2,3], y = [1,3,5,7] (y = 2x + 1). Centred: Sxx = 5, Sxy = 10,
        // so w = 10 / (5 + α) and b = 4 − 1.5 w.
        let x = Matrix {
            rows: 4,
            cols: 1,
            data: vec![0., 1., 2., 3.],
        };
        let y = [1., 3., 5., 7.];
        let m = Ridge::fit(&x, &y, 1.0).unwrap();
        assert!((m.coef[0] - 10.0 / 6.0).abs() < 1e-14);
        assert!((m.intercept - (4.0 - 1.5 * 10.0 / 6.0)).abs() < 1e-14);
        let tiny = Ridge::fit(&x, &y, 1e-12).unwrap();
        let p = tiny.predict(&x);
        for (pi, yi) in p.iter().zip(y) {
            assert!((pi - yi).abs() < 1e-9);
        }
    }

    #[test]
    fn collinear_one_hot_columns_are_fine_with_a_penalty() {
        // Two complementary indicator columns (they sum to 1, singular after centring).
        let x = Matrix {
            rows: 4,
            cols: 2,
            data: vec![1., 0., 0., 1., 1., 0., 0., 1.],
        };
        let m = Ridge::fit(&x, &[2., 4., 2., 4.], 0.1).unwrap();
        // Centred: Gram = [[1,−1],[−1,1]], Xcᵀyc = [−2, 2] ⇒ w1 = −w2 = −2 / 2.1.
        assert!((m.coef[0] + 2.0 / 2.1).abs() < 1e-14 && (m.coef[1] - 2.0 / 2.1).abs() < 1e-14);
        let p = m.predict(&x);
        assert!(p[0] < 3.0 && p[1] > 3.0);
        assert!(Ridge::fit(&x, &[1.0], 0.1).is_err());
    }
}
