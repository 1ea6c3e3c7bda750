//! `replay:FILE`: replays the responses of a recorded episode — one of our
//! `trajectory.jsonl`, an `.traj` of ours or MLGym's (also gzipped). When the
//! responses run out it submits, as MLGym's replay model does.

use std::io::Read;
use std::path::Path;

use super::{HistoryItem, Model, ModelError, Role};

/// Replays recorded responses in order.
#[derive(Debug)]
pub struct Replay {
    responses: Vec<String>,
    next: usize,
    source: String,
}

/// Problems reading a recording.
#[derive(Debug, thiserror::Error)]
#[error("cannot replay {file}: {message}")]
pub struct ReplayError {
    /// The file.
    pub file: String,
    /// What is wrong.
    pub message: String,
}

/// Reads a file, gunzipping when it is gzip.
pub fn read_maybe_gz(path: &Path) -> std::io::Result<Vec<u8>> {
    let raw = std::fs::read(path)?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..]).read_to_end(&mut out)?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

impl Replay {
    /// Loads the responses recorded in `path`.
    pub fn load(path: &Path) -> Result<Replay, ReplayError> {
        let file = path.display().to_string();
        let err = |m: String| ReplayError {
            file: file.clone(),
            message: m,
        };
        let bytes = read_maybe_gz(path).map_err(|e| err(e.to_string()))?;
        let text = String::from_utf8(bytes).map_err(|_| err("not UTF-8 text".into()))?;
        let responses = if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
            // A `.traj`: the assistant messages of its history are the raw responses.
            let history = v.get("history").and_then(|h| h.as_array()).ok_or_else(|| {
                err("a JSON file without a `history` list is not a trajectory".into())
            })?;
            history
                .iter()
                .filter_map(|h| serde_json::from_value::<HistoryItem>(h.clone()).ok())
                .filter(|h| h.role == Role::Assistant && h.is_demo != Some(true))
                .map(|h| h.content)
                .collect()
        } else {
            // Our trajectory.jsonl: one step per line with its raw `response`.
            let mut out = Vec::new();
            for (i, line) in text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
            {
                let v: serde_json::Value =
                    serde_json::from_str(line).map_err(|e| err(format!("line {}: {e}", i + 1)))?;
                if let Some(r) = v.get("response").and_then(|r| r.as_str()) {
                    out.push(r.to_string());
                }
            }
            out
        };
        if responses.is_empty() {
            return Err(err("it holds no model responses".into()));
        }
        Ok(Replay {
            responses,
            next: 0,
            source: file,
        })
    }

    /// How many responses the recording holds.
    pub fn len(&self) -> usize {
        self.responses.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.responses.is_empty()
    }
}

impl Model for Replay {
    fn name(&self) -> String {
        "replay".into()
    }

    fn query(&mut self, _history: &[HistoryItem]) -> Result<String, ModelError> {
        let r = self.responses.get(self.next).cloned();
        self.next += 1;
        Ok(r.unwrap_or_else(|| {
            "DISCUSSION\nThe recording of ".to_string()
                + &self.source
                + " has ended.\n\n```\nsubmit\n```"
        }))
    }

    fn resume(&mut self, responses_done: usize, _stats: super::ModelStats) {
        self.next = responses_done;
    }
}
