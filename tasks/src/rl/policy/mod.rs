//! Policies of the RL tasks: MLGym's actor-critic network family ([`net`]), its action
//! distributions ([`dist`]), the submission's `config.toml` ([`config`]) and its
//! safetensors checkpoints ([`checkpoint`]). The format is documented in
//! `docs/rl-policies.md`.
//!
//! [`net`] and [`dist`] use only `std` and the crate's RNG: they are copied unchanged into
//! the agent's starter crate (see `rl::starter`).

pub mod checkpoint;
pub mod config;
pub mod dist;
pub mod net;

use std::path::Path;

use crate::rl::env::EnvId;
use crate::rl::nn::par::Par;
pub use net::{head_for, HeadKind, NetSpec, TensorSpec};

/// A submission's policy that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A required file or folder is missing.
    #[error("{0}")]
    NotFound(String),
    /// A file is present but unusable; the message names the file, the tensor or field, and
    /// what to do.
    #[error("{file}: {message}")]
    Invalid {
        /// The file, relative to the submission.
        file: String,
        /// What is wrong.
        message: String,
    },
}

impl PolicyError {
    /// An [`PolicyError::Invalid`] for `file`.
    pub fn invalid(file: impl Into<String>, message: impl Into<String>) -> Self {
        PolicyError::Invalid {
            file: file.into(),
            message: message.into(),
        }
    }
}

/// A policy ready to run: its shape and its five (or however many) parameter vectors.
#[derive(Clone, Debug)]
pub struct LoadedPolicy {
    /// The network shape from `config.toml`.
    pub spec: NetSpec,
    /// `(file name, flat parameters)` of each checkpoint, in file-name order.
    pub checkpoints: Vec<(String, Vec<f32>)>,
}

/// Loads `config.toml` and every checkpoint of a submission in `dir`, checking everything
/// (see `docs/rl-policies.md`); `expected` is the number of checkpoints required.
pub fn load_submission(
    dir: &Path,
    env: EnvId,
    expected: usize,
) -> Result<LoadedPolicy, PolicyError> {
    let cfg = config::read_config(&dir.join(config::CONFIG_FILE), env)?;
    let spec = cfg.spec(env);
    let files = checkpoint::list_checkpoints(dir, expected)?;
    let mut checkpoints = Vec::with_capacity(files.len());
    for f in &files {
        let params = checkpoint::read_checkpoint(&dir.join(f), f, &spec, &cfg)?;
        checkpoints.push((f.to_string_lossy().into_owned(), params));
    }
    Ok(LoadedPolicy { spec, checkpoints })
}

/// [`Par`] on rayon's global pool.
#[derive(Clone, Copy, Debug, Default)]
pub struct RayonPar;

impl Par for RayonPar {
    fn run(&self, n: usize, f: &(dyn Fn(usize) + Sync)) {
        use rayon::prelude::*;
        (0..n).into_par_iter().for_each(f);
    }

    fn threads(&self) -> usize {
        rayon::current_num_threads()
    }

    fn pieces(&self) -> usize {
        // Work stealing evens out cores taken by other processes.
        4 * rayon::current_num_threads()
    }
}
