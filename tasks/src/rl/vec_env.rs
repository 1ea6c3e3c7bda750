//! N environments stepped at once, for trainers and evaluators.
//!
//! Layout: the states are a structure of arrays (one array per state field, see
//! [`SoaEnv`]); the observations are one `[N, obs_dim]` row-major `f32` buffer, and the
//! rewards and flags one array each, so a policy can read them as batches without copying.
//! Nothing is allocated per step.
//!
//! Semantics: like gymnax's `env.step` under `vmap`: each environment that ends
//! (terminated or truncated) is reset in the same step; its reward and flags are those of
//! the real transition and its observation row is the reset's. The pre-reset observation can
//! be kept too ([`VecEnv::set_record_final_obs`]).
//!
//! Determinism: environment `i` draws from its own stream `Rng::stream(seed, i)`, so the
//! results are the same bit for bit whatever the number of threads. Large batches are split
//! into chunks stepped on rayon's pool.

use crate::rl::batch::{BatchEnv, BatchEnvError};
use crate::rl::env::{
    ActionSpace, Breakout, BreakoutParams, EnvId, MetaMaze, MetaMazeParams, MountainCar,
    MountainCarParams,
};
use crate::rl::policy::dist::PolicyAction;
use crate::rng::Rng;

pub use crate::rl::soa::SoaEnv;

/// How [`VecEnv::step`] uses threads. Results never depend on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Parallelism {
    /// Everything on the calling thread.
    Serial,
    /// Split into chunks of the environment's [`SoaEnv::PAR_GRAIN`] when rayon has more
    /// than one thread and the batch is larger than one chunk.
    #[default]
    Auto,
    /// Split into chunks of at most this many environments (0 is treated as 1).
    Grain(usize),
}

/// A batch of actions for an environment of unknown type.
#[derive(Clone, Copy, Debug)]
pub enum Actions<'a> {
    /// One integer action per environment (MetaMaze, Breakout).
    Discrete(&'a [i32]),
    /// One float action per environment (MountainCarContinuous).
    Continuous(&'a [f32]),
}

/// A batch that cannot be stepped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VecEnvError {
    /// The action slice does not have one action per environment.
    #[error("{env}: got {got} actions for {expected} environments; pass exactly one per env")]
    ActionCount {
        /// The environment.
        env: EnvId,
        /// Number of environments.
        expected: usize,
        /// Number of actions given.
        got: usize,
    },
    /// Discrete actions for a continuous environment, or the reverse.
    #[error("{env} takes {expected} actions; pass Actions::{variant}")]
    ActionKind {
        /// The environment.
        env: EnvId,
        /// "integer" or "float".
        expected: &'static str,
        /// The `Actions` variant to use.
        variant: &'static str,
    },
}

/// N environments of type `E` (see the module docs).
#[derive(Clone, Debug)]
pub struct VecEnv<E: SoaEnv> {
    params: E::Params,
    n: usize,
    soa: E::Soa,
    rngs: Vec<Rng>,
    obs: Vec<f32>,
    final_obs: Vec<f32>,
    rewards: Vec<f32>,
    terminated: Vec<bool>,
    truncated: Vec<bool>,
    parallelism: Parallelism,
    /// The actions of [`BatchEnv::step_samples`], kept so that no step allocates.
    sample_actions: Vec<E::Action>,
}

/// The part of a batch that one task steps: matching ranges of every buffer.
struct Chunk<'a, E: SoaEnv> {
    len: usize,
    lanes: E::Lanes<'a>,
    rngs: &'a mut [Rng],
    actions: &'a [E::Action],
    obs: &'a mut [f32],
    /// Empty unless final observations are recorded.
    final_obs: &'a mut [f32],
    rewards: &'a mut [f32],
    terminated: &'a mut [bool],
    truncated: &'a mut [bool],
}

impl<'a, E: SoaEnv> Chunk<'a, E> {
    fn split_at(self, mid: usize) -> (Chunk<'a, E>, Chunk<'a, E>) {
        let d = E::OBS_DIM;
        let (la, lb) = E::split_lanes(self.lanes, mid);
        let (ra, rb) = self.rngs.split_at_mut(mid);
        let (aa, ab) = self.actions.split_at(mid);
        let (oa, ob) = self.obs.split_at_mut(mid * d);
        let fmid = if self.final_obs.is_empty() {
            0
        } else {
            mid * d
        };
        let (fa, fb) = self.final_obs.split_at_mut(fmid);
        let (wa, wb) = self.rewards.split_at_mut(mid);
        let (ta, tb) = self.terminated.split_at_mut(mid);
        let (ua, ub) = self.truncated.split_at_mut(mid);
        (
            Chunk {
                len: mid,
                lanes: la,
                rngs: ra,
                actions: aa,
                obs: oa,
                final_obs: fa,
                rewards: wa,
                terminated: ta,
                truncated: ua,
            },
            Chunk {
                len: self.len - mid,
                lanes: lb,
                rngs: rb,
                actions: ab,
                obs: ob,
                final_obs: fb,
                rewards: wb,
                terminated: tb,
                truncated: ub,
            },
        )
    }

    /// Steps every environment of the chunk on this thread, with the CPU's FMA instructions
    /// where it has them: `f32::mul_add` is otherwise a library call, and MountainCar makes
    /// three per step. Both are correctly rounded, so the results are the same.
    fn step(self, params: &E::Params) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU supports FMA, checked just above.
                unsafe { self.step_fma(params) };
                return;
            }
        }
        self.step_portable(params);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "fma")]
    fn step_fma(self, params: &E::Params) {
        self.step_portable(params);
    }

    #[inline(always)]
    fn step_portable(mut self, params: &E::Params) {
        let d = E::OBS_DIM;
        let record_final = !self.final_obs.is_empty();
        for i in 0..self.len {
            let old = E::load(&self.lanes, i);
            let mut s = old.clone();
            let rng = &mut self.rngs[i];
            let tr = E::step(params, &mut s, self.actions[i], rng);
            let row = &mut self.obs[i * d..(i + 1) * d];
            if tr.done() {
                if record_final {
                    E::write_obs(params, &s, &mut self.final_obs[i * d..(i + 1) * d]);
                }
                s = E::reset(params, rng);
                E::write_obs(params, &s, row);
            } else {
                E::update_obs(params, &old, &s, row);
            }
            E::store(&mut self.lanes, i, &s);
            self.rewards[i] = tr.reward;
            self.terminated[i] = tr.terminated;
            self.truncated[i] = tr.truncated;
        }
    }

    /// Splits in halves down to `grain` environments and steps the halves on rayon's pool.
    fn step_parallel(self, params: &E::Params, grain: usize) {
        if self.len <= grain {
            self.step(params);
            return;
        }
        let mid = self.len / 2;
        let (a, b) = self.split_at(mid);
        rayon::join(
            || a.step_parallel(params, grain),
            || b.step_parallel(params, grain),
        );
    }
}

impl<E: SoaEnv> VecEnv<E> {
    /// `n` environments with `params`, reset from `seed` (see [`VecEnv::reset`]).
    pub fn new(params: E::Params, n: usize, seed: u64) -> Self {
        // Any valid state will do as a placeholder: `reset` below overwrites every env.
        let fill = E::reset_from_draw(&params, E::sample_reset_draw(&params, &mut Rng::new(0)));
        let mut v = VecEnv {
            soa: E::soa_new(n, &fill),
            params,
            n,
            rngs: Vec::new(),
            obs: vec![0.0; n * E::OBS_DIM],
            final_obs: Vec::new(),
            rewards: vec![0.0; n],
            terminated: vec![false; n],
            truncated: vec![false; n],
            parallelism: Parallelism::Auto,
            sample_actions: Vec::new(),
        };
        v.reset(seed);
        v
    }

    /// Resets every environment: environment `i` gets the stream `Rng::stream(seed, i)`
    /// and is reset with it. Rewards and flags are cleared.
    pub fn reset(&mut self, seed: u64) {
        self.rngs = (0..self.n as u64).map(|i| Rng::stream(seed, i)).collect();
        let d = E::OBS_DIM;
        for (i, rng) in self.rngs.iter_mut().enumerate() {
            let s = E::reset(&self.params, rng);
            E::write_obs(&self.params, &s, &mut self.obs[i * d..(i + 1) * d]);
            E::soa_set(&mut self.soa, i, &s);
        }
        self.rewards.fill(0.0);
        self.terminated.fill(false);
        self.truncated.fill(false);
    }

    /// Steps every environment with its action (`actions[i]` for environment `i`), then
    /// auto-resets those that ended. Read the results with [`VecEnv::obs`],
    /// [`VecEnv::rewards`], [`VecEnv::terminated`] and [`VecEnv::truncated`].
    pub fn step(&mut self, actions: &[E::Action]) -> Result<(), VecEnvError> {
        if actions.len() != self.n {
            return Err(VecEnvError::ActionCount {
                env: E::ID,
                expected: self.n,
                got: actions.len(),
            });
        }
        let grain = match self.parallelism {
            Parallelism::Serial => usize::MAX,
            Parallelism::Auto if rayon::current_num_threads() > 1 => E::PAR_GRAIN,
            Parallelism::Auto => usize::MAX,
            Parallelism::Grain(g) => g.max(1),
        };
        let chunk = Chunk::<E> {
            len: self.n,
            lanes: E::lanes(&mut self.soa),
            rngs: &mut self.rngs,
            actions,
            obs: &mut self.obs,
            final_obs: &mut self.final_obs,
            rewards: &mut self.rewards,
            terminated: &mut self.terminated,
            truncated: &mut self.truncated,
        };
        if self.n <= grain {
            chunk.step(&self.params);
        } else {
            chunk.step_parallel(&self.params, grain);
        }
        Ok(())
    }

    /// Number of environments.
    pub fn num_envs(&self) -> usize {
        self.n
    }

    /// Length of one observation row.
    pub fn obs_dim(&self) -> usize {
        E::OBS_DIM
    }

    /// The parameters every environment uses.
    pub fn params(&self) -> &E::Params {
        &self.params
    }

    /// All observations, `[num_envs, obs_dim]` row-major: after a step, the post-reset
    /// observation where the environment ended.
    pub fn obs(&self) -> &[f32] {
        &self.obs
    }

    /// The observation row of environment `i`.
    pub fn obs_row(&self, i: usize) -> &[f32] {
        &self.obs[i * E::OBS_DIM..(i + 1) * E::OBS_DIM]
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

    /// Chooses how steps use threads (results are the same either way).
    pub fn set_parallelism(&mut self, p: Parallelism) {
        self.parallelism = p;
    }

    /// Keeps the pre-reset observation of environments that end, for trainers that
    /// bootstrap on truncation (gymnax 1.0.1's `info["final_observation"]`).
    pub fn set_record_final_obs(&mut self, on: bool) {
        if on {
            if self.final_obs.is_empty() {
                self.final_obs = vec![0.0; self.n * E::OBS_DIM];
            }
        } else {
            self.final_obs = Vec::new();
        }
    }

    /// The last observation of environment `i`'s transition before any reset: the recorded
    /// final observation where it ended, its current observation otherwise. `None` unless
    /// [`VecEnv::set_record_final_obs`] is on.
    pub fn final_obs_row(&self, i: usize) -> Option<&[f32]> {
        if self.final_obs.is_empty() {
            return None;
        }
        let d = E::OBS_DIM;
        Some(if self.done(i) {
            &self.final_obs[i * d..(i + 1) * d]
        } else {
            self.obs_row(i)
        })
    }

    /// The state of environment `i`.
    pub fn state(&self, i: usize) -> E::State {
        E::soa_get(&self.soa, i)
    }

    /// Replaces the state of environment `i` (and its observation row).
    pub fn set_state(&mut self, i: usize, s: &E::State) {
        E::soa_set(&mut self.soa, i, s);
        let d = E::OBS_DIM;
        E::write_obs(&self.params, s, &mut self.obs[i * d..(i + 1) * d]);
    }

    /// The states of all environments, one array per field.
    pub fn states(&self) -> &E::Soa {
        &self.soa
    }
}

impl<E: SoaEnv> BatchEnv for VecEnv<E>
where
    E::Action: PolicyAction,
{
    fn env_id(&self) -> EnvId {
        E::ID
    }

    fn num_envs(&self) -> usize {
        self.n
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
        stepped.map_err(|_| BatchEnvError::ActionCount {
            expected: self.n,
            got: samples.len(),
        })
    }
}

/// A [`VecEnv`] of any of the three environments, for code that picks the environment by
/// name at run time (the evaluator, the CLI).
#[derive(Clone, Debug)]
pub enum AnyVecEnv {
    /// `MetaMaze-misc`.
    MetaMaze(VecEnv<MetaMaze>),
    /// `MountainCarContinuous-v0`.
    MountainCar(VecEnv<MountainCar>),
    /// `Breakout-MinAtar`.
    Breakout(VecEnv<Breakout>),
}

macro_rules! each {
    ($self:expr, $v:ident => $e:expr) => {
        match $self {
            AnyVecEnv::MetaMaze($v) => $e,
            AnyVecEnv::MountainCar($v) => $e,
            AnyVecEnv::Breakout($v) => $e,
        }
    };
}

impl AnyVecEnv {
    /// `n` environments of `id` with gymnax's default parameters, reset from `seed`.
    pub fn new(id: EnvId, n: usize, seed: u64) -> Self {
        match id {
            EnvId::MetaMaze => AnyVecEnv::MetaMaze(VecEnv::new(MetaMazeParams::default(), n, seed)),
            EnvId::MountainCarContinuous => {
                AnyVecEnv::MountainCar(VecEnv::new(MountainCarParams::default(), n, seed))
            }
            EnvId::Breakout => AnyVecEnv::Breakout(VecEnv::new(BreakoutParams::default(), n, seed)),
        }
    }

    /// Which environment this is.
    pub fn id(&self) -> EnvId {
        match self {
            AnyVecEnv::MetaMaze(_) => EnvId::MetaMaze,
            AnyVecEnv::MountainCar(_) => EnvId::MountainCarContinuous,
            AnyVecEnv::Breakout(_) => EnvId::Breakout,
        }
    }

    /// The action space.
    pub fn action_space(&self) -> ActionSpace {
        self.id().action_space()
    }

    /// Steps every environment (see [`VecEnv::step`]).
    pub fn step(&mut self, actions: Actions<'_>) -> Result<(), VecEnvError> {
        let env = self.id();
        match (self, actions) {
            (AnyVecEnv::MetaMaze(v), Actions::Discrete(a)) => v.step(a),
            (AnyVecEnv::Breakout(v), Actions::Discrete(a)) => v.step(a),
            (AnyVecEnv::MountainCar(v), Actions::Continuous(a)) => v.step(a),
            (AnyVecEnv::MountainCar(_), Actions::Discrete(_)) => Err(VecEnvError::ActionKind {
                env,
                expected: "float",
                variant: "Continuous",
            }),
            (_, Actions::Continuous(_)) => Err(VecEnvError::ActionKind {
                env,
                expected: "integer",
                variant: "Discrete",
            }),
        }
    }

    /// Resets every environment (see [`VecEnv::reset`]).
    pub fn reset(&mut self, seed: u64) {
        each!(self, v => v.reset(seed))
    }

    /// Number of environments.
    pub fn num_envs(&self) -> usize {
        each!(self, v => v.num_envs())
    }

    /// Length of one observation row.
    pub fn obs_dim(&self) -> usize {
        each!(self, v => v.obs_dim())
    }

    /// All observations, `[num_envs, obs_dim]` row-major.
    pub fn obs(&self) -> &[f32] {
        each!(self, v => v.obs())
    }

    /// The last step's rewards.
    pub fn rewards(&self) -> &[f32] {
        each!(self, v => v.rewards())
    }

    /// The last step's natural terminations.
    pub fn terminated(&self) -> &[bool] {
        each!(self, v => v.terminated())
    }

    /// The last step's time-limit truncations.
    pub fn truncated(&self) -> &[bool] {
        each!(self, v => v.truncated())
    }

    /// Chooses how steps use threads.
    pub fn set_parallelism(&mut self, p: Parallelism) {
        each!(self, v => v.set_parallelism(p))
    }
}
