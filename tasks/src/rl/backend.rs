//! Which machine steps the RL environments of the evaluator and the PPO baseline: the CPU's
//! vectorised environments (`VecEnv`, the default) or the CUDA kernels of
//! `mlgym_kernels::cuda_envs` on a GPU the run leased. Both are a [`BatchEnv`], so the
//! evaluator and the trainer are written once.
//!
//! Only the environments move: the policy network runs on the CPU either way, so every
//! step copies the observations, rewards and flags back to the host (`GpuVecEnv::step`).
//! Environment `i` of a batch reset from `seed` draws from `Rng::stream(seed, i)` on both
//! backends, and the kernels are step-for-step equal to the CPU environments (MountainCar
//! through glibc's `cosf` algorithm, `CosMode::Glibc`), so the GPU backend gives the same
//! returns and the same trained networks, bit for bit.
//!
//! A run that leased a GPU and whose kernels cannot compile or load fails with
//! [`BackendError`] (it names the device and suggests `--gpus none`); it never falls back
//! to the CPU silently.

use std::sync::Arc;

use mlgym_kernels::cuda_envs::{EnvKind, GpuActions, GpuEnvError, GpuRuntime, GpuVecEnv};
use mlgym_kernels::gpu::GpuDevice;

use crate::evaluator::ComputeInfo;
use crate::rl::batch::{BatchEnv, BatchEnvError, EnvMaker};
use crate::rl::env::{ActionSpace, EnvId};
use crate::rl::vec_env::{Parallelism, VecEnv};

/// The GPU backend could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The kernels do not compile or load on the leased device.
    #[error(
        "the RL environment kernels cannot run on {device}: {reason}; fix that, or run \
         with --gpus none to step the environments on the CPU (same scores)"
    )]
    Kernels {
        /// The device (`GPU 0: …`) or `host emulation`.
        device: String,
        /// Why (not a `source`: the message already says it, once).
        reason: GpuEnvError,
    },
}

/// Where the environments are stepped (see the module docs).
#[derive(Clone, Debug, Default)]
pub enum EnvBackend {
    /// The CPU's vectorised environments.
    #[default]
    Cpu,
    /// The CUDA kernels on a GPU, or their host emulation (tests).
    Kernels(Arc<GpuRuntime>),
}

impl EnvBackend {
    /// The backend for the GPUs a run leased: the CPU when `gpus` is empty, the kernels on
    /// the first device otherwise (compiled here, so a broken toolkit fails at once).
    pub fn for_gpus(gpus: &[GpuDevice]) -> Result<Self, BackendError> {
        let Some(gpu) = gpus.first() else {
            return Ok(EnvBackend::Cpu);
        };
        GpuRuntime::cuda(gpu.index)
            .map(EnvBackend::Kernels)
            .map_err(|reason| BackendError::Kernels {
                device: gpu.label(),
                reason,
            })
    }

    /// The kernels compiled as C++ and run on the CPU: the GPU code path without a GPU,
    /// for tests (needs a C++ compiler).
    pub fn host_emulation() -> Result<Self, BackendError> {
        GpuRuntime::host_emulation()
            .map(EnvBackend::Kernels)
            .map_err(|reason| BackendError::Kernels {
                device: "host emulation".into(),
                reason,
            })
    }

    /// What steps the environments, for the run's records: backend `cpu`, `cuda` or
    /// `cuda-emulated`, and the device.
    pub fn info(&self) -> ComputeInfo {
        match self {
            EnvBackend::Cpu => ComputeInfo {
                backend: "cpu".into(),
                device: "cpu".into(),
            },
            EnvBackend::Kernels(rt) => ComputeInfo {
                backend: if rt.is_emulated() {
                    "cuda-emulated"
                } else {
                    "cuda"
                }
                .into(),
                device: rt.description().to_string(),
            },
        }
    }

    /// `n` environments of `id` reset from `seed`; `par` is how the CPU's batch uses
    /// threads (the kernels ignore it).
    pub fn batch(
        &self,
        id: EnvId,
        n: usize,
        seed: u64,
        par: Parallelism,
    ) -> Result<Box<dyn BatchEnv>, BatchEnvError> {
        match self {
            EnvBackend::Cpu => Ok(cpu_batch(id, n, seed, par)),
            EnvBackend::Kernels(rt) => Ok(Box::new(KernelBatch::new(rt, id, n, seed)?)),
        }
    }
}

impl EnvMaker for EnvBackend {
    fn make(&self, id: EnvId, n: usize, seed: u64) -> Result<Box<dyn BatchEnv>, BatchEnvError> {
        self.batch(id, n, seed, Parallelism::Auto)
    }
}

fn cpu_batch(id: EnvId, n: usize, seed: u64, par: Parallelism) -> Box<dyn BatchEnv> {
    use crate::rl::env::{Breakout, MetaMaze, MountainCar};
    match id {
        EnvId::MetaMaze => {
            let mut v = VecEnv::<MetaMaze>::new(Default::default(), n, seed);
            v.set_parallelism(par);
            Box::new(v)
        }
        EnvId::MountainCarContinuous => {
            let mut v = VecEnv::<MountainCar>::new(Default::default(), n, seed);
            v.set_parallelism(par);
            Box::new(v)
        }
        EnvId::Breakout => {
            let mut v = VecEnv::<Breakout>::new(Default::default(), n, seed);
            v.set_parallelism(par);
            Box::new(v)
        }
    }
}

/// The kernels' environment of `id`.
pub fn kernel_kind(id: EnvId) -> EnvKind {
    match id {
        EnvId::MetaMaze => EnvKind::MetaMaze,
        EnvId::MountainCarContinuous => EnvKind::MountainCar,
        EnvId::Breakout => EnvKind::Breakout,
    }
}

/// A [`GpuVecEnv`] as a [`BatchEnv`]: samples become the kernels' actions as
/// `PolicyAction::from_sample` makes them (`x as i32` for the discrete environments).
struct KernelBatch {
    env: GpuVecEnv,
    id: EnvId,
    discrete: Vec<i32>,
}

fn backend_err(rt: &GpuRuntime, e: GpuEnvError) -> BatchEnvError {
    BatchEnvError::Backend(format!(
        "RL environment kernels on {}: {e}; run with --gpus none to step the environments \
         on the CPU",
        rt.description()
    ))
}

impl KernelBatch {
    fn new(rt: &Arc<GpuRuntime>, id: EnvId, n: usize, seed: u64) -> Result<Self, BatchEnvError> {
        let env = GpuVecEnv::new(rt, kernel_kind(id), n, seed).map_err(|e| backend_err(rt, e))?;
        Ok(KernelBatch {
            env,
            id,
            discrete: Vec::with_capacity(n),
        })
    }
}

impl BatchEnv for KernelBatch {
    fn env_id(&self) -> EnvId {
        self.id
    }

    fn num_envs(&self) -> usize {
        self.env.num_envs()
    }

    fn obs(&self) -> &[f32] {
        self.env.obs()
    }

    fn rewards(&self) -> &[f32] {
        self.env.rewards()
    }

    fn terminated(&self) -> &[bool] {
        self.env.terminated()
    }

    fn truncated(&self) -> &[bool] {
        self.env.truncated()
    }

    fn step_samples(&mut self, samples: &[f32]) -> Result<(), BatchEnvError> {
        if samples.len() != self.env.num_envs() {
            return Err(BatchEnvError::ActionCount {
                expected: self.env.num_envs(),
                got: samples.len(),
            });
        }
        let actions = if matches!(self.id.action_space(), ActionSpace::Discrete(_)) {
            self.discrete.clear();
            self.discrete.extend(samples.iter().map(|&x| x as i32));
            GpuActions::Discrete(&self.discrete)
        } else {
            GpuActions::Continuous(samples)
        };
        let rt = self.env.runtime().clone();
        self.env.step(actions).map_err(|e| backend_err(&rt, e))
    }
}
