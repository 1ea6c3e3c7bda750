//! MLGym's evaluation protocol for the RL tasks, natively.
//!
//! For each checkpoint and each of 5 evaluation seeds, 256 environments are reset and run
//! for a fixed number of frames (MountainCar 200, Breakout 999, MetaMaze 199, as MLGym's
//! `evaluate.py`); every frame samples a stochastic action from the policy for each
//! environment; an environment's return is the sum of the rewards of its first episode
//! (rewards after its first `done` are masked, so the environment is simply dropped from
//! the batch). The 5 × 5 × 256 returns give `Reward Mean` and the population `Reward Std`.
//!
//! Randomness: evaluation seed `s` of run seed `seed` gives environment `i` the stream
//! `Rng::stream(env_seed(seed, s), i)` for its reset and steps and the stream
//! `Rng::stream(action_seed(seed, s), i)` for its actions, the same for every checkpoint
//! (as in MLGym, where both depend on the evaluation seed only). Each (checkpoint, seed)
//! pair runs on one thread; results never depend on the number of threads.
//!
//! Backends: the environments are a [`BatchEnv`] from an [`EnvBackend`]: the CPU's
//! `VecEnv`, or the CUDA kernels on a leased GPU ([`evaluate_policy_on`]); the network
//! runs on the CPU either way. Both give environment `i` the same stream, so the scores
//! are the same bit for bit.
//!
//! Numerics: the forward pass is [`crate::rl::nn::mlp::forward`] (first layer skipping
//! zero inputs, dense hidden layers, f32 with fused multiply-adds in a fixed order), so the
//! same submission and seed give the same bits on every run and machine with FMA. A row's
//! outputs depend on that row alone, so identical observations in a frame (MetaMaze has
//! about 50 distinct ones among 256 environments) are run once ([`Dedup`]); this changes
//! no result.

use rayon::prelude::*;

use crate::rl::backend::EnvBackend;
use crate::rl::batch::{BatchEnv, BatchEnvError};
use crate::rl::env::EnvId;
use crate::rl::nn::mlp::{forward, Tape};
use crate::rl::nn::par::Serial;
use crate::rl::policy::dist;
use crate::rl::policy::net::{HeadKind, MlpLayout};
use crate::rl::policy::LoadedPolicy;
use crate::rl::vec_env::Parallelism;
use crate::rng::{splitmix64, Rng};

/// Environments per (checkpoint, seed) pair.
pub const NUM_ENVS: usize = 256;
/// Evaluation seeds per checkpoint.
pub const NUM_SEEDS: u64 = 5;

/// Frames each environment runs (MLGym's `evaluate.py`): MountainCar 200, Breakout 999,
/// MetaMaze 199.
pub fn max_frames(env: EnvId) -> usize {
    match env {
        EnvId::MountainCarContinuous => 200,
        EnvId::Breakout => 999,
        EnvId::MetaMaze => 199,
    }
}

/// The sizes of an evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Protocol {
    /// Environments per (checkpoint, seed).
    pub num_envs: usize,
    /// Evaluation seeds per checkpoint.
    pub seeds: u64,
    /// Frames per environment.
    pub max_frames: usize,
}

impl Protocol {
    /// MLGym's protocol for `env`.
    pub fn mlgym(env: EnvId) -> Self {
        Protocol {
            num_envs: NUM_ENVS,
            seeds: NUM_SEEDS,
            max_frames: max_frames(env),
        }
    }
}

/// The outcome of an evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct Scores {
    /// Mean of all first-episode returns (`Reward Mean`).
    pub mean: f64,
    /// Population standard deviation of the returns (`Reward Std`).
    pub std: f64,
    /// Every return, checkpoint-major, then seed, then environment.
    pub returns: Vec<f32>,
    /// Mean return of each checkpoint.
    pub per_checkpoint: Vec<f64>,
}

/// The seed of the environments' streams for evaluation seed `s`.
pub fn env_seed(seed: u64, s: u64) -> u64 {
    derive(seed, s, 1)
}

/// The seed of the action-sampling streams for evaluation seed `s`.
pub fn action_seed(seed: u64, s: u64) -> u64 {
    derive(seed, s, 2)
}

fn derive(seed: u64, s: u64, purpose: u64) -> u64 {
    let mut st =
        seed ^ s.wrapping_mul(0xBF58_476D_1CE4_E5B9) ^ purpose.wrapping_mul(0x94D0_49BB_1331_11EB);
    splitmix64(&mut st)
}

/// Runs the protocol on every checkpoint of `policy` in environment `env`, stepping the
/// CPU's environments. Fails (with a message naming the checkpoint) when a return is not
/// finite.
pub fn evaluate_policy(
    env: EnvId,
    policy: &LoadedPolicy,
    seed: u64,
    protocol: &Protocol,
) -> Result<Scores, String> {
    evaluate_policy_on(&EnvBackend::Cpu, env, policy, seed, protocol)
}

/// [`evaluate_policy`] with the environments stepped by `backend` (the same draws, so
/// the same scores wherever the backends step alike; see [`crate::rl::backend`]).
pub fn evaluate_policy_on(
    backend: &EnvBackend,
    env: EnvId,
    policy: &LoadedPolicy,
    seed: u64,
    protocol: &Protocol,
) -> Result<Scores, String> {
    let (_, actor) = policy.spec.layouts();
    let head = policy.spec.head;
    let jobs: Vec<(usize, u64)> = (0..policy.checkpoints.len())
        .flat_map(|c| (0..protocol.seeds).map(move |s| (c, s)))
        .collect();
    let per_job: Vec<Vec<f32>> = jobs
        .par_iter()
        .map(|&(c, s)| {
            let run = RunSpec {
                layout: &actor,
                head,
                theta: &policy.checkpoints[c].1,
                action_seed: action_seed(seed, s),
                max_frames: protocol.max_frames,
            };
            // Each job runs on one thread: the CPU's batch must not split itself.
            let mut venv = backend
                .batch(
                    env,
                    protocol.num_envs,
                    env_seed(seed, s),
                    Parallelism::Serial,
                )
                .map_err(|e| e.to_string())?;
            first_episode_returns(venv.as_mut(), &run).map_err(|e| e.to_string())
        })
        .collect::<Result<_, String>>()?;
    let per_ckpt = protocol.seeds as usize * protocol.num_envs;
    let returns: Vec<f32> = per_job.into_iter().flatten().collect();
    let mut per_checkpoint = Vec::with_capacity(policy.checkpoints.len());
    for (c, chunk) in returns.chunks(per_ckpt.max(1)).enumerate() {
        if let Some(bad) = chunk.iter().find(|r| !r.is_finite()) {
            return Err(format!(
                "{}: a return is not finite ({bad}): the policy's outputs overflow (check the \
                 weights' magnitude, and actor_fc_scale for MountainCar)",
                policy.checkpoints[c].0
            ));
        }
        per_checkpoint.push(mean(chunk));
    }
    let mean_all = mean(&returns);
    let var = returns
        .iter()
        .map(|&r| (r as f64 - mean_all).powi(2))
        .sum::<f64>()
        / returns.len().max(1) as f64;
    Ok(Scores {
        mean: mean_all,
        std: var.sqrt(),
        returns,
        per_checkpoint,
    })
}

fn mean(v: &[f32]) -> f64 {
    v.iter().map(|&r| r as f64).sum::<f64>() / v.len().max(1) as f64
}

/// One (checkpoint, seed) batch.
struct RunSpec<'a> {
    layout: &'a MlpLayout,
    head: HeadKind,
    theta: &'a [f32],
    action_seed: u64,
    max_frames: usize,
}

/// Runs the environments of `venv` for up to `run.max_frames` frames and returns each
/// one's first-episode return (float32 sums, as in MLGym). An environment that ended is
/// no longer run through the network and its rewards are ignored; the batch still steps
/// it (auto-reset, with its last action), which changes nothing for the others since each
/// draws from its own stream.
fn first_episode_returns(
    venv: &mut dyn BatchEnv,
    run: &RunSpec<'_>,
) -> Result<Vec<f32>, BatchEnvError> {
    let n = venv.num_envs();
    let d = venv.env_id().obs_dim();
    let k = run.layout.n_out();
    let mut act_rngs: Vec<Rng> = (0..n as u64)
        .map(|i| Rng::stream(run.action_seed, i))
        .collect();
    // The environments still in their first episode, in increasing order.
    let mut active: Vec<usize> = (0..n).collect();
    let mut rows = Vec::with_capacity(n * d);
    let mut samples = vec![0.0f32; n];
    let mut returns = vec![0.0f32; n];
    let mut tape = Tape::default();
    let mut dedup = Dedup::default();
    for _ in 0..run.max_frames {
        if active.is_empty() {
            break;
        }
        let obs = venv.obs();
        let x: &[f32] = if active.len() == n {
            obs
        } else {
            rows.clear();
            for &i in &active {
                rows.extend_from_slice(&obs[i * d..(i + 1) * d]);
            }
            &rows
        };
        let (x, m) = dedup.unique_rows(x, d);
        forward(run.layout, run.theta, x, m, true, &mut tape, &Serial);
        for (j, &i) in active.iter().enumerate() {
            let u = dedup.row_of(j);
            samples[i] = dist::sample(run.head, &tape.out[u * k..(u + 1) * k], &mut act_rngs[i]);
        }
        venv.step_samples(&samples)?;
        let (rewards, term, trunc) = (venv.rewards(), venv.terminated(), venv.truncated());
        for &i in &active {
            returns[i] += rewards[i];
        }
        active.retain(|&i| !(term[i] || trunc[i]));
    }
    Ok(returns)
}

/// Finds the distinct rows of a batch, so that each is run through the network once.
/// When a batch has few duplicates, it stops looking for a while (the answer is the same
/// either way; only the time differs).
#[derive(Default)]
struct Dedup {
    /// Slot of the hash table → 1 + index of a unique row (0 = empty).
    table: Vec<u32>,
    /// The distinct rows, packed.
    unique: Vec<f32>,
    /// Row `j` of the batch is unique row `map[j]` (empty when not deduplicating).
    map: Vec<u32>,
    /// Frames left before looking for duplicates again.
    pause: u32,
}

impl Dedup {
    /// The rows to run and how many there are: the distinct rows of `x` (`d` values each),
    /// or `x` itself.
    fn unique_rows<'a>(&'a mut self, x: &'a [f32], d: usize) -> (&'a [f32], usize) {
        let rows = x.len() / d.max(1);
        self.map.clear();
        if self.pause > 0 || rows < 8 {
            self.pause = self.pause.saturating_sub(1);
            return (x, rows);
        }
        let size = (2 * rows).next_power_of_two();
        self.table.clear();
        self.table.resize(size, 0);
        self.unique.clear();
        let mut n_unique = 0u32;
        for row in x.chunks_exact(d) {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for v in row {
                h = (h ^ v.to_bits() as u64).wrapping_mul(0x0000_0100_0000_01b3);
            }
            let mut slot = (h ^ (h >> 29)) as usize & (size - 1);
            loop {
                let e = self.table[slot];
                if e == 0 {
                    self.table[slot] = n_unique + 1;
                    self.unique.extend_from_slice(row);
                    self.map.push(n_unique);
                    n_unique += 1;
                    break;
                }
                let u = (e - 1) as usize;
                if self.unique[u * d..(u + 1) * d]
                    .iter()
                    .zip(row)
                    .all(|(a, b)| a.to_bits() == b.to_bits())
                {
                    self.map.push(u as u32);
                    break;
                }
                slot = (slot + 1) & (size - 1);
            }
        }
        if n_unique as usize * 10 > rows * 9 {
            // Few duplicates: run the batch as it is for the next frames.
            self.pause = 16;
            self.map.clear();
            return (x, rows);
        }
        (&self.unique, n_unique as usize)
    }

    /// The row of the network's output for batch row `j`.
    #[inline]
    fn row_of(&self, j: usize) -> usize {
        if self.map.is_empty() {
            j
        } else {
            self.map[j] as usize
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rl::policy::head_for;
    use crate::rl::policy::net::NetSpec;

    fn policy(env: EnvId, seed: u64) -> LoadedPolicy {
        let spec = NetSpec {
            obs_dim: env.obs_dim(),
            hidden_layers: 2,
            hidden_units: 16,
            head: head_for(env),
        };
        let checkpoints = (0..2)
            .map(|c| (format!("c{c}"), spec.init(&mut Rng::new(seed + c))))
            .collect();
        LoadedPolicy { spec, checkpoints }
    }

    #[test]
    fn small_protocol_is_deterministic_and_seeded() {
        for env in EnvId::ALL {
            let p = policy(env, 1);
            let proto = Protocol {
                num_envs: 8,
                seeds: 2,
                max_frames: 30,
            };
            let a = evaluate_policy(env, &p, 0, &proto).unwrap();
            let b = evaluate_policy(env, &p, 0, &proto).unwrap();
            assert_eq!(a, b);
            assert_eq!(a.returns.len(), 2 * 2 * 8);
            let c = evaluate_policy(env, &p, 1, &proto).unwrap();
            if env != EnvId::Breakout {
                assert_ne!(a.returns, c.returns, "{env}");
            }
        }
    }

    #[test]
    fn mountain_car_returns_are_action_penalties_before_the_goal() {
        // In 10 frames from rest the car cannot reach the goal: every reward is -0.1·a².
        let p = policy(EnvId::MountainCarContinuous, 3);
        let proto = Protocol {
            num_envs: 4,
            seeds: 1,
            max_frames: 10,
        };
        let s = evaluate_policy(EnvId::MountainCarContinuous, &p, 0, &proto).unwrap();
        assert!(
            s.returns.iter().all(|&r| r < 0.0 && r > -100.0),
            "{:?}",
            s.returns
        );
    }
}
