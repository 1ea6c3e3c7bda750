//! What every API backend provides (request building, response parsing), and the
//! provider-independent classification of HTTP answers into success, retry, or a
//! [`ModelError`] with its MLGym exit label.

use std::time::Duration;

use super::config::LlmConfig;
use super::context::is_context_error;
use super::http::{HttpRequest, HttpResponse};
use super::retry::{parse_retry_after, Outcome, RetryClass};
use super::tools::ToolCall;
use crate::agent::{HistoryItem, ModelError};

/// Token counts the server reported for one call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Prompt tokens.
    pub input: u64,
    /// Completion tokens.
    pub output: u64,
}

/// A usable answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Completion {
    /// The text (may be empty when the model only called a tool).
    pub text: String,
    /// Tool calls, in order.
    pub tool_calls: Vec<ToolCall>,
    /// Token counts, when the server sent them.
    pub usage: Option<Usage>,
}

/// One request's inputs.
pub struct ChatRequest<'a> {
    /// Model name as the API knows it.
    pub model: &'a str,
    /// The processed conversation.
    pub messages: &'a [HistoryItem],
    /// Declare the tools.
    pub tools: bool,
    /// Sampling and limits.
    pub cfg: &'a LlmConfig,
}

/// An API dialect.
pub trait Backend: Send {
    /// `openai` or `anthropic`.
    fn provider(&self) -> &'static str;
    /// The base URL in use.
    fn endpoint(&self) -> &str;
    /// The HTTP request for `req`.
    fn build(&self, req: &ChatRequest<'_>) -> HttpRequest;
    /// Reads a 2xx body; `Err` says why it cannot be used (the call is retried).
    fn parse(&self, body: &str) -> Result<Completion, String>;
}

/// The error text in an API error body (`error.message`), else the body's start.
pub fn error_message(body: &str) -> String {
    let v: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let msg = v.as_ref().and_then(|v| {
        let e = v.get("error")?;
        e.get("message")
            .and_then(|m| m.as_str())
            .map(str::to_string)
            .or_else(|| e.as_str().map(str::to_string))
    });
    let text = msg.unwrap_or_else(|| body.trim().to_string());
    let mut short: String = text.chars().take(400).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    if short.is_empty() {
        "(empty body)".into()
    } else {
        short
    }
}

fn retry_after(resp: &HttpResponse) -> Option<Duration> {
    if let Some(ms) = resp
        .header("retry-after-ms")
        .and_then(|v| v.trim().parse::<f64>().ok())
    {
        if ms.is_finite() && ms >= 0.0 {
            return Some(super::retry::secs(ms / 1000.0));
        }
    }
    resp.header("retry-after").and_then(parse_retry_after)
}

/// What the user can do about a refused request.
fn hint(status: u16, key_env: &str) -> String {
    match status {
        401 | 403 => format!(" (check the API key in ${key_env}, or set `api_key_env` to the variable that holds it)"),
        404 => " (check the model name and the endpoint: OpenAI-compatible endpoints usually end in /v1)".into(),
        400 | 422 => " (the server rejected the request; check the model name and sampling settings)".into(),
        _ => String::new(),
    }
}

/// Classifies one HTTP answer of `backend`.
pub fn classify(backend: &dyn Backend, resp: &HttpResponse, key_env: &str) -> Outcome<Completion> {
    let status = resp.status;
    let who = backend.provider();
    if (200..300).contains(&status) {
        return match backend.parse(&resp.body) {
            Ok(c) => Outcome::Done(c),
            Err(why) => Outcome::Retry {
                class: RetryClass::BadResponse,
                reason: format!("{who} API: unusable response: {why}"),
                retry_after: None,
            },
        };
    }
    let msg = error_message(&resp.body);
    if is_context_error(status, &resp.body) {
        return Outcome::Fail(ModelError::ContextWindow(format!(
            "{who} API (HTTP {status}): {msg}"
        )));
    }
    match status {
        429 if resp.body.contains("insufficient_quota") => Outcome::Fail(ModelError::Api(format!(
            "{who} API (HTTP 429): {msg} (the account has no quota left; retrying cannot help)"
        ))),
        408 | 409 | 429 | 500..=599 => Outcome::Retry {
            class: RetryClass::Transient,
            reason: format!("{who} API: HTTP {status}: {msg}"),
            retry_after: retry_after(resp),
        },
        _ => Outcome::Fail(ModelError::Api(format!(
            "{who} API refused the request (HTTP {status}): {msg}{}",
            hint(status, key_env)
        ))),
    }
}

/// The content of a message as sent (APIs reject some empty messages).
pub fn content_or_placeholder(item: &HistoryItem) -> String {
    if item.content.trim().is_empty() {
        "(no output)".into()
    } else {
        item.content.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake;
    impl Backend for Fake {
        fn provider(&self) -> &'static str {
            "fake"
        }
        fn endpoint(&self) -> &str {
            "http://x"
        }
        fn build(&self, _: &ChatRequest<'_>) -> HttpRequest {
            HttpRequest {
                url: String::new(),
                headers: vec![],
                body: String::new(),
            }
        }
        fn parse(&self, body: &str) -> Result<Completion, String> {
            (body == "ok")
                .then(Completion::default)
                .ok_or_else(|| "bad".into())
        }
    }

    fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.into(),
        }
    }

    #[test]
    fn statuses_map_to_retry_or_exit_labels() {
        let c = |r: HttpResponse| classify(&Fake, &r, "KEY");
        assert!(matches!(c(resp(200, &[], "ok")), Outcome::Done(_)));
        assert!(matches!(
            c(resp(200, &[], "{")),
            Outcome::Retry {
                class: RetryClass::BadResponse,
                ..
            }
        ));
        match c(resp(429, &[("retry-after", "7")], "{}")) {
            Outcome::Retry {
                retry_after,
                class: RetryClass::Transient,
                ..
            } => assert_eq!(retry_after, Some(Duration::from_secs(7))),
            other => panic!("{other:?}"),
        }
        match c(resp(
            429,
            &[("retry-after-ms", "250"), ("retry-after", "9")],
            "{}",
        )) {
            Outcome::Retry { retry_after, .. } => {
                assert_eq!(retry_after, Some(Duration::from_millis(250)))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(c(resp(503, &[], "")), Outcome::Retry { .. }));
        assert!(matches!(
            c(resp(429, &[], r#"{"error":{"code":"insufficient_quota"}}"#)),
            Outcome::Fail(ModelError::Api(_))
        ));
        assert!(matches!(
            c(resp(
                400,
                &[],
                r#"{"error":{"code":"context_length_exceeded","message":"too long"}}"#
            )),
            Outcome::Fail(ModelError::ContextWindow(_))
        ));
        match c(resp(401, &[], r#"{"error":{"message":"bad key"}}"#)) {
            Outcome::Fail(ModelError::Api(m)) => {
                assert!(m.contains("bad key") && m.contains("$KEY"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        for s in [400, 403, 404, 422] {
            assert!(matches!(
                c(resp(s, &[], "")),
                Outcome::Fail(ModelError::Api(_))
            ));
        }
    }
}
