//! `openai:MODEL`: the Chat Completions API (`POST {endpoint}/chat/completions`), as
//! served by OpenAI and by OpenAI-compatible servers (vLLM, llama.cpp's server, Ollama,
//! LM Studio, ...).

use serde_json::{json, Value};

use super::backend::{Backend, ChatRequest, Completion, Usage};
use super::http::HttpRequest;
use super::tools::{openai_tools, ToolCall, TOOL_NOTE};
use crate::agent::Role;

/// OpenAI's own endpoint.
pub const OPENAI_ENDPOINT: &str = "https://api.openai.com/v1";

/// The Chat Completions dialect.
pub struct OpenAi {
    endpoint: String,
    key: Option<String>,
}

impl std::fmt::Debug for OpenAi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("OpenAi")
            .field("endpoint", &self.endpoint)
            .field("has_key", &self.key.is_some())
            .finish()
    }
}

impl OpenAi {
    /// A backend for `endpoint` (no trailing slash); `key` goes into `Authorization`.
    pub fn new(endpoint: String, key: Option<String>) -> OpenAi {
        OpenAi { endpoint, key }
    }
}

fn role(r: Role) -> &'static str {
    match r {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        // Some servers send a list of parts.
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(|t| t.as_str()))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

impl Backend for OpenAi {
    fn provider(&self) -> &'static str {
        "openai"
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn build(&self, req: &ChatRequest<'_>) -> HttpRequest {
        let mut system_noted = false;
        let messages: Vec<Value> = req
            .messages
            .iter()
            .map(|m| {
                let mut content = m.content.clone();
                if req.tools && m.role == Role::System && !system_noted {
                    content.push_str(TOOL_NOTE);
                    system_noted = true;
                }
                json!({ "role": role(m.role), "content": content })
            })
            .collect();
        let mut body = json!({ "model": req.model, "messages": messages, "stream": false });
        let cfg = req.cfg;
        if let Some(t) = cfg.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(p) = cfg.top_p {
            body["top_p"] = json!(p);
        }
        // OpenAI's own API wants max_completion_tokens (its reasoning models refuse
        // max_tokens); compatible servers know max_tokens.
        let field = if self.endpoint == OPENAI_ENDPOINT {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        body[field] = json!(cfg.max_output_tokens);
        if req.tools {
            body["tools"] = openai_tools();
            body["tool_choice"] = json!("auto");
        }
        let mut headers = Vec::new();
        if let Some(k) = &self.key {
            headers.push(("authorization".to_string(), format!("Bearer {k}")));
        }
        HttpRequest {
            url: format!("{}/chat/completions", self.endpoint),
            headers,
            body: body.to_string(),
        }
    }

    fn parse(&self, body: &str) -> Result<Completion, String> {
        let v: Value =
            serde_json::from_str(body).map_err(|e| format!("the body is not JSON ({e})"))?;
        let Some(choices) = v.get("choices").and_then(|c| c.as_array()) else {
            let err = v
                .get("error")
                .map(|e| format!(" (error: {e})"))
                .unwrap_or_default();
            return Err(format!("the body has no `choices` list{err}"));
        };
        let first = choices.first().ok_or("the `choices` list is empty")?;
        let msg = first
            .get("message")
            .ok_or("the first choice has no `message`")?;
        let content = msg.get("content").unwrap_or(&Value::Null);
        let text = text_of(content);
        let tool_calls: Vec<ToolCall> = msg
            .get("tool_calls")
            .and_then(|t| t.as_array())
            .map(|calls| {
                calls
                    .iter()
                    .map(|c| {
                        let f = c.get("function").unwrap_or(&Value::Null);
                        let name = f
                            .get("name")
                            .and_then(|n| n.as_str())
                            .unwrap_or("")
                            .to_string();
                        let arguments = match f.get("arguments") {
                            Some(Value::String(s)) if s.trim().is_empty() => Ok(json!({})),
                            Some(Value::String(s)) => serde_json::from_str::<Value>(s)
                                .map_err(|e| e.to_string())
                                .and_then(|a| {
                                    if a.is_object() {
                                        Ok(a)
                                    } else {
                                        Err("not an object".to_string())
                                    }
                                }),
                            Some(o @ Value::Object(_)) => Ok(o.clone()),
                            None | Some(Value::Null) => Ok(json!({})),
                            Some(other) => Err(format!("unexpected arguments {other}")),
                        };
                        ToolCall { name, arguments }
                    })
                    .collect()
            })
            .unwrap_or_default();
        if content.is_null() && tool_calls.is_empty() {
            return Err("the first choice has neither content nor tool calls".into());
        }
        let usage = v.get("usage").and_then(|u| {
            Some(Usage {
                input: u.get("prompt_tokens")?.as_u64()?,
                output: u
                    .get("completion_tokens")
                    .and_then(|c| c.as_u64())
                    .unwrap_or(0),
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
        let b = OpenAi::new("http://127.0.0.1:9/v1".into(), Some("sk-x".into()));
        let msgs = [
            HistoryItem::new(Role::System, "sys"),
            HistoryItem::new(Role::User, "task"),
        ];
        let r = b.build(&ChatRequest {
            model: "m",
            messages: &msgs,
            tools: true,
            cfg: &cfg,
        });
        assert_eq!(r.url, "http://127.0.0.1:9/v1/chat/completions");
        assert_eq!(
            r.headers,
            vec![("authorization".to_string(), "Bearer sk-x".to_string())]
        );
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(
            body["messages"][1],
            json!({"role": "user", "content": "task"})
        );
        assert!(body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("TOOLS:"));
        assert_eq!(body["max_tokens"], 4096);
        assert_eq!(body["temperature"], 0.0);
        assert!(body["tools"].as_array().unwrap().len() > 10);
        assert!(!format!("{b:?}").contains("sk-x"));

        let c = b.parse(r#"{"choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":12,"completion_tokens":3}}"#).unwrap();
        assert_eq!(
            (c.text.as_str(), c.usage),
            (
                "hi",
                Some(Usage {
                    input: 12,
                    output: 3
                })
            )
        );
        let c = b
            .parse(r#"{"choices":[{"message":{"content":null,"tool_calls":[{"id":"1","type":"function","function":{"name":"goto","arguments":"{\"line_number\":3}"}}]}}]}"#)
            .unwrap();
        assert_eq!(c.tool_calls[0].arguments, Ok(json!({"line_number": 3})));
        assert!(b.parse(r#"{"choices":[]}"#).unwrap_err().contains("empty"));
        assert!(b.parse("not json").is_err());
        assert!(b
            .parse(r#"{"choices":[{"message":{"content":null}}]}"#)
            .is_err());
    }
}
