//! Muon (Keller Jordan's "MomentUm Orthogonalized by Newton-schulz"), as in MLGym's
//! baseline: SGD momentum (Nesterov) whose update is replaced by an approximation of the
//! nearest semi-orthogonal matrix, computed with 5 steps of the quintic Newton–Schulz
//! iteration `X ← aX + (bA + cA²)X`, `A = XXᵀ`, `(a, b, c) = (3.4445, −4.7750, 2.0315)`,
//! starting from `G / (‖G‖_F + 1e-7)` (transposed first when it has more rows than
//! columns), and scaled by `sqrt(max(1, rows/cols))`.
//!
//! modded-nanogpt runs the iteration in bf16 on the GPU; here it runs in the recipe's
//! compute dtype (`train::Compute`: by default bf16 on a GPU, f32 on the CPU).

use candle_core::backprop::GradStore;
use candle_core::{DType, Result, Tensor, Var};

/// The quintic's coefficients `(a, b, c)`.
pub const NS_COEFFS: (f64, f64, f64) = (3.4445, -4.7750, 2.0315);

/// `eps` added to the Frobenius norm before the first step.
pub const NS_EPS: f64 = 1e-7;

/// The Newton–Schulz orthogonalisation of a matrix `g`, in `dtype`, returned in f32.
pub fn newton_schulz5(g: &Tensor, steps: usize, dtype: DType) -> Result<Tensor> {
    let (rows, cols) = g.dims2()?;
    let (a, b, c) = NS_COEFFS;
    let norm = g.to_dtype(DType::F32)?.sqr()?.sum_all()?.sqrt()?;
    let mut x = g
        .to_dtype(DType::F32)?
        .broadcast_div(&(norm + NS_EPS)?)?
        .to_dtype(dtype)?;
    let tall = rows > cols;
    if tall {
        x = x.t()?.contiguous()?;
    }
    for _ in 0..steps {
        let xa = x.matmul(&x.t()?)?;
        let poly = ((&xa * b)? + (xa.matmul(&xa)? * c)?)?;
        x = ((&x * a)? + poly.matmul(&x)?)?;
    }
    if tall {
        x = x.t()?.contiguous()?;
    }
    x.to_dtype(DType::F32)
}

/// The optimiser: one momentum buffer per matrix.
#[derive(Debug)]
pub struct Muon {
    params: Vec<Var>,
    buffers: Vec<Tensor>,
    /// Learning rate (MLGym: 0.02, times the schedule).
    pub lr: f64,
    /// Momentum (MLGym: 0.95).
    pub momentum: f64,
    /// Nesterov momentum (MLGym: yes).
    pub nesterov: bool,
    /// Newton–Schulz steps (MLGym: 5).
    pub steps: usize,
    /// The dtype of the iteration.
    pub dtype: DType,
}

impl Muon {
    /// Muon over `params` (every one a matrix).
    pub fn new(
        params: Vec<Var>,
        lr: f64,
        momentum: f64,
        steps: usize,
        dtype: DType,
    ) -> Result<Muon> {
        let mut buffers = Vec::with_capacity(params.len());
        for p in &params {
            if p.rank() != 2 {
                candle_core::bail!("Muon: parameter of shape {:?} is not a matrix", p.dims());
            }
            buffers.push(p.as_tensor().zeros_like()?);
        }
        Ok(Muon {
            params,
            buffers,
            lr,
            momentum,
            nesterov: true,
            steps,
            dtype,
        })
    }

    /// Sets the learning rate.
    pub fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }

    /// One update from `grads` (parameters without a gradient are left alone).
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        for (p, buf) in self.params.iter().zip(self.buffers.iter_mut()) {
            let Some(g) = grads.get(p.as_tensor()) else {
                continue;
            };
            let g = g.to_dtype(DType::F32)?;
            *buf = ((&*buf * self.momentum)? + &g)?;
            let g = if self.nesterov {
                (g + (&*buf * self.momentum)?)?
            } else {
                buf.clone()
            };
            let u = newton_schulz5(&g, self.steps, self.dtype)?;
            let (rows, cols) = u.dims2()?;
            let scale = (rows as f64 / cols as f64).max(1.0).sqrt();
            p.set(&(p.as_tensor() - (u * (self.lr * scale))?)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn newton_schulz_makes_singular_values_near_one() {
        let mut r = crate::rng::Rng::new(5);
        for (rows, cols) in [(8usize, 8usize), (16, 8), (8, 16)] {
            let v: Vec<f32> = (0..rows * cols).map(|_| r.normal() as f32).collect();
            let g = Tensor::from_vec(v, (rows, cols), &Device::Cpu).unwrap();
            let x = newton_schulz5(&g, 5, DType::F32).unwrap();
            assert_eq!(x.dims(), &[rows, cols]);
            // XXᵀ (or XᵀX) is near the identity: the quintic aims at singular values in
            // roughly [0.7, 1.2], not exactly 1.
            let small = if rows <= cols {
                x.matmul(&x.t().unwrap())
            } else {
                x.t().unwrap().matmul(&x)
            }
            .unwrap();
            let diag: Vec<f32> = (0..rows.min(cols))
                .map(|i| small.get(i).unwrap().get(i).unwrap().to_vec0().unwrap())
                .collect();
            assert!(diag.iter().all(|d| (0.4..1.5).contains(d)), "{diag:?}");
        }
    }
}
