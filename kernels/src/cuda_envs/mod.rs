//! CUDA kernels that step thousands of RL environments at once: `MetaMaze-misc`,
//! `MountainCarContinuous-v0` and `Breakout-MinAtar`, with the CPU environments of
//! `mlgym_tasks::rl` as their reference.
//!
//! The kernels are CUDA C (`&str` constants in [`source`]) compiled at run time by NVRTC
//! through cudarc, so no `nvcc` is needed to build; a GPU machine needs the driver and
//! `libnvrtc.so` (CUDA toolkit). One thread steps one environment; states stay on the device
//! between steps.
//!
//! Semantics are those of `mlgym_tasks::rl::VecEnv`: gymnax's `env.step` with auto-reset,
//! the real transition's reward and flags, the post-reset observation (and optionally the
//! pre-reset one), and environment `i` drawing from `Rng::stream(seed, i)`. A [`GpuVecEnv`]
//! and a CPU `VecEnv` built with the same seed and given the same actions therefore produce
//! the same observations, rewards and flags, bit for bit:
//!
//! * MetaMaze and Breakout hold small integers, so they match exactly.
//! * MountainCar matches exactly with [`CosMode::Glibc`] (the default), which evaluates
//!   glibc's `cosf` algorithm in IEEE double arithmetic; it was checked against glibc 2.36
//!   for every float of the domain the car can reach. With [`CosMode::Native`] (CUDA's
//!   `cosf`, up to 2 ulp from glibc) a single step from the same state differs by at most
//!   about 1e-8 in velocity and 1.2e-7 in position (1 ulp), the tolerance gymnax itself
//!   needs between its own jit and vmap builds; episodes then drift apart over time.
//!
//! [`GpuRuntime::host_emulation`] compiles the same source as C++ and runs it on the CPU:
//! that is how the kernels are tested on machines without a GPU.
//!
//! # For the RL evaluator and PPO
//! `mlgym_tasks::rl::backend::EnvBackend` wraps a [`GpuVecEnv`] as the evaluator's and the
//! trainer's `BatchEnv` when the run leased a GPU (`lease::held_by_this_process` lists what
//! this process holds; the runtime passes each episode's own devices). A failure to compile
//! or load the kernels on a leased GPU is reported there, not hidden by a CPU fallback:
//! ```ignore
//! use mlgym_kernels::cuda_envs::{EnvKind, GpuActions, GpuRuntime, GpuVecEnv};
//! let rt = GpuRuntime::cuda(gpu.index)?;                     // NVRTC: fails cleanly
//! let mut env = GpuVecEnv::new(&rt, EnvKind::from_gymnax_name(name)?, n, seed)?;
//! env.step(GpuActions::Discrete(&actions))?;                  // then env.obs(), rewards() ...
//! ```

mod emulate;
mod exec;
pub mod params;
pub mod source;
mod vec_env;

pub use exec::GpuRuntime;
pub use params::{BreakoutParams, EnvParams, MetaMazeParams, MountainCarParams};
pub use vec_env::{GpuActions, GpuVecEnv, ResetDraws, StateArrays};

/// The environments the kernels implement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EnvKind {
    /// `MetaMaze-misc`.
    MetaMaze,
    /// `MountainCarContinuous-v0`.
    MountainCar,
    /// `Breakout-MinAtar`.
    Breakout,
}

impl EnvKind {
    /// Every environment.
    pub const ALL: [EnvKind; 3] = [EnvKind::MetaMaze, EnvKind::MountainCar, EnvKind::Breakout];

    /// gymnax's name.
    pub fn gymnax_name(self) -> &'static str {
        match self {
            EnvKind::MetaMaze => "MetaMaze-misc",
            EnvKind::MountainCar => "MountainCarContinuous-v0",
            EnvKind::Breakout => "Breakout-MinAtar",
        }
    }

    /// The environment gymnax calls `name`.
    pub fn from_gymnax_name(name: &str) -> Result<EnvKind, GpuEnvError> {
        EnvKind::ALL
            .into_iter()
            .find(|k| k.gymnax_name() == name)
            .ok_or_else(|| GpuEnvError::UnknownEnv(name.to_string()))
    }

    /// Length of one observation.
    pub fn obs_dim(self) -> usize {
        match self {
            EnvKind::MetaMaze => 15,
            EnvKind::MountainCar => 2,
            EnvKind::Breakout => 400,
        }
    }

    /// Number of discrete actions; `None` for MountainCar's continuous action.
    pub fn num_actions(self) -> Option<usize> {
        match self {
            EnvKind::MetaMaze => Some(4),
            EnvKind::MountainCar => None,
            EnvKind::Breakout => Some(3),
        }
    }

    /// Names of the state fields as stored on the device: `(ints, floats, 64-bit words)`,
    /// the layout of [`StateArrays`]. Breakout's brick map is two words: bits 0..63 and
    /// bits 64..99 of `mlgym_tasks`' `u128`.
    pub fn state_fields(
        self,
    ) -> (
        &'static [&'static str],
        &'static [&'static str],
        &'static [&'static str],
    ) {
        match self {
            EnvKind::MetaMaze => (
                &["pos_y", "pos_x", "goal_y", "goal_x", "last_action"],
                &["last_reward", "time"],
                &[],
            ),
            EnvKind::MountainCar => (&["time"], &["position", "velocity"], &[]),
            EnvKind::Breakout => (
                &[
                    "ball_y", "ball_x", "ball_dir", "pos", "strike", "last_y", "last_x", "time",
                    "terminal",
                ],
                &[],
                &["brick_map_lo", "brick_map_hi"],
            ),
        }
    }

    /// The kernels' name prefix (`mlgym_<prefix>_step`).
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            EnvKind::MetaMaze => "meta_maze",
            EnvKind::MountainCar => "mountain_car",
            EnvKind::Breakout => "breakout",
        }
    }
}

/// Which cosine MountainCar's kernel uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CosMode {
    /// glibc's `cosf` algorithm in double precision: bit-exact with the CPU reference.
    #[default]
    Glibc,
    /// CUDA's `cosf` (≤ 2 ulp): faster on some GPUs, within the documented tolerance.
    Native,
}

/// Why the GPU environments cannot run or a call is wrong. The messages say what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GpuEnvError {
    /// No NVIDIA driver.
    #[error("no NVIDIA driver (libcuda.so); use the CPU environments (mlgym_tasks::rl::VecEnv)")]
    NoDriver,
    /// NVRTC is missing.
    #[error(
        "libnvrtc.so (CUDA toolkit) not found: the kernels are compiled at run time; install \
         the toolkit or add its lib64 directory to LD_LIBRARY_PATH"
    )]
    NoNvrtc,
    /// A driver call failed.
    #[error("{0}")]
    Driver(String),
    /// cudarc panicked (a missing library symbol).
    #[error("CUDA: {0}")]
    Panicked(String),
    /// NVRTC rejected the source (a bug: the log says where).
    #[error("NVRTC could not compile the environment kernels: {0}")]
    Compile(String),
    /// No C++ compiler for the host emulation.
    #[error("host emulation needs a C++ compiler (set CXX); tried: {0}")]
    NoHostCompiler(String),
    /// The host compiler rejected the source.
    #[error("host emulation: {compiler} failed: {log}")]
    HostCompile {
        /// The compiler.
        compiler: String,
        /// Its diagnostics.
        log: String,
    },
    /// The emulation library could not be loaded.
    #[error("host emulation: loading {}: {message}", path.display())]
    Load {
        /// The library.
        path: std::path::PathBuf,
        /// dlopen's message.
        message: String,
    },
    /// The kernel argument block's layout differs between host and compiler (a bug).
    #[error("kernel argument layout mismatch: {0}")]
    Layout(String),
    /// Not one of our environments.
    #[error(
        "unknown environment `{0}`: the GPU kernels implement MetaMaze-misc, \
         MountainCarContinuous-v0 and Breakout-MinAtar"
    )]
    UnknownEnv(String),
    /// A batch has the wrong length.
    #[error("{what}: got {got} values for {expected} environments; pass one per environment")]
    Shape {
        /// Which input.
        what: &'static str,
        /// What was expected.
        expected: usize,
        /// What was given.
        got: usize,
    },
    /// Discrete actions for MountainCar or continuous ones for the others.
    #[error("{env} takes {expected} actions; pass GpuActions::{variant}")]
    ActionKind {
        /// The environment's gymnax name.
        env: &'static str,
        /// `integer` or `float`.
        expected: &'static str,
        /// The variant to use.
        variant: &'static str,
    },
    /// An internal invariant failed (a bug).
    #[error("internal error in the GPU environments: {0}")]
    Internal(String),
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn names_round_trip_and_fields_fit_the_argument_block() {
        for k in EnvKind::ALL {
            assert_eq!(EnvKind::from_gymnax_name(k.gymnax_name()).unwrap(), k);
            let (i, f, w) = k.state_fields();
            assert!(i.len() <= 10 && f.len() <= 4 && w.len() <= 2);
        }
        let e = EnvKind::from_gymnax_name("CartPole-v1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("CartPole-v1") && e.contains("Breakout-MinAtar"));
    }
}
