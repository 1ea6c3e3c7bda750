//! The submission's `config.toml`: which network the checkpoints hold.
//!
//! ```toml
//! env = "MountainCarContinuous-v0"   # optional; must name the task's environment
//!
//! [network]
//! num_hidden_layers = 4              # 1 to 8
//! num_hidden_units = 256             # 1 to 1024
//!
//! [train]                            # the trainer's settings; not read by the evaluator
//! ```
//!
//! Only `env` and `[network]` are read; other keys and tables (the training
//! hyperparameters of the starter's `config.toml`) are ignored, so the file that trained
//! the policy is the file that is submitted, as in MLGym.

use std::path::Path;

use serde::Deserialize;

use super::net::{NetSpec, MAX_HIDDEN_LAYERS, MAX_HIDDEN_UNITS};
use super::{head_for, PolicyError};
use crate::rl::env::EnvId;

/// The file name inside the submission.
pub const CONFIG_FILE: &str = "config.toml";

/// The `[network]` table.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// Hidden layers of each MLP.
    pub num_hidden_layers: usize,
    /// Units per hidden layer.
    pub num_hidden_units: usize,
}

/// What the evaluator reads from `config.toml`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyConfig {
    /// The `[network]` table.
    pub network: NetworkConfig,
}

impl PolicyConfig {
    /// The network shape for `env`.
    pub fn spec(&self, env: EnvId) -> NetSpec {
        NetSpec {
            obs_dim: env.obs_dim(),
            hidden_layers: self.network.num_hidden_layers,
            hidden_units: self.network.num_hidden_units,
            head: head_for(env),
        }
    }

    /// A one-line summary for error messages.
    pub fn describe(&self) -> String {
        format!(
            "config.toml says num_hidden_layers = {}, num_hidden_units = {}",
            self.network.num_hidden_layers, self.network.num_hidden_units
        )
    }
}

/// Reads and checks `config.toml` at `path` for environment `env`.
pub fn read_config(path: &Path, env: EnvId) -> Result<PolicyConfig, PolicyError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(PolicyError::NotFound(format!(
                "{CONFIG_FILE} is missing: submit the config.toml that names the network \
                 ([network] num_hidden_layers, num_hidden_units) next to checkpoints/"
            )))
        }
        Err(e) => {
            return Err(PolicyError::invalid(
                CONFIG_FILE,
                format!("cannot be read: {e}"),
            ))
        }
    };
    parse_config(&text, env)
}

/// Parses the text of `config.toml` for environment `env`.
pub fn parse_config(text: &str, env: EnvId) -> Result<PolicyConfig, PolicyError> {
    let bad = |m: String| PolicyError::invalid(CONFIG_FILE, m);
    let value: toml::Table =
        toml::from_str(text).map_err(|e| bad(format!("not valid TOML: {}", e.message().trim())))?;
    if let Some(v) = value.get("env") {
        let name = v
            .as_str()
            .ok_or_else(|| bad(format!("`env` must be a string such as \"{}\"", env.name())))?;
        if name != env.name() {
            return Err(bad(format!(
                "`env = \"{name}\"` but this task's environment is \"{}\"",
                env.name()
            )));
        }
    }
    let net = value.get("network").ok_or_else(|| {
        bad(
            "no [network] table: add `[network]` with num_hidden_layers and num_hidden_units"
                .into(),
        )
    })?;
    let network: NetworkConfig = net
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| bad(format!("[network]: {}", e.message().trim())))?;
    if !(1..=MAX_HIDDEN_LAYERS).contains(&network.num_hidden_layers) {
        return Err(bad(format!(
            "[network] num_hidden_layers = {}: must be 1 to {MAX_HIDDEN_LAYERS}",
            network.num_hidden_layers
        )));
    }
    if !(1..=MAX_HIDDEN_UNITS).contains(&network.num_hidden_units) {
        return Err(bad(format!(
            "[network] num_hidden_units = {}: must be 1 to {MAX_HIDDEN_UNITS}",
            network.num_hidden_units
        )));
    }
    Ok(PolicyConfig { network })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_network_and_ignores_training_settings() {
        let text = "env = \"Breakout-MinAtar\"\n[network]\nnum_hidden_layers = 2\nnum_hidden_units = 256\n[train]\ngamma = 0.999\n";
        let c = parse_config(text, EnvId::Breakout).unwrap();
        let s = c.spec(EnvId::Breakout);
        assert_eq!((s.obs_dim, s.hidden_layers, s.hidden_units), (400, 2, 256));
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            ("[network]\nnum_hidden_layers = 2\n", "num_hidden_units"),
            (
                "[network]\nnum_hidden_layers = 0\nnum_hidden_units = 8\n",
                "num_hidden_layers = 0",
            ),
            (
                "[network]\nnum_hidden_layers = 2\nnum_hidden_units = 4096\n",
                "num_hidden_units = 4096",
            ),
            (
                "[network]\nnum_hidden_layers = 2\nnum_hidden_units = 8\nactivation = \"tanh\"\n",
                "activation",
            ),
            (
                "env = \"MetaMaze-misc\"\n[network]\nnum_hidden_layers = 2\nnum_hidden_units = 8\n",
                "MetaMaze-misc",
            ),
            ("[train]\nx = 1\n", "[network]"),
            ("[network\n", "TOML"),
        ];
        for (text, needle) in cases {
            let e = parse_config(text, EnvId::MountainCarContinuous)
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("config.toml: ") && e.contains(needle),
                "{text:?}: {e}"
            );
        }
    }
}
