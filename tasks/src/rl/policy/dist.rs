//! The actor's action distributions, computed from one row of actor outputs: sampling,
//! log-probability, entropy and their gradients with respect to the outputs.
//!
//! * Gaussian (MountainCar): outputs `[mu, s]`, `scale = softplus(s) + 0.001` (softplus as
//!   `jax.nn.softplus`: `max(s, 0) + ln(1 + e^-|s|)`); the action is `mu + scale · z` with
//!   `z` standard normal, not clipped (the environment clips the force, the reward
//!   penalises the raw action).
//! * Categorical (MetaMaze, Breakout): outputs are logits; sampling inverts the cumulative
//!   softmax at one uniform draw.
//!
//! Actions are carried as `f32` (the index for categorical actions), as MLGym's buffers do.

use super::net::{HeadKind, MIN_STD};
use crate::rng::Rng;

/// An environment action built from a sampled `f32` (the index for categorical actions).
pub trait PolicyAction: Copy {
    /// The action for sample `x`.
    fn from_sample(x: f32) -> Self;
}

impl PolicyAction for f32 {
    #[inline]
    fn from_sample(x: f32) -> Self {
        x
    }
}

impl PolicyAction for i32 {
    #[inline]
    fn from_sample(x: f32) -> Self {
        x as i32
    }
}

/// `ln(2π) / 2`.
const HALF_LN_2PI: f32 = 0.918_938_5;

/// `jax.nn.softplus`.
#[inline]
pub fn softplus(x: f32) -> f32 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// The logistic function (the derivative of softplus).
#[inline]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// The Gaussian head's standard deviation for pre-activation `s`.
#[inline]
pub fn gaussian_scale(s: f32) -> f32 {
    softplus(s) + MIN_STD
}

/// Draws an action from the distribution of one output row.
pub fn sample(head: HeadKind, out: &[f32], rng: &mut Rng) -> f32 {
    match head {
        HeadKind::Gaussian => out[0] + gaussian_scale(out[1]) * rng.normal() as f32,
        HeadKind::Categorical(n) => {
            let logits = &out[..n];
            let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut e = [0f32; 32];
            let mut total = 0.0f32;
            let mut big = Vec::new();
            let e: &mut [f32] = if n <= e.len() {
                &mut e[..n]
            } else {
                big.resize(n, 0.0);
                &mut big
            };
            for (ej, &l) in e.iter_mut().zip(logits) {
                *ej = (l - max).exp();
                total += *ej;
            }
            let u = rng.next_f32() * total;
            let mut cum = 0.0f32;
            for (j, &ej) in e.iter().enumerate() {
                cum += ej;
                if u < cum {
                    return j as f32;
                }
            }
            // Rounding (u within the last ulp of the total) or non-finite logits.
            (n - 1) as f32
        }
    }
}

/// `ln π(action)` for one output row.
pub fn log_prob(head: HeadKind, out: &[f32], action: f32) -> f32 {
    match head {
        HeadKind::Gaussian => {
            let scale = gaussian_scale(out[1]);
            let z = (action - out[0]) / scale;
            -0.5 * z * z - scale.ln() - HALF_LN_2PI
        }
        HeadKind::Categorical(n) => {
            let (max, lse) = log_sum_exp(&out[..n]);
            out[action_index(action, n)] - max - lse
        }
    }
}

/// The entropy of the distribution of one output row.
pub fn entropy(head: HeadKind, out: &[f32]) -> f32 {
    match head {
        HeadKind::Gaussian => 0.5 + HALF_LN_2PI + gaussian_scale(out[1]).ln(),
        HeadKind::Categorical(n) => {
            let (max, lse) = log_sum_exp(&out[..n]);
            let mut h = 0.0f32;
            for &l in &out[..n] {
                let lp = l - max - lse;
                h -= lp.exp() * lp;
            }
            h
        }
    }
}

/// Writes into `d_out` the gradient of `g_logp · ln π(action) + g_ent · H` with respect to
/// the output row `out`.
pub fn grad(head: HeadKind, out: &[f32], action: f32, g_logp: f32, g_ent: f32, d_out: &mut [f32]) {
    match head {
        HeadKind::Gaussian => {
            let (mu, s) = (out[0], out[1]);
            let scale = gaussian_scale(s);
            let diff = action - mu;
            let inv = 1.0 / scale;
            let d_mu = g_logp * diff * inv * inv;
            let d_scale = g_logp * (diff * diff * inv * inv * inv - inv) + g_ent * inv;
            d_out[0] = d_mu;
            d_out[1] = d_scale * sigmoid(s);
        }
        HeadKind::Categorical(n) => {
            let (max, lse) = log_sum_exp(&out[..n]);
            let a = action_index(action, n);
            let mut h = 0.0f32;
            for &l in &out[..n] {
                let lp = l - max - lse;
                h -= lp.exp() * lp;
            }
            for (j, (d, &l)) in d_out[..n].iter_mut().zip(&out[..n]).enumerate() {
                let lp = l - max - lse;
                let p = lp.exp();
                let one = if j == a { 1.0 } else { 0.0 };
                *d = g_logp * (one - p) - g_ent * p * (lp + h);
            }
        }
    }
}

/// `(max, ln Σ exp(l − max))`.
fn log_sum_exp(logits: &[f32]) -> (f32, f32) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let s: f32 = logits.iter().map(|&l| (l - max).exp()).sum();
    (max, s.ln())
}

/// The action index of a categorical action carried as `f32`, clamped into range.
#[inline]
pub fn action_index(action: f32, n: usize) -> usize {
    (action.max(0.0) as usize).min(n - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num_grad(head: HeadKind, out: &[f32], action: f32, g_logp: f32, g_ent: f32) -> Vec<f32> {
        let f = |o: &[f32]| {
            g_logp as f64 * log_prob(head, o, action) as f64
                + g_ent as f64 * entropy(head, o) as f64
        };
        (0..out.len())
            .map(|i| {
                let h = 1e-3;
                let mut o = out.to_vec();
                o[i] += h;
                let up = f(&o);
                o[i] -= 2.0 * h;
                ((up - f(&o)) / (2.0 * h as f64)) as f32
            })
            .collect()
    }

    #[test]
    fn gradients_match_finite_differences() {
        for (head, out, action) in [
            (HeadKind::Gaussian, vec![0.3f32, -0.7], 1.1f32),
            (HeadKind::Gaussian, vec![-0.2f32, 2.0], -0.5),
            (HeadKind::Categorical(4), vec![0.1f32, -1.0, 2.0, 0.5], 2.0),
            (HeadKind::Categorical(3), vec![1.0f32, 1.0, -3.0], 0.0),
        ] {
            let mut d = vec![0.0; out.len()];
            grad(head, &out, action, 0.7, -0.3, &mut d);
            let want = num_grad(head, &out, action, 0.7, -0.3);
            for (a, b) in d.iter().zip(&want) {
                assert!((a - b).abs() < 2e-3, "{head:?}: {d:?} vs {want:?}");
            }
        }
    }

    #[test]
    fn values_match_closed_forms() {
        let g = [0.0f32, 0.0];
        let scale = std::f32::consts::LN_2 + MIN_STD;
        assert!((log_prob(HeadKind::Gaussian, &g, 0.0) - (-scale.ln() - HALF_LN_2PI)).abs() < 1e-6);
        let c = [0.0f32; 4];
        assert!((log_prob(HeadKind::Categorical(4), &c, 3.0) - 0.25f32.ln()).abs() < 1e-6);
        assert!((entropy(HeadKind::Categorical(4), &c) - 4f32.ln()).abs() < 1e-6);
    }

    #[test]
    fn categorical_samples_follow_the_softmax() {
        let logits = [0.0f32, (2.0f32).ln(), f32::NEG_INFINITY];
        let mut rng = Rng::new(1);
        let mut counts = [0usize; 3];
        for _ in 0..30_000 {
            counts[sample(HeadKind::Categorical(3), &logits, &mut rng) as usize] += 1;
        }
        assert_eq!(counts[2], 0);
        let frac = counts[1] as f64 / 30_000.0;
        assert!((frac - 2.0 / 3.0).abs() < 0.02, "{counts:?}");
    }
}
