//! `anthropic:MODEL`: the Messages API (`POST {endpoint}/messages`), with the key in
//! `x-api-key`, the `anthropic-version` header, the system prompt as the top-level
//! `system` field and a required `max_tokens`.

use serde_json::{json, Value};

use super::backend::{content_or_placeholder, Backend, ChatRequest, Completion, Usage};
use super::http::HttpRequest;
use super::tools::{anthropic_tools, ToolCall, TOOL_NOTE};
use crate::agent::Role;

/// Anthropic's endpoint.
pub const ANTHROPIC_ENDPOINT: &str = "https://api.anthropic.com/v1";

/// The Messages dialect.
pub struct Anthropic {
    endpoint: String,
    key: Option<String>,
    version: String,
}

impl std::fmt::Debug for Anthropic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Anthropic")
            .field("endpoint", &self.endpoint)
            .field("has_key", &self.key.is_some())
            .finish()
    }
}

impl Anthropic {
    /// A backend for `endpoint`; `key` goes into `x-api-key`, `version` into
    /// `anthropic-version`.
    pub fn new(endpoint: String, key: Option<String>, version: String) -> Anthropic {
        Anthropic {
            endpoint,
            key,
            version,
        }
    }
}

/// The Messages API wants alternating user/assistant turns starting with a user turn;
/// consecutive messages of one role are joined.
fn turns(req: &ChatRequest<'_>) -> (String, Vec<Value>) {
    let mut system: Vec<String> = Vec::new();
    let mut turns: Vec<(&'static str, String)> = Vec::new();
    for m in req.messages {
        let role = match m.role {
            Role::System => {
                system.push(m.content.clone());
                continue;
            }
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        let text = content_or_placeholder(m);
        match turns.last_mut() {
            Some((r, t)) if *r == role => {
                t.push_str("\n\n");
                t.push_str(&text);
            }
            _ => turns.push((role, text)),
        }
    }
    if turns.first().is_some_and(|(r, _)| *r == "assistant") {
        turns.insert(0, ("user", "(start)".into()));
    }
    let mut system = system.join("\n\n");
    if req.tools {
        system.push_str(TOOL_NOTE);
    }
    (
        system,
        turns
            .into_iter()
            .map(|(role, content)| json!({ "role": role, "content": content }))
            .collect(),
    )
}

impl Backend for Anthropic {
    fn provider(&self) -> &'static str {
        "anthropic"
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn build(&self, req: &ChatRequest<'_>) -> HttpRequest {
        let (system, messages) = turns(req);
        let cfg = req.cfg;
        let mut body = json!({ "model": req.model, "max_tokens": cfg.max_output_tokens, "messages": messages });
        if !system.is_empty() {
            body["system"] = json!(system);
        }
        if let Some(t) = cfg.temperature {
            body["temperature"] = json!(t.min(1.0));
        }
        // Newer Claude models refuse temperature and top_p together: top_p only when asked.
        if let (Some(p), true) = (cfg.top_p, cfg.top_p_explicit) {
            body["top_p"] = json!(p);
        }
        if req.tools {
            body["tools"] = anthropic_tools();
        }
        let mut headers = vec![("anthropic-version".to_string(), self.version.clone())];
        if let Some(k) = &self.key {
            headers.push(("x-api-key".to_string(), k.clone()));
        }
        HttpRequest {
            url: format!("{}/messages", self.endpoint),
            headers,
            body: body.to_string(),
        }
    }

    fn parse(&self, body: &str) -> Result<Completion, String> {
        let v: Value =
            serde_json::from_str(body).map_err(|e| format!("the body is not JSON ({e})"))?;
        let Some(blocks) = v.get("content").and_then(|c| c.as_array()) else {
            let err = v
                .get("error")
                .map(|e| format!(" (error: {e})"))
                .unwrap_or_default();
            return Err(format!("the body has no `content` list{err}"));
        };
        let mut text = String::new();
        let mut tool_calls = Vec::new();
        for b in blocks {
            match b.get("type").and_then(|t| t.as_str()) {
                Some("text") => text.push_str(b.get("text").and_then(|t| t.as_str()).unwrap_or("")),
                Some("tool_use") => tool_calls.push(ToolCall {
                    name: b
                        .get("name")
                        .and_then(|n| n.as_str())
                        .unwrap_or("")
                        .to_string(),
                    arguments: match b.get("input") {
                        Some(o @ Value::Object(_)) => Ok(o.clone()),
                        None | Some(Value::Null) => Ok(json!({})),
                        Some(other) => Err(format!("unexpected input {other}")),
                    },
                }),
                _ => {}
            }
        }
        if blocks.is_empty() {
            return Err("the `content` list is empty".into());
        }
        let usage = v.get("usage").and_then(|u| {
            let n = |k: &str| u.get(k).and_then(|x| x.as_u64()).unwrap_or(0);
            u.get("input_tokens")?;
            Some(Usage {
                input: n("input_tokens")
                    + n("cache_creation_input_tokens")
                    + n("cache_read_input_tokens"),
                output: n("output_tokens"),
            })
        });
        Ok(Completion {
            text,
            tool_calls,
            usage,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::llm::config::{resolve, Layers};
    use crate::agent::HistoryItem;

    #[test]
    fn request_shape_and_response_parsing() {
        let none = |_: &str| None;
        let cfg = resolve(&Layers {
            file: None,
            env: &none,
            cli: vec![],
        })
        .unwrap()
        .llm();
        let b = Anthropic::new(
            "http://127.0.0.1:9/v1".into(),
            Some("k-1".into()),
            "2023-06-01".into(),
        );
        let msgs = [
            HistoryItem::new(Role::System, "sys"),
            HistoryItem::new(Role::User, "task"),
            HistoryItem::assistant("", "", "exit_api"),
            HistoryItem::new(Role::User, "obs"),
            HistoryItem::new(Role::User, "format error"),
        ];
        let r = b.build(&ChatRequest {
            model: "claude-x",
            messages: &msgs,
            tools: false,
            cfg: &cfg,
        });
        assert_eq!(r.url, "http://127.0.0.1:9/v1/messages");
        assert!(r
            .headers
            .contains(&("x-api-key".to_string(), "k-1".to_string())));
        assert!(r
            .headers
            .contains(&("anthropic-version".to_string(), "2023-06-01".to_string())));
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["system"], "sys");
        assert_eq!(body["max_tokens"], 4096);
        assert!(body.get("top_p").is_none());
        assert_eq!(body["messages"].as_array().unwrap().len(), 3);
        assert_eq!(
            body["messages"][1],
            json!({"role": "assistant", "content": "(no output)"})
        );
        assert_eq!(body["messages"][2]["content"], "obs\n\nformat error");

        let c = b
            .parse(r#"{"type":"message","content":[{"type":"text","text":"Let me look."},{"type":"tool_use","id":"t","name":"bash","input":{"command":"ls"}}],"usage":{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":2}}"#)
            .unwrap();
        assert_eq!(c.text, "Let me look.");
        assert_eq!(c.tool_calls[0].name, "bash");
        assert_eq!(
            c.usage,
            Some(Usage {
                input: 12,
                output: 5
            })
        );
        assert!(b.parse(r#"{"content":[]}"#).is_err());
        assert!(!format!("{b:?}").contains("k-1"));
    }
}
