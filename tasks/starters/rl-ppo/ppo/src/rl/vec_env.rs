//! N environments stepped together with gymnax's auto-reset: environment `i` draws from
//! its own stream `Rng::stream(seed, i)`; an environment that ends (terminated or
//! truncated) is reset in the same step, its reward and flags being those of the real
//! transition and its observation row the reset's.
//!
//! (The evaluator's version stores states as a structure of arrays and uses threads; this
//! one is a plain loop with the same results.)

use crate::rl::batch::{BatchEnv, BatchEnvError};
use crate::rl::env::{Env, EnvId};
use crate::rl::policy::dist::PolicyAction;
use crate::rng::Rng;

/// Declared next to `soa_layout!` so the environment files (shared with the evaluator) see
/// one definition; this plain loop does not use it.
pub use crate::rl::soa::SoaEnv;

/// A batch of actions of the wrong length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VecEnvError {
    /// Number of environments.
    pub expected: usize,
    /// Number of actions given.
    pub got: usize,
}

impl std::fmt::Display for VecEnvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "got {} actions for {} environments",
            self.got, self.expected
        )
    }
}

impl std::error::Error for VecEnvError {}

/// N environments of type `E`.
#[derive(Clone, Debug)]
pub struct VecEnv<E: Env> {
    params: E::Params,
    states: Vec<E::State>,
    rngs: Vec<Rng>,
    obs: Vec<f32>,
    rewards: Vec<f32>,
    terminated: Vec<bool>,
    truncated: Vec<bool>,
    /// The actions of `BatchEnv::step_samples`, kept so that no step allocates.
    sample_actions: Vec<E::Action>,
}

impl<E: Env> VecEnv<E> {
    /// `n` environments with `params`, reset from `seed`.
    pub fn new(params: E::Params, n: usize, seed: u64) -> Self {
        let mut rngs: Vec<Rng> = (0..n as u64).map(|i| Rng::stream(seed, i)).collect();
        let states: Vec<E::State> = rngs.iter_mut().map(|r| E::reset(&params, r)).collect();
        let mut obs = vec![0.0; n * E::OBS_DIM];
        for (s, row) in states.iter().zip(obs.chunks_mut(E::OBS_DIM)) {
            E::write_obs(&params, s, row);
        }
        VecEnv {
            params,
            states,
            rngs,
            obs,
            rewards: vec![0.0; n],
            terminated: vec![false; n],
            truncated: vec![false; n],
            sample_actions: Vec::new(),
        }
    }

    /// Steps every environment with its action, then resets those that ended.
    pub fn step(&mut self, actions: &[E::Action]) -> Result<(), VecEnvError> {
        let n = self.states.len();
        if actions.len() != n {
            return Err(VecEnvError {
                expected: n,
                got: actions.len(),
            });
        }
        let d = E::OBS_DIM;
        for i in 0..n {
            let old = self.states[i].clone();
            let rng = &mut self.rngs[i];
            let tr = E::step(&self.params, &mut self.states[i], actions[i], rng);
            let row = &mut self.obs[i * d..(i + 1) * d];
            if tr.done() {
                self.states[i] = E::reset(&self.params, rng);
                E::write_obs(&self.params, &self.states[i], row);
            } else {
                E::update_obs(&self.params, &old, &self.states[i], row);
            }
            self.rewards[i] = tr.reward;
            self.terminated[i] = tr.terminated;
            self.truncated[i] = tr.truncated;
        }
        Ok(())
    }

    /// Number of environments.
    pub fn num_envs(&self) -> usize {
        self.states.len()
    }

    /// All observations, `[num_envs, obs_dim]` row-major (post-reset where an env ended).
    pub fn obs(&self) -> &[f32] {
        &self.obs
    }

    /// The last step's rewards.
    pub fn rewards(&self) -> &[f32] {
        &self.rewards
    }

    /// The last step's natural terminations.
    pub fn terminated(&self) -> &[bool] {
        &self.terminated
    }

    /// The last step's time-limit truncations.
    pub fn truncated(&self) -> &[bool] {
        &self.truncated
    }

    /// Whether environment `i` ended (and was reset) in the last step.
    pub fn done(&self, i: usize) -> bool {
        self.terminated[i] || self.truncated[i]
    }
}

impl<E: Env> BatchEnv for VecEnv<E>
where
    E::Action: PolicyAction,
{
    fn env_id(&self) -> EnvId {
        E::ID
    }

    fn num_envs(&self) -> usize {
        self.states.len()
    }

    fn obs(&self) -> &[f32] {
        &self.obs
    }

    fn rewards(&self) -> &[f32] {
        &self.rewards
    }

    fn terminated(&self) -> &[bool] {
        &self.terminated
    }

    fn truncated(&self) -> &[bool] {
        &self.truncated
    }

    fn step_samples(&mut self, samples: &[f32]) -> Result<(), BatchEnvError> {
        let mut actions = std::mem::take(&mut self.sample_actions);
        actions.clear();
        actions.extend(samples.iter().map(|&x| E::Action::from_sample(x)));
        let stepped = self.step(&actions);
        self.sample_actions = actions;
        stepped.map_err(|e| BatchEnvError::ActionCount {
            expected: e.expected,
            got: e.got,
        })
    }
}
