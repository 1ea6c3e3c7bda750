//! PPO's settings: MLGym's `train_config` for each environment, and the `config.toml`
//! text that carries them (`[network]` for the network, `[train]` for the rest).

use crate::rl::env::EnvId;
use crate::rl::policy::net::{head_for, NetSpec};

/// PPO hyperparameters and the network size (MLGym's `train_config` keys).
#[derive(Clone, Debug, PartialEq)]
pub struct PpoConfig {
    /// Environment steps to train for, over all environments.
    pub num_train_steps: u64,
    /// Environments stepped together.
    pub num_train_envs: usize,
    /// Global gradient-norm limit.
    pub max_grad_norm: f64,
    /// Discount.
    pub gamma: f64,
    /// Rollout length per update (per environment).
    pub n_steps: usize,
    /// Minibatches per epoch.
    pub n_minibatch: usize,
    /// Learning rate at the first update.
    pub lr_begin: f64,
    /// Learning rate after the warm-up.
    pub lr_end: f64,
    /// Length of the linear schedule, as a fraction of `num_train_steps`, counted in
    /// optimiser updates (MLGym's quirk: see [`crate::rl::ppo::schedule`]).
    pub lr_warmup: f64,
    /// Epochs over each rollout.
    pub epoch_ppo: usize,
    /// PPO's ratio clip (also the value clip).
    pub clip_eps: f64,
    /// GAE's λ.
    pub gae_lambda: f64,
    /// Weight of the entropy bonus.
    pub entropy_coeff: f64,
    /// Weight of the value loss.
    pub critic_coeff: f64,
    /// Hidden layers of each MLP.
    pub num_hidden_layers: usize,
    /// Units per hidden layer.
    pub num_hidden_units: usize,
}

impl PpoConfig {
    /// The actor-critic these settings train on `env`.
    pub fn net_spec(&self, env: EnvId) -> NetSpec {
        NetSpec {
            obs_dim: env.obs_dim(),
            hidden_layers: self.num_hidden_layers,
            hidden_units: self.num_hidden_units,
            head: head_for(env),
        }
    }

    /// MLGym's `src/config.yaml` for `env`.
    pub fn mlgym(env: EnvId) -> Self {
        match env {
            EnvId::MountainCarContinuous => PpoConfig {
                num_train_steps: 20_000_000,
                num_train_envs: 256,
                max_grad_norm: 0.5,
                gamma: 0.99,
                n_steps: 256,
                n_minibatch: 8,
                lr_begin: 6e-4,
                lr_end: 5e-4,
                lr_warmup: 0.03,
                epoch_ppo: 4,
                clip_eps: 0.1,
                gae_lambda: 0.99,
                entropy_coeff: 0.1,
                critic_coeff: 0.5,
                num_hidden_layers: 4,
                num_hidden_units: 256,
            },
            EnvId::Breakout => PpoConfig {
                num_train_steps: 10_000_000,
                num_train_envs: 64,
                max_grad_norm: 0.5,
                gamma: 0.999,
                n_steps: 128,
                n_minibatch: 8,
                lr_begin: 5e-4,
                lr_end: 5e-4,
                lr_warmup: 0.05,
                epoch_ppo: 4,
                clip_eps: 0.2,
                gae_lambda: 0.95,
                entropy_coeff: 0.01,
                critic_coeff: 0.5,
                num_hidden_layers: 2,
                num_hidden_units: 256,
            },
            EnvId::MetaMaze => PpoConfig {
                num_train_steps: 10_000_000,
                num_train_envs: 64,
                max_grad_norm: 1.0,
                gamma: 0.99,
                n_steps: 32,
                n_minibatch: 4,
                lr_begin: 5e-4,
                lr_end: 5e-4,
                lr_warmup: 0.05,
                epoch_ppo: 4,
                clip_eps: 0.1,
                gae_lambda: 0.95,
                entropy_coeff: 0.05,
                critic_coeff: 0.5,
                num_hidden_layers: 2,
                num_hidden_units: 256,
            },
        }
    }

    /// The `[train]` keys, in file order.
    pub const TRAIN_KEYS: [&'static str; 14] = [
        "num_train_steps",
        "num_train_envs",
        "max_grad_norm",
        "gamma",
        "n_steps",
        "n_minibatch",
        "lr_begin",
        "lr_end",
        "lr_warmup",
        "epoch_ppo",
        "clip_eps",
        "gae_lambda",
        "entropy_coeff",
        "critic_coeff",
    ];

    /// Sets `[table] key = value` (table `network` or `train`); the error names the key.
    pub fn set(&mut self, table: &str, key: &str, value: f64) -> Result<(), String> {
        let count = |v: f64| -> Result<usize, String> {
            if v >= 1.0 && v.fract() == 0.0 && v <= 1e15 {
                Ok(v as usize)
            } else {
                Err(format!(
                    "[{table}] {key} = {v}: must be a whole number >= 1"
                ))
            }
        };
        let real = |v: f64| -> Result<f64, String> {
            if v.is_finite() && v >= 0.0 {
                Ok(v)
            } else {
                Err(format!(
                    "[{table}] {key} = {v}: must be a finite number >= 0"
                ))
            }
        };
        match (table, key) {
            ("network", "num_hidden_layers") => self.num_hidden_layers = count(value)?,
            ("network", "num_hidden_units") => self.num_hidden_units = count(value)?,
            ("train", "num_train_steps") => self.num_train_steps = count(value)? as u64,
            ("train", "num_train_envs") => self.num_train_envs = count(value)?,
            ("train", "max_grad_norm") => self.max_grad_norm = real(value)?,
            ("train", "gamma") => self.gamma = real(value)?,
            ("train", "n_steps") => self.n_steps = count(value)?,
            ("train", "n_minibatch") => self.n_minibatch = count(value)?,
            ("train", "lr_begin") => self.lr_begin = real(value)?,
            ("train", "lr_end") => self.lr_end = real(value)?,
            ("train", "lr_warmup") => self.lr_warmup = real(value)?,
            ("train", "epoch_ppo") => self.epoch_ppo = count(value)?,
            ("train", "clip_eps") => self.clip_eps = real(value)?,
            ("train", "gae_lambda") => self.gae_lambda = real(value)?,
            ("train", "entropy_coeff") => self.entropy_coeff = real(value)?,
            ("train", "critic_coeff") => self.critic_coeff = real(value)?,
            _ => return Err(format!("unknown setting [{table}] {key}")),
        }
        Ok(())
    }

    /// Checks the values that would make training impossible.
    pub fn validate(&self) -> Result<(), String> {
        let batch = self.num_train_envs * self.n_steps;
        if self.n_minibatch > batch {
            return Err(format!(
                "[train] n_minibatch = {} exceeds num_train_envs × n_steps = {batch}",
                self.n_minibatch
            ));
        }
        if self.num_hidden_layers > 8 || self.num_hidden_units > 1024 {
            return Err("[network] at most 8 hidden layers of at most 1024 units".into());
        }
        Ok(())
    }

    /// The value of a `[train]` key from [`PpoConfig::TRAIN_KEYS`], for writing files.
    fn train_value(&self, key: &str) -> String {
        match key {
            "num_train_steps" => self.num_train_steps.to_string(),
            "num_train_envs" => self.num_train_envs.to_string(),
            "max_grad_norm" => float(self.max_grad_norm),
            "gamma" => float(self.gamma),
            "n_steps" => self.n_steps.to_string(),
            "n_minibatch" => self.n_minibatch.to_string(),
            "lr_begin" => float(self.lr_begin),
            "lr_end" => float(self.lr_end),
            "lr_warmup" => float(self.lr_warmup),
            "epoch_ppo" => self.epoch_ppo.to_string(),
            "clip_eps" => float(self.clip_eps),
            "gae_lambda" => float(self.gae_lambda),
            "entropy_coeff" => float(self.entropy_coeff),
            "critic_coeff" => float(self.critic_coeff),
            _ => String::new(),
        }
    }

    /// `config.toml` text: `env`, `[network]` and `[train]`.
    pub fn to_toml(&self, env: EnvId) -> String {
        let mut s = format!(
            "env = \"{}\"\n\n[network]\nnum_hidden_layers = {}\nnum_hidden_units = {}\n\n[train]\n",
            env.name(),
            self.num_hidden_layers,
            self.num_hidden_units
        );
        for k in Self::TRAIN_KEYS {
            s.push_str(&format!("{k} = {}\n", self.train_value(k)));
        }
        s
    }
}

/// A float as TOML (always with a decimal point or exponent).
fn float(v: f64) -> String {
    let s = format!("{v:?}");
    if s.contains('.') || s.contains('e') || s.contains("inf") || s.contains("NaN") {
        s
    } else {
        format!("{s}.0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_checks_kinds_and_names() {
        let mut c = PpoConfig::mlgym(EnvId::MetaMaze);
        c.set("train", "gamma", 0.5).unwrap();
        assert_eq!(c.gamma, 0.5);
        assert!(c
            .set("train", "n_steps", 2.5)
            .unwrap_err()
            .contains("n_steps"));
        assert!(c.set("train", "gamma", -1.0).unwrap_err().contains("gamma"));
        assert!(c
            .set("train", "colour", 1.0)
            .unwrap_err()
            .contains("colour"));
        assert!(c.set("network", "num_hidden_units", 64.0).is_ok());
    }

    #[test]
    fn toml_lists_every_setting() {
        let t =
            PpoConfig::mlgym(EnvId::MountainCarContinuous).to_toml(EnvId::MountainCarContinuous);
        assert!(t.starts_with("env = \"MountainCarContinuous-v0\""));
        assert!(
            t.contains("lr_begin = 0.0006\n") && t.contains("num_train_steps = 20000000\n"),
            "{t}"
        );
        for k in PpoConfig::TRAIN_KEYS {
            assert!(t.contains(&format!("\n{k} = ")), "{k}");
        }
    }
}
