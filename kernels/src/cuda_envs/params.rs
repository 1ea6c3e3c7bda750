//! The environments' parameters (gymnax's `EnvParams`).
//!
//! The parameter structs are `mlgym_tasks::rl::env::params`'s, compiled here from the same
//! source file: this crate cannot depend on the tasks crate (which depends on it), and one
//! definition keeps the CPU and CUDA environments from drifting apart.

use super::EnvKind;

#[path = "../../../tasks/src/rl/env/params.rs"]
mod gymnax;

pub use gymnax::{BreakoutParams, MetaMazeParams, MountainCarParams};

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
