//! The environments' parameters (gymnax's `EnvParams`), mirrored from `mlgym_tasks::rl`
//! field for field (this crate cannot depend on the tasks crate, which depends on it).

use super::EnvKind;

/// `MetaMaze-misc` parameters; `Default` is gymnax's.
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

/// `MountainCarContinuous-v0` parameters; `Default` is gymnax's.
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

/// `Breakout-MinAtar` parameters; `Default` is gymnax's.
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

/// One environment and its parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum EnvParams {
    /// `MetaMaze-misc`.
    MetaMaze(MetaMazeParams),
    /// `MountainCarContinuous-v0`.
    MountainCar(MountainCarParams),
    /// `Breakout-MinAtar`.
    Breakout(BreakoutParams),
}

impl EnvParams {
    /// gymnax's default parameters of `kind`.
    pub fn default_for(kind: EnvKind) -> Self {
        match kind {
            EnvKind::MetaMaze => EnvParams::MetaMaze(MetaMazeParams::default()),
            EnvKind::MountainCar => EnvParams::MountainCar(MountainCarParams::default()),
            EnvKind::Breakout => EnvParams::Breakout(BreakoutParams::default()),
        }
    }

    /// Which environment these parameters are for.
    pub fn kind(&self) -> EnvKind {
        match self {
            EnvParams::MetaMaze(_) => EnvKind::MetaMaze,
            EnvParams::MountainCar(_) => EnvKind::MountainCar,
            EnvParams::Breakout(_) => EnvKind::Breakout,
        }
    }

    /// The kernels' `pf` and `pi` blocks (see the `.cu` file of each environment).
    pub(crate) fn pack(&self) -> ([f32; 12], [i32; 4]) {
        let mut pf = [0.0f32; 12];
        let mut pi = [0i32; 4];
        match self {
            EnvParams::MetaMaze(p) => {
                pf[0] = p.reward;
                pf[1] = p.punishment;
                pi[0] = i32::from(p.normalize_time);
                pi[1] = p.max_steps_in_episode;
            }
            EnvParams::MountainCar(p) => {
                pf[..9].copy_from_slice(&[
                    p.min_action,
                    p.max_action,
                    p.min_position,
                    p.max_position,
                    p.max_speed,
                    p.goal_position,
                    p.goal_velocity,
                    p.power,
                    p.gravity,
                ]);
                pi[1] = p.max_steps_in_episode;
            }
            EnvParams::Breakout(p) => pi[1] = p.max_steps_in_episode,
        }
        (pf, pi)
    }
}
