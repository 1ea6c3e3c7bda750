//! The PPO training loop of MLGym's `train_ppo`, natively.
//!
//! Each vector step samples actions for all `num_train_envs` environments from the
//! current policy, steps them (auto-reset) and stores the transition; every
//! `n_steps + 1` vector steps, GAE runs over the buffer and `epoch_ppo` epochs of
//! `n_minibatch` minibatches update both networks, then the buffer is emptied (its last
//! slot only bootstraps the values). As in MLGym, samples are flattened
//! environment-major and the minibatch permutation is drawn once: epoch `e` of every
//! update uses that permutation applied `e` times. MLGym's periodic evaluation rollouts
//! only fill its logs; here the log is the mean return of the training episodes that ended
//! since the previous update, which costs nothing.
//!
//! Randomness: the environments get `Rng::stream(seed, 0)`'s seed, action sampling the
//! stream `(seed, 1)`, the permutation the stream `(seed, 2)`; with a given
//! [`Par`], results are the same bit for bit on every run, whatever its number of threads.
//!
//! The environments are a [`BatchEnv`]: the CPU's `VecEnv` ([`train_env`],
//! [`train_models`]) or whatever an [`EnvMaker`] builds ([`train_env_on`],
//! [`train_models_on`]: the library's CUDA kernels). The network always runs here, on the
//! CPU; the backend only steps the environments and hands back their observations.

use std::time::Instant;

use super::buffer::Rollout;
use super::config::PpoConfig;
use super::gae::gae;
use super::loss::{loss_and_grad, LossCoeffs, LossParts, Minibatch};
use super::schedule::learning_rate;
use crate::rl::batch::{BatchEnv, CpuEnvs, EnvMaker};
use crate::rl::env::EnvId;
use crate::rl::nn::adam::Adam;
use crate::rl::nn::mlp::{backward, forward, BackScratch, Tape};
use crate::rl::nn::par::Par;
use crate::rl::policy::dist::{self, PolicyAction};
use crate::rl::policy::net::{MlpLayout, NetSpec};
use crate::rl::vec_env::{SoaEnv, VecEnv};
use crate::rng::Rng;

/// One point of the learning curve (recorded after every update).
#[derive(Clone, Debug, PartialEq)]
pub struct CurvePoint {
    /// Environment steps so far.
    pub env_steps: u64,
    /// Mean return of the training episodes that ended since the previous point (NaN
    /// when none ended).
    pub mean_return: f64,
    /// How many ended.
    pub episodes: usize,
    /// The loss parts of the update's last minibatch.
    pub loss: LossParts,
}

/// What training produced.
#[derive(Clone, Debug)]
pub struct TrainResult {
    /// The final parameters.
    pub params: Vec<f32>,
    /// The learning curve.
    pub curve: Vec<CurvePoint>,
    /// Environment steps taken.
    pub env_steps: u64,
    /// Optimiser updates made.
    pub updates: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// How a run reports and uses threads.
pub struct TrainOptions<'a> {
    /// Seed of the environments, action sampling and minibatch permutation.
    pub seed: u64,
    /// Threads for the network passes.
    pub par: &'a dyn Par,
    /// Progress lines (about 20 per run).
    pub progress: &'a (dyn Fn(&str) + Sync),
    /// Prefix of every progress line, e.g. `seed 2/5`.
    pub label: String,
    /// Parameters saved during training, if wanted.
    pub snapshot: Option<Snapshot<'a>>,
}

/// Intermediate parameters, handed out every `every` updates.
#[derive(Clone, Copy)]
pub struct Snapshot<'a> {
    /// Updates between snapshots (0: never).
    pub every: u64,
    /// Receives the environment steps so far and the parameters.
    pub save: &'a (dyn Fn(u64, &[f32]) + Sync),
}

/// Trains the network `params` (laid out as `spec`) with PPO on `env`, stepping the CPU's
/// environments.
pub fn train_env(
    env: EnvId,
    cfg: &PpoConfig,
    spec: &NetSpec,
    params: Vec<f32>,
    opts: &TrainOptions<'_>,
) -> Result<TrainResult, String> {
    train_env_on(&CpuEnvs, env, cfg, spec, params, opts)
}

/// [`train_env`] on the environments `envs` builds (the CPU's, or the GPU backend's):
/// the same draws, so the same result wherever the backends step alike.
pub fn train_env_on(
    envs: &dyn EnvMaker,
    env: EnvId,
    cfg: &PpoConfig,
    spec: &NetSpec,
    params: Vec<f32>,
    opts: &TrainOptions<'_>,
) -> Result<TrainResult, String> {
    cfg.validate()?;
    let mut venv = envs
        .make(env, cfg.num_train_envs, env_stream_seed(opts.seed))
        .map_err(|e| e.to_string())?;
    train_batch(venv.as_mut(), cfg, spec, params, opts)
}

/// The seed of the training environments' streams for training seed `seed`.
pub fn env_stream_seed(seed: u64) -> u64 {
    Rng::stream(seed, 0).next_u64()
}

/// Whether an environment's observations are mostly zeros (the first layer then skips
/// them).
pub fn sparse_obs(env: EnvId) -> bool {
    env != EnvId::MountainCarContinuous
}

/// Trains on the CPU's environments of type `E` with parameters `env_params`.
pub fn train<E: SoaEnv>(
    env_params: E::Params,
    cfg: &PpoConfig,
    spec: &NetSpec,
    params: Vec<f32>,
    opts: &TrainOptions<'_>,
) -> Result<TrainResult, String>
where
    E::Action: PolicyAction,
{
    cfg.validate()?;
    let mut venv = VecEnv::<E>::new(env_params, cfg.num_train_envs, env_stream_seed(opts.seed));
    train_batch(&mut venv, cfg, spec, params, opts)
}

/// The training loop on `venv` (`cfg.num_train_envs` environments reset from
/// [`env_stream_seed`]`(opts.seed)`).
pub fn train_batch(
    venv: &mut dyn BatchEnv,
    cfg: &PpoConfig,
    spec: &NetSpec,
    mut params: Vec<f32>,
    opts: &TrainOptions<'_>,
) -> Result<TrainResult, String> {
    cfg.validate()?;
    let id = venv.env_id();
    if params.len() != spec.num_params() || spec.obs_dim != id.obs_dim() {
        return Err(format!(
            "the network does not fit {id}: wrong parameter count or observation size"
        ));
    }
    if venv.num_envs() != cfg.num_train_envs {
        return Err(format!(
            "{id}: the batch has {} environments but num_train_envs is {}",
            venv.num_envs(),
            cfg.num_train_envs
        ));
    }
    let start = Instant::now();
    let (n, d, t_len) = (cfg.num_train_envs, id.obs_dim(), cfg.n_steps);
    let sparse = sparse_obs(id);
    let (critic, actor) = spec.layouts();
    let k = actor.n_out();
    let mut act_rng = Rng::stream(opts.seed, 1);
    let batch = n * t_len;
    let mut perm: Vec<usize> = (0..batch).collect();
    Rng::stream(opts.seed, 2).shuffle(&mut perm);

    let mut buf = Rollout::new(t_len + 1, n, d);
    let mut state = UpdateState::new(params.len(), batch, d, k, perm);
    let (mut actor_tape, mut critic_tape) = (Tape::default(), Tape::default());
    let mut actions = vec![0.0f32; n];
    let mut log_pis = vec![0.0f32; n];
    let mut values = vec![0.0f32; n];
    let mut ep_ret = vec![0.0f64; n];
    let (mut window_sum, mut window_count) = (0.0f64, 0usize);
    let (mut report_sum, mut report_count) = (0.0f64, 0usize);

    let total_vec_steps = cfg.num_train_steps / n as u64 + 1;
    let total_updates = total_vec_steps / (t_len as u64 + 1);
    let report_every = (total_updates / 20).max(1);
    let mut until_report = report_every;
    let mut until_snapshot = opts.snapshot.map_or(0, |s| s.every);
    let mut curve = Vec::new();
    let mut env_steps = 0u64;
    let mut updates_done = 0u64;
    for step in 1..=total_vec_steps {
        forward(
            &actor,
            &params,
            venv.obs(),
            n,
            sparse,
            &mut actor_tape,
            opts.par,
        );
        forward(
            &critic,
            &params,
            venv.obs(),
            n,
            sparse,
            &mut critic_tape,
            opts.par,
        );
        for e in 0..n {
            let out = &actor_tape.out[e * k..(e + 1) * k];
            let a = dist::sample(spec.head, out, &mut act_rng);
            actions[e] = a;
            log_pis[e] = dist::log_prob(spec.head, out, a);
            values[e] = critic_tape.out[e];
        }
        buf.begin_slot(venv.obs(), &actions, &log_pis, &values);
        venv.step_samples(&actions).map_err(|e| e.to_string())?;
        let (rewards, term, trunc) = (venv.rewards(), venv.terminated(), venv.truncated());
        buf.end_slot(rewards, term, trunc);
        env_steps += n as u64;
        for (e, ret) in ep_ret.iter_mut().enumerate() {
            *ret += rewards[e] as f64;
            if term[e] || trunc[e] {
                window_sum += *ret;
                window_count += 1;
                *ret = 0.0;
            }
        }
        if step % (t_len as u64 + 1) == 0 {
            let loss = state.update(
                cfg,
                spec,
                &critic,
                &actor,
                sparse,
                &buf,
                &mut params,
                opts.par,
            );
            buf.clear();
            updates_done += 1;
            let mean_return = if window_count > 0 {
                window_sum / window_count as f64
            } else {
                f64::NAN
            };
            if let Some(snap) = opts.snapshot {
                until_snapshot = until_snapshot.saturating_sub(1);
                if snap.every > 0 && until_snapshot == 0 {
                    until_snapshot = snap.every;
                    (snap.save)(env_steps, &params);
                }
            }
            curve.push(CurvePoint {
                env_steps,
                mean_return,
                episodes: window_count,
                loss,
            });
            report_sum += window_sum;
            report_count += window_count;
            window_sum = 0.0;
            window_count = 0;
            until_report -= 1;
            if until_report == 0 || updates_done == total_updates {
                until_report = report_every;
                let secs = start.elapsed().as_secs_f64();
                let ret = if report_count > 0 {
                    format!(
                        "{:.2} over {report_count} episodes",
                        report_sum / report_count as f64
                    )
                } else {
                    "n/a (no episode ended)".into()
                };
                (opts.progress)(&format!(
                    "{}: update {updates_done}/{total_updates}, {env_steps} env steps, {:.0} steps/s, recent return {ret}",
                    opts.label,
                    env_steps as f64 / secs.max(1e-9),
                ));
                report_sum = 0.0;
                report_count = 0;
            }
        }
    }
    Ok(TrainResult {
        params,
        curve,
        env_steps,
        updates: state.adam.count() as u64,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// One PPO update of `params` (laid out as `cfg.net_spec(env)`) on a full rollout `buf`
/// (GAE, then `epoch_ppo` epochs of minibatch steps) with minibatch permutation `perm`
/// and a fresh optimiser: exactly what the training loop does at its first update.
/// `tasks/tests/rl_ppo_reference.rs` compares it with MLGym's own `update` on a recorded
/// rollout.
pub fn update_once(
    cfg: &PpoConfig,
    env: EnvId,
    buf: &Rollout,
    params: &mut [f32],
    perm: Vec<usize>,
    par: &dyn Par,
) -> Result<LossParts, String> {
    let spec = cfg.net_spec(env);
    let batch = buf.n_envs * (buf.slots - 1);
    let mut sorted = perm.clone();
    sorted.sort_unstable();
    if !buf.is_full() || sorted.iter().copied().ne(0..batch) || params.len() != spec.num_params() {
        return Err(format!(
            "update_once: needs a full rollout, a permutation of 0..{batch} and {} parameters",
            spec.num_params()
        ));
    }
    let (critic, actor) = spec.layouts();
    let mut state = UpdateState::new(params.len(), batch, buf.obs_dim, actor.n_out(), perm);
    Ok(state.update(
        cfg,
        &spec,
        &critic,
        &actor,
        sparse_obs(env),
        buf,
        params,
        par,
    ))
}

/// The buffers of the update phase, reused across updates.
struct UpdateState {
    adam: Adam,
    grads: Vec<f32>,
    adv: Vec<f32>,
    targets: Vec<f32>,
    idx: Vec<usize>,
    prev_idx: Vec<usize>,
    mb_obs: Vec<f32>,
    mb_actions: Vec<f32>,
    mb_log_pi: Vec<f32>,
    mb_values: Vec<f32>,
    mb_targets: Vec<f32>,
    mb_adv: Vec<f32>,
    d_actor: Vec<f32>,
    d_values: Vec<f32>,
    actor_tape: Tape,
    critic_tape: Tape,
    scratch: BackScratch,
    perm: Vec<usize>,
}

impl UpdateState {
    /// Buffers for minibatches of `batch` samples, drawn in the order `perm` gives.
    fn new(n_params: usize, batch: usize, d: usize, k: usize, perm: Vec<usize>) -> Self {
        UpdateState {
            adam: Adam::new(n_params),
            grads: vec![0.0; n_params],
            adv: vec![0.0; batch],
            targets: vec![0.0; batch],
            idx: Vec::with_capacity(batch),
            prev_idx: Vec::with_capacity(batch),
            mb_obs: Vec::with_capacity(batch * d),
            mb_actions: Vec::new(),
            mb_log_pi: Vec::new(),
            mb_values: Vec::new(),
            mb_targets: Vec::new(),
            mb_adv: Vec::new(),
            d_actor: Vec::with_capacity(batch * k),
            d_values: Vec::new(),
            actor_tape: Tape::default(),
            critic_tape: Tape::default(),
            scratch: BackScratch::default(),
            perm,
        }
    }

    /// GAE, then `epoch_ppo` epochs of minibatch updates; returns the last loss.
    #[allow(clippy::too_many_arguments)]
    fn update(
        &mut self,
        cfg: &PpoConfig,
        spec: &NetSpec,
        critic: &MlpLayout,
        actor: &MlpLayout,
        sparse: bool,
        buf: &Rollout,
        params: &mut [f32],
        par: &dyn Par,
    ) -> LossParts {
        let (n, t_len, d) = (buf.n_envs, buf.slots - 1, buf.obs_dim);
        let k = actor.n_out();
        let batch = n * t_len;
        gae(
            &buf.values,
            &buf.rewards,
            &buf.dones,
            t_len,
            n,
            cfg.gamma,
            cfg.gae_lambda,
            &mut self.adv,
            &mut self.targets,
        );
        let coeffs = LossCoeffs {
            clip_eps: cfg.clip_eps as f32,
            critic_coeff: cfg.critic_coeff as f32,
            entropy_coeff: cfg.entropy_coeff as f32,
        };
        let mb_size = batch / cfg.n_minibatch;
        self.idx.clear();
        self.idx.extend(0..batch);
        let mut last = LossParts::default();
        for _ in 0..cfg.epoch_ppo {
            self.prev_idx.clear();
            self.prev_idx.extend_from_slice(&self.idx);
            for (dst, &p) in self.idx.iter_mut().zip(&self.perm) {
                *dst = self.prev_idx[p];
            }
            let mut start = 0;
            while start < batch {
                let rows = mb_size.min(batch - start);
                self.gather(buf, start, rows, d);
                forward(
                    actor,
                    params,
                    &self.mb_obs,
                    rows,
                    sparse,
                    &mut self.actor_tape,
                    par,
                );
                forward(
                    critic,
                    params,
                    &self.mb_obs,
                    rows,
                    sparse,
                    &mut self.critic_tape,
                    par,
                );
                self.d_actor.resize(rows * k, 0.0);
                self.d_values.resize(rows, 0.0);
                let mb = Minibatch {
                    actions: &self.mb_actions,
                    log_pi_old: &self.mb_log_pi,
                    value_old: &self.mb_values,
                    targets: &self.mb_targets,
                    advantages: &self.mb_adv,
                };
                last = loss_and_grad(
                    spec.head,
                    coeffs,
                    &self.actor_tape.out,
                    &self.critic_tape.out,
                    &mb,
                    &mut self.d_actor,
                    &mut self.d_values,
                );
                self.grads.fill(0.0);
                let p: &[f32] = params;
                backward(
                    critic,
                    p,
                    &self.mb_obs,
                    sparse,
                    &self.critic_tape,
                    &self.d_values,
                    &mut self.grads,
                    &mut self.scratch,
                    par,
                );
                backward(
                    actor,
                    p,
                    &self.mb_obs,
                    sparse,
                    &self.actor_tape,
                    &self.d_actor,
                    &mut self.grads,
                    &mut self.scratch,
                    par,
                );
                let lr = learning_rate(cfg, self.adam.count() as u64);
                self.adam
                    .step(params, &mut self.grads, lr, cfg.max_grad_norm as f32);
                start += rows;
            }
        }
        last
    }

    /// Copies minibatch `idx[start..start+rows]` out of the buffer. Sample `s` is
    /// environment `s / n_steps` at step `s % n_steps` (MLGym's env-major flattening).
    fn gather(&mut self, buf: &Rollout, start: usize, rows: usize, d: usize) {
        let (n, t_len) = (buf.n_envs, buf.slots - 1);
        self.mb_obs.clear();
        self.mb_actions.clear();
        self.mb_log_pi.clear();
        self.mb_values.clear();
        self.mb_targets.clear();
        self.mb_adv.clear();
        for &s in &self.idx[start..start + rows] {
            let (e, t) = (s / t_len, s % t_len);
            let src = t * n + e;
            self.mb_obs
                .extend_from_slice(&buf.obs[src * d..(src + 1) * d]);
            self.mb_actions.push(buf.actions[src]);
            self.mb_log_pi.push(buf.log_pis[src]);
            self.mb_values.push(buf.values[src]);
            self.mb_targets.push(self.targets[src]);
            self.mb_adv.push(self.adv[src]);
        }
    }
}

/// The seeds of [`train_models`]: one training seed shared by all models (MLGym's
/// `rng_list[0]`), and the initialisation seed of model `i` (`rng_list[1 + i]`).
pub fn model_seeds(seed: u64, n_models: usize) -> (u64, Vec<u64>) {
    let train = Rng::stream(seed, 0).next_u64();
    let inits = (0..n_models as u64)
        .map(|i| Rng::stream(seed, 1 + i).next_u64())
        .collect();
    (train, inits)
}

/// Trains the models numbered `which` (of `total`) as MLGym's `train.py` does: every model
/// starts from its own initialisation and trains with the same training seed, so model
/// `i` is the same whether it is trained alone or with the others. `done(i, spec, result)`
/// is called after each model (to save a checkpoint). Steps the CPU's environments.
#[allow(clippy::too_many_arguments)]
pub fn train_models(
    env: EnvId,
    cfg: &PpoConfig,
    seed: u64,
    which: &[usize],
    total: usize,
    par: &dyn Par,
    progress: &(dyn Fn(&str) + Sync),
    done: &mut dyn FnMut(usize, &NetSpec, &TrainResult) -> Result<(), String>,
) -> Result<Vec<TrainResult>, String> {
    train_models_on(&CpuEnvs, env, cfg, seed, which, total, par, progress, done)
}

/// [`train_models`] on the environments `envs` builds.
#[allow(clippy::too_many_arguments)]
pub fn train_models_on(
    envs: &dyn EnvMaker,
    env: EnvId,
    cfg: &PpoConfig,
    seed: u64,
    which: &[usize],
    total: usize,
    par: &dyn Par,
    progress: &(dyn Fn(&str) + Sync),
    done: &mut dyn FnMut(usize, &NetSpec, &TrainResult) -> Result<(), String>,
) -> Result<Vec<TrainResult>, String> {
    let spec = cfg.net_spec(env);
    let last = which.iter().copied().max().map_or(0, |m| m + 1);
    let (train_seed, inits) = model_seeds(seed, last);
    let mut out = Vec::with_capacity(which.len());
    for &i in which {
        let params = spec.init(&mut Rng::new(inits[i]));
        let opts = TrainOptions {
            seed: train_seed,
            par,
            progress,
            label: format!("model {}/{total}", i + 1),
            snapshot: None,
        };
        let r = train_env_on(envs, env, cfg, &spec, params, &opts)?;
        done(i, &spec, &r)?;
        out.push(r);
    }
    Ok(out)
}
