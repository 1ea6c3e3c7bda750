//! Our PPO update against MLGym's own: one `update` of MLGym's unmodified JAX trainer was
//! recorded on a small configuration (`scripts/bench/rl_ppo_update_reference.py`: its
//! rollout buffer, its minibatch permutation, the parameters before and after), and
//! [`update_once`] must move the same parameters the same way from the same data.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;

use mlgym_tasks::rl::env::EnvId;
use mlgym_tasks::rl::nn::par::Serial;
use mlgym_tasks::rl::policy::NetSpec;
use mlgym_tasks::rl::ppo::buffer::Rollout;
use mlgym_tasks::rl::ppo::{update_once, PpoConfig};
use serde_json::Value;

fn fixture(env: EnvId) -> Value {
    let path = format!(
        "{}/tests/rl_fixtures/ppo_update/{}.json.gz",
        env!("CARGO_MANIFEST_DIR"),
        env.name()
    );
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn usize_of(v: &Value, key: &str) -> usize {
    v[key].as_u64().unwrap() as usize
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect()
}

/// The parameters named in `tensors` laid out as `spec` lays them out.
fn params_of(spec: &NetSpec, tensors: &Value) -> Vec<f32> {
    let mut p = vec![f32::NAN; spec.num_params()];
    for t in spec.tensors() {
        let rec = &tensors[t.name.as_str()];
        assert!(!rec.is_null(), "the fixture lacks {}", t.name);
        assert_eq!(usizes(&rec["shape"]), t.shape, "{}", t.name);
        p[t.offset..t.offset + t.len()].copy_from_slice(&floats(&rec["data"]));
    }
    p
}

fn check_update_matches_mlgym(env: EnvId) {
    let fx = fixture(env);
    let (n, t_len) = (usize_of(&fx, "num_envs"), usize_of(&fx, "n_steps"));
    let mut cfg = PpoConfig::mlgym(env);
    // The recording used MLGym's config.yaml for everything but the sizes, which it shrank
    // (and recorded): ours must equal both.
    let c = &fx["config"];
    for (ours, key) in [
        (cfg.gamma, "gamma"),
        (cfg.gae_lambda, "gae_lambda"),
        (cfg.clip_eps, "clip_eps"),
        (cfg.entropy_coeff, "entropy_coeff"),
        (cfg.critic_coeff, "critic_coeff"),
        (cfg.max_grad_norm, "max_grad_norm"),
        (cfg.lr_begin, "lr_begin"),
        (cfg.lr_end, "lr_end"),
        (cfg.lr_warmup, "lr_warmup"),
        (cfg.num_train_steps as f64, "num_train_steps"),
    ] {
        assert_eq!(
            ours,
            c[key].as_f64().unwrap(),
            "{env}: {key} differs from MLGym's"
        );
    }
    let sizes = &fx["mlgym_sizes"];
    for (ours, key) in [
        (cfg.num_train_envs, "num_train_envs"),
        (cfg.n_steps, "n_steps"),
        (cfg.n_minibatch, "n_minibatch"),
        (cfg.epoch_ppo, "epoch_ppo"),
        (cfg.num_hidden_units, "num_hidden_units"),
        (cfg.num_hidden_layers, "num_hidden_layers"),
    ] {
        assert_eq!(
            ours,
            usize_of(sizes, key),
            "{env}: {key} differs from MLGym's"
        );
    }
    cfg.num_train_envs = n;
    cfg.n_steps = t_len;
    cfg.n_minibatch = usize_of(&fx, "n_minibatch");
    cfg.epoch_ppo = usize_of(&fx, "epoch_ppo");
    cfg.num_hidden_units = usize_of(&fx, "hidden_units");
    cfg.num_hidden_layers = usize_of(&fx, "hidden_layers");
    let spec = cfg.net_spec(env);
    let mut buf = Rollout::new(t_len + 1, n, env.obs_dim());
    buf.obs = floats(&fx["obs"]);
    buf.actions = floats(&fx["actions"]);
    buf.rewards = floats(&fx["rewards"]);
    buf.dones = floats(&fx["dones"]);
    buf.log_pis = floats(&fx["log_pis"]);
    buf.values = floats(&fx["values"]);
    buf.len = t_len + 1;
    assert_eq!(buf.obs.len(), (t_len + 1) * n * env.obs_dim());
    let perm = usizes(&fx["perm"]);
    let before = params_of(&spec, &fx["before"]);
    let theirs = params_of(&spec, &fx["after"]);
    let mut ours = before.clone();
    update_once(&cfg, env, &buf, &mut ours, perm, &Serial).unwrap();
    let moved: f64 = before
        .iter()
        .zip(&theirs)
        .map(|(b, t)| (t - b).abs() as f64)
        .sum::<f64>()
        / before.len() as f64;
    let mut worst = (0.0f32, String::new());
    let mut off = 0usize;
    for t in spec.tensors() {
        for i in t.offset..t.offset + t.len() {
            let d = (ours[i] - theirs[i]).abs();
            if d > 1e-5 {
                off += 1;
            }
            if d > worst.0 {
                worst = (d, format!("{}[{}]", t.name, i - t.offset));
            }
        }
    }
    println!(
        "{env}: mean |MLGym's move| {moved:.3e}; largest difference {:.3e} at {}; {off} of {} parameters differ by > 1e-5",
        worst.0,
        worst.1,
        before.len()
    );
    assert!(moved > 1e-5, "{env}: the recorded update moved nothing");
    // Float rounding (JAX sums in another order) leaves ~1e-7; a wrong term in the loss,
    // GAE, minibatching or optimiser moves parameters by ~1e-4 (the size of a step).
    assert_eq!(off, 0, "{env}: our update differs from MLGym's");
}

#[test]
fn breakout_update_matches_mlgyms_own_trainer() {
    check_update_matches_mlgym(EnvId::Breakout);
}

#[test]
fn mountain_car_update_matches_mlgyms_own_trainer() {
    check_update_matches_mlgym(EnvId::MountainCarContinuous);
}

#[test]
fn meta_maze_update_matches_mlgyms_own_trainer() {
    check_update_matches_mlgym(EnvId::MetaMaze);
}
