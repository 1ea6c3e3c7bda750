//! Generalised advantage estimation as MLGym computes it (no bootstrap across `done`,
//! whether the episode ended naturally or at the time limit).

/// Advantages and value targets of a rollout with `n_steps + 1` slots of `n_envs`
/// environments (slot-major: `x[t * n_envs + e]`): for `t = n_steps − 1 … 0`,
/// `δ = r_t + γ·V_{t+1}·(1 − d_t) − V_t` and `A_t = δ + γλ·(1 − d_t)·A_{t+1}`; targets are
/// `A_t + V_t`. The last slot only provides `V_{n_steps}`. `adv` and `targets` receive
/// `n_steps × n_envs` values.
#[allow(clippy::too_many_arguments)]
pub fn gae(
    values: &[f32],
    rewards: &[f32],
    dones: &[f32],
    n_steps: usize,
    n_envs: usize,
    gamma: f64,
    lambda: f64,
    adv: &mut [f32],
    targets: &mut [f32],
) {
    let g = gamma as f32;
    let gl = (gamma * lambda) as f32;
    for e in 0..n_envs {
        let mut a = 0.0f32;
        for t in (0..n_steps).rev() {
            let i = t * n_envs + e;
            let not_done = 1.0 - dones[i];
            let delta = rewards[i] + (g * values[i + n_envs] * not_done - values[i]);
            a = delta + gl * not_done * a;
            adv[i] = a;
            targets[i] = a + values[i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_hand_computation_and_stops_at_done() {
        // One env, two steps; the first step ends an episode.
        let values = [1.0f32, 2.0, 4.0];
        let rewards = [0.5f32, 1.0, 9.0];
        let dones = [1.0f32, 0.0, 0.0];
        let (mut adv, mut tgt) = ([0.0f32; 2], [0.0f32; 2]);
        gae(
            &values, &rewards, &dones, 2, 1, 0.9, 0.5, &mut adv, &mut tgt,
        );
        // t=1: δ = 1 + 0.9·4 − 2 = 2.6; A = 2.6.
        assert!((adv[1] - 2.6).abs() < 1e-6);
        // t=0: done, so δ = 0.5 − 1 = −0.5 and nothing flows back.
        assert!((adv[0] + 0.5).abs() < 1e-6);
        assert!((tgt[0] - 0.5).abs() < 1e-6 && (tgt[1] - 4.6).abs() < 1e-6);
    }
}
