//! The conversation, in MLGym's `.traj` `history` format.

use serde::{Deserialize, Serialize};

/// Who said it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The system prompt.
    System,
    /// The environment (task prompt, observations).
    User,
    /// The model.
    Assistant,
}

/// One message (MLGym's `HistoryItem`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryItem {
    /// Who said it.
    pub role: Role,
    /// The text.
    pub content: String,
    /// The agent's name (`primary_0` in MLGym's runs).
    #[serde(default = "default_agent")]
    pub agent: String,
    /// Assistant messages: the parsed thought.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thought: Option<String>,
    /// Assistant messages: the parsed action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Demonstration messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_demo: Option<bool>,
}

fn default_agent() -> String {
    "primary_0".into()
}

impl HistoryItem {
    /// A system or user message.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        HistoryItem {
            role,
            content: content.into(),
            agent: default_agent(),
            thought: None,
            action: None,
            is_demo: None,
        }
    }

    /// An assistant message with its parse.
    pub fn assistant(
        content: impl Into<String>,
        thought: impl Into<String>,
        action: impl Into<String>,
    ) -> Self {
        HistoryItem {
            role: Role::Assistant,
            content: content.into(),
            agent: default_agent(),
            thought: Some(thought.into()),
            action: Some(action.into()),
            is_demo: None,
        }
    }
}
