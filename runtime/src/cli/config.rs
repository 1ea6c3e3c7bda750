//! `mlgym config show`, and the LLM flags of `mlgym run` with the layering they join:
//! built-in defaults < the config file (`$MLGYM_CONFIG`, else `./mlgym.toml`, table
//! `[llm]`) < `MLGYM_<KEY>` environment variables < command-line flags.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::output::{finish, print_json};
use crate::agent::llm::config::{self as llm_config, env_var, Settings, KEYS};
use crate::agent::llm::{self, parse_spec, Provider};
use crate::agent::Model;

/// Settings of the LLM agents (`openai:MODEL`, `anthropic:MODEL`) that can be given as
/// flags. Each one overrides the config file and the `MLGYM_*` variables; see
/// `mlgym config show` for every setting and where its value comes from.
#[derive(Debug, Clone, Default, Args)]
pub struct LlmArgs {
    /// Base URL of the chat API, e.g. http://127.0.0.1:8000/v1 for a local vLLM or
    /// llama.cpp server (default: https://api.openai.com/v1 or https://api.anthropic.com/v1).
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Per-episode cost limit in USD (0: none; default 3). The call that reaches it still
    /// counts; the next query ends the episode with exit_cost (then autosubmits).
    #[arg(long, value_name = "USD")]
    pub cost_limit: Option<String>,
    /// Cost limit in USD over every episode of this process (0: none, the default).
    #[arg(long, value_name = "USD")]
    pub total_cost_limit: Option<String>,
    /// Sampling temperature (default 0; `none`: not sent).
    #[arg(long, value_name = "T")]
    pub temperature: Option<String>,
    /// Nucleus sampling (default 0.95; `none`: not sent).
    #[arg(long, value_name = "P")]
    pub top_p: Option<String>,
    /// Most tokens per response (default 4096).
    #[arg(long, value_name = "N")]
    pub max_output_tokens: Option<String>,
    /// Declare the commands as native tools (function calling); the fenced-block format
    /// keeps working. `--tool-calls=false` turns a config file's `tool_calls` off.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub tool_calls: Option<String>,
}

impl LlmArgs {
    /// The flags given, as (setting, value) pairs.
    pub fn overrides(&self) -> Vec<(&'static str, String)> {
        let pairs: [(&'static str, &Option<String>); 7] = [
            ("endpoint", &self.endpoint),
            ("cost_limit", &self.cost_limit),
            ("total_cost_limit", &self.total_cost_limit),
            ("temperature", &self.temperature),
            ("top_p", &self.top_p),
            ("max_output_tokens", &self.max_output_tokens),
            ("tool_calls", &self.tool_calls),
        ];
        pairs
            .into_iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
            .collect()
    }

    /// Whether any flag was given.
    pub fn any(&self) -> bool {
        !self.overrides().is_empty()
    }
}

/// Builds the model of an `--agent` spec; LLM specs get `llm`'s flags on top of the
/// config file and the environment.
pub fn build_model(spec: &str, llm_args: &LlmArgs) -> anyhow::Result<Box<dyn Model>> {
    if parse_spec(spec).is_some() {
        return Ok(llm::from_spec(spec, llm_args.overrides())?);
    }
    if llm_args.any() {
        eprintln!("mlgym: note: the LLM flags (--endpoint, --cost-limit, ...) only apply to openai:MODEL and anthropic:MODEL agents");
    }
    crate::agent::from_spec(spec).map_err(anyhow::Error::msg)
}

/// `mlgym config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print every LLM-agent setting, its effective value and where it comes from
    /// (default, config file, MLGYM_* variable or flag).
    ///
    /// Precedence, lowest first: built-in default, the config file ($MLGYM_CONFIG, else
    /// ./mlgym.toml, table [llm]), the environment variable MLGYM_<SETTING> (e.g.
    /// MLGYM_COST_LIMIT=1.5), the flags of `mlgym run`. The flags below show their effect
    /// here too. API keys are never settings: `api_key_env` names the variable that
    /// holds the key, and only whether it is set is shown.
    Show(ShowArgs),
}

/// Options of `mlgym config show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Resolve provider defaults (endpoint, key variable) for this agent, e.g.
    /// anthropic:claude-sonnet-4-5 (default: openai).
    #[arg(long, value_name = "SPEC")]
    pub agent: Option<String>,
    #[command(flatten)]
    pub llm: LlmArgs,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `mlgym config`.
pub fn run(cmd: ConfigCommand) -> ExitCode {
    match cmd {
        ConfigCommand::Show(args) => {
            let json = args.json;
            finish(json, || show(&args))
        }
    }
}

fn provider_default(provider: Provider, key: &str) -> Option<String> {
    match key {
        "endpoint" => Some(provider.default_endpoint().to_string()),
        "api_key_env" => Some(provider.default_key_env().to_string()),
        _ => None,
    }
}

fn show(args: &ShowArgs) -> anyhow::Result<ExitCode> {
    let provider = match &args.agent {
        None => Provider::OpenAi,
        Some(spec) => parse_spec(spec).map(|(p, _)| p).ok_or_else(|| {
            anyhow::anyhow!("--agent `{spec}` is not openai:MODEL or anthropic:MODEL")
        })?,
    };
    let settings: Settings = llm_config::load(args.llm.overrides())?;
    let mut rows = Vec::new();
    for e in &settings.entries {
        let (value, source) = match (&e.value, provider_default(provider, e.key.name)) {
            (llm_config::Value::Unset, Some(d)) => (d, format!("default ({})", provider.as_str())),
            (v, _) => (v.to_string(), e.source.to_string()),
        };
        rows.push((e.key, value, source));
    }
    let key_env = settings
        .llm()
        .api_key_env
        .unwrap_or_else(|| provider.default_key_env().to_string());
    let key_set = std::env::var(&key_env).is_ok_and(|v| !v.trim().is_empty());
    let file = settings.file.as_ref().map(|p| p.display().to_string());
    if args.json {
        let items: Vec<serde_json::Value> = rows
            .iter()
            .map(|(k, v, s)| serde_json::json!({ "key": k.name, "value": v, "source": s, "env": env_var(k.name), "flag": k.flag, "help": k.help }))
            .collect();
        print_json(
            &serde_json::json!({ "config_file": file, "provider": provider.as_str(), "settings": items, "api_key": { "env": key_env, "set": key_set } }),
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "config file: {}",
        file.as_deref()
            .unwrap_or("(none: set MLGYM_CONFIG or create ./mlgym.toml)")
    );
    println!("provider defaults: {}", provider.as_str());
    let w = KEYS.iter().map(|k| k.name.len()).max().unwrap_or(10);
    let vw = rows
        .iter()
        .map(|(_, v, _)| v.len())
        .max()
        .unwrap_or(10)
        .min(40);
    for (k, v, s) in &rows {
        println!("{:<w$}  {:<vw$}  {}", k.name, v, s);
    }
    println!(
        "API key: ${key_env} is {}",
        if key_set {
            "set (not shown)"
        } else {
            "not set"
        }
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_overrides() {
        let a = LlmArgs {
            endpoint: Some("http://x/v1".into()),
            tool_calls: Some("true".into()),
            ..Default::default()
        };
        assert_eq!(
            a.overrides(),
            vec![
                ("endpoint", "http://x/v1".to_string()),
                ("tool_calls", "true".to_string())
            ]
        );
        for (k, _) in a.overrides() {
            assert!(KEYS.iter().any(|d| d.name == k && d.flag.is_some()));
        }
    }
}
