//! The environments, one module each, behind one [`Env`] trait.
//!
//! Each environment follows gymnax 1.0.1: `step` is gymnax's `step_env` (the transition
//! alone, reporting natural termination and the time limit separately) and
//! [`Env::step_autoreset`] is gymnax's `env.step` (the transition, then a reset when it
//! ended). Random draws are explicit: a reset is "draw, then build the state from the
//! draw", and a step that needs randomness asks a closure for the draw's outcome only when
//! it uses it, so a recorded outcome can be injected and an unused draw costs nothing.

use std::fmt::Debug;
use std::str::FromStr;

use crate::rng::Rng;

pub mod breakout;
pub mod meta_maze;
pub mod mountain_car;
pub mod params;

pub use breakout::{Breakout, BreakoutParams, BreakoutState};
pub use meta_maze::{MetaMaze, MetaMazeParams, MetaMazeState};
pub use mountain_car::{MountainCar, MountainCarParams, MountainCarState};

/// What one transition produced (the real transition's, also when the env auto-resets).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Transition {
    /// The reward of the transition (float32 as in gymnax).
    pub reward: f32,
    /// Natural end of the episode (gymnax 1.0.1's `terminated`; discount 0).
    pub terminated: bool,
    /// The time limit was reached (`state.time >= max_steps_in_episode`).
    pub truncated: bool,
}

impl Transition {
    /// `terminated || truncated`: gymnax 0.0.x's `done`, the condition for auto-reset.
    #[inline]
    pub fn done(&self) -> bool {
        self.terminated || self.truncated
    }
}

/// The shape of an environment's actions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ActionSpace {
    /// Integer actions `0..n`.
    Discrete(usize),
    /// One float per env, clipped by the environment to `[low, high]`.
    Continuous {
        /// Lower bound of the declared box.
        low: f32,
        /// Upper bound of the declared box.
        high: f32,
    },
}

/// One environment: its rules, written once and used by the single-env API, the
/// vectorised [`crate::rl::VecEnv`] and the replay checker.
pub trait Env: Copy + Default + Send + Sync + 'static {
    /// gymnax's `EnvParams`; `Default` gives gymnax's defaults.
    type Params: Clone + Debug + Default + PartialEq + Send + Sync;
    /// gymnax's `EnvState`, field for field.
    type State: Clone + Debug + PartialEq + Send + Sync;
    /// One action (`i32` for discrete envs, `f32` for MountainCar).
    type Action: Copy + Debug + Default + PartialEq + Send + Sync;
    /// The outcome of the reset's random draw.
    type ResetDraw: Copy + Debug + PartialEq;
    /// The outcome of a step's random draw (`()` for envs whose step is deterministic).
    type StepDraw: Copy + Debug + PartialEq;

    /// Which environment this is.
    const ID: EnvId;
    /// Length of the flattened observation.
    const OBS_DIM: usize;

    /// Draws the reset's random outcome from our generator.
    fn sample_reset_draw(params: &Self::Params, rng: &mut Rng) -> Self::ResetDraw;
    /// Draws a step's random outcome from our generator.
    fn sample_step_draw(rng: &mut Rng) -> Self::StepDraw;
    /// The initial state that the reset draw `draw` gives.
    fn reset_from_draw(params: &Self::Params, draw: Self::ResetDraw) -> Self::State;
    /// gymnax's `step_env`: advances `state` in place (no auto-reset). `draw` is called at
    /// most once, and only when the transition uses its random outcome.
    fn step_with<F: FnOnce() -> Self::StepDraw>(
        params: &Self::Params,
        state: &mut Self::State,
        action: Self::Action,
        draw: F,
    ) -> Transition;
    /// Writes the observation of `state` into `out` (length [`Env::OBS_DIM`]).
    fn write_obs(params: &Self::Params, state: &Self::State, out: &mut [f32]);

    /// Updates `out`, which holds the observation of `old`, to that of `new`. Environments
    /// with large observations override this to touch only what changed.
    #[inline]
    fn update_obs(params: &Self::Params, old: &Self::State, new: &Self::State, out: &mut [f32]) {
        let _ = old;
        Self::write_obs(params, new, out);
    }

    /// gymnax's `reset_env` with our generator.
    #[inline]
    fn reset(params: &Self::Params, rng: &mut Rng) -> Self::State {
        let draw = Self::sample_reset_draw(params, rng);
        Self::reset_from_draw(params, draw)
    }

    /// gymnax's `step_env` with our generator.
    #[inline]
    fn step(
        params: &Self::Params,
        state: &mut Self::State,
        action: Self::Action,
        rng: &mut Rng,
    ) -> Transition {
        Self::step_with(params, state, action, || Self::sample_step_draw(rng))
    }

    /// gymnax's `env.step`: the transition, then, if it ended (terminated or truncated), the
    /// state is replaced by the reset that `reset_draw` gives. The returned transition is the
    /// real one, as in gymnax.
    fn step_autoreset<F: FnOnce() -> Self::StepDraw, G: FnOnce() -> Self::ResetDraw>(
        params: &Self::Params,
        state: &mut Self::State,
        action: Self::Action,
        step_draw: F,
        reset_draw: G,
    ) -> Transition {
        let tr = Self::step_with(params, state, action, step_draw);
        if tr.done() {
            *state = Self::reset_from_draw(params, reset_draw());
        }
        tr
    }

    /// The observation of `state` as a new vector (convenience for tests and tools).
    fn obs(params: &Self::Params, state: &Self::State) -> Vec<f32> {
        let mut out = vec![0.0; Self::OBS_DIM];
        Self::write_obs(params, state, &mut out);
        out
    }
}

/// The environments, named as gymnax names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EnvId {
    /// `MetaMaze-misc`.
    MetaMaze,
    /// `MountainCarContinuous-v0`.
    MountainCarContinuous,
    /// `Breakout-MinAtar`.
    Breakout,
}

impl EnvId {
    /// Every environment, in a fixed order.
    pub const ALL: [EnvId; 3] = [
        EnvId::MetaMaze,
        EnvId::MountainCarContinuous,
        EnvId::Breakout,
    ];

    /// gymnax's name of the environment.
    pub fn name(self) -> &'static str {
        match self {
            EnvId::MetaMaze => "MetaMaze-misc",
            EnvId::MountainCarContinuous => "MountainCarContinuous-v0",
            EnvId::Breakout => "Breakout-MinAtar",
        }
    }

    /// Length of the flattened observation.
    pub fn obs_dim(self) -> usize {
        match self {
            EnvId::MetaMaze => MetaMaze::OBS_DIM,
            EnvId::MountainCarContinuous => MountainCar::OBS_DIM,
            EnvId::Breakout => Breakout::OBS_DIM,
        }
    }

    /// The action space with default parameters.
    pub fn action_space(self) -> ActionSpace {
        match self {
            EnvId::MetaMaze => ActionSpace::Discrete(meta_maze::NUM_ACTIONS),
            EnvId::MountainCarContinuous => {
                let p = MountainCarParams::default();
                ActionSpace::Continuous {
                    low: p.min_action,
                    high: p.max_action,
                }
            }
            EnvId::Breakout => ActionSpace::Discrete(breakout::NUM_ACTIONS),
        }
    }
}

impl std::fmt::Display for EnvId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An environment name that is not one of ours.
// Display and Error by hand, not `thiserror`: this file is also a source file of the
// agent's dependency-free starter crate (`tasks/starters/rl-ppo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEnvError(pub String);

impl std::fmt::Display for UnknownEnvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unknown environment '{}': use one of MetaMaze-misc, MountainCarContinuous-v0, \
             Breakout-MinAtar (gymnax's names)",
            self.0
        )
    }
}

impl std::error::Error for UnknownEnvError {}

impl FromStr for EnvId {
    type Err = UnknownEnvError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EnvId::ALL
            .into_iter()
            .find(|id| id.name() == s)
            .ok_or_else(|| UnknownEnvError(s.to_string()))
    }
}

/// JAX's rule for an integer index into a table of `len` entries inside `jit`: a negative
/// index counts from the end once, then the result is clamped into range. gymnax looks
/// actions up this way, so an out-of-range action behaves as it does there.
#[inline]
pub(crate) fn jax_index(i: i32, len: usize) -> usize {
    let len = len as i64;
    let mut j = i as i64;
    if j < 0 {
        j += len;
    }
    j.clamp(0, len - 1) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_is_rejected() {
        for id in EnvId::ALL {
            assert_eq!(id.name().parse::<EnvId>().unwrap(), id);
        }
        let err = "CartPole-v1".parse::<EnvId>().unwrap_err();
        assert!(err.to_string().contains("CartPole-v1"));
        assert!(err.to_string().contains("MetaMaze-misc"));
    }

    #[test]
    fn jax_index_wraps_negatives_once_then_clamps() {
        assert_eq!(jax_index(0, 3), 0);
        assert_eq!(jax_index(2, 3), 2);
        assert_eq!(jax_index(7, 3), 2);
        assert_eq!(jax_index(-1, 3), 2);
        assert_eq!(jax_index(-3, 3), 0);
        assert_eq!(jax_index(-9, 3), 0);
    }
}
