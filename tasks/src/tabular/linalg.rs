//! Dense f64 linear algebra for the tabular baselines: a row-major matrix, the Gram
//! matrix of centred columns, and a Cholesky solve with one step of iterative refinement.
//!
//! Every loop runs in a fixed order, so results are identical bit for bit across runs.

/// A dense row-major matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// `rows * cols` values, row after row.
    pub data: Vec<f64>,
}

impl Matrix {
    /// A `rows` × `cols` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Matrix {
        Matrix {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Row `i`, mutable.
    pub fn row_mut(&mut self, i: usize) -> &mut [f64] {
        &mut self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Element `(i, j)`.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.cols + j]
    }

    /// The mean of each column.
    pub fn column_means(&self) -> Vec<f64> {
        let mut m = vec![0.0; self.cols];
        for i in 0..self.rows {
            for (a, x) in m.iter_mut().zip(self.row(i)) {
                *a += x;
            }
        }
        let n = self.rows.max(1) as f64;
        m.iter_mut().for_each(|a| *a /= n);
        m
    }

    /// `self · v`.
    pub fn mul_vec(&self, v: &[f64]) -> Vec<f64> {
        (0..self.rows).map(|i| dot(self.row(i), v)).collect()
    }
}

/// The dot product.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Linear-algebra failures.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LinalgError {
    /// The matrix is not (numerically) positive definite.
    #[error("the system matrix is not positive definite (pivot {pivot} is {value:e}); the features are degenerate")]
    NotPositiveDefinite {
        /// 0-based pivot index.
        pivot: usize,
        /// The pivot value found.
        value: f64,
    },
    /// Shapes do not agree.
    #[error("shape mismatch: {0}")]
    Shape(String),
}

/// `Xcᵀ Xc` and `Xcᵀ yc` for `X` and `y` centred by `x_mean`, `y_mean`.
pub fn centred_normal_equations(
    x: &Matrix,
    y: &[f64],
    x_mean: &[f64],
    y_mean: f64,
) -> (Matrix, Vec<f64>) {
    let p = x.cols;
    let mut gram = Matrix::zeros(p, p);
    let mut rhs = vec![0.0; p];
    let mut xc = vec![0.0; p];
    for (i, yi) in y.iter().enumerate().take(x.rows) {
        for ((c, v), m) in xc.iter_mut().zip(x.row(i)).zip(x_mean) {
            *c = v - m;
        }
        let yc = yi - y_mean;
        for a in 0..p {
            let xa = xc[a];
            rhs[a] += xa * yc;
            if xa == 0.0 {
                continue;
            }
            let row = &mut gram.data[a * p..(a + 1) * p];
            for (g, xb) in row[a..].iter_mut().zip(&xc[a..]) {
                *g += xa * xb;
            }
        }
    }
    for a in 0..p {
        for b in 0..a {
            gram.data[a * p + b] = gram.data[b * p + a];
        }
    }
    (gram, rhs)
}

/// A Cholesky factor `L` (lower triangular, `A = L Lᵀ`).
#[derive(Clone, Debug)]
pub struct Cholesky {
    l: Matrix,
}

impl Cholesky {
    /// Factors the symmetric positive-definite `a`.
    pub fn factor(a: &Matrix) -> Result<Cholesky, LinalgError> {
        if a.rows != a.cols {
            return Err(LinalgError::Shape(format!(
                "{}x{} is not square",
                a.rows, a.cols
            )));
        }
        let n = a.rows;
        let mut l = Matrix::zeros(n, n);
        for j in 0..n {
            let lj = l.row(j)[..j].to_vec();
            let d = a.get(j, j) - dot(&lj, &lj);
            if d.is_nan() || d <= 0.0 {
                return Err(LinalgError::NotPositiveDefinite { pivot: j, value: d });
            }
            let djj = d.sqrt();
            l.data[j * n + j] = djj;
            for i in j + 1..n {
                let s = a.get(i, j) - dot(&l.row(i)[..j], &lj);
                l.data[i * n + j] = s / djj;
            }
        }
        Ok(Cholesky { l })
    }

    /// Solves `L Lᵀ x = b`.
    pub fn solve(&self, b: &[f64]) -> Vec<f64> {
        let n = self.l.rows;
        let mut z = b.to_vec();
        for i in 0..n {
            let s = dot(&self.l.row(i)[..i], &z[..i]);
            z[i] = (z[i] - s) / self.l.get(i, i);
        }
        for i in (0..n).rev() {
            let mut s = z[i];
            for (k, zk) in z.iter().enumerate().skip(i + 1) {
                s -= self.l.get(k, i) * zk;
            }
            z[i] = s / self.l.get(i, i);
        }
        z
    }
}

/// Solves the symmetric positive-definite system `a x = b` by Cholesky, then one step of
/// iterative refinement (residual in f64) to recover digits lost to conditioning.
pub fn solve_spd(a: &Matrix, b: &[f64]) -> Result<Vec<f64>, LinalgError> {
    if b.len() != a.rows {
        return Err(LinalgError::Shape(format!(
            "{} right-hand sides for {} rows",
            b.len(),
            a.rows
        )));
    }
    let chol = Cholesky::factor(a)?;
    let mut x = chol.solve(b);
    let r: Vec<f64> = a
        .mul_vec(&x)
        .iter()
        .zip(b)
        .map(|(ax, bi)| bi - ax)
        .collect();
    let dx = chol.solve(&r);
    x.iter_mut().zip(&dx).for_each(|(xi, d)| *xi += d);
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_a_known_system() {
        // A = [[4,2,0],[2,5,1],[0,1,3]], x = [1,-2,3] ⇒ b = [0,-5,7].
        let a = Matrix {
            rows: 3,
            cols: 3,
            data: vec![4., 2., 0., 2., 5., 1., 0., 1., 3.],
        };
        let x = solve_spd(&a, &[0., -5., 7.]).unwrap();
        for (got, want) in x.iter().zip([1.0, -2.0, 3.0]) {
            assert!((got - want).abs() < 1e-14, "{x:?}");
        }
    }

    #[test]
    fn rejects_indefinite_and_bad_shapes() {
        let a = Matrix {
            rows: 2,
            cols: 2,
            data: vec![1., 2., 2., 1.],
        };
        assert!(matches!(
            solve_spd(&a, &[1., 1.]),
            Err(LinalgError::NotPositiveDefinite { pivot: 1, .. })
        ));
        assert!(matches!(solve_spd(&a, &[1.]), Err(LinalgError::Shape(_))));
    }

    #[test]
    fn centred_gram_matches_direct_computation() {
        let x = Matrix {
            rows: 3,
            cols: 2,
            data: vec![1., 2., 3., 5., 5., 11.],
        };
        let y = [1.0, 2.0, 6.0];
        let mx = x.column_means();
        assert_eq!(mx, vec![3.0, 6.0]);
        let (g, r) = centred_normal_equations(&x, &y, &mx, 3.0);
        // Centred columns: [-2,0,2], [-4,-1,5]; centred y: [-2,-1,3].
        assert_eq!(g.data, vec![8., 18., 18., 42.]);
        assert_eq!(r, vec![10., 24.]);
    }
}
