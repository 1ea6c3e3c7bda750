//! The model table: prices (USD per million tokens) and context windows. The defaults are
//! `runtime/assets/prices.toml`, built in; the `prices` setting names a TOML file of the
//! same shape whose entries replace or extend them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The built-in table.
pub const DEFAULT_PRICES: &str = include_str!("../../../assets/prices.toml");

/// One model's entry.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// USD per million prompt tokens.
    #[serde(default)]
    pub input: Option<f64>,
    /// USD per million completion tokens.
    #[serde(default)]
    pub output: Option<f64>,
    /// Context window in tokens.
    #[serde(default)]
    pub context_window: Option<u64>,
}

impl ModelEntry {
    /// The cost of one call.
    pub fn cost(&self, tokens_in: u64, tokens_out: u64) -> f64 {
        (tokens_in as f64 * self.input.unwrap_or(0.0)
            + tokens_out as f64 * self.output.unwrap_or(0.0))
            / 1e6
    }

    /// Whether the entry says what the model costs.
    pub fn priced(&self) -> bool {
        self.input.is_some() || self.output.is_some()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceFile {
    #[serde(default)]
    models: BTreeMap<String, ModelEntry>,
}

/// A price file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CostError {
    /// Unreadable.
    #[error("cannot read the price table {path} (setting `prices`): {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not a price table.
    #[error("the price table {path} (setting `prices`) is not valid: {message}; expected [models.\"NAME\"] tables with input, output (USD per 1M tokens) and context_window")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Model name → entry.
#[derive(Clone, Debug, Default)]
pub struct PriceTable {
    models: BTreeMap<String, ModelEntry>,
}

fn parse(text: &str, path: &Path) -> Result<PriceTable, CostError> {
    let f: PriceFile = toml::from_str(text).map_err(|e| CostError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    for (name, e) in &f.models {
        let bad = [e.input, e.output]
            .into_iter()
            .flatten()
            .any(|x| !x.is_finite() || x < 0.0);
        if bad {
            return Err(CostError::Parse {
                path: path.to_path_buf(),
                message: format!("model `{name}` has a negative or non-finite price"),
            });
        }
    }
    Ok(PriceTable { models: f.models })
}

impl PriceTable {
    /// The built-in table, extended by the file at `extra` when given.
    pub fn load(extra: Option<&Path>) -> Result<PriceTable, CostError> {
        let mut table = parse(
            DEFAULT_PRICES,
            Path::new("runtime/assets/prices.toml (built in)"),
        )?;
        if let Some(path) = extra {
            let text = std::fs::read_to_string(path).map_err(|source| CostError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            table.models.extend(parse(&text, path)?.models);
        }
        Ok(table)
    }

    /// The entry for `model`: the exact name, else the longest entry that is a prefix of
    /// the name followed by `-`, `:` or `@`; a leading `provider/` is ignored.
    pub fn lookup(&self, model: &str) -> Option<(&str, &ModelEntry)> {
        let candidates = [Some(model), model.rsplit_once('/').map(|(_, m)| m)];
        for name in candidates.into_iter().flatten() {
            if let Some((k, e)) = self.models.get_key_value(name) {
                return Some((k.as_str(), e));
            }
            let best = self
                .models
                .iter()
                .filter(|(k, _)| {
                    name.len() > k.len()
                        && name.starts_with(k.as_str())
                        && matches!(name.as_bytes()[k.len()], b'-' | b':' | b'@')
                })
                .max_by_key(|(k, _)| k.len());
            if let Some((k, e)) = best {
                return Some((k.as_str(), e));
            }
        }
        None
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.models.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_table_parses_and_looks_up_by_prefix() {
        let t = PriceTable::load(None).unwrap();
        assert!(t.len() >= 10);
        assert_eq!(t.lookup("gpt-4o").unwrap().0, "gpt-4o");
        assert_eq!(t.lookup("gpt-4o-2024-08-06").unwrap().0, "gpt-4o");
        assert_eq!(t.lookup("gpt-4o-mini-2024-07-18").unwrap().0, "gpt-4o-mini");
        assert_eq!(t.lookup("openai/gpt-4o").unwrap().0, "gpt-4o");
        assert_eq!(
            t.lookup("claude-sonnet-4-20250514").unwrap().0,
            "claude-sonnet-4"
        );
        assert!(t.lookup("gpt-4oo").is_none());
        assert!(t.lookup("llama3").is_none());
        let e = t.lookup("gpt-4o").unwrap().1;
        assert!((e.cost(1_000_000, 100_000) - 3.5).abs() < 1e-9);
    }

    #[test]
    fn a_user_file_extends_and_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.toml");
        std::fs::write(&p, "[models.\"gpt-4o\"]\ninput = 1\noutput = 2\n[models.\"local\"]\ncontext_window = 8192\n").unwrap();
        let t = PriceTable::load(Some(&p)).unwrap();
        assert_eq!(t.lookup("gpt-4o").unwrap().1.input, Some(1.0));
        assert_eq!(t.lookup("local").unwrap().1.context_window, Some(8192));
        assert!(!t.lookup("local").unwrap().1.priced());
        std::fs::write(&p, "[models.x]\nprice = 1\n").unwrap();
        let e = PriceTable::load(Some(&p)).unwrap_err().to_string();
        assert!(e.contains("prices") && e.contains("p.toml"), "{e}");
    }
}
