//! `human`: you are the agent. Commands are read from the terminal; `edit` and `insert`
//! read lines until their end marker.

use std::io::{BufRead, Write};

use super::{HistoryItem, Model, ModelError, Role};

/// Reads actions from stdin.
#[derive(Debug, Default)]
pub struct Human {
    shown: usize,
}

impl Model for Human {
    fn name(&self) -> String {
        "human".into()
    }

    fn raw_actions(&self) -> bool {
        true
    }

    fn query(&mut self, history: &[HistoryItem]) -> Result<String, ModelError> {
        let mut out = std::io::stderr();
        for h in history.iter().skip(self.shown) {
            if h.role != Role::Assistant {
                let _ = writeln!(out, "{}", h.content);
            }
        }
        self.shown = history.len();
        let stdin = std::io::stdin();
        let mut lines = stdin.lock().lines();
        let _ = write!(out, "> ");
        let _ = out.flush();
        let first = match lines.next() {
            Some(Ok(l)) => l,
            _ => return Ok("submit".into()),
        };
        let mut action = first.clone();
        let end = match first.split_whitespace().next() {
            Some("edit") => Some("end_of_edit"),
            Some("insert") => Some("end_of_insert"),
            _ => None,
        };
        if let Some(end) = end {
            for l in lines.by_ref() {
                let l = l.map_err(|e| ModelError::Other(format!("reading the terminal: {e}")))?;
                action.push('\n');
                action.push_str(&l);
                if l.trim() == end {
                    break;
                }
            }
        }
        Ok(action)
    }
}
