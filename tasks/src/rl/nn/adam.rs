//! MLGym's optimiser chain on flat vectors: `clip_by_global_norm(max_grad_norm)`, then
//! `scale_by_adam(b1 = 0.9, b2 = 0.999, eps = 1e-5)`, then a step of `-lr` (optax's
//! `scale_by_schedule` with a negative schedule, applied by `apply_updates`).

/// Adam's state for one flat parameter vector.
#[derive(Clone, Debug)]
pub struct Adam {
    /// First-moment decay (0.9).
    pub b1: f32,
    /// Second-moment decay (0.999).
    pub b2: f32,
    /// Added to the root of the second moment (1e-5 in MLGym).
    pub eps: f32,
    m: Vec<f32>,
    v: Vec<f32>,
    count: i32,
}

impl Adam {
    /// Fresh state for `n` parameters with MLGym's constants.
    pub fn new(n: usize) -> Self {
        Adam {
            b1: 0.9,
            b2: 0.999,
            eps: 1e-5,
            m: vec![0.0; n],
            v: vec![0.0; n],
            count: 0,
        }
    }

    /// Updates taken so far.
    pub fn count(&self) -> i32 {
        self.count
    }

    /// One update: clips `grads` to global norm `max_grad_norm` (in place), updates the
    /// moments and moves `params` by `-lr` times the bias-corrected Adam direction.
    /// Returns the gradient's global norm before clipping.
    pub fn step(
        &mut self,
        params: &mut [f32],
        grads: &mut [f32],
        lr: f32,
        max_grad_norm: f32,
    ) -> f32 {
        let norm = grads
            .iter()
            .map(|&g| g as f64 * g as f64)
            .sum::<f64>()
            .sqrt() as f32;
        if norm >= max_grad_norm {
            // optax: g / norm * max_norm when the norm is not below the limit.
            for g in grads.iter_mut() {
                *g = *g / norm * max_grad_norm;
            }
        }
        self.count = self.count.saturating_add(1);
        let c1 = 1.0 - self.b1.powi(self.count);
        let c2 = 1.0 - self.b2.powi(self.count);
        let (b1, b2, eps) = (self.b1, self.b2, self.eps);
        for (((p, &g), m), v) in params
            .iter_mut()
            .zip(grads.iter())
            .zip(&mut self.m)
            .zip(&mut self.v)
        {
            *m = (1.0 - b1) * g + b1 * *m;
            *v = (1.0 - b2) * (g * g) + b2 * *v;
            let m_hat = *m / c1;
            let v_hat = *v / c2;
            *p += -lr * (m_hat / (v_hat.sqrt() + eps));
        }
        norm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_moves_each_parameter_by_about_lr() {
        let mut adam = Adam::new(3);
        let mut p = vec![1.0f32, 2.0, 3.0];
        let mut g = vec![0.5f32, -0.25, 0.0];
        let norm = adam.step(&mut p, &mut g, 0.1, 10.0);
        assert!((norm - (0.3125f32).sqrt()).abs() < 1e-6);
        // m̂ = g, v̂ = g², so the step is g / (|g| + eps) ≈ sign(g).
        assert!((p[0] - 0.9).abs() < 1e-4 && (p[1] - 2.1).abs() < 1e-4 && p[2] == 3.0);
        assert_eq!(adam.count(), 1);
    }

    #[test]
    fn gradients_are_clipped_to_the_global_norm() {
        let mut adam = Adam::new(2);
        let mut p = vec![0.0f32; 2];
        let mut g = vec![3.0f32, 4.0];
        let norm = adam.step(&mut p, &mut g, 0.0, 1.0);
        assert_eq!(norm, 5.0);
        assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6);
    }
}
