//! MLGym's PPO loss on one minibatch and its gradient with respect to the networks'
//! outputs (the MLP backward passes take it from there).
//!
//! * Value: `V_clip = V_old + clip(V − V_old, ±ε)`, loss `0.5 · mean(max((V − T)², (V_clip − T)²))`.
//! * Policy: advantages normalised over the minibatch, `(A − mean) / (std + 1e-8)` (population
//!   std); `ratio = exp(ln π − ln π_old)`; loss `−mean(min(ratio·A, clip(ratio, 1 ± ε)·A))`.
//! * Entropy: mean over the minibatch.
//! * Total: `actor + critic_coeff · value − entropy_coeff · entropy`.
//!
//! Where `max`/`min` tie, JAX splits the gradient evenly between the two sides; both sides
//! then have the same gradient here, so taking either is the same.

use crate::rl::policy::dist;
use crate::rl::policy::net::HeadKind;

/// The data of one minibatch, row `i` for sample `i`.
#[derive(Clone, Copy, Debug)]
pub struct Minibatch<'a> {
    /// Actions taken.
    pub actions: &'a [f32],
    /// Their log-probabilities when taken.
    pub log_pi_old: &'a [f32],
    /// Values when taken.
    pub value_old: &'a [f32],
    /// Value targets (GAE + value).
    pub targets: &'a [f32],
    /// GAE advantages (normalised here).
    pub advantages: &'a [f32],
}

/// The loss's coefficients.
#[derive(Clone, Copy, Debug)]
pub struct LossCoeffs {
    /// Ratio and value clip ε.
    pub clip_eps: f32,
    /// Weight of the value loss.
    pub critic_coeff: f32,
    /// Weight of the entropy bonus.
    pub entropy_coeff: f32,
}

/// The parts of the loss (for logs).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LossParts {
    /// The total loss.
    pub total: f64,
    /// The value loss.
    pub value: f64,
    /// The policy loss.
    pub actor: f64,
    /// The mean entropy.
    pub entropy: f64,
}

/// Computes the loss for actor outputs `actor_out` (`[rows, k]`) and critic values
/// `values` (`[rows]`), and writes its gradient with respect to them into `d_actor` and
/// `d_values`.
#[allow(clippy::too_many_arguments)]
pub fn loss_and_grad(
    head: HeadKind,
    c: LossCoeffs,
    actor_out: &[f32],
    values: &[f32],
    mb: &Minibatch<'_>,
    d_actor: &mut [f32],
    d_values: &mut [f32],
) -> LossParts {
    let rows = values.len();
    let k = actor_out.len() / rows.max(1);
    let m = rows as f32;
    // Advantage normalisation.
    let adv = &mb.advantages[..rows];
    let mean = adv.iter().map(|&a| a as f64).sum::<f64>() / rows as f64;
    let var = adv.iter().map(|&a| (a as f64 - mean).powi(2)).sum::<f64>() / rows as f64;
    let (mean, std) = (mean as f32, var.sqrt() as f32);
    let mut parts = LossParts::default();
    for i in 0..rows {
        // Value.
        let (v, v_old, t) = (values[i], mb.value_old[i], mb.targets[i]);
        let dv = v - v_old;
        let v_clip = v_old + dv.clamp(-c.clip_eps, c.clip_eps);
        let (l1, l2) = ((v - t) * (v - t), (v_clip - t) * (v_clip - t));
        parts.value += 0.5 * l1.max(l2) as f64;
        let inside = dv > -c.clip_eps && dv < c.clip_eps;
        let g = if l1 >= l2 {
            v - t
        } else if inside {
            v_clip - t
        } else {
            0.0
        };
        d_values[i] = c.critic_coeff * g / m;
        // Policy.
        let out = &actor_out[i * k..(i + 1) * k];
        let a_n = (adv[i] - mean) / (std + 1e-8);
        let logp = dist::log_prob(head, out, mb.actions[i]);
        let ratio = (logp - mb.log_pi_old[i]).exp();
        let p1 = ratio * a_n;
        let p2 = ratio.clamp(1.0 - c.clip_eps, 1.0 + c.clip_eps) * a_n;
        parts.actor -= p1.min(p2) as f64;
        let g_logp = if p1 <= p2 { -p1 / m } else { 0.0 };
        parts.entropy += dist::entropy(head, out) as f64;
        dist::grad(
            head,
            out,
            mb.actions[i],
            g_logp,
            -c.entropy_coeff / m,
            &mut d_actor[i * k..(i + 1) * k],
        );
    }
    let n = rows.max(1) as f64;
    parts.value /= n;
    parts.actor /= n;
    parts.entropy /= n;
    parts.total =
        parts.actor + c.critic_coeff as f64 * parts.value - c.entropy_coeff as f64 * parts.entropy;
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// The loss in f64 from scratch, for finite differences.
    fn loss(head: HeadKind, c: LossCoeffs, out: &[f32], values: &[f32], mb: &Minibatch<'_>) -> f64 {
        let (mut da, mut dv) = (vec![0.0; out.len()], vec![0.0; values.len()]);
        loss_and_grad(head, c, out, values, mb, &mut da, &mut dv).total
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let mut rng = Rng::new(5);
        let c = LossCoeffs {
            clip_eps: 0.2,
            critic_coeff: 0.5,
            entropy_coeff: 0.05,
        };
        for head in [HeadKind::Gaussian, HeadKind::Categorical(3)] {
            let rows = 6;
            let k = if head == HeadKind::Gaussian { 2 } else { 3 };
            let out: Vec<f32> = (0..rows * k).map(|_| rng.normal() as f32 * 0.5).collect();
            let values: Vec<f32> = (0..rows).map(|_| rng.normal() as f32).collect();
            let actions: Vec<f32> = (0..rows)
                .map(|i| {
                    if k == 2 {
                        rng.normal() as f32
                    } else {
                        (i % 3) as f32
                    }
                })
                .collect();
            // Old log-probs near the current ones so that some ratios are inside the clip.
            let log_pi_old: Vec<f32> = (0..rows)
                .map(|i| {
                    dist::log_prob(head, &out[i * k..(i + 1) * k], actions[i])
                        + 0.15 * rng.normal() as f32
                })
                .collect();
            let value_old: Vec<f32> = values
                .iter()
                .map(|v| v + 0.3 * rng.normal() as f32)
                .collect();
            let targets: Vec<f32> = (0..rows).map(|_| rng.normal() as f32).collect();
            let advantages: Vec<f32> = (0..rows).map(|_| rng.normal() as f32).collect();
            let mb = Minibatch {
                actions: &actions,
                log_pi_old: &log_pi_old,
                value_old: &value_old,
                targets: &targets,
                advantages: &advantages,
            };
            let (mut da, mut dv) = (vec![0.0; out.len()], vec![0.0; rows]);
            loss_and_grad(head, c, &out, &values, &mb, &mut da, &mut dv);
            let h = 1e-3f32;
            for i in 0..out.len() {
                let mut o = out.clone();
                o[i] += h;
                let up = loss(head, c, &o, &values, &mb);
                o[i] -= 2.0 * h;
                let fd = (up - loss(head, c, &o, &values, &mb)) / (2.0 * h as f64);
                assert!(
                    (fd - da[i] as f64).abs() < 2e-3,
                    "{head:?} out[{i}]: fd {fd} vs {}",
                    da[i]
                );
            }
            for i in 0..rows {
                let mut v = values.clone();
                v[i] += h;
                let up = loss(head, c, &out, &v, &mb);
                v[i] -= 2.0 * h;
                let fd = (up - loss(head, c, &out, &v, &mb)) / (2.0 * h as f64);
                assert!(
                    (fd - dv[i] as f64).abs() < 2e-3,
                    "{head:?} value[{i}]: fd {fd} vs {}",
                    dv[i]
                );
            }
        }
    }
}
