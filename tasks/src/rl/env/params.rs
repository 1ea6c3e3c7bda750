//! gymnax's `EnvParams` of each environment (values are float32, as inside JAX).
//!
//! Defined once, here, for every consumer: the CPU environments of this module, the agent's
//! starter crate (which links `tasks/src/rl/env`), and the CUDA environments of
//! `mlgym_kernels` (which includes this file by path, since that crate cannot depend on
//! this one). So this file must stay self-contained: no `use` of anything outside `std`.

/// gymnax's `EnvParams` for MetaMaze.
#[derive(Clone, Debug, PartialEq)]
pub struct MetaMazeParams {
    /// Reward for reaching the goal (10.0).
    pub reward: f32,
    /// Added to the reward when the move hits a wall (0.0).
    pub punishment: f32,
    /// Observe `2t/100 − 1` instead of the raw step count (false).
    pub normalize_time: bool,
    /// Time limit (200).
    pub max_steps_in_episode: i32,
}

impl Default for MetaMazeParams {
    fn default() -> Self {
        MetaMazeParams {
            reward: 10.0,
            punishment: 0.0,
            normalize_time: false,
            max_steps_in_episode: 200,
        }
    }
}

/// gymnax's `EnvParams` for MountainCarContinuous.
#[derive(Clone, Debug, PartialEq)]
pub struct MountainCarParams {
    /// Lower clip of the force (−1).
    pub min_action: f32,
    /// Upper clip of the force (1).
    pub max_action: f32,
    /// Left wall (−1.2).
    pub min_position: f32,
    /// Right wall (0.6).
    pub max_position: f32,
    /// Speed limit (0.07).
    pub max_speed: f32,
    /// Position at which the episode ends (0.45).
    pub goal_position: f32,
    /// Minimum velocity at the goal (0.0).
    pub goal_velocity: f32,
    /// Force multiplier (0.0015).
    pub power: f32,
    /// Gravity multiplier (0.0025).
    pub gravity: f32,
    /// Time limit (999).
    pub max_steps_in_episode: i32,
}

impl Default for MountainCarParams {
    fn default() -> Self {
        MountainCarParams {
            min_action: -1.0,
            max_action: 1.0,
            min_position: -1.2,
            max_position: 0.6,
            max_speed: 0.07,
            goal_position: 0.45,
            goal_velocity: 0.0,
            power: 0.0015,
            gravity: 0.0025,
            max_steps_in_episode: 999,
        }
    }
}

/// gymnax's `EnvParams` for Breakout.
#[derive(Clone, Debug, PartialEq)]
pub struct BreakoutParams {
    /// Time limit (1000).
    pub max_steps_in_episode: i32,
}

impl Default for BreakoutParams {
    fn default() -> Self {
        BreakoutParams {
            max_steps_in_episode: 1000,
        }
    }
}
