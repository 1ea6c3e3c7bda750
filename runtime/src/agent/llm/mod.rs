//! LLM agents: `openai:MODEL` (any OpenAI-compatible Chat Completions endpoint) and
//! `anthropic:MODEL` (the Messages API), as MLGym's default agent uses them.
//!
//! Before each query the conversation goes through the `Last5Observations` history
//! processor ([`history`]), the cost limits and the context window are checked, and the
//! request is sent with bounded retries ([`retry`]). Failures map to MLGym's exit labels
//! through [`ModelError`]: context-length errors → `exit_context`, cost limits →
//! `exit_cost`, an API that keeps failing or refuses the request → `exit_api`; the
//! runner then autosubmits. Tokens, calls and cost ([`cost`]) are MLGym's
//! `model_stats`. Settings are layered ([`config`]); the API key is read from the
//! environment, sent only in the request header, and redacted from every error message.

pub mod anthropic;
pub mod backend;
pub mod config;
pub mod context;
pub mod cost;
pub mod history;
pub mod http;
pub mod openai;
pub mod retry;
pub mod tools;

use backend::{classify, Backend, ChatRequest, Completion};
use config::{ConfigError, LlmConfig, Settings};
use context::{TokenEstimator, DEFAULT_CONTEXT_WINDOW};
use cost::{CostError, ModelEntry, PriceTable};
use http::{Transport, UreqTransport};
use retry::{Jitter, Outcome, RetryClass, Sleeper, ThreadSleeper};

use super::{EpisodeInfo, HistoryItem, Model, ModelError, ModelStats};

/// Why an LLM model could not be built.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// A setting is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The price table is unusable.
    #[error(transparent)]
    Prices(#[from] CostError),
    /// No API key for the provider's own endpoint.
    #[error("agent `{spec}` needs an API key: set the environment variable {var} (or name another variable with the `api_key_env` setting; a local server given with --endpoint needs none)")]
    MissingKey {
        /// The agent spec.
        spec: String,
        /// The variable looked at.
        var: String,
    },
    /// Not `openai:MODEL` / `anthropic:MODEL`.
    #[error("agent `{0}` is not an LLM agent; use openai:MODEL or anthropic:MODEL")]
    BadSpec(String),
}

/// The API dialects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    /// Chat Completions.
    OpenAi,
    /// Messages.
    Anthropic,
}

impl Provider {
    /// `openai` / `anthropic`.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Anthropic => "anthropic",
        }
    }

    /// The provider's own endpoint.
    pub fn default_endpoint(self) -> &'static str {
        match self {
            Provider::OpenAi => openai::OPENAI_ENDPOINT,
            Provider::Anthropic => anthropic::ANTHROPIC_ENDPOINT,
        }
    }

    /// The provider's usual key variable.
    pub fn default_key_env(self) -> &'static str {
        match self {
            Provider::OpenAi => "OPENAI_API_KEY",
            Provider::Anthropic => "ANTHROPIC_API_KEY",
        }
    }
}

/// Splits `openai:MODEL` / `anthropic:MODEL`.
pub fn parse_spec(spec: &str) -> Option<(Provider, &str)> {
    let (p, model) = spec.split_once(':')?;
    let provider = match p {
        "openai" => Provider::OpenAi,
        "anthropic" => Provider::Anthropic,
        _ => return None,
    };
    (!model.trim().is_empty()).then_some((provider, model))
}

/// A chat model behind an HTTP API.
pub struct LlmModel {
    spec: String,
    model: String,
    backend: Box<dyn Backend>,
    transport: Box<dyn Transport>,
    sleeper: Box<dyn Sleeper>,
    jitter: Jitter,
    log: Box<dyn FnMut(&str) + Send>,
    cfg: LlmConfig,
    price: Option<ModelEntry>,
    context_window: u64,
    estimator: TokenEstimator,
    stats: ModelStats,
    key_env: String,
    secret: Option<String>,
    warned_price: bool,
    episodes: u32,
}

impl std::fmt::Debug for LlmModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmModel")
            .field("spec", &self.spec)
            .field("endpoint", &self.backend.endpoint())
            .field("stats", &self.stats)
            .finish()
    }
}

/// Replaces `secret` in `text`.
fn redact(text: &str, secret: Option<&str>) -> String {
    match secret {
        Some(s) if s.len() >= 4 => text.replace(s, "[redacted]"),
        _ => text.to_string(),
    }
}

impl LlmModel {
    /// Builds `spec` (`openai:MODEL` / `anthropic:MODEL`) from the settings; the key is
    /// looked up with `env`.
    pub fn new(
        spec: &str,
        settings: &Settings,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<LlmModel, LlmError> {
        let (provider, model) =
            parse_spec(spec).ok_or_else(|| LlmError::BadSpec(spec.to_string()))?;
        let cfg = settings.llm();
        let endpoint = cfg
            .endpoint
            .clone()
            .unwrap_or_else(|| provider.default_endpoint().to_string());
        let key_env = cfg
            .api_key_env
            .clone()
            .unwrap_or_else(|| provider.default_key_env().to_string());
        let secret = env(&key_env)
            .filter(|k| !k.trim().is_empty())
            .map(|k| k.trim().to_string());
        if secret.is_none()
            && (endpoint == provider.default_endpoint() || cfg.api_key_env.is_some())
        {
            return Err(LlmError::MissingKey {
                spec: spec.to_string(),
                var: key_env,
            });
        }
        let backend: Box<dyn Backend> = match provider {
            Provider::OpenAi => Box::new(openai::OpenAi::new(endpoint.clone(), secret.clone())),
            Provider::Anthropic => Box::new(anthropic::Anthropic::new(
                endpoint.clone(),
                secret.clone(),
                cfg.anthropic_version.clone(),
            )),
        };
        let table = PriceTable::load(cfg.prices.as_deref())?;
        let price = table.lookup(model).map(|(_, e)| e.clone());
        let context_window = cfg
            .context_window
            .or(price.as_ref().and_then(|p| p.context_window))
            .unwrap_or(DEFAULT_CONTEXT_WINDOW);
        Ok(LlmModel {
            spec: spec.to_string(),
            model: model.to_string(),
            backend,
            transport: Box::new(UreqTransport::new(cfg.timeout, &endpoint)),
            sleeper: Box::new(ThreadSleeper),
            jitter: Jitter::from_entropy(),
            log: Box::new(|line: &str| eprintln!("mlgym: {line}")),
            cfg,
            price,
            context_window,
            estimator: TokenEstimator::default(),
            stats: ModelStats::default(),
            key_env,
            secret,
            warned_price: false,
            episodes: 0,
        })
    }

    /// Replaces the sleeper (tests record waits instead of waiting).
    pub fn with_sleeper(mut self, sleeper: Box<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }

    /// Replaces the jitter source.
    pub fn with_jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// Replaces the transport.
    pub fn with_transport(mut self, transport: Box<dyn Transport>) -> Self {
        self.transport = transport;
        self
    }

    /// Replaces where log lines (retries, warnings) go; the default is stderr.
    pub fn with_log(mut self, log: Box<dyn FnMut(&str) + Send>) -> Self {
        self.log = log;
        self
    }

    /// The context window used for the pre-send check.
    pub fn context_window(&self) -> u64 {
        self.context_window
    }

    fn check_cost(&self) -> Result<(), ModelError> {
        let s = &self.stats;
        let c = &self.cfg;
        if c.total_cost_limit > 0.0 && s.total_cost >= c.total_cost_limit {
            return Err(ModelError::CostLimit(format!(
                "total cost ${:.4} reached total_cost_limit ${:.4} (raise it with --total-cost-limit, 0 for none)",
                s.total_cost, c.total_cost_limit
            )));
        }
        if c.cost_limit > 0.0 && s.task_cost >= c.cost_limit {
            return Err(ModelError::CostLimit(format!(
                "episode cost ${:.4} reached cost_limit ${:.4} (raise it with --cost-limit, 0 for none)",
                s.task_cost, c.cost_limit
            )));
        }
        Ok(())
    }

    fn account(&mut self, c: &Completion, chars: usize, messages: usize, estimate: u64) {
        let (tin, tout) = match c.usage {
            Some(u) => {
                self.estimator.calibrate(chars, messages, u.input);
                (u.input, u.output)
            }
            // The server reported nothing: count our estimate so limits still work.
            None => (estimate, (c.text.chars().count() as u64).div_ceil(4)),
        };
        let cost = match &self.price {
            Some(p) if p.priced() => p.cost(tin, tout),
            _ => {
                if !self.warned_price {
                    self.warned_price = true;
                    (self.log)(&format!(
                        "warning: no price for model `{}` in the model table; its cost counts as 0 and cost limits cannot trigger (add it to a file named by the `prices` setting)",
                        self.model
                    ));
                }
                0.0
            }
        };
        self.stats.api_calls += 1;
        self.stats.tokens_sent += tin;
        self.stats.tokens_received += tout;
        self.stats.task_cost += cost;
        self.stats.total_cost += cost;
    }
}

impl Model for LlmModel {
    fn name(&self) -> String {
        self.spec.clone()
    }

    fn query(&mut self, history: &[HistoryItem]) -> Result<String, ModelError> {
        self.check_cost()?;
        let messages = history::last_n_observations(history, self.cfg.history_last_n);
        let tools_chars = if self.cfg.tool_calls {
            tools::openai_tools().to_string().len() + tools::TOOL_NOTE.len()
        } else {
            0
        };
        let chars: usize = messages
            .iter()
            .map(|m| m.content.chars().count())
            .sum::<usize>()
            + tools_chars;
        let estimate = self.estimator.estimate(chars, messages.len());
        if estimate > self.context_window {
            return Err(ModelError::ContextWindow(format!(
                "the conversation is about {estimate} tokens, more than the {} tokens of {}'s context window (setting `context_window`, or the model table)",
                self.context_window, self.spec
            )));
        }
        let req = self.backend.build(&ChatRequest {
            model: &self.model,
            messages: &messages,
            tools: self.cfg.tool_calls,
            cfg: &self.cfg,
        });
        let secret = self.secret.clone();
        let backend = &*self.backend;
        let transport = &mut self.transport;
        let key_env = self.key_env.as_str();
        let log = &mut self.log;
        let mut log_line = |line: &str| log(&redact(line, secret.as_deref()));
        let result = retry::run(
            &self.cfg.retry,
            self.sleeper.as_mut(),
            &mut self.jitter,
            &mut log_line,
            |_| match transport.post(&req) {
                Ok(resp) => classify(backend, &resp, key_env),
                Err(e) if e.retryable() => Outcome::Retry {
                    class: RetryClass::Transient,
                    reason: format!("{} API: {e}", backend.provider()),
                    retry_after: None,
                },
                Err(e) => Outcome::Fail(ModelError::Api(format!(
                    "{} API at {}: {e}",
                    backend.provider(),
                    backend.endpoint()
                ))),
            },
        );
        let completion = result.map_err(|e| {
            let r = |m: String| redact(&m, secret.as_deref());
            match e {
                ModelError::ContextWindow(m) => ModelError::ContextWindow(r(m)),
                ModelError::CostLimit(m) => ModelError::CostLimit(r(m)),
                ModelError::Api(m) => ModelError::Api(r(m)),
                ModelError::Other(m) => ModelError::Other(r(m)),
            }
        })?;
        self.account(&completion, chars, messages.len(), estimate);
        Ok(if completion.tool_calls.is_empty() {
            completion.text
        } else {
            tools::render_response(&completion.text, &completion.tool_calls)
        })
    }

    fn stats(&self) -> ModelStats {
        self.stats.clone()
    }

    fn resume(&mut self, _responses_done: usize, stats: ModelStats) {
        self.stats = stats;
    }

    fn start(&mut self, _info: &EpisodeInfo) {
        // A new episode of a model that already ran one starts its own task cost (a
        // resumed episode keeps the totals `resume` restored).
        if self.episodes > 0 {
            self.stats.task_cost = 0.0;
        }
        self.episodes += 1;
    }
}

/// Builds an LLM model for `spec` from this process's config file, environment and the
/// given command-line values (see [`config::load`]).
pub fn from_spec(spec: &str, cli: Vec<(&'static str, String)>) -> Result<Box<dyn Model>, LlmError> {
    let settings = config::load(cli)?;
    let env = |k: &str| std::env::var(k).ok();
    Ok(Box::new(LlmModel::new(spec, &settings, &env)?))
}
