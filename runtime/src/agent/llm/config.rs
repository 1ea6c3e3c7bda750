//! Settings of the LLM agents, layered: built-in defaults, then the config file
//! (`$MLGYM_CONFIG`, else `./mlgym.toml`, table `[llm]`), then `MLGYM_<KEY>` environment
//! variables, then command-line flags. Every effective value remembers where it came
//! from, so `mlgym config show` can say why a setting has the value it has.
//!
//! API keys are never settings: the config only names the environment variable that
//! holds the key (`api_key_env`), and the key itself is read from the environment when
//! the model is built.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::retry::RetryPolicy;

/// The type of a setting's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Free text.
    Text,
    /// A non-negative number.
    Number,
    /// A non-negative number, or `none` for "do not send this parameter".
    OptionalNumber,
    /// A whole number ≥ 0.
    Count,
    /// `true` / `false`.
    Bool,
}

/// One configurable key.
#[derive(Debug)]
pub struct KeyDef {
    /// Name in `mlgym.toml`'s `[llm]` table; the environment variable is `MLGYM_` + the
    /// name in upper case.
    pub name: &'static str,
    /// Value type.
    pub kind: Kind,
    /// The `mlgym run` flag that sets it, if any.
    pub flag: Option<&'static str>,
    /// Built-in default (`None`: unset, the provider or model decides).
    pub default: Option<&'static str>,
    /// What it does.
    pub help: &'static str,
}

const fn key(
    name: &'static str,
    kind: Kind,
    flag: Option<&'static str>,
    default: Option<&'static str>,
    help: &'static str,
) -> KeyDef {
    KeyDef {
        name,
        kind,
        flag,
        default,
        help,
    }
}

/// Every key, in the order `mlgym config show` prints them.
pub const KEYS: &[KeyDef] = &[
    key("endpoint", Kind::Text, Some("--endpoint"), None, "base URL of the API (openai: https://api.openai.com/v1, anthropic: https://api.anthropic.com/v1 when unset)"),
    key("api_key_env", Kind::Text, None, None, "name of the environment variable holding the API key (OPENAI_API_KEY / ANTHROPIC_API_KEY when unset)"),
    key("temperature", Kind::OptionalNumber, Some("--temperature"), Some("0"), "sampling temperature (`none`: not sent)"),
    key("top_p", Kind::OptionalNumber, Some("--top-p"), Some("0.95"), "nucleus sampling (`none`: not sent; anthropic sends it only when set explicitly)"),
    key("max_output_tokens", Kind::Count, Some("--max-output-tokens"), Some("4096"), "most tokens per response"),
    key("cost_limit", Kind::Number, Some("--cost-limit"), Some("3"), "per-episode cost limit in USD (0: none); the query after the one that reaches it ends the episode with exit_cost"),
    key("total_cost_limit", Kind::Number, Some("--total-cost-limit"), Some("0"), "cost limit in USD over every episode of this process (0: none)"),
    key("tool_calls", Kind::Bool, Some("--tool-calls"), Some("false"), "declare the commands as native tools (function calling) besides the fenced-block format"),
    key("context_window", Kind::Count, None, None, "context window in tokens (default: the model table, else 128000)"),
    key("prices", Kind::Text, None, None, "TOML file of model prices and context windows that extends the built-in table"),
    key("history_last_n", Kind::Count, None, Some("5"), "observations sent in full; older ones become `Old output omitted (N lines)` (0: keep all)"),
    key("timeout_secs", Kind::Number, None, Some("300"), "timeout of one HTTP request in seconds"),
    key("max_attempts", Kind::Count, None, Some("6"), "HTTP attempts per query, retries included"),
    key("backoff_initial_secs", Kind::Number, None, Some("1"), "first retry waits between half of this and this"),
    key("backoff_max_secs", Kind::Number, None, Some("60"), "longest wait between retries"),
    key("retry_after_max_secs", Kind::Number, None, Some("120"), "longest wait honoured from a Retry-After header"),
    key("bad_response_attempts", Kind::Count, None, Some("3"), "attempts when the server answers 200 with unusable JSON or no choices"),
    key("anthropic_version", Kind::Text, None, Some("2023-06-01"), "the anthropic-version header"),
];

/// Where an effective value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Built in.
    Default,
    /// The config file.
    File(PathBuf),
    /// An environment variable.
    Env(String),
    /// A command-line flag.
    Cli(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => write!(f, "default"),
            Source::File(p) => write!(f, "file {}", p.display()),
            Source::Env(v) => write!(f, "env {v}"),
            Source::Cli(flag) => write!(f, "flag {flag}"),
        }
    }
}

/// A typed value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Unset.
    Unset,
    /// Text.
    Text(String),
    /// A number.
    Number(f64),
    /// A count.
    Count(u64),
    /// A flag.
    Bool(bool),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Unset => write!(f, "(unset)"),
            Value::Text(s) => write!(f, "{s}"),
            Value::Number(x) => write!(f, "{x}"),
            Value::Count(n) => write!(f, "{n}"),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// A setting that cannot be used, naming where it came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read the config file {path}: {source} (set MLGYM_CONFIG to an existing file, or unset it)")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The config file is not valid TOML.
    #[error("the config file {path} is not valid TOML: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// An unknown key in `[llm]`.
    #[error("unknown setting `{key}` in [llm] of {path}; known settings: {known}")]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// The known keys.
        known: String,
    },
    /// A value of the wrong type or range.
    #[error("setting `{key}` from {origin}: `{value}` is not {expected}")]
    BadValue {
        /// The key.
        key: &'static str,
        /// Where it came from.
        origin: Source,
        /// The value as given.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
}

/// One effective setting.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The key.
    pub key: &'static KeyDef,
    /// Its value.
    pub value: Value,
    /// Where the value came from.
    pub source: Source,
}

/// The inputs of [`resolve`]: everything but the defaults.
pub struct Layers<'a> {
    /// The config file's path and text, if there is one.
    pub file: Option<(PathBuf, String)>,
    /// Environment lookup.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Command-line values: (key name, value text); the flag is the key's [`KeyDef::flag`].
    pub cli: Vec<(&'static str, String)>,
}

/// The effective settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// One entry per key of [`KEYS`], in that order.
    pub entries: Vec<Entry>,
    /// The config file that was read, if any.
    pub file: Option<PathBuf>,
}

/// The environment variable of a key.
pub fn env_var(key: &str) -> String {
    format!("MLGYM_{}", key.to_ascii_uppercase())
}

fn expected(kind: Kind) -> &'static str {
    match kind {
        Kind::Text => "text",
        Kind::Number => "a number ≥ 0",
        Kind::OptionalNumber => "a number ≥ 0 or `none`",
        Kind::Count => "a whole number ≥ 0",
        Kind::Bool => "true or false",
    }
}

fn parse_text(def: &'static KeyDef, text: &str, source: &Source) -> Result<Value, ConfigError> {
    let bad = || ConfigError::BadValue {
        key: def.name,
        origin: source.clone(),
        value: text.to_string(),
        expected: expected(def.kind),
    };
    let t = text.trim();
    Ok(match def.kind {
        Kind::Text => Value::Text(text.to_string()),
        Kind::OptionalNumber if t.eq_ignore_ascii_case("none") => Value::Unset,
        Kind::Number | Kind::OptionalNumber => match t.parse::<f64>() {
            Ok(x) if x.is_finite() && x >= 0.0 => Value::Number(x),
            _ => return Err(bad()),
        },
        Kind::Count => Value::Count(t.parse::<u64>().map_err(|_| bad())?),
        Kind::Bool => match t.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Value::Bool(true),
            "false" | "0" | "no" | "off" => Value::Bool(false),
            _ => return Err(bad()),
        },
    })
}

fn parse_toml(
    def: &'static KeyDef,
    v: &toml::Value,
    source: &Source,
) -> Result<Value, ConfigError> {
    match v {
        toml::Value::String(s) => parse_text(def, s, source),
        toml::Value::Integer(i) => parse_text(def, &i.to_string(), source),
        toml::Value::Float(x) => parse_text(def, &x.to_string(), source),
        toml::Value::Boolean(b) => parse_text(def, &b.to_string(), source),
        other => parse_text(def, &other.to_string(), source).map_err(|_| ConfigError::BadValue {
            key: def.name,
            origin: source.clone(),
            value: other.to_string(),
            expected: expected(def.kind),
        }),
    }
}

/// Resolves every key: default, then file, then environment, then command line.
pub fn resolve(layers: &Layers<'_>) -> Result<Settings, ConfigError> {
    let table = match &layers.file {
        None => None,
        Some((path, text)) => {
            let doc: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Parse {
                path: path.clone(),
                message: e.to_string(),
            })?;
            match doc.get("llm") {
                None => None,
                Some(toml::Value::Table(t)) => {
                    for k in t.keys() {
                        if !KEYS.iter().any(|d| d.name == k) {
                            let known = KEYS.iter().map(|d| d.name).collect::<Vec<_>>().join(", ");
                            return Err(ConfigError::UnknownKey {
                                path: path.clone(),
                                key: k.clone(),
                                known,
                            });
                        }
                    }
                    Some((path.clone(), t.clone()))
                }
                Some(_) => {
                    return Err(ConfigError::Parse {
                        path: path.clone(),
                        message: "`llm` must be a table ([llm])".into(),
                    })
                }
            }
        }
    };
    let mut entries = Vec::with_capacity(KEYS.len());
    for def in KEYS {
        let mut entry = Entry {
            key: def,
            value: match def.default {
                Some(d) => parse_text(def, d, &Source::Default)?,
                None => Value::Unset,
            },
            source: Source::Default,
        };
        if let Some((path, t)) = &table {
            if let Some(v) = t.get(def.name) {
                let source = Source::File(path.clone());
                entry.value = parse_toml(def, v, &source)?;
                entry.source = source;
            }
        }
        let var = env_var(def.name);
        if let Some(text) = (layers.env)(&var) {
            let source = Source::Env(var);
            entry.value = parse_text(def, &text, &source)?;
            entry.source = source;
        }
        for (name, text) in &layers.cli {
            if *name == def.name {
                let source = Source::Cli(def.flag.unwrap_or(def.name).to_string());
                entry.value = parse_text(def, text, &source)?;
                entry.source = source;
            }
        }
        entries.push(entry);
    }
    Ok(Settings {
        entries,
        file: layers.file.as_ref().map(|(p, _)| p.clone()),
    })
}

/// The config file to read: `$MLGYM_CONFIG` (which must exist), else `./mlgym.toml` when
/// present.
pub fn config_file(
    env: &dyn Fn(&str) -> Option<String>,
    cwd: &Path,
) -> Result<Option<(PathBuf, String)>, ConfigError> {
    let (path, required) = match env("MLGYM_CONFIG").filter(|p| !p.is_empty()) {
        Some(p) => (PathBuf::from(p), true),
        None => (cwd.join("mlgym.toml"), false),
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some((path, text))),
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ConfigError::Read { path, source }),
    }
}

/// Resolves the settings of this process: its config file, its environment, and `cli`.
pub fn load(cli: Vec<(&'static str, String)>) -> Result<Settings, ConfigError> {
    let env = |k: &str| std::env::var(k).ok();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let file = config_file(&env, &cwd)?;
    resolve(&Layers {
        file,
        env: &env,
        cli,
    })
}

impl Settings {
    /// The entry of `name`.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key.name == name)
    }

    fn value(&self, name: &str) -> &Value {
        self.get(name).map(|e| &e.value).unwrap_or(&Value::Unset)
    }

    fn text(&self, name: &str) -> Option<String> {
        match self.value(name) {
            Value::Text(s) if !s.is_empty() => Some(s.clone()),
            _ => None,
        }
    }

    fn number(&self, name: &str) -> Option<f64> {
        match self.value(name) {
            Value::Number(x) => Some(*x),
            Value::Count(n) => Some(*n as f64),
            _ => None,
        }
    }

    fn count(&self, name: &str) -> Option<u64> {
        match self.value(name) {
            Value::Count(n) => Some(*n),
            _ => None,
        }
    }

    /// Whether `name` was set anywhere but the defaults.
    pub fn is_explicit(&self, name: &str) -> bool {
        self.get(name).is_some_and(|e| e.source != Source::Default)
    }

    /// The typed configuration.
    pub fn llm(&self) -> LlmConfig {
        // Durations are capped at a day: a larger value is surely a mistake.
        let secs = |name: &str, fallback: f64| {
            super::retry::secs(self.number(name).unwrap_or(fallback))
                .min(Duration::from_secs(86_400))
        };
        LlmConfig {
            endpoint: self
                .text("endpoint")
                .map(|e| e.trim_end_matches('/').to_string()),
            api_key_env: self.text("api_key_env"),
            temperature: self.number("temperature"),
            top_p: self.number("top_p"),
            top_p_explicit: self.is_explicit("top_p"),
            max_output_tokens: self.count("max_output_tokens").unwrap_or(4096),
            cost_limit: self.number("cost_limit").unwrap_or(0.0),
            total_cost_limit: self.number("total_cost_limit").unwrap_or(0.0),
            tool_calls: matches!(self.value("tool_calls"), Value::Bool(true)),
            context_window: self.count("context_window").filter(|n| *n > 0),
            prices: self.text("prices").map(PathBuf::from),
            history_last_n: self.count("history_last_n").unwrap_or(5) as usize,
            timeout: secs("timeout_secs", 300.0).max(Duration::from_millis(1)),
            retry: RetryPolicy {
                max_attempts: self.count("max_attempts").unwrap_or(6).clamp(1, 100) as u32,
                bad_response_attempts: self
                    .count("bad_response_attempts")
                    .unwrap_or(3)
                    .clamp(1, 100) as u32,
                initial: secs("backoff_initial_secs", 1.0),
                max: secs("backoff_max_secs", 60.0),
                retry_after_max: secs("retry_after_max_secs", 120.0),
            },
            anthropic_version: self
                .text("anthropic_version")
                .unwrap_or_else(|| "2023-06-01".into()),
        }
    }
}

/// The typed settings an LLM model uses.
#[derive(Clone, Debug)]
pub struct LlmConfig {
    /// API base URL (no trailing slash); `None`: the provider's.
    pub endpoint: Option<String>,
    /// Environment variable holding the key; `None`: the provider's.
    pub api_key_env: Option<String>,
    /// Sampling temperature (`None`: not sent).
    pub temperature: Option<f64>,
    /// Nucleus sampling (`None`: not sent).
    pub top_p: Option<f64>,
    /// Whether `top_p` was set by the user (Anthropic gets it only then).
    pub top_p_explicit: bool,
    /// Most tokens per response.
    pub max_output_tokens: u64,
    /// Per-episode cost limit in USD (0: none).
    pub cost_limit: f64,
    /// Cost limit of the process in USD (0: none).
    pub total_cost_limit: f64,
    /// Declare native tools.
    pub tool_calls: bool,
    /// Context window override.
    pub context_window: Option<u64>,
    /// Extra price table.
    pub prices: Option<PathBuf>,
    /// Observations kept in full (0: all).
    pub history_last_n: usize,
    /// Timeout of one HTTP request.
    pub timeout: Duration,
    /// Retries.
    pub retry: RetryPolicy,
    /// `anthropic-version` header.
    pub anthropic_version: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers<'a>(
        file: Option<&str>,
        env: &'a dyn Fn(&str) -> Option<String>,
        cli: Vec<(&'static str, String)>,
    ) -> Layers<'a> {
        Layers {
            file: file.map(|t| (PathBuf::from("/cfg/mlgym.toml"), t.to_string())),
            env,
            cli,
        }
    }

    #[test]
    fn later_layers_win_and_sources_are_reported() {
        let env = |k: &str| {
            (k == "MLGYM_TEMPERATURE" || k == "MLGYM_COST_LIMIT").then(|| "0.5".to_string())
        };
        let s = resolve(&layers(
            Some("[llm]\ntemperature = 0.2\ntop_p = 0.9\ncost_limit = 1\n"),
            &env,
            vec![("cost_limit", "7".into())],
        ))
        .unwrap();
        assert_eq!(
            s.get("top_p").unwrap().source,
            Source::File(PathBuf::from("/cfg/mlgym.toml"))
        );
        assert_eq!(
            s.get("temperature").unwrap().source,
            Source::Env("MLGYM_TEMPERATURE".into())
        );
        assert_eq!(
            s.get("cost_limit").unwrap().source,
            Source::Cli("--cost-limit".into())
        );
        assert_eq!(s.get("max_attempts").unwrap().source, Source::Default);
        let c = s.llm();
        assert_eq!(
            (c.temperature, c.top_p, c.cost_limit),
            (Some(0.5), Some(0.9), 7.0)
        );
        assert!(c.top_p_explicit);
    }

    #[test]
    fn bad_values_name_the_setting_and_source() {
        let env = |k: &str| (k == "MLGYM_MAX_ATTEMPTS").then(|| "many".to_string());
        let e = resolve(&layers(None, &env, vec![]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("max_attempts") && e.contains("env MLGYM_MAX_ATTEMPTS"),
            "{e}"
        );
        let none = |_: &str| None;
        let e = resolve(&layers(Some("[llm]\ntemprature = 1\n"), &none, vec![]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("temprature") && e.contains("/cfg/mlgym.toml"),
            "{e}"
        );
        let s = resolve(&layers(
            Some("[llm]\ntemperature = \"none\"\ntool_calls = true\n"),
            &none,
            vec![],
        ))
        .unwrap();
        assert_eq!(s.llm().temperature, None);
        assert!(s.llm().tool_calls);
    }
}
